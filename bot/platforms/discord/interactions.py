"""Discord events in, neutral Commands to the Router, Replies back: slash commands, buttons, the modal, messages.

Each handler builds one `Command` and hands it to `handlers.router.Router`; nothing here
decides what a command means.  The Discord choices made here: acknowledge within Discord's
3 seconds (answer at once when the work is quick, otherwise defer and follow up), keep the
caller's replies ephemeral when the Reply says so, ignore bots and everything outside DMs
and question threads, and drop an interaction or message delivered twice (its id is also
the Command's event_id, so the engine records one answer even across a restart).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from typing import Any, cast

import discord

from bot.app import App
from bot.engine.events import Notice
from bot.platforms.base import Command, ConversationRef, MessageRef, Reply, UserRef, Via
from bot.platforms.discord import PLATFORM, render
from bot.platforms.discord.messenger import SEND_ERRORS, DiscordMessenger, error_text, message_kwargs
from bot.platforms.discord.permissions import interaction_is_admin, message_is_admin
from bot.platforms.discord.views import AnswerModal, modal_channel, submitted_text
from handlers.router import Router
from handlers.views import notice

log = logging.getLogger(__name__)

# Commands that grade, post or write enough to risk Discord's 3 s: deferred at once.
SLOW = frozenset({"ask", "answer", "reveal", "skip", "cancel", "drill", "review", "report", "done", "rate",
                  "schedule", "forget-me"})
QUICK_BUDGET = 1.5  # seconds a quick command may take before it is deferred anyway
SEEN_LIMIT = 10_000
RECORDED = "✅"
DONE = "✓"
PERSON_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)


class Recent:
    """A bounded set of event ids already handled (gateway replays, duplicated dispatches)."""

    def __init__(self, limit: int = SEEN_LIMIT) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def first(self, key: str) -> bool:
        """True the first time `key` is seen."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)
        return True


def user_ref(user: discord.abc.User) -> UserRef:
    """The neutral person: id and the name people see."""
    return UserRef(PLATFORM, str(user.id), user.display_name)


def unescaped(text: str) -> str:
    """Embed text back to plain text (for a modal title)."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


class Answer:
    """The caller's side of one interaction: acknowledged once, then answered with embeds."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.thinking: bool | None = None  # the visibility of a deferred "thinking" message
        self.sent = False

    async def _try(self, what: str, call: Awaitable[object]) -> bool:
        try:
            await call
        except SEND_ERRORS as exc:
            log.warning("discord interaction %s failed id=%s %s", what, self.interaction.id, error_text(exc))
            return False
        return True

    async def defer(self, *, ephemeral: bool) -> None:
        """Show "thinking…" (ephemeral or not); the first reply replaces it."""
        if await self._try("defer", self.interaction.response.defer(ephemeral=ephemeral, thinking=True)):
            self.thinking = ephemeral

    async def acknowledge(self) -> None:
        """Acknowledge a button without a message; replies follow as new messages."""
        await self._try("defer", self.interaction.response.defer())

    async def send(self, replies: Sequence[Reply], *, component: bool = False) -> None:
        """Answer with each reply, ephemeral when the reply says so."""
        for reply in replies:
            await self._one(reply)
        if self.sent:
            return
        response = self.interaction.response
        if not response.is_done():
            if component:
                await self.acknowledge()
            else:
                await self._try("respond", response.send_message(DONE, ephemeral=True,
                                                                 allowed_mentions=render.NO_MENTIONS))
        elif self.thinking is not None:
            await self._try("delete", self.interaction.delete_original_response())

    async def _one(self, reply: Reply) -> None:
        kwargs = message_kwargs(reply)
        response = self.interaction.response
        if not response.is_done():
            self.sent = await self._try("respond", response.send_message(ephemeral=reply.ephemeral, **kwargs))
            return
        if self.thinking is not None and not self.sent and self.thinking != reply.ephemeral:
            # The first follow-up would take the thinking message's visibility: remove it instead.
            await self._try("delete", self.interaction.delete_original_response())
        sent = await self._try("follow-up", self.interaction.followup.send(ephemeral=reply.ephemeral, wait=True,
                                                                           **kwargs))
        self.sent = self.sent or sent


