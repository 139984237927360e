"""The Slack adapter end to end: the real bolt app over HTTP on 127.0.0.1, signed requests, the fake Web API.

The engine runs with a FakeClock and a real SQLite file; every Web API call the app
makes lands in FakeSlackAPI, which the tests poll (no fixed sleeps).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.app import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.platforms.base import Block, Button, ConversationRef, Field, Reply, UserText
from bot.platforms.slack import render
from bot.platforms.slack.app import SlackBot, authenticate, build_slack_app
from bot.platforms.slack.server import web_app
from question_bank.schema import Bank
from tests.conftest import START
from tests.fakes.slack_api import (
    BOT_USER_ID,
    CHANNEL_ID,
    FORM_TYPE,
    TEAM_ID,
    USER_ID,
    Call,
    Delivered,
    FakeSlackAPI,
    SlackRequest,
    block_actions,
    block_actions_payload,
    deliver,
    event_callback,
    im_message_event,
    serve_web_app,
    slash_command,
    start_fake_slack,
    view_submission,
)

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-bot-token-0001"
BOB, CAROL, ADMIN, MALLORY, EVIL = "U0BOB", "U0CAROL", "U0ADMIN", "U0MALLORY", "U0EVIL"
STRONG_14 = "因为 QK^T 的方差随 d_k 增大，softmax 会饱和、梯度消失，所以除以 sqrt(d_k) 让方差回到 1。"


@dataclass
class SlackEnv:
    """The engine, the adapter around it, the fake Slack, and helpers that speak like Slack."""

    fake: FakeSlackAPI
    engine: App
    bot: SlackBot
    clock: FakeClock
    url: str

    async def send(self, request: SlackRequest, **options: Any) -> Delivered:
        """POST a signed request to /slack/events."""
        return await deliver(self.url, request, SECRET, **options)

    async def slash(self, text: str, user: str = USER_ID, channel: str = CHANNEL_ID) -> Delivered:
        """`/interview <text>` with a response_url on the fake."""
        return await self.send(slash_command(text, user_id=user, channel_id=channel,
                                             response_url=self.fake.response_url()))

    async def thread_reply(self, text: str, user: str, thread_ts: str, event_id: str, **options: Any) -> Delivered:
        """A message.channels event in a question's thread."""
        event = im_message_event(text, user_id=user, channel_id=CHANNEL_ID, channel_type="channel", thread_ts=thread_ts,
                                 parent_user_id=BOT_USER_ID)
        return await self.send(event_callback(event, event_id=event_id), **options)

    async def click(self, element: dict[str, Any], user: str, message_ts: str, channel: str = CHANNEL_ID) -> Delivered:
        """A block_actions click on a button the app rendered."""
        return await self.send(block_actions(element["action_id"], element["value"], user, channel,
                                             message_ts=message_ts, response_url=self.fake.response_url()))

    async def question_ts(self, round_id: int) -> str:
        """The ts of the round's question message, as the engine stored it."""
        row = await self.engine.store.get_round(round_id)
        assert row is not None and row.message_ref is not None
        return row.message_ref[2]


@pytest.fixture
async def env(tmp_path: Path, bank: Bank) -> AsyncIterator[SlackEnv]:
    """A started engine and Slack adapter served on 127.0.0.1, talking to a fake Slack."""
    fake = await start_fake_slack()
    for user_id, name in ((USER_ID, "Alice"), (BOB, "Bob"), (CAROL, "Carol"), (MALLORY, "Mallory")):
        fake.add_user(user_id, name)
    fake.add_user(ADMIN, "Boss", is_admin=True)
    fake.add_user(EVIL, "<!here> Eve")
    clock = FakeClock(START)
    settings = Settings(db_path=tmp_path / "bot.sqlite3", slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET,
                        slack_api_url=fake.api_url)
    engine = await build_app(settings, clock=clock, bank=bank)
    try:
        bot = build_slack_app(engine, settings)
        bot.identity = await authenticate(bot.client, settings)
        await engine.start()
        await clock.settle()
        async with serve_web_app(web_app(bot)) as base:
            yield SlackEnv(fake, engine, bot, clock, f"{base}/slack/events")
            await bot.drain()
    finally:
        await engine.close()
        await fake.close()


