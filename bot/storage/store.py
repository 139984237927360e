"""Every SQL statement of the bot, always with parameters.

Methods return small frozen dataclasses rather than rows so the engine never
depends on column order.  Writes that must be atomic take a `Database.transaction()`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

import aiosqlite

from bot.clock import from_iso, to_iso
from bot.storage.db import Database


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    platform: str
    platform_user_id: str
    display_name: str
    lang: str | None


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    platform: str
    workspace_id: str
    channel_id: str
    is_dm: bool
    lang: str
    answer_minutes: float
    reminders: bool
    reveal_mode: str
    auto_follow_up: bool
    timezone: str


@dataclass(frozen=True, slots=True)
class TimerRow:
    id: int
    kind: str
    ref_id: int
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class NewTimer:
    """A timer to add with `Store.add_timers` (many in one statement)."""

    kind: str
    ref_id: int
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewRound:
    """A round to open with `Store.create_rounds` (many in one statement)."""

    conversation_id: int
    question_id: str
    asked_by: int | None
    opened_at: datetime
    deadline_at: datetime
    parent_round_id: int | None
    scope: str
    cycle: int


@dataclass(frozen=True, slots=True)
class DrillRow:
    id: int
    user_id: int
    conversation_id: int | None
    state: str
    lang: str
    minutes: float
    scope: dict[str, Any]
    grading: str
    on_timeout: str
    started_at: datetime
    last_activity_at: datetime
    finished_at: datetime | None
    number: int  # the person's own drill number (#1, #2, ...), which people see and type; `id` is internal


@dataclass(frozen=True, slots=True)
class DrillItemRow:
    id: int
    drill_id: int
    position: int
    question_id: str
    parent_item_id: int | None
    probe_key_point: str | None
    state: str
    asked_at: datetime | None
    deadline_at: datetime | None
    answered_at: datetime | None
    late: bool
    score: int | None
    self_rating: str | None
    grade: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AnswerRow:
    id: int
    round_id: int | None
    drill_item_id: int | None
    user_id: int
    text: str
    submitted_at: datetime
    late: bool
    practice: bool
    visible: bool
    event_id: str | None
    score: int | None
    grade: dict[str, Any] | None


# Parameters per multi-row statement: SQLite allows 32766 since 3.32 (2020), 999 before.
MAX_PARAMS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


def chunked(items: Sequence[Any], per_item: int) -> Iterator[Sequence[Any]]:
    """Slices of `items` small enough that `per_item` parameters each stay within MAX_PARAMS."""
    size = max(1, MAX_PARAMS // per_item)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(rows: int, columns: int) -> str:
    """The placeholder list of a multi-row VALUES clause: (?, ?), (?, ?) ... (values stay parameters)."""
    row = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([row] * rows)


_SORTED_JSON = json.JSONEncoder(sort_keys=True)  # json.dumps(..., sort_keys=True) builds an encoder per call


def _payload(payload: dict[str, Any]) -> str:
    return _SORTED_JSON.encode(payload) if payload else "{}"


@dataclass(frozen=True, slots=True)
class DrillState:
    """A person's active drill as closing an answer needs it (see `Store.drill_state`)."""

    drill: DrillRow
    items: tuple[DrillItemRow, ...]  # by position
    current: DrillItemRow | None  # the item being asked
    texts: dict[int, list[str]]  # item id -> answer parts, for the current item's question and its probes
    card: tuple[str, datetime] | None  # (card json, due) of the current item's question, if reviewed before


@dataclass(frozen=True, slots=True)
class ItemClose:
    """Close the asked item (answered, skipped or unanswered) and delete its deadline timer."""

    item_id: int
    state: str
    now: datetime
    timer_kind: str
    late: bool = False
    score: int | None = None
    grade: dict[str, Any] | None = None
    touch_drill_id: int | None = None  # also record activity on this drill (a skip)


@dataclass(frozen=True, slots=True)
class CardSave:
    """A review card after one review."""

    user_id: int
    question_id: str
    card_json: str
    due_at: datetime
    reviewed_at: datetime
    score: int | None


@dataclass(frozen=True, slots=True)
class NewProbe:
    """A follow-up item to insert under the question it probes."""

    drill_id: int
    parent_item_id: int
    position: int
    question_id: str
    key_point: str | None


@dataclass(frozen=True, slots=True)
class ItemAsk:
    """Ask an item, an existing one (`item_id`) or a new probe, and add its deadline timer."""

    asked_at: datetime
    deadline_at: datetime
    timer_kind: str
    item_id: int | None = None
    probe: NewProbe | None = None
    rearm: bool = False  # delete the item's earlier deadline timer first (asked again on resume)


@dataclass(frozen=True, slots=True)
class DrillEnd:
    """End an active drill and delete its idle timer."""

    drill_id: int
    state: str
    now: datetime
    idle_timer_kind: str


@dataclass(frozen=True, slots=True)
class StepResult:
    asked: DrillItemRow | None  # the item asked, as stored
    ended: bool  # the drill was ended by this step (False: it was not active any more)
    # when a question (not a probe) was asked: the person's review card for it, as in DrillState.card
    card: tuple[str, datetime] | None = None


class _NothingToClose(Exception):
    """Raised inside a drill step to roll it back: the item was no longer being asked."""


def _dt(value: str | None) -> datetime | None:
    return from_iso(value) if value else None


def _json(value: str | None) -> dict[str, Any] | None:
    return json.loads(value) if value else None


MessageKey = tuple[str, str, str]  # (platform, channel id, message id) of a posted message

_USER_COLS = "id, platform, platform_user_id, display_name, lang"
_CONV_COLS = (
    "id, platform, workspace_id, channel_id, is_dm, lang, answer_minutes, reminders, reveal_mode, "
    "auto_follow_up, timezone"
)
_DRILL_COLS = (
    "id, user_id, conversation_id, state, lang, minutes, scope, grading, on_timeout, started_at, "
    "last_activity_at, finished_at, number"
)
_ITEM_COLS = (
    "id, drill_id, position, question_id, parent_item_id, probe_key_point, state, asked_at, deadline_at, "
    "answered_at, late, score, self_rating, grade_json"
)
_ANSWER_COLS = (
    "id, round_id, drill_item_id, user_id, text, submitted_at, late, practice, visible, event_id, score, grade_json"
)


