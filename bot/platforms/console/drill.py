"""The terminal drill: one person, the drill engine, a terminal as the DM.

Each line typed is stored as it arrives (so a killed process loses nothing it had
read), an empty line, `done` (好了 / 完成) or end of input submits the answer, and the time limit is the
engine's timer: in the terminal a reply after the limit is accepted and marked late.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from bot.app import App
from bot.engine.drills import (
    DONE_WORDS,
    MAX_REPLY_CHARS,
    DrillError,
    DrillFeedback,
    DrillOptions,
    DrillQuestion,
    DrillReport,
    awaits_rating,
)
from bot.engine.events import CALLER, Outgoing, Target
from bot.engine.selection import Scope
from bot.i18n import format_duration, t
from bot.platforms.base import ConversationRef, UserRef
from bot.platforms.console.messenger import ConsoleMessenger
from bot.platforms.console.render import render_text
from bot.storage.db import storage_failure
from handlers.views import render

log = logging.getLogger(__name__)

PLATFORM = "console"


@dataclass(frozen=True, slots=True)
class ConsoleDrillArgs:
    user: str
    count: int
    scope: Scope
    lang: str
    minutes: float
    self_grade: bool = False
    resume: bool = False
    new: bool = False
    review: bool = False
    minutes_given: bool = False  # --minutes was given: it also applies to a resumed drill


# A terminal in canonical mode passes on at most 4095 bytes of one line (Linux's N_TTY_BUF_SIZE - 1): a line
# that long from a terminal was probably cut, and only the person can paste the rest again
TTY_LINE_BYTES = 4095
PASTE_WINDOW = 0.05  # seconds: lines closer together than this were pasted, not typed


class LineReader:
    """Lines from a text stream, read on a thread so timers keep running while we wait."""

    def __init__(self, stream: TextIO) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._ahead: list[str | None] = []  # a line taken by `more_within`, not yet read
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True, name="stdin-reader")
        self._thread.start()

    def _pump(self, stream: TextIO) -> None:
        try:
            for line in stream:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line.rstrip("\r\n"))
        except (OSError, ValueError):
            pass
        self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    async def readline(self) -> str | None:
        """The next line, or None at end of input."""
        if self._ahead:
            return self._ahead.pop(0)
        return await self._queue.get()

    def pending(self) -> bool:
        """Whether a line has already arrived and waits to be read (pasted text arrives all at once)."""
        return bool(self._ahead) or not self._queue.empty()

    async def more_within(self, seconds: float) -> bool:
        """Whether another line arrives within `seconds` (left to be read): text pasted into a terminal
        arrives all at once, a person's next line does not."""
        if self._ahead:
            return self._ahead[0] is not None
        try:
            line = await asyncio.wait_for(self._queue.get(), seconds)
        except TimeoutError:
            return False
        self._ahead.append(line)
        return line is not None


