-- Daily-question schedules (one per channel) and the scheduled rounds they opened, the basis of streaks.
-- `at` and `reveal_at` are local wall-clock times (HH:MM) in `timezone`; `next_fire_at` is the UTC instant
-- they resolve to; `last_posted_date` is the local date (YYYY-MM-DD) of the last posted question.

CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversations (id) ON DELETE CASCADE,
    days TEXT NOT NULL CHECK (days IN ('daily', 'weekdays')),
    at TEXT NOT NULL,
    timezone TEXT NOT NULL,
    section INTEGER,
    tag TEXT,
    rising INTEGER NOT NULL DEFAULT 0,
    reveal_after_minutes REAL,
    reveal_at TEXT,
    remind_before_minutes REAL,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused')),
    next_fire_at TEXT,
    last_posted_date TEXT,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE scheduled_rounds (
    round_id INTEGER PRIMARY KEY REFERENCES rounds (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    local_date TEXT NOT NULL,
    UNIQUE (conversation_id, local_date)
);
