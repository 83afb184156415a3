-- Objective evidence against terminals (`meson_core::evidence`), each slashed once, and what usage needs to
-- build it: every stored usage record keeps the signed batch it came in (a serial claimed again with other
-- numbers is proven by the two batches), and the origin version it names.

-- The origin's version of what was served under the ticket, as the terminal named it; NULL for older
-- terminals and origins that name none (judged against the largest known size, never evidence).
ALTER TABLE usage_records ADD COLUMN version TEXT;

CREATE TABLE evidence (
    -- BLAKE3 of `json`, the evidence's canonical JSON: what names its slash in the ledger.
    id          BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 32),
    accused     BLOB    NOT NULL CHECK (length(accused) = 32),
    kind        TEXT    NOT NULL CHECK (kind IN ('audit_failed', 'usage_over_size', 'serial_twice', 'root_mismatch')),
    -- The epochs of the earliest and latest signed messages: the affected epochs, refunded and withheld.
    first_epoch INTEGER NOT NULL CHECK (first_epoch >= 0),
    epoch       INTEGER NOT NULL CHECK (epoch >= first_epoch),
    json        TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL CHECK (recorded_at >= 0),
    -- NULL until the slash ran; then 'slashed', 'nothing_at_stake' or 'before' (the ledger had it).
    outcome     TEXT    CHECK (outcome IN ('slashed', 'nothing_at_stake', 'before')),
    -- Base units, as decimal text (they may exceed 64 bits).
    slashed     TEXT,
    refunded    TEXT
);
CREATE INDEX evidence_by_accused ON evidence (accused, recorded_at);
CREATE INDEX evidence_by_first_epoch ON evidence (first_epoch);
CREATE INDEX evidence_by_epoch ON evidence (epoch);
CREATE INDEX evidence_unslashed ON evidence (recorded_at) WHERE outcome IS NULL;
