"""`interview-bot slack` as people run it: Socket Mode against the fake's websocket, HTTP mode as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.platforms.slack.service import RunOptions, run
from question_bank.schema import Bank
from tests.conftest import START
from tests.fakes.slack_api import (
    CHANNEL_ID,
    FakeSlackAPI,
    deliver,
    slash_command,
    slash_command_payload,
    start_fake_slack,
)

SECRET = "cli-signing-secret"
BOT_TOKEN = "xoxb-cli-bot-token-0001"
APP_TOKEN = "xapp-1-cli-app-token-0001"
SCRIPT = Path(sys.executable).with_name("interview-bot")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    """A running fake Slack, closed after the test."""
    server = await start_fake_slack()
    yield server
    await server.close()


async def test_socket_mode_acks_a_slash_command(fake: FakeSlackAPI, tmp_path: Path, bank: Bank) -> None:
    """The Socket Mode path connects with the app token, acks a slash-command envelope, then posts the question."""
    settings = Settings(db_path=tmp_path / "bot.sqlite3", slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN,
                        slack_api_url=fake.api_url)
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, RunOptions(), clock=FakeClock(START), bank=bank, stop=stop,
                                   handle_signals=False))
    try:
        await fake.socket.wait_connected(timeout=10)
        assert {c.token for c in fake.calls("apps.connections.open")} == {APP_TOKEN}
        assert fake.last("auth.test").token == BOT_TOKEN
        payload = slash_command_payload("ask 1.4", response_url=fake.response_url())
        envelope_id = await fake.socket.send_envelope("slash_commands", payload)
        assert await fake.socket.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
        post = await fake.wait_for("chat.postMessage")
        assert post.args["channel"] == CHANNEL_ID and post.arg("blocks")[0]["type"] == "header"
        told = await fake.wait_for("response_url")
        assert told.args["response_type"] == "ephemeral"
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=10) == 0
    assert not fake.socket.connected


async def test_socket_mode_refused_app_token_is_named(fake: FakeSlackAPI, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A refused app-level token ends with exit code 2 and one line naming SLACK_APP_TOKEN."""
    fake.fail_next("apps.connections.open", error="invalid_auth")
    settings = Settings(db_path=tmp_path / "bot.sqlite3", slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN,
                        slack_api_url=fake.api_url)
    assert await run(settings, RunOptions(), handle_signals=False) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SLACK_APP_TOKEN" in err and "invalid_auth" in err
    assert not (tmp_path / "bot.sqlite3").exists()  # refused before the engine was built


