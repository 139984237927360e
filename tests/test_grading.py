"""Grader core: normalisation, alias matching in Chinese / English / mixed text, scores, determinism.

The questions here are built in the test with the bank dataclasses, so the tests do not depend
on the bank's content (tests over the real bank live in test_grading_bank.py).
"""

from __future__ import annotations

import re
import sys

import pytest

from bot.grading import Grade, Grader, KeyPointResult
from bot.grading._match import ReplyIndex, compile_part
from bot.grading._reply import Sentence
from bot.grading._text import (
    BLANK,
    compact,
    mark_cjk_spaces,
    normalize,
    normalize_phrase,
    split_sentences,
    stem,
    t2s_table,
)
from question_bank.schema import Bank, KeyPoint, Localized, Question, Section

SECTION = Section(1, Localized("基础", "Basics"))


def make_kp(
    kid: str, weight: float, zh: str, en: str, aliases_zh: tuple[str, ...], aliases_en: tuple[str, ...]
) -> KeyPoint:
    """A key point with both languages."""
    return KeyPoint(kid, weight, Localized(zh, en), aliases_zh, aliases_en)


def make_scaling() -> Question:
    """Why attention scores are divided by sqrt(d_k)."""
    return Question(
        id="1.4",
        section=SECTION,
        source="为什么在进行softmax之前需要对attention进行scaled?(为什么除以dk的平方根)",
        text=Localized(
            "为什么在 softmax 之前要对注意力分数做缩放（除以 √d_k）？",
            "Why are attention scores scaled before the softmax (divided by √d_k)?",
        ),
        answer=Localized(
            "假设 q 和 k 的各分量独立、均值为 0、方差为 1，点积 q·k 是 d_k 项之和，方差为 d_k。"
            "d_k 越大，点积的数值越大，softmax 会进入饱和区，输出接近 one-hot，梯度变得极小，训练困难。"
            "除以 √d_k 后点积的方差恢复为 1，分布稳定，梯度正常。",
            "If the components of q and k are independent with mean 0 and variance 1, the dot product is a sum of "
            "d_k terms and has variance d_k. Large d_k makes the logits large, the softmax saturates into a nearly "
            "one-hot distribution and its gradients vanish. Dividing by √d_k brings the variance back to 1 and keeps "
            "gradients healthy.",
        ),
        key_points=(
            make_kp(
                "variance",
                3,
                "点积的方差随 d_k 增大（为 d_k）",
                "The dot product's variance grows with d_k (it equals d_k)",
                ("方差为dk", "方差随dk增大", "方差 & dk", "方差变大"),
                ("variance grows with d_k", "variance of d_k", "variance & d_k", "variance is d_k"),
            ),
            make_kp(
                "saturation",
                3,
                "数值过大使 softmax 饱和、梯度消失",
                "Large logits saturate the softmax and its gradients vanish",
                ("softmax饱和", "梯度消失", "梯度极小", "梯度很小", "进入饱和区"),
                ("softmax saturates", "saturation", "vanishing gradients", "gradients vanish", "tiny gradients"),
            ),
            make_kp(
                "unit_variance",
                2,
                "除以 √d_k 后方差恢复为 1",
                "Dividing by √d_k restores unit variance",
                ("方差恢复为1", "方差为1", "方差归一", "方差变回1"),
                ("unit variance", "variance back to 1", "variance of 1", "variance to 1"),
            ),
            make_kp(
                "independence",
                1,
                "假设分量独立、均值0方差1",
                "Assume independent components with mean 0 and variance 1",
                ("均值为0", "相互独立", "独立同分布"),
                ("mean 0", "zero mean", "independent components", "i.i.d"),
            ),
        ),
        hint=Localized("想一想点积的方差和 d_k 的关系。", "Think about how the dot product's variance depends on d_k."),
        tags=("attention",),
    )


