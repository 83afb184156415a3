//! Objective evidence against a terminal: signed messages that prove, to anyone holding them and the
//! router's public key, that the terminal cheated. Nothing here needs a clock, a database or the router's
//! word beyond what it signed, so whoever re-checks a slash runs exactly [`verify`], as the router did.
//!
//! | [`Evidence`] | the signed messages | what it proves |
//! | --- | --- | --- |
//! | `audit_failed` | the terminal's [`Answer`] (embedding the router's [`Challenge`], which names the piece's root and length) | the terminal signed a proof of the piece that does not verify against the root: its copy is damaged or fake |
//! | `usage_over_size` | the terminal's usage batch, and the router's [`KnownObject`] statement of the version the record names | the terminal claimed more bytes under one ticket than that version of the object has |
//! | `serial_twice` | two usage batches of the terminal with different records for one serial | the terminal claimed one ticket twice with different numbers (a resent batch repeats the record exactly and is not evidence) |
//! | `root_mismatch` | the terminal's heartbeat reporting a piece held, and the router's [`KnownObject`] statement of that version | the terminal holds, for a version whose bytes are fixed, a piece that is none of that version's pieces |
//! | `served_root_mismatch` | the terminal's [`Served`] claim (the header of a response it served), and the router's [`KnownObject`] statement of that version | the terminal serves, for a version whose bytes are fixed, an object whose roots or size are not that version's |
//!
//! A missing answer, a timeout or a refusal is never evidence: silence proves nothing about who is at
//! fault. Versions: a record or a held piece names the origin's version of the object as the terminal
//! stored it ([`origin_version`]). Only a strong ETag promises identical bytes for identical versions (RFC
//! 9110, section 8.8.1); a weak ETag or a `Last-Modified` date may name bodies that differ, so a size or
//! root that disagrees with one of those is judged (a usage record is still capped at what the router
//! knows) but never slashed. A record or piece without a version (an older terminal, an origin that
//! names none) is never evidence either: the object may have changed between versions.

use serde::{Deserialize, Serialize};

use crate::audit::{self, Answer, AuditError, Challenge, Verdict};
use crate::content::{ObjectRoots, Root};
use crate::identity::NodeId;
use crate::served::Served;
use crate::signed::{SignedError, SignedMessage, Verified};
use crate::ticket::{Ticket, TicketError};
use crate::wire::{self, Heartbeat, UsageBatch, UsageRecord};

/// Purpose of the router's statement of what it knows of one version of an object.
pub const KNOWN_OBJECT: &str = "meson/v1/known-object";

/// What the router knows of one version of an object, from a source other than the terminals (its own
/// origin fetch, or the site's owner), signed with its node key when it builds evidence on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KnownObject {
    pub site: u64,
    /// [`crate::ticket::object_digest`] of the object's cache key, 32 hex digits.
    pub object: String,
    /// The origin's version ([`origin_version`]).
    pub version: String,
    pub size: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub root: Root,
    /// The roots of its slices ([`ObjectRoots`]); empty for an object of one slice or less.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub slice_roots: Vec<Root>,
    /// Whether the router learned it by its own fetch from the origin (else the site's owner pushed it).
    /// Only what the router fetched itself convicts a terminal: an owner could push a false size or root
    /// for its own objects to have the honest terminals serving them slashed.
    pub from_origin: bool,
}

impl KnownObject {
    fn roots(&self) -> Option<ObjectRoots> {
        ObjectRoots::checked(self.size, self.root, &self.slice_roots)
    }
}

/// A piece of objective evidence: the signed messages, verbatim, whose signatures cover their bodies'
/// text, so they re-verify byte for byte wherever they are stored or sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// A signed audit answer whose proof does not verify against the root the router's challenge names.
    AuditFailed {
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        answer: SignedMessage<Answer>,
    },
    /// A signed usage record (in `batch`, under ticket `serial`) claiming more bytes than the version it
    /// names has, as the router's statement `known` says.
    UsageOverSize {
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        batch: SignedMessage<UsageBatch>,
        serial: u64,
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        known: SignedMessage<KnownObject>,
    },
    /// Two signed usage batches with different records for ticket `serial`.
    SerialTwice {
        serial: u64,
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        first: SignedMessage<UsageBatch>,
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        second: SignedMessage<UsageBatch>,
    },
    /// A signed heartbeat whose `added[piece]` names a version the router's statement `known` describes,
    /// with a root and length that are none of its pieces.
    RootMismatch {
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        heartbeat: SignedMessage<Heartbeat>,
        piece: usize,
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        known: SignedMessage<KnownObject>,
    },
    /// A terminal's signed claim that it serves a version the router's statement `known` describes, with
    /// other roots or another size.
    ServedRootMismatch {
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        served: SignedMessage<Served>,
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        known: SignedMessage<KnownObject>,
    },
}

