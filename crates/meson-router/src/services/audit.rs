//! The auditor: spot checks of terminals, driven by the router.
//!
//! At random times (exponential gaps, so no terminal can tell when its next audit comes) averaging one
//! audit per terminal every [`AuditConfig::interval`], it picks a terminal that is up at random, a
//! target from what that terminal should hold ([`super::holdings`]: a piece it reported holding, or an
//! object it was sent clients for) whose root the router knows independently ([`super::roots`]), and a
//! random chunk group of it. Those choices and the outcome's classification are
//! [`meson_core::audit::plan`]'s, which the audit simulator runs too. It `POST`s a challenge signed with the router's node key to the terminal's
//! public [`meson_core::audit::AUDIT_PATH`] and judges the signed answer with
//! [`meson_core::audit::judge`] against the root it knows. Each audit is stored per terminal and epoch
//! (`GET /v1/terminals/{node}/audits`) with its outcome:
//!
//! | outcome | when | counted against the pass rate | evidence kept |
//! | --- | --- | --- | --- |
//! | `pass` | the proof verifies | yes, as a pass | |
//! | `fail` | the signed proof does not verify | yes | the signed answer, which slashes ([`super::slashing`]) |
//! | `missing` | the terminal says it lacks a piece it reported holding, and its heartbeats two intervals later still report it held | yes | |
//! | `not_held` | it lacks an object it was only sent clients for, or a piece it evicted since its last heartbeat | no | |
//! | `timeout` | no valid signed answer in time (down, refusing, garbage) | yes | |

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meson_core::audit::holdings::Target;
use meson_core::audit::plan::{self, Piece};
use meson_core::audit::{self, Answer, Challenge, QualityRules, Standing, Tally, Verdict};
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_store::{AuditOutcome, AuditRecord, AuditTally};
use rand::Rng;
use tokio::sync::watch;

use crate::Shared;

/// A signed answer carries one 16 KiB chunk group and its proof; anything much larger is not an answer.
const MAX_ANSWER: usize = 256 * 1024;

/// How the router audits terminals.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Mean time between two audits of one terminal (default 15 minutes); the actual gaps are random.
    pub interval: Duration,
    /// How long a terminal has to answer (default 10 s, at most 60).
    pub timeout: Duration,
    /// Seconds per audit epoch, the period audits are tallied by (default 3600).
    pub epoch_secs: u64,
    /// Vetting and suspension (defaults: 10 audits passed to be vetted; suspended below a 90 % pass rate
    /// over at least its latest 10 counted audits: [`audit::recent`]).
    pub rules: QualityRules,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            interval: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(10),
            epoch_secs: 3600,
            rules: QualityRules {
                vetting_audits: 10,
                suspend_below: 0.9,
                min_audits: 10,
            },
        }
    }
}

impl AuditConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.interval.is_zero() || self.epoch_secs == 0 {
            return Err("the audit interval and epoch must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.rules.suspend_below) {
            return Err("the suspension threshold is a pass rate from 0 to 1".into());
        }
        if self.timeout.is_zero() || self.timeout.as_secs() >= audit::MAX_CHALLENGE_SECS {
            return Err(format!(
                "the audit timeout must be positive and under {} s",
                audit::MAX_CHALLENGE_SECS
            ));
        }
        Ok(())
    }
}

/// The auditor's HTTP client.
pub(crate) struct Auditor {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Auditor {
    pub fn new(timeout: Duration) -> Self {
        Auditor {
            // Like the health probe, no idle connections: one would count as a client on the terminal.
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(meson_node::http::connector(timeout, false)),
        }
    }
}

/// The piece to challenge for `target`, among the versions the router knows
/// ([`plan::choose_piece`]).
async fn piece(s: &Shared, terminal: &[u8; 32], target: Target) -> Option<Piece> {
    let known = s.store.known_objects(target.object()).await.ok()?;
    let versions: Vec<_> = known.iter().map(meson_store::KnownObject::pieces).collect();
    plan::choose_piece(
        target,
        &versions,
        |root| s.holdings.claims(terminal, root),
        &mut rand::rng(),
    )
}

/// Sends the challenge and returns the terminal's signed answer, or why there is none.
async fn ask(
    s: &Shared,
    url: &str,
    challenge: &SignedMessage<Challenge>,
    timeout: Duration,
) -> Result<SignedMessage<Answer>, String> {
    let uri: http::Uri = format!("{url}{}", audit::AUDIT_PATH)
        .parse()
        .map_err(|e| format!("{url}: {e}"))?;
    let body = serde_json::to_vec(challenge).map_err(|e| e.to_string())?;
    let req = http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let resp = s
            .auditor
            .client
            .request(req)
            .await
            .map_err(|e| format!("unreachable: {e}"))?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("answer: {e}"))?
            .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(format!("answered {status}: {}", text.trim()));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("not a signed answer: {e}"))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

