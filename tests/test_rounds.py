"""Team rounds through the router with FakeClock and a recording messenger."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.platforms.base import MessageRef, UserText
from handlers.router import Router
from question_bank.schema import Bank
from tests.fakes.messenger import RecordingMessenger, Sent
from tests.helpers import command, messenger, room, text_of


def posts(app: App, kind: str) -> list[Sent]:
    """What was posted of one kind; a reveal's short channel summary is not counted as a reveal."""
    return [s for s in messenger(app).sent if s.reply.kind == kind and "summary" not in s.reply.tags]


async def reply(router: Router, who: str, text: str, **kw: object) -> str:
    return text_of(await router.handle(command("answer", who, text=text, via="form", **kw)))  # type: ignore[arg-type]


async def test_full_round_three_people_two_languages(app: App, clock: FakeClock, bank: Bank) -> None:
    """Ask, three hidden replies (zh, en, mixed), deadline reveal with scores, best, fastest and top 5."""
    router = Router(app)
    asked = await router.handle(command("ask 1.4 --minutes 5"))
    assert "已发布" in text_of(asked)
    question = posts(app, "question")[0].reply
    assert question.tags["qid"] == "1.4" and question.deadline == clock.now() + timedelta(minutes=5)
    assert any(f.value == "1.4" for f in question.fields)
    q = bank.questions["1.4"]
    await clock.advance(30)
    assert "已记录" in await reply(router, "alice", q.answer.zh)
    await clock.advance(30)
    await reply(router, "bob", "Because the dot product variance grows with d_k, softmax saturates.")
    await reply(router, "carol", "因为QK^T的方差随d_k增大, softmax会饱和, 梯度接近0, 所以除以sqrt(d_k)")
    await reply(router, "bob", q.answer.en)  # a second reply replaces the first for scoring
    assert posts(app, "reveal") == []
    await clock.advance(timedelta(minutes=2, seconds=30))
    assert any("还剩" in s.reply.plain_text() for s in posts(app, "reminder"))
    await clock.advance(timedelta(minutes=3))
    reveal = posts(app, "reveal")[0].reply
    text = reveal.plain_text()
    assert q.answer.zh[:20] in text
    for name in ("Alice", "Bob", "Carol"):
        assert name in text
    assert "最佳" in text and "最快" in text and "本周频道前五" in text
    answers = await app.store.round_answers(1)
    assert len(answers) == 4
    board = text_of(await router.handle(command("leaderboard")))
    assert board.index("Alice") < board.index("Carol") or board.index("Bob") < board.index("Carol")


async def test_second_ask_says_which_round_is_open(app: App) -> None:
    """One open round per channel."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    second = text_of(await router.handle(command("ask 1.2", "bob")))
    assert "1.1" in second and "还剩" in second


async def test_unknown_id_and_bad_arguments(app: App) -> None:
    """Unknown ids suggest close ones; bad options show the usage."""
    router = Router(app)
    assert "1.4" in text_of(await router.handle(command("ask 1.44")))
    assert "ask [ID|random]" in text_of(await router.handle(command("ask --minutes soon")))
    assert "没有这个命令" in text_of(await router.handle(command("frobnicate")))
    assert "ask 5.1" not in text_of(await router.handle(command("ask 5.1")))  # aliases resolve to 4.6
    assert posts(app, "question")[-1].reply.tags["qid"] == "4.6"


async def test_reveal_by_someone_not_allowed(app: App) -> None:
    """Only the asker or a manager may reveal, skip, cancel or change settings."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    for line in ("reveal", "skip", "cancel", "settings reminders off"):
        refused = await router.handle(command(line, "mallory"))
        expected = "只有频道管理员可以修改" if line.startswith("settings") else "只有出题人或频道管理员"
        assert expected in text_of(refused) and refused[0].ephemeral
    assert posts(app, "reveal") == []
    await router.handle(command("reveal", "dana", admin=True))
    assert len(posts(app, "reveal")) == 1


