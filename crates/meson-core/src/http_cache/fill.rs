//! What a fill does with its origin's answer: refresh the stored head, store the body (as a new object or
//! as a missing slice of a stored one), pass it on unstored, or give up. A pure decision over the status
//! and headers; the terminal does the storing.

use std::ops::Range;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use super::{
    ensure_date, request_directives, storable, strip_for_storage, vary_fields, vary_key,
    CacheSettings, NotStorable,
};
use crate::range::parse_content_range;

/// What the fill asked the origin for.
#[derive(Debug, Clone, Copy)]
pub enum Wanted<'a> {
    /// A response not stored yet (a miss).
    New,
    /// An operator's push: a new object kept for `ttl` seconds whatever the origin says.
    Push { ttl: u64 },
    /// A missing slice of a stored object: the answer must be the same representation.
    MoreOf(Stored<'a>),
    /// A conditional request refreshing a stored response.
    Revalidation,
}

/// The stored object a missing slice belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    pub total_len: u64,
    /// Stored as slices fetched with range requests (rather than one whole body).
    pub sliced: bool,
    pub headers: &'a HeaderMap,
}

/// Everything besides the answer itself that the decision depends on.
#[derive(Debug, Clone)]
pub struct FillContext<'a> {
    pub wanted: Wanted<'a>,
    /// The slice the fill is for.
    pub slice: u32,
    pub slice_size: u64,
    /// The byte range asked for with `Range`, if any.
    pub requested: Option<Range<u64>>,
    /// The client's request headers (the fill request's, less the fields the terminal sets itself).
    pub req_headers: &'a HeaderMap,
    pub settings: &'a CacheSettings,
    pub max_object_size: u64,
    /// The node is out of disk and admits nothing new.
    pub disk_full: bool,
    /// When the answer arrived (unix seconds), for the `Date` a new head gets if it has none.
    pub response_time: u64,
}

/// The decision on one origin answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A `304` to a revalidation: merge its fields into the stored head.
    NotModified,
    /// Nothing usable: the fill fails.
    Unusable(Unusable),
    /// Not stored; `pass` says how the client that started the fill may still be answered with it.
    DoNotStore { reason: NoCacheReason, pass: PassOn },
    /// Store the body.
    Store(ToStore),
}

/// An answer the fill cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("origin sent 206 without a usable Content-Range")]
    NoContentRange,
    #[error("origin sent bytes {got:?} for requested {want:?}")]
    WrongRange { got: Range<u64>, want: Range<u64> },
    /// A `416` for a slice after the first: the object is shorter than the client thought.
    #[error("origin answered 416 for a slice past the end")]
    PastEnd,
    /// The representation differs from the stored one whose slice was asked for: the stored one is stale.
    #[error("the object changed at the origin while its slices were being filled")]
    Changed,
}

/// How an unstored answer may still serve the client that caused the fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassOn {
    /// As the origin sent it.
    AsIs,
    /// A `206` that holds the whole body: as a `200` with these fields.
    Whole(HeaderMap),
    /// Not at all (a true part of the body): the client must ask the origin itself.
    Refetch,
}

/// Why a response is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoCacheReason {
    #[error("request no-store")]
    RequestNoStore,
    #[error("{}", not_storable_text(.0))]
    NotStorable(NotStorable),
    #[error("larger than max object size {max}")]
    TooLarge { max: u64 },
    #[error("disk full: not admitting")]
    DiskFull,
    /// An origin error never replaces a stored response; the cache may still serve it stale (RFC 5861).
    #[error("origin error during revalidation")]
    OriginErrorDuringRevalidation,
    /// The stored head varies on `*`; [`storable`] refuses those first, so this guards a later change there.
    #[error("Vary: *")]
    VaryStar,
}

fn not_storable_text(e: &NotStorable) -> String {
    match e {
        NotStorable::NoFreshnessInfo => "no freshness information".into(),
        e => e.to_string(),
    }
}

