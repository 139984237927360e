"""The terminal drill through its real entry point (`python -m bot drill`), driven like a person would."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.clock import FakeClock, to_iso
from bot.config import Settings
from bot.engine.selection import Scope
from bot.platforms.console.drill import ConsoleDrillArgs, run_console_drill
from question_bank.loader import load_bank_strict
from question_bank.schema import Bank

ROOT = Path(__file__).resolve().parents[1]


class Terminal:
    """A running `interview-bot` with a line reader, so a test can answer what it is asked."""

    def __init__(self, *args: str, db: Path) -> None:
        env = {**os.environ, "INTERVIEW_BOT_DB": str(db), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Read output until a line matches `pattern`; fail with what was seen."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if match := regex.search(line):
                return match
        raise AssertionError(f"no line matched {pattern!r}; output:\n" + "\n".join(self.seen[-40:]))

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def close_input(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def finish(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout=timeout)
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return code

    def kill(self) -> None:
        """End the process if it still runs, and close every pipe (pytest treats leaks as errors)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()


@pytest.fixture(scope="module")
def real_bank() -> Bank:
    return load_bank_strict()


ASKED = r"(?:Question \d+ of \d+|Follow-up) · (\d+\.\d+(?:\.p\d+)?)"


def until_report(term: Terminal, respond: Callable[[re.Match[str]], str]) -> None:
    """Send `respond(match)` for every question or follow-up asked, until the drill report."""
    while True:
        match = term.expect(rf"{ASKED}|Drill report")
        if match.group(0).startswith("Drill report"):
            return
        term.send(respond(match))


def drive(term: Terminal, respond: Callable[[re.Match[str]], str]) -> None:
    """Answer with `respond` until the report, then end the input; the terminal must exit cleanly."""
    try:
        until_report(term, respond)
        term.close_input()
        assert term.finish() == 0
    finally:
        term.kill()


def answer_all(term: Terminal, bank: Bank) -> list[str]:
    """Answer every question and follow-up with its reference answer until the report."""
    asked: list[str] = []

    def reference(match: re.Match[str]) -> str:
        asked.append(match.group(1))
        question = bank.get(match.group(1))
        assert question is not None
        return question.answer.en.replace("\n\n", "\n") + "\n\n"

    until_report(term, reference)
    return asked


def db_rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_full_two_question_drill(tmp_path: Path, real_bank: Bank) -> None:
    """A 2-question drill in English: graded answers, a report card and a summary table; all in SQLite."""
    db = tmp_path / "bot.sqlite3"
    term = Terminal("drill", "--count", "2", "--lang", "en", "--user", "alice", db=db)
    try:
        asked = answer_all(term, real_bank)
        term.expect(r"^Summary")
        term.expect(r"Question\s+Time\s+Result")
        term.close_input()
        assert term.finish() == 0
    finally:
        term.kill()
    assert len({q.split(".p")[0] for q in asked}) == 2
    output = "\n".join(term.seen)
    assert "Score:" in output and "/100" in output
    rows = db_rows(db, "SELECT state FROM drills")
    assert rows == [("finished",)]
    # the report names the command that shows the reference answers, and that command works
    (drill_id,) = db_rows(db, "SELECT number FROM drills")[0]
    assert f"Use interview-bot report {drill_id} --answers to see the reference answers." in output
    again = run_cli(db, "report", str(drill_id), "--answers", "--user", "alice").stdout.decode()
    assert again.count("Reference answer") >= 2 and "Use interview-bot report" not in again
    answered = db_rows(db, "SELECT COUNT(*) FROM drill_items WHERE state = 'answered'")[0][0]
    assert answered >= 2


def test_piped_single_question_is_recorded(tmp_path: Path) -> None:
    """`drill --count 1` with piped input finishes and the reply is in the database."""
    db = tmp_path / "bot.sqlite3"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "drill", "--count", "1", "--user", "bob"], cwd=ROOT, text=True,
        input="这是我的回答：注意力把每个位置和所有位置联系起来。\n", capture_output=True, timeout=120,
        env={**os.environ, "INTERVIEW_BOT_DB": str(db)}, check=False,
    )
    assert result.returncode == 0, result.stderr
    texts = [r[0] for r in db_rows(db, "SELECT text FROM answers")]
    assert texts == ["这是我的回答：注意力把每个位置和所有位置联系起来。"]
    assert "得分" in result.stdout
    # the thin answer drew a follow-up that the ended input cannot answer: it is skipped, and the
    # one-question drill ends with its report instead of staying open
    assert "已跳过这道追问" in result.stdout and "练习成绩单" in result.stdout
    assert db_rows(db, "SELECT state FROM drills") == [("finished",)]


