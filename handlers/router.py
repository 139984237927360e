"""Dispatch neutral Commands to handlers; deliver what they produce; never let an error escape.

Adapters call `Router.handle(command)` for commands, buttons and forms, and
`Router.message(...)` for free text (DM drill answers, thread replies).  The
returned Replies are for the caller (the adapter answers the slash command or the
interaction with them, ephemerally when `Reply.ephemeral`); everything addressed
elsewhere has already been posted through the registered Messengers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.app import App
from bot.engine.drills import DONE_WORDS, DrillError
from bot.engine.events import CALLER, Notice, Outgoing
from bot.engine.rounds import RoundError
from bot.platforms.base import Command, Reply
from handlers import drills, help, rounds
from handlers.commands import BY_NAME, NAMES
from handlers.context import Context, language_for
from handlers.parse import BadArguments, split_words
from handlers.rounds import NoticeError
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
}


class Router:
    """The one entry point adapters use."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.handlers: dict[str, Handler] = dict(CHANNEL_HANDLERS)

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
            outs = [Outgoing(CALLER, Notice("error.bad_args_detail", lang, {"detail": str(exc), "usage": usage},
                                            error=True))]
        except (RoundError, DrillError, NoticeError) as exc:
            outs = [Outgoing(CALLER, _private(exc.notice))]
        except Exception:
            log.exception("command failed name=%s platform=%s", name, command.user.platform)
            outs = [Outgoing(CALLER, Notice("error.internal", lang, error=True))]
        return await self._deliver(outs, lang)

    def _pick(self, name: str, command: Command) -> Handler | None:
        if command.where.is_dm and name == "skip":
            return drills.skip
        return self.handlers.get(name)

    async def message(self, command: Command) -> list[Reply]:
        """Free text: in a DM, a drill answer or a bare command word; in a round's thread, a visible answer."""
        text = command.text.strip()
        if command.where.is_dm:
            name, args = self.parse_line(text)
            drill = await self.app.drills.active(command.user)
            if text.lower() in DONE_WORDS:
                return await self.handle(replace(command, name="done", args=()))
            if name in self.handlers and (drill is None or name in ("drill", "skip", "report", "help", "stats",
                                                                      "lang", "review", "rate")):
                if name != "skip" or drill is not None:
                    return await self.handle(replace(command, name=name, args=args))
            if drill is None:
                lang = await self._lang(command)
                return await self._deliver([Outgoing(CALLER, Notice("drill.none_active", lang))], lang)
            return await self._safe(command, drills.message)
        if command.thread is not None:
            return await self._safe(replace(command, name="answer", via="message"), rounds.answer, quiet=True)
        return []

    async def _safe(self, command: Command, handler: Handler, *, quiet: bool = False) -> list[Reply]:
        lang = await self._lang(command)
        try:
            outs = await handler(Context(self.app, lang), command)
        except (RoundError, DrillError, NoticeError) as exc:
            if quiet and exc.notice.key == "round.none_open":
                return []
            outs = [Outgoing(CALLER, _private(exc.notice))]
        except Exception:
            log.exception("message failed platform=%s", command.user.platform)
            outs = [Outgoing(CALLER, Notice("error.internal", lang, error=True))]
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
        except Exception:
            log.exception("delivery failed")
            return [render(Notice("error.internal", lang, error=True))]
        return [reply for _item, reply in pairs]


def _private(notice: Notice) -> Notice:
    return notice