impl NoCacheReason {
    /// A short fixed label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            NoCacheReason::RequestNoStore => "request_no_store",
            NoCacheReason::NotStorable(e) => match e {
                NotStorable::Method => "method",
                NotStorable::Status => "status",
                NotStorable::RequestNoStore => "request_no_store",
                NotStorable::NoStore => "no_store",
                NotStorable::Private => "private",
                NotStorable::Authorization => "authorization",
                NotStorable::NoFreshnessInfo => "no_freshness_info",
                NotStorable::VaryStar => "vary_star",
            },
            NoCacheReason::TooLarge { .. } => "too_large",
            NoCacheReason::DiskFull => "disk_full",
            NoCacheReason::OriginErrorDuringRevalidation => "origin_error_during_revalidation",
            NoCacheReason::VaryStar => "vary_star",
        }
    }
}

/// A body to store, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToStore {
    /// The slice the body is (0 for a whole body).
    pub slice: u32,
    /// The whole object's length, when the origin announced it.
    pub total: Option<u64>,
    /// The object is stored as slices.
    pub sliced: bool,
    /// The head of a new object; None when the body is a missing slice of the stored one.
    pub new_head: Option<NewHead>,
}

/// The head a new object is stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHead {
    /// As stored: a `206` that is a slice is stored as the `200` it is part of.
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub vary: Vec<HeaderName>,
    /// This request's values of the `vary` fields.
    pub vary_key: String,
}

/// Classifies the origin's answer to a fill (RFC 9111 §3, §4.3.4; RFC 9110 §14 for the ranges).
pub fn classify(ctx: &FillContext<'_>, status: StatusCode, resp_headers: &HeaderMap) -> Answer {
    let revalidating = matches!(ctx.wanted, Wanted::Revalidation);
    if revalidating && status == StatusCode::NOT_MODIFIED {
        return Answer::NotModified;
    }
    if revalidating && status.is_server_error() {
        return Answer::DoNotStore {
            reason: NoCacheReason::OriginErrorDuringRevalidation,
            pass: PassOn::AsIs,
        };
    }

    // What the body is: a whole object, or slice `slice` of an object of `total` bytes.
    let mut head = resp_headers.clone();
    let (slice, total, sliced) = match (status, &ctx.requested) {
        (StatusCode::PARTIAL_CONTENT, Some(want)) => {
            let Some((got, Some(total))) = head
                .get(header::CONTENT_RANGE)
                .and_then(parse_content_range)
            else {
                return Answer::Unusable(Unusable::NoContentRange);
            };
            if got.start != want.start || got.end != want.end.min(total) {
                return Answer::Unusable(Unusable::WrongRange {
                    got,
                    want: want.clone(),
                });
            }
            head.remove(header::CONTENT_RANGE);
            head.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
            (
                ctx.slice,
                Some(total),
                total > ctx.slice_size || ctx.slice > 0,
            )
        }
        (StatusCode::RANGE_NOT_SATISFIABLE, Some(_)) if ctx.slice > 0 => {
            return Answer::Unusable(Unusable::PastEnd);
        }
        _ => {
            if matches!(ctx.wanted, Wanted::MoreOf(s) if s.sliced) {
                // A sliced object's origin must keep answering ranges with the same representation.
                return Answer::Unusable(Unusable::Changed);
            }
            let len = head
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            (0, len, false)
        }
    };
    if let Wanted::Push { ttl } = ctx.wanted {
        // CDN-Cache-Control outranks the origin's Cache-Control for this cache (RFC 9213).
        let v = format!("max-age={ttl}");
        head.insert(
            super::CDN_CACHE_CONTROL,
            HeaderValue::from_str(&v).expect("digits"),
        );
    }
    let store_status = if status == StatusCode::PARTIAL_CONTENT {
        StatusCode::OK
    } else {
        status
    };
    if let Wanted::MoreOf(stored) = ctx.wanted {
        if Some(stored.total_len) != total || !same_validators(stored.headers, &head) {
            return Answer::Unusable(Unusable::Changed);
        }
    }

    if let Some(reason) = refusal(ctx, store_status, &head, total) {
        let pass = if status != StatusCode::PARTIAL_CONTENT {
            PassOn::AsIs
        } else if !sliced {
            PassOn::Whole(head)
        } else {
            PassOn::Refetch
        };
        return Answer::DoNotStore { reason, pass };
    }

    let new_head = match ctx.wanted {
        Wanted::MoreOf(_) => None,
        Wanted::New | Wanted::Push { .. } | Wanted::Revalidation => {
            let mut headers = strip_for_storage(&head);
            // Age arithmetic needs a Date; a cache adds the one the origin left out (RFC 9110 §6.6.1).
            ensure_date(&mut headers, ctx.response_time);
            let Ok(vary) = vary_fields(&headers) else {
                return Answer::DoNotStore {
                    reason: NoCacheReason::VaryStar,
                    pass: PassOn::Refetch,
                };
            };
            let vary_key = vary_key(&vary, ctx.req_headers);
            Some(NewHead {
                status: store_status,
                headers,
                vary,
                vary_key,
            })
        }
    };
    Answer::Store(ToStore {
        slice,
        total,
        sliced,
        new_head,
    })
}

