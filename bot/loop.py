"""The event loop the bot runs on: uvloop where it is installed, asyncio's own loop elsewhere.

uvloop (libuv under asyncio's API, as Red-DiscordBot runs on) does the loop's own bookkeeping in C:
scheduling callbacks, polling sockets, waking the loop from aiosqlite's thread.  In the drills
benchmark that bookkeeping was about a fifth of the event loop's time.  The bot behaves the same on
either loop, so a platform without uvloop (Windows) simply runs asyncio's.  Tests use pytest-asyncio's
loop; the command-line tests run the real entry points, and with them this loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new event loop, as `asyncio.run` does."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def name() -> str:
    """Which loop `run` uses ('uvloop' or 'asyncio'), for start-up logs and benchmark output."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"