def buttons_of(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def field_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [f["text"] for b in blocks if b["type"] == "section" and "fields" in b for f in b["fields"]]


def everything(call: Call) -> str:
    """A call's text and blocks as one string, for content checks."""
    return json.dumps({"text": call.args.get("text"), "blocks": call.arg("blocks")}, ensure_ascii=False)


def to(user: str) -> Any:
    return lambda c: c.args.get("user") == user


# -- the full round ---------------------------------------------------------------------------------


async def test_full_round_from_ask_to_leaderboard(env: SlackEnv, bank: Bank) -> None:
    """ask -> Block Kit question -> modal answer + two thread replies -> reveal in the thread -> leaderboard."""
    assert (await env.slash("ask 1.4")).status == 200
    post = await env.fake.wait_for("chat.postMessage")
    assert post.args["channel"] == CHANNEL_ID and "thread_ts" not in post.args
    blocks = post.arg("blocks")
    assert blocks[0]["type"] == "header" and "1.4" in blocks[0]["text"]["text"]
    fields = field_texts(blocks)
    assert any(f.endswith("\n1.4") for f in fields) and any("<!date^" in f for f in fields)
    labels = [b["text"]["text"] for b in buttons_of(blocks)]
    assert labels == ["回答", "提示", "揭晓"] and post.args["text"]
    asked = await env.fake.wait_for("response_url")
    assert asked.args["response_type"] == "ephemeral"
    ts = await env.question_ts(1)

    answer_button = buttons_of(blocks)[0]
    assert (await env.click(answer_button, USER_ID, ts)).status == 200
    opened = await env.fake.wait_for("views.open")
    view = opened.arg("view")
    assert view["type"] == "modal" and json.loads(view["private_metadata"])["ts"] == ts
    strong = bank.questions["1.4"].answer.zh
    values = {render.ANSWER_BLOCK: {render.ANSWER_INPUT: {"type": "plain_text_input", "value": strong}}}
    submitted = view_submission(view["callback_id"], view["private_metadata"], values, USER_ID, view_id="V0A")
    assert (await env.send(submitted)).status == 200
    await env.fake.wait_for("chat.postEphemeral", to(USER_ID))

    await env.thread_reply("不知道", BOB, ts, "EvBOB1")
    await env.thread_reply(STRONG_14[:30], CAROL, ts, "EvCAROL1")
    for user in (BOB, CAROL):
        recorded = await env.fake.wait_for("chat.postEphemeral", to(user))
        assert recorded.args["thread_ts"] == ts
    answers = await env.engine.store.round_answers(1)
    assert len(answers) == 3 and sorted(a.visible for a in answers) == [False, True, True]

    await env.clock.advance(timedelta(minutes=5, seconds=1))
    reveal = await env.fake.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == ts
                                     and "Alice" in everything(c))
    shown = everything(reveal)
    for name in ("Alice", "Bob", "Carol"):
        assert name in shown
    assert strong[:15] in shown and "分" in shown
    summary = await env.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c.args and c is not post)
    assert "3" in summary.args["text"]

    assert (await env.slash("leaderboard")).status == 200
    board = await env.fake.wait_for("response_url", lambda c: c.args.get("response_type") == "in_channel")
    text = everything(board)
    assert text.index("Alice") < text.index("Bob")
    assert (await env.slash(f"stats <@{BOB}|bob>")).status == 200
    stats = await env.fake.wait_for("response_url", lambda c: "Bob" in everything(c) and c is not board)
    assert stats.args["response_type"] == "ephemeral"


