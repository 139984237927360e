"""Load bank files into typed objects, collecting every problem instead of stopping at the first.

Validation happens in two passes: the JSON Schema checks each file's shape, then
cross-reference checks run over everything that loaded (ids, follow-ups, related
entries, aliases, cycles).  Reporting every problem at once is what lets an editor
fix a whole file in one go.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from question_bank.schema import Bank, KeyPoint, Localized, Question, Section

DATA_DIR = Path(__file__).parent / "data"
SCHEMA_PATH = Path(__file__).parent / "bank.schema.json"


@dataclass(frozen=True, slots=True)
class BankProblem:
    """One problem found in a bank file, located by file, entry id and field."""

    file: str
    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.entry:
            where += f": {self.entry}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


class BankLoadError(Exception):
    """Raised when a bank that must load cleanly has problems."""

    def __init__(self, problems: Sequence[BankProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def bank_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into their YAML files, sorted for stable output."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"}))
        else:
            files.append(path)
    return files


def _field_path(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _schema_problem(file: str, doc: Any, error: jsonschema.ValidationError) -> BankProblem:
    path = list(error.absolute_path)
    entry: str | None = None
    if len(path) >= 2 and path[0] in ("questions", "aliases") and isinstance(path[1], int):
        item = doc[path[0]][path[1]]
        entry = str(item.get("id")) if isinstance(item, dict) and item.get("id") else f"{path[0]}[{path[1]}]"
        path = path[2:]
    field = _field_path(path) or None
    message = error.message
    if error.validator == "required":
        missing = message.split("'")[1] if "'" in message else message
        message = f"missing language '{missing}'" if missing in ("zh", "en") else f"missing field '{missing}'"
    elif error.validator == "minItems" and field and ".aliases." in f".{field}":
        message = "key point without aliases in this language"
    elif error.validator == "oneOf" and field and field.startswith("follow_ups"):
        message = "a follow-up must be a question id like '1.15' or an inline probe with id '<parent>.p<n>'"
    elif error.validator == "additionalProperties":
        message = f"unknown field: {message.split(' were unexpected')[0].split('(')[-1]}"
    elif error.validator == "minLength" and error.instance == "":
        message = "empty text"
    return BankProblem(file, entry, field, message)


def _localized(raw: dict[str, str]) -> Localized:
    return Localized(zh=raw["zh"].strip(), en=raw["en"].strip())


def _key_points(raw: list[dict[str, Any]]) -> tuple[KeyPoint, ...]:
    return tuple(
        KeyPoint(
            id=kp["id"],
            weight=float(kp["weight"]),
            text=_localized(kp["text"]),
            aliases_zh=tuple(kp["aliases"]["zh"]),
            aliases_en=tuple(kp["aliases"]["en"]),
            wrong_zh=tuple(kp.get("wrong", {}).get("zh", ())),
            wrong_en=tuple(kp.get("wrong", {}).get("en", ())),
            probe=_localized(kp["probe"]) if "probe" in kp else None,
        )
        for kp in raw
    )


_EMPTY = Localized("", "")


@dataclass
class _Collected:
    questions: list[tuple[str, Question]]
    id_aliases: list[tuple[str, str, str]]  # (file, alias id, target)
    sections: dict[int, Section]
    problems: list[BankProblem]
    broken_ids: set[str]


def _build_question(
    file: str, raw: dict[str, Any], section: Section, parent: str | None, out: _Collected, inherited: dict[str, Any]
) -> None:
    follow_ids: list[str] = []
    for item in raw.get("follow_ups", []):
        if isinstance(item, str):
            follow_ids.append(item)
        else:
            follow_ids.append(item["id"])
            root_id = ".".join(raw["id"].split(".")[:2])
            if not item["id"].startswith(root_id + "."):
                out.problems.append(
                    BankProblem(
                        file, item["id"], "id", f"an inline probe's id must start with its question's id '{root_id}.'"
                    )
                )
            _build_question(
                file,
                item,
                section,
                raw["id"],
                out,
                inherited={
                    "tags": raw.get("tags", inherited.get("tags", [])),
                    "difficulty": raw.get("difficulty", inherited.get("difficulty", 2)),
                },
            )
    question = Question(
        id=raw["id"],
        section=section,
        source=raw.get("source", ""),
        text=_localized(raw["text"]),
        answer=_localized(raw["answer"]),
        key_points=_key_points(raw["key_points"]),
        hint=_localized(raw["hint"]) if "hint" in raw else _EMPTY,
        follow_ups=tuple(follow_ids),
        related=tuple(raw.get("related", [])),
        tags=tuple(raw.get("tags", inherited.get("tags", []))),
        difficulty=int(raw.get("difficulty", inherited.get("difficulty", 2))),
        parent=parent,
    )
    out.questions.append((file, question))


# libyaml's safe loader when PyYAML was built with it (the wheels are): the same documents ten times faster,
# which is most of a terminal drill's start-up
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _collect_file(path: Path, out: _Collected) -> None:
    file = str(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except OSError as exc:
        out.problems.append(BankProblem(file, None, None, f"cannot read file: {exc.strerror or exc}"))
        return
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        out.problems.append(BankProblem(file, None, None, f"malformed YAML{where}: {getattr(exc, 'problem', exc)}"))
        return
    if not isinstance(doc, dict):
        out.problems.append(
            BankProblem(file, None, None, "a bank file must be a mapping with 'section' and 'questions'")
        )
        return
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    bad_entries: set[int] = set()
    for error in errors:
        out.problems.append(_schema_problem(file, doc, error))
        location = list(error.absolute_path)
        if len(location) >= 2 and location[0] == "questions" and isinstance(location[1], int):
            bad_entries.add(location[1])
        elif not location or location[0] == "section":
            return  # without a valid section header nothing else can be trusted
    raw_section = doc["section"]
    section = Section(int(raw_section["number"]), _localized(raw_section["title"]))
    if section.number in out.sections and out.sections[section.number] != section:
        out.problems.append(
            BankProblem(file, None, "section.title", f"section {section.number} has another title elsewhere")
        )
    out.sections.setdefault(section.number, section)
    for index, raw in enumerate(doc.get("questions") or []):
        if index in bad_entries:
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                out.broken_ids.add(raw["id"])
            continue
        if raw["id"].split(".")[0] != str(section.number):
            out.problems.append(BankProblem(file, raw["id"], "id", f"id does not belong to section {section.number}"))
        _build_question(file, raw, section, None, out, inherited={})
    for raw in doc.get("aliases") or []:
        out.id_aliases.append((file, raw["id"], raw["target"]))


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _cross_check(out: _Collected) -> Bank:
    questions: dict[str, Question] = {}
    files: dict[str, str] = {}
    for file, question in out.questions:
        if question.id in questions:
            out.problems.append(BankProblem(file, question.id, "id", f"duplicate id (also in {files[question.id]})"))
            continue
        questions[question.id] = question
        files[question.id] = file
        kp_ids = [kp.id for kp in question.key_points]
        for dup in sorted({k for k in kp_ids if kp_ids.count(k) > 1}):
            out.problems.append(BankProblem(file, question.id, "key_points", f"duplicate key point id '{dup}'"))
    id_aliases: dict[str, str] = {}
    for file, alias, target in out.id_aliases:
        if alias in questions or alias in id_aliases:
            out.problems.append(BankProblem(file, alias, "id", "alias id is already used"))
        elif target not in questions and target not in out.broken_ids:
            out.problems.append(BankProblem(file, alias, "target", f"alias of unknown id '{target}'"))
        else:
            id_aliases[alias] = target
    known = set(questions) | set(id_aliases) | out.broken_ids
    for qid, question in questions.items():
        for target in question.follow_ups:
            if target not in known:
                out.problems.append(BankProblem(files[qid], qid, "follow_ups", f"unknown follow-up id '{target}'"))
        for target in question.related:
            if target not in known:
                out.problems.append(BankProblem(files[qid], qid, "related", f"unknown related id '{target}'"))
            elif target == qid:
                out.problems.append(BankProblem(files[qid], qid, "related", "an entry cannot be related to itself"))
    graph = {qid: tuple(id_aliases.get(t, t) for t in q.follow_ups) for qid, q in questions.items()}
    if cycle := _find_cycle(graph):
        out.problems.append(
            BankProblem(files[cycle[0]], cycle[0], "follow_ups", "follow-up cycle: " + " -> ".join(cycle))
        )
    alias_of: dict[str, list[str]] = {}
    for alias, target in id_aliases.items():
        alias_of.setdefault(target, []).append(alias)
    for target, aliases in alias_of.items():
        if target in questions:
            q = questions[target]
            questions[target] = Question(
                **{**{f: getattr(q, f) for f in q.__dataclass_fields__}, "aliases": tuple(sorted(aliases))}
            )
    return Bank(questions=questions, id_aliases=id_aliases, sections=dict(sorted(out.sections.items())))


def load_bank(paths: Sequence[Path] = (DATA_DIR,)) -> tuple[Bank, list[BankProblem]]:
    """Load every bank file under `paths`; return the bank and every problem found."""
    out = _Collected([], [], {}, [], set())
    files = bank_files(paths)
    if not files:
        out.problems.append(BankProblem(", ".join(str(p) for p in paths), None, None, "no bank files (*.yaml) found"))
    for path in files:
        _collect_file(path, out)
    bank = _cross_check(out)
    return bank, out.problems


def load_bank_strict(paths: Sequence[Path] = (DATA_DIR,)) -> Bank:
    """Load the bank or raise BankLoadError listing every problem."""
    bank, problems = load_bank(paths)
    if problems:
        raise BankLoadError(problems)
    return bank


@dataclass(frozen=True, slots=True)
class LoadedBanks:
    """The serving bank plus the extra banks that were rejected, with their problems."""

    bank: Bank
    rejected: dict[str, list[BankProblem]]


def load_serving_bank(extra_paths: Sequence[Path] = ()) -> LoadedBanks:
    """Load the built-in bank, then add each extra bank directory that validates against it.

    A broken team bank must not take the built-in questions down with it, so each
    extra directory is checked together with the built-in files and kept only when clean.
    """
    accepted: list[Path] = [DATA_DIR]
    bank = load_bank_strict(accepted)
    rejected: dict[str, list[BankProblem]] = {}
    for extra in extra_paths:
        candidate, problems = load_bank([*accepted, extra])
        if problems:
            rejected[str(extra)] = problems
        else:
            accepted.append(extra)
            bank = candidate
    return LoadedBanks(bank, rejected)
