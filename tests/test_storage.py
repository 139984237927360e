"""Migrations, pragmas and the refusal of a newer schema."""

from __future__ import annotations

import sqlite3
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
