"""One-on-one drills: questions one after another, probes for missed key points, a report, reviews.

A drill is rows: the drill, its items (questions and probes, ordered by `position`)
and the answer parts a person sent for each item.  Every step is a transaction, so a
restart loses nothing and resumes from the rows and timers.  In memory there is a
per-person lock that keeps one person's messages in order and, under that lock, a copy
of the state the next `done` needs (see `_kept`): rebuilding it from the rows on every
answer cost more database time than storing the answer.

Scoring of a question with probes: the question's result is the first answer's
score plus half of what the probes recover: s0 + 0.5 · (100 − s0) · mean(probe)/100.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.engine.events import CALLER, Notice, NoticeError, Notify, Outgoing, Target, channel, dm
from bot.engine.reviews import RATING_NAMES, RATING_WORDS_ZH, ReviewScheduler, rating_for_score
from bot.engine.selection import Scope, questions_in, shuffled
from bot.engine.timers import TimerService
from bot.grading import Grade
from bot.grading.service import Grading
from bot.platforms.base import ConversationRef, UserRef
from bot.storage.store import (
    CardSave,
    DrillEnd,
    DrillItemRow,
    DrillRow,
    DrillState,
    ItemAsk,
    ItemClose,
    NewProbe,
    StepResult,
    Store,
    TimerRow,
    UserRow,
)
from question_bank.schema import Bank, KeyPoint, Localized, Question

log = logging.getLogger(__name__)

DONE_WORDS = frozenset({"done", "好了", "完成", "提交", "submit"})
MAX_REPLY_CHARS = 4000
IMPORTANT_WEIGHT = 2.0
KEPT_STATES = 20_000  # people whose drill state is kept between answers (about 5 KB each)


class DrillError(NoticeError):
    """A drill request that cannot be served; carries the Notice to show."""


@dataclass(frozen=True, slots=True)
class DrillOptions:
    count: int = 5
    scope: Scope = field(default_factory=Scope)
    minutes: float = 5.0
    lang: str = "zh"
    grading: str = "auto"  # or "self"
    on_timeout: str = "move_on"  # or "accept_late" (the terminal: the person is still typing)
    review_only: bool = False


@dataclass(frozen=True, slots=True)
class DrillQuestion:
    """Ask a question (or a probe) of the drill."""

    drill_id: int
    item_id: int
    question: Question
    index: int
    total: int
    deadline: datetime
    minutes: float
    lang: str
    probe_text: str | None = None


@dataclass(frozen=True, slots=True)
class DrillFeedback:
    """The result of one answer."""

    drill_id: int
    item_id: int
    question: Question
    grade: Grade | None
    late: bool
    lang: str
    needs_rating: bool = False
    # a follow-up on a missed point comes next: the missed points are not shown yet, or the follow-up
    # would ask about a point the candidate has just read (the report lists them at the end)
    follow_up_next: bool = False


@dataclass(frozen=True, slots=True)
class ReportLine:
    qid: str
    question: Question
    state: str
    score: int | None
    seconds: float | None
    late: bool
    probes: int
    covered: tuple[str, ...]
    missed: tuple[str, ...]
    self_rating: str | None


@dataclass(frozen=True, slots=True)
class DrillReport:
    drill_id: int
    number: int  # the person's own drill number, which they see and type (`report 3`)
    lang: str
    reason: str  # finished / stopped / expired / requested
    lines: tuple[ReportLine, ...]
    overall: int | None  # None when nothing has a score (a self-rated drill)
    answered: int
    by_tag: tuple[tuple[str, int], ...]
    strongest: tuple[str, ...]
    weakest: tuple[str, ...]
    reviews: tuple[tuple[str, datetime], ...]
    with_answers: bool = False
    planned: int = 0  # questions the drill was to ask; more than the lines when it was stopped or expired


@dataclass(frozen=True, slots=True)
class DrillStatus:
    drill_id: int
    number: int  # the person's own drill number
    position: int
    total: int
    qid: str
    seconds_left: float
    lang: str
    awaiting_rating: bool = False  # a self-graded answer waits for its rating: no clock runs


class DrillService:
    """The drill engine; adapters reach it through handlers, timers through `notify`."""

    KIND_DEADLINE = "drill.deadline"
    KIND_IDLE = "drill.idle"

    def __init__(
        self,
        *,
        store: Store,
        bank: Bank,
        grading: Grading,
        clock: Clock,
        timers: TimerService,
        reviews: ReviewScheduler,
        notify: Notify,
        idle: timedelta = timedelta(hours=24),
        max_probes: int = 2,
        default_lang: str = "zh",
    ) -> None:
        self._default_lang = default_lang  # for people who never chose a language
        self._store = store
        self._bank = bank
        self._grading = grading
        self._clock = clock
        self._timers = timers
        self._reviews = reviews
        self._notify = notify
        self._idle = idle
        self._max_probes = max_probes
        self._locks: dict[int, asyncio.Lock] = {}
        # user id -> the active drill's state as `Store.drill_state` would read it now.  Only answers,
        # submissions and the steps they take keep an entry up to date; every other path that holds
        # the person's lock drops it first, so a stale copy is never used.  Bounded: a dropped entry
        # only means one read.
        self._kept: dict[int, DrillState] = {}
        # Built probes by (question id, key point id): the same object every time, so the grader finds
        # its prepared data by identity instead of comparing whole questions field by field.
        self._probes: dict[tuple[str, str], Question] = {}
        timers.register(self.KIND_DEADLINE, self._on_deadline)
        timers.register(self.KIND_IDLE, self._on_idle)

    # -- helpers --------------------------------------------------------------------------------

    def _lock(self, user_id: int) -> asyncio.Lock:
        return self._locks.setdefault(user_id, asyncio.Lock())

    def _keep(self, state: DrillState) -> None:
        """Remember a person's drill state after a step (under their lock)."""
        kept = self._kept
        kept.pop(state.drill.user_id, None)
        kept[state.drill.user_id] = state
        if len(kept) > KEPT_STATES:
            kept.pop(next(iter(kept)))

    def _keep_asked(self, drill: DrillRow, items: Sequence[DrillItemRow], step: StepResult) -> None:
        """Remember the state after a step that asked a question afresh (nothing said for it yet)."""
        asked = step.asked
        if asked is not None:
            self._keep(DrillState(drill, tuple(asked if i.id == asked.id else i for i in items), asked, {}, step.card))

    def drop_state(self, user_id: int) -> None:
        """Forget the copy of a person's drill state (their rows are about to change another way)."""
        self._kept.pop(user_id, None)

    def kept_state(self, user_id: int) -> DrillState | None:
        """The copy the next submission would use, if any (for tests that check it against the rows)."""
        return self._kept.get(user_id)

    async def _state(self, user_id: int) -> DrillState | None:
        """The person's drill state: the copy kept by the last step, else read from the rows."""
        kept = self._kept.pop(user_id, None)
        return kept if kept is not None else await self._store.drill_state(user_id)

    async def _user(self, user: UserRef) -> UserRow:
        return await self._store.ensure_user(user.platform, user.user_id, user.display_name, self._clock.now())

    def _user_ref(self, row: UserRow) -> UserRef:
        return UserRef(row.platform, row.platform_user_id, row.display_name)

    def _question_for(self, item: DrillItemRow) -> Question:
        """The question to grade an item against (for a built probe, the probe on its key point)."""
        question = self._bank.get(item.question_id)
        if question is None:
            raise LookupError(item.question_id)
        if item.probe_key_point is None:
            return question
        key = (question.id, item.probe_key_point)
        probe = self._probes.get(key)
        if probe is None:
            probe = self._probes[key] = self._built_probe(question, item.probe_key_point)
        return probe

    def _built_probe(self, question: Question, key_point_id: str) -> Question:
        """A probe on one missed key point, asked the way an interviewer would (pure: memoised by the caller).

        The bank's probe of the point asks about it without stating it.  A bank without one falls back on
        the question's hint for its most important point (the hint may touch other points too) and
        otherwise names the point's topic.
        """
        kp = next(k for k in question.key_points if k.id == key_point_id)
        if kp.probe is not None:
            text = kp.probe
        elif question.hint.zh and key_point_id == self._first_important(question):
            text = Localized(
                zh=_fmt("drill.built_probe", "zh", hint=question.hint.zh),
                en=_fmt("drill.built_probe", "en", hint=question.hint.en),
            )
        else:
            text = Localized(
                zh=_fmt("drill.built_probe_topic", "zh", topic=_topic(kp, "zh")),
                en=_fmt("drill.built_probe_topic", "en", topic=_topic(kp, "en")),
            )
        return replace(
            question,
            id=f"{question.id}~{kp.id}",
            text=text,
            key_points=(kp,),
            follow_ups=(),
            parent=question.id,
            hint=Localized(zh=kp.text.zh, en=kp.text.en),
        )

    @staticmethod
    def _first_important(question: Question) -> str | None:
        ranked = sorted(question.key_points, key=lambda k: -k.weight)
        return ranked[0].id if ranked else None

    async def _root_items(self, drill_id: int) -> tuple[list[DrillItemRow], dict[int, list[DrillItemRow]]]:
        items = await self._store.drill_items(drill_id)
        roots = [i for i in items if i.parent_item_id is None]
        probes: dict[int, list[DrillItemRow]] = {}
        for item in items:
            if item.parent_item_id is not None:
                probes.setdefault(item.parent_item_id, []).append(item)
        return roots, probes

    def _home(self, drill: DrillRow, user: UserRef) -> Target:
        return dm(user)

    # -- starting -------------------------------------------------------------------------------

    async def start(self, user: UserRef, where: ConversationRef, options: DrillOptions) -> list[Outgoing]:
        """Start a drill; in a channel, say so there and continue in the person's DM."""
        if options.review_only and await self._store.find_user(user.platform, user.user_id) is None:
            # someone who never drilled has nothing to review: say so without recording them
            raise DrillError(Notice("drill.nothing_due_never", options.lang))
        row = await self._user(user)
        async with self._lock(row.id):
            self.drop_state(row.id)
            active = await self._store.active_drill(row.id)
            if active is not None:
                status = await self._status(active)
                raise DrillError(
                    Notice("drill.already_active", options.lang, {"position": status.position, "total": status.total})
                )
            now = self._clock.now()
            question_ids = await self._pick_questions(row.id, options, now)
            if not question_ids:
                if options.review_only:
                    cards = await self._store.cards(row.id)
                    if cards:
                        raise DrillError(Notice("drill.nothing_due", options.lang, {"next": cards[0][1]}))
                    raise DrillError(Notice("drill.nothing_due_never", options.lang))
                raise DrillError(Notice("error.empty_scope", options.lang, error=True))
            conversation_id = None
            if not where.is_dm:
                conv = await self._store.ensure_conversation(
                    where.platform,
                    where.workspace_id,
                    where.channel_id,
                    is_dm=False,
                    lang=options.lang,
                    answer_minutes=options.minutes,
                    now=now,
                )
                conversation_id = conv.id
            async with self._store.db.transaction() as conn:
                drill_id = await self._store.create_drill(
                    conn,
                    user_id=row.id,
                    conversation_id=conversation_id,
                    lang=options.lang,
                    minutes=options.minutes,
                    scope={**options.scope.as_dict(), "review": options.review_only},
                    grading=options.grading,
                    on_timeout=options.on_timeout,
                    question_ids=question_ids,
                    now=now,
                )
                await self._store.add_timer(conn, self.KIND_IDLE, drill_id, now + self._idle, now)
            drill = await self._store.get_drill(drill_id)
            assert drill is not None
            out: list[Outgoing] = []
            if not where.is_dm:
                out.append(
                    Outgoing(
                        Target("caller", private=True),
                        Notice("drill.started_in_channel", options.lang, {"name": user.display_name or user.user_id}),
                    )
                )
            out.extend(await self._ask_next(drill, self._user_ref(row)))
        self._timers.poke(now + self._idle)
        return out

    async def _pick_questions(self, user_id: int, options: DrillOptions, now: datetime) -> list[str]:
        """Due reviews first, then questions not yet seen, then the rest, within the scope."""
        in_scope = {q.id for q in questions_in(self._bank, options.scope)}
        due = [qid for qid, _due, _score in await self._store.due_cards(user_id, now) if qid in in_scope]
        if options.review_only:
            return due[: options.count]
        seen = await self._store.seen_question_ids(user_id)
        seed = f"{user_id}:{now.isoformat()}"
        fresh = shuffled(sorted(in_scope - seen - set(due)), seed)
        rest = shuffled(sorted((in_scope & seen) - set(due)), seed + ":seen")
        return (due + fresh + rest)[: options.count]

    async def _ask_next(
        self, drill: DrillRow, user: UserRef, items: list[DrillItemRow] | None = None
    ) -> list[Outgoing]:
        """Ask the next pending item, or finish the drill with its report."""
        items = items if items is not None else await self._store.drill_items(drill.id)
        item = next((i for i in items if i.state == "pending"), None)
        if item is None:
            return await self._finish(drill, "finished", "finished")
        return await self._ask(drill, item, user, items=items)

    async def _ask(
        self, drill: DrillRow, item: DrillItemRow, user: UserRef, *, minutes: float | None = None,
        items: list[DrillItemRow] | None = None, rearm: bool = False,
    ) -> list[Outgoing]:
        now = self._clock.now()
        minutes = minutes or drill.minutes
        deadline = now + timedelta(minutes=minutes)
        # The item and its deadline timer in one transaction (see Store.drill_step).
        step = await self._store.drill_step(
            ask=ItemAsk(now, deadline, self.KIND_DEADLINE, item_id=item.id, rearm=rearm)
        )
        self._timers.poke(deadline)
        items = items if items is not None else await self._store.drill_items(drill.id)
        if step is not None and not rearm:
            self._keep_asked(drill, items, step)
        return [self._question_event(drill, item, items, deadline, minutes, user)]

    def _question_event(
        self, drill: DrillRow, item: DrillItemRow, items: Sequence[DrillItemRow], deadline: datetime, minutes: float,
        user: UserRef,
    ) -> Outgoing:
        """The DrillQuestion for an item just asked: its place among the drill's questions, the probe text."""
        roots = [i for i in items if i.parent_item_id is None]
        root_id = item.parent_item_id or item.id
        index = next((n for n, r in enumerate(roots, start=1) if r.id == root_id), 1)
        question = self._question_for(item)
        probe_text = question.text.get(drill.lang) if item.parent_item_id is not None else None
        event = DrillQuestion(drill.id, item.id, question, index, len(roots), deadline, minutes, drill.lang,
                              probe_text=probe_text)
        return Outgoing(self._home(drill, user), event)

    # -- answering ------------------------------------------------------------------------------

    async def active(self, user: UserRef) -> DrillRow | None:
        row = await self._store.find_user(user.platform, user.user_id)
        return await self._store.active_drill(row.id) if row else None

    async def message(self, user: UserRef, text: str, *, event_id: str | None = None) -> list[Outgoing]:
        """A message from the person in their drill: part of the answer, or `done`."""
        if text.strip().lower() in DONE_WORDS:
            return await self.submit(user)
        row = await self._user(user)
        async with self._lock(row.id):
            if len(text) > MAX_REPLY_CHARS or not text.strip():
                found = await self._store.active_drill_with_item(row.id)
                if found is None:
                    raise DrillError(Notice("drill.none_active", row.lang or self._default_lang))
                if len(text) > MAX_REPLY_CHARS:
                    limits = {"length": len(text), "limit": MAX_REPLY_CHARS}
                    raise DrillError(Notice("error.too_long", found[0].lang, limits, True))
                raise DrillError(Notice("error.empty_reply", found[0].lang, error=True))
            # Stored (and committed) before this returns, so nothing acknowledged can be lost.
            now = self._clock.now()
            kept = self._kept.get(row.id)
            if kept is not None and kept.current is not None:
                # the item being asked is known: store the part for it if it is still asked
                asked = kept.current
                late = bool(asked.deadline_at and now > asked.deadline_at)
                stored = await self._store.add_answer_part(
                    item_id=asked.id, user_id=row.id, text=text, now=now, late=late, event_id=event_id
                )
                if stored is not None:
                    if stored:  # not a platform's retry of a message stored before
                        texts = {**kept.texts, asked.id: [*kept.texts.get(asked.id, ()), text]}
                        self._keep(DrillState(kept.drill, kept.items, asked, texts, kept.card))
                    return []
            self.drop_state(row.id)
            found = await self._store.add_drill_answer(user_id=row.id, text=text, now=now, event_id=event_id)
            if found is None:
                raise DrillError(Notice("drill.none_active", row.lang or self._default_lang))
            drill, item = found
            if item is None:  # paused after unanswered questions: any message brings it back
                now = self._clock.now()
                await self._store.autocommit(self._store.touch_drill, drill.id, now)
                drill = replace(drill, last_activity_at=now)
                return [
                    Outgoing(self._home(drill, self._user_ref(row)), Notice("drill.resumed", drill.lang)),
                    *await self._ask_next(drill, self._user_ref(row)),
                ]
        return []

    async def submit(self, user: UserRef) -> list[Outgoing]:
        """Grade what the person wrote for the current item and move on."""
        row = await self._user(user)
        async with self._lock(row.id):
            state = await self._state(row.id)
            if state is None:
                raise DrillError(Notice("drill.none_active", row.lang or self._default_lang))
            if state.current is None:
                return []
            parts = state.texts.get(state.current.id)
            if not parts:
                raise DrillError(Notice("drill.nothing_to_submit", state.drill.lang))
            return await self._close_answered(state, self._user_ref(row), "\n".join(parts))

    async def _close_answered(self, state: DrillState, user: UserRef, text: str) -> list[Outgoing]:
        """Grade the current item's answer, then close it and take the next step in one write."""
        drill, item = state.drill, state.current
        assert item is not None
        now = self._clock.now()
        late = bool(item.deadline_at and now > item.deadline_at)
        question = self._question_for(item)
        grade: Grade | None = None
        if drill.grading == "auto":
            grade = await self._grading.grade(question, text)
            if item.probe_key_point is not None:
                grade = probe_grade(grade)
        grade_json = grade.to_json() if grade else None
        score = grade.score if grade else None
        close = ItemClose(item.id, "answered", now, self.KIND_DEADLINE, late=late, score=score, grade=grade_json)
        feedback = DrillFeedback(
            drill.id, item.id, question, grade, late, drill.lang, needs_rating=drill.grading == "self"
        )
        if drill.grading == "self":  # wait for the rating before moving on
            stepped = await self._store.drill_step(close=close)
            return [Outgoing(self._home(drill, user), feedback)] if stepped is not None else []
        after = await self._after_item(state, item, close, user)
        if after is None:
            return []
        if any(isinstance(o.event, DrillQuestion) and o.event.probe_text is not None for o in after):
            feedback = replace(feedback, follow_up_next=True)
        return [Outgoing(self._home(drill, user), feedback), *after]

    async def rate(self, user: UserRef, rating: str) -> list[Outgoing]:
        """A self-rating (again/hard/good/easy) for the last answered item of a self-graded drill."""
        row = await self._user(user)
        rating = rating.strip().lower()
        rating = RATING_WORDS_ZH.get(rating, rating)
        if rating not in RATING_NAMES:
            raise DrillError(Notice("console.rate_invalid", row.lang or self._default_lang))
        async with self._lock(row.id):
            self.drop_state(row.id)
            drill = await self._store.active_drill(row.id)
            if drill is None:
                raise DrillError(Notice("drill.none_active", row.lang or self._default_lang))
            items = await self._store.drill_items(drill.id)
            waiting = [i for i in items if awaits_rating(i)]
            if not waiting:
                return []
            item = waiting[-1]
            now = self._clock.now()
            await self._store.set_item_rating(item.id, rating)
            async with self._store.db.transaction() as conn:
                await self._reviews.record(conn, row.id, item.question_id, RATING_NAMES[rating], now, None)
            return await self._ask_next(drill, self._user_ref(row))

    async def skip(self, user: UserRef) -> list[Outgoing]:
        """Skip the current item; recorded as skipped."""
        row = await self._user(user)
        async with self._lock(row.id):
            state = await self._state(row.id)
            if state is None:
                raise DrillError(Notice("drill.none_active", row.lang or self._default_lang))
            drill, item = state.drill, state.current
            if item is None:
                return []
            now = self._clock.now()
            close = ItemClose(item.id, "skipped", now, self.KIND_DEADLINE, touch_drill_id=drill.id)
            after = await self._after_item(state, item, close, self._user_ref(row))
            if after is None:
                return []
            # a skipped follow-up leaves its question's own answer standing: say which was skipped
            key = "drill.skipped_follow_up" if item.parent_item_id is not None else "drill.skipped"
            skipped = Notice(key, drill.lang, {"qid": item.question_id})
            return [Outgoing(self._home(drill, self._user_ref(row)), skipped), *after]

    async def _after_item(
        self, state: DrillState, item: DrillItemRow, close: ItemClose, user: UserRef
    ) -> list[Outgoing] | None:
        """Close the item and, in the same write, probe a missed key point or record the question's review
        and ask the next question (or end the drill).  None when the item was no longer being asked.

        `item` is the item being closed; it is taken as `close` leaves it (answered with its grade,
        skipped or unanswered), so the review card gets the score the report shows: a skipped question
        scores 0, and a probe skipped or left unanswered counts as 0 towards its question's score.
        """
        drill, now = state.drill, close.now
        if close.touch_drill_id is not None:
            drill = replace(drill, last_activity_at=now)
        item = _as_closed(item, close)
        items = [item if i.id == item.id else i for i in state.items]
        root_id = item.parent_item_id or item.id
        root = next(i for i in items if i.id == root_id)
        probes = [i for i in items if i.parent_item_id == root.id]
        if root.state == "answered" and drill.grading == "auto" and len(probes) < self._max_probes:
            probe = await self._plan_probe(drill, root, probes, state.texts)
            if probe is not None:
                deadline = now + timedelta(minutes=drill.minutes)
                asked = await self._store.drill_step(
                    close=close, ask=ItemAsk(now, deadline, self.KIND_DEADLINE, probe=probe)
                )
                if asked is None or asked.asked is None:
                    return None
                self._timers.poke(deadline)
                # the probe joins its question's family: what was said for it so far still counts
                family = tuple(sorted([*items, asked.asked], key=lambda i: i.position))
                self._keep(DrillState(drill, family, asked.asked, state.texts, state.card))
                return [self._question_event(drill, asked.asked, [*items, asked.asked], deadline, drill.minutes, user)]
        card: CardSave | None = None
        if drill.grading == "auto" or root.state != "answered":
            final = self._final_score(root, probes)
            card = self._review(state, root, final, now)
        following = next((i for i in items if i.state == "pending"), None)
        if following is None:
            ended = await self._store.drill_step(
                close=close, card=card, end=DrillEnd(drill.id, "finished", now, self.KIND_IDLE)
            )
            if ended is None:
                return None
            if not ended.ended:
                return []
            finished = replace(drill, state="finished", finished_at=now)
            return [Outgoing(dm(user), await self.build_report(finished, "finished"))]
        deadline = now + timedelta(minutes=drill.minutes)
        asked = await self._store.drill_step(
            close=close, card=card, ask=ItemAsk(now, deadline, self.KIND_DEADLINE, item_id=following.id)
        )
        if asked is None:
            return None
        self._timers.poke(deadline)
        self._keep_asked(drill, items, asked)
        return [self._question_event(drill, following, items, deadline, drill.minutes, user)]

    def _review(self, state: DrillState, root: DrillItemRow, score: int | None, now: datetime) -> CardSave:
        """The question's review card after this drill (state.card is the card of the current question)."""
        card_json = state.card[0] if state.card else None
        return self._reviews.review(
            card_json, state.drill.user_id, root.question_id, rating_for_score(score), now, score
        )

    @staticmethod
    def _absent(items: Sequence[DrillItemRow]) -> bool:
        """Two questions in a row went unanswered: the person is away, so stop posting until they return."""
        closed = [i for i in items if i.state not in ("pending", "asked")]
        return len(closed) >= 2 and all(i.state == "unanswered" for i in closed[-2:])

    async def _plan_probe(
        self, drill: DrillRow, root: DrillItemRow, probes: list[DrillItemRow], texts: dict[int, list[str]]
    ) -> NewProbe | None:
        """The follow-up to ask after an answer, if an important key point is still missing."""
        question = self._bank.get(root.question_id)
        if question is None or root.grade is None:
            return None
        if probes and probes[-1].state != "answered":
            return None
        if probes and _no_content(probes[-1]):
            return None  # "I still don't know" to a follow-up: a second one would only ask again
        missing = await self._missing_important(question, root, probes, texts)
        if not missing:
            return None
        probe_qid: str = question.id
        key_point: str | None = missing[0].id
        if not probes:
            inline = [
                f for f in question.follow_ups if (q := self._bank.get(f)) is not None and q.parent == question.id
            ]
            if inline:
                probe_qid, key_point = inline[0], None
        return NewProbe(drill.id, root.id, root.position + len(probes) + 1, probe_qid, key_point)

    async def _missing_important(
        self, question: Question, root: DrillItemRow, probes: list[DrillItemRow], texts: dict[int, list[str]]
    ) -> list[KeyPoint]:
        """Important key points still missing from everything said so far (answer and probes).

        After a probe the answer and the probes are graded together: a probe's answer may cover (or
        contradict) other points too, and grading the parts apart would not give the same statuses.
        """
        assert root.grade is not None
        missed = set(root.grade.get("missed", [])) | set(root.grade.get("contradicted", []))
        if probes:
            said = [text for item in (root, *probes) for text in texts.get(item.id, ())]
            combined = await self._grading.grade(question, "\n".join(said))
            missed = set(combined.missed) | set(combined.contradicted)
        asked = {p.probe_key_point for p in probes if p.probe_key_point}
        ranked = sorted(enumerate(question.key_points), key=lambda pair: (-pair[1].weight, pair[0]))
        return [k for _n, k in ranked if k.id in missed and k.id not in asked and k.weight >= IMPORTANT_WEIGHT]

    @staticmethod
    def _final_score(root: DrillItemRow, probes: Sequence[DrillItemRow]) -> int | None:
        if root.state != "answered" or root.score is None:
            return 0 if root.state in ("skipped", "unanswered") else None
        scored = [p.score or 0 for p in probes if p.state in ("answered", "skipped", "unanswered")]
        if not scored:
            return root.score
        recovered = 0.5 * (100 - root.score) * (sum(scored) / len(scored)) / 100
        return min(100, round(root.score + recovered))

    # -- timers ---------------------------------------------------------------------------------

    async def _on_deadline(self, timer: TimerRow) -> None:
        item = await self._store.get_item(timer.ref_id)
        if item is None or item.state != "asked":
            return
        drill = await self._store.get_drill(item.drill_id)
        if drill is None or drill.state != "active":
            return
        user_row = await self._store.get_user(drill.user_id)
        assert user_row is not None
        user = self._user_ref(user_row)
        async with self._lock(user_row.id):
            state = await self._state(user_row.id)
            if state is None or state.current is None or state.current.id != timer.ref_id:
                return
            drill, item = state.drill, state.current
            question = self._question_for(item)
            if drill.on_timeout == "accept_late":
                await self._notify([Outgoing(self._home(drill, user), Notice("drill.time_up_accept_late", drill.lang))])
                return
            parts = state.texts.get(item.id)
            if parts:  # what they wrote before the time ran out is their answer
                out = await self._close_answered(state, user, "\n".join(parts))
            else:
                now = self._clock.now()
                close = ItemClose(item.id, "unanswered", now, self.KIND_DEADLINE)
                moved_on = Outgoing(
                    self._home(drill, user), Notice("drill.time_up_moved_on", drill.lang, {"qid": question.id})
                )
                closed = _as_closed(item, close)
                if self._absent([closed if i.id == item.id else i for i in state.items]):
                    root = next(i for i in state.items if i.id == (item.parent_item_id or item.id))
                    if await self._store.drill_step(close=close, card=self._review(state, root, 0, now)) is None:
                        return
                    out = [moved_on, Outgoing(self._home(drill, user), Notice("drill.paused", drill.lang))]
                else:
                    after = await self._after_item(state, closed, close, user)
                    if after is None:
                        return
                    out = [moved_on, *after]
        await self._notify(out)

    async def _on_idle(self, timer: TimerRow) -> None:
        drill = await self._store.get_drill(timer.ref_id)
        if drill is None or drill.state != "active":
            return
        now = self._clock.now()
        latest = max(drill.last_activity_at, await self._store.last_activity(drill.id) or drill.last_activity_at)
        drill = replace(drill, last_activity_at=latest)
        if drill.last_activity_at + self._idle > now:
            async with self._store.db.transaction() as conn:
                await self._store.add_timer(conn, self.KIND_IDLE, drill.id, drill.last_activity_at + self._idle, now)
            return
        user_row = await self._store.get_user(drill.user_id)
        assert user_row is not None
        async with self._lock(user_row.id):
            self.drop_state(user_row.id)
            out = [Outgoing(dm(self._user_ref(user_row)), Notice("drill.expired", drill.lang))]
            out.extend(await self._finish(drill, "expired", "expired"))
        await self._notify(out)

    # -- ending and reporting -------------------------------------------------------------------

    async def stop(self, user: UserRef) -> list[Outgoing]:
        """End the drill now with a partial report."""
        row = await self._user(user)
        async with self._lock(row.id):
            self.drop_state(row.id)
            drill = await self._store.active_drill(row.id)
            if drill is None:
                raise DrillError(Notice("drill.none_active", row.lang or self._default_lang))
            return await self._finish(drill, "stopped", "stopped")

    async def _finish(self, drill: DrillRow, state: str, reason: str) -> list[Outgoing]:
        now = self._clock.now()
        card = await self._card_at_end(drill, now)
        async with self._store.db.transaction() as conn:
            current = await self._store.current_item(drill.id)
            if current is not None:
                await self._store.close_item(conn, current.id, state="unanswered", now=now)
                await self._store.cancel_timers(conn, self.KIND_DEADLINE, current.id)
            if not await self._store.finish_drill(conn, drill.id, state, now):
                return []
            if card is not None:
                await self._store.save_card(
                    conn, user_id=card.user_id, question_id=card.question_id, card_json=card.card_json,
                    due_at=card.due_at, reviewed_at=card.reviewed_at, score=card.score,
                )
            await self._store.cancel_timers(conn, self.KIND_IDLE, drill.id)
        finished = await self._store.get_drill(drill.id)
        assert finished is not None
        user_row = await self._store.get_user(drill.user_id)
        assert user_row is not None
        report = await self.build_report(finished, reason)
        return [Outgoing(dm(self._user_ref(user_row)), report)]

    async def _card_at_end(self, drill: DrillRow, now: datetime) -> CardSave | None:
        """The review card of the question being asked when a drill ends early (stopped or expired).

        Its item is closed as unanswered, and the question counts as the report shows it: 0 (Again) when
        it was never answered, else its score with the open probe counting 0.  A self-graded answer still
        waiting for its rating counts as Again.
        """
        state = await self._store.drill_state(drill.user_id)
        if state is None or state.drill.id != drill.id:
            return None
        if state.current is None:  # a self-graded answer never rated counts as Again, as an unanswered one
            waiting = [i for i in state.items if awaits_rating(i)]
            if not waiting:
                return None
            found = await self._store.get_card(drill.user_id, waiting[-1].question_id)
            return self._reviews.review(
                found[0] if found else None, drill.user_id, waiting[-1].question_id, rating_for_score(None), now, None
            )
        current = _as_closed(state.current, ItemClose(state.current.id, "unanswered", now, self.KIND_DEADLINE))
        items = [current if i.id == current.id else i for i in state.items]
        root = next(i for i in items if i.id == (current.parent_item_id or current.id))
        if drill.grading != "auto" and root.state == "answered":
            return None
        probes = [i for i in items if i.parent_item_id == root.id]
        return self._review(state, root, self._final_score(root, probes), now)

    async def withdraw(self, user: UserRef) -> None:
        """Drop a drill whose first question could not be delivered: nothing was asked, so no report."""
        row = await self._user(user)
        async with self._lock(row.id):
            self.drop_state(row.id)
            drill = await self._store.active_drill(row.id)
            if drill is not None:
                await self._store.delete_drill(drill.id)

    async def status(self, user: UserRef) -> DrillStatus:
        row = await self._store.find_user(user.platform, user.user_id)  # asking creates nobody
        if row is None:
            raise DrillError(Notice("drill.none_active", self._default_lang))
        drill = await self._store.active_drill(row.id)
        if drill is None:
            raise DrillError(Notice("drill.none_active", row.lang or self._default_lang))
        return await self._status(drill)

    async def _status(self, drill: DrillRow) -> DrillStatus:
        roots, _ = await self._root_items(drill.id)
        current = await self._store.current_item(drill.id)
        position = sum(1 for r in roots if r.state != "pending") or 1
        qid = current.question_id if current else (roots[min(position, len(roots)) - 1].question_id if roots else "")
        left = 0.0
        if current and current.deadline_at:
            left = max(0.0, (current.deadline_at - self._clock.now()).total_seconds())
        rating = current is None and drill.grading == "self" and any(awaits_rating(r) for r in roots)
        return DrillStatus(drill.id, drill.number, position, len(roots), qid, left, drill.lang, awaiting_rating=rating)

    async def report(self, user: UserRef, number: int | None = None, *, with_answers: bool = False) -> DrillReport:
        """A finished drill's report again: the person's drill `number` (their own numbering), else the latest."""
        row = await self._store.find_user(user.platform, user.user_id)  # asking creates nobody
        if row is None:
            raise DrillError(Notice("report.none", self._default_lang))
        lang = row.lang or self._default_lang
        if number is None:
            drill = await self._store.latest_drill(row.id, ("finished", "stopped", "expired"))
            if drill is None:
                raise DrillError(Notice("report.none", lang))
        else:
            drill = await self._store.drill_numbered(row.id, number)
            if drill is None:
                raise DrillError(Notice("report.not_found", lang, {"drill": number}, True))
        return await self.build_report(drill, "requested", with_answers=with_answers)

    async def build_report(self, drill: DrillRow, reason: str, *, with_answers: bool = False) -> DrillReport:
        roots, probes = await self._root_items(drill.id)
        lines: list[ReportLine] = []
        tag_scores: dict[str, list[int]] = {}
        for root in roots:
            question = self._bank.get(root.question_id)
            if question is None:
                continue
            if root.state == "pending" and reason != "finished":
                continue
            own_probes = probes.get(root.id, [])
            final = self._final_score(root, own_probes)
            # time taken is for answers: a question left unanswered when the drill stopped took no time to answer
            seconds = (
                (root.answered_at - root.asked_at).total_seconds()
                if root.state == "answered" and root.answered_at and root.asked_at
                else None
            )
            grade = root.grade or {}
            # a follow-up on a missed key point that the person then covered counts for the question, as
            # its score does: the point is listed as covered, not missed
            recovered = [
                kp
                for probe in own_probes
                if probe.question_id == root.question_id and probe.grade
                for kp in (*probe.grade.get("covered", []), *probe.grade.get("partial", []))
            ]
            covered = tuple(dict.fromkeys([*grade.get("covered", []), *grade.get("partial", []), *recovered]))
            missed = tuple(
                kp for kp in (*grade.get("missed", []), *grade.get("contradicted", [])) if kp not in recovered
            )
            lines.append(
                ReportLine(
                    question.id,
                    question,
                    root.state,
                    final,
                    seconds,
                    root.late,
                    len(own_probes),
                    covered,
                    missed,
                    root.self_rating,
                )
            )
            if final is not None and drill.grading == "auto":
                for tag in question.tags:
                    tag_scores.setdefault(tag, []).append(final)
        # a self-rated drill has ratings, not scores: the 0 of a skipped question is no average of anything
        scored = [line.score for line in lines if line.score is not None and drill.grading == "auto"]
        overall = round(sum(scored) / len(scored)) if scored else None
        by_tag = tuple(
            sorted(((t, round(sum(v) / len(v))) for t, v in tag_scores.items()), key=lambda x: (-x[1], x[0]))
        )
        strongest, weakest = strongest_and_weakest(by_tag)
        cards = {qid: due for qid, due, _s, _r in await self._store.cards(drill.user_id)}
        reviews = tuple(
            sorted(((line.qid, cards[line.qid]) for line in lines if line.qid in cards), key=lambda x: x[1])
        )
        answered = sum(1 for line in lines if line.state == "answered")
        return DrillReport(
            drill.id,
            drill.number,
            drill.lang,
            reason,
            tuple(lines),
            overall,
            answered,
            by_tag,
            strongest,
            weakest,
            reviews,
            with_answers,
            len(roots),
        )

    async def resume(self, user: UserRef, *, minutes: float | None = None) -> list[Outgoing]:
        """Re-ask the current item of an unfinished drill with a fresh time limit (terminal --resume).

        `minutes` (when given) becomes the drill's time limit from now on; else it keeps its own."""
        row = await self._user(user)
        async with self._lock(row.id):
            self.drop_state(row.id)
            drill = await self._store.active_drill(row.id)
            if drill is None:
                raise DrillError(Notice("console.no_resume", row.lang or self._default_lang))
            if minutes is not None and minutes != drill.minutes:
                await self._store.set_drill_minutes(drill.id, minutes)
                drill = replace(drill, minutes=minutes)
            current = await self._store.current_item(drill.id)
            if current is None:
                items = await self._store.drill_items(drill.id) if drill.grading == "self" else []
                waiting = [i for i in items if awaits_rating(i)]
                if waiting:  # a self-graded answer left before its rating: show its reference again, ask for it
                    item = waiting[-1]
                    feedback = DrillFeedback(
                        drill.id, item.id, self._question_for(item), None, item.late, drill.lang, needs_rating=True
                    )
                    return [Outgoing(self._home(drill, self._user_ref(row)), feedback)]
                return await self._ask_next(drill, self._user_ref(row))
            return await self._ask(drill, current, self._user_ref(row), minutes=minutes, rearm=True)



