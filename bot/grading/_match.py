"""Key-point aliases compiled at load, and their matching against a reply.

An alias is one or more parts joined by `&` (all parts in the same sentence).  A part that contains
CJK characters is matched as a character sequence (exactly, or by character-bigram overlap inside a
clause); a Latin-script part is matched by word stems (typo-tolerant through the reply's word
canonicalisation) within a small window, in any order.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import chain, pairwise
from typing import NamedTuple

from bot.grading._lexicon import ALIAS_STOP_WORDS, CJK, SOFT_CJK
from bot.grading._reply import PROBLEM_RE, Sentence, has_cue
from bot.grading._text import CJK_RUN_RE, UNIT_RE, WORD_RE, normalize_phrase, stem

STRONG = 1.0
PARTIAL = 0.5

_HAS_CJK = re.compile(f"[{CJK}]")
_ALIAS_STOP = ALIAS_STOP_WORDS | frozenset(stem(w) for w in ALIAS_STOP_WORDS)
_STRONG_OVERLAP = 0.8
_PARTIAL_OVERLAP = 0.6


@dataclass(frozen=True, slots=True)
class Part:
    """One `&`-separated piece of an alias, pre-normalised."""

    text: str
    cjk: bool
    regex: re.Pattern[str] | None
    feats: tuple[str, ...]
    stems: tuple[str, ...]
    content: tuple[str, ...]
    own_cue: bool
    needed: frozenset[str]  # feats (CJK) or content stems (Latin), for quick rejection
    problem: bool  # the phrase names a problem (see Sentence.negated)
    units: tuple[str, ...] = ()  # CJK characters and words, for in-order matching with gaps
    unit_set: frozenset[str] = frozenset()
    # the key point itself states this phrase in the negative ("没有固定长度向量的瓶颈"), so a negated
    # mention agrees with it: negation is not checked
    negative_in_point: bool = False
    # matched only as the exact phrase (a misconception: a near miss may well be the right claim)
    exact_only: bool = False


@dataclass(frozen=True, slots=True)
class Alias:
    text: str
    parts: tuple[Part, ...]
    wrong: bool = False  # a claim that gets the key point wrong: stating it flags a possible misconception


class Hit(NamedTuple):
    """The best way one alias matched one sentence (a tuple: many are made per reply)."""

    strength: float
    negated: bool
    sentence: int
    listed: bool = False  # every part sits in a listed sentence or a bare list item


# In a wrong claim, '...' stands for a short gap inside one clause: a few CJK characters ("编码器...因果掩码"
# finds "编码器的自注意力也用因果掩码") or a few words ("the encoder ... causal mask").  A gap never
# crosses a clause mark, a bracket, a hyphen ("encoder-decoder") or a connective: "Q 来自解码器而 KV 来自
# encoder" must not state "Q...来自encoder", nor "LN normalises features while BN normalises over the
# batch" "LN...over the batch".
_GAP_MARK = re.compile(r"\.\.\.|…")
_GAP_CJK = r"(?:(?![而但却和与及或则])[^,;:()\[\]/、\n-]){0,10}?"
_GAP_LATIN = (
    r"(?:(?!(?<![a-z])(?:but|while|whereas|and|or|unlike|than|instead|versus|vs)(?![a-z]))[^,;:()\[\]/\n-]){0,24}?"
)


def _gapped(raw: str) -> tuple[str, str]:
    """The normalised text of a wrong claim with '...' gaps, and its regex (pieces in order)."""
    pieces = [p for p in (normalize_phrase(x) for x in _GAP_MARK.split(raw)) if p]
    pattern = re.escape(pieces[0]) if pieces else ""
    for before, after in pairwise(pieces):
        word_end, word_start = re.search(r"[a-z0-9]$", before), re.match(r"[a-z0-9]", after)
        # each piece is whole words at its ends: "q...来自encoder" is not found in "qkv 都来自 encoder"
        pattern += r"(?![a-z0-9])" if word_end else ""
        pattern += _GAP_LATIN if word_end and word_start else _GAP_CJK
        pattern += (r"(?<![a-z0-9])" if word_start else "") + re.escape(after)
    return "...".join(pieces), pattern


def compile_part(raw: str, canon: Callable[[str], str], *, exact: bool = False) -> Part | None:
    """Normalise one alias part; None when nothing is left.

    `exact` parts (of wrong claims) match only as the whole phrase, words in order, whatever script,
    with at most the short gaps that '...' marks: any-order word windows would find "Q comes from the
    encoder" in "K and V come from the encoder, Q comes from the decoder".
    """
    if exact:
        text, pattern = _gapped(raw)
    else:
        text = normalize_phrase(raw)
        pattern = re.escape(text)
    if not text:
        return None
    stems = tuple(canon(w) for w in WORD_RE.findall(text))
    if exact or _HAS_CJK.search(text):
        if re.match(r"[a-z0-9]", text):
            pattern = r"(?<![a-z0-9])" + pattern
        if re.search(r"[a-z0-9]$", text):
            pattern += r"(?![a-z0-9])"
        bigrams = [r[i : i + 2] for r in CJK_RUN_RE.findall(text) for i in range(len(r) - 1)]
        feats = tuple(dict.fromkeys([*bigrams, *stems]))
        return Part(
            text, True, re.compile(pattern), feats, stems, (), has_cue(text), frozenset(feats),
            bool(PROBLEM_RE.search(text)), tuple(UNIT_RE.findall(text)), frozenset(UNIT_RE.findall(text)),
            exact_only=exact,
        )
    if not stems:
        return None
    content = tuple(dict.fromkeys(s for s in stems if s not in _ALIAS_STOP))
    if not any(len(c) > 2 and not c.isdigit() for c in content):
        content = tuple(dict.fromkeys(stems))  # "mean 0", "o(n)": every word counts
    return Part(text, False, None, (), stems, content, has_cue(text), frozenset(content), bool(PROBLEM_RE.search(text)))


def compile_alias(
    raw: str, canon: Callable[[str], str], point: Sequence[Sentence] = (), *, wrong: bool = False
) -> Alias | None:
    """Compile `A & B` aliases into parts; None when the alias is empty after normalisation.

    `point` holds the key point's own text; a part that the point states in the negative is marked so.
    `wrong` marks a misconception: its affirmative mention is flagged (see `Grade.misconceptions`).
    """
    parts = tuple(p for p in (compile_part(x, canon, exact=wrong) for x in raw.split("&")) if p is not None)
    if point:
        index = ReplyIndex(point)
        parts = tuple(
            replace(p, negative_in_point=True) if any(v[1] for v in index.part_hits(p).values()) else p for p in parts
        )
    return Alias(raw, parts, wrong) if parts else None


def intern_parts(aliases: Sequence[Alias], pool: dict[tuple[str, bool, bool], Part]) -> tuple[Alias, ...]:
    """The aliases with equal parts replaced by one shared object from `pool`.

    Equal text and matching rules give equal matches, and `ReplyIndex` caches matches by object.
    """
    out = []
    for alias in aliases:
        parts = tuple(pool.setdefault((p.text, p.negative_in_point, p.exact_only), p) for p in alias.parts)
        out.append(Alias(alias.text, parts, alias.wrong))
    return tuple(out)


def _min_window(lists: Sequence[list[int]]) -> tuple[int, int]:
    """Smallest [lo, hi] range containing one element of each sorted list."""
    if len(lists) == 1:
        return lists[0][0], lists[0][0]
    if all(len(lst) == 1 for lst in lists):  # each stem once (the usual case): a single window
        firsts = [lst[0] for lst in lists]
        return min(firsts), max(firsts)
    merged = sorted((p, k) for k, lst in enumerate(lists) for p in lst)
    need = len(lists)
    counts = [0] * need
    have = 0
    best = (merged[0][0], merged[-1][0])
    left = 0
    for right in range(len(merged)):
        k = merged[right][1]
        counts[k] += 1
        if counts[k] == 1:
            have += 1
        while have == need:
            lo, hi = merged[left][0], merged[right][0]
            if hi - lo < best[1] - best[0]:
                best = (lo, hi)
            kl = merged[left][1]
            counts[kl] -= 1
            if counts[kl] == 0:
                have -= 1
            left += 1
    return best


def _match_latin(part: Part, sent: Sentence) -> tuple[float, int, int] | None:
    """(strength, first word, last word) of the closest window holding the part's content stems."""
    pos = sent.pos
    present = [pos[c] for c in part.content if c in pos]
    m = len(part.content)
    if not present:
        return None
    n = len(part.stems)
    if len(present) == m:
        lo, hi = _min_window(present)
        if hi - lo + 1 <= n + 3:
            return STRONG, lo, hi
        if hi - lo + 1 <= n + 6 and m >= 2:
            return PARTIAL, lo, hi
        return None
    if m >= 3 and len(present) >= max(2, math.ceil(0.6 * m)):
        lo, hi = _min_window(present)
        if hi - lo + 1 <= n + 4:
            return PARTIAL, lo, hi
    return None


