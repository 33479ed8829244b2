//! §7: containers on the hosts of the user configuration.
//!
//! For every `container_skel` entry, every component it contains and every container
//! group it belongs to, each host of the matching host group gets its containers (or, for
//! metal entries, runs the component itself), joins the component's groups, and receives
//! the `container_vars` of its configuration.
//!
//! Upstream needs two runs to settle: on its first run `container_vars` reach only the
//! entries that exist at that moment, and a metal host's group memberships follow the
//! `component` it had when its turn came. This module makes one pass that does what
//! upstream's first run does, recording what happened, then replays the record the way
//! upstream's second run would see it (every entry present, components as they ended),
//! so one run gives upstream's settled inventory.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::{
    Config, Environment, config_hosts, env_section, is_metal_entry, name_list, sibling_group,
    truthy,
};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::model::{Group, Inventory, Vars};

/// Longest `HOST-CONTAINER` base name: the 8-hex suffix and dash must fit in 63.
const MAX_CONTAINER_BASE: usize = 52;
const MAX_HOSTNAME: usize = 63;

pub fn place_all(
    inventory: &mut Inventory,
    env: &Environment,
    config: &Config,
    log: &mut Log,
) -> Result<()> {
    let mut placer = Placer::new(inventory, config, log);
    for (name, body) in env_section(env, "container_skel")? {
        let contains = name_list(body, "contains", "container_skel", name)?;
        let belongs_to = name_list(body, "belongs_to", "container_skel", name)?;
        let empty = Map::new();
        let properties = body
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);

        for parent in &belongs_to {
            inventory
                .ensure_group(parent, Group::with_children_and_hosts)
                .add_child(name);
        }
        if truthy(properties.get("is_nest")) {
            let host_group = sibling_group(name, "hosts");
            nest(inventory, name, &host_group);
            placer.events.push(Event::Nest {
                name: name.to_string(),
                host_group,
            });
        }
        for assignment in &contains {
            if !inventory.groups.contains_key(*assignment) {
                return Err(Error::Environment(format!(
                    "container_skel.{name} contains \"{assignment}\", which is not defined in component_skel"
                )));
            }
            for container_type in &belongs_to {
                let spec = Placement {
                    name,
                    assignment,
                    container_type,
                    properties,
                };
                placer.place(inventory, &spec)?;
            }
        }
    }
    placer.settle(inventory)
}

/// One `(container_skel entry, component, container group)` to place.
struct Placement<'a> {
    name: &'a str,
    assignment: &'a str,
    container_type: &'a str,
    properties: &'a Map<String, Value>,
}

/// What the first pass did, replayed by `settle`.
enum Event {
    /// An entry's `component` was set.
    Component { entry: String, component: String },
    /// Host `host` took part in a placement: memberships and container_vars follow.
    Joined {
        host: String,
        host_group: String,
        assignment: String,
        all_group: String,
        /// `HOST-CONTAINER-` with `_` written as `-`.
        prefix: String,
    },
    /// An `is_nest` entry collected the container groups of its hosts.
    Nest { name: String, host_group: String },
}

struct Placer<'c, 'l> {
    config: &'c Config,
    log: &'l mut Log,
    /// The entries that belong to each configured host: the host itself and everything
    /// whose `physical_host` it is, in the order the entries were created.
    entries_of: HashMap<String, Vec<String>>,
    /// Members of container groups with `_` written as `-`, to count a host's containers
    /// by prefix without scanning the group.
    members: HashMap<String, BTreeSet<(String, String)>>,
    events: Vec<Event>,
}

fn dashed(s: &str) -> String {
    s.replace('_', "-")
}

impl<'c, 'l> Placer<'c, 'l> {
    fn new(inventory: &Inventory, config: &'c Config, log: &'l mut Log) -> Self {
        let mut configured: HashSet<&str> = HashSet::new();
        for key in config.keys().filter(|k| k.ends_with("hosts")) {
            if let Some(Value::Object(hosts)) = config.get(key) {
                configured.extend(hosts.keys().map(String::as_str));
            }
        }
        let mut entries_of: HashMap<String, Vec<String>> = HashMap::new();
        for (name, vars) in &inventory.hostvars {
            if configured.contains(name.as_str()) {
                entries_of
                    .entry(name.clone())
                    .or_default()
                    .push(name.clone());
            }
            if let Some(physical) = vars.get("physical_host").and_then(Value::as_str)
                && physical != name
                && configured.contains(physical)
            {
                entries_of
                    .entry(physical.to_string())
                    .or_default()
                    .push(name.clone());
            }
        }
        Placer {
            config,
            log,
            entries_of,
            members: HashMap::new(),
            events: Vec::new(),
        }
    }

