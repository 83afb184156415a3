//! Redirect tickets: the router's signed permission, carried in a 302's URL, for one client to fetch one
//! object of one site from one terminal during the next minute.
//!
//! The terminal checks a ticket offline with the router's public key ([`Ticket::verify`]), then records the
//! bytes it serves against the ticket's serial, which the router pays only if it issued that serial to that
//! terminal, once. The ticket binds everything that makes a serial worth stealing or redirecting: the
//! terminal (a ticket cannot be spent elsewhere), the site and object (nor for other content), the client's
//! address prefix (nor handed to other clients) and a short expiry.
//!
//! # Layout
//!
//! The token is URL-safe base64 without padding (only `A-Z a-z 0-9 - _`) of these bytes, integers
//! little-endian:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | version, 1 |
//! | 1 | 8 | `expires`, Unix seconds: valid while `now < expires` |
//! | 9 | 8 | `serial`, unique per ticket |
//! | 17 | 8 | `terminal`: [`NodeId::short_id`], i.e. the first 8 bytes of its public key |
//! | 25 | 8 | `site` id |
//! | 33 | 16 | `object`: [`object_digest`] of the cache key |
//! | 49 | 1 | client address family: 4 or 6 |
//! | 50 | 1 | client prefix length in bits, at most 32 or 128 |
//! | 51 | n | the prefix's first `n = ceil(length / 8)` address bytes, bits past the length zero |
//! | 51 + n | 64 | ed25519 signature by the router, in domain `"meson/v1/ticket"` (see [`crate::identity`]), over bytes `0 .. 51 + n` |
//!
//! With the default prefixes that is 118 bytes, 158 characters, for an IPv4 client (/24) and 121 bytes, 162
//! characters, for an IPv6 one (/48); the longest possible ticket (IPv6 /128) is 131 bytes, 175 characters.
//! The terminal is named by its 8-byte short id rather than its 32-byte key to keep tickets under 180
//! characters; for that the router must refuse to admit a node whose short id is already taken (finding a
//! key with a chosen short id costs about 2^64 key generations).
//!
//! # Client addresses
//!
//! [`ClientPrefix::around`] binds a ticket to the client's /24 (IPv4) or /48 (IPv6): wide enough for a client
//! whose address changes within its network between the redirect and the fetch, narrow enough that a
//! leaked ticket is useless elsewhere. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack
//! socket reports an IPv4 peer) is treated as the IPv4 address it maps, on both sides, so a router and a
//! terminal listening differently agree. An IPv6 prefix never matches an IPv4 client, nor the reverse.
//!
//! # Checks
//!
//! [`Ticket::verify`] decodes the token, checks the signature before reading any field, then refuses in
//! this order: expired, another terminal, another site, another object, a client outside the prefix. The
//! ≤ 60 s lifetime is enforced when issuing; a terminal's clock must be roughly right for expiry to hold.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::identity::{self, NodeId, NodeKey, Signature};

/// The longest a ticket may be valid, from issue to expiry.
pub const MAX_LIFETIME_SECS: u64 = 60;

const VERSION: u8 = 1;
const DOMAIN: &str = "meson/v1/ticket";
/// Bytes before the prefix's address bytes.
const HEADER_LEN: usize = 51;
const SIGNATURE_LEN: usize = 64;
const MAX_LEN: usize = HEADER_LEN + 16 + SIGNATURE_LEN;
/// Longer tokens are refused before decoding.
const MAX_TOKEN_CHARS: usize = (MAX_LEN * 4).div_ceil(3);

/// Why a ticket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("malformed ticket: {0}")]
    Malformed(&'static str),
    #[error("ticket refused: its signature is not the router's (forged or altered)")]
    BadSignature,
    #[error("ticket expired at {expires} (now {now}); ask the router again")]
    Expired { expires: u64, now: u64 },
    #[error("ticket was issued for terminal {ticket:016x}, this is terminal {this:016x}")]
    WrongTerminal { ticket: u64, this: u64 },
    #[error("ticket was issued for site {ticket}, the request is for site {requested}")]
    WrongSite { ticket: u64, requested: u64 },
    #[error("ticket was issued for another object than the one requested")]
    WrongObject,
    #[error("ticket was issued for clients in {prefix}, the request came from {client}")]
    WrongClient {
        prefix: ClientPrefix,
        client: IpAddr,
    },
}

/// Why a ticket could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error(
        "a ticket must expire 1 to {MAX_LIFETIME_SECS} s after it is issued; expires {expires} at now {now}"
    )]
    Lifetime { expires: u64, now: u64 },
    #[error("a client prefix of {len} bits is longer than the {max}-bit address")]
    PrefixLength { len: u8, max: u8 },
}

/// The network a client's address must be in for a ticket to be honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientPrefix {
    /// IPv4, or IPv6 that is not IPv4-mapped; bits past `len` are zero.
    addr: IpAddr,
    len: u8,
}

