-- The offence each piece of evidence proves, when other signed messages can prove it again (a terminal
-- reports a wrong held piece in as many heartbeats as it likes): evidence of one offence is kept, and
-- slashed, once. Evidence that is its own offence has its id here; so has the evidence stored before.
ALTER TABLE evidence ADD COLUMN offence BLOB CHECK (offence IS NULL OR length(offence) = 32);
UPDATE evidence SET offence = id;
CREATE UNIQUE INDEX evidence_by_offence ON evidence (offence);
