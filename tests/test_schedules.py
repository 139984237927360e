"""Daily-question schedules through the router with FakeClock, real SQLite and a recording messenger."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.engine.calendar import local_instant, next_fire, parse_hhmm
from bot.storage.store import RoundRow
from handlers.router import Router
from handlers.schedules import parse_duration
from question_bank.schema import Bank
from tests.fakes.messenger import Sent
from tests.helpers import Apps, command, messenger, text_of


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


async def admin(router: Router, line: str, channel: str = "C1") -> str:
    return text_of(await router.handle(command(line, "admin", channel=channel, admin=True)))


async def rounds_of(app: App) -> list[RoundRow]:
    """Every round in id order."""
    out: list[RoundRow] = []
    while (row := await app.store.get_round(len(out) + 1)) is not None:
        out.append(row)
    return out


def questions(sent: list[Sent], channel: str | None = None) -> list[Sent]:
    return [s for s in sent if s.reply.kind == "question" and (channel is None or s.target == channel)]


@pytest.fixture
async def launcher(tmp_path: Path, bank: Bank) -> AsyncIterator[Apps]:
    """Apps built by a test on tmp_path/bot.sqlite3, closed at the end even when an assertion failed."""
    apps = Apps(tmp_path, bank)
    yield apps
    await apps.close_all()


# Zone, kind, local time, when the schedule is set, how far to run, the UTC instants of the posts.
DST_CASES = [
    pytest.param("America/New_York", "daily", "09:00", utc(2026, 3, 6, 12), utc(2026, 3, 10, 20),
                 [utc(2026, 3, 6, 14), utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13),
                  utc(2026, 3, 10, 13)], id="ny-daily-spring"),
    pytest.param("America/New_York", "daily", "02:30", utc(2026, 3, 7, 0), utc(2026, 3, 9, 12),
                 [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)], id="ny-gap-moves-to-03:00"),
    pytest.param("America/New_York", "daily", "01:30", utc(2026, 10, 31, 0), utc(2026, 11, 2, 12),
                 [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)], id="ny-fall-back-once"),
    pytest.param("America/New_York", "weekdays", "09:00", utc(2026, 10, 29, 12), utc(2026, 11, 3, 20),
                 [utc(2026, 10, 29, 13), utc(2026, 10, 30, 13), utc(2026, 11, 2, 14), utc(2026, 11, 3, 14)],
                 id="ny-weekdays-fall"),
    pytest.param("America/New_York", "weekdays", "09:00", utc(2026, 3, 5, 12), utc(2026, 3, 10, 20),
                 [utc(2026, 3, 5, 14), utc(2026, 3, 6, 14), utc(2026, 3, 9, 13), utc(2026, 3, 10, 13)],
                 id="ny-weekdays-spring"),
    pytest.param("Europe/Berlin", "weekdays", "08:00", utc(2026, 3, 26, 0), utc(2026, 3, 31, 12),
                 [utc(2026, 3, 26, 7), utc(2026, 3, 27, 7), utc(2026, 3, 30, 6), utc(2026, 3, 31, 6)],
                 id="berlin-weekdays-spring"),
    pytest.param("Europe/Berlin", "daily", "02:30", utc(2026, 3, 28, 0), utc(2026, 3, 30, 12),
                 [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)], id="berlin-gap"),
    pytest.param("Europe/Berlin", "daily", "02:30", utc(2026, 10, 24, 0), utc(2026, 10, 26, 12),
                 [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
                 id="berlin-fall-back-once"),
    pytest.param("Europe/Berlin", "weekdays", "09:00", utc(2026, 10, 22, 0), utc(2026, 10, 27, 12),
                 [utc(2026, 10, 22, 7), utc(2026, 10, 23, 7), utc(2026, 10, 26, 8), utc(2026, 10, 27, 8)],
                 id="berlin-weekdays-fall"),
    pytest.param("Asia/Shanghai", "daily", "09:30", utc(2026, 3, 6, 12), utc(2026, 3, 10, 12),
                 [utc(2026, 3, 7, 1, 30), utc(2026, 3, 8, 1, 30), utc(2026, 3, 9, 1, 30), utc(2026, 3, 10, 1, 30)],
                 id="shanghai-no-dst"),
]


@pytest.mark.parametrize(("zone", "kind", "at", "start", "until", "expected"), DST_CASES)
async def test_fire_times_across_dst(launcher: Apps, zone: str, kind: str, at: str, start: datetime,
                                     until: datetime, expected: list[datetime]) -> None:
    """Each local day is posted once at the expected wall-clock time, across both DST changes of 2026."""
    clock = FakeClock(start)
    app = await launcher.start(clock)
    rec = messenger(app)
    assert "已设置" in await admin(Router(app), f"schedule {kind} {at} {zone}")
    await clock.set(until)
    opened = [r.opened_at for r in await rounds_of(app)]
    assert opened == expected
    assert len(questions(rec.sent)) == len(expected)
    await launcher.stop(app)


def test_calendar_helpers() -> None:
    """Gap times move to the first valid minute, repeated ones resolve to the first occurrence."""
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    assert local_instant(date(2026, 3, 8), time(2, 0), ny) == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert local_instant(date(2026, 3, 8), time(2, 59), ny) == utc(2026, 3, 8, 7)
    assert local_instant(date(2026, 11, 1), time(1, 0), ny) == utc(2026, 11, 1, 5)  # 01:00 EDT, not EST
    when, day = next_fire(utc(2026, 3, 6, 23), time(9, 0), ny, weekdays_only=True)
    assert (when, day.isoformat()) == (utc(2026, 3, 9, 13), "2026-03-09")
    assert parse_hhmm("9:05") == time(9, 5)
    assert [parse_hhmm(x) for x in ("25:00", "9:60", "nine", "24:00")] == [None] * 4
    assert parse_duration("1h30m") == timedelta(minutes=90) and parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("8h") == timedelta(hours=8) and parse_duration("soon") is None


async def test_show_states_next_time_in_local_zone(app: App, clock: FakeClock) -> None:
    """schedule show gives the days, the local time, the zone and the next time in both forms."""
    router = Router(app)
    await admin(router, "schedule weekdays 09:30 Asia/Shanghai --section 3 --reveal-at 18:00 --remind-before 1h")
    shown = await admin(router, "schedule show")
    assert "工作日" in shown and "09:30" in shown and "Asia/Shanghai" in shown
    assert "2026-03-03 09:30 CST" in shown and "2026-03-03 01:30 UTC" in shown
    assert "第 3 部分" in shown and "18:00" in shown and "1h" in shown


async def test_channel_zone_is_the_default(app: App, clock: FakeClock) -> None:
    """Without a zone the channel's time zone is used, else UTC."""
    router = Router(app)
    await admin(router, "settings timezone Asia/Shanghai")
    await admin(router, "schedule daily 09:00")
    await admin(router, "schedule daily 09:00", channel="C2")
    assert "Asia/Shanghai" in await admin(router, "schedule show")
    assert "UTC" in await admin(router, "schedule show", channel="C2")
    await clock.set(utc(2026, 3, 3, 12))
    assert [(r.conversation_id, r.opened_at) for r in await rounds_of(app)] == [
        (1, utc(2026, 3, 3, 1)), (2, utc(2026, 3, 3, 9))]


