"""The `/interview` slash command group: one subcommand per neutral command, options for its arguments.

Each callback turns its options into the command words the Router parses ('ask 1.4
--minutes 3') and hands them to the client's `Interactions`.  Question ids, sections and
tags autocomplete from the bank; enumerations are choices.  Registering the commands
with Discord is `interview-bot discord --sync`, not something every start does.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.app_commands import Choice, Range

from bot.platforms.discord.interactions import handler_of
from handlers.commands import BY_NAME, NAMES

MAX_DESCRIPTION = 100
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100


def _about(name: str) -> str:
    spec = BY_NAME.get(name)
    text = spec.en if spec else name
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def _option(name: str, value: object | None) -> list[str]:
    if value is None or value == "":
        return []
    return [f"--{name}", f"{value:g}" if isinstance(value, float) else str(value)]


async def _run(interaction: discord.Interaction, name: str, args: list[str] | None = None, *, text: str = "",
               public: bool = False) -> None:
    handler = handler_of(interaction)
    if handler is None:
        await interaction.response.send_message("The bot is starting; try again in a moment.", ephemeral=True)
        return
    await handler.run_command(interaction, name, args or [], text=text, public=public)


# -- autocomplete --------------------------------------------------------------------------------


async def question_choices(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """Question ids whose id or question text starts with (or contains) what was typed."""
    handler = handler_of(interaction)
    if handler is None:
        return []
    lang = "zh" if str(interaction.locale.value).startswith("zh") else "en"
    typed = current.strip().lower()
    found: list[Choice[str]] = []
    for question in handler.app.bank.main_questions():
        text = question.text.get(lang)
        if typed and not (question.id.startswith(typed) or typed in question.text.zh.lower()
                          or typed in question.text.en.lower()):
            continue
        label = f"{question.id} · {text}"
        found.append(Choice(name=label if len(label) <= MAX_CHOICE_NAME else label[: MAX_CHOICE_NAME - 1] + "…",
                            value=question.id))
        if len(found) == MAX_CHOICES:
            break
    return found


async def section_choices(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """The bank's sections, by number and title."""
    handler = handler_of(interaction)
    if handler is None:
        return []
    lang = "zh" if str(interaction.locale.value).startswith("zh") else "en"
    numbers = sorted({q.section.number for q in handler.app.bank.main_questions()})
    choices = []
    for number in numbers:
        title = handler.app.bank.sections[number].title.get(lang)
        label = f"{number} · {title}"[:MAX_CHOICE_NAME]
        if current.strip().lower() in label.lower():
            choices.append(Choice(name=label, value=str(number)))
    return choices[:MAX_CHOICES]


