"""Deliver engine events: render each and send it through the right platform's Messenger."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from bot.engine.events import Outgoing
from bot.platforms.base import MessageRef, Messenger, Reply
from handlers.views import render

log = logging.getLogger(__name__)


class Delivery:
    """Routes events to messengers by platform; caller-bound replies are returned instead."""

    def __init__(self) -> None:
        self._messengers: dict[str, Messenger] = {}
        self._posted: list[Callable[[object, MessageRef | None], Awaitable[None]]] = []

    def on_posted(self, hook: Callable[[object, MessageRef | None], Awaitable[None]]) -> None:
        """Call `hook(event, ref)` after each event is posted (the engine records message refs)."""
        self._posted.append(hook)

    def register(self, platform: str, messenger: Messenger) -> None:
        self._messengers[platform] = messenger

    def messenger(self, platform: str) -> Messenger | None:
        return self._messengers.get(platform)

    async def __call__(self, outgoing: Sequence[Outgoing]) -> None:
        """Send events that have a destination of their own (timer-driven output)."""
        await self.send(outgoing)

    async def send(self, outgoing: Sequence[Outgoing]) -> list[tuple[Outgoing, Reply]]:
        """Send what has a destination; return (event, reply) pairs meant for the caller."""
        for_caller: list[tuple[Outgoing, Reply]] = []
        for item in outgoing:
            reply = render(item.event)
            target = item.target
            if target.kind == "caller":
                if target.private:
                    reply = replace(reply, ephemeral=True)
                for_caller.append((item, reply))
                continue
            destination = target.user or target.where or target.thread
            platform = destination.platform if destination is not None else ""
            messenger = self._messengers.get(platform)
            if messenger is None:
                # Raise rather than drop: a timer's event is then retried once the platform is connected.
                raise LookupError(f"no messenger registered for platform {platform!r}")
            # Errors propagate: a timer handler that could not post is retried by the timer service.
            ref: MessageRef | None = None
            if target.kind == "dm" and target.user is not None:
                ref = await messenger.dm(target.user, reply)
            elif target.kind == "conversation" and target.where is not None:
                ref = await messenger.post(target.where, reply)
            elif target.kind == "thread" and target.thread is not None:
                ref = await messenger.reply_in_thread(target.thread, reply)
            for hook in self._posted:
                await hook(item.event, ref)
        return for_caller
