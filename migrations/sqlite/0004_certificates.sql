-- TLS certificates per environment, one row per version. The current version of an
-- environment's certificate name has superseded_at NULL; uploading the name again
-- supersedes it, and the old version stays as history until the certificate is deleted.
-- The chain is public and stored as uploaded (certificates only) with its parsed metadata.
-- The private key is stored only sealed: AES-256-GCM under the server's secret key (never
-- in the database), bound to the row by its associated data; key_id names that secret key.
CREATE TABLE certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment_id INTEGER NOT NULL REFERENCES environments (id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    chain TEXT NOT NULL,
    chain_pem TEXT,
    fingerprint_sha256 TEXT,
    public_key_sha256 TEXT,
    secret_namespace TEXT,
    secret_name TEXT,
    sealed_key BLOB,
    key_id TEXT,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    superseded_at TEXT
);
CREATE UNIQUE INDEX certificates_current ON certificates (environment_id, name) WHERE superseded_at IS NULL;
CREATE INDEX certificates_fingerprint ON certificates (fingerprint_sha256);
CREATE INDEX certificates_public_key ON certificates (public_key_sha256);
