"""The daily question: per-channel schedules in local time that survive restarts and DST, with streaks.

Each schedule has one durable timer row (kind `schedule.fire`, ref = schedule id) at its
next fire time, so the one timer dispatcher serves every schedule.  Firing a schedule:

1. A fire for a local day already posted (`last_posted_date`), or later than the grace
   window (downtime), is skipped and logged (after days of downtime, a later day whose
   time passed within the window is posted instead); a paused schedule has no timer.
2. Otherwise the round opens through RoundService.open_many (scheduled, the reveal window,
   the scope, optionally rising difficulty).  One transaction then records the posted day,
   links the round to it (`scheduled_rounds`, the basis of streaks), adds the
   `--remind-before` reminder (a `round.remind` timer) and arms the next fire time.
3. The question is posted.  If anything fails the timer is retried: a round opened but not
   recorded is adopted, a recorded one is posted only if it never was, so a day is never
   posted twice.  If another round is open in the channel the day is skipped and logged.

Fire timers due together are fired as one batch (the dispatcher hands them over a few
hundred at a time), and a single timer is a batch of one, so there is one implementation:
step 2 is one transaction to open every round of the batch and one to record them all,
whatever the batch size; step 3 posts the batch's questions concurrently (one per channel,
so each channel's order is kept), and a failed post fails only its own timer.  Work that
cannot be told apart per schedule (a transaction failing) fails the whole batch, and each
timer is retried as above.

Streaks count consecutive scheduled days a person answered: a scheduled day without
their reply breaks it, days without a scheduled round do not, and today's open round
does not break it before it closes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock, from_iso, to_iso
from bot.engine.calendar import next_fire, next_local
from bot.engine.events import Notice, Outgoing, PostEach, Target, channel
from bot.engine.rounds import RoundError, RoundQuestion, RoundRequest, RoundService, Stats
from bot.engine.selection import Scope
from bot.engine.timers import TimerService
from bot.platforms.base import ConversationRef, UserRef
from bot.storage.store import (
    ConversationRow,
    NewTimer,
    ScheduledRound,
    ScheduleQueries,
    ScheduleRow,
    Store,
    TimerRow,
)
from question_bank.schema import Bank

if TYPE_CHECKING:
    import aiosqlite

log = logging.getLogger(__name__)

DEFAULT_REVEAL_AFTER = timedelta(hours=8)
RISING = (1, 1, 2, 2, 3, 2, 2)  # preferred difficulty Monday..Sunday when a schedule rises across the week
REVEAL_MARGIN = timedelta(minutes=1)  # a round closes at least this long before the next day's question


class ScheduleError(RoundError):
    """A schedule request that cannot be served; carries the Notice to show the caller."""


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """What `schedule daily|weekdays ...` asks for, already parsed."""

    days: str  # daily / weekdays
    at: time
    timezone: str | None = None  # None: the channel's zone
    section: int | None = None
    tag: str | None = None
    rising: bool = False
    reveal_after: timedelta | None = None
    reveal_at: time | None = None
    remind_before: timedelta | None = None


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A channel's schedule, for `schedule show` and as the answer to a change."""

    days: str
    at: str
    timezone: str
    section: int | None
    tag: str | None
    rising: bool
    reveal_after_minutes: float | None
    reveal_at: str | None
    remind_before_minutes: float | None
    state: str
    next_fire_at: datetime | None
    lang: str
    change: str = "show"  # show / set / paused / resumed