async def tag_choices(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """The bank's tags."""
    handler = handler_of(interaction)
    if handler is None:
        return []
    tags = sorted({t for q in handler.app.bank.main_questions() for t in q.tags})
    return [Choice(name=t, value=t) for t in tags if current.strip().lower() in t][:MAX_CHOICES]


# -- the group -----------------------------------------------------------------------------------

Period = Literal["week", "month", "all"]
Scope = Literal["channel", "server"]
Lang = Literal["zh", "en"]
SettingKey = Literal["answer-minutes", "reminders", "reveal-mode", "auto-follow-up", "timezone"]
DrillAction = Literal["stop", "status"]
ScheduleAction = Literal["daily", "weekdays", "show", "pause", "resume", "off"]
Minutes = Range[float, 0.5, 1440.0]
Count = Range[int, 1, 30]


class InterviewGroup(app_commands.Group):
    """`/interview …`: every neutral command."""

    def __init__(self, *, schedule: bool = True) -> None:
        super().__init__(name="interview", description="Mock Transformer interviews: questions, drills, leaderboards")
        if not schedule:
            self.remove_command("schedule")

    @app_commands.command(name="ask", description=_about("ask"))
    @app_commands.rename(question="id")
    @app_commands.describe(question="question id (type to search), or leave empty for a random one",
                           section="random question from this section", tag="random question with this tag",
                           minutes="minutes to answer")
    @app_commands.autocomplete(question=question_choices, section=section_choices, tag=tag_choices)
    async def ask(self, interaction: discord.Interaction, question: str | None = None, section: str | None = None,
                  tag: str | None = None, minutes: Minutes | None = None) -> None:
        """Post a timed question."""
        args = [question or "random", *_option("section", section), *_option("tag", tag),
                *_option("minutes", minutes)]
        await _run(interaction, "ask", args)

    @app_commands.command(name="answer", description=_about("answer"))
    @app_commands.describe(text="your answer; leave empty to write it in a form")
    async def answer(self, interaction: discord.Interaction, text: str | None = None) -> None:
        """Answer the open question (hidden until the reveal)."""
        handler = handler_of(interaction)
        if handler is not None and not (text or "").strip():
            await handler.open_answer_form(interaction)
            return
        await _run(interaction, "answer", text=text or "")

    @app_commands.command(name="hint", description=_about("hint"))
    async def hint(self, interaction: discord.Interaction) -> None:
        """The open question's hint."""
        await _run(interaction, "hint")

    @app_commands.command(name="reveal", description=_about("reveal"))
    async def reveal(self, interaction: discord.Interaction) -> None:
        """Reveal now."""
        await _run(interaction, "reveal")

    @app_commands.command(name="skip", description=_about("skip"))
    async def skip(self, interaction: discord.Interaction) -> None:
        """Reveal without scoring, or skip a drill question."""
        await _run(interaction, "skip")

    @app_commands.command(name="cancel", description=_about("cancel"))
    async def cancel(self, interaction: discord.Interaction) -> None:
        """Close the round without revealing."""
        await _run(interaction, "cancel")

    @app_commands.command(name="leaderboard", description=_about("leaderboard"))
    @app_commands.describe(period="week (default), month or all time", scope="this channel (default) or the server")
    async def leaderboard(self, interaction: discord.Interaction, period: Period = "week",
                          scope: Scope = "channel") -> None:
        """The leaderboard."""
        await _run(interaction, "leaderboard", [period, scope], public=True)

    @app_commands.command(name="stats", description=_about("stats"))
    @app_commands.describe(user="whose stats (default: yours)")
    async def stats(self, interaction: discord.Interaction, user: discord.User | None = None) -> None:
        """Personal stats."""
        await _run(interaction, "stats", [str(user.id)] if user else [])

    @app_commands.command(name="lang", description=_about("lang"))
    @app_commands.describe(language="zh (中文) or en (English)")
    async def lang(self, interaction: discord.Interaction, language: Lang) -> None:
        """Switch the language of the channel or the DM."""
        await _run(interaction, "lang", [language], public=True)

    @app_commands.command(name="settings", description=_about("settings"))
    @app_commands.describe(key="the setting to change (leave empty to show them all)", value="its new value")
    async def settings(self, interaction: discord.Interaction, key: SettingKey | None = None,
                       value: str | None = None) -> None:
        """Show or change the channel's settings."""
        args = [a for a in (key, value) if a]
        await _run(interaction, "settings", args, public=bool(args))

    @app_commands.command(name="drill", description=_about("drill"))
    @app_commands.describe(count="number of questions", section="only this section", tag="only this tag",
                           minutes="minutes per question", action="stop or show your unfinished drill")
    @app_commands.autocomplete(section=section_choices, tag=tag_choices)
    async def drill(self, interaction: discord.Interaction, count: Count | None = None, section: str | None = None,
                    tag: str | None = None, minutes: Minutes | None = None, action: DrillAction | None = None) -> None:
        """A one-on-one mock interview in DMs."""
        if action:
            await _run(interaction, "drill", [action])
            return
        args = [*([str(count)] if count else []), *_option("section", section), *_option("tag", tag),
                *_option("minutes", minutes)]
        await _run(interaction, "drill", args)

    @app_commands.command(name="review", description=_about("review"))
    @app_commands.describe(count="number of questions", minutes="minutes per question")
    async def review(self, interaction: discord.Interaction, count: Count | None = None,
                     minutes: Minutes | None = None) -> None:
        """A drill of the questions due for review."""
        await _run(interaction, "review", [*([str(count)] if count else []), *_option("minutes", minutes)])

    @app_commands.command(name="report", description=_about("report"))
    @app_commands.rename(drill_id="drill")
    @app_commands.describe(drill_id="your drill number, as its report shows it (default: the latest)",
                           answers="include the reference answers")
    async def report(self, interaction: discord.Interaction, drill_id: Range[int, 1] | None = None,
                     answers: bool = False) -> None:
        """A drill's report card."""
        await _run(interaction, "report", [*([str(drill_id)] if drill_id else []), *(["--answers"] if answers else [])])

    @app_commands.command(name="schedule", description=_about("schedule"))
    @app_commands.describe(action="daily, weekdays, or show/pause/resume/off", at="HH:MM (daily and weekdays)",
                           timezone="IANA zone, e.g. Asia/Shanghai", section="only this section",
                           tag="only this tag", reveal_after="e.g. 8h", reveal_at="HH:MM",
                           remind_before="e.g. 30m", rising="questions get harder through the week")
    @app_commands.autocomplete(section=section_choices, tag=tag_choices)
    async def schedule(self, interaction: discord.Interaction, action: ScheduleAction, at: str | None = None,
                       timezone: str | None = None, section: str | None = None, tag: str | None = None,
                       reveal_after: str | None = None, reveal_at: str | None = None,
                       remind_before: str | None = None, rising: bool = False) -> None:
        """The channel's daily question (admins)."""
        args = [action, *([at] if at else []), *([timezone] if timezone else []), *_option("section", section),
                *_option("tag", tag), *_option("reveal-after", reveal_after), *_option("reveal-at", reveal_at),
                *_option("remind-before", remind_before), *(["--rising"] if rising else [])]
        await _run(interaction, "schedule", args, public=action != "show")

    @app_commands.command(name="help", description=_about("help"))
    @app_commands.describe(command="one command's usage")
    @app_commands.choices(command=[Choice(name=n, value=n) for n in NAMES if n != "done"][:MAX_CHOICES])
    async def help(self, interaction: discord.Interaction, command: str | None = None) -> None:
        """The commands."""
        await _run(interaction, "help", [command] if command else [])

    @app_commands.command(name="forget-me", description=_about("forget-me"))
    @app_commands.describe(confirm="yes: delete everything the bot stores about you on Discord")
    async def forget_me(self, interaction: discord.Interaction, confirm: bool = False) -> None:
        """Delete your data."""
        await _run(interaction, "forget-me", ["confirm"] if confirm else [])


def register(tree: app_commands.CommandTree[discord.Client], *, schedule: bool = True) -> InterviewGroup:
    """Add `/interview` to a command tree (explicit, in one place)."""
    group = InterviewGroup(schedule=schedule)
    tree.add_command(group)
    return group
