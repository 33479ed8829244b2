//! JSON text exactly as Python's `json.dumps(obj, indent=4, separators=(',', ': '),
//! sort_keys=True)` writes it, followed by the newline `print` adds.
//!
//! Byte-for-byte equality with the upstream generator's output matters: operators diff
//! inventories and keep them in version control, and the unchanged-inventory check
//! compares these bytes.
//!
//! Why not serde_json with a custom `Formatter`: the values are the model's own compact
//! ones ([`Val`], not `Serialize` data), the floats must print as Python's `repr` and
//! `NaN`/`Infinity` must print at all (serde_json writes `null` for them), and the same
//! writer feeds a hasher ([`Fingerprinter`]) to tell an unchanged inventory without
//! building its text. The reader ([`read`]) is hand-written for the same exactness.

use crate::value::{Map, Val};

pub mod read;

/// Where serialized bytes go: a buffer, or a hasher when only a fingerprint is needed.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Hashes what is written, in blocks: the writer emits many tiny pieces (quotes,
/// indentation), which are cheaper to copy than to feed to the hasher one by one.
pub struct Fingerprinter {
    hasher: xxhash_rust::xxh3::Xxh3,
    block: Vec<u8>,
}

const BLOCK: usize = 64 * 1024;

impl Fingerprinter {
    pub fn new() -> Self {
        Fingerprinter {
            hasher: xxhash_rust::xxh3::Xxh3::new(),
            block: Vec::with_capacity(BLOCK),
        }
    }

    pub fn finish(mut self) -> u128 {
        self.hasher.update(&self.block);
        self.hasher.digest128()
    }
}

impl Default for Fingerprinter {
    fn default() -> Self {
        Fingerprinter::new()
    }
}

impl Sink for Fingerprinter {
    fn put(&mut self, bytes: &[u8]) {
        if self.block.len() + bytes.len() > BLOCK {
            self.hasher.update(&self.block);
            self.block.clear();
        }
        if bytes.len() >= BLOCK {
            self.hasher.update(bytes);
        } else {
            self.block.extend_from_slice(bytes);
        }
    }
}

/// A pretty-printer that tracks indentation; callers drive objects and arrays.
pub struct Writer<'a, S: Sink> {
    out: &'a mut S,
    depth: usize,
}

/// The state of one open object or array: whether an item was written yet.
pub struct Open {
    empty: bool,
}

impl<'a, S: Sink> Writer<'a, S> {
    pub fn new(out: &'a mut S) -> Self {
        Writer { out, depth: 0 }
    }

    fn newline(&mut self) {
        self.out.put(b"\n");
        for _ in 0..self.depth {
            self.out.put(b"    ");
        }
    }

    pub fn begin_object(&mut self) -> Open {
        self.out.put(b"{");
        self.depth += 1;
        Open { empty: true }
    }

    pub fn begin_array(&mut self) -> Open {
        self.out.put(b"[");
        self.depth += 1;
        Open { empty: true }
    }

    /// Starts the next member of an object; the value must be written next.
    pub fn key(&mut self, open: &mut Open, key: &str) {
        self.item(open);
        write_string(self.out, key);
        self.out.put(b": ");
    }

    /// Starts the next element of an array; the value must be written next.
    pub fn item(&mut self, open: &mut Open) {
        if !open.empty {
            self.out.put(b",");
        }
        open.empty = false;
        self.newline();
    }

    pub fn end_object(&mut self, open: Open) {
        self.depth -= 1;
        if !open.empty {
            self.newline();
        }
        self.out.put(b"}");
    }

    pub fn end_array(&mut self, open: Open) {
        self.depth -= 1;
        if !open.empty {
            self.newline();
        }
        self.out.put(b"]");
    }

    pub fn string(&mut self, s: &str) {
        write_string(self.out, s);
    }

    /// An array of strings, in the given order.
    pub fn strings<T: AsRef<str>>(&mut self, items: impl IntoIterator<Item = T>) {
        let mut open = self.begin_array();
        for s in items {
            self.item(&mut open);
            write_string(self.out, s.as_ref());
        }
        self.end_array(open);
    }

