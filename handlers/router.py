"""Dispatch neutral Commands to handlers; deliver what they produce; never let an error escape.

Adapters call `Router.handle(command)` for commands, buttons and forms, and
`Router.message(...)` for free text (DM drill answers, thread replies).  The
returned Replies are for the caller (the adapter answers the slash command or the
interaction with them, ephemerally when `Reply.ephemeral`); everything addressed
elsewhere has already been posted through the registered Messengers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.app import App
from bot.engine.drills import DONE_WORDS
from bot.engine.events import CALLER, PRIVATE, Notice, NoticeError, Outgoing
from bot.platforms.base import Command, Reply
from bot.storage.db import storage_failure
from handlers import drills, help, people, rounds, schedules
from handlers.commands import BY_NAME, NAMES
from handlers.context import Context, language_for
from handlers.parse import BadArguments, split_words
from handlers.views import render

log = logging.getLogger(__name__)

Handler = Callable[[Context, Command], Awaitable[list[Outgoing]]]

CHANNEL_HANDLERS: dict[str, Handler] = {
    "ask": rounds.ask,
    "answer": rounds.answer,
    "hint": rounds.hint,
    "reveal": rounds.reveal,
    "skip": rounds.skip_round,
    "cancel": rounds.cancel,
    "leaderboard": rounds.leaderboard,
    "stats": rounds.stats,
    "lang": rounds.lang,
    "settings": rounds.settings,
    "drill": drills.drill,
    "review": drills.review,
    "report": drills.report,
    "done": drills.done,
    "rate": drills.rate,
    "help": help.help_command,
    "forget-me": people.forget_me,
    "schedule": schedules.schedule,
}


class Router:
    """The one entry point adapters use."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.handlers: dict[str, Handler] = dict(CHANNEL_HANDLERS)
        self.accepting = True
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, seconds: float) -> bool:
        """Stop taking new events and wait for those in flight; False if time ran out."""
        self.accepting = False
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _enter(self) -> bool:
        if not self.accepting:
            return False
        self._in_flight += 1
        self._idle.clear()
        return True

    def _leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    def register(self, name: str, handler: Handler) -> None:
        """Add a command family (schedules, data export) from its own module."""
        self.handlers[name] = handler

    @staticmethod
    def parse_line(line: str) -> tuple[str, tuple[str, ...]]:
        """'ask 1.4 --minutes 3' -> ('ask', ('1.4', '--minutes', '3'))."""
        words = split_words(line.strip())
        if not words:
            return "help", ()
        return words[0].lower(), tuple(words[1:])

    async def handle(self, command: Command) -> list[Reply]:
        """Run one command; return the replies meant for the caller."""
        if not self._enter():
            return []  # shutting down: the platform will show nothing rather than half an action
        try:
            return await self._handle(command)
        finally:
            self._leave()

    async def _handle(self, command: Command) -> list[Reply]:
        lang = await self._lang(command)
        ctx = Context(self.app, lang)
        name = command.name.lower()
        try:
            handler = self._pick(name, command)
            if handler is None:
                valid = ", ".join(n for n in NAMES if n not in ("done",))
                outs = [Outgoing(CALLER, Notice("error.unknown_command", lang, {"name": name, "valid": valid}, True))]
            else:
                outs = await handler(ctx, command)
        except BadArguments as exc:
            spec = BY_NAME.get(name)
            usage = spec.usage if spec else name
            outs = [
                Outgoing(
                    CALLER, Notice("error.bad_args_detail", lang, {"detail": str(exc), "usage": usage}, error=True)
                )
            ]
        except NoticeError as exc:  # RoundError and DrillError are NoticeErrors too: refusals are private
            outs = [Outgoing(PRIVATE, exc.notice)]
        except Exception as exc:
            log.exception("command failed name=%s platform=%s", name, command.user.platform)
            outs = [Outgoing(CALLER, Notice(_failure_key(exc), lang, error=True))]
        return await self._deliver(outs, lang)

    def _pick(self, name: str, command: Command) -> Handler | None:
        if command.where.is_dm and name == "skip":
            return drills.skip
        return self.handlers.get(name)

    async def message(self, command: Command) -> list[Reply]:
        """Free text: in a DM, a drill answer or a bare command word; in a round's thread, a visible answer."""
        if not self._enter():
            return []
        try:
            return await self._message(command)
        finally:
            self._leave()

    async def _message(self, command: Command) -> list[Reply]:
        text = command.text.strip()
        if command.where.is_dm:
            if text.lower() in DONE_WORDS:
                return await self._handle(replace(command, name="done", args=()))
            if not _may_be_command_word(text):
                return await self._safe(command, drills.message)
            name, args = self.parse_line(text)
            if name in self.handlers and name in _DM_COMMAND_WORDS:
                # A bare command word; inside a drill only the drill's own words are commands.
                drill = await self.app.drills.active(command.user)
                if drill is None or name in _DRILL_WORDS:
                    return await self._handle(replace(command, name=name, args=args))
            return await self._safe(command, drills.message)
        if command.thread is not None:
            return await self._safe(replace(command, name="answer", via="message"), rounds.answer, quiet=True)
        return []

    async def _safe(self, command: Command, handler: Handler, *, quiet: bool = False) -> list[Reply]:
        lang = await self._lang(command)
        try:
            outs = await handler(Context(self.app, lang), command)
        except NoticeError as exc:  # RoundError and DrillError are NoticeErrors too
            if quiet and exc.notice.key == "round.none_open":
                return []
            outs = [Outgoing(PRIVATE, exc.notice)]
        except Exception as exc:
            log.exception("message failed platform=%s", command.user.platform)
            outs = [Outgoing(CALLER, Notice(_failure_key(exc), lang, error=True))]
        return await self._deliver(outs, lang)

    async def _lang(self, command: Command) -> str:
        try:
            return await language_for(self.app, command)
        except Exception:
            log.exception("language lookup failed")
            return self.app.settings.lang

    async def _deliver(self, outs: list[Outgoing], lang: str) -> list[Reply]:
        try:
            pairs = await self.app.delivery.send(outs)
        except Exception as exc:  # the platform refused a post; what was recorded stays, timers post again
            log.warning("delivery failed error=%s: %s", type(exc).__name__, str(exc)[:200])
            return [render(Notice("error.delivery_failed", lang, error=True))]
        return [reply for _item, reply in pairs]


