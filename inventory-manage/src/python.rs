//! How upstream's tool, a Python program, turns JSON values into text: `str()` for table
//! cells, `json.dumps(indent=2)` for `--export`, and the order `list.sort` puts values in.

use std::cmp::Ordering;

use inventory_model::pyjson::{python_float_repr, write_string};
use serde_json::{Number, Value};

use crate::document::special_number;

/// `repr()` of a number strict JSON lacks, from its JSON text (`NaN`, `-Infinity`, digits).
fn special_repr(text: &str) -> &str {
    match text {
        "NaN" => "nan",
        "Infinity" => "inf",
        "-Infinity" => "-inf",
        digits => digits,
    }
}

/// `str(value)` of the value `json.loads` makes of this JSON value.
pub fn str_of(value: &Value) -> String {
    match value {
        Value::String(_) if special_number(value).is_some() => repr(value),
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// `repr(value)`: `None`, `True`, `'text'`, `[1, 'a']`, `{'k': None}`.
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => match special_number(value) {
            Some(text) => out.push_str(special_repr(text)),
            None => out.push_str(&repr_str(s)),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&repr_str(key));
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

fn number(n: &Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (None, Some(u), _) => u.to_string(),
        (None, None, Some(f)) => python_float_repr(f),
        (None, None, None) => n.to_string(),
    }
}

/// `repr(str)` of Python 3: single quotes unless the text holds a single quote and no
/// double quote; backslash escapes for the quote, `\`, `\t`, `\n`, `\r` and characters
/// that are not printable.
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            c if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable` for one character, for the characters an inventory may
/// hold: controls, format characters, separators other than the space, surrogates and
/// private use are not printable. (Unassigned code points, which Python also counts as
/// not printable, are printed as they are.)
fn printable(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    !(u < 0x20
        || (0x7f..=0xa0).contains(&u)
        || u == 0xad
        || (0x600..=0x605).contains(&u)
        || u == 0x61c
        || u == 0x6dd
        || u == 0x70f
        || u == 0x1680
        || u == 0x180e
        || (0x2000..=0x200f).contains(&u)
        || (0x2028..=0x202f).contains(&u)
        || (0x205f..=0x206f).contains(&u)
        || u == 0x3000
        || (0xd800..=0xf8ff).contains(&u)
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || (0x1bca0..=0x1bca3).contains(&u)
        || (0x1d173..=0x1d17a).contains(&u)
        || u == 0xe0001
        || (0xe0020..=0xe007f).contains(&u)
        || u >= 0xf0000)
}

/// `str.expandtabs()`: tab stops every 8 columns, counted from each line's start.
pub fn expand_tabs(s: &str) -> String {
    if !s.contains('\t') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut column = 0;
    for c in s.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// The order Python's `<` gives values of the same kind (numbers and booleans together,
/// strings by code point, lists element by element). Where Python refuses to compare
/// (`None < 'a'`, two dicts) and upstream stops with a `TypeError`, this still orders:
/// None, then numbers, strings, lists and objects (objects by their `repr`).
pub fn compare(a: &Value, b: &Value) -> Ordering {
    let special = |v| special_number(v).is_some();
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::String(x), Value::String(y)) if !special(a) && !special(b) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => compare_lists(x, y),
        (Value::Object(_), Value::Object(_)) => repr(a).cmp(&repr(b)),
        _ => match (numeric(a), numeric(b)) {
            (Some(x), Some(y)) => compare_numbers(x, y),
            _ => rank(a).cmp(&rank(b)),
        },
    }
}

/// Lists as Python compares them: the first unequal elements decide, else the shorter.
pub fn compare_lists(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = compare(x, y);
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

fn rank(v: &Value) -> u8 {
    if special_number(v).is_some() {
        return 1;
    }
    match v {
        Value::Null => 0,
        Value::Bool(_) | Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

fn numeric(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(b) => Some(Num::Int(i128::from(*b))),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Num::Int(i128::from(i)),
            (None, Some(u)) => Num::Int(i128::from(u)),
            _ => Num::Float(n.as_f64().unwrap_or(0.0)),
        }),
        Value::String(_) => {
            let text = special_number(v)?;
            Some(match text.parse::<i128>() {
                Ok(i) => Num::Int(i),
                // NaN, the infinities, and integers beyond 128 bits (compared as floats).
                Err(_) => Num::Float(text.parse().unwrap_or(f64::NAN)),
            })
        }
        _ => None,
    }
}

fn compare_numbers(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Int(x), Num::Float(y)) => (x as f64).partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Num::Float(x), Num::Int(y)) => x.partial_cmp(&(y as f64)).unwrap_or(Ordering::Equal),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// `json.dumps(value, indent=2)` followed by the newline `print` adds: keys in the
/// object's order, `ensure_ascii` escapes, Python's float repr.
pub fn dumps_indent2(value: &Value) -> String {
    let mut out = Vec::new();
    dump(&mut out, value, 0);
    out.push(b'\n');
    // Only ASCII is written.
    String::from_utf8(out).unwrap_or_default()
}

fn newline(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    out.extend(std::iter::repeat_n(b' ', depth * 2));
}

fn dump(out: &mut Vec<u8>, value: &Value, depth: usize) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(number(n).as_bytes()),
        Value::String(s) => match special_number(value) {
            Some(text) => out.extend_from_slice(text.as_bytes()),
            None => write_string(out, s),
        },
        Value::Array(items) if items.is_empty() => out.extend_from_slice(b"[]"),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, depth + 1);
                dump(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(b']');
        }
        Value::Object(map) if map.is_empty() => out.extend_from_slice(b"{}"),
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, depth + 1);
                write_string(out, key);
                out.extend_from_slice(b": ");
                dump(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn str_is_pythons() {
        assert_eq!(str_of(&json!(null)), "None");
        assert_eq!(str_of(&json!(true)), "True");
        assert_eq!(str_of(&json!(false)), "False");
        assert_eq!(str_of(&json!(12)), "12");
        assert_eq!(str_of(&json!(-3)), "-3");
        assert_eq!(
            str_of(&json!(18446744073709551615u64)),
            "18446744073709551615"
        );
        assert_eq!(str_of(&json!(1.0)), "1.0");
        assert_eq!(str_of(&json!(1e-5)), "1e-05");
        assert_eq!(str_of(&json!("a 'b'")), "a 'b'");
        assert_eq!(
            str_of(&json!(["a", 1, null, true, 2.5, []])),
            "['a', 1, None, True, 2.5, []]"
        );
        assert_eq!(
            str_of(&json!({"k": "v", "n": {"x": [1]}})),
            "{'k': 'v', 'n': {'x': [1]}}"
        );
    }

    #[test]
    fn numbers_json_lacks_print_and_sort_as_python() {
        let doc = crate::document::parse(
            r#"{"l": [NaN, Infinity, -Infinity, 123456789012345678901234567890, "x"]}"#,
        )
        .unwrap();
        let list = &doc["l"];
        assert_eq!(
            str_of(list),
            "[nan, inf, -inf, 123456789012345678901234567890, 'x']"
        );
        assert_eq!(str_of(&list[0]), "nan");
        assert_eq!(str_of(&list[3]), "123456789012345678901234567890");
        assert_eq!(
            dumps_indent2(list),
            "[\n  NaN,\n  Infinity,\n  -Infinity,\n  123456789012345678901234567890,\n  \"x\"\n]\n"
        );
        // Numbers among numbers, before strings.
        assert_eq!(compare(&list[1], &json!(5)), Ordering::Greater);
        assert_eq!(compare(&list[2], &json!(5)), Ordering::Less);
        assert_eq!(compare(&list[3], &json!(u64::MAX)), Ordering::Greater);
        assert_eq!(compare(&list[3], &list[4]), Ordering::Less);
    }

    #[test]
    fn string_repr_is_pythons() {
        assert_eq!(repr_str("abc"), "'abc'");
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(repr_str("'\""), "'\\'\"'");
        assert_eq!(repr_str("a\\b\tc\nd\re"), "'a\\\\b\\tc\\nd\\re'");
        assert_eq!(repr_str("\u{1}\u{7f}\u{a0}"), "'\\x01\\x7f\\xa0'");
        assert_eq!(repr_str("é😀"), "'é😀'");
        assert_eq!(repr_str("\u{200b}\u{feff}"), "'\\u200b\\ufeff'");
        assert_eq!(repr_str("\u{f0000}"), "'\\U000f0000'");
    }

    #[test]
    fn tabs_expand_to_stops_of_eight() {
        assert_eq!(expand_tabs("a\tb"), "a       b");
        assert_eq!(
            expand_tabs("abcdefgh\tx\n\ty"),
            "abcdefgh        x\n        y"
        );
        assert_eq!(expand_tabs("plain"), "plain");
    }

    #[test]
    fn values_order_as_python_where_it_can() {
        use Ordering::*;
        assert_eq!(compare(&json!("a"), &json!("b")), Less);
        assert_eq!(compare(&json!("B"), &json!("a")), Less);
        assert_eq!(compare(&json!(2), &json!(10)), Less);
        assert_eq!(compare(&json!(true), &json!(1)), Equal);
        assert_eq!(compare(&json!(false), &json!(0.5)), Less);
        assert_eq!(compare(&json!([1, "a"]), &json!([1, "b"])), Less);
        assert_eq!(compare(&json!([1]), &json!([1, 0])), Less);
        assert_eq!(compare(&json!(null), &json!(null)), Equal);
        // Where Python raises TypeError: None, numbers, strings, lists, objects.
        assert_eq!(compare(&json!(null), &json!(false)), Less);
        assert_eq!(compare(&json!(3), &json!("3")), Less);
        assert_eq!(compare(&json!("z"), &json!([])), Less);
        assert_eq!(compare(&json!([]), &json!({})), Less);
        assert_eq!(compare(&json!({"a": 1}), &json!({"b": 0})), Less);
    }

    #[test]
    fn dumps_is_json_dumps_indent_2() {
        let v: Value = serde_json::from_str(
            r#"{"z": [1, {"b": null, "a": 1.5}], "e": {}, "l": [], "s": "é\""}"#,
        )
        .unwrap();
        assert_eq!(
            dumps_indent2(&v),
            "{\n  \"z\": [\n    1,\n    {\n      \"b\": null,\n      \"a\": 1.5\n    }\n  ],\n  \
             \"e\": {},\n  \"l\": [],\n  \"s\": \"\\u00e9\\\"\"\n}\n"
        );
    }
}
