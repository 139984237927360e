"""Where grading runs: worker processes give the same grades as the event loop, survive a dead
worker, and a round's reveal waits for replies still being graded."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from bot.app import App, build_app, grader_for
from bot.clock import FakeClock
from bot.config import Settings, SettingsError, load_settings
from bot.engine.inflight import InFlight
from bot.grading import Grade
from bot.grading.service import InlineGrading, WorkerGrading
from handlers.router import Router
from question_bank.schema import Bank, Question
from tests.conftest import START
from tests.fakes.messenger import RecordingMessenger
from tests.helpers import command, messenger, text_of

REPLIES = [
    "因为QK^T的方差随d_k增大, softmax会饱和, 梯度接近0, 所以除以sqrt(d_k)把方差拉回1。",
    "Dot products grow with d_k, so the softmax saturates and gradients vanish; dividing by √d_k fixes it.",
    "不太确定，可能是为了数值稳定吧。",
    "",
]


@pytest.fixture
async def workers(bank: Bank) -> AsyncIterator[WorkerGrading]:
    grading = WorkerGrading(bank, partial(grader_for, bank), workers=1)
    await grading.start()
    yield grading
    await grading.close()


async def test_workers_grade_like_the_event_loop(
    workers: WorkerGrading, bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    """Bank questions (sent by id) and a question built outside the bank (sent whole once, then by
    id) get the grades the event loop's grader gives, all from the worker, each timed for the metrics."""
    assert workers.pids and os.getpid() not in workers.pids
    grader = grader_for(bank)
    seen: list[float] = []
    workers.observe = seen.append
    try:
        q = bank.questions["1.4"]
        probe = replace(q, id="1.4~probe", key_points=q.key_points[:1])
        assert bank.get(probe.id) is None
        for question in (q, bank.questions["2.3"], probe):
            for text in REPLIES:
                assert await workers.grade(question, text) == grader.grade(question, text)
    finally:
        workers.observe = None
    assert len(seen) == 3 * len(REPLIES) and all(s > 0 for s in seen)
    assert "grading worker" not in caplog.text  # no reply fell back to the event loop
    # concurrent requests go out together and each gets its own grade
    many = await asyncio.gather(*(workers.grade(q, text) for text in REPLIES * 5))
    assert many == [grader.grade(q, text) for text in REPLIES * 5]


async def test_worker_reads_requests_split_across_reads(workers: WorkerGrading, bank: Bank) -> None:
    """Requests far larger than one read of the socket (a pasted essay) arrive in pieces, between small
    ones sent in the same write; the worker puts each back together and every reply gets its own grade,
    in order, the same as on the event loop."""
    grader = grader_for(bank)
    q = bank.questions["1.4"]
    huge = [REPLIES[0] * 4000, "x" * 300_000 + REPLIES[1], REPLIES[1] * 3000]  # about 150-300 KB each
    texts = [REPLIES[0], huge[0], REPLIES[2], huge[1], huge[2], REPLIES[1]]
    graded = await asyncio.gather(*(workers.grade(q, text) for text in texts))
    assert graded == [grader.grade(q, text) for text in texts]
    assert all("too_long" in g.flags for g in graded[1:2] + graded[3:5])
    assert workers.pids  # no request broke the worker


async def test_dead_worker_falls_back_to_the_event_loop(bank: Bank, caplog: pytest.LogCaptureFixture) -> None:
    """A worker killed by the system costs no reply its grade: grading goes on on the event loop."""
    grading = WorkerGrading(bank, partial(grader_for, bank), workers=1)
    await grading.start()
    try:
        q = bank.questions["1.4"]
        expected = grader_for(bank).grade(q, REPLIES[0])
        os.kill(grading.pids[0], signal.SIGKILL)
        assert await grading.grade(q, REPLIES[0]) == expected
        assert grading.pids == ()
        assert await grading.grade(q, REPLIES[0]) == expected
        assert "grading worker died" in caplog.text
    finally:
        await grading.close()


async def test_app_with_a_grading_worker_runs_a_round(tmp_path: Path, bank: Bank) -> None:
    """`grading_workers = 1`: the app starts its worker, replies are graded there, the reveal shows them."""
    clock = FakeClock(START)
    app = await build_app(Settings(db_path=tmp_path / "bot.sqlite3", grading_workers=1), clock=clock, bank=bank)
    app.delivery.register("test", RecordingMessenger("test"))
    await app.start()
    try:
        assert isinstance(app.grading, WorkerGrading) and app.grading.pids
        router = Router(app)
        await router.handle(command("ask 1.4 --minutes 5"))
        q = bank.questions["1.4"]
        await router.handle(command("answer", "bob", text=q.answer.en, via="form"))
        await clock.advance(5 * 60 + 1)
        answers = await app.store.round_answers(1)
        assert [a.score for a in answers] == [grader_for(bank).grade(q, q.answer.en).score]
        assert any(s.reply.kind == "reveal" for s in messenger(app).sent)
    finally:
        await app.close()
    assert app.grading.pids == ()