async def test_refusals_go_only_to_the_caller(app: App) -> None:
    """No open round for hint or reveal, or a second ask while one is open: told privately, not to the channel."""
    router = Router(app)
    for line in ("hint", "reveal"):
        refused = await router.handle(command(line))
        assert "没有进行中的题" in text_of(refused) and refused[0].ephemeral
    await router.handle(command("ask 1.1"))
    again = await router.handle(command("ask 1.2", "bob"))
    assert "1.1" in text_of(again) and again[0].ephemeral


async def test_a_reveal_the_platform_refuses_is_posted_again_and_the_asker_is_told(
    app: App, clock: FakeClock
) -> None:
    """The reveal's post fails: the asker hears it will be posted again (not 'try again'), and it is."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    messenger(app).fail_next = 1
    told = await router.handle(command("reveal"))
    assert told[0].ephemeral and "不必再操作" in text_of(told)
    assert posts(app, "reveal") == []
    await clock.advance(timedelta(seconds=30))
    assert len([s for s in posts(app, "reveal") if "summary" not in s.reply.tags]) == 1


async def test_a_closed_question_loses_its_buttons_and_a_failed_edit_changes_nothing(
    app: App, clock: FakeClock
) -> None:
    """After the reveal (or a cancel) the question message is replaced by its closed form, without buttons;
    an edit the platform refuses is only logged: the reveal still counts as announced and is not posted again."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    question = posts(app, "question")[-1]
    await router.handle(command("reveal"))
    edits = [s for s in messenger(app).sent if s.kind == "edit"]
    assert question.ref is not None
    assert [(e.target, e.reply.kind) for e in edits] == [(f"C1/{question.ref.message_id}", "question_closed")]
    assert not edits[0].reply.buttons and "已揭晓" in edits[0].reply.plain_text()
    await router.handle(command("ask 1.2"))
    await router.handle(command("cancel"))
    assert "已取消" in messenger(app).sent[-1].text and messenger(app).sent[-1].kind == "edit"
    messenger(app).edits_fail = True
    await router.handle(command("ask 1.3"))
    await router.handle(command("reveal"))
    reveals = len(posts(app, "reveal"))
    await clock.advance(timedelta(minutes=2))
    assert len(posts(app, "reveal")) == reveals  # not posted again by the announce timer


async def test_late_reply_is_practice(app: App, clock: FakeClock, bank: Bank) -> None:
    """A reply after the reveal is stored as practice, graded privately, and does not count."""
    router = Router(app)
    await router.handle(command("ask 1.12 --minutes 1"))
    await clock.advance(61)
    late = await router.handle(command("answer", "bob", text=bank.questions["1.12"].answer.zh, via="form"))
    assert late[0].ephemeral and "不计入" in text_of(late)
    answers = await app.store.round_answers(1, include_practice=True)
    assert answers[0].practice
    board = text_of(await router.handle(command("leaderboard")))
    assert "Bob" not in board


async def test_skip_reveals_without_scoring_and_cancel_closes_silently(app: App, bank: Bank) -> None:
    """skip shows the answer without scores; cancel reveals nothing."""
    router = Router(app)
    await router.handle(command("ask 1.2"))
    await reply(router, "bob", bank.questions["1.2"].answer.zh)
    await router.handle(command("skip"))
    reveal = posts(app, "reveal")[-1].reply
    assert "跳过" in (reveal.title or "") and "Bob" not in reveal.plain_text()
    await router.handle(command("ask 1.3"))
    await router.handle(command("cancel"))
    assert len(posts(app, "reveal")) == 1
    assert "已取消" in messenger(app).texts()[-1]


async def test_follow_up_chain_with_auto_follow_up(app: App, clock: FakeClock) -> None:
    """1.14 -> 1.15 -> its seq2seq probe open one after another, each linked to its parent."""
    router = Router(app)
    await router.handle(command("settings auto-follow-up on", admin=True))
    await router.handle(command("ask 1.14 --minutes 2"))
    for _ in range(3):
        await clock.advance(timedelta(minutes=2, seconds=1))
    asked = [s.reply.tags["qid"] for s in posts(app, "question")]
    assert asked == ["1.14", "1.15", "1.15.p1"]
    third = await app.store.get_round(3)
    second = await app.store.get_round(2)
    assert third is not None and second is not None and third.parent_round_id == 2 and second.parent_round_id == 1
    assert "追问" in (posts(app, "question")[1].reply.title or "")