    /// The index of container group `name`, built on first use.
    fn members_of(&mut self, inventory: &Inventory, name: &str) -> &mut BTreeSet<(String, String)> {
        self.members.entry(name.to_string()).or_insert_with(|| {
            inventory
                .groups
                .get(name)
                .map(|g| g.hosts().map(|h| (dashed(h), h.clone())).collect())
                .unwrap_or_default()
        })
    }

    /// How many distinct members of container group `name` start with `prefix` (dashed).
    fn count_with_prefix(&mut self, inventory: &Inventory, name: &str, prefix: &str) -> usize {
        self.members_of(inventory, name)
            .range((prefix.to_string(), String::new())..)
            .take_while(|(dashed, _)| dashed.starts_with(prefix))
            .count()
    }

    fn place(&mut self, inventory: &mut Inventory, spec: &Placement<'_>) -> Result<()> {
        let host_group = sibling_group(spec.container_type, "hosts");
        let Some(configured) = config_hosts(self.config, &host_group)? else {
            return Ok(());
        };
        let all_group = sibling_group(spec.container_type, "all");
        let base = dashed(spec.name);
        let global_no_containers = self
            .config
            .get("global_overrides")
            .and_then(|o| o.get("no_containers"));
        let hosts: Vec<String> = match inventory.groups.get(&host_group) {
            Some(g) => g.hosts().cloned().collect(),
            None => return Ok(()),
        };

        for host in hosts {
            let Some(options) = configured.get(&host).and_then(Value::as_object) else {
                continue;
            };
            let affinity = affinity_of(options, spec.name, &host)?;
            // A host's own `no_containers` wins over the global one; it applies to this
            // host only (upstream wrote it into the shared skeleton).
            let no_containers = match options.get("no_containers") {
                Some(v) => truthy(Some(v)),
                None => truthy(global_no_containers),
            };
            let metal = truthy(spec.properties.get("is_metal")) || no_containers;
            let type_and_name = format!("{host}-{base}");
            if !metal && type_and_name.chars().count() > MAX_CONTAINER_BASE {
                return Err(Error::ContainerNameTooLong {
                    host: host.clone(),
                    container: base.clone(),
                });
            }
            if metal && host.chars().count() > MAX_HOSTNAME {
                return Err(Error::HostNameTooLong(host.clone()));
            }
            let host_containers = format!("{host}_host_containers");
            if let Some(vars) = inventory.hostvars.get_mut(&host) {
                vars.insert(
                    "container_types".into(),
                    Value::String(host_containers.clone()),
                );
            }

            let prefix = format!("{}-", dashed(&type_and_name));
            let existing = self.count_with_prefix(inventory, spec.name, &prefix);
            if existing < affinity {
                if metal {
                    self.run_on_metal(inventory, &host, &host_group, options, spec);
                } else {
                    for _ in existing..affinity {
                        self.create_container(
                            inventory,
                            &host,
                            &host_group,
                            &host_containers,
                            &type_and_name,
                            spec,
                        );
                    }
                }
            }

            inventory.ensure_group(&all_group, Group::with_hosts);
            let joined = Event::Joined {
                host: host.clone(),
                host_group: host_group.clone(),
                assignment: spec.assignment.to_string(),
                all_group: all_group.clone(),
                prefix,
            };
            let entries = self.entries_of.get(&host).cloned().unwrap_or_default();
            let component_now = |_: &str, vars: &Vars| vars.get("component").cloned();
            join_groups(inventory, &joined, &entries, &component_now, options);
            self.events.push(joined);
        }
        Ok(())
    }

