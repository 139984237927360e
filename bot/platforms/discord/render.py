"""Neutral Replies as Discord embeds: title, description from blocks, fields, deadline, footer; all within limits.

Every text, the bot's and people's, is markdown-escaped and mention-escaped, so nothing typed
can format the message, ping `@everyone`, `@here`, a role or a user (and every send also
carries `AllowedMentions.none()`).  The only markup written here is the renderer's own:
bold block headings and the deadline's `<t:UNIX:t>` / `<t:UNIX:R>` timestamps.
"""

from __future__ import annotations

from datetime import datetime

import discord

from bot.i18n import t
from bot.platforms.base import Inline, Reply, UserText

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_EMBED_TOTAL = 6000
MAX_THREAD_NAME = 100
MAX_MODAL_TITLE = 45
MAX_LABEL = 45

NO_MENTIONS = discord.AllowedMentions.none()

COLORS: dict[str, int] = {
    "question": 0x5865F2,
    "reminder": 0xFEE75C,
    "reveal": 0x57F287,
    "leaderboard": 0xF1C40F,
    "stats": 0x3498DB,
    "error": 0xED4245,
    "drill": 0x5865F2,
    "feedback": 0x2ECC71,
    "report": 0xEB459E,
    "settings": 0x95A5A6,
    "help": 0x95A5A6,
}
DEFAULT_COLOR = 0x99AAB5

_WORDS: dict[str, dict[str, str]] = {
    "deadline": {"zh": "截止", "en": "Deadline"},
    "answer": {"zh": "回答", "en": "Answer"},
    "your_answer": {"zh": "你的回答（揭晓前只有你能看到）", "en": "Your answer (hidden until the reveal)"},
    "answers": {"zh": "回答区", "en": "Answers"},
}


def word(key: str, lang: str) -> str:
    """A Discord-only UI word (modal label, thread name) in the reader's language."""
    return _WORDS[key].get(lang) or _WORDS[key]["en"]


def escape(text: str) -> str:
    """Markdown and mentions escaped: the text shows as typed and pings no one."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _plain(value: Inline) -> str:
    return value.text if isinstance(value, UserText) else value


def cut(text: str, limit: int) -> str:
    """Shorten escaped text to `limit` characters, at a line end when one is near, never after a lone backslash."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    newline = head.rfind("\n")
    if newline >= limit * 0.8:
        head = head[:newline]
    trailing = len(head) - len(head.rstrip("\\"))
    if trailing % 2:
        head = head[:-1]  # an escape cut in half would escape the ellipsis instead
    return head + "…"


def timestamp(when: datetime) -> str:
    """A Discord timestamp every reader sees in their own zone: the time and how long from now."""
    unix = int(when.timestamp())
    return f"<t:{unix}:t> (<t:{unix}:R>)"


def description(reply: Reply) -> str:
    """The blocks as text: bold headings, escaped lines, a blank line between blocks."""
    parts: list[str] = []
    for block in reply.blocks:
        lines = [f"**{escape(block.heading)}**"] if block.heading else []
        lines.extend(escape(_plain(line)) for line in block.lines)
        text = "\n".join(lines).strip("\n")
        if text.strip():
            parts.append(text)
    return "\n\n".join(parts)


def embed(reply: Reply) -> discord.Embed:
    """The reply as one embed within Discord's limits (title 256, description 4096, 25 fields, 6000 in all)."""
    result = discord.Embed(color=COLORS.get(reply.kind, DEFAULT_COLOR))
    if reply.title:
        result.title = cut(escape(reply.title), MAX_TITLE)
    fields = [(cut(escape(f.name), MAX_FIELD_NAME) or "\u200b", cut(escape(_plain(f.value)), MAX_FIELD_VALUE) or "—",
               f.inline) for f in reply.fields]
    if reply.deadline is not None:
        fields.append((word("deadline", reply.lang), timestamp(reply.deadline), True))
    for name, value, inline in fields[:MAX_FIELDS]:
        result.add_field(name=name, value=value, inline=inline)
    if reply.footer:
        result.set_footer(text=cut(reply.footer, MAX_FOOTER))
    text = description(reply)
    room = MAX_EMBED_TOTAL - len(result)
    while room < 200 and result.fields:  # fields crowd out the body: drop the last ones
        result.remove_field(len(result.fields) - 1)
        room = MAX_EMBED_TOTAL - len(result)
    if text or not (result.title or result.fields):
        result.description = cut(text or "…", min(MAX_DESCRIPTION, room))
    return result


def thread_name(reply: Reply) -> str:
    """The name of the thread that collects a question's replies (named after the question even when the
    reveal is what opens it)."""
    qid = reply.tags.get("qid")
    base = t("round.question_title", reply.lang, qid=qid) if qid else _plain(reply.title) if reply.title else ""
    name = f"{base} · {word('answers', reply.lang)}" if base else word("answers", reply.lang)
    return name[:MAX_THREAD_NAME]
