//! Reading Cache-Control (RFC 9111 §5.2), Pragma (§5.4) and CDN-Cache-Control (RFC 9213).

use http::header::{HeaderMap, HeaderName, CACHE_CONTROL, PRAGMA};

use super::structured::{self, Member};
use super::syntax::{delta_seconds, field_names, is_tchar, quoted_string, split_list, trim_ows};

/// RFC 9213's CDN-targeted field; `http` has no constant for it.
pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// Fields the cache bases its own decisions on, which neither a qualified `no-cache`/`private` (see
/// [`response_directives`]) nor a Connection option may strip from a stored response.
pub(crate) const CACHE_CONTROLLING_FIELDS: &[&str] = &[
    "cache-control",
    "cdn-cache-control",
    "vary",
    "expires",
    "date",
    "age",
    "pragma",
];

/// The request's cache directives (RFC 9111 §5.2.1, RFC 5861 §4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestDirectives {
    pub no_store: bool,
    pub no_cache: bool,
    pub max_age: Option<u64>,
    /// `Some(None)`: any staleness is acceptable; `Some(Some(n))`: up to `n` seconds.
    pub max_stale: Option<Option<u64>>,
    pub min_fresh: Option<u64>,
    pub only_if_cached: bool,
    pub stale_if_error: Option<u64>,
}

/// The response's cache directives (RFC 9111 §5.2.2, RFC 5861, RFC 8246), taken from
/// CDN-Cache-Control when it is present and valid, else from Cache-Control.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseDirectives {
    pub no_store: bool,
    /// Unqualified `no-cache`: every reuse needs a successful validation first.
    pub no_cache: bool,
    /// Unqualified `private`: a shared cache must not store the response at all.
    pub private: bool,
    pub public: bool,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub must_understand: bool,
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
    pub immutable: bool,
    /// The directives came from CDN-Cache-Control, so Cache-Control and Expires are ignored
    /// (RFC 9213 §2.2).
    pub from_cdn_cache_control: bool,
    /// `no-cache="a, b"`: the response may be reused but these fields must not be sent from the
    /// cache (RFC 9111 §5.2.2.4); [`super::strip_for_storage`] drops them.
    pub no_cache_fields: Vec<HeaderName>,
    /// `private="a, b"`: a shared cache may store the response without these fields
    /// (RFC 9111 §5.2.2.7); [`super::strip_for_storage`] drops them.
    pub private_fields: Vec<HeaderName>,
}

/// Reads the request's Cache-Control; `Pragma: no-cache` counts as `no-cache` only when the request
/// has no Cache-Control field at all (RFC 9111 §5.4). Conflicts resolve as described on
/// [`response_directives`].
pub fn request_directives(headers: &HeaderMap) -> RequestDirectives {
    let mut d = RequestDirectives::default();
    if !headers.contains_key(CACHE_CONTROL) {
        d.no_cache = headers
            .get_all(PRAGMA)
            .iter()
            .flat_map(|v| split_list(v.as_bytes()))
            .any(|e| e.eq_ignore_ascii_case(b"no-cache"));
        return d;
    }
    for directive in cache_control(headers) {
        let seconds = directive.seconds();
        match directive.name.as_str() {
            "no-store" => d.no_store = true,
            "no-cache" => d.no_cache = true,
            "only-if-cached" => d.only_if_cached = true,
            "max-age" => d.max_age = Some(min_of(d.max_age, seconds.unwrap_or(0))),
            "min-fresh" => {
                if let Some(s) = seconds {
                    d.min_fresh = Some(d.min_fresh.map_or(s, |m| m.max(s)));
                }
            }
            "max-stale" => {
                let value = match (&directive.arg, seconds) {
                    (Arg::None, _) => Some(None),
                    (_, Some(s)) => Some(Some(s)),
                    _ => None,
                };
                d.max_stale = match (d.max_stale, value) {
                    (Some(Some(a)), Some(Some(b))) => Some(Some(a.min(b))),
                    (Some(Some(a)), _) | (_, Some(Some(a))) => Some(Some(a)),
                    (old, new) => old.or(new),
                };
            }
            "stale-if-error" => {
                if let Some(s) = seconds {
                    d.stale_if_error = Some(min_of(d.stale_if_error, s));
                }
            }
            _ => {}
        }
    }
    d
}

