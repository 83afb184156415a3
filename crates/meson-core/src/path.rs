//! Request paths made canonical before they become cache keys (RFC 3986 §6.2.2).
//!
//! Two spellings of one resource (`/a/./b`, `/a/%62`, `/a/c/../b`) must share one cache entry, and no path
//! may climb above the root. Cache keys are never used as file names (objects are named by a hash), so
//! this is about correctness and cache poisoning, not about reaching the data directory.

/// Why a request path is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("path must start with '/'")]
    NotAbsolute,
    #[error("invalid percent-encoding in path")]
    BadEscape,
    #[error("path contains a NUL or control character")]
    Control,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes percent-escapes of unreserved characters, upper-cases the others, and removes dot segments.
pub fn normalize(path: &str) -> Result<String, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex_val),
                bytes.get(i + 2).copied().and_then(hex_val),
            ) else {
                return Err(PathError::BadEscape);
            };
            let v = h << 4 | l;
            if v < 0x20 || v == 0x7f {
                return Err(PathError::Control);
            }
            if is_unreserved(v) {
                out.push(v as char);
            } else {
                out.push_str(&format!("%{v:02X}"));
            }
            i += 3;
        } else {
            if b < 0x20 || b == 0x7f {
                return Err(PathError::Control);
            }
            out.push(b as char);
            i += 1;
        }
    }
    Ok(remove_dot_segments(&out))
}

/// RFC 3986 §5.2.4 on an absolute path: `..` never climbs above `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut parts = path.split('/').skip(1).peekable();
    let mut trailing_slash = false;
    while let Some(seg) = parts.next() {
        let last = parts.peek().is_none();
        match seg {
            "." => trailing_slash = last,
            ".." => {
                segments.pop();
                trailing_slash = last;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/c/../b", "/a/b"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/%2e%2e/%2E%2E/etc/passwd", "/etc/passwd"),
            ("/a/%62", "/a/b"),
            ("/a%2fb", "/a%2Fb"),
            ("/a/..", "/"),
            ("/a/b/.", "/a/b/"),
            ("/a//b", "/a//b"),
            ("/caf%c3%a9", "/caf%C3%A9"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(normalize("a/b"), Err(PathError::NotAbsolute));
        assert_eq!(normalize("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(normalize("/a%2"), Err(PathError::BadEscape));
        assert_eq!(normalize("/a%00b"), Err(PathError::Control));
        assert_eq!(normalize("/a%0a"), Err(PathError::Control));
    }
}
