"""An in-memory Messenger that records what would be posted (errbot's test backend idea)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from bot.platforms.base import ConversationRef, MessageRef, RecipientUnreachableError, Reply, UserRef


@dataclass(frozen=True)
class Sent:
    kind: str  # post / thread / dm / edit
    target: str
    reply: Reply
    ref: MessageRef | None

    @property
    def text(self) -> str:
        return self.reply.plain_text()


class RecordingMessenger:
    """Records every send; can be told to fail, to test retries."""

    def __init__(self, platform: str = "test") -> None:
        self.platform = platform
        self.sent: list[Sent] = []
        self.fail_next = 0
        self.dms_closed: set[str] = set()  # users whose DMs refuse the bot
        self.down_channels: set[str] = set()  # channels whose posts fail (an outage of one channel)
        self.edits_fail = False  # edits refused (a message deleted, a lost permission)
        self._ids = itertools.count(1)

    def _ref(self, channel: str) -> MessageRef:
        return MessageRef(self.platform, channel, f"m{next(self._ids)}")

    def _check(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("platform outage (simulated)")

    async def post(self, where: ConversationRef, reply: Reply) -> MessageRef:
        if where.channel_id in self.down_channels:
            raise ConnectionError(f"posting to {where.channel_id} failed (simulated)")
        self._check()
        ref = self._ref(where.channel_id)
        self.sent.append(Sent("post", where.channel_id, reply, ref))
        return ref

    async def reply_in_thread(self, parent: MessageRef, reply: Reply) -> MessageRef:
        self._check()
        ref = self._ref(parent.channel_id)
        self.sent.append(Sent("thread", f"{parent.channel_id}/{parent.message_id}", reply, ref))
        return ref

    async def dm(self, user: UserRef, reply: Reply) -> MessageRef:
        if user.user_id in self.dms_closed:
            raise RecipientUnreachableError(f"{user.user_id} does not accept DMs")
        self._check()
        ref = self._ref(f"dm:{user.user_id}")
        self.sent.append(Sent("dm", user.user_id, reply, ref))
        return ref

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        if self.edits_fail:
            raise ConnectionError("editing failed (simulated)")
        self._check()
        self.sent.append(Sent("edit", f"{ref.channel_id}/{ref.message_id}", reply, ref))

    def texts(self, kind: str | None = None) -> list[str]:
        return [s.text for s in self.sent if kind is None or s.kind == kind]
