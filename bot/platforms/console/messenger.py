"""A Messenger that writes to a text stream (the terminal)."""

from __future__ import annotations

import itertools
from typing import TextIO

from bot.platforms.base import ConversationRef, MessageRef, Reply, UserRef
from bot.platforms.console.render import render_text


class ConsoleMessenger:
    """Every destination is the one terminal."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._ids = itertools.count(1)

    def _write(self, reply: Reply) -> MessageRef:
        self._out.write("\n" + render_text(reply) + "\n")
        self._out.flush()
        return MessageRef("console", "terminal", str(next(self._ids)))

    async def post(self, where: ConversationRef, reply: Reply) -> MessageRef:
        return self._write(reply)

    async def reply_in_thread(self, parent: MessageRef, reply: Reply) -> MessageRef:
        return self._write(reply)

    async def dm(self, user: UserRef, reply: Reply) -> MessageRef:
        return self._write(reply)

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        self._write(reply)
