"""The Discord adapter end to end: the real discord.py client against the fake Discord on 127.0.0.1.

The engine runs with a FakeClock and a real SQLite file; everything the bot sends lands in
FakeDiscord, which the tests poll (no fixed sleeps).
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
import yarl

from bot.app import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.platforms.base import ConversationRef, MessageRef, Reply, UserRef
from bot.platforms.discord.client import InterviewClient, apply_endpoints, intents_for
from bot.platforms.discord.interactions import Recent
from bot.platforms.discord.views import ANSWER_ID, HINT_ID, REVEAL_ID
from question_bank.schema import Bank
from tests.conftest import START
from tests.fakes.discord_server import (
    CANDIDATE,
    CHANNEL_ID,
    GUILD_ID,
    OWNER,
    FakeDiscord,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Intent,
    StoredMessage,
    default_guild,
    running_client,
    running_fake_discord,
)

MANAGE_CHANNELS = 1 << 4
MOD_ROLE = FakeRole(1300000000000000201, "moderators", permissions=MANAGE_CHANNELS)
PEER = FakeUser(1400000000000000002, "peer", "Peer")
MOD = FakeUser(1400000000000000003, "mod", "Mod")
EVIL = FakeUser(1400000000000000004, "evil", "Evil")
GUILD = FakeGuild(GUILD_ID, channels=default_guild().channels, roles=(MOD_ROLE,))
MEMBERS = [
    FakeMember(CANDIDATE),
    FakeMember(PEER),
    FakeMember(MOD, roles=(MOD_ROLE.id,)),
    FakeMember(EVIL, nick="@here **boss** <@&1300000000000000201>"),
]
WEAK = "用了注意力。"
EPHEMERAL = 1 << 6


@dataclass
class DiscordEnv:
    """The fake Discord, the engine with its FakeClock, and the bot's client."""

    fake: FakeDiscord
    app: App
    clock: FakeClock
    client: InterviewClient

    @property
    def where(self) -> ConversationRef:
        """The round channel as the engine knows it."""
        return ConversationRef("discord", str(GUILD_ID), str(CHANNEL_ID))

    async def slash(self, name: str, options: dict[str, Any] | None = None, *, user: FakeUser = CANDIDATE,
                    **where: Any) -> dict[str, Any]:
        """Dispatch `/interview <name>` with options; returns the payload."""
        payload = self.fake.payloads.interaction_command(f"interview {name}", options or {}, user=user, **where)
        return await self.fake.send_interaction(payload)

    async def click(self, custom_id: str, *, user: FakeUser = CANDIDATE, **options: Any) -> dict[str, Any]:
        """Click the newest button with this custom id."""
        payload = self.fake.payloads.interaction_component(custom_id, user=user, **options)
        return await self.fake.send_interaction(payload)

    async def answered(self, payload: dict[str, Any]) -> list[StoredMessage]:
        """Wait until an interaction was answered with at least one message; its messages."""
        record = self.fake.interaction(payload["id"])

        def messages() -> list[StoredMessage]:
            original = record.original_id if record.response_type in (4, 5) else None  # 6: the clicked message
            ids = list(dict.fromkeys(i for i in (original, *record.message_ids) if i is not None))
            found = [self.fake.store.messages[i] for i in ids if i in self.fake.store.messages]
            return [m for m in found if m.payload.get("embeds") or m.content]

        await self.fake.wait_until(lambda: record.response_type is not None and messages())
        return messages()

    async def bot_message(self, channel_id: int, predicate: Callable[[StoredMessage], bool],
                          timeout: float = 5.0) -> StoredMessage:
        """The first message the bot posted in a channel that matches."""
        found: list[StoredMessage] = []

        def probe() -> bool:
            found[:] = [m for m in self.fake.messages(channel_id) if is_bot(self.fake, m) and predicate(m)]
            return bool(found)

        await self.fake.wait_until(probe, timeout)
        return found[0]

    async def ask(self, qid: str = "1.4", user: FakeUser = CANDIDATE) -> StoredMessage:
        """`/interview ask id:<qid>`, answered, its thread open (with thread replies on); the question message."""
        payload = await self.slash("ask", {"id": qid}, user=user)
        question = await self.bot_message(CHANNEL_ID, lambda m: ANSWER_ID in m.custom_ids() and qid in title(m))
        await self.answered(payload)
        if self.client.settings.discord_thread_replies:
            await self.fake.wait_until(lambda: question.id in self.fake.store.threads)
        return question

    async def round_answers(self) -> list[Any]:
        """Every answer stored for the channel's open (or last) round."""
        status = await self.app.rounds.status(self.where)
        assert status is not None
        return list(await self.app.store.round_answers(status.round_id))

    async def thread_reply(self, thread_id: int, text: str, author: FakeUser) -> dict[str, Any]:
        """A member's message in a question thread."""
        payload = self.fake.payloads.message_create(text, author, channel_id=thread_id)
        return await self.fake.send_message_create(payload)


