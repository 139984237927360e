"""`interview-bot run` as a real process: SIGTERM mid-round, then a restart reveals that round exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlackAPI, slash_command_payload, start_fake_slack

ROOT = Path(__file__).resolve().parents[1]
BOT_TOKEN = "xoxb-run-bot-token-0001"
APP_TOKEN = "xapp-1-run-app-token-0001"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    slack = await start_fake_slack()
    yield slack
    await slack.close()


async def start_run(fake: FakeSlackAPI, db: Path) -> asyncio.subprocess.Process:
    """Start `interview-bot run` with Slack in Socket Mode against the fake, and wait until it says it runs."""
    env = {
        **os.environ, "INTERVIEW_BOT_DB": str(db), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": fake.api_url, "DISCORD_TOKEN": "", "INTERVIEW_BOT_ANSWER_MINUTES": "0.05",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert b"interview-bot running" in line and b'"slack"' in line, line
    return proc


async def stop_run(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(proc.wait(), 10)
    await proc.communicate()
    return code


def reveals(fake: FakeSlackAPI) -> list[object]:
    return [c for c in fake.calls("chat.postMessage") if c.args.get("thread_ts")]


async def test_sigterm_mid_round_then_restart_reveals_once(fake: FakeSlackAPI, tmp_path: Path) -> None:
    """A round open at SIGTERM is revealed once by the next start, and not again by the one after."""
    db = tmp_path / "bot.sqlite3"
    proc = await start_run(fake, db)
    try:
        await fake.socket.wait_connected()
        envelope = await fake.socket.send_envelope("slash_commands", slash_command_payload(
            "ask 1.1", response_url=fake.response_url()))
        await fake.socket.wait_for_ack(envelope)
        question = await fake.wait_for("chat.postMessage")
        assert "1.1" in str(question.args)
        assert await stop_run(proc) == 0  # well before the 3-second deadline
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert reveals(fake) == []
    await asyncio.sleep(3.5)  # the bot is down while the deadline passes
    for attempt in range(2):
        again = await start_run(fake, db)
        try:
            if attempt == 0:
                await fake.wait_for("chat.postMessage", lambda c: bool(c.args.get("thread_ts")), timeout=20)
            await fake.socket.wait_connected(attempt + 2)
            await asyncio.sleep(0.5)  # time for a second reveal, if there were to be one
        finally:
            assert await stop_run(again) == 0
        assert len(reveals(fake)) == 1
