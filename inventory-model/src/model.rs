//! The inventory as the generator works on it.
//!
//! On disk the inventory is one JSON object: `_meta.hostvars` (a mapping of host name to
//! its variables) and one key per group, each `{"children": [...], "hosts": [...]}` (plus
//! `vars` for `all`). Groups keep `hosts` and `children` in insertion order, which
//! operators rely on, and answer membership in constant time, so large deployments stay
//! linear.

use indexmap::{IndexMap, IndexSet};
use rustc_hash::FxBuildHasher;

use crate::pyjson::{Sink, Writer};
use crate::value::{Map, Text, Val};

/// The variables of one host.
pub type Vars = Map;

/// An ordered list of unique names.
pub type Names = IndexSet<Text, FxBuildHasher>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub children: Option<Names>,
    pub hosts: Option<Names>,
    /// Any other key of the group object (`vars`, or keys written by other tools).
    pub extra: Map,
}

impl Group {
    /// `{"hosts": []}`
    pub fn with_hosts() -> Self {
        Group {
            hosts: Some(Names::default()),
            ..Group::default()
        }
    }

    /// `{"children": [], "hosts": []}`
    pub fn with_children_and_hosts() -> Self {
        Group {
            children: Some(Names::default()),
            hosts: Some(Names::default()),
            ..Group::default()
        }
    }

    pub fn hosts(&self) -> impl Iterator<Item = &Text> {
        self.hosts.iter().flatten()
    }

    pub fn children(&self) -> impl Iterator<Item = &Text> {
        self.children.iter().flatten()
    }

    /// Appends a host unless it is already there; true when it was added.
    pub fn add_host(&mut self, name: &str) -> bool {
        add_name(self.hosts.get_or_insert_with(Names::default), name)
    }

    /// Appends a child group unless it is already there.
    pub fn add_child(&mut self, name: &str) -> bool {
        add_name(self.children.get_or_insert_with(Names::default), name)
    }
}

fn add_name(names: &mut Names, name: &str) -> bool {
    if names.contains(name) {
        return false;
    }
    names.insert(Text::new(name))
}

pub type HostVars = IndexMap<Text, Vars, FxBuildHasher>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// Every top-level key except `_meta`.
    pub groups: IndexMap<Text, Group, FxBuildHasher>,
    /// `_meta.hostvars`, in insertion order (the order upstream iterates them in).
    pub hostvars: HostVars,
    /// Keys of `_meta` other than `hostvars`, kept as they are.
    pub meta_extra: Map,
    /// Loading read some group members that the inventory writes differently (see
    /// [`Inventory::from_value`]), so it is not written as the stored text was and its
    /// [`Inventory::fingerprint`] matches no text: the next save writes it.
    pub normalised: bool,
}

/// The deepest nesting a stored inventory may have: what every reader of it accepts
/// (serde_json stops at 128 levels; the configuration reader's limit keeps generated
/// inventories below this).
pub const MAX_DEPTH: usize = 120;

/// Why a stored inventory cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);

impl Inventory {
    /// Reads an inventory document, checking its shape.
    pub fn parse(text: &str) -> Result<Inventory, ShapeError> {
        let value =
            Val::parse_json(text).map_err(|e| ShapeError(format!("not valid JSON: {e}")))?;
        Inventory::from_value(value)
    }

