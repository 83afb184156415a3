//! Matching requests to stored variants (RFC 9111 §4.1).

use http::header::{HeaderMap, HeaderName, VARY};

use super::syntax::{split_list, trim_ows};

/// The response has `Vary: *`: no later request can ever be shown to match it (RFC 9111 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response varies on `*`, so no later request can match it")]
pub struct VaryStar;

/// The field names the response varies on: lowercased, deduplicated, sorted. Members that are not
/// valid field names are dropped: no request can carry such a field, so every request is "absent" for
/// it and it could never tell two requests apart.
pub fn vary_fields(resp_headers: &HeaderMap) -> Result<Vec<HeaderName>, VaryStar> {
    let mut fields = Vec::new();
    for value in resp_headers.get_all(VARY) {
        for member in split_list(value.as_bytes()) {
            if member == b"*" {
                return Err(VaryStar);
            }
            if let Ok(name) = HeaderName::from_bytes(member) {
                fields.push(name);
            }
        }
    }
    fields.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    fields.dedup();
    Ok(fields)
}

/// A canonical string of the request's values for `fields`: two requests select the same variant
/// iff their keys are equal.
///
/// Normalisation (RFC 9111 §4.1 allows it): field lines are combined with `", "`, then the value is
/// split at commas outside quoted strings, each member trimmed of OWS, empty members dropped, and
/// the members rejoined with `","`. Case is kept, because for most fields it is significant.
///
/// Encoding: `name=value` pairs joined by `&`, fields sorted by name; an absent field is just `name`
/// (RFC 9111 §4.1: absent only matches absent, never an empty value). Names and values are
/// percent-encoded, including `%`, `=` and `&`, so the key is injective: no crafted value can
/// produce the key of a different set of values. Non-ASCII bytes are encoded too, keeping the key
/// readable in logs.
pub fn vary_key(fields: &[HeaderName], req_headers: &HeaderMap) -> String {
    let mut names: Vec<&HeaderName> = fields.iter().collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    let mut key = String::new();
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            key.push('&');
        }
        escape_into(&mut key, name.as_str().as_bytes());
        if let Some(value) = normalised_value(req_headers, name) {
            key.push('=');
            escape_into(&mut key, &value);
        }
    }
    key
}

fn normalised_value(headers: &HeaderMap, name: &HeaderName) -> Option<Vec<u8>> {
    let mut lines = headers.get_all(name).iter();
    let mut combined = trim_ows(lines.next()?.as_bytes()).to_vec();
    for line in lines {
        combined.extend_from_slice(b", ");
        combined.extend_from_slice(trim_ows(line.as_bytes()));
    }
    Some(split_list(&combined).join(&b","[..]))
}

fn escape_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~,;:/*+!()'".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_cache::test_support::headers;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn names(list: &[&str]) -> Vec<HeaderName> {
        list.iter()
            .map(|n| HeaderName::from_bytes(n.as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn vary_fields_normalise() {
        let h = headers(&[
            ("vary", "Accept-Encoding, Origin"),
            ("vary", " accept-encoding ,, X-Foo"),
            ("vary", "bad name"),
        ]);
        assert_eq!(
            vary_fields(&h).unwrap(),
            names(&["accept-encoding", "origin", "x-foo"])
        );
        assert!(vary_fields(&HeaderMap::new()).unwrap().is_empty());
        assert_eq!(
            vary_fields(&headers(&[("vary", "origin, *")])),
            Err(VaryStar)
        );
        assert_eq!(
            vary_fields(&headers(&[("vary", "origin"), ("vary", "*")])),
            Err(VaryStar)
        );
        assert_eq!(
            VaryStar.to_string(),
            "response varies on `*`, so no later request can match it"
        );
    }

    #[test]
    fn vary_key_table() {
        let fields = names(&["accept-encoding", "accept-language"]);
        let key = |pairs: &[(&str, &str)]| vary_key(&fields, &headers(pairs));
        let a = key(&[("accept-encoding", "gzip, br"), ("accept-language", "en")]);
        assert_eq!(a, "accept-encoding=gzip,br&accept-language=en");
        // OWS around commas, empty members and line splits normalise away
        assert_eq!(
            key(&[
                ("accept-encoding", "gzip ,\tbr,"),
                ("accept-language", "en")
            ]),
            a
        );
        assert_eq!(
            key(&[
                ("accept-encoding", "gzip"),
                ("accept-encoding", "br"),
                ("accept-language", "en")
            ]),
            a
        );
        // order and case of members are significant
        assert_ne!(
            key(&[("accept-encoding", "br, gzip"), ("accept-language", "en")]),
            a
        );
        assert_ne!(
            key(&[("accept-encoding", "GZIP, br"), ("accept-language", "en")]),
            a
        );
        // absent differs from empty
        assert_eq!(
            key(&[("accept-encoding", "gzip")]),
            "accept-encoding=gzip&accept-language"
        );
        assert_eq!(
            key(&[("accept-encoding", "gzip"), ("accept-language", "")]),
            "accept-encoding=gzip&accept-language="
        );
        // commas inside quoted strings are not separators
        assert_ne!(
            key(&[("accept-encoding", "\"a , b\"")]),
            key(&[("accept-encoding", "\"a,b\"")])
        );
        // separators in values are escaped
        assert_eq!(
            key(&[("accept-encoding", "x&accept-language=en")]),
            "accept-encoding=x%26accept-language%3Den&accept-language"
        );
        // field order given by the caller does not matter; no fields gives the empty key
        assert_eq!(
            vary_key(
                &names(&["accept-language", "accept-encoding", "accept-language"]),
                &headers(&[("accept-encoding", "gzip, br"), ("accept-language", "en")])
            ),
            a
        );
        assert_eq!(vary_key(&[], &headers(&[("accept-encoding", "gzip")])), "");
    }

    #[test]
    fn vary_key_escapes_obs_text() {
        let mut h = HeaderMap::new();
        h.insert("x-a", HeaderValue::from_bytes(b"\xff%").unwrap());
        assert_eq!(vary_key(&names(&["x-a"]), &h), "x-a=%FF%25");
    }

    /// Field values built mostly from the characters an attacker would use to confuse a naive key.
    fn value() -> impl Strategy<Value = Option<Vec<Vec<u8>>>> {
        let byte = prop::sample::select(b"a=&%, ;\"\\\t\xff-".to_vec());
        let line = prop::collection::vec(byte, 0..8);
        prop::option::of(prop::collection::vec(line, 1..3))
    }

    fn build(fields: &[HeaderName], values: &[Option<Vec<Vec<u8>>>]) -> Option<HeaderMap> {
        let mut h = HeaderMap::new();
        for (name, lines) in fields.iter().zip(values) {
            for line in lines.iter().flatten() {
                h.append(name.clone(), HeaderValue::from_bytes(line).ok()?);
            }
        }
        Some(h)
    }

    proptest! {
        #[test]
        fn vary_key_is_injective(a in prop::collection::vec(value(), 3), b in prop::collection::vec(value(), 3)) {
            let fields = names(&["x-a", "x-a&x-b", "x-a%26"]);
            let (Some(ha), Some(hb)) = (build(&fields, &a), build(&fields, &b)) else {
                return Ok(());
            };
            let same_values = fields
                .iter()
                .all(|f| normalised_value(&ha, f) == normalised_value(&hb, f));
            prop_assert_eq!(vary_key(&fields, &ha) == vary_key(&fields, &hb), same_values);
        }
    }
}