async def test_rate_limited_post_is_retried(env: SlackEnv) -> None:
    """A 429 with Retry-After on chat.postMessage is retried by the client; the question still appears."""
    env.fake.fail_next("chat.postMessage", retry_after=0)
    started = time.monotonic()
    assert (await env.slash("ask 1.2")).status == 200
    await env.fake.wait_for("chat.postMessage", lambda c: c.error is None)
    assert [c.error for c in env.fake.calls("chat.postMessage")] == ["ratelimited", None]
    assert time.monotonic() - started < 3
    await env.fake.wait_for("response_url")  # the asker is told after the post's ts was stored
    assert await env.question_ts(1)


async def test_a_reveal_post_failing_with_a_text_body_is_posted_again(
    env: SlackEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 with an HTML/text body (a proxy, an outage) on the reveal is logged by its status and the reveal
    is posted again by the announce timer; the round is not lost."""
    await ask_and_wait(env)
    ts = await env.question_ts(1)
    assert (await env.thread_reply("缩放是为了控制方差", BOB, ts, "Ev-text-1")).status == 200
    await env.fake.wait_for("chat.postEphemeral")  # the reply was recorded
    env.fake.fail_next("chat.postMessage", error="<html>upstream error</html>", status=500, text=True)
    with caplog.at_level(logging.WARNING):
        await env.clock.advance(timedelta(minutes=5, seconds=1))
        await env.fake.wait_for("chat.postMessage", lambda c: c.error is not None)
        await env.clock.advance(timedelta(seconds=30))
        reveal = await env.fake.wait_for(
            "chat.postMessage", lambda c: c.error is None and c.args.get("thread_ts") == ts
        )
    assert "1.4" in everything(reveal)
    assert "error=http_500" in caplog.text and "AttributeError" not in caplog.text


async def test_a_slack_stand_in_that_answers_only_ok_still_runs_rounds_and_drills(env: SlackEnv) -> None:
    """A proxy or minimal stand-in answering every call with {"ok": true} (no ts, no channel): the question is
    posted (the round is not cancelled), its reveal goes to the channel, and a drill reaches the person's DM."""
    env.fake.bare_answers = True
    assert (await env.slash("ask 1.4")).status == 200
    told = await env.fake.wait_for("response_url")
    assert "已发布" in everything(told)
    assert (await env.slash("reveal")).status == 200
    reveal = await env.fake.wait_for("chat.postMessage", lambda c: "1.4" in everything(c) and "thread_ts" not in c.args
                                     and c is not env.fake.calls("chat.postMessage")[0])
    assert reveal.args["channel"] == CHANNEL_ID
    assert (await env.slash("drill 1", USER_ID)).status == 200
    asked = await env.fake.wait_for("chat.postMessage", lambda c: c.args.get("channel") == USER_ID)
    assert "1/1" in everything(asked)


# -- security: signatures, replays, injection, permissions ---------------------------------------------


async def test_bad_signature_and_stale_timestamp_are_refused(env: SlackEnv, caplog: pytest.LogCaptureFixture) -> None:
    """Wrong secret or a 10-minute-old timestamp: 401, nothing posted, nothing recorded, no user text logged."""
    caplog.set_level(logging.INFO)
    ask_request = slash_command("ask 1.4", response_url=env.fake.response_url())
    assert (await deliver(env.url, ask_request, "wrong-secret")).status == 401
    assert (await env.send(ask_request, timestamp=int(time.time()) - 600)).status == 401
    assert env.fake.calls("chat.postMessage") == []

    await ask_and_wait(env)
    ts = await env.question_ts(1)
    secret_text = "my private reply about softmax"
    reply = event_callback(im_message_event(secret_text, user_id=BOB, channel_id=CHANNEL_ID, channel_type="channel",
                                            thread_ts=ts), event_id="EvFORGED")
    assert (await deliver(env.url, reply, "wrong-secret")).status == 401
    assert (await env.send(reply, timestamp=int(time.time()) - 600)).status == 401
    await env.bot.drain()
    assert await env.engine.store.round_answers(1, include_practice=True) == []
    assert len(env.fake.calls("chat.postMessage")) == 1
    assert secret_text not in caplog.text


async def ask_and_wait(env: SlackEnv, line: str = "ask 1.4", user: str = USER_ID) -> Call:
    """Ask a question and wait until it is posted and the asker was told."""
    before = len(env.fake.calls("chat.postMessage"))
    answered = len(env.fake.calls("response_url"))
    assert (await env.slash(line, user)).status == 200
    post = await env.fake.wait_for("chat.postMessage", count=before + 1)
    await env.fake.wait_for("response_url", count=answered + 1)
    return post


async def test_replayed_event_records_one_answer(env: SlackEnv) -> None:
    """The same event_id delivered again with X-Slack-Retry-Num: 1 records one answer and answers once."""
    await ask_and_wait(env)
    ts = await env.question_ts(1)
    assert (await env.thread_reply("多头注意力", BOB, ts, "EvREPLAY")).status == 200
    await env.fake.wait_for("chat.postEphemeral", to(BOB))
    assert (await env.thread_reply("多头注意力", BOB, ts, "EvREPLAY", retry_num=1)).status == 200
    await env.bot.drain()
    assert len(await env.engine.store.round_answers(1)) == 1
    assert len(env.fake.calls("chat.postEphemeral")) == 1


async def test_bots_edits_and_chatter_are_ignored(env: SlackEnv) -> None:
    """Bots, edits, chatter and other people's threads record nothing; an "also send to channel" reply counts."""
    await ask_and_wait(env)
    ts = await env.question_ts(1)
    bot_reply = im_message_event("I am a bot", user_id="U0OTHERBOT", channel_id=CHANNEL_ID, channel_type="channel",
                                 thread_ts=ts, bot_id="B0OTHER")
    edited = im_message_event("edited", user_id=BOB, channel_id=CHANNEL_ID, channel_type="channel", thread_ts=ts,
                              subtype="message_changed")
    chatter = im_message_event("lunch?", user_id=BOB, channel_id=CHANNEL_ID, channel_type="channel")
    other_thread = im_message_event("+1", user_id=BOB, channel_id=CHANNEL_ID, channel_type="channel",
                                    thread_ts="1690000000.000100", parent_user_id=CAROL)
    for n, event in enumerate((bot_reply, edited, chatter, other_thread)):
        assert (await env.send(event_callback(event, event_id=f"EvIGN{n}"))).status == 200
    await env.bot.drain()
    assert await env.engine.store.round_answers(1, include_practice=True) == []
    assert env.fake.calls("chat.postEphemeral") == []
    broadcast = im_message_event("多头关注不同子空间", user_id=BOB, channel_id=CHANNEL_ID, channel_type="channel",
                                 thread_ts=ts, subtype="thread_broadcast")
    assert (await env.send(event_callback(broadcast, event_id="EvBCAST"))).status == 200
    await env.fake.wait_for("chat.postEphemeral", to(BOB))
    assert len(await env.engine.store.round_answers(1)) == 1


async def test_mentions_in_replies_and_names_are_escaped(env: SlackEnv) -> None:
    """A full reveal shows <!channel>, <!here>, <@U123> and links only as escaped text, never as controls."""
    assert (await env.slash("settings reveal-mode full", ADMIN)).status == 200
    changed = await env.fake.wait_for("response_url")
    assert "full" in everything(changed)
    await ask_and_wait(env, "ask 1.1", ADMIN)
    ts = await env.question_ts(1)
    evil = "<!channel> <!here> <@U123> <https://evil.example|click> 多头注意力关注不同子空间 & more"
    await env.thread_reply(evil, EVIL, ts, "EvEVIL")
    await env.fake.wait_for("chat.postEphemeral", to(EVIL))
    assert (await env.slash("reveal", ADMIN)).status == 200
    reveal = await env.fake.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    shown = everything(reveal)
    assert "&lt;!channel&gt;" in shown and "&lt;!here&gt;" in shown and "&lt;@U123&gt;" in shown
    assert "&lt;https://evil.example|click&gt;" in shown and "&amp; more" in shown
    assert "<" not in shown and ">" not in shown
    for call in env.fake.calls("chat.postMessage") + env.fake.calls("chat.postEphemeral"):
        assert "<!" not in everything(call).replace("<!date^", "")


async def test_reveal_button_needs_the_asker_or_an_admin(env: SlackEnv) -> None:
    """A stranger's Reveal click is refused ephemerally; a workspace admin (users.info) may reveal."""
    post = await ask_and_wait(env)
    ts = await env.question_ts(1)
    reveal_button = next(b for b in buttons_of(post.arg("blocks")) if b["value"].startswith("reveal --round "))
    assert (await env.click(reveal_button, MALLORY, ts)).status == 200
    refused = await env.fake.wait_for("chat.postEphemeral", to(MALLORY))
    assert "只有出题人或频道管理员" in refused.args["text"]
    assert len(env.fake.calls("chat.postMessage")) == 1
    assert (await env.click(reveal_button, ADMIN, ts)).status == 200
    reveal = await env.fake.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    assert "1.4" in everything(reveal)
    admin_lookup = [c for c in env.fake.calls("users.info") if c.args.get("user") == ADMIN]
    assert len(admin_lookup) == 1


async def test_an_old_questions_buttons_leave_the_newer_round_alone(env: SlackEnv) -> None:
    """Reveal and Hint on a revealed question's message are refused privately; the new round stays open."""
    old = await ask_and_wait(env)
    old_ts = await env.question_ts(1)
    assert (await env.slash("reveal")).status == 200
    await env.fake.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == old_ts)
    closed = await env.fake.wait_for("chat.update", lambda c: c.args.get("ts") == old_ts)
    assert not buttons_of(closed.arg("blocks")) and "已揭晓" in everything(closed)
    await ask_and_wait(env, "ask 2.1")
    posts = len(env.fake.calls("chat.postMessage"))
    for kind in ("reveal", "hint"):
        button = next(b for b in buttons_of(old.arg("blocks")) if b["value"].startswith(f"{kind} --round "))
        assert (await env.click(button, USER_ID, old_ts)).status == 200
        told = await env.fake.wait_for("chat.postEphemeral", lambda c, k=kind: "over" in c.args["text"]
                                       or "结束" in c.args["text"], count=1 if kind == "reveal" else 2)
        assert told.args["user"] == USER_ID
    assert len(env.fake.calls("chat.postMessage")) == posts  # nothing posted to the channel
    current = await env.engine.rounds.status(ConversationRef("slack", TEAM_ID, CHANNEL_ID, False))
    assert current is not None and current.question.id == "2.1"


