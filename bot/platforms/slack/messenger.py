"""SlackMessenger: the Messenger protocol over the Slack Web API (chat.postMessage, chat.update, DMs).

Errors propagate, so a timer-driven post that failed is retried by the engine's timer
service; each failure is logged with the method and Slack's error code, never a token.
Rate limits and dropped connections are retried inside slack_sdk (see `app.web_client`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.platforms.base import ConversationRef, MessageRef, Reply, UserRef
from bot.platforms.slack import PLATFORM, render

log = logging.getLogger(__name__)

SLACK_ERRORS: tuple[type[BaseException], ...] = (SlackClientError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


def error_code(exc: BaseException) -> str:
    """Slack's error code, or the exception class name (never the request: it carries the token)."""
    if isinstance(exc, SlackApiError):
        data = exc.response.data  # a proxy or an outage may answer with text or HTML, not JSON
        if isinstance(data, dict):
            return str(data.get("error", "unknown"))
        return f"http_{exc.response.status_code}"
    return type(exc).__name__


class SlackMessenger:
    """Posts, thread replies, DMs and edits for the engine, plus the caller's ephemeral answers."""

    platform = PLATFORM

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._dm_channels: dict[str, str] = {}

    async def _send(self, method: str, target: str, call: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
        try:
            return await call
        except SLACK_ERRORS as exc:
            log.warning("slack call failed method=%s target=%s error=%s", method, target, error_code(exc))
            raise

    async def say(self, channel: str, reply: Reply, *, thread_ts: str | None = None,
                  workspace_id: str = "") -> MessageRef:
        """chat.postMessage; the returned ref carries the message ts."""
        args: dict[str, Any] = {"channel": channel, **render.message(reply), "unfurl_links": False,
                                "unfurl_media": False}
        if thread_ts:
            args["thread_ts"] = thread_ts
        answer = await self._send("chat.postMessage", channel, self._client.chat_postMessage(**args))
        # Slack answers with the channel and ts; a proxy or a minimal stand-in may leave them out (or put the
        # ts only on the message), and a post that went out is still a post
        message = answer.get("message")
        ts = answer.get("ts") or (message.get("ts") if isinstance(message, dict) else None) or ""
        return MessageRef(PLATFORM, str(answer.get("channel") or channel), str(ts), workspace_id)

    async def whisper(self, channel: str, user_id: str, reply: Reply, *, thread_ts: str | None = None) -> None:
        """chat.postEphemeral: only `user_id` sees it."""
        args: dict[str, Any] = {"channel": channel, "user": user_id, **render.message(reply)}
        if thread_ts:
            args["thread_ts"] = thread_ts
        await self._send("chat.postEphemeral", channel, self._client.chat_postEphemeral(**args))

    async def dm_channel(self, user_id: str) -> str:
        """The id of the bot's DM with a person (conversations.open, cached)."""
        channel = self._dm_channels.get(user_id)
        if channel is None:
            answer = await self._send("conversations.open", user_id, self._client.conversations_open(users=user_id))
            opened = answer.get("channel")
            # without an id in the answer, the user id itself: Slack delivers a post to a user id in the app's DM
            channel = str(opened.get("id") if isinstance(opened, dict) and opened.get("id") else user_id)
            self._dm_channels[user_id] = channel
        return channel

    async def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        """views.open (the trigger_id is valid for 3 seconds after the click)."""
        await self._send("views.open", "modal", self._client.views_open(trigger_id=trigger_id, view=view))

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        """views.publish of a person's App Home tab."""
        await self._send("views.publish", user_id, self._client.views_publish(user_id=user_id, view=view))

    # -- the Messenger protocol ------------------------------------------------------------------

    async def post(self, where: ConversationRef, reply: Reply) -> MessageRef:
        return await self.say(where.channel_id, reply, workspace_id=where.workspace_id)

    async def reply_in_thread(self, parent: MessageRef, reply: Reply) -> MessageRef:
        """In the parent's thread; a parent whose ts is unknown gets the reply in its channel instead."""
        return await self.say(parent.channel_id, reply, thread_ts=parent.message_id or None,
                              workspace_id=parent.workspace_id)

    async def dm(self, user: UserRef, reply: Reply) -> MessageRef:
        return await self.say(await self.dm_channel(user.user_id), reply)

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        await self._send("chat.update", ref.channel_id,
                         self._client.chat_update(channel=ref.channel_id, ts=ref.message_id, **render.message(reply)))