_DRILL_WORDS = frozenset({"drill", "skip", "report", "help", "stats", "lang", "review", "rate"})
_DM_COMMAND_WORDS = _DRILL_WORDS | {"leaderboard"}
_SHELL_QUOTING = frozenset("\"'\\")
_SHLEX_SPACE = re.compile(r"[ \t\r\n]")


def _may_be_command_word(text: str) -> bool:
    """False when the first word of `text` (stripped) cannot be one of the DM command words.

    Splitting a whole answer like a shell only to look at its first word cost more than storing the
    answer.  Without quotes or backslashes before the first space, the first word `split_words` yields
    is a plain prefix of the text, so a text that starts with no command word cannot be a command.
    """
    lowered = text.lower()
    if not lowered or lowered.startswith(_COMMAND_PREFIXES):  # an empty line means help
        return True
    first = _SHLEX_SPACE.split(text, maxsplit=1)[0]
    return not _SHELL_QUOTING.isdisjoint(first)


_COMMAND_PREFIXES = tuple(sorted(_DM_COMMAND_WORDS))


def _failure_key(exc: Exception) -> str:
    """What to tell the person about an unexpected failure: when storage failed, that what they sent was
    not stored (the usual message says nothing was lost, which is then untrue)."""
    return "error.storage" if storage_failure(exc) else "error.internal"
