"""One-on-one drills through the router with FakeClock: probes, timeouts, skip, stop, idle, restart, reviews."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.app import App, build_app, grader_for
from bot.clock import FakeClock
from bot.config import Settings
from bot.engine.drills import DrillFeedback, DrillOptions, DrillQuestion, DrillService, probe_grade
from bot.platforms.base import Command
from bot.storage.store import ItemAsk, ItemClose
from handlers.router import Router
from question_bank.schema import Bank
from tests.fakes.messenger import RecordingMessenger
from tests.helpers import command, messenger, room, text_of, user


def asked(app: App) -> list[str]:
    """Question ids asked so far, in order (probes as their parent id + marker)."""
    out = []
    for sent in messenger(app).sent:
        if sent.reply.kind == "question":
            qid = sent.reply.tags.get("qid", "?")
            out.append(qid)
    return out


def current_qid(app: App) -> str:
    return asked(app)[-1]


def answer_for(bank: Bank, qid: str, lang: str = "zh") -> str:
    """The reference answer of whatever is being asked (a built probe uses its question's)."""
    question = bank.get(qid.split("~")[0])
    assert question is not None, qid
    return question.answer.get(lang)


def dm(line: str, who: str = "alice") -> Command:
    return command(line, who, dm=True)


async def say(router: Router, text: str, who: str = "alice") -> str:
    """Send free text in the person's DM, as an adapter would."""
    replies = await router.message(replace(dm("", who), text=text, via="message"))
    return text_of(replies)


async def test_full_drill_in_chinese_with_a_probe(app: App, bank: Bank) -> None:
    """Three questions in zh: a thin first answer draws a probe; strong answers do not; a report ends it."""
    router = Router(app)
    await router.handle(dm("drill 3"))
    first = current_qid(app)
    await say(router, "这个我不太清楚，大概和训练有关吧。")
    await say(router, "done")
    sent = messenger(app).sent
    assert any(s.reply.kind == "feedback" for s in sent)
    probe = sent[-1].reply
    assert probe.kind == "question" and probe.title and "追问" in probe.title
    await say(router, answer_for(bank, current_qid(app)))
    await say(router, "好了")
    while messenger(app).sent[-1].reply.kind == "question":
        await say(router, answer_for(bank, current_qid(app)))
        await say(router, "完成")
    assert len({q.split("~")[0].split(".p")[0] for q in asked(app)}) == 3
    assert first in asked(app)
    report = messenger(app).sent[-1].reply
    assert report.kind == "report" and "成绩单" in (report.title or "")
    text = report.plain_text()
    assert "追问 1 次" in text or "追问 2 次" in text
    assert "复习安排" in text and "按主题" in text
    assert not any(tag in text for tag in ("attention", "training", "optimization"))  # topics named in Chinese
    drill = await app.store.latest_drill(1, ("finished",))
    assert drill is not None and drill.state == "finished"


async def test_full_drill_in_english(app: App, bank: Bank) -> None:
    """The same flow in English: the probe and report are in English."""
    router = Router(app)
    await router.handle(dm("lang en"))
    await router.handle(dm("drill 3"))
    await say(router, "Not sure, something about training.")
    await say(router, "done")
    probe = messenger(app).sent[-1].reply
    assert probe.kind == "question" and "Follow-up" in (probe.title or "")
    await say(router, "skip")
    while messenger(app).sent[-1].reply.kind == "question":
        await say(router, answer_for(bank, current_qid(app), "en"))
        await say(router, "done")
    report = messenger(app).sent[-1].reply
    assert report.kind == "report" and "Drill report" in (report.title or "")
    feedback = [s.text for s in messenger(app).sent if s.reply.kind == "feedback"]
    assert feedback and all(text.count("/100") == 1 for text in feedback)  # the score once, in the title
    assert all("key point" in text for text in feedback)


async def test_timeout_marks_unanswered_and_moves_on(app: App, clock: FakeClock) -> None:
    """No answer within the limit: unanswered, and the next question is asked."""
    router = Router(app)
    await router.handle(dm("drill 2 --minutes 2"))
    first = current_qid(app)
    await clock.advance(timedelta(minutes=2, seconds=1))
    texts = messenger(app).texts()
    assert any("未作答" in t for t in texts)
    assert current_qid(app) != first
    items = await app.store.drill_items(1)
    assert items[0].state == "unanswered"


async def test_parts_before_timeout_form_the_answer(app: App, clock: FakeClock, bank: Bank) -> None:
    """Messages sent before the time runs out are graded as the answer even without done."""
    router = Router(app)
    await router.handle(dm("drill 1 --minutes 1"))
    qid = current_qid(app)
    await say(router, bank.questions[qid].answer.zh)
    await clock.advance(61)
    items = await app.store.drill_items(1)
    assert items[0].state == "answered" and (items[0].score or 0) > 50


async def test_paused_drill_resumes_on_a_message(app: App, clock: FakeClock) -> None:
    """After two unanswered questions any message brings the drill back with the next question."""
    router = Router(app)
    await router.handle(dm("drill 3 --minutes 2"))
    await clock.advance(timedelta(minutes=5))
    await say(router, "sorry, back now")
    assert "欢迎回来" in messenger(app).texts()[-2]
    assert messenger(app).sent[-1].reply.kind == "question"
    items = await app.store.drill_items(1)
    assert [i.state for i in items] == ["unanswered", "unanswered", "asked"]


async def test_skip_is_recorded(app: App) -> None:
    """skip moves on and is recorded as skipped."""
    router = Router(app)
    await router.handle(dm("drill 2"))
    await say(router, "skip")
    items = await app.store.drill_items(1)
    assert items[0].state == "skipped" and items[1].state == "asked"


async def test_skipped_question_is_reviewed_with_score_zero(app: App) -> None:
    """A skipped question's review card records the 0 the report shows, not an empty score."""
    router = Router(app)
    await router.handle(dm("drill 1"))
    qid = current_qid(app)
    await say(router, "skip")
    assert [(q, score, reviews) for q, _due, score, reviews in await app.store.cards(1)] == [(qid, 0, 1)]


async def test_skipped_probe_counts_as_zero_on_the_review_card(app: App, bank: Bank) -> None:
    """A probe answered and a second one skipped: the review card gets the question's score as the
    report computes it from the stored items (the skipped probe counting 0)."""
    router = Router(app)
    await router.handle(dm("drill 1"))
    await say(router, "这个我不太清楚，大概和训练有关吧。")
    await say(router, "done")
    so_far = asked(app)
    assert len(so_far) == 2, "a thin answer draws a probe"
    await say(router, answer_for(bank, so_far[-1]))
    await say(router, "done")
    assert messenger(app).sent[-1].reply.kind == "question", "another missed key point draws a second probe"
    await say(router, "skip")
    items = await app.store.drill_items(1)
    assert [i.state for i in items] == ["answered", "answered", "skipped"]
    root, probe, _skipped = items
    assert root.score is not None and probe.score is not None
    expected = min(100, round(root.score + 0.5 * (100 - root.score) * (probe.score + 0) / 2 / 100))
    assert [score for _q, _due, score, _r in await app.store.cards(1)] == [expected]


async def test_i_still_dont_know_after_a_follow_up_ends_the_probing(app: App) -> None:
    """'I don't know' draws one follow-up; 'I don't know' again moves on instead of a second follow-up."""
    router = Router(app)
    await router.handle(dm("drill 1"))
    await say(router, "不知道。")
    await say(router, "done")
    assert len(asked(app)) == 2, "a follow-up gives the person a second chance"
    await say(router, "还是不知道。")
    await say(router, "done")
    assert len(asked(app)) == 2 and messenger(app).sent[-1].reply.kind == "report"


async def test_stop_gives_a_partial_report(app: App, bank: Bank) -> None:
    """drill stop ends at once with a report of what was done."""
    router = Router(app)
    await router.handle(dm("drill 4"))
    await say(router, bank.questions[current_qid(app)].answer.zh)
    await say(router, "done")
    await router.handle(dm("drill stop"))
    report = [s for s in messenger(app).sent if s.reply.kind == "report"][-1].reply
    text = report.plain_text()
    assert "1/" in text or "1 /" in text
    assert "提前结束：计划 4 题，问到了 2 题" in text  # what was planned, and that the rest does not count
    unanswered = next(line for line in text.splitlines() if "未作答" in line)
    assert "用时 —" in unanswered  # a question left when the drill stopped took no answering time
    assert await app.drills.active(user("alice")) is None


async def test_question_left_unanswered_at_stop_comes_back_for_review(app: App) -> None:
    """A question asked and never answered when the drill stops counts as Again, as the report says."""
    router = Router(app)
    await router.handle(dm("drill 3"))
    await say(router, "skip")
    left = current_qid(app)
    await router.handle(dm("drill stop"))
    cards = {q: (score, reviews) for q, _due, score, reviews in await app.store.cards(1)}
    assert cards[left] == (0, 1)
    assert len(cards) == 2, "the question never asked gets no card"


async def test_stopped_during_a_follow_up_the_question_keeps_its_score(app: App, bank: Bank) -> None:
    """Stopped while a follow-up is open: the question's card gets its score with the probe counting 0."""
    router = Router(app)
    await router.handle(dm("drill 1"))
    await say(router, "这个我不太清楚，大概和训练有关吧。")
    await say(router, "done")
    assert len(asked(app)) == 2, "a thin answer draws a probe"
    await router.handle(dm("drill stop"))
    root = (await app.store.drill_items(1))[0]
    assert root.score is not None
    expected = min(100, round(root.score + 0.5 * (100 - root.score) * 0 / 100))
    assert [score for _q, _due, score, _r in await app.store.cards(1)] == [expected]


async def test_a_language_switch_applies_to_the_drill_in_progress(app: App) -> None:
    """`lang en` in the DM mid-drill: the drill's next messages are in English, not only later drills'."""
    router = Router(app)
    await router.handle(dm("drill 2"))
    assert "第 1/2 题" in text_of([messenger(app).sent[-1].reply])
    await router.handle(dm("lang en"))
    await say(router, "skip")
    assert "Question 2 of 2" in text_of([messenger(app).sent[-1].reply])
    assert (await app.drills.status(user("alice"))).lang == "en"


async def test_second_drill_is_refused(app: App) -> None:
    """One drill at a time: starting a second says so."""
    router = Router(app)
    await router.handle(dm("drill 2"))
    replies = await router.handle(dm("drill 2"))
    assert "进行中" in text_of(replies)


async def test_idle_24_hours_ends_with_partial_report(app: App, clock: FakeClock) -> None:
    """A drill idle for 24 hours ends itself with a partial report."""
    router = Router(app)
    await router.handle(dm("drill 3 --minutes 5"))
    await clock.advance(timedelta(minutes=11))
    assert any("暂停" in t for t in messenger(app).texts())  # two unanswered: paused, not spamming the DM
    assert not [i for i in await app.store.drill_items(1) if i.state == "asked"]
    await clock.advance(timedelta(hours=25))
    texts = messenger(app).texts()
    assert any("24 小时" in t for t in texts)
    assert messenger(app).sent[-1].reply.kind == "report"
    drill = await app.store.get_drill(1)
    assert drill is not None and drill.state == "expired"


async def test_started_in_channel_moves_to_dm(app: App) -> None:
    """Started in a channel, the drill says so privately there and asks in the DM."""
    router = Router(app)
    replies = await router.handle(command("drill 1", channel="C9"))
    assert replies and replies[0].ephemeral and "私信" in text_of(replies)
    assert messenger(app).sent[-1].kind == "dm"


async def test_restart_mid_question_resumes_with_its_timer(settings: Settings, clock: FakeClock, bank: Bank) -> None:
    """Close the engine mid-question, reopen on the same file: the answer is kept and the timer still fires."""
    first = await build_app(settings, clock=clock, bank=bank)
    first.delivery.register("test", RecordingMessenger())
    await first.start()
    router = Router(first)
    await router.handle(dm("drill 2 --minutes 3"))
    await say(router, "部分回答：和方差有关。")
    await first.close()
    second = await build_app(settings, clock=clock, bank=bank)
    rec = RecordingMessenger()
    second.delivery.register("test", rec)
    await second.start()
    await clock.advance(timedelta(minutes=3, seconds=1))
    items = await second.store.drill_items(1)
    assert items[0].state == "answered"
    answers = await second.store.item_answers(items[0].id)
    assert answers[0].text == "部分回答：和方差有关。"
    assert any(s.reply.kind in ("feedback", "question") for s in rec.sent)
    await second.close()


async def test_dm_replies_follow_the_configured_language(settings: Settings, clock: FakeClock, bank: Bank) -> None:
    """A bot set to English answers a DM from someone who never chose a language in English."""
    english = await build_app(replace(settings, lang="en"), clock=clock, bank=bank)
    english.delivery.register("test", RecordingMessenger())
    await english.start()
    try:
        router = Router(english)
        for line in ("skip", "drill stop", "drill status"):
            told = text_of(await router.handle(dm(line)))
            assert "no drill" in told.lower() and "练习" not in told, (line, told)
    finally:
        await english.close()


async def test_weak_question_comes_back_sooner(app: App, clock: FakeClock, bank: Bank) -> None:
    """Over simulated weeks a badly answered question is due before a well answered one."""
    router = Router(app)
    await router.handle(dm("drill 2 --minutes 5"))
    weak = current_qid(app)
    await say(router, "不知道。")
    await say(router, "done")
    while messenger(app).sent[-1].reply.kind == "question" and "~" not in current_qid(app) and current_qid(app) == weak:
        await say(router, "skip")
    while messenger(app).sent[-1].reply.kind == "question" and current_qid(app).startswith((f"{weak}.", f"{weak}~")):
        await say(router, "skip")
    strong = current_qid(app)
    await say(router, bank.questions[strong].answer.zh)
    await say(router, "done")
    while messenger(app).sent[-1].reply.kind == "question":
        await say(router, answer_for(bank, current_qid(app)))
        await say(router, "done")
    cards = {qid: due for qid, due, _s, _r in await app.store.cards(1)}
    assert cards[weak] < cards[strong]
    await clock.advance(timedelta(days=2))
    due_now = [qid for qid, _d, _s in await app.store.due_cards(1, clock.now())]
    assert weak in due_now and strong not in due_now
    await router.handle(dm("review"))
    assert current_qid(app) == weak
    assert any("到期需要复习" in t and weak in t for t in messenger(app).texts())


async def test_review_offers_the_weakest_of_cards_due_together_first(app: App, clock: FakeClock) -> None:
    """Cards due at the same moment (a person back after a long break): the one answered worst comes first."""
    person = await app.store.ensure_user("test", "alice", "alice", clock.now())
    due = clock.now() - timedelta(days=1)
    async with app.db.transaction() as conn:
        for qid, score in (("1.1", 100), ("2.1", 10), ("3.1", 60)):
            await app.store.save_card(conn, user_id=person.id, question_id=qid, card_json="{}", due_at=due,
                                      reviewed_at=due - timedelta(days=3), score=score)
    assert [qid for qid, _d, _s in await app.store.due_cards(person.id, clock.now())] == ["2.1", "3.1", "1.1"]


async def test_review_with_nothing_due(app: App) -> None:
    """review with no cards says there is nothing yet, and records nobody who never drilled."""
    replies = await Router(app).handle(dm("review"))
    assert "还没有复习记录" in text_of(replies)
    assert await app.store.find_user("test", "alice") is None


async def test_report_again_with_answers(app: App, bank: Bank) -> None:
    """report shows the last drill again; --answers adds the reference answers."""
    router = Router(app)
    await router.handle(dm("drill 1"))
    qid = current_qid(app)
    await say(router, bank.questions[qid].answer.zh)
    await say(router, "done")
    while messenger(app).sent[-1].reply.kind == "question":
        await say(router, "skip")
    replies = await router.handle(dm("report --answers"))
    assert bank.questions[qid].answer.zh[:30] in text_of(replies)
    plain = await router.handle(dm("report"))
    assert bank.questions[qid].answer.zh[:30] not in text_of(plain)
    # in chat the answers are a button away; the terminal's command line is not shown there
    (report,) = [r for r in plain if r.kind == "report"]
    (button,) = report.buttons
    drill_id = re.fullmatch(r"report (\d+) --answers", button.action)
    assert drill_id is not None and drill_id.group(1) in (report.title or "")
    assert "interview-bot" not in text_of(plain)


async def test_drills_are_numbered_per_person(app: App) -> None:
    """Each person counts their own drills: bob's first drill is #1 although alice ran two before it, and
    `report 1` means the caller's own drill #1."""
    router = Router(app)
    for who in ("alice", "alice", "bob"):
        await router.handle(dm("drill 1", who))
        await say(router, "skip", who)
    titles = {who: text_of(await router.handle(dm("report", who))) for who in ("alice", "bob")}
    assert "#2" in titles["alice"] and "#1" in titles["bob"] and "#3" not in titles["alice"] + titles["bob"]
    mine = text_of(await router.handle(dm("report 2", "bob")))
    assert "#2" in mine and ("No drill #2 of yours" in mine or "找不到练习 #2" in mine)
    assert "#1" in text_of(await router.handle(dm("report 1", "bob")))
    await router.handle(dm("drill 1", "bob"))
    status = text_of(await router.handle(dm("drill status", "bob")))
    assert "#2" in status, status


async def test_a_reply_the_database_cannot_store_is_not_called_safe(app: App) -> None:
    """When storage fails (disk full, read-only: here SQLite's query_only), the person is told that what they
    sent was not stored and to send it again, not the usual "nothing you sent was lost"."""
    router = Router(app)
    await router.handle(dm("drill 1", "gus"))
    await app.store.db.conn.execute("PRAGMA query_only = 1")
    try:
        text = await say(router, "the scores are scaled by sqrt(d_k)", "gus")
        status = text_of(await router.handle(dm("drill stop", "gus")))
    finally:
        await app.store.db.conn.execute("PRAGMA query_only = 0")
    for said in (text, status):
        assert ("was not stored" in said or "没有保存" in said) and "lost" not in said and "没有丢失" not in said, said


async def test_overlong_and_empty_answers_are_refused(app: App) -> None:
    """A reply over 4,000 characters is refused naming the limit; nothing is stored."""
    router = Router(app)
    await router.handle(dm("drill 1"))
    text = await say(router, "长" * 4001)
    assert "4000" in text
    assert await app.store.item_answers(1) == []


@pytest.mark.parametrize("line", ["drill 0", "drill --section 9", "drill --minutes soon", "drill --tag nope"])
async def test_bad_drill_arguments(app: App, line: str) -> None:
    """Bad arguments get a short message with the valid forms, and nothing starts."""
    replies = await Router(app).handle(dm(line))
    assert replies and replies[0].kind == "error"
    assert await app.drills.active(user("alice")) is None


async def test_self_graded_drill_rates_and_moves_on(app: App) -> None:
    """A self-graded drill shows the reference and waits for again/hard/good/easy."""
    options = DrillOptions(count=1, grading="self")
    await app.delivery.send(await app.drills.start(user("bob"), room("D-bob", dm=True), options))
    await app.drills.message(user("bob"), "my answer")
    await app.delivery.send(await app.drills.submit(user("bob")))
    assert "again" in messenger(app).sent[-1].reply.plain_text()
    await app.delivery.send(await app.drills.rate(user("bob"), "hard"))
    report = messenger(app).sent[-1].reply
    assert report.kind == "report"
    # no score was given, so the report has none to average: the rating stands on the question's line
    assert "自评练习，没有自动评分（1/1 题作答）" in report.plain_text() and "0/100" not in report.plain_text()
    assert "自评：勉强" in report.plain_text() and "hard 分" not in report.plain_text()


async def test_self_graded_drill_with_a_skip_has_no_score_to_average(app: App) -> None:
    """One question rated (in Chinese words), one skipped: no 'Overall 0/100' from the skip alone, and no
    topics scored from it; the rating is named in the reader's language."""
    options = DrillOptions(count=2, grading="self", lang="en")
    await app.delivery.send(await app.drills.start(user("bob"), room("D-bob", dm=True), options))
    await app.drills.message(user("bob"), "my answer")
    await app.delivery.send(await app.drills.submit(user("bob")))
    await app.delivery.send(await app.drills.rate(user("bob"), "不错"))  # the Chinese prompt's word for good
    await app.delivery.send(await app.drills.skip(user("bob")))
    text = messenger(app).sent[-1].reply.plain_text()
    assert "Self-rated drill, no automatic score (1 of 2 answered)" in text, text
    assert "rated good" in text and "By topic" not in text and "0/100" not in text


def test_strongest_and_weakest_only_when_topics_differ() -> None:
    """A report names strongest and weakest topics only when their scores differ."""
    from bot.engine.drills import strongest_and_weakest

    assert strongest_and_weakest((("attention", 19), ("efficiency", 19))) == ((), ())
    assert strongest_and_weakest((("attention", 80), ("bert", 40), ("gpt", 60))) == (("attention",), ("bert",))
    # the best of a weak drill is not called a strength; its weakest topics are still named
    assert strongest_and_weakest((("embeddings", 2), ("attention", 0))) == ((), ("attention",))


async def test_drill_for_someone_with_closed_dms_is_withdrawn(app: App) -> None:
    """If the first question cannot be sent by DM, the person is told how to fix it and no drill remains."""
    messenger(app).dms_closed.add("dana")
    replies = await Router(app).handle(command("drill 2", "dana", channel="C9"))
    assert replies[0].kind == "error" and "无法给你发私信" in text_of(replies)
    assert await app.drills.active(user("dana")) is None
    assert await app.store.latest_drill(1, ("active", "stopped", "finished", "expired")) is None
    messenger(app).dms_closed.clear()
    started = await Router(app).handle(command("drill 1", "dana", channel="C9"))
    assert "私信" in text_of(started) and await app.drills.active(user("dana")) is not None


async def test_dm_words_that_look_like_commands(app: App) -> None:
    """In a drill, answers are stored as answers; command words (also quoted) still act as commands."""
    router = Router(app)
    assert "drill" in await say(router, "")  # an empty line is help, which lists the commands
    await say(router, "'drill' 2")  # quoted, as a shell would read it: starts the drill
    assert messenger(app).sent[-1].reply.kind == "question"
    texts = ["helpful heads attend in subspaces", "Skipping connections help gradients", "it's 'scaled' dot-product"]
    for text in texts:
        await say(router, text)
    items = await app.store.drill_items(1)
    parts = await app.store.item_answers(items[0].id)
    assert [p.text for p in parts] == texts
    await say(router, "Skip")
    items = await app.store.drill_items(1)
    assert items[0].state == "skipped"


# weak but not empty: it says something, none of it a key point (an "I don't know" ends the probing)
VAGUE = "我觉得这个和模型的训练过程有关系，但是具体的原理我记不太清楚了。"


async def _probe_event(app: App, who: str, reply: str) -> DrillQuestion:
    """Answer `reply` to whatever is asked until a built probe (one on a missed key point) is asked."""
    person = user(who)
    for _ in range(4):
        await app.drills.message(person, reply)
        for out in await app.drills.submit(person):
            if isinstance(out.event, DrillQuestion) and "~" in out.event.question.id:
                return out.event
    raise AssertionError("no built probe was asked")


async def test_built_probe_is_the_same_question_and_grades_the_same(app: App) -> None:
    """A probe on a key point is built once: asking and grading it use the same question, graded as ever."""
    await app.drills.start(user("alice"), room("D-alice", dm=True), DrillOptions(count=1))
    probe = await _probe_event(app, "alice", VAGUE)
    assert probe.question.key_points and len(probe.question.key_points) == 1
    reply = probe.question.key_points[0].text.zh
    await app.drills.message(user("alice"), reply)
    feedback = next(o.event for o in await app.drills.submit(user("alice")) if isinstance(o.event, DrillFeedback))
    assert feedback.question is probe.question
    assert feedback.grade == probe_grade(grader_for(app.bank).grade(probe.question, reply))
    assert feedback.grade is not None and feedback.grade.covered


async def test_a_follow_up_answered_by_making_its_point_scores_full_marks(app: App) -> None:
    """A short reply that makes the probed point is a full answer to the follow-up: "1 of 1 key points
    covered" shows 100/100, although the grader's score, which also weighs similarity to a reference
    text, is lower for so short a reply.  The question's final score gains from it as well."""
    await app.drills.start(user("fay"), room("D-fay", dm=True), DrillOptions(count=1, lang="zh"))
    probe = await _probe_event(app, "fay", VAGUE)
    point = probe.question.key_points[0]
    reply = f"应该是{point.aliases_zh[0]}吧"
    raw = grader_for(app.bank).grade(probe.question, reply)
    assert raw.covered == (point.id,) and raw.score < 100
    await app.drills.message(user("fay"), reply)
    feedback = next(o.event for o in await app.drills.submit(user("fay")) if isinstance(o.event, DrillFeedback))
    assert feedback.grade is not None and feedback.grade.score == 100 and feedback.grade.covered == (point.id,)
    stuffed = probe_grade(replace(raw, flags=("keyword_list",), score=2))
    assert stuffed.score == 2  # a gamed reply keeps its capped score


async def test_status_while_an_answer_waits_for_its_rating(app: App) -> None:
    """drill status says the answer waits for a rating, not '0:00 left' on a clock that does not run."""
    options = DrillOptions(count=2, grading="self", lang="en")
    await app.delivery.send(await app.drills.start(user("bob"), room("D-bob", dm=True), options))
    await app.drills.message(user("bob"), "my answer")
    await app.delivery.send(await app.drills.submit(user("bob")))
    router = Router(app)
    text = text_of(await router.handle(command("drill status", "bob", dm=True)))
    assert "question 1 of 2" in text and "waits for your rating" in text and "left" not in text, text


async def test_a_self_graded_answer_never_rated_counts_as_again(app: App) -> None:
    """A self-graded drill stopped at the rating: the answer gets a review card (Again) and its report line
    says it was not rated."""
    options = DrillOptions(count=2, grading="self", lang="en")
    await app.delivery.send(await app.drills.start(user("bob"), room("D-bob", dm=True), options))
    await app.drills.message(user("bob"), "my answer")
    await app.delivery.send(await app.drills.submit(user("bob")))
    qid = (await app.store.drill_items(1))[0].question_id
    await app.delivery.send(await app.drills.stop(user("bob")))
    assert [(q, score) for q, _due, score, _r in await app.store.cards(1)] == [(qid, None)]
    assert f"{qid} · — · 0:00 · not rated" in messenger(app).sent[-1].reply.plain_text()


async def test_the_report_counts_a_key_point_covered_in_a_follow_up(app: App) -> None:
    """A key point missed in the answer and then covered in its follow-up is listed as covered in the report."""
    await app.drills.start(user("carl"), room("D-carl", dm=True), DrillOptions(count=1))
    probe = await _probe_event(app, "carl", VAGUE)
    point = probe.question.key_points[0]
    await app.drills.message(user("carl"), point.text.zh)
    await app.drills.submit(user("carl"))
    while (await app.drills.active(user("carl"))) is not None:
        await app.drills.skip(user("carl"))
    report = await app.drills.report(user("carl"))
    line = next(line for line in report.lines if line.qid == probe.question.id.split("~")[0])
    assert point.id in line.covered and point.id not in line.missed


async def test_probe_answers_are_graded_with_the_first_answer(app: App, bank: Bank) -> None:
    """After a probe, what was said in the answer and the probe together decides a second probe: a probe
    answer that covers everything ends the question, a weak one draws a probe on another key point."""
    for who, second_reply, expect_second_probe in (("alice", None, False), ("bob", VAGUE, True)):
        person = user(who)
        await app.drills.start(person, room(f"D-{who}", dm=True), DrillOptions(count=2))
        await app.drills.message(person, "不太清楚。")
        first = [o.event for o in await app.drills.submit(person) if isinstance(o.event, DrillQuestion)]
        assert first and first[0].probe_text is not None  # an important key point was missed: a probe
        root_id = (first[0].question.parent or first[0].question.id).split("~")[0]
        await app.drills.message(person, second_reply or bank.questions[root_id].answer.zh)
        asked = [o.event for o in await app.drills.submit(person) if isinstance(o.event, DrillQuestion)]
        assert asked
        is_probe = asked[0].probe_text is not None
        assert is_probe == expect_second_probe, who
        if is_probe:
            assert asked[0].question.id != first[0].question.id
            assert (asked[0].question.parent or asked[0].question.id).split("~")[0] == root_id


async def test_a_step_on_an_item_no_longer_asked_writes_nothing(app: App) -> None:
    """Closing an item and asking the next one is one transaction: when the item was closed already
    (a timer and a reply racing), nothing of the step is written."""
    router = Router(app)
    await router.handle(dm("drill 2"))
    first, second = await app.store.drill_items(1)
    now = app.clock.now()
    close = ItemClose(first.id, "skipped", now, DrillService.KIND_DEADLINE)
    ask = ItemAsk(now, now + timedelta(minutes=5), DrillService.KIND_DEADLINE, item_id=second.id)
    assert await app.store.drill_step(close=close) is not None
    assert await app.store.drill_step(close=close, ask=ask) is None
    items = await app.store.drill_items(1)
    assert [i.state for i in items] == ["skipped", "pending"]
    assert await app.store.timers_for(DrillService.KIND_DEADLINE, second.id) == []


async def test_state_kept_between_answers_is_what_the_rows_say(app: App, clock: FakeClock, bank: Bank) -> None:
    """The drill state kept in memory for the next `done` equals what the database would give, after
    every kind of step: parts, a probe, skip, a timeout with and without parts, a pause and its resume,
    and a question that already has a review card.  Other paths drop it."""
    router = Router(app)
    await router.handle(dm("drill 2"))
    for _ in range(6):  # a first drill, so that its questions have review cards later
        if messenger(app).sent[-1].reply.kind != "question":
            break
        await say(router, "不太清楚。")
        await say(router, "done")
    person = await app.store.find_user("test", "alice")
    assert person is not None
    checked = 0

    async def check() -> None:
        nonlocal checked
        kept = app.drills.kept_state(person.id)
        if kept is not None:
            assert kept == await app.store.drill_state(person.id)
            checked += 1

    await clock.advance(timedelta(days=60))  # both reviewed questions are due, so the next drill asks them first
    await router.handle(dm("drill 5 --minutes 3"))
    await check()
    state = app.drills.kept_state(person.id)
    assert state is not None and state.card is not None  # a question that was reviewed before
    await say(router, "不太清楚，")
    await check()
    await say(router, "大概和训练有关吧。")
    await check()
    await say(router, "done")  # a thin answer: a probe
    await check()
    state = app.drills.kept_state(person.id)
    assert state is not None and state.current is not None and state.current.parent_item_id is not None
    await say(router, answer_for(bank, current_qid(app)))
    await say(router, "done")
    await check()
    await say(router, "skip")
    await check()
    await say(router, "部分想法")
    await clock.advance(timedelta(minutes=3, seconds=1))  # time runs out on a part: it is the answer
    await check()
    while messenger(app).sent[-1].reply.kind == "question" and "追问" in (messenger(app).sent[-1].reply.title or ""):
        await say(router, "skip")
        await check()
    await clock.advance(timedelta(minutes=7))  # two questions unanswered: paused, nothing kept
    assert app.drills.kept_state(person.id) is None
    await say(router, "回来了")
    await check()
    assert app.drills.kept_state(person.id) is not None
    assert checked >= 9
    await router.handle(dm("drill stop"))
    assert app.drills.kept_state(person.id) is None
    assert await app.store.drill_state(person.id) is None


async def test_answer_parts_with_a_state_kept(app: App) -> None:
    """With the asked item known in memory a part is one conditional insert: a platform's retry of the
    same event is stored once (and kept once), and an item closed behind the engine's back (another
    writer) gets nothing: the part takes the path that reads the rows."""
    router = Router(app)
    await router.handle(dm("drill 2"))
    person = await app.store.find_user("test", "alice")
    assert person is not None
    kept = app.drills.kept_state(person.id)
    assert kept is not None and kept.current is not None
    first = kept.current
    for _ in range(2):
        await router.message(replace(dm("", "alice"), text="注意力的缩放", via="message", event_id="E1"))
    assert [p.text for p in await app.store.item_answers(first.id)] == ["注意力的缩放"]
    assert app.drills.kept_state(person.id) == await app.store.drill_state(person.id)

    now = app.clock.now()
    assert await app.store.drill_step(close=ItemClose(first.id, "skipped", now, DrillService.KIND_DEADLINE))
    await say(router, "another writer closed the item")
    assert [p.text for p in await app.store.item_answers(first.id)] == ["注意力的缩放"]
    assert messenger(app).sent[-1].reply.kind == "question"  # the drill goes on with the next question
    items = await app.store.drill_items(1)
    assert [i.state for i in items] == ["skipped", "asked"]
    assert app.drills.kept_state(person.id) == await app.store.drill_state(person.id)


async def test_kept_states_are_bounded_and_an_evicted_one_is_read_again(
    app: App, bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the most recently stepped people keep their state in memory; someone whose copy was dropped
    to make room answers as ever (the state is read from the rows)."""
    import bot.engine.drills as drills_module

    monkeypatch.setattr(drills_module, "KEPT_STATES", 2)
    router = Router(app)
    for who in ("alice", "bob", "carol"):
        await router.handle(dm("drill 1", who))
    ids = {}
    for who in ("alice", "bob", "carol"):
        found = await app.store.find_user("test", who)
        assert found is not None
        ids[who] = found.id
    assert app.drills.kept_state(ids["alice"]) is None  # the oldest made room
    assert app.drills.kept_state(ids["bob"]) is not None and app.drills.kept_state(ids["carol"]) is not None
    await say(router, answer_for(bank, asked(app)[0]), "alice")
    await say(router, "done", "alice")
    items = await app.store.drill_items(1)
    assert items[0].state == "answered" and (items[0].score or 0) > 50


def test_a_tag_is_found_whatever_its_case_and_choices_are_listed_in_order(bank: Bank) -> None:
    """`--tag Attention` means attention; the valid choices come alphabetically, sections numerically."""
    from bot.engine.selection import ScopeError, parse_scope

    assert parse_scope(bank, None, "Attention").tag == "attention"
    with pytest.raises(ScopeError) as unknown:
        parse_scope(bank, None, "Nope")
    assert unknown.value.valid == sorted(unknown.value.valid) and unknown.value.value == "Nope"
    with pytest.raises(ScopeError) as section:
        parse_scope(bank, "9", None)
    assert section.value.valid == ["1", "2", "3", "4"]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_missed_point_is_followed_up_with_its_own_probe(app: App, bank: Bank, lang: str) -> None:
    """The follow-up on a missed key point asks the bank's probe of that point, in the drill's language."""
    await app.drills.start(user("dana"), room("D-dana", dm=True), DrillOptions(count=1, lang=lang))
    probe = await _probe_event(app, "dana", VAGUE)
    qid, _, point_id = probe.question.id.partition("~")
    question = bank.get(qid)
    assert question is not None
    point = next(kp for kp in question.key_points if kp.id == point_id)
    assert point.probe is not None and probe.probe_text == point.probe.get(lang)


async def test_without_a_probe_the_follow_up_uses_the_hint_or_the_topic(
    settings: Settings, clock: FakeClock, bank: Bank
) -> None:
    """A bank whose points have no probe still follows up: with the question's hint for its most important
    point, else naming the point's topic."""
    bare = replace(bank, questions={
        qid: replace(q, key_points=tuple(replace(kp, probe=None) for kp in q.key_points))
        for qid, q in bank.questions.items()
    })
    plain = await build_app(settings, clock=clock, bank=bare)
    plain.delivery.register("test", RecordingMessenger())
    await plain.start()
    try:
        await plain.drills.start(user("eve"), room("D-eve", dm=True), DrillOptions(count=1, lang="zh"))
        probe = await _probe_event(plain, "eve", VAGUE)
        question = bare.get(probe.question.id.partition("~")[0])
        assert question is not None and probe.probe_text is not None
        assert question.hint.zh in probe.probe_text or "关键点" in probe.probe_text, probe.probe_text
    finally:
        await plain.close()


async def test_the_feedback_before_a_follow_up_keeps_the_missed_points_back(app: App, bank: Bank) -> None:
    """An answer that draws a follow-up is not told the missed points first: the follow-up would ask about a
    point the candidate has just read.  Feedback with nothing after it lists them, and so does the report."""
    router = Router(app)
    await router.handle(dm("drill 1"))
    question = bank.get(current_qid(app))
    assert question is not None
    await say(router, "这个我不太清楚，大概和训练有关吧。")
    await say(router, "done")
    feedback, probe = (s.reply for s in messenger(app).sent[-2:])
    assert feedback.kind == "feedback" and probe.kind == "question" and "追问" in (probe.title or "")
    text = feedback.plain_text()
    assert "还有" in text and "\n· " not in text
    assert not [kp.id for kp in question.key_points if kp.text.zh in text], text
    while messenger(app).sent[-1].reply.kind == "question":
        await say(router, "还是不清楚。")
        await say(router, "done")
    last_feedback = next(s.reply for s in reversed(messenger(app).sent) if s.reply.kind == "feedback")
    assert "\n· " in last_feedback.plain_text()
    report = messenger(app).sent[-1].reply.plain_text()
    assert any(kp.text.zh in report for kp in question.key_points)
