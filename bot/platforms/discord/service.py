"""Run the Discord bot as a process: check the token, build the engine, connect, stop cleanly on SIGTERM.

A missing or refused DISCORD_TOKEN prints one line naming it and exits 2 (before the engine
is built, so it is quick); an unreachable Discord exits 1.  `sync` registers the `/interview`
commands (globally, or in one server) and exits; a normal start never re-syncs.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

import discord

from bot.app import build_app
from bot.cli import EXIT_USAGE
from bot.clock import Clock
from bot.config import Settings
from bot.platforms.discord.client import InterviewClient, apply_endpoints
from bot.platforms.discord.permissions import invite_url
from bot.platforms.discord.runner import (
    DiscordCredentialError,
    DiscordRunner,
    DiscordUnreachableError,
    connection_error,
    login,
)
from bot.signals import stop_on_signals
from handlers.router import Router
from question_bank.schema import Bank

log = logging.getLogger(__name__)

DRAIN_SECONDS = 5.0
Announce = Callable[[str], None]


def _say(text: str) -> None:
    print(text, flush=True)


def _fail(message: str, code: int) -> int:
    print(f"interview-bot discord: error: {message}", file=sys.stderr, flush=True)
    return code


async def sync(settings: Settings, *, guild_id: int | None = None, announce: Announce = _say) -> int:
    """Register `/interview` globally (or in one server) and exit."""
    restore = apply_endpoints(settings)
    client = InterviewClient(settings)
    try:
        await login(client, settings)
        guild = discord.Object(guild_id) if guild_id is not None else None
        if guild is not None:
            client.tree.copy_global_to(guild=guild)
        try:
            synced = await client.tree.sync(guild=guild)
        except discord.HTTPException as exc:
            where = f"server {guild_id}" if guild_id else "Discord"
            return _fail(f"{where} refused the commands ({exc.status}, code {exc.code}): is the bot in that server, "
                         "invited with the applications.commands scope?", 1)
        names = ", ".join(sorted(c.name for c in synced))
        scope = f"in server {guild_id}" if guild_id else "globally (may take up to an hour to appear everywhere)"
        announce(f"registered {len(synced)} command(s) {scope}: {names}")
        if client.application_id is not None:
            announce(f"invite URL: {invite_url(client.application_id)}")
        return 0
    except DiscordCredentialError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except DiscordUnreachableError as exc:
        return _fail(str(exc), 1)
    finally:
        await client.close()
        restore()


async def serve(settings: Settings, *, clock: Clock | None = None, bank: Bank | None = None,
                stop: asyncio.Event | None = None, handle_signals: bool = True, announce: Announce = _say) -> int:
    """Log in, build the engine, connect and serve until `stop` is set (SIGTERM and SIGINT set it)."""
    stop = stop or asyncio.Event()
    restore = apply_endpoints(settings)
    client = InterviewClient(settings)
    try:
        with stop_on_signals(stop, enabled=handle_signals):
            try:
                await login(client, settings)  # before the engine: a bad token is reported at once
            except DiscordCredentialError as exc:
                return _fail(str(exc), EXIT_USAGE)
            except DiscordUnreachableError as exc:
                return _fail(str(exc), 1)
            return await _serve(settings, client, stop, clock=clock, bank=bank, announce=announce)
    finally:
        await client.close()
        restore()


async def _serve(settings: Settings, client: InterviewClient, stop: asyncio.Event, *, clock: Clock | None,
                 bank: Bank | None, announce: Announce) -> int:
    app = await build_app(settings, clock=clock, bank=bank)
    router = Router(app)
    runner = DiscordRunner(app, router, settings, client=client)
    try:
        try:
            await runner.start()
        except DiscordCredentialError as exc:
            return _fail(str(exc), EXIT_USAGE)
        except DiscordUnreachableError as exc:
            return _fail(str(exc), 1)
        await app.start()  # connected: deadlines that passed while down can post at once
        user = client.user
        announce(f"interview-bot discord: connected as {user} ({len(client.guilds)} server(s)); Ctrl-C to stop")
        assert runner.task is not None
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({stopping, runner.task}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if runner.task.done() and not stop.is_set():
            failure = runner.task.exception()
            problem = connection_error(failure) if failure else DiscordUnreachableError("the Discord gateway closed")
            return _fail(str(problem), EXIT_USAGE if isinstance(problem, DiscordCredentialError) else 1)
        log.info("discord bot stopping")
        return 0
    finally:
        if not await router.drain(DRAIN_SECONDS):
            log.warning("shutdown: commands still in flight after %.0f s", DRAIN_SECONDS)
        await runner.stop()
        await app.close()
