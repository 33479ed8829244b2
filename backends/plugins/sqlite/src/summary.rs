//! The one-line account of what a write changed, stored with each revision.
//!
//! Hosts are the entries of `_meta.hostvars`, groups the other top-level keys.
//! Each kind of change is counted and its first few names given:
//! `1 host added (infra2); 3 groups changed (all, hosts, +1 more)`.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// How many names each part lists before `+N more`.
const NAMES_SHOWN: usize = 3;

/// What changed from `previous` (nothing stored when `None`) to `current`.
pub fn summarize(previous: Option<&str>, current: &str) -> String {
    let current = match serde_json::from_str::<Value>(current) {
        Ok(Value::Object(map)) => map,
        _ => return "stored an inventory that is not a JSON object".to_string(),
    };
    let (hosts, groups) = split(&current);
    let Some(previous) = previous else {
        return format!(
            "first inventory: {}, {}",
            counted(hosts.len(), "host"),
            counted(groups.len(), "group")
        );
    };
    let previous = match serde_json::from_str::<Value>(previous) {
        Ok(Value::Object(map)) => map,
        _ => return "replaced an inventory that was not a JSON object".to_string(),
    };
    let (old_hosts, old_groups) = split(&previous);
    let mut parts = Vec::new();
    changes(&mut parts, "host", &old_hosts, &hosts);
    changes(&mut parts, "group", &old_groups, &groups);
    if parts.is_empty() {
        "no host or group changed".to_string()
    } else {
        parts.join("; ")
    }
}

/// Named entries of an inventory: hosts or groups.
type Entries<'a> = Vec<(&'a str, &'a Value)>;

/// The hosts (`_meta.hostvars`) and the groups (every other key).
fn split(inventory: &Map<String, Value>) -> (Entries<'_>, Entries<'_>) {
    let hosts = inventory
        .get("_meta")
        .and_then(|m| m.get("hostvars"))
        .and_then(Value::as_object)
        .map(|h| h.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default();
    let groups = inventory
        .iter()
        .filter(|(k, _)| *k != "_meta")
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    (hosts, groups)
}

fn changes(parts: &mut Vec<String>, kind: &str, old: &[(&str, &Value)], new: &[(&str, &Value)]) {
    let old_map: HashMap<&str, &Value> = old.iter().copied().collect();
    let new_map: HashMap<&str, &Value> = new.iter().copied().collect();
    let added: Vec<&str> = new
        .iter()
        .filter(|(n, _)| !old_map.contains_key(n))
        .map(|(n, _)| *n)
        .collect();
    let removed: Vec<&str> = old
        .iter()
        .filter(|(n, _)| !new_map.contains_key(n))
        .map(|(n, _)| *n)
        .collect();
    let changed: Vec<&str> = new
        .iter()
        .filter(|(n, v)| old_map.get(n).is_some_and(|o| o != v))
        .map(|(n, _)| *n)
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
