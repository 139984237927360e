"""`interview-bot bank list|show|validate`."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

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
    }


def _select(bank: Bank, section: str | None, tag: str | None) -> list[Question]:
    out = []
    for q in bank.main_questions():
        if section and str(q.section.number) != str(section).strip():
            continue
        if tag and tag not in q.tags:
            continue
        out.append(q)
    return out


def show_text(question: Question, lang: str, bank: Bank) -> str:
    """A readable page for one question in zh, en or both."""
    langs = ("zh", "en") if lang == "both" else (lang,)
    section = " / ".join(getattr(question.section.title, code) for code in langs)
    lines = [f"{question.id} · {section} · difficulty {question.difficulty} · {', '.join(question.tags)}"]
    if question.aliases:
        lines.append(f"also: {', '.join(question.aliases)}")
    for code in langs:
        label = {"zh": "中文", "en": "English"}[code]
        lines += [
            "",
            f"== {label} ==",
            getattr(question.text, code),
            "",
            ("提示：" if code == "zh" else "Hint: ") + getattr(question.hint, code),
            "",
            "参考答案：" if code == "zh" else "Reference answer:",
            getattr(question.answer, code),
            "",
            "要点：" if code == "zh" else "Key points:",
        ]
        for kp in question.key_points:
            lines.append(f"  [{kp.id} ×{kp.weight:g}] {getattr(kp.text, code)}")
    if question.follow_ups:
        lines += ["", "follow-ups:"]
        for fid in question.follow_ups:
            follow = bank.get(fid)
            lines.append(f"  {fid}: {follow.text.get(langs[0]) if follow else '?'}")
    if question.related:
        lines.append(f"related: {', '.join(question.related)}")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Any, out: TextIO) -> int:
    import sys

    from bot.app import load_bank_for

    if args.bank_command == "validate":
        paths = list(args.paths) or [DATA_DIR, *settings.bank_paths]
        _bank, problems = load_bank(paths)
        for problem in problems:
            out.write(f"{problem}\n")
        count = len(problems)
        sys.stderr.write(
            f"{count} problem(s) in {', '.join(str(p) for p in paths)}\n"
            if count
            else f"ok: {len(_bank.questions)} entries, {len(_bank.id_aliases)} aliases\n"
        )
        return 1 if problems else 0
    bank = load_bank_for(settings)
    if args.bank_command == "list":
        if args.section and not any(str(q.section.number) == str(args.section) for q in bank.main_questions()):
            valid = ", ".join(sorted({str(q.section.number) for q in bank.main_questions()}))
            sys.stderr.write(
                f"interview-bot bank list: error: unknown section {args.section}; valid choices: {valid}\n"
            )
            return 2
        selected = _select(bank, args.section, args.tag)
        if args.json:
            out.write(json.dumps([question_json(q) for q in selected], ensure_ascii=False, indent=1) + "\n")
        else:
            for q in selected:
                out.write(f"{q.id:<6} [{q.difficulty}] {q.text.get(args.lang)}  ({', '.join(q.tags)})\n")
        return 0
    if args.bank_command == "show":
        question = bank.get(args.qid)
        if question is None:
            close = bank.closest_ids(args.qid)
            hint = f"; closest: {', '.join(close)}" if close else ""
            sys.stderr.write(f"interview-bot bank show: error: unknown question id {args.qid}{hint}\n")
            return 2
        out.write(show_text(question, args.lang, bank) + "\n")
        return 0
    return 2


__all__ = ["question_json", "run", "show_text"]
