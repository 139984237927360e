"""Buttons and the answer modal, with stable custom ids so they keep working after a restart.

Every button is a `DynamicItem` matched by its custom id alone (no per-message state):
`interview:answer` opens the hidden-answer modal, `interview:hint:<round>` and
`interview:reveal:<round>` run those commands for their own round (the forms without a round,
from older messages, act on the open round), and `interview:cmd:<command line>` runs any other ('done', 'skip',
'ask 1.15', 'report 3 --answers', 'rate good').  `persistent_view()` is added to the client
at setup, which registers them all.  The modal's submission is read from the interaction
by its custom id `interview:answer_modal:<channel>` (see `InterviewClient.on_interaction`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import discord

from bot.platforms.base import Button, Reply
from bot.platforms.discord.render import MAX_LABEL, MAX_MODAL_TITLE

ANSWER_ID = "interview:answer"
HINT_ID = "interview:hint"
REVEAL_ID = "interview:reveal"
COMMAND_PREFIX = "interview:cmd:"
ANSWER_MODAL_PREFIX = "interview:answer_modal:"
ANSWER_INPUT_ID = "answer"
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_BUTTONS = 25
MAX_ANSWER = 4000

STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}

UIButton = discord.ui.Button[discord.ui.View]
_ROUND = r"(?::(?P<round>\d+))?"
_ROUND_ACTION = re.compile(r"(hint|reveal)(?: --round (\d+))?")


def _with_round(command: str, round_id: str | None) -> str:
    return f"{command} --round {round_id}" if round_id else command


class ButtonHost(Protocol):
    """What the buttons call: the client's interaction handler."""

    async def run_button(self, interaction: discord.Interaction, line: str) -> None:
        """Run the command line a button carries."""

    async def open_answer_form(self, interaction: discord.Interaction) -> None:
        """Open the hidden-answer modal."""


def _host(interaction: discord.Interaction) -> ButtonHost:
    host = getattr(interaction.client, "interactions", None)
    if host is None:
        raise RuntimeError("the Discord client has no interaction handler attached")
    return host  # type: ignore[no-any-return]


def _button(custom_id: str, label: str, style: discord.ButtonStyle) -> UIButton:
    return discord.ui.Button(label=label[:MAX_BUTTON_LABEL] or "…", style=style, custom_id=custom_id)


def _look(item: discord.ui.Item[Any], label: str, style: discord.ButtonStyle) -> tuple[str, discord.ButtonStyle]:
    """The label and style of the clicked button as the message shows them."""
    if isinstance(item, discord.ui.Button):
        return item.label or label, item.style
    return label, style


class AnswerButton(discord.ui.DynamicItem[UIButton], template=re.escape(ANSWER_ID)):
    """Answer: opens the hidden-answer modal."""

    def __init__(self, label: str = "Answer", style: discord.ButtonStyle = discord.ButtonStyle.primary) -> None:
        super().__init__(_button(ANSWER_ID, label, style))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        """Rebuild the clicked button (label and style as shown) from its custom id."""
        return cls(*_look(item, "Answer", discord.ButtonStyle.primary))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the client\'s interaction handler."""
        await _host(interaction).open_answer_form(interaction)


