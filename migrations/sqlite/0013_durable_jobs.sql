-- Submissions and teardowns are durable jobs (issue 18): the row is the job. A worker on any
-- replica claims a runnable row (status applying or tearing_down) whose claim is free,
-- released, or stale — its heartbeat older than the lease — and runs it from the first
-- object not yet confirmed.

-- The objects to apply or delete, as approved: a JSON array, every Secret's data sealed with
-- the secret key (never a private key in the clear). NULL for rows made before this
-- migration, which cannot be resumed.
ALTER TABLE submissions ADD COLUMN job_objects TEXT;
-- Who holds the claim (a replica's identity); kept after the job ends, as a record.
ALTER TABLE submissions ADD COLUMN claimed_by TEXT;
-- Bumped by every claim: a worker writes only while the row still carries its number.
ALTER TABLE submissions ADD COLUMN claim INTEGER NOT NULL DEFAULT 0;
-- The claim holder's last heartbeat, milliseconds since 1970 by the database's clock; NULL
-- when the claim was released (graceful stop) or never taken.
ALTER TABLE submissions ADD COLUMN heartbeat_ms INTEGER;
-- How many times a worker has claimed it.
ALTER TABLE submissions ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- Why a failed job failed (cluster_unreachable, object_rejected, not_ready, …): a retry is
-- offered for the causes a retry can cure.
ALTER TABLE submissions ADD COLUMN failure_code TEXT;
CREATE INDEX submissions_status ON submissions (status, id);
