"""Shared benchmark helpers: percentiles, a bare aiosqlite baseline, peak RSS, CPU split."""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path

import aiosqlite

from bot.grading import Grade, Grader
from question_bank.schema import Question


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class CpuSplit:
    """CPU time of a measured stretch, split into grading, the rest of the event loop's thread, and the
    other threads (aiosqlite's).  Wall-clock rates swing with this machine's load; the split shows where
    the work goes.  Use as a context manager around the measured stretch."""

    def __init__(self, grader: Grader) -> None:
        self._grader = grader
        self.grading = 0.0
        self.grades = 0
        self.loop = 0.0
        self.process = 0.0

    def __enter__(self) -> CpuSplit:
        grade = self._grader.grade

        def timed(question: Question, reply: str) -> Grade:
            begin = time.thread_time()
            try:
                return grade(question, reply)
            finally:
                self.grades += 1
                self.grading += time.thread_time() - begin

        self._original = grade
        self._grader.grade = timed  # type: ignore[method-assign]
        self._loop0 = time.thread_time()
        self._usage0 = resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop = time.thread_time() - self._loop0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.process = (usage.ru_utime - self._usage0.ru_utime) + (usage.ru_stime - self._usage0.ru_stime)
        self._grader.grade = self._original  # type: ignore[method-assign]

    def line(self, per: str, count: int, wall: float) -> str:
        """'CPU per reply: grading ... us, ...' for `count` handled items over `wall` seconds."""
        us = 1e6 / count
        return (
            f"CPU per {per}: grading {self.grading * us:.0f} us ({self.grades / count:.2f} grades), "
            f"rest of the event loop {(self.loop - self.grading) * us:.0f} us, "
            f"database thread and others {(self.process - self.loop) * us:.0f} us; "
            f"process {self.process * us:.0f} us of {wall * us:.0f} us wall"
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


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]
