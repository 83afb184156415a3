-- Self-dealing limits: the client prefix each usage record's ticket was issued for, and usage withheld
-- (not paid, not slashed) because too much of a terminal's traffic for a site came from a few prefixes,
-- until the operator reviews it.

-- The ticket's client prefix as text (`192.0.2.0/24`, `2001:db8::/48`); NULL for records from before.
ALTER TABLE usage_records ADD COLUMN client_prefix TEXT;
-- NULL: never withheld. 'withheld': awaiting review, not paid. 'released': paid, counted in the epoch it
-- was released (accepted_at moves there). 'rejected': never paid, and not evidence of anything.
ALTER TABLE usage_records ADD COLUMN withheld TEXT CHECK (withheld IN ('withheld', 'released', 'rejected'));
ALTER TABLE usage_records ADD COLUMN withheld_reason TEXT;
-- The billing epoch whose settlement withheld the record.
ALTER TABLE usage_records ADD COLUMN withheld_epoch INTEGER CHECK (withheld_epoch >= 0);
ALTER TABLE usage_records ADD COLUMN reviewed_at INTEGER CHECK (reviewed_at >= 0);

CREATE INDEX usage_withheld_by_epoch ON usage_records (withheld_epoch, site_id, terminal)
    WHERE withheld IS NOT NULL;