class Interactions:
    """The adapter's event handlers; the client and its commands and buttons call these."""

    def __init__(self, client: discord.Client, app: App, router: Router, messenger: DiscordMessenger, *,
                 thread_replies: bool = False) -> None:
        self.client = client
        self.app = app
        self.router = router
        self.messenger = messenger
        self.thread_replies = thread_replies
        self.seen = Recent()
        self._not_questions: set[int] = set()  # channels known not to be question threads

    # -- building Commands -----------------------------------------------------------------------

    def _bot_thread(self, channel: object) -> discord.Thread | None:
        """A thread the bot started on one of its questions."""
        me = self.client.user
        if isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id:
            return channel
        return None

    def where(self, interaction: discord.Interaction) -> ConversationRef:
        """The conversation: the channel (a question thread counts as its channel), or the DM."""
        if interaction.guild_id is None:
            return ConversationRef(PLATFORM, "", str(interaction.channel_id or interaction.user.id), is_dm=True)
        channel_id = interaction.channel_id
        thread = self._bot_thread(interaction.channel)
        if thread is not None and thread.parent_id is not None:
            channel_id = thread.parent_id
        elif channel_id is not None:
            channel_id = self.messenger.threads.get(channel_id, channel_id)
        return ConversationRef(PLATFORM, str(interaction.guild_id), str(channel_id))

    async def _question_channel(self, channel: object) -> int | None:
        """For a thread the bot opened on a question: the question's channel id (else None)."""
        thread = self._bot_thread(channel)
        if thread is not None:
            return thread.parent_id
        channel_id = getattr(channel, "id", None)
        if not isinstance(channel_id, int) or channel_id in self._not_questions:
            return None
        if channel_id in self.messenger.threads:
            return self.messenger.threads[channel_id]
        if not isinstance(channel, discord.PartialMessageable):
            return None  # a cached channel that is not one of our threads
        try:  # a thread the cache does not know (e.g. no THREAD_CREATE seen): ask Discord once
            fetched = await self.client.fetch_channel(channel_id)
        except SEND_ERRORS as exc:
            log.warning("discord fetch_channel failed channel=%s %s", channel_id, error_text(exc))
            return None
        thread = self._bot_thread(fetched)
        if thread is None or thread.parent_id is None:
            if len(self._not_questions) < SEEN_LIMIT:
                self._not_questions.add(channel_id)
            return None
        self.messenger.threads[channel_id] = thread.parent_id
        return thread.parent_id

    def command(self, interaction: discord.Interaction, name: str, args: Sequence[str] = (), *, text: str = "",
                via: Via = "command", thread: MessageRef | None = None,
                where: ConversationRef | None = None) -> Command:
        """A neutral Command for an interaction; its id is the event id."""
        return Command(user_ref(interaction.user), where or self.where(interaction), name, tuple(args), text=text,
                       is_admin=interaction_is_admin(interaction), event_id=str(interaction.id), via=via,
                       thread=thread)

    # -- interactions ----------------------------------------------------------------------------

    async def _run(self, interaction: discord.Interaction, command: Command, *, ephemeral: bool = True,
                   component: bool = False) -> None:
        answer = Answer(interaction)
        work = asyncio.ensure_future(self.router.handle(command))
        if component:
            await answer.acknowledge()
        else:
            if command.name not in SLOW:
                await asyncio.wait({work}, timeout=QUICK_BUDGET)
            if not work.done():
                await answer.defer(ephemeral=ephemeral)
        try:
            replies = await work
        except Exception:
            log.exception("discord command failed name=%s", command.name)
            replies = [notice(Notice("error.internal", self.app.settings.lang, error=True))]
        await answer.send(replies, component=component)

    async def run_command(self, interaction: discord.Interaction, name: str, args: Sequence[str] = (), *,
                          text: str = "", public: bool = False) -> None:
        """A slash command: `/interview <name>` with its options as command words."""
        if not self.seen.first(f"interaction:{interaction.id}"):
            return
        await self._run(interaction, self.command(interaction, name, args, text=text), ephemeral=not public)

    async def run_button(self, interaction: discord.Interaction, line: str) -> None:
        """A button whose custom id carries a command line ('hint', 'reveal', 'done', 'ask 1.15')."""
        if not self.seen.first(f"interaction:{interaction.id}"):
            return
        name, args = Router.parse_line(line)
        await self._run(interaction, self.command(interaction, name, args, via="button"), component=True)

    async def open_answer_form(self, interaction: discord.Interaction) -> None:
        """The Answer button (or `/interview answer` without text): the hidden-answer modal."""
        if not self.seen.first(f"interaction:{interaction.id}"):
            return
        where = self.where(interaction)
        lang = await self._lang(where)
        title = ""
        message = interaction.message
        if message is not None and message.embeds and message.embeds[0].title:
            title = unescaped(message.embeds[0].title)
        modal = AnswerModal(int(where.channel_id), title or render.word("answer", lang),
                            render.word("your_answer", lang))
        try:
            await interaction.response.send_modal(modal)
        except SEND_ERRORS as exc:
            log.warning("discord modal failed id=%s %s", interaction.id, error_text(exc))
        finally:
            modal.stop()  # submissions are read by custom id (`submit_answer`), not by this object

    async def submit_answer(self, interaction: discord.Interaction) -> None:
        """The modal's submission: a hidden answer to the round of the question it was opened from."""
        data = cast(dict[str, Any], interaction.data or {})
        channel_id = modal_channel(str(data.get("custom_id") or ""))
        if channel_id is None or not self.seen.first(f"interaction:{interaction.id}"):
            return
        guild = str(interaction.guild_id or "")
        where = ConversationRef(PLATFORM, guild, str(channel_id), is_dm=interaction.guild_id is None)
        thread = None
        if interaction.message is not None:
            thread = MessageRef(PLATFORM, str(channel_id), str(interaction.message.id), guild)
        text = submitted_text(data)
        command = self.command(interaction, "answer", text=text, via="form", thread=thread, where=where)
        await self._run(interaction, command)

    async def _lang(self, where: ConversationRef) -> str:
        try:
            if where.is_dm:
                return self.app.settings.lang
            return (await self.app.rounds.conversation(where)).lang
        except Exception:
            log.exception("language lookup failed")
            return self.app.settings.lang

    # -- messages --------------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """A DM (drill answers, bare command words) or, with thread replies on, a reply in a question's thread."""
        if message.author.bot or message.webhook_id is not None or message.type not in PERSON_MESSAGES:
            return  # the bot's own echoes, other bots, webhooks and system messages
        if not message.content.strip():
            return  # nothing typed (or no Message Content intent in a guild)
        if message.guild is None:
            where = ConversationRef(PLATFORM, "", str(message.channel.id), is_dm=True)
            thread = None
        else:
            parent = await self._question_channel(message.channel) if self.thread_replies else None
            if parent is None:
                return  # channel chatter, or a thread that is not one of the bot's questions
            guild = str(message.guild.id)
            where = ConversationRef(PLATFORM, guild, str(parent))
            thread = MessageRef(PLATFORM, str(parent), str(message.channel.id), guild)
        if not self.seen.first(f"message:{message.id}"):
            return
        command = Command(user_ref(message.author), where, "message", text=message.content,
                          is_admin=message_is_admin(message), event_id=str(message.id), via="message", thread=thread)
        try:
            replies = await self.router.message(command)
        except Exception:
            log.exception("discord message failed")
            return
        for reply in replies:
            await self._answer_message(message, reply)

    async def _answer_message(self, message: discord.Message, reply: Reply) -> None:
        """A reply to a person's message: in the DM, or in a thread (private ones by DM, a recorded one as ✅)."""
        try:
            if message.guild is None:
                await self.messenger.send(message.channel, reply)
            elif not reply.ephemeral:
                await self.messenger.send(message.channel, reply, reference=message)
            elif reply.kind == "info":
                await message.add_reaction(RECORDED)
            else:
                await self.messenger.dm(user_ref(message.author), reply)
        except SEND_ERRORS as exc:
            log.warning("discord reply to message failed message=%s %s", message.id, error_text(exc))


def handler_of(interaction: discord.Interaction) -> Interactions | None:
    """The Interactions attached to the interaction's client (None while only syncing commands)."""
    found = getattr(interaction.client, "interactions", None)
    return found if isinstance(found, Interactions) else None
