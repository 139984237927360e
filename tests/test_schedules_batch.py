"""Daily questions due at the same instant fire as one batch: same results as one at a time, failures kept apart.

Real SQLite files, the real bank and services, FakeClock.  The reference is the same engine
with `timers.batch_size = 1`, which hands every fire timer to the batch path alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.engine.events import Outgoing
from bot.engine.events import channel as to_channel
from bot.engine.rounds import RoundError, RoundQuestion, RoundRequest
from bot.platforms.base import ConversationRef, MessageRef, Reply
from bot.storage.store import RoundRow
from handlers.router import Router
from question_bank.schema import Bank
from tests.fakes.messenger import RecordingMessenger, Sent
from tests.helpers import Apps, command, text_of


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# 2026-03-08 07:00 UTC, the morning New York springs forward: every schedule below is first due then.
DUE = utc(2026, 3, 8, 7)
SCHEDULES = {
    "NY1": "daily 02:30 America/New_York --section 3",  # inside the gap: moves to 03:00 EDT
    "NY2": "daily 03:00 America/New_York --rising",
    "UTC": "daily 07:00 UTC --remind-before 1h --reveal-after 2h",
    "LON": "daily 07:00 Europe/London --section 3",
    "BER": "daily 08:00 Europe/Berlin",
    "SHA": "weekdays 15:00 Asia/Shanghai",  # a Sunday: first due on Monday
    "KOL": "daily 12:30 Asia/Kolkata --reveal-at 20:00",
    "KTM": "daily 12:45 Asia/Kathmandu --section 3",
    "CHT": "daily 20:45 Pacific/Chatham",
    "LAX": "daily 23:00 America/Los_Angeles --rising",  # still Saturday there
    "SYD": "daily 18:00 Australia/Sydney --section 3 --remind-before 30m",
    "NFL": "daily 04:30 America/St_Johns --section 3",  # Newfoundland sprang forward two hours ago
}
RISING = (1, 1, 2, 2, 3, 2, 2)  # the preferred difficulty Monday..Sunday


@pytest.fixture
async def engines(tmp_path: Path, bank: Bank) -> AsyncIterator[Apps]:
    made = Apps(tmp_path, bank)
    yield made
    await made.close_all()


def sent_to(app: App) -> RecordingMessenger:
    found = app.delivery.messenger("test")
    assert isinstance(found, RecordingMessenger)
    return found


def questions(sent: Sequence[Sent], channel: str | None = None) -> list[Sent]:
    return [s for s in sent if s.reply.kind == "question" and (channel is None or s.target == channel)]


async def rounds_of(app: App) -> list[RoundRow]:
    out: list[RoundRow] = []
    while (row := await app.store.get_round(len(out) + 1)) is not None:
        out.append(row)
    return out


async def schedule_all(app: App, schedules: dict[str, str]) -> None:
    router = Router(app)
    for channel, spec in schedules.items():
        reply = text_of(await router.handle(command(f"schedule {spec}", "admin", channel=channel, admin=True)))
        assert "已设置" in reply, reply


def watch_batches(app: App, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rounds each open_many call opened at once (observed, not changed)."""
    sizes: list[int] = []
    real = app.rounds.open_many

    async def observed(requests: Sequence[RoundRequest]) -> list[RoundQuestion | RoundError]:
        sizes.append(len(requests))
        return await real(requests)

    monkeypatch.setattr(app.rounds, "open_many", observed)
    return sizes


async def state(app: App) -> dict[str, Any]:
    """Everything the firing decides, keyed by channel rather than by row id (ids may be given in another order)."""
    rounds = await rounds_of(app)
    channel_of = {c.id: c.channel_id for c in (await app.store.get_conversations(range(1, 20))).values()}
    round_key = {r.id: (channel_of[r.conversation_id], r.opened_at) for r in rounds}
    scheds = await app.schedules._q.get_many(range(1, 20))
    timers = await app.store.due_timers(utc(2100, 1, 1), limit=100_000)
    owner = {s.id: channel_of[s.conversation_id] for s in scheds.values()}
    return {
        "rounds": sorted(
            (channel_of[r.conversation_id], r.question_id, r.state, r.opened_at, r.deadline_at, r.scope, r.cycle,
             r.message_ref is not None, r.closed_at)
            for r in rounds
        ),
        "schedules": sorted(
            (channel_of[s.conversation_id], s.state, s.next_fire_at, s.last_posted_date) for s in scheds.values()
        ),
        "timers": sorted(
            (t.kind, round_key[t.ref_id] if t.kind.startswith("round.") else owner[t.ref_id], t.due_at,
             sorted(t.payload.items()), t.attempts)
            for t in timers
        ),
        "days": {channel_of[s.conversation_id]: await app.schedules._q.days(s.conversation_id)
                 for s in scheds.values()},
        "posted": sorted((s.target, s.reply.kind, s.text) for s in sent_to(app).sent),
    }