def test_late_reply_is_recorded_and_marked_late(tmp_path: Path) -> None:
    """After the time limit the terminal still takes the reply, says so, and marks it late."""
    db = tmp_path / "bot.sqlite3"
    term = Terminal("drill", "--count", "1", "--minutes", "0.02", "--lang", "en", "--user", "carol", db=db)
    try:
        term.expect(ASKED)
        term.expect(r"Time is up")
        term.send("Late, but here is my answer about attention.\n\n")
        term.expect(r"marked late")
        term.close_input()
        term.finish()
    finally:
        term.kill()
    assert db_rows(db, "SELECT late FROM answers") == [(1,)]
    assert db_rows(db, "SELECT late FROM drill_items WHERE position = 100") == [(1,)]


def test_interrupt_then_resume(tmp_path: Path, real_bank: Bank) -> None:
    """Ctrl-C mid-drill leaves cleanly with the first answer saved; --resume continues at the second question."""
    db = tmp_path / "bot.sqlite3"
    term = Terminal("drill", "--count", "2", "--lang", "en", "--user", "dave", "--minutes", "30", db=db)
    try:
        first = term.expect(ASKED).group(1)
        term.send(real_bank.get(first).answer.en.replace("\n\n", "\n") + "\n\n")  # type: ignore[union-attr]
        asked = term.expect(ASKED)
        while asked.group(0).startswith("Follow-up"):  # answer any follow-up on the first question
            term.send(real_bank.get(asked.group(1)).answer.en.replace("\n\n", "\n") + "\n\n")  # type: ignore[union-attr]
            asked = term.expect(ASKED)
        assert asked.group(0).startswith("Question 2 of 2")
        second = asked.group(1)
        term.send("a first line of the second answer\n")
        time.sleep(0.5)  # let the line be stored before the interrupt (a person pausing)
        term.proc.send_signal(signal.SIGINT)
        assert term.finish() == 130
    finally:
        term.kill()
    assert "continue with interview-bot drill --resume" in "\n".join(term.seen)
    assert db_rows(db, "SELECT state FROM drills") == [("active",)]
    saved = [r[0] for r in db_rows(db, "SELECT text FROM answers ORDER BY id")]
    assert saved[-1] == "a first line of the second answer"
    resumed = Terminal("drill", "--resume", "--lang", "en", "--user", "dave", db=db)
    try:
        resumed.expect(r"Resuming your unfinished drill")
        again = resumed.expect(ASKED).group(1)
        assert again == second
        resumed.expect(r"You had written 1 line for this question")
        resumed.send("\n")  # an empty line submits the line saved before the interrupt
        while True:
            match = resumed.expect(rf"{ASKED}|Drill report")
            if match.group(0).startswith("Drill report"):
                break
            resumed.send("skip\n")
        resumed.close_input()
        assert resumed.finish() == 0
    finally:
        resumed.kill()
    assert db_rows(db, "SELECT state FROM drills") == [("finished",)]
    answered = db_rows(db, "SELECT state FROM drill_items WHERE question_id = ? AND parent_item_id IS NULL", (second,))
    assert answered == [("answered",)]


