"""help [COMMAND]."""

from __future__ import annotations

from bot.engine.events import PRIVATE, Outgoing
from bot.platforms.base import Block, Command, Reply
from handlers.commands import BY_NAME, COMMANDS
from handlers.context import Context
from handlers.parse import BadArguments


async def help_command(ctx: Context, cmd: Command) -> list[Outgoing]:
    lang = ctx.lang
    if cmd.args:
        spec = BY_NAME.get(cmd.args[0].lower())
        if spec is None:
            raise BadArguments(f"no command {cmd.args[0]}; valid: {', '.join(BY_NAME)}")
        text = spec.zh if lang == "zh" else spec.en
        reply = Reply(title=spec.usage, blocks=(Block(None, (text,)),), lang=lang, kind="help", ephemeral=True)
        return [Outgoing(PRIVATE, reply)]
    lines = tuple(f"{spec.usage} — {spec.zh if lang == 'zh' else spec.en}" for spec in COMMANDS)
    title = "面试机器人命令" if lang == "zh" else "Interview bot commands"
    footer = (
        "得分 = 评分（0–100）+ 最多 10 分的早答奖励（按剩余时间和得分比例）。"
        if lang == "zh"
        else "Points = grade (0-100) + an early-reply bonus of up to 10, scaled by time left and score."
    )
    return [
        Outgoing(
            PRIVATE,
            Reply(title=title, blocks=(Block(None, lines),), lang=lang, kind="help", ephemeral=True, footer=footer),
        )
    ]
