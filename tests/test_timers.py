"""Durable timers under FakeClock: order, cancellation, sooner deadlines, restarts, retries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.engine.timers import TimerService
from bot.storage.db import open_database
from bot.storage.store import Store, TimerRow
from tests.conftest import START


async def _service(db_path: Path, clock: FakeClock) -> tuple[Store, TimerService, list[tuple[str, int, object]]]:
    db = await open_database(db_path)
    store = Store(db)
    timers = TimerService(store, clock, retry_delay=timedelta(seconds=10), max_attempts=3)
    fired: list[tuple[str, int, object]] = []

    async def handler(timer: TimerRow) -> None:
        fired.append((timer.kind, timer.ref_id, clock.now()))

    timers.register("t.a", handler)
    return store, timers, fired


async def _add(store: Store, timers: TimerService, clock: FakeClock, ref: int, seconds: float) -> int:
    async with store.db.transaction() as conn:
        timer_id = await store.add_timer(conn, "t.a", ref, clock.now() + timedelta(seconds=seconds), clock.now())
    timers.poke()
    return timer_id


async def test_fire_in_deadline_order_at_their_time(db_path: Path, clock: FakeClock) -> None:
    """Timers fire in deadline order, each at its own due time."""
    store, timers, fired = await _service(db_path, clock)
    await timers.start()
    for ref, seconds in ((1, 30), (2, 10), (3, 20)):
        await _add(store, timers, clock, ref, seconds)
    await clock.advance(timedelta(minutes=1))
    assert [(r, t) for _k, r, t in fired] == [
        (2, START + timedelta(seconds=10)),
        (3, START + timedelta(seconds=20)),
        (1, START + timedelta(seconds=30)),
    ]
    assert await store.count_timers() == 0
    await timers.stop()
    await store.db.close()


async def test_cancelled_timer_does_not_fire(db_path: Path, clock: FakeClock) -> None:
    """A cancelled timer never fires."""
    store, timers, fired = await _service(db_path, clock)
    await timers.start()
    await _add(store, timers, clock, 1, 10)
    await _add(store, timers, clock, 2, 20)
    async with store.db.transaction() as conn:
        await store.cancel_timers(conn, "t.a", 1)
    timers.poke()
    await clock.advance(60)
    assert [r for _k, r, _t in fired] == [2]
    await timers.stop()
    await store.db.close()


async def test_sooner_deadline_added_while_sleeping(db_path: Path, clock: FakeClock) -> None:
    """A timer added while the dispatcher sleeps on a later one fires first, on time."""
    store, timers, fired = await _service(db_path, clock)
    await timers.start()
    await _add(store, timers, clock, 1, 3600)
    await clock.advance(60)  # the dispatcher is asleep until the hour
    await _add(store, timers, clock, 2, 60)
    await clock.advance(timedelta(hours=2))
    assert [(r, t) for _k, r, t in fired] == [(2, START + timedelta(seconds=120)), (1, START + timedelta(hours=1))]
    await timers.stop()
    await store.db.close()


async def test_restart_fires_overdue_once(db_path: Path, clock: FakeClock) -> None:
    """Close with an open deadline, reopen after it passed: it fires once, at once."""
    store, timers, fired = await _service(db_path, clock)
    await timers.start()
    await _add(store, timers, clock, 7, 30)
    await _add(store, timers, clock, 8, 600)
    await timers.stop()
    await store.db.close()
    await clock.advance(120)  # the bot is down across the first deadline
    assert fired == []
    store2, timers2, fired2 = await _service(db_path, clock)
    await timers2.start()
    await clock.settle()
    assert [(r, t) for _k, r, t in fired2] == [(7, START + timedelta(seconds=120))]
    await clock.advance(600)
    assert [r for _k, r, _t in fired2] == [7, 8]
    await timers2.stop()
    await store2.db.close()


async def test_failing_handler_is_retried_then_dropped(db_path: Path, clock: FakeClock) -> None:
    """A handler that raises is retried with back-off, then given up after max attempts."""
    db = await open_database(db_path)
    store = Store(db)
    timers = TimerService(store, clock, retry_delay=timedelta(seconds=10), max_attempts=3)
    calls: list[object] = []

    async def flaky(timer: TimerRow) -> None:
        calls.append(clock.now())
        if len(calls) < 2:
            raise ConnectionError("outage")

    timers.register("t.a", flaky)
    await timers.start()
    await _add(store, timers, clock, 1, 5)
    await clock.advance(60)
    assert calls == [START + timedelta(seconds=5), START + timedelta(seconds=15)]
    assert await store.count_timers() == 0
    await timers.stop()
    await db.close()


async def test_handler_replacing_its_timer_keeps_the_new_one(db_path: Path, clock: FakeClock) -> None:
    """A handler that deletes timers and adds a new one (which may reuse the rowid) keeps the new one."""
    db = await open_database(db_path)
    store = Store(db)
    timers = TimerService(store, clock)
    fired: list[int] = []

    async def chain(timer: TimerRow) -> None:
        fired.append(timer.ref_id)
        if timer.ref_id < 3:
            async with store.db.transaction() as conn:
                await store.cancel_timers(conn, "t.a", timer.ref_id)
                await store.add_timer(conn, "t.a", timer.ref_id + 1, clock.now() + timedelta(seconds=10), clock.now())

    timers.register("t.a", chain)
    await timers.start()
    await _add(store, timers, clock, 1, 10)
    await clock.advance(60)
    assert fired == [1, 2, 3]
    await timers.stop()
    await db.close()


async def test_batch_handler_gets_due_timers_together_one_per_object(db_path: Path, clock: FakeClock) -> None:
    """Timers of a batch kind due together come in one call, one per object (an object's next timer comes in
    the next call); a failed outcome retries only its own timer."""
    db = await open_database(db_path)
    store = Store(db)
    timers = TimerService(store, clock, retry_delay=timedelta(seconds=10), max_attempts=3)
    calls: list[tuple[list[int], object]] = []
    failing = {2}

    async def batch(rows: Sequence[TimerRow]) -> list[BaseException | None]:
        calls.append(([t.ref_id for t in rows], clock.now()))
        outcomes: list[BaseException | None] = []
        for t in rows:
            outcomes.append(ConnectionError("outage") if t.ref_id in failing else None)
            failing.discard(t.ref_id)
        return outcomes

    timers.register_batch("b.fire", batch)
    with pytest.raises(ValueError, match="already registered"):
        timers.register("b.fire", batch)  # type: ignore[arg-type]
    await timers.start()
    for ref in (1, 2, 3, 1):
        await _add_kind(store, timers, clock, "b.fire", ref, 5)
    await clock.advance(60)
    due = START + timedelta(seconds=5)
    assert calls == [([1, 2, 3], due), ([1], due), ([2], due + timedelta(seconds=10))]
    assert await store.count_timers() == 0 and timers.fired == 4
    await timers.stop()
    await db.close()


async def test_batch_handler_that_raises_retries_every_timer_of_the_batch(db_path: Path, clock: FakeClock) -> None:
    """A batch handler raising (say, its transaction failed) fails the whole batch: each timer is retried, then
    given up after max attempts like a single handler's."""
    db = await open_database(db_path)
    store = Store(db)
    timers = TimerService(store, clock, retry_delay=timedelta(seconds=10), max_attempts=2, batch_size=2)
    calls: list[list[int]] = []

    async def broken(rows: Sequence[TimerRow]) -> list[BaseException | None]:
        calls.append([t.ref_id for t in rows])
        raise OSError("disk full (simulated)")

    timers.register_batch("b.fire", broken)
    await timers.start()
    for ref in (1, 2, 3):
        await _add_kind(store, timers, clock, "b.fire", ref, 5)
    await clock.advance(60)
    assert calls == [[1, 2], [3], [1, 2], [3]]  # batch_size 2; a retry each, then given up
    assert await store.count_timers() == 0 and timers.fired == 0
    await timers.stop()
    await db.close()


