"""`interview-bot export` and `interview-bot forget`: one person's data out, or gone."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any, TextIO

from bot import loop as event_loop
from bot.cli import UsageError, person_name, subcommand
from bot.config import Settings
from bot.storage.db import StorageError, open_database
from bot.storage.store import PersonData, Store


def _existing_database(settings: Settings) -> None:
    """Export and forget read what is there: opening a missing database would create (and migrate) one."""
    if not settings.db_path.exists():
        raise StorageError(f"no database at {settings.db_path}")


async def export_person(settings: Settings, platform: str, user_id: str, fmt: str, out: TextIO) -> int:
    _existing_database(settings)
    db = await open_database(settings.db_path)
    try:
        store = Store(db)
        user = await store.find_user(platform, user_id)
        if user is None:
            print(f"interview-bot export: no data for {platform} user {user_id}", file=sys.stderr)
            return 1
        data = await PersonData(store).export(user.id)
    finally:
        await db.close()
    person = {"platform": platform, "user_id": user_id, "display_name": user.display_name}
    if fmt == "json":
        out.write(json.dumps({"person": person, **data}, ensure_ascii=False, indent=1) + "\n")
    else:
        writer = csv.writer(out)
        writer.writerow(["record", "question_id", "when", "score", "detail"])
        for a in data["answers"]:
            writer.writerow(["answer", a["question_id"], a["submitted_at"], a["score"], a["text"]])
        for r in data["round_results"]:
            writer.writerow(["round_result", r["question_id"], r["submitted_at"], r["score"], f"points={r['points']}"])
        for d in data["drill_items"]:
            when = d["answered_at"] or d["asked_at"] or d["started_at"]  # a question never asked has no time of its own
            writer.writerow(["drill_item", d["question_id"], when, d["score"], d["state"]])
        for c in data["reviews"]:
            writer.writerow(["review", c["question_id"], c["due_at"], c["last_score"], f"reviews={c['reviews']}"])
    return 0


async def forget_person(settings: Settings, platform: str, user_id: str) -> dict[str, int] | None:
    _existing_database(settings)
    db = await open_database(settings.db_path)
    try:
        store = Store(db)
        user = await store.find_user(platform, user_id)
        if user is None:
            return None
        return await PersonData(store).forget(user.id)
    finally:
        await db.close()


def _export_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="write one person's replies, scores and reviews")
    p.add_argument("--platform", required=True, choices=["discord", "slack", "console"],
                   help="where the person uses the bot")
    p.add_argument("--user", required=True, help="the platform's user id (console: the name)")
    p.add_argument("--format", choices=["json", "csv"], default="json",
                   help="json: every record with all its fields (default); csv: one row per record, fewer fields")


def _forget_parser(sub: Any) -> None:
    p = sub.add_parser("forget", help="delete one person's data (asks for confirmation)")
    p.add_argument("--platform", required=True, choices=["discord", "slack", "console"],
                   help="where the person uses the bot")
    p.add_argument("--user", required=True, help="the platform's user id (console: the name)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


@subcommand("export", _export_parser)
def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    return event_loop.run(export_person(settings, args.platform, person_name(args.user), args.format, sys.stdout))


@subcommand("forget", _forget_parser)
def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("add --yes to confirm when not running in a terminal")
        answer = input(f"Delete every reply, score and review of {args.platform} user {args.user}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    counts = event_loop.run(forget_person(settings, args.platform, person_name(args.user)))
    if counts is None:
        print(f"no data for {args.platform} user {args.user}")
        return 1
    print("deleted: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0
