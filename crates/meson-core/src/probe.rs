//! Probes: a hunter's or a council member's record of fetching content from a terminal exactly as a
//! client does (through the router, following its `302` to the terminal with a ticket), and the one
//! deterministic check of such a record, which the router, hunters, the council and
//! `meson-cdn claim verify` all run.
//!
//! A probe is worth something only under a ticket the router issued to the probed terminal and that was
//! valid when the probe was sent: without one the terminal had no duty to serve, and its refusal proves
//! nothing ([`ProbeVerdict::Invalid`]). A body served under one is judged by its roots, computed here
//! from the kept bytes exactly as the router computes an object's roots from its origin fetch
//! ([`crate::content::object_roots`]), against the terminal's own signed claim of what it serves
//! ([`crate::served`]) and, when the record carries it, the router's statement of the object.
//!
//! The record is the prober's word, not the terminal's: only the claim in it is signed by the terminal.
//! A record can show a terminal faulty, for whoever re-probes it to confirm; it is not slashable
//! evidence. [`judge`] reads no clock and does no I/O: the same record always gets the same judgement.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::content::{self, ObjectRoots};
use crate::evidence::{self, EvidenceError, KnownObject};
use crate::identity::NodeId;
use crate::keying::{self, TICKET_PARAM};
use crate::served::{self, Served, SERVED};
use crate::signed::SignedMessage;
use crate::ticket::{Ticket, MAX_LIFETIME_SECS};

/// Bodies are kept verbatim up to this many bytes; a larger one is recorded by length only, and cannot
/// be verified.
pub const MAX_RECORDED_BODY: usize = 1 << 20;

/// Longest refusal reason kept from an error response's body.
const MAX_REASON_CHARS: usize = 256;

/// One fetch from a terminal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Probe {
    /// The terminal probed: the one the router's `302` sent the prober to.
    pub terminal: NodeId,
    /// Unix seconds when the request was sent.
    pub at: u64,
    /// The `Location` fetched, ticket included.
    pub url: String,
    pub latency_ms: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// How the terminal answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
// A record holds a few probes: boxing the claim would save nothing worth the indirection.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// A `2xx` response.
    Served {
        status: u16,
        /// The terminal's [`served::SERVED_HEADER`], when it sent one that reads as a claim.
        #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
        served: Option<SignedMessage<Served>>,
        body_len: u64,
        /// The body in standard base64, when at most [`MAX_RECORDED_BODY`] bytes.
        body: Option<String>,
    },
    /// The terminal answered with another status.
    Refused { status: u16, reason: String },
    /// No answer: a connection error, a reset, a timeout.
    Failed { error: String },
}

#[cfg(feature = "openapi")]
fn signed() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    <SignedMessage<()> as utoipa::PartialSchema>::schema()
}

/// A prober's record of fetching one object of a site from one terminal, one or more times.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record {
    /// The site's host and the path asked of the router.
    pub host: String,
    pub path: String,
    /// The router's statement of the object, when it has one.
    #[cfg_attr(feature = "openapi", schema(schema_with = signed))]
    pub known: Option<SignedMessage<KnownObject>>,
    pub probes: Vec<Probe>,
}

/// What one probe shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum ProbeVerdict {
    /// The body is what the terminal claimed and the router knows.
    Good,
    /// The body, or the terminal's claim, is not the object.
    Corrupt {
        why: String,
    },
    Refused {
        status: u16,
    },
    Failed,
    /// Served, but nothing to check the body against, or no body kept.
    Unverifiable {
        why: String,
    },
    /// The probe proves nothing: no valid ticket for this terminal when it was sent, or a record that
    /// does not hold together.
    Invalid {
        why: String,
    },
}

/// When a record shows a terminal faulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rule {
    /// Valid probes needed before refusals and failures can make the terminal faulty.
    pub min_probes: u32,
    /// The share of valid probes, in basis points, that may be refused or fail.
    pub max_unreachable_bps: u32,
}

impl Rule {
    /// Whether probes tallied `t` show the terminal faulty: any corrupt probe, or at least
    /// `min_probes` valid probes of which more than `max_unreachable_bps` were refused or failed.
    /// [`judge`] decides by it, and so does the hunt simulator ([`crate::huntsim`]).
    pub fn faulty(&self, t: &Tally) -> bool {
        let (valid, unreachable) = (t.valid(), t.unreachable());
        t.corrupt > 0
            || (valid >= u64::from(self.min_probes)
                && unreachable * 10_000 > u64::from(self.max_unreachable_bps) * valid)
    }
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            min_probes: 3,
            max_unreachable_bps: 5_000,
        }
    }
}

/// A record's probes by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub good: u32,
    pub corrupt: u32,
    pub refused: u32,
    pub failed: u32,
    pub unverifiable: u32,
    pub invalid: u32,
}

impl Tally {
    pub fn add(&mut self, v: &ProbeVerdict) {
        let n = match v {
            ProbeVerdict::Good => &mut self.good,
            ProbeVerdict::Corrupt { .. } => &mut self.corrupt,
            ProbeVerdict::Refused { .. } => &mut self.refused,
            ProbeVerdict::Failed => &mut self.failed,
            ProbeVerdict::Unverifiable { .. } => &mut self.unverifiable,
            ProbeVerdict::Invalid { .. } => &mut self.invalid,
        };
        *n += 1;
    }

