"""The bank's wrong claims (misconceptions) against replies written to test them.

A stated misconception is flagged (`misconception`, with the point to check in the feedback); it
changes no status and no score, because lexical matching cannot be sure.

benchmarks/data/misconception_probes.jsonl holds 971 replies:
- sets a-c, by three helpers who never saw the claims or the grader: 428 correct replies, most of
  them built to trip a misconception matcher (denials, comparisons naming both sides, hypotheticals,
  reported claims, modern variants that share words with a misconception), and 117 fluent replies
  that each state a classic misconception, many of them ones the bank does not list;
- sets d, e and f, three red teams that read the claims and wrote correct sentences to make them
  fire (210, 195 and 21).  Against the claims of their time 210 of 210, 195 of 419 and 21 of 205
  tries fired; the claims they hit were removed and the matching rules tightened.  One reply stays
  a known false positive (TENT, a test-time adaptation method that does use the current batch's
  statistics at inference).

Prints how many correct replies are flagged (false positives; the test suite allows only the known
one) and how many wrong replies are.

    python benchmarks/misconceptions.py [--list]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.grading import Grader
from question_bank.loader import load_bank_strict

DATA = Path(__file__).parent / "data" / "misconception_probes.jsonl"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every false positive and every caught reply")
    args = parser.parse_args(argv)
    bank = load_bank_strict()
    grader = Grader(bank)
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    false_pos: list[str] = []
    known: list[str] = []
    caught: list[int] = []
    missed: list[int] = []
    for row in rows:
        grade = grader.grade(bank.questions[row["qid"]], row["reply"])
        flagged = list(grade.misconceptions)
        if row["correct"]:
            if flagged:
                (known if row.get("known_false_positive") else false_pos).append(
                    f"{row['qid']} {flagged}: {row['reply'][:140]}"
                )
        elif flagged:
            caught.append(grade.score)
            if args.list:
                print(f"flagged {row['qid']} {flagged} (score {grade.score}): {row['reply'][:100]}")
        else:
            missed.append(grade.score)
    n_correct = sum(1 for r in rows if r["correct"])
    n_wrong = len(rows) - n_correct
    with_claims = sum(1 for q in bank if any(k.wrong for k in q.key_points))
    print(f"replies: {len(rows)} to {len({r['qid'] for r in rows})} questions; "
          f"questions with wrong claims in the bank: {with_claims}")
    print(f"correct replies flagged for a misconception: {len(false_pos) + len(known)} of {n_correct}"
          f" ({len(known)} known and accepted)")
    for line in false_pos + known:
        print("  ", line)
    print(f"wrong replies flagged: {len(caught)} of {n_wrong} ({len(caught) / n_wrong:.0%})")
    if missed:
        print(f"  the wrong replies' mean score: flagged {statistics.mean(caught) if caught else 0:.1f}, "
              f"not flagged {statistics.mean(missed):.1f} (a flag changes no score)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
