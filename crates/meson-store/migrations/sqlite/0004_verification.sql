-- Verification: what the router knows of each object independently of terminals (sizes and roots per
-- origin version), usage held until an object's size is known or refused for claiming more than it has
-- (with the terminal's signed batch kept as evidence), and the router's spot-check audits.

-- Replaced by object_roots, which keeps a size per origin version beside the roots.
DROP TABLE object_sizes;

CREATE TABLE object_roots (
    site_id     INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    object_key  BLOB    NOT NULL CHECK (length(object_key) = 16),
    -- The origin's ETag, else its Last-Modified, else empty.
    version     TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    root        BLOB    NOT NULL CHECK (length(root) = 32),
    -- The 32-byte roots of the object's slices, concatenated; empty for an object of one slice or less.
    slice_roots BLOB    NOT NULL CHECK (length(slice_roots) % 32 = 0),
    source      TEXT    NOT NULL CHECK (source IN ('origin', 'owner')),
    learned_at  INTEGER NOT NULL CHECK (learned_at >= 0),
    PRIMARY KEY (site_id, object_key, version)
);
-- Terminals report what they hold by object key alone.
CREATE INDEX object_roots_by_key ON object_roots (object_key);

-- Signed usage batches, exactly as received, kept when a record in them is held or refused as inflated:
-- the terminal's own signature over what it claimed.
CREATE TABLE usage_batches (
    hash        BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    terminal    BLOB    NOT NULL CHECK (length(terminal) = 32),
    signed      TEXT    NOT NULL,
    received_at INTEGER NOT NULL CHECK (received_at >= 0)
);

-- A serial is still claimed once, whatever its state: only 'accepted' rows count and are paid.
ALTER TABLE usage_records ADD COLUMN state TEXT NOT NULL DEFAULT 'accepted'
    CHECK (state IN ('accepted', 'held', 'inflated'));
ALTER TABLE usage_records ADD COLUMN batch BLOB REFERENCES usage_batches (hash);
-- For an inflated record, the object's size it was judged against.
ALTER TABLE usage_records ADD COLUMN judged_size INTEGER CHECK (judged_size >= 0);

DROP INDEX usage_by_site;
DROP INDEX usage_by_terminal;
DROP INDEX usage_by_accepted;
CREATE INDEX usage_by_site ON usage_records (site_id, served_at, bytes) WHERE state = 'accepted';
CREATE INDEX usage_by_terminal ON usage_records (terminal, served_at, bytes) WHERE state = 'accepted';
CREATE INDEX usage_by_accepted ON usage_records (accepted_at, site_id, terminal) WHERE state = 'accepted';
CREATE INDEX usage_held ON usage_records (site_id, object_key) WHERE state = 'held';
CREATE INDEX usage_inflated ON usage_records (terminal) WHERE state = 'inflated';

CREATE TABLE audits (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    terminal    BLOB    NOT NULL CHECK (length(terminal) = 32),
    epoch       INTEGER NOT NULL CHECK (epoch >= 0),
    at          INTEGER NOT NULL CHECK (at >= 0),
    root        BLOB    NOT NULL CHECK (length(root) = 32),
    chunk_group INTEGER NOT NULL CHECK (chunk_group >= 0),
    outcome     TEXT    NOT NULL CHECK (outcome IN ('pass', 'fail', 'missing', 'not_held', 'timeout')),
    detail      TEXT    NOT NULL,
    -- For a failure, the terminal's signed answer (which embeds the router's signed challenge).
    evidence    TEXT
);
CREATE INDEX audits_by_terminal ON audits (terminal, epoch);
