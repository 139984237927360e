"""The grader: key-point matching with negation, TF-IDF similarity, and anti-gaming checks.

`Grader(bank)` does all the expensive work once (normalised aliases, IDF, reference vectors,
question n-grams); `Grader.grade` is then a pure, deterministic function of (question, reply).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.grading._lexicon import EN_STOP_WORDS, HYPOTHETICAL
from bot.grading._match import STRONG, Alias, Hit, Part, PartIndex, ReplyIndex, compile_alias, intern_parts
from bot.grading._reply import Sentence, mask_copied, question_grams, tfidf_features
from bot.grading._signals import SentenceText, Shape, is_keyword_list, shape
from bot.grading._text import (
    UNIT_RE,
    WORD_RE,
    compact,
    mark_cjk_spaces,
    normalize,
    split_sentences,
    stem,
    strip_markdown,
)
from bot.grading._vectors import FloatArray, IntArray, SparseVector, TfIdf, dot
from question_bank.schema import Bank, KeyPoint, Question

Status = Literal["covered", "partial", "missed", "contradicted"]

FLAG_ORDER = (
    "empty", "too_long", "too_short", "copied_question", "repetitive", "keyword_list", "off_topic", "misconception",
)

# Score model.  Similarity is rescaled from [_SIM_LO, _SIM_HI] to [0, 1]; key-point credit reaches its
# full share at _KP_FULL of the total weight (an answer need not name every minor point).
_KP_SHARE = 0.7
_SIM_SHARE = 0.3
_KP_FULL = 1.0
_SIM_LO = 0.0
_SIM_HI = 0.30
_CONTRADICTION_PENALTY = 0.25
_KEYWORD_CAP = 2
_KEYWORD_FACTOR = 0.1
_OFF_TOPIC_CAP = 2
_OFF_TOPIC_MAX_KP = 0.25
_COPY_CAP = 2
_ATTEMPT_FLOOR = 3  # an on-topic answer in sentences ranks above every gamed reply
_SNIPPET_CHARS = 160
_LISTED_CREDIT = 0.4
_STOP = EN_STOP_WORDS | frozenset(stem(w) for w in EN_STOP_WORDS)

_HYPOTHETICAL_RE = re.compile(HYPOTHETICAL)
# a sentence that opens by rejecting what came before: "Q 来自 encoder？不是，……", "LN over the batch? No, ..."
_REJECTION_RE = re.compile(
    r"\W*(?:不是|不对|不会|不用|不需要|没有|错|并非|并不|其实|实际上|(?:no|nope|not|wrong|false|actually|incorrect)(?![a-z]))"
)


def _made_elsewhere(index: ReplyIndex, aliases: tuple[Alias, ...], viable: Iterable[int], sentence: int) -> bool:
    """Whether a right alias of the point matches, closely and affirmatively, outside `sentence`."""
    return any(
        not h.negated and h.strength == STRONG and h.sentence != sentence
        for a in viable
        if not aliases[a].wrong
        for h in index.alias_hits(aliases[a])
    )


def _claims(index: ReplyIndex, hit: Hit) -> bool:
    """Whether a wrong claim's match is claimed: a close match, not denied, not supposed, compared or
    reported in its sentence, and not rejected by the next sentence."""
    if hit.negated or hit.strength != STRONG:
        return False
    sentences = index.sentences
    if _HYPOTHETICAL_RE.search(sentences[hit.sentence].text):
        return False
    after = hit.sentence + 1
    return not (after < len(sentences) and _REJECTION_RE.match(sentences[after].text))


EXTRA_CACHE_SIZE = 512  # prepared questions from outside the bank (drill probes)


class KeyPointResult(NamedTuple):
    """How one key point fared: its status, the sentence that decided it, and the credit earned.

    A named tuple rather than a frozen dataclass: each grade makes one per key point, and a frozen
    dataclass costs about twice as much to build (and to unpickle, when grades come from a worker).
    """

    key_point_id: str
    status: Status
    snippet: str | None
    credit: float


@dataclass(frozen=True, slots=True)
class Grade:
    """The grade of one reply to one question."""

    qid: str
    score: int
    key_points: tuple[KeyPointResult, ...]
    flags: tuple[str, ...]
    similarity: float
    # key points whose listed misconception the reply seems to state (flag `misconception`); a hint for
    # the feedback only: lexical matching cannot tell for sure, so it changes no status and no score
    misconceptions: tuple[str, ...] = ()
    _by_status: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the ids by status are read many times per grade (feedback, storage, probes): sort them once
        by_status: dict[str, list[str]] = {"covered": [], "partial": [], "missed": [], "contradicted": []}
        for r in self.key_points:
            by_status[r.status].append(r.key_point_id)
        object.__setattr__(self, "_by_status", {k: tuple(v) for k, v in by_status.items()})

    def __reduce__(
        self,
    ) -> tuple[type[Grade], tuple[str, int, tuple[KeyPointResult, ...], tuple[str, ...], float, tuple[str, ...]]]:
        return Grade, (self.qid, self.score, self.key_points, self.flags, self.similarity, self.misconceptions)

    def _ids(self, status: Status) -> tuple[str, ...]:
        return self._by_status[status]

    @property
    def covered(self) -> tuple[str, ...]:
        return self._ids("covered")

    @property
    def partial(self) -> tuple[str, ...]:
        return self._ids("partial")

    @property
    def missed(self) -> tuple[str, ...]:
        return self._ids("missed")

    @property
    def contradicted(self) -> tuple[str, ...]:
        return self._ids("contradicted")

    def to_json(self) -> dict[str, object]:
        """The grade as stored and printed: ids by status plus flags."""
        return {
            "qid": self.qid,
            "score": self.score,
            "covered": list(self.covered),
            "partial": list(self.partial),
            "missed": list(self.missed),
            "contradicted": list(self.contradicted),
            "flags": list(self.flags),
        }


class _Canon(dict[str, str]):
    """Word -> stem, with typo correction towards the bank's alias vocabulary.

    A dict whose missing keys are computed (and kept, up to a bound): looking a known word up is a
    plain dict lookup, which `map(canon.__getitem__, words)` runs without a Python call per word.
    """

    _LIMIT = 200_000

    def __init__(self) -> None:
        super().__init__()
        self.known: set[str] = set()
        self._by_first: dict[str, list[str]] = {}

    def freeze(self, known: Iterable[str], targets: Iterable[str]) -> None:
        self.known = set(known)
        by_first: dict[str, list[str]] = {}
        for t in sorted(set(targets)):
            if len(t) >= 5 and t.isalpha():
                by_first.setdefault(t[0], []).append(t)
        self._by_first = by_first
        self.clear()

    def __missing__(self, word: str) -> str:
        s = stem(word)
        if len(s) >= 6 and s not in self.known and s.isalpha():
            choices = self._by_first.get(s[0])
            if choices:
                limit = 1 if len(s) < 9 else 2
                best = process.extractOne(s, choices, scorer=OSA.distance, score_cutoff=limit)
                if best is not None:
                    s = best[0]
        if len(self) < self._LIMIT:
            self[word] = s
        return s

    def __call__(self, word: str) -> str:
        return self[word]

    @property
    def lookup(self) -> Callable[[str], str]:
        """The same function as a C-level bound method: cheaper per word in `map` than `__call__`."""
        return self.__getitem__


@dataclass(frozen=True, slots=True)
class _QuestionData:
    question: Question
    row: int  # index of the question; its references are rows 2*row (zh) and 2*row+1 (en)
    grams: frozenset[tuple[str, str, str, str]]
    key_points: tuple[tuple[KeyPoint, tuple[Alias, ...]], ...]
    refs: tuple[SparseVector, ...]
    part_index: PartIndex
    part_owner: tuple[tuple[int, int], ...]  # part index -> (key point index, alias index)
    alias_sizes: dict[tuple[int, int], int]  # (key point index, alias index) -> number of parts
    weights: tuple[float, ...]  # of the key points, in order
    total_weight: float


class _Matched(NamedTuple):
    results: list[KeyPointResult]
    evidenced: int  # key points with affirmative evidence
    listed_only: int  # of those, the ones whose evidence is only in lists of terms
    misconceived: tuple[str, ...]  # key points whose listed misconception the reply states


@dataclass(frozen=True, slots=True)
class _Prepared:
    sentences: list[Sentence]
    shape: Shape
    copied_ratio: float
    duplicates: int
    units: int


def _texts_of(q: Question) -> list[str]:
    return [q.text.zh, q.text.en, q.source]


def _sentences_of(text: str) -> list[str]:
    return [compact(normalize(s)) for s in split_sentences(strip_markdown(text))]


class Grader:
    """Grades free-text replies against the bank's key points and reference answers."""

    def __init__(self, bank: Bank, *, max_chars: int = 4000) -> None:
        self.max_chars = max_chars
        self._canon = _Canon()
        questions = sorted(bank.questions.values(), key=lambda q: q.id)
        # 1. vocabulary for typo correction: every word of the bank, and alias words as targets
        known: set[str] = set(_STOP)
        targets: set[str] = set()
        for q in questions:
            for t in [*_texts_of(q), q.answer.zh, q.answer.en, q.hint.zh, q.hint.en]:
                known.update(stem(w) for w in WORD_RE.findall(normalize(t)))
            for kp in q.key_points:
                for t in (kp.text.zh, kp.text.en, *kp.aliases):
                    words = [stem(w) for w in WORD_RE.findall(normalize(t))]
                    known.update(words)
                    targets.update(words)
        self._canon.freeze(known, targets)
        self._stem_of = self._canon.lookup
        # 2. IDF over the whole bank
        docs: list[list[str]] = []
        for q in questions:
            fields = [q.text.zh, q.text.en, q.answer.zh, q.answer.en]
            fields += [t for kp in q.key_points for t in (kp.text.zh, kp.text.en)]
            docs.extend(self._features(f) for f in fields if f)
        self._tfidf = TfIdf(docs)
        # 3. per question: n-grams of the question, compiled aliases, reference vectors
        self._data: dict[str, _QuestionData] = {}
        self._extra: dict[str, _QuestionData] = {}  # insertion-ordered: the oldest is dropped first
        all_refs: list[SparseVector] = []
        self._order: list[str] = []
        for row, q in enumerate(questions):
            data = self._prepare_question(q, row)
            self._data[q.id] = data
            self._order.append(q.id)
            all_refs.extend(data.refs)
        self._tfidf.set_references(all_refs)
        self._scored = np.array([bool(self._data[qid].refs[0] or self._data[qid].refs[1])
                                 for qid in self._order], dtype=bool)

    # ------------------------------------------------------------------------------ preparation

    def _features(self, text: str, grams: frozenset[tuple[str, str, str, str]] = frozenset()) -> list[str]:
        sents = []
        for s in _sentences_of(text):
            masked, _ = mask_copied(s, UNIT_RE.findall(s), grams)
            sents.append(Sentence(s, masked, self._stem_of))
        return tfidf_features(sents, _STOP)

    def _prepare_question(self, q: Question, row: int) -> _QuestionData:
        grams = question_grams([s for t in _texts_of(q) for s in _sentences_of(t)])
        kps = []
        all_parts: list[Part] = []
        owner: list[tuple[int, int]] = []
        pool: dict[tuple[str, bool, bool], Part] = {}
        for k, kp in enumerate(q.key_points):
            point = [Sentence(s, s, self._stem_of) for t in (kp.text.zh, kp.text.en) for s in _sentences_of(t)]
            compiled = [compile_alias(x, self._canon, point) for x in kp.aliases]
            compiled += [compile_alias(x, self._canon, wrong=True) for x in kp.wrong]  # after the right ones
            aliases = intern_parts([a for a in compiled if a is not None], pool)
            kps.append((kp, aliases))
            for a, alias in enumerate(aliases):
                all_parts.extend(alias.parts)
                owner.extend((k, a) for _ in alias.parts)
        refs = []
        for lang in ("zh", "en"):
            parts = [q.answer.zh if lang == "zh" else q.answer.en]
            parts += [kp.text.zh if lang == "zh" else kp.text.en for kp in q.key_points]
            parts += [
                a.replace("&", " ") for kp in q.key_points for a in (kp.aliases_zh if lang == "zh" else kp.aliases_en)
            ]
            text = "\n".join(p for p in parts if p)
            refs.append(self._tfidf.sparse(self._features(text, grams)))
        sizes = {(k, a): len(alias.parts) for k, (_, aliases) in enumerate(kps) for a, alias in enumerate(aliases)}
        weights = tuple(kp.weight for kp in q.key_points)
        return _QuestionData(
            q, row, grams, tuple(kps), tuple(refs), PartIndex(all_parts), tuple(owner), sizes, weights, sum(weights)
        )

    def _data_for(self, question: Question) -> _QuestionData:
        data = self._data.get(question.id) or self._extra.get(question.id)
        if data is not None and (data.question is question or data.question == question):
            return data
        # A question built outside the bank (a drill's probe on one key point): prepare it once
        # and keep a bounded number, since probes repeat across people and drills.
        data = self._prepare_question(question, -1)
        self._extra[question.id] = data
        if len(self._extra) > EXTRA_CACHE_SIZE:
            self._extra.pop(next(iter(self._extra)))
        return data

    # ---------------------------------------------------------------------------------- grading

    def _prepare_reply(self, text: str, grams: frozenset[tuple[str, str, str, str]]) -> _Prepared:
        raws = split_sentences(strip_markdown(text))
        normed = normalize("\n".join(raws))
        compacts = compact(normed).split("\n")
        marked = mark_cjk_spaces(normed).split("\n")
        if len(compacts) != len(raws) or len(marked) != len(raws):
            normed_each = [normalize(r) for r in raws]
            compacts = [compact(n) for n in normed_each]
            marked = [mark_cjk_spaces(n) for n in normed_each]
        seen: set[str] = set()
        sentences: list[Sentence] = []
        shaped: list[SentenceText] = []
        duplicates = copied = units = 0
        for raw, c, mark in zip(raws, compacts, marked, strict=True):
            c = c.strip()
            # one tokenisation serves the duplicate check, copy masking, word stems and the shape
            sent_units = UNIT_RE.findall(c)
            key = "".join(sent_units)
            if not key:
                continue
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            words = [u for u in sent_units if u < "\u3400"]  # a unit is a word or one CJK character
            masked, removed = mask_copied(c, sent_units, grams)
            copied += removed
            units += len(sent_units)
            shaped.append(SentenceText(mark, len(sent_units), len(sent_units) - len(words), words))
            sentences.append(Sentence(raw, masked, self._stem_of, None if removed else words))
        sh = shape(shaped)
        for sent, listed, keys in zip(sentences, sh.listed, sh.bare_keys, strict=True):
            sent.listed = listed
            sent.bare_keys = keys
        return _Prepared(sentences, sh, copied / units if units else 0.0, duplicates, units)

    @staticmethod
    def _match_key_points(data: _QuestionData, index: ReplyIndex) -> _Matched:
        """Each key point's best affirmative and best negated evidence decide its status and credit.

        A match inside a listed sentence or a bare list item earns only `_LISTED_CREDIT` of its value:
        naming a term is not explaining it.  Also counts the key points with affirmative evidence and
        those of them with only listed evidence, and lists the points whose misconception is stated.
        """
        results = []
        misconceived: list[str] = []
        evidenced = listed_only = 0
        # aliases all of whose parts may match, per key point, in bank order
        found = Counter(map(data.part_owner.__getitem__, data.part_index.candidates(index)))
        viable: dict[int, list[int]] = {}
        sizes = data.alias_sizes
        for ka, n in sorted(found.items()):
            if n == sizes[ka]:
                viable.setdefault(ka[0], []).append(ka[1])
        for k, (kp, aliases) in enumerate(data.key_points):
            aff = neg = 0.0  # strengths
            aff_value = 0.0
            aff_listed = False
            aff_sent = neg_sent = claimed = -1
            for a in viable.get(k, ()):
                alias = aliases[a]
                if alias.wrong:
                    if claimed < 0:
                        claimed = next((h.sentence for h in index.alias_hits(alias) if _claims(index, h)), -1)
                    continue
                if aff_value == STRONG:
                    continue  # nothing beats it; only the point's wrong claims are left to look at
                for hit in index.alias_hits(alias):
                    if hit.negated:
                        if hit.strength > neg:
                            neg, neg_sent = hit.strength, hit.sentence
                        continue
                    value = hit.strength * (_LISTED_CREDIT if hit.listed else 1.0)
                    if value > aff_value:
                        aff, aff_value, aff_sent, aff_listed = hit.strength, value, hit.sentence, hit.listed
            status: Status
            if claimed >= 0 and not _made_elsewhere(index, aliases, viable.get(k, ()), claimed):
                misconceived.append(kp.id)
            if neg > aff:
                status, credit, sent = "contradicted", 0.0, neg_sent
            elif aff_value == STRONG:
                status, credit, sent = "covered", 1.0, aff_sent
            elif aff_value > 0:
                status, credit, sent = "partial", aff_value, aff_sent
            else:
                status, credit, sent = "missed", 0.0, -1
            snippet = index.sentences[sent].raw[:_SNIPPET_CHARS] if sent >= 0 else None
            results.append(KeyPointResult(kp.id, status, snippet, round(credit, 4)))
            if status in ("covered", "partial"):
                evidenced += 1
                listed_only += aff_listed
        return _Matched(results, evidenced, listed_only, tuple(misconceived))

    def grade(self, question: Question, reply: str) -> Grade:
        """Grade `reply` as an answer to `question`: deterministic, no I/O."""
        data = self._data_for(question)
        flags: set[str] = set()
        text = reply
        if len(text) > self.max_chars:
            text = text[: self.max_chars]
            flags.add("too_long")
        prepared = self._prepare_reply(text, data.grams) if text.strip() else None
        if prepared is None or not prepared.sentences:
            flags.add("empty")
            missed = tuple(KeyPointResult(kp.id, "missed", None, 0.0) for kp, _ in data.key_points)
            return Grade(question.id, 0, missed, _ordered(flags), 0.0)
        index = ReplyIndex(prepared.sentences)
        results, evidenced, listed_only, misconceived = self._match_key_points(data, index)
        idx, w = self._tfidf.vector(tfidf_features(prepared.sentences, _STOP))
        if data.row >= 0:
            own = max(self._tfidf.similarity(idx, w, 2 * data.row), self._tfidf.similarity(idx, w, 2 * data.row + 1))
        else:
            own = max((dot(idx, w, ref) for ref in data.refs), default=0.0)

        total = data.total_weight
        pairs = list(zip(data.weights, results, strict=True))
        kp_score = sum(w * r.credit for w, r in pairs) / total if total else None
        contra = sum(w for w, r in pairs if r.status == "contradicted") / total if total else 0.0
        score = combine(kp_score, contra, own)

        sh = prepared.shape
        if sh.weight < 4:
            flags.add("too_short")
            if not evidenced:  # a few words and no key point: any overlap with the reference is chance
                score = 0
        if prepared.duplicates:
            flags.add("repetitive")
        if prepared.copied_ratio >= 0.6:
            flags.add("copied_question")
            if prepared.copied_ratio >= 0.85:
                score = min(score, _COPY_CAP)
        # strung-together terms: by shape, or because most of the evidence is terms in bare list items
        if is_keyword_list(sh) or (listed_only >= 3 and listed_only >= 0.6 * evidenced):
            flags.add("keyword_list")
            score = min(round(score * _KEYWORD_FACTOR), _KEYWORD_CAP)
        # Off-topic needs something to judge and nothing of this question: a few words ("不知道", "no idea")
        # belong to no question, and a reply that fully makes one of its key points is partly on topic.
        if (
            "too_short" not in flags
            and (kp_score is None or kp_score < _OFF_TOPIC_MAX_KP)
            and not any(r.status == "covered" for r in results)
            and self._off_topic(data, idx, w, own, kp_score, index)
        ):
            flags.add("off_topic")
            score = min(score, _OFF_TOPIC_CAP)
        if own >= 0.01 and not flags & {"too_short", "copied_question", "keyword_list", "off_topic"}:
            score = max(score, _ATTEMPT_FLOOR)
        if misconceived:
            flags.add("misconception")
        return Grade(question.id, score, tuple(results), _ordered(flags), round(own, 4), misconceived)

    def _off_topic(
        self, data: _QuestionData, idx: IntArray, w: FloatArray, own: float, kp_score: float | None, index: ReplyIndex
    ) -> bool:
        """Much closer to another question's reference than to this one's, with few key points here."""
        if self._tfidf.n_refs == 0 or idx.size == 0:
            return False
        sims = self._tfidf.similarities(idx, w)
        per_q = np.maximum(sims[0::2], sims[1::2])
        if data.row >= 0:
            per_q[data.row] = -1.0
        per_q[~self._scored] = -1.0
        best = int(np.argmax(per_q))
        other = float(per_q[best])
        if other < 0.12:
            return False
        if other >= 1.8 * own + 0.03:
            return True
        if other < 1.2 * own + 0.02:
            return False  # not clearly closer to the other question: no need to look at its key points
        other_data = self._data[self._order[best]]
        other_results = self._match_key_points(other_data, index).results
        total = sum(kp.weight for kp, _ in other_data.key_points)
        if not total:
            return False
        pairs = zip(other_data.key_points, other_results, strict=True)
        other_kp = sum(kp.weight * r.credit for (kp, _), r in pairs) / total
        return other_kp >= 0.5 and other_kp >= (kp_score or 0.0) + 0.3


def combine(kp_score: float | None, contradicted: float, similarity: float) -> int:
    """The score model: key-point credit (saturating, so that the essentials make a full answer) plus a
    small share for similarity to the reference, minus a penalty for contradicted key points."""
    sim_n = min(1.0, max(0.0, (similarity - _SIM_LO) / (_SIM_HI - _SIM_LO)))
    if kp_score is None:
        base = sim_n
    else:
        kp = min(1.0, kp_score / _KP_FULL)
        # a reply that denies key points talks about the topic, but its similarity earns less
        base = _KP_SHARE * kp + _SIM_SHARE * sim_n * max(0.0, 1.0 - 2 * contradicted)
        base -= _CONTRADICTION_PENALTY * contradicted
    return round(100 * min(1.0, max(0.0, base)))


def _ordered(flags: set[str]) -> tuple[str, ...]:
    return tuple(f for f in FLAG_ORDER if f in flags) + tuple(sorted(flags - set(FLAG_ORDER)))


__all__ = ["Grade", "Grader", "KeyPointResult", "Status", "combine"]
