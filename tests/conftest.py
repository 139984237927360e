"""Shared fixtures: a real SQLite file per test, a FakeClock, the real bank and grader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from question_bank.loader import load_bank_strict
from question_bank.schema import Bank
from tests.fakes.messenger import RecordingMessenger

if TYPE_CHECKING:
    from bot.app import App

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="session")
def bank() -> Bank:
    """The real bank, loaded once."""
    from bot.app import grader_for

    loaded = load_bank_strict()
    grader_for(loaded)  # build the vectors once for the whole session
    return loaded


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(db_path=db_path)


@pytest.fixture
async def app(settings: Settings, clock: FakeClock, bank: Bank) -> AsyncIterator[App]:
    """A started engine on a fresh database with recording messengers for every platform."""
    from bot.app import build_app

    application = await build_app(settings, clock=clock, bank=bank)
    for platform in ("test", "slack", "discord", "console"):
        application.delivery.register(platform, RecordingMessenger(platform))
    await application.start()
    await clock.settle()
    yield application
    await application.close()
