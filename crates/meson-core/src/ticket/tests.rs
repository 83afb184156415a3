use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

const NOW: u64 = 1_700_000_000;

fn router() -> NodeKey {
    NodeKey::from_secret_bytes([42; 32])
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn ticket(client: &str) -> Ticket {
    Ticket {
        terminal: 0x0123_4567_89ab_cdef,
        site: 77,
        object: object_digest(b"cdn.example.com/a.mp4"),
        client_prefix: ClientPrefix::around(ip(client)),
        expires: NOW + 30,
        serial: 1_000_001,
    }
}

fn expect(ticket: &Ticket, client: &str) -> Expect {
    Expect {
        terminal: ticket.terminal,
        site: ticket.site,
        object: ticket.object,
        client_ip: ip(client),
    }
}

fn issue(ticket: &Ticket) -> String {
    ticket.issue(&router(), NOW).unwrap()
}

#[test]
fn round_trip_v4_and_v6() {
    for client in ["203.0.113.7", "2001:db8:1234:5678::9"] {
        let t = ticket(client);
        let token = issue(&t);
        assert_eq!(
            Ticket::verify(&token, &router().id(), NOW, &expect(&t, client)),
            Ok(t)
        );
    }
}

#[test]
fn known_answer() {
    // A change here means tickets from routers and terminals of different versions no longer agree.
    assert_eq!(issue(&ticket("203.0.113.7")), "AR7xU2UAAAAAQUIPAAAAAADvzauJZ0UjAU0AAAAAAAAAYDwHkSzdRi-4IEv-XbPD7AQYywBx123B8Fm45AvedWjkGqlQjCfXxUJkkfpftq5UPX3uGdYvougEmUc_QntfTUZM2dG_Fu-a6Owf9PsL2xVYCQN7Bg");
}

#[test]
fn tokens_are_url_safe_and_short() {
    for (client, len, expected_chars) in [
        ("203.0.113.7", 24, 158),
        ("2001:db8::1", 48, 162),
        ("2001:db8::1", 128, 175),
        ("203.0.113.7", 0, 154),
    ] {
        let mut t = ticket(client);
        t.client_prefix = ClientPrefix::new(ip(client), len).unwrap();
        let token = issue(&t);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
        assert_eq!(token.len(), expected_chars, "{client}/{len}");
        assert!(token.len() <= MAX_TOKEN_CHARS && token.len() <= 180);
        assert_eq!(
            Ticket::verify(&token, &router().id(), NOW, &expect(&t, client)),
            Ok(t)
        );
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    let t = ticket("203.0.113.7");
    let token = issue(&t);
    let expect = expect(&t, "203.0.113.7");
    let router = router().id();
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    for i in 0..raw.len() {
        for bit in 0..8 {
            let mut flipped = raw.clone();
            flipped[i] ^= 1 << bit;
            let flipped = identity::encode(&flipped);
            assert!(
                Ticket::verify(&flipped, &router, NOW, &expect).is_err(),
                "flipping bit {bit} of byte {i} was accepted"
            );
        }
    }
    // Flips of the text itself, including ones that leave the alphabet or set trailing bits.
    for i in 0..token.len() {
        for bit in 0..8 {
            let mut flipped = token.clone().into_bytes();
            flipped[i] ^= 1 << bit;
            if let Ok(flipped) = String::from_utf8(flipped) {
                assert!(
                    Ticket::verify(&flipped, &router, NOW, &expect).is_err(),
                    "flipping bit {bit} of character {i} was accepted: {flipped}"
                );
            }
        }
    }
    assert_eq!(Ticket::verify(&token, &router, NOW, &expect), Ok(t));
}

#[test]
fn another_routers_signature_is_refused() {
    let t = ticket("203.0.113.7");
    let impostor = NodeKey::from_secret_bytes([43; 32]);
    let token = t.issue(&impostor, NOW).unwrap();
    assert_eq!(
        Ticket::verify(&token, &router().id(), NOW, &expect(&t, "203.0.113.7")),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn a_signature_from_another_domain_is_refused() {
    // The router's key signs control messages too; those bytes must never pass for a ticket.
    let t = ticket("203.0.113.7");
    let mut bytes = [0u8; MAX_LEN];
    let n = t.encode_body(&mut bytes);
    let sig = router().sign("meson/v1/signed-message", &bytes[..n]);
    bytes[n..n + 64].copy_from_slice(&sig.to_bytes());
    let token = identity::encode(&bytes[..n + 64]);
    assert_eq!(
        Ticket::verify(&token, &router().id(), NOW, &expect(&t, "203.0.113.7")),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn each_mismatch_gives_its_own_error() {
    let t = ticket("203.0.113.7");
    let token = issue(&t);
    let router = router().id();
    let good = expect(&t, "203.0.113.7");
    let check = |expect: Expect| Ticket::verify(&token, &router, NOW, &expect).unwrap_err();

    let err = check(Expect {
        terminal: 5,
        ..good
    });
    assert_eq!(
        err,
        TicketError::WrongTerminal {
            ticket: t.terminal,
            this: 5
        }
    );
    assert!(err.to_string().contains("0123456789abcdef"), "{err}");

    let err = check(Expect { site: 78, ..good });
    assert_eq!(
        err,
        TicketError::WrongSite {
            ticket: 77,
            requested: 78
        }
    );
    assert_eq!(
        check(Expect {
            object: object_digest(b"cdn.example.com/b.mp4"),
            ..good
        }),
        TicketError::WrongObject
    );
    let err = check(Expect {
        client_ip: ip("198.51.100.7"),
        ..good
    });
    assert_eq!(
        err,
        TicketError::WrongClient {
            prefix: t.client_prefix,
            client: ip("198.51.100.7")
        }
    );
    assert!(err.to_string().contains("203.0.113.0/24"), "{err}");
}

#[test]
fn valid_until_the_second_it_expires() {
    let t = ticket("203.0.113.7");
    let token = issue(&t);
    let router = router().id();
    let expect = expect(&t, "203.0.113.7");
    assert_eq!(
        Ticket::verify(&token, &router, t.expires - 1, &expect),
        Ok(t)
    );
    for now in [t.expires, t.expires + 1, u64::MAX] {
        assert_eq!(
            Ticket::verify(&token, &router, now, &expect),
            Err(TicketError::Expired {
                expires: t.expires,
                now
            })
        );
    }
}

#[test]
fn lifetime_is_at_most_a_minute() {
    let mut t = ticket("203.0.113.7");
    t.expires = NOW + MAX_LIFETIME_SECS;
    assert!(t.issue(&router(), NOW).is_ok());
    for expires in [NOW + MAX_LIFETIME_SECS + 1, NOW, NOW - 1, u64::MAX] {
        t.expires = expires;
        assert_eq!(
            t.issue(&router(), NOW),
            Err(IssueError::Lifetime { expires, now: NOW })
        );
    }
}

#[test]
fn ipv4_prefix_matching() {
    let prefix = ClientPrefix::around(ip("203.0.113.7"));
    assert_eq!(prefix.to_string(), "203.0.113.0/24");
    assert!(prefix.contains(ip("203.0.113.0")));
    assert!(prefix.contains(ip("203.0.113.255")));
    assert!(!prefix.contains(ip("203.0.114.7")));
    assert!(!prefix.contains(ip("203.0.112.255")));
    assert!(!prefix.contains(ip("2001:db8::1")));

    let any = ClientPrefix::new(ip("203.0.113.7"), 0).unwrap();
    assert_eq!(any.to_string(), "0.0.0.0/0");
    assert!(any.contains(ip("1.2.3.4")));
    assert!(!any.contains(ip("::1")));

    let host = ClientPrefix::new(ip("203.0.113.7"), 32).unwrap();
    assert!(host.contains(ip("203.0.113.7")));
    assert!(!host.contains(ip("203.0.113.6")));

    let odd = ClientPrefix::new(ip("10.255.255.255"), 9).unwrap();
    assert_eq!(odd.to_string(), "10.128.0.0/9");
    assert!(odd.contains(ip("10.200.0.1")));
    assert!(!odd.contains(ip("10.127.0.1")));
}

#[test]
fn ipv6_prefix_matching() {
    let prefix = ClientPrefix::around(ip("2001:db8:1234:5678::9"));
    assert_eq!(prefix.to_string(), "2001:db8:1234::/48");
    assert!(prefix.contains(ip("2001:db8:1234:ffff::1")));
    assert!(!prefix.contains(ip("2001:db8:1235::1")));
    assert!(!prefix.contains(ip("203.0.113.7")));

    let any = ClientPrefix::new(ip("2001:db8::1"), 0).unwrap();
    assert!(any.contains(ip("::2")));
    assert!(
        !any.contains(ip("::ffff:1.2.3.4")),
        "IPv4 clients are IPv4 even when mapped"
    );
}

#[test]
fn ipv4_mapped_addresses_count_as_ipv4() {
    // The router saw an IPv4 peer; the terminal's dual-stack socket reports the same client mapped.
    let t = ticket("203.0.113.7");
    let token = issue(&t);
    assert_eq!(
        Ticket::verify(
            &token,
            &router().id(),
            NOW,
            &expect(&t, "::ffff:203.0.113.99")
        ),
        Ok(t)
    );
    // And the other way round.
    let mapped = ClientPrefix::around(ip("::ffff:203.0.113.7"));
    assert_eq!(mapped, t.client_prefix);
    assert!(mapped.contains(ip("203.0.113.1")));
    assert_eq!(
        ClientPrefix::new(ip("::ffff:203.0.113.7"), 120).unwrap(),
        t.client_prefix
    );
}

#[test]
fn prefix_lengths_are_bounded() {
    assert_eq!(
        ClientPrefix::new(ip("1.2.3.4"), 33),
        Err(IssueError::PrefixLength { len: 33, max: 32 })
    );
    assert_eq!(
        ClientPrefix::new(ip("::1"), 129),
        Err(IssueError::PrefixLength { len: 129, max: 128 })
    );
    assert_eq!(
        ClientPrefix::new(ip("::ffff:1.2.3.4"), 129),
        Err(IssueError::PrefixLength { len: 129, max: 128 })
    );
    let p = ClientPrefix::new(ip("2001:db8::1"), 128).unwrap();
    assert_eq!((p.addr(), p.prefix_len()), (ip("2001:db8::1"), 128));
}

/// Signs arbitrary body bytes as the router, to reach the decoder behind the signature check.
fn signed_token(body: &[u8]) -> String {
    let sig = router().sign(DOMAIN, body);
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(&sig.to_bytes());
    identity::encode(&bytes)
}

#[test]
fn malformed_tokens_are_refused_with_reasons() {
    let t = ticket("203.0.113.7");
    let token = issue(&t);
    let router_id = router().id();
    let expect = expect(&t, "203.0.113.7");
    let check = |token: &str| match Ticket::verify(token, &router_id, NOW, &expect) {
        Err(TicketError::Malformed(reason)) => reason,
        other => panic!("{token}: {other:?}"),
    };
    assert_eq!(check(""), "it is too short");
    assert_eq!(check(&token[..100]), "it is too short");
    assert_eq!(check(&"A".repeat(1000)), "it is too long");
    assert_eq!(
        check(&format!("{token}=")),
        "it is not URL-safe base64 without padding"
    );
    assert_eq!(
        check(&format!("+{}", &token[1..])),
        "it is not URL-safe base64 without padding"
    );
    assert_eq!(
        check(&format!("{}!", &token[1..])),
        "it is not URL-safe base64 without padding"
    );

    // Validly signed but impossible bodies: the decoder must still say no.
    let mut body = [0u8; MAX_LEN];
    let n = t.encode_body(&mut body);
    let body = &body[..n];

    let mut version = body.to_vec();
    version[0] = 2;
    assert_eq!(check(&signed_token(&version)), "unknown ticket version");

    // A /23 whose 24th bit is set.
    let mut host_bits = body.to_vec();
    host_bits[50] = 23;
    host_bits[n - 1] |= 1;
    assert_eq!(
        check(&signed_token(&host_bits)),
        "its client prefix is not in canonical form"
    );

    let mut long = body.to_vec();
    long.push(0);
    assert_eq!(
        check(&signed_token(&long)),
        "its length does not match its client prefix"
    );

    let mut family = body.to_vec();
    family[49] = 5;
    assert_eq!(
        check(&signed_token(&family)),
        "its client prefix is invalid"
    );

    let mut v4_too_long = body.to_vec();
    v4_too_long[50] = 40;
    v4_too_long.extend_from_slice(&[0, 0]);
    assert_eq!(
        check(&signed_token(&v4_too_long)),
        "its client prefix is invalid"
    );

    // An IPv4-mapped IPv6 prefix has an IPv4 spelling, so the IPv6 one is refused.
    let mut mapped = body[..HEADER_LEN].to_vec();
    mapped[49] = 6;
    mapped[50] = 120;
    mapped.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113]);
    assert_eq!(
        check(&signed_token(&mapped)),
        "its client prefix is not in canonical form"
    );
}

#[test]
fn object_digest_extends_the_eviction_key() {
    let key = b"cdn.example.com/a.mp4";
    let digest = object_digest(key);
    assert_eq!(
        u64::from_le_bytes(digest[..8].try_into().unwrap()),
        crate::eviction::object_key(key)
    );
    assert_ne!(digest, object_digest(b"cdn.example.com/b.mp4"));
}

#[test]
fn a_terminal_checks_its_own_short_id() {
    let terminal = NodeKey::from_secret_bytes([9; 32]).id();
    let mut t = ticket("203.0.113.7");
    t.terminal = terminal.short_id();
    let token = issue(&t);
    let expect = Expect {
        terminal: terminal.short_id(),
        ..expect(&t, "203.0.113.7")
    };
    assert_eq!(Ticket::verify(&token, &router().id(), NOW, &expect), Ok(t));
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(token in ".{0,200}") {
        let t = ticket("203.0.113.7");
        let _ = Ticket::verify(&token, &router().id(), NOW, &expect(&t, "203.0.113.7"));
    }

    #[test]
    fn arbitrary_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        let t = ticket("203.0.113.7");
        let token = identity::encode(&bytes);
        prop_assert!(Ticket::verify(&token, &router().id(), NOW, &expect(&t, "203.0.113.7")).is_err());
    }

    #[test]
    fn arbitrary_signed_bodies_never_panic(
        version in prop_oneof![Just(VERSION), any::<u8>()],
        fields in proptest::collection::vec(any::<u8>(), 48),
        family in prop_oneof![Just(4u8), Just(6u8), any::<u8>()],
        len in any::<u8>(),
        prefix in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut body = vec![version];
        body.extend_from_slice(&fields);
        body.extend_from_slice(&[family, len]);
        body.extend_from_slice(&prefix);
        let t = ticket("203.0.113.7");
        let _ = Ticket::verify(&signed_token(&body), &router().id(), NOW, &expect(&t, "203.0.113.7"));
    }
}

#[test]
fn the_issuer_check_ignores_expiry_and_request_but_not_signature_or_terminal() {
    let t = ticket("203.0.113.7");
    let token = issue(&t);
    // Long after expiry, far from the client: a usage record is still provably issued to this terminal.
    assert_eq!(
        Ticket::verify_issuer(&token, &router().id(), t.terminal),
        Ok(t)
    );
    assert_eq!(
        Ticket::verify_issuer(&token, &router().id(), t.terminal + 1),
        Err(TicketError::WrongTerminal {
            ticket: t.terminal,
            this: t.terminal + 1
        })
    );
    let other = NodeKey::from_secret_bytes([43; 32]);
    assert_eq!(
        Ticket::verify_issuer(&token, &other.id(), t.terminal),
        Err(TicketError::BadSignature)
    );
    let mut forged = token.clone().into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    assert!(Ticket::verify_issuer(
        std::str::from_utf8(&forged).unwrap(),
        &router().id(),
        t.terminal
    )
    .is_err());
}

#[test]
fn prefixes_read_back_what_they_display() {
    for client in ["203.0.113.7", "2001:db8:1:2::9", "::ffff:198.51.100.1"] {
        let p = ClientPrefix::around(ip(client));
        assert_eq!(p.to_string().parse::<ClientPrefix>(), Ok(p), "{client}");
    }
    assert_eq!(
        ClientPrefix::around(ip("127.0.1.1")).to_string(),
        "127.0.1.0/24"
    );
    for bad in [
        "127.0.1.1/24",
        "127.0.1.0",
        "127.0.1.0/33",
        "x/24",
        "127.0.1.0/-1",
    ] {
        assert!(bad.parse::<ClientPrefix>().is_err(), "{bad}");
    }
}
