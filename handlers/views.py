"""Turn engine events into neutral Replies in the reader's language.

This is the one place that decides what people read; adapters only render the
Reply structure (embed, Block Kit, terminal text).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.engine.drills import DrillFeedback, DrillQuestion, DrillReport, DrillStatus
from bot.engine.events import Notice
from bot.grading import feedback
from bot.i18n import format_duration, t, tag_name
from bot.platforms.base import Block, Button, Field, Reply, UserText
from question_bank.schema import Question

Renderer = Callable[[Any], Reply]


def render(event: object, lang: str | None = None) -> Reply:
    """The Reply for any engine event."""
    for kind, fn in _RENDERERS.items():
        if isinstance(event, kind):
            return fn(event)
    if isinstance(event, Reply):
        return event
    raise TypeError(f"no view for {type(event).__name__}")


def _tags(tags: tuple[str, ...], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(tag_name(tag, lang) for tag in tags)


def notice(event: Notice) -> Reply:
    return Reply(
        title=None,
        blocks=(Block(None, (t(event.key, event.lang, **_fmt_params(event.params, event.lang)),)),),
        lang=event.lang,
        kind="error" if event.error else "info",
        ephemeral=event.error,
    )


def _fmt_params(params: dict[str, Any], lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, datetime):
            out[key] = format_when(value, lang)
        elif key == "left" and isinstance(value, int | float):
            out[key] = format_duration(value, lang)
        elif key == "suggest":
            out[key] = t("error.did_you_mean", lang, ids=", ".join(value)) if value else ""
        else:
            out[key] = value
    return out


def format_when(when: datetime, lang: str) -> str:
    """A UTC timestamp people can read in any zone."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def question_title(question: Question, lang: str) -> str:
    return question.text.get(lang)


def drill_question(event: DrillQuestion) -> Reply:
    lang = event.lang
    q = event.question
    if event.probe_text is not None:
        title = t("drill.probe_title", lang, qid=q.parent or q.id)
        body = event.probe_text
    else:
        title = t("drill.question_title", lang, index=event.index, total=event.total, qid=q.id)
        body = q.text.get(lang)
    minutes = f"{event.minutes:g}"
    return Reply(
        title=title,
        blocks=(Block(None, (body,)), Block(None, (t("drill.how_to_answer", lang, minutes=minutes),))),
        buttons=(
            Button("Submit" if lang == "en" else "提交", "done", "primary"),
            Button("Skip" if lang == "en" else "跳过", "skip"),
        ),
        lang=lang,
        kind="question",
        deadline=event.deadline,
        tags={"qid": q.id, "item": str(event.item_id), "drill": str(event.drill_id)},
    )


def drill_feedback(event: DrillFeedback) -> Reply:
    lang = event.lang
    q = event.question
    blocks: list[Block] = []
    title = q.id
    if event.grade is not None:
        fb = feedback(event.grade, q, lang)
        title = t("drill.score", lang, score=event.grade.score) + (" " + t("drill.late", lang) if event.late else "")
        blocks.append(Block(None, (fb.coverage,)))  # the title gives the score
        if fb.covered:
            blocks.append(Block(t("drill.covered", lang), tuple(f"✓ {x}" for x in fb.covered)))
        if fb.partial:
            blocks.append(Block(t("drill.partial", lang), tuple(f"~ {x}" for x in fb.partial)))
        if fb.contradicted:
            blocks.append(Block(t("drill.contradicted", lang), tuple(f"✗ {x}" for x in fb.contradicted)))
        if fb.missed and event.follow_up_next:
            count = len(fb.missed)
            blocks.append(Block(None, (t("drill.missed_withheld", lang, count=count, s="" if count == 1 else "s"),)))
        elif fb.missed:
            blocks.append(Block(t("drill.missed", lang), tuple(f"· {x}" for x in fb.missed)))
        if fb.flags:
            blocks.append(Block(None, tuple(fb.flags)))
    else:
        if event.late:
            blocks.append(Block(None, (t("drill.late", lang),)))
        blocks.append(Block(t("drill.reference", lang), (q.answer.get(lang),)))
        if event.needs_rating:
            blocks.append(Block(None, (t("drill.self_rate", lang),)))
    buttons: tuple[Button, ...] = ()
    if event.needs_rating:
        buttons = tuple(Button(r, f"rate {r}") for r in ("again", "hard", "good", "easy"))
    return Reply(
        title=title,
        blocks=tuple(blocks),
        buttons=buttons,
        lang=lang,
        kind="feedback",
        tags={"qid": q.id, "item": str(event.item_id)},
    )


