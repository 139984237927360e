"""How the bot's process runs: on uvloop where it is installed (asyncio's own loop elsewhere), with
the garbage collector tuned for a long-lived server.

uvloop (libuv under asyncio's API, as Red-DiscordBot runs on) does the loop's own bookkeeping in C:
scheduling callbacks, polling sockets, waking the loop from aiosqlite's thread.  In the drills
benchmark that bookkeeping was about a fifth of the event loop's time.  The bot behaves the same on
either loop, so a platform without uvloop (Windows) simply runs asyncio's.  Tests use pytest-asyncio's
loop; the command-line tests run the real entry points, and with them this loop.

The cyclic garbage collector by default runs a young collection every 700 new container objects,
that is every few messages, and a full one every hundred of those; the bot holds some hundreds of
thousands of long-lived objects (bank, grader tables, each person's state), which every full
collection scans.  Collecting young objects ten times less often halved the time spent collecting
while drills were answered in the drills benchmark (720 ms -> 350 ms of about 18 s) and lowered its
p99 latency (38-46 ms -> 33-35 ms).  Reference counting still frees almost everything at once.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# a young collection after 7,000 new containers (default 700), a middle one after 20 young ones (default 10)
GC_THRESHOLDS = (7000, 20, 10)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new event loop, as `asyncio.run` does."""
    gc.set_threshold(*GC_THRESHOLDS)
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