def make_layernorm() -> Question:
    """LayerNorm rather than BatchNorm."""
    return Question(
        id="1.12",
        section=SECTION,
        source="为什么transformer块使用LayerNorm而不是BatchNorm?",
        text=Localized(
            "为什么 Transformer 使用 LayerNorm 而不是 BatchNorm？",
            "Why does the Transformer use LayerNorm rather than BatchNorm?",
        ),
        answer=Localized(
            "BatchNorm 依赖 batch 内的统计量，序列长度不一、有 padding、batch 小时统计量不稳定；"
            "LayerNorm 在每个样本的特征维上归一化，不依赖 batch，训练和推理行为一致，适合变长序列。",
            "BatchNorm relies on statistics over the batch, which are unstable with variable-length sequences, "
            "padding and small batches. LayerNorm normalises each token over its features, does not depend on the "
            "batch, and behaves the same in training and inference, which suits variable-length sequences.",
        ),
        key_points=(
            make_kp(
                "per_sample",
                3,
                "LayerNorm 在每个样本的特征维上归一化",
                "LayerNorm normalises each sample over its features",
                ("每个样本", "特征维度上归一化", "对每个token归一化", "单个样本"),
                ("each sample", "each token", "over its features", "per token", "per sample"),
            ),
            make_kp(
                "batch_stats",
                3,
                "BatchNorm 依赖 batch 统计量，变长序列和小 batch 下不稳定",
                "BatchNorm depends on batch statistics, unstable with variable lengths and small batches",
                ("依赖batch", "batch统计量", "batch & 不稳定", "变长序列"),
                ("batch statistics", "depends on the batch", "variable length", "small batches"),
            ),
            make_kp(
                "train_infer",
                2,
                "训练和推理行为一致",
                "Same behaviour in training and inference",
                ("训练和推理一致", "训练 & 推理 & 一致"),
                ("training and inference", "same at inference"),
            ),
        ),
        hint=Localized("比较两者在哪个维度上求均值和方差。", "Compare the axes over which each computes statistics."),
        tags=("normalization",),
    )


def make_multihead() -> Question:
    """Why multiple heads."""
    return Question(
        id="1.1",
        section=SECTION,
        source="Transformer为何使用多头注意力机制?（为什么不用一个头)",
        text=Localized(
            "Transformer 为什么使用多头注意力？为什么不用一个头？",
            "Why does the Transformer use multi-head attention instead of one head?",
        ),
        answer=Localized(
            "多头把表示投影到多个子空间，每个头可以关注不同位置和不同类型的关系（如句法、指代），"
            "相当于集成，表达能力更强；单头的注意力会被少数位置主导，平均后丢失信息。计算量与单头相近。",
            "Multiple heads project the representation into several subspaces; each head can attend to different "
            "positions and kinds of relations (syntax, coreference), like an ensemble, which is more expressive. "
            "A single head is dominated by a few positions and averaging loses information. The cost is similar.",
        ),
        key_points=(
            make_kp(
                "subspaces",
                3,
                "多个头把表示投影到不同子空间",
                "Heads project into different representation subspaces",
                ("不同子空间", "多个子空间", "子空间"),
                ("different subspaces", "representation subspaces", "subspace"),
            ),
            make_kp(
                "relations",
                2,
                "不同头关注不同位置和关系",
                "Different heads attend to different positions and relations",
                ("关注不同位置", "不同的关系", "句法 & 指代"),
                ("different positions", "different relations", "syntax & coreference"),
            ),
            make_kp(
                "cost",
                1,
                "计算量与单头相近",
                "The cost is similar to a single head",
                ("计算量相近", "计算量差不多", "计算量 & 相近"),
                ("similar cost", "same cost", "cost is similar"),
            ),
        ),
        hint=Localized("想想每个头能学到什么。", "Think about what each head can learn."),
        tags=("attention",),
    )


def make_bank() -> Bank:
    """A three-question bank built from the fixtures."""
    qs = [make_scaling(), make_layernorm(), make_multihead()]
    return Bank({q.id: q for q in qs}, {"5.9": "1.4"}, {1: SECTION})


@pytest.fixture(scope="module")
def grader() -> Grader:
    """One grader over the fixture bank."""
    return Grader(make_bank())


@pytest.fixture(scope="module")
def scaling() -> Question:
    """The scaling question as stored in the fixture bank."""
    return make_bank().questions["1.4"]


