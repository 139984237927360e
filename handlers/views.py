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
from bot.i18n import format_duration, t
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


def notice(event: Notice) -> Reply:
    return Reply(title=None, blocks=(Block(None, (t(event.key, event.lang, **_fmt_params(event.params, event.lang)),)),),
                 lang=event.lang, kind="error" if event.error else "info", ephemeral=event.error)


def _fmt_params(params: dict[str, Any], lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        out[key] = format_when(value, lang) if isinstance(value, datetime) else value
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
        lang=lang, kind="question", deadline=event.deadline,
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
        blocks.append(Block(None, (fb.summary,)))
        if fb.covered:
            blocks.append(Block(t("drill.covered", lang), tuple(f"✓ {x}" for x in fb.covered)))
        if fb.partial:
            blocks.append(Block(t("drill.partial", lang), tuple(f"~ {x}" for x in fb.partial)))
        if fb.contradicted:
            blocks.append(Block(t("drill.contradicted", lang), tuple(f"✗ {x}" for x in fb.contradicted)))
        if fb.missed:
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
    return Reply(title=title, blocks=tuple(blocks), buttons=buttons, lang=lang, kind="feedback",
                 tags={"qid": q.id, "item": str(event.item_id)})


def drill_report(report: DrillReport) -> Reply:
    lang = report.lang
    lines: list[str] = []
    for line in report.lines:
        state = ""
        if line.state in ("skipped", "unanswered", "pending"):
            state = " · " + t(f"state.{line.state}", lang)
        elif line.late:
            state = " · " + t("state.late", lang)
        score: str
        if line.score is not None:
            score = str(line.score)
        elif line.self_rating:
            score = line.self_rating
        else:
            score = "—"
        probes = t("report.probes", lang, count=line.probes) if line.probes else ""
        time = format_duration(line.seconds, lang) if line.seconds is not None else "—"
        lines.append(t("report.line", lang, qid=line.qid, score=score, time=time, probes=probes, state=state))
        if line.missed:
            names = _kp_names(line.question, line.missed, lang)
            lines.append(f"   {t('drill.missed', lang)}: {', '.join(names)}")
    blocks = [Block(None, (t("report.overall", lang, score=report.overall, answered=report.answered,
                                total=len(report.lines)),)), Block(None, tuple(lines))]
    if report.by_tag:
        tag_lines = [f"{tag}: {score}" for tag, score in report.by_tag]
        if report.strongest:
            tag_lines.append(t("report.strongest", lang, tags=", ".join(report.strongest)))
        if report.weakest:
            tag_lines.append(t("report.weakest", lang, tags=", ".join(report.weakest)))
        blocks.append(Block(t("report.by_tag", lang), tuple(tag_lines)))
    if report.reviews:
        blocks.append(Block(t("report.reviews", lang), tuple(
            t("report.review_line", lang, qid=qid, when=format_when(due, lang)) for qid, due in report.reviews)))
    buttons: tuple[Button, ...] = ()
    if report.with_answers:
        for line in report.lines:
            blocks.append(Block(f"{line.qid} · {t('drill.reference', lang)}", (line.question.answer.get(lang),)))
    else:
        blocks.append(Block(None, (t("report.answers_hint", lang),)))
        buttons = (Button("Reference answers" if lang == "en" else "参考答案", f"report {report.drill_id} --answers"),)
    title = t("report.title", lang, drill=report.drill_id)
    return Reply(title=title, blocks=tuple(blocks), buttons=buttons, lang=lang, kind="report")


def drill_status(status: DrillStatus) -> Reply:
    text = t("drill.status", status.lang, drill=status.drill_id, position=status.position, total=status.total,
             qid=status.qid, left=format_duration(status.seconds_left, status.lang))
    return Reply(blocks=(Block(None, (text,)),), lang=status.lang, kind="drill", ephemeral=True)


def _kp_names(question: Question, ids: tuple[str, ...], lang: str) -> list[str]:
    names = {kp.id: kp.text.get(lang) for kp in question.key_points}
    return [names.get(i, i) for i in ids]


def user_text(text: str) -> UserText:
    return UserText(text)


def field(name: str, value: str) -> Field:
    return Field(name, value)


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
