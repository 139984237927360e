"""The fake Discord speaks the real protocol: the real discord.py client logs in, connects and interacts with it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands

from tests.fakes.discord_server import (
    CANDIDATE,
    CHANNEL_ID,
    GUILD_ID,
    FakeDiscord,
    Intent,
    default_intents,
    make_client,
    patched_discord_urls,
    running_client,
    running_fake_discord,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A fake Discord with the default guild and one candidate member."""
    async with running_fake_discord() as server:
        yield server


def future_for(seen: dict[str, asyncio.Future[str]], key: str) -> asyncio.Future[str]:
    """The future a callback resolves under `key` (created by whichever side asks first)."""
    return seen.setdefault(key, asyncio.get_running_loop().create_future())


def interview_tree(client: discord.Client, seen: dict[str, asyncio.Future[str]]) -> app_commands.CommandTree:
    """A tree with /interview ask|slow|answer; callbacks resolve futures in `seen`."""
    tree = app_commands.CommandTree(client)
    group = app_commands.Group(name="interview", description="Mock interviews")

    @group.command(name="ask", description="Ask a question")
    async def ask(interaction: discord.Interaction, topic: str) -> None:
        future_for(seen, "ask").set_result(topic)
        await interaction.response.send_message(f"ok {topic}", ephemeral=True)

    @group.command(name="slow", description="Think first")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        first = await interaction.followup.send("done", wait=True)
        second = await interaction.followup.send("and more", ephemeral=True, wait=True)
        future_for(seen, "slow").set_result(f"{first.id} {second.id}")

    @group.command(name="answer", description="Answer in a modal")
    async def answer(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(AnswerModal(seen))

    tree.add_command(group)
    return tree


class AnswerModal(discord.ui.Modal, title="Your answer"):
    """A modal with a Label-wrapped input and a legacy action-row input."""

    answer: discord.ui.Label[AnswerModal] = discord.ui.Label(
        text="Answer", component=discord.ui.TextInput(custom_id="answer", style=discord.TextStyle.paragraph)
    )
    confidence: discord.ui.TextInput[AnswerModal] = discord.ui.TextInput(custom_id="confidence")

    def __init__(self, seen: dict[str, asyncio.Future[str]]) -> None:
        super().__init__(custom_id="answer-modal")
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Record both values and acknowledge."""
        assert isinstance(self.answer.component, discord.ui.TextInput)
        values = f"{self.answer.component.value}|{self.confidence.value}"
        future_for(self.seen, "modal").set_result(values)
        await interaction.response.send_message("thanks", ephemeral=True)


def test_discord_internals_the_fake_relies_on_exist() -> None:
    """Canary: Route.BASE and DiscordWebSocket.DEFAULT_GATEWAY are still the class attributes we patch."""
    assert isinstance(discord.http.Route.BASE, str)
    assert discord.http.Route.BASE.endswith("/api/v10")
    assert isinstance(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY, yarl.URL)
    fake = FakeDiscord()
    fake.port = 1234
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    with patched_discord_urls(fake):
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:1234/api/v10/users/@me"
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:1234/gateway"
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


async def test_json_content_type_is_exact_and_auth_is_checked(fake: FakeDiscord) -> None:
    """discord.py only parses bodies whose Content-Type is exactly application/json; bad tokens get 401."""
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {fake.token}"}
        async with session.get(f"{fake.api_url}/users/@me", headers=headers) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["id"] == str(fake.world.bot.id)
        async with session.get(f"{fake.api_url}/users/@me", headers={"Authorization": "Bot wrong"}) as response:
            assert response.status == 401
        async with session.get(f"{fake.api_url}/nope", headers=headers) as response:
            assert response.status == 404
            assert await response.json() == {"message": "Unknown", "code": 0}
    assert [c.path for c in fake.unknown_calls] == ["/api/v10/nope"]
    assert all("Authorization" not in c.headers for c in fake.rest_calls)


async def test_client_becomes_ready_and_identifies_with_its_intents(fake: FakeDiscord) -> None:
    """Login, IDENTIFY, READY and GUILD_CREATE produce a ready client that sees the guild and channel."""
    async with running_client(fake) as client:
        guild = client.get_guild(GUILD_ID)
        assert guild is not None and guild.name == "Interview Lab"
        channel = guild.get_channel(CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel) and channel.name == "interviews"
        assert guild.me is not None and guild.me.id == fake.world.bot.id
        assert guild.member_count == 3 and guild.get_member(CANDIDATE.id) is None  # no GUILD_MEMBERS intent
        assert client.application_id == fake.world.application_id
        assert fake.gateway.identify is not None
        assert fake.gateway.identify["intents"] == default_intents().value == client.intents.value
        assert fake.gateway.connected == 1
    assert fake.calls("/users/@me", "GET") and fake.calls("/oauth2/applications/@me", "GET")


async def test_channel_send_records_allowed_mentions_and_survives_a_429(fake: FakeDiscord) -> None:
    """A 429 with retry_after is retried by the library; the recorded body carries allowed_mentions."""
    path = f"/channels/{CHANNEL_ID}/messages"
    fake.fail_next("POST", path, status=429, retry_after=0.05)
    async with running_client(fake) as client:
        channel = client.get_channel(CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        echoed = asyncio.ensure_future(client.wait_for("message", timeout=5))
        message = await channel.send(f"hi <@{CANDIDATE.id}>", allowed_mentions=discord.AllowedMentions.none())
        assert (await echoed).id == message.id  # Discord echoes the bot's own messages on the gateway
    attempts = fake.calls(path, "POST")
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[-1].json["allowed_mentions"] == {"parse": []}
    stored = fake.messages(CHANNEL_ID)[-1]
    assert stored.id == message.id and stored.content == f"hi <@{CANDIDATE.id}>"
    assert stored.payload["mentions"] == [] and message.mentions == []


async def test_slash_subcommand_runs_and_responds_ephemerally(fake: FakeDiscord) -> None:
    """tree.sync PUTs the group; /interview ask dispatched on the gateway reaches the callback (type 4, flags 64)."""
    seen: dict[str, asyncio.Future[str]] = {}
    client = make_client()
    tree = interview_tree(client, seen)
    async with running_client(fake, client):
        synced = await tree.sync()
        put = fake.calls(f"/applications/{fake.world.application_id}/commands", "PUT")[-1]
        assert [c["name"] for c in put.json] == ["interview"]
        assert {o["name"] for o in put.json[0]["options"]} == {"ask", "slow", "answer"}
        assert synced[0].id == int(fake.store.commands[None][0]["id"])
        payload = fake.payloads.interaction_command("interview ask", {"topic": "attention"})
        assert payload["data"]["options"] == [
            {"type": 1, "name": "ask", "options": [{"name": "topic", "type": 3, "value": "attention"}]}
        ]
        await fake.send_interaction(payload)
        assert await asyncio.wait_for(future_for(seen, "ask"), 5) == "attention"
        callback = await fake.wait_for_callback(payload["id"])
    assert callback.type == 4
    assert callback.data == {"content": "ok attention", "tts": False, "flags": 64}
    assert fake.interaction(payload["id"]).response_type == 4


async def test_deferred_response_then_followups(fake: FakeDiscord) -> None:
    """Type 5 then followup.send: the first follow-up resolves the thinking message, the next one is new."""
    seen: dict[str, asyncio.Future[str]] = {}
    client = make_client()
    interview_tree(client, seen)
    async with running_client(fake, client):
        payload = await fake.send_interaction(fake.payloads.interaction_command("interview slow"))
        ids = await asyncio.wait_for(future_for(seen, "slow"), 5)
    assert [c.type for c in fake.callbacks(payload["id"])] == [5]
    followups = fake.calls(f"/webhooks/{fake.world.application_id}/{payload['token']}", "POST")
    assert len(followups) == 2 and followups[0].query["wait"] == "1"
    record = fake.interaction(payload["id"])
    first_id, second_id = (int(i) for i in ids.split())
    assert first_id == record.original_id  # the loading message became the first follow-up
    original = fake.store.messages[first_id]
    assert original.content == "done" and original.flags == 0
    assert fake.store.messages[second_id].ephemeral


async def test_persistent_view_button_reaches_its_callback(fake: FakeDiscord) -> None:
    """A component interaction with a persistent view's custom_id runs the button callback."""
    clicked: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class StartView(discord.ui.View):
        """One persistent button."""

        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Start", custom_id="interview:start")
        async def start(self, interaction: discord.Interaction, button: discord.ui.Button[StartView]) -> None:
            """Answer and note who clicked."""
            await interaction.response.send_message("starting", ephemeral=True)
            clicked.set_result(interaction.user.id)

    async with running_client(fake) as client:
        client.add_view(StartView())
        payload = await fake.send_interaction(fake.payloads.interaction_component("interview:start"))
        assert await asyncio.wait_for(clicked, 5) == CANDIDATE.id
        callback = await fake.wait_for_callback(payload["id"])
    assert callback.type == 4 and callback.data is not None and callback.data["content"] == "starting"


async def test_button_on_a_sent_message_updates_it(fake: FakeDiscord) -> None:
    """A view sent with channel.send is bound to the message id; edit_message answers with type 7."""

    class Ready(discord.ui.View):
        """A one-shot view."""

        @discord.ui.button(label="Ready", custom_id="ready")
        async def ready(self, interaction: discord.Interaction, button: discord.ui.Button[Ready]) -> None:
            """Replace the message."""
            await interaction.response.edit_message(content="Let's begin", view=None)

    async with running_client(fake) as client:
        channel = client.get_channel(CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("Ready?", view=Ready(timeout=30))
        payload = await fake.send_interaction(fake.payloads.interaction_component("ready"))
        assert payload["message"]["id"] == str(sent.id)
        callback = await fake.wait_for_callback(payload["id"])
    assert callback.type == 7
    assert fake.store.messages[sent.id].content == "Let's begin"
    assert fake.store.messages[sent.id].payload["components"] == []


async def test_modal_submit_reaches_on_submit(fake: FakeDiscord) -> None:
    """send_modal records a type 9 callback; a type 5 submit mirroring it reaches Modal.on_submit."""
    seen: dict[str, asyncio.Future[str]] = {}
    client = make_client()
    interview_tree(client, seen)
    async with running_client(fake, client):
        command = await fake.send_interaction(fake.payloads.interaction_command("interview answer"))
        opened = await fake.wait_for_callback(command["id"], type=9)
        assert opened.data is not None and opened.data["custom_id"] == "answer-modal"
        submit = fake.payloads.interaction_modal_submit(
            "answer-modal", {"answer": "Scaled dot-product attention", "confidence": "high"}
        )
        assert [c["type"] for c in submit["data"]["components"]] == [18, 1]
        await fake.send_interaction(submit)
        values = await asyncio.wait_for(future_for(seen, "modal"), 5)
        thanks = await fake.wait_for_callback(submit["id"])
    assert values == "Scaled dot-product attention|high"
    assert thanks.type == 4 and submit["member"]["user"]["id"] == str(CANDIDATE.id)


async def test_dm_message_create_reaches_on_message(fake: FakeDiscord) -> None:
    """A MESSAGE_CREATE in the candidate's DM channel reaches on_message as a DM."""
    async with running_client(fake) as client:
        received = asyncio.ensure_future(client.wait_for("message", timeout=5))
        await fake.send_message_create(fake.payloads.message_create("hello bot", dm=True))
        message = await received
        assert isinstance(message.channel, discord.DMChannel) and message.guild is None
        assert message.content == "hello bot" and message.author.id == CANDIDATE.id
        dm = await message.author.create_dm()
        assert dm.id == message.channel.id  # the DM channel is stable per recipient
        await dm.send("hi candidate")
    assert fake.messages(dm.id)[-1].content == "hi candidate"


async def test_guild_message_content_needs_the_intent_or_a_mention(fake: FakeDiscord) -> None:
    """Without MESSAGE_CONTENT the gateway blanks guild message content unless the bot is mentioned."""
    async with running_client(fake) as client:
        plain = asyncio.ensure_future(client.wait_for("message", timeout=5))
        await fake.send_message_create(fake.payloads.message_create("secret answer"))
        assert (await plain).content == ""
        mentioned = asyncio.ensure_future(client.wait_for("message", timeout=5))
        await fake.send_message_create(fake.payloads.message_create(f"<@{fake.world.bot.id}> start"))
        assert (await mentioned).content == f"<@{fake.world.bot.id}> start"
    assert not default_intents().value & Intent.MESSAGE_CONTENT


async def test_threads_dms_and_rest_errors(fake: FakeDiscord) -> None:
    """Threads take their starter message's id; closed DMs give 403/50007; unknown routes give 404."""
    async with running_client(fake) as client:
        channel = client.get_channel(CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        question = await channel.send("Q1: what is attention?")
        thread = await question.create_thread(name="Interview")
        assert thread.id == question.id and thread.parent_id == CHANNEL_ID
        await thread.send("Take your time.", file=discord.File(io.BytesIO(b"attention(Q, K, V)"), "notes.txt"))
        await fake.wait_until(lambda: client.get_channel(thread.id) is not None)  # THREAD_CREATE reached the cache
        fake.close_dms(CANDIDATE.id)
        user = await client.fetch_user(CANDIDATE.id)
        with pytest.raises(discord.Forbidden) as closed:
            await user.send("hello")
        assert closed.value.code == 50007
        with pytest.raises(discord.NotFound):
            await client.fetch_guild(GUILD_ID)
    in_thread = fake.messages(thread.id)[-1]
    assert in_thread.content == "Take your time."
    assert [(a["filename"], a["size"]) for a in in_thread.payload["attachments"]] == [("notes.txt", 18)]
    assert fake.store.threads[thread.id][1]["message_count"] == 1
    assert fake.unknown_calls[-1].path == f"/api/v10/guilds/{GUILD_ID}"


async def test_interaction_rules_deadline_and_double_ack() -> None:
    """A late callback gets 404/10062 (the 3 s rule, here 0 s); a second callback gets 400/40060."""
    async with running_fake_discord(interaction_deadline=0.0) as fake, running_client(fake) as client:
        outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

        async def on_interaction(interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_message("too late")
            except discord.HTTPException as exc:
                outcome.set_result(exc)

        client.event(on_interaction)
        await fake.send_interaction(fake.payloads.interaction_command("interview ask", {"topic": "x"}))
        error = await asyncio.wait_for(outcome, 5)
        assert isinstance(error, discord.NotFound) and error.code == 10062
    async with running_fake_discord() as fake:
        payload = fake.payloads.interaction_command("ping")
        await fake.gateway.dispatch("INTERACTION_CREATE", payload)
        url = f"{fake.api_url}/interactions/{payload['id']}/{payload['token']}/callback"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"type": 5}) as first:
                assert first.status == 204
            async with session.post(url, json={"type": 5}) as second:
                assert second.status == 400 and (await second.json())["code"] == 40060


async def test_reconnect_resumes_the_session(fake: FakeDiscord) -> None:
    """Op 7 makes the client RESUME at resume_gateway_url; dispatches keep flowing afterwards."""
    async with running_client(fake) as client:
        resumed = asyncio.ensure_future(client.wait_for("resumed", timeout=5))
        await fake.gateway.send_reconnect()
        await resumed
        assert fake.gateway.resumes[-1]["session_id"] in fake.gateway.sessions
        received = asyncio.ensure_future(client.wait_for("message", timeout=5))
        await fake.send_message_create(fake.payloads.message_create("still there?", dm=True))
        assert (await received).content == "still there?"
    assert len(fake.gateway.identifies) == 1


async def test_guild_command_with_user_option_and_original_response_edits(fake: FakeDiscord) -> None:
    """Guild sync, a resolved user option, then GET/PATCH/DELETE of @original through the interaction webhook."""
    client = make_client()
    tree = app_commands.CommandTree(client)
    done: asyncio.Future[tuple[int, str, int]] = asyncio.get_running_loop().create_future()

    @tree.command(name="pair", description="Pair with a peer", guild=discord.Object(GUILD_ID))
    async def pair(interaction: discord.Interaction, peer: discord.User) -> None:
        await interaction.response.send_message(f"pairing with {peer.mention}")
        original = await interaction.original_response()
        edited = await interaction.edit_original_response(content="paired")
        await interaction.delete_original_response()
        done.set_result((original.id, edited.content, peer.id))

    async with running_client(fake, client):
        await tree.sync(guild=discord.Object(GUILD_ID))
        payload = await fake.send_interaction(fake.payloads.interaction_command("pair", {"peer": CANDIDATE}))
        assert payload["data"]["guild_id"] == str(GUILD_ID) and payload["data"]["options"][0]["type"] == 6
        original_id, content, peer_id = await asyncio.wait_for(done, 5)
    assert (content, peer_id) == ("paired", CANDIDATE.id)
    assert fake.interaction(payload["id"]).original_id == original_id and original_id not in fake.store.messages
    methods = [c.method for c in fake.calls(f"/webhooks/{fake.world.application_id}/{payload['token']}/messages/")]
    assert methods == ["GET", "PATCH", "DELETE"]