_ACTIVE_DRILL_WITH_ITEM_SQL = (
    "SELECT "
    + ", ".join(f"d.{c.strip()}" for c in _DRILL_COLS.split(","))
    + ", "
    + ", ".join(f"i.{c.strip()}" for c in _ITEM_COLS.split(","))
    + " FROM drills d LEFT JOIN drill_items i ON i.drill_id = d.id AND i.state = 'asked' "
    "WHERE d.user_id = ? AND d.state = 'active' ORDER BY i.position LIMIT 1"
)
_DRILL_WIDTH = len(_DRILL_COLS.split(","))
_ADD_TIMER_SQL = "INSERT INTO timers (kind, ref_id, due_at, payload, created_at) VALUES (?, ?, ?, ?, ?)"
_CANCEL_TIMERS_SQL = "DELETE FROM timers WHERE kind = ? AND ref_id = ?"
_CLOSE_ITEM_SQL = (
    "UPDATE drill_items SET state = ?, answered_at = ?, late = ?, score = ?, self_rating = ?, grade_json = ? "
    "WHERE id = ? AND state = 'asked'"
)
_TOUCH_DRILL_SQL = "UPDATE drills SET last_activity_at = ? WHERE id = ?"
_FINISH_DRILL_SQL = "UPDATE drills SET state = ?, finished_at = ? WHERE id = ? AND state = 'active'"
_ADD_ANSWER_SQL = (
    "INSERT INTO answers (round_id, drill_item_id, user_id, text, submitted_at, late, practice, visible, "
    "event_id, score, grade_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)
_ADD_PART_IF_ASKED_SQL = (
    "INSERT INTO answers (round_id, drill_item_id, user_id, text, submitted_at, late, practice, visible, "
    "event_id, score, grade_json) SELECT NULL, ?, ?, ?, ?, ?, 0, 0, ?, NULL, NULL "
    "WHERE EXISTS (SELECT 1 FROM drill_items WHERE id = ? AND state = 'asked') ON CONFLICT (event_id) DO NOTHING"
)
_GET_CARD_SQL = "SELECT card_json, due_at FROM review_cards WHERE user_id = ? AND question_id = ?"
_GET_DRILL_CARD_SQL = (
    "SELECT card_json, due_at FROM review_cards WHERE user_id = (SELECT user_id FROM drills WHERE id = ?) "
    "AND question_id = ?"
)
_SAVE_CARD_SQL = (
    "INSERT INTO review_cards (user_id, question_id, card_json, due_at, last_review_at, last_score, reviews) "
    "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (user_id, question_id) DO UPDATE SET "
    "card_json = excluded.card_json, due_at = excluded.due_at, last_review_at = excluded.last_review_at, "
    "last_score = excluded.last_score, "
    "reviews = review_cards.reviews + 1"
)


def _user(row: Sequence[Any]) -> UserRow:
    return UserRow(row[0], row[1], row[2], row[3], row[4])


def _conv(row: Sequence[Any]) -> ConversationRow:
    return ConversationRow(
        row[0], row[1], row[2], row[3], bool(row[4]), row[5], float(row[6]), bool(row[7]), row[8], bool(row[9]), row[10]
    )


def _drill(row: Sequence[Any]) -> DrillRow:
    return DrillRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        float(row[5]),
        json.loads(row[6] or "{}"),
        row[7],
        row[8],
        from_iso(row[9]),
        from_iso(row[10]),
        _dt(row[11]),
        int(row[12]),
    )


def _item(row: Sequence[Any]) -> DrillItemRow:
    return DrillItemRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        _dt(row[7]),
        _dt(row[8]),
        _dt(row[9]),
        bool(row[10]),
        row[11],
        row[12],
        _json(row[13]),
    )


def _answer(row: Sequence[Any]) -> AnswerRow:
    return AnswerRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        from_iso(row[5]),
        bool(row[6]),
        bool(row[7]),
        bool(row[8]),
        row[9],
        row[10],
        _json(row[11]),
    )


def _split_drill_with_item(row: Sequence[Any] | None) -> tuple[DrillRow, DrillItemRow | None] | None:
    if row is None:
        return None
    item = _item(row[_DRILL_WIDTH:]) if row[_DRILL_WIDTH] is not None else None
    return _drill(row[:_DRILL_WIDTH]), item


def _ask_item(raw: sqlite3.Connection, ask: ItemAsk) -> DrillItemRow:
    """Mark an item asked (inserting it first when it is a new probe) and add its deadline timer."""
    asked_at, deadline_at = to_iso(ask.asked_at), to_iso(ask.deadline_at)
    if ask.probe is not None:
        p = ask.probe
        rows = raw.execute(
            "INSERT INTO drill_items (drill_id, position, question_id, parent_item_id, probe_key_point, state, "
            f"asked_at, deadline_at) VALUES (?, ?, ?, ?, ?, 'asked', ?, ?) RETURNING {_ITEM_COLS}",
            (p.drill_id, p.position, p.question_id, p.parent_item_id, p.key_point, asked_at, deadline_at),
        ).fetchall()  # fetch all: a RETURNING statement left half-read would block the COMMIT
    else:
        if ask.rearm:
            raw.execute(_CANCEL_TIMERS_SQL, (ask.timer_kind, ask.item_id))
        rows = raw.execute(
            "UPDATE drill_items SET state = 'asked', asked_at = ?, deadline_at = ? WHERE id = ? "
            f"RETURNING {_ITEM_COLS}",
            (asked_at, deadline_at, ask.item_id),
        ).fetchall()
    item = _item(rows[0])
    raw.execute(_ADD_TIMER_SQL, (ask.timer_kind, item.id, deadline_at, "{}", asked_at))
    return item




def _fetch_all(sql: str, params: Sequence[Any], raw: sqlite3.Connection) -> list[Any]:
    """One query's rows (on the database thread; reads of the same moment share a trip)."""
    return raw.execute(sql, params).fetchall()


def _answer_params(
    *,
    user_id: int,
    text: str,
    now: datetime,
    round_id: int | None = None,
    drill_item_id: int | None = None,
    late: bool = False,
    practice: bool = False,
    visible: bool = False,
    event_id: str | None = None,
    score: int | None = None,
    grade: dict[str, Any] | None = None,
) -> tuple[Any, ...]:
    """The parameters of `_ADD_ANSWER_SQL` for one submission."""
    return (
        round_id,
        drill_item_id,
        user_id,
        text,
        to_iso(now),
        int(late),
        int(practice),
        int(visible),
        event_id,
        score,
        json.dumps(grade, sort_keys=True) if grade else None,
    )


