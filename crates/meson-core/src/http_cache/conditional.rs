//! Validators and conditional requests: answering a client's preconditions from a stored response
//! (RFC 9110 §13) and building the cache's own revalidation request (RFC 9111 §4.3.1).

use http::header::{
    HeaderMap, HeaderValue, ETAG, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE,
    LAST_MODIFIED,
};
use http::{Method, StatusCode};

use super::syntax::{date_field, http_date, is_ows, singleton, trim_ows};

/// An entity-tag (RFC 9110 §8.8.3) borrowed from a field value; `opaque` excludes the quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntityTag<'a> {
    pub(crate) weak: bool,
    pub(crate) opaque: &'a [u8],
}

impl EntityTag<'_> {
    /// RFC 9110 §8.8.3.2: both strong and character-for-character equal.
    pub(crate) fn strong_eq(&self, other: &EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    fn weak_eq(&self, other: &EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }
}

/// Reads one entity-tag at the start of `s`, returning it and the bytes it spanned.
fn entity_tag_prefix(s: &[u8]) -> Option<(EntityTag<'_>, usize)> {
    let (weak, rest) = match s.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let rest = rest.strip_prefix(b"\"")?;
    // etagc = %x21 / %x23-7E / obs-text: anything visible but DQUOTE.
    let len = rest
        .iter()
        .take_while(|&&b| b == 0x21 || (b >= 0x23 && b != 0x7f))
        .count();
    if rest.get(len) != Some(&b'"') {
        return None;
    }
    let consumed = s.len() - rest.len() + len + 1;
    Some((
        EntityTag {
            weak,
            opaque: &rest[..len],
        },
        consumed,
    ))
}

/// A whole field value that must be exactly one entity-tag (ETag, If-Range).
pub(crate) fn entity_tag(s: &[u8]) -> Option<EntityTag<'_>> {
    let s = trim_ows(s);
    match entity_tag_prefix(s) {
        Some((tag, used)) if used == s.len() => Some(tag),
        _ => None,
    }
}

/// The stored response's ETag, if it has exactly one valid one. Origins that send unquoted tags get
/// no validator rather than a guessed one.
pub(crate) fn response_etag(headers: &HeaderMap) -> Option<EntityTag<'_>> {
    singleton(headers, &ETAG).and_then(entity_tag)
}

/// `If-Match`/`If-None-Match`: `*` or a list of entity-tags, across all field lines.
enum TagList<'a> {
    Any,
    Tags(Vec<EntityTag<'a>>),
}

/// Parsing stops at the first malformed member of a line; the tags before it still count. A
/// malformed list therefore never matches *more* than what it clearly names: for If-None-Match that
/// means sending the full response, for If-Match a 412, both safe outcomes.
fn tag_list<'a>(headers: &'a HeaderMap, name: &http::header::HeaderName) -> TagList<'a> {
    let mut tags = Vec::new();
    for value in headers.get_all(name) {
        let s = value.as_bytes();
        if trim_ows(s) == b"*" {
            return TagList::Any;
        }
        let mut i = 0;
        loop {
            while i < s.len() && (is_ows(s[i]) || s[i] == b',') {
                i += 1;
            }
            let Some((tag, used)) = entity_tag_prefix(&s[i..]) else {
                break;
            };
            tags.push(tag);
            i += used;
        }
    }
    TagList::Tags(tags)
}

/// The outcome of a request's preconditions against the stored (selected) response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conditional {
    /// No precondition stops the request: serve it normally.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// RFC 9110 §13.2.2, in its order: If-Match (strong comparison; `*` matches any current
/// representation), else If-Unmodified-Since; then If-None-Match (weak comparison; 304 for GET/HEAD,
/// 412 otherwise), else If-Modified-Since for GET/HEAD. If-Range is [`crate::range::if_range_allows`].
///
/// Preconditions are ignored when the response would not be 2xx (§13.2.1), for methods that do not
/// select a representation (CONNECT, OPTIONS, TRACE), and date conditions are ignored when the date
/// is invalid, repeated with different values, or the response has no Last-Modified (§13.1.3,
/// §13.1.4). If-Modified-Since compares against Last-Modified only; a response without one is
/// always sent in full.
pub fn evaluate_conditionals(
    method: &Method,
    req_headers: &HeaderMap,
    resp_status: StatusCode,
    resp_headers: &HeaderMap,
) -> Conditional {
    if !resp_status.is_success()
        || [Method::CONNECT, Method::OPTIONS, Method::TRACE].contains(method)
    {
        return Conditional::Proceed;
    }
    let etag = response_etag(resp_headers);
    let last_modified = date_field(resp_headers, &LAST_MODIFIED);

    if req_headers.contains_key(IF_MATCH) {
        let passes = match tag_list(req_headers, &IF_MATCH) {
            TagList::Any => true,
            TagList::Tags(tags) => etag.is_some_and(|e| tags.iter().any(|t| t.strong_eq(&e))),
        };
        if !passes {
            return Conditional::PreconditionFailed;
        }
    } else if let (Some(since), Some(lm)) =
        (date_field(req_headers, &IF_UNMODIFIED_SINCE), last_modified)
    {
        if lm > since {
            return Conditional::PreconditionFailed;
        }
    }

    let read = method == Method::GET || method == Method::HEAD;
    if req_headers.contains_key(IF_NONE_MATCH) {
        let matches = match tag_list(req_headers, &IF_NONE_MATCH) {
            TagList::Any => true,
            TagList::Tags(tags) => etag.is_some_and(|e| tags.iter().any(|t| t.weak_eq(&e))),
        };
        if matches {
            return if read {
                Conditional::NotModified
            } else {
                Conditional::PreconditionFailed
            };
        }
    } else if read {
        if let (Some(since), Some(lm)) =
            (date_field(req_headers, &IF_MODIFIED_SINCE), last_modified)
        {
            if lm <= since {
                return Conditional::NotModified;
            }
        }
    }
    Conditional::Proceed
}