async def _add_kind(store: Store, timers: TimerService, clock: FakeClock, kind: str, ref: int, seconds: float) -> None:
    async with store.db.transaction() as conn:
        await store.add_timer(conn, kind, ref, clock.now() + timedelta(seconds=seconds), clock.now())
    timers.poke()


async def _add_with_due(store: Store, timers: TimerService, clock: FakeClock, ref: int, seconds: float) -> None:
    """Add a timer and poke with its due time, as the drill engine does."""
    due = clock.now() + timedelta(seconds=seconds)
    async with store.db.transaction() as conn:
        await store.add_timer(conn, "t.a", ref, due, clock.now())
    timers.poke(due)


async def test_later_timer_leaves_the_dispatcher_asleep_and_still_fires(db_path: Path, clock: FakeClock) -> None:
    """A poke for a timer due no sooner than the one the dispatcher sleeps on does not wake it; all fire on time."""
    store, timers, fired = await _service(db_path, clock)
    await timers.start()
    await _add_with_due(store, timers, clock, 1, 60)
    await clock.settle()
    woken = timers.wakeups
    for ref in range(2, 12):
        await _add_with_due(store, timers, clock, ref, 60 + ref)
        await clock.settle()
    await _add_with_due(store, timers, clock, 12, 60)  # the same due time as the one it waits for
    await clock.settle()
    assert timers.wakeups == woken
    await _add_with_due(store, timers, clock, 13, 30)  # sooner: wakes it
    await clock.settle()
    assert timers.wakeups == woken + 1
    await clock.advance(timedelta(minutes=5))
    assert [(r, t) for _k, r, t in fired] == [
        (13, START + timedelta(seconds=30)),
        (1, START + timedelta(seconds=60)),
        (12, START + timedelta(seconds=60)),
        *((ref, START + timedelta(seconds=60 + ref)) for ref in range(2, 12)),
    ]
    assert await store.count_timers() == 0
    await timers.stop()
    await store.db.close()
