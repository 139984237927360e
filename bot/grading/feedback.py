"""Feedback for people: what was covered, missed and contradicted, in Chinese or English."""

from __future__ import annotations

from dataclasses import dataclass

from bot.grading.grader import Grade
from question_bank.schema import Question

_FLAG_MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("回答为空。", "The reply is empty."),
    "too_long": ("回答过长，只评估了开头部分。", "The reply is too long; only its beginning was graded."),
    "too_short": ("回答过短，请展开说明理由。", "The reply is very short; explain your reasoning."),
    "copied_question": (
        "回答大部分是在复述题目，复述的部分不计分。",
        "The reply mostly repeats the question; repeated text earns nothing.",
    ),
    "repetitive": ("重复的句子只计算一次。", "Repeated sentences were counted once."),
    "keyword_list": (
        "回答像是关键词罗列，请用完整的句子解释。",
        "The reply reads like a list of keywords; explain them in full sentences.",
    ),
    "off_topic": ("回答似乎针对的是另一道题。", "The reply seems to answer a different question."),
    "misconception": (
        "回答里有一句像是常见的错误说法，请对照要点再检查一下。",
        "One sentence reads like a common misconception; check it against the key points.",
    ),
}
# with the key point known: the point to check the sentence against
_MISCONCEPTION_POINT = (
    "可能的误区：回答里有一句像是常见的错误说法，请对照这个要点检查：{point}",
    "Possible misconception: one sentence reads like a common mistake; check it against this point: {point}",
)


@dataclass(frozen=True, slots=True)
class Feedback:
    """Key point texts by status, the hint when something was missed, a one-line summary, flag messages."""

    covered: tuple[str, ...]
    missed: tuple[str, ...]
    contradicted: tuple[str, ...]
    partial: tuple[str, ...]
    hint: str
    summary: str  # the score and the coverage, for places that show no score of their own
    flags: tuple[str, ...]
    coverage: str = ""  # the coverage alone, under a title that already gives the score


def flag_message(flag: str, lang: str) -> str:
    """A human-readable message for one grading flag."""
    zh, en = _FLAG_MESSAGES.get(flag, (flag, flag))
    return en if lang == "en" else zh


def _flag_messages(grade: Grade, texts: dict[str, str], lang: str) -> tuple[str, ...]:
    """The flags' messages; a misconception names the point to check when the grade knows it (a grade
    read back from storage keeps only the flag)."""
    out = []
    for flag in grade.flags:
        if flag == "misconception" and grade.misconceptions:
            template = _MISCONCEPTION_POINT[1 if lang == "en" else 0]
            out += [template.format(point=texts.get(k, k)) for k in grade.misconceptions]
        else:
            out.append(flag_message(flag, lang))
    return tuple(out)


def _coverage(grade: Grade, lang: str) -> str:
    """How many key points were covered, partly covered and contradicted, without the score."""
    n = len(grade.key_points)
    c, p, x = len(grade.covered), len(grade.partial), len(grade.contradicted)
    if lang == "en":
        text = f"{c} of {n} key point{'' if n == 1 else 's'} covered"
        if p:
            text += f", {p} partly"
        if x:
            text += f", {x} contradicted"
        return text + "."
    text = f"覆盖 {c}/{n} 个要点"
    if p:
        text += f"，{p} 个部分覆盖"
    if x:
        text += f"，{x} 个表述有误"
    return text + "。"


def _summary(grade: Grade, lang: str) -> str:
    if lang == "en":
        return f"Score {grade.score}/100: {_coverage(grade, lang)}"
    return f"得分 {grade.score}/100：{_coverage(grade, lang)}"


def feedback(grade: Grade, question: Question, lang: str) -> Feedback:
    """Turn a grade into feedback in `lang` ('zh' or 'en'; anything else means 'zh')."""
    lang = "en" if lang == "en" else "zh"
    texts = {kp.id: kp.text.get(lang) for kp in question.key_points}

    def pick(ids: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(texts.get(i, i) for i in ids)

    missed = pick(grade.missed)
    hint = question.hint.get(lang) if (missed or grade.partial or grade.contradicted) else ""
    return Feedback(
        covered=pick(grade.covered),
        missed=missed,
        contradicted=pick(grade.contradicted),
        partial=pick(grade.partial),
        hint=hint,
        summary=_summary(grade, lang),
        flags=_flag_messages(grade, texts, lang),
        coverage=_coverage(grade, lang),
    )
