//! The one-line account of what a write changed, stored with each revision by the
//! backends that keep a history (the SQLite plugin, Craton).
//!
//! Hosts are the entries of `_meta.hostvars`, groups the other top-level keys.
//! Each kind of change is counted and its first few names given:
//! `1 host added (infra2); 3 groups changed (all, hosts, +1 more)`.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

/// How many names each part lists before `+N more`.
const NAMES_SHOWN: usize = 3;

/// Named entries of an inventory (hosts or groups), by name, each as its JSON text:
/// reading them this way skips building the values, which matters for 10,000 hosts.
type Entries<'a> = BTreeMap<String, &'a RawValue>;

/// What changed from `previous` (nothing stored when `None`) to `current`.
pub fn summarize(previous: Option<&str>, current: &str) -> String {
    let Some((hosts, groups)) = split(current) else {
        return "stored an inventory that is not a JSON object".to_string();
    };
    let Some(previous) = previous else {
        return format!(
            "first inventory: {}, {}",
            counted(hosts.len(), "host"),
            counted(groups.len(), "group")
        );
    };
    let Some((old_hosts, old_groups)) = split(previous) else {
        return "replaced an inventory that was not a JSON object".to_string();
    };
    let mut parts = Vec::new();
    changes(&mut parts, "host", &old_hosts, &hosts);
    changes(&mut parts, "group", &old_groups, &groups);
    if parts.is_empty() {
        "no host or group changed".to_string()
    } else {
        parts.join("; ")
    }
}

/// The hosts (`_meta.hostvars`) and the groups (every other key).
fn split(inventory: &str) -> Option<(Entries<'_>, Entries<'_>)> {
    let mut groups: Entries<'_> = serde_json::from_str(inventory).ok()?;
    let hosts = groups
        .remove("_meta")
        .and_then(|meta| serde_json::from_str::<Entries<'_>>(meta.get()).ok())
        .and_then(|meta| meta.get("hostvars").copied())
        .and_then(|hostvars| serde_json::from_str::<Entries<'_>>(hostvars.get()).ok())
        .unwrap_or_default();
    Some((hosts, groups))
}

/// Whether two entries hold different data (the same data may be written differently).
fn differ(old: &RawValue, new: &RawValue) -> bool {
    if old.get() == new.get() {
        return false;
    }
    let parse = |raw: &RawValue| serde_json::from_str::<Value>(raw.get()).ok();
    parse(old) != parse(new)
}

fn changes(parts: &mut Vec<String>, kind: &str, old: &Entries<'_>, new: &Entries<'_>) {
    let added: Vec<&str> = new
        .keys()
        .filter(|n| !old.contains_key(*n))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old
        .keys()
        .filter(|n| !new.contains_key(*n))
        .map(String::as_str)
        .collect();
    let changed: Vec<&str> = new
        .iter()
        .filter(|(n, v)| old.get(*n).is_some_and(|o| differ(o, v)))
        .map(|(n, _)| n.as_str())
        .collect();
    for (names, what) in [(added, "added"), (removed, "removed"), (changed, "changed")] {
        if !names.is_empty() {
            parts.push(format!(
                "{} {what} ({})",
                counted(names.len(), kind),
                shortened(&names)
            ));
        }
    }
}

fn counted(n: usize, kind: &str) -> String {
    if n == 1 {
        format!("1 {kind}")
    } else {
        format!("{n} {kind}s")
    }
}

fn shortened(names: &[&str]) -> String {
    let mut shown: Vec<String> = names
        .iter()
        .take(NAMES_SHOWN)
        .map(|n| n.to_string())
        .collect();
    if names.len() > NAMES_SHOWN {
        shown.push(format!("+{} more", names.len() - NAMES_SHOWN));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"{"all": {"hosts": ["a"]}, "web": {"hosts": ["a"]},
        "_meta": {"hostvars": {"a": {"ip": "1"}}}}"#;

    #[test]
    fn first_inventory() {
        assert_eq!(summarize(None, ONE), "first inventory: 1 host, 2 groups");
        assert_eq!(summarize(None, "{}"), "first inventory: 0 hosts, 0 groups");
    }

    #[test]
    fn additions_removals_and_changes_are_counted_and_named() {
        let two = r#"{"all": {"hosts": ["a", "b", "c", "d", "e"]}, "db": {},
            "_meta": {"hostvars": {"a": {"ip": "2"}, "b": {}, "c": {}, "d": {}, "e": {}}}}"#;
        assert_eq!(
            summarize(Some(ONE), two),
            "4 hosts added (b, c, d, +1 more); 1 host changed (a); 1 group added (db); \
             1 group removed (web); 1 group changed (all)"
        );
        assert_eq!(
            summarize(Some(two), ONE),
            "4 hosts removed (b, c, d, +1 more); 1 host changed (a); 1 group added (web); \
             1 group removed (db); 1 group changed (all)"
        );
    }

    #[test]
    fn nothing_that_counts_changed() {
        assert_eq!(
            summarize(Some(ONE), &ONE.replace(' ', "")),
            "no host or group changed"
        );
    }

    #[test]
    fn not_json_objects() {
        assert_eq!(
            summarize(Some("{"), ONE),
            "replaced an inventory that was not a JSON object"
        );
        assert_eq!(
            summarize(None, "[]"),
            "stored an inventory that is not a JSON object"
        );
    }
}
