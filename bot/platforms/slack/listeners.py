"""Bolt listeners: Slack requests in, neutral Commands to the Router, Replies back to the caller.

Every listener acknowledges first (Slack wants it within 3 seconds), then builds one
`Command` and hands it to `handlers.router.Router`.  Nothing here decides what a command
means; the only choices made are Slack ones: where the caller's answer goes (the slash
command's response_url, an ephemeral message, the DM) and which events are ignored
(bots, edits and other subtypes, channel chatter outside a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.app import App
from bot.platforms.base import Command, ConversationRef, MessageRef, Reply, Via
from bot.platforms.slack import PLATFORM, render
from bot.platforms.slack.messenger import SLACK_ERRORS, SlackMessenger, error_code
from bot.platforms.slack.permissions import Directory
from handlers.router import Router

log = logging.getLogger(__name__)

COMMAND = "/interview"
# message subtypes that are still a person writing: "also send to channel" thread replies, messages with files
PERSON_SUBTYPES = frozenset({"thread_broadcast", "file_share"})


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from: enough to build the Command and to answer its caller."""

    team: str
    channel: str
    user: str
    is_dm: bool
    thread_ts: str | None = None


def is_dm_channel(channel: str, channel_type: str | None = None) -> bool:
    """Slack DMs are channel type `im`, with ids starting with D."""
    return channel_type == "im" or channel.startswith("D")


