//! Bytes served per redirect ticket, kept until the ticket can no longer be used and then reported to
//! the router in signed batches.
//!
//! A serial is reported once, whole: the router accepts each serial only once, so a record is held while
//! its ticket is still valid (a player may send more range requests under it) or a response under it is
//! still streaming, and sent after. A batch the router did not acknowledge is kept and sent again; the
//! router counts a resent serial as a duplicate, never twice. A serial's bytes are capped at the object's
//! length as the responses gave it: the router refuses, as evidence of inflation, a record that claims
//! more than the object has, and a client that asks for the same bytes twice under one ticket must not
//! make an honest terminal look like a cheat. Records live in memory: a terminal that
//! crashes loses the usage it had not yet reported, which costs only its own earnings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use meson_core::wire::UsageRecord;

use crate::body::ResponseBody;
use crate::site::Meter;

/// Most serials held at once; beyond, new tickets are served but not recorded (and counted), so a
/// router that stays unreachable cannot exhaust the terminal's memory.
const MAX_PENDING: usize = 1_000_000;

struct Pending {
    ticket: Arc<str>,
    expires: u64,
    bytes: u64,
    requests: u64,
    hits: u64,
    served_at: u64,
    /// Responses under this ticket still being sent.
    open: u32,
    /// The object's length, once a response under the ticket told it.
    object_len: Option<u64>,
    /// The origin's version of what was served under the ticket; cleared if responses under it named
    /// different versions, since the record then claims no single one.
    version: Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    NotYet,
    One(String),
    Mixed,
}

impl Version {
    fn served(&mut self, version: Option<String>) {
        *self = match (std::mem::replace(self, Version::Mixed), version) {
            (Version::NotYet, Some(v)) => Version::One(v),
            (Version::One(old), Some(v)) if old == v => Version::One(old),
            _ => Version::Mixed,
        };
    }

    fn named(&self) -> Option<String> {
        match self {
            Version::One(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl Pending {
    fn new(ticket: &str, expires: u64, served_at: u64) -> Self {
        Pending {
            ticket: ticket.into(),
            expires,
            bytes: 0,
            requests: 0,
            hits: 0,
            served_at,
            open: 0,
            object_len: None,
            version: Version::NotYet,
        }
    }
}

#[derive(Default)]
pub struct UsageBook {
    pending: Mutex<HashMap<u64, Pending>>,
}

/// One request's share of a ticket's usage; its bytes are added when the response body ends or is
/// dropped.
pub struct Charge {
    book: Arc<UsageBook>,
    serial: u64,
    bytes: u64,
    hit: bool,
    object_len: Option<u64>,
    version: Option<String>,
}

impl UsageBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a request under ticket `serial`; None if the book is full.
    pub fn open(
        self: &Arc<Self>,
        serial: u64,
        ticket: &str,
        expires: u64,
        now: u64,
    ) -> Option<Charge> {
        let mut pending = self.lock();
        if pending.len() >= MAX_PENDING && !pending.contains_key(&serial) {
            metrics::counter!("meson_terminal_usage_unrecorded_total").increment(1);
            return None;
        }
        let p = pending
            .entry(serial)
            .or_insert_with(|| Pending::new(ticket, expires, now));
        p.requests += 1;
        p.open += 1;
        Some(Charge {
            book: self.clone(),
            serial,
            bytes: 0,
            hit: false,
            object_len: None,
            version: None,
        })
    }

    fn close(&self, serial: u64, charge: &Charge) {
        let Charge {
            bytes,
            hit,
            object_len,
            ..
        } = *charge;
        if let Some(p) = self.lock().get_mut(&serial) {
            p.version.served(charge.version.clone());
            p.object_len = p.object_len.max(object_len);
            p.bytes = (p.bytes + bytes).min(p.object_len.unwrap_or(u64::MAX));
            p.hits += u64::from(hit);
            p.open = p.open.saturating_sub(1);
        }
    }

    /// Takes the records that are final: no response streaming and the ticket expired (or `all`, at
    /// shutdown, when no request can follow). At most `max`.
    pub fn take_due(&self, now: u64, all: bool, max: usize) -> Vec<(u64, UsageRecord)> {
        let mut pending = self.lock();
        let due: Vec<u64> = pending
            .iter()
            .filter(|(_, p)| p.open == 0 && (all || p.expires <= now))
            .map(|(s, _)| *s)
            .take(max)
            .collect();
        due.into_iter()
            .filter_map(|s| Some((s, pending.remove(&s)?)))
            .map(|(s, p)| {
                let record = UsageRecord {
                    ticket: p.ticket.to_string(),
                    bytes: p.bytes,
                    requests: p.requests,
                    hits: p.hits,
                    served_at: p.served_at,
                    version: p.version.named(),
                };
                (s, record)
            })
            .collect()
    }

    /// Puts back records the router did not acknowledge.
    pub fn restore(&self, records: Vec<(u64, UsageRecord)>) {
        let mut pending = self.lock();
        for (serial, r) in records {
            let p = pending
                .entry(serial)
                .or_insert_with(|| Pending::new(&r.ticket, 0, r.served_at));
            p.bytes += r.bytes;
            p.requests += r.requests;
            p.hits += r.hits;
            p.served_at = p.served_at.min(r.served_at);
            p.version.served(r.version);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counts the body's bytes against the ticket.
impl Meter for Charge {
    fn meter(
        mut self: Box<Self>,
        body: ResponseBody,
        hit: bool,
        object_len: Option<u64>,
        version: Option<String>,
    ) -> ResponseBody {
        self.hit = hit;
        self.object_len = object_len;
        self.version = version;
        let mut charge = self;
        body.map_frame(move |f| {
            // The closure must own the whole charge, not copy its counter: the charge is final when
            // the body (and so the closure) is dropped.
            let charge = &mut charge;
            if let Some(d) = f.data_ref() {
                charge.bytes += d.len() as u64;
            }
            f
        })
        .boxed()
    }
}

/// The request's share is final when its body is dropped, whether it ended or the client left (or,
/// with no body, when the charge itself is dropped).
impl Drop for Charge {
    fn drop(&mut self) {
        self.book.close(self.serial, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tickets_bytes_never_exceed_the_objects_length() {
        let book = Arc::new(UsageBook::default());
        for served in [80, 80] {
            let mut charge = book.open(7, "t", 10, 1).unwrap();
            charge.bytes = served;
            charge.object_len = Some(100);
        }
        let mut unknown = book.open(8, "u", 10, 1).unwrap();
        unknown.bytes = 500;
        drop(unknown);
        let mut due = book.take_due(10, false, 10);
        due.sort_by_key(|(s, _)| *s);
        let bytes: Vec<(u64, u64, u64)> =
            due.iter().map(|(s, r)| (*s, r.bytes, r.requests)).collect();
        assert_eq!(bytes, vec![(7, 100, 2), (8, 500, 1)]);
    }
}
