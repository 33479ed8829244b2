//! The inventory as the generator works on it.
//!
//! On disk the inventory is one JSON object: `_meta.hostvars` (a mapping of host name to
//! its variables) and one key per group, each `{"children": [...], "hosts": [...]}` (plus
//! `vars` for `all`). Groups keep `hosts` and `children` in insertion order, which
//! operators rely on, and answer membership in constant time, so large deployments stay
//! linear.

use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value};

use crate::pyjson::{Sink, Writer};

pub type Vars = Map<String, Value>;

/// An ordered list of unique names.
pub type Names = IndexSet<String>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub children: Option<Names>,
    pub hosts: Option<Names>,
    /// Any other key of the group object (`vars`, or keys written by other tools).
    pub extra: Vars,
}

impl Group {
    /// `{"hosts": []}`
    pub fn with_hosts() -> Self {
        Group {
            hosts: Some(Names::new()),
            ..Group::default()
        }
    }

    /// `{"children": [], "hosts": []}`
    pub fn with_children_and_hosts() -> Self {
        Group {
            children: Some(Names::new()),
            hosts: Some(Names::new()),
            ..Group::default()
        }
    }

    pub fn hosts(&self) -> impl Iterator<Item = &String> {
        self.hosts.iter().flatten()
    }

    pub fn children(&self) -> impl Iterator<Item = &String> {
        self.children.iter().flatten()
    }

    /// Appends a host unless it is already there; true when it was added.
    pub fn add_host(&mut self, name: &str) -> bool {
        let hosts = self.hosts.get_or_insert_with(Names::new);
        if hosts.contains(name) {
            return false;
        }
        hosts.insert(name.to_string())
    }

    /// Appends a child group unless it is already there.
    pub fn add_child(&mut self, name: &str) -> bool {
        let children = self.children.get_or_insert_with(Names::new);
        if children.contains(name) {
            return false;
        }
        children.insert(name.to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// Every top-level key except `_meta`.
    pub groups: IndexMap<String, Group>,
    /// `_meta.hostvars`, in insertion order (the order upstream iterates them in).
    pub hostvars: IndexMap<String, Vars>,
    /// Keys of `_meta` other than `hostvars`, kept as they are.
    pub meta_extra: Vars,
}

/// Why a stored inventory cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);

impl Inventory {
    /// Takes apart a parsed inventory document, checking its shape.
    pub fn from_value(value: Value) -> Result<Inventory, ShapeError> {
        let Value::Object(top) = value else {
            return Err(ShapeError("the inventory is not a JSON object".into()));
        };
        let mut inventory = Inventory::default();
        for (key, value) in top {
            if key == "_meta" {
                let Value::Object(meta) = value else {
                    return Err(ShapeError("\"_meta\" is not an object".into()));
                };
                for (mkey, mvalue) in meta {
                    if mkey != "hostvars" {
                        inventory.meta_extra.insert(mkey, mvalue);
                        continue;
                    }
                    let Value::Object(hostvars) = mvalue else {
                        return Err(ShapeError("\"_meta.hostvars\" is not an object".into()));
                    };
                    inventory.hostvars.reserve(hostvars.len());
                    for (host, vars) in hostvars {
                        let Value::Object(vars) = vars else {
                            return Err(ShapeError(format!(
                                "the variables of host \"{host}\" are not an object"
                            )));
                        };
                        inventory.hostvars.insert(host, vars);
                    }
                }
            } else {
                let group = group_from_value(&key, value)?;
                inventory.groups.insert(key, group);
            }
        }
        Ok(inventory)
    }

    pub fn group_mut(&mut self, name: &str) -> Option<&mut Group> {
        self.groups.get_mut(name)
    }

    /// The group, created by `make` when missing.
    pub fn ensure_group(&mut self, name: &str, make: fn() -> Group) -> &mut Group {
        let index = match self.groups.get_index_of(name) {
            Some(index) => index,
            None => self.groups.insert_full(name.to_string(), make()).0,
        };
        &mut self.groups[index]
    }

    /// Writes the inventory as the upstream generator prints it.
    pub fn write<S: Sink>(&self, out: &mut S) {
        let mut w = Writer::new(out);
        let mut keys: Vec<&str> = self.groups.keys().map(String::as_str).collect();
        keys.push("_meta");
        keys.sort_unstable();
        let mut top = w.begin_object();
        for key in keys {
            w.key(&mut top, key);
            if key == "_meta" {
                self.write_meta(&mut w);
            } else if let Some(group) = self.groups.get(key) {
                write_group(&mut w, group);
            }
        }
        w.end_object(top);
        w.finish();
    }

    fn write_meta<S: Sink>(&self, w: &mut Writer<'_, S>) {
        let mut keys: Vec<&str> = self.meta_extra.keys().map(String::as_str).collect();
        keys.push("hostvars");
        keys.sort_unstable();
        let mut meta = w.begin_object();
        for key in keys {
            w.key(&mut meta, key);
            if key == "hostvars" {
                let mut hosts: Vec<&String> = self.hostvars.keys().collect();
                hosts.sort_unstable();
                let mut open = w.begin_object();
                for host in hosts {
                    w.key(&mut open, host);
                    if let Some(vars) = self.hostvars.get(host) {
                        w.object(vars);
                    }
                }
                w.end_object(open);
            } else if let Some(v) = self.meta_extra.get(key) {
                w.value(v);
            }
        }
        w.end_object(meta);
    }

    /// The inventory text.
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        self.write(&mut out);
        // The writer only emits ASCII.
        String::from_utf8(out).unwrap_or_default()
    }

    /// A fingerprint of the inventory text, to tell whether a run changed anything
    /// without keeping a copy of the loaded inventory.
    pub fn fingerprint(&self) -> u128 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        self.write(&mut hasher);
        hasher.digest128()
    }
}