def test_grading_workers_setting() -> None:
    assert load_settings(environ={"INTERVIEW_BOT_GRADING_WORKERS": "2"}).grading_workers == 2
    assert load_settings(environ={}).grading_workers is None  # `run` decides by the number of cores
    with pytest.raises(SettingsError, match="grading_workers"):
        load_settings(environ={"INTERVIEW_BOT_GRADING_WORKERS": "-1"})


class GatedGrading(InlineGrading):
    """Real grades that wait for a gate: a slow worker, under the test's control."""

    def __init__(self, bank: Bank) -> None:
        super().__init__(grader_for(bank))
        self.gate = asyncio.Event()
        self.waiting = 0

    async def grade(self, question: Question, reply: str) -> Grade:
        self.waiting += 1
        await self.gate.wait()
        return await super().grade(question, reply)


async def test_reveal_waits_for_replies_still_being_graded(tmp_path: Path, bank: Bank) -> None:
    """A reply that arrived before the reveal is in it, even if its grade comes back after."""
    clock = FakeClock(START)
    grading = GatedGrading(bank)
    app: App = await build_app(Settings(db_path=tmp_path / "bot.sqlite3"), clock=clock, bank=bank, grading=grading)
    app.delivery.register("test", RecordingMessenger("test"))
    await app.start()
    try:
        router = Router(app)
        await router.handle(command("ask 1.4 --minutes 5"))
        q = bank.questions["1.4"]
        replying = asyncio.ensure_future(router.handle(command("answer", "bob", text=q.answer.en, via="form")))
        while not grading.waiting:
            await asyncio.sleep(0)
        revealing = asyncio.ensure_future(router.handle(command("reveal")))
        # without the wait the reveal is done in a few milliseconds
        await asyncio.wait([revealing], timeout=0.5)
        assert not revealing.done()  # the reveal waits for Bob's reply
        assert (await app.store.get_round(1)).state == "open"  # type: ignore[union-attr]
        grading.gate.set()
        assert "已记录" in text_of(await replying)
        await revealing
        reveal = next(s.reply for s in messenger(app).sent if s.reply.kind == "reveal")
        assert "Bob" in reveal.plain_text()
        answers = await app.store.round_answers(1)
        assert len(answers) == 1 and not answers[0].practice
    finally:
        grading.gate.set()
        await app.close()


async def test_in_flight_counts_and_bounds_the_wait() -> None:
    inflight = InFlight()
    assert await inflight.settled(1, 0.01)
    with inflight.track(1), inflight.track(1):
        assert await inflight.settled(2, 0.01)  # nothing in flight for another key
        assert not await inflight.settled(1, 0.01)  # still busy: the bound ends the wait
    assert await inflight.settled(1, 0.01)
    with inflight.track(1):
        waiter = asyncio.ensure_future(inflight.settled(1, 5))
        await asyncio.sleep(0)
        assert not waiter.done()
    assert await waiter


async def test_worker_that_does_not_answer_in_time_is_stopped(bank: Bank, caplog: pytest.LogCaptureFixture) -> None:
    """A worker that hangs (here: paused by SIGSTOP) is stopped by the watchdog once a request has
    waited longer than the limit, and the reply is graded on the event loop."""
    grading = WorkerGrading(bank, partial(grader_for, bank), workers=1)
    await grading.start()
    try:
        pid = grading.pids[0]
        grading.timeout = 0.2
        os.kill(pid, signal.SIGSTOP)
        q = bank.questions["1.4"]
        graded = await asyncio.wait_for(grading.grade(q, REPLIES[0]), 10)  # without the watchdog: forever
        assert graded == grader_for(bank).grade(q, REPLIES[0])
        assert grading.pids == () and "did not answer" in caplog.text
        for _ in range(100):  # the killed worker is reaped
            if all(p.pid != pid for p in multiprocessing.active_children()):
                break
            await asyncio.sleep(0.05)
        assert all(p.pid != pid for p in multiprocessing.active_children())
    finally:
        await grading.close()
