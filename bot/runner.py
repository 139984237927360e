"""`interview-bot run`: every platform with credentials in one process, one engine, one database.

Start-up says which platforms started and which were skipped and why.  SIGTERM or
Ctrl-C stops intake, lets commands in flight finish their writes, closes the
connections and exits within 10 seconds; every round, drill and schedule is rows and
timers, so the next start resumes them (overdue deadlines fire once at start-up).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot import loop as event_loop
from bot.app import App, build_app
from bot.cli import UsageError, subcommand
from bot.config import Settings
from bot.metrics import CONTENT_TYPE, Metrics
from bot.platforms.base import PlatformRunner
from bot.signals import stop_on_signals
from bot.storage.store import health_counts
from handlers.router import Router

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 10.0

# name -> (module with make_runner, a function telling why the platform cannot start, or None)
PLATFORMS: dict[str, tuple[str, Callable[[Settings], str | None]]] = {
    "discord": ("bot.platforms.discord.runner", lambda s: None if s.discord_token else "DISCORD_TOKEN is not set"),
    "slack": (
        "bot.platforms.slack.runner",
        lambda s: (
            None
            if s.slack_bot_token and s.slack_app_token
            else ("SLACK_BOT_TOKEN is not set" if not s.slack_bot_token else "SLACK_APP_TOKEN (Socket Mode) is not set")
        ),
    ),
}


class StartError(Exception):
    """A platform or the admin port could not start; the message says which and why (one line, exit 1)."""


@dataclass
class Started:
    runners: list[PlatformRunner]
    skipped: dict[str, str]


def make_platforms(app: App, router: Router, settings: Settings) -> Started:
    """Build a runner for each platform with credentials; record why the others are skipped."""
    runners: list[PlatformRunner] = []
    skipped: dict[str, str] = {}
    for name, (module_name, missing) in PLATFORMS.items():
        reason = missing(settings)
        if reason:
            skipped[name] = reason
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            skipped[name] = "adapter not available in this installation"
            continue
        runners.append(module.make_runner(app, router, settings))
    return Started(runners, skipped)


def admin_app(app: App, started: Started, metrics: Metrics) -> web.Application:
    """The admin port: GET /healthz (database and platforms) and GET /metrics (Prometheus)."""

    async def healthz(_request: web.Request) -> web.Response:
        db_ok = True
        try:
            await health_counts(app.store)
        except Exception:
            log.exception("health check: database unreachable")
            db_ok = False
        platforms = {r.name: r.connected for r in started.runners}
        ok = db_ok and all(platforms.values())
        body = {"ok": ok, "db": "ok" if db_ok else "unreachable", "platforms": platforms, "skipped": started.skipped}
        return web.json_response(body, status=200 if ok else 503)

    async def metrics_view(_request: web.Request) -> web.Response:
        for runner in started.runners:
            metrics.platform_up.labels(runner.name).set(1 if runner.connected else 0)
        body = await metrics.render(lambda: health_counts(app.store))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    web_app = web.Application()
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics_view)
    return web_app


def wire_metrics(app: App, metrics: Metrics) -> None:
    """Let the engine feed the admin port's metrics as things happen: grading time, failed platform sends,
    timer lateness."""
    app.grading.observe = metrics.grading_seconds.observe
    app.delivery.on_failure = lambda platform: metrics.platform_errors.labels(platform).inc()
    app.timers.on_lateness = metrics.timer_lateness.observe


async def run(settings: Settings, *, stop: asyncio.Event | None = None, announce: Any = print) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set); return the exit code."""
    if settings.grading_workers is None:  # a long-running bot: grade off the event loop when a core is free
        settings = settings.with_overrides(grading_workers=1 if (os.cpu_count() or 1) >= 2 else 0)
    app = await build_app(settings)
    metrics = Metrics()
    wire_metrics(app, metrics)
    router = Router(app)
    started = make_platforms(app, router, settings)
    stop = stop or asyncio.Event()
    with stop_on_signals(stop):
        return await _serve(app, router, started, metrics, settings, stop, announce)


async def _serve(app: App, router: Router, started: Started, metrics: Metrics, settings: Settings,
                 stop: asyncio.Event, announce: Any) -> int:
    admin_runner: web.AppRunner | None = None
    try:
        # Platforms first: their messengers must be registered before the timers start, or a
        # deadline that passed while the bot was down would fire with nowhere to post.
        if not await _start_platforms(started, stop):
            announce("stopped before start-up finished")
            return 0
        await app.start()
        if settings.admin_port is not None:
            admin_runner = web.AppRunner(admin_app(app, started, metrics), access_log=None)
            await admin_runner.setup()
            try:
                await web.TCPSite(admin_runner, settings.admin_host, settings.admin_port).start()
            except OSError as exc:
                raise StartError(
                    f"the admin port {settings.admin_host}:{settings.admin_port} is not available ({exc.strerror})"
                ) from None
        summary = {
            "started": [r.name for r in started.runners],
            "skipped": started.skipped,
            "admin_port": settings.admin_port,
        }
        announce("interview-bot running: " + json.dumps(summary))
        if not started.runners:
            announce("no chat platform has credentials; the engine keeps running its timers and schedules")
        log.info("running started=%s skipped=%s", summary["started"], started.skipped)
        await stop.wait()
        announce("stopping: no new events; finishing what is in flight")
    finally:
        await _shutdown(app, router, started, admin_runner)
    return 0


async def _start_platforms(started: Started, stop: asyncio.Event) -> bool:
    """Start each platform in turn; False if a stop (SIGTERM) came first, which cancels the start under way.

    A platform that cannot start ends the run with one line saying why (credentials: exit 2 through
    UsageError; anything else, such as an unreachable API: exit 1), so a supervisor restarts it.
    """
    stopping = asyncio.ensure_future(stop.wait())
    try:
        for runner in started.runners:
            starting = asyncio.ensure_future(runner.start())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
                return False
            exc = starting.exception()
            if isinstance(exc, UsageError):
                raise exc
            if exc is not None:
                log.debug("platform start failed platform=%s", runner.name, exc_info=exc)
                raise StartError(f"{runner.name}: {exc}") from None
        return True
    finally:
        stopping.cancel()


async def _shutdown(app: App, router: Router, started: Started, admin_runner: web.AppRunner | None) -> None:
    async def steps() -> None:
        drained = await router.drain(SHUTDOWN_SECONDS / 2)
        if not drained:
            log.warning("shutdown: commands still in flight after %.0f s", SHUTDOWN_SECONDS / 2)
        for runner in started.runners:
            try:
                await runner.stop()
            except Exception:
                log.exception("shutdown: stopping %s failed", runner.name)
        if admin_runner is not None:
            await admin_runner.cleanup()

    try:
        await asyncio.wait_for(steps(), SHUTDOWN_SECONDS - 1)
    except TimeoutError:
        log.error("shutdown: platforms did not stop in time")
    finally:
        await app.close()


def _add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run every platform that has credentials (Discord, Slack) in one process")
    p.add_argument("--admin-port", type=int, help="serve /healthz and /metrics on this port (off by default)")
    p.add_argument("--admin-host", help="address for the admin port (default 127.0.0.1)")


@subcommand("run", _add_parser)
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_overrides(admin_port=args.admin_port, admin_host=args.admin_host)
    try:
        return event_loop.run(run(settings, announce=lambda text: print(text, flush=True)))
    except StartError as exc:
        print(f"interview-bot run: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


__all__ = ["admin_app", "make_platforms", "run", "wire_metrics"]