async def test_hint_button_answers_only_the_clicker(env: SlackEnv) -> None:
    """The Hint button answers with an ephemeral message to the person who clicked."""
    post = await ask_and_wait(env)
    hint = next(b for b in buttons_of(post.arg("blocks")) if b["value"].startswith("hint --round "))
    assert (await env.click(hint, BOB, await env.question_ts(1))).status == 200
    shown = await env.fake.wait_for("chat.postEphemeral", to(BOB))
    assert shown.args["channel"] == CHANNEL_ID and "1.4" in shown.args["text"]


# -- DMs, drills and the Home tab -------------------------------------------------------------------


async def test_dm_drill_through_message_im_events(env: SlackEnv) -> None:
    """/interview drill 2 in a channel -> ephemeral notice + DM question; DM answer + done -> feedback and next."""
    assert (await env.slash("drill 2")).status == 200
    notice = await env.fake.wait_for("response_url")
    assert notice.args["response_type"] == "ephemeral"
    opened = await env.fake.wait_for("conversations.open")
    assert opened.args["users"] == USER_ID
    first = await env.fake.wait_for("chat.postMessage")
    dm = first.args["channel"]
    assert dm.startswith("D") and "1/2" in first.args["text"]
    assert [b["value"] for b in buttons_of(first.arg("blocks"))] == ["done", "skip"]

    answer = im_message_event("注意力让每个位置按相关性加权汇总其他位置的信息", channel_id=dm)
    assert (await env.send(event_callback(answer, event_id="EvDM1"))).status == 200
    await env.bot.drain()
    assert (await env.send(event_callback(im_message_event("done", channel_id=dm), event_id="EvDM2"))).status == 200
    feedback = await env.fake.wait_for("chat.postMessage", count=2)
    following = await env.fake.wait_for("chat.postMessage", count=3)  # a probe of a missed point, or question 2
    assert feedback.args["channel"] == dm and following.args["channel"] == dm
    assert "分" in feedback.args["text"] and not buttons_of(feedback.arg("blocks"))
    assert [b["value"] for b in buttons_of(following.arg("blocks"))] == ["done", "skip"]
    assert all(c.args["channel"] == dm for c in env.fake.calls("chat.postMessage"))
    item = await env.engine.store.get_item(1)
    assert item is not None and item.state == "answered"


