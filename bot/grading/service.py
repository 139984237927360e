"""Where grading runs: on the event loop, or in worker processes.

Grading a reply is pure CPU work (a millisecond or so).  On the event loop it holds up everything
else the bot does meanwhile: other replies, timers, the platform connections' heartbeats.  Worker
processes take it off the loop and onto the machine's other cores.  Each worker builds its own
`Grader` from the bank once, at start; a reply then crosses with its question id (or, for a
question built outside the bank, such as a drill's probe, the question itself) and comes back as a
`Grade`.  Grades are the same wherever they are computed: the grader is deterministic.

If a worker dies, grading goes on in the others, or on the event loop, and the failure is logged:
a dead worker never costs a reply its grade.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from bot.grading.grader import Grade, Grader
from question_bank.schema import Bank, Question

log = logging.getLogger(__name__)


class Grading(Protocol):
    """What the engine needs from grading: one awaitable grade per reply."""

    observe: Callable[[float], None] | None  # called with each grade's latency in seconds (metrics)

    async def start(self) -> None: ...

    async def grade(self, question: Question, reply: str) -> Grade: ...

    async def close(self) -> None: ...


def _grade_here(
    grader: Grader, question: Question, reply: str, observe: Callable[[float], None] | None
) -> Grade:
    """Grade on this thread; the time it took goes to `observe` (the metrics) when set."""
    start = time.perf_counter()
    grade = grader.grade(question, reply)
    if observe is not None:
        observe(time.perf_counter() - start)
    return grade


class InlineGrading:
    """Grades on the event loop: no processes to start, the same order of events as a plain call.

    The default, and what the tests and the terminal use: awaiting it never yields to the loop.
    """

    def __init__(self, grader: Grader) -> None:
        self.grader = grader
        self.observe: Callable[[float], None] | None = None

    async def start(self) -> None:
        return None

    async def grade(self, question: Question, reply: str) -> Grade:
        return _grade_here(self.grader, question, reply, self.observe)

    async def close(self) -> None:
        return None


# -------------------------------------------------------------------------------- worker processes
#
# The bot and a worker talk over a socket pair: each message is a 4-byte big-endian length and a
# pickle.  The bot's side is an asyncio stream, so a grade costs the event loop one write and one
# read callback, with no extra threads (a process pool's feeder and manager threads would compete
# with the event loop and the database thread for the GIL on every call).


GRADE_TIMEOUT = 30.0  # seconds a worker may take for one reply (about a millisecond is normal)
QuestionKey = str | Question | tuple[str, str]  # how a question crosses to a worker (see WorkerGrading.grade)


class WorkerGone(RuntimeError):
    """The worker process exited or its socket broke."""


def _frame(obj: object) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(4, "big") + payload


def _serve(conn: Connection, bank: Bank) -> None:
    """A worker's whole life: build the grader, say ready, then grade requests until the bot goes."""
    # Ctrl-C in a terminal reaches the whole process group; the worker ends when the bot closes
    # the socket instead, without a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    conn.close()
    grader = Grader(bank)
    sock.sendall(_frame(("ready", os.getpid())))
    extra: dict[str, Question] = {}  # questions from outside the bank, by id, as last sent
    pending = bytearray()
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return  # the bot closed its end (or exited)
        pending += chunk
        # Answer each request as soon as it is graded.  Answering a whole batch in one write saved
        # system calls but held the first grades back until the last was done: the bot then sat idle,
        # and got a burst of work at once (drills benchmark: 855-936 answers/s, against 1,005-1,134).
        start = 0
        while len(pending) - start >= 4:
            size = int.from_bytes(pending[start : start + 4], "big")
            if len(pending) - start - 4 < size:
                break
            # only the bot writes to this private socket pair
            request = pickle.loads(pending[start + 4 : start + 4 + size])  # noqa: S301
            start += 4 + size
            sock.sendall(_frame(_answer(grader, bank, extra, request)))
        del pending[:start]


