"""Injected time.

Every timer and schedule reads a Clock so tests can run hours of rounds in
milliseconds.  FakeClock advances deterministically: it wakes each sleeper in
deadline order and waits until the woken task has gone back to sleep (or ended)
before moving time further, so handlers always observe the exact due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

MAX_SYSTEM_SLEEP = 300.0  # re-check the wall clock at least this often (clock jumps, suspend)


class Clock(Protocol):
    """Aware-UTC time and a sleep that can be cut short by an event."""

    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> bool:
        """Sleep until `when`; return True if `wake` was set first."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> bool:
        delay = min(max((when - self.now()).total_seconds(), 0.0), MAX_SYSTEM_SLEEP)
        if wake is None:
            await asyncio.sleep(delay)
            return False
        return await wait_event(wake, delay)


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait for `event` at most `seconds`; True if it was set in time.

    asyncio.timeout, not wait_for: on 3.11 a wait_for being cancelled can hang until its timeout.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


@dataclass(order=True)
class _Sleeper:
    when: datetime
    seq: int
    future: asyncio.Future[bool] = field(compare=False)
    task: asyncio.Task[object] | None = field(compare=False)
    wake: asyncio.Event | None = field(compare=False)


class SettleTimeout(RuntimeError):
    """A task woken by FakeClock neither slept again nor finished in time: a hung handler."""


class FakeClock:
    """A clock for tests: time moves only when the test calls `advance` or `set`."""

    def __init__(self, start: datetime | None = None, *, settle_timeout: float = 10.0) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._sleepers: list[_Sleeper] = []
        self._seq = itertools.count()
        self._busy: set[asyncio.Task[object]] = set()
        self._watched: set[asyncio.Task[object]] = set()
        self._changed: asyncio.Event | None = None
        self._settle_timeout = settle_timeout

    def now(self) -> datetime:
        return self._now

    def _signal(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> bool:
        task = asyncio.current_task()
        if task is not None:
            self._busy.discard(task)
        if when <= self._now:
            return False
        loop = asyncio.get_running_loop()
        sleeper = _Sleeper(when, next(self._seq), loop.create_future(), task, wake)
        heapq.heappush(self._sleepers, sleeper)
        self._signal()
        waiters: list[asyncio.Future[Any]] = [sleeper.future]
        wake_task = None
        if wake is not None:
            wake_task = asyncio.ensure_future(wake.wait())
            waiters.append(wake_task)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if wake_task is not None:
                wake_task.cancel()
            if not sleeper.future.done():
                sleeper.future.cancel()
                self._sleepers.remove(sleeper)
                heapq.heapify(self._sleepers)
            if task is not None:
                self._busy.add(task)  # awake until it sleeps again or ends
                if task not in self._watched:
                    self._watched.add(task)
                    task.add_done_callback(self._task_done)
            self._signal()
        return not sleeper.future.done() or sleeper.future.cancelled()

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._busy.discard(task)
        self._watched.discard(task)
        self._signal()

    def _pending_work(self) -> bool:
        self._busy = {t for t in self._busy if not t.done()}
        woken = any(s.wake is not None and s.wake.is_set() for s in self._sleepers)
        return bool(self._busy) or woken

    async def settle(self) -> None:
        """Wait until every task this clock woke has slept again or finished."""
        if self._changed is None:
            self._changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settle_timeout
        for _ in range(3):
            await asyncio.sleep(0)
        while self._pending_work():
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SettleTimeout("a task woken by FakeClock did not settle")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.05))

    async def advance(self, delta: timedelta | float) -> None:
        """Move time forward, waking every sleeper that becomes due, in order."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        await self.set(self._now + delta)

    async def set(self, target: datetime) -> None:
        """Move time to `target` (never backwards), waking due sleepers in order."""
        await self.settle()
        while self._sleepers and self._sleepers[0].when <= target:
            due = self._sleepers[0].when
            self._now = max(self._now, due)
            while self._sleepers and self._sleepers[0].when <= self._now:
                sleeper = heapq.heappop(self._sleepers)
                if sleeper.task is not None:
                    self._busy.add(sleeper.task)
                if not sleeper.future.done():
                    sleeper.future.set_result(True)
            await self.settle()
        self._now = max(self._now, target)
        await self.settle()


def utc(dt: datetime) -> datetime:
    """Convert an aware datetime to UTC; refuse naive ones, which would be ambiguous."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def to_iso(dt: datetime) -> str:
    """A fixed-width UTC text form that sorts chronologically in SQLite.

    Cached: a burst of daily questions formats the same few instants (now, the shared
    deadline, each zone's next fire time) tens of thousands of times.  Equal instants give
    equal text whatever their zone, so the cache cannot mix them up.
    """
    # isoformat gives the same text as strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") for years 1000..9999,
    # in half the time (a burst of daily questions formats tens of thousands of instants).
    return utc(dt).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


__all__ = [
    "Clock", "FakeClock", "SettleTimeout", "SystemClock", "from_iso", "timedelta", "to_iso", "utc", "wait_event",
]