/// The audit's outcome, its detail, and the evidence to keep.
fn decide(
    s: &Shared,
    sent: &SignedMessage<Challenge>,
    piece: &Piece,
    answer: Result<SignedMessage<Answer>, String>,
) -> (AuditOutcome, String, Option<String>) {
    let answer = match answer {
        Ok(a) => a,
        Err(why) => return (AuditOutcome::Timeout, why, None),
    };
    let echoed = answer
        .verify_signature(audit::ANSWER)
        .map(|v| serde_json::to_string(&v.body.challenge).ok() == serde_json::to_string(sent).ok());
    if !matches!(echoed, Ok(true)) {
        return (
            AuditOutcome::Timeout,
            "the answer is not to the challenge sent".into(),
            None,
        );
    }
    let verdict = match audit::judge(&answer, &s.id, &piece.root, piece.len) {
        Err(e) => return (AuditOutcome::Timeout, e.to_string(), None),
        Ok((_, verdict)) => verdict,
    };
    let outcome = plan::classify(Some(&verdict), piece.claimed);
    let detail = match (outcome, verdict) {
        (_, Verdict::Fail(why)) => why,
        (AuditOutcome::Missing, _) => "reported held, not produced".into(),
        (AuditOutcome::NotHeld, _) => "not held".into(),
        _ => "the proof verifies".into(),
    };
    let evidence = (outcome == AuditOutcome::Fail)
        .then(|| serde_json::to_string(&answer).ok())
        .flatten();
    (outcome, detail, evidence)
}

/// Audits `terminal` at `url` once, if the router knows a root of something it should hold; stores the
/// outcome.
pub(crate) async fn audit_one(
    s: &Shared,
    cfg: &AuditConfig,
    terminal: [u8; 32],
    url: &str,
) -> Option<AuditRecord> {
    let target = s.holdings.pick(&terminal)?;
    let piece = piece(s, &terminal, target).await?;
    let node = NodeId::from_bytes(&terminal).ok()?;
    let now = meson_node::unix_now();
    let group = plan::chunk_group(piece.len, &mut rand::rng());
    let challenge = Challenge {
        terminal: node,
        root: piece.root,
        size: piece.len,
        group,
        expires: now + cfg.timeout.as_secs().max(1) + 1,
    };
    let sent =
        SignedMessage::sign(&s.key, audit::CHALLENGE, now, rand::random(), &challenge).ok()?;
    let answer = ask(s, url, &sent, cfg.timeout).await;
    let (mut outcome, mut detail, evidence) = decide(s, &sent, &piece, answer);
    if outcome == AuditOutcome::Missing {
        // Judged once the terminal's next heartbeats are in (plan::recheck).
        tokio::time::sleep(s.cfg.heartbeat * 2).await;
        outcome = plan::recheck(outcome, s.holdings.claims(&terminal, &piece.root));
        if outcome == AuditOutcome::NotHeld {
            detail = "evicted, as its next heartbeat reported".into();
        }
    }
    let record = AuditRecord {
        terminal,
        epoch: now / cfg.epoch_secs,
        at: now,
        root: piece.root.0,
        group,
        outcome,
        detail,
        evidence,
    };
    metrics::counter!("meson_router_audits_total", "outcome" => outcome.as_str()).increment(1);
    if outcome == AuditOutcome::Fail {
        tracing::warn!(terminal = %node, root = %piece.root, group, detail = %record.detail, "audit failed: the signed answer is kept as evidence");
    } else {
        tracing::debug!(terminal = %node, root = %piece.root, group, outcome = outcome.as_str(), "audited");
    }
    if let Err(e) = s.store.record_audit(&record).await {
        tracing::warn!(error = %e, "cannot store an audit");
    }
    if let Some(answer) = record
        .evidence
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
    {
        super::slashing::found(s, meson_core::evidence::Evidence::AuditFailed { answer }).await;
    }
    update_quality(s, cfg, terminal).await;
    Some(record)
}