def test_killed_process_loses_no_recorded_line(tmp_path: Path) -> None:
    """SIGKILL mid-answer: every line the drill had read is already in the database."""
    db = tmp_path / "bot.sqlite3"
    term = Terminal("drill", "--count", "2", "--user", "erin", "--minutes", "30", db=db)
    try:
        term.expect(r"第 1/2 题")
        term.send("第一行：多头注意力\n第二行：不同子空间\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if db.exists() and len(db_rows(db, "SELECT id FROM answers")) == 2:
                break
            time.sleep(0.05)
        term.proc.kill()
        term.proc.wait()
    finally:
        term.kill()
    texts = [r[0] for r in db_rows(db, "SELECT text FROM answers ORDER BY id")]
    assert texts == ["第一行：多头注意力", "第二行：不同子空间"]


def test_done_lines_submit_and_show_feedback_and_probes(tmp_path: Path) -> None:
    """Piped input that ends each answer with `done` (as the prompt says) or 完成: every item asked gets
    its score and feedback, a thin answer is probed, and `drill 1` is the number of questions."""
    db = tmp_path / "bot.sqlite3"
    term = Terminal("drill", "1", "--lang", "en", "--user", "gina", db=db)
    asked: list[str] = []

    def thin(match: re.Match[str]) -> str:
        asked.append(match.group(0))
        return "It is a weighted sum.\n" + ("done\n" if len(asked) == 1 else "完成\n")

    drive(term, thin)
    assert asked[0].startswith("Question 1 of 1") and any(a.startswith("Follow-up") for a in asked)
    output = "\n".join(term.seen)
    assert output.count("Score: ") >= len(asked) and "Traceback" not in output
    assert db_rows(db, "SELECT state FROM drills") == [("finished",)]
    texts = db_rows(db, "SELECT DISTINCT text FROM answers")
    assert texts == [("It is a weighted sum.",)]  # `done` and 完成 are commands, never part of an answer


def test_review_after_a_drill_offers_the_weak_question_first(tmp_path: Path, real_bank: Bank) -> None:
    """A new user's drill with one strong and one empty answer; days later `review` asks the weak one
    first.  Before anything is due, `review` says when the next review is, without a traceback."""
    db = tmp_path / "bot.sqlite3"
    term = Terminal("drill", "2", "--lang", "en", "--user", "hana", db=db)
    roots: list[str] = []

    def strong_then_empty(match: re.Match[str]) -> str:
        if match.group(0).startswith("Follow-up"):
            return "skip\n"
        roots.append(match.group(1))
        question = real_bank.get(match.group(1))
        assert question is not None
        strong = question.answer.en.replace("\n\n", "\n") + "\ndone\n"
        return strong if len(roots) == 1 else "I don't know.\ndone\n"

    drive(term, strong_then_empty)
    assert len(roots) == 2
    env = {**os.environ, "INTERVIEW_BOT_DB": str(db)}
    early = subprocess.run([sys.executable, "-m", "bot", "review", "--user", "hana", "--lang", "en"], cwd=ROOT,
                           env=env, text=True, capture_output=True, timeout=60, input="", check=False)
    assert early.returncode == 0 and "Next review:" in early.stdout and "Traceback" not in early.stderr
    # ten days pass: both cards are due, the weak question's since longer
    conn = sqlite3.connect(db)
    try:
        for card_id, due in conn.execute("SELECT id, due_at FROM review_cards").fetchall():
            earlier = datetime.fromisoformat(due) - timedelta(days=10)
            conn.execute("UPDATE review_cards SET due_at = ? WHERE id = ?", (to_iso(earlier), card_id))
        conn.commit()
    finally:
        conn.close()
    review = Terminal("review", "--count", "1", "--lang", "en", "--user", "hana", db=db)
    try:
        review.expect(r"^Review: 1 question due")
        assert review.expect(ASKED).group(1) == roots[1]
        review.close_input()
        review.finish()
    finally:
        review.kill()


def test_drill_count_as_a_word_and_as_an_option_must_agree(tmp_path: Path) -> None:
    env = {**os.environ, "INTERVIEW_BOT_DB": str(tmp_path / "x.sqlite3")}
    cases = ((["2", "--count", "3"], "two numbers of questions"), (["x"], "expected a number of questions"))
    for args, expect in cases:
        result = subprocess.run([sys.executable, "-m", "bot", "drill", *args], cwd=ROOT, env=env, text=True,
                                capture_output=True, timeout=60, input="", check=False)
        assert result.returncode == 2 and expect in result.stderr, result.stderr


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    """An unknown section or option value is one line naming the valid choices, with exit code 2."""
    env = {**os.environ, "INTERVIEW_BOT_DB": str(tmp_path / "x.sqlite3")}
    for args, expect in ((["--section", "9"], "valid choices: 1, 2, 3, 4"), (["--lang", "fr"], "choose from zh, en")):
        result = subprocess.run([sys.executable, "-m", "bot", "drill", *args], cwd=ROOT, env=env, text=True,
                                capture_output=True, timeout=60, check=False)
        assert result.returncode == 2 and expect in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def run_cli(db: Path, *args: str, stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin, capture_output=True,
                          timeout=120, env={**os.environ, "INTERVIEW_BOT_DB": str(db), **env}, check=False)


def deadlines_passed(db: Path) -> None:
    """Move every open question's deadline (and its timer) a minute into the past, as if the person had
    been away: no test waits on a real clock for it."""
    past = to_iso(datetime.now().astimezone() - timedelta(minutes=1))
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE drill_items SET deadline_at = ? WHERE state = 'asked'", (past,))
            conn.execute("UPDATE timers SET due_at = ? WHERE kind = 'drill.deadline'", (past,))
    finally:
        conn.close()


def test_time_limits_that_build_no_deadline_are_refused(tmp_path: Path) -> None:
    """--minutes inf / nan / 1e300 used to crash after creating a drill that crashed every later run."""
    db = tmp_path / "bot.sqlite3"
    for value in ("inf", "nan", "1e300", "0", "-1", "abc"):
        result = run_cli(db, "drill", "--minutes", value, "--user", "opt")
        err = result.stderr.decode()
        assert result.returncode == 2 and "Traceback" not in err and "--minutes" in err, err
        assert len(err.strip().splitlines()) == 1
    assert not db.exists() or db_rows(db, "SELECT COUNT(*) FROM drills") == [(0,)]
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("drill_minutes = nan\n", encoding="utf-8")
    result = run_cli(db, "--config", str(bad_config), "drill", "--user", "opt")
    assert result.returncode == 2 and "drill_minutes" in result.stderr.decode()


def test_option_errors_name_what_is_expected(tmp_path: Path) -> None:
    """No internal function names in argument errors; contradictory --resume --new is refused."""
    db = tmp_path / "bot.sqlite3"
    result = run_cli(db, "drill", "--count", "abc")
    assert result.returncode == 2 and "must be a positive whole number, not abc" in result.stderr.decode()
    assert "_positive_int" not in result.stderr.decode()
    result = run_cli(db, "report", "abc")
    assert result.returncode == 2 and "must be a positive whole number, not abc" in result.stderr.decode()
    result = run_cli(db, "drill", "--resume", "--new", "--user", "r")
    assert result.returncode == 2 and "give one" in result.stderr.decode()


def test_undecodable_input_and_an_ascii_terminal_do_not_crash(tmp_path: Path) -> None:
    """A byte that is not UTF-8 in an answer is saved as U+FFFD; output to an ASCII-only stream
    replaces what it cannot show instead of failing."""
    db = tmp_path / "bot.sqlite3"
    result = run_cli(db, "drill", "--count", "1", "--lang", "en", "--user", "enc", stdin=b"caf\xe9 attention softmax\n")
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
    assert db_rows(db, "SELECT text FROM answers") == [("caf\ufffd attention softmax",)]
    result = run_cli(db, "drill", "--count", "1", "--user", "dave", stdin="注意力\n".encode(), PYTHONIOENCODING="ascii")
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
    result = run_cli(db, "bank", "show", "1.4", PYTHONIOENCODING="ascii")
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr


def test_a_resumed_drill_keeps_its_own_time_limit(tmp_path: Path) -> None:
    """Resuming without --minutes keeps the drill's limit; with --minutes it becomes the new limit."""
    db = tmp_path / "bot.sqlite3"
    run_cli(db, "drill", "--count", "2", "--minutes", "30", "--lang", "en", "--user", "tu")
    resumed = run_cli(db, "drill", "--user", "tu")
    assert b"Time limit: 30 min" in resumed.stdout, resumed.stdout.decode()
    assert b"Time limit: 5 min" not in resumed.stdout
    resumed = run_cli(db, "drill", "--user", "tu", "--minutes", "12")
    assert b"Time limit: 12 min" in resumed.stdout
    assert db_rows(db, "SELECT minutes FROM drills") == [(12.0,)]


def test_self_graded_drill_left_at_the_rating_resumes_there(tmp_path: Path) -> None:
    """Input ending at the rating prompt: the next run asks for that rating again (with the reference
    answer), then asks the second question, instead of closing it unanswered."""
    db = tmp_path / "bot.sqlite3"
    run_cli(db, "drill", "--self-grade", "--count", "2", "--lang", "en", "--user", "sam", stdin=b"my answer\n\n")
    resumed = run_cli(db, "drill", "--user", "sam", stdin=b"good\nsecond answer\n\nhard\n")
    out = resumed.stdout.decode()
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr.decode(), resumed.stderr
    assert out.index("Reference answer") < out.index("Question 2 of 2"), out
    rows = db_rows(db, "SELECT state, self_rating FROM drill_items ORDER BY position")
    assert rows == [("answered", "good"), ("answered", "hard")]
    assert db_rows(db, "SELECT state FROM drills") == [("finished",)]


def test_a_drill_continued_in_another_terminal_takes_no_answer_here(tmp_path: Path) -> None:
    """Two terminals on one drill: once the second moves it on, a line typed in the first is not
    stored as the answer to a question the first never showed; it says so and stops."""
    db = tmp_path / "bot.sqlite3"
    first = Terminal("drill", "--count", "2", "--lang", "en", "--user", "twin", db=db)
    try:
        first.expect(ASKED)
        second = run_cli(db, "drill", "--user", "twin", stdin=b"skip\n")
        assert b"Question 2 of 2" in second.stdout, second.stdout.decode()
        first.send("an answer to the first question\n")
        first.expect("continued \\(or ended\\) in another terminal")
        assert first.finish() == 1
    finally:
        first.kill()
    assert db_rows(db, "SELECT text FROM answers") == []
    assert [r[0] for r in db_rows(db, "SELECT state FROM drill_items ORDER BY position")] == ["skipped", "asked"]


def test_a_long_pasted_line_is_kept_and_graded_on_its_start(tmp_path: Path) -> None:
    """One 5,000-character line (a pasted paragraph) is stored whole and graded on its first 4,000
    characters with the too_long flag, as the same text on several lines is; it used to be refused and lost."""
    db = tmp_path / "bot.sqlite3"
    paragraph = "attention " * 500
    result = run_cli(db, "drill", "--count", "1", "--lang", "en", "--user", "ll", stdin=(paragraph + "\n\n").encode())
    assert result.returncode == 0, result.stderr
    parts = [str(r[0]) for r in db_rows(db, "SELECT text FROM answers ORDER BY id")]
    assert len(parts) == 2 and " ".join(parts).split() == paragraph.split()  # cut at a blank, no word split
    grades = [r[0] for r in db_rows(db, "SELECT grade_json FROM drill_items WHERE grade_json IS NOT NULL")]
    assert grades and "too_long" in grades[0]


def test_resuming_after_the_deadline_asks_afresh_without_a_stale_time_up(tmp_path: Path) -> None:
    """The deadline passed while the terminal was closed: resuming asks the question again with a new
    limit, and does not first say "time is up" for it."""
    db = tmp_path / "bot.sqlite3"
    run_cli(db, "drill", "--count", "1", "--lang", "en", "--user", "tu")
    deadlines_passed(db)
    resumed = run_cli(db, "drill", "--user", "tu", "--minutes", "5", stdin=b"skip\n")
    out = resumed.stdout.decode()
    assert "Resuming your unfinished drill" in out and "Question 1 of 1" in out, out
    assert "Time is up" not in out


def test_a_rating_for_an_answer_another_terminal_gave_is_refused(tmp_path: Path) -> None:
    """Self-graded, two terminals: once the second has rated and answered on, a rating typed in the first
    is not stored for the answer it never showed."""
    db = tmp_path / "bot.sqlite3"
    first = Terminal("drill", "--self-grade", "--count", "3", "--lang", "en", "--user", "sg2", db=db)
    try:
        first.expect(ASKED)
        first.send("first terminal's answer\n\n")
        first.expect("Reference answer")
        second = run_cli(db, "drill", "--user", "sg2", stdin=b"good\nsecond terminal's answer\n\n")
        assert b"Question 2 of 3" in second.stdout, second.stdout.decode()
        first.send("easy\n")
        first.expect("continued \\(or ended\\) in another terminal")
        assert first.finish() == 1
    finally:
        first.kill()
    rows = db_rows(db, "SELECT state, self_rating FROM drill_items ORDER BY position")
    assert rows[:2] == [("answered", "good"), ("answered", None)], rows


def test_skip_after_lines_saved_before_a_resume_skips(tmp_path: Path) -> None:
    """After a resume that restored saved lines, 'skip' skips the question (the lines stay on record)
    instead of being stored as one more line of the answer."""
    db = tmp_path / "bot.sqlite3"
    first = Terminal("drill", "--count", "2", "--lang", "en", "--user", "sk", db=db)
    try:
        first.expect(ASKED)
        first.send("partial line\n")
        deadline = time.monotonic() + 30
        while db_rows(db, "SELECT COUNT(*) FROM answers") != [(1,)] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        first.kill()
    resumed = run_cli(db, "drill", "--user", "sk", stdin=b"skip\n")
    assert b"Question 2 of 2" in resumed.stdout, resumed.stdout.decode()
    assert db_rows(db, "SELECT text FROM answers") == [("partial line",)]
    assert db_rows(db, "SELECT state FROM drill_items ORDER BY position") == [("skipped",), ("asked",)]


def test_files_get_utf8_and_odd_names_are_taken(tmp_path: Path) -> None:
    """Output to a file is UTF-8 whatever the locale says (an export must not turn answers into '?'), and a
    --user name with a byte that is not UTF-8 is no traceback."""
    db = tmp_path / "bot.sqlite3"
    run_cli(db, "drill", "--count", "1", "--user", "c6", stdin="我的回答：注意力\n".encode())
    exported = run_cli(db, "export", "--platform", "console", "--user", "c6", PYTHONIOENCODING="ascii")
    assert exported.returncode == 0, exported.stderr
    assert "我的回答：注意力" in exported.stdout.decode("utf-8")
    odd = subprocess.run([sys.executable, "-m", "bot", "drill", "status", "--user", os.fsdecode(b"caf\xe9")],
                         cwd=ROOT, capture_output=True, timeout=60, env={**os.environ, "INTERVIEW_BOT_DB": str(db)},
                         check=False)
    assert odd.returncode == 1 and b"Traceback" not in odd.stderr, odd.stderr  # 1: no drill in progress


def test_a_terminal_shows_only_its_own_persons_messages(tmp_path: Path) -> None:
    """Two people, one database: the deadline of alice's open drill fires while bob's terminal runs, and
    bob does not see alice's "time is up"."""
    db = tmp_path / "bot.sqlite3"
    run_cli(db, "drill", "--count", "1", "--lang", "en", "--user", "alice")
    deadlines_passed(db)
    bob = run_cli(db, "drill", "--count", "1", "--lang", "en", "--user", "bob", stdin=b"skip\n")
    out = bob.stdout.decode()
    assert "Question 1 of 1" in out and "Time is up" not in out, out


def test_unwritable_db_path_is_a_clear_error(tmp_path: Path) -> None:
    """A database path that cannot be created is a one-line error, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = subprocess.run([sys.executable, "-m", "bot", "--db", str(blocker / "db.sqlite3"), "drill"], cwd=ROOT,
                            text=True, capture_output=True, timeout=60, input="", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "cannot" in result.stderr


def test_lang_covers_every_terminal_message_and_is_remembered(tmp_path: Path) -> None:
    """`--lang en` puts the engine's own messages in English too, and later commands without --lang keep it."""
    env = {**os.environ, "INTERVIEW_BOT_DB": str(tmp_path / "bot.sqlite3")}

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "bot", *args, "--user", "ivy"], cwd=ROOT, env=env, text=True,
                              capture_output=True, timeout=60, input="", check=False)
        assert "Traceback" not in done.stderr
        return done.stdout

    assert "no drill in progress" in run("drill", "status", "--lang", "en")
    assert "No finished drill yet" in run("report")  # no --lang: the earlier choice holds
    assert "还没有完成的练习" in run("report", "--lang", "zh")


