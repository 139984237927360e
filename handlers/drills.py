"""drill, done, review, report, rate, and skip inside a drill."""

from __future__ import annotations

from bot.engine.drills import DrillOptions
from bot.engine.events import CALLER, PRIVATE, Notice, NoticeError, Outgoing, dm
from bot.i18n import format_duration
from bot.platforms.base import Command, RecipientUnreachableError
from handlers.context import Context
from handlers.parse import BadArguments, as_count, as_minutes, parse
from handlers.rounds import scope_from


async def drill(ctx: Context, cmd: Command) -> list[Outgoing]:
    if cmd.args and cmd.args[0] in ("stop", "status"):
        if len(cmd.args) > 1:
            raise BadArguments("drill stop | drill status")
        if cmd.args[0] == "stop":
            return await ctx.app.drills.stop(cmd.user)
        return [Outgoing(PRIVATE, await ctx.app.drills.status(cmd.user))]
    p = parse(cmd.args, options={"section", "tag", "minutes"})
    count = as_count(p.positional[0]) if p.positional else ctx.app.settings.drill_count
    minutes = as_minutes(p.options["minutes"]) if "minutes" in p.options else ctx.app.settings.drill_minutes
    scope = scope_from(ctx, p.options.get("section"), p.options.get("tag"))
    options = DrillOptions(count=count, scope=scope, minutes=minutes, lang=ctx.lang)  # type: ignore[arg-type]
    return await _start_reachable(ctx, cmd, await ctx.app.drills.start(cmd.user, cmd.where, options))


async def _start_reachable(ctx: Context, cmd: Command, started: list[Outgoing]) -> list[Outgoing]:
    """Send a new drill's first DM now; if the person cannot be reached there, withdraw the drill and say why."""
    to_dm = [o for o in started if o.target.kind == "dm"]
    try:
        await ctx.app.delivery.send(to_dm)
    except RecipientUnreachableError:
        await ctx.app.drills.withdraw(cmd.user)
        raise NoticeError(Notice("drill.dm_closed", ctx.lang, error=True)) from None
    return [o for o in started if o.target.kind != "dm"]


async def review(ctx: Context, cmd: Command) -> list[Outgoing]:
    p = parse(cmd.args, options={"minutes"})
    count = as_count(p.positional[0]) if p.positional else 10
    minutes = as_minutes(p.options["minutes"]) if "minutes" in p.options else ctx.app.settings.drill_minutes
    options = DrillOptions(count=count, minutes=minutes, lang=ctx.lang, review_only=True)
    user = await ctx.app.store.find_user(cmd.user.platform, cmd.user.user_id)
    due = await ctx.app.store.due_cards(user.id, ctx.app.clock.now()) if user else []
    started = await _start_reachable(ctx, cmd, await ctx.app.drills.start(cmd.user, cmd.where, options))
    if not due:
        return started
    now = ctx.app.clock.now()
    listing = ", ".join(
        f"{qid} ({format_duration((now - when).total_seconds(), ctx.lang)})" for qid, when, _score in due[:count]
    )
    return [Outgoing(dm(cmd.user), Notice("review.due", ctx.lang, {"count": len(due), "list": listing})), *started]


async def done(ctx: Context, cmd: Command) -> list[Outgoing]:
    return await ctx.app.drills.submit(cmd.user)


async def rate(ctx: Context, cmd: Command) -> list[Outgoing]:
    if len(cmd.args) != 1:
        raise BadArguments("rate again|hard|good|easy")
    return await ctx.app.drills.rate(cmd.user, cmd.args[0])


async def skip(ctx: Context, cmd: Command) -> list[Outgoing]:
    return await ctx.app.drills.skip(cmd.user)


async def report(ctx: Context, cmd: Command) -> list[Outgoing]:
    p = parse(cmd.args, switches={"answers"})
    number: int | None = None  # the person's own drill number (#3), as reports and `drill status` show it
    if p.positional:
        word = p.positional[0].lstrip("#")
        if not word.isdigit():
            raise BadArguments("report [DRILL] [--answers]")
        number = int(word)
    result = await ctx.app.drills.report(cmd.user, number, with_answers="answers" in p.switches)
    target = CALLER if cmd.where.is_dm else PRIVATE
    return [Outgoing(target, result)]


async def message(ctx: Context, cmd: Command) -> list[Outgoing]:
    """Free text in a DM: part of the drill answer."""
    return await ctx.app.drills.message(cmd.user, cmd.text, event_id=cmd.event_id)
