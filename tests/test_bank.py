"""The question bank: seed coverage, validation of every file, chains, aliases and completeness."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from question_bank.loader import DATA_DIR, load_bank, load_serving_bank
from question_bank.schema import LANGS, Bank
from question_bank.seed import load_seed

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_a34aa474d0e68316.txt"


def cli(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `interview-bot` entry point."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or ROOT,
        check=False,
    )


def test_seed_file_is_the_shared_source() -> None:
    """The project's seed is the shared source document, unchanged."""
    shared = ROOT.parent / "shared" / "seeds" / SEED.name
    if shared.exists():
        assert shared.read_bytes() == SEED.read_bytes()


def test_every_seed_item_is_reachable_with_its_source(bank: Bank) -> None:
    """Each numbered item of the seed resolves by id, and its entry's source is the seed's text."""
    sections = load_seed(SEED)
    assert [len(s.items) for s in sections] == [20, 19, 6, 25, 3]
    for section in sections:
        for item in section.items:
            question = bank.get(item.qid)
            assert question is not None, item.qid
            if section.number == 5:
                assert item.qid in question.aliases
            else:
                assert question.id == item.qid
                assert question.source == item.source


def test_bank_files_validate_cleanly() -> None:
    """Every bank file loads with no problem at all (the list is printed if not)."""
    _bank, problems = load_bank()
    assert problems == [], "\n".join(map(str, problems))


def test_every_entry_complete_in_both_languages(bank: Bank) -> None:
    """Sections 1-4: text, answer, hint and key points (with aliases) in zh and en; tags and difficulty."""
    for q in bank.main_questions():
        for lang in LANGS:
            assert getattr(q.text, lang) and getattr(q.answer, lang) and getattr(q.hint, lang), (q.id, lang)
        assert 3 <= len(q.key_points) <= 7, q.id
        for kp in q.key_points:
            assert kp.aliases_zh and kp.aliases_en and kp.text.zh and kp.text.en, (q.id, kp.id)
        assert q.tags and 1 <= q.difficulty <= 3
    assert len(bank.main_questions()) == 70


def test_answers_have_expected_length(bank: Bank) -> None:
    """Reference answers are substantial: Chinese 200+ characters, English 120+ words."""
    for q in bank.main_questions():
        assert len(q.answer.zh) >= 200, q.id
        assert len(q.answer.en.split()) >= 120, q.id


def test_cleaned_text_fixes_seed_slips(bank: Bank) -> None:
    """The seed's typos do not reach the cleaned question texts."""
    for q in bank:
        for slip in ("描述-下", "提现", "Trasnformer", "éncoding", "号市", "实很有难度"):
            assert slip not in q.text.zh, (q.id, slip)


def test_follow_up_chains_from_the_seed(bank: Bank) -> None:
    """1.14 -> 1.15 -> a seq2seq-attention probe; 1.17's three asks as a chain."""
    assert "1.15" in bank.questions["1.14"].follow_ups
    probe = bank.questions[bank.questions["1.15"].follow_ups[0]]
    assert probe.is_probe and "seq2seq" in probe.text.en.lower() + probe.answer.en.lower()
    p1 = bank.questions[bank.questions["1.17"].follow_ups[0]]
    p2 = bank.questions[p1.follow_ups[0]]
    assert "dropout" in p1.text.en.lower() and "test" in p2.text.en.lower()
    assert "BPE" in bank.questions["1.17"].text.en or "byte" in bank.questions["1.17"].text.en.lower()
    assert "Dropout" not in bank.questions["1.17"].text.zh
    assert "Encoder" not in bank.questions["1.14"].text.zh.split("？")[-1]


def test_at_least_25_acyclic_follow_up_links(bank: Bank) -> None:
    """The bank has at least 25 follow-up links and no cycle."""
    links = [(q.id, f) for q in bank for f in q.follow_ups]
    assert len(links) >= 25
    graph = {q.id: q.follow_ups for q in bank}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    assert not any(reaches(q, q, set()) for q in graph)