/// The validators for revalidating a stored response (RFC 9111 §4.3.1): If-None-Match from its
/// ETag and If-Modified-Since from its Last-Modified, each only when valid, copied byte for byte
/// (an origin may compare them as strings).
pub fn revalidation_headers(stored_resp_headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(etag) = stored_resp_headers.get(ETAG) {
        if response_etag(stored_resp_headers).is_some() {
            out.insert(IF_NONE_MATCH, etag.clone());
        }
    }
    if let Some(lm) = singleton(stored_resp_headers, &LAST_MODIFIED) {
        if http_date(lm).is_some() {
            if let Ok(value) = HeaderValue::from_bytes(trim_ows(lm)) {
                out.insert(IF_MODIFIED_SINCE, value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_cache::test_support::headers;

    const LM: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const BEFORE: &str = "Tue, 14 Nov 2023 22:13:19 GMT";
    const AFTER: &str = "Tue, 14 Nov 2023 22:13:21 GMT";

    #[test]
    fn entity_tag_parsing() {
        assert_eq!(
            entity_tag(b"\"abc\""),
            Some(EntityTag {
                weak: false,
                opaque: b"abc"
            })
        );
        assert_eq!(
            entity_tag(b" W/\"a,b\" "),
            Some(EntityTag {
                weak: true,
                opaque: b"a,b"
            })
        );
        assert_eq!(
            entity_tag(b"\"\""),
            Some(EntityTag {
                weak: false,
                opaque: b""
            })
        );
        assert_eq!(
            entity_tag(b"\"\xff\""),
            Some(EntityTag {
                weak: false,
                opaque: b"\xff"
            })
        );
        for bad in [
            &b"abc"[..],
            b"\"abc",
            b"w/\"abc\"",
            b"\"a\"b\"",
            b"\"a b\"",
            b"\"a\", \"b\"",
            b"",
        ] {
            assert_eq!(entity_tag(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn strong_and_weak_comparison() {
        let s1 = EntityTag {
            weak: false,
            opaque: b"1",
        };
        let w1 = EntityTag {
            weak: true,
            opaque: b"1",
        };
        let s2 = EntityTag {
            weak: false,
            opaque: b"2",
        };
        // RFC 9110 §8.8.3.2's table
        assert!(!w1.strong_eq(&w1) && w1.weak_eq(&w1));
        assert!(!w1.strong_eq(&s1) && w1.weak_eq(&s1));
        assert!(!s1.strong_eq(&s2) && !s1.weak_eq(&s2));
        assert!(s1.strong_eq(&s1) && s1.weak_eq(&s1));
    }

    fn check(
        method: Method,
        req: &[(&str, &str)],
        status: u16,
        resp: &[(&str, &str)],
    ) -> Conditional {
        evaluate_conditionals(
            &method,
            &headers(req),
            StatusCode::from_u16(status).unwrap(),
            &headers(resp),
        )
    }

    #[test]
    fn conditional_table() {
        use Conditional::*;
        let strong: &[(&str, &str)] = &[("etag", "\"v1\""), ("last-modified", LM)];
        let weak: &[(&str, &str)] = &[("etag", "W/\"v1\""), ("last-modified", LM)];
        let none: &[(&str, &str)] = &[];
        let g = Method::GET;
        type Fields<'a> = &'a [(&'a str, &'a str)];
        let table: &[(Method, Fields, u16, Fields, Conditional)] = &[
            // If-Match: strong comparison
            (g.clone(), &[("if-match", "\"v1\"")], 200, strong, Proceed),
            (
                g.clone(),
                &[("if-match", "\"v0\", \"v1\"")],
                200,
                strong,
                Proceed,
            ),
            (
                g.clone(),
                &[("if-match", "\"v0\""), ("if-match", "\"v1\"")],
                200,
                strong,
                Proceed,
            ),
            (
                g.clone(),
                &[("if-match", "\"v2\"")],
                200,
                strong,
                PreconditionFailed,
            ),
            (
                g.clone(),
                &[("if-match", "W/\"v1\"")],
                200,
                strong,
                PreconditionFailed,
            ),
            (
                g.clone(),
                &[("if-match", "\"v1\"")],
                200,
                weak,
                PreconditionFailed,
            ),
            (g.clone(), &[("if-match", "*")], 200, none, Proceed),
            (
                g.clone(),
                &[("if-match", "\"v1\"")],
                200,
                none,
                PreconditionFailed,
            ),
            (
                g.clone(),
                &[("if-match", "garbage, \"v1\"")],
                200,
                strong,
                PreconditionFailed,
            ),
            // If-Unmodified-Since, only without If-Match
            (
                g.clone(),
                &[("if-unmodified-since", LM)],
                200,
                strong,
                Proceed,
            ),
            (
                g.clone(),
                &[("if-unmodified-since", BEFORE)],
                200,
                strong,
                PreconditionFailed,
            ),
            (
                g.clone(),
                &[("if-unmodified-since", BEFORE), ("if-match", "\"v1\"")],
                200,
                strong,
                Proceed,
            ),
            (
                g.clone(),
                &[("if-unmodified-since", "nonsense")],
                200,
                strong,
                Proceed,
            ),
            (
                g.clone(),
                &[("if-unmodified-since", BEFORE)],
                200,
                none,
                Proceed,
            ),
            // If-None-Match: weak comparison
            (
                g.clone(),
                &[("if-none-match", "\"v1\"")],
                200,
                strong,
                NotModified,
            ),
            (
                g.clone(),
                &[("if-none-match", "W/\"v1\"")],
                200,
                strong,
                NotModified,
            ),
            (
                g.clone(),
                &[("if-none-match", "\"v1\"")],
                200,
                weak,
                NotModified,
            ),
            (
                g.clone(),
                &[("if-none-match", "\"x\", W/\"v1\"")],
                200,
                strong,
                NotModified,
            ),
            (
                g.clone(),
                &[("if-none-match", "\"v2\"")],
                200,
                strong,
                Proceed,
            ),
            (g.clone(), &[("if-none-match", "*")], 200, none, NotModified),
            (g.clone(), &[("if-none-match", "v1")], 200, strong, Proceed),
            (
                Method::HEAD,
                &[("if-none-match", "\"v1\"")],
                200,
                strong,
                NotModified,
            ),
            (
                Method::PUT,
                &[("if-none-match", "*")],
                200,
                strong,
                PreconditionFailed,
            ),
            (
                Method::POST,
                &[("if-none-match", "\"v1\"")],
                200,
                strong,
                PreconditionFailed,
            ),
            // If-None-Match beats If-Modified-Since
            (
                g.clone(),
                &[("if-none-match", "\"v2\""), ("if-modified-since", LM)],
                200,
                strong,
                Proceed,
            ),
            // If-Modified-Since
            (
                g.clone(),
                &[("if-modified-since", LM)],
                200,
                strong,
                NotModified,
            ),
            (
                g.clone(),
                &[("if-modified-since", AFTER)],
                200,
                strong,
                NotModified,
            ),
            (
                g.clone(),
                &[("if-modified-since", BEFORE)],
                200,
                strong,
                Proceed,
            ),
            (
                g.clone(),
                &[("if-modified-since", LM), ("if-modified-since", BEFORE)],
                200,
                strong,
                Proceed,
            ),
            (
                g.clone(),
                &[("if-modified-since", "0")],
                200,
                strong,
                Proceed,
            ),
            (
                g.clone(),
                &[("if-modified-since", AFTER)],
                200,
                &[("etag", "\"v1\"")],
                Proceed,
            ),
            (
                Method::POST,
                &[("if-modified-since", AFTER)],
                200,
                strong,
                Proceed,
            ),
            // If-Match failure comes before If-None-Match
            (
                g.clone(),
                &[("if-match", "\"v2\""), ("if-none-match", "\"v1\"")],
                200,
                strong,
                PreconditionFailed,
            ),
            // non-2xx responses and methods that select nothing ignore preconditions
            (g.clone(), &[("if-none-match", "*")], 404, none, Proceed),
            (g.clone(), &[("if-match", "\"nope\"")], 304, strong, Proceed),
            (
                Method::OPTIONS,
                &[("if-match", "\"nope\"")],
                200,
                strong,
                Proceed,
            ),
            (g.clone(), &[], 200, strong, Proceed),
        ];
        for (method, req, status, resp, want) in table {
            assert_eq!(
                check(method.clone(), req, *status, resp),
                *want,
                "{method} {req:?} {status} {resp:?}"
            );
        }
    }

    #[test]
    fn revalidation_headers_copy_valid_validators() {
        let h = revalidation_headers(&headers(&[("etag", "W/\"v1\""), ("last-modified", LM)]));
        assert_eq!(h.get(IF_NONE_MATCH).unwrap(), "W/\"v1\"");
        assert_eq!(h.get(IF_MODIFIED_SINCE).unwrap(), LM);
        assert_eq!(h.len(), 2);

        let invalid =
            revalidation_headers(&headers(&[("etag", "v1"), ("last-modified", "yesterday")]));
        assert!(invalid.is_empty());
        assert!(revalidation_headers(&HeaderMap::new()).is_empty());
        let conflicting = revalidation_headers(&headers(&[("etag", "\"a\""), ("etag", "\"b\"")]));
        assert!(conflicting.is_empty());
    }
}
