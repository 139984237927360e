"""Reply-shape signals that do not depend on the question: keyword lists and length."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bot.grading._lexicon import EN_FUNCTION_WORDS, ZH_FUNCTION
from bot.grading._text import BLANK, UNIT_RE

# Sentences hold no line break, so blanks are spelled out (a faster scan than `\s`).  A run of
# separators, or blanks around '-', 'and', 'or', 'with'; the pattern opens with one class (separators
# and blanks) so that the regex engine scans for it instead of trying both alternatives everywhere.
_SEPARATORS = r",、/|:+·•()\[\]&*="
_ITEM_SPLIT = re.compile(
    rf"[{_SEPARATORS}{BLANK[1:-1]}](?:(?<=[{_SEPARATORS}])[{_SEPARATORS}]*|(?<={BLANK}){BLANK}*(?:-|and|or|with){BLANK}+)"
)
_LONG = 80  # word equivalents
_IS_FUNCTION_WORD = EN_FUNCTION_WORDS.__contains__
_LATIN = re.compile(r"[a-z0-9]")
_FORMULA = re.compile(r"[\d·×=²³^/+*≈∈∑√<>~]")
# symbols: 'q', '64', 'd_k', 'w^o', 'd_model', 'x1'; an identifier with a longer head ('batch_size',
# 'seq_len') is a named term, listed like any other
_SYMBOL = re.compile(r"[a-z]{1,2}|\d+|[a-z0-9]{0,2}[_^][a-z0-9_^]*|[a-z]\d+")
_ZH_FUNCTION_RE = re.compile(ZH_FUNCTION)


@dataclass(frozen=True, slots=True)
class Shape:
    """How a reply is built: size in units, share of function words, and how list-like it is."""

    units: int  # CJK characters + words
    weight: float  # word equivalents: a CJK character counts half
    function_ratio: float
    items: int
    bare_units: int
    listed: tuple[bool, ...]  # per sentence: is it a list of bare terms?
    bare_keys: tuple[frozenset[str], ...]  # per sentence: its bare items (spaces removed) when it has three or more
    listed_share: float  # share of units in listed sentences

    @property
    def bare_share(self) -> float:
        """Share of the reply's units that sit in bare items."""
        return self.bare_units / self.units if self.units else 0.0


_UNIT_RE = UNIT_RE


# A unit is a word or one CJK character; CJK characters sort at or after U+3400, words before it.
_IS_CJK_UNIT = "\u3400".__le__


def _counts(text: str) -> tuple[list[str], int, int]:
    """The units of a short piece of text, how many are CJK characters, and its function words."""
    units = _UNIT_RE.findall(text)
    # C-level `map` loops instead of a list comprehension; no CJK character is an English function word
    cjk = sum(map(_IS_CJK_UNIT, units))
    found = len(_ZH_FUNCTION_RE.findall(text)) if cjk else 0
    return units, cjk, found + sum(map(_IS_FUNCTION_WORD, units))


def _is_formula(item: str, units: list[str], symbols: bool = True) -> bool:
    """Symbols, numbers and formulas: 'q', 'd_k', '64', 'O(n·d)', '4·n·d²', 'd_ff = 4d'.

    `symbols` False says the enclosing sentence holds no formula character (saves a search per item).
    """
    return (symbols and _FORMULA.search(item) is not None) or (
        len(units) <= 3 and all(map(_SYMBOL.fullmatch, units))
    )


class SentenceText(NamedTuple):
    """A normalised sentence (spaces between CJK terms already turned into '、') with what the grader
    already found in it: its unit count, CJK character count and Latin-script words.

    A named tuple: one is built per reply sentence, and a tuple is much cheaper to build than a frozen
    dataclass."""

    text: str
    units: int
    cjk: int
    words: list[str]


