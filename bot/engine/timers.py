"""Durable timers: rows in SQLite served by one dispatcher task.

The dispatcher sleeps until the earliest deadline and is woken through an
asyncio.Event when a sooner one is added.  Handlers must be idempotent: a timer row
is deleted only after its handler succeeded, so a crash in between fires it again
at start-up, and the handler's own state check turns the repeat into a no-op.

A kind may instead have a batch handler (`register_batch`): the timers of that kind due
together, one per object, go to it in one call so that it can share transactions between
them (thousands of daily questions due in the same minute).  It reports one outcome per
timer, and each outcome is settled exactly as a single handler's would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.storage.store import Store, TimerRow

log = logging.getLogger(__name__)

TimerHandler = Callable[[TimerRow], Awaitable[None]]
# One outcome per timer, in order: None when it is done, the exception when it failed (it is retried).
BatchHandler = Callable[[Sequence[TimerRow]], Awaitable[Sequence[BaseException | None]]]
IDLE_SLEEP = timedelta(hours=1)


class TimerService:
    """Fires due timers through the handler registered for their kind."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        retry_delay: timedelta = timedelta(seconds=30),
        max_attempts: int = 5,
        concurrency: int = 64,
        batch_size: int = 500,
    ) -> None:
        self._store = store
        self._clock = clock
        self._handlers: dict[str, TimerHandler] = {}
        self._batch_handlers: dict[str, BatchHandler] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # What the dispatcher is asleep until (None while it is awake and reading the table): a new
        # timer due no sooner need not wake it, since it re-reads the table at that time anyway.
        self._sleeping_until: datetime | None = None
        self._retry_delay = retry_delay
        self._max_attempts = max_attempts
        self._limit = asyncio.Semaphore(concurrency)
        self.batch_size = batch_size  # most timers per batch handler call (1: each timer alone)
        self.fired = 0
        self.wakeups = 0  # pokes that woke the dispatcher (each costs two queries), for metrics and tests
        self.lateness_seconds: list[float] = []  # recent lateness samples, for benchmarks
        self.on_lateness: Callable[[float], None] | None = None  # every sample as it happens (the admin port)

    def register(self, kind: str, handler: TimerHandler) -> None:
        """Route timers of `kind` to `handler` (explicit registration, once per kind)."""
        if kind in self._handlers or kind in self._batch_handlers:
            raise ValueError(f"a handler for timer kind {kind!r} is already registered")
        self._handlers[kind] = handler

    def register_batch(self, kind: str, handler: BatchHandler) -> None:
        """Route timers of `kind` to `handler` a batch at a time.

        A batch holds at most one timer per object (ref id), so the handler never sees two
        fires of one object at once; an object's later timers come in later batches, in order.
        Raising fails every timer of the batch (each is retried), so a handler need not
        catch what it cannot attribute to one timer, such as a failed transaction.
        """
        if kind in self._handlers or kind in self._batch_handlers:
            raise ValueError(f"a handler for timer kind {kind!r} is already registered")
        self._batch_handlers[kind] = handler

    def poke(self, due_at: datetime | None = None) -> None:
        """Tell the dispatcher that the timer table changed (call after committing).

        With `due_at`, the earliest due time among the timers just added: when the dispatcher already
        sleeps until that time or sooner, it is left asleep.  Every drill answer adds a deadline later
        than the ones already waiting, and waking the dispatcher for it at 1,000 answers a second was a
        steady stream of queries that found nothing to do.
        """
        if due_at is not None and self._sleeping_until is not None and due_at >= self._sleeping_until:
            return
        if not self._wake.is_set():
            self.wakeups += 1
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the dispatcher and return once overdue timers have fired and it sleeps."""
        if not self.running:
            self._idle.clear()
            self._task = asyncio.create_task(self._loop(), name="timer-dispatcher")
            idle = asyncio.ensure_future(self._idle.wait())
            await asyncio.wait([idle, self._task], return_when=asyncio.FIRST_COMPLETED)
            idle.cancel()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_due()
                nxt = await self._store.earliest_timer()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer dispatcher failed; retrying")
                nxt = None
            now = self._clock.now()
            if nxt is not None and nxt.due_at <= now:
                continue
            until = nxt.due_at if nxt is not None else now + IDLE_SLEEP
            self._idle.set()
            self._sleeping_until = until
            try:
                await self._clock.sleep_until(until, self._wake)
            finally:
                self._sleeping_until = None
            self._idle.clear()

    async def run_due(self) -> int:
        """Fire every timer due now; timers of one object run in order, objects in parallel."""
        total = 0
        while True:
            now = self._clock.now()
            due = await self._store.due_timers(now)
            if not due:
                return total
            groups: dict[tuple[str, int], list[TimerRow]] = {}
            for timer in due:
                groups.setdefault((timer.kind.split(".")[0], timer.ref_id), []).append(timer)
            single: list[list[TimerRow]] = []
            batched: dict[str, list[list[TimerRow]]] = {}
            for group in groups.values():
                kinds = {t.kind for t in group}
                kind = group[0].kind
                if len(kinds) == 1 and kind in self._batch_handlers:
                    batched.setdefault(kind, []).append(group)
                else:
                    single.append(group)
            finished: list[TimerRow] = []
            await asyncio.gather(
                *(self._run_group(g, finished) for g in single),
                *(self._run_batches(kind, gs, finished) for kind, gs in batched.items()),
            )
            # One transaction for the whole batch: at scale (thousands of daily questions due in the
            # same minute) a commit per fired timer is most of the dispatcher's cost.  A crash before
            # this line fires those timers again at start-up, which the idempotent handlers absorb.
            await self._store.delete_timers(finished)
            total += len(due)

    async def _run_group(self, timers: list[TimerRow], finished: list[TimerRow]) -> None:
        async with self._limit:
            for timer in timers:
                now = self._note_lateness(timer)
                handler = self._handlers.get(timer.kind)
                if handler is None:
                    log.error("timer dropped: no handler kind=%s ref=%s", timer.kind, timer.ref_id)
                    finished.append(timer)
                    continue
                outcome: BaseException | None = None
                try:
                    await handler(timer)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    outcome = exc
                retry = self._settle(timer, outcome, now)
                if retry is None:
                    finished.append(timer)
                else:
                    await self._store.retry_timers([(timer, retry)])

    async def _run_batches(self, kind: str, groups: list[list[TimerRow]], finished: list[TimerRow]) -> None:
        """Fire the timers of one batch kind: the first timer of every object (in batches), then the second..."""
        handler = self._batch_handlers[kind]
        size = max(1, self.batch_size)
        async with self._limit:
            for n in range(max(len(g) for g in groups)):
                layer = [g[n] for g in groups if len(g) > n]
                for start in range(0, len(layer), size):
                    await self._run_batch(kind, handler, layer[start : start + size], finished)

    async def _run_batch(
        self, kind: str, handler: BatchHandler, batch: list[TimerRow], finished: list[TimerRow]
    ) -> None:
        now = self._clock.now()
        for timer in batch:
            self._note_lateness(timer, now)
        try:
            outcomes = list(await handler(batch))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcomes = [exc] * len(batch)
        if len(outcomes) != len(batch):
            raise RuntimeError(f"batch handler for {kind!r} gave {len(outcomes)} outcomes for {len(batch)}")
        retries: list[tuple[TimerRow, datetime]] = []
        for timer, outcome in zip(batch, outcomes, strict=True):
            retry = self._settle(timer, outcome, now)
            if retry is None:
                finished.append(timer)
            else:
                retries.append((timer, retry))
        await self._store.retry_timers(retries)  # one transaction, even when a whole batch failed

    def _note_lateness(self, timer: TimerRow, now: datetime | None = None) -> datetime:
        now = now or self._clock.now()
        late = (now - timer.due_at).total_seconds()
        self.lateness_seconds.append(late)
        if self.on_lateness is not None:
            self.on_lateness(max(late, 0.0))
        if len(self.lateness_seconds) > 10_000:
            del self.lateness_seconds[:5_000]
        return now

    def _settle(self, timer: TimerRow, outcome: BaseException | None, now: datetime) -> datetime | None:
        """Count a success or log a failure; None when the timer's row should go (done, or given up),
        else the time to retry it."""
        if outcome is None:
            self.fired += 1
            return None
        attempts = timer.attempts + 1
        if attempts >= self._max_attempts:
            log.error("timer gave up kind=%s ref=%s attempts=%s", timer.kind, timer.ref_id, attempts,
                      exc_info=outcome)
            return None
        # a retry is routine (a platform outage, a missing permission): one line; the traceback comes with giving up
        log.warning("timer failed, will retry kind=%s ref=%s attempt=%s error=%s: %s", timer.kind, timer.ref_id,
                    attempts, type(outcome).__name__, str(outcome)[:200])
        log.debug("timer failure kind=%s ref=%s", timer.kind, timer.ref_id, exc_info=outcome)
        return now + self._retry_delay * attempts
