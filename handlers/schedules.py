"""schedule daily|weekdays HH:MM [TZ] [options] | schedule show|pause|resume|off (admins only)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.engine.calendar import parse_hhmm
from bot.engine.events import CALLER, PRIVATE, Notice, NoticeError, Outgoing
from bot.engine.schedules import ScheduleSpec
from bot.engine.selection import Scope
from bot.i18n import t
from bot.platforms.base import Command
from handlers.context import Context
from handlers.parse import BadArguments, parse
from handlers.rounds import scope_from

_DURATION = re.compile(r"^(?:(\d{1,3})h)?(?:(\d{1,4})m(?:in)?)?$")
MAX_REVEAL = timedelta(hours=23)
MIN_SPAN = timedelta(minutes=1)
ACTIONS = ("show", "pause", "resume", "off")
KINDS = ("daily", "weekdays")


async def schedule(ctx: Context, cmd: Command) -> list[Outgoing]:
    """Set, show, pause, resume or remove the channel's daily question."""
    if cmd.where.is_dm:
        raise NoticeError(Notice("error.channel_only", ctx.lang, error=True))
    if not cmd.is_admin:
        raise NoticeError(Notice("schedule.not_allowed", ctx.lang, error=True))
    if not cmd.args:
        raise BadArguments("daily, weekdays, show, pause, resume or off")
    action = cmd.args[0].lower()
    service = ctx.app.schedules
    if action in ACTIONS:
        if len(cmd.args) > 1:
            raise BadArguments(f"schedule {action} takes no arguments")
        if action == "off":
            return [Outgoing(CALLER, await service.off(cmd.where, is_admin=cmd.is_admin))]
        if action == "show":
            return [Outgoing(PRIVATE, await service.show(cmd.where, is_admin=cmd.is_admin))]
        change = service.pause if action == "pause" else service.resume
        return [Outgoing(CALLER, await change(cmd.where, is_admin=cmd.is_admin))]
    if action not in KINDS:
        raise BadArguments(f"unknown word {cmd.args[0]}")
    spec = spec_from(ctx, action, cmd.args[1:])
    return [Outgoing(CALLER, await service.set(cmd.user, cmd.where, spec, is_admin=cmd.is_admin))]


def spec_from(ctx: Context, days: str, args: tuple[str, ...]) -> ScheduleSpec:
    """Parse 'HH:MM [TZ] [--section S] [--tag T] [--reveal-after D | --reveal-at HH:MM] [--remind-before D]'."""
    p = parse(
        args,
        options={"section", "tag", "reveal-after", "reveal-at", "remind-before"},
        switches={"rising"},
        max_positional=2,
    )
    if not p.positional:
        raise NoticeError(Notice("schedule.bad_time", ctx.lang, {"value": ""}, error=True))
    at = _time(ctx, p.positional[0])
    zone = p.positional[1] if len(p.positional) > 1 else None
    if zone is not None:
        _check_zone(ctx, zone)
    scope = scope_from(ctx, p.options.get("section"), p.options.get("tag"))
    assert isinstance(scope, Scope)
    if "reveal-after" in p.options and "reveal-at" in p.options:
        raise NoticeError(Notice("schedule.reveal_choice", ctx.lang, error=True))
    reveal_after = reveal_at = None
    if "reveal-after" in p.options:
        reveal_after = _duration(ctx, "reveal-after", p.options["reveal-after"], "schedule.limits_reveal")
        if not MIN_SPAN <= reveal_after <= MAX_REVEAL:
            raise _bad_duration(ctx, "reveal-after", p.options["reveal-after"], "schedule.limits_reveal")
    if "reveal-at" in p.options:
        reveal_at = _time(ctx, p.options["reveal-at"])
    remind_before = None
    if "remind-before" in p.options:
        text = p.options["remind-before"]
        remind_before = _duration(ctx, "remind-before", text, "schedule.limits_remind")
        window = reveal_after or (timedelta(hours=8) if reveal_at is None else MAX_REVEAL)
        if not MIN_SPAN <= remind_before < window:
            raise _bad_duration(ctx, "remind-before", text, "schedule.limits_remind")
    return ScheduleSpec(
        days, at, zone, scope.section, scope.tag, "rising" in p.switches, reveal_after, reveal_at, remind_before
    )


def parse_duration(text: str) -> timedelta | None:
    """'90m', '8h', '1h30m' (also '45min') -> a timedelta; anything else -> None."""
    match = _DURATION.match(text.strip().lower())
    if match is None or not (match.group(1) or match.group(2)):
        return None
    return timedelta(hours=int(match.group(1) or 0), minutes=int(match.group(2) or 0))


def _time(ctx: Context, text: str) -> time:
    at = parse_hhmm(text)
    if at is None:
        raise NoticeError(Notice("schedule.bad_time", ctx.lang, {"value": text}, error=True))
    return at


def _check_zone(ctx: Context, name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise NoticeError(Notice("schedule.bad_zone", ctx.lang, {"zone": name}, error=True)) from None


def _duration(ctx: Context, option: str, text: str, limits: str) -> timedelta:
    value = parse_duration(text)
    if value is None:
        raise _bad_duration(ctx, option, text, limits)
    return value


def _bad_duration(ctx: Context, option: str, text: str, limits: str) -> NoticeError:
    return NoticeError(
        Notice(
            "schedule.bad_duration",
            ctx.lang,
            {"option": option, "value": text, "limits": t(limits, ctx.lang)},
            error=True,
        )
    )