@pytest.mark.parametrize(("window", "parts_on_first"), [(0.5, 2), (0.0, 1)])
async def test_pasted_paragraphs_stay_one_answer(tmp_path: Path, real_bank: Bank, window: float,
                                                 parts_on_first: int) -> None:
    """In a terminal, text pasted with blank lines between its paragraphs is one answer; piped input (no
    paste window) keeps the rule that an empty line submits."""
    app = await build_app(Settings(db_path=tmp_path / "bot.sqlite3"), bank=real_bank)
    try:
        args = ConsoleDrillArgs(user="pat", count=1, scope=Scope(), lang="en", minutes=5)
        pasted = io.StringIO("The variance of q·k grows with d_k.\n\nSo softmax saturates and gradients vanish.\n\n")
        assert await run_console_drill(app, args, stdin=pasted, out=io.StringIO(), paste_window=window) == 0
        first = (await app.store.drill_items(1))[0]
        assert first.state == "answered"
        assert len(await app.store.item_answers(first.id)) == parts_on_first
    finally:
        await app.close()


async def test_no_prompt_between_the_lines_of_a_paste(tmp_path: Path, real_bank: Bank) -> None:
    """A pasted answer arrives all at once: the terminal does not print '[5:00 left] > ' once per line."""
    app = await build_app(Settings(db_path=tmp_path / "bot.sqlite3"), bank=real_bank)
    try:
        args = ConsoleDrillArgs(user="pat", count=1, scope=Scope(), lang="en", minutes=5)
        lines = [f"line {n} of a pasted answer about attention and softmax." for n in range(12)]
        out = WatchedTty()
        stdin = io.StringIO("\n".join(lines) + "\n\n")  # all there at once, as a paste is
        assert await run_console_drill(app, args, stdin=stdin, out=out, paste_window=0.0) == 0
        assert out.getvalue().count("left] > ") < len(lines) // 2, out.getvalue()
    finally:
        await app.close()