def drill_report(report: DrillReport) -> Reply:
    lang = report.lang
    lines: list[str] = []
    for line in report.lines:
        state = ""
        if line.state in ("skipped", "unanswered", "pending"):
            state = " · " + t(f"state.{line.state}", lang)
        elif line.state == "answered" and line.score is None and not line.self_rating:
            state = " · " + t("state.unrated", lang)  # a self-graded drill that ended before the rating
        elif line.late:
            state = " · " + t("state.late", lang)
        probes = t("report.probes", lang, count=line.probes) if line.probes else ""
        time = format_duration(line.seconds, lang) if line.seconds is not None else "—"
        if line.self_rating and line.score is None:
            rating = t(f"rating.{line.self_rating}", lang)
            fields = {"qid": line.qid, "time": time, "probes": probes, "state": state}
            lines.append(t("report.line_rated", lang, rating=rating, **fields))
        else:
            score = str(line.score) if line.score is not None else "—"
            lines.append(t("report.line", lang, qid=line.qid, score=score, time=time, probes=probes, state=state))
        if line.missed:
            lines.append(f"   {t('drill.missed', lang)}{'：' if lang == 'zh' else ':'}")
            lines.extend(f"   · {name}" for name in _kp_names(line.question, line.missed, lang))
    counts = {"answered": report.answered, "total": len(report.lines)}
    if report.overall is not None:
        overall = t("report.overall", lang, score=report.overall, **counts)
    else:  # self-rated: the ratings are on the lines, there is no score to average
        overall = t("report.overall_unscored", lang, **counts)
    head: tuple[str, ...] = (overall,)
    if report.planned > len(report.lines):  # stopped or expired before the end
        head += (t("report.ended_early", lang, asked=len(report.lines), planned=report.planned),)
    blocks = [
        Block(None, head),
        Block(None, tuple(lines)),
    ]
    if report.by_tag:
        sep = "：" if lang == "zh" else ": "
        tag_lines = [f"{tag_name(tag, lang)}{sep}{score}" for tag, score in report.by_tag]
        if report.strongest:
            tag_lines.append(t("report.strongest", lang, tags=_tags(report.strongest, lang)))
        if report.weakest:
            tag_lines.append(t("report.weakest", lang, tags=_tags(report.weakest, lang)))
        blocks.append(Block(t("report.by_tag", lang), tuple(tag_lines)))
    if report.reviews:
        blocks.append(
            Block(
                t("report.reviews", lang),
                tuple(
                    t("report.review_line", lang, qid=qid, when=format_when(due, lang)) for qid, due in report.reviews
                ),
            )
        )
    buttons: tuple[Button, ...] = ()
    if report.with_answers:
        for line in report.lines:
            blocks.append(Block(f"{line.qid} · {t('drill.reference', lang)}", (line.question.answer.get(lang),)))
    else:  # a button in chat; the terminal prints the command to type instead (console.render)
        buttons = (Button("Reference answers" if lang == "en" else "参考答案", f"report {report.number} --answers"),)
    title = t("report.title", lang, drill=report.number)
    return Reply(title=title, blocks=tuple(blocks), buttons=buttons, lang=lang, kind="report")


def drill_status(status: DrillStatus) -> Reply:
    text = t(
        "drill.status_rating" if status.awaiting_rating else "drill.status",
        status.lang,
        drill=status.number,
        position=status.position,
        total=status.total,
        qid=status.qid,
        left=format_duration(status.seconds_left, status.lang),
    )
    return Reply(blocks=(Block(None, (text,)),), lang=status.lang, kind="drill", ephemeral=True)


def _kp_names(question: Question, ids: tuple[str, ...], lang: str) -> list[str]:
    names = {kp.id: kp.text.get(lang) for kp in question.key_points}
    return [names.get(i, i) for i in ids]




_RENDERERS: dict[type, Renderer] = {
    Notice: notice,
    DrillQuestion: drill_question,
    DrillFeedback: drill_feedback,
    DrillReport: drill_report,
    DrillStatus: drill_status,
}


def register_view(kind: type, fn: Renderer) -> None:
    """Let a feature module add the view for its own events."""
    _RENDERERS[kind] = fn


