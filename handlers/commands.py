"""The neutral command set: names, usage lines and descriptions in both languages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    usage: str
    zh: str
    en: str
    admin_only: bool = False


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "ask",
        "ask [ID|random] [--section S] [--tag T] [--minutes M]",
        "在频道里出一道题，限时作答",
        "post a timed question to the channel",
    ),
    CommandSpec(
        "answer",
        "answer TEXT",
        "回答当前的题（揭晓前对他人隐藏）",
        "answer the open question (hidden until the reveal)",
    ),
    CommandSpec("hint", "hint", "查看当前题目的提示（仅自己可见）", "see the open question's hint (only you)"),
    CommandSpec(
        "reveal", "reveal", "立即揭晓答案和得分（出题人或管理员）", "reveal the answer and scores now (asker or admins)"
    ),
    CommandSpec(
        "skip",
        "skip",
        "揭晓答案但不计分（出题人或管理员）；练习中跳过当前题",
        "reveal without scoring (asker or admins); in a drill, skip the question",
    ),
    CommandSpec(
        "cancel",
        "cancel",
        "关闭当前题，不揭晓（出题人或管理员）",
        "close the round without revealing (asker or admins)",
    ),
    CommandSpec("leaderboard", "leaderboard [week|month|all] [channel|server]", "排行榜", "show the leaderboard"),
    CommandSpec(
        "stats",
        "stats [USER]",
        "个人统计：作答数、平均分、强弱主题、连续天数",
        "stats: rounds, average, best and weakest topics, streaks",
    ),
    CommandSpec("lang", "lang zh|en", "切换语言（频道或私信）", "switch the language (channel or DM)"),
    CommandSpec(
        "settings",
        "settings [KEY VALUE]",
        "查看或修改频道设置：answer-minutes、reminders on|off、reveal-mode scores|full|anonymous、"
        "auto-follow-up on|off、timezone 时区",
        "show or change channel settings: answer-minutes, reminders on|off, "
        "reveal-mode scores|full|anonymous, auto-follow-up on|off, timezone ZONE",
        admin_only=True,
    ),
    CommandSpec(
        "drill",
        "drill [N] [--section S] [--tag T] [--minutes M] | drill stop | drill status",
        "一对一模拟面试（私信进行）",
        "a one-on-one mock interview (in DMs)",
    ),
    CommandSpec("done", "done", "提交练习中当前题的回答", "submit your drill answer"),
    CommandSpec("review", "review", "复习到期的题目", "a drill of the questions due for review"),
    CommandSpec("report", "report [DRILL] [--answers]", "查看练习成绩单", "show a drill's report card"),
    CommandSpec(
        "schedule",
        "schedule daily|weekdays HH:MM [TZ] [--section S] [--tag T] [--reveal-after 8h | "
        "--reveal-at HH:MM] [--remind-before 30m] [--rising] | schedule show|pause|resume|off",
        "每日一题（管理员）",
        "the daily question (admins)",
        admin_only=True,
    ),
    CommandSpec(
        "forget-me", "forget-me [confirm]", "删除你在本平台的全部数据", "delete all your data on this platform"
    ),
    CommandSpec("help", "help [COMMAND]", "命令说明", "this help"),
)

BY_NAME = {spec.name: spec for spec in COMMANDS}
NAMES = tuple(spec.name for spec in COMMANDS)
