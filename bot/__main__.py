"""`interview-bot`: the command line.  Builds Settings once and hands them down."""

from __future__ import annotations

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())

__all__ = ["main"]
