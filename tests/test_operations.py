"""Running it for a team: deployment files, `run`, health and metrics, logs, database care, people's data."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.app import App
from bot.cli import build_parser
from bot.clock import FakeClock
from bot.config import ENV_VARS, Settings
from bot.logs import setup_logging
from bot.storage.maintenance import backup
from handlers.router import Router
from tests.helpers import command, messenger, text_of

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )


def _subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)  # type: ignore[arg-type]


def test_compose_and_dockerfile_match_the_settings() -> None:
    """Compose runs a real subcommand, passes only variables the settings read, and keeps the DB on the volume."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    bot = compose["services"]["bot"]
    assert bot["command"][0] in _subcommands() and bot["command"][0] == "run"
    assert bot["restart"] in ("unless-stopped", "always")
    passed = set(bot["environment"])
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    docker_env = set(re.findall(r"\b(INTERVIEW_BOT_[A-Z_]+|DISCORD_[A-Z_]+|SLACK_[A-Z_]+)=", dockerfile))
    for var in passed | example | docker_env:
        assert var in ENV_VARS, f"{var} is passed but no setting reads it"
    assert set(ENV_VARS) <= example, "every variable the settings read is documented in .env.example"
    volume_target = next(v.split(":")[1] for v in bot["volumes"] if v.startswith("bot-data:"))
    db = Path(bot["environment"]["INTERVIEW_BOT_DB"])
    assert db.parent == Path(volume_target) and "bot-data" in compose["volumes"]
    assert 'VOLUME ["/data"]' in dockerfile and "INTERVIEW_BOT_DB=/data/" in dockerfile
    assert re.search(r"^FROM python:3\.1\d-slim", dockerfile, re.M)
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M) and "HEALTHCHECK" in dockerfile
    assert 'ENTRYPOINT ["interview-bot"]' in dockerfile and 'CMD ["run"]' in dockerfile
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".env", ".venv", "data", "*.sqlite3"} <= ignored  # tokens and databases never reach the build


def test_run_without_credentials_reports_health_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`run` says what it skipped and why, serves /healthz and /metrics, and exits on SIGTERM within 10 s."""
    port = free_port()
    env = {
        **os.environ,
        "INTERVIEW_BOT_DB": str(tmp_path / "db.sqlite3"),
        "DISCORD_TOKEN": "",
        "SLACK_BOT_TOKEN": "",
        "SLACK_APP_TOKEN": "",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--admin-port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert "interview-bot running" in first
        summary = json.loads(first.split(": ", 1)[1])
        assert summary["started"] == [] and "DISCORD_TOKEN" in summary["skipped"]["discord"]
        assert "SLACK_BOT_TOKEN" in summary["skipped"]["slack"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            health = json.loads(resp.read())
        assert resp.status == 200 and health["db"] == "ok" and health["ok"] is True
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        for name in (
            "interview_bot_open_rounds",
            "interview_bot_active_drills",
            "interview_bot_answers_recorded",
            "interview_bot_grading_seconds_bucket",
            "interview_bot_timer_lateness_seconds",
        ):
            assert name in metrics
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def _run_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's environment for `run`: no chat credentials unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "INTERVIEW_BOT_"))}
    return {**env, "INTERVIEW_BOT_DB": str(tmp_path / "db.sqlite3"), **extra}


def test_run_with_an_unreachable_platform_is_one_line(tmp_path: Path) -> None:
    """Discord's API unreachable (nothing listens on the port): exit 1 and one line naming the platform."""
    env = _run_env(tmp_path, DISCORD_TOKEN="abc.def.ghi", DISCORD_API_BASE=f"http://127.0.0.1:{free_port()}/api/v10")
    done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("interview-bot run: error: discord:") and "DISCORD_API_BASE" in last
    assert "Traceback" not in done.stderr and "abc.def.ghi" not in done.stderr


