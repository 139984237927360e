"""Spaced repetition on the maintained `fsrs` package: one card per person and question.

Scores map to FSRS ratings with fixed, documented thresholds:
  score < 40 -> Again, 40..64 -> Hard, 65..84 -> Good, >= 85 -> Easy;
an unanswered or skipped question counts as Again.  Self-ratings map directly.
Learning steps are disabled (interview questions are revisited over days, not
minutes) and fuzzing is off so schedules are deterministic.
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite
from fsrs import Card, Rating, Scheduler

from bot.storage.store import CardSave, Store

RATING_NAMES = {"again": Rating.Again, "hard": Rating.Hard, "good": Rating.Good, "easy": Rating.Easy}
# the words of the Chinese rating prompt ("again（没答上）/ hard（勉强）/ ..."), and their plain synonyms
RATING_WORDS_ZH = {
    "没答上": "again", "重来": "again", "勉强": "hard", "困难": "hard",
    "不错": "good", "答得不错": "good", "良好": "good", "轻松": "easy", "很轻松": "easy", "简单": "easy",
}


def rating_for_score(score: int | None) -> Rating:
    """The FSRS rating for a 0..100 score (None: not answered)."""
    if score is None or score < 40:
        return Rating.Again
    if score < 65:
        return Rating.Hard
    if score < 85:
        return Rating.Good
    return Rating.Easy


class ReviewScheduler:
    """Reads and updates review cards through the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._scheduler = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)

    async def record(
        self,
        conn: aiosqlite.Connection,
        user_id: int,
        question_id: str,
        rating: Rating,
        now: datetime,
        score: int | None,
    ) -> datetime:
        """Apply one review inside the caller's transaction; return the next due time."""
        existing = await self._store.get_card(user_id, question_id)
        review = self.review(existing[0] if existing else None, user_id, question_id, rating, now, score)
        await self._store.save_card(
            conn,
            user_id=user_id,
            question_id=question_id,
            card_json=review.card_json,
            due_at=review.due_at,
            reviewed_at=now,
            score=score,
        )
        return review.due_at

    def review(
        self,
        card_json: str | None,
        user_id: int,
        question_id: str,
        rating: Rating,
        now: datetime,
        score: int | None,
    ) -> CardSave:
        """The card after one review, from the stored card (None: never reviewed), without I/O: the drill
        engine reads the card with the rest of the drill and writes it in the same step."""
        card = Card.from_json(card_json) if card_json else Card(card_id=abs(hash((user_id, question_id))) % 10**12)
        card, _log = self._scheduler.review_card(card, rating, review_datetime=now)
        return CardSave(user_id, question_id, card.to_json(), card.due, now, score)