async def test_a_line_as_long_as_a_terminal_passes_on_is_flagged(tmp_path: Path, real_bank: Bank) -> None:
    """A terminal passes on at most 4095 bytes of one line: a line that long from a terminal was probably
    cut, and the person is told to paste long answers in several lines."""
    from bot.platforms.console.drill import TTY_LINE_BYTES

    class TtyInput(io.StringIO):
        def isatty(self) -> bool:
            return True

    app = await build_app(Settings(db_path=tmp_path / "bot.sqlite3"), bank=real_bank)
    try:
        args = ConsoleDrillArgs(user="pat", count=1, scope=Scope(), lang="en", minutes=5)
        out = io.StringIO()
        cut = "w" * TTY_LINE_BYTES  # what canonical mode leaves of a longer pasted line
        stdin = TtyInput(cut + "\n" + "short line\n\n")
        assert await run_console_drill(app, args, stdin=stdin, out=out, paste_window=0.0) == 0
        assert out.getvalue().count("may have been cut by the terminal") == 1
    finally:
        await app.close()


@pytest.mark.parametrize(
    ("args", "prog", "extra"),
    [(["drill", "--bogus"], "interview-bot drill", "--bogus"), (["report", "1", "2"], "interview-bot report", "2"),
     (["bank", "list", "--bogus", "x"], "interview-bot bank list", "--bogus x")],
)
def test_an_unknown_argument_is_reported_under_its_subcommand(
    args: list[str], prog: str, extra: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`drill --bogus` names `drill` and exits 2, the way a bad value for a known option does."""
    from bot.cli import build_parser

    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == f"{prog}: error: unrecognized arguments: {extra}\n", err


class WatchedTty(io.StringIO):
    """A terminal's output (a tty, so the drill prompts) that a test can wait on: every write wakes it.
    The drill writes from the event loop, so an asyncio.Event is enough; no polling, no sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.wrote = asyncio.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        count = super().write(text)
        self.wrote.set()
        return count

    async def until(self, shown: Callable[[str], bool], timeout: float = 30) -> None:
        async def wait() -> None:
            while True:
                self.wrote.clear()
                if shown(self.getvalue()):
                    return
                await self.wrote.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"not shown in time; output:\n{self.getvalue()}") from None