def test_sigterm_while_a_platform_is_still_connecting_stops_at_once(tmp_path: Path) -> None:
    """A Slack API that accepts connections and never answers: SIGTERM still ends `run` within 10 s."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/"
        env = _run_env(tmp_path, SLACK_BOT_TOKEN="xoxb-1-never", SLACK_APP_TOKEN="xapp-1-never", SLACK_API_URL=url)
        proc = subprocess.Popen([sys.executable, "-m", "bot", "--log-level", "INFO", "run"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            silent.settimeout(30)
            waiting, _address = silent.accept()  # the bot is now waiting for auth.test's answer
            try:
                sent = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                out, err = proc.communicate(timeout=15)
                assert time.monotonic() - sent < 10, err
            finally:
                waiting.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        silent.close()
    assert proc.returncode == 0, err
    assert "stopped before start-up finished" in out and "Traceback" not in err


def test_run_start_up_mistakes_are_one_line(tmp_path: Path) -> None:
    """A bad log level, an admin port out of range or already taken: one line each, no traceback."""
    bad_level = cli("run", env=_run_env(tmp_path, INTERVIEW_BOT_LOG_LEVEL="LOUD"))
    assert bad_level.returncode == 2 and "log_level" in bad_level.stderr and "Traceback" not in bad_level.stderr
    out_of_range = cli("run", "--admin-port", "99999", env=_run_env(tmp_path))
    assert out_of_range.returncode == 2 and "65535" in out_of_range.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = cli("run", "--admin-port", str(port), env=_run_env(tmp_path))
    assert busy.returncode == 1 and f"127.0.0.1:{port}" in busy.stderr and "Traceback" not in busy.stderr


async def test_metrics_count_failed_platform_sends_and_timer_lateness(app: App, clock: FakeClock) -> None:
    """A post the platform refuses counts as a platform API error; every fired timer feeds the lateness histogram."""
    from bot.metrics import Metrics
    from bot.runner import admin_app, make_platforms, wire_metrics

    metrics = Metrics()
    wire_metrics(app, metrics)
    router = Router(app)
    await router.handle(command("ask 1.1 --minutes 1"))
    messenger(app).fail_next = 1  # the reveal's post fails once; its timer posts it again
    await clock.advance(timedelta(minutes=1, seconds=1))
    await clock.advance(timedelta(seconds=30))
    scraped = await _scrape(admin_app(app, make_platforms(app, router, app.settings), metrics), "/metrics")
    assert 'interview_bot_platform_api_errors_total{platform="test"} 1.0' in scraped
    fired = re.search(r"^interview_bot_timer_lateness_seconds_count (\S+)$", scraped, re.M)
    assert fired is not None and float(fired[1]) >= 2


async def _scrape(web_app: Any, path: str) -> str:
    """GET a path of an aiohttp application served on 127.0.0.1."""
    from aiohttp import ClientSession, web

    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as resp:
            return await resp.text()
    finally:
        await runner.cleanup()


def test_tokens_never_reach_the_logs() -> None:
    """A token that travels through an error path is redacted in plain and JSON logs."""
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789"
    for fmt in ("plain", "json"):
        out = io.StringIO()
        handler = setup_logging(fmt, "INFO", secrets=["xoxb-1234-secret-value"], stream=out)
        log = logging.getLogger("tests.leak")
        try:
            raise ConnectionError(f"login failed with token {token} and xoxb-1234-secret-value")
        except ConnectionError:
            log.exception("platform login failed for Bot %s", token)
        logging.getLogger().removeHandler(handler)
        text = out.getvalue()
        assert token not in text and "xoxb-1234-secret-value" not in text
        assert "[redacted]" in text
        if fmt == "json":
            assert all(json.loads(line)["level"] for line in text.splitlines() if line.startswith("{"))


async def test_backup_while_writing_restores_consistently(app: App, tmp_path: Path) -> None:
    """An online backup taken while answers are being written finishes and opens as a consistent database.

    The database is made larger than one backup slice, so a backup copied in slices would start over at
    every write and never finish."""
    router = Router(app)
    await router.handle(command("ask 1.1 --minutes 60"))
    filler = sqlite3.connect(app.settings.db_path)
    try:
        with filler:
            filler.execute("CREATE TABLE filler (x BLOB)")
            filler.executemany("INSERT INTO filler VALUES (randomblob(1024))", [()] * 40_000)
    finally:
        filler.close()
    stop = asyncio.Event()
    under_way = asyncio.Event()

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            await router.handle(command("answer", f"u{n % 50}", text=f"回答 {n}: 多头关注不同子空间", via="form"))
            n += 1
            if n == 20:
                under_way.set()  # the backup starts while writes keep coming

    task = asyncio.create_task(writer())
    await under_way.wait()
    target = tmp_path / "backup.sqlite3"
    try:
        await asyncio.wait_for(backup(app.settings.db_path, target), timeout=60)
    finally:
        stop.set()
        await task
    assert not list(tmp_path.glob(".*.partial"))
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        copied = conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        assert conn.execute("SELECT COUNT(*) FROM filler").fetchone()[0] == 40_000
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    assert copied > 0 and version == await app.db.schema_version()


def test_db_cli_migrate_check_backup(tmp_path: Path) -> None:
    """db migrate, db check and db backup through the CLI."""
    env = {"INTERVIEW_BOT_DB": str(tmp_path / "bot.sqlite3")}
    migrated = cli("db", "migrate", env=env)
    assert migrated.returncode == 0 and "schema version" in migrated.stdout
    checked = cli("db", "check", env=env)
    assert checked.returncode == 0 and "integrity: ok" in checked.stdout
    copy = tmp_path / "copy.sqlite3"
    assert cli("db", "backup", str(copy), env=env).returncode == 0 and copy.exists()
    again = cli("db", "backup", str(copy), env=env)
    assert again.returncode == 1 and "exists" in again.stderr
    assert cli("db", "check", env={"INTERVIEW_BOT_DB": str(tmp_path / "missing.sqlite3")}).returncode == 1


async def test_export_and_forget(app: App, clock: FakeClock, tmp_path: Path) -> None:
    """export writes one person's data as JSON and CSV; forget deletes it and nobody else's."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    await router.handle(command("answer", "bob", text="多头关注不同子空间", via="form"))
    await router.handle(command("answer", "carol", text="每个头一个子空间", via="form"))
    await router.handle(command("reveal"))
    await router.handle(command("drill 2", "bob", dm=True))
    for _question in range(2):
        await clock.advance(timedelta(minutes=2))
        await router.handle(command("", "bob", dm=True, text="我的回答", via="message"))
        await router.handle(command("skip", "bob", dm=True))
    env = {"INTERVIEW_BOT_DB": str(app.settings.db_path)}
    exported = cli("export", "--platform", "console", "--user", "bob", env=env)
    assert exported.returncode == 1  # bob is on the test platform, not the console
    from bot.people import export_person, forget_person

    out = io.StringIO()
    settings = Settings(db_path=app.settings.db_path)
    assert await export_person(settings, "test", "bob", "json", out) == 0
    data = json.loads(out.getvalue())
    assert data["answers"][0]["text"] == "多头关注不同子空间" and data["round_results"]
    csv_out = io.StringIO()
    assert await export_person(settings, "test", "bob", "csv", csv_out) == 0
    assert "answer,1.1" in csv_out.getvalue()
    item_times = [row[2] for row in csv.reader(io.StringIO(csv_out.getvalue())) if row[0] == "drill_item"]
    assert len(item_times) >= 2 and len(set(item_times)) == len(item_times)  # each item its own time
    counts = await forget_person(settings, "test", "bob")
    assert counts is not None and counts["answers"] == 1
    assert await forget_person(settings, "test", "bob") is None
    assert await forget_person(settings, "test", "carol") is not None


