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

use std::collections::BTreeSet;
use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{Map, Value};

use super::{
    Config, Environment, config_hosts, env_section, is_metal_entry, name_list, sibling_group,
    truthy,
};
use crate::config::value_text;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::model::{Group, Inventory, Vars};
use crate::value::{Map as ValMap, Text, Val};

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
        let properties = body.get("properties").and_then(Value::as_object);

        for parent in &belongs_to {
            inventory
                .ensure_group(parent, Group::with_children_and_hosts)
                .add_child(name);
        }
        if truthy(properties.and_then(|p| p.get("is_nest"))) {
            let host_group = Text::new(&sibling_group(name, "hosts"));
            nest(inventory, name, &host_group);
            placer.events.push(Event::Nest {
                name: Text::new(name),
                host_group,
            });
        }
        let skeleton = Skeleton {
            name: Text::new(name),
            base: dashed(name),
            metal: truthy(properties.and_then(|p| p.get("is_metal"))),
            properties: Val::Map(match properties {
                Some(p) => match Val::from_json(&Value::Object(p.clone())) {
                    Val::Map(m) => m,
                    _ => ValMap::new(),
                },
                None => ValMap::new(),
            }),
        };
        for assignment in &contains {
            if !inventory.groups.contains_key(*assignment) {
                return Err(Error::Environment(format!(
                    "container_skel.{name} contains \"{assignment}\", which is not defined in component_skel"
                )));
            }
            let assignment = Text::new(assignment);
            for container_type in &belongs_to {
                placer.place(inventory, &skeleton, &assignment, container_type)?;
            }
        }
    }
    placer.settle(inventory);
    Ok(())
}

/// A `container_skel` entry, prepared once.
struct Skeleton {
    name: Text,
    /// The name with `_` written as `-`, as it appears in container names.
    base: String,
    metal: bool,
    properties: Val,
}

/// What the first pass did, replayed by `settle`.
enum Event {
    /// An entry's `component` was set.
    Component { entry: Text, component: Text },
    /// A host took part in a placement: memberships and container_vars follow.
    Joined(Rc<Joined>),
    /// An `is_nest` entry collected the container groups of its hosts.
    Nest { name: Text, host_group: Text },
}

struct Joined {
    host: Text,
    host_group: Text,
    assignment: Text,
    all_group: Text,
    /// `HOST-CONTAINER-` with `_` written as `-`.
    prefix: String,
}

/// A host's `container_vars`, converted once: key, value, `limit_container_types`.
type ContainerVars = Rc<[(Text, Val, Option<String>)]>;

struct Placer<'c, 'l> {
    config: &'c Config,
    log: &'l mut Log,
    /// The entries that belong to each configured host: the host itself and everything
    /// whose `physical_host` it is, in the order the entries were created.
    entries_of: FxHashMap<Text, Vec<Text>>,
    /// Members of container groups with `_` written as `-`, to count a host's containers
    /// by prefix without scanning the group.
    members: FxHashMap<Text, BTreeSet<(String, Text)>>,
    container_vars: FxHashMap<(Text, Text), Option<ContainerVars>>,
    events: Vec<Event>,
}

fn dashed(s: &str) -> String {
    s.replace('_', "-")
}

impl<'c, 'l> Placer<'c, 'l> {
    fn new(inventory: &Inventory, config: &'c Config, log: &'l mut Log) -> Self {
        let mut configured: FxHashSet<&str> = FxHashSet::default();
        for key in config.keys().filter(|k| k.ends_with("hosts")) {
            if let Some(Value::Object(hosts)) = config.get(key) {
                configured.extend(hosts.keys().map(String::as_str));
            }
        }
        let mut entries_of: FxHashMap<Text, Vec<Text>> = FxHashMap::default();
        for (name, vars) in &inventory.hostvars {
            if configured.contains(name.as_str()) {
                entries_of
                    .entry(name.clone())
                    .or_default()
                    .push(name.clone());
            }
            if let Some(Val::Str(physical)) = vars.get("physical_host")
                && physical != name
                && configured.contains(physical.as_str())
            {
                entries_of
                    .entry(physical.clone())
                    .or_default()
                    .push(name.clone());
            }
        }
        Placer {
            config,
            log,
            entries_of,
            members: FxHashMap::default(),
            container_vars: FxHashMap::default(),
            events: Vec::new(),
        }
    }

