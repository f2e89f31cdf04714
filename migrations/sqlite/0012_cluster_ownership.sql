-- What Gatehouse made in a cluster, so that it touches only that (issue 17).

-- The Namespaces a submission created (none existed by that name when it applied it). A
-- teardown deletes an application's Namespace only when it is recorded here with the same
-- uid — a Namespace someone else made, or deleted and made again, is never Gatehouse's.
CREATE TABLE created_namespaces (
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    -- metadata.uid of the Namespace as created.
    uid TEXT NOT NULL,
    submission_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (cluster, namespace)
);

-- Objects a network admin let Gatehouse take over (POST …/adopt): Gatehouse labelled them
-- then; the next submission that applies one applies it with force (taking the fields
-- another field manager holds) and records itself here. Kept for the record.
CREATE TABLE adoptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL,
    api_version TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- Empty for cluster-scoped objects.
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    application TEXT NOT NULL,
    environment TEXT NOT NULL,
    adopted_by TEXT NOT NULL,
    adopted_at TEXT NOT NULL,
    -- The submission that applied Gatehouse's version with force; NULL until one has.
    applied_by INTEGER
);
CREATE INDEX adoptions_object ON adoptions (cluster, kind, namespace, name);
