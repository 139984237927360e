"""Neutral Replies as Block Kit: header, sections, fields, context and buttons, every text escaped.

All text, the bot's and people's, goes through `escape` (`&`, `<`, `>`), and every
mrkdwn object is `verbatim`, so no `<!channel>`, `<!here>`, `<@U...>` or link can come
out of a message.  The only control sequence the renderer writes itself is the
deadline's `<!date^...>` token, built after escaping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.platforms.base import Button, Field, Reply, UserText
from handlers.views import format_when

MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
MAX_BUTTONS = 25
MAX_BUTTON_TEXT = 75
MAX_VALUE = 2000
MAX_FALLBACK = 3000
MAX_MODAL_TITLE = 24
MAX_METADATA = 3000
MAX_ANSWER = 4000

BUTTON_PREFIX = "iv_btn_"
FORM_PREFIX = "iv_form_"
ANSWER_CALLBACK = "iv_answer"
ANSWER_BLOCK = "answer"
ANSWER_INPUT = "text"

_WORDS = {
    "deadline": {"zh": "截止", "en": "Deadline"},
    "submit": {"zh": "提交", "en": "Submit"},
    "cancel": {"zh": "取消", "en": "Cancel"},
    "hidden": {"zh": "揭晓前只有你自己能看到这条回答。", "en": "Your reply stays hidden until the reveal."},
    "home": {"zh": "模拟面试", "en": "Mock interviews"},
    "due": {"zh": "待复习的题：{count}", "en": "Questions due for review: {count}"},
    "drill": {"zh": "开始一对一练习", "en": "Start a drill"},
    "review": {"zh": "复习到期的题", "en": "Review due questions"},
    "truncated": {"zh": "（内容过长，已截断）", "en": "(too long, cut short)"},
}


def word(key: str, lang: str, **params: object) -> str:
    """A Slack-only UI word (modal buttons, Home tab) in the reader's language."""
    text = _WORDS[key].get(lang) or _WORDS[key]["en"]
    return text.format(**params) if params else text


def escape(text: str) -> str:
    """Slack's three control characters as entities: nothing typed can become a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(value: str | UserText) -> str:
    return value.text if isinstance(value, UserText) else value


def date_token(when: datetime, lang: str) -> str:
    """Slack date formatting shown in each reader's zone, with an escaped UTC fallback."""
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{escape(format_when(when, lang))}>"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain_text(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(escape(text), limit), "emoji": True}


def _cut(escaped: str, limit: int) -> str:
    """Shorten escaped text to `limit` characters without splitting an entity."""
    if len(escaped) <= limit:
        return escaped
    head = escaped[: limit - 1]
    amp = head.rfind("&", max(0, len(head) - 5))
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + "…"


def _split(escaped: str, limit: int) -> list[str]:
    """Escaped text in pieces of at most `limit` characters, at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in escaped.split("\n"):
        while len(line) > limit:
            cut = limit
            amp = line.rfind("&", max(0, cut - 5), cut)
            if amp != -1 and ";" not in line[amp:cut]:
                cut = amp
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _field_text(field: Field) -> str:
    return _cut(f"*{escape(field.name)}*\n{escape(_plain(field.value))}", MAX_FIELD)


def _field_sections(fields: list[str]) -> list[dict[str, Any]]:
    return [{"type": "section", "fields": [_mrkdwn(text) for text in fields[i:i + MAX_FIELDS]]}
            for i in range(0, len(fields), MAX_FIELDS)]


@dataclass(frozen=True, slots=True)
class FormButton:
    """What the Answer button carries to the modal: the command line, the form's words and the round."""

    line: str
    title: str
    label: str
    round_id: str
    lang: str


def _button(index: int, button: Button, reply: Reply) -> dict[str, Any]:
    if button.opens_form:
        value = json.dumps({"a": button.action, "t": button.form_title, "l": button.form_label,
                            "r": reply.tags.get("round", ""), "lang": reply.lang}, ensure_ascii=False)
        action_id = f"{FORM_PREFIX}{index}"
    else:
        value = button.action
        action_id = f"{BUTTON_PREFIX}{index}"
    element: dict[str, Any] = {"type": "button", "action_id": action_id,
                               "text": _plain_text(button.label, MAX_BUTTON_TEXT), "value": value[:MAX_VALUE]}
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def form_button(value: str) -> FormButton:
    """Decode the value of an Answer button (see `_button`)."""
    try:
        data = json.loads(value)
    except ValueError:
        data = {"a": value}
    if not isinstance(data, dict):
        data = {"a": str(value)}
    return FormButton(str(data.get("a") or "answer"), str(data.get("t") or ""), str(data.get("l") or ""),
                      str(data.get("r") or ""), str(data.get("lang") or "en"))


