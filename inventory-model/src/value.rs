//! The values of the inventory: JSON data in a compact form.
//!
//! An inventory of thousands of hosts repeats the same keys and many of the same values
//! (`ansible_host`, `br-mgmt`, `veth`, group names) in every host entry. Strings are
//! interned (`Text` is a thin pointer to the one copy) and objects are small vectors
//! sorted by key, which is also the order they are printed in. A value takes 16 bytes. This
//! keeps a 10,000-host inventory within a few times the size of its JSON text and makes
//! building it cheap.
//!
//! Why a hand-written interner: the interning crates hand out a fat `&str`-like handle
//! (16 bytes: `internment::Intern<str>`) or an index into an interner that must be passed
//! around (`lasso`, `string-interner`). `Text` is one thin pointer to a length-prefixed
//! copy, so `Val` stays at 16 bytes (a test holds it) and a string compares by pointer,
//! which the peak-memory and speed figures of docs/performance.md rest on.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::{LazyLock, Mutex};

use rustc_hash::FxHashSet;
use thin_vec::ThinVec;

use crate::pyjson::read::{Builder, Number, SyntaxError};

/// Every string ever interned, so equal texts are one pointer (and compare as one).
static INTERNER: LazyLock<Mutex<FxHashSet<Text>>> = LazyLock::new(Default::default);

/// An interned string: a thin pointer to one shared, never freed copy of its bytes
/// (a length, then UTF-8). Strings live as long as the process, which is one run.
#[derive(Clone, Copy)]
pub struct Text(NonNull<u8>);

// SAFETY: a Text points to immutable bytes that are never freed, so moving it to another
// thread cannot outlive or race with anything.
unsafe impl Send for Text {}
// SAFETY: as for Send: the bytes are never written after `new`, so shared access from
// several threads only ever reads.
unsafe impl Sync for Text {}

const LEN_BYTES: usize = std::mem::size_of::<usize>();

impl Text {
    /// Interns `s`. Every distinct text stays in memory until the process ends (see the
    /// crate's documentation), which suits one run of a program over one inventory.
    pub fn new(s: &str) -> Text {
        let mut set = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = set.get(s) {
            return *existing;
        }
        let mut bytes = Vec::with_capacity(LEN_BYTES + s.len());
        bytes.extend_from_slice(&s.len().to_ne_bytes());
        bytes.extend_from_slice(s.as_bytes());
        let leaked: &'static mut [u8] = Box::leak(bytes.into_boxed_slice());
        let text = Text(NonNull::from(leaked).cast());
        set.insert(text);
        text
    }

    pub fn as_str(&self) -> &'static str {
        // SAFETY: `new` wrote the length followed by that many bytes of valid UTF-8, and
        // never frees them.
        unsafe {
            let p = self.0.as_ptr();
            let len = (p as *const usize).read_unaligned();
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(p.add(LEN_BYTES), len))
        }
    }
}

// Interned: the same text is the same pointer.
impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.0 == other.0
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash as `str` does, so maps keyed by Text can be searched with a &str.
        self.as_str().hash(state)
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// A JSON value, in 16 bytes.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Val {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    /// An integer beyond 64 bits, as its digits: Python keeps it exact, and so do we.
    Big(Text),
    /// Any float, `NaN` and the infinities included (Python writes them as `NaN`,
    /// `Infinity`, `-Infinity`).
    Float(f64),
    Str(Text),
    List(ThinVec<Val>),
    Map(Map),
}

impl Val {
    /// How many arrays and objects are nested in this value, itself included (0 for a
    /// scalar).
    pub fn depth(&self) -> usize {
        match self {
            Val::List(items) => 1 + items.iter().map(Val::depth).max().unwrap_or(0),
            Val::Map(map) => 1 + map.values().map(Val::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    pub fn str(s: &str) -> Val {
        Val::Str(Text::new(s))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Val::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
}

/// Python's truthiness (`bool(value)`), of configuration data and of inventory values.
pub trait Truthy {
    fn truthy(&self) -> bool;
}

impl<T: Truthy + ?Sized> Truthy for &T {
    fn truthy(&self) -> bool {
        (**self).truthy()
    }
}

impl Truthy for serde_json::Value {
    fn truthy(&self) -> bool {
        match self {
            serde_json::Value::Null => false,
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            serde_json::Value::String(s) => !s.is_empty(),
            serde_json::Value::Array(a) => !a.is_empty(),
            serde_json::Value::Object(o) => !o.is_empty(),
        }
    }
}

impl Truthy for Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Int(n) => *n != 0,
            Val::UInt(n) => *n != 0,
            Val::Big(_) => true,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Map(m) => !m.is_empty(),
        }
    }
}

impl Val {
    fn number(n: &serde_json::Number) -> Val {
        if let Some(i) = n.as_i64() {
            Val::Int(i)
        } else if let Some(u) = n.as_u64() {
            Val::UInt(u)
        } else {
            Val::Float(n.as_f64().unwrap_or(0.0))
        }
    }

