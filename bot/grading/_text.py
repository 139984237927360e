"""Text normalisation and splitting shared by the reference side (at load) and the reply side.

Everything here is a pure function of its input.  The traditional -> simplified table is built once
from the dictionary files shipped with opencc-python-reimplemented and applied with `str.translate`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

from bot.grading._lexicon import CJK

# ---------------------------------------------------------------------------------------------- t2s


@cache
def t2s_table() -> dict[int, str]:
    """A `str.translate` table mapping traditional (and variant) characters to simplified ones."""
    try:
        import opencc

        base = Path(opencc.__file__).parent / "dictionary"
    except ImportError:  # pragma: no cover - the package is a dependency
        return {}
    table: dict[int, str] = {}

    def read(name: str) -> dict[str, str]:
        pairs: dict[str, str] = {}
        try:
            text = (base / name).read_text(encoding="utf-8")
        except OSError:
            return pairs
        for line in text.splitlines():
            src, _, dst = line.partition("\t")
            first = dst.split(" ", 1)[0]
            if len(src) == 1 and len(first) == 1 and src != first:
                pairs[src] = first
        return pairs

    ts = read("TSCharacters.txt")
    for name in ("TWVariantsRev.txt", "HKVariantsRev.txt"):
        for variant, standard in read(name).items():
            simp = ts.get(standard, standard)
            if variant not in ts and simp != variant:
                table[ord(variant)] = simp
    table.update({ord(src): dst for src, dst in ts.items()})
    return table


# ----------------------------------------------------------------------------------------- markdown

def _at_line_start(pattern: str) -> Callable[[str], bool]:
    """Whether `pattern` occurs at the start of a line.  A MULTILINE `^` makes the regex engine try every
    position; matching at the start and searching for a line break followed by the pattern is faster."""
    at_start = re.compile(pattern).match
    after_break = re.compile("\n" + pattern).search
    return lambda text: at_start(text) is not None or after_break(text) is not None


_MD_RULES: tuple[tuple[Callable[[str], object], re.Pattern[str], str], ...] = (
    # (trigger, pattern, replacement): a rule runs only when its trigger finds something
    # code fences (keep content)
    (lambda t: "```" in t or "~~~" in t, re.compile(r"^\s*(?:```|~~~).*$", re.MULTILINE), ""),
    (re.compile(r"\]\(").search, re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # links and images
    (re.compile(r"<[a-zA-Z/]").search, re.compile(r"<[a-zA-Z/][^>\n]{0,80}>"), " "),  # html tags
    (_at_line_start(r"[ \t]*[#>]"), re.compile(r"^[ \t]*(?:#{1,6}|>+)[ \t]*", re.MULTILINE), ""),
    (
        _at_line_start(r"[ \t]*(?:[-*+•·●▪◦(（\d一二三四五六七八九十])"),
        re.compile(
            r"^[ \t]*(?:[-*+•·●▪◦]|\d{1,2}[.)、]|[(（]\d{1,2}[)）]|[一二三四五六七八九十]{1,2}[、.])[ \t]*",
            re.MULTILINE,
        ),
        "",
    ),
    (re.compile(r"[*_~`$]").search, re.compile(r"\*\*|__|~~|`|\$"), ""),  # emphasis, inline code, tex math delimiters
    (re.compile(r"\*").search, re.compile(r"(?<![\w*])\*(?=\S)([^*\n]{1,200}?)(?<=\S)\*(?![\w*])"), r"\1"),  # *italic*
    # table rules
    (re.compile(r"---").search, re.compile(r"^[ \t]*(?:\|?[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$", re.MULTILINE), ""),
)


def strip_markdown(text: str) -> str:
    """Remove markdown and TeX decoration that carries no meaning for grading."""
    for trigger, pattern, repl in _MD_RULES:
        if trigger(text):
            text = pattern.sub(repl, text)
    return text


# -------------------------------------------------------------------------------------- sentences

# Both patterns open with one character class (lookarounds come after it), so the regex engine scans for
# that class instead of trying every alternative at every position.  "\n" itself is left alone.
_LINE_BREAKS = re.compile(r"[\r\u2028\u2029\u0085](?:(?<=\r)\n)?")
# A run of sentence punctuation, or a '.' followed by a blank or the end.  (A run that ends where the next
# one starts only leaves an empty piece between them, which is dropped.)
_SENT_SPLIT = re.compile(r"[。！？；!?;．｡\n….](?:(?<=\.)(?=\s|$)|(?<!\.)[。！？；!?;．｡\n…]*)")


def split_sentences(text: str) -> list[str]:
    """Split on Chinese and Western sentence punctuation and line breaks; drop empty pieces."""
    text = _LINE_BREAKS.sub("\n", text)
    out = []
    for piece in _SENT_SPLIT.split(text):
        piece = piece.strip(" \t\u3000,，、:：")
        if piece:
            out.append(piece)
    return out


# ------------------------------------------------------------------------------------ normalising

_S = r"[^\S\n]*"  # optional blanks that never cross a line (sentence) break
_SUB = r"(?P<sub>model|ff|head|k|q|v)"
_DVAR = r"d(?:" + _S + r"_" + _S + r")?\{?" + _S + _SUB + _S + r"\}?"
# A negative lookbehind placed after the first character (not before it) lets the regex engine scan
# for that literal character first: about ten times faster than a pattern that opens with a lookbehind.
_NOT_AFTER_WORD_D = r"d(?<![a-z0-9]d)"
_NOTATION: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # (cheap substring triggers, pattern, replacement); a rule runs only when one trigger occurs.
    # TeX commands first
    (("\\",), re.compile(r"\\(?:left|right|mathrm|text|operatorname|mathbf|boldsymbol)\b"), ""),
    (("\\", "⊤", "†"), re.compile(r"\\top\b|⊤|†"), "t"),
    (("\\",), re.compile(r"\\(?:cdot|times)\b"), "·"),
    (("\\",), re.compile(r"\\frac\b"), " "),
    # the square root of d_k in all its spellings, and d_k itself
    (
        ("√", "sqrt", "根", "square"),  # single CJK characters: triggers must not overlap
        re.compile(
            r"(?:√|\\sqrt|sqrt|根号下?|开根号|square +root +of(?: +the)?)"
            + _S + r"[({]?" + _S + _DVAR + _S + r"[)}]?(?![a-z0-9])"
        ),
        r"d\g<sub>",
    ),
    (
        ("方", "根", "square"),
        re.compile(
            _NOT_AFTER_WORD_D + _DVAR[1:] + r"(?![a-z0-9])" + _S + r"(?:的" + _S + r")?(?:算术)?"
            r"(?:平方根|开平方|开方|开根号|开根|根号|'s +square +root)"
        ),
        r"d\g<sub>",
    ),
    (("_", "{"), re.compile(_NOT_AFTER_WORD_D + _DVAR[1:] + r"(?![a-z0-9])"), r"d\g<sub>"),
    (
        ("-model", "- model"),
        re.compile(_NOT_AFTER_WORD_D + _S + r"-" + _S + r"(?P<sub>model)(?![a-z0-9])"),
        r"d\g<sub>",
    ),
    # Q K^T
    (
        ("^", "转", "qk", "q·", "q*", "q×", "q k", "q乘", "q点", "q.k"),
        re.compile(
            r"q(?<![a-z0-9]q)" + _S + r"(?:[·*×.]|乘以?|点乘)?" + _S + r"k" + _S
            + r"(?:\^" + _S + r"\{?" + _S + r"t" + _S + r"\}?|t|'|的?转置)(?![a-z0-9])"
        ),
        "qkt",
    ),
    (
        ("^", "转"),
        re.compile(r"k(?<![a-z0-9]k)" + _S + r"(?:\^" + _S + r"\{?" + _S + r"t" + _S + r"\}?|的?转置)(?![a-z0-9])"),
        "kt",
    ),
    # O(n^2) and friends
    (
        ("^", "**"),
        re.compile(r"(?<![a-z0-9])([a-z])" + _S + r"(?:\^|\*\*)" + _S + r"\{?" + _S + r"(\d)" + _S + r"\}?"),
        r"\1^\2",
    ),
    (("o(", "o ("), re.compile(r"o(?<![a-z0-9]o)" + _S + r"\(" + _S + r"n" + _S + r"2" + _S + r"\)"), "o(n^2)"),
    (("方",), re.compile(r"n(?<![a-z0-9]n)" + _S + r"的?平方(?!根)"), "n^2"),
    # compounds written with or without a space / hyphen
    (("soft ", "soft-"), re.compile(r"s(?<![a-z]s)oft" + _S + r"-?" + _S + r"max(?![a-z])"), "softmax"),
    (
        ("norm",),
        re.compile(
            r"(l(?<![a-z]l)ayer|b(?<![a-z]b)atch|r(?<![a-z]r)ms|g(?<![a-z]g)roup|i(?<![a-z]i)nstance)"
            + _S + r"-?" + _S + r"norm(?:ali[sz]ation)?(?![a-z])"
        ),
        r"\1norm",
    ),
    (
        ("pre", "post"),
        re.compile(r"p(?<![a-z]p)(re|ost)" + _S + r"-?" + _S + r"(?:ln|norm|layernorm)(?![a-z])"),
        r"p\1norm",
    ),
    (("multi",), re.compile(r"m(?<![a-z]m)ulti" + _S + r"-?" + _S + r"head(?:ed)?(?![a-z])"), "multi head"),
    (("drop",), re.compile(r"d(?<![a-z]d)rop" + _S + r"-" + _S + r"out(?![a-z])"), "dropout"),
)
_NOTATION_TRIGGER = re.compile(
    "|".join(sorted({re.escape(t) for triggers, _, _ in _NOTATION for t in triggers}, key=len, reverse=True))
)
_HYPHEN = re.compile(r"[-‐‑–](?<=[a-z][-‐‑–])(?=[a-z])")
_QUOTES = re.compile(r"[\"“”‘「」『』《》〈〉]")
_APOS = re.compile(r"[’`´]")
_APOS_OR_QUOTE = re.compile(r"[’`´\"“”‘「」『』《》〈〉]")
# Blanks: Unicode white space except the line break, spelled out (the same set as `[^\S\n]`) because a
# pattern that opens with an explicit class is scanned for much faster than one that opens with `\S`
# negated or with a lookbehind.
ODD_BLANKS = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)
BLANK = "[ " + ODD_BLANKS + "]"
_SPACES = re.compile(BLANK + "+")
# what `_SPACES` would change (an odd blank, or two spaces): opens with a class, for a fast scan in C
_SPACES_TO_FOLD = re.compile(f"[ {ODD_BLANKS}](?:(?<=[{ODD_BLANKS}])| )")
_CJK_SPACE = re.compile(rf"{BLANK}(?<=[{CJK}]{BLANK}){BLANK}*(?=[{CJK}])")
_PACKED = rf"[{CJK},.:|()、]"
# blanks after a packed character, or blanks before one; opens with the blank class for a fast scan
_COMPACT = re.compile(rf"{BLANK}(?:(?<={_PACKED}{BLANK}){BLANK}*|{BLANK}*(?={_PACKED}))")
# The characters NFKC changes that replies use most, with what NFKC makes of each.  Replacing them first
# leaves most replies already in NFKC form, which `unicodedata.normalize` then only checks, instead of
# normalising the whole text.  The result is the same: NFKC(c) has the same compatibility decomposition
# as c, and NFKC depends only on the decomposition of the whole text.
_NFKC_COMMON = tuple((c, unicodedata.normalize("NFKC", c)) for c in "，：（）²")


@cache
def _traditional_re() -> re.Pattern[str]:
    """Finds a character `t2s_table` may change.  One character class, scanned in C: much faster than
    testing the text's characters against a set.  Characters outside the BMP (a few in the table, none
    in most replies) are all let through, which keeps the class a fast lookup table."""
    bmp = sorted(chr(c) for c in t2s_table() if c < 0x10000)
    return re.compile("[" + "".join(map(re.escape, bmp)) + "\U00010000-\U0010ffff]")


def normalize(text: str) -> str:
    """NFKC, case, traditional -> simplified, notation variants; spaces kept (see `compact`)."""
    if not text.isascii():
        for char, nfkc in _NFKC_COMMON:
            text = text.replace(char, nfkc)
        text = unicodedata.normalize("NFKC", text).lower()
        if _traditional_re().search(text):
            text = text.translate(t2s_table())
    else:
        text = text.lower()  # ASCII text is already in NFKC form
    if _APOS_OR_QUOTE.search(text):
        text = _QUOTES.sub(" ", _APOS.sub("'", text))
    found = set(_NOTATION_TRIGGER.findall(text))
    if found:
        for triggers, pattern, repl in _NOTATION:
            if not found.isdisjoint(triggers):
                text = pattern.sub(repl, text)
    if "-" in text or "‐" in text or "‑" in text or "–" in text:
        text = _HYPHEN.sub(" ", text)
    if _SPACES_TO_FOLD.search(text):
        text = _SPACES.sub(" ", text)
    return text


def mark_cjk_spaces(text: str) -> str:
    """Turn spaces between two CJK characters into list separators ("方差 梯度" lists two terms)."""
    return _CJK_SPACE.sub("、", text)


def compact(text: str) -> str:
    """Drop spaces next to CJK characters and punctuation: Chinese is matched as character sequences."""
    return _COMPACT.sub("", text).strip()


def normalize_phrase(text: str) -> str:
    """A short phrase (alias, key word) in the same form as a normalised reply."""
    return compact(normalize(text)).strip(" ,.、:;")


# ------------------------------------------------------------------------------------------- words

# `[x][x]*` rather than `[x]+`: a pattern that opens with a plain class gets a fast scan for it
WORD_RE = re.compile(r"[a-z0-9_\u00e0-\u024f\u03b1-\u03c9][a-z0-9_\u00e0-\u024f\u03b1-\u03c9]*(?:[\^'][a-z0-9]+)*")
CJK_RUN_RE = re.compile(f"[{CJK}][{CJK}]*")
CJK_CHAR_RE = re.compile(f"[{CJK}]")
UNIT_RE = re.compile(rf"[{CJK}]|[a-z0-9_\u00e0-\u024f\u03b1-\u03c9]+(?:[\^'][a-z0-9]+)*")
_BRITISH = re.compile(r"(?<=[a-z]{2}[lrmnt])is(?=(?:e|ed|es|ing|er|ers|ation|ations)$)")
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("izable", ""),
    ("isable", ""),
    ("ism", ""),
    ("izations", "ize"),
    ("ization", "ize"),
    ("ational", "ate"),
    ("ations", "ate"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("ality", "al"),
    ("ivity", "ive"),
    ("bility", "ble"),
)


def stem(word: str) -> str:
    """A light, deterministic English stemmer (plurals, -ed/-ing, -ation, British -ise)."""
    if len(word) <= 3 or "'" in word or not word.isalpha():
        return word
    word = _BRITISH.sub("iz", word)
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + repl
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] in "bdgmnprt":
        word = word[:-1]  # stopped -> stop, scanned -> scan
    return word
