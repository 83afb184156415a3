//! Range requests (RFC 9110 §14): which bytes a `Range` header asks for, whether `If-Range` lets it
//! apply, and the exact framing of single- and multi-part 206 responses.
//!
//! Choices where RFC 9110 leaves room:
//! - Only the `bytes` unit (case-insensitive) is understood; any other unit, and any syntax error
//!   (including `last-pos < first-pos`), makes us ignore the header and send the full representation
//!   (§14.2 allows ignoring), which every client handles.
//! - More than [`MAX_RANGES`] range-specs is ignored the same way: §14.2 and §17.15 name many small
//!   or overlapping ranges as a denial-of-service pattern, and no real client needs more.
//! - Overlapping ranges, and ranges separated by less than [`COALESCE_GAP`] bytes, are coalesced
//!   (§14.2 permits it). The body can then never exceed the representation plus a bounded multipart
//!   overhead, whatever the client asks. Coalesced groups keep the position of their earliest
//!   member, so otherwise the parts follow the request order, as §14.2 asks.
//! - A zero-length representation has no satisfiable int-range; a non-zero suffix-range on it is
//!   answered with the (empty) full representation, since `bytes 0--1/0` cannot be written.

use std::ops::Range;

use http::header::{HeaderMap, HeaderValue, DATE, LAST_MODIFIED};

use crate::http_cache::syntax::{date_field, http_date, trim_ows};
use crate::http_cache::{entity_tag, response_etag};

/// The most range-specs honoured in one request.
pub const MAX_RANGES: usize = 32;

/// Ranges fewer than this many bytes apart are merged into one part: a multipart part header costs
/// about as much as the gap it would skip.
pub const COALESCE_GAP: u64 = 80;

/// What to send for a request's `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No Range header, or one we ignore: send 200 with the full representation.
    Full,
    /// Send 206 with these non-empty, half-open ranges within `0..len` (one part, or multipart).
    Satisfiable(Vec<Range<u64>>),
    /// Send 416 with [`unsatisfied_content_range`].
    Unsatisfiable,
}

enum Spec {
    /// `first-pos "-" [ last-pos ]`
    From(u64, Option<u64>),
    /// `"-" suffix-length`
    Suffix(u64),
}

/// Reads a `Range` header against a representation of `len` bytes. Numbers too large for `u64`
/// saturate, which keeps their meaning: a huge first-pos is unsatisfiable, a huge last-pos or
/// suffix-length means "to the end".
pub fn parse_range(header: Option<&HeaderValue>, len: u64) -> RangeRequest {
    let Some(specs) = header.and_then(|h| parse_specs(h.as_bytes())) else {
        return RangeRequest::Full;
    };
    let mut ranges = Vec::new();
    let mut suffix_of_empty = false;
    for spec in specs {
        match spec {
            Spec::From(first, last) if first < len => {
                let end = last.map_or(len, |l| l.saturating_add(1).min(len));
                ranges.push(first..end);
            }
            Spec::From(..) => {}
            Spec::Suffix(0) => {}
            Spec::Suffix(_) if len == 0 => suffix_of_empty = true,
            Spec::Suffix(n) => ranges.push(len - n.min(len)..len),
        }
    }
    if ranges.is_empty() {
        return if suffix_of_empty {
            RangeRequest::Full
        } else {
            RangeRequest::Unsatisfiable
        };
    }
    RangeRequest::Satisfiable(coalesce(ranges))
}

/// `None` for anything we ignore: no `bytes=` unit, bad syntax, or too many specs.
fn parse_specs(value: &[u8]) -> Option<Vec<Spec>> {
    let value = trim_ows(value);
    let eq = value.iter().position(|&b| b == b'=')?;
    if !value[..eq].eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for element in value[eq + 1..].split(|&b| b == b',') {
        let element = trim_ows(element);
        if element.is_empty() {
            continue;
        }
        if specs.len() == MAX_RANGES {
            return None;
        }
        let dash = element.iter().position(|&b| b == b'-')?;
        let last = match &element[dash + 1..] {
            b"" => None,
            digits => Some(number(digits)?),
        };
        specs.push(if dash == 0 {
            Spec::Suffix(last?)
        } else {
            let first = number(&element[..dash])?;
            if last.is_some_and(|l| l < first) {
                return None;
            }
            Spec::From(first, last)
        });
    }
    if specs.is_empty() {
        None
    } else {
        Some(specs)
    }
}

fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

fn coalesce(ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    let mut by_start: Vec<(usize, Range<u64>)> = ranges.into_iter().enumerate().collect();
    by_start.sort_by_key(|(i, r)| (r.start, *i));
    let mut groups: Vec<(usize, Range<u64>)> = Vec::new();
    for (i, r) in by_start {
        match groups.last_mut() {
            Some((first, g)) if r.start < g.end.saturating_add(COALESCE_GAP) => {
                g.end = g.end.max(r.end);
                *first = (*first).min(i);
            }
            _ => groups.push((i, r)),
        }
    }
    groups.sort_by_key(|(first, _)| *first);
    groups.into_iter().map(|(_, r)| r).collect()
}

/// RFC 9110 §13.1.5: an absent If-Range allows the range; an entity-tag allows it only when it and
/// the response's ETag are strong and equal; an HTTP-date only when it equals the response's
/// Last-Modified and that is a strong validator, i.e. at least one second before the response's Date
/// (§8.8.2.2). Anything else, including an unparsable value, means "send the full representation".
pub fn if_range_allows(if_range: Option<&HeaderValue>, resp_headers: &HeaderMap) -> bool {
    let Some(value) = if_range else {
        return true;
    };
    let value = trim_ows(value.as_bytes());
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return match (entity_tag(value), response_etag(resp_headers)) {
            (Some(wanted), Some(current)) => wanted.strong_eq(&current),
            _ => false,
        };
    }
    match (
        http_date(value),
        date_field(resp_headers, &LAST_MODIFIED),
        date_field(resp_headers, &DATE),
    ) {
        (Some(wanted), Some(last_modified), Some(date)) => {
            wanted == last_modified && last_modified < date
        }
        _ => false,
    }
}

fn content_range_string(r: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", r.start, r.end.saturating_sub(1))
}

/// `Content-Range: bytes first-last/len` for a non-empty range within `0..len`.
pub fn content_range(r: &Range<u64>, len: u64) -> HeaderValue {
    HeaderValue::try_from(content_range_string(r, len))
        .expect("digits, spaces, '-' and '/' are valid header value bytes")
}

/// `Content-Range: bytes */len`, for a 416.
pub fn unsatisfied_content_range(len: u64) -> HeaderValue {
    HeaderValue::try_from(format!("bytes */{len}"))
        .expect("digits, spaces, '*' and '/' are valid header value bytes")
}

/// Reads an origin's `Content-Range: bytes first-last/(len|*)` into a half-open range and the
/// complete length if known. `None` for other units, `bytes */len`, `last < first`, a range
/// beyond a known length, or numbers that do not fit.
pub fn parse_content_range(v: &HeaderValue) -> Option<(Range<u64>, Option<u64>)> {
    let v = trim_ows(v.as_bytes());
    if v.len() < 6 || !v[..5].eq_ignore_ascii_case(b"bytes") || v[5] != b' ' {
        return None;
    }
    let rest = trim_ows(&v[6..]);
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (range, complete) = (&rest[..slash], &rest[slash + 1..]);
    let dash = range.iter().position(|&b| b == b'-')?;
    let first = strict_number(&range[..dash])?;
    let last = strict_number(&range[dash + 1..])?;
    let end = last.checked_add(1)?;
    let len = match complete {
        b"*" => None,
        digits => Some(strict_number(digits)?),
    };
    if last < first || len.is_some_and(|l| end > l) {
        return None;
    }
    Some((first..end, len))
}