class Store:
    """Typed access to the database; the only place that writes SQL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # One process owns the database, so rows that change rarely can be cached safely here;
        # every write to them goes through this class and refreshes the cache.
        self._users: dict[tuple[str, str], UserRow] = {}
        self._convs: dict[tuple[str, str, str], ConversationRow] = {}

    @property
    def conn(self) -> aiosqlite.Connection:
        return self.db.conn

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self.db.run_read(partial(_fetch_all, sql, params))
        return rows[0] if rows else None

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self.db.run_read(partial(_fetch_all, sql, params))

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
        """One statement as its own transaction (autocommit), serialised with other transactions."""
        async with self.db.lock:
            return await self.conn.execute(sql, params)

    # -- users ---------------------------------------------------------------------------------

    async def ensure_user(self, platform: str, platform_user_id: str, display_name: str, now: datetime) -> UserRow:
        """Find or create a user; keep the display name current."""
        cached = self._users.get((platform, platform_user_id))
        if cached is not None and (not display_name or cached.display_name == display_name):
            return cached
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO users (platform, platform_user_id, display_name, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (platform, platform_user_id) DO UPDATE SET display_name = "
                "CASE WHEN excluded.display_name <> '' THEN excluded.display_name ELSE users.display_name END",
                (platform, platform_user_id, display_name, to_iso(now)),
            )
        row = await self._one(
            f"SELECT {_USER_COLS} FROM users WHERE platform = ? AND platform_user_id = ?", (platform, platform_user_id)
        )
        user = _user(row)
        self._users[(platform, platform_user_id)] = user
        return user

    async def get_user(self, user_id: int) -> UserRow | None:
        row = await self._one(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    async def find_user(self, platform: str, platform_user_id: str) -> UserRow | None:
        cached = self._users.get((platform, platform_user_id))
        if cached is not None:
            return cached
        row = await self._one(
            f"SELECT {_USER_COLS} FROM users WHERE platform = ? AND platform_user_id = ?", (platform, platform_user_id)
        )
        return _user(row) if row else None

    async def set_user_lang(self, user_id: int, lang: str) -> None:
        """The person's language, which their drill in progress follows from its next message on."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE users SET lang = ? WHERE id = ?", (lang, user_id))
            await conn.execute("UPDATE drills SET lang = ? WHERE user_id = ? AND state = 'active'", (lang, user_id))
        self._users = {k: (replace(u, lang=lang) if u.id == user_id else u) for k, u in self._users.items()}

    def forget_cached_user(self, user_id: int) -> None:
        self._users = {k: u for k, u in self._users.items() if u.id != user_id}

    # -- conversations -------------------------------------------------------------------------

    async def ensure_conversation(
        self,
        platform: str,
        workspace_id: str,
        channel_id: str,
        *,
        is_dm: bool,
        lang: str,
        answer_minutes: float,
        now: datetime,
    ) -> ConversationRow:
        """Find or create a conversation with the given defaults for a new one."""
        cached = self._convs.get((platform, workspace_id, channel_id))
        if cached is not None:
            return cached
        row = await self._one(
            f"SELECT {_CONV_COLS} FROM conversations WHERE platform = ? AND workspace_id = ? AND channel_id = ?",
            (platform, workspace_id, channel_id),
        )
        if row:
            return self._cache_conv(_conv(row))
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO conversations (platform, workspace_id, channel_id, is_dm, lang, answer_minutes, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (platform, workspace_id, channel_id, int(is_dm), lang, answer_minutes, to_iso(now)),
            )
        row = await self._one(
            f"SELECT {_CONV_COLS} FROM conversations WHERE platform = ? AND workspace_id = ? AND channel_id = ?",
            (platform, workspace_id, channel_id),
        )
        return self._cache_conv(_conv(row))

    def _cache_conv(self, conv: ConversationRow) -> ConversationRow:
        self._convs[(conv.platform, conv.workspace_id, conv.channel_id)] = conv
        return conv

    async def get_conversation(self, conversation_id: int) -> ConversationRow | None:
        row = await self._one(f"SELECT {_CONV_COLS} FROM conversations WHERE id = ?", (conversation_id,))
        return _conv(row) if row else None

    async def get_conversations(self, conversation_ids: Sequence[int]) -> dict[int, ConversationRow]:
        """The conversations that exist among these ids, by id (one query per few hundred)."""
        out: dict[int, ConversationRow] = {}
        for part in chunked(sorted(set(conversation_ids)), 1):
            rows = await self._all(
                f"SELECT {_CONV_COLS} FROM conversations WHERE id IN ({', '.join('?' * len(part))})", part
            )
            out.update((row[0], _conv(row)) for row in rows)
        return out

    _CONV_SETTINGS = frozenset({"lang", "answer_minutes", "reminders", "reveal_mode", "auto_follow_up", "timezone"})

    async def update_conversation(self, conversation_id: int, **values: Any) -> ConversationRow:
        """Change conversation settings; only known columns, each written with a parameter."""
        async with self.db.transaction() as conn:
            for key, value in values.items():
                if key not in self._CONV_SETTINGS:
                    raise KeyError(key)
                # The column name comes from the fixed allow-list above, never from input.
                await conn.execute(f"UPDATE conversations SET {key} = ? WHERE id = ?", (value, conversation_id))
        updated = await self.get_conversation(conversation_id)
        assert updated is not None
        return self._cache_conv(updated)

    # -- timers --------------------------------------------------------------------------------

    async def add_timer(
        self,
        conn: aiosqlite.Connection,
        kind: str,
        ref_id: int,
        due_at: datetime,
        now: datetime,
        payload: dict[str, Any] | None = None,
    ) -> int:
        """Insert a timer inside the caller's transaction."""
        cursor = await conn.execute(
            _ADD_TIMER_SQL, (kind, ref_id, to_iso(due_at), _payload(payload or {}), to_iso(now))
        )
        return int(cursor.lastrowid or 0)

    async def add_timers(self, conn: aiosqlite.Connection, timers: Sequence[NewTimer], now: datetime) -> None:
        """Insert many timers inside the caller's transaction, in one statement."""
        created = to_iso(now)
        await conn.executemany(
            "INSERT INTO timers (kind, ref_id, due_at, payload, created_at) VALUES (?, ?, ?, ?, ?)",
            [(t.kind, t.ref_id, to_iso(t.due_at), _payload(t.payload), created) for t in timers],
        )

    async def cancel_timers(self, conn: aiosqlite.Connection, kind: str, ref_id: int) -> None:
        """Delete pending timers of `kind` for one object."""
        await conn.execute(_CANCEL_TIMERS_SQL, (kind, ref_id))

    async def cancel_timers_of(self, conn: aiosqlite.Connection, kind: str, ref_ids: Sequence[int]) -> None:
        """Delete pending timers of `kind` for many objects, in one statement."""
        await conn.executemany("DELETE FROM timers WHERE kind = ? AND ref_id = ?", [(kind, r) for r in ref_ids])

    async def cancel_timers_like(self, conn: aiosqlite.Connection, prefix: str, ref_id: int) -> None:
        """Delete pending timers whose kind starts with `prefix` for one object."""
        await conn.execute("DELETE FROM timers WHERE ref_id = ? AND kind LIKE ?", (ref_id, prefix + "%"))

    async def earliest_timer(self) -> TimerRow | None:
        row = await self._one(
            "SELECT id, kind, ref_id, due_at, payload, attempts FROM timers ORDER BY due_at, id LIMIT 1"
        )
        return self._timer(row) if row else None

    async def due_timers(self, now: datetime, limit: int = 500) -> list[TimerRow]:
        rows = await self._all(
            "SELECT id, kind, ref_id, due_at, payload, attempts FROM timers WHERE due_at <= ? ORDER BY due_at, id "
            "LIMIT ?",
            (to_iso(now), limit),
        )
        return [self._timer(r) for r in rows]

    async def timers_for(self, kind_prefix: str, ref_id: int) -> list[TimerRow]:
        rows = await self._all(
            "SELECT id, kind, ref_id, due_at, payload, attempts FROM timers WHERE ref_id = ? AND kind LIKE ? "
            "ORDER BY due_at, id",
            (ref_id, kind_prefix + "%"),
        )
        return [self._timer(r) for r in rows]

    async def delete_timer(self, timer: TimerRow) -> None:
        """Delete a fired timer, matching the whole row: a handler may have replaced it with a new row
        that SQLite gave the same rowid (ids of deleted rows are reused)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM timers WHERE id = ? AND kind = ? AND ref_id = ? AND due_at = ?",
                (timer.id, timer.kind, timer.ref_id, to_iso(timer.due_at)),
            )

    async def delete_timers(self, timers: Sequence[TimerRow]) -> None:
        """Delete fired timers in one transaction (each matched on its whole row, see delete_timer)."""
        if not timers:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "DELETE FROM timers WHERE id = ? AND kind = ? AND ref_id = ? AND due_at = ?",
                [(t.id, t.kind, t.ref_id, to_iso(t.due_at)) for t in timers],
            )

    async def retry_timers(self, retries: Sequence[tuple[TimerRow, datetime]]) -> None:
        """Move failed timers to their retry time with one more attempt, in one transaction."""
        if not retries:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE timers SET due_at = ?, attempts = attempts + 1 WHERE id = ? AND kind = ? AND ref_id = ? "
                "AND due_at = ?",
                [(to_iso(due), t.id, t.kind, t.ref_id, to_iso(t.due_at)) for t, due in retries],
            )

    async def count_timers(self) -> int:
        row = await self._one("SELECT COUNT(*) FROM timers")
        return int(row[0])

    @staticmethod
    def _timer(row: Sequence[Any]) -> TimerRow:
        return TimerRow(row[0], row[1], row[2], from_iso(row[3]), json.loads(row[4]), row[5])

    # -- drills --------------------------------------------------------------------------------

    async def set_drill_minutes(self, drill_id: int, minutes: float) -> None:
        await self._write("UPDATE drills SET minutes = ? WHERE id = ?", (minutes, drill_id))

    async def active_drill(self, user_id: int) -> DrillRow | None:
        row = await self._one(f"SELECT {_DRILL_COLS} FROM drills WHERE user_id = ? AND state = 'active'", (user_id,))
        return _drill(row) if row else None

    async def active_drill_with_item(self, user_id: int) -> tuple[DrillRow, DrillItemRow | None] | None:
        """A person's active drill and the item being asked (one query)."""
        return _split_drill_with_item(await self._one(_ACTIVE_DRILL_WITH_ITEM_SQL, (user_id,)))

    async def add_drill_answer(
        self, *, user_id: int, text: str, now: datetime, event_id: str | None
    ) -> tuple[DrillRow, DrillItemRow | None] | None:
        """Store one answer part for the item a person is being asked, in one trip to the database.

        Returns the active drill and its asked item (the part was stored for it), the drill and None
        when nothing is being asked (nothing stored), or None when there is no active drill.  The part
        is late when it arrives after the item's deadline.  The hot path of a drill answer: looking the
        item up and storing the part used to be two trips, the second one under the write lock.
        """

        def work(raw: sqlite3.Connection) -> tuple[DrillRow, DrillItemRow | None] | None:
            found = _split_drill_with_item(raw.execute(_ACTIVE_DRILL_WITH_ITEM_SQL, (user_id,)).fetchone())
            if found is None or found[1] is None:
                return found
            item = found[1]
            late = bool(item.deadline_at and now > item.deadline_at)
            raw.execute(
                _ADD_ANSWER_SQL, (None, item.id, user_id, text, to_iso(now), int(late), 0, 0, event_id, None, None)
            )
            return found

        return await self.db.run_transaction(work)

    async def add_answer_part(
        self, *, item_id: int, user_id: int, text: str, now: datetime, late: bool, event_id: str | None
    ) -> bool | None:
        """Store one answer part for a drill item the caller knows is being asked: one statement that
        inserts only while the item is still asked.  True when stored, False when the same event was
        stored before (a platform's retry), None when the item is no longer asked (nothing stored)."""

        def work(raw: sqlite3.Connection) -> bool | None:
            params = (item_id, user_id, text, to_iso(now), int(late), event_id, item_id)
            if raw.execute(_ADD_PART_IF_ASKED_SQL, params).rowcount == 1:
                return True
            asked = raw.execute("SELECT 1 FROM drill_items WHERE id = ? AND state = 'asked'", (item_id,)).fetchone()
            return False if asked else None

        return await self.db.run_transaction(work)

    async def drill_state(self, user_id: int) -> DrillState | None:
        """A person's active drill as closing an answer needs it, read in one trip to the database:
        the drill, its items, the item being asked, the answer parts of that item's question and its
        probes, and the person's review card for that question."""

        def work(raw: sqlite3.Connection) -> DrillState | None:
            row = raw.execute(
                f"SELECT {_DRILL_COLS} FROM drills WHERE user_id = ? AND state = 'active'", (user_id,)
            ).fetchone()
            if row is None:
                return None
            drill = _drill(row)
            items = [
                _item(r)
                for r in raw.execute(
                    f"SELECT {_ITEM_COLS} FROM drill_items WHERE drill_id = ? ORDER BY position", (drill.id,)
                )
            ]
            current = next((i for i in items if i.state == "asked"), None)
            texts: dict[int, list[str]] = {}
            card: tuple[str, datetime] | None = None
            if current is not None:
                root_id = current.parent_item_id or current.id
                family = [i for i in items if i.id == root_id or i.parent_item_id == root_id]
                marks = ",".join("?" for _ in family)
                for item_id, text in raw.execute(
                    f"SELECT drill_item_id, text FROM answers WHERE drill_item_id IN ({marks}) "
                    "ORDER BY submitted_at, id",
                    [i.id for i in family],
                ):
                    texts.setdefault(item_id, []).append(text)
                root = next((i for i in family if i.id == root_id), None)
                if root is not None:
                    found = raw.execute(_GET_CARD_SQL, (user_id, root.question_id)).fetchone()
                    card = (found[0], from_iso(found[1])) if found else None
            return DrillState(drill, tuple(items), current, texts, card)

        return await self.db.run_read(work)

    async def drill_step(
        self,
        *,
        close: ItemClose | None = None,
        card: CardSave | None = None,
        ask: ItemAsk | None = None,
        end: DrillEnd | None = None,
    ) -> StepResult | None:
        """One step of a drill as a single transaction in one trip to the database: close the asked
        item, save the question's review card, ask the next item (or a new probe) with its deadline
        timer, or end the drill.  None, with nothing written, when the item to close was no longer
        asked (a timer and a reply racing).  Writing the step at once also means a crash can no longer
        leave an answered item without its next question asked."""

        def work(raw: sqlite3.Connection) -> StepResult | None:
            if close is not None:
                cursor = raw.execute(
                    _CLOSE_ITEM_SQL,
                    (
                        close.state,
                        to_iso(close.now),
                        int(close.late),
                        close.score,
                        None,
                        json.dumps(close.grade, sort_keys=True) if close.grade else None,
                        close.item_id,
                    ),
                )
                if cursor.rowcount != 1:
                    raise _NothingToClose
                raw.execute(_CANCEL_TIMERS_SQL, (close.timer_kind, close.item_id))
                if close.touch_drill_id is not None:
                    raw.execute(_TOUCH_DRILL_SQL, (to_iso(close.now), close.touch_drill_id))
            if card is not None:
                raw.execute(
                    _SAVE_CARD_SQL,
                    (
                        card.user_id,
                        card.question_id,
                        card.card_json,
                        to_iso(card.due_at),
                        to_iso(card.reviewed_at),
                        card.score,
                    ),
                )
            asked: DrillItemRow | None = None
            asked_card: tuple[str, datetime] | None = None
            if ask is not None:
                asked = _ask_item(raw, ask)
                if asked.parent_item_id is None:
                    found = raw.execute(_GET_DRILL_CARD_SQL, (asked.drill_id, asked.question_id)).fetchone()
                    asked_card = (found[0], from_iso(found[1])) if found else None
            ended = False
            if end is not None:
                ended = raw.execute(_FINISH_DRILL_SQL, (end.state, to_iso(end.now), end.drill_id)).rowcount == 1
                if ended:
                    raw.execute(_CANCEL_TIMERS_SQL, (end.idle_timer_kind, end.drill_id))
            return StepResult(asked, ended, asked_card)

        try:
            return await self.db.run_transaction(work)
        except _NothingToClose:
            return None

    async def last_activity(self, drill_id: int) -> datetime | None:
        """The latest thing the person did in a drill: an answer part, or closing an item."""
        row = await self._one(
            "SELECT MAX(t) FROM (SELECT MAX(a.submitted_at) AS t FROM answers a JOIN drill_items i "
            "ON i.id = a.drill_item_id WHERE i.drill_id = ? UNION ALL SELECT MAX(answered_at) FROM drill_items "
            "WHERE drill_id = ? AND state IN ('answered', 'skipped'))",
            (drill_id, drill_id),
        )
        return from_iso(row[0]) if row and row[0] else None

    async def autocommit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one of the `conn`-taking write methods as its own single-statement transaction."""
        async with self.db.lock:
            return await fn(self.conn, *args, **kwargs)

    async def get_drill(self, drill_id: int) -> DrillRow | None:
        row = await self._one(f"SELECT {_DRILL_COLS} FROM drills WHERE id = ?", (drill_id,))
        return _drill(row) if row else None

    async def drill_numbered(self, user_id: int, number: int) -> DrillRow | None:
        """The person's drill with their own number `number`."""
        row = await self._one(f"SELECT {_DRILL_COLS} FROM drills WHERE user_id = ? AND number = ?", (user_id, number))
        return _drill(row) if row else None

    async def latest_drill(self, user_id: int, states: Sequence[str]) -> DrillRow | None:
        marks = ",".join("?" for _ in states)
        row = await self._one(
            f"SELECT {_DRILL_COLS} FROM drills WHERE user_id = ? AND state IN ({marks}) ORDER BY id DESC LIMIT 1",
            (user_id, *states),
        )
        return _drill(row) if row else None

    async def active_drills(self) -> list[DrillRow]:
        return [_drill(r) for r in await self._all(f"SELECT {_DRILL_COLS} FROM drills WHERE state = 'active'")]

    async def create_drill(
        self,
        conn: aiosqlite.Connection,
        *,
        user_id: int,
        conversation_id: int | None,
        lang: str,
        minutes: float,
        scope: dict[str, Any],
        grading: str,
        on_timeout: str,
        question_ids: Sequence[str],
        now: datetime,
    ) -> int:
        """Insert a drill and its planned items inside the caller's transaction."""
        cursor = await conn.execute(
            "INSERT INTO drills (user_id, conversation_id, state, lang, minutes, scope, grading, on_timeout, "
            "started_at, last_activity_at, number) VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, "
            "(SELECT COALESCE(MAX(number), 0) + 1 FROM drills WHERE user_id = ?))",
            (
                user_id,
                conversation_id,
                lang,
                minutes,
                json.dumps(scope, sort_keys=True),
                grading,
                on_timeout,
                to_iso(now),
                to_iso(now),
                user_id,
            ),
        )
        drill_id = int(cursor.lastrowid or 0)
        await conn.executemany(
            "INSERT INTO drill_items (drill_id, position, question_id) VALUES (?, ?, ?)",
            [(drill_id, (i + 1) * 100, qid) for i, qid in enumerate(question_ids)],
        )
        return drill_id

    async def delete_drill(self, drill_id: int) -> None:
        """Remove a drill that never reached the person (its items, answers and timers go with it)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM timers WHERE kind = 'drill.idle' AND ref_id = ?", (drill_id,))
            await conn.execute(
                "DELETE FROM timers WHERE kind = 'drill.deadline' AND ref_id IN "
                "(SELECT id FROM drill_items WHERE drill_id = ?)",
                (drill_id,),
            )
            await conn.execute("DELETE FROM drills WHERE id = ?", (drill_id,))

    async def finish_drill(self, conn: aiosqlite.Connection, drill_id: int, state: str, now: datetime) -> bool:
        """Close an active drill; False if it was not active any more (idempotent timers)."""
        cursor = await conn.execute(_FINISH_DRILL_SQL, (state, to_iso(now), drill_id))
        return cursor.rowcount == 1

    async def touch_drill(self, conn: aiosqlite.Connection, drill_id: int, now: datetime) -> None:
        await conn.execute(_TOUCH_DRILL_SQL, (to_iso(now), drill_id))

    async def drill_items(self, drill_id: int) -> list[DrillItemRow]:
        rows = await self._all(
            f"SELECT {_ITEM_COLS} FROM drill_items WHERE drill_id = ? ORDER BY position", (drill_id,)
        )
        return [_item(r) for r in rows]

    async def get_item(self, item_id: int) -> DrillItemRow | None:
        row = await self._one(f"SELECT {_ITEM_COLS} FROM drill_items WHERE id = ?", (item_id,))
        return _item(row) if row else None

    async def current_item(self, drill_id: int) -> DrillItemRow | None:
        """The item being asked, else None."""
        row = await self._one(
            f"SELECT {_ITEM_COLS} FROM drill_items WHERE drill_id = ? AND state = 'asked' ORDER BY position LIMIT 1",
            (drill_id,),
        )
        return _item(row) if row else None


    async def close_item(
        self,
        conn: aiosqlite.Connection,
        item_id: int,
        *,
        state: str,
        now: datetime,
        late: bool = False,
        score: int | None = None,
        self_rating: str | None = None,
        grade: dict[str, Any] | None = None,
    ) -> bool:
        """Close an asked item; False if it was already closed (a timer and a reply racing)."""
        cursor = await conn.execute(
            _CLOSE_ITEM_SQL,
            (
                state,
                to_iso(now),
                int(late),
                score,
                self_rating,
                json.dumps(grade, sort_keys=True) if grade else None,
                item_id,
            ),
        )
        return cursor.rowcount == 1

    async def set_item_rating(self, item_id: int, rating: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE drill_items SET self_rating = ? WHERE id = ?", (rating, item_id))

    # -- answers -------------------------------------------------------------------------------

    async def add_answer_now(self, **values: Any) -> int | None:
        """Record a submission as its own transaction in one trip (the hot path of a reply, committed
        together with other replies arriving at the same time); None when the same platform event was
        already recorded.  `values` are those of `_answer_params`."""
        params = _answer_params(**values)

        def work(raw: sqlite3.Connection) -> int | None:
            cursor = raw.execute(_ADD_ANSWER_SQL, params)
            return int(cursor.lastrowid) if cursor.rowcount == 1 and cursor.lastrowid else None

        return await self.db.run_transaction(work)

    async def item_answers(self, item_id: int) -> list[AnswerRow]:
        rows = await self._all(
            f"SELECT {_ANSWER_COLS} FROM answers WHERE drill_item_id = ? ORDER BY submitted_at, id", (item_id,)
        )
        return [_answer(r) for r in rows]

    async def event_seen(self, event_id: str) -> bool:
        return await self._one("SELECT 1 FROM answers WHERE event_id = ?", (event_id,)) is not None

    # -- review cards --------------------------------------------------------------------------

    async def get_card(self, user_id: int, question_id: str) -> tuple[str, datetime] | None:
        row = await self._one(_GET_CARD_SQL, (user_id, question_id))
        return (row[0], from_iso(row[1])) if row else None

    async def save_card(
        self,
        conn: aiosqlite.Connection,
        *,
        user_id: int,
        question_id: str,
        card_json: str,
        due_at: datetime,
        reviewed_at: datetime,
        score: int | None,
    ) -> None:
        await conn.execute(
            _SAVE_CARD_SQL,
            (user_id, question_id, card_json, to_iso(due_at), to_iso(reviewed_at), score),
        )

    async def due_cards(self, user_id: int, now: datetime, limit: int = 50) -> list[tuple[str, datetime, int | None]]:
        """(question id, due time, last score) of cards due now: the weakest first (a review offers the
        question answered worst), then the most overdue."""
        rows = await self._all(
            "SELECT question_id, due_at, last_score FROM review_cards WHERE user_id = ? AND due_at <= ? "
            "ORDER BY COALESCE(last_score, 0), due_at, question_id LIMIT ?",
            (user_id, to_iso(now), limit),
        )
        return [(r[0], from_iso(r[1]), r[2]) for r in rows]

    async def cards(self, user_id: int) -> list[tuple[str, datetime, int | None, int]]:
        """(question id, due time, last score, reviews) of every card of a person, soonest due first."""
        rows = await self._all(
            "SELECT question_id, due_at, last_score, reviews FROM review_cards WHERE user_id = ? "
            "ORDER BY due_at, question_id",
            (user_id,),
        )
        return [(r[0], from_iso(r[1]), r[2], r[3]) for r in rows]

    async def seen_question_ids(self, user_id: int) -> set[str]:
        rows = await self._all("SELECT question_id FROM review_cards WHERE user_id = ?", (user_id,))
        return {r[0] for r in rows}

    # -- rounds --------------------------------------------------------------------------------

    async def open_round(self, conversation_id: int) -> RoundRow | None:
        row = await self._one(
            f"SELECT {_ROUND_COLS} FROM rounds WHERE conversation_id = ? AND state = 'open'", (conversation_id,)
        )
        return _round(row) if row else None

    async def open_rounds(self, conversation_ids: Sequence[int]) -> dict[int, RoundRow]:
        """The open round of each of these conversations that has one, by conversation id."""
        out: dict[int, RoundRow] = {}
        for part in chunked(sorted(set(conversation_ids)), 1):
            rows = await self._all(
                f"SELECT {_ROUND_COLS} FROM rounds WHERE state = 'open' AND conversation_id IN "
                f"({', '.join('?' * len(part))})",
                part,
            )
            out.update((row[1], _round(row)) for row in rows)
        return out

    async def open_round_and_versions(self, conversation_id: int, user_id: int) -> tuple[RoundRow, int] | None:
        """The open round with how many counted replies this person already sent (one query: the hot path)."""
        row = await self._one(
            f"SELECT {_ROUND_COLS}, (SELECT COUNT(*) FROM answers a WHERE a.round_id = rounds.id AND a.user_id = ? "
            "AND a.practice = 0) FROM rounds WHERE conversation_id = ? AND state = 'open'",
            (user_id, conversation_id),
        )
        return (_round(row), int(row[13])) if row else None

    async def get_round(self, round_id: int) -> RoundRow | None:
        row = await self._one(f"SELECT {_ROUND_COLS} FROM rounds WHERE id = ?", (round_id,))
        return _round(row) if row else None

    async def last_closed_round(self, conversation_id: int) -> RoundRow | None:
        row = await self._one(
            f"SELECT {_ROUND_COLS} FROM rounds WHERE conversation_id = ? AND state <> 'open' "
            "ORDER BY closed_at DESC, id DESC LIMIT 1",
            (conversation_id,),
        )
        return _round(row) if row else None

    async def round_by_message(self, platform: str, channel_id: str, message_id: str) -> RoundRow | None:
        ref = json.dumps([platform, channel_id, message_id])
        row = await self._one(f"SELECT {_ROUND_COLS} FROM rounds WHERE message_ref = ?", (ref,))
        return _round(row) if row else None

    async def create_rounds(self, conn: aiosqlite.Connection, rounds: Sequence[NewRound]) -> list[int]:
        """Open rounds inside the caller's transaction (two statements for hundreds); their ids, in order.

        A conversation has at most one open round (a unique index), so the new ids are read back
        by conversation; no RETURNING, which older SQLite builds lack.
        """
        await conn.executemany(
            "INSERT INTO rounds (conversation_id, question_id, state, asked_by, opened_at, deadline_at, "
            "parent_round_id, scope, cycle) VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.conversation_id,
                    r.question_id,
                    r.asked_by,
                    to_iso(r.opened_at),
                    to_iso(r.deadline_at),
                    r.parent_round_id,
                    r.scope,
                    r.cycle,
                )
                for r in rounds
            ],
        )
        ids: dict[int, int] = {}
        for part in chunked(sorted({r.conversation_id for r in rounds}), 1):
            rows = await conn.execute_fetchall(
                f"SELECT conversation_id, id FROM rounds WHERE state = 'open' AND conversation_id IN "
                f"({', '.join('?' * len(part))})",
                part,
            )
            ids.update((int(row[0]), int(row[1])) for row in rows)
        return [ids[r.conversation_id] for r in rounds]

    async def set_round_messages(self, conn: aiosqlite.Connection, refs: Sequence[tuple[int, MessageKey]]) -> None:
        """Remember where rounds' questions were posted: (round id, (platform, channel, message id))."""
        await conn.executemany(
            "UPDATE rounds SET message_ref = ? WHERE id = ?", [(json.dumps(list(ref)), rid) for rid, ref in refs]
        )

    async def close_round(self, conn: aiosqlite.Connection, round_id: int, state: str, now: datetime) -> bool:
        """Close an open round; False if it was already closed (a timer and a command racing)."""
        cursor = await conn.execute(
            "UPDATE rounds SET state = ?, closed_at = ? WHERE id = ? AND state = 'open'", (state, to_iso(now), round_id)
        )
        return cursor.rowcount == 1

    async def mark_announced(self, round_id: int, now: datetime) -> None:
        """The reveal was posted: stop the announce safety-net timer."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE rounds SET announced_at = ? WHERE id = ? AND announced_at IS NULL", (to_iso(now), round_id)
            )
            await conn.execute("DELETE FROM timers WHERE kind = 'round.announce' AND ref_id = ?", (round_id,))

    async def round_results_for(self, round_id: int) -> list[tuple[int, str, int, int, datetime, str, dict[str, Any]]]:
        """(user id, name, score, points, reply time, reply text, grade) of a revealed round, best first."""
        rows = await self._all(
            "SELECT rr.user_id, u.display_name, rr.score, rr.points, rr.submitted_at, COALESCE(a.text, ''), "
            "a.grade_json FROM round_results rr JOIN users u ON u.id = rr.user_id "
            "LEFT JOIN answers a ON a.id = rr.answer_id WHERE rr.round_id = ? "
            "ORDER BY rr.points DESC, rr.submitted_at, rr.user_id",
            (round_id,),
        )
        return [(r[0], r[1], int(r[2]), int(r[3]), from_iso(r[4]), r[5], _json(r[6]) or {}) for r in rows]

    async def child_rounds(self, round_id: int) -> list[RoundRow]:
        rows = await self._all(f"SELECT {_ROUND_COLS} FROM rounds WHERE parent_round_id = ? ORDER BY id", (round_id,))
        return [_round(r) for r in rows]

    async def scope_cycles(self, wanted: Sequence[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, set[str]]]:
        """For each (conversation, scope): its current cycle number and the questions asked in that cycle.

        A scope never asked in a conversation is in cycle 1 with nothing asked.
        """
        out: dict[tuple[int, str], tuple[int, set[str]]] = {pair: (1, set()) for pair in wanted}
        pairs = sorted(set(wanted))
        for part in chunked(pairs, 2):
            rows = await self._all(
                f"WITH wanted (conversation_id, scope) AS (VALUES {marks(len(part), 2)}), "
                "latest AS (SELECT r.conversation_id, r.scope, MAX(r.cycle) AS cycle FROM rounds r "
                "JOIN wanted w ON w.conversation_id = r.conversation_id AND w.scope = r.scope "
                "GROUP BY r.conversation_id, r.scope) "
                "SELECT l.conversation_id, l.scope, l.cycle, r.question_id FROM latest l JOIN rounds r "
                "ON r.conversation_id = l.conversation_id AND r.scope = l.scope AND r.cycle = l.cycle",
                [value for pair in part for value in pair],
            )
            for conversation_id, scope, cycle, question_id in rows:
                key = (int(conversation_id), str(scope))
                if out[key][0] != cycle:
                    out[key] = (int(cycle), set())
                out[key][1].add(question_id)
        return out

    async def round_answers(self, round_id: int, *, include_practice: bool = False) -> list[AnswerRow]:
        rows = await self._all(
            f"SELECT {_ANSWER_COLS} FROM answers WHERE round_id = ? AND (practice = 0 OR ?) ORDER BY submitted_at, id",
            (round_id, int(include_practice)),
        )
        return [_answer(r) for r in rows]

    async def count_user_answers(self, round_id: int, user_id: int) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM answers WHERE round_id = ? AND user_id = ? AND practice = 0", (round_id, user_id)
        )
        return int(row[0])

    async def add_round_result(
        self,
        conn: aiosqlite.Connection,
        *,
        round_id: int,
        user_id: int,
        answer_id: int,
        score: int,
        points: int,
        submitted_at: datetime,
        closed_at: datetime,
    ) -> None:
        await conn.execute(
            "INSERT INTO round_results (round_id, user_id, answer_id, score, points, submitted_at, closed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (round_id, user_id) DO NOTHING",
            (round_id, user_id, answer_id, score, points, to_iso(submitted_at), to_iso(closed_at)),
        )

    async def leaderboard(
        self,
        *,
        conversation_ids: Sequence[int],
        since: datetime | None,
        until: datetime | None = None,
    ) -> list[tuple[int, str, int, int, datetime]]:
        """(user id, display name, total points, rounds, earliest reply) ranked; ties go to the earlier reply."""
        marks = ",".join("?" for _ in conversation_ids)
        rows = await self._all(
            "SELECT rr.user_id, u.display_name, SUM(rr.points) AS total, COUNT(*) AS n, MIN(rr.submitted_at) AS first "
            f"FROM round_results rr JOIN rounds r ON r.id = rr.round_id JOIN users u ON u.id = rr.user_id "
            f"WHERE r.conversation_id IN ({marks}) AND rr.closed_at >= ? AND rr.closed_at < ? "
            "GROUP BY rr.user_id ORDER BY total DESC, first ASC, rr.user_id ASC",
            (*conversation_ids, to_iso(since) if since else "", to_iso(until) if until else "9999"),
        )
        return [(r[0], r[1], int(r[2]), int(r[3]), from_iso(r[4])) for r in rows]

    async def workspace_conversations(self, platform: str, workspace_id: str) -> list[int]:
        rows = await self._all(
            "SELECT id FROM conversations WHERE platform = ? AND workspace_id = ? AND is_dm = 0",
            (platform, workspace_id),
        )
        return [r[0] for r in rows]

    async def played_workspace_conversations(self, platform: str, user_id: int) -> list[int]:
        """The channels of every workspace (server) on `platform` where the person has a scored round."""
        rows = await self._all(
            "SELECT id FROM conversations WHERE platform = ? AND is_dm = 0 AND workspace_id IN ("
            "SELECT DISTINCT c.workspace_id FROM round_results rr JOIN rounds r ON r.id = rr.round_id "
            "JOIN conversations c ON c.id = r.conversation_id WHERE rr.user_id = ? AND c.platform = ?)",
            (platform, user_id, platform),
        )
        return [r[0] for r in rows]

    async def user_results(self, user_id: int, conversation_ids: Sequence[int]) -> list[tuple[str, int, datetime]]:
        """(question id, score, reply time) of every scored round of a person in these conversations."""
        marks = ",".join("?" for _ in conversation_ids)
        rows = await self._all(
            "SELECT r.question_id, rr.score, rr.submitted_at FROM round_results rr JOIN rounds r ON r.id = rr.round_id "
            f"WHERE rr.user_id = ? AND r.conversation_id IN ({marks}) ORDER BY rr.submitted_at",
            (user_id, *conversation_ids),
        )
        return [(r[0], int(r[1]), from_iso(r[2])) for r in rows]

    async def user_reply_times(self, user_id: int, conversation_ids: Sequence[int]) -> list[datetime]:
        """Every time a person replied to a round in these conversations (for streaks)."""
        marks = ",".join("?" for _ in conversation_ids)
        rows = await self._all(
            "SELECT a.submitted_at FROM answers a JOIN rounds r ON r.id = a.round_id "
            f"WHERE a.user_id = ? AND r.conversation_id IN ({marks}) ORDER BY a.submitted_at",
            (user_id, *conversation_ids),
        )
        return [from_iso(r[0]) for r in rows]



@dataclass(frozen=True, slots=True)
class RoundRow:
    id: int
    conversation_id: int
    question_id: str
    state: str
    asked_by: int | None
    opened_at: datetime
    deadline_at: datetime
    closed_at: datetime | None
    parent_round_id: int | None
    scope: str
    cycle: int
    message_ref: tuple[str, str, str] | None
    announced_at: datetime | None = None


_ROUND_COLS = (
    "id, conversation_id, question_id, state, asked_by, opened_at, deadline_at, closed_at, parent_round_id, scope, "
    "cycle, message_ref, announced_at"
)


def _round(row: Sequence[Any]) -> RoundRow:
    ref = tuple(json.loads(row[11])) if row[11] else None
    return RoundRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        from_iso(row[5]),
        from_iso(row[6]),
        _dt(row[7]),
        row[8],
        row[9],
        row[10],
        ref,
        _dt(row[12]),
    )


class PersonData:
    """Queries for one person's data: export and deletion (people's right to their data)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def export(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every reply, score and review card of one person."""
        s = self._store
        answers = await s._all(
            "SELECT a.id, a.submitted_at, a.text, a.score, a.late, a.practice, r.question_id, di.question_id, "
            "c.platform, c.channel_id FROM answers a LEFT JOIN rounds r ON r.id = a.round_id "
            "LEFT JOIN drill_items di ON di.id = a.drill_item_id LEFT JOIN conversations c ON c.id = r.conversation_id "
            "WHERE a.user_id = ? ORDER BY a.submitted_at, a.id",
            (user_id,),
        )
        results = await s._all(
            "SELECT rr.round_id, r.question_id, rr.score, rr.points, rr.submitted_at FROM round_results rr "
            "JOIN rounds r ON r.id = rr.round_id WHERE rr.user_id = ? ORDER BY rr.submitted_at",
            (user_id,),
        )
        drills = await s._all(
            "SELECT d.number, d.state, d.started_at, d.finished_at, di.question_id, di.state, di.score, "
            "di.self_rating, di.asked_at, di.answered_at "
            "FROM drills d JOIN drill_items di ON di.drill_id = d.id WHERE d.user_id = ? ORDER BY d.id, di.position",
            (user_id,),
        )
        cards = await s._all(
            "SELECT question_id, due_at, last_review_at, last_score, reviews FROM review_cards WHERE user_id = ? "
            "ORDER BY question_id",
            (user_id,),
        )
        return {
            "answers": [
                {
                    "id": r[0],
                    "submitted_at": r[1],
                    "text": r[2],
                    "score": r[3],
                    "late": bool(r[4]),
                    "practice": bool(r[5]),
                    "question_id": r[6] or r[7],
                    "kind": "round" if r[6] else "drill",
                    "channel": f"{r[8]}:{r[9]}" if r[8] else None,
                }
                for r in answers
            ],
            "round_results": [
                {"round_id": r[0], "question_id": r[1], "score": r[2], "points": r[3], "submitted_at": r[4]}
                for r in results
            ],
            "drill_items": [
                {
                    "drill": r[0],  # the person's own drill number, as `report N` takes it
                    "drill_state": r[1],
                    "started_at": r[2],
                    "finished_at": r[3],
                    "question_id": r[4],
                    "state": r[5],
                    "score": r[6],
                    "self_rating": r[7],
                    "asked_at": r[8],
                    "answered_at": r[9],
                }
                for r in drills
            ],
            "reviews": [
                {"question_id": r[0], "due_at": r[1], "last_review_at": r[2], "last_score": r[3], "reviews": r[4]}
                for r in cards
            ],
        }

    async def forget(self, user_id: int) -> dict[str, int]:
        """Delete a person and everything that is theirs, in one transaction; return counts removed."""
        s = self._store
        async with s.db.transaction() as conn:
            counts: dict[str, int] = {}
            for table, sql in (
                ("answers", "SELECT COUNT(*) FROM answers WHERE user_id = ?"),
                ("round_results", "SELECT COUNT(*) FROM round_results WHERE user_id = ?"),
                ("drills", "SELECT COUNT(*) FROM drills WHERE user_id = ?"),
                ("review_cards", "SELECT COUNT(*) FROM review_cards WHERE user_id = ?"),
            ):
                async with conn.execute(sql, (user_id,)) as cursor:
                    row = await cursor.fetchone()
                    counts[table] = int(row[0]) if row else 0
            await conn.execute(
                "DELETE FROM timers WHERE kind = 'drill.idle' AND ref_id IN (SELECT id FROM drills WHERE user_id = ?)",
                (user_id,),
            )
            await conn.execute(
                "DELETE FROM timers WHERE kind = 'drill.deadline' AND ref_id IN "
                "(SELECT di.id FROM drill_items di JOIN drills d ON d.id = di.drill_id WHERE d.user_id = ?)",
                (user_id,),
            )
            await conn.execute("UPDATE rounds SET asked_by = NULL WHERE asked_by = ?", (user_id,))
            await conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        s.forget_cached_user(user_id)
        return counts


# -- schedules -----------------------------------------------------------------------------------
# Daily-question schedules (migration 0004); kept apart from Store so the feature stays in one block.


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    id: int
    conversation_id: int
    days: str  # daily / weekdays
    at: str  # local HH:MM
    timezone: str
    section: int | None
    tag: str | None
    rising: bool
    reveal_after_minutes: float | None
    reveal_at: str | None  # local HH:MM
    remind_before_minutes: float | None
    state: str  # active / paused
    next_fire_at: datetime | None
    last_posted_date: str | None  # local YYYY-MM-DD
    created_by: int | None


_SCHEDULE_COLS = (
    "id, conversation_id, days, at, timezone, section, tag, rising, reveal_after_minutes, reveal_at, "
    "remind_before_minutes, state, next_fire_at, last_posted_date, created_by"
)
_SCHEDULE_SETTINGS = (
    "days",
    "at",
    "timezone",
    "section",
    "tag",
    "rising",
    "reveal_after_minutes",
    "reveal_at",
    "remind_before_minutes",
)


@dataclass(frozen=True, slots=True)
class ScheduledRound:
    """A round opened by a schedule for a local day."""

    round_id: int
    conversation_id: int
    local_date: str  # YYYY-MM-DD


def _schedule(row: Sequence[Any]) -> ScheduleRow:
    return ScheduleRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        bool(row[7]),
        row[8],
        row[9],
        row[10],
        row[11],
        _dt(row[12]),
        row[13],
        row[14],
    )


class ScheduleQueries:
    """The SQL of daily-question schedules and of the scheduled rounds behind streaks."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, schedule_id: int) -> ScheduleRow | None:
        row = await self._store._one(f"SELECT {_SCHEDULE_COLS} FROM schedules WHERE id = ?", (schedule_id,))
        return _schedule(row) if row else None

    async def get_many(self, schedule_ids: Sequence[int]) -> dict[int, ScheduleRow]:
        """The schedules that still exist among these ids, by id."""
        out: dict[int, ScheduleRow] = {}
        for part in chunked(sorted(set(schedule_ids)), 1):
            rows = await self._store._all(
                f"SELECT {_SCHEDULE_COLS} FROM schedules WHERE id IN ({', '.join('?' * len(part))})", part
            )
            out.update((row[0], _schedule(row)) for row in rows)
        return out

    async def for_conversation(self, conversation_id: int) -> ScheduleRow | None:
        row = await self._store._one(
            f"SELECT {_SCHEDULE_COLS} FROM schedules WHERE conversation_id = ?", (conversation_id,)
        )
        return _schedule(row) if row else None

    async def exists_for(self, conversation_id: int) -> bool:
        row = await self._store._one("SELECT 1 FROM schedules WHERE conversation_id = ?", (conversation_id,))
        return row is not None

    async def upsert(
        self,
        conn: aiosqlite.Connection,
        *,
        conversation_id: int,
        settings: dict[str, Any],
        created_by: int | None,
        now: datetime,
    ) -> int:
        """Create the channel's schedule or replace its settings (keeping the last posted date); active again."""
        values = [settings[k] for k in _SCHEDULE_SETTINGS]
        cols = ", ".join(_SCHEDULE_SETTINGS)
        marks = ", ".join("?" for _ in _SCHEDULE_SETTINGS)
        updates = ", ".join(f"{k} = excluded.{k}" for k in _SCHEDULE_SETTINGS)
        # Column names come from the fixed tuple above, never from input.
        await conn.execute(
            f"INSERT INTO schedules (conversation_id, {cols}, state, created_by, updated_at) "
            f"VALUES (?, {marks}, 'active', ?, ?) ON CONFLICT (conversation_id) DO UPDATE SET {updates}, "
            "state = 'active', created_by = excluded.created_by, updated_at = excluded.updated_at",
            (conversation_id, *values, created_by, to_iso(now)),
        )
        async with conn.execute("SELECT id FROM schedules WHERE conversation_id = ?", (conversation_id,)) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def set_state(
        self,
        conn: aiosqlite.Connection,
        schedule_id: int,
        *,
        state: str,
        next_fire_at: datetime | None,
        now: datetime,
    ) -> None:
        await conn.execute(
            "UPDATE schedules SET state = ?, next_fire_at = ?, updated_at = ? WHERE id = ?",
            (state, to_iso(next_fire_at) if next_fire_at else None, to_iso(now), schedule_id),
        )

    async def set_next(self, conn: aiosqlite.Connection, schedule_id: int, next_fire_at: datetime) -> None:
        """Store the next fire time (setting or resuming a schedule)."""
        await conn.execute("UPDATE schedules SET next_fire_at = ? WHERE id = ?", (to_iso(next_fire_at), schedule_id))

    async def advance(
        self, conn: aiosqlite.Connection, moves: Sequence[tuple[int, datetime, datetime]]
    ) -> set[int]:
        """Move fired schedules on: (id, fired for, next fire time).  Only a schedule still active and
        still due at the time it fired for moves (a fire racing with `schedule daily ...`, `pause` or
        `off` leaves their change alone); the ids that moved.  Call inside a transaction, so that the
        check and the update see the same rows."""
        wanted = {schedule_id: (to_iso(fired_for), to_iso(when)) for schedule_id, fired_for, when in moves}
        current: dict[int, str | None] = {}
        for part in chunked(sorted(wanted), 1):
            rows = await conn.execute_fetchall(
                "SELECT id, next_fire_at FROM schedules WHERE state = 'active' AND id IN "
                f"({', '.join('?' * len(part))})",
                part,
            )
            current.update((int(row[0]), row[1]) for row in rows)
        moved = {sid for sid, (fired_for, _when) in wanted.items() if current.get(sid) == fired_for}
        await conn.executemany(
            "UPDATE schedules SET next_fire_at = ? WHERE id = ? AND state = 'active' AND next_fire_at = ?",
            [(wanted[sid][1], sid, wanted[sid][0]) for sid in sorted(moved)],
        )
        return moved

    async def mark_posted(self, conn: aiosqlite.Connection, days: Sequence[tuple[int, str]]) -> None:
        """Record (schedule id, local day) whose question was posted: that day is never posted again."""
        await conn.executemany(
            "UPDATE schedules SET last_posted_date = ? WHERE id = ?", [(day, sid) for sid, day in days]
        )

    async def delete(self, conn: aiosqlite.Connection, schedule_id: int) -> None:
        await conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))

    async def add_scheduled_round(self, conn: aiosqlite.Connection, links: Sequence[ScheduledRound]) -> None:
        """Link rounds to the local days they were opened for (the basis of streaks); many in one statement."""
        await conn.executemany(
            "INSERT INTO scheduled_rounds (round_id, conversation_id, local_date) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(link.round_id, link.conversation_id, link.local_date) for link in links],
        )

    async def round_on(self, conversation_id: int, local_date: str) -> int | None:
        """The scheduled round opened in a conversation for a local date, if any."""
        row = await self._store._one(
            "SELECT round_id FROM scheduled_rounds WHERE conversation_id = ? AND local_date = ?",
            (conversation_id, local_date),
        )
        return int(row[0]) if row else None

    async def days(self, conversation_id: int) -> list[tuple[int, str, str]]:
        """(round id, local date, round state) of every scheduled round not cancelled, oldest first."""
        rows = await self._store._all(
            "SELECT s.round_id, s.local_date, r.state FROM scheduled_rounds s JOIN rounds r ON r.id = s.round_id "
            "WHERE s.conversation_id = ? AND r.state <> 'cancelled' ORDER BY s.local_date",
            (conversation_id,),
        )
        return [(int(r[0]), r[1], r[2]) for r in rows]

    async def answered(self, conversation_id: int, user_ids: Sequence[int]) -> set[tuple[int, int]]:
        """(round id, user id) pairs: who replied in time to which scheduled round of a conversation."""
        if not user_ids:
            return set()
        marks = ",".join("?" for _ in user_ids)
        rows = await self._store._all(
            "SELECT DISTINCT a.round_id, a.user_id FROM answers a JOIN scheduled_rounds s ON s.round_id = a.round_id "
            f"WHERE s.conversation_id = ? AND a.practice = 0 AND a.user_id IN ({marks})",
            (conversation_id, *user_ids),
        )
        return {(int(r[0]), int(r[1])) for r in rows}

    async def first_of_cycle(self, round_id: int) -> bool:
        """Whether a round began a new cycle of its scope (cycle > 1 and the first round asked in it)."""
        row = await self._store._one(
            "SELECT r.cycle, (SELECT COUNT(*) FROM rounds o WHERE o.conversation_id = r.conversation_id "
            "AND o.scope = r.scope AND o.cycle = r.cycle AND o.id < r.id) FROM rounds r WHERE r.id = ?",
            (round_id,),
        )
        return bool(row) and int(row[0]) > 1 and int(row[1]) == 0


async def health_counts(store: Store) -> tuple[int, int, int]:
    """(open rounds, active drills, answers recorded): what /metrics reports from the database."""
    row = await store._one(
        "SELECT (SELECT COUNT(*) FROM rounds WHERE state = 'open'), (SELECT COUNT(*) FROM drills WHERE state = "
        "'active'), (SELECT COUNT(*) FROM answers)"
    )
    return int(row[0]), int(row[1]), int(row[2])
