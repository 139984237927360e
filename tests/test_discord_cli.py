"""`interview-bot discord` started as a user would: a subprocess pointed at the fake Discord by environment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.fakes.discord_server import CHANNEL_ID, FakeDiscord, Intent, running_fake_discord

SCRIPT = Path(sys.executable).with_name("interview-bot")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot"]
QUICK = 20.0  # seconds a failing start may take (interpreter start-up included)


def environment(tmp_path: Path, fake: FakeDiscord | None, **extra: str) -> dict[str, str]:
    """The process environment: no inherited Discord settings, a database in tmp, the fake's URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "INTERVIEW_BOT_"))}
    env["INTERVIEW_BOT_DB"] = str(tmp_path / "bot.sqlite3")
    if fake is not None:
        env |= {"DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.api_url, "DISCORD_GATEWAY_URL": fake.gateway_url}
    return env | extra


async def run_to_end(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `interview-bot discord ...` to completion (the fake keeps serving meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        *COMMAND, "discord", *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), QUICK)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def bot_process(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """`interview-bot discord` running in the background; stopped with SIGTERM (killed if it hangs)."""
    process = await asyncio.create_subprocess_exec(
        *COMMAND, "discord", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_missing_token_is_one_line_naming_it(tmp_path: Path) -> None:
    """Without DISCORD_TOKEN: exit 2 and one line that names the variable, no traceback."""
    code, _out, err = await run_to_end(env=environment(tmp_path, None))
    assert code == 2
    assert "DISCORD_TOKEN" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


async def test_refused_token_is_one_line_naming_it(tmp_path: Path) -> None:
    """A token the fake rejects (401): exit 2 with a clear message, no traceback."""
    async with running_fake_discord() as fake:
        code, _out, err = await run_to_end(env=environment(tmp_path, fake, DISCORD_TOKEN="not-the-token"))
        assert fake.calls("/users/@me", "GET")[-1].status == 401
    assert code == 2
    assert "DISCORD_TOKEN" in err and "refused" in err and "Traceback" not in err
    assert "not-the-token" not in err


async def test_discord_failing_at_login_is_one_line(tmp_path: Path) -> None:
    """Discord (or a REST proxy) answering 503 at login: exit 1 with one line naming the status, no traceback."""
    async with running_fake_discord() as fake:
        fake.fail_next("GET", "/users/@me", status=503, times=10)
        code, _out, err = await run_to_end(env=environment(tmp_path, fake))
    assert code == 1, err
    last = err.strip().splitlines()[-1]
    assert "error:" in last and "503" in last and "DISCORD_API_BASE" in last and "Traceback" not in err


async def test_sync_registers_the_commands_and_exits(tmp_path: Path) -> None:
    """--sync PUTs /interview globally, --sync --guild ID in that server; neither connects the gateway."""
    async with running_fake_discord() as fake:
        code, out, err = await run_to_end("--sync", env=environment(tmp_path, fake))
        assert code == 0, err
        put = fake.calls(f"/applications/{fake.world.application_id}/commands", "PUT")[-1]
        assert [c["name"] for c in put.json] == ["interview"]
        names = {o["name"] for o in put.json[0]["options"]}
        assert {"ask", "answer", "hint", "reveal", "skip", "cancel", "leaderboard", "stats", "lang", "settings",
                "drill", "review", "report", "schedule", "help", "forget-me"} <= names
        assert "permissions=309237730304" in out
        guild = next(iter(fake.world.guilds))
        code, out, err = await run_to_end("--sync", "--guild", str(guild), env=environment(tmp_path, fake))
        assert code == 0, err
        assert fake.store.commands[guild][0]["name"] == "interview"
        assert fake.gateway.identify is None
        code, _out, err = await run_to_end("--guild", str(guild), env=environment(tmp_path, fake))
        assert code == 2 and "--sync" in err


async def test_started_as_a_user_would_it_connects_and_asks(tmp_path: Path) -> None:
    """`interview-bot discord` connects (IDENTIFY with minimal intents) and /interview ask 1.4 posts the question."""
    async with running_fake_discord() as fake:
        async with bot_process(environment(tmp_path, fake, INTERVIEW_BOT_LOG_LEVEL="WARNING")) as process:
            await fake.wait_until(lambda: fake.gateway.identify is not None or process.returncode is not None, 30)
            assert fake.gateway.identify is not None
            assert fake.gateway.identify["intents"] == Intent.GUILDS | Intent.GUILD_MESSAGES | Intent.DIRECT_MESSAGES
            payload = await fake.send_interaction(fake.payloads.interaction_command("interview ask", {"id": "1.4"}))
            await fake.wait_until(lambda: any("interview:answer" in m.custom_ids() for m in fake.messages(CHANNEL_ID)))
            await fake.wait_for_callback(payload["id"])
            process.send_signal(signal.SIGTERM)
            out, err_bytes = await asyncio.wait_for(process.communicate(), 10)
        assert process.returncode == 0, err_bytes.decode()
        assert "Traceback" not in err_bytes.decode() and "connected as" in out.decode()
        assert not fake.calls("/commands", "PUT")  # a normal start does not sync
        question = next(m for m in fake.messages(CHANNEL_ID) if "interview:answer" in m.custom_ids())
        assert "1.4" in question.payload["embeds"][0]["title"]
