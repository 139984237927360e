"""One reply (or reference text) cut into normalised sentences, with what matching needs.

Built once per `grade` call.  Sentence-level structures that only some replies need (clause
boundaries, negation cues, positioned bigrams) are computed lazily.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

from bot.grading import _lexicon as lex
from bot.grading._text import CJK_RUN_RE, UNIT_RE, WORD_RE

_CLAUSE_PUNCT = r",|:|\(|\)|、|\[|\]|\{|\}|<|>|="  # one literal per alternative (see below)
# Every alternative opens with a literal character (lookbehinds come after it), so the regex engine can
# scan for the possible first characters instead of trying the whole pattern at every position; a
# character class or a group as an alternative would turn that scan off.
_BOUNDARY_RE = re.compile(f"{_CLAUSE_PUNCT}|{lex.ZH_CONTRAST}|{lex.EN_CONTRAST_FLAT}")
_CUE_RE = re.compile(f"{lex.ZH_NEGATION}|{lex.EN_NEGATION_FLAT}")
_POST_RE = re.compile(
    rf"(?: ?(?:[a-z0-9]+ )?{lex.EN_POST_NEGATION})|(?:(?:(?!而|但|却)[{lex.CJK}]){{0,2}}?{lex.ZH_POST_NEGATION})"
)
_BREAKER_RE = re.compile(
    r"(?<![a-z])(?:because|since|so|which|thus|therefore|hence|when|where|whereby|as|if|then|who|otherwise|"
    r"meaning|leading|causing|making|and\s+so|so\s+that)(?![a-z])"
    r"|因为|由于|所以|因此|从而|进而|于是|以便|使得|导致|否则|这样|那么|然后|就|才|以免"
)
_COUNTERFACTUAL_RE = re.compile(lex.COUNTERFACTUAL)
_SCOPE_UNITS = 8.0  # a negation reaches this many word equivalents forward (a CJK character counts 0.6)
_PURPOSE_RE = re.compile(
    r"(?:为了|以便|以免|防止|避免|确保|保证|使得|使|让|才能|才|用来|用于|从而)[^为了以便免防止避确保证使得让才能用从而]{0,8}$"
    r"|(?<![a-z])(?:so\s+that|in\s+order\s+to|to\s+(?:keep|ensure|make\s+sure|prevent|avoid|stop)|prevents?|avoids?|ensures?|"
    r"keeps?|making\s+sure|rather\s+than\s+(?:let|letting|allow|allowing)|instead\s+of\s+(?:letting|allowing)|so\s+as)"
    r"(?:\s+\S+){0,4}\s*$"
)


_CAUSE_OR_CURE_RE = re.compile(
    r"导致|造成|引起|带来|产生|存在|出现|有|会有|解决|缓解|防止|避免|减轻|改善|消除|帮助|影响"
    r"|(?<![a-z])(?:cause|lead|result|introduce|create|produce|have|has|had|suffer|exist|there|prevent|avoid|"
    r"alleviate|mitigate|solve|fix|help|remove|reduce|address|affect|matter)"
)
_DENY_CUE_RE = re.compile(
    r"并非|绝非|而非|而不是|并不是|不是|rather\s+than|instead\s+of|as\s+opposed\s+to|unlike|isn't|aren't|isnt|arent"
)
_PROBLEM_NOUN_RE = re.compile(r"\W{0,3}(?:的)?(?:问题|现象|风险)|\W{0,3}(?:problems?|issues?)(?![a-z])")
PROBLEM_RE = re.compile(
    r"消失|爆炸|饱和|过拟合|不稳定|退化|坍塌|塌缩|泄露|泄漏|偏差|不一致|累积|发散|溢出|震荡|过平滑|冗余"
    r"|(?<![a-z])(?:vanish|explod|saturat|overfit|unstabl|instabil|collaps|leak|degrad|diverg|overflow|"
    r"mismatch|bias|over ?smooth|drift|redundan|compound)"
)


def _span_weight(text: str) -> float:
    """Length in word equivalents: a CJK character counts 0.6, a word 1."""
    units = UNIT_RE.findall(text)
    return sum(0.6 if len(u) == 1 and u >= "\u3400" else 1.0 for u in units)


def _purpose(text: str, clause_start: int, cue_start: int) -> bool:
    """A negation inside a purpose clause ("为了让梯度不消失", "so that it does not saturate") describes what
    is prevented: it does not deny the point."""
    return _PURPOSE_RE.search(text, clause_start, cue_start) is not None


class Sentence:
    """A normalised, de-duplicated sentence of a reply; `text` has copied question spans replaced by '|'."""

    __slots__ = (
        "_bare", "_bounds", "_clause_feats", "_cues", "_pos", "_present", "_spans",
        "bare_keys", "bigrams", "listed", "raw", "stems", "text", "words",
    )

    def __init__(
        self, raw: str, text: str, canon: Callable[[str], str], words: list[str] | None = None
    ) -> None:
        """`words` are the Latin-script words of `text` when the caller already has them."""
        self.raw = raw
        self.text = text
        self.listed = False  # set by the grader: the sentence strings bare terms together
        self.words: list[str] = WORD_RE.findall(text) if words is None else words
        self.stems: list[str] = list(map(canon, self.words))
        self.bigrams: list[str] = [r[i : i + 2] for r in CJK_RUN_RE.findall(text) for i in range(len(r) - 1)]
        self._spans: list[tuple[int, int]] | None = None
        self._pos: dict[str, list[int]] | None = None
        self._bounds: list[int] | None = None
        self._cues: list[tuple[int, int]] | None = None
        self._clause_feats: list[tuple[int, int, frozenset[str]]] | None = None
        self._bare: list[int] | None = None  # item start offsets
        self.bare_keys: frozenset[str] = frozenset()  # set by the grader from the reply's shape
        self._present: set[str] | None = None

    @property
    def spans(self) -> list[tuple[int, int]]:
        """Character spans of the words, aligned with `stems`."""
        if self._spans is None:
            self._spans = [m.span() for m in WORD_RE.finditer(self.text)]
        return self._spans

    @property
    def present(self) -> set[str]:
        """Characters, raw words, word stems and CJK bigrams of the sentence (for quick rejection)."""
        if self._present is None:
            self._present = set(self.text).union(self.bigrams, self.stems, self.words)
        return self._present

    @property
    def pos(self) -> dict[str, list[int]]:
        """Word stem -> indices into `words`."""
        if self._pos is None:
            pos: dict[str, list[int]] = {}
            for i, w in enumerate(self.stems):
                pos.setdefault(w, []).append(i)
            self._pos = pos
        return self._pos

    @property
    def bounds(self) -> list[int]:
        """Character offsets where clauses start (always begins with 0)."""
        if self._bounds is None:
            out = [0]
            for m in _BOUNDARY_RE.finditer(self.text):
                out.append(m.start() if m.group()[0] not in ",:()、[]{}<>=" else m.end())
            self._bounds = sorted(set(out))
        return self._bounds

    @property
    def cues(self) -> list[tuple[int, int]]:
        """Negation cues as (start, end) character spans."""
        if self._cues is None:
            cues: list[tuple[int, int]] = []
            if not _COUNTERFACTUAL_RE.match(self.text):
                text = self.text
                for m in _CUE_RE.finditer(text):
                    s, e = m.span()
                    # A-not-A questions (是不是, 能不能, 有没有) are not negations.
                    if text[s] in "不没" and 0 < s < len(text) - 1 and text[s - 1] == text[s + 1]:
                        continue
                    cues.append((s, e))
            self._cues = cues
        return self._cues

    def in_bare_item(self, start: int, end: int) -> bool:
        """Whether [start, end) lies in a bare list item of a sentence that strings three or more bare
        terms together ("涉及方差、softmax饱和、梯度消失、均值为0这些方面"); `bare_keys` comes from the shape."""
        if not self.bare_keys:
            return False
        if self._bare is None:
            self._bare = [0, *(m.end() for m in _ITEM_SEP_RE.finditer(self.text))]
        text = self.text
        i = bisect_right(self._bare, start) - 1
        lo = self._bare[i]
        m = _ITEM_SEP_RE.search(text, lo)
        hi = m.start() if m else len(text)
        return end <= hi and "".join(text[lo:hi].split()) in self.bare_keys

    def clause_of(self, offset: int) -> tuple[int, int]:
        """The clause (start, end) containing `offset`."""
        b = self.bounds
        i = bisect_right(b, offset) - 1
        return b[i], (b[i + 1] if i + 1 < len(b) else len(self.text))

    def clause_features(self) -> list[tuple[int, int, frozenset[str]]]:
        """Per clause: (start, end, CJK bigrams and word stems of the clause)."""
        if self._clause_feats is None:
            b = [*self.bounds, len(self.text)]
            text = self.text
            clauses: list[tuple[int, int, frozenset[str]]] = []
            for lo, hi in pairwise(b):
                if hi <= lo:
                    continue
                grams = {r[j : j + 2] for r in CJK_RUN_RE.findall(text, lo, hi) for j in range(len(r) - 1)}
                grams.update(w for w, (s, _) in zip(self.stems, self.spans, strict=True) if lo <= s < hi)
                clauses.append((lo, hi, frozenset(grams)))
            self._clause_feats = clauses
        return self._clause_feats

    def _denies_problem(self, before: int, cue: int, cue_end: int, start: int, end: int) -> bool:
        """Whether a cue before a problem phrase denies it rather than describing it as avoided.

        It denies when it is a copula or contrast ("不是", "而不是", "rather than"), when it is far from
        the phrase, when a verb of causing / solving / existing goes with it ("there is no", "不会导致",
        "does not prevent"), or when the phrase is followed by 'problem' ("没有梯度消失的问题").
        """
        text = self.text
        return bool(
            _DENY_CUE_RE.fullmatch(text[cue:cue_end])
            or _span_weight(text[cue_end:start]) > 2
            or _CAUSE_OR_CURE_RE.search(text[before:cue])
            or _CAUSE_OR_CURE_RE.search(text[cue:start].lstrip("没无"))
            or _PROBLEM_NOUN_RE.match(text, end)
        )

    def negated(self, start: int, end: int, own_cue: bool, problem: bool = False) -> bool:
        """Whether the match at [start, end) is negated: cues before it in its clause (within scope),
        inside it (unless the phrase itself carries the cue), or a negating verb right after it.

        When the phrase names a problem (vanishing gradients, 饱和), a cue that directly precedes it
        describes the problem being avoided ("trains without vanishing gradients", "梯度不会消失"),
        which does not deny the point; a cue on a verb of causing or solving ("不会导致", "does not
        prevent") still does.
        """
        cues = self.cues
        if not cues:
            return False
        text = self.text
        c_start, c_end = self.clause_of(start)
        count = 0
        for s, e in cues:
            if e <= start and s >= c_start:
                between = text[e:start]
                if _span_weight(between) > _SCOPE_UNITS:
                    continue
                brk = _BREAKER_RE.search(between)
                if brk and between[: brk.start()].strip(" 是就只会能要可以将也都"):
                    continue  # "we don't need BN because LN ..." : the cue does not reach past "because"
                if problem and not self._denies_problem(max(c_start, s - 12), s, e, start, end):
                    continue
                if not _purpose(text, c_start, s):
                    count += 1
            elif start <= s < end and not own_cue and e <= end and not _purpose(text, c_start, s):
                if problem and not self._denies_problem(max(c_start, s - 12), s, e, e, end):
                    continue
                count += 1
        m = _POST_RE.match(text, end)
        if m and m.end() <= c_end and not _purpose(text, c_start, start):
            count += 1
        return count % 2 == 1


_ITEM_SEP_RE = re.compile(r"[,、/|:+·•()\[\]&*=]")


def has_cue(text: str) -> bool:
    """Whether a phrase carries its own negation (an alias like '无需归一化')."""
    return _CUE_RE.search(text) is not None


def tfidf_features(sentences: Iterable[Sentence], stop: frozenset[str]) -> list[str]:
    """CJK character bigrams; word stems and stem bigrams without stop words."""
    feats: list[str] = []
    for s in sentences:
        feats.extend(s.bigrams)
        content = [w for w in s.stems if w not in stop]
        feats.extend(content)
        feats.extend([f"{a} {b}" for a, b in pairwise(content)])
    return feats


def mask_copied(text: str, units: list[str], grams: frozenset[tuple[str, str, str, str]]) -> tuple[str, int]:
    """Replace spans of `text` (whose units are `units`) that repeat 4-unit n-grams of the question by '|'.

    Returns the masked text and the number of units removed.
    """
    if len(units) < 4 or not grams or grams.isdisjoint(zip(units, units[1:], units[2:], units[3:], strict=False)):
        return text, 0
    hits = [g in grams for g in zip(units, units[1:], units[2:], units[3:], strict=False)]
    covered = [False] * len(units)
    for i, hit in enumerate(hits):
        if hit:
            covered[i] = covered[i + 1] = covered[i + 2] = covered[i + 3] = True
    spans = [m.span() for m in UNIT_RE.finditer(text)]
    out: list[str] = []
    last = 0
    removed = 0
    i = 0
    while i < len(units):
        if covered[i]:
            j = i
            while j + 1 < len(units) and covered[j + 1]:
                j += 1
            out.append(text[last : spans[i][0]])
            out.append("|")
            last = spans[j][1]
            removed += j - i + 1
            i = j + 1
        else:
            i += 1
    out.append(text[last:])
    return "".join(out), removed


def question_grams(texts: Sequence[str]) -> frozenset[tuple[str, str, str, str]]:
    """All 4-unit n-grams of the (normalised, compact) question texts."""
    grams: set[tuple[str, str, str, str]] = set()
    for t in texts:
        u = UNIT_RE.findall(t)
        grams.update(zip(u, u[1:], u[2:], u[3:], strict=False))
    return frozenset(grams)
