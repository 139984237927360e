"""Daily-question schedules at scale: 10,000 channels in various zones whose question is due in the same minute.

Real SQLite in a temporary folder, the real bank, grader and services, one timer dispatcher, and a
Messenger that records when each question was posted.  The clock is the system clock shifted by a
fixed offset (real time flows; only its origin is chosen), so the schedules are set up at 08:50 UTC
and the clock then jumps to a second before 09:00 UTC, when every schedule is due.

Prints the set-up time, the time from the due instant until the last question was posted, and the
p50 / p99 / max lateness of the posts (target: all posted within 5 seconds of their time).  For
scale it also prints the dispatcher's floor: the same number of timer rows due at once, fired
through the same TimerService with handlers that do nothing.

    python benchmarks/schedules.py [--schedules N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import loop as event_loop
from bot.app import build_app
from bot.clock import SystemClock
from bot.config import Settings
from bot.engine.calendar import parse_hhmm
from bot.engine.schedules import ScheduleSpec
from bot.engine.timers import TimerService
from bot.platforms.base import ConversationRef, MessageRef, Reply, UserRef
from bot.storage.db import open_database
from bot.storage.store import Store, TimerRow
from question_bank.loader import load_bank_strict

ZONES = (
    "UTC", "Europe/London", "Europe/Berlin", "Europe/Moscow", "Africa/Cairo", "Asia/Dubai", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Shanghai", "Asia/Tokyo", "Australia/Adelaide", "Australia/Sydney", "Pacific/Auckland",
    "Pacific/Chatham", "Pacific/Honolulu", "America/Los_Angeles", "America/Denver", "America/Chicago",
    "America/New_York", "America/St_Johns", "America/Sao_Paulo",
)
DUE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class ShiftedClock(SystemClock):
    """The system clock with a movable origin: real seconds pass, `jump` moves the whole timeline."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def jump(self, to: datetime) -> None:
        self._offset = to - datetime.now(UTC)


class TimingMessenger:
    """Records the clock time of every post; counts down to the expected number of questions."""

    def __init__(self, clock: ShiftedClock, expected: int) -> None:
        self._clock = clock
        self.expected = expected
        self.posted: list[datetime] = []
        self.others = 0
        self.done = asyncio.Event()
        self._ids = 0

    def _ref(self, channel: str) -> MessageRef:
        self._ids += 1
        return MessageRef("bench", channel, f"m{self._ids}")

    async def post(self, where: ConversationRef, reply: Reply) -> MessageRef:
        if reply.kind == "question":
            self.posted.append(self._clock.now())
            if len(self.posted) >= self.expected:
                self.done.set()
        else:
            self.others += 1
        return self._ref(where.channel_id)

    async def reply_in_thread(self, parent: MessageRef, reply: Reply) -> MessageRef:
        self.others += 1
        return self._ref(parent.channel_id)

    async def dm(self, user: UserRef, reply: Reply) -> MessageRef:
        self.others += 1
        return self._ref(user.user_id)

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        self.others += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def run(count: int) -> None:
    bank = load_bank_strict()
    with tempfile.TemporaryDirectory() as folder:
        clock = ShiftedClock(DUE - timedelta(minutes=10))
        app = await build_app(Settings(db_path=Path(folder) / "bench.sqlite3"), clock=clock, bank=bank)
        messenger = TimingMessenger(clock, count)
        app.delivery.register("bench", messenger)
        await app.start()
        admin = UserRef("bench", "admin", "Admin")
        began = time.perf_counter()
        for n in range(count):
            zone = ZONES[n % len(ZONES)]
            at = parse_hhmm(DUE.astimezone(ZoneInfo(zone)).strftime("%H:%M"))
            assert at is not None
            where = ConversationRef("bench", f"W{n % 50}", f"C{n}")
            await app.schedules.set(admin, where, ScheduleSpec("daily", at, zone), is_admin=True)
        setup = time.perf_counter() - began
        fire_timers = await app.store._one("SELECT COUNT(*) FROM timers WHERE kind = 'schedule.fire' AND due_at = ?",
                                           (DUE.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),))
        print(f"schedules: {count} in {len(ZONES)} zones, set up in {setup:.1f} s "
              f"({count / setup:.0f}/s); fire timers due at {DUE:%H:%M} UTC: {fire_timers[0]}")
        clock.jump(DUE - timedelta(seconds=1))
        app.timers.poke()
        try:
            await asyncio.wait_for(messenger.done.wait(), timeout=300)
        except TimeoutError:
            print(f"timed out: {len(messenger.posted)} of {count} posted")
        lateness = [(at - DUE).total_seconds() for at in messenger.posted]
        await app.close()
    if not lateness:
        print("nothing was posted")
        return
    print(f"posted {len(lateness)} questions; all posted {max(lateness):.2f} s after their time "
          f"(target: within 5 s)")
    print(f"post lateness: p50 {percentile(lateness, 0.5):.2f} s, p99 {percentile(lateness, 0.99):.2f} s, "
          f"max {max(lateness):.2f} s, mean {statistics.fmean(lateness):.2f} s")
    print(f"throughput: {len(lateness) / max(max(lateness), 1e-9):.0f} questions/s through one dispatcher")


async def floor(count: int) -> None:
    """The shared dispatcher alone: `count` timers due at once, handlers that do nothing."""
    with tempfile.TemporaryDirectory() as folder:
        db = await open_database(Path(folder) / "floor.sqlite3")
        store = Store(db)
        clock = ShiftedClock(DUE - timedelta(minutes=1))
        timers = TimerService(store, clock)
        fired: list[datetime] = []
        done = asyncio.Event()

        async def nothing(timer: TimerRow) -> None:
            fired.append(clock.now())
            if len(fired) >= count:
                done.set()

        timers.register("bench.noop", nothing)
        async with db.transaction() as conn:
            for n in range(count):
                await store.add_timer(conn, "bench.noop", n + 1, DUE, clock.now())
        await timers.start()
        clock.jump(DUE - timedelta(seconds=1))
        timers.poke()
        await asyncio.wait_for(done.wait(), timeout=300)
        await timers.stop()
        await db.close()
    lateness = [(at - DUE).total_seconds() for at in fired]
    print(f"dispatcher floor: {count} no-op timers fired {max(lateness):.2f} s after their time, "
          f"p99 {percentile(lateness, 0.99):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    args = parser.parse_args()
    event_loop.run(run(args.schedules))
    event_loop.run(floor(args.schedules))


if __name__ == "__main__":
    main()
