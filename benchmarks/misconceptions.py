"""The bank's wrong claims (misconceptions) against replies written to test them.

benchmarks/data/misconception_probes.jsonl holds 755 replies: sets a-c were written by three helpers
who never saw the claims or the grader (428 correct replies, most of them built to trip a
misconception matcher with denials, comparisons naming both sides, hypotheticals, reported claims
and modern variants that share words with a misconception; 117 fluent replies that each state a
classic misconception, many of them ones the bank does not list).  Set d holds 210 correct replies
from a red team that read the claims and wrote correct sentences to make them fire: against the
first version of the claims every one did; the claims and the rules were then pruned and tightened
until one does (marked `known_false_positive`: a test-time adaptation method, TENT, that does use
the current batch's statistics at inference).

Prints, for correct replies, how many get a key point contradicted by a wrong claim (false
positives; the test suite requires none) and, for wrong replies, how many are caught and what
that does to their scores.

    python benchmarks/misconceptions.py [--list]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.grading import Grader
from question_bank.loader import load_bank_strict
from question_bank.schema import Bank

DATA = Path(__file__).parent / "data" / "misconception_probes.jsonl"


def without_wrong_claims(bank: Bank) -> Bank:
    """The same bank with every key point's wrong claims removed."""
    questions = {
        qid: replace(q, key_points=tuple(replace(kp, wrong_zh=(), wrong_en=()) for kp in q.key_points))
        for qid, q in bank.questions.items()
    }
    return Bank(questions, bank.id_aliases, bank.sections)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every false positive and every caught reply")
    args = parser.parse_args(argv)
    bank = load_bank_strict()
    plain_bank = without_wrong_claims(bank)
    grader, plain = Grader(bank), Grader(plain_bank)
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    false_pos: list[str] = []
    known: list[str] = []
    caught: list[tuple[int, int]] = []
    missed: list[int] = []
    for row in rows:
        question, reply = bank.questions[row["qid"]], row["reply"]
        with_claims = grader.grade(question, reply)
        before = plain.grade(plain_bank.questions[row["qid"]], reply)
        new = sorted(set(with_claims.contradicted) - set(before.contradicted))
        if row["correct"]:
            if new:
                (known if row.get("known_false_positive") else false_pos).append(f"{row['qid']} {new}: {reply[:140]}")
        elif new:
            caught.append((before.score, with_claims.score))
            if args.list:
                print(f"caught {row['qid']} {new} {before.score} -> {with_claims.score}: {reply[:100]}")
        else:
            missed.append(with_claims.score)
    n_correct = sum(1 for r in rows if r["correct"])
    n_wrong = len(rows) - n_correct
    print(f"replies: {len(rows)} to {len({r['qid'] for r in rows})} questions; "
          f"questions with wrong claims in the bank: {sum(1 for q in bank if any(k.wrong for k in q.key_points))}")
    print(f"correct replies with a point contradicted by a wrong claim: {len(false_pos) + len(known)} of {n_correct}"
          f" ({len(known)} known and accepted)")
    for line in false_pos + known:
        print("  ", line)
    print(f"wrong replies caught: {len(caught)} of {n_wrong} ({len(caught) / n_wrong:.0%})")
    if caught:
        print(f"  their mean score {statistics.mean(b for b, _ in caught):.1f} -> "
              f"{statistics.mean(a for _, a in caught):.1f}")
    if missed:
        print(f"  wrong replies not caught: mean score {statistics.mean(missed):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