def unescape(text: str) -> str:
    """Message text as the person typed it (Slack sends `&`, `<`, `>` as entities)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _rest(line: str) -> str:
    """What follows the first word of a command line (the text of `answer ...`)."""
    parts = line.strip().split(maxsplit=1)
    return parts[1] if len(parts) == 2 else ""


class Listeners:
    """The adapter's request handlers; `register` wires them into a bolt AsyncApp."""

    def __init__(self, engine: App, messenger: SlackMessenger, people: Directory, router: Router | None = None) -> None:
        self.engine = engine
        self.router = router or Router(engine)
        self.messenger = messenger
        self.people = people
        self._inflight: set[asyncio.Task[Any]] = set()

    # -- bookkeeping -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _work(self, kind: str) -> AsyncIterator[None]:
        """Track the listener's task (for drain) and log, rather than raise, what escapes it."""
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        try:
            yield
        except Exception:
            log.exception("slack listener failed kind=%s", kind)

    async def drain(self, grace: float = 10.0) -> None:
        """Wait (bounded) until every listener that has started has finished."""
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        current = asyncio.current_task()
        while pending := {t for t in self._inflight if t is not current and not t.done()}:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("slack listeners still running at shutdown count=%s", len(pending))
                return
            await asyncio.wait(pending, timeout=remaining)

    async def _command(self, origin: Origin, name: str, args: tuple[str, ...] = (), *, text: str = "",
                       via: Via = "command", event_id: str | None = None, thread: MessageRef | None = None) -> Command:
        user = await self.people.user_ref(origin.user)
        where = ConversationRef(PLATFORM, origin.team, origin.channel, is_dm=origin.is_dm)
        return Command(user, where, name, args, text=text, is_admin=await self.people.is_admin(origin.user),
                       event_id=event_id, via=via, thread=thread)

    async def _answer(self, origin: Origin, replies: list[Reply], respond: AsyncRespond | None = None) -> None:
        """Send the caller's replies: via response_url, ephemerally, or in the DM or channel."""
        for reply in replies:
            try:
                if respond is not None:
                    answer = await respond(response_type="ephemeral" if reply.ephemeral else "in_channel",
                                           **render.message(reply))
                    if answer.status_code != 200:
                        log.warning("slack respond failed status=%s", answer.status_code)
                elif origin.is_dm:
                    await self.messenger.say(origin.channel, reply, workspace_id=origin.team)
                elif reply.ephemeral:
                    await self.messenger.whisper(origin.channel, origin.user, reply, thread_ts=origin.thread_ts)
                else:
                    await self.messenger.say(origin.channel, reply, thread_ts=origin.thread_ts,
                                             workspace_id=origin.team)
            except SLACK_ERRORS as exc:
                log.warning("slack reply to caller failed kind=%s error=%s", reply.kind, error_code(exc))

    async def _action_origin(self, body: dict[str, Any]) -> Origin:
        """The origin of a button click in a message, or in the Home tab (answered in the DM)."""
        user = str(body.get("user", {}).get("id", ""))
        team = str((body.get("team") or {}).get("id") or body.get("user", {}).get("team_id") or "")
        channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
        thread_ts = (body.get("message") or {}).get("thread_ts")
        if not channel:
            return Origin(team, await self.messenger.dm_channel(user), user, True)
        return Origin(team, channel, user, is_dm_channel(channel), thread_ts)

    # -- listeners ---------------------------------------------------------------------------------

    async def slash_command(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        """`/interview <subcommand>`: ack at once, run the command, answer through response_url."""
        async with self._work("command"):
            await ack()
            channel = str(command.get("channel_id", ""))
            origin = Origin(str(command.get("team_id", "")), channel, str(command.get("user_id", "")),
                            is_dm_channel(channel, "im" if command.get("channel_name") == "directmessage" else None))
            line = unescape(str(command.get("text") or ""))
            name, args = Router.parse_line(line)
            replies = await self.router.handle(await self._command(origin, name, args, text=_rest(line)))
            await self._answer(origin, replies, respond)

    async def button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A button whose value is a command line ('hint', 'reveal', 'ask 1.15', 'done', 'rate good')."""
        async with self._work("button"):
            await ack()
            origin = await self._action_origin(body)
            name, args = Router.parse_line(str(action.get("value") or ""))
            replies = await self.router.handle(await self._command(origin, name, args, via="button"))
            await self._answer(origin, replies)

    async def answer_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """The Answer button: open the hidden-answer modal with the click's trigger_id."""
        async with self._work("answer_button"):
            await ack()
            form = render.form_button(str(action.get("value") or ""))
            origin = await self._action_origin(body)
            message_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
            metadata = {"team": origin.team, "channel": origin.channel, "ts": str(message_ts or ""),
                        "round": form.round_id, "line": form.line}
            await self.messenger.open_modal(str(body.get("trigger_id", "")), render.answer_modal(form, metadata))

    async def answer_submitted(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The modal's reply: a hidden answer to the round of the message whose button opened it."""
        async with self._work("view_submission"):
            await ack()
            try:
                meta = json.loads(view.get("private_metadata") or "{}")
            except ValueError:
                meta = {}
            if not isinstance(meta, dict):
                meta = {}
            channel = str(meta.get("channel") or "")
            if not channel:
                log.warning("answer modal without a channel view=%s", view.get("id"))
                return
            values = (view.get("state") or {}).get("values") or {}
            text = str(((values.get(render.ANSWER_BLOCK) or {}).get(render.ANSWER_INPUT) or {}).get("value") or "")
            user = str(body.get("user", {}).get("id", ""))
            team = str(meta.get("team") or (body.get("team") or {}).get("id") or "")
            origin = Origin(team, channel, user, is_dm_channel(channel))
            ts = str(meta.get("ts") or "")
            thread = MessageRef(PLATFORM, channel, ts, team) if ts else None
            name, args = Router.parse_line(str(meta.get("line") or "answer"))
            event_id = f"view:{view.get('id', '')}:{view.get('hash', '')}"
            command = await self._command(origin, name, args, text=text, via="form", event_id=event_id, thread=thread)
            await self._answer(origin, await self.router.handle(command))

    async def message(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        """A DM to the bot (drill answers, bare command words) or a reply in a thread (a visible answer)."""
        async with self._work("message"):
            user = event.get("user")
            subtype = event.get("subtype")
            text = unescape(str(event.get("text") or ""))
            if (subtype and subtype not in PERSON_SUBTYPES) or event.get("bot_id") or not user or not text.strip():
                return  # edits, deletions, joins, bots (this one included): only what people write counts
            channel = str(event.get("channel", ""))
            is_dm = is_dm_channel(channel, event.get("channel_type"))
            thread_ts = event.get("thread_ts")
            if not is_dm and (not thread_ts or thread_ts == event.get("ts")):
                return  # channel chatter outside a thread is not addressed to the bot
            parent = event.get("parent_user_id")
            if not is_dm and parent and context.bot_user_id and parent != context.bot_user_id:
                return  # a thread under someone else's message: not a reply to one of the bot's questions
            team = str(body.get("team_id") or event.get("team") or "")
            origin = Origin(team, channel, str(user), is_dm, None if is_dm else str(thread_ts))
            thread = None if is_dm else MessageRef(PLATFORM, channel, str(thread_ts), team)
            event_id = body.get("event_id")
            command = await self._command(origin, "message", text=text,
                                          via="message", event_id=str(event_id) if event_id else None, thread=thread)
            await self._answer(origin, await self.router.message(command))

    async def home_opened(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """The App Home tab: the person's stats, reviews due, and buttons that start a drill."""
        async with self._work("app_home_opened"):
            if event.get("tab", "home") != "home" or not event.get("user"):
                return
            user = str(event["user"])
            team = str(body.get("team_id") or "")
            channel = str(event.get("channel") or "") or await self.messenger.dm_channel(user)
            origin = Origin(team, channel, user, True)
            about = await self.router.handle(await self._command(origin, "stats"))
            lang = about[0].lang if about else self.engine.settings.lang
            await self.messenger.publish_home(user, render.home_view(about, await self._due(user), lang))

    async def _due(self, user_id: str) -> int:
        """How many of the person's review cards are due now."""
        row = await self.engine.store.find_user(PLATFORM, user_id)
        if row is None:
            return 0
        return len(await self.engine.store.due_cards(row.id, self.engine.clock.now()))


def register(app: AsyncApp, listeners: Listeners) -> None:
    """Wire the listeners into a bolt app (explicit, in one place)."""
    app.command(COMMAND)(listeners.slash_command)
    app.action(re.compile(f"^{render.FORM_PREFIX}"))(listeners.answer_button)
    app.action(re.compile(f"^{render.BUTTON_PREFIX}"))(listeners.button)
    app.view(render.ANSWER_CALLBACK)(listeners.answer_submitted)
    app.event("message")(listeners.message)
    app.event("app_home_opened")(listeners.home_opened)