    /// Takes apart a parsed inventory document, checking its shape.
    ///
    /// Every shape upstream writes is read. Members of a group's `hosts` that are not
    /// strings (see `member_name`) are read as upstream meant them: `lxc_hosts` (and
    /// the `nspawn_hosts` of older releases) list the `physical_host` of every entry,
    /// which is `null` for a host that hosts nothing, or whatever a host or container
    /// variable set; those members name no host and are dropped (the generator rebuilds
    /// `lxc_hosts` on every run). In another group's `hosts`, a number, boolean or `null`
    /// is a host configured under a YAML key of that type, which upstream's
    /// `_meta.hostvars` holds under its JSON text (`1`, `true`, `null`): it is read as
    /// that name. Anything else upstream never writes, and is refused.
    pub fn from_value(value: Val) -> Result<Inventory, ShapeError> {
        let Val::Map(top) = value else {
            return Err(ShapeError("the inventory is not a JSON object".into()));
        };
        let mut inventory = Inventory::default();
        for (key, value) in top.into_entries() {
            if key.as_str() != "_meta" {
                let group = group_from_value(&key, value, &mut inventory.normalised)?;
                inventory.groups.insert(key, group);
                continue;
            }
            let Val::Map(meta) = value else {
                return Err(ShapeError("\"_meta\" is not an object".into()));
            };
            for (mkey, mvalue) in meta.into_entries() {
                if mkey.as_str() != "hostvars" {
                    inventory.meta_extra.insert(&mkey, mvalue);
                    continue;
                }
                let Val::Map(hostvars) = mvalue else {
                    return Err(ShapeError("\"_meta.hostvars\" is not an object".into()));
                };
                inventory.hostvars.reserve(hostvars.len());
                for (host, vars) in hostvars.into_entries() {
                    let Val::Map(vars) = vars else {
                        return Err(ShapeError(format!(
                            "the variables of host \"{host}\" are not an object"
                        )));
                    };
                    inventory.hostvars.insert(host, vars);
                }
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
            None => self.groups.insert_full(Text::new(name), make()).0,
        };
        &mut self.groups[index]
    }

    /// Writes the inventory as the upstream generator prints it.
    pub fn write<S: Sink>(&self, out: &mut S) {
        let mut w = Writer::new(out);
        let mut keys: Vec<&str> = self.groups.keys().map(Text::as_str).collect();
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
        let mut keys: Vec<&str> = self.meta_extra.keys().map(Text::as_str).collect();
        keys.push("hostvars");
        keys.sort_unstable();
        let mut meta = w.begin_object();
        for key in keys {
            w.key(&mut meta, key);
            if key == "hostvars" {
                let mut hosts: Vec<(&Text, &Vars)> = self.hostvars.iter().collect();
                hosts.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut open = w.begin_object();
                for (host, vars) in hosts {
                    w.key(&mut open, host);
                    w.map(vars);
                }
                w.end_object(open);
            } else if let Some(v) = self.meta_extra.get(key) {
                w.val(v);
            }
        }
        w.end_object(meta);
    }

    /// The inventory text.
    pub fn to_text(&self) -> String {
        self.to_text_sized(None)
    }

    /// The inventory text, built in a buffer of `size_hint` bytes (the stored inventory's
    /// size, usually exact) or of a guess from the number of hosts and groups: growing a
    /// small buffer by doubling copies it again and again.
    pub fn to_text_sized(&self, size_hint: Option<usize>) -> String {
        const BYTES_PER_ENTRY: usize = 1024;
        let size = size_hint.unwrap_or((self.hostvars.len() + self.groups.len()) * BYTES_PER_ENTRY);
        let mut out = Vec::with_capacity(size);
        self.write(&mut out);
        // The writer only emits ASCII.
        String::from_utf8(out).unwrap_or_default()
    }

    /// How deep the inventory text nests arrays and objects, the document itself counted:
    /// a host's variables sit at level 4 (`{"_meta": {"hostvars": {"host": {...}}}}`).
    pub fn depth(&self) -> usize {
        let map_depth = |m: &Map| 1 + m.values().map(Val::depth).max().unwrap_or(0);
        let hosts = self.hostvars.values().map(|vars| 3 + map_depth(vars));
        let groups = self
            .groups
            .values()
            .map(|g| 2 + g.extra.values().map(Val::depth).max().unwrap_or(1));
        let meta = self.meta_extra.values().map(|v| 2 + v.depth());
        hosts.chain(groups).chain(meta).max().unwrap_or(1)
    }

    /// A fingerprint of the inventory text, to tell whether a run changed anything
    /// without keeping a copy of the loaded inventory. For an inventory whose loading
    /// dropped or rewrote members ([`Inventory::normalised`]), the stored text differs
    /// from the inventory's text, and the fingerprint matches no text at all.
    pub fn fingerprint(&self) -> u128 {
        let mut fingerprinter = crate::pyjson::Fingerprinter::new();
        self.write(&mut fingerprinter);
        if self.normalised {
            // The writer never emits a NUL byte: no text it writes hashes like this.
            fingerprinter.put(b"\0normalised");
        }
        fingerprinter.finish()
    }
}

pub fn text_fingerprint(text: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}

fn write_group<S: Sink>(w: &mut Writer<'_, S>, group: &Group) {
    let mut keys: Vec<&str> = group.extra.keys().map(Text::as_str).collect();
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
                    w.val(v);
                }
            }
        }
    }
    w.end_object(open);
}