def status(grade: Grade, kid: str) -> str:
    """The status of one key point in a grade."""
    return next(r.status for r in grade.key_points if r.key_point_id == kid)


# ----------------------------------------------------------------------------------- normalising


@pytest.mark.parametrize(
    "variant", ["√dk", "√d_k", "sqrt(d_k)", "根号dk", "dk的平方根", "d_k", "dk", "√(d_k)", r"\sqrt{d_k}", "D_K"]
)
def test_sqrt_dk_variants_normalise_to_one_form(variant: str) -> None:
    """Every spelling of (the root of) d_k becomes 'dk'."""
    assert normalize_phrase(f"除以{variant}") == "除以dk"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("d_model", "dmodel"),
        ("QK^T", "QKᵀ"),
        ("QK^T", "QK转置"),
        ("softmax", "soft-max"),
        ("Soft max", "SOFTMAX"),
        ("d_{model}", "d_model"),
    ],
)
def test_notation_variants_match(a: str, b: str) -> None:
    """d_model/dmodel, QK^T/QKᵀ/QK转置 and softmax/soft-max normalise alike."""
    assert normalize_phrase(a) == normalize_phrase(b)


def test_traditional_chinese_and_full_width_normalised() -> None:
    """Traditional characters become simplified, full-width Latin becomes ASCII, case is folded."""
    assert len(t2s_table()) > 2000
    assert normalize_phrase("點積的變異數與維度") == "点积的变异数与维度"
    assert normalize_phrase("ＳｏｆｔＭａｘ　飽和") == "softmax饱和"


def test_sentences_split_on_chinese_and_western_punctuation() -> None:
    """。！？；.!?; and line breaks end sentences; decimals do not."""
    parts = split_sentences("第一句。第二句！Third. Fourth? 5.5 stays; 六\n七")
    assert parts == ["第一句", "第二句", "Third", "Fourth", "5.5 stays", "六", "七"]


def test_stemmer_conflates_inflections() -> None:
    """Plurals, -ed/-ing and -ation forms share a stem; British -ise equals -ize."""
    assert stem("saturates") == stem("saturating") == stem("saturation") == stem("saturated")
    assert stem("normalisation") == stem("normalization") == stem("normalizes")
    assert stem("variances") == stem("variance")


# --------------------------------------------------------------------------------------- matching


def test_chinese_exact_alias_covers(grader: Grader, scaling: Question) -> None:
    """A Chinese alias found verbatim covers its key point, with the sentence as snippet."""
    g = grader.grade(scaling, "因为点积的方差随dk增大。所以要缩放。")
    assert status(g, "variance") == "covered"
    kp = next(r for r in g.key_points if r.key_point_id == "variance")
    assert kp.snippet == "因为点积的方差随dk增大" and kp.credit == 1.0


def test_chinese_notation_variant_matches_alias(grader: Grader, scaling: Question) -> None:
    """'方差随√d_k增大' matches the alias written '方差随dk增大'."""
    g = grader.grade(scaling, "点积的方差随√d_k增大，数值会很大。")
    assert status(g, "variance") == "covered"


def test_chinese_bigram_overlap_matches_inside_clause(grader: Grader, scaling: Question) -> None:
    """An inserted word ('随着 dk 的增大') still matches by character-bigram overlap."""
    g = grader.grade(scaling, "点积的方差会随着dk的增大而增大，这会带来问题。")
    assert status(g, "variance") == "covered"


@pytest.mark.parametrize(
    ("alias", "reply", "matches"),
    [
        ("梯度很小", "梯度非常小", True),  # a degree adverb replaced ('非常' is "very", not a negation)
        ("注意力权重很小", "注意力的权重非常小", True),  # a particle added, an adverb replaced
        ("推理时串行", "推理时也能并行", False),  # a content character replaced: the opposite claim
        ("单向依赖", "双向依赖", False),
        ("训练和推理一样", "训练和推理不一样", False),  # a negation in the window
    ],
)
def test_chinese_in_order_match_misses_only_function_characters(alias: str, reply: str, matches: bool) -> None:
    """An alias's characters in order, with a function character missing or replaced, still match;
    a missing content character or an added negation does not."""
    part = compile_part(alias, str)
    text = compact(normalize(reply))
    hits = ReplyIndex([Sentence(text, text, str)]).part_hits(part)
    assert bool(hits) == matches
    assert all(not h.negated for h in hits.values())