/// Reads the response's cache directives: CDN-Cache-Control when present, non-empty and valid
/// (RFC 9213 §2.2), Cache-Control otherwise.
///
/// Conflicts resolve towards the most restrictive reading (RFC 9111 §4.2.1 "the most restrictive
/// directive should be honored"), in Cache-Control of both requests and responses:
/// - a duration directive repeated with different values keeps the smallest (largest for
///   `min-fresh`), which is never fresher than any single reading, yet still caches for a while
///   when two proxy layers each added their own `max-age`;
/// - an invalid `max-age`/`s-maxage` (`max-age=abc`, `max-age=-1`, `max-age` without a value) reads
///   as 0, i.e. stale, as §4.2.1 encourages; on a request it reads as 0 too (the client wanted
///   something fresh);
/// - an invalid value of a directive that *grants* something (`stale-while-revalidate`,
///   `stale-if-error`, `max-stale`, `min-fresh`) is ignored, which grants nothing;
/// - `no-cache`/`private` with a field list that cannot be read, is empty, or names a field the
///   cache itself relies on (Cache-Control, CDN-Cache-Control, Vary, Expires, Date, Age, Pragma)
///   is treated as the unqualified directive: stripping such a field would change how the stored
///   copy is reused, and the unqualified form is the safe reading;
/// - a boolean directive with an unexpected argument (`no-store=1`) still counts.
///
/// Quoted arguments (`max-age="60"`) are accepted, as §5.2 asks of recipients, and directive names
/// are case-insensitive. CDN-Cache-Control is a Structured Field (RFC 8941), so there a repeated
/// key keeps its last value, as that RFC requires, and a recognised directive with a value of the
/// wrong type (`max-age=1.5`, `max-age="60"`) invalidates the whole field, so Cache-Control applies:
/// dropping just that member would leave a policy the origin never wrote overriding the one it did.
pub fn response_directives(headers: &HeaderMap) -> ResponseDirectives {
    cdn_cache_control(headers).unwrap_or_else(|| {
        let mut d = ResponseDirectives::default();
        for directive in cache_control(headers) {
            let seconds = directive.seconds();
            match directive.name.as_str() {
                "no-store" => d.no_store = true,
                "public" => d.public = true,
                "must-revalidate" => d.must_revalidate = true,
                "proxy-revalidate" => d.proxy_revalidate = true,
                "must-understand" => d.must_understand = true,
                "immutable" => d.immutable = true,
                "no-cache" => match directive.field_list() {
                    Some(fields) => d.no_cache_fields.extend(fields),
                    None => d.no_cache = true,
                },
                "private" => match directive.field_list() {
                    Some(fields) => d.private_fields.extend(fields),
                    None => d.private = true,
                },
                "max-age" => d.max_age = Some(min_of(d.max_age, seconds.unwrap_or(0))),
                "s-maxage" => d.s_maxage = Some(min_of(d.s_maxage, seconds.unwrap_or(0))),
                "stale-while-revalidate" => {
                    if let Some(s) = seconds {
                        d.stale_while_revalidate = Some(min_of(d.stale_while_revalidate, s));
                    }
                }
                "stale-if-error" => {
                    if let Some(s) = seconds {
                        d.stale_if_error = Some(min_of(d.stale_if_error, s));
                    }
                }
                _ => {}
            }
        }
        d
    })
}

fn min_of(old: Option<u64>, new: u64) -> u64 {
    old.map_or(new, |o| o.min(new))
}

/// A directive's argument as written.
#[derive(Debug, PartialEq, Eq)]
enum Arg {
    None,
    Value(Vec<u8>),
    /// Something followed the name that is neither `=token` nor `="quoted"`.
    Malformed,
}

#[derive(Debug)]
struct Directive {
    name: String,
    arg: Arg,
}

impl Directive {
    fn seconds(&self) -> Option<u64> {
        match &self.arg {
            Arg::Value(v) => delta_seconds(v),
            _ => None,
        }
    }

    /// The field names of a qualified `no-cache`/`private`, or `None` for the unqualified reading.
    fn field_list(&self) -> Option<Vec<HeaderName>> {
        match &self.arg {
            Arg::Value(v) => qualified_fields(v),
            _ => None,
        }
    }
}

fn qualified_fields(list: &[u8]) -> Option<Vec<HeaderName>> {
    let fields = field_names(list)?;
    let protected = fields
        .iter()
        .any(|f| CACHE_CONTROLLING_FIELDS.contains(&f.as_str()));
    if fields.is_empty() || protected {
        None
    } else {
        Some(fields)
    }
}