async def test_two_channels_in_different_zones(app: App, clock: FakeClock) -> None:
    """Each channel gets its question at its own local time, in its own channel."""
    router = Router(app)
    await admin(router, "schedule daily 09:00 Asia/Shanghai", channel="CN")
    await admin(router, "schedule daily 09:00 Europe/Berlin", channel="EU")
    await clock.set(utc(2026, 3, 4, 9))
    sent = messenger(app).sent
    assert len(questions(sent, "CN")) == 2 and len(questions(sent, "EU")) == 2
    assert [r.opened_at for r in await rounds_of(app)] == [
        utc(2026, 3, 3, 1), utc(2026, 3, 3, 8), utc(2026, 3, 4, 1), utc(2026, 3, 4, 8)]
    assert [q.target for q in questions(sent)] == ["CN", "EU", "CN", "EU"]


async def test_downtime_within_grace_posts_once(launcher: Apps, clock: FakeClock) -> None:
    """Down across the fire time and back within the grace window: the question is posted once, at start-up."""
    first = await launcher.start(clock)
    await admin(Router(first), "schedule daily 10:00 UTC")
    await launcher.stop(first)
    await clock.set(utc(2026, 3, 2, 11, 30))  # 90 minutes late; the grace window is 120
    for attempt in range(2):
        again = await launcher.start(clock)
        rec = messenger(again)
        assert len(questions(rec.sent)) == (1 if attempt == 0 else 0)
        await launcher.stop(again)
    last = await launcher.start(clock)
    rec = messenger(last)
    await clock.set(utc(2026, 3, 3, 12))
    opened = [r.opened_at for r in await rounds_of(last)]
    assert opened == [utc(2026, 3, 2, 11, 30), utc(2026, 3, 3, 10)]
    assert len(questions(rec.sent)) == 1
    await launcher.stop(last)