def _environ(fake: FakeSlackAPI, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The user's environment without Slack or bot settings, plus the ones given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INTERVIEW_BOT_"))}
    env.update(SLACK_API_URL=fake.api_url, INTERVIEW_BOT_DB=str(tmp_path / "bot.sqlite3"), **extra)
    return env


async def _start(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot"]
    return await asyncio.create_subprocess_exec(*command, "slack", *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)


async def _wait_for_line(stream: asyncio.StreamReader, pattern: str, seen: list[str], timeout: float = 30) -> str:
    """Read lines until one matches; returns the first group."""
    async with asyncio.timeout(timeout):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("the app exited before it was ready:\n" + "".join(seen))
            seen.append(line)
            if match := re.search(pattern, line):
                return match.group(1)


async def test_http_mode_started_like_a_user_would(fake: FakeSlackAPI, tmp_path: Path) -> None:
    """`interview-bot slack --http --port 0` serves /healthz and turns a signed /interview ask into a post."""
    env = _environ(fake, tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET)
    proc = await _start(env, "--http", "--port", "0", "--host", "127.0.0.1")
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        base = await _wait_for_line(proc.stderr, r"url=(http://[\d.:]+)/slack/events", seen)
        async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as resp:
            assert resp.status == 200 and await resp.json() == {"ok": True, "db": "ok", "slack": "ok"}
        request = slash_command("ask 1.4", response_url=fake.response_url())
        assert (await deliver(f"{base}/slack/events", request, SECRET)).status == 200
        post = await fake.wait_for("chat.postMessage", timeout=10)
        assert post.token == BOT_TOKEN and post.args["channel"] == CHANNEL_ID
        assert "1.4" in json.dumps(post.arg("blocks"))
        await fake.wait_for("response_url", timeout=10)
        assert (await deliver(f"{base}/slack/events", request, "wrong-secret")).status == 401
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _out, rest = await asyncio.wait_for(proc.communicate(), timeout=20)
    log = "".join(seen) + rest.decode()
    assert proc.returncode == 0, log
    assert BOT_TOKEN not in log and SECRET not in log and "Traceback" not in log


@pytest.mark.parametrize(("variable", "fail_auth"), [("SLACK_SIGNING_SECRET", False), ("SLACK_BOT_TOKEN", True)])
async def test_http_mode_missing_or_wrong_credentials(fake: FakeSlackAPI, tmp_path: Path, variable: str,
                                                      fail_auth: bool) -> None:
    """No signing secret, or a bot token Slack refuses: exit code 2 and one line naming the variable."""
    env = _environ(fake, tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN)
    if fail_auth:
        env["SLACK_SIGNING_SECRET"] = SECRET
        fake.fail_next("auth.test", error="invalid_auth")
    proc = await _start(env, "--http", "--port", "0", "--host", "127.0.0.1")
    _out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    text = err.decode()
    assert proc.returncode == 2, text
    assert variable in text and "Traceback" not in text and text.count("\n") == 1
    if fail_auth:
        assert "invalid_auth" in text


async def test_an_api_url_that_does_not_answer_like_slack_is_one_line(fake: FakeSlackAPI, tmp_path: Path) -> None:
    """A SLACK_API_URL whose server answers with a text 404 (not Slack's JSON): exit 1, one line naming it."""
    env = _environ(fake, tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET)
    env["SLACK_API_URL"] = fake.url + "/nothing/"
    proc = await _start(env, "--http", "--port", "0", "--host", "127.0.0.1")
    _out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    text = err.decode()
    assert proc.returncode == 1, text
    assert "SLACK_API_URL" in text and "http_404" in text and "Traceback" not in text and text.count("\n") == 1


async def test_http_port_in_use_is_one_line(fake: FakeSlackAPI, tmp_path: Path, bank: Bank,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A port that is already taken ends with exit code 1 and one line naming the address."""
    settings = Settings(db_path=tmp_path / "bot.sqlite3", slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET,
                        slack_api_url=fake.api_url)
    port = int(fake.url.rsplit(":", 1)[1])  # the fake itself holds it
    options = RunOptions(http=True, host="127.0.0.1", port=port)
    assert await run(settings, options, clock=FakeClock(START), bank=bank, handle_signals=False) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "Traceback" not in err


async def test_runner_for_interview_bot_run(fake: FakeSlackAPI, tmp_path: Path, bank: Bank) -> None:
    """The `run` platform runner connects on a shared engine and router, reports connected, and stops."""
    from bot.app import build_app
    from bot.platforms.slack.runner import make_runner
    from handlers.router import Router

    settings = Settings(db_path=tmp_path / "bot.sqlite3", slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN,
                        slack_api_url=fake.api_url)
    engine = await build_app(settings, clock=FakeClock(START), bank=bank)
    router = Router(engine)
    runner = make_runner(engine, router, settings)
    try:
        await engine.start()
        await runner.start()
        await fake.socket.wait_connected()
        assert runner.name == "slack" and runner.connected
        payload = slash_command_payload("help", response_url=fake.response_url())
        envelope_id = await fake.socket.send_envelope("slash_commands", payload)
        await fake.socket.wait_for_ack(envelope_id)
        helped = await fake.wait_for("response_url")
        assert helped.args["response_type"] == "ephemeral" and "ask [ID|random]" in helped.args["text"]
        assert await router.drain(5)
    finally:
        await runner.stop()
        await engine.close()
    assert not runner.connected
