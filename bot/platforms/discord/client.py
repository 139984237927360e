"""The discord.py client: minimal intents, the `/interview` command tree, persistent buttons, message events.

    client = InterviewClient(settings)           # commands and buttons, no engine yet (enough for --sync)
    client.attach(app, router)                   # the engine: messenger registered, events handled

`DISCORD_API_BASE` and `DISCORD_GATEWAY_URL` (for a REST or gateway proxy, and for tests)
replace discord.py's `Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY`, two class
attributes the library reads for every request and its first gateway connection; unset,
the library's defaults apply.  A canary test checks they still exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from bot.app import App
from bot.config import Settings
from bot.platforms.discord import PLATFORM, commands, render
from bot.platforms.discord.interactions import Interactions
from bot.platforms.discord.messenger import DiscordMessenger
from bot.platforms.discord.views import ANSWER_MODAL_PREFIX, persistent_view
from handlers.router import Router

log = logging.getLogger(__name__)


def intents_for(settings: Settings) -> discord.Intents:
    """Guilds, guild messages and DMs; message content only when thread replies are answers."""
    return discord.Intents(guilds=True, guild_messages=True, dm_messages=True,
                           message_content=settings.discord_thread_replies)


def apply_endpoints(settings: Settings) -> Callable[[], None]:
    """Point discord.py at DISCORD_API_BASE / DISCORD_GATEWAY_URL when set; returns a function that undoes it."""
    route_base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)

    def restore() -> None:
        discord.http.Route.BASE = route_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway

    return restore


class InterviewClient(discord.Client):
    """A discord.Client with the `/interview` tree; `attach` connects it to the engine."""

    def __init__(self, settings: Settings, *, app: App | None = None, router: Router | None = None,
                 schedule: bool = True, **options: Any) -> None:
        options.setdefault("chunk_guilds_at_startup", False)
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here: no warnings about it
        super().__init__(intents=intents_for(settings), allowed_mentions=render.NO_MENTIONS, **options)
        self.settings = settings
        self.tree: app_commands.CommandTree[InterviewClient] = app_commands.CommandTree(self)
        if router is not None:
            schedule = "schedule" in router.handlers
        commands.register(self.tree, schedule=schedule)
        self.interactions: Interactions | None = None
        self.messenger: DiscordMessenger | None = None
        if app is not None:
            self.attach(app, router or Router(app))

    def attach(self, app: App, router: Router) -> Interactions:
        """Handle events with this engine and register the messenger its timers post through."""
        self.messenger = DiscordMessenger(self, thread_replies=self.settings.discord_thread_replies)
        self.interactions = Interactions(self, app, router, self.messenger,
                                         thread_replies=self.settings.discord_thread_replies)
        app.delivery.register(PLATFORM, self.messenger)
        return self.interactions

    async def setup_hook(self) -> None:
        """Make every button the bot ever posted work again (dynamic custom ids, no per-message state)."""
        self.add_view(persistent_view())

    async def on_ready(self) -> None:
        """Log who we are (no tokens)."""
        log.info("discord ready user=%s guilds=%s", self.user.id if self.user else "?", len(self.guilds))

    async def on_message(self, message: discord.Message) -> None:
        """DM drill answers and question-thread replies."""
        if self.interactions is not None:
            await self.interactions.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Answer-modal submissions (read by custom id, so they survive a restart)."""
        if interaction.type is not discord.InteractionType.modal_submit or self.interactions is None:
            return
        data = cast(dict[str, Any], interaction.data or {})
        custom_id = str(data.get("custom_id") or "")
        if custom_id.startswith(ANSWER_MODAL_PREFIX):
            await self.interactions.submit_answer(interaction)
