-- The ledger's audit log: every committed batch, hash-chained. Balances are not stored: they are what
-- replaying the log gives, so the log cannot disagree with them. Append-only: mistakes are fixed by
-- correcting transfers, never by edits, and the triggers refuse any edit.
CREATE TABLE ledger_log (
    seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
    prev_hash  BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL CHECK (created_at >= 0)
);
CREATE TRIGGER ledger_log_no_update BEFORE UPDATE ON ledger_log
BEGIN
    SELECT RAISE(ABORT, 'the ledger log is append-only');
END;
CREATE TRIGGER ledger_log_no_delete BEFORE DELETE ON ledger_log
BEGIN
    SELECT RAISE(ABORT, 'the ledger log is append-only');
END;

-- Settlement reads accepted usage by when it was accepted, so each record falls in exactly one epoch.
CREATE INDEX usage_by_accepted ON usage_records (accepted_at, site_id, terminal);
