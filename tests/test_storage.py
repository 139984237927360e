"""Migrations, pragmas and the refusal of a newer schema."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.storage.db import SchemaTooNewError, StorageError, latest_version, migrations, open_database


async def test_migrates_from_empty(db_path: Path) -> None:
    """A new file gets every migration, WAL and foreign keys."""
    db = await open_database(db_path)
    try:
        assert await db.schema_version() == latest_version() == len(migrations())
        async with db.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with db.conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1
        async with db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
            tables = {r[0] for r in await cur.fetchall()}
        assert {"users", "conversations", "rounds", "answers", "drills", "drill_items", "timers"} <= tables
    finally:
        await db.close()


async def test_rerun_is_idempotent(db_path: Path) -> None:
    """Opening again applies nothing and keeps the data."""
    db = await open_database(db_path)
    await db.conn.execute(
        "INSERT INTO users (platform, platform_user_id, created_at) "
        "VALUES ('t', 'u1', '2026-01-01T00:00:00.000000+00:00')"
    )
    await db.close()
    db = await open_database(db_path)
    try:
        assert await db.migrate() == []
        async with db.conn.execute("SELECT COUNT(*) FROM users") as cur:
            assert (await cur.fetchone())[0] == 1
    finally:
        await db.close()


async def test_refuses_newer_schema_untouched(db_path: Path) -> None:
    """A database from a newer bot is refused with a clear message and not modified."""
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE future (x)")
    raw.execute(f"PRAGMA user_version = {latest_version() + 5}")
    raw.commit()
    raw.close()
    before = db_path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer than this bot"):
        await open_database(db_path)
    assert db_path.read_bytes() == before
    assert not Path(str(db_path) + "-wal").exists()


async def test_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    """A database path under a file (not a folder) raises StorageError, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot"):
        await open_database(blocker / "sub" / "db.sqlite3")


