//! The fleet: the Craton hosts an inventory stands for, and the requests that turn the
//! hosts Craton has into them.
//!
//! Every host of `_meta.hostvars` is one Craton host: its name, `device_type`
//! (`container` when its `physical_host` is set and is another host, else `server`), its
//! parent (the Craton host of its `physical_host`, when that host is in the inventory),
//! its `ip_address` (`ansible_host` when that is an IP address, else `0.0.0.0`), its labels
//! (exactly the groups whose `hosts` list it) and its variables (exactly its host
//! variables).
//!
//! [`plan`] compares two fleets, the one Craton holds and the one wanted, and lists the
//! changes in an order Craton accepts: parents are created before their children,
//! children are detached or deleted before their parents.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::{Map, Value};

/// What Craton records for a host that has no usable address.
pub const NO_ADDRESS: &str = "0.0.0.0";

/// One Craton host, as the inventory wants it or as Craton holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub device_type: String,
    /// The name of its parent host.
    pub parent: Option<String>,
    pub ip_address: String,
    pub labels: BTreeSet<String>,
    pub variables: Map<String, Value>,
}

/// Hosts by name.
pub type Fleet = BTreeMap<String, Host>;

/// The fleet `inventory` (the stored JSON text) stands for.
pub fn from_inventory(inventory: &str) -> Result<Fleet, String> {
    let document: Map<String, Value> = serde_json::from_str(inventory).map_err(|e| {
        format!(
            "the inventory is not a JSON object in strict JSON, as Craton's variables \
                 must be (no NaN or Infinity): {e}"
        )
    })?;
    from_document(&document)
}

/// [`from_inventory`] on the parsed document.
pub fn from_document(document: &Map<String, Value>) -> Result<Fleet, String> {
    let empty = Map::new();
    let hostvars = match document.get("_meta").and_then(|m| m.get("hostvars")) {
        None => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err("\"_meta\".\"hostvars\" is not a JSON object".into()),
    };
    let mut labels: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (group, body) in document {
        if group == "_meta" {
            continue;
        }
        let Some(Value::Array(hosts)) = body.get("hosts") else {
            continue;
        };
        // Names not in `hostvars` (or not names, like upstream's `null`) are no hosts.
        for host in hosts.iter().filter_map(Value::as_str) {
            if hostvars.contains_key(host) {
                labels.entry(host).or_default().insert(group.clone());
            }
        }
    }
    let mut fleet = Fleet::new();
    for (name, vars) in hostvars {
        let variables = match vars {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            _ => {
                return Err(format!(
                    "the variables of host {name:?} are not a JSON object"
                ));
            }
        };
        let physical = variables
            .get("physical_host")
            .and_then(Value::as_str)
            .filter(|p| *p != name);
        let device_type = if physical.is_some() {
            "container"
        } else {
            "server"
        }
        .to_string();
        let parent = physical
            .filter(|p| hostvars.contains_key(*p))
            .map(str::to_string);
        let ip_address = variables
            .get("ansible_host")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<IpAddr>().ok())
            .map_or_else(|| NO_ADDRESS.to_string(), |a| a.to_string());
        fleet.insert(
            name.clone(),
            Host {
                device_type,
                parent,
                ip_address,
                labels: labels.remove(name.as_str()).unwrap_or_default(),
                variables,
            },
        );
    }
    break_parent_cycles(&mut fleet);
    Ok(fleet)
}

/// Craton refuses a host that is its own ancestor; hosts whose `physical_host` links go
/// round in a circle get no parent.
fn break_parent_cycles(fleet: &mut Fleet) {
    let mut in_cycle = Vec::new();
    for start in fleet.keys() {
        let mut seen = BTreeSet::new();
        let mut at = start;
        while let Some(parent) = fleet.get(at).and_then(|h| h.parent.as_ref()) {
            if parent == start {
                in_cycle.push(start.clone());
                break;
            }
            if !seen.insert(parent) {
                break;
            }
            at = parent;
        }
    }
    for name in in_cycle {
        if let Some(host) = fleet.get_mut(&name) {
            host.parent = None;
        }
    }
}