def _answer(
    grader: Grader, bank: Bank, extra: dict[str, Question], request: tuple[int, QuestionKey, str]
) -> tuple[int, tuple[bool, object]]:
    """The worker's answer to one request: (request id, (True, grade)) or (request id, (False, error))."""
    request_id, key, reply = request
    try:
        if isinstance(key, Question):
            extra[key.id] = question = key
        else:
            found = bank.get(key) if isinstance(key, str) else extra.get(key[1])
            if found is None:
                raise LookupError(f"unknown question {key!r}")
            question = found
        return request_id, (True, grader.grade(question, reply))
    except Exception as exc:  # reported back; the bot grades that reply itself and sees the error
        return request_id, (False, f"{type(exc).__name__}: {exc}")


class _Worker:
    """One worker process and the bot's end of its socket."""

    def __init__(self, bank: Bank) -> None:
        ctx = multiprocessing.get_context("spawn")  # nothing of the bot's threads or sockets is inherited
        ours, theirs = ctx.Pipe(duplex=True)  # a Unix socket pair
        self.process = ctx.Process(target=_serve, args=(theirs, bank), name="grading-worker", daemon=True)
        self.process.start()
        theirs.close()
        self._sock = socket.socket(fileno=os.dup(ours.fileno()))
        ours.close()
        self.pending: dict[int, asyncio.Future[tuple[bool, object]]] = {}  # oldest first
        self.sent_at: dict[int, float] = {}  # request id -> when it was sent (monotonic seconds)
        self.sent: dict[str, Question] = {}  # questions from outside the bank this worker already has
        self._outbox: list[bytes] = []  # requests of this turn of the event loop, written together
        self.pid = 0
        self.alive = False
        self._next_id = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(sock=self._sock)
        kind, pid = await self._receive()
        if kind != "ready":
            raise WorkerGone(f"unexpected first message {kind!r}")
        self.pid = int(pid)
        self.alive = True
        self._reading = asyncio.create_task(self._read_results(), name="grading-worker-results")

    async def _receive(self) -> tuple[Any, Any]:
        """One (tag, value) message from the worker: ("ready", pid) or (request id, (ok, grade))."""
        assert self._reader is not None
        try:
            header = await self._reader.readexactly(4)
            payload = await self._reader.readexactly(int.from_bytes(header, "big"))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise WorkerGone("the grading worker went away") from exc
        tag, value = pickle.loads(payload)  # noqa: S301 - our own worker on a private socket pair
        return tag, value

    async def _read_results(self) -> None:
        try:
            while True:
                request_id, outcome = await self._receive()
                future = self.pending.pop(request_id, None)
                self.sent_at.pop(request_id, None)
                if future is not None and not future.done():
                    future.set_result(outcome)
        except WorkerGone as exc:
            if self.alive:
                log.error("grading worker died pid=%s; its replies are graded on the event loop", self.pid)
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.alive = False
        pending, self.pending = self.pending, {}
        self.sent_at = {}
        for future in pending.values():
            if not future.done():
                future.set_exception(WorkerGone(str(exc)))

    async def grade(self, key: QuestionKey, reply: str) -> tuple[bool, object]:
        if not self.alive or self._writer is None:
            raise WorkerGone("the grading worker is not running")
        self._next_id += 1
        request_id = self._next_id
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[bool, object]] = loop.create_future()
        self.pending[request_id] = future
        self.sent_at[request_id] = time.monotonic()
        self._outbox.append(_frame((request_id, key, reply)))
        if len(self._outbox) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        """Write the requests of this turn of the event loop in one go (one system call, not one each)."""
        frames, self._outbox = self._outbox, []
        if not self.alive or self._writer is None:
            return  # `_fail` has already told their callers
        try:
            self._writer.write(b"".join(frames))
        except (ConnectionError, RuntimeError) as exc:
            self._fail(exc)

    def waited(self, now: float) -> float:
        """How long the oldest request still unanswered has waited (0 when none waits)."""
        oldest = next(iter(self.sent_at.values()), None)
        return now - oldest if oldest is not None else 0.0

    def kill(self) -> None:
        """Stop a worker that no longer answers; its waiting replies are graded elsewhere."""
        self.alive = False
        self.process.kill()
        self._fail(WorkerGone("stopped"))

    async def close(self) -> None:
        self.alive = False
        if self._writer is not None:
            self._writer.close()
        if self._reading is not None:
            self._reading.cancel()
        self._fail(WorkerGone("closed"))
        await asyncio.to_thread(self.process.join, 5)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join, 5)


