"""Shared benchmark helpers: percentiles, a bare aiosqlite baseline, peak RSS."""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path

import aiosqlite


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