async def test_submit_button_works_in_the_dm(env: SlackEnv) -> None:
    """The drill's Submit button, clicked in the DM, grades the answer and asks the next question."""
    assert (await env.slash("drill 2")).status == 200
    first = await env.fake.wait_for("chat.postMessage")
    dm = first.args["channel"]
    await env.send(event_callback(im_message_event("缩放点积注意力", channel_id=dm), event_id="EvDM3"))
    await env.bot.drain()
    submit = buttons_of(first.arg("blocks"))[0]
    assert (await env.click(submit, USER_ID, "1700000000.000001", channel=dm)).status == 200
    following = await env.fake.wait_for("chat.postMessage", count=3)
    assert following.args["channel"] == dm and buttons_of(following.arg("blocks"))
    item = await env.engine.store.get_item(1)
    assert item is not None and item.state == "answered"


async def test_home_tab_shows_stats_and_starts_a_drill(env: SlackEnv) -> None:
    """app_home_opened publishes the Home tab; its drill button starts a drill in the DM."""
    home_event = {"type": "app_home_opened", "user": USER_ID, "channel": "D0HOME", "tab": "home",
                  "event_ts": f"{time.time():.6f}"}
    assert (await env.send(event_callback(home_event))).status == 200
    published = await env.fake.wait_for("views.publish")
    view = published.arg("view")
    assert published.args["user_id"] == USER_ID and view["type"] == "home"
    drill_button = next(b for b in buttons_of(view["blocks"]) if b["value"] == "drill")
    payload = block_actions_payload(drill_button["action_id"], "drill", USER_ID,
                                    container={"type": "view", "view_id": "V0HOME"})
    del payload["channel"], payload["message"]
    click = SlackRequest(urlencode({"payload": json.dumps(payload)}).encode(), FORM_TYPE)
    assert (await env.send(click)).status == 200
    question = await env.fake.wait_for("chat.postMessage")
    assert question.args["channel"].startswith("D") and "1/5" in question.args["text"]
    assert env.fake.last("conversations.open").args["users"] == USER_ID