pub fn text_fingerprint(text: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}

fn write_group<S: Sink>(w: &mut Writer<'_, S>, group: &Group) {
    let mut keys: Vec<&str> = group.extra.keys().map(String::as_str).collect();
    if group.children.is_some() {
        keys.push("children");
    }
    if group.hosts.is_some() {
        keys.push("hosts");
    }
    keys.sort_unstable();
    let mut open = w.begin_object();
    for key in keys {
        w.key(&mut open, key);
        match key {
            "children" if group.children.is_some() => w.strings(group.children()),
            "hosts" if group.hosts.is_some() => w.strings(group.hosts()),
            _ => {
                if let Some(v) = group.extra.get(key) {
                    w.value(v);
                }
            }
        }
    }
    w.end_object(open);
}

fn group_from_value(name: &str, value: Value) -> Result<Group, ShapeError> {
    let Value::Object(map) = value else {
        return Err(ShapeError(format!("group \"{name}\" is not an object")));
    };
    let mut group = Group::default();
    for (key, value) in map {
        match key.as_str() {
            "hosts" => group.hosts = Some(names_from_value(name, "hosts", value)?),
            "children" => group.children = Some(names_from_value(name, "children", value)?),
            _ => {
                group.extra.insert(key, value);
            }
        }
    }
    Ok(group)
}

fn names_from_value(group: &str, key: &str, value: Value) -> Result<Names, ShapeError> {
    let Value::Array(items) = value else {
        return Err(ShapeError(format!(
            "\"{key}\" of group \"{group}\" is not a list"
        )));
    };
    let mut names = Names::with_capacity(items.len());
    for item in items {
        let Value::String(s) = item else {
            return Err(ShapeError(format!(
                "\"{key}\" of group \"{group}\" holds {item}, which is not a name"
            )));
        };
        names.insert(s);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_upstream_layout() {
        let text = "{\n    \"_meta\": {\n        \"hostvars\": {\n            \"a\": {\n                \"x\": 1\n            }\n        }\n    },\n    \"all\": {\n        \"vars\": {}\n    },\n    \"g\": {\n        \"children\": [],\n        \"hosts\": [\n            \"b\",\n            \"a\"\n        ]\n    }\n}\n";
        let inv = Inventory::from_value(serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(inv.to_text(), text);
        assert_eq!(inv.fingerprint(), text_fingerprint(text));
    }

    #[test]
    fn rejects_malformed_groups() {
        let v = serde_json::json!({"g": {"hosts": [1]}});
        let err = Inventory::from_value(v).unwrap_err();
        assert!(err.0.contains("group \"g\""), "{err}");
    }
}
