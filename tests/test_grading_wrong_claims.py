"""Misconceptions listed in the bank (`wrong` of a key point): stated, they are flagged for the feedback.

They change no status and no score: lexical matching cannot tell for sure that a sentence makes the
claim, and three red teams found correct sentences that match claims.
"""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest

from bot.grading import Grader
from bot.grading._match import compile_part
from bot.grading.feedback import feedback, flag_message
from question_bank.schema import Bank, KeyPoint, Localized, Question, Section

SECTION = Section(1, Localized("结构", "Architecture"))


def _kp(kid: str, text: str, aliases_zh: list[str], aliases_en: list[str], **wrong: list[str]) -> KeyPoint:
    return KeyPoint(
        kid, 2.0, Localized(text, text), tuple(aliases_zh), tuple(aliases_en),
        tuple(wrong.get("zh", ())), tuple(wrong.get("en", ())),
    )


CROSS = Question(
    id="9.1",
    section=SECTION,
    source="encoder 和 decoder 如何交互？",
    text=Localized("编码器和解码器如何交互？", "How do the encoder and the decoder interact?"),
    answer=Localized(
        "交叉注意力中 Q 来自 decoder，K 和 V 来自 encoder 最后一层的输出；每个 decoder 层都用同一个输出。",
        "In cross-attention Q comes from the decoder and K and V from the last encoder layer's output; "
        "every decoder layer uses that same output.",
    ),
    key_points=(
        _kp(
            "sources", "Q from the decoder, K and V from the encoder.",
            ["Q来自decoder", "query & decoder"], ["query & decoder", "Q comes from the decoder"],
            zh=["Q来自encoder", "Query来自encoder", "encoder的输出作为Q", "Q...来自encoder"],
            en=["Q comes from the encoder", "queries come from the encoder"],
        ),
        _kp(
            "top", "Every decoder layer uses the final encoder output.",
            ["最后一层"], ["last encoder layer", "final encoder output"],
            zh=["逐层对应", "decoder第i层...encoder第i层"],
            en=["the corresponding encoder layer", "layer i ... encoder layer i"],
        ),
        _kp("mask", "The decoder's self-attention is causal.", ["因果掩码"], ["causal mask"]),
    ),
    hint=Localized("想想 Q 和 K、V 分别来自哪里。", "Where do Q and K, V come from?"),
)


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader(Bank({CROSS.id: CROSS}, {}, {1: SECTION}))


@pytest.mark.parametrize(
    "reply",
    [
        "交叉注意力里 Q 来自 encoder，K 和 V 由 decoder 提供，每个 decoder 层都用 encoder 最后一层。",
        "In cross-attention Q comes from the encoder. Every layer uses the final encoder output.",
        # a loose alias of the point ("query & decoder") fits the same sentence: the misconception wins
        "Query 来自 encoder，而 key 和 value 由 decoder 给出，每层都用 encoder 最后一层的输出。",
    ],
)
def test_a_stated_misconception_is_flagged(grader: Grader, reply: str) -> None:
    grade = grader.grade(CROSS, reply)
    assert grade.misconceptions == ("sources",)
    assert "misconception" in grade.flags
    assert "misconception" in grade.to_json()["flags"]  # type: ignore[operator]


def test_a_misconception_changes_no_status_and_no_score(grader: Grader) -> None:
    plain_kps = tuple(replace(kp, wrong_zh=(), wrong_en=()) for kp in CROSS.key_points)
    plain_q = replace(CROSS, key_points=plain_kps)
    plain = Grader(Bank({plain_q.id: plain_q}, {}, {1: SECTION}))
    reply = "交叉注意力里 Q 来自 encoder，K 和 V 由 decoder 提供，每个 decoder 层都用 encoder 最后一层。"
    before, after = plain.grade(plain_q, reply), grader.grade(CROSS, reply)
    assert after.key_points == before.key_points and after.score == before.score
    assert after.misconceptions == ("sources",) and not before.misconceptions


def test_the_feedback_names_the_point_to_check(grader: Grader) -> None:
    grade = grader.grade(CROSS, "交叉注意力里 Q 来自 encoder，K 和 V 由 decoder 提供。")
    zh = feedback(grade, CROSS, "zh").flags
    en = feedback(grade, CROSS, "en").flags
    assert any("可能的误区" in m and "Q from the decoder" in m for m in zh)
    assert any("misconception" in m and "Q from the decoder" in m for m in en)
    stored = replace(grade, misconceptions=())  # a grade read back from storage keeps only the flag
    assert feedback(stored, CROSS, "en").flags == (flag_message("misconception", "en"),)


def test_a_grade_with_a_misconception_survives_pickling(grader: Grader) -> None:
    """Grades travel from the grading worker by pickle."""
    grade = grader.grade(CROSS, "交叉注意力里 Q 来自 encoder，K 和 V 由 decoder 提供。")
    copy = pickle.loads(pickle.dumps(grade))  # noqa: S301 - our own object, made just above
    assert copy == grade and copy.misconceptions == ("sources",)


