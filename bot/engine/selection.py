"""Which questions a drill or a round may use, and in which order."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from question_bank.schema import Bank, Question


class ScopeError(ValueError):
    """The section or tag does not exist; carries the valid choices for the message."""

    def __init__(self, key: str, value: str, valid: Iterable[str]) -> None:
        self.key = key
        self.value = value
        # numbers in numeric order (sections), words alphabetically (tags)
        self.valid = sorted(valid, key=lambda v: (0, int(v), "") if v.isdigit() else (1, 0, v))
        super().__init__(f"{key} {value!r} not one of {', '.join(self.valid)}")


@dataclass(frozen=True, slots=True)
class Scope:
    """A section and/or tag filter over the bank's seed questions."""

    section: int | None = None
    tag: str | None = None
    rising: int | None = None  # prefer this difficulty (daily schedules that rise across the week)

    def key(self) -> str:
        return f"section={self.section or ''};tag={self.tag or ''}"

    def as_dict(self) -> dict[str, object]:
        return {"section": self.section, "tag": self.tag}


def parse_scope(bank: Bank, section: str | int | None, tag: str | None) -> Scope:
    """Check a section and tag against the bank; raise ScopeError naming the valid values."""
    number: int | None = None
    if section not in (None, ""):
        valid = [str(n) for n in bank.sections if any(q.section.number == n for q in bank.main_questions())]
        if str(section).strip() not in valid:
            raise ScopeError("section", str(section), valid)
        number = int(str(section).strip())
    if tag:
        tags = {t for q in bank.main_questions() for t in q.tags}
        typed, tag = tag, tag.strip().lower()  # tags are lower-case: `--tag Attention` means attention
        if tag not in tags:
            raise ScopeError("tag", typed, tags)
    return Scope(number, tag or None)


def questions_in(bank: Bank, scope: Scope) -> list[Question]:
    """Seed questions with reference content within the scope, in id order."""
    return [
        q
        for q in bank.main_questions()
        if q.complete
        and (scope.section is None or q.section.number == scope.section)
        and (scope.tag is None or scope.tag in q.tags)
    ]


def shuffled(items: list[str], seed: str) -> list[str]:
    """A deterministic shuffle, so a test can predict the order from its inputs."""
    rng = random.Random(seed)
    out = list(items)
    rng.shuffle(out)
    return out