def test_traditional_reply_matches_simplified_alias(grader: Grader, scaling: Question) -> None:
    """A reply in traditional characters matches simplified aliases."""
    g = grader.grade(scaling, "點積數值太大時softmax會飽和，梯度消失，訓練困難。")
    assert status(g, "saturation") == "covered"


def test_english_alias_with_word_order_and_inflection(grader: Grader, scaling: Question) -> None:
    """'the variance of the dot product grows with dk' matches 'variance grows with d_k'."""
    g = grader.grade(scaling, "The variance of the dot product grows with dk, so the logits get large.")
    assert status(g, "variance") == "covered"


def test_english_typo_is_tolerated(grader: Grader, scaling: Question) -> None:
    """'varience' and 'saturaton' are read as 'variance' and 'saturation'."""
    g = grader.grade(scaling, "The varience grows with d_k and the softmax saturates, so we scale it back.")
    assert status(g, "variance") == "covered"
    assert status(g, "saturation") == "covered"


def test_short_words_need_exact_match(grader: Grader, scaling: Question) -> None:
    """'mean 0' is not matched by 'mead 0': short words are never fuzzy."""
    good = grader.grade(scaling, "Assume each component has mean 0 and the components are independent.")
    bad = grader.grade(scaling, "Assume each component has mead 0 and they are related in some way.")
    assert status(good, "independence") == "covered"
    assert status(bad, "independence") == "missed"


def test_mixed_language_reply(grader: Grader, scaling: Question) -> None:
    """Chinese sentences with English terms match both Chinese and English aliases."""
    g = grader.grade(
        scaling, "点积的 variance 会 grow with d_k，softmax 饱和之后 gradients vanish。除以√d_k后方差恢复为1。"
    )
    assert status(g, "variance") == "covered"
    assert status(g, "saturation") == "covered"
    assert status(g, "unit_variance") == "covered"


def test_cooccurrence_needs_same_sentence(grader: Grader, scaling: Question) -> None:
    """`方差 & dk` covers in one sentence, is partial over two adjacent sentences, and missed farther apart."""
    same = grader.grade(scaling, "这里的方差正比于dk。")
    adjacent = grader.grade(scaling, "这里讨论方差。另外还有dk。")
    apart = grader.grade(scaling, "这里讨论方差。然后说点别的。再说点别的。另外还有dk。")
    assert status(same, "variance") == "covered"
    assert status(adjacent, "variance") == "partial"
    assert status(apart, "variance") == "missed"


def test_partial_match_earns_partial_credit(grader: Grader) -> None:
    """Two of three content words of an English alias give a partial match worth half."""
    q = make_bank().questions["1.12"]
    g = grader.grade(q, "It is about the training setup versus what happens at inference time, more or less.")
    r = next(r for r in g.key_points if r.key_point_id == "train_infer")
    assert r.status == "partial" and r.credit == 0.5


def test_each_key_point_credited_once(grader: Grader, scaling: Question) -> None:
    """Saying one point many ways earns it once; the score stays below a complete answer's."""
    once = grader.grade(scaling, "因为softmax会饱和，梯度消失。")
    many = grader.grade(scaling, "因为softmax会饱和，梯度消失。梯度极小。梯度很小。进入饱和区以后梯度消失得更厉害。")
    full = grader.grade(
        scaling,
        "假设q和k各分量相互独立、均值为0、方差为1，点积的方差为dk，dk越大数值越大，softmax饱和，梯度消失。除以√dk后方差恢复为1。",
    )
    assert many.covered.count("saturation") == 1
    assert many.score <= once.score + 5
    assert full.score > many.score + 30


def test_complete_answer_scores_high_in_both_languages(grader: Grader, scaling: Question) -> None:
    """The reference answer itself, in either language, scores at least 85."""
    assert grader.grade(scaling, scaling.answer.zh).score >= 85
    assert grader.grade(scaling, scaling.answer.en).score >= 85


