"""Prometheus metrics for the admin port, on a registry of our own (no global state).

Gauges that reflect the database (open rounds, active drills, answers recorded) are
read at scrape time, so they are right after a restart without any bookkeeping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """The bot's metrics; `render()` refreshes the database gauges and returns the text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.open_rounds = Gauge("interview_bot_open_rounds", "Rounds open now", registry=self.registry)
        self.active_drills = Gauge("interview_bot_active_drills", "Drills in progress", registry=self.registry)
        self.answers = Gauge("interview_bot_answers_recorded", "Answers recorded (all time)", registry=self.registry)
        self.grading_seconds = Histogram(
            "interview_bot_grading_seconds",
            "Time to grade one reply (in a grading worker: including the trip there and back)",
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
        )
        self.platform_errors = Counter(
            "interview_bot_platform_api_errors", "Failed calls to a chat platform", ["platform"], registry=self.registry
        )
        self.timer_lateness = Histogram(
            "interview_bot_timer_lateness_seconds",
            "How late timers fired",
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600),
        )
        self.platform_up = Gauge(
            "interview_bot_platform_connected", "1 when connected", ["platform"], registry=self.registry
        )

    async def render(self, counts: Callable[[], Awaitable[tuple[int, int, int]]]) -> bytes:
        rounds, drills, answers = await counts()
        self.open_rounds.set(rounds)
        self.active_drills.set(drills)
        self.answers.set(answers)
        return generate_latest(self.registry)
