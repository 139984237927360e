"""`interview-bot slack`: the Slack app in Socket Mode (default) or HTTP mode (`--http --port P [--host H]`).

This module is imported by every `interview-bot` run (to register the subcommand), so
it imports nothing heavy; `bot.platforms.slack.service` does the work.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot import loop as event_loop
from bot.cli import subcommand
from bot.config import Settings

DEFAULT_PORT = 3000
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - Slack must reach HTTP mode; every request is signature-checked


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, not {text}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535, not {text}")
    return value


def add_parser(sub: Any) -> None:
    """The `slack` subcommand's options."""
    slack = sub.add_parser("slack", help="run the Slack app (Socket Mode, or --http for the Events API over HTTP)")
    slack.add_argument("--http", action="store_true",
                       help="serve POST /slack/events and GET /healthz instead of Socket Mode")
    slack.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    slack.add_argument("--host", default=DEFAULT_HOST, help=f"HTTP address to bind (default {DEFAULT_HOST})")


@subcommand("slack", add_parser)
def cmd_slack(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point of `interview-bot slack`."""
    from bot.platforms.slack.service import RunOptions, run

    return event_loop.run(run(settings, RunOptions(http=args.http, host=args.host, port=args.port)))