/// Why a response must not be stored, if it must not.
fn refusal(
    ctx: &FillContext<'_>,
    status: StatusCode,
    head: &HeaderMap,
    total: Option<u64>,
) -> Option<NoCacheReason> {
    if request_directives(ctx.req_headers).no_store {
        return Some(NoCacheReason::RequestNoStore);
    }
    if let Err(e) = storable(&Method::GET, ctx.req_headers, status, head, ctx.settings) {
        return Some(NoCacheReason::NotStorable(e));
    }
    let max = ctx.max_object_size;
    if total.is_some_and(|t| t > max) {
        return Some(NoCacheReason::TooLarge { max });
    }
    if ctx.disk_full {
        return Some(NoCacheReason::DiskFull);
    }
    None
}

/// Whether two heads describe the same representation (RFC 9110 §8.8: strong validators must agree).
fn same_validators(a: &HeaderMap, b: &HeaderMap) -> bool {
    [header::ETAG, header::LAST_MODIFIED]
        .iter()
        .all(|h| match (a.get(h), b.get(h)) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::headers;
    use super::*;

    const SLICE: u64 = 1000;

    fn ctx<'a>(
        wanted: Wanted<'a>,
        slice: u32,
        requested: Option<Range<u64>>,
        req: &'a HeaderMap,
        settings: &'a CacheSettings,
    ) -> FillContext<'a> {
        FillContext {
            wanted,
            slice,
            slice_size: SLICE,
            requested,
            req_headers: req,
            settings,
            max_object_size: 1 << 20,
            disk_full: false,
            response_time: 1_000_000,
        }
    }

    fn store(a: Answer) -> ToStore {
        match a {
            Answer::Store(s) => s,
            other => panic!("expected Store, got {other:?}"),
        }
    }

    #[test]
    fn a_whole_fresh_answer_is_stored_as_a_new_object_with_a_date() {
        let (req, s) = (HeaderMap::new(), CacheSettings::default());
        let a = classify(
            &ctx(Wanted::New, 0, None, &req, &s),
            StatusCode::OK,
            &headers(&[
                ("cache-control", "max-age=60"),
                ("content-length", "10"),
                ("connection", "close"),
            ]),
        );
        let s = store(a);
        assert_eq!((s.slice, s.total, s.sliced), (0, Some(10), false));
        let head = s.new_head.expect("new head");
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.headers.contains_key(header::DATE), "Date added");
        assert!(
            !head.headers.contains_key(header::CONNECTION),
            "hop-by-hop dropped"
        );
    }

    #[test]
    fn a_partial_answer_becomes_a_slice_of_a_200() {
        let (req, s) = (HeaderMap::new(), CacheSettings::default());
        let resp = headers(&[
            ("cache-control", "max-age=60"),
            ("content-range", "bytes 1000-1999/5000"),
        ]);
        let a = classify(
            &ctx(Wanted::New, 1, Some(1000..2000), &req, &s),
            StatusCode::PARTIAL_CONTENT,
            &resp,
        );
        let s = store(a);
        assert_eq!((s.slice, s.total, s.sliced), (1, Some(5000), true));
        let head = s.new_head.unwrap();
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.headers[header::CONTENT_LENGTH], "5000");
        assert!(!head.headers.contains_key(header::CONTENT_RANGE));
    }

    #[test]
    fn bad_or_mismatched_ranges_are_unusable() {
        let (req, s) = (HeaderMap::new(), CacheSettings::default());
        let c = ctx(Wanted::New, 1, Some(1000..2000), &req, &s);
        let none = headers(&[("cache-control", "max-age=60")]);
        assert_eq!(
            classify(&c, StatusCode::PARTIAL_CONTENT, &none),
            Answer::Unusable(Unusable::NoContentRange)
        );
        let wrong = headers(&[("content-range", "bytes 0-999/5000")]);
        assert_eq!(
            classify(&c, StatusCode::PARTIAL_CONTENT, &wrong),
            Answer::Unusable(Unusable::WrongRange {
                got: 0..1000,
                want: 1000..2000
            })
        );
        assert_eq!(
            classify(&c, StatusCode::RANGE_NOT_SATISFIABLE, &none),
            Answer::Unusable(Unusable::PastEnd)
        );
        // The first slice's 416 is an answer like any other (an empty object).
        let first = ctx(Wanted::New, 0, Some(0..1000), &req, &s);
        assert!(matches!(
            classify(&first, StatusCode::RANGE_NOT_SATISFIABLE, &none),
            Answer::DoNotStore { .. }
        ));
    }

    #[test]
    fn a_missing_slice_must_come_from_the_same_representation() {
        let (req, s) = (HeaderMap::new(), CacheSettings::default());
        let stored_head = headers(&[("etag", "\"a\""), ("cache-control", "max-age=60")]);
        let stored = Stored {
            total_len: 5000,
            sliced: true,
            headers: &stored_head,
        };
        let c = ctx(Wanted::MoreOf(stored), 2, Some(2000..3000), &req, &s);
        let same = headers(&[
            ("etag", "\"a\""),
            ("cache-control", "max-age=60"),
            ("content-range", "bytes 2000-2999/5000"),
        ]);
        let got = store(classify(&c, StatusCode::PARTIAL_CONTENT, &same));
        assert_eq!((got.slice, got.new_head), (2, None));

        let other_etag = headers(&[("etag", "\"b\""), ("content-range", "bytes 2000-2999/5000")]);
        let longer = headers(&[("etag", "\"a\""), ("content-range", "bytes 2000-2999/6000")]);
        for resp in [other_etag, longer] {
            assert_eq!(
                classify(&c, StatusCode::PARTIAL_CONTENT, &resp),
                Answer::Unusable(Unusable::Changed)
            );
        }
        // A whole 200 where a range of a sliced object was asked for: the origin changed.
        assert_eq!(
            classify(&c, StatusCode::OK, &stored_head),
            Answer::Unusable(Unusable::Changed)
        );
    }

    #[test]
    fn revalidation_answers() {
        let (req, s) = (HeaderMap::new(), CacheSettings::default());
        let c = ctx(Wanted::Revalidation, 0, None, &req, &s);
        assert_eq!(
            classify(&c, StatusCode::NOT_MODIFIED, &HeaderMap::new()),
            Answer::NotModified
        );
        assert_eq!(
            classify(&c, StatusCode::BAD_GATEWAY, &HeaderMap::new()),
            Answer::DoNotStore {
                reason: NoCacheReason::OriginErrorDuringRevalidation,
                pass: PassOn::AsIs
            }
        );
        let replaced = headers(&[("cache-control", "max-age=60"), ("content-length", "3")]);
        assert!(store(classify(&c, StatusCode::OK, &replaced))
            .new_head
            .is_some());
        // A 304 the fill did not ask for is not a refresh.
        let miss = ctx(Wanted::New, 0, None, &req, &s);
        assert!(matches!(
            classify(&miss, StatusCode::NOT_MODIFIED, &HeaderMap::new()),
            Answer::DoNotStore { .. }
        ));
    }

    #[test]
    fn a_push_is_kept_for_its_ttl_whatever_the_origin_says() {
        let (req, s) = (HeaderMap::new(), CacheSettings::default());
        let c = ctx(Wanted::Push { ttl: 300 }, 0, None, &req, &s);
        let head = store(classify(
            &c,
            StatusCode::OK,
            &headers(&[("content-length", "3")]),
        ))
        .new_head
        .unwrap();
        assert_eq!(head.headers[super::super::CDN_CACHE_CONTROL], "max-age=300");
    }

    #[test]
    fn refusals_carry_their_reason_and_how_to_answer_the_client() {
        let s = CacheSettings::default();
        let no_store = headers(&[("cache-control", "no-store")]);
        let plain = HeaderMap::new();
        let fresh = headers(&[("cache-control", "max-age=60"), ("content-length", "3")]);
        let cases: [(&HeaderMap, &HeaderMap, NoCacheReason, &str); 3] = [
            (
                &no_store,
                &fresh,
                NoCacheReason::RequestNoStore,
                "request no-store",
            ),
            (
                &plain,
                &headers(&[("content-length", "3")]),
                NoCacheReason::NotStorable(NotStorable::NoFreshnessInfo),
                "no freshness information",
            ),
            (
                &plain,
                &headers(&[("cache-control", "private, max-age=60")]),
                NoCacheReason::NotStorable(NotStorable::Private),
                "response is private to one user",
            ),
        ];
        for (req, resp, reason, text) in cases {
            let c = ctx(Wanted::New, 0, None, req, &s);
            assert_eq!(
                classify(&c, StatusCode::OK, resp),
                Answer::DoNotStore {
                    reason,
                    pass: PassOn::AsIs
                }
            );
            assert_eq!(reason.to_string(), text);
        }

        let mut big = ctx(Wanted::New, 0, None, &plain, &s);
        big.max_object_size = 2;
        let Answer::DoNotStore { reason, .. } = classify(&big, StatusCode::OK, &fresh) else {
            panic!("stored past the size limit")
        };
        assert_eq!(reason, NoCacheReason::TooLarge { max: 2 });
        assert_eq!(reason.to_string(), "larger than max object size 2");

        let mut full = ctx(Wanted::New, 0, Some(0..SLICE), &plain, &s);
        full.disk_full = true;
        // A 206 holding the whole body is the client's 200; a true part must be fetched again.
        let whole = headers(&[
            ("cache-control", "max-age=60"),
            ("content-range", "bytes 0-2/3"),
        ]);
        let Answer::DoNotStore { reason, pass } =
            classify(&full, StatusCode::PARTIAL_CONTENT, &whole)
        else {
            panic!("stored on a full disk")
        };
        assert_eq!(reason, NoCacheReason::DiskFull);
        let PassOn::Whole(h) = pass else {
            panic!("{pass:?}")
        };
        assert_eq!(h[header::CONTENT_LENGTH], "3");
        let part = headers(&[
            ("cache-control", "max-age=60"),
            ("content-range", "bytes 0-999/5000"),
        ]);
        assert!(matches!(
            classify(&full, StatusCode::PARTIAL_CONTENT, &part),
            Answer::DoNotStore {
                pass: PassOn::Refetch,
                ..
            }
        ));
    }

    #[test]
    fn labels_are_short_and_distinct_per_reason() {
        let reasons = [
            NoCacheReason::RequestNoStore,
            NoCacheReason::NotStorable(NotStorable::Method),
            NoCacheReason::NotStorable(NotStorable::Status),
            NoCacheReason::NotStorable(NotStorable::NoStore),
            NoCacheReason::NotStorable(NotStorable::Private),
            NoCacheReason::NotStorable(NotStorable::Authorization),
            NoCacheReason::NotStorable(NotStorable::NoFreshnessInfo),
            NoCacheReason::TooLarge { max: 1 },
            NoCacheReason::DiskFull,
            NoCacheReason::OriginErrorDuringRevalidation,
            NoCacheReason::VaryStar,
        ];
        let mut labels: Vec<_> = reasons.iter().map(|r| r.as_str()).collect();
        assert!(labels
            .iter()
            .all(|l| l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), reasons.len());
    }
}
