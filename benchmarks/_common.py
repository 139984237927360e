"""Shared benchmark helpers: percentiles, a bare aiosqlite baseline, peak RSS, CPU split."""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from bot.app import App
from bot.grading import Grade
from bot.grading.service import WorkerGrading
from question_bank.schema import Question


def reference_loop() -> float:
    """Millions of simple interpreter steps per second, to compare machines (best of three)."""
    best = 0.0
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(1_000_000):
            total += i * i
        best = max(best, 1.0 / (time.process_time() - start))
    return best


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mb(pids: Sequence[int] = ()) -> float:
    """Peak resident set size of this process plus the processes `pids` (grading workers), in MB.

    ru_maxrss is KB on Linux, bytes on macOS; a worker's peak is its VmHWM (Linux only)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def _process_cpu(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) used so far by the live processes `pids` (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


class CpuSplit:
    """CPU time of a measured stretch, split into grading, the rest of the event loop's thread, and the
    other threads (aiosqlite's); plus how many transactions shared each commit.  Wall-clock rates
    swing with this machine's load; the split shows where the work goes.  Grading is timed on the
    event loop's thread when it runs there, and as the workers' CPU time when it runs in workers.
    Use as a context manager around the measured stretch."""

    def __init__(self, app: App) -> None:
        self._app = app
        self.grading = 0.0
        self.grades = 0
        self.loop = 0.0
        self.process = 0.0
        self.trips = 0
        self.units = 0

    def __enter__(self) -> CpuSplit:
        grading = self._app.grading
        original = grading.grade
        self._workers = tuple(grading.pids) if isinstance(grading, WorkerGrading) else ()

        async def counted(question: Question, reply: str) -> Grade:
            self.grades += 1
            if self._workers:  # their CPU time is read from /proc at the end
                return await original(question, reply)
            begin = time.thread_time()
            try:
                return await original(question, reply)
            finally:  # on the loop the call never suspends: this is grading alone
                self.grading += time.thread_time() - begin

        self._original = original
        grading.grade = counted  # type: ignore[method-assign]
        self._workers0 = _process_cpu(self._workers)
        self._db0 = (self._app.db.trips, self._app.db.units)
        self._loop0 = time.thread_time()
        self._usage0 = resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop = time.thread_time() - self._loop0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.process = (usage.ru_utime - self._usage0.ru_utime) + (usage.ru_stime - self._usage0.ru_stime)
        if self._workers:
            self.grading = _process_cpu(self._workers) - self._workers0
        self.trips = self._app.db.trips - self._db0[0]
        self.units = self._app.db.units - self._db0[1]
        self._app.grading.grade = self._original  # type: ignore[method-assign]

    def line(self, per: str, count: int, wall: float) -> str:
        """Where the CPU time per handled item went, and how commits were shared."""
        us = 1e6 / count
        loop_rest = self.loop if self._workers else self.loop - self.grading
        where = f"in {len(self._workers)} worker process(es)" if self._workers else "on the event loop"
        per_trip = self.units / self.trips if self.trips else 0.0
        return (
            f"CPU per {per}: grading {self.grading * us:.0f} us {where} ({self.grades / count:.2f} grades), "
            f"rest of the event loop {loop_rest * us:.0f} us, "
            f"database thread and others {(self.process - self.loop) * us:.0f} us; "
            f"bot process {self.process * us:.0f} us of {wall * us:.0f} us wall\n"
            f"group commit: {self.units} one-trip transactions in {self.trips} commits ({per_trip:.1f} per commit)"
        )


async def bare_insert_commit(path: Path, rows: int, text: str) -> float:
    """Seconds per row for a bare aiosqlite INSERT + COMMIT of an answer-sized row, same pragmas as the bot."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, user_id INTEGER, text TEXT, "
        "submitted_at TEXT, score INTEGER)"
    )
    start = time.perf_counter()
    for i in range(rows):
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute(
            "INSERT INTO bench (user_id, text, submitted_at, score) VALUES (?, ?, ?, ?)",
            (i, text, "2026-01-01T00:00:00.000000+00:00", 50),
        )
        await conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    await conn.close()
    return elapsed / rows


def scale_arguments(doc: str, first: tuple[str, int], second: tuple[str, int]) -> argparse.Namespace:
    """The command line of the rounds and drills benchmarks: two sizes and --grading-workers."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    for name, default in (first, second):
        parser.add_argument(name, type=int, nargs="?", default=default)
    parser.add_argument(
        "--grading-workers", type=int, default=1,
        help="grading processes, as the setting grading_workers (default 1; 0 grades on the event loop)",
    )
    return parser.parse_args()