@pytest.mark.parametrize(
    "reply",
    [
        # denied
        "It is not true that Q comes from the encoder: Q comes from the decoder, and K and V from the last "
        "encoder layer.",
        # supposed or reported, not claimed
        "如果 Q 来自 encoder，decoder 就没法按自己的上下文去查询了；实际上 Q 来自 decoder。",
        "A common mistake is to say Q comes from the encoder; Q comes from the decoder.",
        # the claim's words in another order: matched only as the exact phrase
        "K and V come from the encoder, Q comes from the decoder, and the final encoder output is shared.",
    ],
)
def test_a_denied_supposed_or_reordered_misconception_is_not_one(grader: Grader, reply: str) -> None:
    grade = grader.grade(CROSS, reply)
    assert not grade.misconceptions and "misconception" not in grade.flags


def test_a_near_miss_of_a_misconception_is_not_one(grader: Grader) -> None:
    """Wrong claims match exactly: a one-character change is not the claim (no fuzzy matching)."""
    grade = grader.grade(CROSS, "每个 decoder 层都用 encoder 最后一层，和层数逐一对应无关；Q 来自 decoder。")
    assert not grade.misconceptions


def test_a_reply_that_also_makes_the_point_is_not_flagged(grader: Grader) -> None:
    """A claim's words in a reply that states the point itself in another sentence (here about another
    attention) are not held against it."""
    reply = "交叉注意力里 Q 来自 decoder，K 和 V 来自 encoder 最后一层。编码器自注意力里，Q来自encoder自己。"
    assert not grader.grade(CROSS, reply).misconceptions


@pytest.mark.parametrize(
    "reply",
    [
        "Q 来自 encoder？不是，Q 来自 decoder。",
        "Does Q come from the encoder? No. Q comes from the decoder.",
        "Q 来自 encoder——这是错的。",
        "Saying Q comes from the encoder is a classic bug in homemade implementations.",
        # a contrast in the sentence: the claim is one side of it
        "Q comes from the encoder in some old diagrams, but in the paper Q comes from the decoder.",
    ],
)
def test_a_misconception_asked_and_rejected_is_not_claimed(grader: Grader, reply: str) -> None:
    assert "sources" not in grader.grade(CROSS, reply).misconceptions


@pytest.mark.parametrize(
    "reply",
    [
        "decoder 第 i 层读取的是 encoder 第 i 层的输出。",
        "Decoder layer i reads encoder layer i.",
        "Q 也来自 encoder，K 和 V 来自 decoder；每个 decoder 层都用 encoder 最后一层。",
    ],
)
def test_a_gap_in_a_claim_takes_a_few_words_of_one_clause(grader: Grader, reply: str) -> None:
    grade = grader.grade(CROSS, reply)
    assert grade.misconceptions


@pytest.mark.parametrize(
    "reply",
    [
        # a gap does not cross a connective, a comma, a list mark, or the inside of a word
        "Q 来自解码器而 KV 来自 encoder，每个 decoder 层都用 encoder 最后一层的输出。",
        "编码器的自注意力里 Q、K、V 都来自 encoder，交叉注意力里 Q 来自 decoder，都用 encoder 最后一层。",
        "编码器自注意力的 QKV 都来自 encoder；交叉注意力里 Q 来自 decoder，用 encoder 最后一层的输出。",
        "decoder 第 i 层只看 encoder 最后一层的输出, encoder 第 i 层的输出只给 encoder 第 i+1 层。",
        # reported, not claimed
        "常有人说 Q 来自 encoder，其实 Q 来自 decoder，K 和 V 来自 encoder 最后一层。",
        "People often say the query comes from the encoder, but Q comes from the decoder and K, V from the "
        "final encoder output.",
    ],
)
def test_what_a_gap_or_a_report_does_not_claim(grader: Grader, reply: str) -> None:
    grade = grader.grade(CROSS, reply)
    assert not grade.misconceptions


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("the encoder also uses a causal mask", True),
        ("编码器的自注意力也用因果掩码", True),
        # a gap crosses no hyphen: "encoder-decoder" is another subject
        ("in the encoder-decoder model the causal mask is only in the decoder", False),
        ("编码器-解码器模型里因果掩码只在解码器", False),
        # nor a connective
        ("the encoder sees everything while the decoder has a causal mask", False),
    ],
)
def test_where_a_gap_reaches(text: str, found: bool) -> None:
    parts = [compile_part(raw, lambda w: w, exact=True) for raw in ("encoder ... causal mask", "编码器...因果掩码")]
    assert any(p is not None and p.regex is not None and p.regex.search(text) for p in parts) is found