/// Recomputes a terminal's standing from its audits and applies it to rotation, logging changes.
pub(crate) async fn update_quality(s: &Shared, cfg: &AuditConfig, terminal: [u8; 32]) {
    let standing = match standing_of(s, cfg, terminal).await {
        Ok((standing, _)) => standing,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a terminal's audits");
            return;
        }
    };
    let suspended = standing.suspension(&cfg.rules);
    let vetted = !matches!(standing, Standing::Vetting { .. });
    if s.registry.set_quality(&terminal, vetted, suspended.clone()) {
        let node = NodeId::from_bytes(&terminal)
            .map(|n| n.to_string())
            .unwrap_or_default();
        match &suspended {
            Some(why) => {
                tracing::warn!(terminal = %node, reason = %why, "terminal suspended from rotation")
            }
            None => {
                tracing::info!(terminal = %node, standing = standing.as_str(), "terminal standing changed")
            }
        }
    }
}

/// A terminal's standing from its stored audits: passes ever, and the tally of its latest ones.
pub(crate) async fn standing_of(
    s: &Shared,
    cfg: &AuditConfig,
    terminal: [u8; 32],
) -> meson_store::Result<(Standing, Vec<AuditTally>)> {
    let tallies: Vec<AuditTally> = s
        .store
        .audit_tallies(Some(terminal), 0)
        .await?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let epoch = meson_node::unix_now() / cfg.epoch_secs;
    let passed = tallies.iter().map(|t| t.pass).sum();
    let standing = audit::standing(passed, &recent(&tallies, epoch, &cfg.rules), &cfg.rules);
    Ok((standing, tallies))
}

/// The counted audits a terminal's standing is judged on ([`audit::recent`]).
pub(crate) fn recent(tallies: &[AuditTally], epoch: u64, rules: &QualityRules) -> Tally {
    audit::recent(
        tallies.iter().map(|t| (t.epoch, t.counted())),
        epoch,
        rules.min_audits,
    )
}

/// Each audited terminal's pass rate in one epoch: the audit share of its quality at settlement.
pub(crate) struct PassRates(BTreeMap<[u8; 32], u32>);

impl PassRates {
    /// In basis points; full for a terminal not audited in the epoch ([`Tally::pass_bps`]).
    pub fn bps(&self, node: &[u8; 32]) -> u32 {
        self.0
            .get(node)
            .copied()
            .unwrap_or(Tally::default().pass_bps())
    }
}

pub(crate) async fn pass_rates(s: &Shared, epoch: u64) -> meson_store::Result<PassRates> {
    Ok(PassRates(
        s.store
            .audit_tallies(None, epoch)
            .await?
            .into_iter()
            .filter(|(_, t)| t.epoch == epoch)
            .map(|(node, t)| (node, t.counted().pass_bps()))
            .collect(),
    ))
}

/// The auditor, until `stop`.
pub(crate) async fn run(s: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let Some(cfg) = s.audit_config() else { return };
    for (terminal, _) in s.registry.urls() {
        update_quality(&s, &cfg, terminal).await;
    }
    loop {
        // Governance may change the interval and the rules at an epoch boundary.
        let Some(cfg) = s.audit_config() else { return };
        let up = s.registry.up(s.cfg.heartbeat);
        let gap = plan::next_gap(cfg.interval.as_secs_f64(), up.len(), &mut rand::rng());
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(gap)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if up.is_empty() {
            continue;
        }
        let (terminal, url) = up[rand::rng().random_range(0..up.len())].clone();
        let (s, cfg) = (s.clone(), cfg.clone());
        tokio::spawn(async move { audit_one(&s, &cfg, terminal, &url).await });
    }
}
