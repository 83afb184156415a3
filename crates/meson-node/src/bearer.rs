//! `Authorization: Bearer <token>` checks for operator and admin endpoints.

use http::{header, HeaderMap};

/// Whether `headers` present `expected` as a bearer token. The comparison takes the same time wherever
/// the first differing byte is, so the token cannot be guessed byte by byte from response times.
pub fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = expected.as_bytes();
    presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn only_the_exact_token_matches() {
        assert!(bearer_matches(&with("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cret!"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer S3cret"), "s3cret"));
        assert!(!bearer_matches(&with("s3cret"), "s3cret"));
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret"));
    }
}
