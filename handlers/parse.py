"""Parse a command's words: positionals plus `--flag value` options, with clear errors."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from bot.config import MAX_MINUTES


class BadArguments(ValueError):
    """The words do not fit the command; the router answers with the command's usage."""


@dataclass
class Parsed:
    positional: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    switches: set[str] = field(default_factory=set)


def split_words(text: str) -> list[str]:
    """Split like a shell, but never fail on an unbalanced quote (people type apostrophes)."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def parse(
    args: tuple[str, ...] | list[str],
    *,
    options: frozenset[str] | set[str] = frozenset(),
    switches: frozenset[str] | set[str] = frozenset(),
    max_positional: int = 1,
) -> Parsed:
    """Split `args` into positionals, `--name value` options and `--switch` flags."""
    out = Parsed()
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            name = word[2:]
            value: str | None = None
            if "=" in name:
                name, value = name.split("=", 1)
            if name in switches and value is None:
                out.switches.add(name)
            elif name in options:
                if value is None:
                    if i + 1 >= len(words):
                        raise BadArguments(f"--{name} needs a value")
                    i += 1
                    value = words[i]
                out.options[name] = value
            else:
                raise BadArguments(f"unknown option --{name}")
        else:
            out.positional.append(word)
        i += 1
    if len(out.positional) > max_positional:
        raise BadArguments("too many arguments")
    return out


def as_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadArguments(f"--minutes takes a number, not {text}") from None
    if not 0.5 <= value <= MAX_MINUTES:
        raise BadArguments(f"--minutes must be between 0.5 and {MAX_MINUTES:g}")
    return value


def as_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 30:
        raise BadArguments(f"the number of questions must be 1 to 30, not {text}")
    return int(text)