    /// The index of container group `name`, built on first use.
    fn members_of(&mut self, inventory: &Inventory, name: &Text) -> &mut BTreeSet<(String, Text)> {
        self.members.entry(name.clone()).or_insert_with(|| {
            inventory
                .groups
                .get(name.as_str())
                .map(|g| g.hosts().map(|h| (dashed(h), h.clone())).collect())
                .unwrap_or_default()
        })
    }

    /// How many distinct members of container group `name` start with `prefix` (dashed).
    fn count_with_prefix(&mut self, inventory: &Inventory, name: &Text, prefix: &str) -> usize {
        self.members_of(inventory, name)
            .range((prefix.to_string(), Text::new(""))..)
            .take_while(|(dashed, _)| dashed.starts_with(prefix))
            .count()
    }

    /// The `container_vars` of `host` in `host_group`, converted on first use.
    fn container_vars_of(&mut self, host_group: &Text, host: &Text) -> Option<ContainerVars> {
        let config = self.config;
        self.container_vars
            .entry((host_group.clone(), host.clone()))
            .or_insert_with(|| {
                let vars = config
                    .get(host_group.as_str())?
                    .get(host.as_str())?
                    .get("container_vars")?
                    .as_object()?;
                Some(vars.iter().map(|(k, v)| container_var(k, v)).collect())
            })
            .clone()
    }

    fn place(
        &mut self,
        inventory: &mut Inventory,
        skeleton: &Skeleton,
        assignment: &Text,
        container_type: &str,
    ) -> Result<()> {
        let host_group = sibling_group(container_type, "hosts");
        let Some(configured) = config_hosts(self.config, &host_group)? else {
            return Ok(());
        };
        let host_group = Text::new(&host_group);
        let all_group = Text::new(&sibling_group(container_type, "all"));
        let global_no_containers = self
            .config
            .get("global_overrides")
            .and_then(|o| o.get("no_containers"));
        let hosts: Vec<Text> = match inventory.groups.get(host_group.as_str()) {
            Some(g) => g.hosts().cloned().collect(),
            None => return Ok(()),
        };
        inventory.ensure_group(&all_group, Group::with_hosts);

        for host in hosts {
            let Some(options) = configured.get(host.as_str()).and_then(Value::as_object) else {
                continue;
            };
            let affinity = affinity_of(options, &skeleton.name, &host)?;
            // A host's own `no_containers` wins over the global one; it applies to this
            // host only (upstream wrote it into the shared skeleton).
            let no_containers = match options.get("no_containers") {
                Some(v) => truthy(Some(v)),
                None => truthy(global_no_containers),
            };
            let metal = skeleton.metal || no_containers;
            let type_and_name = format!("{host}-{}", skeleton.base);
            if !metal && type_and_name.chars().count() > MAX_CONTAINER_BASE {
                return Err(Error::ContainerNameTooLong {
                    host: host.to_string(),
                    container: skeleton.base.clone(),
                });
            }
            if metal && host.chars().count() > MAX_HOSTNAME {
                return Err(Error::HostNameTooLong(host.to_string()));
            }
            let host_containers = format!("{host}_host_containers");
            if let Some(vars) = inventory.hostvars.get_mut(host.as_str()) {
                vars.set_str("container_types", &host_containers);
            }

            let prefix = format!("{}-", dashed(&type_and_name));
            let existing = self.count_with_prefix(inventory, &skeleton.name, &prefix);
            if existing < affinity {
                if metal {
                    self.run_on_metal(inventory, &host, &host_group, options, skeleton, assignment);
                } else {
                    for _ in existing..affinity {
                        self.create_container(
                            inventory,
                            &host,
                            &host_group,
                            &host_containers,
                            &type_and_name,
                            skeleton,
                            assignment,
                        );
                    }
                }
            }

            let joined = Rc::new(Joined {
                host: host.clone(),
                host_group: host_group.clone(),
                assignment: assignment.clone(),
                all_group: all_group.clone(),
                prefix,
            });
            let container_vars = self.container_vars_of(&host_group, &host);
            if let Some(entries) = self.entries_of.get(&host) {
                let component_now = |_: &Text, vars: &Vars| vars.get("component").cloned();
                join_groups(
                    inventory,
                    &joined,
                    entries,
                    &component_now,
                    container_vars.as_deref(),
                );
            }
            self.events.push(Event::Joined(joined));
        }
        Ok(())
    }

