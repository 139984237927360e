"""What a handler needs: the app and the language of the place it answers in."""

from __future__ import annotations

from dataclasses import dataclass

from bot.app import App
from bot.platforms.base import Command


@dataclass(frozen=True, slots=True)
class Context:
    app: App
    lang: str


async def language_for(app: App, command: Command) -> str:
    """A channel's language, or in a DM the person's own (else the default)."""
    if command.where.is_dm:
        user = await app.store.find_user(command.user.platform, command.user.user_id)
        if user is not None and user.lang:
            return user.lang
        return app.settings.lang
    conv = await app.rounds.conversation(command.where)
    return conv.lang
