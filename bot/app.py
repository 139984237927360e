"""Compose the engine once: settings -> database -> bank and grader -> services.

Every entry point (terminal, Slack, Discord, `run`) builds one App and registers its
Messenger with `app.delivery`; tests build it with a FakeClock and a temp database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.engine.drills import DrillService
from bot.engine.reviews import ReviewScheduler
from bot.engine.rounds import RoundService
from bot.engine.schedules import ScheduleService
from bot.engine.timers import TimerService
from bot.grading.cli import grader_for
from bot.grading.service import Grading, grading_for
from bot.storage.db import Database, open_database
from bot.storage.store import Store
from handlers.delivery import Delivery
from question_bank.loader import load_serving_bank
from question_bank.schema import Bank

log = logging.getLogger(__name__)


@dataclass
class App:
    """The running engine and what it is made of."""

    settings: Settings
    clock: Clock
    db: Database
    store: Store
    bank: Bank
    grading: Grading
    timers: TimerService
    delivery: Delivery
    drills: DrillService
    rounds: RoundService
    schedules: ScheduleService

    async def start(self) -> None:
        """Start the grading workers (if any), then fire timers; overdue ones fire at once."""
        await self.grading.start()
        await self.timers.start()

    async def close(self) -> None:
        await self.timers.stop()
        await self.grading.close()
        await self.db.close()


def load_bank_for(settings: Settings) -> Bank:
    loaded = load_serving_bank(settings.bank_paths)
    for path, problems in loaded.rejected.items():
        log.error("extra bank rejected path=%s problems=%s", path, len(problems))
        for problem in problems:
            log.error("bank problem %s", problem)
    return loaded.bank


async def build_app(
    settings: Settings, *, clock: Clock | None = None, bank: Bank | None = None, grading: Grading | None = None
) -> App:
    """Open the database and wire the services (timers and grading workers are not started yet).

    `grading` replaces where grading runs (by default: as `settings.grading_workers` says).
    """
    clock = clock or SystemClock()
    bank = bank or load_bank_for(settings)
    grading = grading or grading_for(bank, settings.grading_workers or 0, partial(grader_for, bank))
    db = await open_database(settings.db_path)
    store = Store(db)
    timers = TimerService(store, clock)
    delivery = Delivery()
    drills = DrillService(
        store=store,
        bank=bank,
        grading=grading,
        clock=clock,
        timers=timers,
        reviews=ReviewScheduler(store),
        notify=delivery,
        default_lang=settings.lang,
    )
    rounds = RoundService(
        store=store,
        bank=bank,
        grading=grading,
        clock=clock,
        timers=timers,
        notify=delivery,
        default_minutes=settings.answer_minutes,
        default_lang=settings.lang,
    )
    delivery.on_posted(rounds.on_posted)
    schedules = ScheduleService(
        store=store,
        bank=bank,
        clock=clock,
        timers=timers,
        rounds=rounds,
        post_each=delivery.post_each,
        grace=timedelta(minutes=settings.schedule_grace_minutes),
    )
    rounds.board_streaks = schedules.board_streaks
    return App(settings, clock, db, store, bank, grading, timers, delivery, drills, rounds, schedules)
