"""ask, answer, hint, reveal, skip, cancel, leaderboard, stats, lang, settings."""

from __future__ import annotations

from bot.engine.events import CALLER, PRIVATE, Notice, NoticeError, Outgoing
from bot.engine.selection import ScopeError, parse_scope
from bot.platforms.base import Command, UserRef
from handlers.context import Context
from handlers.parse import BadArguments, as_minutes, parse


def scope_from(ctx: Context, section: str | None, tag: str | None) -> object:
    try:
        return parse_scope(ctx.app.bank, section, tag)
    except ScopeError as exc:
        key = "error.unknown_section" if exc.key == "section" else "error.unknown_tag"
        raise NoticeError(
            Notice(key, ctx.lang, {exc.key: exc.value, "valid": ", ".join(exc.valid)}, error=True)
        ) from None




def _channel_only(ctx: Context, cmd: Command) -> None:
    if cmd.where.is_dm:
        raise NoticeError(Notice("error.channel_only", ctx.lang, error=True))


async def ask(ctx: Context, cmd: Command) -> list[Outgoing]:
    _channel_only(ctx, cmd)
    p = parse(cmd.args, options={"section", "tag", "minutes"})
    target = p.positional[0] if p.positional else "random"
    minutes = as_minutes(p.options["minutes"]) if "minutes" in p.options else None
    scope = scope_from(ctx, p.options.get("section"), p.options.get("tag"))
    if target.lower() != "random" and ("section" in p.options or "tag" in p.options):
        raise BadArguments("--section and --tag go with random, not with a question id")
    qid = None if target.lower() == "random" else target
    outs = await ctx.app.rounds.ask(cmd.user, cmd.where, qid=qid, scope=scope, minutes=minutes)  # type: ignore[arg-type]
    await ctx.app.rounds.publish(outs)
    return [Outgoing(PRIVATE, Notice("round.asked", ctx.lang))]


async def answer(ctx: Context, cmd: Command) -> list[Outgoing]:
    _channel_only(ctx, cmd)
    text = cmd.text if cmd.text else " ".join(cmd.args)
    return await ctx.app.rounds.answer(
        cmd.user, cmd.where, text, event_id=cmd.event_id, visible=cmd.via == "message", thread=cmd.thread
    )


def _round_option(cmd: Command) -> int | None:
    """`--round N`, which a question's own buttons carry; typed commands act on the open round."""
    p = parse(cmd.args, options={"round"})
    if p.positional:
        raise BadArguments(f"unexpected {p.positional[0]}")
    value = p.options.get("round")
    if value is None:
        return None
    if not value.isdigit():
        raise BadArguments("--round takes a round number")
    return int(value)


async def hint(ctx: Context, cmd: Command) -> list[Outgoing]:
    _channel_only(ctx, cmd)
    return await ctx.app.rounds.hint(cmd.where, round_id=_round_option(cmd))


async def reveal(ctx: Context, cmd: Command) -> list[Outgoing]:
    _channel_only(ctx, cmd)
    return await ctx.app.rounds.reveal(cmd.user, cmd.where, is_admin=cmd.is_admin, round_id=_round_option(cmd))


async def skip_round(ctx: Context, cmd: Command) -> list[Outgoing]:
    _channel_only(ctx, cmd)
    return await ctx.app.rounds.skip(cmd.user, cmd.where, is_admin=cmd.is_admin)


async def cancel(ctx: Context, cmd: Command) -> list[Outgoing]:
    _channel_only(ctx, cmd)
    return await ctx.app.rounds.cancel(cmd.user, cmd.where, is_admin=cmd.is_admin)


async def leaderboard(ctx: Context, cmd: Command) -> list[Outgoing]:
    period, scope = "week", "channel"
    for word in cmd.args:
        if word in ("week", "month", "all"):
            period = word
        elif word in ("channel", "server", "workspace"):
            scope = "server" if word != "channel" else "channel"
        else:
            raise BadArguments(f"unknown word {word}")
    if cmd.where.is_dm and scope == "channel":
        scope = "server"
    board = await ctx.app.rounds.leaderboard(cmd.user, cmd.where, period, scope)
    return [Outgoing(CALLER, board)]


async def stats(ctx: Context, cmd: Command) -> list[Outgoing]:
    if len(cmd.args) > 1:
        raise BadArguments("too many arguments")
    target = cmd.user
    if cmd.args:
        target = UserRef(cmd.user.platform, _strip_mention(cmd.args[0]), cmd.args[0])
    result = await ctx.app.rounds.stats(cmd.where, target)
    schedules = getattr(ctx.app, "schedules", None)
    if schedules is not None and not cmd.where.is_dm:
        result = await schedules.with_streaks(result, cmd.where, target)
    return [Outgoing(PRIVATE, result)]


def _strip_mention(word: str) -> str:
    """'<@U123>' (Slack, Discord), '<@!123>' (Discord) or '@name' -> the id or name."""
    word = word.strip()
    if word.startswith("<@") and word.endswith(">"):
        word = word[2:-1].lstrip("!")
        return word.split("|", 1)[0]
    return word.lstrip("@")


async def lang(ctx: Context, cmd: Command) -> list[Outgoing]:
    if len(cmd.args) != 1 or cmd.args[0] not in ("zh", "en"):
        raise BadArguments("lang zh|en")
    new = cmd.args[0]
    if cmd.where.is_dm:
        user = await ctx.app.store.ensure_user(
            cmd.user.platform, cmd.user.user_id, cmd.user.display_name, ctx.app.clock.now()
        )
        await ctx.app.store.set_user_lang(user.id, new)
        ctx.app.drills.drop_state(user.id)  # the drill in progress follows: its copy in memory is stale
    else:
        await ctx.app.rounds.set_lang(cmd.where, new)
    return [Outgoing(CALLER, Notice("lang.set", new))]


async def settings(ctx: Context, cmd: Command) -> list[Outgoing]:
    _channel_only(ctx, cmd)
    if not cmd.args:
        conv = await ctx.app.rounds.conversation(cmd.where)
        return [Outgoing(PRIVATE, conv)]
    if len(cmd.args) != 2:
        raise BadArguments("settings KEY VALUE")
    conv = await ctx.app.rounds.update_settings(cmd.where, cmd.args[0], cmd.args[1], is_admin=cmd.is_admin)
    return [Outgoing(CALLER, conv)]
