"""Build the Slack side around a running engine: Web API client, bolt AsyncApp, messenger, listeners.

    engine = await build_app(settings)
    slack = build_slack_app(engine, settings)
    slack.identity = await authenticate(slack.client, settings)   # CredentialError names the variable

then serve it over HTTP (`server.web_app`) or Socket Mode (`cli`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import App
from bot.config import Settings
from bot.platforms.slack import PLATFORM
from bot.platforms.slack.listeners import Listeners, register
from bot.platforms.slack.messenger import SLACK_ERRORS, SlackMessenger, error_code
from bot.platforms.slack.permissions import Directory
from handlers.router import Router

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
RETRIES = 2
# bolt loggers that write request bodies (people's text) at INFO: keep them at WARNING.
CHATTY_BOLT_LOGGERS = ("slack_bolt.RequestVerification", "slack_bolt.AsyncRequestVerification")


class _DropClientTokenWarning(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN from the environment itself and warns that our client's token wins: it does."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in str(record.msg)


logging.getLogger("slack_bolt.AsyncApp").addFilter(_DropClientTokenWarning())


class CredentialError(Exception):
    """A Slack credential is missing or refused; the message names the environment variable."""


class SlackUnreachableError(Exception):
    """The Web API did not answer (network, proxy, or a wrong SLACK_API_URL)."""


def api_url(settings: Settings) -> str:
    """The Web API base URL; slack_sdk joins method names with urljoin, so it must end with a slash."""
    url = settings.slack_api_url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def web_client(settings: Settings) -> AsyncWebClient:
    """The bot's Web API client: honours Retry-After on 429s and retries dropped connections."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=api_url(settings),
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=RETRIES),
            AsyncConnectionErrorRetryHandler(max_retry_count=RETRIES),
        ],
    )


@dataclass
class SlackBot:
    """The engine plus everything the Slack adapter built around it."""

    engine: App
    settings: Settings
    bolt: AsyncApp
    client: AsyncWebClient
    messenger: SlackMessenger
    people: Directory
    listeners: Listeners
    identity: dict[str, Any] = field(default_factory=dict)  # auth.test: team_id, user_id, bot_id

    async def drain(self, grace: float = 10.0) -> None:
        """Wait for listeners that are still working (shutdown, and tests)."""
        await self.listeners.drain(grace)


def build_slack_app(engine: App, settings: Settings | None = None, *, client: AsyncWebClient | None = None,
                    router: Router | None = None) -> SlackBot:
    """The bolt app with its listeners, and the messenger registered with the engine's delivery.

    Pass the process's `router` when several platforms share one engine (its drain covers them all).
    """
    settings = settings or engine.settings
    client = client or web_client(settings)
    bolt = AsyncApp(client=client, signing_secret=settings.slack_signing_secret or "", name="interview-bot")
    for name in CHATTY_BOLT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)  # set after AsyncApp(): bolt copies the root level
    messenger = SlackMessenger(client)
    people = Directory(client, settings.slack_admin_users)
    listeners = Listeners(engine, messenger, people, router)
    register(bolt, listeners)
    engine.delivery.register(PLATFORM, messenger)
    return SlackBot(engine, settings, bolt, client, messenger, people, listeners)


async def authenticate(client: AsyncWebClient, settings: Settings) -> dict[str, Any]:
    """auth.test with the bot token: the bot's identity, or CredentialError naming SLACK_BOT_TOKEN."""
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        if isinstance(exc.response.data, dict):
            raise CredentialError(f"SLACK_BOT_TOKEN was refused by Slack ({error_code(exc)})") from None
        raise SlackUnreachableError(  # text or HTML: a proxy or a wrong URL answered, not Slack
            f"the Slack Web API at {api_url(settings)} did not answer like Slack ({error_code(exc)}); "
            "check SLACK_API_URL") from None
    except SLACK_ERRORS as exc:
        raise SlackUnreachableError(
            f"cannot reach the Slack Web API at {api_url(settings)} ({error_code(exc)}); "
            "check the network or SLACK_API_URL") from None
    identity = {k: answer.get(k) for k in ("team_id", "team", "user_id", "bot_id")}
    log.info("slack auth ok team=%s bot_user=%s", identity["team_id"], identity["user_id"])
    return identity


async def check_app_token(client: AsyncWebClient, app_token: str) -> None:
    """apps.connections.open with the app-level token, so a bad one is named instead of retried forever."""
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise CredentialError(f"SLACK_APP_TOKEN was refused by Slack ({error_code(exc)})") from None
    except SLACK_ERRORS as exc:
        raise SlackUnreachableError(f"cannot open a Socket Mode connection ({error_code(exc)})") from None
