//! The stored inventory as `json.loads` reads it, for the tables and the export: keys
//! in stored order, and the numbers strict JSON lacks (`NaN`, `Infinity`, `-Infinity`,
//! integers beyond 64 bits, which upstream writes from YAML's `.nan`, `.inf` and big
//! integers) kept as their text.
//!
//! serde_json's `Value` has no place for those numbers, so each is held as a string
//! with a marker no inventory holds ([`MARKER`]: it begins with a NUL character);
//! [`special_number`] tells them apart. A document holding a real string that begins
//! with the marker is refused rather than misread.

use inventory_model::pyjson::read::{self, Builder, Number};
use serde_json::{Map, Value};

/// The prefix of a string that stands for a number strict JSON lacks.
const MARKER: &str = "\0osa-json-number:";

/// Reads `text`; the error is the message for `Error::Corrupt`.
pub fn parse(text: &str) -> Result<Map<String, Value>, String> {
    let mut builder = DocumentBuilder { collision: None };
    let value = read::parse(text, &mut builder).map_err(|e| format!("not valid JSON: {e}"))?;
    if let Some(text) = builder.collision {
        return Err(format!(
            "it holds the string {text:?}, whose beginning inventory-manage uses to mark \
             numbers JSON lacks; remove it"
        ));
    }
    match value {
        Value::Object(map) => Ok(map),
        _ => Err("the inventory is not a JSON object".into()),
    }
}

/// The text of a number strict JSON lacks (`NaN`, `-Infinity`, `123456789012345678901`),
/// when `value` stands for one.
pub fn special_number(value: &Value) -> Option<&str> {
    value.as_str()?.strip_prefix(MARKER)
}

struct DocumentBuilder {
    /// The first real string or key found beginning with [`MARKER`].
    collision: Option<String>,
}

impl DocumentBuilder {
    fn check(&mut self, text: &str) {
        if self.collision.is_none() && text.starts_with(MARKER) {
            self.collision = Some(text.to_string());
        }
    }
}

impl Builder for DocumentBuilder {
    type Value = Value;
    type Key = String;

    fn null(&mut self) -> Value {
        Value::Null
    }

    fn bool(&mut self, value: bool) -> Value {
        Value::Bool(value)
    }

    fn number(&mut self, value: Number<'_>) -> Value {
        match value {
            Number::Int(n) => n.into(),
            Number::UInt(n) => n.into(),
            Number::Big(digits) => Value::String(format!("{MARKER}{digits}")),
            Number::Float(f) => match serde_json::Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None if f.is_nan() => Value::String(format!("{MARKER}NaN")),
                None if f > 0.0 => Value::String(format!("{MARKER}Infinity")),
                None => Value::String(format!("{MARKER}-Infinity")),
            },
        }
    }

    fn string(&mut self, value: &str) -> Value {
        self.check(value);
        Value::String(value.to_string())
    }

    fn key(&mut self, value: &str) -> String {
        // Keys become values too (a host's name in the tables, a group in the export).
        self.check(value);
        value.to_string()
    }

    fn list(&mut self, items: std::vec::Drain<'_, Value>) -> Value {
        Value::Array(items.collect())
    }

    fn map(&mut self, entries: std::vec::Drain<'_, (String, Value)>) -> Value {
        // As a Python dict: a repeated key keeps its first place and takes the last value.
        Value::Object(entries.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_json_lacks_are_kept_as_text() {
        let doc = parse(
            r#"{"a": NaN, "b": [Infinity, -Infinity, 123456789012345678901234567890], "c": 1.5}"#,
        )
        .unwrap();
        assert_eq!(special_number(&doc["a"]), Some("NaN"));
        let b: Vec<_> = doc["b"]
            .as_array()
            .unwrap()
            .iter()
            .map(special_number)
            .collect();
        assert_eq!(
            b,
            [
                Some("Infinity"),
                Some("-Infinity"),
                Some("123456789012345678901234567890")
            ]
        );
        assert_eq!(special_number(&doc["c"]), None);
        assert_eq!(doc["c"], 1.5);
    }

    #[test]
    fn order_and_repeated_keys_are_pythons() {
        let doc = parse(r#"{"z": 1, "a": 2, "z": 3}"#).unwrap();
        let keys: Vec<_> = doc.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(keys, ["z=3", "a=2"]);
    }

    #[test]
    fn a_string_that_looks_like_a_marker_is_refused() {
        let err = parse(r#"{"a": "\u0000osa-json-number:NaN"}"#).unwrap_err();
        assert!(err.contains("remove it"), "{err}");
        let err = parse(r#"{"\u0000osa-json-number:1": 1}"#).unwrap_err();
        assert!(err.contains("remove it"), "{err}");
        assert!(parse(r#"{"a": "\u0000osa"}"#).is_ok());
    }
}