    /// Converts configuration data (read from YAML) into an inventory value.
    pub fn from_json(v: &serde_json::Value) -> Val {
        match v {
            serde_json::Value::Null => Val::Null,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => Val::number(n),
            serde_json::Value::String(s) => Val::str(s),
            serde_json::Value::Array(a) => Val::List(a.iter().map(Val::from_json).collect()),
            serde_json::Value::Object(o) => Val::Map(Map::from_pairs(
                o.iter()
                    .map(|(k, v)| (Text::new(k), Val::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// The value as plain JSON data.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Null => serde_json::Value::Null,
            Val::Bool(b) => serde_json::Value::Bool(*b),
            Val::Int(n) => (*n).into(),
            Val::UInt(n) => (*n).into(),
            // For messages only: JSON data has no exact form for these.
            Val::Big(digits) => serde_json::Value::String(digits.to_string()),
            Val::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|| serde_json::Value::String(crate::pyjson::python_float_repr(*f))),
            Val::Str(s) => serde_json::Value::String(s.to_string()),
            Val::List(l) => serde_json::Value::Array(l.iter().map(Val::to_json).collect()),
            Val::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl From<&serde_json::Value> for Val {
    fn from(v: &serde_json::Value) -> Val {
        Val::from_json(v)
    }
}

/// A JSON object: entries sorted by key.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Map {
    entries: ThinVec<(Text, Val)>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    /// From pairs in any order; for a repeated key the last value wins.
    pub fn from_pairs(mut pairs: Vec<(Text, Val)>) -> Map {
        // A stable sort keeps repeated keys in input order; keep the last of each run.
        pairs.sort_by_key(|a| a.0);
        let mut entries: ThinVec<(Text, Val)> = ThinVec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match entries.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => entries.push((k, v)),
            }
        }
        Map { entries }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        // Maps are small and keys short: an inlined byte comparison beats `memcmp` calls.
        self.entries
            .binary_search_by(|(k, _)| compare_short(k.as_bytes(), key.as_bytes()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Val> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Val> {
        match self.find(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: &str, value: Val) -> Option<Val> {
        match self.find(key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (Text::new(key), value));
                None
            }
        }
    }

    /// Sets `key` to `value`, leaving an equal value in place.
    pub fn set(&mut self, key: &str, value: Val) {
        match self.find(key) {
            Ok(i) => {
                if self.entries[i].1 != value {
                    self.entries[i].1 = value;
                }
            }
            Err(i) => self.entries.insert(i, (Text::new(key), value)),
        }
    }

    /// Sets `key` to the string `value`, without allocating when it already holds it.
    pub fn set_str(&mut self, key: &str, value: &str) {
        if self.get(key).and_then(Val::as_str) != Some(value) {
            self.insert(key, Val::str(value));
        }
    }

    /// Sets `key` unless it is present.
    pub fn insert_default(&mut self, key: &str, value: impl FnOnce() -> Val) {
        if let Err(i) = self.find(key) {
            self.entries.insert(i, (Text::new(key), value()));
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Val> {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// The object under `key`, created (or replacing a value that is not an object).
    pub fn map_mut(&mut self, key: &str) -> &mut Map {
        let i = match self.find(key) {
            Ok(i) => {
                if !matches!(self.entries[i].1, Val::Map(_)) {
                    self.entries[i].1 = Val::Map(Map::new());
                }
                i
            }
            Err(i) => {
                self.entries
                    .insert(i, (Text::new(key), Val::Map(Map::new())));
                i
            }
        };
        match &mut self.entries[i].1 {
            Val::Map(m) => m,
            _ => unreachable!("made an object above"),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Text, &Val)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Text> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Val> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Val) -> bool) {
        self.entries.retain(|(k, v)| keep(k, v));
    }

    pub fn into_entries(self) -> ThinVec<(Text, Val)> {
        self.entries
    }
}

#[inline]
fn compare_short(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Builds values straight from the parser's text: keys and strings interned without
/// an owned copy first, objects sorted once when complete.
pub struct ValBuilder;

impl Builder for ValBuilder {
    type Value = Val;
    type Key = Text;

    fn null(&mut self) -> Val {
        Val::Null
    }

    fn bool(&mut self, value: bool) -> Val {
        Val::Bool(value)
    }

    fn number(&mut self, value: Number<'_>) -> Val {
        match value {
            Number::Int(n) => Val::Int(n),
            Number::UInt(n) => Val::UInt(n),
            Number::Big(digits) => Val::Big(Text::new(digits)),
            Number::Float(f) => Val::Float(f),
        }
    }

    fn string(&mut self, value: &str) -> Val {
        Val::str(value)
    }

    fn key(&mut self, value: &str) -> Text {
        Text::new(value)
    }

    fn list(&mut self, items: std::vec::Drain<'_, Val>) -> Val {
        Val::List(items.collect())
    }

    fn map(&mut self, entries: std::vec::Drain<'_, (Text, Val)>) -> Val {
        Val::Map(Map::from_pairs(entries.collect()))
    }
}

impl Val {
    /// Reads JSON text as Python's `json.loads` does (see [`crate::pyjson::read`]).
    pub fn parse_json(text: &str) -> Result<Val, SyntaxError> {
        crate::pyjson::read::parse(text, &mut ValBuilder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_shared() {
        let (a, b) = (Text::new("br-mgmt"), Text::new("br-mgmt"));
        assert_eq!(a.0, b.0);
        assert_eq!(a.as_str(), "br-mgmt");
        assert_eq!(Text::new("").as_str(), "");
        assert_eq!(std::mem::size_of::<Val>(), 16);
    }

    #[test]
    fn maps_stay_sorted_and_last_value_wins() {
        let v = Val::parse_json(r#"{"b": 1, "a": [true, null], "b": 2}"#).unwrap();
        let m = v.as_map().unwrap();
        let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(m.get("b"), Some(&Val::Int(2)));
        let mut m = m.clone();
        m.insert("0", Val::Null);
        m.map_mut("c").insert("x", Val::str("y"));
        let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["0", "a", "b", "c"]);
        assert_eq!(
            m.get("c").and_then(Val::as_map).and_then(|c| c.get("x")),
            Some(&Val::str("y"))
        );
    }

    #[test]
    fn round_trips_plain_json() {
        let j = serde_json::json!({"k": [1, -2, 1.5, "s", {"z": null}], "e": {}});
        assert_eq!(Val::from_json(&j).to_json(), j);
    }
}
