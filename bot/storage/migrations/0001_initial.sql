-- People, places, rounds with every answer kept, drills, and durable timers.
-- Times are UTC text in a fixed-width ISO form so that they sort chronologically.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    platform_user_id TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    lang TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (platform, platform_user_id)
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    workspace_id TEXT NOT NULL DEFAULT '',
    channel_id TEXT NOT NULL,
    is_dm INTEGER NOT NULL DEFAULT 0,
    lang TEXT NOT NULL DEFAULT 'zh',
    answer_minutes REAL NOT NULL DEFAULT 5,
    reminders INTEGER NOT NULL DEFAULT 1,
    reveal_mode TEXT NOT NULL DEFAULT 'scores' CHECK (reveal_mode IN ('scores', 'full', 'anonymous')),
    auto_follow_up INTEGER NOT NULL DEFAULT 0,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    created_at TEXT NOT NULL,
    UNIQUE (platform, workspace_id, channel_id)
);

CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'revealed', 'skipped', 'cancelled')),
    asked_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    opened_at TEXT NOT NULL,
    deadline_at TEXT NOT NULL,
    closed_at TEXT,
    parent_round_id INTEGER REFERENCES rounds (id) ON DELETE SET NULL,
    scope TEXT NOT NULL DEFAULT '',
    cycle INTEGER NOT NULL DEFAULT 1,
    message_ref TEXT
);
CREATE UNIQUE INDEX rounds_one_open ON rounds (conversation_id) WHERE state = 'open';
CREATE INDEX rounds_by_conversation ON rounds (conversation_id, opened_at);

CREATE TABLE drills (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id INTEGER REFERENCES conversations (id) ON DELETE SET NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'finished', 'stopped', 'expired')),
    lang TEXT NOT NULL DEFAULT 'zh',
    minutes REAL NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    grading TEXT NOT NULL DEFAULT 'auto' CHECK (grading IN ('auto', 'self')),
    on_timeout TEXT NOT NULL DEFAULT 'move_on' CHECK (on_timeout IN ('move_on', 'accept_late')),
    started_at TEXT NOT NULL,
    last_activity_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE UNIQUE INDEX drills_one_active ON drills (user_id) WHERE state = 'active';

CREATE TABLE drill_items (
    id INTEGER PRIMARY KEY,
    drill_id INTEGER NOT NULL REFERENCES drills (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    parent_item_id INTEGER REFERENCES drill_items (id) ON DELETE CASCADE,
    probe_key_point TEXT,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'asked', 'answered', 'skipped', 'unanswered')),
    asked_at TEXT,
    deadline_at TEXT,
    answered_at TEXT,
    late INTEGER NOT NULL DEFAULT 0,
    score INTEGER,
    self_rating TEXT,
    grade_json TEXT,
    UNIQUE (drill_id, position)
);

CREATE TABLE answers (
    id INTEGER PRIMARY KEY,
    round_id INTEGER REFERENCES rounds (id) ON DELETE CASCADE,
    drill_item_id INTEGER REFERENCES drill_items (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    late INTEGER NOT NULL DEFAULT 0,
    practice INTEGER NOT NULL DEFAULT 0,
    visible INTEGER NOT NULL DEFAULT 0,
    event_id TEXT UNIQUE,
    score INTEGER,
    grade_json TEXT,
    CHECK ((round_id IS NULL) <> (drill_item_id IS NULL))
);
CREATE INDEX answers_by_round ON answers (round_id, user_id, submitted_at);
CREATE INDEX answers_by_item ON answers (drill_item_id, submitted_at);
CREATE INDEX answers_by_user ON answers (user_id, submitted_at);

CREATE TABLE timers (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ref_id INTEGER NOT NULL,
    due_at TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX timers_due ON timers (due_at, id);
CREATE INDEX timers_ref ON timers (kind, ref_id);