class ConsoleDrill:
    """Drives one drill in the terminal."""

    def __init__(
        self,
        app: App,
        args: ConsoleDrillArgs,
        reader: LineReader,
        out: TextIO,
        paste_window: float = 0.0,
        *,
        piped: bool = False,
    ) -> None:
        self.app = app
        # in a terminal, an empty line followed at once by more text is a paragraph break inside pasted text,
        # not the end of the answer (0: every empty line submits, as with piped input)
        self.paste_window = paste_window
        self.args = args
        self.reader = reader
        self.out = out
        self.user = UserRef(PLATFORM, args.user, args.user)
        self.where = ConversationRef(PLATFORM, "local", f"dm:{args.user}", is_dm=True)
        self.finished = False
        self.deadline: datetime | None = None
        self.interactive = out.isatty() if hasattr(out, "isatty") else False
        self.exit_code = 1  # when there is nothing to run
        self.piped = piped  # input is a file or a pipe, not a person at a terminal
        self.shown_item: int | None = None  # the drill item this terminal last asked
        self.rating_item: int | None = None  # the self-graded answer whose reference this terminal last showed
        self.saved_lines = 0  # lines of the current answer saved before an interrupt (see begin)
        self.waiting: str | None = None  # the prompt shown while a line is awaited: "answer" or "rating"
        self.unsaved: str | None = None  # a typed line while it is being stored (shown back if storing fails)

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def show(self, outgoing: Sequence[Outgoing]) -> None:
        for item in outgoing:
            event = item.event
            if isinstance(event, DrillQuestion):
                self.deadline = event.deadline
                self.shown_item = event.item_id
            if isinstance(event, DrillFeedback) and event.needs_rating:
                self.rating_item = event.item_id
            self.write("\n" + render_text(render(event)))
            if isinstance(event, DrillReport):
                self.finished = True
                self.write("\n" + self.summary_table(event))

    def summary_table(self, report: DrillReport) -> str:
        lang = report.lang
        head = (t("console.col_question", lang), t("console.col_time", lang), t("console.col_result", lang))
        rows = [head]
        for line in report.lines:
            time = format_duration(line.seconds, lang) if line.seconds is not None else "—"
            if line.state in ("skipped", "unanswered"):
                result = t(f"state.{line.state}", lang)
            elif line.score is not None:
                result = f"{line.score}/100" + (f" ({t('state.late', lang)})" if line.late else "")
            else:
                result = t(f"rating.{line.self_rating}", lang) if line.self_rating else "—"
            rows.append((line.qid, time, result))
        widths = [max(_width(r[i]) for r in rows) for i in range(3)]
        out = [t("console.summary", lang)]
        for n, row in enumerate(rows):
            out.append("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        return "\n".join(out)

    async def begin(self) -> bool:
        """Start or resume; False when there is nothing to do."""
        drills = self.app.drills
        lang = self.args.lang
        active = await drills.active(self.user)
        if active is not None and self.args.new:
            await self.show(await drills.stop(self.user))
            self.finished = False
            active = None
        if active is not None:
            items = await self.app.store.drill_items(active.id)
            roots = [i for i in items if i.parent_item_id is None]
            done = sum(1 for i in roots if i.state not in ("pending", "asked"))
            self.write(t("console.resuming", lang, drill=active.number, done=done, total=len(roots)))
            # a resumed drill keeps its own time limit unless --minutes says otherwise
            minutes = self.args.minutes if self.args.minutes_given else None
            await self.show(await drills.resume(self.user, minutes=minutes))
            asked = next((i for i in await self.app.store.drill_items(active.id) if i.state == "asked"), None)
            saved = await self.app.store.item_answers(asked.id) if asked is not None else []
            if saved:  # lines typed before the interrupt are part of this answer: an empty line submits them
                self.saved_lines = len(saved)
                self.write(t("console.resumed_lines", lang, count=len(saved)))
            return True
        if self.args.resume:
            self.write(t("console.no_resume", lang))
            return False
        options = DrillOptions(
            count=self.args.count,
            scope=self.args.scope,
            minutes=self.args.minutes,
            lang=lang,
            grading="self" if self.args.self_grade else "auto",
            on_timeout="accept_late",
            review_only=self.args.review,
        )
        try:
            started = await drills.start(self.user, self.where, options)
        except DrillError as exc:  # nothing due for review, an empty scope: say so, no traceback
            await self.show([Outgoing(_caller(), exc.notice)])
            self.exit_code = 0 if exc.notice.key.startswith("drill.nothing_due") else 1
            return False
        # a review asks what is due, which may be fewer questions than asked for
        count = next((o.event.total for o in started if isinstance(o.event, DrillQuestion)), self.args.count)
        welcome = "console.welcome_review" if self.args.review else "console.welcome"
        self.write(t(welcome, lang, count=count, minutes=f"{self.args.minutes:g}"))
        await self.show(started)
        return True

    def prompt(self) -> None:
        if not self.interactive or self.reader.pending():  # no prompt between the lines of a paste
            return
        left = ""
        if self.deadline is not None:
            seconds = (self.deadline - self.app.clock.now()).total_seconds()
            lang = self.args.lang
            left = (
                t("console.time_left", lang, left=format_duration(seconds, lang))
                if seconds > 0
                else t("console.over_time", lang)
            )
        self.out.write(f"[{left}] > ")
        self.out.flush()

    def reprompt(self) -> None:
        """Show the prompt again after a message printed while a line is awaited (the timer's "time is
        up"): the person would otherwise type on a bare line, not knowing the drill still listens."""
        if self.waiting == "answer":
            self.prompt()
        elif self.waiting == "rating" and self.interactive:
            self.out.write(t("console.rate_prompt", self.args.lang))
            self.out.flush()

    async def run(self) -> int:
        """Run the drill; a database that fails under it (disk full, read-only) ends it with a clear message
        and the line that was not saved, instead of a traceback: everything saved before stays resumable."""
        try:
            return await self._run()
        except Exception as exc:
            if not storage_failure(exc):
                raise
            # the person is told below; the traceback is for --log-level INFO, not for their terminal
            log.info("terminal drill storage failed db=%s", self.app.store.db.path, exc_info=True)
            lang = self.args.lang
            self.write("\n" + t("console.storage_failed", lang, db=str(self.app.store.db.path), error=str(exc)))
            if self.unsaved:
                self.write(t("console.not_saved", lang, text=self.unsaved))
            return 1

    async def _run(self) -> int:
        if not await self.begin():
            return self.exit_code
        # timers start after `begin`: a resumed question's deadline that passed while the terminal was closed
        # has been replaced by then, so it does not report "time is up" for a question asked afresh
        await self.app.start()
        lang = self.args.lang
        typed = self.saved_lines > 0
        while not self.finished:
            drill = await self.app.drills.active(self.user)
            if drill is None:
                break
            awaiting_rating = drill.grading == "self" and await self._awaiting_rating(drill.id) is not None
            if awaiting_rating:
                self.out.write(t("console.rate_prompt", lang))
                self.out.flush()
            else:
                self.prompt()
            self.waiting = "rating" if awaiting_rating else "answer"
            try:
                line = await self.reader.readline()
            finally:
                self.waiting = None
            if line is None:  # end of input: submit what was typed, leave the rest resumable
                if typed:
                    await self._submit()
                if self.piped:
                    await self._skip_follow_ups()
                if not self.finished:
                    gap = "" if lang == "zh" else " "
                    self.write("\n" + t("console.eof", lang) + gap + t("console.interrupted", lang))
                return 0
            if awaiting_rating:
                # read again now the line is here: another terminal may have rated and answered on meanwhile
                if await self._awaiting_rating(drill.id) != self.rating_item:
                    self.write("\n" + t("console.moved_elsewhere", lang))
                    return 1
                try:
                    await self.show(await self.app.drills.rate(self.user, line))
                except DrillError as exc:
                    await self.show([Outgoing(_caller(), exc.notice)])
                continue
            stripped = line.strip()
            if not stripped:
                if typed and not (self.paste_window and await self.reader.more_within(self.paste_window)):
                    if await self._moved_elsewhere():
                        return 1
                    await self._submit()
                    typed = False
                continue
            if await self._moved_elsewhere():
                return 1
            if stripped.lower() in DONE_WORDS:  # what the question's prompt says to send, as in a DM
                await self._submit()
                typed = False
                continue
            # skip also after lines typed (or saved before a resume): they stay on record, unanswered
            if stripped.lower() in ("skip", "跳过"):
                await self.show(await self.app.drills.skip(self.user))
                typed = False
                continue
            if not self.piped and len(line.encode("utf-8", "replace")) >= TTY_LINE_BYTES:
                self.write(t("console.line_cut", lang, bytes=TTY_LINE_BYTES))
            try:
                # a message can bring a paused drill back: show what the engine says then.  A line longer than
                # one chat message (a long paragraph pasted into a terminal) is kept whole as several parts,
                # as if typed on several lines, instead of being refused and lost
                self.unsaved = line.rstrip("\n")
                for part in _message_parts(line):
                    await self.show(await self.app.drills.message(self.user, part))
                self.unsaved = None
                typed = True
            except DrillError as exc:
                await self.show([Outgoing(_caller(), exc.notice)])
        return 0

    async def _moved_elsewhere(self) -> bool:
        """Whether the drill moved on without this terminal (the same person continued it in another one).

        A line typed here would otherwise be stored, and graded, as the answer to a question this terminal
        never showed; say so and stop instead (nothing typed here since is stored).
        """
        if self.shown_item is None:
            return False
        row = await self.app.store.find_user(PLATFORM, self.args.user)
        found = await self.app.store.active_drill_with_item(row.id) if row is not None else None
        item = found[1] if found is not None else None
        if item is not None and item.id == self.shown_item:
            return False
        self.write("\n" + t("console.moved_elsewhere", self.args.lang))
        return True

    async def _skip_follow_ups(self) -> None:
        """Piped input has ended, so nobody will answer the follow-ups it drew: skip them (a follow-up
        is optional and its question keeps its score), so that `drill --count 1 < answer.txt` ends with
        its report. A main question still open stays resumable."""
        while not self.finished:
            drill = await self.app.drills.active(self.user)
            if drill is None:
                return
            items = await self.app.store.drill_items(drill.id)
            current = next((i for i in items if i.state == "asked"), None)
            if current is None or current.parent_item_id is None:
                return
            try:
                await self.show(await self.app.drills.skip(self.user))
            except DrillError as exc:
                await self.show([Outgoing(_caller(), exc.notice)])
                return

    async def _awaiting_rating(self, drill_id: int) -> int | None:
        """The item of a self-graded drill whose answer waits for its rating, if any."""
        items = await self.app.store.drill_items(drill_id)
        return next((i.id for i in reversed(items) if awaits_rating(i)), None)

    async def _submit(self) -> None:
        try:
            await self.show(await self.app.drills.submit(self.user))
        except DrillError as exc:
            await self.show([Outgoing(_caller(), exc.notice)])


def _message_parts(line: str) -> list[str]:
    """A typed line as the drill's messages: itself, or a too-long line cut into message-sized parts, at a
    blank where there is one (the parts are joined by line breaks: a cut inside a word splits the word)."""
    parts: list[str] = []
    while len(line) > MAX_REPLY_CHARS:
        cut = line.rfind(" ", 0, MAX_REPLY_CHARS + 1)
        cut = cut if cut > 0 else MAX_REPLY_CHARS
        parts.append(line[:cut])
        line = line[cut:].lstrip(" ")
    parts.append(line)
    return [part for part in parts if part.strip()]


def _caller() -> Target:
    return CALLER


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


async def run_console_drill(
    app: App,
    args: ConsoleDrillArgs,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    paste_window: float | None = None,
) -> int:
    """Run a terminal drill to its end or to end of input; every answer is committed as it arrives.

    `paste_window` (seconds) defaults to 50 ms when standard input is a terminal and 0 otherwise.
    """
    out = out or sys.stdout
    stdin = stdin or sys.stdin
    if paste_window is None:
        paste_window = PASTE_WINDOW if stdin.isatty() else 0.0
    reader = LineReader(stdin)
    drill = ConsoleDrill(app, args, reader, out, paste_window, piped=not stdin.isatty())
    app.delivery.register(PLATFORM, ConsoleMessenger(out, args.user, after_write=drill.reprompt))
    return await drill.run()
