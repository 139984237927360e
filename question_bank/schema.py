"""Typed bank entries.

Frozen dataclasses so that the grader and the engine can share one loaded bank
across tasks without anyone mutating it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")


@dataclass(frozen=True, slots=True)
class Localized:
    """A text in both languages."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        """The text in `lang`, falling back to the other language when empty."""
        if lang == "en":
            return self.en or self.zh
        return self.zh or self.en


@dataclass(frozen=True, slots=True)
class KeyPoint:
    """One gradable idea of an answer, with the phrasings that express it."""

    id: str
    weight: float
    text: Localized
    aliases_zh: tuple[str, ...]
    aliases_en: tuple[str, ...]
    # claims that get this point wrong (a common misconception): stating one is flagged in the feedback
    wrong_zh: tuple[str, ...] = ()
    wrong_en: tuple[str, ...] = ()
    # the interviewer's follow-up question when a drill finds the point missing: it steers towards
    # the point without stating it
    probe: Localized | None = None

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.aliases_zh + self.aliases_en

    @property
    def wrong(self) -> tuple[str, ...]:
        return self.wrong_zh + self.wrong_en


@dataclass(frozen=True, slots=True)
class Section:
    number: int
    title: Localized


@dataclass(frozen=True, slots=True)
class Question:
    """A bank entry, or an inline follow-up probe (then `parent` is set and `source` empty)."""

    id: str
    section: Section
    source: str
    text: Localized
    answer: Localized
    key_points: tuple[KeyPoint, ...]
    hint: Localized
    follow_ups: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    difficulty: int = 2
    parent: str | None = None
    aliases: tuple[str, ...] = field(default=())

    @property
    def is_probe(self) -> bool:
        return self.parent is not None

    @property
    def total_weight(self) -> float:
        return sum(kp.weight for kp in self.key_points)

    @property
    def complete(self) -> bool:
        """Whether the entry has reference content (sections still being written may not)."""
        return bool(self.answer.zh and self.answer.en and self.key_points)


@dataclass(frozen=True, slots=True)
class Bank:
    """All questions by id, inline probes included, with section-5 style id aliases."""

    questions: dict[str, Question]
    id_aliases: dict[str, str]
    sections: dict[int, Section]

    def resolve(self, qid: str) -> str | None:
        """The canonical id for `qid` (an alias resolves to its target), or None."""
        qid = qid.strip()
        if qid in self.questions:
            return qid
        return self.id_aliases.get(qid)

    def get(self, qid: str) -> Question | None:
        canonical = self.resolve(qid)
        return self.questions[canonical] if canonical else None

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions.values())

    def main_questions(self) -> list[Question]:
        """Seed questions only (no inline probes), in id order."""
        return sorted((q for q in self if not q.is_probe), key=lambda q: question_sort_key(q.id))

    def closest_ids(self, qid: str, limit: int = 3) -> list[str]:
        """Ids that look like `qid`, best first, at most one per question, for 'did you mean' messages.

        Equally close ids list main ids before aliases (`1` suggests 1.1, not the alias 5.1), then those
        sharing a longer start with what was typed (1.41 -> 1.4 before 1.1), then bank order; an id is
        skipped when its question is already suggested under another id.
        """
        import difflib

        wanted = qid.strip()
        pairs = [(q.id, q.id, False) for q in self.main_questions()]
        pairs += [(alias, target, True) for alias, target in self.id_aliases.items()]
        scored = []
        for position, (candidate, target, is_alias) in enumerate(pairs):
            ratio = difflib.SequenceMatcher(None, candidate, wanted).ratio()
            if ratio >= 0.3:
                same = (i for i, (a, b) in enumerate(zip(candidate, wanted, strict=False)) if a != b)
                prefix = next(same, min(len(candidate), len(wanted)))  # characters the two start with
                scored.append((-ratio, is_alias, -prefix, position, candidate, target))
        picked: list[str] = []
        targets: set[str] = set()
        for *_, candidate, target in sorted(scored):
            if target not in targets and len(picked) < limit:
                picked.append(candidate)
                targets.add(target)
        return picked


def question_sort_key(qid: str) -> tuple[tuple[int, str], ...]:
    """Sort '1.10' after '1.9' and probes ('1.15.p1') after their parent."""
    return tuple((int(part), "") if part.isdigit() else (10_000, part) for part in qid.split("."))
