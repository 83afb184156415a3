//! Issuing a ticket and the `Location` that carries it, for a client's redirect and for a council
//! member's re-probe alike: both build the very same URL, so a terminal cannot tell the two apart.

use meson_core::identity::NodeId;
use meson_core::keying::{RID_PARAM, TICKET_PARAM};
use meson_core::ticket::{ClientPrefix, Ticket};
use meson_node::unix_now;
use meson_store::Site;

use crate::Shared;

/// Where a ticket sends its client.
pub(crate) struct Target<'a> {
    pub terminal: NodeId,
    pub public_url: &'a str,
    /// The request's path as the client sent it, and its query parameters but the router's own.
    pub path: &'a str,
    pub params: &'a [&'a str],
    /// [`meson_core::ticket::object_digest`] of the cache key.
    pub object: [u8; 16],
}

/// A new ticket for `client_prefix` on `target`, and the URL carrying it and the request id `rid`;
/// the ticket's expiry.
pub(crate) fn issue(
    s: &Shared,
    site: &Site,
    target: &Target<'_>,
    client_prefix: ClientPrefix,
    rid: &str,
) -> Result<(String, u64), String> {
    let serial = s.serials.next().map_err(|e| e.to_string())?;
    let now = unix_now();
    let expires = now + s.cfg.ticket_lifetime_secs;
    let ticket = Ticket {
        terminal: target.terminal.short_id(),
        site: site.id as u64,
        object: target.object,
        client_prefix,
        expires,
        serial,
    }
    .issue(&s.key, now)
    .map_err(|e| e.to_string())?;
    // Room for the two parameters (a request id of at most 64 characters, a ticket of at most 175)
    // so that the Location is built in one allocation.
    let query_len: usize = target.params.iter().map(|p| p.len() + 1).sum();
    let mut location =
        String::with_capacity(target.public_url.len() + target.path.len() + query_len + 280);
    for part in [target.public_url, target.path, "?"] {
        location.push_str(part);
    }
    for p in target.params {
        location.push_str(p);
        location.push('&');
    }
    for part in [RID_PARAM, "=", rid, "&", TICKET_PARAM, "=", &ticket] {
        location.push_str(part);
    }
    Ok((location, expires))
}