/// The changes to one host that exists on both sides.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    /// `ip_address` and `device_type` when they change.
    pub fields: Map<String, Value>,
    /// The new parent (`Some(None)`: detach) when it changes.
    pub parent: Option<Option<String>>,
    pub add_labels: Vec<String>,
    pub remove_labels: Vec<String>,
    /// Variables added or changed.
    pub set_variables: Map<String, Value>,
    pub remove_variables: Vec<String>,
}

impl Update {
    fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.parent.is_none()
            && self.add_labels.is_empty()
            && self.remove_labels.is_empty()
            && self.set_variables.is_empty()
            && self.remove_variables.is_empty()
    }

    /// How many requests applying it takes.
    pub fn requests(&self) -> usize {
        usize::from(!self.fields.is_empty() || self.parent.is_some())
            + usize::from(!self.add_labels.is_empty())
            + usize::from(!self.remove_labels.is_empty())
            + usize::from(!self.set_variables.is_empty())
            + usize::from(!self.remove_variables.is_empty())
    }
}

/// What turns one fleet into another, in an order Craton accepts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Hosts to create, each after its parent.
    pub create: Vec<String>,
    /// Hosts to change: those losing their parent first, so that no step makes a cycle.
    pub update: Vec<(String, Update)>,
    /// Hosts to delete, each before its parent.
    pub delete: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }

    /// How many requests applying it takes (one per created or deleted host).
    pub fn requests(&self) -> usize {
        self.create.len()
            + self.delete.len()
            + self.update.iter().map(|(_, u)| u.requests()).sum::<usize>()
    }
}

/// The changes that turn `current` (what Craton holds) into `wanted`.
pub fn plan(current: &Fleet, wanted: &Fleet) -> Plan {
    let create = creation_order(current, wanted);
    let mut update: Vec<(String, Update)> = wanted
        .iter()
        .filter_map(|(name, want)| {
            let have = current.get(name)?;
            let change = diff_host(have, want);
            (!change.is_empty()).then(|| (name.clone(), change))
        })
        .collect();
    // Detaching first: a host may only take a parent that is not its descendant, and the
    // descendants it has now may be the ones being detached.
    update.sort_by_key(|(_, u)| !matches!(u.parent, Some(None)));
    let delete = deletion_order(current, wanted);
    Plan {
        create,
        update,
        delete,
    }
}

fn diff_host(have: &Host, want: &Host) -> Update {
    let mut change = Update::default();
    if have.ip_address != want.ip_address {
        change
            .fields
            .insert("ip_address".into(), Value::from(want.ip_address.clone()));
    }
    if have.device_type != want.device_type {
        change
            .fields
            .insert("device_type".into(), Value::from(want.device_type.clone()));
    }
    if have.parent != want.parent {
        change.parent = Some(want.parent.clone());
    }
    change.add_labels = want.labels.difference(&have.labels).cloned().collect();
    change.remove_labels = have.labels.difference(&want.labels).cloned().collect();
    for (key, value) in &want.variables {
        if have.variables.get(key) != Some(value) {
            change.set_variables.insert(key.clone(), value.clone());
        }
    }
    change.remove_variables = have
        .variables
        .keys()
        .filter(|k| !want.variables.contains_key(*k))
        .cloned()
        .collect();
    change
}

/// The hosts of `wanted` missing from `current`, each after the parent it needs.
fn creation_order(current: &Fleet, wanted: &Fleet) -> Vec<String> {
    let mut pending: Vec<&String> = wanted
        .keys()
        .filter(|n| !current.contains_key(*n))
        .collect();
    let mut exists: BTreeSet<&String> =
        current.keys().filter(|n| wanted.contains_key(*n)).collect();
    let mut order = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|name| {
            let ready = match &wanted[*name].parent {
                None => true,
                Some(parent) => exists.contains(parent),
            };
            if ready {
                exists.insert(name);
                order.push((*name).clone());
            }
            !ready
        });
        if pending.len() == before {
            // Unreachable with cycles broken; never loop forever on a bad fleet.
            order.extend(pending.drain(..).cloned());
        }
    }
    order
}