class WorkerGrading:
    """Grades in `workers` processes, each reply going to the worker with the fewest waiting.

    `start()` waits until every worker has built its grader.  `fallback` builds the event loop's own
    grader, only when no worker is running (not started, or all died): with workers, the bot does not
    spend the start-up time and memory of a grader it normally never uses.
    """

    def __init__(self, bank: Bank, fallback: Callable[[], Grader], workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._bank = bank
        self._fallback = fallback
        self._count = workers
        self._workers: list[_Worker] = []
        self.observe: Callable[[float], None] | None = None
        self.timeout = GRADE_TIMEOUT
        self._watching: asyncio.Task[None] | None = None

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids of the live workers."""
        return tuple(w.pid for w in self._workers if w.alive)

    async def start(self) -> None:
        if self._workers:
            return
        started = time.perf_counter()
        workers = [_Worker(self._bank) for _ in range(self._count)]
        outcomes = await asyncio.gather(*(w.start() for w in workers), return_exceptions=True)
        for worker, outcome in zip(workers, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error("grading worker failed to start error=%s", outcome)
                await worker.close()
            else:
                self._workers.append(worker)
        if not self._workers:
            log.error("no grading worker started; grading on the event loop")
            return
        log.info("grading workers ready workers=%s seconds=%.2f", len(self._workers), time.perf_counter() - started)
        self._watching = asyncio.create_task(self._watch(), name="grading-watchdog")

    async def _watch(self) -> None:
        """Stop a worker whose oldest request has waited longer than `timeout`; the replies waiting
        on it are then graded on the event loop.  One check a second (or more often for a short
        limit) instead of a timer per reply."""
        while True:
            await asyncio.sleep(min(1.0, self.timeout / 2))
            now = time.monotonic()
            for worker in self._workers:
                if worker.alive and worker.waited(now) > self.timeout:
                    log.error("grading worker did not answer in %.0f s pid=%s; stopping it", self.timeout, worker.pid)
                    worker.kill()

    async def grade(self, question: Question, reply: str) -> Grade:
        live = [w for w in self._workers if w.alive]
        if not live:
            return self._inline(question, reply)
        worker = min(live, key=lambda w: len(w.pending))
        # A bank question crosses as its id; one built elsewhere (a drill's probe) crosses whole the
        # first time, and by ("extra", id) after that.
        key: QuestionKey
        if self._bank.get(question.id) is question:
            key = question.id
        elif worker.sent.get(question.id) is question:
            key = ("extra", question.id)
        else:
            key = worker.sent[question.id] = question
        start = time.perf_counter()
        try:
            ok, value = await worker.grade(key, reply)
        except WorkerGone:  # died, or stopped by the watchdog
            return self._inline(question, reply)
        if not ok:  # the worker failed on this reply: grade it here, where the error has its context
            log.warning("grading worker could not grade a reply error=%s", value)
            return self._inline(question, reply)
        assert isinstance(value, Grade)
        if self.observe is not None:
            self.observe(time.perf_counter() - start)
        return value

    def _inline(self, question: Question, reply: str) -> Grade:
        return _grade_here(self._fallback(), question, reply, self.observe)

    async def close(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            self._watching = None
        workers, self._workers = self._workers, []
        await asyncio.gather(*(w.close() for w in workers))


def grading_for(bank: Bank, workers: int, grader: Callable[[], Grader]) -> Grading:
    """Grading on the event loop (`workers` 0) or in that many worker processes; `grader` builds (or
    finds) the event loop's grader."""
    return WorkerGrading(bank, grader, workers) if workers > 0 else InlineGrading(grader())


__all__ = ["Grading", "InlineGrading", "WorkerGone", "WorkerGrading", "grading_for"]
