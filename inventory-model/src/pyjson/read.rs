//! JSON text read as Python's `json.loads` reads it.
//!
//! Hand-written because exactness says so: upstream's generator writes what Python's
//! `json` module accepts and strict JSON parsers (serde_json) refuse: `NaN`, `Infinity`
//! and `-Infinity` (from YAML's `.nan` and `.inf`), and integers of any size. An upstream
//! inventory holding them must load, and be written back unchanged. Everything else
//! follows the JSON grammar exactly as `json.loads` does: no comments, no trailing
//! commas, no control characters inside strings, whitespace limited to space, tab, CR
//! and LF, the last of duplicate keys wins (the builder's choice).
//!
//! The parser hands values to a [`Builder`], so the generator builds its compact
//! values and `inventory-manage` its ordered documents from the same grammar.

use std::fmt;

/// Nesting deeper than this is refused, as serde_json does at the same depth (the
/// generator never writes deeper, see `model::MAX_DEPTH`).
pub const MAX_NESTING: usize = 128;

/// A number as Python reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number<'a> {
    Int(i64),
    UInt(u64),
    /// An integer beyond 64 bits: its digits (with a leading `-` if negative), as
    /// written. Python keeps it exact and writes it back the same.
    Big(&'a str),
    /// Any number with a fraction or an exponent (`1e400` is infinite, as `float()`
    /// makes it), and `NaN`, `Infinity`, `-Infinity`.
    Float(f64),
}

