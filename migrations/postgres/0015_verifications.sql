-- Verifications (issue 22): each run of the checks of an application environment — by the
-- portal itself (source 'portal') or reported by `gatehouse verify --report` from a client
-- machine (source 'client', reporter '<host> (<address>)') — kept as history.
CREATE TABLE verifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application TEXT NOT NULL,
    environment TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('portal', 'client')),
    reporter TEXT,
    requested_by TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'unknown')),
    -- The checks: a JSON array of {check, hostname?, outcome, evidence, reason?, rule?}.
    checks TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX verifications_target ON verifications (application, environment, id);