    /// The probes that count: all but the invalid ones.
    pub fn valid(&self) -> u64 {
        u64::from(self.good)
            + u64::from(self.corrupt)
            + u64::from(self.refused)
            + u64::from(self.failed)
            + u64::from(self.unverifiable)
    }

    /// The valid probes refused or failed.
    pub fn unreachable(&self) -> u64 {
        u64::from(self.refused) + u64::from(self.failed)
    }
}

/// A record's judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Judgement {
    pub accused: NodeId,
    pub good: u32,
    pub corrupt: u32,
    pub refused: u32,
    pub failed: u32,
    pub unverifiable: u32,
    pub invalid: u32,
    pub faulty: bool,
    /// Why, for a person.
    pub why: String,
}

/// Why a record cannot be judged at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("the record holds no probe")]
    NoProbes,
    #[error("the record's probes name terminals {first} and {other}: a record is of one terminal")]
    MixedTerminals { first: String, other: String },
    #[error("the record's statement of the object: {0}")]
    Statement(EvidenceError),
}

/// Judges one probe, against the router `router` and its statement `known` (already checked to be the
/// router's: [`judge`] does):
///
/// - the URL's ticket must be the router's, issued to the probed terminal, and valid at `at`; else
///   [`ProbeVerdict::Invalid`], whatever the terminal answered;
/// - a refusal or a failure is [`ProbeVerdict::Refused`] or [`ProbeVerdict::Failed`];
/// - a `200` with its body kept: the body's roots are compared with the terminal's signed claim (which
///   must verify under the probed terminal, else Invalid, and name the ticket's object) and with `known`;
///   any difference is [`ProbeVerdict::Corrupt`], naming both roots, agreement [`ProbeVerdict::Good`];
///   with nothing to compare, or no body kept, [`ProbeVerdict::Unverifiable`].
///
/// `known` counts only where it convicts like [evidence](crate::evidence): learned from the origin (the
/// site's owner could name false roots to have honest terminals judged faulty), of a strong version (a
/// weak one does not promise the same bytes) and, when the terminal made a claim, of the version it names
/// (the origin may have changed the object since the router fetched it; a claim naming no version is of a
/// copy the origin named none for).
pub fn judge_probe(p: &Probe, router: &NodeId, known: Option<&KnownObject>) -> ProbeVerdict {
    let invalid = |why: String| ProbeVerdict::Invalid { why };
    let ticket = match ticket_of(p, router) {
        Ok(t) => t,
        Err(why) => return invalid(why),
    };
    if let Some(k) = known {
        if k.site != ticket.site || !k.object.eq_ignore_ascii_case(&hex::encode(ticket.object)) {
            return invalid("the ticket is for another object than the record's statement".into());
        }
    }
    let (status, claim, body_len, body) = match &p.outcome {
        Outcome::Failed { .. } => return ProbeVerdict::Failed,
        Outcome::Refused { status, .. } => return ProbeVerdict::Refused { status: *status },
        Outcome::Served {
            status,
            served,
            body_len,
            body,
        } => (*status, served, *body_len, body),
    };
    let claim = match claim.as_ref().map(|c| c.verify_signature(SERVED)) {
        None => None,
        Some(Err(e)) => return invalid(format!("the terminal's claim does not verify: {e}")),
        Some(Ok(c)) if c.signer != p.terminal => {
            return invalid(format!(
                "the claim is signed by {}, not by the probed terminal",
                c.signer
            ))
        }
        Some(Ok(c)) => Some(c.body),
    };
    if status != 200 {
        return ProbeVerdict::Unverifiable {
            why: format!("status {status} is not a whole body"),
        };
    }
    let Some(body) = body else {
        return ProbeVerdict::Unverifiable {
            why: format!("the body ({body_len} bytes) was not kept"),
        };
    };
    let bytes = match STANDARD.decode(body) {
        Ok(b) if b.len() as u64 == body_len && b.len() <= MAX_RECORDED_BODY => b,
        Ok(b) => {
            return invalid(format!(
                "the kept body has {} bytes, the record says {body_len} (kept up to {MAX_RECORDED_BODY})",
                b.len()
            ))
        }
        Err(_) => return invalid("the kept body is not base64".into()),
    };
    let got = content::object_roots(&bytes);
    let mut checked = false;
    if let Some(c) = &claim {
        if c.site != ticket.site || !c.object.eq_ignore_ascii_case(&hex::encode(ticket.object)) {
            return ProbeVerdict::Corrupt {
                why: format!(
                    "the terminal's claim names object {} of site {}, the ticket object {} of site {}",
                    c.object,
                    c.site,
                    hex::encode(ticket.object),
                    ticket.site
                ),
            };
        }
        if let Some(why) = differs(&got, c.size, &c.root, &c.slice_roots, "the terminal signed") {
            return ProbeVerdict::Corrupt { why };
        }
        checked = true;
    }
    if let Some(k) = known.filter(|k| applies(k, claim.as_ref())) {
        let said = format!("the router's origin fetch found for version {}", k.version);
        if let Some(why) = differs(&got, k.size, &k.root, &k.slice_roots, &said) {
            return ProbeVerdict::Corrupt { why };
        }
        checked = true;
    }
    match checked {
        true => ProbeVerdict::Good,
        false => ProbeVerdict::Unverifiable {
            why: "no claim of the terminal's and no statement of the router's to check the body against"
                .into(),
        },
    }
}

