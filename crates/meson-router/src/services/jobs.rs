//! Purges and pushes fanned out to terminals. A job names the terminals it must reach; each terminal
//! gets it in a heartbeat reply and confirms it in a later heartbeat, so the job's view tells the site's
//! owner when every one has confirmed (or which have not yet, say because they are down: they get it
//! when they come back). Jobs live in the router's memory; the newest [`KEEP`] are kept.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use meson_api::sites::{JobView, TargetState, TargetView};
use meson_core::identity::NodeId;
use meson_core::wire::{Job, JobAction, JobResult};

/// Jobs remembered at once; older ones are forgotten, confirmed or not.
const KEEP: usize = 10_000;

enum Target {
    Waiting { sent: Option<Instant> },
    Done { ok: bool, detail: String },
}

struct State {
    job: Job,
    account_id: i64,
    host: String,
    created: u64,
    targets: BTreeMap<[u8; 32], Target>,
}

#[derive(Default)]
struct Inner {
    jobs: HashMap<u64, State>,
    order: VecDeque<u64>,
    /// Jobs each terminal has yet to confirm.
    by_terminal: HashMap<[u8; 32], Vec<u64>>,
}

pub(crate) struct Jobs {
    next: AtomicU64,
    inner: Mutex<Inner>,
}

impl Jobs {
    pub fn new(start: u64) -> Self {
        // Ids start at the router's start time (in ms) so a restarted router does not reuse recent ids
        // that terminals may still be confirming.
        Jobs {
            next: AtomicU64::new(start),
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn create(
        &self,
        account_id: i64,
        host: &str,
        site: u64,
        action: JobAction,
        targets: Vec<[u8; 32]>,
        now: u64,
    ) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        for t in &targets {
            inner.by_terminal.entry(*t).or_default().push(id);
        }
        inner.jobs.insert(
            id,
            State {
                job: Job { id, site, action },
                account_id,
                host: host.to_owned(),
                created: now,
                targets: targets
                    .into_iter()
                    .map(|t| (t, Target::Waiting { sent: None }))
                    .collect(),
            },
        );
        inner.order.push_back(id);
        while inner.order.len() > KEEP {
            if let Some(old) = inner.order.pop_front() {
                inner.jobs.remove(&old);
            }
        }
        metrics::counter!("meson_router_jobs_total").increment(1);
        id
    }

    /// The jobs to hand `node` now: those it has not confirmed and was not sent within `resend`.
    pub fn for_terminal(&self, node: &[u8; 32], resend: Duration) -> Vec<Job> {
        let mut inner = self.lock();
        let Inner {
            jobs, by_terminal, ..
        } = &mut *inner;
        let Some(ids) = by_terminal.get_mut(node) else {
            return Vec::new();
        };
        ids.retain(|id| jobs.contains_key(id));
        let mut out = Vec::new();
        for id in ids.iter() {
            let Some(state) = jobs.get_mut(id) else {
                continue;
            };
            if let Some(Target::Waiting { sent }) = state.targets.get_mut(node) {
                if sent.is_none_or(|t| t.elapsed() >= resend) {
                    *sent = Some(Instant::now());
                    out.push(state.job.clone());
                }
            }
        }
        out
    }

    /// Records what `node` reports of its jobs.
    pub fn confirm(&self, node: &[u8; 32], results: Vec<JobResult>) {
        if results.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for r in results {
            if let Some(target) = inner
                .jobs
                .get_mut(&r.id)
                .and_then(|s| s.targets.get_mut(node))
            {
                *target = Target::Done {
                    ok: r.ok,
                    detail: r.detail,
                };
            }
            if let Some(ids) = inner.by_terminal.get_mut(node) {
                ids.retain(|id| *id != r.id);
            }
        }
    }

    /// The job, if it exists and belongs to `account_id`.
    pub fn view(&self, id: u64, account_id: i64) -> Option<JobView> {
        let inner = self.lock();
        let s = inner.jobs.get(&id).filter(|s| s.account_id == account_id)?;
        let terminals: Vec<TargetView> = s
            .targets
            .iter()
            .map(|(node, t)| {
                let node_id = NodeId::from_bytes(node)
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                let (state, detail) = match t {
                    Target::Waiting { sent: None } => (TargetState::Queued, None),
                    Target::Waiting { sent: Some(_) } => (TargetState::Sent, None),
                    Target::Done { ok: true, detail } => (TargetState::Done, Some(detail.clone())),
                    Target::Done { ok: false, detail } => {
                        (TargetState::Failed, Some(detail.clone()))
                    }
                };
                TargetView {
                    node_id,
                    state,
                    detail,
                }
            })
            .collect();
        let confirmed = terminals.iter().filter(|t| t.state.confirmed()).count();
        Some(JobView {
            id,
            site: s.host.clone(),
            action: s.job.action.clone(),
            created: s.created,
            complete: confirmed == terminals.len(),
            confirmed,
            failed: terminals
                .iter()
                .filter(|t| t.state == TargetState::Failed)
                .count(),
            terminals,
        })
    }
}