@contextlib.asynccontextmanager
async def console_drill_on_a_pipe(
    app: App, args: ConsoleDrillArgs
) -> AsyncIterator[tuple[WatchedTty, Callable[[bytes], None], asyncio.Future[int]]]:
    """A terminal drill reading from a pipe the test writes to, printing to a WatchedTty.  On the way out the
    pipe is closed (end of input), so a drill still running stops before the database closes."""
    read_end, write_end = os.pipe()
    stdin = os.fdopen(read_end, "r", encoding="utf-8")
    out = WatchedTty()
    drill = asyncio.ensure_future(run_console_drill(app, args, stdin=stdin, out=out, paste_window=0.0))
    try:
        yield out, lambda data: os.write(write_end, data) and None, drill
    finally:
        os.close(write_end)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(drill, 30)
        stdin.close()


@pytest.mark.parametrize(("lang", "over"), [("en", "[over time] > "), ("zh", "[已超时] > ")])
async def test_the_prompt_comes_back_after_time_is_up(tmp_path: Path, real_bank: Bank, lang: str, over: str) -> None:
    """"Time is up" arrives while the terminal waits at its prompt: the prompt is shown again under it, saying
    the time is over, so the person knows the drill still takes the answer."""
    clock = FakeClock()
    app = await build_app(Settings(db_path=tmp_path / "bot.sqlite3"), clock=clock, bank=real_bank)
    up = "Time is up" if lang == "en" else "时间到"
    try:
        args = ConsoleDrillArgs(user="pat", count=1, scope=Scope(), lang=lang, minutes=5)
        async with console_drill_on_a_pipe(app, args) as (out, send, drill):
            await out.until(lambda shown: "] > " in shown)
            await clock.advance(timedelta(minutes=5, seconds=1))
            await out.until(lambda shown: up in shown and over in shown[shown.index(up):])
            send(b"skip\n")
    finally:
        await app.close()
    assert drill.result() == 0


