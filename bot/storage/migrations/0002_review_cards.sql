-- Spaced-repetition state: one FSRS card per person and question.
CREATE TABLE review_cards (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    card_json TEXT NOT NULL,
    due_at TEXT NOT NULL,
    last_review_at TEXT,
    last_score INTEGER,
    reviews INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, question_id)
);
CREATE INDEX review_cards_due ON review_cards (user_id, due_at);