def _no_content(item: DrillItemRow) -> bool:
    """An answer the grader found empty or too short to say anything ("不知道", "no idea")."""
    flags = (item.grade or {}).get("flags") or ()
    return "empty" in flags or "too_short" in flags

def awaits_rating(item: DrillItemRow) -> bool:
    """An answer of a self-graded drill that has no rating yet (the drill waits for it)."""
    return item.state == "answered" and item.self_rating is None and item.score is None


def _as_closed(item: DrillItemRow, close: ItemClose) -> DrillItemRow:
    """The item exactly as `close` leaves its row (so that the state kept in memory matches the rows).

    Built field by field: `dataclasses.replace` inspects the fields on every call and showed up in
    profiles of the answer path."""
    return DrillItemRow(
        item.id, item.drill_id, item.position, item.question_id, item.parent_item_id, item.probe_key_point,
        close.state, item.asked_at, item.deadline_at, close.now, close.late, close.score, None, close.grade,
    )


STRONG_TOPIC_SCORE = 50  # a topic below this is nobody's strength, even if it is the best of the drill


def strongest_and_weakest(by_tag: tuple[tuple[str, int], ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Up to two best and two worst topics, only when topics actually differ in score; the best are named
    strongest only when they reach `STRONG_TOPIC_SCORE` (a report does not praise 2/100)."""
    scores = {score for _tag, score in by_tag}
    if len(scores) < 2:
        return (), ()
    top, bottom = max(scores), min(scores)
    strongest = tuple(tag for tag, score in by_tag if score == top)[:2] if top >= STRONG_TOPIC_SCORE else ()
    weakest = tuple(tag for tag, score in sorted(by_tag, key=lambda x: (x[1], x[0])) if score == bottom)[:2]
    return strongest, weakest


# Flags that mark a reply as gamed or beside the point: its capped score stands.
_GAMED = frozenset({"keyword_list", "copied_question", "off_topic", "empty"})


def probe_grade(grade: Grade) -> Grade:
    """A follow-up on one key point is answered by making that point: its score is at least the point's
    credit (100 when covered).  The grader's score also weighs similarity to a reference text, which a
    short, correct reply to a narrow question ("2048, four times d_model") cannot reach, so "1 of 1 key
    points covered" would otherwise show 83/100.  Gamed replies keep their capped score."""
    if not grade.key_points or not _GAMED.isdisjoint(grade.flags):
        return grade
    credit = grade.key_points[0].credit if grade.key_points[0].status in ("covered", "partial") else 0.0
    floor = round(100 * credit)
    return replace(grade, score=floor) if floor > grade.score else grade


def _fmt(key: str, lang: str, **params: str) -> str:
    from bot.i18n import t

    return t(key, lang, **params)


def _topic(kp: KeyPoint, lang: str) -> str:
    aliases = kp.aliases_zh if lang == "zh" else kp.aliases_en
    plain = [a for a in aliases if "&" not in a]
    return (plain or list(aliases) or [kp.id])[0]


__all__ = [
    "CALLER",
    "DONE_WORDS",
    "DrillError",
    "DrillFeedback",
    "DrillOptions",
    "DrillQuestion",
    "DrillReport",
    "DrillService",
    "DrillStatus",
    "ReportLine",
    "awaits_rating",
    "channel",
]