async def test_forget_me_asks_then_deletes(app: App) -> None:
    """forget-me explains and waits for confirm; forget-me confirm deletes the caller's data."""
    router = Router(app)
    await router.handle(command("ask 1.1"))
    await router.handle(command("answer", "bob", text="多头关注不同子空间", via="form"))
    first = text_of(await router.handle(command("forget-me", "bob")))
    assert "forget-me confirm" in first and len(await app.store.round_answers(1)) == 1
    done = text_of(await router.handle(command("forget-me confirm", "bob")))
    assert "已删除" in done and await app.store.round_answers(1) == []


def test_forget_cli_needs_confirmation_without_a_terminal(tmp_path: Path) -> None:
    """forget without --yes and without a terminal refuses with a clear message."""
    result = cli("forget", "--platform", "slack", "--user", "U1", env={"INTERVIEW_BOT_DB": str(tmp_path / "x.db")})
    assert result.returncode == 2 and "--yes" in result.stderr


def test_export_and_forget_read_what_is_there(tmp_path: Path) -> None:
    """On a missing database, export and forget say so and create nothing; a command that only reads
    (report) creates no person, so export afterwards still has no data for them."""
    missing = tmp_path / "none.sqlite3"
    env = {"INTERVIEW_BOT_DB": str(missing)}
    for args in (("export", "--platform", "console", "--user", "zzz"), ("forget", "--platform", "console",
                                                                        "--user", "zzz", "--yes")):
        result = cli(*args, env=env)
        assert result.returncode == 1 and f"no database at {missing}" in result.stderr, result.stderr
        assert "migration" not in result.stderr and not missing.exists()
    for args in (("report", "--user", "x"), ("drill", "status", "--user", "x"), ("drill", "stop", "--user", "x")):
        result = cli(*args, env=env)
        assert result.returncode == 1 and "Traceback" not in result.stderr and not missing.exists(), args
    db = tmp_path / "bot.sqlite3"
    env = {"INTERVIEW_BOT_DB": str(db)}
    assert cli("db", "migrate", env=env).returncode == 0
    assert cli("report", "--user", "nobody", env=env).returncode in (0, 1)
    exported = cli("export", "--platform", "console", "--user", "nobody", env=env)
    assert exported.returncode == 1 and "no data for console user nobody" in exported.stderr
