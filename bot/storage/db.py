"""Connection, pragmas, transactions and numbered migrations.

One aiosqlite connection serves the whole process; an asyncio lock makes each
transaction atomic with respect to other tasks sharing it (aiosqlite serialises
statements, not transactions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

T = TypeVar("T")


class StorageError(RuntimeError):
    """The database cannot be opened or used; the message says why, for a person."""


def storage_failure(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be read or written (disk full, read-only, locked past
    the busy timeout, I/O error, corruption): whatever was being saved was not saved, and the person must
    be told so rather than that nothing was lost.  A constraint violation is a bug, not a failure of storage."""
    return isinstance(exc, StorageError | sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError)


class SchemaTooNewError(StorageError):
    """The database was written by a newer version of the bot; we refuse to touch it."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("bot.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StorageError(f"migration numbering has a gap at {expected:04d}")
    return found


def latest_version() -> int:
    return len(migrations())


class Database:
    """An open database: the connection plus the lock that makes transactions atomic."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.lock = asyncio.Lock()
        self._waiting: list[_Unit[Any]] = []  # one-trip transactions queued behind the lock
        self.trips = 0  # batches of one-trip transactions sent to the connection's thread
        self.units = 0  # one-trip transactions run
        self._reads: list[_Unit[Any]] = []  # reads asked for in this turn of the event loop
        self.read_trips = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        async with self.lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def run_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` as one transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any exception) in a
        single trip to the connection's thread.

        Why: aiosqlite hands every statement to its thread and back (about 60 µs on an idle event loop,
        much more on a busy one), and `transaction()` holds the lock across all those trips, so a
        five-statement step kept every other writer waiting for seven round trips.  `work` runs on the
        database thread: it must only issue SQL on the connection it is given and return plain values.
        """
        unit: _Unit[T] = _Unit(work, asyncio.get_running_loop().create_future())
        self._waiting.append(unit)
        try:
            async with self.lock:
                if not unit.outcome.done():
                    await self._run_waiting()
        except BaseException:
            if unit in self._waiting:  # cancelled before any batch took it: it never runs
                self._waiting.remove(unit)
            raise
        return await unit.outcome

    async def _run_waiting(self) -> None:
        """Group commit: every one-trip transaction queued while the lock was busy runs in this trip,
        inside one BEGIN IMMEDIATE ... COMMIT.

        Why: under load many replies wait for the lock at once, and each trip and each commit has a
        fixed cost (thread hand-offs, a WAL write); a batch pays it once.  Each unit keeps its own
        outcome: if one raises, the batch is rolled back and its units are run again one transaction
        each (see `_in_batch`).  No caller hears of success before the COMMIT that holds its work.
        """
        batch, self._waiting = self._waiting, []
        self.trips += 1
        self.units += len(batch)
        trip = asyncio.ensure_future(self._on_thread(_in_batch, [u.work for u in batch]))
        # The outcomes are handed out when the trip ends even if this caller is cancelled meanwhile:
        # the thread cannot be stopped, and the others must hear what happened to their work.
        trip.add_done_callback(lambda done: _settle(batch, done))
        with contextlib.suppress(Exception):  # a failed trip reaches every caller through its outcome
            await asyncio.shield(trip)

    async def run_read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` (reads only) on the connection's thread, outside any transaction of its own and
        without the lock, like every single read: nothing else runs on the connection meanwhile.

        Reads asked for in the same turn of the event loop go in one trip: each trip costs a thread
        hand-off both ways and a wakeup of the event loop, more than a small indexed query.
        """
        loop = asyncio.get_running_loop()
        unit: _Unit[T] = _Unit(work, loop.create_future())
        self._reads.append(unit)
        if len(self._reads) == 1:
            loop.call_soon(self._send_reads)
        return await unit.outcome

    def _send_reads(self) -> None:
        batch, self._reads = self._reads, []
        self.read_trips += 1
        trip = asyncio.ensure_future(self._on_thread(_each, [u.work for u in batch]))
        trip.add_done_callback(lambda done: _settle(batch, done))

    async def _on_thread(self, fn: Callable[..., T], *args: object) -> T:
        # aiosqlite's own way of running a callable on its connection thread, with the sqlite3
        # connection that lives there; tests/test_storage.py pins these two internals (aiosqlite < 0.23).
        conn = self.conn

        def call() -> T:
            return fn(*args, conn._conn)

        result: T = await conn._execute(call)  # type: ignore[no-untyped-call]
        return result

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> list[int]:
        """Apply pending migrations, each in one transaction; return the versions applied."""
        current = await self.schema_version()
        known = migrations()
        if current > len(known):
            raise SchemaTooNewError(
                f"database {self.path} has schema version {current}, newer than this bot knows ({len(known)}); "
                "upgrade the bot (the database was left untouched)"
            )
        applied: list[int] = []
        for migration in known[current:]:
            async with self.lock:
                script = f"BEGIN IMMEDIATE;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;"
                try:
                    await self.conn.executescript(script)
                except sqlite3.Error as exc:
                    if self.conn.in_transaction:
                        await self.conn.execute("ROLLBACK")
                    raise StorageError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
            log.info("migration applied version=%s name=%s", migration.version, migration.name)
            applied.append(migration.version)
        return applied

    async def close(self) -> None:
        await self.conn.close()


@dataclass(eq=False, slots=True)
class _Unit(Generic[T]):
    """A one-trip transaction waiting for its batch, and where its result goes."""

    work: Callable[[sqlite3.Connection], T]
    outcome: asyncio.Future[T]


def _settle(batch: list[_Unit[Any]], trip: asyncio.Future[list[tuple[bool, object]]]) -> None:
    """Hand each unit of a finished trip its outcome."""
    if trip.cancelled():
        outcomes: list[tuple[bool, object]] = [(False, StorageError("the database call was cancelled"))] * len(batch)
    elif (error := trip.exception()) is not None:  # BEGIN or COMMIT failed: no unit is committed
        outcomes = [(False, error)] * len(batch)
    else:
        outcomes = trip.result()
    for unit, (ok, value) in zip(batch, outcomes, strict=True):
        if unit.outcome.done():
            continue
        if ok:
            unit.outcome.set_result(value)
        else:
            assert isinstance(value, BaseException)
            unit.outcome.set_exception(value)


def _each(works: list[Callable[[sqlite3.Connection], object]], raw: sqlite3.Connection) -> list[tuple[bool, object]]:
    """Run read-only `works` one after the other; (True, result) or (False, exception) per work."""
    outcomes: list[tuple[bool, object]] = []
    for work in works:
        try:
            outcomes.append((True, work(raw)))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


def _in_batch(
    works: list[Callable[[sqlite3.Connection], object]], raw: sqlite3.Connection
) -> list[tuple[bool, object]]:
    """Run `works` in one transaction; (True, result) or (False, exception) per work.

    Optimistic: works almost never fail, so they run without savepoints (each costs two more
    statements).  If one raises, the whole transaction is rolled back and every work is run again in a
    transaction of its own, so that each still gets its own outcome and nothing half done is kept.
    """
    if len(works) == 1:
        try:
            return [(True, _in_transaction(works[0], raw))]
        except Exception as exc:
            return [(False, exc)]
    results: list[object] = []
    raw.execute("BEGIN IMMEDIATE")
    try:
        for work in works:
            results.append(work(raw))
    except Exception:
        if raw.in_transaction:  # some errors end the transaction themselves
            raw.execute("ROLLBACK")
        return _one_by_one(works, raw)
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")
    return [(True, value) for value in results]


def _one_by_one(
    works: list[Callable[[sqlite3.Connection], object]], raw: sqlite3.Connection
) -> list[tuple[bool, object]]:
    outcomes: list[tuple[bool, object]] = []
    for work in works:
        try:
            outcomes.append((True, _in_transaction(work, raw)))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


def _in_transaction(work: Callable[[sqlite3.Connection], T], raw: sqlite3.Connection) -> T:
    raw.execute("BEGIN IMMEDIATE")
    try:
        result = work(raw)
    except BaseException:
        if raw.in_transaction:  # some errors end the transaction themselves
            raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")
    return result


def _probe(path: Path) -> None:
    sqlite3.connect(path).close()


def _cannot_write(path: Path) -> str | None:
    """Why this process cannot write the database at `path`, if that is the reason SQLite failed.

    SQLite only says "unable to open database file" or "attempt to write a readonly database"; the
    usual cause is a file or folder this user may not write (a volume owned by another user, a read-only
    mount).  The folder matters too: SQLite creates the -wal and -shm files beside the database."""
    if path.exists() and not os.access(path, os.W_OK):
        where = "the file"
    elif not os.access(path.parent, os.W_OK):
        where = "its folder"
    else:
        return None
    return (
        f"{where} is read-only for this user (permissions or a read-only mount); the bot writes to the database, "
        f"and SQLite creates {path.name}-wal and {path.name}-shm beside it. Give this user write access to "
        "the folder and the file, or choose another path with --db or INTERVIEW_BOT_DB"
    )


def _open_error(path: Path, verb: str, exc: sqlite3.Error) -> StorageError:
    reason = _cannot_write(path) or str(exc)
    return StorageError(f"cannot {verb} the database {path}: {reason}")


async def open_database(path: Path | str, *, migrate: bool = True) -> Database:
    """Open (creating folders as needed), refuse a newer schema untouched, set pragmas, migrate."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the database folder {path.parent}: {exc.strerror}") from exc
    try:
        # Opened once with plain sqlite3 first: when aiosqlite's own connect fails, its thread can still
        # report to an event loop the failing command has already closed (a second traceback).
        await asyncio.to_thread(_probe, path)
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise _open_error(path, "open", exc) from exc
    db = Database(conn, path)
    try:
        version = await db.schema_version()
        if version > latest_version():
            raise SchemaTooNewError(
                f"database {path} has schema version {version}, newer than this bot knows ({latest_version()}); "
                "upgrade the bot (the database was left untouched)"
            )
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA busy_timeout = 5000")
        if migrate:
            await db.migrate()
    except sqlite3.DatabaseError as exc:
        await conn.close()
        raise _open_error(path, "use", exc) from exc
    except BaseException:
        await conn.close()
        raise
    return db

