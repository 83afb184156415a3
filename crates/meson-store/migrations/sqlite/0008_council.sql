-- Hunters' claims with their whole evidence, the council's signed votes on them, and council elections.
-- A claim's id is the BLAKE3 of `evidence`, exactly as stored and served, so anyone re-checks it.
CREATE TABLE claims (
    id BLOB PRIMARY KEY CHECK (length(id) = 32),
    -- 'objective' (evidence the router verified itself) or 'council' (a hunter's probe record).
    kind TEXT NOT NULL CHECK (kind IN ('objective', 'council')),
    accused BLOB NOT NULL CHECK (length(accused) = 32),
    hunter BLOB NOT NULL CHECK (length(hunter) = 32),
    evidence TEXT NOT NULL,
    -- The hunter's signed bond transaction, verbatim.
    bond_tx TEXT NOT NULL,
    bond TEXT NOT NULL,
    filed_at INTEGER NOT NULL CHECK (filed_at >= 0),
    -- The epochs of the earliest and latest probe (or signed message) the evidence holds.
    first_epoch INTEGER NOT NULL CHECK (first_epoch >= 0),
    last_epoch INTEGER NOT NULL CHECK (last_epoch >= first_epoch),
    -- JSON of the claim's phase (meson_ledger::claim_life::Phase).
    phase TEXT NOT NULL,
    -- What the final verdict moved in the ledger (JSON), once done; null until then.
    executed TEXT
);
CREATE INDEX claims_by_hunter ON claims (hunter, filed_at);
CREATE INDEX claims_open ON claims (filed_at) WHERE executed IS NULL;

-- Each review round of a council claim: who may vote in it is fixed when it opens (the members seated
-- then, but the accused's and the hunter's keys), so seating a new term mid-review changes no count.
CREATE TABLE claim_rounds (
    claim BLOB NOT NULL REFERENCES claims (id),
    round INTEGER NOT NULL CHECK (round IN (1, 2)),
    opened_at INTEGER NOT NULL CHECK (opened_at >= 0),
    -- The council term the round opened in.
    term INTEGER NOT NULL CHECK (term >= 0),
    -- JSON array of the eligible members' keys (hex).
    eligible TEXT NOT NULL,
    PRIMARY KEY (claim, round)
);

CREATE TABLE claim_votes (
    claim BLOB NOT NULL REFERENCES claims (id),
    round INTEGER NOT NULL CHECK (round IN (1, 2)),
    member BLOB NOT NULL CHECK (length(member) = 32),
    upheld INTEGER NOT NULL CHECK (upheld IN (0, 1)),
    -- The member's signed vote, verbatim, with its own probe record.
    signed TEXT NOT NULL,
    at INTEGER NOT NULL CHECK (at >= 0),
    PRIMARY KEY (claim, round, member)
);

CREATE TABLE elections (
    term INTEGER PRIMARY KEY CHECK (term >= 0),
    opened_at INTEGER NOT NULL CHECK (opened_at >= 0),
    -- JSON [[key hex, base units as text], ...]: every key's voting power when the election opened.
    snapshot TEXT NOT NULL,
    digest BLOB NOT NULL CHECK (length(digest) = 32)
);

CREATE TABLE ballots (
    term INTEGER NOT NULL REFERENCES elections (term),
    voter BLOB NOT NULL CHECK (length(voter) = 32),
    -- The voter's signed ballot, verbatim; a later ballot replaces an earlier one.
    signed TEXT NOT NULL,
    at INTEGER NOT NULL CHECK (at >= 0),
    PRIMARY KEY (term, voter)
);

CREATE TABLE council_seats (
    term INTEGER NOT NULL CHECK (term >= 0),
    member BLOB NOT NULL CHECK (length(member) = 32),
    -- Base units of approval the member was elected with, as text.
    power TEXT NOT NULL,
    PRIMARY KEY (term, member)
);
-- A term is seated once: this row says so even when nobody won a seat.
CREATE TABLE council_terms (
    term INTEGER PRIMARY KEY CHECK (term >= 0),
    seated_at INTEGER NOT NULL CHECK (seated_at >= 0),
    -- Whether the seat rewards of the term were paid.
    rewarded INTEGER NOT NULL DEFAULT 0 CHECK (rewarded IN (0, 1))
);
