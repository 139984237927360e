"""A Messenger that writes to a text stream (the terminal)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TextIO

from bot.platforms.base import ConversationRef, MessageRef, Reply, UserRef
from bot.platforms.console.render import render_text


class ConsoleMessenger:
    """Every destination is the one terminal, which belongs to one person when `person` is given.

    Several people may share one database from their own terminals; the timers of their drills fire in
    whichever terminal runs.  A message for someone else ("time is up" on their drill) is not theirs to
    read here: it is dropped, and they see where their drill stands when they resume it.
    """

    def __init__(self, out: TextIO, person: str | None = None, after_write: Callable[[], None] | None = None) -> None:
        """`after_write` runs after each message: one that arrives while the terminal waits for a line
        ("time is up") is printed after the prompt, which the terminal drill then shows again."""
        self._out = out
        self._person = person
        self._ids = itertools.count(1)
        self._after_write = after_write

    def _write(self, reply: Reply) -> MessageRef:
        self._out.write("\n" + render_text(reply) + "\n")
        self._out.flush()
        if self._after_write is not None:
            self._after_write()
        return MessageRef("console", "terminal", str(next(self._ids)))

    def _skip(self) -> MessageRef:
        return MessageRef("console", "terminal", str(next(self._ids)))

    async def post(self, where: ConversationRef, reply: Reply) -> MessageRef:
        if self._person is not None and where.is_dm and where.channel_id != f"dm:{self._person}":
            return self._skip()
        return self._write(reply)

    async def reply_in_thread(self, parent: MessageRef, reply: Reply) -> MessageRef:
        return self._write(reply)

    async def dm(self, user: UserRef, reply: Reply) -> MessageRef:
        if self._person is not None and user.user_id != self._person:
            return self._skip()
        return self._write(reply)

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        self._write(reply)
