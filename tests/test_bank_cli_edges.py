"""Edges of `interview-bot bank list|show` and the labels they share with drill: tag checks, the default
language, labels in the chosen language, topic names in both languages, and help for every argument."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.i18n import TAG_NAMES_ZH, tag_name
from question_bank.schema import Bank

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# how the English labels of `bank show` start their lines
EN_LABELS = ("also:", "follow-ups:", "related:", "Hint:", "Reference answer:", "Key points:")


def cli(*args: str, env: dict[str, str] | None = None, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `interview-bot` entry point with a scratch database and no language from the caller's
    environment, so the default language is the one the test sets."""
    environ = {k: v for k, v in os.environ.items() if k != "INTERVIEW_BOT_LANG"}
    if tmp is not None:
        environ["INTERVIEW_BOT_DB"] = str(tmp / "bot.sqlite3")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        env={**environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )


def _error(stderr: str) -> str:
    """The message after `error: `, without the command name that precedes it."""
    return stderr.strip().split("error: ", 1)[1]


def test_bank_list_rejects_an_unknown_tag_as_drill_does(tmp_path: Path) -> None:
    """`bank list --tag nosuch` is a usage error naming the valid tags, word for word as `drill --tag`."""
    listed = cli("bank", "list", "--tag", "nosuch", tmp=tmp_path)
    drilled = cli("drill", "--tag", "nosuch", tmp=tmp_path)
    assert listed.returncode == drilled.returncode == 2, (listed.stderr, drilled.stderr)
    assert listed.stdout == ""
    assert "unknown tag nosuch; valid choices: architecture, attention," in listed.stderr
    assert listed.stderr.startswith("interview-bot bank list: error: ")
    assert _error(listed.stderr) == _error(drilled.stderr)


def test_bank_list_tag_ignores_case_as_drill_does(tmp_path: Path) -> None:
    """`--tag Attention` lists the attention questions, as `drill --tag Attention` drills them."""
    upper = cli("bank", "list", "--tag", "Attention", "--lang", "en", tmp=tmp_path)
    lower = cli("bank", "list", "--tag", "attention", "--lang", "en", tmp=tmp_path)
    assert upper.returncode == 0, upper.stderr
    assert upper.stdout == lower.stdout
    assert "Why does the Transformer use multi-head attention?" in upper.stdout