# -- rounds -----------------------------------------------------------------------------------------

from bot.engine.rounds import (  # noqa: E402
    AnswerRecorded,
    HintShown,
    Leaderboard,
    PracticeGraded,
    RoundOpen,
    RoundQuestion,
    RoundQuestionClosed,
    RoundReminder,
    RoundReveal,
    Stats,
)
from bot.storage.store import ConversationRow  # noqa: E402


def round_question(event: RoundQuestion) -> Reply:
    lang = event.lang
    q = event.question
    title = t("round.question_title", lang, qid=q.id)
    lines: list[str] = []
    if event.new_cycle:
        lines.append(t("round.new_cycle", lang))
    if event.parent_question:
        title = t("round.follow_up_of", lang, qid=event.parent_question) + f" · {q.id}"
    lines.append(q.text.get(lang))
    section = q.section.title.get(lang)
    fields = (
        Field("ID", q.id),
        Field("章节" if lang == "zh" else "Section", f"{q.section.number} · {section}"),
        Field("难度" if lang == "zh" else "Difficulty", "★" * q.difficulty),
    )
    buttons = (
        Button(
            "回答" if lang == "zh" else "Answer",
            "answer",
            "primary",
            opens_form=True,
            form_title=(f"回答 {q.id}" if lang == "zh" else f"Answer {q.id}"),
            form_label=("你的回答" if lang == "zh" else "Your answer"),
        ),
        # the round id keeps an old question's buttons from acting on a newer round in the channel
        Button("提示" if lang == "zh" else "Hint", f"hint --round {event.round_id}"),
        Button("揭晓" if lang == "zh" else "Reveal", f"reveal --round {event.round_id}", "danger"),
    )
    how_to = t("round.how_to_answer", lang, minutes=f"{event.minutes:g}")
    # a platform that does not take thread replies as answers shows the form-only wording instead
    form_only = t("round.how_to_answer_form_only", lang, minutes=f"{event.minutes:g}")
    return Reply(
        title=title,
        blocks=(
            Block(None, tuple(lines)),
            Block(None, (how_to,)),
        ),
        fields=fields,
        buttons=buttons,
        lang=lang,
        kind="question",
        deadline=event.deadline,
        tags={"round": str(event.round_id), "qid": q.id, "how_to": how_to, "how_to_form_only": form_only},
    )


def round_question_closed(event: RoundQuestionClosed) -> Reply:
    """The question as it stays in the channel once its round is over: no buttons, and how it ended."""
    lang = event.lang
    q = event.question
    return Reply(
        title=t("round.question_title", lang, qid=q.id),
        blocks=(Block(None, (q.text.get(lang),)), Block(None, (t(f"round.closed_{event.state}", lang),))),
        lang=lang,
        kind="question_closed",
        tags={"round": str(event.round_id), "qid": q.id},
    )


def round_reminder(event: RoundReminder) -> Reply:
    text = t("round.reminder", event.lang, qid=event.question.id, left=format_duration(event.seconds_left, event.lang))
    return Reply(blocks=(Block(None, (text,)),), lang=event.lang, kind="reminder", tags={"round": str(event.round_id)})


def answer_recorded(event: AnswerRecorded) -> Reply:
    return Reply(
        blocks=(Block(None, (t("round.recorded", event.lang, version=event.version),)),),
        lang=event.lang,
        kind="info",
        ephemeral=True,
        deadline=event.deadline,
    )


def practice_graded(event: PracticeGraded) -> Reply:
    fb = feedback(event.grade, event.question, event.lang)
    blocks = [Block(None, (t("round.practice", event.lang, score=event.grade.score),)), Block(None, (fb.coverage,))]
    if fb.missed:
        blocks.append(Block(t("drill.missed", event.lang), tuple(f"· {x}" for x in fb.missed)))
    return Reply(blocks=tuple(blocks), lang=event.lang, kind="feedback", ephemeral=True)


def hint_shown(event: HintShown) -> Reply:
    return Reply(
        title=t("drill.hint", event.lang) + f" · {event.question.id}",
        blocks=(Block(None, (event.question.hint.get(event.lang),)),),
        lang=event.lang,
        ephemeral=True,
    )


def round_open(event: RoundOpen) -> Reply:
    text = t(
        "round.already_open", event.lang, qid=event.question.id, left=format_duration(event.seconds_left, event.lang)
    )
    return Reply(blocks=(Block(None, (text,)),), lang=event.lang, ephemeral=True)


