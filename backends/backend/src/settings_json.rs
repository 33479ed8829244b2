//! The settings crossing the plugin ABI: a flat JSON object of strings.
//!
//! The host encodes a section's settings with [`encode`]
//! (`{"database":"/var/lib/osa/inventory.sqlite"}`, keys in sorted order) and
//! the SDK decodes them with [`decode`]. Both are hand written so that the SDK
//! needs no JSON library; [`decode`] accepts any JSON object whose values are
//! all strings (any white space, any escapes), so a host written otherwise
//! would do too.

use crate::{BackendError, Settings};

/// `settings` as a JSON object, keys in sorted order, nothing but the
/// escapes JSON requires (`"`, `\`, control characters).
pub fn encode(settings: &Settings) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in settings.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, key);
        out.push(':');
        push_string(&mut out, value);
    }
    out.push('}');
    out
}

/// `s` as a JSON string (with its quotes).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(&mut out, s);
    out
}

fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decodes a JSON object whose values are all strings. A key given twice is
/// an error (osa.ini cannot produce one).
pub fn decode(text: &str) -> Result<Settings, BackendError> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    p.parse_object().map_err(|m| {
        BackendError::new(format_args!(
            "the settings are not a JSON object of strings: {m}"
        ))
    })
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn parse_object(&mut self) -> Result<Settings, String> {
        let mut settings = Settings::new();
        self.skip_ws();
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                let key = self.parse_string()?;
                self.skip_ws();
                self.expect(b':')?;
                self.skip_ws();
                let value = match self.peek() {
                    Some(b'"') => self.parse_string()?,
                    _ => {
                        return Err(format!(
                            "the value of '{key}' is not a string (at byte {})",
                            self.pos
                        ));
                    }
                };
                if settings.insert(key.clone(), value).is_some() {
                    return Err(format!("key '{key}' appears twice"));
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.unexpected("',' or '}'")),
                }
            }
        }
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(format!(
                "unexpected text after the object at byte {}",
                self.pos
            ));
        }
        Ok(settings)
    }

    fn parse_string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            // Copy the run of plain characters at once (the input is valid UTF-8
            // and both '"' and '\\' are ASCII, so slicing there is safe).
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.next() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => {
                    let c = match self.next() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.parse_unicode_escape()?,
                        _ => return Err(format!("invalid escape at byte {}", self.pos - 1)),
                    };
                    out.push(c);
                }
                Some(_) => {
                    return Err(format!(
                        "control character in a string at byte {}",
                        self.pos - 1
                    ));
                }
                None => return Err("unterminated string".to_string()),
            }
        }
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair.
    fn parse_unicode_escape(&mut self) -> Result<char, String> {
        let at = self.pos;
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                return Err(format!("unpaired surrogate at byte {at}"));
            }
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(format!("unpaired surrogate at byte {at}"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| format!("invalid \\u escape at byte {at}"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let at = self.pos;
        let digits = self
            .bytes
            .get(at..at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("invalid \\u escape at byte {at}"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| format!("invalid \\u escape at byte {at}"))
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        if b.is_some() {
            self.pos += 1;
        }
        b
    }

    fn expect(&mut self, want: u8) -> Result<(), String> {
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{}'", want as char)))
        }
    }

    /// What is wrong at the current position (which is not consumed).
    fn unexpected(&self, wanted: &str) -> String {
        if self.pos >= self.bytes.len() {
            format!("expected {wanted}, found the end")
        } else {
            format!("expected {wanted} at byte {}", self.pos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn round_trip() {
        let s = settings(&[
            ("database", "/var/lib/osa/inventory.sqlite"),
            ("quote", "say \"hi\" \\ back"),
            ("controls", "a\nb\tc\r\u{1}\u{1f}"),
            ("unicode", "é ü 漢 🦀"),
            ("empty", ""),
        ]);
        let text = encode(&s);
        assert_eq!(decode(&text).unwrap(), s);
        assert_eq!(encode(&Settings::new()), "{}");
        assert_eq!(decode("{}").unwrap(), Settings::new());
    }

    #[test]
    fn encoding_is_sorted_and_minimal() {
        let s = settings(&[("b", "2"), ("a", "x\"y")]);
        assert_eq!(encode(&s), r#"{"a":"x\"y","b":"2"}"#);
        assert_eq!(quote("\u{1}"), r#""\u0001""#);
    }

    #[test]
    fn any_json_object_of_strings_decodes() {
        let text = " {\n \"a\" : \"\\u00e9\\/\\b\\f\" ,\"b\":\"\\ud83e\\udd80\"}\n";
        assert_eq!(
            decode(text).unwrap(),
            settings(&[("a", "é/\u{8}\u{c}"), ("b", "🦀")])
        );
    }

    #[test]
    fn everything_else_is_an_error() {
        for (text, expected) in [
            ("", "expected '{', found the end"),
            ("[]", "expected '{' at byte 0"),
            (r#"{"a":1}"#, "the value of 'a' is not a string"),
            (r#"{"a":"x","a":"y"}"#, "key 'a' appears twice"),
            (r#"{"a":"x"} x"#, "unexpected text after the object"),
            (r#"{"a":"x""#, "expected ',' or '}', found the end"),
            (r#"{"a":"x"#, "unterminated string"),
            (r#"{"a":"\q"}"#, "invalid escape"),
            (r#"{"a":"\u12"}"#, "invalid \\u escape"),
            (r#"{"a":"\ud800"}"#, "unpaired surrogate"),
            ("{\"a\":\"\n\"}", "control character"),
            (r#"{a:"x"}"#, "expected '\"'"),
        ] {
            let err = decode(text).unwrap_err().to_string();
            assert!(
                err.starts_with("the settings are not a JSON object of strings: "),
                "{text}: {err}"
            );
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
