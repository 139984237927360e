"""Command-line grading: one reply, or a JSON-lines batch.  Wired to `interview-bot grade` elsewhere."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TextIO

from bot.grading.grader import Grader
from question_bank.schema import Bank

_GRADERS: dict[int, tuple[Bank, Grader]] = {}

STDIN = "-"
"""The batch path that means standard input, as for most Unix tools."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


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


def _unknown(bank: Bank, qid: str) -> dict[str, object]:
    """The error and suggestions for an unknown id, the same for a single reply and a batch line."""
    closest = bank.closest_ids(qid)
    message = f"unknown question id {qid!r}"
    if closest:
        message += "; did you mean " + ", ".join(closest) + "?"
    return {"error": message, "closest": closest}


def run_single(bank: Bank, qid: str, reply: str, out: TextIO) -> int:
    """Grade one reply and print its grade as one JSON object; 2 when the id is unknown."""
    question = bank.get(qid)
    if question is None:
        _emit(out, {"qid": qid, **_unknown(bank, qid)})
        return 2
    _emit(out, grader_for(bank).grade(question, reply).to_json())
    return 0


def _read_stdin(stdin: TextIO) -> str:
    """Standard input decoded as a file is: from its bytes when it has any, so the locale does not matter."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read()
        return data.decode("utf-8-sig")
    return stdin.read().removeprefix("\ufeff")


def _read_batch(path: Path, stdin: TextIO) -> str:
    """The batch text; utf-8-sig because files saved by Windows editors start with a BOM json rejects."""
    if str(path) == STDIN:
        return _read_stdin(stdin)
    return path.read_text(encoding="utf-8-sig")


def _lines(text: str) -> list[str]:
    """The input lines as a JSON-lines reader counts them.

    str.splitlines also breaks at U+2028, U+2029 and U+0085, which JSON allows raw inside strings
    (json.dumps(ensure_ascii=False) writes them as they are): one record would become two bad
    lines and every later line number would be off. A final line break ends the last line; it
    does not start an empty one.
    """
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def _grade_line(bank: Bank, grader: Grader, number: int, line: str) -> dict[str, object]:
    """The output object for one input line: its grade, or {"line", "error"} in its place.

    Every input line, blank ones included, yields exactly one object so that the N-th output line
    always answers the N-th input line.
    """
    if not line.strip():
        return {"line": number, "error": "empty line"}
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"line": number, "error": f"malformed JSON: {exc.msg}"}
    except RecursionError:  # "[[[[..." deeper than the parser's stack: still just one bad line
        return {"line": number, "error": "malformed JSON: nested too deeply"}
    if not isinstance(item, dict):
        return {"line": number, "error": "expected a JSON object with 'qid' and 'reply'"}
    qid, reply = item.get("qid"), item.get("reply")
    if not isinstance(qid, str) or not isinstance(reply, str):
        missing = [k for k, v in (("qid", qid), ("reply", reply)) if not isinstance(v, str)]
        return {"line": number, "error": "missing or non-string field(s): " + ", ".join(missing)}
    question = bank.get(qid)
    if question is None:
        return {"line": number, **_unknown(bank, qid)}
    return grader.grade(question, reply).to_json()


def run_batch(bank: Bank, path: Path, out: TextIO, stdin: TextIO | None = None) -> int:
    """Grade JSON lines {"qid", "reply"} from `path` ("-" is standard input); one output line per input line.

    Returns 1 only when the input cannot be read; bad lines are reported in place and exit 0.
    """
    source = "standard input" if str(path) == STDIN else str(path)
    try:
        text = _read_batch(path, sys.stdin if stdin is None else stdin)
    except (OSError, UnicodeDecodeError) as exc:
        _emit(out, {"error": f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}"})
        return 1
    grader = grader_for(bank)
    for number, line in enumerate(_lines(text), start=1):
        _emit(out, _grade_line(bank, grader, number, line))
    return 0