def round_reveal(event: RoundReveal) -> Reply:
    lang = event.lang
    q = event.question
    if event.summary:
        best = f"{event.best.name} ({event.best.score})" if event.best else "—"
        text = t("round.summary", lang, qid=q.id, count=len(event.results), best=best)
        return Reply(
            blocks=(Block(None, (UserText(text),)),),
            lang=lang,
            kind="reveal",
            tags={"round": str(event.round_id), "summary": "1"},
        )
    title = t("round.skipped_title" if event.skipped else "round.reveal_title", lang, qid=q.id)
    blocks = [Block(q.text.get(lang), ()), Block(t("drill.reference", lang), (q.answer.get(lang),))]
    if not event.skipped:
        if not event.results:
            blocks.append(Block(t("round.scores", lang), (t("round.no_replies", lang),)))
        else:
            lines: list[str | UserText] = []
            names = {kp.id: kp.text.get(lang) for kp in q.key_points}
            for n, r in enumerate(event.results, start=1):
                who = t("round.anonymous", lang) + f" #{n}" if event.mode == "anonymous" else r.name
                lines.append(
                    UserText(
                        f"{who}: {r.score} ({r.points} pts)"
                        if lang == "en"
                        else f"{who}：{r.score} 分（积 {r.points}）"
                    )
                )
                if r.covered:
                    lines.append("   ✓ " + "; ".join(names.get(k, k) for k in r.covered))
                if r.missed:
                    lines.append("   · " + "; ".join(names.get(k, k) for k in r.missed))
                if event.mode in ("full", "anonymous"):
                    lines.append(UserText("   “" + r.text.strip().replace("\n", " ")[:600] + "”"))
            blocks.append(Block(t("round.scores", lang), tuple(lines)))
            extra: list[str | UserText] = []
            if event.best:
                extra.append(UserText(t("round.best", lang, name=_who(event, event.best), score=event.best.score)))
            if event.fastest:
                extra.append(
                    UserText(
                        t(
                            "round.fastest",
                            lang,
                            name=_who(event, event.fastest),
                            time=format_duration(event.fastest.seconds, lang),
                        )
                    )
                )
            blocks.append(Block(None, tuple(extra)))
        if event.top:
            blocks.append(Block(t("round.top", lang), tuple(UserText(_board_line(b, lang)) for b in event.top)))
    buttons: tuple[Button, ...] = ()
    if event.follow_up:
        blocks.append(Block(None, (t("round.follow_up_offer", lang, qid=event.follow_up),)))
        buttons = (Button(("追问 " if lang == "zh" else "Follow-up ") + event.follow_up, f"ask {event.follow_up}"),)
    return Reply(
        title=title,
        blocks=tuple(blocks),
        buttons=buttons,
        lang=lang,
        kind="reveal",
        tags={"round": str(event.round_id), "qid": q.id},
    )


def _who(event: RoundReveal, line: object) -> str:
    if event.mode == "anonymous":
        return t("round.anonymous", event.lang)
    return getattr(line, "name", "?")


def _board_line(line: object, lang: str) -> str:
    streak = getattr(line, "streak", 0)
    mark = f" 🔥{streak}" if streak >= 2 else ""
    return t(
        "board.line",
        lang,
        rank=getattr(line, "rank", 0),
        name=getattr(line, "name", "?"),
        points=getattr(line, "points", 0),
        rounds=getattr(line, "rounds", 0),
        s="" if getattr(line, "rounds", 0) == 1 else "s",
        streak=mark,
    )


def leaderboard(board: Leaderboard) -> Reply:
    lang = board.lang
    title = t("board.title", lang, period=t(f"period.{board.period}", lang), scope=t(f"scope.{board.scope}", lang))
    lines: tuple[str | UserText, ...] = tuple(UserText(_board_line(b, lang)) for b in board.lines) or (
        t("board.empty", lang),
    )
    you = (
        t("board.you", lang, rank=board.caller.rank, points=board.caller.points)
        if board.caller
        else t("board.you_none", lang)
    )
    return Reply(title=title, blocks=(Block(None, lines), Block(None, (you,))), lang=lang, kind="leaderboard")