async def test_reveal_offers_follow_up_when_auto_is_off(app: App) -> None:
    """Without auto follow-up the reveal offers the chained question as a button."""
    router = Router(app)
    await router.handle(command("ask 1.14"))
    await router.handle(command("reveal"))
    reveal = posts(app, "reveal")[-1].reply
    assert any(b.action == "ask 1.15" for b in reveal.buttons)
    assert len(posts(app, "question")) == 1


async def test_duplicated_event_records_one_reply(app: App) -> None:
    """The same platform event delivered twice records one answer."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    for _ in range(2):
        await router.handle(command("answer", "bob", text="多头让模型关注不同子空间", via="form", event_id="Ev1"))
    assert len(await app.store.round_answers(1)) == 1


async def test_thread_reply_counts_as_visible_answer(app: App) -> None:
    """A reply in the question's thread is an answer, marked visible."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    ref = posts(app, "question")[0].ref
    assert isinstance(ref, MessageRef)
    msg = command("", "bob", text="不同的头关注不同的子空间", via="message", thread=ref, event_id="m1")
    await router.message(msg)
    answers = await app.store.round_answers(1)
    assert len(answers) == 1 and answers[0].visible


@pytest.mark.parametrize("mode", ["scores", "full", "anonymous"])
async def test_reveal_modes(app: App, mode: str) -> None:
    """scores: no reply texts; full: texts with names; anonymous: texts without names."""
    router = Router(app)
    await router.handle(command(f"settings reveal-mode {mode}", admin=True))
    await router.handle(command("ask 1.1"))
    secret = "每个头学到不同的注意力模式，相当于集成"
    await reply(router, "bob", secret)
    await router.handle(command("reveal"))
    text = posts(app, "reveal")[-1].reply.plain_text()
    assert (secret in text) == (mode != "scores")
    assert ("Bob" in text) == (mode != "anonymous")


async def test_mention_injection_stays_user_text(app: App) -> None:
    """Mentions in a reply shown by a full reveal are marked as user text for every renderer to escape."""
    router = Router(app)
    await router.handle(command("settings reveal-mode full", admin=True))
    await router.handle(command("ask 1.1"))
    evil = "@everyone @here <!channel> <@&123> 多头注意力让模型关注不同子空间"
    await reply(router, "bob", evil)
    await router.handle(command("reveal"))
    reveal = posts(app, "reveal")[-1].reply
    plain_lines = [line for block in reveal.blocks for line in block.lines if isinstance(line, str)]
    assert not any("@everyone" in line or "<!channel>" in line for line in plain_lines)
    assert any(isinstance(line, UserText) and "@everyone" in line.text for b in reveal.blocks for line in b.lines)