/// The probe's ticket, when it is the router's, for the probed terminal, and valid when sent.
fn ticket_of(p: &Probe, router: &NodeId) -> Result<Ticket, String> {
    let query = p
        .url
        .split('#')
        .next()
        .and_then(|u| u.split_once('?'))
        .map(|(_, q)| q);
    let token = keying::param(query, TICKET_PARAM).ok_or("the probed URL carries no ticket")?;
    let t = Ticket::verify_issuer(token, router, p.terminal.short_id())
        .map_err(|e| format!("the probed URL's {e}"))?;
    if p.at >= t.expires {
        return Err(format!(
            "the ticket expired at {}, before the probe was sent at {}",
            t.expires, p.at
        ));
    }
    if p.at < t.expires.saturating_sub(MAX_LIFETIME_SECS) {
        return Err(format!(
            "the probe is dated {}, before its ticket (expiring at {}) could have been issued",
            p.at, t.expires
        ));
    }
    Ok(t)
}

/// Whether the router's statement convicts: see [`judge_probe`].
fn applies(k: &KnownObject, claim: Option<&Served>) -> bool {
    k.from_origin
        && evidence::is_strong(&k.version)
        && claim.is_none_or(|c| c.version.as_ref() == Some(&k.version))
}

/// Why the body's roots `got` are not the `size`, `root` and (when named) `slices` that `said` names.
fn differs(
    got: &ObjectRoots,
    size: u64,
    root: &content::Root,
    slices: &[content::Root],
    said: &str,
) -> Option<String> {
    let same = got.size == size
        && got.root == *root
        && (slices.is_empty() || got.slices.as_slice() == slices);
    (!same).then(|| {
        format!(
            "the body is {} bytes with root {}; {said} {size} bytes with root {root}",
            got.size, got.root
        )
    })
}

/// Judges a record under `rule`: the terminal is faulty when any probe is corrupt, or when at least
/// `rule.min_probes` valid probes were made and more than `rule.max_unreachable_bps` of them were refused
/// or failed. Invalid probes count for nothing.
pub fn judge(r: &Record, router: &NodeId, rule: &Rule) -> Result<Judgement, ProbeError> {
    let first = r.probes.first().ok_or(ProbeError::NoProbes)?;
    if let Some(other) = r.probes.iter().find(|p| p.terminal != first.terminal) {
        return Err(ProbeError::MixedTerminals {
            first: first.terminal.to_string(),
            other: other.terminal.to_string(),
        });
    }
    let known = match &r.known {
        None => None,
        Some(k) => Some(evidence::router_statement(k, router).map_err(ProbeError::Statement)?),
    };
    let mut t = Tally::default();
    let mut corrupt_why = None;
    for p in &r.probes {
        let verdict = judge_probe(p, router, known.as_ref().map(|(k, _)| k));
        t.add(&verdict);
        if let ProbeVerdict::Corrupt { why } = verdict {
            corrupt_why.get_or_insert(why);
        }
    }
    let (valid, unreachable) = (t.valid(), t.unreachable());
    let faulty = rule.faulty(&t);
    let why = match corrupt_why {
        Some(why) => format!("{} corrupt of {valid} valid probes: {why}", t.corrupt),
        None if faulty => format!(
            "{unreachable} of {valid} valid probes refused or failed, more than {} basis points",
            rule.max_unreachable_bps
        ),
        None => format!(
            "no corrupt probe; {unreachable} of {valid} valid probes refused or failed ({} needed to judge, at most {} basis points allowed); {} invalid",
            rule.min_probes, rule.max_unreachable_bps, t.invalid
        ),
    };
    Ok(Judgement {
        accused: first.terminal,
        good: t.good,
        corrupt: t.corrupt,
        refused: t.refused,
        failed: t.failed,
        unverifiable: t.unverifiable,
        invalid: t.invalid,
        faulty,
        why,
    })
}

/// The outcome of a response as hunters and the council record it, so both record alike: a `2xx` is
/// served (its claim kept when it reads as one, its body when small enough), anything else refused with
/// the start of its body as the reason.
pub fn outcome_of(status: u16, served_header: Option<&str>, body: &[u8]) -> Outcome {
    if !(200..300).contains(&status) {
        return Outcome::Refused {
            status,
            reason: String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(MAX_REASON_CHARS)
                .collect(),
        };
    }
    Outcome::Served {
        status,
        served: served_header.and_then(|h| served::from_header(h).ok()),
        body_len: body.len() as u64,
        body: (body.len() <= MAX_RECORDED_BODY).then(|| STANDARD.encode(body)),
    }
}

#[cfg(test)]
mod tests;
