"""Grading speed: time to load the bank and build the grader, then replies per second on one core.

Three reply sets, each a mix of lengths (short, typical 100-600 characters, long): replies built from
the bank's own reference answers and key point texts (Chinese, English, mixed; dense in key terms and
sentences, so matching does the most work: a stress set, not typical chat), the labelled replies of
benchmarks/data/grading_labelled.jsonl, and the held-out replies of grading_heldout.jsonl (written by
other people, as members of a study group answer).  Rates use CPU time of this process (one core), best of three runs.

    python benchmarks/grading_speed.py [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import reference_loop
from bot.grading import Grader
from question_bank.loader import load_bank_strict
from question_bank.schema import Bank, Question


def replies_for(bank: Bank, seed: int = 7) -> list[tuple[Question, str]]:
    """Deterministic mix: short (<100 chars), typical (100-600) and long (600-1500) replies."""
    rng = random.Random(seed)
    questions = [q for q in bank.main_questions() if q.complete]
    out: list[tuple[Question, str]] = []
    for q in questions:
        kp_zh = "".join(kp.text.zh + "。" for kp in q.key_points)
        kp_en = " ".join(kp.text.en for kp in q.key_points)
        mixed = "；".join(f"{kp.text.zh} ({kp.aliases_en[0] if kp.aliases_en else ''})" for kp in q.key_points)
        pool = [
            q.key_points[0].text.zh,  # short
            q.key_points[0].text.en,
            kp_zh[:600],  # typical
            kp_en[:600],
            mixed[:600],
            q.answer.zh[:600],
            q.answer.en[:600],
            (q.answer.zh + q.answer.en)[:1500],  # long
        ]
        for text in pool:
            out.append((q, text))
    rng.shuffle(out)
    return out


def labelled_replies(bank: Bank, name: str = "grading_labelled.jsonl") -> list[tuple[Question, str]]:
    """The replies of one of the graded sets in benchmarks/data, when the file exists."""
    path = Path(__file__).parent / "data" / name
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            q = bank.get(str(row.get("qid")))
            if q is not None:
                out.append((q, str(row.get("reply", ""))))
    return out


def bucket(n: int) -> str:
    return "short (<100)" if n < 100 else "typical (100-600)" if n <= 600 else "long (>600)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per measurement")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    bank = load_bank_strict()
    t1 = time.perf_counter()
    grader = Grader(bank)
    t2 = time.perf_counter()
    print(f"questions: {len(bank.questions)}")
    print(f"machine: reference loop {reference_loop():.1f} M interpreter steps/s (to compare machines)")
    print(f"load bank: {t1 - t0:.3f} s; build grader: {t2 - t1:.3f} s")

    def rate(batch: list[tuple[Question, str]]) -> float:
        best = 0.0
        for _ in range(3):
            n = 0
            start = time.process_time()
            while True:
                for q, r in batch:
                    grader.grade(q, r)
                n += len(batch)
                elapsed = time.process_time() - start
                if elapsed >= args.seconds / 3:
                    break
            best = max(best, n / elapsed)
        return best

    sets = (
        ("bank-derived replies (dense stress set)", replies_for(bank)),
        ("labelled replies (written for the quality benchmark)", labelled_replies(bank)),
        ("held-out replies (written by other people)", labelled_replies(bank, "grading_heldout.jsonl")),
    )
    for title, items in sets:
        if not items:
            continue
        lengths = [len(r) for _, r in items]
        print(f"{title}: {len(items)} distinct, length median {statistics.median(lengths):.0f} chars "
              f"(min {min(lengths)}, max {max(lengths)})")
        for q, r in items:  # warm-up: caches of the word canonicaliser
            grader.grade(q, r)
        print(f"  all lengths        {rate(items):8,.0f} replies/s")
        for name in ("short (<100)", "typical (100-600)", "long (>600)"):
            batch = [(q, r) for q, r in items if bucket(len(r)) == name]
            if batch:
                print(f"  {name:18s} {rate(batch):8,.0f} replies/s  (n={len(batch)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
