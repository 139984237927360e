"""Negation and contrast: a denied key point earns nothing and is reported as contradicted."""

from __future__ import annotations

import pytest

from bot.grading import Grade, Grader
from bot.grading._reply import Sentence
from question_bank.schema import Question
from tests.test_grading import make_bank


@pytest.fixture(scope="module")
def grader() -> Grader:
    """One grader over the fixture bank."""
    return Grader(make_bank())


@pytest.fixture(scope="module")
def scaling() -> Question:
    """The scaling question."""
    return make_bank().questions["1.4"]


@pytest.fixture(scope="module")
def layernorm() -> Question:
    """The LayerNorm question."""
    return make_bank().questions["1.12"]


def status(grade: Grade, kid: str) -> str:
    """The status of one key point."""
    return next(r.status for r in grade.key_points if r.key_point_id == kid)


@pytest.mark.parametrize(
    "reply",
    [
        "方差不会随dk增大。",
        "点积的方差并不随dk变化。",
        "其实方差没有随dk增大。",
        "The variance does not grow with d_k.",
        "The variance never grows with d_k.",
        "The variance isn't d_k at all.",
    ],
)
def test_negated_key_point_is_contradicted(grader: Grader, scaling: Question, reply: str) -> None:
    """A negation before or inside the matched phrase contradicts the key point, in Chinese and English."""
    g = grader.grade(scaling, reply)
    assert status(g, "variance") == "contradicted"
    assert next(r.credit for r in g.key_points if r.key_point_id == "variance") == 0.0


def test_contradiction_scores_below_affirmation(grader: Grader, scaling: Question) -> None:
    """The negated statement scores far below the same statement affirmed."""
    yes = grader.grade(scaling, "点积的方差随dk增大，所以梯度消失。")
    no = grader.grade(scaling, "点积的方差不会随dk增大，也不存在梯度消失的问题。")
    assert yes.score >= no.score + 30
    assert no.contradicted == ("variance", "saturation")


def test_not_because_x_but_because_y_chinese(grader: Grader, scaling: Question) -> None:
    """'不是因为X，而是因为Y' contradicts X and affirms Y."""
    g = grader.grade(scaling, "缩放不是因为softmax饱和，而是因为方差随dk增大。")
    assert status(g, "saturation") == "contradicted"
    assert status(g, "variance") == "covered"


def test_not_because_x_but_because_y_without_comma(grader: Grader, scaling: Question) -> None:
    """'不是X而是Y' without punctuation still splits at 而是."""
    g = grader.grade(scaling, "原因不是softmax饱和而是方差随dk增大")
    assert status(g, "saturation") == "contradicted"
    assert status(g, "variance") == "covered"


def test_x_rather_than_y_english(grader: Grader, layernorm: Question) -> None:
    """'X rather than Y' affirms X and negates Y."""
    g = grader.grade(layernorm, "LayerNorm normalises each token rather than relying on batch statistics.")
    assert status(g, "per_sample") == "covered"
    assert status(g, "batch_stats") == "contradicted"


def test_er_bu_shi_negates_what_follows(grader: Grader, scaling: Question) -> None:
    """'X而不是Y' affirms X and negates Y."""
    g = grader.grade(scaling, "除以√dk后方差恢复为1，而不是让softmax饱和。")
    assert status(g, "unit_variance") == "covered"
    assert status(g, "saturation") == "contradicted"


def test_negation_in_unrelated_clause_does_not_trigger(grader: Grader, scaling: Question) -> None:
    """A negation in another clause or sentence leaves the key point covered."""
    g = grader.grade(scaling, "这不是一个简单的问题，但点积的方差随dk增大。我不太确定别的。")
    assert status(g, "variance") == "covered"
    g = grader.grade(scaling, "We don't scale for speed, because the variance grows with d_k.")
    assert status(g, "variance") == "covered"


@pytest.mark.parametrize(
    "reply",
    [
        "不同的维度下，方差随dk增大。",
        "不仅方差随dk增大，而且softmax会饱和。",
        "无论如何，方差随dk增大。",
        "It is nothing but the variance growing with d_k.",
        "Not only does the variance grow with d_k, the softmax also saturates.",
    ],
)
def test_words_that_look_negative_are_not_negations(grader: Grader, scaling: Question, reply: str) -> None:
    """不同, 不仅, 无论, 'nothing but' and 'not only' do not negate."""
    assert status(grader.grade(scaling, reply), "variance") == "covered"