impl ClientPrefix {
    /// The prefix length [`Self::around`] uses for IPv4 clients.
    pub const V4_LEN: u8 = 24;
    /// The prefix length [`Self::around`] uses for IPv6 clients.
    pub const V6_LEN: u8 = 48;

    /// The `len`-bit network containing `addr`. An IPv4-mapped address with `len >= 96` becomes the
    /// equivalent IPv4 prefix.
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, IssueError> {
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if len > max {
            return Err(IssueError::PrefixLength { len, max });
        }
        let (addr, len) = match addr {
            IpAddr::V6(v6) if len >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), len - 96),
                None => (addr, len),
            },
            _ => (addr, len),
        };
        Ok(ClientPrefix {
            addr: mask(addr, len),
            len,
        })
    }

    /// The /24 or /48 around a client's address (see the module documentation).
    pub fn around(client: IpAddr) -> Self {
        let client = client.to_canonical();
        let len = match client {
            IpAddr::V4(_) => Self::V4_LEN,
            IpAddr::V6(_) => Self::V6_LEN,
        };
        ClientPrefix {
            addr: mask(client, len),
            len,
        }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether `client` (IPv4-mapped IPv6 counting as IPv4) is in this network.
    pub fn contains(&self, client: IpAddr) -> bool {
        let client = client.to_canonical();
        client.is_ipv4() == self.addr.is_ipv4() && mask(client, self.len) == self.addr
    }
}

impl fmt::Display for ClientPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why text is not a client prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a client prefix (ADDRESS/LENGTH with no bits set past the length)")]
pub struct BadPrefix(pub String);

/// Reads what [`ClientPrefix`]'s `Display` writes (`192.0.2.0/24`, `2001:db8::/48`): how a prefix is stored
/// beside usage and read back. A prefix with bits set past its length is refused, not masked.
impl std::str::FromStr for ClientPrefix {
    type Err = BadPrefix;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPrefix(s.to_owned());
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        let prefix = ClientPrefix::new(addr, len).map_err(|_| bad())?;
        match prefix.addr == addr && prefix.len == len {
            true => Ok(prefix),
            false => Err(bad()),
        }
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & keep))
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & keep))
        }
    }
}

/// The ticket's [`Ticket::object`] for a cache key: the first 16 bytes of its BLAKE3 hash. (The first 8,
/// little-endian, are the terminal's [`crate::eviction::object_key`].)
pub fn object_digest(cache_key: &[u8]) -> [u8; 16] {
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&blake3::hash(cache_key).as_bytes()[..16]);
    digest
}

/// What a ticket grants. See the module documentation for its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The [`NodeId::short_id`] of the terminal that may serve it.
    pub terminal: u64,
    pub site: u64,
    /// [`object_digest`] of the object's cache key.
    pub object: [u8; 16],
    pub client_prefix: ClientPrefix,
    /// Unix seconds; the ticket is valid while `now < expires`.
    pub expires: u64,
    /// Unique among the router's tickets: what usage is accounted against.
    pub serial: u64,
}

/// What the terminal knows about the request a ticket came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// This terminal's [`NodeId::short_id`].
    pub terminal: u64,
    pub site: u64,
    pub object: [u8; 16],
    /// The client's address as the terminal sees it.
    pub client_ip: IpAddr,
}

impl Ticket {
    /// Signs the ticket as `router` and encodes it for a URL. `expires` must be 1 to
    /// [`MAX_LIFETIME_SECS`] seconds after `now`.
    pub fn issue(&self, router: &NodeKey, now: u64) -> Result<String, IssueError> {
        if self.expires <= now || self.expires - now > MAX_LIFETIME_SECS {
            return Err(IssueError::Lifetime {
                expires: self.expires,
                now,
            });
        }
        let mut bytes = [0u8; MAX_LEN];
        let body_len = self.encode_body(&mut bytes);
        let signature = router.sign(DOMAIN, &bytes[..body_len]);
        bytes[body_len..body_len + SIGNATURE_LEN].copy_from_slice(&signature.to_bytes());
        Ok(identity::encode(&bytes[..body_len + SIGNATURE_LEN]))
    }

    /// Checks a ticket token against the router's key, the terminal's clock `now` (Unix seconds) and the
    /// request, and returns what it grants.
    pub fn verify(
        token: &str,
        router: &NodeId,
        now: u64,
        expect: &Expect,
    ) -> Result<Ticket, TicketError> {
        let ticket = Ticket::verify_issuer(token, router, expect.terminal)?;
        ticket.check(now, expect)?;
        Ok(ticket)
    }