def stats_view(stats: Stats) -> Reply:
    lang = stats.lang
    lines = [
        t(
            "stats.body",
            lang,
            rounds=stats.rounds,
            s="" if stats.rounds == 1 else "s",
            average=stats.average,
            current=stats.current_streak,
            longest=stats.longest_streak,
        )
    ]
    if stats.scheduled_longest or stats.scheduled_streak:
        lines.append(t("stats.scheduled", lang, current=stats.scheduled_streak, longest=stats.scheduled_longest))
    if stats.best_tags:
        lines.append(t("stats.best", lang, tags=_tags(stats.best_tags, lang)))
    if stats.weakest_tags:
        lines.append(t("stats.weakest", lang, tags=_tags(stats.weakest_tags, lang)))
    return Reply(
        title=UserText(t("stats.title", lang, name=stats.name, scope=t(f"scope.{stats.scope}", lang))).text,
        blocks=(Block(None, tuple(lines)),),
        lang=lang,
        kind="stats",
        ephemeral=True,
    )


def settings_view(conv: ConversationRow) -> Reply:
    lang = conv.lang
    on = {True: "on", False: "off"}
    fields = (
        Field("answer-minutes", f"{conv.answer_minutes:g}"),
        Field("reminders", on[conv.reminders]),
        Field("reveal-mode", conv.reveal_mode),
        Field("auto-follow-up", on[conv.auto_follow_up]),
        Field("timezone", conv.timezone),
        Field("lang", conv.lang),
    )
    return Reply(title=t("settings.title", lang), fields=fields, lang=lang, kind="settings")


_RENDERERS.update(
    {
        RoundQuestion: round_question,
        RoundQuestionClosed: round_question_closed,
        RoundReminder: round_reminder,
        AnswerRecorded: answer_recorded,
        PracticeGraded: practice_graded,
        HintShown: hint_shown,
        RoundOpen: round_open,
        RoundReveal: round_reveal,
        Leaderboard: leaderboard,
        Stats: stats_view,
        ConversationRow: settings_view,
    }
)


# -- schedules --------------------------------------------------------------------------------------

from zoneinfo import ZoneInfo  # noqa: E402

from bot.engine.schedules import ScheduleInfo  # noqa: E402


def _span(minutes: float) -> str:
    """90 -> '1h30m', 480 -> '8h', 30 -> '30m' (the form the command takes)."""
    hours, rest = divmod(round(minutes), 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")


def schedule_view(info: ScheduleInfo) -> Reply:
    """A channel's daily-question schedule: when, next time (local), scope, reveal, reminder, state."""
    lang = info.lang
    days = t(f"schedule.days_{info.days}", lang)
    when = t("schedule.when_value", lang, days=days, at=info.at, zone=info.timezone)
    if info.next_fire_at is not None:
        local = info.next_fire_at.astimezone(ZoneInfo(info.timezone))
        upcoming = f"{local:%Y-%m-%d %H:%M %Z} · {format_when(info.next_fire_at, lang)}"
    else:
        upcoming = t("schedule.next_none", lang)
    parts = [f"section {info.section}" if lang == "en" else f"第 {info.section} 部分"] if info.section else []
    if info.tag:
        parts.append(f"tag {info.tag}" if lang == "en" else f"标签 {info.tag}")
    if info.reveal_at:
        reveal = t("schedule.reveal_at_value", lang, at=info.reveal_at)
    else:
        reveal = t("schedule.reveal_after_value", lang, duration=_span(info.reveal_after_minutes or 0))
    remind = (
        t("schedule.remind_value", lang, duration=_span(info.remind_before_minutes))
        if info.remind_before_minutes
        else t("schedule.remind_default", lang)
    )
    fields = (
        Field(t("schedule.when", lang), when),
        Field(t("schedule.next", lang), upcoming),
        Field(t("schedule.scope", lang), ", ".join(parts) or t("schedule.scope_all", lang)),
        Field(t("schedule.rising", lang), t("schedule.rising_on" if info.rising else "schedule.rising_off", lang)),
        Field(t("schedule.reveal", lang), reveal),
        Field(t("schedule.remind", lang), remind),
        Field(t("schedule.state", lang), t(f"schedule.state_{info.state}", lang)),
    )
    blocks = (Block(None, (t(f"schedule.{info.change}", lang),)),) if info.change != "show" else ()
    return Reply(
        title=t("schedule.title", lang),
        blocks=blocks,
        fields=fields,
        lang=lang,
        kind="settings",
        ephemeral=info.change == "show",
    )


_RENDERERS[ScheduleInfo] = schedule_view