def test_partial_answer_scores_between(grader: Grader, scaling: Question) -> None:
    """One essential point explained in a sentence gives a middling score."""
    g = grader.grade(scaling, "如果不缩放，dk很大的时候点积数值会很大，softmax会进入饱和区，梯度非常小，模型很难训练。")
    assert status(g, "saturation") == "covered"
    assert 20 <= g.score <= 60


def test_markdown_is_stripped(grader: Grader, scaling: Question) -> None:
    """Headers, bullets, emphasis and code marks do not get in the way."""
    g = grader.grade(scaling, "## 原因\n- **方差随dk增大**\n- `softmax` 会饱和，*梯度消失*")
    assert status(g, "variance") == "covered" and status(g, "saturation") == "covered"


def test_grade_is_deterministic(grader: Grader, scaling: Question) -> None:
    """The same reply always gets the same grade, also from a second grader."""
    reply = "The varience grows with d_k; softmax saturates and gradients vanish. 除以√dk后方差为1。"
    first = grader.grade(scaling, reply)
    assert all(grader.grade(scaling, reply) == first for _ in range(3))
    assert Grader(make_bank()).grade(scaling, reply) == first


def test_grade_json_shape(grader: Grader, scaling: Question) -> None:
    """to_json carries qid, score, ids by status and flags."""
    g = grader.grade(scaling, "方差随dk增大，softmax饱和。")
    data = g.to_json()
    assert set(data) == {"qid", "score", "covered", "partial", "missed", "contradicted", "flags"}
    assert data["qid"] == "1.4" and data["covered"] == ["variance", "saturation"]
    assert data["missed"] == ["unit_variance", "independence"]
    assert isinstance(g.key_points[0], KeyPointResult) and 0 <= g.score <= 100


def test_question_outside_the_bank_can_be_graded(grader: Grader) -> None:
    """A question the grader was not built with (e.g. an edited copy) is still graded."""
    q = make_scaling()
    edited = Question(**{**{f: getattr(q, f) for f in q.__dataclass_fields__}, "id": "9.9"})
    g = grader.grade(edited, "方差随dk增大，softmax饱和，梯度消失。")
    assert g.qid == "9.9" and "variance" in g.covered


def test_grades_identical_across_processes() -> None:
    """Grading does not depend on hash randomisation: two interpreters with different seeds agree."""
    import os
    import subprocess
    import sys

    script = (
        "from tests.test_grading import make_bank\n"
        "from bot.grading import Grader\n"
        "b = make_bank(); g = Grader(b)\n"
        "replies = ['方差随dk增大，softmax饱和。', 'The varience grows with d_k; not saturation.', '方差 dk 饱和']\n"
        "for r in replies:\n"
        "    print(repr(g.grade(b.questions['1.4'], r)))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": root}
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=root, check=True
        )
        outs.append(run.stdout)
    assert outs[0] == outs[1] and outs[0].count("Grade(") == 3


def test_spelled_out_blanks_are_exactly_white_space_without_line_breaks() -> None:
    """The fast explicit blank class must agree with `[^\\S\\n]` on every code point."""
    fast = re.compile(BLANK)
    slow = re.compile(r"[^\S\n]")
    disagree = [c for c in map(chr, range(sys.maxunicode + 1)) if bool(fast.match(c)) != bool(slow.match(c))]
    assert disagree == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("注意力 机制  用 softmax", "注意力机制用softmax"),
        ("layer\tnorm  和 batch-norm", "layernorm和batchnorm"),
        ("pre-LN vs post  LN", "prenorm vs postnorm"),
        ("a\u3000b", "a b"),
        ("multi-head attention, drop-out", "multi head attention,dropout"),
    ],
)
def test_normalised_spacing(raw: str, expected: str) -> None:
    assert compact(normalize(raw)) == expected


def test_spaces_between_chinese_terms_become_separators() -> None:
    assert mark_cjk_spaces(normalize("方差 梯度\t饱和 softmax")) == "方差、梯度、饱和 softmax"