# Characters that negate what follows them; a fuzzy match may not hold one that its alias lacks.
_NEGATION_CHARS = re.compile("[不没无未]|非(?!常)")  # 非常 is "very"


def _match_cjk_fuzzy(part: Part, sent: Sentence) -> list[tuple[float, int, int]]:
    """Character-bigram (and word) overlap with the alias inside one clause, kept compact."""
    out: list[tuple[float, int, int]] = []
    need = len(part.feats)
    text = sent.text
    for c_lo, c_hi, feats in sent.clause_features():
        found = [f for f in part.feats if f in feats]
        ratio = len(found) / need
        if ratio < _PARTIAL_OVERLAP or len(found) < 2:
            continue
        offsets = [p for p in (text.find(f, c_lo, c_hi) for f in found) if p >= 0]
        if len(offsets) < 2:
            continue
        lo, hi = min(offsets), max(offsets)
        if hi - lo > len(part.text) * 2 + 4:
            continue  # scattered over a long clause: not this phrase
        if _NEGATION_CHARS.search(text, lo, hi + 2) and not _NEGATION_CHARS.search(part.text):
            continue  # the span holds a negation the alias lacks ("推理不一样" is not "推理一样")
        strength = STRONG if ratio >= _STRONG_OVERLAP else PARTIAL
        out.append((strength, lo, hi + 2))
    return out


