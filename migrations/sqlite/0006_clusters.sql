-- Submissions of an application's bundle to a cluster (apply or teardown), with every
-- object's progress and the API server's answers. Kept for the record; never deleted.
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application TEXT NOT NULL,
    environment TEXT NOT NULL,
    cluster TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('apply', 'teardown')),
    dry_run INTEGER NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    -- The multi-document YAML applied, with Secret data left out.
    bundle TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    approved_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX submissions_application ON submissions (application, environment, id);

CREATE TABLE submission_objects (
    submission_id INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    api_version TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL,
    -- The API server's answer: the resourceVersion written, or its Status message.
    answer TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (submission_id, position)
);

-- Switches kept across restarts, such as the Gateway label fix.
CREATE TABLE cluster_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