/// Every `token [ "=" ( token / quoted-string ) ]` of every Cache-Control line, names lowercased.
/// Elements whose name is not a token are skipped: nothing can be known about them.
fn cache_control(headers: &HeaderMap) -> Vec<Directive> {
    let mut out = Vec::new();
    for value in headers.get_all(CACHE_CONTROL) {
        for element in split_list(value.as_bytes()) {
            let name_len = element.iter().take_while(|&&b| is_tchar(b)).count();
            if name_len == 0 {
                continue;
            }
            let name = String::from_utf8_lossy(&element[..name_len]).to_ascii_lowercase();
            out.push(Directive {
                name,
                arg: argument(trim_ows(&element[name_len..])),
            });
        }
    }
    out
}

fn argument(rest: &[u8]) -> Arg {
    if rest.is_empty() {
        return Arg::None;
    }
    let Some(value) = rest.strip_prefix(b"=") else {
        return Arg::Malformed;
    };
    let value = trim_ows(value);
    if value.first() == Some(&b'"') {
        return match quoted_string(value) {
            Some((content, used)) if trim_ows(&value[used..]).is_empty() => Arg::Value(content),
            _ => Arg::Malformed,
        };
    }
    if !value.is_empty() && value.iter().all(|&b| is_tchar(b)) {
        Arg::Value(value.to_vec())
    } else {
        Arg::Malformed
    }
}

/// CDN-Cache-Control read as an RFC 8941 Dictionary (RFC 9213 §2.1). `None` when absent, empty or
/// invalid, so the caller falls back to Cache-Control. A recognised directive whose value has the
/// wrong type (`max-age=1.5`, `max-age=-1`, `no-store="x"`) makes the whole field invalid: ignoring
/// just that member would leave a policy the origin did not write, and still override
/// Cache-Control; falling back keeps the origin's other statement in force.
fn cdn_cache_control(headers: &HeaderMap) -> Option<ResponseDirectives> {
    let mut combined = Vec::new();
    for value in headers.get_all(CDN_CACHE_CONTROL) {
        let value = trim_ows(value.as_bytes());
        if value.is_empty() {
            continue;
        }
        if !combined.is_empty() {
            combined.extend_from_slice(b", ");
        }
        combined.extend_from_slice(value);
    }
    if combined.is_empty() {
        return None;
    }
    let members = structured::parse_dictionary(&combined)?;
    let mut d = ResponseDirectives {
        from_cdn_cache_control: true,
        ..ResponseDirectives::default()
    };
    for (key, member) in members {
        match key.as_str() {
            "no-store" => d.no_store = flag(&member)?,
            "public" => d.public = flag(&member)?,
            "must-revalidate" => d.must_revalidate = flag(&member)?,
            "proxy-revalidate" => d.proxy_revalidate = flag(&member)?,
            "must-understand" => d.must_understand = flag(&member)?,
            "immutable" => d.immutable = flag(&member)?,
            "no-cache" => match member {
                Member::Boolean(b) => d.no_cache = b,
                Member::String(s) | Member::Token(s) => match qualified_fields(&s) {
                    Some(fields) => d.no_cache_fields = fields,
                    None => d.no_cache = true,
                },
                _ => return None,
            },
            "private" => match member {
                Member::Boolean(b) => d.private = b,
                Member::String(s) | Member::Token(s) => match qualified_fields(&s) {
                    Some(fields) => d.private_fields = fields,
                    None => d.private = true,
                },
                _ => return None,
            },
            "max-age" => d.max_age = Some(integer(&member)?),
            "s-maxage" => d.s_maxage = Some(integer(&member)?),
            "stale-while-revalidate" => d.stale_while_revalidate = Some(integer(&member)?),
            "stale-if-error" => d.stale_if_error = Some(integer(&member)?),
            _ => {}
        }
    }
    Some(d)
}

fn flag(member: &Member) -> Option<bool> {
    match member {
        Member::Boolean(b) => Some(*b),
        _ => None,
    }
}