class ScheduleService:
    """Schedules, their firing through the shared timer dispatcher, and scheduled-day streaks."""

    KIND_FIRE = "schedule.fire"

    def __init__(
        self, *, store: Store, bank: Bank, clock: Clock, timers: TimerService, rounds: RoundService,
        post_each: PostEach, grace: timedelta = timedelta(hours=2),
    ) -> None:
        self._store = store
        self._q = ScheduleQueries(store)
        self._bank = bank
        self._clock = clock
        self._timers = timers
        self._rounds = rounds
        self._grace = grace
        self._post_each = post_each
        timers.register_batch(self.KIND_FIRE, self._on_fire_batch)

    # -- commands -------------------------------------------------------------------------------

    async def set(self, user: UserRef, where: ConversationRef, spec: ScheduleSpec, *, is_admin: bool) -> ScheduleInfo:
        """Create or replace the channel's schedule and arm its next fire time."""
        conv = await self._admin_conv(where, is_admin)
        tz_name = spec.timezone or conv.timezone or "UTC"
        tz = _zone(tz_name, conv.lang)
        if spec.reveal_at is not None and spec.reveal_at == spec.at:
            raise ScheduleError(Notice("schedule.reveal_at_same", conv.lang, {"at": _hhmm(spec.at)}, error=True))
        person = await self._store.ensure_user(user.platform, user.user_id, user.display_name, self._clock.now())
        reveal_after = None if spec.reveal_at is not None else (spec.reveal_after or DEFAULT_REVEAL_AFTER)
        settings: dict[str, object] = {
            "days": spec.days, "at": _hhmm(spec.at), "timezone": tz_name, "section": spec.section, "tag": spec.tag,
            "rising": int(spec.rising),
            "reveal_after_minutes": reveal_after.total_seconds() / 60 if reveal_after else None,
            "reveal_at": _hhmm(spec.reveal_at) if spec.reveal_at else None,
            "remind_before_minutes": spec.remind_before.total_seconds() / 60 if spec.remind_before else None,
        }
        now = self._clock.now()
        previous = await self._q.for_conversation(conv.id)
        async with self._store.db.transaction() as conn:
            schedule_id = await self._q.upsert(conn, conversation_id=conv.id, settings=settings, created_by=person.id,
                                               now=now)
            if previous is not None:
                await self._store.cancel_timers(conn, self.KIND_FIRE, previous.id)
            when = await self._arm(conn, schedule_id, now, previous.last_posted_date if previous else None,
                                   spec.days, spec.at, tz)
        self._timers.poke()
        log.info("schedule set conversation=%s days=%s at=%s tz=%s next=%s", conv.id, spec.days, settings["at"],
                 tz_name, to_iso(when))
        return await self._info(conv, "set")

    async def show(self, where: ConversationRef, *, is_admin: bool) -> ScheduleInfo:
        conv = await self._admin_conv(where, is_admin)
        return await self._info(conv, "show")

    async def pause(self, where: ConversationRef, *, is_admin: bool) -> ScheduleInfo:
        """Stop firing until `resume`; the settings are kept."""
        conv = await self._admin_conv(where, is_admin)
        sched = await self._require(conv)
        async with self._store.db.transaction() as conn:
            await self._store.cancel_timers(conn, self.KIND_FIRE, sched.id)
            await self._q.set_state(conn, sched.id, state="paused", next_fire_at=None, now=self._clock.now())
        log.info("schedule paused conversation=%s", conv.id)
        return await self._info(conv, "paused")

    async def resume(self, where: ConversationRef, *, is_admin: bool) -> ScheduleInfo:
        """Fire again, from the next fire time after now (a time missed while paused is not made up)."""
        conv = await self._admin_conv(where, is_admin)
        sched = await self._require(conv)
        now = self._clock.now()
        async with self._store.db.transaction() as conn:
            await self._store.cancel_timers(conn, self.KIND_FIRE, sched.id)
            await self._q.set_state(conn, sched.id, state="active", next_fire_at=None, now=now)
            await self._arm(conn, sched.id, now, sched.last_posted_date, sched.days, _parse_time(sched.at),
                            _zone(sched.timezone, conv.lang))
        self._timers.poke()
        log.info("schedule resumed conversation=%s", conv.id)
        return await self._info(conv, "resumed")

    async def off(self, where: ConversationRef, *, is_admin: bool) -> Notice:
        """Delete the channel's schedule; past scheduled rounds stay for streaks and leaderboards."""
        conv = await self._admin_conv(where, is_admin)
        sched = await self._require(conv)
        async with self._store.db.transaction() as conn:
            await self._store.cancel_timers(conn, self.KIND_FIRE, sched.id)
            await self._q.delete(conn, sched.id)
        log.info("schedule off conversation=%s", conv.id)
        return Notice("schedule.off", conv.lang)

    async def _admin_conv(self, where: ConversationRef, is_admin: bool) -> ConversationRow:
        conv = await self._rounds.conversation(where)
        if where.is_dm:
            raise ScheduleError(Notice("error.channel_only", conv.lang, error=True))
        if not is_admin:
            raise ScheduleError(Notice("schedule.not_allowed", conv.lang, error=True))
        return conv

    async def _require(self, conv: ConversationRow) -> ScheduleRow:
        sched = await self._q.for_conversation(conv.id)
        if sched is None:
            raise ScheduleError(Notice("schedule.none", conv.lang))
        return sched

    async def _info(self, conv: ConversationRow, change: str) -> ScheduleInfo:
        s = await self._require(conv)
        return ScheduleInfo(s.days, s.at, s.timezone, s.section, s.tag, s.rising, s.reveal_after_minutes, s.reveal_at,
                            s.remind_before_minutes, s.state, s.next_fire_at, conv.lang, change)

    async def _arm(
        self, conn: aiosqlite.Connection, schedule_id: int, after: datetime, posted: str | None, days: str, at: time,
        tz: ZoneInfo,
    ) -> datetime:
        """Store the next fire time after `after` (skipping a day already posted) and add its timer."""
        when, day = next_fire(after, at, tz, weekdays_only=days == "weekdays")
        if posted is not None and day.isoformat() == posted:
            when, day = next_fire(when, at, tz, weekdays_only=days == "weekdays")
        await self._q.set_next(conn, schedule_id, when)
        await self._store.add_timer(conn, self.KIND_FIRE, schedule_id, when, self._clock.now(),
                                    {"date": day.isoformat(), "due": to_iso(when)})
        return when

    # -- firing ---------------------------------------------------------------------------------

    async def _on_fire(self, timer: TimerRow) -> None:
        """One schedule's fire timer: the batch path with a batch of one; raises what failed."""
        (outcome,) = await self._on_fire_batch([timer])
        if outcome is not None:
            raise outcome

    async def _on_fire_batch(self, timers: Sequence[TimerRow]) -> list[BaseException | None]:
        """Schedules' times came (or retries of them): each posts once for its day, or skips and logs; re-arm.

        One timer per schedule.  The outcome of each timer is None, or what failed for it alone
        (a post the platform refused), so that only that timer is retried.
        """
        now = self._clock.now()
        outcomes: list[BaseException | None] = [None] * len(timers)
        scheds = await self._q.get_many([t.ref_id for t in timers])
        fires: list[_Fire] = []
        reposts: list[tuple[int, ScheduleRow, str]] = []
        for index, timer in enumerate(timers):
            sched = scheds.get(timer.ref_id)
            if sched is None:
                continue
            date = str(timer.payload.get("date", ""))
            try:
                due = from_iso(str(timer.payload["due"])) if "due" in timer.payload else timer.due_at
                if sched.next_fire_at == due and sched.state == "active":
                    fires.append(self._plan(index, sched, date, due, now))
                elif sched.last_posted_date == date:  # a retry: the day's round is open, its question may not be out
                    reposts.append((index, sched, date))
            except Exception as exc:  # one schedule's bad data (a zone gone from tzdata) fails only its timer
                outcomes[index] = exc
        posts = await self._fire(fires, now) if fires else []
        for index, sched, date in reposts:
            event = await self._repost(sched, date)
            if event is not None:
                posts.append((index, event))
        if posts:  # one per channel: each schedule posts in its own channel
            posted = await self._post_each([out for _index, out in posts])
            for (index, _out), failure in zip(posts, posted, strict=True):
                outcomes[index] = failure
        return outcomes

    def _plan(self, index: int, sched: ScheduleRow, date: str, due: datetime, now: datetime) -> _Fire:
        """Decide a fire without touching anything: the day to post (None: skip, logged) and the next fire time."""
        tz = ZoneInfo(sched.timezone)
        at = _parse_time(sched.at)
        weekdays = sched.days == "weekdays"
        fired_for = due
        day: str | None = date
        if sched.last_posted_date == date:
            log.warning("schedule skipped: already posted schedule=%s conversation=%s date=%s", sched.id,
                        sched.conversation_id, date)
            day = None
        elif now - due > self._grace:
            log.warning("schedule skipped: fired %.0f min late, beyond the %.0f min grace window schedule=%s "
                        "conversation=%s date=%s", (now - due).total_seconds() / 60, self._grace.total_seconds() / 60,
                        sched.id, sched.conversation_id, date)
            day = None
            # After days of downtime, a later day whose time passed within the grace window is still posted.
            recent, recent_day = next_fire(now - self._grace - timedelta(microseconds=1), at, tz,
                                           weekdays_only=weekdays)
            if recent <= now and recent_day.isoformat() != sched.last_posted_date:
                day, due = recent_day.isoformat(), recent
        when, next_day = next_fire(max(now, due), at, tz, weekdays_only=weekdays)
        return _Fire(index, sched, fired_for, day, due, tz, when, next_day.isoformat())

    async def _fire(self, fires: list[_Fire], now: datetime) -> list[tuple[int, Outgoing]]:
        """Open the rounds of the days to post, record them and arm the next fire times; the questions to post."""
        convs = await self._store.get_conversations([f.sched.conversation_id for f in fires])
        opening = [(f, convs[f.sched.conversation_id]) for f in fires if f.day and f.sched.conversation_id in convs]
        requests: list[RoundRequest] = []
        for f, conv in opening:
            assert f.day is not None
            deadline = self._deadline(f.sched, now, f.tz, f.when)
            rising = RISING[datetime.fromisoformat(f.day).weekday()] if f.sched.rising else None
            requests.append(RoundRequest(conv, scope=Scope(f.sched.section, f.sched.tag, rising),
                                         minutes=(deadline - now).total_seconds() / 60, scheduled=True))
        results = await self._rounds.open_many(requests) if requests else []
        posted: list[tuple[_Fire, ConversationRow, RoundQuestion]] = []
        for (f, conv), result in zip(opening, results, strict=True):
            if isinstance(result, RoundQuestion):
                posted.append((f, conv, result))
                continue
            orphan = await self._orphan(conv, f.due)
            if orphan is not None:  # opened by an earlier attempt that failed before it was recorded
                posted.append((f, conv, orphan))
            else:
                log.warning("schedule skipped: %s schedule=%s conversation=%s date=%s", result.notice.key,
                            f.sched.id, conv.id, f.day)
        reminders: list[NewTimer] = []
        for f, _conv, event in posted:
            if f.sched.remind_before_minutes:
                remind_at = event.deadline - timedelta(minutes=f.sched.remind_before_minutes)
                if remind_at > now:
                    reminders.append(NewTimer(RoundService.KIND_REMIND, event.round_id, remind_at, {"at": "schedule"}))
        async with self._store.db.transaction() as conn:
            moved = await self._q.advance(conn, [(f.sched.id, f.fired_for, f.when) for f in fires])
            await self._store.add_timers(conn, [
                NewTimer(self.KIND_FIRE, f.sched.id, f.when, {"date": f.next_day, "due": to_iso(f.when)})
                for f in fires if f.sched.id in moved], now)
            if posted:
                await self._q.mark_posted(conn, [(f.sched.id, f.day) for f, _conv, _event in posted if f.day])
                await self._q.add_scheduled_round(conn, [ScheduledRound(event.round_id, conv.id, f.day)
                                                         for f, conv, event in posted if f.day])
            if reminders:  # the schedule's one reminder replaces the round's default ones
                await self._store.cancel_timers_of(conn, RoundService.KIND_REMIND, [r.ref_id for r in reminders])
                await self._store.add_timers(conn, reminders, now)
        self._timers.poke()
        for f, conv, event in posted:
            log.info("schedule posted schedule=%s conversation=%s date=%s round=%s late=%.1fs", f.sched.id, conv.id,
                     f.day, event.round_id, (now - f.due).total_seconds())
        return [(f.index, Outgoing(_channel(conv), event)) for f, conv, event in posted]

    async def _orphan(self, conv: ConversationRow, due: datetime) -> RoundQuestion | None:
        """The open round an earlier attempt of this fire opened but did not record or post, if any."""
        current = await self._store.open_round(conv.id)
        if (current is None or current.asked_by is not None or current.parent_round_id is not None
                or current.message_ref is not None or current.opened_at < due):
            return None
        return await self._event_for(conv, current.id)

    async def _repost(self, sched: ScheduleRow, date: str) -> Outgoing | None:
        """After a failed post: the day's question to post again if its round is still open and was never posted."""
        round_id = await self._q.round_on(sched.conversation_id, date)
        conv = await self._store.get_conversation(sched.conversation_id)
        current = await self._store.get_round(round_id) if round_id is not None else None
        if conv is None or current is None or current.state != "open" or current.message_ref is not None:
            return None
        event = await self._event_for(conv, current.id)
        if event is None:
            return None
        log.info("schedule re-posting the question schedule=%s round=%s", sched.id, current.id)
        return Outgoing(_channel(conv), event)

    async def _event_for(self, conv: ConversationRow, round_id: int) -> RoundQuestion | None:
        current = await self._store.get_round(round_id)
        question = self._bank.get(current.question_id) if current is not None else None
        if current is None or question is None:
            return None
        minutes = (current.deadline_at - current.opened_at).total_seconds() / 60
        return RoundQuestion(current.id, question, current.deadline_at, minutes, conv.lang, "",
                             await self._q.first_of_cycle(current.id), None, True)

    def _deadline(self, sched: ScheduleRow, now: datetime, tz: ZoneInfo, next_at: datetime) -> datetime:
        """The reveal time: after the window, or at the next local --reveal-at, before the next day's question."""
        if sched.reveal_at:
            deadline = next_local(now, _parse_time(sched.reveal_at), tz)
        else:
            deadline = now + timedelta(minutes=sched.reveal_after_minutes or DEFAULT_REVEAL_AFTER.total_seconds() / 60)
        latest = next_at - REVEAL_MARGIN
        return min(deadline, latest) if latest > now else deadline

    # -- streaks --------------------------------------------------------------------------------

    async def streaks(self, conversation_id: int, user_ids: list[int]) -> dict[int, tuple[int, int]]:
        """(current, longest) scheduled-day streak of each person in a conversation."""
        days = await self._q.days(conversation_id)
        answered = await self._q.answered(conversation_id, user_ids)
        out: dict[int, tuple[int, int]] = {}
        for user_id in user_ids:
            run = longest = 0
            for index, (round_id, _date, state) in enumerate(days):
                if (round_id, user_id) in answered:
                    run += 1
                    longest = max(longest, run)
                elif not (state == "open" and index == len(days) - 1):
                    run = 0  # a scheduled day they missed; today's open round does not count yet
            out[user_id] = (run, longest)
        return out

    async def board_streaks(self, conversation_id: int, user_ids: list[int]) -> dict[int, int] | None:
        """Current scheduled streaks for the leaderboard, or None when the channel has no schedule."""
        if not await self._q.exists_for(conversation_id):
            return None
        return {user_id: current for user_id, (current, _longest) in
                (await self.streaks(conversation_id, user_ids)).items()}

    async def with_streaks(self, stats: Stats, where: ConversationRef, target: UserRef) -> Stats:
        """The stats with the person's current and longest scheduled-day streak in this channel."""
        conv = await self._rounds.conversation(where)
        person = await self._store.find_user(target.platform, target.user_id)
        if person is None:
            return stats
        current, longest = (await self.streaks(conv.id, [person.id]))[person.id]
        return replace(stats, scheduled_streak=current, scheduled_longest=longest)


@dataclass(frozen=True, slots=True)
class _Fire:
    """One schedule's fire, decided before anything is written."""

    index: int  # of its timer in the batch
    sched: ScheduleRow
    fired_for: datetime  # the fire time the schedule was armed for
    day: str | None  # the local day to post; None: skipped
    due: datetime  # that day's fire time
    tz: ZoneInfo
    when: datetime  # the next fire time
    next_day: str  # its local day


def _hhmm(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def _parse_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _zone(name: str, lang: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(Notice("schedule.bad_zone", lang, {"zone": name}, error=True)) from None


def _where(conv: ConversationRow) -> ConversationRef:
    return ConversationRef(conv.platform, conv.workspace_id, conv.channel_id, conv.is_dm)


def _channel(conv: ConversationRow) -> Target:
    return channel(_where(conv))
