"""Team rounds in a channel: a timed question, hidden replies, a reveal with scores, leaderboards.

Points for a round: the grade's score (0..100) plus an early-reply bonus of up to 10
points, scaled by the score so that a fast empty reply earns nothing:
    bonus = round(10 · (time left when replying / answer window) · score / 100).
A person's latest reply before the deadline is the one that counts; every version is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosqlite

from bot.clock import Clock
from bot.engine.events import CALLER, PRIVATE, Notice, NoticeError, Notify, Outgoing, Target, channel, over
from bot.engine.inflight import InFlight
from bot.engine.periods import period_start, streaks
from bot.engine.selection import Scope, questions_in, shuffled
from bot.engine.timers import TimerService
from bot.grading import Grade
from bot.grading.service import Grading
from bot.platforms.base import ConversationRef, MessageRef, UserRef
from bot.storage.store import (
    AnswerRow,
    ConversationRow,
    MessageKey,
    NewRound,
    NewTimer,
    RoundRow,
    Store,
    TimerRow,
    UserRow,
)
from question_bank.schema import Bank, Question

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 4000
ANY_SCOPE = Scope()
ANNOUNCE_RETRY = timedelta(seconds=20)  # if a reveal is not posted by then, post it again
SETTLE_SECONDS = 10.0  # how long closing a round waits for replies already being graded
EARLY_BONUS_MAX = 10
REVEAL_MODES = ("scores", "full", "anonymous")


class RoundError(NoticeError):
    """A round request that cannot be served; carries the Notice to show the caller."""


@dataclass(frozen=True, slots=True)
class RoundQuestion:
    round_id: int
    question: Question
    deadline: datetime
    minutes: float
    lang: str
    asked_by: str
    new_cycle: bool = False
    parent_question: str | None = None
    scheduled: bool = False


@dataclass(frozen=True, slots=True)
class RoundQuestionClosed:
    """The question message of a closed round, shown again without its buttons and with how it ended."""

    round_id: int
    question: Question
    state: str  # revealed, skipped, cancelled
    lang: str


@dataclass(frozen=True, slots=True)
class RoundRequest:
    """One round to open: what `ask` was given, or what a daily schedule fires with."""

    conv: ConversationRow
    asker: UserRef | None = None
    qid: str | None = None  # None: the next question of `scope`
    scope: Scope = ANY_SCOPE
    minutes: float | None = None  # None: the channel's answer window
    parent_round_id: int | None = None
    scheduled: bool = False


@dataclass(frozen=True, slots=True)
class RoundReminder:
    round_id: int
    question: Question
    seconds_left: float
    lang: str


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    round_id: int
    version: int
    deadline: datetime
    lang: str


@dataclass(frozen=True, slots=True)
class PracticeGraded:
    question: Question
    grade: Grade
    lang: str


@dataclass(frozen=True, slots=True)
class HintShown:
    question: Question
    lang: str


@dataclass(frozen=True, slots=True)
class ResultLine:
    user_id: int
    name: str
    score: int
    points: int
    seconds: float
    covered: tuple[str, ...]
    missed: tuple[str, ...]
    text: str
    streak: int = 0


@dataclass(frozen=True, slots=True)
class BoardLine:
    rank: int
    user_id: int
    name: str
    points: int
    rounds: int
    streak: int = 0


@dataclass(frozen=True, slots=True)
class RoundReveal:
    round_id: int
    question: Question
    results: tuple[ResultLine, ...]
    best: ResultLine | None
    fastest: ResultLine | None
    top: tuple[BoardLine, ...]
    mode: str
    lang: str
    skipped: bool = False
    follow_up: str | None = None
    summary: bool = False  # the short version posted in the channel when the full one goes to a thread


@dataclass(frozen=True, slots=True)
class Leaderboard:
    period: str
    scope: str
    lines: tuple[BoardLine, ...]
    caller: BoardLine | None
    lang: str


@dataclass(frozen=True, slots=True)
class Stats:
    name: str
    rounds: int
    average: int
    best_tags: tuple[str, ...]
    weakest_tags: tuple[str, ...]
    current_streak: int
    longest_streak: int
    lang: str
    scheduled_streak: int = 0
    scheduled_longest: int = 0
    scope: str = "channel"  # "channel": this channel's rounds; "server": the workspace's (asked in a DM)


@dataclass(frozen=True, slots=True)
class RoundOpen:
    """The open round, for a second `ask` or a status request."""

    round_id: int
    question: Question
    seconds_left: float
    lang: str


class RoundService:
    """Rounds, answers, reveals and leaderboards for channels."""

    KIND_REVEAL = "round.reveal"
    KIND_REMIND = "round.remind"
    KIND_ANNOUNCE = "round.announce"

    def __init__(
        self,
        *,
        store: Store,
        bank: Bank,
        grading: Grading,
        clock: Clock,
        timers: TimerService,
        notify: Notify,
        default_minutes: float = 5.0,
        default_lang: str = "zh",
    ) -> None:
        self._store = store
        self._bank = bank
        self._grading = grading
        self._answering = InFlight()  # replies being graded and stored, per round
        self._clock = clock
        self._timers = timers
        self._notify = notify
        self._default_minutes = default_minutes
        self._default_lang = default_lang
        # Set by the schedules: (conversation id, user ids) -> scheduled-day streaks, None without a schedule.
        self.board_streaks: Callable[[int, list[int]], Awaitable[dict[int, int] | None]] | None = None
        timers.register(self.KIND_REVEAL, self._on_reveal_timer)
        timers.register(self.KIND_REMIND, self._on_remind_timer)
        timers.register(self.KIND_ANNOUNCE, self._on_announce_timer)

    # -- conversations and people ---------------------------------------------------------------

    async def conversation(self, where: ConversationRef) -> ConversationRow:
        return await self._store.ensure_conversation(
            where.platform,
            where.workspace_id,
            where.channel_id,
            is_dm=where.is_dm,
            lang=self._default_lang,
            answer_minutes=self._default_minutes,
            now=self._clock.now(),
        )

    async def _user(self, user: UserRef) -> UserRow:
        return await self._store.ensure_user(user.platform, user.user_id, user.display_name, self._clock.now())

    def _question(self, qid: str) -> Question:
        question = self._bank.get(qid)
        if question is None:
            raise LookupError(qid)
        return question

    # -- asking ---------------------------------------------------------------------------------

    async def ask(
        self,
        user: UserRef | None,
        where: ConversationRef,
        *,
        qid: str | None = None,
        scope: Scope = ANY_SCOPE,
        minutes: float | None = None,
        parent_round_id: int | None = None,
        scheduled: bool = False,
    ) -> list[Outgoing]:
        """Open a round in a channel; a second one while a round is open says which and how long it has."""
        conv = await self.conversation(where)
        request = RoundRequest(conv, user, qid, scope, minutes, parent_round_id, scheduled)
        (opened,) = await self.open_many([request])
        if isinstance(opened, RoundError):
            raise opened
        return [Outgoing(channel(where), opened)]

    async def open_many(self, requests: Sequence[RoundRequest]) -> list[RoundQuestion | RoundError]:
        """Open a round in each request's channel; `ask` is this with one request.

        The queries and the one transaction are shared by all the requests, which is what
        lets thousands of daily questions due in the same minute go out on time.  Each
        result is the opened round's question (not posted yet: the caller posts it) or the
        RoundError `ask` raises for that channel: a round already open, an empty scope, an
        unknown question.  The channels must be distinct.
        """
        if len({r.conv.id for r in requests}) != len(requests):
            raise ValueError("open_many takes at most one request per channel")
        results: list[RoundQuestion | RoundError | None] = [None] * len(requests)
        current = await self._store.open_rounds([r.conv.id for r in requests])
        for index, request in enumerate(requests):
            busy = current.get(request.conv.id)
            if busy is not None:
                left = (busy.deadline_at - self._clock.now()).total_seconds()
                results[index] = RoundError(
                    Notice(
                        "round.already_open",
                        request.conv.lang,
                        {"qid": busy.question_id, "left": max(left, 0.0), "round": busy.id},
                    )
                )
        askers: dict[int, UserRow] = {}
        for index, request in enumerate(requests):
            if results[index] is None and request.asker is not None:
                askers[index] = await self._user(request.asker)
        cycles = await self._store.scope_cycles(
            [(r.conv.id, r.scope.key()) for i, r in enumerate(requests) if results[i] is None and r.qid is None]
        )
        pools: dict[tuple[int | None, str | None], list[str]] = {}
        picks: dict[int, tuple[Question, int, bool, str]] = {}
        for index, request in enumerate(requests):
            if results[index] is None:
                pick = self._pick(request, cycles, pools)
                if isinstance(pick, RoundError):
                    results[index] = pick
                else:
                    picks[index] = pick
        now = self._clock.now()
        opened: dict[int, tuple[int, datetime, float]] = {}
        if picks:
            async with self._store.db.transaction() as conn:
                # Checked again under the write lock: a round opened meanwhile in one channel wins there.
                raced = await self._store.open_rounds([requests[i].conv.id for i in picks])
                for index in list(picks):
                    if requests[index].conv.id in raced:
                        results[index] = RoundError(Notice("round.already_open_race", requests[index].conv.lang))
                        del picks[index]
                order = sorted(picks)
                minutes_of = {i: requests[i].minutes or requests[i].conv.answer_minutes for i in order}
                new = [
                    NewRound(
                        requests[i].conv.id,
                        picks[i][0].id,
                        askers[i].id if i in askers else None,
                        now,
                        now + timedelta(minutes=minutes_of[i]),
                        requests[i].parent_round_id,
                        picks[i][3],
                        picks[i][1],
                    )
                    for i in order
                ]
                timers: list[NewTimer] = []
                for index, row, round_id in zip(order, new, await self._store.create_rounds(conn, new), strict=True):
                    minutes, deadline = minutes_of[index], row.deadline_at
                    opened[index] = (round_id, deadline, minutes)
                    timers.append(NewTimer(self.KIND_REVEAL, round_id, deadline))
                    if requests[index].conv.reminders:
                        window = timedelta(minutes=minutes)
                        if window >= timedelta(minutes=2):
                            timers.append(NewTimer(self.KIND_REMIND, round_id, now + window / 2, {"at": "half"}))
                        if window > timedelta(minutes=2):
                            timers.append(
                                NewTimer(self.KIND_REMIND, round_id, deadline - timedelta(minutes=1), {"at": "minute"})
                            )
                await self._store.add_timers(conn, timers, now)
            self._timers.poke()
        for index, (round_id, deadline, minutes) in opened.items():
            request = requests[index]
            question, _cycle, new_cycle, _key = picks[index]
            parent_question = None
            if request.parent_round_id is not None:
                parent = await self._store.get_round(request.parent_round_id)
                parent_question = parent.question_id if parent else None
            asker = askers.get(index)
            results[index] = RoundQuestion(
                round_id,
                question,
                deadline,
                minutes,
                request.conv.lang,
                asker.display_name if asker else "",
                new_cycle,
                parent_question,
                request.scheduled,
            )
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _pick(
        self,
        request: RoundRequest,
        cycles: dict[tuple[int, str], tuple[int, set[str]]],
        pools: dict[tuple[int | None, str | None], list[str]],
    ) -> tuple[Question, int, bool, str] | RoundError:
        """The question to ask, its cycle, whether that cycle starts now, and the scope key it counts in.

        Within a scope every question is asked once per cycle, in a shuffled order fixed by the
        channel, scope and cycle; --rising prefers the day's difficulty, keeping that order
        among equals.
        """
        lang = request.conv.lang
        if request.qid is not None:
            found = self._bank.get(request.qid)
            if found is None:
                close = self._bank.closest_ids(request.qid)
                return RoundError(
                    Notice("error.unknown_question", lang, {"qid": request.qid, "suggest": close}, error=True)
                )
            return found, 1, False, ""
        scope = request.scope
        scope_key = scope.key()
        cycle, asked = cycles.get((request.conv.id, scope_key), (1, set()))
        pool = pools.get((scope.section, scope.tag))
        if pool is None:
            pool = pools[(scope.section, scope.tag)] = [q.id for q in questions_in(self._bank, scope)]
        if not pool:
            return RoundError(Notice("error.empty_scope", lang, error=True))
        new_cycle = False
        remaining = [q for q in pool if q not in asked]
        if not remaining:
            cycle, remaining, new_cycle = cycle + 1, pool, True
        order = shuffled(sorted(remaining), f"{request.conv.id}:{scope_key}:{cycle}")
        first = 0
        if scope.rising is not None:
            rising = scope.rising
            first = min(range(len(order)), key=lambda n: (abs(self._question(order[n]).difficulty - rising), n))
        return self._question(order[first]), cycle, new_cycle, scope_key

    async def on_posted(self, posted: Sequence[tuple[object, MessageRef | None]]) -> None:
        """Remember where questions were posted (one transaction for a group); a posted reveal counts as announced."""
        refs: list[tuple[int, MessageKey]] = [
            (event.round_id, (ref.platform, ref.channel_id, ref.message_id))
            for event, ref in posted
            if isinstance(event, RoundQuestion) and ref is not None
        ]
        if refs:
            async with self._store.db.transaction() as conn:
                await self._store.set_round_messages(conn, refs)
        for event, _ref in posted:
            if isinstance(event, RoundReveal) and not event.summary:
                await self._store.mark_announced(event.round_id, self._clock.now())

    async def status(self, where: ConversationRef) -> RoundOpen | None:
        conv = await self.conversation(where)
        current = await self._store.open_round(conv.id)
        if current is None:
            return None
        left = max((current.deadline_at - self._clock.now()).total_seconds(), 0.0)
        return RoundOpen(current.id, self._question(current.question_id), left, conv.lang)

    # -- answering ------------------------------------------------------------------------------

    async def answer(
        self,
        user: UserRef,
        where: ConversationRef,
        text: str,
        *,
        event_id: str | None = None,
        visible: bool = False,
        thread: MessageRef | None = None,
    ) -> list[Outgoing]:
        """Record a reply to the open round (or practice after the reveal) and tell the person privately."""
        conv = await self.conversation(where)
        lang = conv.lang
        if len(text) > MAX_REPLY_CHARS:
            raise RoundError(Notice("error.too_long", lang, {"length": len(text), "limit": MAX_REPLY_CHARS}, True))
        if not text.strip():
            raise RoundError(Notice("error.empty_reply", lang, error=True))
        person = await self._user(user)
        target: RoundRow | None = None
        prior = 0
        if thread is not None:
            target = await self._store.round_by_message(thread.platform, thread.channel_id, thread.message_id)
            if target is None:  # a thread under some other message: not an answer to anything
                raise RoundError(Notice("round.none_open", lang))
            if target.state == "open":
                prior = await self._store.count_user_answers(target.id, person.id)
        if target is None:
            found = await self._store.open_round_and_versions(conv.id, person.id)
            target, prior = found if found else (await self._store.last_closed_round(conv.id), 0)
        if target is None:
            raise RoundError(Notice("round.none_open", lang))
        now = self._clock.now()
        question = self._question(target.question_id)
        practice = target.state != "open" or now > target.deadline_at
        # closing the round waits for a reply that counts (one after the deadline is practice anyway)
        with nullcontext() if practice else self._answering.track(target.id):
            grade = await self._grading.grade(question, text)
            answer_id = await self._store.add_answer_now(
                user_id=person.id,
                text=text,
                now=now,
                round_id=target.id,
                practice=practice,
                visible=visible,
                event_id=event_id,
                score=grade.score,
                grade=grade.to_json(),
                late=practice,
            )
        if answer_id is None:
            return []  # the platform delivered the same event again (unique event id)
        if practice:
            return [Outgoing(PRIVATE, PracticeGraded(question, grade, lang))]
        return [Outgoing(PRIVATE, AnswerRecorded(target.id, prior + 1, target.deadline_at, lang))]

    async def hint(self, where: ConversationRef, *, round_id: int | None = None) -> list[Outgoing]:
        conv, current = await self._current(where, round_id)
        return [Outgoing(PRIVATE, HintShown(self._question(current.question_id), conv.lang))]

    # -- closing --------------------------------------------------------------------------------

    async def _require_control(self, user: UserRef, current: RoundRow, is_admin: bool, action: str, lang: str) -> None:
        if is_admin:
            return
        person = await self._store.find_user(user.platform, user.user_id)
        if person is not None and current.asked_by == person.id:
            return
        raise RoundError(Notice("round.not_allowed", lang, {"action": action}, error=True))

    async def _current(self, where: ConversationRef, round_id: int | None = None) -> tuple[ConversationRow, RoundRow]:
        """The channel's open round; with `round_id` (a question's own button), only if it is that round."""
        conv = await self.conversation(where)
        current = await self._store.open_round(conv.id)
        if round_id is not None and (current is None or current.id != round_id):
            raise RoundError(Notice("round.button_closed", conv.lang, error=True))
        if current is None:
            raise RoundError(Notice("round.none_open", conv.lang))
        return conv, current

    async def reveal(
        self, user: UserRef, where: ConversationRef, *, is_admin: bool, round_id: int | None = None
    ) -> list[Outgoing]:
        conv, current = await self._current(where, round_id)
        await self._require_control(user, current, is_admin, "reveal", conv.lang)
        return await self._close(current, "revealed")

    async def skip(self, user: UserRef, where: ConversationRef, *, is_admin: bool) -> list[Outgoing]:
        conv, current = await self._current(where)
        await self._require_control(user, current, is_admin, "skip", conv.lang)
        return await self._close(current, "skipped")

    async def cancel(self, user: UserRef, where: ConversationRef, *, is_admin: bool) -> list[Outgoing]:
        conv, current = await self._current(where)
        await self._require_control(user, current, is_admin, "cancel", conv.lang)
        return await self._close(current, "cancelled")

    async def _on_reveal_timer(self, timer: TimerRow) -> None:
        current = await self._store.get_round(timer.ref_id)
        if current is None or current.state != "open":
            return
        await self._emit(await self._close(current, "revealed"))

    async def _on_remind_timer(self, timer: TimerRow) -> None:
        current = await self._store.get_round(timer.ref_id)
        if current is None or current.state != "open":
            return
        conv = await self._store.get_conversation(current.conversation_id)
        if conv is None or not conv.reminders:
            return
        left = (current.deadline_at - self._clock.now()).total_seconds()
        if left <= 0:
            return
        event = RoundReminder(current.id, self._question(current.question_id), left, conv.lang)
        await self._emit([Outgoing(self._round_target(conv, current), event)])

    async def _emit(self, outgoing: Sequence[Outgoing]) -> None:
        await self._notify(outgoing)

    def _where(self, conv: ConversationRow) -> ConversationRef:
        return ConversationRef(conv.platform, conv.workspace_id, conv.channel_id, conv.is_dm)

    def _round_target(self, conv: ConversationRow, current: RoundRow) -> Target:
        if current.message_ref is not None:
            platform, channel_id, message_id = current.message_ref
            return Target("thread", thread=MessageRef(platform, channel_id, message_id, conv.workspace_id))
        return channel(self._where(conv))

    async def _close(self, current: RoundRow, state: str) -> list[Outgoing]:
        """Close a round (idempotently): record results, arm the announce safety net, open an auto follow-up.

        The reveal counts as announced only once it is posted (`on_posted`); until then the
        `round.announce` timer rebuilds it from the stored results and posts it again, so a
        platform outage at the deadline delays the reveal instead of losing it.
        """
        conv = await self._store.get_conversation(current.conversation_id)
        assert conv is not None
        now = self._clock.now()
        question = self._question(current.question_id)
        if not await self._answering.settled(current.id, SETTLE_SECONDS):
            log.warning("round closed with replies still being graded round=%s", current.id)
        async with self._store.db.transaction() as conn:
            if not await self._store.close_round(conn, current.id, state, now):
                return []
            await self._store.cancel_timers_like(conn, "round.", current.id)
            if state == "revealed":
                await self._score(conn, current, now)
            if state != "cancelled":
                await self._store.add_timer(conn, self.KIND_ANNOUNCE, current.id, now + ANNOUNCE_RETRY, now)
        self._timers.poke()
        if state == "cancelled":
            await self._store.mark_announced(current.id, now)
            return [
                Outgoing(channel(self._where(conv)), Notice("round.cancelled", conv.lang, {"qid": question.id})),
                *self._question_closed(conv, current, state),
            ]
        follow = question.follow_ups[0] if question.follow_ups else None
        if follow and conv.auto_follow_up and state == "revealed":
            asker = await self._store.get_user(current.asked_by) if current.asked_by else None
            try:
                window = (current.deadline_at - current.opened_at).total_seconds() / 60
                await self.ask(
                    UserRef(asker.platform, asker.platform_user_id, asker.display_name) if asker else None,
                    self._where(conv),
                    qid=follow,
                    parent_round_id=current.id,
                    minutes=window,
                )
            except RoundError as exc:
                log.warning("follow-up not opened round=%s reason=%s", current.id, exc.notice.key)
        closed = await self._store.get_round(current.id)
        assert closed is not None
        return await self._reveal_events(conv, closed)

    async def _reveal_events(self, conv: ConversationRow, current: RoundRow) -> list[Outgoing]:
        """The reveal of a closed round built from what is stored, plus an auto follow-up not yet posted."""
        question = self._question(current.question_id)
        results: list[ResultLine] = []
        if current.state == "revealed":
            for user_id, name, score, points, submitted, text, grade in await self._store.round_results_for(current.id):
                results.append(
                    ResultLine(
                        user_id,
                        name,
                        score,
                        points,
                        (submitted - current.opened_at).total_seconds(),
                        tuple(grade.get("covered", [])) + tuple(grade.get("partial", [])),
                        tuple(grade.get("missed", [])) + tuple(grade.get("contradicted", [])),
                        text,
                    )
                )
        # In anonymous mode a names-and-points board next to the texts would undo the anonymity.
        top = [] if conv.reveal_mode == "anonymous" else await self._board(conv, "week", "channel", limit=5)
        streak_of = {line.user_id: line.streak for line in top}
        results = [replace(r, streak=streak_of.get(r.user_id, 0)) for r in results]
        best = min(results, key=lambda r: (-r.score, r.seconds)) if results else None
        decent = [r for r in results if r.score >= 50]
        fastest = min(decent, key=lambda r: r.seconds) if decent else None
        follow = question.follow_ups[0] if question.follow_ups else None
        reveal = RoundReveal(
            current.id,
            question,
            tuple(results),
            best,
            fastest,
            tuple(top),
            conv.reveal_mode,
            conv.lang,
            skipped=current.state == "skipped",
            follow_up=follow,
        )
        out: list[Outgoing] = []
        if current.message_ref is not None:
            out.append(Outgoing(self._round_target(conv, current), reveal))
            out.append(Outgoing(channel(self._where(conv)), _summary(reveal)))
        else:
            out.append(Outgoing(channel(self._where(conv)), reveal))
        for child in await self._store.child_rounds(current.id):
            if child.state == "open" and child.message_ref is None:
                minutes = (child.deadline_at - child.opened_at).total_seconds() / 60
                event = RoundQuestion(
                    child.id,
                    self._question(child.question_id),
                    child.deadline_at,
                    minutes,
                    conv.lang,
                    "",
                    False,
                    current.question_id,
                )
                out.append(Outgoing(channel(self._where(conv)), event))
        out.extend(self._question_closed(conv, current, current.state))
        return out

    def _question_closed(self, conv: ConversationRow, current: RoundRow, state: str) -> list[Outgoing]:
        """Replace the question message with its closed form, so its buttons go away once it is over."""
        if current.message_ref is None or not current.message_ref[2]:  # no message id: nothing to edit
            return []
        platform, channel_id, message_id = current.message_ref
        message = MessageRef(platform, channel_id, message_id, conv.workspace_id)
        return [Outgoing(over(message), RoundQuestionClosed(current.id, self._question(current.question_id), state,
                                                           conv.lang))]

    async def _on_announce_timer(self, timer: TimerRow) -> None:
        """Post a reveal that was closed but never delivered (the platform was down)."""
        current = await self._store.get_round(timer.ref_id)
        if current is None or current.state not in ("revealed", "skipped") or current.announced_at is not None:
            return
        conv = await self._store.get_conversation(current.conversation_id)
        assert conv is not None
        await self._emit(await self._reveal_events(conv, current))  # raises on failure: the timer retries

    async def publish(self, outgoing: Sequence[Outgoing]) -> None:
        """Post a new question; if the platform refuses, cancel that round so the channel is not stuck."""
        try:
            await self._notify(outgoing)
        except Exception as exc:  # usually the platform's refusal (bot not in the channel): one line, no traceback
            log.warning("posting a question failed; cancelling its round error=%s: %s", type(exc).__name__,
                        str(exc)[:200])
            now = self._clock.now()
            for item in outgoing:
                if isinstance(item.event, RoundQuestion):
                    async with self._store.db.transaction() as conn:
                        await self._store.close_round(conn, item.event.round_id, "cancelled", now)
                        await self._store.cancel_timers_like(conn, "round.", item.event.round_id)
                    await self._store.mark_announced(item.event.round_id, now)
                    raise RoundError(Notice("round.post_failed", item.event.lang, error=True)) from None
            raise

    async def _score(self, conn: aiosqlite.Connection, current: RoundRow, now: datetime) -> None:
        """Record each participant's counted reply: the latest before the deadline, with its points."""
        answers = await self._store.round_answers(current.id)
        latest: dict[int, AnswerRow] = {}
        for answer in answers:
            if answer.submitted_at <= current.deadline_at and not answer.practice:
                latest[answer.user_id] = answer  # ordered by time: the last one wins
        window = max((current.deadline_at - current.opened_at).total_seconds(), 1.0)
        for user_id, a in latest.items():
            score = a.score or 0
            elapsed = (a.submitted_at - current.opened_at).total_seconds()
            bonus = round(EARLY_BONUS_MAX * max(0.0, 1 - elapsed / window) * score / 100)
            await self._store.add_round_result(
                conn,
                round_id=current.id,
                user_id=user_id,
                answer_id=a.id,
                score=score,
                points=score + bonus,
                submitted_at=a.submitted_at,
                closed_at=now,
            )

    # -- leaderboards and stats -----------------------------------------------------------------

    async def leaderboard(
        self, user: UserRef, where: ConversationRef, period: str = "week", scope: str = "channel"
    ) -> Leaderboard:
        conv = await self.conversation(where)
        person = await self._store.find_user(user.platform, user.user_id)
        lines = await self._board(conv, period, scope, limit=None, viewer=person.id if person else None)
        mine = next((line for line in lines if person and line.user_id == person.id), None)
        return Leaderboard(period, scope, tuple(lines[:10]), mine, conv.lang)

    async def _workspace_ids(self, conv: ConversationRow, viewer: int | None) -> list[int]:
        """The channels of the conversation's workspace; from a DM that belongs to no workspace (Discord),
        those of every server where the viewer has played."""
        if conv.is_dm and not conv.workspace_id:
            return await self._store.played_workspace_conversations(conv.platform, viewer) if viewer else []
        return await self._store.workspace_conversations(conv.platform, conv.workspace_id)

    async def _board(
        self, conv: ConversationRow, period: str, scope: str, limit: int | None, viewer: int | None = None
    ) -> list[BoardLine]:
        tz = zone(conv.timezone)
        since = period_start(self._clock.now(), tz, period)
        ids = [conv.id] if scope == "channel" else await self._workspace_ids(conv, viewer)
        rows = await self._store.leaderboard(conversation_ids=ids or [conv.id], since=since)
        lines = []
        for rank, (user_id, name, points, rounds, _first) in enumerate(rows, start=1):
            times = await self._store.user_reply_times(user_id, [conv.id])
            current, _longest = streaks(times, tz, self._clock.now())
            lines.append(BoardLine(rank, user_id, name, points, rounds, current))
        override = await self.board_streaks(conv.id, [b.user_id for b in lines]) if self.board_streaks else None
        if override is not None:  # a channel with a daily schedule shows scheduled-day streaks instead
            lines = [
                BoardLine(b.rank, b.user_id, b.name, b.points, b.rounds, override.get(b.user_id, 0)) for b in lines
            ]
        return lines[:limit] if limit else lines

    async def stats(self, where: ConversationRef, target: UserRef) -> Stats:
        conv = await self.conversation(where)
        person = await self._store.find_user(target.platform, target.user_id)
        if person is None:
            raise RoundError(Notice("stats.unknown_user", conv.lang, {"user": target.display_name or target.user_id}))
        ids = [conv.id] if not conv.is_dm else await self._workspace_ids(conv, person.id)
        results = await self._store.user_results(person.id, ids or [conv.id])
        tag_scores: dict[str, list[int]] = {}
        for qid, score, _at in results:
            question = self._bank.get(qid)
            for tag in question.tags if question else ():
                tag_scores.setdefault(tag, []).append(score)
        ranked = sorted(((sum(v) / len(v), t) for t, v in tag_scores.items()), reverse=True)
        # best and weakest never share a topic, and are named only when the topics' scores differ
        named = min(2, len(ranked) // 2) if ranked and ranked[0][0] > ranked[-1][0] else 0
        times = await self._store.user_reply_times(person.id, ids or [conv.id])
        current, longest = streaks(times, zone(conv.timezone), self._clock.now())
        average = round(sum(s for _q, s, _a in results) / len(results)) if results else 0
        return Stats(
            person.display_name or target.user_id,
            len(results),
            average,
            tuple(t for _s, t in ranked[:named]),
            tuple(t for _s, t in ranked[::-1][:named]),
            current,
            longest,
            conv.lang,
            scope="server" if conv.is_dm else "channel",
        )

    # -- settings -------------------------------------------------------------------------------

    async def set_lang(self, where: ConversationRef, lang: str) -> ConversationRow:
        conv = await self.conversation(where)
        return await self._store.update_conversation(conv.id, lang=lang)

    async def update_settings(self, where: ConversationRef, key: str, value: str, *, is_admin: bool) -> ConversationRow:
        """Change one channel setting (admins only); raises RoundError with the valid forms."""
        conv = await self.conversation(where)
        lang = conv.lang
        if not is_admin:
            raise RoundError(Notice("settings.not_allowed", lang, error=True))
        key = key.lower().replace("_", "-")
        try:
            column, parsed = _parse_setting(key, value)
        except ValueError as exc:
            raise RoundError(
                Notice("settings.bad_value", lang, {"key": key, "value": value, "valid": str(exc)}, error=True)
            ) from None
        return await self._store.update_conversation(conv.id, **{column: parsed})


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


SETTING_KEYS = {
    "answer-minutes": "answer_minutes",
    "reminders": "reminders",
    "reveal-mode": "reveal_mode",
    "auto-follow-up": "auto_follow_up",
    "timezone": "timezone",
    "lang": "lang",
}


def _parse_setting(key: str, value: str) -> tuple[str, object]:
    if key not in SETTING_KEYS:
        raise ValueError(", ".join(SETTING_KEYS))
    column = SETTING_KEYS[key]
    text = value.strip()
    if column == "answer_minutes":
        try:
            minutes = float(text)
        except ValueError:
            raise ValueError("a number of minutes from 0.5 to 1440, e.g. 5") from None
        if not 0.5 <= minutes <= 1440:
            raise ValueError("a number of minutes from 0.5 to 1440, e.g. 5")
        return column, minutes
    if column in ("reminders", "auto_follow_up"):
        if text.lower() not in ("on", "off"):
            raise ValueError("on, off")
        return column, int(text.lower() == "on")
    if column == "reveal_mode":
        if text.lower() not in REVEAL_MODES:
            raise ValueError(", ".join(REVEAL_MODES))
        return column, text.lower()
    if column == "lang":
        if text not in ("zh", "en"):
            raise ValueError("zh, en")
        return column, text
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA zone such as Asia/Shanghai or Europe/Berlin") from None
    return column, text


def _summary(reveal: RoundReveal) -> RoundReveal:
    return replace(reveal, summary=True)


__all__ = ["CALLER", "RoundError", "RoundService"]