    /// The checks of [`Ticket::verify`] that follow the signature's: for a terminal that has already
    /// checked the issuer with [`Ticket::verify_issuer`] and needed the ticket's site to know what to expect.
    pub fn check(&self, now: u64, expect: &Expect) -> Result<(), TicketError> {
        if self.terminal != expect.terminal {
            return Err(TicketError::WrongTerminal {
                ticket: self.terminal,
                this: expect.terminal,
            });
        }
        if now >= self.expires {
            return Err(TicketError::Expired {
                expires: self.expires,
                now,
            });
        }
        if self.site != expect.site {
            return Err(TicketError::WrongSite {
                ticket: self.site,
                requested: expect.site,
            });
        }
        if self.object != expect.object {
            return Err(TicketError::WrongObject);
        }
        if !self.client_prefix.contains(expect.client_ip) {
            return Err(TicketError::WrongClient {
                prefix: self.client_prefix,
                client: expect.client_ip,
            });
        }
        Ok(())
    }

    /// Checks only that `router` issued the ticket to `terminal` (by its short id). This is the router's
    /// check of a usage record, which arrives after the ticket expired and far from the client: the
    /// signature proves the serial was issued, and to whom.
    pub fn verify_issuer(
        token: &str,
        router: &NodeId,
        terminal: u64,
    ) -> Result<Ticket, TicketError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(TicketError::Malformed("it is too long"));
        }
        // Room for the decoder's estimate of a maximal token, which may exceed the decoded length.
        let mut buf = [0u8; MAX_LEN + 3];
        let len = URL_SAFE_NO_PAD
            .decode_slice(token, &mut buf)
            .map_err(|_| TicketError::Malformed("it is not URL-safe base64 without padding"))?;
        let raw = &buf[..len];
        if raw.len() < HEADER_LEN + SIGNATURE_LEN {
            return Err(TicketError::Malformed("it is too short"));
        }
        if raw[0] != VERSION {
            return Err(TicketError::Malformed("unknown ticket version"));
        }
        let (body, signature) = raw.split_at(raw.len() - SIGNATURE_LEN);
        let mut sig = [0u8; SIGNATURE_LEN];
        sig.copy_from_slice(signature);
        router
            .verify(DOMAIN, body, &Signature::from_bytes(sig))
            .map_err(|_| TicketError::BadSignature)?;
        let ticket = Ticket::decode_body(body)?;
        if ticket.terminal != terminal {
            return Err(TicketError::WrongTerminal {
                ticket: ticket.terminal,
                this: terminal,
            });
        }
        Ok(ticket)
    }

    /// Writes bytes `0 .. 51 + n` of the layout and returns their length.
    fn encode_body(&self, out: &mut [u8; MAX_LEN]) -> usize {
        out[0] = VERSION;
        out[1..9].copy_from_slice(&self.expires.to_le_bytes());
        out[9..17].copy_from_slice(&self.serial.to_le_bytes());
        out[17..25].copy_from_slice(&self.terminal.to_le_bytes());
        out[25..33].copy_from_slice(&self.site.to_le_bytes());
        out[33..49].copy_from_slice(&self.object);
        let prefix = self.client_prefix;
        let n = usize::from(prefix.len).div_ceil(8);
        match prefix.addr {
            IpAddr::V4(v4) => {
                out[49] = 4;
                out[HEADER_LEN..HEADER_LEN + n].copy_from_slice(&v4.octets()[..n]);
            }
            IpAddr::V6(v6) => {
                out[49] = 6;
                out[HEADER_LEN..HEADER_LEN + n].copy_from_slice(&v6.octets()[..n]);
            }
        }
        out[50] = prefix.len;
        HEADER_LEN + n
    }

    /// Reads what [`Self::encode_body`] wrote, accepting nothing it could not have written.
    fn decode_body(body: &[u8]) -> Result<Ticket, TicketError> {
        let u64_at = |at: usize| {
            let mut le = [0u8; 8];
            le.copy_from_slice(&body[at..at + 8]);
            u64::from_le_bytes(le)
        };
        let len = body[50];
        let n = usize::from(len).div_ceil(8);
        if body.len() != HEADER_LEN + n {
            return Err(TicketError::Malformed(
                "its length does not match its client prefix",
            ));
        }
        let prefix_bytes = &body[HEADER_LEN..];
        let addr = match body[49] {
            4 if len <= 32 => {
                let mut octets = [0u8; 4];
                octets[..n].copy_from_slice(prefix_bytes);
                IpAddr::V4(Ipv4Addr::from(octets))
            }
            6 if len <= 128 => {
                let mut octets = [0u8; 16];
                octets[..n].copy_from_slice(prefix_bytes);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
            _ => return Err(TicketError::Malformed("its client prefix is invalid")),
        };
        let client_prefix = ClientPrefix::new(addr, len)
            .map_err(|_| TicketError::Malformed("its client prefix is invalid"))?;
        if client_prefix != (ClientPrefix { addr, len }) {
            return Err(TicketError::Malformed(
                "its client prefix is not in canonical form",
            ));
        }
        let mut object = [0u8; 16];
        object.copy_from_slice(&body[33..49]);
        Ok(Ticket {
            terminal: u64_at(17),
            site: u64_at(25),
            object,
            client_prefix,
            expires: u64_at(1),
            serial: u64_at(9),
        })
    }
}

#[cfg(test)]
mod tests;