@pytest.mark.parametrize(
    "a,b",
    [
        ("1.4", "4.20"),
        ("1.17", "1.19"),
        ("2.15", "2.19"),
        ("4.8", "4.9"),
        ("4.4", "4.5"),
        ("4.5", "4.6"),
        ("4.4", "4.6"),
    ],
)
def test_overlapping_questions_are_related(bank: Bank, a: str, b: str) -> None:
    """Overlapping questions point at each other through `related`."""
    assert b in bank.questions[a].related or a in bank.questions[b].related


def test_section5_aliases_resolve(bank: Bank) -> None:
    """5.1, 5.2, 5.3 are aliases of 4.6, 4.7, 4.8."""
    assert [bank.resolve(x) for x in ("5.1", "5.2", "5.3")] == ["4.6", "4.7", "4.8"]
    assert bank.get("5.1") is bank.get("4.6")
    assert bank.get("9.9") is None
    assert "4.6" in bank.closest_ids("4.66")


# -- broken files -------------------------------------------------------------------------------

GOOD_ENTRY = {
    "id": "7.1",
    "source": "s",
    "text": {"zh": "问", "en": "Q"},
    "answer": {"zh": "答", "en": "A"},
    "key_points": [
        {"id": f"k{i}", "weight": 1, "text": {"zh": "点", "en": "point"}, "aliases": {"zh": ["甲"], "en": ["alpha"]}}
        for i in range(3)
    ],
    "hint": {"zh": "提示", "en": "hint"},
    "tags": ["attention"],
    "difficulty": 1,
}