/// A signed envelope, whatever its body: the body travels as text ([`SignedMessage`]).
#[cfg(feature = "openapi")]
fn signed() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    <SignedMessage<()> as utoipa::PartialSchema>::schema()
}

/// The kinds of [`Evidence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    AuditFailed,
    UsageOverSize,
    SerialTwice,
    RootMismatch,
    ServedRootMismatch,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::AuditFailed,
        Kind::UsageOverSize,
        Kind::SerialTwice,
        Kind::RootMismatch,
        Kind::ServedRootMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AuditFailed => "audit_failed",
            Kind::UsageOverSize => "usage_over_size",
            Kind::SerialTwice => "serial_twice",
            Kind::RootMismatch => "root_mismatch",
            Kind::ServedRootMismatch => "served_root_mismatch",
        }
    }
}

impl Evidence {
    pub fn kind(&self) -> Kind {
        match self {
            Evidence::AuditFailed { .. } => Kind::AuditFailed,
            Evidence::UsageOverSize { .. } => Kind::UsageOverSize,
            Evidence::SerialTwice { .. } => Kind::SerialTwice,
            Evidence::RootMismatch { .. } => Kind::RootMismatch,
            Evidence::ServedRootMismatch { .. } => Kind::ServedRootMismatch,
        }
    }

    /// The canonical bytes: the JSON the evidence serialises to, as stored and served. Its BLAKE3 is the
    /// evidence's id, which names its slash.
    pub fn to_canonical(&self) -> String {
        // Every field is a string, a number or a signed envelope of strings: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn id(&self) -> [u8; 32] {
        *blake3::hash(self.to_canonical().as_bytes()).as_bytes()
    }
}

/// What a piece of evidence proves, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The accused: the terminal whose signature the evidence carries.
    pub terminal: NodeId,
    pub kind: Kind,
    /// What it proves, for a person.
    pub proves: String,
    /// The earliest and latest signed times (Unix seconds) the offence spans: the epochs they fall in are
    /// the affected epochs, whose payments for the terminal's bytes are refunded.
    pub first_at: u64,
    pub last_at: u64,
    /// The offence, when other signed messages can prove it again: a terminal reports a held piece in
    /// every heartbeat it likes, each a new piece of evidence of the one wrong piece. Evidence of one
    /// offence slashes once. None: the evidence is its own offence.
    pub offence: Option<[u8; 32]>,
}

/// Why evidence does not verify. None of these is anything against the accused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("the terminal's {what} does not verify: {source}")]
    Terminal {
        what: &'static str,
        source: SignedError,
    },
    #[error("the router's statement of the object does not verify: {0}")]
    Statement(SignedError),
    #[error("the statement of the object is signed by {signer}, not by the router {router}")]
    NotTheRouter { signer: String, router: String },
    #[error("the statement of the object is malformed: {0}")]
    MalformedStatement(String),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("the audit answer's proof verifies: it is no failure")]
    ProofVerifies,
    #[error(
        "the audit answer says the piece is not held: that lowers quality, it is not evidence"
    )]
    NotHeld,
    #[error("the record's ticket: {0}")]
    Ticket(TicketError),
    #[error("no record for serial {0} in the batch")]
    NoSuchRecord(u64),
    #[error("the heartbeat reports no added piece {0}")]
    NoSuchPiece(usize),
    #[error("the record, piece or claim is for another object than the statement")]
    OtherObject,
    #[error(
        "the record, piece or claim names no version of the object: it may have changed between versions"
    )]
    NoVersion,
    #[error("the record, piece or claim names version {claimed:?}, the statement {known:?}")]
    OtherVersion { claimed: String, known: String },
    #[error(
        "version {0:?} is not a strong ETag: it does not promise identical bytes (RFC 9110 8.8.1)"
    )]
    WeakVersion(String),
    #[error("the record claims {bytes} bytes, within the object's {size}")]
    WithinSize { bytes: u64, size: u64 },
    #[error("the two batches are signed by different nodes")]
    OtherSigner,
    #[error("the two records of serial {0} are the same (a resent batch)")]
    SameRecord(u64),
    #[error("the root and length the terminal signed are the object's (or one of its pieces')")]
    RootMatches,
    #[error("the statement of the object rests on its owner's word, not on the router's own fetch from the origin")]
    NotFromOrigin,
}