def _can_mount_read_only() -> bool:
    """Whether this machine lets an unprivileged user namespace bind-mount a folder read-only (the way
    to get a read-only database even when the tests run as root, who may write any file)."""
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs `unshare -rm` (user and mount namespaces)")
def test_a_read_only_database_is_named_as_such(tmp_path: Path) -> None:
    """A database on a read-only mount, or a new one in a read-only folder, is one clear line saying what is
    read-only and what to do; SQLite's own "unable to open database file" said neither."""
    folder = tmp_path / "ro"
    folder.mkdir()
    existing = folder / "bot.sqlite3"
    assert run_cli(existing, "drill", "stop", "--user", "ro", "--lang", "en").returncode in (0, 1)  # creates it
    assert existing.exists()
    script = (
        f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
        f"for db in {existing} {folder / 'new.sqlite3'}; do "
        f"{sys.executable} -m bot --db $db drill --count 1 --user ro </dev/null; echo rc=$?; done"
    )
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    errors = done.stderr.strip().splitlines()
    assert done.stdout.split() == ["rc=1", "rc=1"] and len(errors) == 2, (done.stdout, done.stderr)
    assert errors[0].startswith(f"interview-bot: error: cannot use the database {existing}: the file is read-only")
    assert errors[1].startswith(f"interview-bot: error: cannot open the database {folder / 'new.sqlite3'}: its folder")
    assert all("--db" in e and "Traceback" not in e for e in errors)