def shape(sentences: Sequence[SentenceText]) -> Shape:
    """Measure a reply's sentences.

    Items are the pieces between list separators; a piece with few function words is further split at
    spaces.  A bare item has no function word and at most four word equivalents; a repeated item counts
    as bare too.  A sentence of three or more items that is mostly bare is a listed sentence.
    """
    items = 0
    bare_units = 0
    listed: list[bool] = []
    bare_keys: list[frozenset[str]] = []
    seen: set[str] = set()
    listed_units = 0
    all_units = sum(s.units for s in sentences)
    all_cjk = sum(s.cjk for s in sentences)
    all_func = sum(sum(map(_IS_FUNCTION_WORD, s.words)) for s in sentences)
    if all_cjk:
        all_func += len(_ZH_FUNCTION_RE.findall("\n".join(s.text for s in sentences)))
    prose = all_units > 0 and all_func >= 0.12 * all_units
    slow_units = fast_units = 0
    for st in sentences:
        sent = st.text
        chunks = list(filter(str.strip, _ITEM_SPLIT.split(sent)))
        if prose and st.units - st.cjk / 2 >= 3 * len(chunks):
            # long clauses in a reply rich in function words: prose, no list analysis needed
            items += len(chunks)
            fast_units += st.units
            listed.append(False)
            bare_keys.append(frozenset())
            continue
        s_units = s_items = s_bare = run = longest = 0
        s_keys: set[str] = set()
        symbols = _FORMULA.search(sent) is not None  # items are substrings of the sentence
        for chunk in chunks:
            if len(chunk) > 8 and not _LATIN.search(chunk):
                # more than four word equivalents of CJK text: an item, but never a bare one
                s_items += 1
                s_units += len(chunk.strip())
                run = 0
                continue
            u, cjk, f = _counts(chunk)
            n = len(u)
            if not n:
                continue
            # a long run of content words with no function word is a space-separated list
            if n >= 7 and f < 0.1 * n:
                pieces = []
                for piece in chunk.split():
                    pu, pc, pf = _counts(piece)
                    if pu:
                        pieces.append((piece, pu, pc, pf))
            else:
                pieces = [(chunk, u, cjk, f)]
            for item, iu, ic, ifn in pieces:
                ni = len(iu)
                if _is_formula(item, iu, symbols):
                    continue  # symbols and formulas (q, k, d_k, o(n·d), 4·n·d²) are not listed terms
                w = ni - ic / 2
                s_items += 1
                s_units += ni
                key = item.strip()
                if key in seen or (w <= 4 and ifn == 0):
                    s_bare += ni
                    if len(pieces) == 1:
                        s_keys.add("".join(key.split()))
                    run += 1
                    if run > longest:
                        longest = run
                else:
                    run = 0
                seen.add(key)
        slow_units += s_units
        items += s_items
        bare_units += s_bare
        # many short items ("Q from decoder, K/V from encoder, cache, ...") list terms even when some
        # hold a preposition
        is_listed = (
            (s_items >= 4 and s_bare >= 0.6 * s_units)
            or (s_items >= 3 and s_bare == s_units)
            or longest >= 5
            or (s_items >= 8 and s_units <= 2.5 * s_items)
        )
        listed.append(is_listed)
        bare_keys.append(frozenset(s_keys) if len(s_keys) >= 3 else frozenset())
        listed_units += s_units if is_listed else 0
    units = slow_units + fast_units  # symbols and formulas left out
    weight = all_units - all_cjk / 2
    return Shape(
        units, weight, all_func / all_units if all_units else 0.0, items, bare_units, tuple(listed), tuple(bare_keys),
        listed_units / units if units else 0.0,
    )


def is_keyword_list(s: Shape) -> bool:
    """Mostly short bare items and few function words: terms listed rather than explained.

    Long replies (terse notes full of formulas) are judged only when they are lists throughout.
    """
    if s.items < 4 or (s.weight > _LONG and s.listed_share < 0.9):
        return False
    if s.bare_share >= 0.75 or (s.bare_share >= 0.6 and s.function_ratio < 0.12) or s.listed_share >= 0.7:
        return True
    return s.items >= 6 and s.units / s.items <= 2.0
