"""`interview-bot bank list|show|validate`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from bot.i18n import t, tag_name
from question_bank.loader import DATA_DIR, load_bank
from question_bank.schema import Bank, KeyPoint, Question


def question_json(question: Question) -> dict[str, Any]:
    """Every field of an entry, as `bank list --json` prints it."""
    return {
        "id": question.id,
        "section": {"number": question.section.number, "title": _loc(question.section.title)},
        "source": question.source,
        "text": _loc(question.text),
        "answer": _loc(question.answer),
        "key_points": [_kp(kp) for kp in question.key_points],
        "hint": _loc(question.hint),
        "follow_ups": list(question.follow_ups),
        "related": list(question.related),
        "tags": list(question.tags),
        "difficulty": question.difficulty,
        "aliases": list(question.aliases),
        **({"parent": question.parent} if question.parent else {}),
    }


def _loc(value: Any) -> dict[str, str]:
    return {"zh": value.zh, "en": value.en}


def _kp(kp: KeyPoint) -> dict[str, Any]:
    return {
        "id": kp.id,
        "weight": kp.weight,
        "text": _loc(kp.text),
        "aliases": {"zh": list(kp.aliases_zh), "en": list(kp.aliases_en)},
        "wrong": {"zh": list(kp.wrong_zh), "en": list(kp.wrong_en)},
        "probe": _loc(kp.probe) if kp.probe else None,
    }


def _select(bank: Bank, section: int | None, tag: str | None) -> list[Question]:
    """Seed questions in a scope already checked by `bot.engine.selection.parse_scope` (the tag lower-cased)."""
    return [
        q
        for q in bank.main_questions()
        if (section is None or q.section.number == section) and (tag is None or tag in q.tags)
    ]


LANG_NAMES = {"zh": "中文", "en": "English"}  # each language named in itself: the heading of its part of a page


def _join(items: Iterable[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(items)


def show_text(question: Question, lang: str, bank: Bank, both_labels: str = "zh") -> str:
    """A readable page for one question in zh, en or both.

    Every label is in the chosen language (a page in both languages labels its shared lines in `both_labels`),
    so a Chinese page never says `difficulty` or `follow-ups`, and topics show by name (`前馈网络`), as in reports.
    """
    langs = ("zh", "en") if lang == "both" else (lang,)
    ui = both_labels if lang == "both" else lang
    lines = [
        t(
            "bank.header",
            ui,
            qid=question.id,
            section=" / ".join(getattr(question.section.title, code) for code in langs),
            difficulty=question.difficulty,
            tags=_join((tag_name(tag, ui) for tag in question.tags), ui),
        )
    ]
    if question.aliases:
        lines.append(t("bank.aliases", ui, ids=_join(question.aliases, ui)))
    for code in langs:
        lines += [
            "",
            f"== {LANG_NAMES[code]} ==",
            getattr(question.text, code),
            "",
            t("bank.hint", code, hint=getattr(question.hint, code)),
            "",
            t("bank.reference", code),
            getattr(question.answer, code),
            "",
            t("bank.key_points", code),
        ]
        for kp in question.key_points:
            lines.append(f"  [{kp.id} ×{kp.weight:g}] {getattr(kp.text, code)}")
            if kp.probe:
                lines.append("      " + t("bank.kp_probe", code, probe=getattr(kp.probe, code)))
    if question.follow_ups:
        lines += ["", t("bank.follow_ups", ui)]
        for fid in question.follow_ups:
            follow = bank.get(fid)
            lines.append(f"  {fid}: {follow.text.get(ui) if follow else '?'}")
    if question.related:
        lines.append(t("bank.related", ui, ids=_join(question.related, ui)))
    return "\n".join(lines)


def validate(paths: Sequence[Path], bank_paths: Sequence[Path], out: TextIO) -> int:
    """`bank validate [PATH...]`: every problem on stdout, a one-line summary on stderr; exit 1 when there is any.
    Without paths it checks what the bot serves: the built-in bank and the configured `bank_paths`."""
    paths = list(paths) or [DATA_DIR, *bank_paths]
    bank, problems = load_bank(paths)
    for problem in problems:
        out.write(f"{problem}\n")
    count = len(problems)
    sys.stderr.write(
        f"{count} problem(s) in {', '.join(str(p) for p in paths)}\n"
        if count
        else f"ok: {len(bank.questions)} entries, {len(bank.id_aliases)} aliases\n"
    )
    return 1 if problems else 0


def list_questions(
    bank: Bank, section: int | None, tag: str | None, lang: str, as_json: bool, out: TextIO
) -> int:
    """`bank list`, over a scope the caller has checked the way `drill` checks it."""
    selected = _select(bank, section, tag)
    if as_json:
        out.write(json.dumps([question_json(q) for q in selected], ensure_ascii=False, indent=1) + "\n")
    else:
        for q in selected:
            # tags stay ids here: they are what `--tag` takes
            out.write(f"{q.id:<6} [{q.difficulty}] {q.text.get(lang)}  ({', '.join(q.tags)})\n")
    return 0


def show(bank: Bank, qid: str, lang: str, both_labels: str, out: TextIO) -> int:
    """`bank show QID`; an unknown id is one line naming the closest ids, exit 2.  `both_labels`: see show_text."""
    question = bank.get(qid)
    if question is None:
        close = bank.closest_ids(qid)
        hint = f"; did you mean {', '.join(close)}?" if close else ""  # worded as `grade` words it
        sys.stderr.write(f"interview-bot bank show: error: unknown question id {qid}{hint}\n")
        return 2
    out.write(show_text(question, lang, bank, both_labels) + "\n")
    return 0


__all__ = ["list_questions", "question_json", "show", "show_text", "validate"]
