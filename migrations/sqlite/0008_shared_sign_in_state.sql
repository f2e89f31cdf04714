-- Sign-in state every replica shares. Times are Unix milliseconds.

-- Failed sign-ins per account (`account:<name in lower case>`) and per client address
-- (`address:<ip>`): how many since when, and until when further attempts are refused.
CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    since_ms INTEGER NOT NULL,
    locked_until_ms INTEGER
);

-- OpenID Connect sign-ins sent to the provider and not back yet, by the SHA-256 of their
-- `state`; the callback may reach another replica than the one that started the sign-in.
CREATE TABLE oidc_pending (
    state_hash TEXT PRIMARY KEY,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    return_to TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    started_ms INTEGER NOT NULL
);
CREATE INDEX oidc_pending_started ON oidc_pending (started_ms);
