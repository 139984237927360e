"""Small builders for neutral Commands, so tests read like what people type."""

from __future__ import annotations

from bot.app import App
from bot.platforms.base import Command, ConversationRef, MessageRef, Reply, UserRef
from handlers.router import Router
from tests.fakes.messenger import RecordingMessenger

PLATFORM = "test"


def user(name: str) -> UserRef:
    return UserRef(PLATFORM, name, name.capitalize())


def room(channel: str = "C1", *, dm: bool = False, workspace: str = "W1") -> ConversationRef:
    return ConversationRef(PLATFORM, workspace, channel, is_dm=dm)


def command(
    line: str,
    who: str = "alice",
    *,
    channel: str = "C1",
    dm: bool = False,
    admin: bool = False,
    text: str = "",
    event_id: str | None = None,
    via: str = "command",
    thread: MessageRef | None = None,
) -> Command:
    """'ask 1.4 --minutes 3' as `who` in `channel` (or in their DM)."""
    name, args = Router.parse_line(line) if line else ("", ())
    where = room(f"D-{who}" if dm else channel, dm=dm)
    return Command(
        user(who),
        where,
        name,
        args,
        text=text,
        is_admin=admin,
        event_id=event_id,
        via=via,  # type: ignore[arg-type]
        thread=thread,
    )


def messenger(app: App) -> RecordingMessenger:
    found = app.delivery.messenger(PLATFORM)
    assert isinstance(found, RecordingMessenger)
    return found


def text_of(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text() for r in replies)
