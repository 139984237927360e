"""Neutral messaging: what adapters turn platform events into, and what they render.

Nothing here knows Discord or Slack.  User-written text is wrapped in `UserText` so
every renderer escapes it (no @everyone, <!channel> or role pings through the bot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class UserRef:
    """A person on a platform."""

    platform: str
    user_id: str
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """A channel or a DM on a platform; `workspace_id` is the Slack team or Discord guild."""

    platform: str
    workspace_id: str
    channel_id: str
    is_dm: bool = False


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message the bot posted, so it can reply in its thread or edit it."""

    platform: str
    channel_id: str
    message_id: str
    workspace_id: str = ""


Via = Literal["command", "message", "button", "form", "schedule"]


@dataclass(frozen=True, slots=True)
class Command:
    """One request from a person: who, where, what, with which arguments."""

    user: UserRef
    where: ConversationRef
    name: str
    args: tuple[str, ...] = ()
    text: str = ""
    is_admin: bool = False
    event_id: str | None = None
    via: Via = "command"
    thread: MessageRef | None = None


@dataclass(frozen=True, slots=True)
class UserText:
    """Text written by a user; renderers must escape it."""

    text: str


Inline = str | UserText


@dataclass(frozen=True, slots=True)
class Block:
    """A body section: an optional heading and paragraphs."""

    heading: str | None
    lines: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: Inline
    inline: bool = True


ButtonStyle = Literal["primary", "secondary", "danger"]


@dataclass(frozen=True, slots=True)
class Button:
    """A button; `action` is the command line it runs (e.g. 'hint', 'reveal 42')."""

    label: str
    action: str
    style: ButtonStyle = "secondary"
    opens_form: bool = False  # the Answer button: a hidden-answer form (modal)
    form_title: str = ""
    form_label: str = ""


ReplyKind = Literal[
    "info",
    "error",
    "question",
    "question_closed",
    "reminder",
    "reveal",
    "leaderboard",
    "stats",
    "help",
    "drill",
    "feedback",
    "report",
    "settings",
]


@dataclass(frozen=True, slots=True)
class Reply:
    """A message in neutral form, already in the right language."""

    title: str | None = None
    blocks: tuple[Block, ...] = ()
    fields: tuple[Field, ...] = ()
    buttons: tuple[Button, ...] = ()
    lang: str = "zh"
    kind: ReplyKind = "info"
    ephemeral: bool = False
    deadline: datetime | None = None
    footer: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def plain_text(self) -> str:
        """The reply as plain text (terminal, logs, notification previews)."""
        parts: list[str] = []
        if self.title:
            parts.append(self.title)
        for f in self.fields:
            parts.append(f"{f.name}: {_text(f.value)}")
        for block in self.blocks:
            if block.heading:
                parts.append(block.heading)
            parts.extend(_text(line) for line in block.lines)
        if self.footer:
            parts.append(self.footer)
        return "\n".join(parts)


def _text(value: Inline) -> str:
    return value.text if isinstance(value, UserText) else value


class RecipientUnreachableError(RuntimeError):
    """The platform refuses to deliver to this person (for example, their DMs are closed to the bot)."""


class Messenger(Protocol):
    """What every adapter implements so the engine's timers can reach people."""

    async def post(self, where: ConversationRef, reply: Reply) -> MessageRef: ...

    async def reply_in_thread(self, parent: MessageRef, reply: Reply) -> MessageRef: ...

    async def dm(self, user: UserRef, reply: Reply) -> MessageRef: ...

    async def edit(self, ref: MessageRef, reply: Reply) -> None: ...


class PlatformRunner(Protocol):
    """A connected platform inside `interview-bot run`: started, watched by /healthz, stopped on SIGTERM."""

    name: str

    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
