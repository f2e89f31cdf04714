-- VIP pools belong to an environment; an environment with pools cannot be deleted.
CREATE TABLE pools (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment_id INTEGER NOT NULL REFERENCES environments (id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    blocks TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (environment_id, name)
);

-- Applications are stored as their validated API document.
CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row. Every write to the plan bumps it first, inside its transaction: that takes the
-- write lock (SQLite) or the row lock (PostgreSQL), so plan-wide checks see a stable plan.
CREATE TABLE plan_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO plan_revision (id, revision) VALUES (1, 0);
