"""The fake Slack speaks the real protocol: driven by the real slack_sdk and slack-bolt, no bot code."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import (
    BOT_USER_ID,
    FakeSlackAPI,
    block_actions,
    deliver,
    event_callback,
    event_callback_payload,
    im_message_event,
    serve_web_app,
    slash_command,
    slash_command_payload,
    start_fake_slack,
    view_submission,
)

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-1-fake-app-token"
SECRET = "fake-signing-secret"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    """A running fake Slack, closed after the test."""
    server = await start_fake_slack()
    yield server
    await server.close()


def web_client(fake: FakeSlackAPI, **options: Any) -> AsyncWebClient:
    """A real AsyncWebClient pointed at the fake (one short-lived aiohttp session per call: nothing to close)."""
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url, **options)


class Seen:
    """What the bolt listeners of a test app observed."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}


def bolt_app(fake: FakeSlackAPI, seen: Seen) -> AsyncApp:
    """A minimal bolt app with one listener of each kind, talking to the fake."""
    app = AsyncApp(client=web_client(fake), signing_secret=SECRET)

    @app.command("/interview")
    async def interview(ack: Any, command: dict[str, Any], say: Any, respond: Any) -> None:
        await ack("Starting your interview…")
        seen.items["command"] = command
        await say(f"<@{command['user_id']}> started: {command['text']}")
        await respond("only you can see this")

    @app.message()
    async def dm(message: dict[str, Any], request: AsyncBoltRequest, client: AsyncWebClient) -> None:
        seen.items["message"] = message
        seen.items["retry"] = request.headers.get("x-slack-retry-num", [None])[0]
        await client.chat_postMessage(channel=message["channel"], text=f"echo: {message['text']}")

    @app.action("answer")
    async def answer(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen.items["action"] = body["actions"][0]
        await client.chat_update(channel=body["channel"]["id"], ts=body["container"]["message_ts"], text="picked")

    @app.view("answer_modal")
    async def submitted(ack: Any, view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen.items["view"] = view
        await client.chat_postMessage(channel=view["private_metadata"], text="graded")

    return app


async def test_web_client_calls_are_recorded_with_arguments(fake: FakeSlackAPI) -> None:
    """auth.test and chat.postMessage reach the fake with their arguments and the bearer token."""
    client = web_client(fake)
    auth = await client.auth_test()
    assert auth["user_id"] == BOT_USER_ID and auth["bot_id"] and auth["team_id"] == fake.team_id
    first = await client.chat_postMessage(channel="C1", text="hi", blocks=[{"type": "divider"}])
    second = await client.chat_postMessage(channel="C1", text="again", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    call = fake.last("chat.postMessage")
    assert call.args["thread_ts"] == first["ts"] and call.token == BOT_TOKEN
    assert fake.calls("chat.postMessage")[0].arg("blocks") == [{"type": "divider"}]
    assert [c.method for c in fake.calls()] == ["auth.test", "chat.postMessage", "chat.postMessage"]
    assert BOT_TOKEN not in repr(call)


async def test_params_get_and_stable_dm_channels(fake: FakeSlackAPI) -> None:
    """Query-only calls, the users.info GET, DM channels and views all answer realistically."""
    fake.add_user("U0ADMIN", "boss", is_admin=True)
    client = web_client(fake)
    admin = await client.users_info(user="U0ADMIN")
    assert admin["user"]["is_admin"] is True and admin["user"]["profile"]["display_name"] == "boss"
    assert (await client.users_info(user="U0OTHER"))["user"]["is_admin"] is False
    dm1 = await client.conversations_open(users="U0ALICE")
    dm2 = await client.conversations_open(users=["U0ALICE"])
    assert dm1["channel"]["id"] == dm2["channel"]["id"] and dm1["channel"]["id"].startswith("D")
    posted = await client.chat_postMessage(channel="U0ALICE", text="hello")
    assert posted["channel"] == dm1["channel"]["id"]
    opened = await client.views_open(trigger_id="1.2.abc", view={"type": "modal", "callback_id": "m", "blocks": []})
    updated = await client.views_update(view_id=opened["view"]["id"], view={"type": "modal", "blocks": []})
    assert updated["view"]["id"] == opened["view"]["id"]
    assert (await client.chat_postEphemeral(channel="C1", user="U0ALICE", text="psst"))["message_ts"]


async def test_injected_errors_and_rate_limit_retry(fake: FakeSlackAPI) -> None:
    """ok=false errors raise SlackApiError; a 429 with Retry-After is retried by the rate-limit handler."""
    plain = web_client(fake)
    fake.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as failed:
        await plain.chat_postMessage(channel="C1", text="x")
    assert failed.value.response["error"] == "channel_not_found"

    retrying = web_client(fake, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    fake.fail_next("chat.postMessage", retry_after=0)
    started = time.monotonic()
    ok = await retrying.chat_postMessage(channel="C1", text="eventually")
    assert ok["ok"] and time.monotonic() - started < 2
    attempts = fake.calls("chat.postMessage")[-2:]
    assert [c.error for c in attempts] == ["ratelimited", None]

    fake.fail_next("chat.postMessage", retry_after=0)
    with pytest.raises(SlackApiError) as limited:
        await plain.chat_postMessage(channel="C1", text="no retry handler")
    assert limited.value.response.status_code == 429 and limited.value.response.headers["Retry-After"] == "0"


async def test_bolt_http_slash_command_and_signature_checks(fake: FakeSlackAPI) -> None:
    """A signed slash command is acked and its listener posts; bad signatures and stale timestamps get 401."""
    seen = Seen()
    async with serve_web_app(bolt_app(fake, seen).web_app(path="/slack/events")) as base:
        url = f"{base}/slack/events"
        request = slash_command("transformers", response_url=fake.response_url())
        answer = await deliver(url, request, SECRET)
        assert answer.status == 200 and "Starting your interview" in answer.body
        post = await fake.wait_for("chat.postMessage")
        assert post.args["channel"] == "C0GENERAL" and post.args["text"] == "<@U0ALICE> started: transformers"
        assert (await fake.wait_for("response_url")).args["text"] == "only you can see this"
        assert seen.items["command"]["trigger_id"]

        assert (await deliver(url, request, "wrong-secret")).status == 401
        stale = int(time.time()) - 600
        assert (await deliver(url, request, SECRET, timestamp=stale)).status == 401
    assert len(fake.calls("chat.postMessage")) == 1


async def test_bolt_http_event_action_and_view(fake: FakeSlackAPI) -> None:
    """message.im events, block_actions and view_submission reach their bolt listeners."""
    seen = Seen()
    async with serve_web_app(bolt_app(fake, seen).web_app(path="/slack/events")) as base:
        url = f"{base}/slack/events"
        event = event_callback(im_message_event("attention is all you need"), event_id="Ev0001")
        assert (await deliver(url, event, SECRET, retry_num=1)).status == 200
        echo = await fake.wait_for("chat.postMessage", lambda c: c.args["text"].startswith("echo:"))
        assert echo.args["channel"] == "D0ALICE" and seen.items["retry"] == "1"

        click = block_actions("answer", "b", "U0ALICE", "C0GENERAL", message_ts="1700000000.000100")
        assert (await deliver(url, click, SECRET)).status == 200
        update = await fake.wait_for("chat.update")
        assert update.args["ts"] == "1700000000.000100" and seen.items["action"]["value"] == "b"

        values = {"answer_block": {"answer_input": {"type": "plain_text_input", "value": "softmax"}}}
        submit = view_submission("answer_modal", "C0GENERAL", values, "U0ALICE")
        assert (await deliver(url, submit, SECRET)).status == 200
        await fake.wait_for("chat.postMessage", lambda c: c.args["text"] == "graded")
        assert seen.items["view"]["state"]["values"] == values
    assert len(fake.calls("auth.test")) == 1  # bolt caches the single-team auth.test


async def test_bot_own_messages_are_ignored_by_bolt(fake: FakeSlackAPI) -> None:
    """An event authored by the bot user (from auth.test) never reaches the message listener."""
    seen = Seen()
    async with serve_web_app(bolt_app(fake, seen).web_app()) as base:
        url = f"{base}/slack/events"
        own = event_callback(im_message_event("from me", user_id=BOT_USER_ID, bot_id=fake.bot_id))
        assert (await deliver(url, own, SECRET)).status == 200
        assert (await deliver(url, event_callback(im_message_event("from alice")), SECRET)).status == 200
        await fake.wait_for("chat.postMessage")  # barrier: the later event has been fully handled
    assert [c.args["text"] for c in fake.calls("chat.postMessage")] == ["echo: from alice"]


async def test_bolt_http_drops_slash_commands_mentioning_payload(fake: FakeSlackAPI) -> None:
    """Canary: bolt 1.30 HTTP mode answers 404 to a slash command whose raw form body contains "payload"."""
    seen = Seen()
    async with serve_web_app(bolt_app(fake, seen).web_app()) as base:
        answer = await deliver(f"{base}/slack/events", slash_command("what is the payload of a KV cache?"), SECRET)
    # slack_bolt.request.internals.parse_body: `if "payload" in body` -> looks for payload=..., finds none -> {}
    assert answer.status == 404 and "command" not in seen.items


async def test_socket_mode_round_trip_and_reconnect(fake: FakeSlackAPI) -> None:
    """AsyncSocketModeHandler connects via apps.connections.open, runs a slash command, acks it, reconnects."""
    seen = Seen()
    handler = AsyncSocketModeHandler(bolt_app(fake, seen), APP_TOKEN)
    try:
        await handler.connect_async()
        opened = await fake.wait_for("apps.connections.open")
        assert opened.token == APP_TOKEN
        envelope_id = await fake.socket.send_envelope(
            "slash_commands", slash_command_payload("attention payload", response_url=fake.response_url())
        )
        ack = await fake.socket.wait_for_ack(envelope_id)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "Starting your interview…"}}
        await fake.wait_for("chat.postMessage", lambda c: c.args["text"].endswith("attention payload"))

        await fake.socket.send_disconnect()
        await fake.socket.wait_connected(count=2)
        assert len(fake.calls("apps.connections.open")) == 2
        dm = event_callback_payload(im_message_event("after reconnect"))
        again = await fake.socket.send_envelope("events_api", dm)
        assert await fake.socket.wait_for_ack(again) == {"envelope_id": again}
        await fake.wait_for("chat.postMessage", lambda c: c.args["text"] == "echo: after reconnect")
    finally:
        await handler.close_async()


async def test_socket_mode_rejects_a_bot_token(fake: FakeSlackAPI) -> None:
    """apps.connections.open with a bot token fails like Slack (not_allowed_token_type)."""
    client = web_client(fake)
    with pytest.raises(SlackApiError) as failed:
        await client.apps_connections_open(app_token=BOT_TOKEN)
    assert failed.value.response["error"] == "not_allowed_token_type"
