-- Requests served under each ticket and how many were cache hits, for the per-site hit ratio.
ALTER TABLE usage_records ADD COLUMN requests INTEGER NOT NULL DEFAULT 1 CHECK (requests >= 0);
ALTER TABLE usage_records ADD COLUMN hits INTEGER NOT NULL DEFAULT 0 CHECK (hits >= 0 AND hits <= requests);
