"""Feedback for people in both languages, and the single / batch command-line functions."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.grading import Feedback, Grader, feedback
from bot.grading.cli import run_batch, run_single
from question_bank.schema import Bank, Question
from tests.test_grading import make_bank


@pytest.fixture(scope="module")
def bank() -> Bank:
    """The fixture bank."""
    return make_bank()


@pytest.fixture(scope="module")
def grader(bank: Bank) -> Grader:
    """One grader over the fixture bank."""
    return Grader(bank)


@pytest.fixture(scope="module")
def scaling(bank: Bank) -> Question:
    """The scaling question."""
    return bank.questions["1.4"]


REPLY = "点积的方差随dk增大。但这并不会导致 softmax 饱和。"


def test_feedback_in_chinese(grader: Grader, scaling: Question) -> None:
    """Chinese feedback lists key point texts by status, gives the hint and a Chinese summary."""
    fb = feedback(grader.grade(scaling, REPLY), scaling, "zh")
    assert isinstance(fb, Feedback)
    assert fb.covered == ("点积的方差随 d_k 增大（为 d_k）",)
    assert fb.contradicted == ("数值过大使 softmax 饱和、梯度消失",)
    assert "除以 √d_k 后方差恢复为 1" in fb.missed
    assert fb.hint == scaling.hint.zh
    assert fb.summary.startswith("得分 ") and "1/4" in fb.summary and "1 个表述有误" in fb.summary


def test_feedback_in_english(grader: Grader, scaling: Question) -> None:
    """English feedback uses the English key point texts, hint and summary."""
    fb = feedback(grader.grade(scaling, REPLY), scaling, "en")
    assert fb.covered == ("The dot product's variance grows with d_k (it equals d_k)",)
    assert fb.contradicted == ("Large logits saturate the softmax and its gradients vanish",)
    assert fb.hint == scaling.hint.en
    assert fb.summary.startswith("Score ") and "1 of 4 key points covered" in fb.summary
    assert "1 contradicted" in fb.summary


def test_feedback_flags_are_human_readable(grader: Grader, scaling: Question) -> None:
    """Flags become sentences in the chosen language."""
    g = grader.grade(scaling, "方差，dk，softmax，饱和，梯度消失，缩放，均值为0")
    assert "keyword_list" in g.flags
    assert any("关键词" in m for m in feedback(g, scaling, "zh").flags)
    assert any("keywords" in m for m in feedback(g, scaling, "en").flags)
    empty = feedback(grader.grade(scaling, ""), scaling, "en")
    assert empty.flags == ("The reply is empty.",) and empty.summary.startswith("Score 0/100")


def test_no_hint_when_everything_is_covered(grader: Grader, scaling: Question) -> None:
    """A complete answer gets no hint."""
    reply = "假设各分量相互独立、均值为0。点积的方差为dk，数值大时softmax饱和、梯度消失。除以√dk后方差恢复为1。"
    fb = feedback(grader.grade(scaling, reply), scaling, "zh")
    assert len(fb.covered) == 4 and not fb.missed and not fb.partial and fb.hint == ""


def test_partial_key_points_in_feedback(grader: Grader, bank: Bank) -> None:
    """Partly made points are listed separately."""
    q = bank.questions["1.12"]
    reply = "It is about the training setup versus what happens at inference time, more or less."
    fb = feedback(grader.grade(q, reply), q, "en")
    assert fb.partial == ("Same behaviour in training and inference",)


# ------------------------------------------------------------------------------------------------ CLI


def test_run_single_prints_grade_json(bank: Bank) -> None:
    """A known id prints one JSON object with the grade and returns 0."""
    out = io.StringIO()
    assert run_single(bank, "1.4", "方差随dk增大，softmax饱和。", out) == 0
    data = json.loads(out.getvalue())
    assert data["qid"] == "1.4" and data["covered"] == ["variance", "saturation"]
    assert set(data) == {"qid", "score", "covered", "partial", "missed", "contradicted", "flags"}


def test_run_single_resolves_question_alias(bank: Bank) -> None:
    """A section-5 style alias id grades against its target."""
    out = io.StringIO()
    assert run_single(bank, "5.9", "方差随dk增大。", out) == 0
    assert json.loads(out.getvalue())["qid"] == "1.4"


def test_run_single_unknown_id(bank: Bank) -> None:
    """An unknown id prints an error JSON with the closest ids and returns 2."""
    out = io.StringIO()
    assert run_single(bank, "1.41", "anything", out) == 2
    data = json.loads(out.getvalue())
    assert data["qid"] == "1.41" and "unknown question id" in data["error"]
    assert "1.4" in data["closest"] and "1.4" in data["error"]


def test_run_batch_good_and_bad_lines(bank: Bank, tmp_path: Path) -> None:
    """Every line, blank ones too, gets one output line in order; bad lines become {line, error}, others are graded."""
    lines = [
        json.dumps({"qid": "1.4", "reply": "方差随dk增大。"}, ensure_ascii=False),
        "",
        json.dumps({"qid": "9.99", "reply": "x"}),
        "{not json",
        json.dumps({"qid": "1.12"}),
        json.dumps(["1.4", "reply"]),
        json.dumps({"qid": "1.12", "reply": "LayerNorm normalises each token over its features."}),
        "   ",
    ]
    path = tmp_path / "replies.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert run_batch(bank, path, out) == 0
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(rows) == len(lines)
    assert rows[0]["qid"] == "1.4" and rows[0]["covered"] == ["variance"]
    assert rows[1] == {"line": 2, "error": "empty line"}
    assert rows[2]["line"] == 3 and "unknown question id" in rows[2]["error"]
    assert rows[3]["line"] == 4 and "malformed JSON" in rows[3]["error"]
    assert rows[4]["line"] == 5 and "reply" in rows[4]["error"]
    assert rows[5]["line"] == 6 and "error" in rows[5]
    assert rows[6]["qid"] == "1.12" and "per_sample" in rows[6]["covered"]
    assert rows[7] == {"line": 8, "error": "empty line"}


def test_run_batch_unreadable_file(bank: Bank, tmp_path: Path) -> None:
    """A missing file prints an error and returns 1."""
    out = io.StringIO()
    assert run_batch(bank, tmp_path / "missing.jsonl", out) == 1
    assert "cannot read" in json.loads(out.getvalue())["error"]


def test_run_batch_empty_reply_is_graded(bank: Bank, tmp_path: Path) -> None:
    """An empty reply string is graded (score 0, flag empty), not an error."""
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"qid": "1.4", "reply": ""}) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert run_batch(bank, path, out) == 0
    row = json.loads(out.getvalue())
    assert row["score"] == 0 and row["flags"] == ["empty"]
