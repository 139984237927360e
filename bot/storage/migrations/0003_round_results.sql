-- Scored results of revealed rounds: one row per participant, the basis of leaderboards and stats.
CREATE TABLE round_results (
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    answer_id INTEGER REFERENCES answers (id) ON DELETE SET NULL,
    score INTEGER NOT NULL,
    points INTEGER NOT NULL,
    submitted_at TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    UNIQUE (round_id, user_id)
);
CREATE INDEX round_results_by_user ON round_results (user_id, closed_at);
CREATE INDEX round_results_by_closed ON round_results (closed_at);
