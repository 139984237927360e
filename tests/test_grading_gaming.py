"""Resistance to gaming: keyword lists, copied questions, repetition, padding, off-topic answers, edge input."""

from __future__ import annotations

import pytest

from bot.grading import Grader
from question_bank.schema import Question
from tests.test_grading import make_bank

PARTIAL_ZH = "因为dk很大的时候点积的方差随dk增大，数值变得很大。"
PARTIAL_EN = "When d_k is large the variance grows with d_k, so the raw scores get big."


@pytest.fixture(scope="module")
def grader() -> Grader:
    """One grader over the fixture bank."""
    return Grader(make_bank())


@pytest.fixture(scope="module")
def scaling() -> Question:
    """The scaling question."""
    return make_bank().questions["1.4"]


@pytest.mark.parametrize(
    "reply",
    [
        "方差，dk，softmax，饱和，梯度消失，缩放，均值为0，方差为1",
        "方差 dk softmax 饱和 梯度消失 方差为1 独立同分布",
        "variance, d_k, softmax saturation, vanishing gradients, unit variance, zero mean",
        "variance d_k softmax saturation vanishing gradients unit variance zero mean independent components",
        "关键词：方差随dk增大、softmax饱和、梯度消失、方差恢复为1、均值为0",
        "softmax饱和 softmax饱和 softmax饱和 softmax饱和 方差为dk 方差为dk",
        "This is about variance, softmax saturation, gradients, scaling, dk, dot products and normalisation.",
        "这个问题主要涉及：方差、dk、softmax饱和、梯度消失、均值为0、独立同分布。总之就是这几个关键点，都很重要。",
    ],
)
def test_keyword_list_is_flagged_and_scores_below_partial_answers(
    grader: Grader, scaling: Question, reply: str
) -> None:
    """Rubric terms strung together are flagged and score below genuine one-point answers in either language."""
    stuffed = grader.grade(scaling, reply)
    assert "keyword_list" in stuffed.flags
    for partial in (PARTIAL_ZH, PARTIAL_EN):
        genuine = grader.grade(scaling, partial)
        assert "keyword_list" not in genuine.flags
        assert stuffed.score < genuine.score


@pytest.mark.parametrize(
    "reply",
    [
        "因为方差会随dk增大，导致softmax饱和，梯度消失。",
        "- 防止softmax饱和\n- 保持方差为1\n- 梯度稳定",
        "多头可以关注不同的关系，比如句法、语义、指代、位置。每个头在不同的子空间里学习。",
        "Heads can capture syntax, semantics, coreference and position, each in its own subspace.",
    ],
)
def test_short_lists_inside_explanations_are_not_keyword_lists(grader: Grader, scaling: Question, reply: str) -> None:
    """Terse bullet answers and enumerations inside sentences are not flagged."""
    assert "keyword_list" not in grader.grade(scaling, reply).flags


@pytest.mark.parametrize("text", ["zh", "en"])
def test_copied_question_earns_nothing(grader: Grader, scaling: Question, text: str) -> None:
    """The question pasted back scores near 0 and is flagged copied_question."""
    g = grader.grade(scaling, scaling.text.get(text))
    assert "copied_question" in g.flags
    assert g.score <= 2
    assert not g.covered


def test_question_words_do_not_count_but_the_answer_does(grader: Grader, scaling: Question) -> None:
    """With the question copied in front, the genuine part of the answer still counts."""
    g = grader.grade(scaling, scaling.text.zh + "因为方差随dk增大。")
    assert "variance" in g.covered
    copied_only = grader.grade(scaling, scaling.text.zh + scaling.text.zh)
    assert g.score > copied_only.score


def test_repeated_sentences_count_once(grader: Grader, scaling: Question) -> None:
    """Repeating a sentence adds nothing and is flagged repetitive."""
    once = grader.grade(scaling, "方差随dk增大，softmax饱和。")
    many = grader.grade(scaling, "方差随dk增大，softmax饱和。" * 8)
    assert many.score == once.score
    assert "repetitive" in many.flags


def test_padding_earns_no_length_bonus(grader: Grader, scaling: Question) -> None:
    """Filler around a one-point answer does not raise its score."""
    plain = grader.grade(scaling, "方差随dk增大。")
    padded = grader.grade(
        scaling,
        "嗯，这是一个很好的问题，我觉得这个问题非常重要，需要仔细思考，面试的时候经常会被问到。" * 3
        + "总之，方差随dk增大。",
    )
    assert padded.score <= plain.score


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_answer_to_another_question_is_off_topic(grader: Grader, scaling: Question, lang: str) -> None:
    """A correct answer to a different question is flagged off_topic and scores low."""
    other = make_bank().questions["1.12"]
    g = grader.grade(scaling, other.answer.get(lang))
    assert "off_topic" in g.flags
    assert g.score <= 2
    assert grader.grade(other, other.answer.get(lang)).score >= 80


def test_fluent_but_unrelated_reply_scores_low(grader: Grader, scaling: Question) -> None:
    """A fluent reply that makes none of the points scores low."""
    g = grader.grade(scaling, "缩放是为了加快计算速度，减少显存占用，让模型在 GPU 上跑得更快。")
    assert g.score <= 20
    assert not g.covered


@pytest.mark.parametrize("reply", ["", "   ", "\n\t \n", "。。。", "**", "- \n- "])
def test_empty_or_blank_reply_scores_zero(grader: Grader, scaling: Question, reply: str) -> None:
    """Empty, whitespace-only or punctuation-only replies score 0 with flag empty and never raise."""
    g = grader.grade(scaling, reply)
    assert g.score == 0 and g.flags == ("empty",)
    assert g.missed == tuple(kp.id for kp in scaling.key_points)


def test_very_short_reply_is_flagged(grader: Grader, scaling: Question) -> None:
    """A two-character reply is flagged too_short."""
    g = grader.grade(scaling, "不知")
    assert "too_short" in g.flags and g.score <= 5


def test_too_long_reply_is_truncated_and_flagged(grader: Grader, scaling: Question) -> None:
    """Only the first max_chars characters are graded; the reply is flagged too_long."""
    tail = "方差随dk增大。"
    g = grader.grade(scaling, "嗯" * 4000 + tail)
    assert "too_long" in g.flags and "variance" not in g.covered
    small = Grader(make_bank(), max_chars=50)
    g = small.grade(scaling, tail + "x" * 100)
    assert "too_long" in small.grade(scaling, tail + "x" * 100).flags and "variance" in g.covered


def test_long_reply_keeps_its_grade(grader: Grader, scaling: Question) -> None:
    """A complete answer repeated past the limit still grades as complete."""
    g = grader.grade(scaling, scaling.answer.zh * 40)
    assert "too_long" in g.flags and g.score >= 80