fn group_from_value(name: &str, value: Val, normalised: &mut bool) -> Result<Group, ShapeError> {
    let Val::Map(map) = value else {
        return Err(ShapeError(format!("group \"{name}\" is not an object")));
    };
    let mut group = Group::default();
    for (key, value) in map.into_entries() {
        match key.as_str() {
            "hosts" => group.hosts = Some(names_from_value(name, "hosts", value, normalised)?),
            "children" => {
                group.children = Some(names_from_value(name, "children", value, normalised)?)
            }
            _ => {
                group.extra.insert(&key, value);
            }
        }
    }
    Ok(group)
}

fn names_from_value(
    group: &str,
    key: &str,
    value: Val,
    normalised: &mut bool,
) -> Result<Names, ShapeError> {
    let Val::List(items) = value else {
        return Err(ShapeError(format!(
            "\"{key}\" of group \"{group}\" is not a list"
        )));
    };
    let mut names = Names::with_capacity_and_hasher(items.len(), FxBuildHasher);
    for item in items {
        let name = match item {
            Val::Str(s) => s,
            other => match member_name(group, key, &other) {
                Member::Name(name) => {
                    *normalised = true;
                    name
                }
                Member::Dropped => {
                    *normalised = true;
                    continue;
                }
                Member::Refused => {
                    return Err(ShapeError(format!(
                        "\"{key}\" of group \"{group}\" holds {}, which is not a name",
                        other.to_json()
                    )));
                }
            },
        };
        names.insert(name);
    }
    Ok(names)
}

/// Groups upstream fills with the `physical_host` of every entry, whatever its value.
const PHYSICAL_HOST_GROUPS: [&str; 2] = ["lxc_hosts", "nspawn_hosts"];

/// How a member of a group's list that is not a string is read.
enum Member {
    /// The name it stands for.
    Name(Text),
    /// It names no host.
    Dropped,
    /// Upstream never writes it.
    Refused,
}