fn integer(member: &Member) -> Option<u64> {
    match member {
        Member::Integer(n) => u64::try_from(*n)
            .ok()
            .map(|n| n.min(super::syntax::DELTA_SECONDS_CAP)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_cache::test_support::headers;

    fn resp(cc: &str) -> ResponseDirectives {
        response_directives(&headers(&[("cache-control", cc)]))
    }

    fn req(cc: &str) -> RequestDirectives {
        request_directives(&headers(&[("cache-control", cc)]))
    }

    #[test]
    fn every_response_directive() {
        let d = resp(
            "no-store, no-cache, private, public, must-revalidate, proxy-revalidate, \
             must-understand, immutable, max-age=1, s-maxage=2, stale-while-revalidate=3, \
             stale-if-error=4, x-unknown=\"ignored\"",
        );
        assert_eq!(
            d,
            ResponseDirectives {
                no_store: true,
                no_cache: true,
                private: true,
                public: true,
                must_revalidate: true,
                proxy_revalidate: true,
                must_understand: true,
                max_age: Some(1),
                s_maxage: Some(2),
                stale_while_revalidate: Some(3),
                stale_if_error: Some(4),
                immutable: true,
                from_cdn_cache_control: false,
                no_cache_fields: vec![],
                private_fields: vec![],
            }
        );
        assert_eq!(resp(""), ResponseDirectives::default());
    }

    #[test]
    fn every_request_directive() {
        let d = req(
            "no-store, no-cache, max-age=1, max-stale=2, min-fresh=3, only-if-cached, \
             stale-if-error=4, x-unknown",
        );
        assert_eq!(
            d,
            RequestDirectives {
                no_store: true,
                no_cache: true,
                max_age: Some(1),
                max_stale: Some(Some(2)),
                min_fresh: Some(3),
                only_if_cached: true,
                stale_if_error: Some(4),
            }
        );
        assert_eq!(req("max-stale").max_stale, Some(None));
    }

    #[test]
    fn response_values_table() {
        // (Cache-Control, max-age, s-maxage, stale-while-revalidate)
        type Row = (&'static str, Option<u64>, Option<u64>, Option<u64>);
        let cases: &[Row] = &[
            ("max-age=60", Some(60), None, None),
            ("MAX-AGE=60", Some(60), None, None),
            ("Max-Age = 60", Some(60), None, None),
            ("max-age=\"60\"", Some(60), None, None),
            ("max-age=60, max-age=60", Some(60), None, None),
            ("max-age=3600, max-age=60", Some(60), None, None),
            ("max-age=60, max-age=abc", Some(0), None, None),
            ("max-age=abc", Some(0), None, None),
            ("max-age=-1", Some(0), None, None),
            ("max-age=1.5", Some(0), None, None),
            ("max-age", Some(0), None, None),
            ("max-age=", Some(0), None, None),
            ("max-age=60 junk", Some(0), None, None),
            ("max-age=\"60", Some(0), None, None),
            ("max-age=99999999999999999999", Some(1 << 31), None, None),
            ("s-maxage=10, max-age=5", Some(5), Some(10), None),
            ("s-maxage=x", None, Some(0), None),
            ("stale-while-revalidate", None, None, None),
            ("stale-while-revalidate=x", None, None, None),
            (
                "stale-while-revalidate=30, stale-while-revalidate=10",
                None,
                None,
                Some(10),
            ),
            ("stale-while-revalidate=\"30\"", None, None, Some(30)),
        ];
        for (cc, max_age, s_maxage, swr) in cases {
            let d = resp(cc);
            assert_eq!(
                (d.max_age, d.s_maxage, d.stale_while_revalidate),
                (*max_age, *s_maxage, *swr),
                "{cc}"
            );
        }
    }

    #[test]
    fn request_values_table() {
        // (Cache-Control, max-age, max-stale, min-fresh, stale-if-error)
        type Row = (
            &'static str,
            Option<u64>,
            Option<Option<u64>>,
            Option<u64>,
            Option<u64>,
        );
        let cases: &[Row] = &[
            ("max-age=0", Some(0), None, None, None),
            ("max-age=junk", Some(0), None, None, None),
            ("max-age=10, max-age=5", Some(5), None, None, None),
            ("max-stale=10, max-stale", None, Some(Some(10)), None, None),
            ("max-stale, max-stale=10", None, Some(Some(10)), None, None),
            ("max-stale=10, max-stale=5", None, Some(Some(5)), None, None),
            ("max-stale=junk", None, None, None, None),
            ("max-stale=\"7\"", None, Some(Some(7)), None, None),
            ("min-fresh=5, min-fresh=10", None, None, Some(10), None),
            ("min-fresh=junk", None, None, None, None),
            (
                "stale-if-error=60, stale-if-error=30",
                None,
                None,
                None,
                Some(30),
            ),
            ("stale-if-error", None, None, None, None),
        ];
        for (cc, max_age, max_stale, min_fresh, sie) in cases {
            let d = req(cc);
            assert_eq!(
                (d.max_age, d.max_stale, d.min_fresh, d.stale_if_error),
                (*max_age, *max_stale, *min_fresh, *sie),
                "{cc}"
            );
        }
    }

    #[test]
    fn qualified_no_cache_and_private() {
        let d = resp("no-cache=\"Set-Cookie, X-Secret\", private=x-user");
        assert!(!d.no_cache && !d.private);
        assert_eq!(
            d.no_cache_fields,
            vec![
                http::header::SET_COOKIE,
                HeaderName::from_static("x-secret")
            ]
        );
        assert_eq!(d.private_fields, vec![HeaderName::from_static("x-user")]);

        for unqualified in [
            "private",
            "private=\"\"",
            "private=\"bad name\"",
            "private=\"vary\"",
            "private=\"x, Cache-Control\"",
            "private=\"x",
            "private junk",
        ] {
            assert!(resp(unqualified).private, "{unqualified}");
            assert!(resp(unqualified).private_fields.is_empty(), "{unqualified}");
        }
        let both = resp("no-cache=\"x-a\", no-cache");
        assert!(both.no_cache);
    }

    #[test]
    fn multiple_lines_combine() {
        let h = headers(&[
            ("cache-control", "public"),
            ("cache-control", "max-age=5, max-age=9"),
        ]);
        let d = response_directives(&h);
        assert!(d.public);
        assert_eq!(d.max_age, Some(5));
    }

    #[test]
    fn pragma_only_without_cache_control() {
        let pragma = headers(&[("pragma", "foo, No-Cache")]);
        assert!(request_directives(&pragma).no_cache);
        let both = headers(&[("pragma", "no-cache"), ("cache-control", "max-stale")]);
        assert!(!request_directives(&both).no_cache);
        let other = headers(&[("pragma", "no-cache-please")]);
        assert!(!request_directives(&other).no_cache);
    }

    #[test]
    fn cdn_cache_control_takes_precedence() {
        let h = headers(&[
            ("cache-control", "no-store, private, max-age=5"),
            ("cdn-cache-control", "max-age=600, stale-if-error=60"),
        ]);
        let d = response_directives(&h);
        assert!(d.from_cdn_cache_control);
        assert!(!d.no_store && !d.private);
        assert_eq!((d.max_age, d.stale_if_error), (Some(600), Some(60)));

        // RFC 9213 §3.1: an unknown directive is still a valid, non-empty value.
        let none = response_directives(&headers(&[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "none"),
        ]));
        assert!(none.from_cdn_cache_control && !none.no_store);
    }

    #[test]
    fn cdn_cache_control_values() {
        let d = response_directives(&headers(&[(
            "cdn-cache-control",
            "no-cache=\"set-cookie\", private=?0, s-maxage=99999999999, must-revalidate;x=1",
        )]));
        assert_eq!(d.no_cache_fields, vec![http::header::SET_COOKIE]);
        assert!(!d.private && !d.no_cache && d.must_revalidate);
        assert_eq!(d.s_maxage, Some(1 << 31));

        let lines = response_directives(&headers(&[
            ("cdn-cache-control", "max-age=10"),
            ("cdn-cache-control", "max-age=20"),
        ]));
        assert_eq!(
            lines.max_age,
            Some(20),
            "RFC 8941: the last duplicate key wins"
        );
    }

    #[test]
    fn invalid_or_empty_cdn_cache_control_is_ignored() {
        for cdn in [
            "",
            "   ",
            "Max-Age=600",
            "max-age=600,",
            "max-age=\"600\"",
            "max-age=1.5",
            "max-age=-1",
            "max-age=600 public",
            "no-store=\"yes\"",
            "private=(a b)",
        ] {
            let h = headers(&[("cache-control", "max-age=5"), ("cdn-cache-control", cdn)]);
            let d = response_directives(&h);
            assert!(!d.from_cdn_cache_control, "{cdn:?}");
            assert_eq!(d.max_age, Some(5), "{cdn:?}");
        }
    }

    #[test]
    fn obs_text_does_not_panic() {
        let mut h = HeaderMap::new();
        h.insert(
            CACHE_CONTROL,
            http::HeaderValue::from_bytes(b"max-age=\xff, \xfeprivate, no-cache=\"\xff\"").unwrap(),
        );
        h.insert(
            CDN_CACHE_CONTROL,
            http::HeaderValue::from_bytes(b"max-age=\"\xff\"").unwrap(),
        );
        let d = response_directives(&h);
        assert_eq!(d.max_age, Some(0));
        assert!(d.no_cache && !d.private);
    }
}