def test_bank_list_unknown_section_still_names_the_valid_ones(tmp_path: Path) -> None:
    """The section check moved to drill's code too: same one-line message, exit 2."""
    result = cli("bank", "list", "--section", "9", tmp=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "interview-bot bank list: error: unknown section 9; valid choices: 1, 2, 3, 4"


def test_bank_list_and_show_default_to_the_language_setting(tmp_path: Path) -> None:
    """Without --lang, `bank list` uses INTERVIEW_BOT_LANG or the config file, as drill does; `bank show`
    shows both languages with labels in that language."""
    en = {"INTERVIEW_BOT_LANG": "en"}
    listed = cli("bank", "list", "--section", "1", env=en, tmp=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "Why does the Transformer use multi-head attention?" in listed.stdout
    assert not CJK.search(listed.stdout)
    shown = cli("bank", "show", "4.6", env=en, tmp=tmp_path)  # both languages, labelled in English
    assert shown.returncode == 0, shown.stderr
    assert "Reference answer:" in shown.stdout and CJK.search(shown.stdout)

    config = tmp_path / "bot.toml"
    config.write_text('lang = "en"\n', encoding="utf-8")
    from_file = cli("bank", "list", "--section", "1", "--config", str(config), tmp=tmp_path)
    assert from_file.stdout == listed.stdout

    default = cli("bank", "list", "--section", "1", tmp=tmp_path)
    assert "为什么" in default.stdout and "Why does" not in default.stdout
    given = cli("bank", "list", "--section", "1", "--lang", "zh", env=en, tmp=tmp_path)
    assert given.stdout == default.stdout  # --lang wins over the setting


def test_bank_show_in_chinese_has_only_chinese_labels(tmp_path: Path) -> None:
    """`bank show 4.6 --lang zh` (aliases, follow-ups and related ids) names difficulty, topics, aliases,
    follow-ups and related questions in Chinese."""
    shown = cli("bank", "show", "4.6", "--lang", "zh", tmp=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    lines = text.splitlines()
    # the answer text may quote English terms; the labels are the header and the lines they start
    assert not [line for line in lines if line.startswith(EN_LABELS)]
    header = lines[0]
    assert "difficulty" not in header and "难度" in header and "训练、解码、效率" in header
    assert "追问：" in text and "相关题目：" in text and "同题编号：5.1" in text


def test_bank_show_in_english_has_only_english_labels(tmp_path: Path) -> None:
    """The same page in English: English labels and topic names, nothing Chinese."""
    shown = cli("bank", "show", "4.6", "--lang", "en", tmp=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert not CJK.search(text), CJK.findall(text)
    header = text.splitlines()[0]
    assert "difficulty" in header and "training, decoding, efficiency" in header
    assert "follow-ups:" in text and "related: " in text and "also: 5.1" in text


def test_every_tag_in_the_bank_has_a_name_in_both_languages(bank: Bank) -> None:
    """Reports and `bank show` name topics, not tag ids, in Chinese and in English."""
    from bot.i18n import TAG_NAMES_EN  # imported here so the other tests of this file run without it

    tags = {tag for question in bank for tag in question.tags}
    assert tags
    assert tags <= set(TAG_NAMES_ZH), sorted(tags - set(TAG_NAMES_ZH))
    assert tags <= set(TAG_NAMES_EN), sorted(tags - set(TAG_NAMES_EN))
    assert tag_name("ffn", "en") == "feed-forward network"
    assert tag_name("bert", "en") == "BERT"
    assert tag_name("positional-encoding", "en") == "positional encoding"
    assert tag_name("ffn", "zh") == "前馈网络"
    assert tag_name("team-topic", "en") == tag_name("team-topic", "zh") == "team-topic"  # a team bank's own tag


def test_english_report_names_topics_not_tag_ids() -> None:
    """The English "By topic" lines read `feed-forward network: 0`, not `ffn: 0`, as Chinese ones read `前馈网络：0`."""
    from bot.engine.drills import DrillReport
    from bot.platforms.console.render import render_text
    from handlers.views import render

    def report(lang: str) -> str:
        by_tag = (("ffn", 0), ("positional-encoding", 40), ("bert", 80))
        return render_text(render(DrillReport(
            drill_id=1, number=1, lang=lang, reason="finished", lines=(), overall=40, answered=3, by_tag=by_tag,
            strongest=("bert",), weakest=("ffn",), reviews=(),
        )))

    english = report("en")
    assert "feed-forward network: 0" in english and "positional encoding: 40" in english and "BERT: 80" in english
    assert not re.search(r"\bffn\b|positional-encoding|\bbert\b", english), english
    assert "前馈网络：0" in report("zh")


def _arguments_without_help(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                missing += _arguments_without_help(child, (*path, name))
        elif action.help is None:
            missing.append(" ".join((*path, *(action.option_strings[-1:] or [action.dest]))))
    return missing


def test_every_argument_of_every_command_has_help() -> None:
    """`interview-bot X --help` explains each argument (bank show, db backup, export and forget had bare ones)."""
    assert _arguments_without_help(build_parser()) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bank_show_lists_the_probe_under_its_key_point(tmp_path: Path, bank: Bank, lang: str) -> None:
    """An author reviewing a question sees, under each key point, the follow-up a drill asks when it is missed."""
    shown = cli("bank", "show", "1.4", "--lang", lang, tmp=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    question = bank.get("1.4")
    assert question is not None
    probed = [kp for kp in question.key_points if kp.probe is not None]
    assert len(probed) >= 3
    for kp in probed:
        assert kp.probe is not None
        at = next(i for i, line in enumerate(lines) if line.startswith(f"  [{kp.id} ×"))
        assert lines[at + 1].strip().endswith(kp.probe.get(lang)), lines[at + 1]


def test_the_report_punctuates_each_language_its_own_way(bank: Bank) -> None:
    """The missed-points label ends with a full-width colon in Chinese and an ASCII one in English."""
    from bot.engine.drills import DrillReport, ReportLine
    from bot.platforms.console.render import render_text
    from handlers.views import render

    question = bank.get("1.14")
    assert question is not None
    line = ReportLine("1.14", question, "answered", 41, 5.0, False, 0, (), (question.key_points[-1].id,), None)

    def report(lang: str) -> str:
        return render_text(render(DrillReport(
            drill_id=7, number=1, lang=lang, reason="finished", lines=(line,), overall=41, answered=1, by_tag=(),
            strongest=(), weakest=(), reviews=(),
        )))

    assert "   遗漏的要点：" in report("zh") and "遗漏的要点:" not in report("zh")
    assert "   Missed:" in report("en")
