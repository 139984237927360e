"""`interview-bot db migrate|check|backup`."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TextIO

from bot.storage.db import StorageError, latest_version, open_database


async def run(action: str, db_path: Path, target: Path | None, out: TextIO) -> int:
    if action == "migrate":
        db = await open_database(db_path, migrate=False)
        try:
            applied = await db.migrate()
            version = await db.schema_version()
        finally:
            await db.close()
        out.write(
            f"schema version {version}"
            + (f" (applied {', '.join(map(str, applied))})" if applied else " (up to date)")
            + "\n"
        )
        return 0
    if action == "check":
        if not await asyncio.to_thread(db_path.exists):
            raise StorageError(f"no database at {db_path}")
        db = await open_database(db_path, migrate=False)
        try:
            async with db.conn.execute("PRAGMA integrity_check") as cursor:
                rows = [r[0] for r in await cursor.fetchall()]
            version = await db.schema_version()
        finally:
            await db.close()
        ok = rows == ["ok"]
        out.write(f"integrity: {'ok' if ok else '; '.join(rows)}\n")
        out.write(f"schema version: {version} (this bot: {latest_version()})\n")
        return 0 if ok and version == latest_version() else 1
    if action == "backup":
        assert target is not None
        await backup(db_path, target)
        out.write(f"backup written to {target}\n")
        return 0
    raise StorageError(f"unknown db action {action}")


async def backup(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy even while the bot writes.

    All pages are copied in one step, inside one read transaction: copied in slices, the backup starts
    over whenever another connection writes, and under steady writes it never finishes.  The copy is
    written beside the target and renamed when complete, so a failed or interrupted backup never leaves
    a file that looks like a good one.
    """
    def copy() -> None:
        if not source.exists():
            raise StorageError(f"no database at {source}")
        if target.exists():
            raise StorageError(f"{target} exists; choose a new file name")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        try:
            src = sqlite3.connect(source)
            try:
                dst = sqlite3.connect(partial)
                try:
                    src.backup(dst)
                finally:
                    dst.close()
            finally:
                src.close()
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)

    try:
        await asyncio.to_thread(copy)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"backup failed: {exc}") from exc
