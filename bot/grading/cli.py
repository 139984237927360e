"""Command-line grading: one reply, or a JSON-lines batch.  Wired to `interview-bot grade` elsewhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from bot.grading.grader import Grader
from question_bank.schema import Bank

_GRADERS: dict[int, tuple[Bank, Grader]] = {}


def grader_for(bank: Bank) -> Grader:
    """One grader per bank object (building it is the slow part)."""
    cached = _GRADERS.get(id(bank))
    if cached is not None and cached[0] is bank:
        return cached[1]
    grader = Grader(bank)
    if len(_GRADERS) >= 4:
        _GRADERS.clear()
    _GRADERS[id(bank)] = (bank, grader)
    return grader


def _emit(out: TextIO, obj: dict[str, object]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _unknown(bank: Bank, qid: str) -> str:
    closest = bank.closest_ids(qid)
    message = f"unknown question id {qid!r}"
    if closest:
        message += "; did you mean " + ", ".join(closest) + "?"
    return message


def run_single(bank: Bank, qid: str, reply: str, out: TextIO) -> int:
    """Grade one reply and print its grade as one JSON object; 2 when the id is unknown."""
    question = bank.get(qid)
    if question is None:
        _emit(out, {"qid": qid, "error": _unknown(bank, qid), "closest": bank.closest_ids(qid)})
        return 2
    _emit(out, grader_for(bank).grade(question, reply).to_json())
    return 0


def run_batch(bank: Bank, path: Path, out: TextIO) -> int:
    """Grade JSON lines {"qid", "reply"}; one output line per non-blank input line, errors in place.

    Returns 1 only when the file cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _emit(out, {"error": f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"})
        return 1
    grader = grader_for(bank)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            _emit(out, {"line": number, "error": f"malformed JSON: {exc.msg}"})
            continue
        if not isinstance(item, dict):
            _emit(out, {"line": number, "error": "expected a JSON object with 'qid' and 'reply'"})
            continue
        qid, reply = item.get("qid"), item.get("reply")
        missing = [k for k, v in (("qid", qid), ("reply", reply)) if not isinstance(v, str)]
        if missing:
            _emit(out, {"line": number, "error": "missing or non-string field(s): " + ", ".join(missing)})
            continue
        assert isinstance(qid, str) and isinstance(reply, str)
        question = bank.get(qid)
        if question is None:
            _emit(out, {"line": number, "error": _unknown(bank, qid)})
            continue
        _emit(out, grader.grade(question, reply).to_json())
    return 0