/// What the parser builds values with. Containers are handed over as a drain of the
/// parser's own stack, so building one allocates only what the builder keeps.
pub trait Builder {
    type Value;
    type Key;
    fn null(&mut self) -> Self::Value;
    fn bool(&mut self, value: bool) -> Self::Value;
    fn number(&mut self, value: Number<'_>) -> Self::Value;
    fn string(&mut self, value: &str) -> Self::Value;
    fn key(&mut self, value: &str) -> Self::Key;
    fn list(&mut self, items: std::vec::Drain<'_, Self::Value>) -> Self::Value;
    fn map(&mut self, entries: std::vec::Drain<'_, (Self::Key, Self::Value)>) -> Self::Value;
}

/// Why a text is not JSON, and where (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: &'static str,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for SyntaxError {}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse<B: Builder>(text: &str, builder: &mut B) -> Result<B::Value, SyntaxError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
        values: Vec::new(),
        entries: Vec::new(),
        scratch: String::new(),
    };
    parser.skip_whitespace();
    let value = parser.value(builder, 0)?;
    parser.skip_whitespace();
    if parser.at < parser.bytes.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

struct Parser<'t, B: Builder> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    /// Items of the lists being read, innermost last.
    values: Vec<B::Value>,
    /// Entries of the objects being read, innermost last.
    entries: Vec<(B::Key, B::Value)>,
    /// A string with escapes, decoded.
    scratch: String,
}

impl<'t, B: Builder> Parser<'t, B> {
    fn error(&self, message: &'static str) -> SyntaxError {
        let at = self.at.min(self.bytes.len());
        let before = &self.text[..floor_char_boundary(self.text, at)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        SyntaxError {
            message,
            line,
            column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat_literal(&mut self, literal: &[u8]) -> bool {
        if self.bytes[self.at..].starts_with(literal) {
            self.at += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, builder: &mut B, depth: usize) -> Result<B::Value, SyntaxError> {
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'{') => self.object(builder, depth + 1),
            Some(b'[') => self.array(builder, depth + 1),
            Some(b'"') => {
                let s = self.string()?;
                Ok(builder.string(s))
            }
            Some(b'n') if self.eat_literal(b"null") => Ok(builder.null()),
            Some(b't') if self.eat_literal(b"true") => Ok(builder.bool(true)),
            Some(b'f') if self.eat_literal(b"false") => Ok(builder.bool(false)),
            Some(b'N') if self.eat_literal(b"NaN") => Ok(builder.number(Number::Float(f64::NAN))),
            Some(b'I') if self.eat_literal(b"Infinity") => {
                Ok(builder.number(Number::Float(f64::INFINITY)))
            }
            Some(b'-') if self.bytes[self.at..].starts_with(b"-Infinity") => {
                self.at += b"-Infinity".len();
                Ok(builder.number(Number::Float(f64::NEG_INFINITY)))
            }
            Some(b'-' | b'0'..=b'9') => {
                let number = self.number()?;
                Ok(builder.number(number))
            }
            Some(_) => Err(self.error("expected value")),
        }
    }

    fn array(&mut self, builder: &mut B, depth: usize) -> Result<B::Value, SyntaxError> {
        if depth > MAX_NESTING {
            return Err(self.error("recursion limit exceeded"));
        }
        self.at += 1;
        let start = self.values.len();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(builder.list(self.values.drain(start..)));
        }
        loop {
            self.skip_whitespace();
            let item = self.value(builder, depth)?;
            self.values.push(item);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(builder.list(self.values.drain(start..)));
                }
                None => return Err(self.error("EOF while parsing a list")),
                Some(_) => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, builder: &mut B, depth: usize) -> Result<B::Value, SyntaxError> {
        if depth > MAX_NESTING {
            return Err(self.error("recursion limit exceeded"));
        }
        self.at += 1;
        let start = self.entries.len();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(builder.map(self.entries.drain(start..)));
        }
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error("EOF while parsing an object")),
                Some(_) => return Err(self.error("key must be a string")),
            }
            let key = {
                let s = self.string()?;
                builder.key(s)
            };
            self.skip_whitespace();
            match self.peek() {
                Some(b':') => self.at += 1,
                None => return Err(self.error("EOF while parsing an object")),
                Some(_) => return Err(self.error("expected `:`")),
            }
            self.skip_whitespace();
            let value = self.value(builder, depth)?;
            self.entries.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(builder.map(self.entries.drain(start..)));
                }
                None => return Err(self.error("EOF while parsing an object")),
                Some(_) => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, Python's number pattern.
    fn number(&mut self) -> Result<Number<'t>, SyntaxError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.error("invalid number")),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.at + 1), Some(b'0'..=b'9')) {
            integral = false;
            self.at += 1;
            self.skip_digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            let mut exponent = self.at + 1;
            if let Some(b'-' | b'+') = self.bytes.get(exponent) {
                exponent += 1;
            }
            if matches!(self.bytes.get(exponent), Some(b'0'..=b'9')) {
                integral = false;
                self.at = exponent;
                self.skip_digits();
            }
        }
        let text = &self.text[start..self.at];
        if !integral {
            // Rust's parser rounds correctly, as Python's `float()` does, and also
            // gives infinity beyond the largest double.
            return text
                .parse::<f64>()
                .map(Number::Float)
                .map_err(|_| self.error("invalid number"));
        }
        if let Ok(n) = text.parse::<i64>() {
            Ok(Number::Int(n))
        } else if let Ok(n) = text.parse::<u64>() {
            Ok(Number::UInt(n))
        } else {
            Ok(Number::Big(text))
        }
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    /// A string at `"`: borrowed from the text when it has no escapes, else decoded
    /// into the scratch buffer.
    fn string(&mut self) -> Result<&str, SyntaxError> {
        self.at += 1;
        let start = self.at;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(&self.text[start..self.at - 1]);
                }
                Some(b'\\') => break,
                Some(0..=0x1f) => return Err(self.error("control character in a string")),
                Some(_) => self.at += 1,
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
        let mut decoded = std::mem::take(&mut self.scratch);
        decoded.clear();
        decoded.push_str(&self.text[start..self.at]);
        let result = self.escaped_rest(&mut decoded);
        self.scratch = decoded;
        result?;
        Ok(&self.scratch)
    }

    /// The rest of a string from its first `\`, decoded into `out`.
    fn escaped_rest(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        loop {
            let run = self.at;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(&self.text[run..self.at]);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.at += 1;
                    let Some(escape) = self.peek() else {
                        return Err(self.error("EOF while parsing a string"));
                    };
                    self.at += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let c = self.unicode_escape()?;
                            out.push(c);
                        }
                        _ => {
                            self.at -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    }
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
    }

    /// After `\u`: four hex digits, and a second escape for a surrogate pair. A lone
    /// surrogate (which Python would keep) has no UTF-8 form, and is refused.
    fn unicode_escape(&mut self) -> Result<char, SyntaxError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.eat_literal(b"\\u") {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
            _ => first,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let digits = self.bytes.get(self.at..self.at + 4);
        let value = digits
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .and_then(|d| u32::from_str_radix(std::str::from_utf8(d).ok()?, 16).ok());
        match value {
            Some(v) => {
                self.at += 4;
                Ok(v)
            }
            None => Err(self.error("invalid escape")),
        }
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a plain description of the values, to check what the parser hands over.
    struct Describe;

    impl Builder for Describe {
        type Value = String;
        type Key = String;
        fn null(&mut self) -> String {
            "null".into()
        }
        fn bool(&mut self, value: bool) -> String {
            value.to_string()
        }
        fn number(&mut self, value: Number<'_>) -> String {
            format!("{value:?}")
        }
        fn string(&mut self, value: &str) -> String {
            format!("{value:?}")
        }
        fn key(&mut self, value: &str) -> String {
            value.to_string()
        }
        fn list(&mut self, items: std::vec::Drain<'_, String>) -> String {
            format!("[{}]", items.collect::<Vec<_>>().join(","))
        }
        fn map(&mut self, entries: std::vec::Drain<'_, (String, String)>) -> String {
            let entries: Vec<String> = entries.map(|(k, v)| format!("{k}={v}")).collect();
            format!("{{{}}}", entries.join(","))
        }
    }

    fn read(text: &str) -> Result<String, String> {
        parse(text, &mut Describe).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_what_python_writes() {
        assert_eq!(
            read(" {\"a\": [1, -2, 1.5, true, false, null], \"b\": {}, \"c\": []}\n").unwrap(),
            "{a=[Int(1),Int(-2),Float(1.5),true,false,null],b={},c=[]}"
        );
        assert_eq!(
            read("[NaN, Infinity, -Infinity]").unwrap(),
            "[Float(NaN),Float(inf),Float(-inf)]"
        );
        assert_eq!(
            read("[18446744073709551615, 18446744073709551616, -9223372036854775809]").unwrap(),
            "[UInt(18446744073709551615),Big(\"18446744073709551616\"),Big(\"-9223372036854775809\")]"
        );
        assert_eq!(
            read("[1e400, -0.0, 1E2]").unwrap(),
            "[Float(inf),Float(-0.0),Float(100.0)]"
        );
        assert_eq!(
            read(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00z""#).unwrap(),
            format!("{:?}", "a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1f600}z")
        );
    }

    #[test]
    fn refuses_what_python_refuses() {
        for (text, message) in [
            ("", "EOF while parsing a value at line 1 column 1"),
            ("[1,]", "expected value at line 1 column 4"),
            ("{\"a\":1,}", "key must be a string at line 1 column 8"),
            ("[01]", "expected `,` or `]` at line 1 column 3"),
            ("[1.]", "expected `,` or `]` at line 1 column 3"),
            ("[.5]", "expected value at line 1 column 2"),
            ("[-]", "invalid number at line 1 column 3"),
            ("[nan]", "expected value at line 1 column 2"),
            ("[+1]", "expected value at line 1 column 2"),
            ("{'a': 1}", "key must be a string at line 1 column 2"),
            (
                "\"a\tb\"",
                "control character in a string at line 1 column 3",
            ),
            ("\"\\x\"", "invalid escape at line 1 column 3"),
            (
                "\"\\ud800\"",
                "lone leading surrogate in hex escape at line 1 column 8",
            ),
            (
                "\"\\udc00\"",
                "lone trailing surrogate in hex escape at line 1 column 8",
            ),
            ("{}\n\u{e9}x", "trailing characters at line 2 column 1"),
            ("[1 // c\n]", "expected `,` or `]` at line 1 column 4"),
            ("\u{a0}1", "expected value at line 1 column 1"),
        ] {
            assert_eq!(read(text).unwrap_err(), message, "{text:?}");
        }
    }

    #[test]
    fn nesting_stops_where_serde_json_stops() {
        let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(read(&ok).is_ok());
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_NESTING + 1),
            "]".repeat(MAX_NESTING + 1)
        );
        assert!(
            read(&deep)
                .unwrap_err()
                .starts_with("recursion limit exceeded")
        );
        let deep = format!("{}1", "{\"a\":".repeat(MAX_NESTING + 1));
        assert!(
            read(&deep)
                .unwrap_err()
                .starts_with("recursion limit exceeded")
        );
    }

    #[test]
    fn agrees_with_serde_json_on_standard_json() {
        let text = r#"{"k": [1, 2.5e-3, "x\u0041", {"n": null, "b": [true, false]}], "": -0}"#;
        let ours = read(text).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            ours,
            "{k=[Int(1),Float(0.0025),\"xA\",{n=null,b=[true,false]}],=Int(0)}"
        );
        assert_eq!(theirs["k"][2], "xA");
    }
}