/// Checks `evidence` against the router `router`'s key: every signature, and that the signed messages
/// prove what the variant says. Needs no clock and no state.
pub fn verify(evidence: &Evidence, router: &NodeId) -> Result<Finding, EvidenceError> {
    match evidence {
        Evidence::AuditFailed { answer } => audit_failed(answer, router),
        Evidence::UsageOverSize {
            batch,
            serial,
            known,
        } => usage_over_size(batch, *serial, known, router),
        Evidence::SerialTwice {
            serial,
            first,
            second,
        } => serial_twice(*serial, first, second, router),
        Evidence::RootMismatch {
            heartbeat,
            piece,
            known,
        } => roots::root_mismatch(heartbeat, *piece, known, router),
        Evidence::ServedRootMismatch { served, known } => {
            roots::served_root_mismatch(served, known, router)
        }
    }
}

/// The origin's version of a response: its `ETag`, else its `Last-Modified`; None when it has neither.
/// Router and terminals name versions alike with it.
pub fn origin_version(headers: &http::HeaderMap) -> Option<String> {
    [http::header::ETAG, http::header::LAST_MODIFIED]
        .iter()
        .find_map(|h| headers.get(h)?.to_str().ok())
        .map(str::to_owned)
}

/// Whether a version is a strong ETag (`"…"`, not `W/"…"` nor a date): only those promise identical
/// bytes.
pub fn is_strong(version: &str) -> bool {
    version.len() >= 2 && version.starts_with('"') && version.ends_with('"')
}

fn audit_failed(answer: &SignedMessage<Answer>, router: &NodeId) -> Result<Finding, EvidenceError> {
    let a = by_terminal(answer, audit::ANSWER, "audit answer")?;
    let c: Verified<Challenge> = a
        .body
        .challenge
        .verify_signature(audit::CHALLENGE)
        .map_err(AuditError::from)?;
    let (challenge, verdict) = audit::judge(answer, router, &c.body.root, c.body.size)?;
    match verdict {
        Verdict::Pass => Err(EvidenceError::ProofVerifies),
        Verdict::NotHeld => Err(EvidenceError::NotHeld),
        Verdict::Fail(why) => Ok(Finding {
            terminal: challenge.terminal,
            kind: Kind::AuditFailed,
            proves: format!(
                "terminal {} signed a proof of chunk group {} of the piece {} ({} bytes) that does not verify: {why}",
                challenge.terminal, challenge.group, challenge.root, challenge.size
            ),
            first_at: c.ts,
            last_at: c.ts,
            offence: None,
        }),
    }
}

/// A message of the accused's (its `what`), checked.
fn by_terminal<T: serde::de::DeserializeOwned>(
    m: &SignedMessage<T>,
    purpose: &str,
    what: &'static str,
) -> Result<Verified<T>, EvidenceError> {
    m.verify_signature(purpose)
        .map_err(|source| EvidenceError::Terminal { what, source })
}

/// The router's statement, checked: signed by `router`, and slice roots that fit its size. Whether it
/// convicts anyone is for the caller: only what the router fetched from the origin does.
pub fn router_statement(
    known: &SignedMessage<KnownObject>,
    router: &NodeId,
) -> Result<(KnownObject, ObjectRoots), EvidenceError> {
    let k = known
        .verify_signature(KNOWN_OBJECT)
        .map_err(EvidenceError::Statement)?;
    if k.signer != *router {
        return Err(EvidenceError::NotTheRouter {
            signer: k.signer.to_string(),
            router: router.to_string(),
        });
    }
    let roots = k.body.roots().ok_or_else(|| {
        EvidenceError::MalformedStatement(format!(
            "{} slice roots for an object of {} bytes",
            k.body.slice_roots.len(),
            k.body.size
        ))
    })?;
    Ok((k.body, roots))
}