async def test_batch_fires_like_one_at_a_time_across_zones_and_days(
    engines: Apps, bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve channels in eleven zones due at one instant on a DST morning, then for a week: the batch opens,
    records and posts exactly what firing each schedule alone does — questions, cycles, rising difficulty,
    reminders, reveal times, streak days, next fire times — and posts each day's question once."""
    batched_clock, single_clock = FakeClock(utc(2026, 3, 8, 6, 50)), FakeClock(utc(2026, 3, 8, 6, 50))
    batched = await engines.start(batched_clock, "batched")
    single = await engines.start(single_clock, "single")
    single.timers.batch_size = 1
    batched_sizes, single_sizes = watch_batches(batched, monkeypatch), watch_batches(single, monkeypatch)
    for app in (batched, single):
        await schedule_all(app, SCHEDULES)
    next_fires = {s.next_fire_at for s in (await batched.schedules._q.get_many(range(1, 13))).values()}
    assert next_fires == {DUE, utc(2026, 3, 9, 7)}  # all at one instant (Shanghai's weekday schedule: Monday)
    routers = {"batched": Router(batched), "single": Router(single)}
    for day in range(8, 16):  # Sunday the 8th to Sunday the 15th
        for name, app, clock in (("batched", batched, batched_clock), ("single", single, single_clock)):
            await clock.set(utc(2026, 3, day, 7, 5))
            if day % 3:  # Bob answers in two channels on most days: streaks to compare
                for channel in ("UTC", "BER"):
                    qid = questions(sent_to(app).sent, channel)[-1].reply.tags["qid"]
                    await routers[name].handle(command("answer", "bob", channel=channel,
                                                       text=bank.questions[qid].answer.zh, via="form"))
    for clock in (batched_clock, single_clock):
        await clock.set(utc(2026, 3, 15, 23))
    assert max(batched_sizes) >= 10 and set(single_sizes) == {1}
    assert await state(batched) == await state(single)

    sent = sent_to(batched).sent
    for channel in SCHEDULES:
        days = [d for _r, d, _s in await batched.schedules._q.days(
            (await batched.rounds.conversation(ConversationRef("test", "W1", channel))).id)]
        assert len(days) == len(set(days)) == len(questions(sent, channel)), channel  # each day posted once
    assert len(questions(sent, "SHA")) == 5  # Monday to Friday
    for channel in ("NY1", "LON", "KTM", "SYD", "NFL"):  # section 3 has six questions: a new cycle on day seven
        posts = questions(sent, channel)
        assert sorted(p.reply.tags["qid"] for p in posts[:6]) == [f"3.{n}" for n in range(1, 7)]
        assert "新一轮" in posts[6].text and not any("新一轮" in p.text for p in posts[:6])
    levels = [bank.questions[p.reply.tags["qid"]].difficulty for p in questions(sent, "NY2")]
    assert levels == [RISING[datetime(2026, 3, day).weekday()] for day in range(8, 16)]
    bob = await batched.store.find_user("test", "bob")
    assert bob is not None
    utc_channel = await batched.rounds.conversation(ConversationRef("test", "W1", "UTC"))
    # Bob answered on the 8th, 10th, 11th, 13th and 14th: the longest run is two days, broken on the 15th.
    assert (await batched.schedules.streaks(utc_channel.id, [bob.id]))[bob.id] == (0, 2)


async def test_one_channel_failing_in_a_batch_leaves_the_others_alone(
    engines: Apps, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post refused in one channel fails only that schedule's timer: the others are posted once, that one is
    recorded as the day's round and posted by the retry, once, as when it fires alone."""
    messenger = RecordingMessenger()
    messenger.down_channels = {"C3"}
    app = await engines.start(clock, "app", messenger)
    sizes = watch_batches(app, monkeypatch)
    await schedule_all(app, {f"C{n}": "daily 10:00 UTC" for n in range(1, 7)})
    await clock.set(utc(2026, 3, 2, 10, 0, 5))
    assert sizes == [6]
    assert sorted(q.target for q in questions(messenger.sent)) == ["C1", "C2", "C4", "C5", "C6"]
    c3 = await app.rounds.conversation(ConversationRef("test", "W1", "C3"))
    sched = await app.schedules._q.for_conversation(c3.id)
    assert sched is not None and sched.last_posted_date == "2026-03-02" and sched.next_fire_at == utc(2026, 3, 3, 10)
    current = await app.store.open_round(c3.id)
    assert current is not None and current.message_ref is None
    timers = await app.store.timers_for("schedule.", sched.id)
    assert [(t.due_at, t.attempts) for t in timers] == [(utc(2026, 3, 2, 10, 0, 30), 1), (utc(2026, 3, 3, 10), 0)]
    messenger.down_channels.clear()
    await clock.set(utc(2026, 3, 2, 10, 1))
    assert [q.target for q in questions(messenger.sent)][-1] == "C3"
    await clock.set(utc(2026, 3, 2, 17))
    assert sorted(q.target for q in questions(messenger.sent)) == [f"C{n}" for n in range(1, 7)]
    assert len(await rounds_of(app)) == 6
    assert all(r.message_ref is not None for r in await rounds_of(app))


async def test_recording_a_batch_fails_then_a_restart_adopts_its_rounds(
    engines: Apps, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's rounds opened but recording them failed, and the bot stopped before the retry: after the
    restart every round is adopted and posted once, at the time it was opened."""
    first = await engines.start(clock, "app")
    await schedule_all(first, {f"C{n}": "daily 10:00 UTC" for n in range(1, 6)})
    queries = first.schedules._q
    original = queries.add_scheduled_round
    failures = [1]

    async def flaky(*args: Any, **kwargs: Any) -> None:
        if failures.pop() if failures else 0:
            raise OSError("disk hiccup (simulated)")
        await original(*args, **kwargs)

    monkeypatch.setattr(queries, "add_scheduled_round", flaky)
    await clock.set(utc(2026, 3, 2, 10, 0, 10))
    assert len(await rounds_of(first)) == 5 and questions(sent_to(first).sent) == []
    await engines.stop(first)
    again = await engines.start(clock, "app")
    await clock.set(utc(2026, 3, 2, 10, 5))
    assert sorted(q.target for q in questions(sent_to(again).sent)) == [f"C{n}" for n in range(1, 6)]
    rounds = await rounds_of(again)
    assert [r.opened_at for r in rounds] == [utc(2026, 3, 2, 10)] * 5 and all(r.message_ref for r in rounds)
    for conversation_id in range(1, 6):
        assert await again.schedules._q.round_on(conversation_id, "2026-03-02") == conversation_id


class StallingMessenger(RecordingMessenger):
    """Posts the first `posts` questions, then hangs (a platform that stops answering mid-burst)."""

    def __init__(self, posts: int) -> None:
        super().__init__()
        self.posts = posts
        self.stalled = asyncio.Event()
        self._never = asyncio.Event()

    async def post(self, where: ConversationRef, reply: Reply) -> MessageRef:
        if reply.kind == "question" and len(questions(self.sent)) >= self.posts:
            self.stalled.set()
            await self._never.wait()
        return await super().post(where, reply)


async def test_stopping_mid_batch_neither_loses_nor_repeats_a_post(engines: Apps, bank: Bank) -> None:
    """The bot stops while a batch is being posted: two questions went out, three did not.  After the restart
    the three are posted and the two are not posted again; no day is opened twice."""
    clock = FakeClock(utc(2026, 3, 2, 9), settle_timeout=30)
    stalling = StallingMessenger(posts=2)
    first = await engines.start(clock, "app", stalling)
    await schedule_all(first, {f"C{n}": "daily 10:00 UTC" for n in range(1, 6)})
    recorded: list[tuple[object, MessageRef | None]] = []
    both = asyncio.Event()

    async def observe(posted: Sequence[tuple[object, MessageRef | None]]) -> None:
        recorded.extend(posted)  # hooks run in order: the engine has recorded these by now
        if len(recorded) >= 2:
            both.set()

    first.delivery.on_posted(observe)
    moving = asyncio.create_task(clock.set(utc(2026, 3, 2, 10, 0, 5)))
    await asyncio.wait_for(stalling.stalled.wait(), timeout=10)
    await asyncio.wait_for(both.wait(), timeout=10)
    await engines.stop(first)  # cancels the dispatcher in the middle of the batch
    await moving
    assert len(questions(stalling.sent)) == 2
    again = await engines.start(clock, "app")
    await clock.set(utc(2026, 3, 2, 11))
    first_posts = {q.target for q in questions(stalling.sent)}
    later_posts = [q.target for q in questions(sent_to(again).sent)]
    assert sorted(later_posts) == sorted({f"C{n}" for n in range(1, 6)} - first_posts)
    rounds = await rounds_of(again)
    assert len(rounds) == 5 and all(r.message_ref is not None for r in rounds)


async def test_post_each_reports_each_outcome_and_records_what_went_out(engines: Apps, clock: FakeClock) -> None:
    """Delivery.post_each: a refused post is that event's outcome; the others are posted and their rounds know
    where."""
    messenger = RecordingMessenger()
    app = await engines.start(clock, "app", messenger)
    convs = [await app.rounds.conversation(ConversationRef("test", "W1", f"C{n}")) for n in range(1, 4)]
    opened = await app.rounds.open_many([RoundRequest(c, minutes=5) for c in convs])
    assert all(isinstance(o, RoundQuestion) for o in opened)
    messenger.down_channels = {"C2"}
    outs = [Outgoing(to_channel(ConversationRef("test", "W1", c.channel_id)), o)
            for c, o in zip(convs, opened, strict=True)]
    outcomes = await app.delivery.post_each(outs, concurrency=2)
    assert [type(o).__name__ if o else None for o in outcomes] == [None, "ConnectionError", None]
    refs = [r.message_ref is not None for r in await rounds_of(app)]
    assert refs == [True, False, True]