/// A number that must fit: an origin's Content-Range is data we store, not a wish to clamp.
fn strict_number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The bytes that precede one part of a `multipart/byteranges` body (`boundary` is the terminal's own,
/// a valid RFC 2046 boundary; it is not checked here): delimiter, Content-Type (when it
/// is visible ASCII, which a `String` can carry), Content-Range, blank line. Every part, the first
/// included, starts with CRLF; before the first delimiter that CRLF is an empty preamble
/// (RFC 2046 §5.1.1), and it keeps every part header the same shape.
pub fn multipart_boundary_part_header(
    boundary: &str,
    content_type: Option<&HeaderValue>,
    r: &Range<u64>,
    len: u64,
) -> String {
    let mut header = format!("\r\n--{boundary}\r\n");
    if let Some(ct) = content_type.and_then(|ct| ct.to_str().ok()) {
        header.push_str("Content-Type: ");
        header.push_str(ct);
        header.push_str("\r\n");
    }
    header.push_str("Content-Range: ");
    header.push_str(&content_range_string(r, len));
    header.push_str("\r\n\r\n");
    header
}

/// The close delimiter that ends a `multipart/byteranges` body.
pub fn multipart_trailer(boundary: &str) -> String {
    format!("\r\n--{boundary}--\r\n")
}

/// The exact Content-Length of the multipart body made of [`multipart_boundary_part_header`] and the
/// bytes of each range, then [`multipart_trailer`].
pub fn multipart_len(
    boundary: &str,
    content_type: Option<&HeaderValue>,
    ranges: &[Range<u64>],
    len: u64,
) -> u64 {
    let parts = ranges.iter().fold(0u64, |total, r| {
        let header = multipart_boundary_part_header(boundary, content_type, r, len).len() as u64;
        total
            .saturating_add(header)
            .saturating_add(r.end.saturating_sub(r.start))
    });
    parts.saturating_add(multipart_trailer(boundary).len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn range(s: &str, len: u64) -> RangeRequest {
        parse_range(Some(&HeaderValue::from_str(s).unwrap()), len)
    }

    /// `(start, end)` pairs, half-open, because clippy reads `[a..b]` as a likely typo.
    fn sat(ranges: &[(u64, u64)]) -> RangeRequest {
        RangeRequest::Satisfiable(ranges.iter().map(|&(s, e)| s..e).collect())
    }

    #[test]
    fn parse_range_table() {
        use RangeRequest::{Full, Unsatisfiable};
        let table: &[(&str, u64, RangeRequest)] = &[
            ("bytes=0-499", 10_000, sat(&[(0, 500)])),
            ("bytes=500-999", 10_000, sat(&[(500, 1000)])),
            ("bytes=9500-", 10_000, sat(&[(9500, 10_000)])),
            ("bytes=-500", 10_000, sat(&[(9500, 10_000)])),
            ("bytes=0-0", 10_000, sat(&[(0, 1)])),
            ("bytes=-1", 10_000, sat(&[(9999, 10_000)])),
            ("bytes=0-", 10_000, sat(&[(0, 10_000)])),
            ("Bytes=0-9", 100, sat(&[(0, 10)])),
            (" bytes=0-9 ", 100, sat(&[(0, 10)])),
            ("bytes= 0-9 ,\t200-299", 1000, sat(&[(0, 10), (200, 300)])),
            // end clamps to the length; suffix longer than the representation is all of it
            ("bytes=0-99999", 100, sat(&[(0, 100)])),
            ("bytes=-99999", 100, sat(&[(0, 100)])),
            ("bytes=0-99999999999999999999999", 100, sat(&[(0, 100)])),
            ("bytes=-99999999999999999999999", 100, sat(&[(0, 100)])),
            // multiple ranges
            ("bytes=0-0,-1", 10_000, sat(&[(0, 1), (9999, 10_000)])),
            ("bytes=0-0,-1", 2, sat(&[(0, 2)])),
            ("bytes=500-600,601-999", 10_000, sat(&[(500, 1000)])),
            ("bytes=500-700,601-999", 10_000, sat(&[(500, 1000)])),
            ("bytes=0-9,50-59", 10_000, sat(&[(0, 60)])),
            ("bytes=0-9,90-99", 10_000, sat(&[(0, 10), (90, 100)])),
            (
                "bytes=5000-5099,0-99,50-150",
                10_000,
                sat(&[(5000, 5100), (0, 151)]),
            ),
            ("bytes=0-10,0-10,0-10", 10_000, sat(&[(0, 11)])),
            (
                "bytes=9000-9099,,1000-1099",
                10_000,
                sat(&[(9000, 9100), (1000, 1100)]),
            ),
            // unsatisfiable ones are dropped; all unsatisfiable is 416
            ("bytes=0-9,20000-", 10_000, sat(&[(0, 10)])),
            ("bytes=10000-", 10_000, Unsatisfiable),
            ("bytes=10000-20000,-0", 10_000, Unsatisfiable),
            ("bytes=-0", 10_000, Unsatisfiable),
            ("bytes=99999999999999999999999-", 10_000, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-5", 0, Full),
            // ignored: other units, bad syntax
            ("items=0-9", 100, Full),
            ("bytes 0-9", 100, Full),
            ("bytes=", 100, Full),
            ("bytes=,", 100, Full),
            ("bytes=9-0", 100, Full),
            ("bytes=0-9,9-0", 100, Full),
            ("bytes=-", 100, Full),
            ("bytes=a-b", 100, Full),
            ("bytes=0 - 9", 100, Full),
            ("bytes=+0-9", 100, Full),
            ("bytes=0-9-", 100, Full),
            ("bytes=--9", 100, Full),
            ("bytes=0x10-20", 100, Full),
            ("=0-9", 100, Full),
        ];
        for (header, len, want) in table {
            assert_eq!(range(header, *len), *want, "{header:?} of {len}");
        }
        assert_eq!(parse_range(None, 100), Full);
    }

    #[test]
    fn too_many_ranges_are_ignored() {
        let spec = |n: usize| {
            let specs: Vec<String> = (0..n)
                .map(|i| format!("{}-{}", i * 1000, i * 1000))
                .collect();
            format!("bytes={}", specs.join(","))
        };
        match range(&spec(MAX_RANGES), 1_000_000) {
            RangeRequest::Satisfiable(r) => assert_eq!(r.len(), MAX_RANGES),
            other => panic!("{other:?}"),
        }
        assert_eq!(range(&spec(MAX_RANGES + 1), 1_000_000), RangeRequest::Full);
        let overlapping = format!("bytes={}", vec!["0-"; 1000].join(","));
        assert_eq!(range(&overlapping, 10), RangeRequest::Full);
    }

    proptest! {
        #[test]
        fn parse_range_never_panics_and_stays_in_bounds(s in "[ -~\t]{0,64}", len in prop_oneof![0u64..200, Just(u64::MAX)]) {
            let v = HeaderValue::from_str(&s).unwrap();
            check_bounds(parse_range(Some(&v), len), len)?;
        }

        #[test]
        fn parse_range_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64), len in any::<u64>()) {
            if let Ok(v) = HeaderValue::from_bytes(&bytes) {
                check_bounds(parse_range(Some(&v), len), len)?;
            }
        }

        #[test]
        fn parse_range_on_range_like_input(
            s in "(bytes|BYTES|items)=([0-9]{0,3}-?[0-9]{0,3}|-[0-9]{1,25}|[0-9]{1,25}-)(, ?[0-9]{0,3}-[0-9]{0,3}){0,40}",
            len in 0u64..2000,
        ) {
            let v = HeaderValue::from_str(&s).unwrap();
            check_bounds(parse_range(Some(&v), len), len)?;
        }
    }

    fn check_bounds(r: RangeRequest, len: u64) -> Result<(), TestCaseError> {
        if let RangeRequest::Satisfiable(ranges) = r {
            prop_assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES);
            for r in &ranges {
                prop_assert!(r.start < r.end && r.end <= len, "{:?} of {}", r, len);
            }
            let mut sorted = ranges.clone();
            sorted.sort_by_key(|r| r.start);
            for pair in sorted.windows(2) {
                prop_assert!(pair[1].start >= pair[0].end.saturating_add(COALESCE_GAP));
            }
        }
        Ok(())
    }

    #[test]
    fn if_range_table() {
        let resp = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(
                    http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            h
        };
        const LM: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
        const LM_RFC850: &str = "Tuesday, 14-Nov-23 22:13:20 GMT";
        const LATER: &str = "Tue, 14 Nov 2023 22:13:21 GMT";
        let strong = resp(&[("etag", "\"v1\""), ("last-modified", LM), ("date", LATER)]);
        let weak = resp(&[("etag", "W/\"v1\""), ("last-modified", LM), ("date", LM)]);
        let no_date = resp(&[("last-modified", LM)]);
        let table: &[(Option<&str>, &HeaderMap, bool)] = &[
            (None, &weak, true),
            (Some("\"v1\""), &strong, true),
            (Some("\"v2\""), &strong, false),
            (Some("W/\"v1\""), &strong, false),
            (Some("\"v1\""), &weak, false),
            (Some("\"v1"), &strong, false),
            (Some(LM), &strong, true),
            (Some(LM_RFC850), &strong, true),
            (Some(LATER), &strong, false),
            (Some(LM), &weak, false),
            (Some(LM), &no_date, false),
            (Some("garbage"), &strong, false),
        ];
        for (if_range, resp, want) in table {
            let v = if_range.map(|s| HeaderValue::from_str(s).unwrap());
            assert_eq!(
                if_range_allows(v.as_ref(), resp),
                *want,
                "{if_range:?} {resp:?}"
            );
        }
    }

    #[test]
    fn content_range_values() {
        assert_eq!(content_range(&(0..500), 10_000), "bytes 0-499/10000");
        assert_eq!(
            content_range(&(9999..10_000), 10_000),
            "bytes 9999-9999/10000"
        );
        assert_eq!(unsatisfied_content_range(10_000), "bytes */10000");
        assert_eq!(
            content_range(&(0..u64::MAX), u64::MAX),
            format!("bytes 0-{}/{}", u64::MAX - 1, u64::MAX).as_str()
        );
    }

    #[test]
    fn parse_content_range_table() {
        type Parsed = Option<(Range<u64>, Option<u64>)>;
        let table: &[(&str, Parsed)] = &[
            ("bytes 0-499/1234", Some((0..500, Some(1234)))),
            ("bytes 0-1233/1234", Some((0..1234, Some(1234)))),
            ("BYTES 5-5/*", Some((5..6, None))),
            ("bytes  0-0/1", Some((0..1, Some(1)))),
            ("bytes 0-1234/1234", None),
            ("bytes 5-4/10", None),
            ("bytes */1234", None),
            ("bytes=0-1/2", None),
            ("items 0-1/2", None),
            ("bytes 0-18446744073709551615/*", None),
            ("bytes 0-99999999999999999999/*", None),
            ("bytes 0-1/", None),
            ("bytes -1/2", None),
            ("bytes", None),
            ("", None),
        ];
        for (value, want) in table {
            assert_eq!(
                parse_content_range(&HeaderValue::from_str(value).unwrap()),
                *want,
                "{value:?}"
            );
        }
        let round_trip = content_range(&(10..20), 100);
        assert_eq!(parse_content_range(&round_trip), Some((10..20, Some(100))));
    }

    #[test]
    fn multipart_length_matches_assembled_body() {
        let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let len = body.len() as u64;
        let boundary = "MESON0123456789";
        let ct = HeaderValue::from_static("video/mp4");
        let ranges = [0..1, 9999..10_000, 500..1500];
        for content_type in [Some(&ct), None] {
            let mut assembled = Vec::new();
            for r in &ranges {
                assembled.extend_from_slice(
                    multipart_boundary_part_header(boundary, content_type, r, len).as_bytes(),
                );
                assembled.extend_from_slice(&body[r.start as usize..r.end as usize]);
            }
            assembled.extend_from_slice(multipart_trailer(boundary).as_bytes());
            assert_eq!(
                multipart_len(boundary, content_type, &ranges, len),
                assembled.len() as u64
            );
        }
        assert_eq!(
            multipart_boundary_part_header(boundary, Some(&ct), &(0..1), len),
            "\r\n--MESON0123456789\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-0/10000\r\n\r\n"
        );
        assert_eq!(multipart_trailer(boundary), "\r\n--MESON0123456789--\r\n");
        let obs_text = HeaderValue::from_bytes(b"text/\xff").unwrap();
        assert!(
            !multipart_boundary_part_header(boundary, Some(&obs_text), &(0..1), len)
                .contains("Content-Type")
        );
    }
}
