"""What the engine reports: domain events addressed to a target.

The engine never formats messages; `handlers/views.py` turns these events into
neutral Replies in the right language, and adapters render those.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.platforms.base import ConversationRef, MessageRef, UserRef

TargetKind = Literal["caller", "dm", "conversation", "thread", "edit"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where an event goes: back to the caller, to a person's DM, to a channel, into a thread, or over a
    message the bot posted earlier (`edit`: `thread` holds that message)."""

    kind: TargetKind
    user: UserRef | None = None
    where: ConversationRef | None = None
    thread: MessageRef | None = None
    private: bool = False  # for the caller only: ephemeral where the platform allows


CALLER = Target("caller")
PRIVATE = Target("caller", private=True)


def over(message: MessageRef) -> Target:
    """Replace a message the bot posted (best effort: an edit that fails is logged, never retried)."""
    return Target("edit", thread=message)


def dm(user: UserRef) -> Target:
    return Target("dm", user=user)


def channel(where: ConversationRef) -> Target:
    return Target("conversation", where=where)


@dataclass(frozen=True, slots=True)
class Notice:
    """A plain message from the i18n catalog."""

    key: str
    lang: str
    params: dict[str, Any] = field(default_factory=dict)
    error: bool = False


class NoticeError(Exception):
    """A request the engine cannot serve; carries the Notice to show the person who asked."""

    def __init__(self, notice: Notice) -> None:
        self.notice = notice
        super().__init__(notice.key)


@dataclass(frozen=True, slots=True)
class Outgoing:
    target: Target
    event: object


Notify = Callable[[Sequence[Outgoing]], Awaitable[None]]
# Post events that each have their own destination, several at once; one outcome per event (None: posted).
PostEach = Callable[[Sequence[Outgoing]], Awaitable[list[BaseException | None]]]


@dataclass(frozen=True, slots=True)
class Timing:
    """A deadline shown to people, with the duration it was set for."""

    deadline: datetime
    minutes: float
