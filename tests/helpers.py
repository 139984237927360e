"""Small builders for neutral Commands, so tests read like what people type."""

from __future__ import annotations

from pathlib import Path

from bot.app import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.platforms.base import Command, ConversationRef, MessageRef, Reply, UserRef
from handlers.router import Router
from question_bank.schema import Bank
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


class Apps:
    """Apps a test builds and restarts, each on a database file named after it in `folder`, with a
    recording messenger; whatever a failing test left running is closed by the fixture."""

    def __init__(self, folder: Path, bank: Bank) -> None:
        self.folder = folder
        self.bank = bank
        self.running: list[App] = []

    async def start(self, clock: FakeClock, name: str = "bot", messenger: RecordingMessenger | None = None) -> App:
        app = await build_app(Settings(db_path=self.folder / f"{name}.sqlite3"), clock=clock, bank=self.bank)
        self.running.append(app)
        app.delivery.register(PLATFORM, messenger or RecordingMessenger())
        await app.start()
        await clock.settle()
        return app

    async def stop(self, app: App) -> None:
        """Close an App as a shutdown would."""
        self.running.remove(app)
        await app.close()

    async def close_all(self) -> None:
        for app in list(self.running):
            await self.stop(app)
