"""Parse the seed document into numbered items.

The seed is a scraped interview list: items wrap across lines and sometimes run
into each other on one line (``...吗?18.Transformer...``).  We therefore walk each
section looking for the *next expected* number rather than any number, which keeps
``O(n ^2)`` or ``3D`` from being mistaken for item starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SECTION_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
# The seed's second section header lacks its numeral; sections appear in order.
_SECTION_HEADER = re.compile(r"^##\s*(?:(?P<numeral>[一二三四五])、)?(?P<title>[^（(]+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class SeedItem:
    """One numbered item of the seed, with its text verbatim (line breaks joined)."""

    section: int
    number: int
    source: str

    @property
    def qid(self) -> str:
        return f"{self.section}.{self.number}"


@dataclass(frozen=True, slots=True)
class SeedSection:
    number: int
    title: str
    items: tuple[SeedItem, ...]


def _join_lines(text: str) -> str:
    return "".join(line.strip() for line in text.splitlines()).strip()


def _split_items(section: int, body: str) -> list[SeedItem]:
    items: list[SeedItem] = []
    starts: list[tuple[int, int]] = []  # (number, index where its text begins)
    pos = 0
    number = 1
    while True:
        # An item number begins a line or follows the previous item's punctuation.
        pattern = re.compile(rf"(?:(?<=^)|(?<=\n)|(?<=[?？。!！)）\s])){number}\.(?=\D)")
        match = pattern.search(body, pos)
        if match is None:
            break
        starts.append((number, match.end()))
        pos = match.end()
        number += 1
    for i, (num, begin) in enumerate(starts):
        end = len(body) if i + 1 == len(starts) else body.rfind(f"{num + 1}.", begin, starts[i + 1][1])
        items.append(SeedItem(section, num, _join_lines(body[begin:end])))
    return items


def parse_seed(text: str) -> list[SeedSection]:
    """Return the seed's sections with their numbered items, in document order."""
    headers = list(_SECTION_HEADER.finditer(text))
    sections: list[SeedSection] = []
    for index, header in enumerate(headers):
        number = index + 1
        if header.group("numeral"):
            number = SECTION_NUMERALS[header.group("numeral")]
        body_end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        body = text[header.end() : body_end]
        body = body.split("\n", 1)[1] if "\n" in body else ""
        title = header.group("title").strip()
        sections.append(SeedSection(number, title, tuple(_split_items(number, body))))
    return sections


def load_seed(path: Path) -> list[SeedSection]:
    """Read and parse the seed file."""
    return parse_seed(path.read_text(encoding="utf-8"))
