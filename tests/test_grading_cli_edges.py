"""Edge cases of `interview-bot grade`: BOM, standard input, blank lines, usage errors and id suggestions.

The batch contract (issue 5, item 5): the N-th output line answers the N-th input line, either a grade
{"qid", "score", "covered", "partial", "missed", "contradicted", "flags"} or {"line": N, "error": ...};
the exit code is non-zero only when the input cannot be read.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.grading.cli import run_batch, run_single
from question_bank.loader import load_bank_strict
from question_bank.schema import Bank
from tests.test_grading import make_bank

ROOT = Path(__file__).resolve().parents[1]
GRADE_KEYS = {"qid", "score", "covered", "partial", "missed", "contradicted", "flags"}
GOOD = json.dumps({"qid": "1.4", "reply": "方差随dk增大。"}, ensure_ascii=False)
BOM = "\ufeff"


@pytest.fixture(scope="module")
def small_bank() -> Bank:
    """The three-question fixture bank (alias 5.9 -> 1.4)."""
    return make_bank()


@pytest.fixture(scope="module")
def aliased_bank(small_bank: Bank) -> Bank:
    """The fixture bank with section-5 style aliases whose ids tie with real ones."""
    return Bank(small_bank.questions, {"5.1": "1.4", "5.3": "1.12"}, small_bank.sections)


def cli(tmp_path: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the real `interview-bot` entry point on a throw-away database, with raw bytes on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "--db", str(tmp_path / "bot.sqlite3"), *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def batch_rows(bank: Bank, text: str, tmp_path: Path, encoding: str = "utf-8") -> list[dict[str, object]]:
    """Write `text` as a batch file, run it, and return the output rows (the run must succeed)."""
    path = tmp_path / "replies.jsonl"
    path.write_bytes(text.encode(encoding))
    out = io.StringIO()
    assert run_batch(bank, path, out) == 0
    return [json.loads(x) for x in out.getvalue().splitlines()]


# ------------------------------------------------------------------------------------------------- BOM


def test_batch_file_with_utf8_bom_is_graded(small_bank: Bank, tmp_path: Path) -> None:
    """A BOM (Windows editors write one) is not part of line 1: the line is graded, not malformed."""
    rows = batch_rows(small_bank, BOM + GOOD + "\n", tmp_path)
    assert len(rows) == 1 and set(rows[0]) == GRADE_KEYS and rows[0]["covered"] == ["variance"]


def test_cli_batch_from_stdin_with_bom_and_blank_line(tmp_path: Path) -> None:
    """`grade --batch -` reads standard input through the real entry point; BOM and blank lines handled."""
    data = (BOM + '{"qid": "1.4", "reply": "x"}\n\n{"qid": "9.9", "reply": "x"}\n').encode()
    proc = cli(tmp_path, "grade", "--batch", "-", stdin=data)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert len(rows) == 3
    assert set(rows[0]) == GRADE_KEYS and rows[0]["qid"] == "1.4"
    assert rows[1] == {"line": 2, "error": "empty line"}
    assert rows[2]["line"] == 3 and "unknown question id" in str(rows[2]["error"]) and rows[2]["closest"]


# ----------------------------------------------------------------------------------------------- stdin


def test_batch_dash_reads_standard_input(small_bank: Bank) -> None:
    """'-' means standard input, not a file named '-'."""
    out = io.StringIO()
    assert run_batch(small_bank, Path("-"), out, stdin=io.StringIO(GOOD + "\n")) == 0
    assert json.loads(out.getvalue())["covered"] == ["variance"]


def test_batch_stdin_bytes_decoded_as_utf8_sig(small_bank: Bank) -> None:
    """Standard input is decoded from its bytes like a file: a BOM is dropped whatever the locale."""
    stdin = io.TextIOWrapper(io.BytesIO((BOM + GOOD + "\n").encode()), encoding="latin-1")
    out = io.StringIO()
    assert run_batch(small_bank, Path("-"), out, stdin=stdin) == 0
    assert json.loads(out.getvalue())["covered"] == ["variance"]


def test_batch_undecodable_stdin_is_unreadable(small_bank: Bank) -> None:
    """Bytes that are not UTF-8 make the input unreadable: one error object and exit code 1."""
    stdin = io.TextIOWrapper(io.BytesIO(b'{"qid": "1.4", "reply": "\xff"}\n'), encoding="utf-8")
    out = io.StringIO()
    assert run_batch(small_bank, Path("-"), out, stdin=stdin) == 1
    assert "cannot read standard input" in json.loads(out.getvalue())["error"]


# -------------------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("args", [["grade", "1.4", "--batch", "b.jsonl"], ["grade", "--batch", "b.jsonl", "1.4"]])
def test_cli_qid_with_batch_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    """A question id and --batch together exit 2 with an argparse message instead of ignoring the id."""
    (tmp_path / "b.jsonl").write_text(GOOD + "\n", encoding="utf-8")
    proc = cli(tmp_path, *[str(tmp_path / a) if a.endswith(".jsonl") else a for a in args], stdin=b"hi\n")
    assert proc.returncode == 2
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err.startswith("interview-bot grade: error: argument ") and "not allowed with argument" in err


def test_grade_parser_takes_a_qid_or_a_batch() -> None:
    """Either input alone still parses."""
    parser = build_parser()
    assert parser.parse_args(["grade", "1.4"]).qid == "1.4"
    args = parser.parse_args(["grade", "--batch", "-"])
    assert args.qid is None and str(args.batch) == "-"


# -------------------------------------------------------------------------------------- line numbers


def test_blank_lines_keep_output_aligned(small_bank: Bank, tmp_path: Path) -> None:
    """Blank and whitespace-only lines each yield {"line": N, "error": "empty line"} in their place."""
    rows = batch_rows(small_bank, "\n".join([GOOD, "", "   ", "\t\u3000", GOOD]) + "\n", tmp_path)
    assert len(rows) == 5
    assert rows[1:4] == [{"line": n, "error": "empty line"} for n in (2, 3, 4)]
    assert set(rows[0]) == set(rows[4]) == GRADE_KEYS


def test_final_newline_does_not_add_a_line(small_bank: Bank, tmp_path: Path) -> None:
    """A file ends with a line break or not: either way two records give two rows; an empty file none."""
    assert len(batch_rows(small_bank, GOOD + "\n" + GOOD + "\n", tmp_path)) == 2
    assert len(batch_rows(small_bank, GOOD + "\n" + GOOD, tmp_path)) == 2
    assert batch_rows(small_bank, "", tmp_path) == []


def test_unicode_line_separators_inside_a_reply_do_not_split_it(small_bank: Bank, tmp_path: Path) -> None:
    """U+2028, U+2029 and U+0085 are legal raw in JSON strings: they are not line breaks; CRLF is one."""
    reply = json.dumps({"qid": "1.4", "reply": "方差\u2028随dk\u2029增大\u0085。"}, ensure_ascii=False)
    rows = batch_rows(small_bank, reply + "\r\n" + "{bad\r\n" + GOOD + "\r\n", tmp_path)
    assert len(rows) == 3
    assert set(rows[0]) == GRADE_KEYS
    assert rows[1]["line"] == 2 and "malformed JSON" in str(rows[1]["error"])
    assert set(rows[2]) == GRADE_KEYS


def test_deeply_nested_line_is_one_bad_line(small_bank: Bank, tmp_path: Path) -> None:
    """JSON nested deeper than the parser can go is reported in place; the next line is still graded."""
    rows = batch_rows(small_bank, "[" * 200_000 + "\n" + GOOD + "\n", tmp_path)
    assert rows[0] == {"line": 1, "error": "malformed JSON: nested too deeply"}
    assert set(rows[1]) == GRADE_KEYS


# ------------------------------------------------------------------------------------- unknown ids


def test_batch_unknown_id_carries_the_same_suggestions(small_bank: Bank, tmp_path: Path) -> None:
    """An unknown id in a batch gives the error and `closest` list that `grade ID` gives."""
    single = io.StringIO()
    assert run_single(small_bank, "1.41", "x", single) == 2
    expected = json.loads(single.getvalue())
    rows = batch_rows(small_bank, json.dumps({"qid": "1.41", "reply": "x"}) + "\n", tmp_path)
    assert rows == [{"line": 1, "error": expected["error"], "closest": expected["closest"]}]
    assert expected["closest"][0] == "1.4"


def test_suggestions_prefer_main_ids_over_aliases(aliased_bank: Bank) -> None:
    """Equally close ids list real ids first; alias 5.1 is dropped because its target 1.4 is listed."""
    out = io.StringIO()
    assert run_single(aliased_bank, "1", "x", out) == 2
    data = json.loads(out.getvalue())
    assert data["closest"] == ["1.1", "1.4", "1.12"]
    assert data["error"].endswith("did you mean 1.1, 1.4, 1.12?")


def test_alias_suggested_only_when_its_question_is_not(aliased_bank: Bank) -> None:
    """5.1 (-> 1.4) is left out after 1.4; 5.3 (-> 1.12) stands for its question, which is not listed twice."""
    assert aliased_bank.closest_ids("5.4") == ["1.4", "5.3", "1.1"]


def test_real_bank_suggestions_are_real_ids() -> None:
    """On the shipped bank, `grade 1` and `grade a.b` no longer suggest the 5.x aliases."""
    bank = load_bank_strict()
    for typed in ("1", "a.b"):
        closest = bank.closest_ids(typed)
        assert closest and not set(closest) & set(bank.id_aliases), (typed, closest)
    assert bank.closest_ids("1")[0] == "1.1"
