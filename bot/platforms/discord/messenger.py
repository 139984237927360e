"""DiscordMessenger: the Messenger protocol over discord.py (channel posts, question threads, DMs, edits).

Every send carries `AllowedMentions.none()`.  Errors propagate, so a timer-driven post that
failed is retried by the engine's timer service; each failure is logged with the operation,
the channel and Discord's status and error code (never a token or a URL).  429s are retried
inside discord.py.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, Literal, TypeVar

import aiohttp
import discord

from bot.platforms.base import ConversationRef, MessageRef, RecipientUnreachableError, Reply, UserRef
from bot.platforms.discord import PLATFORM, render
from bot.platforms.discord.views import view_for

log = logging.getLogger(__name__)
CANNOT_DM_USER = 50007  # Discord: the person's DMs are closed to this bot

T = TypeVar("T")
Channel = discord.TextChannel | discord.Thread | discord.DMChannel | discord.VoiceChannel | discord.PartialMessageable
CHANNEL_TYPES = (discord.TextChannel, discord.Thread, discord.DMChannel, discord.VoiceChannel,
                 discord.PartialMessageable)
SEND_ERRORS: tuple[type[BaseException], ...] = (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError)
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
MAX_REMEMBERED = 10_000


def error_text(exc: BaseException) -> str:
    """Status and code of a Discord error, or the exception's class name."""
    if isinstance(exc, discord.HTTPException):
        return f"status={exc.status} code={exc.code}"
    return type(exc).__name__


def message_kwargs(reply: Reply, *, edit: bool = False) -> dict[str, Any]:
    """embed, view and allowed_mentions for send, edit and interaction responses."""
    kwargs: dict[str, Any] = {"embed": render.embed(reply), "allowed_mentions": render.NO_MENTIONS}
    view = view_for(reply)
    if view is not None or edit:
        kwargs["view"] = view
    return kwargs


def _form_only(reply: Reply) -> Reply:
    """The question with its how-to-answer line in the wording that names only the Answer button."""
    how_to, form_only = reply.tags.get("how_to"), reply.tags["how_to_form_only"]
    blocks = tuple(
        replace(block, lines=tuple(form_only if line == how_to else line for line in block.lines))
        for block in reply.blocks
    )
    return replace(reply, blocks=blocks)


class DiscordMessenger:
    """Posts, thread replies, DMs and edits for the engine."""

    platform = PLATFORM

    def __init__(self, client: discord.Client, *, thread_replies: bool = False) -> None:
        self._client = client
        self._thread_replies = thread_replies
        self.threads: dict[int, int] = {}  # question threads this process opened: thread id -> channel id

    async def _call(self, operation: str, target: object, call: Awaitable[T]) -> T:
        try:
            return await call
        except SEND_ERRORS as exc:
            log.warning("discord %s failed target=%s %s", operation, target, error_text(exc))
            raise

    def _channel(self, channel_id: int, guild_id: str = "") -> Channel:
        """The cached channel, thread or DM, else a partial one (enough to send to)."""
        channel = self._client.get_channel(channel_id)
        if isinstance(channel, CHANNEL_TYPES):
            return channel
        return self._client.get_partial_messageable(channel_id, guild_id=int(guild_id) if guild_id else None)

    async def send(self, channel: discord.abc.Messageable, reply: Reply, *,
                   reference: discord.Message | discord.PartialMessage | None = None) -> discord.Message:
        """Send one reply to a channel, thread or DM."""
        kwargs = message_kwargs(reply)
        if reference is not None:
            kwargs["reference"] = reference
            kwargs["mention_author"] = False
        target = getattr(channel, "id", "?")
        return await self._call("send", target, channel.send(**kwargs))

    # -- the Messenger protocol ------------------------------------------------------------------

    async def post(self, where: ConversationRef, reply: Reply) -> MessageRef:
        """Post in a channel; a round's question gets its answer thread when thread replies are on, and
        without them it does not invite replies in a thread."""
        if not self._thread_replies and "how_to_form_only" in reply.tags:
            reply = _form_only(reply)
        message = await self.send(self._channel(int(where.channel_id), where.workspace_id), reply)
        if self._thread_replies and reply.kind == "question" and "round" in reply.tags and not where.is_dm:
            try:
                await self._open_thread(message, reply)
            except SEND_ERRORS:
                log.warning("question posted without its thread channel=%s message=%s", where.channel_id, message.id)
        return MessageRef(PLATFORM, str(message.channel.id), str(message.id), where.workspace_id)

    async def reply_in_thread(self, parent: MessageRef, reply: Reply) -> MessageRef:
        """Post in the thread on `parent` (created on first use); in a DM or a thread, reply to it instead."""
        channel = self._channel(int(parent.channel_id), parent.workspace_id)
        message_id = int(parent.message_id)
        if isinstance(channel, discord.DMChannel | discord.Thread) or not parent.workspace_id:
            sent = await self.send(channel, reply, reference=channel.get_partial_message(message_id))
            return MessageRef(PLATFORM, str(sent.channel.id), str(sent.id), parent.workspace_id)
        thread = await self._thread_on(channel, message_id, reply)
        sent = await self.send(thread, reply)
        return MessageRef(PLATFORM, str(sent.channel.id), str(sent.id), parent.workspace_id)

    async def dm(self, user: UserRef, reply: Reply) -> MessageRef:
        """Send to a person's DM channel (opened once, then cached by discord.py)."""
        try:
            channel = await self._call("create_dm", user.user_id,
                                       self._client.create_dm(discord.Object(int(user.user_id))))
            message = await self.send(channel, reply)
        except discord.Forbidden as exc:
            if exc.code == CANNOT_DM_USER:
                raise RecipientUnreachableError(f"discord user {user.user_id} does not accept DMs") from exc
            raise
        return MessageRef(PLATFORM, str(channel.id), str(message.id), "")

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        """Replace a message the bot posted."""
        partial = self._channel(int(ref.channel_id), ref.workspace_id)
        message = partial.get_partial_message(int(ref.message_id))
        await self._call("edit", ref.channel_id, message.edit(**message_kwargs(reply, edit=True)))

    # -- threads ---------------------------------------------------------------------------------

    def _remember(self, thread_id: int, channel_id: int) -> None:
        self.threads[thread_id] = channel_id
        if len(self.threads) > MAX_REMEMBERED:
            del self.threads[next(iter(self.threads))]

    async def _open_thread(self, message: discord.Message, reply: Reply) -> discord.Thread:
        thread = await self._call("create_thread", message.channel.id, message.create_thread(
            name=render.thread_name(reply), auto_archive_duration=THREAD_ARCHIVE_MINUTES))
        self._remember(thread.id, message.channel.id)
        return thread

    async def _thread_on(self, channel: Channel, message_id: int, reply: Reply) -> discord.abc.Messageable:
        """The thread started from a message (a thread's id is its starter message's id), created if missing."""
        known = self._client.get_channel(message_id)
        if isinstance(known, discord.Thread):
            return known
        partial = channel.get_partial_message(message_id)
        try:
            thread: discord.Thread = await partial.create_thread(
                name=render.thread_name(reply), auto_archive_duration=THREAD_ARCHIVE_MINUTES)
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                log.warning("discord create_thread failed target=%s %s", message_id, error_text(exc))
                raise
            guild_id = getattr(getattr(channel, "guild", None), "id", None)
            self._remember(message_id, channel.id)
            return self._client.get_partial_messageable(message_id, guild_id=guild_id,
                                                         type=discord.ChannelType.public_thread)
        self._remember(thread.id, channel.id)
        return thread
