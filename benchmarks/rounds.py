"""Rounds at scale: 1,000 channels with an open round and 20 repliers each.

Replies go through the real Router (handlers), the real SQLite store and the real grader.
Prints replies per second, p50/p99 handling latency, and the ratio of handling time per
reply to a bare aiosqlite INSERT + COMMIT of the same row measured in the same run.
Targets: >= 1,000 replies/s, p99 < 50 ms, ratio <= 5.
Usage: python benchmarks/rounds.py [CHANNELS] [REPLIERS] [--grading-workers N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import CpuSplit, bare_insert_commit, percentile, scale_arguments
from bot import loop as event_loop
from bot.app import build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.platforms.base import Command, ConversationRef, UserRef
from handlers.router import Router
from tests.fakes.messenger import RecordingMessenger

REPLIES = [
    "因为QK^T的方差随d_k增大, softmax会饱和, 梯度接近0, 所以除以sqrt(d_k)把方差拉回1。",
    "Dot products grow with d_k: with unit-variance components Var(q·k) = d_k, so the softmax saturates and "
    "gradients vanish; dividing by √d_k restores unit variance.",
    "不太确定，可能是为了数值稳定吧。",
    "Scaling keeps logits small so the softmax is not one-hot; it is like a temperature.",
]


async def main(channels: int = 1000, repliers: int = 20, grading_workers: int = 1) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-rounds-"))
    clock = FakeClock()
    app = await build_app(Settings(db_path=tmp / "bot.sqlite3", grading_workers=grading_workers), clock=clock)
    app.delivery.register("bench", RecordingMessenger("bench"))
    await app.start()
    router = Router(app)
    t0 = time.perf_counter()
    for c in range(channels):
        where = ConversationRef("bench", "W", f"C{c}")
        await router.handle(Command(UserRef("bench", f"asker{c}", "Asker"), where, "ask", ("1.4", "--minutes", "60")))
    setup = time.perf_counter() - t0
    latencies: list[float] = []

    async def one(c: int, r: int) -> None:
        where = ConversationRef("bench", "W", f"C{c}")
        cmd = Command(
            UserRef("bench", f"u{r}", f"User {r}"),
            where,
            "answer",
            text=REPLIES[(c + r) % len(REPLIES)],
            via="form",
            event_id=f"e{c}-{r}",
        )
        start = time.perf_counter()
        await router.handle(cmd)
        latencies.append(time.perf_counter() - start)

    in_flight = asyncio.Semaphore(8)  # replies arriving concurrently, as from several platform connections

    async def limited(c: int, r: int) -> None:
        async with in_flight:
            await one(c, r)

    start = time.perf_counter()
    with CpuSplit(app) as cpu:
        for r in range(repliers):  # each wave: one reply in every channel
            await asyncio.gather(*(limited(c, r) for c in range(channels)))
    elapsed = time.perf_counter() - start
    total = channels * repliers
    per_reply = elapsed / total
    baseline = await bare_insert_commit(tmp / "bare.sqlite3", 5000, REPLIES[0])
    await app.close()
    print(
        f"setup: {channels} rounds opened in {setup:.2f} s; grading workers: {grading_workers}; "
        f"event loop: {event_loop.name()}"
    )
    print(f"replies: {total} in {elapsed:.2f} s -> {total / elapsed:,.0f} replies/s (target >= 1,000)")
    print(
        f"handling latency per reply (8 in flight): p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms"
    )
    print(
        f"handling time per reply {per_reply * 1e6:.0f} us; bare aiosqlite INSERT+COMMIT {baseline * 1e6:.0f} us; "
        f"ratio {per_reply / baseline:.2f} (target <= 5)"
    )
    print(cpu.line("reply", total, elapsed))


if __name__ == "__main__":
    options = scale_arguments(__doc__ or "", ("channels", 1000), ("repliers", 20))
    event_loop.run(main(options.channels, options.repliers, options.grading_workers))