/// The hosts of `current` that `wanted` lacks, each before its parent.
fn deletion_order(current: &Fleet, wanted: &Fleet) -> Vec<String> {
    let depth = |name: &String| {
        let mut depth = 0usize;
        let mut at = name;
        while let Some(parent) = current.get(at).and_then(|h| h.parent.as_ref()) {
            depth += 1;
            if depth > current.len() {
                break;
            }
            at = parent;
        }
        depth
    };
    let mut gone: Vec<(usize, &String)> = current
        .keys()
        .filter(|n| !wanted.contains_key(*n))
        .map(|n| (depth(n), n))
        .collect();
    gone.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    gone.into_iter().map(|(_, n)| n.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fleet(inventory: Value) -> Fleet {
        from_inventory(&inventory.to_string()).unwrap()
    }

    fn labels(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn aio() -> Value {
        json!({
            "all": {"children": ["hosts"]},
            "hosts": {"hosts": ["infra1"]},
            "galera": {"hosts": ["infra1_galera_container-1a2b3c4d"]},
            "galera_all": {"children": ["galera"], "hosts": []},
            "lxc_hosts": {"hosts": ["infra1", null, "unknown-host"]},
            "_meta": {"hostvars": {
                "infra1": {"ansible_host": "172.29.236.100", "physical_host": "infra1"},
                "infra1_galera_container-1a2b3c4d": {
                    "ansible_host": "172.29.238.10",
                    "physical_host": "infra1",
                    "container_networks": {"mgmt": {"address": "172.29.238.10"}}
                },
                "infra1_utility": {"ansible_host": "utility.example.com", "physical_host": "gone"}
            }}
        })
    }

    #[test]
    fn hosts_of_an_inventory() {
        let f = fleet(aio());
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            vec![
                "infra1",
                "infra1_galera_container-1a2b3c4d",
                "infra1_utility"
            ]
        );
        let infra = &f["infra1"];
        assert_eq!(infra.device_type, "server");
        assert_eq!(infra.parent, None);
        assert_eq!(infra.ip_address, "172.29.236.100");
        assert_eq!(infra.labels, labels(&["hosts", "lxc_hosts"]));
        assert_eq!(infra.variables["physical_host"], "infra1");

        let galera = &f["infra1_galera_container-1a2b3c4d"];
        assert_eq!(galera.device_type, "container");
        assert_eq!(galera.parent.as_deref(), Some("infra1"));
        assert_eq!(galera.labels, labels(&["galera"]));
        assert_eq!(galera.variables.len(), 3);

        // A physical host that is not in the inventory: a container without a parent;
        // a name that is not an address: 0.0.0.0.
        let utility = &f["infra1_utility"];
        assert_eq!(utility.device_type, "container");
        assert_eq!(utility.parent, None);
        assert_eq!(utility.ip_address, NO_ADDRESS);
        assert!(utility.labels.is_empty());
    }

    #[test]
    fn ipv6_and_missing_hostvars() {
        let f = fleet(json!({"_meta": {"hostvars": {"h": {"ansible_host": "2001:db8::1"}}}}));
        assert_eq!(f["h"].ip_address, "2001:db8::1");
        assert!(fleet(json!({"all": {"hosts": ["x"]}})).is_empty());
        assert!(from_inventory("[]").is_err());
        assert!(from_inventory(r#"{"_meta": {"hostvars": []}}"#).is_err());
        assert!(from_inventory(r#"{"_meta": {"hostvars": {"h": 1}}}"#).is_err());
    }

    #[test]
    fn parent_cycles_are_broken() {
        let f = fleet(json!({"_meta": {"hostvars": {
            "a": {"physical_host": "b"}, "b": {"physical_host": "a"}, "c": {"physical_host": "a"}
        }}}));
        assert_eq!(f["a"].parent, None);
        assert_eq!(f["b"].parent, None);
        assert_eq!(f["c"].parent.as_deref(), Some("a"));
    }

    #[test]
    fn same_fleet_needs_nothing() {
        let f = fleet(aio());
        let p = plan(&f, &f);
        assert!(p.is_empty());
        assert_eq!(p.requests(), 0);
    }

    #[test]
    fn first_sync_creates_parents_first() {
        let f = fleet(aio());
        let p = plan(&Fleet::new(), &f);
        assert_eq!(
            p.create,
            vec![
                "infra1",
                "infra1_galera_container-1a2b3c4d",
                "infra1_utility"
            ]
        );
        assert!(p.update.is_empty() && p.delete.is_empty());
        assert_eq!(p.requests(), 3);
    }

    #[test]
    fn chains_are_created_in_order() {
        let f = fleet(json!({"_meta": {"hostvars": {
            "a": {"physical_host": "b"}, "b": {"physical_host": "c"}, "c": {}
        }}}));
        assert_eq!(plan(&Fleet::new(), &f).create, vec!["c", "b", "a"]);
        // And deleted the other way round.
        assert_eq!(plan(&f, &Fleet::new()).delete, vec!["a", "b", "c"]);
    }

    #[test]
    fn one_changed_variable_and_label() {
        let old = fleet(aio());
        let mut new_doc = aio();
        new_doc["_meta"]["hostvars"]["infra1"]["new_var"] = json!([1, 2]);
        new_doc["_meta"]["hostvars"]["infra1"]
            .as_object_mut()
            .unwrap()
            .remove("physical_host");
        new_doc["hosts"]["hosts"] = json!([]);
        new_doc["galera"]["hosts"] = json!(["infra1_galera_container-1a2b3c4d", "infra1"]);
        let p = plan(&old, &fleet(new_doc));
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(p.update.len(), 1);
        let (name, u) = &p.update[0];
        assert_eq!(name, "infra1");
        assert!(u.fields.is_empty());
        assert_eq!(u.parent, None);
        assert_eq!(u.add_labels, vec!["galera"]);
        assert_eq!(u.remove_labels, vec!["hosts"]);
        assert_eq!(
            u.set_variables,
            json!({"new_var": [1, 2]}).as_object().cloned().unwrap()
        );
        assert_eq!(u.remove_variables, vec!["physical_host"]);
        assert_eq!(p.requests(), 4);
    }

    #[test]
    fn removed_physical_host_detaches_its_containers_first() {
        let old = fleet(aio());
        let mut new_doc = aio();
        new_doc["_meta"]["hostvars"]
            .as_object_mut()
            .unwrap()
            .remove("infra1");
        let new = fleet(new_doc);
        let p = plan(&old, &new);
        assert!(p.create.is_empty());
        assert_eq!(p.delete, vec!["infra1"]);
        let (name, u) = &p.update[0];
        assert_eq!(name, "infra1_galera_container-1a2b3c4d");
        assert_eq!(u.parent, Some(None));
        // Still a container: its physical_host is set, it is just not in the inventory.
        assert!(u.fields.is_empty());
    }

    #[test]
    fn address_and_type_changes_are_fields() {
        let old =
            fleet(json!({"_meta": {"hostvars": {"h": {"ansible_host": "10.0.0.1"}, "p": {}}}}));
        let new = fleet(json!({"_meta": {"hostvars": {
            "h": {"ansible_host": "10.0.0.2", "physical_host": "p"}, "p": {}
        }}}));
        let p = plan(&old, &new);
        let (_, u) = &p.update[0];
        assert_eq!(u.fields["ip_address"], "10.0.0.2");
        assert_eq!(u.fields["device_type"], "container");
        assert_eq!(u.parent, Some(Some("p".into())));
        // Fields and parent go in one request, the changed variables in another.
        assert_eq!(u.requests(), 2);
    }

    #[test]
    fn detaches_come_before_other_updates() {
        // b becomes a's parent while a stops being b's parent: a must be detached first.
        let old = fleet(json!({"_meta": {"hostvars": {"a": {}, "b": {"physical_host": "a"}}}}));
        let new = fleet(json!({"_meta": {"hostvars": {"a": {"physical_host": "b"}, "b": {}}}}));
        let p = plan(&old, &new);
        let order: Vec<_> = p
            .update
            .iter()
            .map(|(n, u)| (n.as_str(), u.parent.clone()))
            .collect();
        assert_eq!(
            order,
            vec![("b", Some(None)), ("a", Some(Some("b".into())))]
        );
    }
}