async def test_huge_reply_is_refused_and_not_stored(app: App) -> None:
    """A reply over 4,000 characters is refused with the limit; nothing is half stored."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    refused = await reply(router, "bob", "x" * 4001)
    assert "4000" in refused
    assert await app.store.round_answers(1, include_practice=True) == []


async def test_random_never_repeats_until_scope_exhausted(app: App) -> None:
    """ask random cycles through the scope without repeats, then says a new cycle starts."""
    router = Router(app)
    seen: list[str] = []
    for _ in range(6):  # section 3 has 6 questions
        await router.handle(command("ask random --section 3"))
        seen.append(posts(app, "question")[-1].reply.tags["qid"])
        await router.handle(command("cancel"))
    assert sorted(seen) == [f"3.{n}" for n in range(1, 7)]
    await router.handle(command("ask random --section 3"))
    assert "新一轮" in posts(app, "question")[-1].reply.plain_text()


async def test_restart_mid_round_then_deadline(settings: Settings, clock: FakeClock, bank: Bank) -> None:
    """Replies and the deadline survive a restart; the reveal happens once."""
    first = await build_app(settings, clock=clock, bank=bank)
    first.delivery.register("test", RecordingMessenger())
    await first.start()
    router = Router(first)
    await router.handle(command("ask 1.1 --minutes 5"))
    await router.handle(command("answer", "bob", text="多个头关注不同子空间", via="form"))
    await first.close()
    second = await build_app(settings, clock=clock, bank=bank)
    rec = RecordingMessenger()
    second.delivery.register("test", rec)
    await second.start()
    await clock.advance(timedelta(minutes=6))
    reveals = [s for s in rec.sent if s.reply.kind == "reveal" and "summary" not in s.reply.tags]
    assert len(reveals) == 1 and "Bob" in reveals[0].reply.plain_text()
    await second.close()


async def test_restart_after_deadline_reveals_once(settings: Settings, clock: FakeClock, bank: Bank) -> None:
    """A round whose deadline passed while the bot was down is revealed once at start-up."""
    first = await build_app(settings, clock=clock, bank=bank)
    first.delivery.register("test", RecordingMessenger())
    await first.start()
    await Router(first).handle(command("ask 1.1 --minutes 1"))
    await first.close()
    await clock.advance(timedelta(minutes=30))
    for _ in range(2):
        again = await build_app(settings, clock=clock, bank=bank)
        rec = RecordingMessenger()
        again.delivery.register("test", rec)
        await again.start()
        await clock.settle()
        reveals = [s for s in rec.sent if s.reply.kind == "reveal" and "summary" not in s.reply.tags]
        assert len(reveals) == (1 if _ == 0 else 0)
        await again.close()


async def test_failed_reveal_post_is_retried(app: App, clock: FakeClock, bank: Bank) -> None:
    """A platform outage at the deadline delays the reveal; it is posted once the platform is back."""
    router = Router(app)
    await router.handle(command("ask 1.1 --minutes 1"))
    await reply(router, "bob", bank.questions["1.1"].answer.zh)
    messenger(app).fail_next = 3  # the deadline post and the first retries fail
    await clock.advance(61)
    assert posts(app, "reveal") == []
    round_row = await app.store.get_round(1)
    assert round_row is not None and round_row.state == "revealed" and round_row.announced_at is None
    await clock.advance(timedelta(minutes=5))
    reveals = posts(app, "reveal")
    assert len(reveals) == 1 and "Bob" in reveals[0].reply.plain_text()
    await clock.advance(timedelta(minutes=30))
    assert len(posts(app, "reveal")) == 1
    announced = await app.store.get_round(1)
    assert announced is not None and announced.announced_at is not None


async def test_question_that_cannot_be_posted_cancels_its_round(app: App) -> None:
    """If the platform refuses the question post, the round is cancelled and the asker is told why."""
    router = Router(app)
    messenger(app).fail_next = 1
    refused = text_of(await router.handle(command("ask 1.1")))
    assert "无法在这个频道发布题目" in refused
    assert await app.store.open_round(1) is None
    await router.handle(command("ask 1.2"))
    assert posts(app, "question")[-1].reply.tags["qid"] == "1.2"


async def test_thread_reply_under_another_message_is_not_an_answer(app: App) -> None:
    """A reply in a thread that is not a question's thread records nothing and says nothing."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    other = MessageRef("test", "C1", "some-other-message")
    replies = await router.message(command("", "bob", text="just chatting", via="message", thread=other))
    assert replies == [] and await app.store.round_answers(1, include_practice=True) == []


async def test_leaderboard_week_boundary_in_shanghai(app: App, clock: FakeClock, bank: Bank) -> None:
    """Week periods start Monday 00:00 in the channel's zone, not UTC."""
    router = Router(app)
    await router.handle(command("settings timezone Asia/Shanghai", admin=True))
    # Sunday 2026-03-08 23:30 Shanghai = 15:30 UTC: last week locally
    await clock.set(datetime(2026, 3, 8, 15, 30, tzinfo=UTC))
    await router.handle(command("ask 1.4 --minutes 1"))
    await reply(router, "bob", bank.questions["1.4"].answer.zh)
    await clock.advance(61)
    # Monday 00:30 Shanghai: a new week
    await clock.set(datetime(2026, 3, 8, 16, 30, tzinfo=UTC))
    await router.handle(command("ask 1.12 --minutes 1"))
    await reply(router, "carol", bank.questions["1.12"].answer.zh)
    await clock.advance(61)
    week = text_of(await router.handle(command("leaderboard week", "bob")))
    assert "Carol" in week and "Bob" not in week and "还没有成绩" in week
    month = text_of(await router.handle(command("leaderboard month", "bob")))
    assert "Carol" in month and "Bob" in month and "第 " in month


