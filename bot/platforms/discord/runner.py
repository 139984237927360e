"""The Discord PlatformRunner: log in, connect the gateway in the background, close on stop.

`interview-bot run` builds it with `make_runner(app, router, settings)`; `interview-bot discord`
uses it too.  A refused token or a missing privileged intent raises `DiscordCredentialError`,
a `UsageError`, so the CLI prints one line naming DISCORD_TOKEN (or the intent) and exits 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from bot.app import App
from bot.cli import UsageError
from bot.config import Settings
from bot.platforms.base import PlatformRunner
from bot.platforms.discord import PLATFORM
from bot.platforms.discord.client import InterviewClient, apply_endpoints
from handlers.router import Router

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0


class DiscordCredentialError(UsageError):
    """The token is missing or refused, or the app lacks a privileged intent; the message says which."""


class DiscordUnreachableError(Exception):
    """Discord's REST API (or DISCORD_API_BASE) did not answer."""


MISSING_CREDENTIAL = "DISCORD_TOKEN is not set (the bot token from the Discord developer portal, Bot page)"
REFUSED_CREDENTIAL = (
    "DISCORD_TOKEN was refused by Discord (401 Unauthorized): copy the bot token again from the "
    "developer portal's Bot page")
MISSING_INTENT = ("Discord refused the Message Content intent: enable it in the developer portal (Bot page, "
                  "Privileged Gateway Intents) or turn DISCORD_THREAD_REPLIES off")


async def login(client: discord.Client, settings: Settings) -> None:
    """Log in over REST; DiscordCredentialError or DiscordUnreachableError say what went wrong."""
    if not settings.discord_token:
        raise DiscordCredentialError(MISSING_CREDENTIAL)
    try:
        await client.login(settings.discord_token)
    except discord.LoginFailure:
        raise DiscordCredentialError(REFUSED_CREDENTIAL) from None
    except discord.HTTPException as exc:  # a 5xx after the library's own retries, or a proxy's error
        base = discord.http.Route.BASE
        raise DiscordUnreachableError(f"Discord at {base} answered {exc.status} at login; "
                                      "try again later, or check DISCORD_API_BASE") from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        base = discord.http.Route.BASE
        raise DiscordUnreachableError(f"cannot reach Discord at {base} ({type(exc).__name__}); "
                                      "check the network or DISCORD_API_BASE") from None


def connection_error(exc: BaseException) -> Exception:
    """What a failed gateway connection means for the person running the bot."""
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return DiscordCredentialError(MISSING_INTENT)
    if isinstance(exc, discord.ConnectionClosed) and exc.code == 4004:
        return DiscordCredentialError(REFUSED_CREDENTIAL)
    return DiscordUnreachableError(f"the Discord gateway connection failed ({type(exc).__name__}); "
                                   "check the network or DISCORD_GATEWAY_URL")


class DiscordRunner:
    """The Discord side of a running engine: started, watched by /healthz, stopped on SIGTERM."""

    name = PLATFORM

    def __init__(self, app: App, router: Router, settings: Settings, *, client: InterviewClient | None = None,
                 ready_timeout: float = READY_TIMEOUT, **client_options: Any) -> None:
        self.settings = settings
        self.client = client or InterviewClient(settings, router=router, **client_options)
        self.client.attach(app, router)
        self.ready_timeout = ready_timeout
        self._task: asyncio.Task[None] | None = None
        self._restore: Callable[[], None] | None = None

    @property
    def connected(self) -> bool:
        """Logged in, READY, and the gateway socket is open."""
        ws = self.client.ws
        return self.client.is_ready() and not self.client.is_closed() and ws is not None and ws.open

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The gateway connection (ends when the client closes or the connection fails for good)."""
        return self._task

    async def start(self) -> None:
        """Log in (if not yet), connect the gateway in the background and wait for READY."""
        if self._restore is None:
            self._restore = apply_endpoints(self.settings)
        if self.client.user is None:
            await login(self.client, self.settings)
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready())
        try:
            await asyncio.wait({ready, self._task}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._task.done():
            exc = self._task.exception()
            if exc is not None:
                raise connection_error(exc) from None
            raise DiscordUnreachableError("the Discord gateway closed before the bot was ready")
        if not self.client.is_ready():
            log.warning("discord not ready after %.0f s; still connecting", self.ready_timeout)
        else:
            log.info("discord connected user=%s guilds=%s", self.client.user.id if self.client.user else "?",
                     len(self.client.guilds))

    async def stop(self) -> None:
        """Close the gateway and the HTTP session; give discord.py's URLs back."""
        try:
            await self.client.close()
            if self._task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(self._task, timeout=5.0)
        finally:
            if self._restore is not None:
                self._restore()
                self._restore = None


def make_runner(app: App, router: Router, settings: Settings) -> PlatformRunner:
    """The runner `interview-bot run` starts (it checks DISCORD_TOKEN is set before calling this)."""
    return DiscordRunner(app, router, settings)
