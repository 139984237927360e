"""One settings object, built from defaults < TOML file < environment < CLI flags, then passed in.

Nothing else in the code reads os.environ: the CLI builds Settings once and hands it
down, so tests construct Settings directly with whatever they need.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_DB = Path("data/interview-bot.sqlite3")


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, with its default."""

    db_path: Path = DEFAULT_DB
    bank_paths: tuple[Path, ...] = ()
    lang: str = "zh"
    answer_minutes: float = 5.0
    drill_minutes: float = 5.0
    drill_count: int = 5
    log_format: str = "plain"
    log_level: str = "INFO"
    admin_port: int | None = None
    admin_host: str = "127.0.0.1"
    discord_token: str | None = field(default=None, repr=False)
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_thread_replies: bool = False
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    slack_admin_users: tuple[str, ...] = ()
    schedule_grace_minutes: float = 120.0
    # Processes that grade replies off the event loop (0: grade on it).  Each takes about 100 MB and
    # a few seconds to start.  Unset: `run` starts one when the machine has a second core; the
    # terminal and the tests grade on the event loop.
    grading_workers: int | None = None

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given non-None values applied."""
        return _validate(replace(self, **{k: v for k, v in values.items() if v is not None}))


# Environment variable -> settings field.  The deployment files are checked against this table.
ENV_VARS: dict[str, str] = {
    "INTERVIEW_BOT_DB": "db_path",
    "INTERVIEW_BOT_BANK_PATHS": "bank_paths",
    "INTERVIEW_BOT_LANG": "lang",
    "INTERVIEW_BOT_ANSWER_MINUTES": "answer_minutes",
    "INTERVIEW_BOT_LOG_FORMAT": "log_format",
    "INTERVIEW_BOT_LOG_LEVEL": "log_level",
    "INTERVIEW_BOT_ADMIN_PORT": "admin_port",
    "INTERVIEW_BOT_ADMIN_HOST": "admin_host",
    "DISCORD_TOKEN": "discord_token",
    "DISCORD_API_BASE": "discord_api_base",
    "DISCORD_GATEWAY_URL": "discord_gateway_url",
    "DISCORD_THREAD_REPLIES": "discord_thread_replies",
    "SLACK_BOT_TOKEN": "slack_bot_token",
    "SLACK_APP_TOKEN": "slack_app_token",
    "SLACK_SIGNING_SECRET": "slack_signing_secret",
    "SLACK_API_URL": "slack_api_url",
    "SLACK_ADMIN_USERS": "slack_admin_users",
    "INTERVIEW_BOT_SCHEDULE_GRACE_MINUTES": "schedule_grace_minutes",
    "INTERVIEW_BOT_GRADING_WORKERS": "grading_workers",
}

_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = str(_FIELD_TYPES[name])
    try:
        if kind == "Path":
            return Path(str(value)).expanduser()
        if kind.startswith("tuple[Path"):
            items = value if isinstance(value, list | tuple) else str(value).split(":")
            return tuple(Path(str(p)).expanduser() for p in items if str(p))
        if kind.startswith("tuple[str"):
            items = value if isinstance(value, list | tuple) else str(value).split(",")
            return tuple(str(p).strip() for p in items if str(p).strip())
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
                raise ValueError(value)
            return text in {"1", "true", "yes", "on"}
        if kind == "float":
            return float(value)
        if kind in ("int", "int | None"):
            return int(value)
        return str(value) if value is not None else None
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r}: cannot use {value!r}") from exc


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_MINUTES = 1440.0  # a day: the longest time limit per question or round, everywhere


def _validate(settings: Settings) -> Settings:
    if settings.lang not in ("zh", "en"):
        raise SettingsError(f"setting 'lang' must be zh or en, not {settings.lang!r}")
    if settings.log_format not in ("plain", "json"):
        raise SettingsError(f"setting 'log_format' must be plain or json, not {settings.log_format!r}")
    for name in ("answer_minutes", "drill_minutes"):
        if not 0 < getattr(settings, name) <= MAX_MINUTES:  # also refuses nan and inf
            raise SettingsError(f"setting {name!r} must be more than 0 and at most {MAX_MINUTES:g}")
    if settings.log_level.upper() not in LOG_LEVELS:
        raise SettingsError(f"setting 'log_level' must be one of {', '.join(LOG_LEVELS)}, not {settings.log_level!r}")
    if settings.admin_port is not None and not 1 <= settings.admin_port <= 65535:
        raise SettingsError(f"setting 'admin_port' must be a port number from 1 to 65535, not {settings.admin_port}")
    if settings.grading_workers is not None and not 0 <= settings.grading_workers <= 64:
        raise SettingsError(f"setting 'grading_workers' must be between 0 and 64, not {settings.grading_workers}")
    return settings


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings: defaults, then the TOML file, then environment, then flags (non-None)."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"cannot read config file {config_file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {config_file} is not valid TOML: {exc}") from exc
        section = data.get("interview_bot", data)
        for key, value in section.items():
            if key not in _FIELD_TYPES:
                raise SettingsError(f"config file {config_file}: unknown setting {key!r}")
            values[key] = _coerce(key, value)
    for var, name in ENV_VARS.items():
        if environ is not None and environ.get(var, "") != "":
            values[name] = _coerce(name, environ[var])
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    return _validate(Settings(**values))