    /// A new container `HOST-CONTAINER-xxxxxxxx` for one affinity slot.
    fn create_container(
        &mut self,
        inventory: &mut Inventory,
        host: &str,
        host_group: &str,
        host_containers: &str,
        type_and_name: &str,
        spec: &Placement<'_>,
    ) {
        let name = self.fresh_name(inventory, host, spec.name, type_and_name);
        self.log
            .debug_with(|| format!("Generated container name {name}"));
        let host_address = inventory
            .hostvars
            .get(host)
            .and_then(|v| v.get("ansible_host"))
            .cloned()
            .unwrap_or(Value::Null);
        let mut vars = Vars::new();
        vars.insert("ansible_host".into(), Value::Null);
        vars.insert("management_address".into(), Value::Null);
        vars.insert("container_name".into(), Value::String(name.clone()));
        vars.insert("physical_host".into(), Value::String(host.to_string()));
        vars.insert("physical_host_addr".into(), host_address);
        vars.insert(
            "physical_host_group".into(),
            Value::String(host_group.to_string()),
        );
        vars.insert(
            "component".into(),
            Value::String(spec.assignment.to_string()),
        );
        vars.insert("properties".into(), Value::Object(spec.properties.clone()));
        inventory.hostvars.insert(name.clone(), vars);
        inventory
            .ensure_group(host_containers, Group::with_hosts)
            .add_host(&name);
        inventory
            .ensure_group(spec.name, Group::with_hosts)
            .add_host(&name);
        self.members_of(inventory, spec.name)
            .insert((dashed(&name), name.clone()));
        self.entries_of
            .entry(host.to_string())
            .or_default()
            .push(name.clone());
        self.events.push(Event::Component {
            entry: name,
            component: spec.assignment.to_string(),
        });
    }

    /// The first name for this host and container type, by slot number, that is not taken.
    /// Names depend only on the host, the container type and the slot, so regenerating an
    /// inventory gives the same names.
    fn fresh_name(
        &mut self,
        inventory: &Inventory,
        host: &str,
        name: &str,
        type_and_name: &str,
    ) -> String {
        let members = self.members_of(inventory, name);
        (0u64..)
            .map(|slot| format!("{type_and_name}-{:08x}", container_suffix(host, name, slot)))
            .find(|candidate| {
                !inventory.hostvars.contains_key(candidate)
                    && !members.contains(&(dashed(candidate), candidate.clone()))
            })
            .unwrap_or_default()
    }

    /// A metal entry: the host itself runs the component.
    fn run_on_metal(
        &mut self,
        inventory: &mut Inventory,
        host: &str,
        host_group: &str,
        options: &Map<String, Value>,
        spec: &Placement<'_>,
    ) {
        let address = options.get("ip").cloned().unwrap_or(Value::Null);
        let vars = inventory.hostvars.entry(host.to_string()).or_default();
        vars.insert("ansible_host".into(), address.clone());
        vars.insert("management_address".into(), address.clone());
        vars.insert("container_name".into(), Value::String(host.to_string()));
        vars.insert("physical_host".into(), Value::String(host.to_string()));
        vars.insert("physical_host_addr".into(), address);
        vars.insert(
            "physical_host_group".into(),
            Value::String(host_group.to_string()),
        );
        vars.insert(
            "component".into(),
            Value::String(spec.assignment.to_string()),
        );
        if !vars.contains_key("properties") {
            vars.insert("properties".into(), Value::Object(spec.properties.clone()));
        }
        self.events.push(Event::Component {
            entry: host.to_string(),
            component: spec.assignment.to_string(),
        });
    }

    /// Replays the record as upstream's second run sees it: every entry exists from the
    /// start, and an entry's component is the last one set so far in this run or, before
    /// that, the one it ended the first run with.
    fn settle(self, inventory: &mut Inventory) -> Result<()> {
        let mut sorted_entries: HashMap<&str, Vec<String>> = HashMap::new();
        let mut current: HashMap<&str, &str> = HashMap::new();
        for event in &self.events {
            match event {
                Event::Component { entry, component } => {
                    current.insert(entry, component);
                }
                Event::Nest { name, host_group } => nest(inventory, name, host_group),
                Event::Joined {
                    host, host_group, ..
                } => {
                    let Some(options) = self
                        .config
                        .get(host_group)
                        .and_then(|g| g.get(host))
                        .and_then(Value::as_object)
                    else {
                        continue;
                    };
                    // Upstream's second run reads the saved inventory: entries in name order.
                    let entries = sorted_entries.entry(host).or_insert_with(|| {
                        let mut e = self.entries_of.get(host).cloned().unwrap_or_default();
                        e.sort_unstable();
                        e
                    });
                    let component_now = |entry: &str, vars: &Vars| match current.get(entry) {
                        Some(c) => Some(Value::String(c.to_string())),
                        None => vars.get("component").cloned(),
                    };
                    join_groups(inventory, event, entries, &component_now, options);
                }
            }
        }
        Ok(())
    }
}

