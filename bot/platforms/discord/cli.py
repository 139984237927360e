"""`interview-bot discord`: run the Discord bot, or `--sync [--guild ID]` to register its slash commands.

This module is imported by every `interview-bot` run (to register the subcommand), so it
imports nothing heavy; `bot.platforms.discord.service` does the work.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot import loop as event_loop
from bot.cli import subcommand
from bot.config import Settings


def _snowflake(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a server (guild) id, a number, not {text}")
    return int(text)


def add_parser(sub: Any) -> None:
    """The `discord` subcommand's options."""
    discord = sub.add_parser("discord", help="run the Discord bot (DISCORD_TOKEN); --sync registers /interview")
    discord.add_argument("--sync", action="store_true",
                         help="register the /interview commands with Discord and exit (needed once, and after "
                              "upgrades that change commands)")
    discord.add_argument("--guild", type=_snowflake, metavar="ID",
                         help="with --sync: register in this server only (shows up at once; global takes a while)")


@subcommand("discord", add_parser)
def cmd_discord(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point of `interview-bot discord`."""
    from bot.cli import UsageError
    from bot.platforms.discord import service

    if args.guild is not None and not args.sync:
        raise UsageError("--guild goes with --sync")
    if args.sync:
        return event_loop.run(service.sync(settings, guild_id=args.guild))
    return event_loop.run(service.serve(settings))
