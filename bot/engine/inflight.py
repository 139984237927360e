"""Work in progress per key, so that one step can wait for others that started before it.

A round's reply is graded and then stored; with grading in a worker process other tasks run in
between, and the round may be closed meanwhile.  Closing waits for the replies already being
handled, so a reply that arrived before the deadline is in the reveal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from bot.clock import wait_event


class InFlight:
    """Counts work in progress per key; `settled` waits until a key has none."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._idle: dict[int, asyncio.Event] = {}

    @contextmanager
    def track(self, key: int) -> Iterator[None]:
        self._counts[key] = self._counts.get(key, 0) + 1
        try:
            yield
        finally:
            left = self._counts[key] - 1
            if left:
                self._counts[key] = left
            else:
                del self._counts[key]
                idle = self._idle.pop(key, None)
                if idle is not None:
                    idle.set()

    async def settled(self, key: int, limit: float) -> bool:
        """Wait until no work for `key` is in progress; False if it took longer than `limit` seconds
        (a bound against a stuck worker, not a schedule: the caller goes on either way)."""
        if key not in self._counts:
            return True
        return await wait_event(self._idle.setdefault(key, asyncio.Event()), limit)
