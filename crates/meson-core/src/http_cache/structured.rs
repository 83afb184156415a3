//! Just enough of RFC 8941 Structured Fields to read a Dictionary, which is what RFC 9213 makes
//! CDN-Cache-Control. The parser is strict on purpose: RFC 9213 §2.1 says a targeted field that fails
//! to parse is ignored and the cache falls back to Cache-Control, so accepting a sloppy value would
//! let it override Cache-Control when other CDNs would not.

/// A dictionary member's value. Parameters are parsed (so their syntax is checked) and dropped:
/// RFC 9213 §2.1 says parameters on cache directives are ignored unless a directive says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member {
    Integer(i64),
    Decimal,
    String(Vec<u8>),
    Token(Vec<u8>),
    ByteSequence,
    Boolean(bool),
    InnerList,
}

/// Parses the combined field lines as one Dictionary. Duplicate keys keep the last value, as
/// RFC 8941 §4.2.2 requires. `None` on any syntax error.
pub(crate) fn parse_dictionary(input: &[u8]) -> Option<Vec<(String, Member)>> {
    let mut p = Parser { s: input, i: 0 };
    p.skip_sp();
    let mut members: Vec<(String, Member)> = Vec::new();
    while !p.at_end() {
        let key = p.key()?;
        let value = if p.eat(b'=') {
            p.item_or_inner_list()?
        } else {
            p.parameters()?;
            Member::Boolean(true)
        };
        members.retain(|(k, _)| *k != key);
        members.push((key, value));
        p.skip_ows();
        if p.at_end() {
            break;
        }
        if !p.eat(b',') {
            return None;
        }
        p.skip_ows();
        if p.at_end() {
            return None; // a trailing comma is an error in RFC 8941
        }
    }
    Some(members)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn key(&mut self) -> Option<String> {
        let start = self.i;
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => self.i += 1,
            _ => return None,
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
        ) {
            self.i += 1;
        }
        // Only ASCII was accepted above, so this cannot fail; `ok()` keeps the parser panic-free.
        String::from_utf8(self.s[start..self.i].to_vec()).ok()
    }

    fn item_or_inner_list(&mut self) -> Option<Member> {
        if self.eat(b'(') {
            loop {
                self.skip_sp();
                if self.eat(b')') {
                    break;
                }
                self.bare_item()?;
                self.parameters()?;
                if !matches!(self.peek(), Some(b' ' | b')')) {
                    return None;
                }
            }
            self.parameters()?;
            return Some(Member::InnerList);
        }
        let item = self.bare_item()?;
        self.parameters()?;
        Some(item)
    }

    fn parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip_sp();
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Some(())
    }

    fn bare_item(&mut self) -> Option<Member> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => self.string(),
            b':' => self.byte_sequence(),
            b'?' => self.boolean(),
            b'A'..=b'Z' | b'a'..=b'z' | b'*' => Some(self.token()),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Member> {
        let negative = self.eat(b'-');
        let start = self.i;
        let mut dot = None;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' => {}
                b'.' if dot.is_none() => dot = Some(self.i),
                _ => break,
            }
            self.i += 1;
            let len = self.i - start;
            if (dot.is_none() && len > 15) || len > 16 {
                return None;
            }
        }
        let digits = &self.s[start..self.i];
        match dot {
            None => {
                if digits.is_empty() {
                    return None;
                }
                let n = std::str::from_utf8(digits).ok()?.parse::<i64>().ok()?;
                Some(Member::Integer(if negative { -n } else { n }))
            }
            Some(d) => {
                let int_len = d - start;
                let frac_len = self.i - d - 1;
                if int_len == 0 || int_len > 12 || frac_len == 0 || frac_len > 3 {
                    return None;
                }
                Some(Member::Decimal)
            }
        }
    }

    fn string(&mut self) -> Option<Member> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'\\' => {
                    self.i += 1;
                    match self.peek()? {
                        b @ (b'"' | b'\\') => out.push(b),
                        _ => return None,
                    }
                }
                b'"' => {
                    self.i += 1;
                    return Some(Member::String(out));
                }
                b @ 0x20..=0x7e => out.push(b),
                _ => return None,
            }
            self.i += 1;
        }
    }

    fn byte_sequence(&mut self) -> Option<Member> {
        self.i += 1;
        loop {
            match self.peek()? {
                b':' => {
                    self.i += 1;
                    return Some(Member::ByteSequence);
                }
                b if b.is_ascii_alphanumeric() || b"+/=".contains(&b) => self.i += 1,
                _ => return None,
            }
        }
    }

    fn boolean(&mut self) -> Option<Member> {
        self.i += 1;
        let value = match self.peek()? {
            b'0' => false,
            b'1' => true,
            _ => return None,
        };
        self.i += 1;
        Some(Member::Boolean(value))
    }

    fn token(&mut self) -> Member {
        let start = self.i;
        self.i += 1;
        while matches!(self.peek(), Some(b) if super::syntax::is_tchar(b) || b == b':' || b == b'/')
        {
            self.i += 1;
        }
        Member::Token(self.s[start..self.i].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(input: &str) -> Option<Vec<(String, Member)>> {
        parse_dictionary(input.as_bytes())
    }

    #[test]
    fn parses_cache_directive_dictionaries() {
        let d =
            keys("max-age=60, no-store, private=\"set-cookie\", x=tok/en;p=1, y=(1 2)").unwrap();
        assert_eq!(
            d,
            vec![
                ("max-age".into(), Member::Integer(60)),
                ("no-store".into(), Member::Boolean(true)),
                ("private".into(), Member::String(b"set-cookie".to_vec())),
                ("x".into(), Member::Token(b"tok/en".to_vec())),
                ("y".into(), Member::InnerList),
            ]
        );
        assert_eq!(keys("  a=?0,b=1.25,c=:aGk=:,d=-3").unwrap().len(), 4);
        assert_eq!(keys("").unwrap(), vec![]);
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        assert_eq!(
            keys("max-age=1, max-age=2").unwrap(),
            vec![("max-age".into(), Member::Integer(2))]
        );
    }

    #[test]
    fn rejects_what_rfc_8941_rejects() {
        for bad in [
            "Max-Age=60",
            "max-age=60,",
            "max-age==60",
            "max-age=\"unterminated",
            "max-age=1234567890123456",
            "a=1.2345",
            "a=1.",
            "a=?2",
            "a=:not base64!:",
            "a=\"\\n\"",
            "a b",
            "a=(1 2",
            "a=(1,2)",
            ",a",
            "a;P=1",
            "a=@123",
        ] {
            assert_eq!(keys(bad), None, "{bad:?}");
        }
    }
}
