"""Deliver engine events: render each and send it through the right platform's Messenger."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from bot.engine.events import Outgoing
from bot.platforms.base import MessageRef, Messenger, Reply
from handlers.views import render

log = logging.getLogger(__name__)

# Told what was posted, in groups: (event, where it was posted).
PostedHook = Callable[[Sequence[tuple[object, MessageRef | None]]], Awaitable[None]]
POST_CONCURRENCY = 32  # posts under way at once in a burst (each to its own channel)


class Delivery:
    """Routes events to messengers by platform; caller-bound replies are returned instead."""

    def __init__(self) -> None:
        self._messengers: dict[str, Messenger] = {}
        self._posted: list[PostedHook] = []
        # told the platform of every failed send (the admin port counts them); None: not counted
        self.on_failure: Callable[[str], None] | None = None

    def on_posted(self, hook: PostedHook) -> None:
        """Call `hook([(event, ref), ...])` after events are posted (the engine records message refs)."""
        self._posted.append(hook)

    def register(self, platform: str, messenger: Messenger) -> None:
        self._messengers[platform] = messenger

    def messenger(self, platform: str) -> Messenger | None:
        return self._messengers.get(platform)

    async def __call__(self, outgoing: Sequence[Outgoing]) -> None:
        """Send events that have a destination of their own (timer-driven output)."""
        await self.send(outgoing)

    async def send(self, outgoing: Sequence[Outgoing]) -> list[tuple[Outgoing, Reply]]:
        """Send what has a destination, in order; return (event, reply) pairs meant for the caller."""
        for_caller: list[tuple[Outgoing, Reply]] = []
        for item in outgoing:
            reply = render(item.event)
            target = item.target
            if target.kind == "caller":
                if target.private:
                    reply = replace(reply, ephemeral=True)
                for_caller.append((item, reply))
                continue
            # Errors propagate: a timer handler that could not post is retried by the timer service.
            ref = await self._deliver(item, reply)
            for hook in self._posted:
                await hook([(item.event, ref)])
        return for_caller

    async def post_each(
        self, outgoing: Sequence[Outgoing], *, concurrency: int = POST_CONCURRENCY
    ) -> list[BaseException | None]:
        """Post events that each have a destination, a bounded number at once; one outcome per event.

        For a burst: hundreds of daily questions due in the same minute, each in its own channel
        (events for one destination should not share a call: they may go out in any order).  One
        failed post fails only its own outcome.  The on_posted hooks get the posted events in
        groups, whatever went out while the previous group was being recorded: a commit per
        group instead of per post, while a post is still recorded moments after it went out (a
        crash in between posts it again on restart, as with `send`).  If recording a group
        fails, so do those events' outcomes, as `send` would raise.
        """
        outcomes: list[BaseException | None] = [None] * len(outgoing)
        posted: list[tuple[int, object, MessageRef | None]] = []
        arrived = asyncio.Event()
        work = iter(enumerate(outgoing))
        finished = False

        async def post() -> None:
            for index, item in work:
                try:
                    if item.target.kind == "caller":
                        raise ValueError("post_each needs events with a destination of their own")
                    ref = await self._deliver(item, render(item.event))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    outcomes[index] = exc
                    continue
                posted.append((index, item.event, ref))
                arrived.set()

        async def posting() -> None:
            nonlocal finished
            try:
                await asyncio.gather(*(post() for _ in range(max(1, min(concurrency, len(outgoing))))))
            finally:
                finished = True
                arrived.set()

        async def recording() -> None:
            while True:
                if not posted:
                    if finished:
                        return
                    arrived.clear()
                    await arrived.wait()
                    continue
                group = posted[:]
                posted.clear()
                try:
                    for hook in self._posted:
                        await hook([(event, ref) for _index, event, ref in group])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.exception("recording %s posted events failed", len(group))
                    for index, _event, _ref in group:
                        outcomes[index] = exc

        await asyncio.gather(posting(), recording())
        return outcomes

    async def _deliver(self, item: Outgoing, reply: Reply) -> MessageRef | None:
        """Send one rendered event to its destination; the posted message, if the platform says."""
        target = item.target
        destination = target.user or target.where or target.thread
        platform = destination.platform if destination is not None else ""
        messenger = self._messengers.get(platform)
        if messenger is None:
            # Raise rather than drop: a timer's event is then retried once the platform is connected.
            raise LookupError(f"no messenger registered for platform {platform!r}")
        if target.kind == "edit" and target.thread is not None:
            try:  # cosmetic (a closed question losing its buttons): never worth failing or repeating a delivery
                await messenger.edit(target.thread, reply)
            except Exception as exc:
                log.warning("edit failed platform=%s error=%s: %s", platform, type(exc).__name__, str(exc)[:200])
                self._failed(platform)
            return None
        try:
            if target.kind == "dm" and target.user is not None:
                return await messenger.dm(target.user, reply)
            if target.kind == "conversation" and target.where is not None:
                return await messenger.post(target.where, reply)
            if target.kind == "thread" and target.thread is not None:
                return await messenger.reply_in_thread(target.thread, reply)
        except Exception:
            self._failed(platform)
            raise
        return None

    def _failed(self, platform: str) -> None:
        if self.on_failure is not None:
            self.on_failure(platform)