def blocks(reply: Reply) -> list[dict[str, Any]]:
    """The Block Kit blocks of a reply: header, sections, fields (with the deadline), footer, buttons."""
    content: list[dict[str, Any]] = []
    if reply.title:
        content.append({"type": "header", "text": _plain_text(reply.title, MAX_HEADER)})
    for block in reply.blocks:
        parts = [f"*{escape(block.heading)}*"] if block.heading else []
        parts.extend(escape(_plain(line)) for line in block.lines)
        for piece in _split("\n".join(parts), MAX_SECTION):
            if piece.strip():
                content.append({"type": "section", "text": _mrkdwn(piece)})
    fields = [_field_text(f) for f in reply.fields]
    if reply.deadline is not None:
        fields.append(f"*{escape(word('deadline', reply.lang))}*\n{date_token(reply.deadline, reply.lang)}")
    content.extend(_field_sections(fields))
    if reply.footer:
        content.append({"type": "context", "elements": [_mrkdwn(_cut(escape(reply.footer), MAX_SECTION))]})
    buttons = [_button(i, b, reply) for i, b in enumerate(reply.buttons)]
    actions = [{"type": "actions", "block_id": f"iv_actions_{i // MAX_BUTTONS}", "elements": buttons[i:i + MAX_BUTTONS]}
               for i in range(0, len(buttons), MAX_BUTTONS)]
    room = MAX_BLOCKS - len(actions)
    if len(content) > room:
        content = content[: room - 1]
        content.append({"type": "context", "elements": [_mrkdwn(escape(word("truncated", reply.lang)))]})
    return content + actions


def fallback_text(reply: Reply) -> str:
    """The notification and screen-reader text of a message, escaped like the blocks."""
    text = reply.plain_text().strip() or (reply.title or "…")
    return _cut(escape(text), MAX_FALLBACK)


def message(reply: Reply) -> dict[str, Any]:
    """`text` and `blocks` for chat.postMessage, chat.postEphemeral, chat.update and respond()."""
    return {"text": fallback_text(reply), "blocks": blocks(reply)}


def answer_modal(form: FormButton, metadata: dict[str, str]) -> dict[str, Any]:
    """The hidden-answer modal opened by the Answer button."""
    private = json.dumps(metadata, separators=(",", ":"))
    return {
        "type": "modal",
        "callback_id": ANSWER_CALLBACK,
        "title": _plain_text(form.title or word("submit", form.lang), MAX_MODAL_TITLE),
        "submit": _plain_text(word("submit", form.lang), MAX_MODAL_TITLE),
        "close": _plain_text(word("cancel", form.lang), MAX_MODAL_TITLE),
        "private_metadata": private[:MAX_METADATA],
        "blocks": [
            {"type": "input", "block_id": ANSWER_BLOCK,
             "label": _plain_text(form.label or word("submit", form.lang), MAX_FIELD),
             "element": {"type": "plain_text_input", "action_id": ANSWER_INPUT, "multiline": True,
                         "max_length": MAX_ANSWER}},
            {"type": "context", "elements": [_mrkdwn(escape(word("hidden", form.lang)))]},
        ],
    }


def home_view(about: list[Reply], due: int, lang: str) -> dict[str, Any]:
    """The App Home tab: the person's stats, how many reviews are due, and buttons that start a drill."""
    content: list[dict[str, Any]] = [{"type": "header", "text": _plain_text(word("home", lang), MAX_HEADER)}]
    for reply in about:
        content.extend(blocks(reply))
    content.append({"type": "section", "text": _mrkdwn(escape(word("due", lang, count=due)))})
    buttons = [Button(word("drill", lang), "drill", "primary")]
    if due:
        buttons.append(Button(word("review", lang), "review"))
    holder = Reply(buttons=tuple(buttons), lang=lang)
    elements = [_button(i, b, holder) for i, b in enumerate(buttons)]
    content = content[: MAX_BLOCKS - 1]
    content.append({"type": "actions", "block_id": "iv_home", "elements": elements})
    return {"type": "home", "blocks": content}