def _match_in_order(part: Part, sent: Sentence) -> list[tuple[float, int, int]]:
    """The alias's units in order within a short window, a few function characters missing or changed
    ("梯度非常小" for "梯度很小"); every word, digit and content character of the alias must be there, and
    the window may not hold a negation the alias lacks."""
    units = part.units
    n = len(units)
    text = sent.text
    limit = len(part.text) + 3
    out: list[tuple[float, int, int]] = []
    starts: set[int] = set()
    for anchor in units[:2]:
        pos = text.find(anchor)
        while pos >= 0:
            starts.add(pos)
            pos = text.find(anchor, pos + 1)
    for start in sorted(starts):
        end_limit = min(len(text), start + limit)
        pos = start
        got = 0
        last = start
        ok = True
        for u in units:
            found = text.find(u, pos, end_limit)
            if found < 0:
                if u not in SOFT_CJK:
                    ok = False  # a word, a digit or a content character: "推理时串行" is not "推理时也能并行"
                    break
                continue
            got += 1
            pos = found + len(u)
            last = pos
        if not ok:
            continue
        if _NEGATION_CHARS.search(text, start, last) and not _NEGATION_CHARS.search(part.text):
            continue  # the gap holds a negation ("训练和推理不一样" is not "训练和推理一样")
        ratio = got / n
        if ratio >= 0.85:
            out.append((STRONG, start, last))
        elif ratio >= 0.7:
            out.append((PARTIAL, start, last))
    return out