/// What upstream meant by a member of `group`'s `key` list that is not a string.
fn member_name(group: &str, key: &str, member: &Val) -> Member {
    if key != "hosts" {
        // Child groups are the environment's names and the generator's: always strings.
        return Member::Refused;
    }
    if PHYSICAL_HOST_GROUPS.contains(&group) {
        return Member::Dropped;
    }
    match member {
        // `json.dumps` writes a dict key of these types as this text.
        Val::Null => Member::Name(Text::new("null")),
        Val::Bool(b) => Member::Name(Text::new(if *b { "true" } else { "false" })),
        Val::Int(n) => Member::Name(Text::new(&n.to_string())),
        Val::UInt(n) => Member::Name(Text::new(&n.to_string())),
        Val::Big(digits) => Member::Name(*digits),
        Val::Float(f) => Member::Name(Text::new(&crate::pyjson::python_float_repr(*f))),
        Val::Str(s) => Member::Name(*s),
        Val::List(_) | Val::Map(_) => Member::Refused,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn depth_counts_the_levels_of_the_text() {
        let depth = |text: &str| Inventory::parse(text).unwrap().depth();
        assert_eq!(depth("{}"), 1);
        assert_eq!(depth(r#"{"all": {"hosts": ["a"]}}"#), 3);
        assert_eq!(depth(r#"{"all": {"vars": {"x": [[1]]}}}"#), 5);
        assert_eq!(depth(r#"{"_meta": {"hostvars": {"h": {}}}}"#), 4);
        assert_eq!(
            depth(r#"{"_meta": {"hostvars": {"h": {"v": {"w": []}}}}}"#),
            6
        );
        assert_eq!(depth(r#"{"_meta": {"extra": [[]]}}"#), 4);
    }

    use super::*;

    #[test]
    fn round_trips_the_upstream_layout() {
        let text = "{\n    \"_meta\": {\n        \"hostvars\": {\n            \"a\": {\n                \"x\": 1\n            }\n        }\n    },\n    \"all\": {\n        \"vars\": {}\n    },\n    \"g\": {\n        \"children\": [],\n        \"hosts\": [\n            \"b\",\n            \"a\"\n        ]\n    }\n}\n";
        let inv = Inventory::parse(text).unwrap();
        assert!(!inv.normalised);
        assert_eq!(inv.to_text(), text);
        assert_eq!(inv.fingerprint(), text_fingerprint(text));
    }

    #[test]
    fn rejects_malformed_groups() {
        let err = Inventory::parse(r#"{"g": {"hosts": [[1]]}}"#).unwrap_err();
        assert_eq!(
            err.0,
            "\"hosts\" of group \"g\" holds [1], which is not a name"
        );
        let err = Inventory::parse(r#"{"g": {"hosts": [{"a": 1}]}}"#).unwrap_err();
        assert!(err.0.contains("group \"g\""), "{err}");
        let err = Inventory::parse(r#"{"g": {"hosts": "a"}}"#).unwrap_err();
        assert_eq!(err.0, "\"hosts\" of group \"g\" is not a list");
        let err = Inventory::parse("{").unwrap_err();
        assert!(err.0.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn children_are_always_names() {
        for child in ["null", "1", "true", "[\"a\"]"] {
            let text = format!(r#"{{"g": {{"children": ["a", {child}]}}}}"#);
            let err = Inventory::parse(&text).unwrap_err();
            assert_eq!(
                err.0,
                format!("\"children\" of group \"g\" holds {child}, which is not a name")
            );
        }
        // In lxc_hosts too: only its hosts are physical_host values.
        let err = Inventory::parse(r#"{"lxc_hosts": {"children": [null]}}"#).unwrap_err();
        assert!(
            err.0.contains("\"children\" of group \"lxc_hosts\""),
            "{err}"
        );
    }

    #[test]
    fn physical_host_groups_drop_members_that_are_not_names() {
        // Upstream lists every entry's physical_host: null for a host hosting nothing, or
        // whatever value a host or container variable gave it.
        for group in ["lxc_hosts", "nspawn_hosts"] {
            let text = format!(
                r#"{{"{group}": {{"hosts": [null, "infra1", 7, 1.5, true, [1], {{"a": null}}, "infra2"]}}}}"#
            );
            let inv = Inventory::parse(&text).unwrap();
            let hosts: Vec<&str> = inv.groups[group].hosts().map(Text::as_str).collect();
            assert_eq!(hosts, ["infra1", "infra2"], "{group}");
            assert!(inv.normalised);
        }
    }

    #[test]
    fn scalar_hosts_are_the_names_upstream_stored_them_under() {
        // A host configured as `1:`, `yes:`, `1.5:` or `~:` in YAML: json.dumps writes
        // its hostvars key as this text and the group member as the value.
        let text = r#"{"foo_hosts": {"hosts": [1, true, false, 1.5, 1e-05, null, -3, "a"]}}"#;
        let inv = Inventory::parse(text).unwrap();
        let hosts: Vec<&str> = inv.groups["foo_hosts"].hosts().map(Text::as_str).collect();
        assert_eq!(
            hosts,
            ["1", "true", "false", "1.5", "1e-05", "null", "-3", "a"]
        );
        assert!(inv.normalised);
    }

    #[test]
    fn a_normalised_inventory_matches_no_text() {
        let upstream = "{\n    \"_meta\": {\n        \"hostvars\": {}\n    },\n    \"lxc_hosts\": {\n        \"hosts\": [\n            null,\n            \"infra1\"\n        ]\n    }\n}\n";
        let inv = Inventory::parse(upstream).unwrap();
        assert!(inv.normalised);
        let written = inv.to_text();
        assert_eq!(written, upstream.replace("            null,\n", ""));
        assert_ne!(inv.fingerprint(), text_fingerprint(&written));
        assert_ne!(inv.fingerprint(), text_fingerprint(upstream));
        // Read back, the written text is what it says.
        let again = Inventory::parse(&written).unwrap();
        assert!(!again.normalised);
        assert_eq!(again.fingerprint(), text_fingerprint(&written));
    }
}