async def test_stats_show_rounds_average_tags_and_streak(app: App, clock: FakeClock, bank: Bank) -> None:
    """stats: rounds answered, average, best and weakest tags, streak of consecutive days."""
    router = Router(app)
    for day, qid in enumerate(("1.4", "1.12", "2.8")):
        await router.handle(command(f"ask {qid} --minutes 1"))
        await reply(router, "bob", bank.questions[qid].answer.zh if day != 2 else "不知道")
        await clock.advance(timedelta(days=1))
    shown = await router.handle(command("stats", "bob"))
    text = text_of(shown)
    assert "作答 3 题" in text and "最长 3 天" in text and "最弱主题" in text and "本频道" in shown[0].title
    best = next(line for line in text.splitlines() if line.startswith("最强主题"))
    weakest = next(line for line in text.splitlines() if line.startswith("最弱主题"))
    assert not set(best.split("：")[1].split("、")) & set(weakest.split("：")[1].split("、"))
    assert "attention" not in text and "注意力" in text  # topics by their Chinese names
    alone = text_of(await router.handle(command("stats", "bob", channel="C2")))
    assert "作答 0 题" in alone and "最强主题" not in alone  # another channel's rounds are not these
    other = text_of(await router.handle(command("stats <@bob>", "alice")))
    assert "作答 3 题" in other


async def test_stats_and_board_in_a_dm_that_belongs_to_no_workspace(app: App, bank: Bank) -> None:
    """A Discord DM has no server: stats and the leaderboard there count the servers where the person plays."""
    router = Router(app)
    await router.handle(command("ask 1.4 --minutes 1"))
    await reply(router, "bob", bank.questions["1.4"].answer.zh)
    await router.handle(command("reveal"))
    no_server = room("D-bob", dm=True, workspace="")
    stats = await router.handle(replace(command("stats", "bob"), where=no_server))
    assert "作答 1 题" in text_of(stats)
    board = text_of(await router.handle(replace(command("leaderboard week server", "bob"), where=no_server)))
    assert "Bob" in board and "第 1 名" in board


async def test_replies_follow_the_round_that_is_open_now(app: App, settings: Settings, clock: FakeClock,
                                                         bank: Bank) -> None:
    """A reply is graded against the open round's question even when the round changed since the last
    reply in the channel: revealed and replaced here, or closed and replaced by another process on the
    same database (what the engine remembers about a channel is only a guess, checked when storing)."""
    router = Router(app)
    await router.handle(command("ask 1.4 --minutes 5"))
    assert "已记录" in await reply(router, "alice", bank.questions["1.4"].answer.zh)
    await router.handle(command("reveal"))
    practice = await reply(router, "bob", bank.questions["1.4"].answer.en, event_id="E-practice")
    assert "已记录" not in practice  # after the reveal: practice, graded privately
    await router.handle(command("ask 1.1 --minutes 5"))
    assert "已记录" in await reply(router, "alice", bank.questions["1.1"].answer.zh, event_id="E-1")
    assert await reply(router, "alice", bank.questions["1.1"].answer.zh, event_id="E-1") == ""  # same event again
    other = await build_app(settings, clock=clock, bank=bank)  # another process: closes 1.1, asks 1.9
    other.delivery.register("test", RecordingMessenger())
    other_router = Router(other)
    await other_router.handle(command("reveal"))
    await other_router.handle(command("ask 1.9 --minutes 5"))
    await other.close()
    assert "已记录" in await reply(router, "alice", bank.questions["1.9"].answer.zh)
    stored = [
        (round_id, a.practice, a.score)
        for round_id in (1, 2, 3)
        for a in await app.store.round_answers(round_id, include_practice=True)
    ]
    assert [(round_id, practice) for round_id, practice, _ in stored] == [(1, False), (1, True), (2, False), (3, False)]
    assert all(score is not None and score >= 60 for _r, _p, score in stored), stored