class ReplyIndex:
    """Reply-level lookups shared by all aliases of one grading call."""

    __slots__ = ("_part_cache", "_presents", "feats", "offsets", "sentences", "stems", "text", "units")

    def __init__(self, sentences: Sequence[Sentence]) -> None:
        self.sentences = sentences
        # parts are interned per question at load (see `intern_parts`), so one alias part shared by
        # several aliases is matched once per reply
        self._part_cache: dict[int, dict[int, Hit]] = {}
        self.text = "\n".join(s.text for s in sentences)
        offs = []
        o = 0
        for s in sentences:
            offs.append(o)
            o += len(s.text) + 1
        self.offsets = offs
        stems: dict[str, list[int]] = {}
        for i, s in enumerate(sentences):
            for w in set(s.stems):
                stems.setdefault(w, []).append(i)
        self.stems = stems
        self._presents: list[set[str]] | None = None
        chars = set(self.text)
        self.feats = chars.union(stems, *(s.bigrams for s in sentences))
        self.units = chars.union(*(s.words for s in sentences))

    @property
    def presents(self) -> list[set[str]]:
        """`Sentence.present` of every sentence, gathered once for the CJK overlap and in-order scans."""
        if self._presents is None:
            self._presents = [s.present for s in self.sentences]
        return self._presents

    def part_hits(self, part: Part) -> dict[int, Hit]:
        """Sentence index -> the best occurrence of `part` in that sentence."""
        out: dict[int, Hit] = {}
        if part.cjk:
            fuzzy = in_order = False
            if part.exact_only:
                assert part.regex is not None
                exact = part.regex.search(self.text) is not None
                if not exact:
                    return out
            else:
                if len(part.feats) >= 4:
                    got = len(part.needed & self.feats)
                    fuzzy = got >= 2 and got >= _PARTIAL_OVERLAP * len(part.feats)
                exact = part.text in self.text
                in_order = len(part.units) >= 4 and len(part.unit_set & self.units) >= 0.7 * len(part.unit_set)
            if not exact and not fuzzy and not in_order:
                return out
            if exact:
                assert part.regex is not None
                for m in part.regex.finditer(self.text):
                    i = bisect_right(self.offsets, m.start()) - 1
                    base = self.offsets[i]
                    self._add(out, part, i, STRONG, m.start() - base, m.end() - base)
            if (fuzzy or in_order) and not any(not v[1] for v in out.values()):
                need_feats = max(2, _PARTIAL_OVERLAP * len(part.feats))
                need_units = 0.7 * len(part.unit_set)
                for i, here in enumerate(self.presents):
                    if fuzzy and len(part.needed & here) >= need_feats:
                        for strength, s, e in _match_cjk_fuzzy(part, self.sentences[i]):
                            self._add(out, part, i, strength, s, e)
                    if in_order and len(part.unit_set & here) >= need_units:
                        for strength, s, e in _match_in_order(part, self.sentences[i]):
                            self._add(out, part, i, strength, s, e)
            return out
        n_content = len(part.content)
        stems = self.stems
        if n_content == 1:
            # one content stem: its first occurrence in each sentence that has it is a strong match
            c = part.content[0]
            for i in stems.get(c, ()):
                j = self.sentences[i].stems.index(c)
                self._add_words(out, part, i, STRONG, j, j)
            return out
        present = part.needed & stems.keys()
        need = n_content if n_content < 3 else max(2, math.ceil(0.6 * n_content))
        if len(present) < need:
            return out
        counts: dict[int, int] = {}
        for stem_ in present:
            for i in stems[stem_]:
                counts[i] = counts.get(i, 0) + 1
        for i in sorted(counts):
            if counts[i] >= need:
                r = _match_latin(part, self.sentences[i])
                if r is not None:
                    self._add_words(out, part, i, r[0], r[1], r[2])
        return out

    def _add_words(self, out: dict[int, Hit], part: Part, i: int, strength: float, lo: int, hi: int) -> None:
        """Record a Latin match over words lo..hi of sentence `i`, the only one kept for that sentence.

        Character offsets are only needed to check negation cues and bare list items; most sentences
        have neither, and then the words' spans are not computed.
        """
        sent = self.sentences[i]
        if (not part.negative_in_point and sent.cues) or (sent.bare_keys and not sent.listed):
            spans = sent.spans
            self._add(out, part, i, strength, spans[lo][0], spans[hi][1])
        else:
            out[i] = Hit(strength, False, i, sent.listed)

    def _add(self, out: dict[int, Hit], part: Part, i: int, strength: float, s: int, e: int) -> None:
        """Record an occurrence of `part` in sentence `i` if it beats the one already kept."""
        sent = self.sentences[i]
        neg = not part.negative_in_point and sent.negated(s, e, part.own_cue, part.problem)
        listed = sent.listed or sent.in_bare_item(s, e)
        old = out.get(i)
        # prefer an affirmative occurrence, then an explained one, then the stronger one
        if (
            old is None
            or (old[1] and not neg)
            or (old[1] == neg and (old[3] and not listed))
            or (old[1] == neg and old[3] == listed and strength > old[0])
        ):
            out[i] = Hit(strength, neg, i, listed)

    def alias_hits(self, alias: Alias) -> list[Hit]:
        """Per sentence where all parts occur: the weakest part's strength; negated if any part is."""
        per_part = []
        cache = self._part_cache
        for part in alias.parts:
            hits = cache.get(id(part))
            if hits is None:
                hits = cache[id(part)] = self.part_hits(part)
            if not hits:
                return []
            per_part.append(hits)
        if len(per_part) == 1:  # most aliases: the part's own hits
            only = per_part[0]
            return [only[i] for i in sorted(only)]
        common = set(per_part[0])
        for d in per_part[1:]:
            common &= set(d)
        out = []
        for i in sorted(common):
            strength = min(d[i][0] for d in per_part)
            negated = any(d[i][1] for d in per_part)
            out.append(Hit(strength, negated, i, all(d[i][3] for d in per_part)))
        if not out:
            # every part occurs, but spread over two consecutive sentences: partial evidence
            for i in sorted(set().union(*per_part)):
                if all(i in d or i + 1 in d for d in per_part):
                    found = [d[i] if i in d else d[i + 1] for d in per_part]
                    out.append(Hit(PARTIAL, any(h[1] for h in found), i, all(h[3] for h in found)))
                    break
        return out