class HintButton(discord.ui.DynamicItem[UIButton], template=re.escape(HINT_ID) + _ROUND):
    """Hint: the open question's hint, only for the clicker."""

    def __init__(
        self,
        label: str = "Hint",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        round_id: str | None = None,
    ) -> None:
        super().__init__(_button(HINT_ID + (f":{round_id}" if round_id else ""), label, style))
        self.round_id = round_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> HintButton:
        """Rebuild the clicked button (label and style as shown) from its custom id."""
        return cls(*_look(item, "Hint", discord.ButtonStyle.secondary), match["round"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the client\'s interaction handler."""
        await _host(interaction).run_button(interaction, _with_round("hint", self.round_id))


class RevealButton(discord.ui.DynamicItem[UIButton], template=re.escape(REVEAL_ID) + _ROUND):
    """Reveal: the asker or an admin closes the round now (others get a private refusal)."""

    def __init__(
        self,
        label: str = "Reveal",
        style: discord.ButtonStyle = discord.ButtonStyle.danger,
        round_id: str | None = None,
    ) -> None:
        super().__init__(_button(REVEAL_ID + (f":{round_id}" if round_id else ""), label, style))
        self.round_id = round_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RevealButton:
        """Rebuild the clicked button (label and style as shown) from its custom id."""
        return cls(*_look(item, "Reveal", discord.ButtonStyle.danger), match["round"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the client\'s interaction handler."""
        await _host(interaction).run_button(interaction, _with_round("reveal", self.round_id))


class CommandButton(discord.ui.DynamicItem[UIButton], template=re.escape(COMMAND_PREFIX) + r"(?P<line>.+)"):
    """Any other button: its custom id carries the command line it runs."""

    def __init__(self, line: str, label: str | None = None,
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(_button(COMMAND_PREFIX + line, label or line, style))
        self.line = line

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CommandButton:
        """Rebuild the clicked button (label and style as shown) from its custom id."""
        label, style = _look(item, match["line"], discord.ButtonStyle.secondary)
        return cls(match["line"], label, style)

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the client\'s interaction handler."""
        await _host(interaction).run_button(interaction, self.line)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (AnswerButton, HintButton, RevealButton, CommandButton)


def persistent_view() -> discord.ui.View:
    """One of each button; `client.add_view(persistent_view())` makes every such button work after a restart."""
    view = discord.ui.View(timeout=None)
    for item in (AnswerButton(), HintButton(), RevealButton(), CommandButton("help")):
        view.add_item(item)
    return view


def item_for(button: Button) -> discord.ui.Item[Any] | None:
    """The dynamic item for a neutral button, or None when its command line does not fit a custom id."""
    style = STYLES.get(button.style, discord.ButtonStyle.secondary)
    action = button.action.strip()
    if button.opens_form or action == "answer":
        return AnswerButton(button.label, style)
    if m := _ROUND_ACTION.fullmatch(action):
        kind = HintButton if m[1] == "hint" else RevealButton
        return kind(button.label, style, m[2])
    if not action or len(COMMAND_PREFIX + action) > MAX_CUSTOM_ID:
        return None
    return CommandButton(action, button.label, style)


def view_for(reply: Reply) -> discord.ui.View | None:
    """The reply's buttons as a view (None without buttons); nothing is kept per message."""
    items = [item for item in map(item_for, reply.buttons) if item is not None][:MAX_BUTTONS]
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


class AnswerModal(discord.ui.Modal):
    """The hidden-answer form; its submission is handled by custom id, so it carries no state."""

    def __init__(self, channel_id: int, title: str, label: str) -> None:
        super().__init__(title=title[:MAX_MODAL_TITLE] or "Answer", custom_id=f"{ANSWER_MODAL_PREFIX}{channel_id}",
                         timeout=None)
        self.answer: discord.ui.Label[AnswerModal] = discord.ui.Label(
            text=label[:MAX_LABEL] or "Answer",
            component=discord.ui.TextInput(custom_id=ANSWER_INPUT_ID, style=discord.TextStyle.paragraph,
                                           max_length=MAX_ANSWER, required=True),
        )
        self.add_item(self.answer)


def modal_channel(custom_id: str) -> int | None:
    """The channel id in an answer modal's custom id, or None if it is not one."""
    if not custom_id.startswith(ANSWER_MODAL_PREFIX):
        return None
    rest = custom_id[len(ANSWER_MODAL_PREFIX):]
    return int(rest) if rest.isdigit() else None


def _walk(components: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(components, list):
        return
    for component in components:
        if not isinstance(component, Mapping):
            continue
        yield component
        yield from _walk(component.get("components"))
        if isinstance(component.get("component"), Mapping):
            yield from _walk([component["component"]])


def submitted_text(data: Mapping[str, Any] | None) -> str:
    """The answer typed into the modal (labels and legacy action rows both work)."""
    for component in _walk((data or {}).get("components")):
        if component.get("custom_id") == ANSWER_INPUT_ID:
            return str(component.get("value") or "")
    return ""
