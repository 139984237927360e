"""Render neutral Replies as terminal text."""

from __future__ import annotations

import textwrap

from bot.i18n import t
from bot.platforms.base import Reply, UserText

RULE = "─" * 60


def render_text(reply: Reply) -> str:
    """Plain text with a title rule, fields, headed blocks and the footer.

    A terminal has no buttons.  Most of them answer the message they sit under (submit, skip, rate),
    which the terminal drill asks for at its prompt; a report's button runs another command, which is
    printed as the command line to type."""
    lines: list[str] = []
    if reply.title:
        lines.extend([RULE, reply.title, RULE] if reply.kind in ("question", "report") else [reply.title])
    for f in reply.fields:
        lines.append(f"{f.name}: {_s(f.value)}")
    for block in reply.blocks:
        if block.heading:
            lines.append("")
            lines.append(f"【{block.heading}】" if reply.lang == "zh" else f"[{block.heading}]")
        for line in block.lines:
            lines.append(_s(line))
    if reply.kind == "report":
        for button in reply.buttons:
            if button.action.startswith("report "):
                lines.append("")
                lines.append(t("report.answers_hint", reply.lang, command=f"interview-bot {button.action}"))
    if reply.footer:
        lines.append(reply.footer)
    return "\n".join(lines)


def _s(value: str | UserText) -> str:
    return value.text if isinstance(value, UserText) else value


def wrap(text: str, width: int = 88) -> str:
    return "\n".join(textwrap.fill(p, width) if p else "" for p in text.split("\n"))