def test_counterfactual_condition_affirms(grader: Grader, scaling: Question) -> None:
    """'如果不缩放，…' / 'Without scaling, …' describe the problem and affirm the points."""
    zh = grader.grade(scaling, "如果不缩放，方差随dk增大，softmax饱和，梯度消失。")
    en = grader.grade(scaling, "Without scaling, the variance grows with d_k and the softmax saturates.")
    assert zh.covered == ("variance", "saturation") and not zh.contradicted
    assert en.covered == ("variance", "saturation") and not en.contradicted


def test_avoided_problem_is_not_a_contradiction(grader: Grader, scaling: Question) -> None:
    """'so that it does not saturate' names the avoided problem; 'there is no saturation problem' denies it."""
    purpose = grader.grade(scaling, "We scale so that the softmax does not saturate.")
    without = grader.grade(scaling, "After scaling, deep stacks train without vanishing gradients.")
    denial = grader.grade(scaling, "There is no softmax saturation problem at all.")
    denial_zh = grader.grade(scaling, "缩放并不能缓解梯度消失。")
    assert status(purpose, "saturation") != "contradicted"
    assert status(without, "saturation") == "covered"
    assert status(denial, "saturation") == "contradicted"
    assert status(denial_zh, "saturation") == "contradicted"


def test_alias_carrying_its_own_negation(grader: Grader, layernorm: Question) -> None:
    """An alias that contains a negation word itself is matched affirmatively; negating it again contradicts."""
    from bot.grading._match import compile_alias
    from bot.grading.grader import _Canon

    alias = compile_alias("不依赖batch", _Canon())
    assert alias is not None and alias.parts[0].own_cue
    g = grader.grade(layernorm, "训练和推理一致，这一点很重要。")
    assert status(g, "train_infer") == "covered"
    g = grader.grade(layernorm, "训练和推理并不一致。")
    assert status(g, "train_infer") == "contradicted"


def test_a_not_a_question_is_not_negation(grader: Grader, scaling: Question) -> None:
    """'是不是' asks a question; the clause is not negated."""
    g = grader.grade(scaling, "你问是不是方差随dk增大，答案是肯定的。")
    assert status(g, "variance") == "covered"


def test_point_stated_in_the_negative_is_not_contradicted_by_negation() -> None:
    """When the key point itself says 'no X' (没有固定长度向量的瓶颈), a reply saying 'no X' covers it."""
    from question_bank.schema import Bank, KeyPoint, Localized

    base = make_bank().questions["1.12"]
    kp = KeyPoint(
        "no_bottleneck",
        2,
        Localized("解码器可访问所有源端状态，没有固定长度向量的瓶颈。", "There is no fixed-length vector bottleneck."),
        ("固定长度向量",),
        ("fixed-length vector",),
    )
    q = Question(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "id": "7.1", "key_points": (kp,)})
    bank = Bank({q.id: q}, {}, {1: q.section})
    g = Grader(bank).grade(q, "和 RNN 不同，这里没有固定长度向量的信息瓶颈。")
    assert g.covered == ("no_bottleneck",)
    g = Grader(bank).grade(q, "There is no fixed-length vector in between any more.")
    assert g.covered == ("no_bottleneck",)


@pytest.mark.parametrize(
    ("sentence", "cues"),
    [
        ("it is not only fast", []),
        ("it does not scale", ["not"]),
        ("no matter what", []),
        ("no longer than that", ["no longer"]),
        ("no longer needed", ["no"]),
        ("none other than x", []),
        ("nothing but noise", []),
        ("you needn't", ["needn't"]),
        ("it doesnt and it isn't", ["doesnt", "isn't"]),
        ("we can't and couldnt, it won't", ["can't", "couldnt", "won't"]),
        ("shouldn't, shouldnt, mustn't, hadn't, havent", ["shouldn't", "shouldnt", "mustn't", "hadn't", "havent"]),
        ("rather than letting it", []),
        ("rather than x", ["rather than"]),
        ("instead of allowing", []),
        ("as opposed to y, it fails to", ["as opposed to", "fails to"]),
        ("it lacks a norm, lacking one", ["lacks"]),
        ("unable, unnecessary, unlike, unrelated, irrelevant", ["unable", "unnecessary", "unlike", "unrelated",
                                                                "irrelevant"]),
        ("knot snot x'not a_not", ["not"]),
        ("我们不得不这样, 不是这样, 不同, 并不", ["不是", "并不"]),
    ],
)
def test_negation_cues(sentence: str, cues: list[str]) -> None:
    """The cue pattern (grouped by first letter for speed) finds exactly these cues."""
    assert [sentence[s:e] for s, e in Sentence(sentence, sentence, str).cues] == cues
