-- Router state: accounts, API keys, sites, learned object sizes, the terminal registry and usage.
-- Every integer is SQLite's signed 64-bit INTEGER; the crate documentation says how unsigned Rust values map.
-- Ids use AUTOINCREMENT so that a deleted row's id is never handed out again (usage outlives its site).

CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL CHECK (created_at >= 0)
);

-- Only the BLAKE3 hash of a key is kept: a leaked database does not leak usable keys.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash   BLOB    NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    label      TEXT    NOT NULL,
    created_at INTEGER NOT NULL CHECK (created_at >= 0)
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

CREATE TABLE sites (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    host             TEXT    NOT NULL UNIQUE CHECK (host <> '' AND host = lower(host)),
    origin           TEXT    NOT NULL,
    default_ttl_secs INTEGER CHECK (default_ttl_secs >= 0),
    query_mode       TEXT    NOT NULL CHECK (query_mode IN ('keep', 'ignore', 'sort')),
    created_at       INTEGER NOT NULL CHECK (created_at >= 0)
);
CREATE INDEX sites_by_account ON sites (account_id);

-- Sizes are only useful while the site exists, unlike usage.
CREATE TABLE object_sizes (
    site_id    INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    object_key BLOB    NOT NULL CHECK (length(object_key) = 16),
    size       INTEGER NOT NULL CHECK (size >= 0),
    PRIMARY KEY (site_id, object_key)
);

-- short_id is the node id's first 8 bytes, which is how tickets name a terminal: it must be unique.
CREATE TABLE terminals (
    node_id        BLOB    NOT NULL PRIMARY KEY CHECK (length(node_id) = 32),
    short_id       BLOB    NOT NULL UNIQUE CHECK (length(short_id) = 8),
    public_url     TEXT    NOT NULL,
    capacity_bytes INTEGER NOT NULL CHECK (capacity_bytes >= 0),
    region         TEXT,
    lat            REAL,
    lon            REAL,
    hardware_json  TEXT    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('admitted', 'draining')),
    registered_at  INTEGER NOT NULL CHECK (registered_at >= 0),
    updated_at     INTEGER NOT NULL CHECK (updated_at >= 0)
);

-- One row per accepted ticket serial; the primary key is what makes a serial count only once.
-- No foreign keys: these rows are what gets paid for, so removing a site must neither erase nor block them.
CREATE TABLE usage_records (
    serial      INTEGER NOT NULL PRIMARY KEY,
    terminal    BLOB    NOT NULL CHECK (length(terminal) = 32),
    site_id     INTEGER NOT NULL,
    object_key  BLOB    NOT NULL CHECK (length(object_key) = 16),
    bytes       INTEGER NOT NULL CHECK (bytes >= 0),
    served_at   INTEGER NOT NULL CHECK (served_at >= 0),
    accepted_at INTEGER NOT NULL CHECK (accepted_at >= 0)
);
-- Both carry bytes so the hourly and per-terminal sums are answered from the index alone.
CREATE INDEX usage_by_site ON usage_records (site_id, served_at, bytes);
CREATE INDEX usage_by_terminal ON usage_records (terminal, served_at, bytes);

CREATE TABLE usage_rejections (
    terminal BLOB    NOT NULL CHECK (length(terminal) = 32),
    reason   TEXT    NOT NULL,
    count    INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (terminal, reason)
);