    pub fn val(&mut self, value: &Val) {
        match value {
            Val::Null => self.out.put(b"null"),
            Val::Bool(true) => self.out.put(b"true"),
            Val::Bool(false) => self.out.put(b"false"),
            Val::Int(n) => self.out.put(n.to_string().as_bytes()),
            Val::UInt(n) => self.out.put(n.to_string().as_bytes()),
            Val::Big(digits) => self.out.put(digits.as_bytes()),
            Val::Float(f) => self.out.put(python_float_repr(*f).as_bytes()),
            Val::Str(s) => write_string(self.out, s),
            Val::List(items) => {
                let mut open = self.begin_array();
                for item in items {
                    self.item(&mut open);
                    self.val(item);
                }
                self.end_array(open);
            }
            Val::Map(map) => self.map(map),
        }
    }

    /// An object; its keys are already in sorted order, as `sort_keys=True` prints them.
    pub fn map(&mut self, map: &Map) {
        let mut open = self.begin_object();
        for (key, value) in map.iter() {
            self.key(&mut open, key);
            self.val(value);
        }
        self.end_object(open);
    }

    /// Ends the document with the newline Python's `print` adds.
    pub fn finish(self) {
        self.out.put(b"\n");
    }
}

/// Serializes one value as a whole document.
pub fn to_text(value: &Val) -> String {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out);
    w.val(value);
    w.finish();
    // The writer only emits ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes a string the way `json.dumps(ensure_ascii=True)` does: printable ASCII as is,
/// the usual short escapes, everything else as `\uXXXX` (lowercase hex, surrogate pairs
/// above U+FFFF).
pub fn write_string<S: Sink + ?Sized>(out: &mut S, s: &str) {
    out.put(b"\"");
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let plain = (' '..='~').contains(&c) && c != '"' && c != '\\';
        if plain {
            continue;
        }
        out.put(&bytes[start..i]);
        start = i + c.len_utf8();
        match c {
            '"' => out.put(b"\\\""),
            '\\' => out.put(b"\\\\"),
            '\n' => out.put(b"\\n"),
            '\r' => out.put(b"\\r"),
            '\t' => out.put(b"\\t"),
            '\u{8}' => out.put(b"\\b"),
            '\u{c}' => out.put(b"\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.put(format!("\\u{:04x}", unit).as_bytes());
                }
            }
        }
    }
    out.put(&bytes[start..]);
    out.put(b"\"");
}

/// `repr(float)` of Python: the shortest digits that round-trip, in positional form
/// when the decimal exponent is in [-4, 16), else in scientific form with a signed,
/// at least two-digit exponent.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-5".
    let sci = format!("{:e}", f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // Position of the decimal point relative to the digits: value = 0.DIGITS * 10^decpt.
    let decpt = exp + 1;
    let n = digits.len() as i32;
    let body = if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
        } else if decpt >= n {
            format!("{}{}.0", digits, "0".repeat((decpt - n) as usize))
        } else {
            let (int, frac) = digits.split_at(decpt as usize);
            format!("{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let exp_sign = if exp < 0 { '-' } else { '+' };
        if rest.is_empty() {
            format!("{first}e{exp_sign}{:02}", exp.abs())
        } else {
            format!("{first}.{rest}e{exp_sign}{:02}", exp.abs())
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (-2.5, "-2.5"),
            (-0.0, "-0.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (12345.678, "12345.678"),
            (0.00012, "0.00012"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        let mut out = Vec::new();
        write_string(&mut out, "a\"b\\c\n\t\u{7f}é😀\u{1}~ ");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\c\n\t\u007f\u00e9\ud83d\ude00\u0001~ ""#
        );
    }

    #[test]
    fn documents_are_indented_sorted_and_end_with_newline() {
        let v = json!({"b": [1, {"z": null, "a": true}], "a": {}, "c": [], "_m": "x"});
        assert_eq!(
            to_text(&Val::from_json(&v)),
            "{\n    \"_m\": \"x\",\n    \"a\": {},\n    \"b\": [\n        1,\n        {\n            \"a\": true,\n            \"z\": null\n        }\n    ],\n    \"c\": []\n}\n"
        );
    }
}