/// The router's statement, checked, when it may convict: see [`router_statement`].
fn statement(
    known: &SignedMessage<KnownObject>,
    router: &NodeId,
) -> Result<(KnownObject, ObjectRoots), EvidenceError> {
    let (k, roots) = router_statement(known, router)?;
    if !k.from_origin {
        return Err(EvidenceError::NotFromOrigin);
    }
    Ok((k, roots))
}

/// The version `claimed` by the terminal, checked against the statement's: the same, and strong.
fn same_strong_version(claimed: Option<&String>, known: &str) -> Result<(), EvidenceError> {
    let claimed = claimed.ok_or(EvidenceError::NoVersion)?;
    if claimed != known {
        return Err(EvidenceError::OtherVersion {
            claimed: claimed.clone(),
            known: known.to_owned(),
        });
    }
    if !is_strong(claimed) {
        return Err(EvidenceError::WeakVersion(claimed.clone()));
    }
    Ok(())
}

/// A usage batch, checked, and its record for `serial` under a ticket the router issued to the signer.
fn record(
    batch: &SignedMessage<UsageBatch>,
    serial: u64,
    router: &NodeId,
) -> Result<(Verified<UsageBatch>, UsageRecord, Ticket), EvidenceError> {
    let b = by_terminal(batch, wire::USAGE, "usage batch")?;
    let mut refused = None;
    let mut found = None;
    for r in &b.body.records {
        match Ticket::verify_issuer(&r.ticket, router, b.signer.short_id()) {
            Ok(t) if t.serial == serial => {
                found = Some((r.clone(), t));
                break;
            }
            Ok(_) => {}
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    match (found, refused) {
        (Some((r, t)), _) => Ok((b, r, t)),
        (None, Some(e)) => Err(EvidenceError::Ticket(e)),
        (None, None) => Err(EvidenceError::NoSuchRecord(serial)),
    }
}

fn usage_over_size(
    batch: &SignedMessage<UsageBatch>,
    serial: u64,
    known: &SignedMessage<KnownObject>,
    router: &NodeId,
) -> Result<Finding, EvidenceError> {
    let (b, r, ticket) = record(batch, serial, router)?;
    let (k, _) = statement(known, router)?;
    if ticket.site != k.site || hex::encode(ticket.object) != k.object {
        return Err(EvidenceError::OtherObject);
    }
    same_strong_version(r.version.as_ref(), &k.version)?;
    if r.bytes <= k.size {
        return Err(EvidenceError::WithinSize {
            bytes: r.bytes,
            size: k.size,
        });
    }
    Ok(Finding {
        terminal: b.signer,
        kind: Kind::UsageOverSize,
        proves: format!(
            "terminal {} claimed {} bytes under ticket {serial} for version {} of an object of {} bytes",
            b.signer, r.bytes, k.version, k.size
        ),
        first_at: ticket.expires.min(b.ts),
        last_at: ticket.expires.max(b.ts),
        offence: None,
    })
}

fn serial_twice(
    serial: u64,
    first: &SignedMessage<UsageBatch>,
    second: &SignedMessage<UsageBatch>,
    router: &NodeId,
) -> Result<Finding, EvidenceError> {
    let (a, ra, _) = record(first, serial, router)?;
    let (b, rb, _) = record(second, serial, router)?;
    if a.signer != b.signer {
        return Err(EvidenceError::OtherSigner);
    }
    // The ticket's text is not compared: two encodings of one ticket name the same serial.
    let numbers = |r: &UsageRecord| (r.bytes, r.requests, r.hits, r.served_at, r.version.clone());
    if numbers(&ra) == numbers(&rb) {
        return Err(EvidenceError::SameRecord(serial));
    }
    Ok(Finding {
        terminal: a.signer,
        kind: Kind::SerialTwice,
        proves: format!(
            "terminal {} claimed ticket {serial} twice: {} bytes in {} requests, then {} bytes in {} requests",
            a.signer, ra.bytes, ra.requests, rb.bytes, rb.requests
        ),
        first_at: a.ts.min(b.ts),
        last_at: a.ts.max(b.ts),
        offence: None,
    })
}

mod roots;
#[cfg(test)]
mod tests;
