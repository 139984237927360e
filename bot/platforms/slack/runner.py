"""The Slack platform inside `interview-bot run` (Socket Mode, sharing the process's engine and router)."""

from __future__ import annotations

import logging

from bot.app import App
from bot.cli import UsageError
from bot.config import Settings
from bot.platforms.slack import PLATFORM
from bot.platforms.slack.app import CredentialError, SlackUnreachableError
from bot.platforms.slack.service import RunOptions, SlackService, preflight, start_slack
from handlers.router import Router

log = logging.getLogger(__name__)


class SlackRunner:
    """Starts the Slack adapter on a shared engine; `connected` feeds the admin /healthz."""

    name = PLATFORM

    def __init__(self, app: App, router: Router, settings: Settings) -> None:
        self._app = app
        self._router = router
        self._settings = settings
        self._service: SlackService | None = None

    @property
    def connected(self) -> bool:
        return self._service is not None and self._service.transport.connected

    async def start(self) -> None:
        """Check the tokens (one line naming the variable if refused), then connect in Socket Mode."""
        options = RunOptions()
        try:
            client, identity = await preflight(self._settings, options)
        except (CredentialError, SlackUnreachableError) as exc:
            raise UsageError(f"slack: {exc}") from None
        self._service = await start_slack(self._app, self._settings, options, client=client, identity=identity,
                                          router=self._router)

    async def stop(self) -> None:
        """Disconnect and let the Slack listeners that are running finish."""
        if self._service is not None:
            service, self._service = self._service, None
            await service.close()


def make_runner(app: App, router: Router, settings: Settings) -> SlackRunner:
    """What `bot.runner` calls for the Slack platform."""
    return SlackRunner(app, router, settings)
