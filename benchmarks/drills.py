"""Drills at scale: 10,000 concurrent one-on-one drills with the real SQLite store and grader.

Each answer is a DM message followed by `done`, through the real Router.  Prints answers
per second sustained, p50/p99 handling latency, peak RSS, and the ratio of handling time
per answer to a bare aiosqlite INSERT + COMMIT measured in the same run.
Targets: >= 1,000 answers/s, p99 < 50 ms, peak RSS < 300 MB, ratio <= 5.

Also prints where the CPU time of an answer goes (grading on the event loop, the rest of
the event loop, the database thread) and the bare baseline measured before the answers
too: on a shared machine wall-clock figures move with other load, CPU time much less.
Usage: python benchmarks/drills.py [DRILLS] [ANSWERS_PER_DRILL] [--grading-workers N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import CpuSplit, bare_insert_commit, peak_rss_mb, percentile, reference_loop, scale_arguments
from bot import loop as event_loop
from bot.app import build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.grading.service import WorkerGrading
from bot.platforms.base import Command, ConversationRef, UserRef
from handlers.router import Router
from tests.fakes.messenger import RecordingMessenger

ANSWERS = [
    "多头注意力让模型在不同的表示子空间里同时关注不同位置，每个头维度变小，总计算量和单头差不多。",
    "Each head attends in its own learned subspace, so the model captures several relations at once; "
    "the heads are concatenated and projected by W^O at about the cost of one full-width head.",
    "不太清楚。",
]


class QuietMessenger(RecordingMessenger):
    """Counts sends without keeping them (10,000 drills would otherwise fill memory with replies)."""

    def __init__(self) -> None:
        super().__init__("bench")
        self.count = 0

    async def dm(self, user: UserRef, reply: object) -> object:  # type: ignore[override]
        self.count += 1
        return None


async def main(drills: int = 10_000, answers_each: int = 2, grading_workers: int = 1) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-drills-"))
    clock = FakeClock()
    app = await build_app(Settings(db_path=tmp / "bot.sqlite3", grading_workers=grading_workers), clock=clock)
    app.delivery.register("bench", QuietMessenger())
    await app.start()
    router = Router(app)

    def dm(n: int, name: str, text: str = "", args: tuple[str, ...] = ()) -> Command:
        who = UserRef("bench", f"u{n}", f"User {n}")
        return Command(
            who,
            ConversationRef("bench", "W", f"D{n}", is_dm=True),
            name,
            args,
            text=text,
            via="message" if text else "command",
        )

    baseline_before = await bare_insert_commit(tmp / "bare-before.sqlite3", 5000, ANSWERS[0])
    t0 = time.perf_counter()
    in_flight = asyncio.Semaphore(16)

    async def start(n: int) -> None:
        async with in_flight:
            await router.handle(dm(n, "drill", args=(str(answers_each + 1), "--minutes", "30")))

    await asyncio.gather(*(start(n) for n in range(drills)))
    setup = time.perf_counter() - t0
    latencies: list[float] = []

    async def answer(n: int, k: int) -> None:
        async with in_flight:
            begin = time.perf_counter()
            await router.message(dm(n, "", text=ANSWERS[(n + k) % len(ANSWERS)]))
            await router.message(dm(n, "", text="done"))
            latencies.append(time.perf_counter() - begin)

    start_t = time.perf_counter()
    with CpuSplit(app) as cpu:
        for k in range(answers_each):
            await asyncio.gather(*(answer(n, k) for n in range(drills)))
    elapsed = time.perf_counter() - start_t
    total = drills * answers_each
    per_answer = elapsed / total
    baseline = await bare_insert_commit(tmp / "bare.sqlite3", 5000, ANSWERS[0])
    active = len(await app.store.active_drills())
    workers = len(app.grading.pids) if isinstance(app.grading, WorkerGrading) else 0
    peak = peak_rss_mb(app.grading.pids if isinstance(app.grading, WorkerGrading) else ())
    await app.close()
    print(
        f"setup: {drills} drills started in {setup:.1f} s ({active} still active after answering); "
        f"grading workers: {workers}; event loop: {event_loop.name()}"
    )
    print(f"answers: {total} in {elapsed:.1f} s -> {total / elapsed:,.0f} answers/s sustained (target >= 1,000)")
    print(
        f"handling latency per answer (message + done, 16 in flight): p50 {percentile(latencies, 50) * 1000:.1f} ms,"
        f" p99 {percentile(latencies, 99) * 1000:.1f} ms (target p99 < 50 ms)"
    )
    print(f"peak RSS: {peak:.0f} MB, the bot and its {workers} grading worker(s) together (target < 300 MB)")
    print(
        f"handling time per answer {per_answer * 1e6:.0f} us; bare aiosqlite INSERT+COMMIT {baseline * 1e6:.0f} us; "
        f"ratio {per_answer / baseline:.2f} (target <= 5)"
    )
    print(
        f"  bare INSERT+COMMIT measured before the answers: {baseline_before * 1e6:.0f} us "
        f"(ratio against it {per_answer / baseline_before:.2f})"
    )
    print(cpu.line("answer", total, elapsed))
    print(f"machine: reference loop {reference_loop():.1f} M interpreter steps/s (about 18 when this machine is quiet)")


if __name__ == "__main__":
    options = scale_arguments(__doc__ or "", ("drills", 10_000), ("answers_each", 2))
    event_loop.run(main(options.drills, options.answers_each, options.grading_workers))