def _write(path: Path, questions: list[dict[str, object]], number: int = 7) -> Path:
    path.write_text(
        yaml.safe_dump(
            {"section": {"number": number, "title": {"zh": "测试", "en": "Test"}}, "questions": questions},
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    return path


def _entry(**changes: object) -> dict[str, object]:
    entry = json.loads(json.dumps(GOOD_ENTRY))
    entry.update(changes)
    return entry


def test_each_kind_of_error_has_its_message(tmp_path: Path) -> None:
    """Malformed YAML, duplicates, unknown ids, cycles, missing language or aliases: each reported."""
    (tmp_path / "a_malformed.yaml").write_text("section: [unclosed\n", encoding="utf-8")
    no_lang = _entry(id="7.3")
    no_lang["text"] = {"zh": "问"}
    no_alias = _entry(id="7.4")
    no_alias["key_points"][0]["aliases"]["en"] = []  # type: ignore[index]
    missing = _entry(id="7.5")
    del missing["answer"]
    _write(
        tmp_path / "b.yaml",
        [
            _entry(id="7.1", follow_ups=["7.2"]),
            _entry(id="7.1"),
            _entry(id="7.2", follow_ups=["7.1"], related=["8.8"]),
            no_lang,
            no_alias,
            missing,
            _entry(id="7.6", follow_ups=["9.9"]),
        ],
    )
    _bank, problems = load_bank([tmp_path])
    text = "\n".join(map(str, problems))
    assert "a_malformed.yaml: malformed YAML at line" in text
    assert "7.1: id: duplicate id" in text
    assert "7.2: related: unknown related id '8.8'" in text
    assert "follow-up cycle: 7.1 -> 7.2 -> 7.1" in text
    assert "7.3: text: missing language 'en'" in text
    assert "7.4: key_points[0].aliases.en: key point without aliases" in text
    assert "7.5: missing field 'answer'" in text
    assert "7.6: follow_ups: unknown follow-up id '9.9'" in text
    assert len(problems) == 8


def test_a_bank_file_cannot_build_python_objects(tmp_path: Path) -> None:
    """Bank files are read with a safe loader: a Python tag is a malformed file, never executed."""
    marker = tmp_path / "ran"
    (tmp_path / "evil.yaml").write_text(
        f"section: !!python/object/apply:os.mkdir ['{marker}']\n",
        encoding="utf-8",
    )
    _bank, problems = load_bank([tmp_path])
    assert any("evil.yaml: malformed YAML" in str(p) for p in problems)
    assert not marker.exists()


def test_validate_cli_lists_every_error(tmp_path: Path) -> None:
    """`bank validate PATH` prints each problem with file, entry and field, and exits non-zero."""
    _write(tmp_path / "x.yaml", [_entry(id="7.1", related=["7.9"]), _entry(id="7.1")])
    result = cli("bank", "validate", str(tmp_path))
    assert result.returncode == 1
    assert "x.yaml: 7.1: related: unknown related id '7.9'" in result.stdout
    assert "x.yaml: 7.1: id: duplicate id" in result.stdout
    assert cli("bank", "validate").returncode == 0


def test_broken_extra_bank_is_rejected_builtin_keeps_serving(tmp_path: Path) -> None:
    """A team bank with errors is rejected with its problems; the built-in bank still loads."""
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    _write(good / "team.yaml", [_entry(id="7.1", related=["1.4"])])
    _write(bad / "team.yaml", [_entry(id="8.1", follow_ups=["8.9"])], number=8)
    loaded = load_serving_bank([good, bad])
    assert "7.1" in loaded.bank.questions and "1.4" in loaded.bank.questions
    assert "8.1" not in loaded.bank.questions
    assert any("unknown follow-up id '8.9'" in str(p) for p in loaded.rejected[str(bad)])


def test_bank_list_json_holds_every_seed_item() -> None:
    """`bank list --json`: sections 1-4 as entries with every field, section 5 as aliases."""
    result = cli("bank", "list", "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    ids = {e["id"] for e in entries}
    for section in load_seed(SEED)[:4]:
        assert {i.qid for i in section.items} <= ids
    by_id = {e["id"]: e for e in entries}
    assert by_id["4.6"]["aliases"] == ["5.1"]
    assert set(by_id["1.4"]) >= {
        "id",
        "section",
        "source",
        "text",
        "answer",
        "key_points",
        "hint",
        "follow_ups",
        "related",
        "tags",
        "difficulty",
    }


def test_bank_show_and_unknown_id() -> None:
    """`bank show` prints a question; an unknown id names the closest ids and exits 2."""
    shown = cli("bank", "show", "5.2", "--lang", "en")
    assert shown.returncode == 0 and "4.7" in shown.stdout and "Reference answer" in shown.stdout
    missing = cli("bank", "show", "1.40")
    assert missing.returncode == 2 and "did you mean" in missing.stderr and "1.4" in missing.stderr


def test_bank_list_in_english() -> None:
    """`bank list --lang en` lists the English question texts."""
    listed = cli("bank", "list", "--section", "1", "--lang", "en")
    assert listed.returncode == 0 and "Why does the Transformer use multi-head attention?" in listed.stdout
    assert "为什么" not in listed.stdout


def test_bank_list_unknown_section() -> None:
    """An unknown section is one line naming the valid ones, exit 2."""
    result = cli("bank", "list", "--section", "9")
    assert result.returncode == 2 and "valid choices: 1, 2, 3, 4" in result.stderr


def test_data_dir_holds_one_file_per_section() -> None:
    """Human-editable files, one per section."""
    assert sorted(p.name for p in DATA_DIR.glob("*.yaml")) == [f"section{n}.yaml" for n in range(1, 6)]


def test_a_reader_that_stops_early_ends_the_output_quietly() -> None:
    """`interview-bot bank list | head -0`: the closed pipe ends the command without a traceback.

    The reader closes its end before the command writes anything, so every run takes the same path
    (a reader that first reads a line races the writer: a listing that fits the pipe may be written
    whole before the reader goes away)."""
    proc = subprocess.Popen([sys.executable, "-m", "bot", "bank", "list"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_wrong_claims_of_a_key_point_are_read_and_checked(tmp_path: Path) -> None:
    """`wrong` lists a key point's misconceptions in both languages; a malformed one is reported."""
    good = _entry(id="7.1")
    good["key_points"][0]["wrong"] = {"zh": ["错误说法"], "en": ["a wrong claim"]}  # type: ignore[index]
    bad = _entry(id="7.2")
    bad["key_points"][0]["wrong"] = {"zh": "not a list"}  # type: ignore[index]
    _write(tmp_path / "w.yaml", [good, bad])
    bank, problems = load_bank([tmp_path])
    assert [str(p) for p in problems if "7.2" in str(p)], problems
    assert not [p for p in problems if "7.1" in str(p)]
    kp = bank.questions["7.1"].key_points[0]
    assert kp.wrong_zh == ("错误说法",) and kp.wrong_en == ("a wrong claim",)
    assert bank.questions["7.1"].key_points[1].wrong == ()