# -- bolt quirks --------------------------------------------------------------------------------------


async def test_slash_command_mentioning_payload_is_not_dropped(env: SlackEnv) -> None:
    """bolt 1.30 answers 404 to a form body containing "payload"; the adapter's HTTP handler repairs it."""
    await ask_and_wait(env)
    answered = await env.slash("answer the payload is the KV cache & more")
    assert answered.status == 200
    recorded = await env.fake.wait_for("response_url", count=2)
    assert recorded.args["response_type"] == "ephemeral" and "已记录" in recorded.args["text"]
    answers = await env.engine.store.round_answers(1)
    assert [a.text for a in answers] == ["the payload is the KV cache & more"]


async def test_healthz_reports_db_and_slack(env: SlackEnv) -> None:
    """GET /healthz answers JSON with the database and Slack states."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(env.url.replace("/slack/events", "/healthz")) as resp:
        assert resp.status == 200
        assert await resp.json() == {"ok": True, "db": "ok", "slack": "ok"}


# -- rendering ---------------------------------------------------------------------------------------


def test_render_escapes_everything_and_respects_block_kit_limits() -> None:
    """Escaping, the date token, 10 fields per section, 3000-character sections and unique action ids."""
    deadline = START + timedelta(minutes=5)
    reply = Reply(
        title="Q <1> & <!here>",
        fields=tuple(Field(f"f{n}", UserText("<@U1>")) for n in range(12)),
        blocks=(Block("head", (UserText("x" * 2990), "<!channel> " * 400)),),
        buttons=(Button("Answer", "answer", "primary", opens_form=True, form_title="Answer 1.4"),
                 Button("Hint", "hint"), Button("Reveal", "reveal", "danger")),
        deadline=deadline, lang="en", footer="<b>", tags={"round": "7"},
    )
    out = render.message(reply)
    body = json.dumps(out)
    assert "<!here>" not in body and "<@U1>" not in body and "<!channel>" not in body and "<b>" not in body
    assert f"<!date^{int(deadline.timestamp())}^" in body and "|2026-03-02 09:05 UTC>" in body
    field_sections = [b for b in out["blocks"] if b["type"] == "section" and "fields" in b]
    assert [len(b["fields"]) for b in field_sections] == [10, 3]
    sections = [b["text"]["text"] for b in out["blocks"] if b["type"] == "section" and "text" in b]
    assert len(sections) >= 3 and all(len(s) <= render.MAX_SECTION for s in sections)
    assert not any(s.endswith(("&", "&l", "&lt", "&am", "&amp")) for s in sections)
    elements = buttons_of(out["blocks"])
    assert len({e["action_id"] for e in elements}) == 3
    assert elements[0]["action_id"].startswith(render.FORM_PREFIX)
    form = render.form_button(elements[0]["value"])
    assert form.round_id == "7" and form.line == "answer" and form.title == "Answer 1.4"
    assert elements[1]["value"] == "hint" and "style" not in elements[1] and elements[2]["style"] == "danger"
    assert out["text"].startswith("Q &lt;1&gt; &amp; &lt;!here&gt;")
    modal = render.answer_modal(form, {"channel": "C1", "ts": "1.2", "team": TEAM_ID})
    assert len(modal["title"]["text"]) <= render.MAX_MODAL_TITLE
    assert json.loads(modal["private_metadata"])["ts"] == "1.2"


def test_manifest_matches_the_adapter() -> None:
    """slack/manifest.yml declares the command, scopes, events and interactivity the listeners rely on."""
    import yaml

    from bot.platforms.slack.listeners import COMMAND

    manifest = yaml.safe_load((Path(__file__).parents[1] / "slack" / "manifest.yml").read_text(encoding="utf-8"))
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {COMMAND} and commands[COMMAND]["usage_hint"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {"commands", "chat:write", "im:history", "im:write", "channels:history", "groups:history",
                      "users:read", "app_mentions:read"}
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"message.im", "message.channels",
                                                                  "message.groups", "app_home_opened"}
    assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] and manifest["features"]["bot_user"]["display_name"]


async def test_schedule_created_with_the_slash_command_posts_at_its_time(env: SlackEnv) -> None:
    """An admin's `/interview schedule daily 10:00 UTC` posts the day's question in the channel at 10:00."""
    refused = await env.slash("schedule daily 10:00 UTC", user=MALLORY)
    assert refused.status == 200
    refusal = await env.fake.wait_for("response_url", lambda c: c.args.get("response_type") == "ephemeral")
    assert "只有频道管理员可以设置每日一题" in everything(refusal)
    assert (await env.slash("schedule daily 10:00 UTC", user=ADMIN)).status == 200
    await env.bot.drain()
    assert env.fake.calls("chat.postMessage") == []
    await env.clock.advance(timedelta(minutes=59))
    assert env.fake.calls("chat.postMessage") == []
    await env.clock.advance(timedelta(minutes=1, seconds=1))
    posted = await env.fake.wait_for("chat.postMessage")
    assert posted.args["channel"] == CHANNEL_ID and "thread_ts" not in posted.args
    blocks = posted.arg("blocks")
    assert blocks[0]["type"] == "header"
    row = await env.engine.store.get_round(1)
    assert row is not None and row.state == "open" and row.opened_at == START + timedelta(hours=1)
