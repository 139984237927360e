"""Run the Slack app: check credentials, build the engine and the adapter, serve until told to stop.

Socket Mode needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN and no public URL; HTTP mode
needs SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN and serves `POST /slack/events` and
`GET /healthz`.  Missing or refused credentials print one line naming the variable
and give exit code 2 (never a traceback); SIGTERM and SIGINT stop the app cleanly:
stop accepting, let running listeners finish, close the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass
from typing import Any, Protocol

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import App, build_app
from bot.cli import EXIT_USAGE
from bot.clock import Clock
from bot.config import Settings
from bot.platforms.slack.app import (
    CredentialError,
    SlackBot,
    SlackUnreachableError,
    authenticate,
    build_slack_app,
    check_app_token,
    web_client,
)
from bot.platforms.slack.cli import DEFAULT_HOST, DEFAULT_PORT
from bot.platforms.slack.server import EVENTS_PATH, start_http
from bot.signals import stop_on_signals
from handlers.router import Router
from question_bank.schema import Bank

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to connect: Socket Mode, or HTTP on host:port (port 0 picks a free one)."""

    http: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT


class Transport(Protocol):
    @property
    def connected(self) -> bool: ...

    async def close(self) -> None: ...


class SocketMode:
    """A connected Socket Mode handler."""

    def __init__(self, handler: AsyncSocketModeHandler) -> None:
        self.handler = handler

    @property
    def connected(self) -> bool:
        """Whether the websocket to Slack is open right now (slack_sdk reconnects on its own)."""
        client = self.handler.client
        session = client.current_session
        return not client.closed and session is not None and not session.closed

    async def close(self) -> None:
        await self.handler.close_async()  # type: ignore[no-untyped-call]


def missing_credentials(settings: Settings, options: RunOptions) -> str | None:
    """The first credential problem visible without asking Slack, as one line naming the variable."""
    mode = "HTTP mode" if options.http else "Socket Mode"
    if not settings.slack_bot_token:
        return f"SLACK_BOT_TOKEN is not set (the bot token, xoxb-..., is needed in {mode})"
    if options.http and not settings.slack_signing_secret:
        return "SLACK_SIGNING_SECRET is not set (needed in HTTP mode to check that requests come from Slack)"
    if not options.http:
        if not settings.slack_app_token:
            return ("SLACK_APP_TOKEN is not set (an app-level token, xapp-..., is needed in Socket Mode; "
                    "or run with --http)")
        if not settings.slack_app_token.startswith("xapp-"):
            return "SLACK_APP_TOKEN must be an app-level token starting with xapp- (with the connections:write scope)"
    return None


async def preflight(settings: Settings, options: RunOptions) -> tuple[AsyncWebClient, dict[str, Any]]:
    """Check the credentials before anything is built: the Web API client and the bot's identity.

    Raises CredentialError (missing or refused, naming the variable) or SlackUnreachableError.
    """
    problem = missing_credentials(settings, options)
    if problem:
        raise CredentialError(problem)
    client = web_client(settings)
    identity = await authenticate(client, settings)
    if not options.http:
        await check_app_token(client, settings.slack_app_token or "")
    return client, identity


@dataclass
class SlackService:
    """The Slack adapter attached to a running engine and connected (HTTP server or Socket Mode)."""

    bot: SlackBot
    transport: Transport

    async def close(self) -> None:
        """Stop taking requests, then let the listeners that are running finish."""
        await self.transport.close()
        await self.bot.drain()


async def start_slack(engine: App, settings: Settings, options: RunOptions, *, client: AsyncWebClient | None = None,
                      identity: dict[str, Any] | None = None, router: Router | None = None) -> SlackService:
    """Attach the adapter to an engine (its messenger is registered) and connect; for `run` and combined runners."""
    bot = build_slack_app(engine, settings, client=client, router=router)
    bot.identity = identity if identity is not None else await authenticate(bot.client, settings)
    if options.http:
        server = await start_http(bot, options.host, options.port)
        log.info("slack http mode listening url=%s%s", server.url, EVENTS_PATH)
        return SlackService(bot, server)
    handler = AsyncSocketModeHandler(bot.bolt, settings.slack_app_token)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
    except BaseException:  # cancelled while slack_sdk keeps retrying a connection: release its session
        await handler.close_async()  # type: ignore[no-untyped-call]
        raise
    log.info("slack socket mode connected team=%s", bot.identity.get("team_id"))
    return SlackService(bot, SocketMode(handler))


def _fail(message: str, code: int) -> int:
    print(f"interview-bot slack: error: {message}", file=sys.stderr)
    return code


async def run(settings: Settings, options: RunOptions, *, clock: Clock | None = None, bank: Bank | None = None,
              stop: asyncio.Event | None = None, handle_signals: bool = True) -> int:
    """Check credentials, build the engine and the Slack app, serve until `stop` is set (SIGTERM/SIGINT set it)."""
    stop = stop or asyncio.Event()
    with stop_on_signals(stop, enabled=handle_signals):
        try:
            client, identity = await preflight(settings, options)
        except CredentialError as exc:
            return _fail(str(exc), EXIT_USAGE)
        except SlackUnreachableError as exc:
            return _fail(str(exc), 1)
        engine = await build_app(settings, clock=clock, bank=bank)
        service: SlackService | None = None
        stopping = asyncio.create_task(stop.wait())
        try:
            starting = asyncio.create_task(start_slack(engine, settings, options, client=client, identity=identity))
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():  # told to stop while still connecting
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
                return 0
            try:
                service = starting.result()
            except OSError as exc:
                return _fail(f"cannot listen on {options.host}:{options.port} ({exc.strerror or exc})", 1)
            # Timers start once the messenger is registered, so overdue deadlines have somewhere to post.
            await engine.start()
            await stopping
            log.info("slack app stopping")
            return 0
        finally:
            stopping.cancel()
            if service is not None:
                await service.close()
            await engine.close()