    /// A new container `HOST-CONTAINER-xxxxxxxx` for one affinity slot.
    #[allow(clippy::too_many_arguments)]
    fn create_container(
        &mut self,
        inventory: &mut Inventory,
        host: &Text,
        host_group: &Text,
        host_containers: &str,
        type_and_name: &str,
        skeleton: &Skeleton,
        assignment: &Text,
    ) {
        let name = self.fresh_name(inventory, host, &skeleton.name, type_and_name);
        self.log
            .debug_with(|| format!("Generated container name {name}"));
        let host_address = inventory
            .hostvars
            .get(host.as_str())
            .and_then(|v| v.get("ansible_host"))
            .cloned()
            .unwrap_or_default();
        let mut vars = Vars::new();
        vars.insert("ansible_host", Val::Null);
        vars.insert("management_address", Val::Null);
        vars.insert("container_name", Val::Str(name.clone()));
        vars.insert("physical_host", Val::Str(host.clone()));
        vars.insert("physical_host_addr", host_address);
        vars.insert("physical_host_group", Val::Str(host_group.clone()));
        vars.insert("component", Val::Str(assignment.clone()));
        vars.insert("properties", skeleton.properties.clone());
        inventory.hostvars.insert(name.clone(), vars);
        inventory
            .ensure_group(host_containers, Group::with_hosts)
            .add_host(&name);
        inventory
            .ensure_group(&skeleton.name, Group::with_hosts)
            .add_host(&name);
        self.members_of(inventory, &skeleton.name)
            .insert((dashed(&name), name.clone()));
        self.entries_of
            .entry(host.clone())
            .or_default()
            .push(name.clone());
        self.events.push(Event::Component {
            entry: name,
            component: assignment.clone(),
        });
    }

    /// The first name for this host and container type, by slot number, that is not taken.
    /// Names depend only on the host, the container type and the slot, so regenerating an
    /// inventory gives the same names.
    fn fresh_name(
        &mut self,
        inventory: &Inventory,
        host: &str,
        name: &Text,
        type_and_name: &str,
    ) -> Text {
        let members = self.members_of(inventory, name);
        let taken = |candidate: &str| {
            inventory.hostvars.contains_key(candidate)
                || members.contains(&(dashed(candidate), Text::new(candidate)))
        };
        let mut slot = 0u64;
        loop {
            let candidate = format!("{type_and_name}-{:08x}", container_suffix(host, name, slot));
            if !taken(&candidate) {
                return Text::new(&candidate);
            }
            slot += 1;
        }
    }

    /// A metal entry: the host itself runs the component.
    fn run_on_metal(
        &mut self,
        inventory: &mut Inventory,
        host: &Text,
        host_group: &Text,
        options: &Map<String, Value>,
        skeleton: &Skeleton,
        assignment: &Text,
    ) {
        let address = options.get("ip").map(Val::from_json).unwrap_or_default();
        let Some(vars) = inventory.hostvars.get_mut(host.as_str()) else {
            return;
        };
        vars.insert("ansible_host", address.clone());
        vars.insert("management_address", address.clone());
        vars.insert("container_name", Val::Str(host.clone()));
        vars.insert("physical_host", Val::Str(host.clone()));
        vars.insert("physical_host_addr", address);
        vars.insert("physical_host_group", Val::Str(host_group.clone()));
        vars.insert("component", Val::Str(assignment.clone()));
        vars.insert_default("properties", || skeleton.properties.clone());
        self.events.push(Event::Component {
            entry: host.clone(),
            component: assignment.clone(),
        });
    }