async def test_downtime_beyond_grace_skips_and_logs(launcher: Apps, clock: FakeClock,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Back later than the grace window: that day is skipped and logged; the next day posts on time."""
    first = await launcher.start(clock)
    await admin(Router(first), "schedule daily 10:00 UTC")
    await launcher.stop(first)
    await clock.set(utc(2026, 3, 2, 12, 30))  # 150 minutes late
    caplog.set_level(logging.WARNING, logger="bot.engine.schedules")
    again = await launcher.start(clock)
    rec = messenger(again)
    assert questions(rec.sent) == []
    assert any("grace" in r.getMessage() and "2026-03-02" in r.getMessage() for r in caplog.records)
    await clock.set(utc(2026, 3, 3, 12))
    assert [r.opened_at for r in await rounds_of(again)] == [utc(2026, 3, 3, 10)]
    await launcher.stop(again)


async def test_downtime_over_several_days_posts_nothing_stale(launcher: Apps, clock: FakeClock) -> None:
    """Days missed while down are not made up; only today's, whose time passed within the grace window, is posted."""
    first = await launcher.start(clock)
    await admin(Router(first), "schedule daily 10:00 UTC")
    await launcher.stop(first)
    await clock.set(utc(2026, 3, 5, 11))  # three days later, within grace of the 5th's 10:00
    again = await launcher.start(clock)
    rec = messenger(again)
    await clock.set(utc(2026, 3, 6, 12))
    assert [r.opened_at for r in await rounds_of(again)] == [utc(2026, 3, 5, 11), utc(2026, 3, 6, 10)]
    assert len(questions(rec.sent)) == 2
    await launcher.stop(again)


async def test_pause_and_resume(app: App, clock: FakeClock) -> None:
    """A paused schedule does not fire; resume re-arms from now without making up the missed days."""
    router = Router(app)
    await admin(router, "schedule daily 10:00 UTC")
    assert "已暂停" in await admin(router, "schedule pause")
    await clock.set(utc(2026, 3, 4, 11))
    assert await rounds_of(app) == []
    assert "已恢复" in await admin(router, "schedule resume")
    await clock.set(utc(2026, 3, 5, 12))
    assert [r.opened_at for r in await rounds_of(app)] == [utc(2026, 3, 5, 10)]
    assert "关闭" in await admin(router, "schedule off")
    await clock.set(utc(2026, 3, 7, 12))
    assert len(await rounds_of(app)) == 1
    assert "还没有每日一题" in await admin(router, "schedule show")


async def test_replacing_a_schedule_never_posts_twice_a_day(app: App, clock: FakeClock) -> None:
    """A new schedule replaces the old one; a later time on a day already posted waits for the next day."""
    router = Router(app)
    await admin(router, "schedule daily 10:00 UTC")
    await clock.set(utc(2026, 3, 2, 11))
    await admin(router, "schedule daily 20:00 UTC")
    await clock.set(utc(2026, 3, 3, 21))
    assert [r.opened_at for r in await rounds_of(app)] == [utc(2026, 3, 2, 10), utc(2026, 3, 3, 20)]
    assert "20:00" in await admin(router, "schedule show")


async def test_stale_timer_of_a_replaced_schedule_does_nothing(app: App, clock: FakeClock) -> None:
    """A timer row left from before a change (a fire racing with `schedule ...`) neither posts nor re-arms."""
    router = Router(app)
    await admin(router, "schedule daily 10:00 UTC")
    (old,) = await app.store.timers_for("schedule.", 1)
    await admin(router, "schedule daily 11:00 UTC")
    await app.schedules._on_fire(old)
    assert await rounds_of(app) == []
    timers = await app.store.timers_for("schedule.", 1)
    assert [t.due_at for t in timers] == [utc(2026, 3, 2, 11)]


async def test_scope_exhaustion_starts_a_new_cycle(app: App, clock: FakeClock, bank: Bank) -> None:
    """Section 3 has six questions: six days without a repeat, then the post says a new cycle starts."""
    router = Router(app)
    await admin(router, "schedule daily 10:00 UTC --section 3 --reveal-after 2h")
    await clock.set(utc(2026, 3, 7, 12))  # Monday 2 to Saturday 7: six days
    posts = questions(messenger(app).sent)
    assert sorted(p.reply.tags["qid"] for p in posts) == [f"3.{n}" for n in range(1, 7)]
    assert not any("新一轮" in p.text for p in posts)
    await clock.set(utc(2026, 3, 8, 12))
    seventh = questions(messenger(app).sent)[-1]
    assert "新一轮" in seventh.text and bank.questions[seventh.reply.tags["qid"]].section.number == 3


async def test_rising_difficulty_across_the_week(app: App, clock: FakeClock, bank: Bank) -> None:
    """--rising prefers easy questions on Monday and hard ones on Friday."""
    router = Router(app)
    await admin(router, "schedule weekdays 10:00 UTC --rising")
    await clock.set(utc(2026, 3, 6, 12))
    levels = [bank.questions[p.reply.tags["qid"]].difficulty for p in questions(messenger(app).sent)]
    assert levels == [1, 1, 2, 2, 3]


async def test_reminder_and_reveal_of_the_daily_round(app: App, clock: FakeClock, bank: Bank) -> None:
    """--remind-before adds one reminder; the reveal comes after the window with scores and the top 5."""
    router = Router(app)
    await admin(router, "schedule daily 10:00 UTC --reveal-after 2h --remind-before 30m")
    await clock.set(utc(2026, 3, 2, 10, 5))
    qid = questions(messenger(app).sent)[0].reply.tags["qid"]
    await router.handle(command("answer", "bob", text=bank.questions[qid].answer.zh, via="form"))
    await clock.set(utc(2026, 3, 2, 12, 1))
    kinds = [(s.reply.kind, s.text) for s in messenger(app).sent]
    reminders = [text for kind, text in kinds if kind == "reminder"]
    assert len(reminders) == 1 and "30:00" in reminders[0]
    reveal = next(text for kind, text in kinds if kind == "reveal" and "Bob" in text)
    assert "本周频道前五" in reveal
    current = await app.store.get_round(1)
    assert current is not None and current.deadline_at == utc(2026, 3, 2, 12) and current.state == "revealed"


async def test_reveal_at_local_time(app: App, clock: FakeClock) -> None:
    """--reveal-at closes the round at a local wall-clock time."""
    router = Router(app)
    await admin(router, "schedule daily 09:00 Europe/Berlin --reveal-at 17:00")
    await clock.set(utc(2026, 3, 3, 17))
    current = await app.store.get_round(1)
    assert current is not None and (current.opened_at, current.deadline_at) == (utc(2026, 3, 3, 8), utc(2026, 3, 3, 16))
    assert current.state == "revealed"


async def test_open_round_at_fire_time_skips_the_day(app: App, clock: FakeClock,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """If a round is still open when the schedule fires, that day is skipped and logged; nothing crashes."""
    router = Router(app)
    await admin(router, "schedule daily 10:00 UTC")
    await clock.set(utc(2026, 3, 2, 9, 30))
    await router.handle(command("ask 1.1 --minutes 60", "bob"))
    caplog.set_level(logging.WARNING, logger="bot.engine.schedules")
    await clock.set(utc(2026, 3, 3, 11))
    assert any("already_open" in r.getMessage() for r in caplog.records)
    assert [r.opened_at for r in await rounds_of(app)] == [utc(2026, 3, 2, 9, 30), utc(2026, 3, 3, 10)]


async def test_failed_post_is_retried_once(app: App, clock: FakeClock) -> None:
    """A platform outage at fire time: the timer retries and the question is posted once."""
    router = Router(app)
    await admin(router, "schedule daily 10:00 UTC")
    messenger(app).fail_next = 1
    await clock.set(utc(2026, 3, 2, 10, 30))
    assert len(questions(messenger(app).sent)) == 1 and len(await rounds_of(app)) == 1
    await clock.set(utc(2026, 3, 2, 17))
    assert len(questions(messenger(app).sent)) == 1


async def test_failure_after_the_round_opened_adopts_it(app: App, clock: FakeClock,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """If recording the day fails after the round opened, the retry adopts that round and posts it once."""
    router = Router(app)
    await admin(router, "schedule daily 10:00 UTC")
    queries = app.schedules._q
    original = queries.add_scheduled_round
    failures = [1]

    async def flaky(*args: object, **kwargs: object) -> None:
        if failures.pop() if failures else 0:
            raise OSError("disk hiccup (simulated)")
        await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(queries, "add_scheduled_round", flaky)
    await clock.set(utc(2026, 3, 2, 10, 0, 10))  # the dispatcher retries after 30 seconds
    assert len(await rounds_of(app)) == 1 and questions(messenger(app).sent) == []
    await clock.set(utc(2026, 3, 3, 11))
    assert [r.opened_at for r in await rounds_of(app)] == [utc(2026, 3, 2, 10), utc(2026, 3, 3, 10)]
    assert len(questions(messenger(app).sent)) == 2
    assert await queries.round_on(1, "2026-03-02") == 1


async def test_streaks_across_a_missed_day(app: App, clock: FakeClock, bank: Bank) -> None:
    """Consecutive scheduled days answered: a missed scheduled day breaks it, a weekend without one does not."""
    router = Router(app)
    await admin(router, "schedule weekdays 10:00 UTC --reveal-after 2h")
    days = {5: ("bob", "carol"), 6: ("bob",), 9: ("bob", "carol")}  # Thu, Fri, (weekend), Mon
    for day, people in days.items():
        await clock.set(utc(2026, 3, day, 10, 1))
        qid = questions(messenger(app).sent)[-1].reply.tags["qid"]
        for who in people:
            await router.handle(command("answer", who, text=bank.questions[qid].answer.zh, via="form"))
        if day == 6:  # a Saturday round someone asked by hand is not a scheduled day
            await clock.set(utc(2026, 3, 7, 10))
            await router.handle(command("ask 1.1 --minutes 5", "carol"))
            await router.handle(command("answer", "carol", text="多头注意力", via="form"))
    await clock.set(utc(2026, 3, 10, 10, 1))  # Tuesday's round is open and not yet answered: no break yet
    bob = text_of(await router.handle(command("stats", "bob")))
    carol = text_of(await router.handle(command("stats", "carol")))
    assert "每日一题连续：当前 3 天，最长 3 天" in bob
    assert "每日一题连续：当前 1 天，最长 1 天" in carol
    board = text_of(await router.handle(command("leaderboard", "bob")))
    assert "🔥3" in board
    await clock.set(utc(2026, 3, 11, 10, 1))  # Tuesday closed without bob: broken
    assert "当前 0 天，最长 3 天" in text_of(await router.handle(command("stats", "bob")))


@pytest.mark.parametrize(("line", "expected"), [
    ("schedule daily 25:00", "schedule daily 09:30 Asia/Shanghai"),
    ("schedule weekdays 9.30", "HH:MM"),
    ("schedule daily", "schedule daily 09:30"),
    ("schedule daily 09:00 Mars/Olympus", "Mars/Olympus"),
    ("schedule daily 09:00 Mars/Olympus", "schedule daily 09:30 Asia/Shanghai"),
    ("schedule daily 09:00 --reveal-after soon", "1h30m"),
    ("schedule daily 09:00 --reveal-after 30h", "23"),
    ("schedule daily 09:00 --reveal-after 2h --remind-before 3h", "90m"),
    ("schedule daily 09:00 --reveal-at 09:00", "--reveal-at 17:00"),
    ("schedule daily 09:00 --reveal-at 25:61", "HH:MM"),
    ("schedule daily 09:00 --section 99", "没有第 99 部分"),
    ("schedule monthly 09:00", "schedule daily|weekdays"),
])
async def test_bad_inputs_show_the_right_form(app: App, line: str, expected: str) -> None:
    """A bad time, zone, duration or scope gets a message with an example of the right form; nothing is set."""
    router = Router(app)
    replies = await router.handle(command(line, "admin", admin=True))
    assert expected in text_of(replies) and replies[0].kind == "error"
    assert "还没有每日一题" in await admin(router, "schedule show")


async def test_non_admin_is_refused(app: App, clock: FakeClock) -> None:
    """Only channel managers may set, change or remove the schedule; a DM is refused."""
    router = Router(app)
    for line in ("schedule daily 09:00", "schedule pause", "schedule off", "schedule show"):
        refused = await router.handle(command(line, "mallory"))
        assert "只有频道管理员" in text_of(refused) and refused[0].ephemeral
    assert "频道中使用" in text_of(await router.handle(command("schedule daily 09:00", "admin", dm=True, admin=True)))
    await clock.set(utc(2026, 3, 3, 12))
    assert await rounds_of(app) == []