async def eventually(probe: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll an async condition every 10 ms until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await probe():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


def is_bot(fake: FakeDiscord, message: StoredMessage) -> bool:
    """Whether the bot wrote this message."""
    return int(message.payload["author"]["id"]) == fake.world.bot.id


def embed_of(message: StoredMessage) -> dict[str, Any]:
    """The message's first embed."""
    embeds = message.payload.get("embeds") or []
    return dict(embeds[0]) if embeds else {}


def title(message: StoredMessage) -> str:
    """The first embed's title."""
    return str(embed_of(message).get("title") or "")


def text_of(message: StoredMessage) -> str:
    """Title, description and fields of the first embed."""
    embed = embed_of(message)
    fields = " ".join(f"{f['name']} {f['value']}" for f in embed.get("fields") or [])
    return f"{embed.get('title') or ''}\n{embed.get('description') or ''}\n{fields}\n{message.content}"


@asynccontextmanager
async def connected(fake: FakeDiscord, app: App, settings: Settings) -> AsyncIterator[InterviewClient]:
    """A bot client attached to the engine, logged in to the fake, commands synced; closed afterwards."""
    client = InterviewClient(settings, app=app, guild_ready_timeout=0.1)
    async with running_client(fake, client):
        await client.tree.sync()
        yield client


@asynccontextmanager
async def discord_env(tmp_path: Path, bank: Bank, *, thread_replies: bool = True) -> AsyncIterator[DiscordEnv]:
    """The whole stack; everything is closed on the way out."""
    settings = Settings(db_path=tmp_path / "bot.sqlite3", discord_thread_replies=thread_replies)
    clock = FakeClock(START)
    async with running_fake_discord([GUILD], MEMBERS) as fake:
        app = await build_app(settings, clock=clock, bank=bank)
        try:
            await app.start()
            await clock.settle()
            async with connected(fake, app, settings) as client:
                yield DiscordEnv(fake, app, clock, client)
        finally:
            await app.close()


@pytest.fixture
async def env(tmp_path: Path, bank: Bank) -> AsyncIterator[DiscordEnv]:
    """Fake Discord + engine + bot, with thread replies (and the Message Content intent) on."""
    async with discord_env(tmp_path, bank) as stack:
        yield stack


# -- the tests -------------------------------------------------------------------------------------


def test_discord_internals_the_adapter_patches_exist() -> None:
    """Canary: Route.BASE and DiscordWebSocket.DEFAULT_GATEWAY are still the class attributes we set."""
    assert isinstance(discord.http.Route.BASE, str)
    assert isinstance(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY, yarl.URL)
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    restore = apply_endpoints(Settings(discord_api_base="http://127.0.0.1:9/api/v10/",
                                       discord_gateway_url="ws://127.0.0.1:9/gateway"))
    try:
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9/gateway"
    finally:
        restore()
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    apply_endpoints(Settings())()  # unset: the library defaults stay
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


def test_intents_are_minimal_unless_thread_replies_need_message_content() -> None:
    """guilds + guild messages + DMs; the privileged message-content intent only for thread-reply answers."""
    plain = intents_for(Settings())
    assert plain.value == Intent.GUILDS | Intent.GUILD_MESSAGES | Intent.DIRECT_MESSAGES
    assert intents_for(Settings(discord_thread_replies=True)).value == plain.value | Intent.MESSAGE_CONTENT


def button_id(message: StoredMessage, prefix: str) -> str:
    """The custom id of the message's button of that kind (`interview:hint:<round>`)."""
    return next(c for c in message.custom_ids() if c.startswith(prefix + ":"))


async def test_full_round_from_slash_command_to_reveal_and_leaderboard(env: DiscordEnv, bank: Bank) -> None:
    """/interview ask, Answer modal, two thread replies, the reveal after the deadline, then the leaderboard."""
    fake = env.fake
    assert fake.gateway.identify is not None and fake.gateway.identify["intents"] & Intent.MESSAGE_CONTENT
    ask = await env.slash("ask", {"id": "1.4"})
    question = await env.bot_message(CHANNEL_ID, lambda m: ANSWER_ID in m.custom_ids())
    assert {ANSWER_ID, button_id(question, HINT_ID), button_id(question, REVEAL_ID)} <= question.custom_ids()
    embed = embed_of(question)
    assert "1.4" in embed["title"]
    deadline = next(f["value"] for f in embed["fields"] if f["name"] in ("截止", "Deadline"))
    unix = int((START + timedelta(minutes=5)).timestamp())
    assert f"<t:{unix}:t>" in deadline and f"<t:{unix}:R>" in deadline
    asked = await env.answered(ask)
    assert [m.ephemeral for m in asked] == [True]  # "question posted", only for the asker
    await fake.wait_until(lambda: question.id in fake.store.threads)  # the answer thread on the question

    opened = await env.click(ANSWER_ID)
    modal = await fake.wait_for_callback(opened["id"], type=9)
    assert modal.data is not None and modal.data["custom_id"] == f"interview:answer_modal:{CHANNEL_ID}"
    submit = fake.payloads.interaction_modal_submit(modal.data["custom_id"], {"answer": WEAK})
    await fake.send_interaction(submit)
    recorded = await env.answered(submit)
    assert all(m.ephemeral for m in recorded)
    assert [a.text for a in await env.round_answers()] == [WEAK]
    assert not any(WEAK in text_of(m) for m in fake.messages() if not m.ephemeral)  # hidden until the reveal

    strong = bank.questions["1.4"].answer.zh
    await env.thread_reply(question.id, strong, CANDIDATE)
    await env.thread_reply(question.id, WEAK, PEER)
    await fake.wait_until(lambda: len(fake.calls("/reactions/", "PUT")) == 2)  # ✅ on each recorded reply
    answers = await env.round_answers()
    assert sorted(a.text for a in answers) == sorted([WEAK, strong, WEAK]) and all(a.visible for a in answers[1:])

    await env.clock.advance(timedelta(minutes=5, seconds=1))
    reveal = await env.bot_message(question.id, lambda m: "揭晓" in title(m))
    body = text_of(reveal)
    assert body.index("Candidate") < body.index("Peer")  # the better reply first
    summary = await env.bot_message(CHANNEL_ID, lambda m: "1.4 已揭晓" in text_of(m))  # the short one in the channel
    assert not summary.ephemeral and "Candidate" in text_of(summary) and WEAK not in text_of(summary)

    board = await env.slash("leaderboard", {"period": "week", "scope": "channel"})
    shown = await env.answered(board)
    assert [m.ephemeral for m in shown] == [False]
    lines = text_of(shown[0])
    assert lines.index("Candidate") < lines.index("Peer")


async def test_dm_drill_with_messages_submit_button_and_reference_answers(env: DiscordEnv, bank: Bank) -> None:
    """/interview drill 2: an ephemeral notice, questions in the DM, DM answers, done, Submit, the report."""
    fake = env.fake
    start = await env.slash("drill", {"count": 2})
    notice = await env.answered(start)
    assert [m.ephemeral for m in notice] == [True]
    dm_channel = int(fake.store.dm_channels[CANDIDATE.id]["id"])

    async def answer_question(index: int) -> StoredMessage:
        """Wait for question `index`, answer it with two DM messages and return it."""
        asked = await env.bot_message(dm_channel, lambda m: f"{index}/2" in title(m))
        qid = title(asked).rsplit("·", 1)[1].strip()
        reference = bank.questions[qid].answer.zh
        half = len(reference) // 2
        for part in (reference[:half], reference[half:]):
            sent = await fake.send_message_create(fake.payloads.message_create(part, CANDIDATE, dm=True))
            await eventually(lambda sent=sent: env.app.store.event_seen(sent["id"]))
        return asked

    assert "interview:cmd:done" in (await answer_question(1)).custom_ids()
    await fake.send_message_create(fake.payloads.message_create("done", CANDIDATE, dm=True))
    await env.bot_message(dm_channel, lambda m: "/100" in title(m))  # feedback with the score

    await answer_question(2)
    submitted = await env.click("interview:cmd:done", dm=True)
    assert (await fake.wait_for_callback(submitted["id"])).type == 6  # acknowledged without a message
    report = await env.bot_message(dm_channel, lambda m: "#" in title(m) and "/100" not in title(m))
    button = next(c for c in report.custom_ids() if c.startswith("interview:cmd:report"))
    assert button.endswith("--answers")
    answers = await env.click(button, dm=True)
    shown = await env.answered(answers)
    assert any("参考答案" in text_of(m) for m in shown)


async def test_duplicated_interaction_and_message_record_one_answer(env: DiscordEnv) -> None:
    """The same modal submit dispatched twice and the same thread message delivered twice each count once."""
    fake = env.fake
    question = await env.ask()
    opened = await env.click(ANSWER_ID)
    modal = await fake.wait_for_callback(opened["id"], type=9)
    assert modal.data is not None
    submit = fake.payloads.interaction_modal_submit(modal.data["custom_id"], {"answer": WEAK})
    await fake.send_interaction(submit)
    await fake.send_interaction(submit)
    await env.answered(submit)
    reply = await env.thread_reply(question.id, "因为点积方差随 d_k 增大。", PEER)
    await fake.send_message_create(reply)
    await fake.wait_until(lambda: fake.calls("/reactions/", "PUT"))
    marker = await env.slash("hint")  # handled after both duplicates: events are taken in order
    await env.answered(marker)
    assert len(await env.round_answers()) == 2
    assert [c.type for c in fake.callbacks(submit["id"])] == [5]
    assert len(fake.calls("/reactions/", "PUT")) == 1
    env.client.interactions.seen = Recent()  # as after a restart: the engine's event ids still hold
    await fake.send_message_create(reply)
    await fake.send_interaction(env.fake.payloads.interaction_command("interview hint"))
    await fake.wait_until(lambda: len(fake.callbacks(type=4)) >= 2)
    assert len(await env.round_answers()) == 2


async def test_mentions_in_replies_and_names_never_ping(env: DiscordEnv) -> None:
    """@everyone, @here, role and user mentions in a reply and a nickname: escaped, and allowed_mentions is none."""
    fake = env.fake
    settings = await env.slash("settings", {"key": "reveal-mode", "value": "full"}, user=OWNER)
    await env.answered(settings)
    question = await env.ask()
    attack = f"@everyone @here <@&{MOD_ROLE.id}> <@{PEER.id}> 缩放是因为方差"
    await env.thread_reply(question.id, attack, EVIL)
    await fake.wait_until(lambda: fake.calls("/reactions/", "PUT"))
    reveal = await env.slash("reveal")  # the asker may reveal: the reveal goes to the thread and the channel
    await fake.wait_for_callback(reveal["id"])
    record = fake.interaction(reveal["id"])
    await fake.wait_until(lambda: record.original_id not in fake.store.messages)  # "thinking…" removed
    full = await env.bot_message(question.id, lambda m: "揭晓" in title(m))
    body = text_of(full)
    assert "@\u200beveryone" in body and "@\u200bhere" in body
    assert f"<@\u200b&{MOD_ROLE.id}>" in body and f"<@\u200b{PEER.id}>" in body
    assert "\\*\\*boss\\*\\*" in body  # the nickname's markdown shows as typed
    mine = [m for m in fake.messages() if is_bot(fake, m)]
    assert len(mine) >= 5
    for message in mine:
        assert message.allowed_mentions == {"parse": []}, message.payload
        assert not message.payload["mention_everyone"] and not message.payload["mentions"]
        assert not message.payload["mention_roles"]
    for callback in fake.callbacks():
        if callback.type in (4, 7):
            assert callback.data is not None and callback.data["allowed_mentions"] == {"parse": []}
    for call in fake.calls(method="POST") + fake.calls(method="PATCH"):
        if isinstance(call.json, dict) and ("embeds" in call.json or "content" in call.json):
            assert call.json.get("allowed_mentions") == {"parse": []}, call.path


async def test_reveal_needs_the_asker_or_manage_channels(env: DiscordEnv) -> None:
    """A member without Manage Channels who did not ask is refused privately; a member with it reveals."""
    fake = env.fake
    question = await env.ask()
    refused = await env.click(button_id(question, REVEAL_ID), user=PEER)
    shown = await env.answered(refused)
    assert [m.ephemeral for m in shown] == [True]
    assert "出题人或频道管理员" in text_of(shown[0])
    assert await env.app.rounds.status(env.where) is not None  # still open
    allowed = await env.click(button_id(question, REVEAL_ID), user=MOD)
    await fake.wait_for_callback(allowed["id"])
    await env.bot_message(question.id, lambda m: "揭晓" in title(m))
    assert await env.app.rounds.status(env.where) is None


async def test_an_old_questions_buttons_leave_the_newer_round_alone(env: DiscordEnv) -> None:
    """Reveal on a revealed question's message is refused privately; the channel's new round stays open."""
    fake = env.fake
    old = await env.ask("1.4")
    stale = {kind: button_id(old, kind) for kind in (REVEAL_ID, HINT_ID)}  # as a client that has not refreshed
    await env.slash("reveal")
    await env.bot_message(old.id, lambda m: "揭晓" in title(m))
    await fake.wait_until(lambda: not fake.store.messages[old.id].custom_ids())  # the question loses its buttons
    assert "已揭晓" in text_of(fake.store.messages[old.id])
    await env.ask("2.1")
    for kind in (REVEAL_ID, HINT_ID):
        clicked = await env.click(stale[kind])
        shown = await env.answered(clicked)
        assert [m.ephemeral for m in shown] == [True] and "结束" in text_of(shown[0])
    current = await env.app.rounds.status(env.where)
    assert current is not None and current.question.id == "2.1"
    assert not [m for m in fake.messages() if "2.1" in title(m) and "揭晓" in title(m)]
    legacy = await env.answered(await env.click(HINT_ID))  # a button from before round ids acts on the open round
    assert "2.1" in title(legacy[0])


async def test_buttons_work_after_a_restart(tmp_path: Path, bank: Bank) -> None:
    """A new client on the same engine and database answers the Hint button of an earlier question."""
    settings = Settings(db_path=tmp_path / "bot.sqlite3", discord_thread_replies=True)
    clock = FakeClock(START)
    async with running_fake_discord([GUILD], MEMBERS) as fake:
        app = await build_app(settings, clock=clock, bank=bank)
        try:
            await app.start()
            async with connected(fake, app, settings) as first:
                stack = DiscordEnv(fake, app, clock, first)
                question = await stack.ask()
            assert first.is_closed()
            async with connected(fake, app, settings) as second:
                assert app.delivery.messenger("discord") is second.messenger
                clicked = await stack.click(button_id(question, HINT_ID))
                assert clicked["message"]["id"] == str(question.id)
                shown = await DiscordEnv(fake, app, clock, second).answered(clicked)
        finally:
            await app.close()
    assert fake.callbacks(clicked["id"])[0].type == 6
    assert [m.ephemeral for m in shown] == [True] and "提示" in title(shown[0])
    assert len(fake.gateway.identifies) == 2


async def test_bots_channel_chatter_and_foreign_threads_are_ignored(env: DiscordEnv) -> None:
    """Messages from bots, in the channel itself, or in a thread the bot did not start record nothing."""
    fake = env.fake
    question = await env.ask()
    robot = FakeUser(1500000000000000001, "robot", "Robot", bot=True)
    await env.thread_reply(question.id, "我是机器人的回答", robot)
    await fake.send_message_create(fake.payloads.message_create("频道里的闲聊", PEER, channel_id=CHANNEL_ID))
    thread = copy.deepcopy(fake.store.threads[question.id][1]) | {"id": str(fake.ids.next()), "name": "chat",
                                                                  "owner_id": str(PEER.id)}
    fake.store.threads[int(thread["id"])] = (GUILD_ID, thread)  # a thread a member started
    await fake.gateway.dispatch("THREAD_CREATE", thread | {"newly_created": True})
    await fake.wait_until(lambda: env.client.get_channel(int(thread["id"])) is not None)
    await env.thread_reply(int(thread["id"]), "别的讨论串", PEER)
    marker = await env.thread_reply(question.id, "这一条才算", PEER)
    await eventually(lambda: env.app.store.event_seen(marker["id"]))
    assert [a.text for a in await env.round_answers()] == ["这一条才算"]


async def test_without_thread_replies_thread_messages_are_not_answers(tmp_path: Path, bank: Bank) -> None:
    """Thread replies off: no message-content intent, no thread at ask time; the reveal opens one."""
    async with discord_env(tmp_path, bank, thread_replies=False) as stack:
        fake = stack.fake
        assert fake.gateway.identify is not None and not fake.gateway.identify["intents"] & Intent.MESSAGE_CONTENT
        question = await stack.ask()
        assert question.id not in fake.store.threads
        await stack.clock.advance(timedelta(minutes=5, seconds=1))
        reveal = await stack.bot_message(question.id, lambda m: "揭晓" in title(m))  # the thread opens here
        assert "这轮没有人作答" in text_of(reveal)
        late = await stack.thread_reply(question.id, "迟到的回答", PEER)
        marker = await stack.slash("help")
        await stack.answered(marker)
        assert not await stack.app.store.event_seen(late["id"])


async def test_rate_limits_are_honoured_and_failed_sends_raise(env: DiscordEnv,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """A 429 on the question post is retried by discord.py; a 403 propagates (for the timer to retry), logged."""
    fake = env.fake
    path = f"/channels/{CHANNEL_ID}/messages"
    fake.fail_next("POST", path, status=429, retry_after=0.05)
    await env.ask()
    assert [c.status for c in fake.calls(path, "POST")][:2] == [429, 200]
    fake.fail_next("POST", path, status=403, code=50013, message="Missing Permissions")
    assert env.client.messenger is not None
    with pytest.raises(discord.Forbidden):
        await env.client.messenger.post(env.where, Reply(title="x"))
    assert "status=403 code=50013" in caplog.text and fake.token not in caplog.text


async def test_question_autocomplete_matches_ids_and_text(env: DiscordEnv) -> None:
    """Typing in the id option suggests ids with the start of the question text."""
    fake = env.fake
    payload = fake.payloads.interaction_command("interview ask", {"id": "1.1"})
    payload["type"] = 4
    payload["data"]["options"][0]["options"][0]["focused"] = True
    await fake.send_interaction(payload)
    callback = await fake.wait_for_callback(payload["id"], type=8)
    assert callback.data is not None
    choices = callback.data["choices"]
    assert choices and all(c["value"].startswith("1.1") for c in choices)
    assert choices[0]["name"].startswith("1.1 · ") and len(choices) <= 25
    payload = fake.payloads.interaction_command("interview ask", {"id": "softmax"})
    payload["type"] = 4
    payload["data"]["options"][0]["options"][0]["focused"] = True
    await fake.send_interaction(payload)
    callback = await fake.wait_for_callback(payload["id"], type=8)
    assert callback.data is not None and any(c["value"] == "1.4" for c in callback.data["choices"])


async def test_runner_starts_connects_and_stops(tmp_path: Path, bank: Bank) -> None:
    """make_runner's PlatformRunner logs in with DISCORD_* settings, reports connected, and stops cleanly."""
    from bot.platforms.discord.runner import DiscordRunner
    from handlers.router import Router

    async with running_fake_discord([GUILD], MEMBERS) as fake:
        settings = Settings(db_path=tmp_path / "bot.sqlite3", discord_token=fake.token,
                            discord_api_base=fake.api_url, discord_gateway_url=fake.gateway_url)
        app = await build_app(settings, clock=FakeClock(START), bank=bank)
        before = discord.http.Route.BASE
        runner = DiscordRunner(app, Router(app), settings, guild_ready_timeout=0.1)
        try:
            assert not runner.connected
            await runner.start()
            assert runner.connected and runner.name == "discord"
            assert app.delivery.messenger("discord") is runner.client.messenger
        finally:
            await runner.stop()
            await app.close()
        assert not runner.connected and before == discord.http.Route.BASE
        assert fake.gateway.identify is not None


def test_render_keeps_discord_limits_and_escapes() -> None:
    """Long titles, bodies and 30 fields fit Discord's embed limits; markdown and mentions are escaped."""
    from bot.platforms.base import Block, Button, Field, UserText
    from bot.platforms.discord import render
    from bot.platforms.discord.views import view_for

    reply = Reply(
        title="T_" * 300,
        blocks=(Block("**head**", (UserText("@everyone " + "x" * 5000),)),),
        fields=tuple(Field(f"f{i}", UserText(f"<@{PEER.id}> " + "y" * 2000)) for i in range(30)),
        buttons=(*(Button(f"b{i}", f"rate good {i}") for i in range(30)), Button("long", "ask " + "z" * 200)),
        footer="f" * 3000, kind="reveal",
    )
    embed = render.embed(reply)
    data = embed.to_dict()
    assert len(data["title"]) <= 256 and not data["title"].endswith("\\…")
    assert len(embed.fields) <= 25 and all(len(f.value or "") <= 1024 for f in embed.fields)
    assert len(data.get("description", "")) <= 4096 and len(embed) <= 6000
    assert "@\u200beveryone" in data.get("description", "@\u200beveryone")
    assert all(f"<@\u200b{PEER.id}>" in (f.value or "") for f in embed.fields)
    view = view_for(reply)
    assert view is not None and len(view.children) == 25
    assert all(len(getattr(item, "custom_id", "")) <= 100 for item in view.children)
    assert render.cut("a\\_" * 10, 5).endswith("…") and not render.cut("ab\\_cd", 4).endswith("\\…")


def test_question_wording_and_thread_name_follow_thread_replies(bank: Bank) -> None:
    """Without thread replies the question names only the Answer button; a thread is named after the question,
    also when the reveal opens it."""
    from bot.engine.rounds import RoundQuestion
    from bot.platforms.discord import render
    from bot.platforms.discord.messenger import _form_only
    from handlers.views import render as neutral

    event = RoundQuestion(7, bank.questions["1.4"], START, 5.0, "en", "alice")
    question = neutral(event)
    assert "thread" in question.plain_text()
    plain = _form_only(question).plain_text()
    assert "thread" not in plain and "Press Answer" in plain and "5 min" in plain
    reveal = Reply(title="Reveal · 1.4", lang="en", kind="reveal", tags={"round": "7", "qid": "1.4"})
    assert render.thread_name(reveal) == render.thread_name(question) == "Interview question 1.4 · Answers"


def test_invite_permissions_match_the_docs() -> None:
    """The permissions integer in docs/discord.md is the one the code computes."""
    from bot.platforms.discord.permissions import INVITE_PERMISSIONS, invite_url

    docs = (Path(__file__).resolve().parents[1] / "docs" / "discord.md").read_text(encoding="utf-8")
    assert str(INVITE_PERMISSIONS.value) in docs
    assert re.search(r"scope=bot(\+|%20)applications\.commands", invite_url(1))


async def test_threads_the_cache_forgot_still_work(env: DiscordEnv) -> None:
    """An uncached question thread: replies in it still count (fetched once) and the bot still posts in it."""
    question = await env.ask()
    guild = env.client.get_guild(GUILD_ID)
    thread = env.client.get_channel(question.id)
    assert guild is not None and isinstance(thread, discord.Thread)
    guild._remove_thread(thread)
    assert env.client.messenger is not None
    parent = MessageRef("discord", str(CHANNEL_ID), str(question.id), str(GUILD_ID))
    ref = await env.client.messenger.reply_in_thread(parent, Reply(title="again", kind="reminder"))
    assert ref.channel_id == str(question.id)
    assert env.fake.calls(f"/messages/{question.id}/threads", "POST")[-1].status == 400
    assert title(env.fake.messages(question.id)[-1]) == "again"
    env.client.messenger.threads.clear()
    reply = await env.thread_reply(question.id, "缓存里没有这个讨论串", PEER)
    await eventually(lambda: env.app.store.event_seen(reply["id"]))
    assert env.fake.calls(f"/channels/{question.id}", "GET")


async def test_a_failed_reveal_post_is_retried_not_lost(env: DiscordEnv, caplog: pytest.LogCaptureFixture) -> None:
    """Discord refusing the reveal at the deadline delays it: the engine's timer posts it again later."""
    fake = env.fake
    question = await env.ask()
    await env.thread_reply(question.id, "缩放是为了让方差回到 1。", PEER)
    await fake.wait_until(lambda: fake.calls("/reactions/", "PUT"))
    await env.clock.advance(timedelta(minutes=4, seconds=30))  # past both reminders
    fake.fail_next("POST", f"/channels/{question.id}/messages", status=403, code=50001, message="Missing Access")
    await env.clock.advance(timedelta(seconds=31))
    assert not [m for m in fake.messages(question.id) if "揭晓" in title(m)]
    assert "status=403 code=50001" in caplog.text
    await env.clock.advance(timedelta(minutes=5))
    reveal = await env.bot_message(question.id, lambda m: "揭晓" in title(m))
    assert "Peer" in text_of(reveal)


async def test_schedule_created_with_the_slash_command_posts_at_its_time(env: DiscordEnv) -> None:
    """`/interview schedule daily 10:00 UTC` by a manager posts the day's question at 10:00; others are refused."""
    refused = await env.slash("schedule", {"action": "daily", "at": "10:00", "timezone": "UTC"}, user=PEER)
    shown = await env.answered(refused)
    assert shown[0].ephemeral and "只有频道管理员可以设置每日一题" in text_of(shown[0])
    accepted = await env.slash("schedule", {"action": "daily", "at": "10:00", "timezone": "UTC"}, user=MOD)
    await env.answered(accepted)  # the confirmation is out: the schedule is stored
    assert await env.app.rounds.status(env.where) is None
    await env.clock.advance(timedelta(minutes=59))
    assert await env.app.rounds.status(env.where) is None
    await env.clock.advance(timedelta(minutes=1, seconds=1))
    question = await env.bot_message(CHANNEL_ID, lambda m: ANSWER_ID in m.custom_ids())
    assert question.allowed_mentions == {"parse": []} or not question.allowed_mentions.get("parse")
    assert await env.app.rounds.status(env.where) is not None


async def test_drill_with_closed_dms_says_how_to_fix_it(env: DiscordEnv) -> None:
    """/interview drill when the member's DMs are closed: a private explanation, and no drill left behind."""
    env.fake.close_dms(CANDIDATE.id)
    start = await env.slash("drill", {"count": 2})
    shown = await env.answered(start)
    assert [m.ephemeral for m in shown] == [True]
    assert "无法给你发私信" in text_of(shown[0])
    assert await env.app.drills.active(UserRef("discord", str(CANDIDATE.id))) is None