class PartIndex:
    """Inverted index from reply features to the alias parts of one question (built at load).

    A part can only match when enough of its features occur in the reply (all bigrams for an exact
    CJK match, 60% for the overlap match, the content stems for a Latin part) or, for the in-order
    match, when at least one feature and 70% of its units occur.  Counting hits through the index
    finds the few parts worth trying.
    """

    __slots__ = ("_feat_index", "_keys", "_need_feat", "_need_unit", "_unit_sets")

    def __init__(self, parts: Sequence[Part]) -> None:
        self._feat_index: dict[str, list[int]] = {}
        self._need_feat: list[int] = []
        self._need_unit: list[float] = []
        self._unit_sets: list[frozenset[str]] = []
        for i, part in enumerate(parts):
            if part.cjk:
                feats = set(part.feats) or set(part.units)
                need = len(feats) if len(part.feats) < 4 else max(2, math.ceil(_PARTIAL_OVERLAP * len(feats)))
            else:
                feats = set(part.needed)
                m = len(feats)
                need = m if m < 3 else max(2, math.ceil(0.6 * m))
            for f in feats:
                self._feat_index.setdefault(f, []).append(i)
            self._need_feat.append(need)
            in_order = part.cjk and len(part.units) >= 4
            self._need_unit.append(0.7 * len(part.unit_set) if in_order else 0.0)
            self._unit_sets.append(part.unit_set if in_order else frozenset())
        self._keys = frozenset(self._feat_index)

    def candidates(self, reply: ReplyIndex) -> set[int]:
        """Indices of the parts that may match `reply`."""
        index = self._feat_index
        counts = Counter(chain.from_iterable(map(index.__getitem__, reply.feats & self._keys)))
        need = self._need_feat
        need_unit = self._need_unit
        units = reply.units
        return {
            i
            for i, c in counts.items()
            if c >= need[i] or (need_unit[i] and len(self._unit_sets[i] & units) >= need_unit[i])
        }
