"""Clock and settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import FakeClock, SystemClock, from_iso, to_iso
from bot.config import DEFAULT_DB, Settings, SettingsError, load_settings


def test_system_clock_is_aware_utc() -> None:
    """SystemClock.now() is timezone-aware UTC."""
    assert SystemClock().now().tzinfo is UTC


def test_fake_clock_refuses_naive_start() -> None:
    """A naive start time is a bug in the test."""
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))


def test_iso_round_trip_sorts() -> None:
    """Stored times round-trip and sort as text."""
    a = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    b = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert from_iso(to_iso(a)) == a
    assert to_iso(a) < to_iso(b)


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    """Defaults < TOML file < environment < flags."""
    config = tmp_path / "bot.toml"
    config.write_text('db_path = "from-file.db"\nlang = "en"\nanswer_minutes = 3\n', encoding="utf-8")
    assert load_settings().db_path == DEFAULT_DB
    assert load_settings(config_file=config).db_path == Path("from-file.db")
    env = {"INTERVIEW_BOT_DB": "from-env.db"}
    assert load_settings(config_file=config, environ=env).db_path == Path("from-env.db")
    s = load_settings(config_file=config, environ=env, flags={"db_path": Path("flag.db")})
    assert (s.db_path, s.lang, s.answer_minutes) == (Path("flag.db"), "en", 3.0)


def test_bad_values_name_the_setting(tmp_path: Path) -> None:
    """Bad values raise SettingsError naming the setting."""
    with pytest.raises(SettingsError, match="lang"):
        load_settings(environ={"INTERVIEW_BOT_LANG": "fr"})
    with pytest.raises(SettingsError, match="answer_minutes"):
        load_settings(environ={"INTERVIEW_BOT_ANSWER_MINUTES": "soon"})
    bad = tmp_path / "bad.toml"
    bad.write_text("nope = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings(config_file=bad)


def test_secrets_are_not_in_repr() -> None:
    """Tokens never show in a repr (and so not in logs that print settings)."""
    s = Settings(discord_token="secret-token-value", slack_bot_token="xoxb-123456789")
    assert "secret-token-value" not in repr(s) and "xoxb" not in repr(s)


def test_the_bot_runs_on_uvloop_where_it_is_installed() -> None:
    """`bot.loop.run` runs a coroutine to its result on uvloop when uvloop is importable (every platform
    the package installs it on), else on asyncio's own loop; `name()` says which.  It also sets the
    garbage collector's thresholds."""
    import asyncio
    import gc
    import importlib.util

    from bot import loop

    async def which() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    before = gc.get_threshold()
    try:
        module = loop.run(which())
        assert gc.get_threshold() == loop.GC_THRESHOLDS  # tuned for a long-lived server
    finally:
        gc.set_threshold(*before)
    if importlib.util.find_spec("uvloop") is not None:
        assert module.startswith("uvloop") and loop.name() == "uvloop"
    else:
        assert module.startswith("asyncio") and loop.name() == "asyncio"


def test_global_options_work_before_or_after_the_subcommand(tmp_path: Path) -> None:
    """--db and --log-format may follow the subcommand (`run --log-format json`, `db check --db x`)."""
    from bot.cli import build_parser, settings_from

    parser = build_parser()
    before = parser.parse_args(["--db", str(tmp_path / "a.db"), "db", "check"])
    after = parser.parse_args(["db", "check", "--db", str(tmp_path / "b.db")])
    run = parser.parse_args(["run", "--log-format", "json"])
    assert settings_from(before, {}).db_path == tmp_path / "a.db"
    assert settings_from(after, {}).db_path == tmp_path / "b.db"
    assert settings_from(run, {}).log_format == "json"
    assert settings_from(parser.parse_args(["--db", "x.db", "drill", "--db", "y.db"]), {}).db_path == Path("y.db")
