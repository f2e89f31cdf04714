-- Addresses of VIP pools that are allocated or reserved; a free address has no row.
-- `address_key` is '4' or '6' followed by the address as 32 zero-padded lower-case hex
-- digits: it sorts numerically as text, and its UNIQUE constraint is what makes handing out
-- an address twice impossible, whatever the application does.
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address_key TEXT NOT NULL UNIQUE CHECK (length(address_key) = 33),
    address TEXT NOT NULL,
    pool_id INTEGER NOT NULL REFERENCES pools (id) ON DELETE RESTRICT,
    state TEXT NOT NULL CHECK (state IN ('allocated', 'reserved')),
    owner TEXT,
    application TEXT,
    reason TEXT,
    actor TEXT NOT NULL,
    since TEXT NOT NULL,
    CHECK (state = 'reserved' OR owner IS NOT NULL)
);
CREATE INDEX addresses_pool ON addresses (pool_id, state);

-- Where the search for a pool's lowest free address starts. No free address of the pool
-- sorts below `low_key` while `blocks` equals the pool's blocks: every release lowers it and
-- bumps `version`; a reader raises it only when no release happened since it read `version`.
CREATE TABLE pool_cursors (
    pool_id INTEGER PRIMARY KEY REFERENCES pools (id) ON DELETE CASCADE,
    blocks TEXT NOT NULL,
    low_key TEXT NOT NULL,
    version BIGINT NOT NULL
);