async def test_failed_migration_rolls_back(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken migration leaves neither its tables nor a new version behind."""
    from bot.storage import db as db_module

    real = db_module.migrations()
    broken = [*real, db_module.Migration(len(real) + 1, "broken", "CREATE TABLE half (x); SELECT * FROM nowhere;")]
    database = await open_database(db_path)
    monkeypatch.setattr(db_module, "migrations", lambda: broken)
    try:
        with pytest.raises(StorageError, match="broken"):
            await database.migrate()
        assert await database.schema_version() == len(real)
        async with database.conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'") as cur:
            assert await cur.fetchone() is None
    finally:
        await database.close()


async def test_one_trip_transaction_commits_or_rolls_back_whole(db_path: Path) -> None:
    """run_transaction runs on aiosqlite's connection thread (its `_execute` and `_conn` internals, pinned
    here): everything is committed together, or nothing when the work raises, and the lock is free after."""
    db = await open_database(db_path)
    try:

        def write(raw: sqlite3.Connection) -> int:
            assert raw.in_transaction
            raw.execute("INSERT INTO users (platform, platform_user_id, display_name, created_at) VALUES "
                        "('t', 'a', 'A', '2026-01-01')")
            raw.execute("INSERT INTO users (platform, platform_user_id, display_name, created_at) VALUES "
                        "('t', 'b', 'B', '2026-01-01')")
            return 2

        assert await db.run_transaction(write) == 2

        def half_then_fail(raw: sqlite3.Connection) -> None:
            raw.execute("INSERT INTO users (platform, platform_user_id, display_name, created_at) VALUES "
                        "('t', 'c', 'C', '2026-01-01')")
            raw.execute("INSERT INTO users (platform, platform_user_id, display_name, created_at) VALUES "
                        "('t', 'a', 'again', '2026-01-01')")  # violates UNIQUE (platform, platform_user_id)

        with pytest.raises(sqlite3.IntegrityError):
            await db.run_transaction(half_then_fail)
        assert not db.lock.locked() and not db.conn.in_transaction

        def names(raw: sqlite3.Connection) -> list[str]:
            return [r[0] for r in raw.execute("SELECT platform_user_id FROM users ORDER BY id")]

        assert await db.run_read(names) == ["a", "b"]
    finally:
        await db.close()


def _insert_user(name: str) -> Callable[[sqlite3.Connection], str]:
    def work(raw: sqlite3.Connection) -> str:
        raw.execute(
            "INSERT INTO users (platform, platform_user_id, display_name, created_at) VALUES ('t', ?, ?, '2026-01-01')",
            (name, name.upper()),
        )
        return name

    return work


async def test_concurrent_transactions_share_a_commit_and_keep_their_own_outcome(db_path: Path) -> None:
    """Transactions queued while one runs go to the thread together (group commit); a failing one is
    rolled back alone and raises to its own caller only, the others commit."""
    db = await open_database(db_path)
    try:
        names = [f"u{i}" for i in range(20)]
        works = [_insert_user(n) for n in names]
        works[7] = _insert_user("u3")  # violates UNIQUE (platform, platform_user_id)
        trips_before = db.trips
        results = await asyncio.gather(*(db.run_transaction(w) for w in works), return_exceptions=True)
        assert isinstance(results[7], sqlite3.IntegrityError)
        assert [r for i, r in enumerate(results) if i != 7] == [n for i, n in enumerate(names) if i != 7]
        # the first goes alone; the other 19 were queued behind it and go in one trip
        assert db.trips - trips_before == 2
        stored = await db.run_read(lambda raw: [r[0] for r in raw.execute("SELECT platform_user_id FROM users")])
        assert sorted(stored) == sorted(n for i, n in enumerate(names) if i != 7)
        assert not db.lock.locked() and not db.conn.in_transaction
    finally:
        await db.close()


async def test_cancelled_waiting_transaction_never_runs(db_path: Path) -> None:
    """A caller cancelled while its transaction waits for the lock leaves nothing behind."""
    db = await open_database(db_path)
    try:
        async with db.lock:
            waiting = asyncio.ensure_future(db.run_transaction(_insert_user("gone")))
            kept = asyncio.ensure_future(db.run_transaction(_insert_user("kept")))
            await asyncio.sleep(0)
            waiting.cancel()
            await asyncio.sleep(0)
        assert await kept == "kept"
        with pytest.raises(asyncio.CancelledError):
            await waiting
        stored = await db.run_read(lambda raw: [r[0] for r in raw.execute("SELECT platform_user_id FROM users")])
        assert stored == ["kept"]
    finally:
        await db.close()


async def test_work_that_ends_the_batch_transaction_does_not_take_the_others_down(db_path: Path) -> None:
    """Some SQLite errors end the whole transaction; the batch then runs each unit on its own."""
    db = await open_database(db_path)
    try:

        def ends_it(raw: sqlite3.Connection) -> None:
            raw.execute("ROLLBACK")  # what SQLite itself does on a full disk or an I/O error
            raise sqlite3.OperationalError("disk I/O error")

        async with db.lock:  # queue all three so that they go in one batch
            runs = [asyncio.ensure_future(db.run_transaction(w)) for w in (_insert_user("a"), ends_it,
                                                                          _insert_user("b"))]
            await asyncio.sleep(0)
        results = await asyncio.gather(*runs, return_exceptions=True)
        assert results[0] == "a" and results[2] == "b"
        assert isinstance(results[1], sqlite3.OperationalError)
        stored = await db.run_read(lambda raw: [r[0] for r in raw.execute("SELECT platform_user_id FROM users")])
        assert sorted(stored) == ["a", "b"]
    finally:
        await db.close()


async def test_reads_of_the_same_moment_share_a_trip(db_path: Path) -> None:
    """Reads asked for together go to the database thread in one trip; each gets its own result, and a
    failing one raises to its own caller only."""
    db = await open_database(db_path)
    try:
        await db.run_transaction(_insert_user("a"))
        before = db.read_trips

        def count(raw: sqlite3.Connection) -> int:
            return int(raw.execute("SELECT COUNT(*) FROM users").fetchone()[0])

        def broken(raw: sqlite3.Connection) -> int:
            return int(raw.execute("SELECT COUNT(*) FROM no_such_table").fetchone()[0])

        results = await asyncio.gather(*(db.run_read(count) for _ in range(9)), db.run_read(broken),
                                       return_exceptions=True)
        assert results[:9] == [1] * 9
        assert isinstance(results[9], sqlite3.OperationalError)
        assert db.read_trips - before == 1
        assert await db.run_read(count) == 1 and db.read_trips - before == 2
    finally:
        await db.close()


async def test_drill_numbers_are_given_per_person_to_drills_made_before_them(db_path: Path) -> None:
    """Migration 0006 numbers the drills already recorded per person, in the order they were started, and
    new drills carry on from there."""
    from datetime import UTC, datetime

    from bot.storage.store import Store

    raw = sqlite3.connect(db_path)
    for migration in migrations()[:5]:
        raw.executescript(migration.sql)
    raw.execute("PRAGMA user_version = 5")
    when = "2026-01-01T00:00:00.000000+00:00"
    for name in ("alice", "bob"):
        raw.execute("INSERT INTO users (platform, platform_user_id, created_at) VALUES ('t', ?, ?)", (name, when))
    for user_id in (1, 1, 2, 1, 2):  # alice, alice, bob, alice, bob
        raw.execute(
            "INSERT INTO drills (user_id, state, minutes, started_at, last_activity_at) "
            "VALUES (?, 'finished', 5, ?, ?)",
            (user_id, when, when),
        )
    raw.commit()
    raw.close()
    db = await open_database(db_path)
    try:
        async with db.conn.execute("SELECT user_id, number FROM drills ORDER BY id") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [(1, 1), (1, 2), (2, 1), (1, 3), (2, 2)]
        store = Store(db)
        async with db.transaction() as conn:
            new_id = await store.create_drill(
                conn, user_id=2, conversation_id=None, lang="en", minutes=5, scope={}, grading="auto",
                on_timeout="move_on", question_ids=["1.1"], now=datetime.now(UTC),
            )
        drill = await store.drill_numbered(2, 3)
        assert drill is not None and drill.id == new_id
        assert await store.drill_numbered(2, 4) is None
    finally:
        await db.close()