async def test_a_database_that_fails_mid_drill_ends_it_with_the_unsaved_line(tmp_path: Path, real_bank: Bank) -> None:
    """When the database stops taking writes under a running drill (here: SQLite's query_only, as a full disk
    or a read-only remount would), the terminal says so, prints the line it could not store and exits 1,
    instead of a traceback; what was stored before is still there to resume."""
    app = await build_app(Settings(db_path=tmp_path / "bot.sqlite3"), bank=real_bank)
    try:
        args = ConsoleDrillArgs(user="pat", count=2, scope=Scope(), lang="en", minutes=5)
        async with console_drill_on_a_pipe(app, args) as (out, send, drill):
            await out.until(lambda shown: shown.count("left] > ") == 1)
            send(b"Saved: the scores are scaled by sqrt(d_k).\n")
            await out.until(lambda shown: shown.count("left] > ") == 2)  # stored, and asking for more
            await app.store.db.conn.execute("PRAGMA query_only = 1")
            send(b"Lost: softmax would saturate otherwise.\n")
            assert await asyncio.wait_for(drill, 30) == 1
        shown = out.getvalue()
        assert "Could not write to the database" in shown and "interview-bot drill --resume" in shown, shown
        assert "This line was not saved; copy it if you need it: Lost: softmax would saturate otherwise." in shown
        await app.store.db.conn.execute("PRAGMA query_only = 0")
        texts = [a.text for item in await app.store.drill_items(1) for a in await app.store.item_answers(item.id)]
        assert texts == ["Saved: the scores are scaled by sqrt(d_k)."]
    finally:
        await app.close()
