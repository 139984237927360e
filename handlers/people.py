"""forget-me: a person deletes their own data, after confirming."""

from __future__ import annotations

from bot.engine.events import PRIVATE, Notice, Outgoing
from bot.platforms.base import Command
from bot.storage.store import PersonData
from handlers.context import Context
from handlers.parse import BadArguments


async def forget_me(ctx: Context, cmd: Command) -> list[Outgoing]:
    if not cmd.args:
        return [Outgoing(PRIVATE, Notice("forget.confirm", ctx.lang))]
    if cmd.args != ("confirm",):
        raise BadArguments("forget-me [confirm]")
    user = await ctx.app.store.find_user(cmd.user.platform, cmd.user.user_id)
    if user is None:
        return [Outgoing(PRIVATE, Notice("forget.nothing", ctx.lang))]
    counts = await PersonData(ctx.app.store).forget(user.id)
    ctx.app.drills.drop_state(user.id)  # the id may be given to the next new person
    return [Outgoing(PRIVATE, Notice("forget.done", ctx.lang, {"answers": counts.get("answers", 0)}))]
