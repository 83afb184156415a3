//! The small pieces of RFC 9110 field syntax every rule here needs: lists, quoted strings,
//! delta-seconds and dates.
//!
//! Everything works on raw bytes, because a `HeaderValue` may carry obs-text that `to_str` rejects,
//! and a rule must still reach a (conservative) decision for such a field rather than panic or skip it.

use http::header::{HeaderMap, HeaderName};

/// RFC 9111 §1.2.2: a delta-seconds too large to represent is read as 2^31. Capping every value there
/// also keeps all later sums of times and ages far from `u64` overflow.
pub(crate) const DELTA_SECONDS_CAP: u64 = 1 << 31;

pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// Splits a `#list` at the commas that are not inside a quoted string, trimming OWS and dropping
/// empty elements (RFC 9110 §5.6.1 asks recipients to accept `a,,b`).
///
/// An unterminated quoted string runs to the end of the input: it is one malformed element, not a
/// reason to reinterpret the commas inside it.
pub(crate) fn split_list(s: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quote = false;
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
        } else if b == b'"' {
            in_quote = true;
        } else if b == b',' {
            push_trimmed(&mut out, &s[start..i]);
            start = i + 1;
        }
    }
    push_trimmed(&mut out, &s[start..]);
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a [u8]>, element: &'a [u8]) {
    let element = trim_ows(element);
    if !element.is_empty() {
        out.push(element);
    }
}

/// Reads the quoted-string at the start of `s`, returning its unescaped content and how many bytes
/// it spanned; `None` when `s` does not start with a complete quoted-string.
pub(crate) fn quoted_string(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut content = Vec::new();
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some((content, i + 1)),
            b'\\' => {
                content.push(*s.get(i + 1)?);
                i += 2;
            }
            b => {
                content.push(b);
                i += 1;
            }
        }
    }
    None
}

/// `delta-seconds = 1*DIGIT`, saturating at [`DELTA_SECONDS_CAP`]. Signs, spaces and fractions are
/// invalid: RFC 9111 §4.2.1 wants invalid freshness information to count against the response.
pub(crate) fn delta_seconds(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = s.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(value.min(DELTA_SECONDS_CAP))
}

/// An HTTP-date (any of the three formats RFC 9110 §5.6.7 requires recipients to accept) as unix
/// seconds. Dates before 1970 are reported as invalid, which every caller treats as "in the past"
/// or "absent", the conservative reading in both places.
pub(crate) fn http_date(s: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(trim_ows(s)).ok()?;
    let t = httpdate::parse_http_date(s).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}

/// The value of a singleton field. Repeated lines are tolerated only when they agree, because
/// picking one of two conflicting values would be a guess (RFC 9111 §4.2.1 allows treating such a
/// response as stale instead).
pub(crate) fn singleton<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a [u8]> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?.as_bytes();
    if values.all(|v| trim_ows(v.as_bytes()) == trim_ows(first)) {
        Some(first)
    } else {
        None
    }
}

/// A singleton date field, `None` when absent, repeated with different values, or invalid.
pub(crate) fn date_field(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    singleton(headers, name).and_then(http_date)
}

/// Field names listed in a `#field-name` value (Connection, Vary, qualified cache directives).
/// Returns `None` when any member is not a valid field name, so callers can decide what an
/// unreadable list means for them instead of silently acting on part of it.
pub(crate) fn field_names(s: &[u8]) -> Option<Vec<HeaderName>> {
    split_list(s)
        .into_iter()
        .map(|name| {
            if name.iter().all(|&b| is_tchar(b)) {
                HeaderName::from_bytes(name).ok()
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_list_respects_quotes_and_drops_empty_elements() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"a, b ,c", &[b"a", b"b", b"c"]),
            (b" , a,,\t,b, ", &[b"a", b"b"]),
            (
                b"no-cache=\"a, b\", max-age=5",
                &[b"no-cache=\"a, b\"", b"max-age=5"],
            ),
            (b"x=\"a\\\", b\", y", &[b"x=\"a\\\", b\"", b"y"]),
            (b"x=\"open, still open", &[b"x=\"open, still open"]),
            (b"", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(
                &split_list(input),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn quoted_string_unescapes_and_rejects_unterminated() {
        assert_eq!(
            quoted_string(b"\"ab\\\"c\" rest"),
            Some((b"ab\"c".to_vec(), 7))
        );
        assert_eq!(quoted_string(b"\"\""), Some((Vec::new(), 2)));
        assert_eq!(quoted_string(b"\"abc"), None);
        assert_eq!(quoted_string(b"\"abc\\"), None);
        assert_eq!(quoted_string(b"abc"), None);
    }

    #[test]
    fn delta_seconds_table() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"0", Some(0)),
            (b"60", Some(60)),
            (b"007", Some(7)),
            (b"2147483648", Some(DELTA_SECONDS_CAP)),
            (b"99999999999999999999999999", Some(DELTA_SECONDS_CAP)),
            (b"", None),
            (b"-1", None),
            (b"+1", None),
            (b"1.5", None),
            (b" 1", None),
            (b"abc", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                delta_seconds(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn http_date_accepts_all_three_formats() {
        let want = Some(784_111_777);
        assert_eq!(http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(http_date(b"Sun Nov  6 08:49:37 1994"), want);
        assert_eq!(http_date(b"0"), None);
        assert_eq!(http_date(b"\xff"), None);
    }

    #[test]
    fn singleton_rejects_conflicting_repeats() {
        let mut h = HeaderMap::new();
        h.append("etag", "\"a\"".parse().unwrap());
        assert_eq!(singleton(&h, &http::header::ETAG), Some(&b"\"a\""[..]));
        h.append("etag", "\"a\"".parse().unwrap());
        assert_eq!(singleton(&h, &http::header::ETAG), Some(&b"\"a\""[..]));
        h.append("etag", "\"b\"".parse().unwrap());
        assert_eq!(singleton(&h, &http::header::ETAG), None);
    }

    #[test]
    fn field_names_is_all_or_nothing() {
        let names = field_names(b"Set-Cookie, x-a").unwrap();
        assert_eq!(
            names,
            vec![http::header::SET_COOKIE, HeaderName::from_static("x-a")]
        );
        assert!(field_names(b"").unwrap().is_empty());
        assert_eq!(field_names(b"ok, bad name"), None);
        assert_eq!(field_names(b"\"quoted\""), None);
    }
}