/// Group memberships and `container_vars` for one host taking part in a placement, over
/// the entries that belong to the host. `component_of` says what an entry's component is
/// at this point of the run.
fn join_groups(
    inventory: &mut Inventory,
    joined: &Event,
    entries: &[String],
    component_of: &dyn Fn(&str, &Vars) -> Option<Value>,
    options: &Map<String, Value>,
) {
    let Event::Joined {
        host,
        assignment,
        all_group,
        prefix,
        ..
    } = joined
    else {
        return;
    };
    let container_vars = options.get("container_vars").and_then(Value::as_object);
    for entry in entries {
        let Some(vars) = inventory.hostvars.get_mut(entry) else {
            continue;
        };
        if !vars.contains_key("container_types") && !vars.contains_key("container_name") {
            continue;
        }
        if !vars.contains_key("container_name") {
            vars.insert("container_name".into(), Value::String(entry.clone()));
        }
        if !vars.contains_key("physical_host") {
            vars.insert("physical_host".into(), Value::String(host.clone()));
        }
        let Some(container) = vars
            .get("container_name")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            continue;
        };
        let component = component_of(entry, vars);
        let component = component.as_ref().and_then(Value::as_str);
        let metal = is_metal_entry(vars);
        if let Some(cv) = container_vars {
            apply_container_vars(vars, cv, component);
        }

        let (to_assignment, to_all) = if dashed(&container).starts_with(prefix.as_str()) {
            (true, true)
        } else if metal {
            (component == Some(assignment.as_str()), true)
        } else {
            (false, false)
        };
        if to_assignment && let Some(g) = inventory.group_mut(assignment) {
            g.add_host(&container);
        }
        if to_all && let Some(g) = inventory.group_mut(all_group) {
            g.add_host(&container);
        }
    }
}

/// Sets the host's `container_vars` on one entry. A mapping value holding
/// `limit_container_types: TEXT` is set, without that key, only where the entry's
/// component contains TEXT.
fn apply_container_vars(
    vars: &mut Vars,
    container_vars: &Map<String, Value>,
    component: Option<&str>,
) {
    for (key, value) in container_vars {
        let (value, limit) = match value {
            Value::Object(m) if m.contains_key("limit_container_types") => {
                let mut m = m.clone();
                let limit = m.shift_remove("limit_container_types");
                (Value::Object(m), limit)
            }
            other => (other.clone(), None),
        };
        let applies = match limit {
            None | Some(Value::Null) => true,
            Some(limit) => {
                let limit = crate::config::value_text(&limit);
                component.is_some_and(|c| !c.is_empty() && c.contains(limit.as_str()))
            }
        };
        if applies {
            vars.insert(key.clone(), value);
        }
    }
}

/// `is_nest`: the entry's group gets the container groups of its hosts as children.
fn nest(inventory: &mut Inventory, name: &str, host_group: &str) {
    let hosts: Vec<String> = match inventory.groups.get(host_group) {
        Some(g) => g.hosts().cloned().collect(),
        None => return,
    };
    for host in hosts {
        let host_containers = format!("{host}_host_containers");
        if inventory.groups.contains_key(&host_containers) {
            inventory
                .ensure_group(name, Group::with_hosts)
                .add_child(&host_containers);
        }
    }
}

/// How many containers of this type the host gets (`affinity`, default 1).
fn affinity_of(options: &Map<String, Value>, name: &str, host: &str) -> Result<usize> {
    let Some(value) = options.get("affinity").and_then(|a| a.get(name)) else {
        return Ok(1);
    };
    match value {
        Value::Bool(b) => Ok(usize::from(*b)),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n
            .as_i64()
            .map_or(usize::MAX, |i| i.max(0) as usize)
            .min(1 << 16)),
        other => Err(Error::Config(format!(
            "affinity of {name} on host {host} must be a whole number, not {other}"
        ))),
    }
}

/// The 8-hex suffix of a container name: a hash of the host, the container type and the
/// affinity slot, so the same inventory is generated every time.
pub fn container_suffix(host: &str, container_type: &str, slot: u64) -> u32 {
    let h = xxhash_rust::xxh3::xxh3_64(format!("{host}\0{container_type}\0{slot}").as_bytes());
    (h >> 32) as u32
}