    /// Replays the record as upstream's second run sees it: every entry exists from the
    /// start, and an entry's component is the last one set so far in this run or, before
    /// that, the one it ended the first run with.
    fn settle(mut self, inventory: &mut Inventory) {
        let events = std::mem::take(&mut self.events);
        let mut sorted_entries: FxHashMap<Text, Vec<Text>> = FxHashMap::default();
        let mut current: FxHashMap<Text, Text> = FxHashMap::default();
        for event in &events {
            match event {
                Event::Component { entry, component } => {
                    current.insert(entry.clone(), component.clone());
                }
                Event::Nest { name, host_group } => nest(inventory, name, host_group),
                Event::Joined(joined) => {
                    let container_vars = self.container_vars_of(&joined.host_group, &joined.host);
                    // Upstream's second run reads the saved inventory: entries in name order.
                    let entries = sorted_entries
                        .entry(joined.host.clone())
                        .or_insert_with(|| {
                            let mut e = self
                                .entries_of
                                .get(&joined.host)
                                .cloned()
                                .unwrap_or_default();
                            e.sort_unstable();
                            e
                        });
                    let component_now = |entry: &Text, vars: &Vars| match current.get(entry) {
                        Some(c) => Some(Val::Str(c.clone())),
                        None => vars.get("component").cloned(),
                    };
                    join_groups(
                        inventory,
                        joined,
                        entries,
                        &component_now,
                        container_vars.as_deref(),
                    );
                }
            }
        }
    }
}

/// Group memberships and `container_vars` for one host taking part in a placement, over
/// the entries that belong to the host. `component_of` says what an entry's component is
/// at this point of the run.
fn join_groups(
    inventory: &mut Inventory,
    joined: &Joined,
    entries: &[Text],
    component_of: &dyn Fn(&Text, &Vars) -> Option<Val>,
    container_vars: Option<&[(Text, Val, Option<String>)]>,
) {
    for entry in entries {
        let Some(vars) = inventory.hostvars.get_mut(entry.as_str()) else {
            continue;
        };
        if !vars.contains_key("container_types") && !vars.contains_key("container_name") {
            continue;
        }
        vars.insert_default("container_name", || Val::Str(entry.clone()));
        vars.insert_default("physical_host", || Val::Str(joined.host.clone()));
        let Some(Val::Str(container)) = vars.get("container_name").cloned() else {
            continue;
        };
        let component = component_of(entry, vars);
        let component = component.as_ref().and_then(Val::as_str);
        let metal = is_metal_entry(vars);
        if let Some(cv) = container_vars {
            apply_container_vars(vars, cv, component);
        }

        let matches_prefix = dashed(&container).starts_with(joined.prefix.as_str());
        let (to_assignment, to_all) = if matches_prefix {
            (true, true)
        } else if metal {
            (component == Some(joined.assignment.as_str()), true)
        } else {
            (false, false)
        };
        if to_assignment && let Some(g) = inventory.group_mut(&joined.assignment) {
            g.add_host(&container);
        }
        if to_all && let Some(g) = inventory.group_mut(&joined.all_group) {
            g.add_host(&container);
        }
    }
}

/// One `container_vars` item: a mapping holding `limit_container_types: TEXT` applies,
/// without that key, only where the entry's component contains TEXT.
fn container_var(key: &str, value: &Value) -> (Text, Val, Option<String>) {
    match value {
        Value::Object(m) if m.contains_key("limit_container_types") => {
            let mut m = m.clone();
            let limit = m.shift_remove("limit_container_types");
            let limit = limit.filter(|l| !l.is_null()).map(|l| value_text(&l));
            (Text::new(key), Val::from_json(&Value::Object(m)), limit)
        }
        other => (Text::new(key), Val::from_json(other), None),
    }
}

fn apply_container_vars(
    vars: &mut Vars,
    container_vars: &[(Text, Val, Option<String>)],
    component: Option<&str>,
) {
    for (key, value, limit) in container_vars {
        let applies = match limit {
            None => true,
            Some(limit) => component.is_some_and(|c| !c.is_empty() && c.contains(limit.as_str())),
        };
        if applies && vars.get(key) != Some(value) {
            vars.insert(key, value.clone());
        }
    }
}

/// `is_nest`: the entry's group gets the container groups of its hosts as children.
fn nest(inventory: &mut Inventory, name: &str, host_group: &str) {
    let hosts: Vec<Text> = match inventory.groups.get(host_group) {
        Some(g) => g.hosts().cloned().collect(),
        None => return,
    };
    for host in hosts {
        let host_containers = format!("{host}_host_containers");
        if inventory.groups.contains_key(host_containers.as_str()) {
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
