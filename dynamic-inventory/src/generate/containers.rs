//! docs/generation.md §7: containers on the hosts of the user configuration.
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

use std::collections::BTreeMap;
use std::ops::Bound;
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

/// The containers one host gets in one placement.
#[derive(Clone, Copy)]
struct NewContainers<'a> {
    host: &'a Text,
    host_group: &'a Text,
    host_containers: &'a str,
    /// `HOST-CONTAINER`, the name without its suffix.
    type_and_name: &'a str,
    skeleton: &'a Skeleton,
    assignment: &'a Text,
    /// The affinity slot to try next: slots are filled in order, so a run creating many
    /// containers does not test the same taken names again and again.
    next_slot: u64,
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
    /// The host's `container_vars` in this host group.
    container_vars: Option<ContainerVars>,
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
    members: FxHashMap<Text, BTreeMap<String, Vec<Text>>>,
    container_vars: FxHashMap<(Text, Text), Option<ContainerVars>>,
    /// What the placements need to know of each entry, kept here so that the thousands
    /// of placements of a large deployment do not search the entries' variables.
    facts: FxHashMap<Text, Facts>,
    /// Hosts running components on metal: the variables to write once placement is done.
    on_metal: FxHashMap<Text, OnMetal>,
    events: Vec<Event>,
}

/// The parts of an entry's variables that placement reads.
struct Facts {
    /// It has `container_types` or `container_name` (only such entries join groups).
    eligible: bool,
    /// This run has set its `container_types` (hosts only).
    has_container_types: bool,
    container_name: Option<Text>,
    metal: bool,
    /// Its `component` as this pass has set it so far.
    component: Option<Text>,
    has_physical_host: bool,
}

impl Facts {
    fn read(vars: &Vars) -> Facts {
        let text = |key| match vars.get(key) {
            Some(Val::Str(t)) => Some(*t),
            _ => None,
        };
        Facts {
            eligible: vars.contains_key("container_types") || vars.contains_key("container_name"),
            has_container_types: false,
            container_name: text("container_name"),
            metal: is_metal_entry(vars),
            component: text("component"),
            has_physical_host: vars.contains_key("physical_host"),
        }
    }
}

/// The last metal placement of a host. (Its `properties` need no default: every
/// configured host has them from host setup.)
struct OnMetal {
    address: Val,
    host_group: Text,
    component: Text,
}

fn dashed(s: &str) -> String {
    s.replace('_', "-")
}

/// Whether `name` starts with `prefix` (written with `-`), taking `_` in `name` as `-`.
fn starts_with_dashed(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name
            .bytes()
            .zip(prefix.bytes())
            .all(|(n, p)| n == p || (n == b'_' && p == b'-'))
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
                entries_of.entry(*name).or_default().push(*name);
            }
            if let Some(Val::Str(physical)) = vars.get("physical_host")
                && physical != name
                && configured.contains(physical.as_str())
            {
                entries_of.entry(*physical).or_default().push(*name);
            }
        }
        Placer {
            config,
            log,
            entries_of,
            members: FxHashMap::default(),
            container_vars: FxHashMap::default(),
            facts: FxHashMap::default(),
            on_metal: FxHashMap::default(),
            events: Vec::new(),
        }
    }

    /// The index of container group `name`, built on first use.
    fn members_of(
        &mut self,
        inventory: &Inventory,
        name: &Text,
    ) -> &mut BTreeMap<String, Vec<Text>> {
        self.members.entry(*name).or_insert_with(|| {
            let mut members: BTreeMap<String, Vec<Text>> = BTreeMap::new();
            if let Some(g) = inventory.groups.get(name.as_str()) {
                for h in g.hosts() {
                    members.entry(dashed(h)).or_default().push(*h);
                }
            }
            members
        })
    }

    /// How many distinct members of container group `name` start with `prefix` (dashed).
    fn count_with_prefix(&mut self, inventory: &Inventory, name: &Text, prefix: &str) -> usize {
        self.members_of(inventory, name)
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(dashed, _)| dashed.starts_with(prefix))
            .map(|(_, names)| names.len())
            .sum()
    }

    /// The `container_vars` of `host` in `host_group`, converted on first use.
    fn container_vars_of(&mut self, host_group: &Text, host: &Text) -> Option<ContainerVars> {
        let config = self.config;
        self.container_vars
            .entry((*host_group, *host))
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

    /// The facts of an entry, read from its variables on first use.
    fn facts_of(&mut self, inventory: &Inventory, entry: &Text) -> Option<&mut Facts> {
        if !self.facts.contains_key(entry) {
            let vars = inventory.hostvars.get(entry.as_str())?;
            self.facts.insert(*entry, Facts::read(vars));
        }
        self.facts.get_mut(entry)
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
            // Set on the host's first placement of the run (always the same value).
            if let Some(facts) = self.facts_of(inventory, &host)
                && !facts.has_container_types
            {
                facts.has_container_types = true;
                facts.eligible = true;
                if let Some(vars) = inventory.hostvars.get_mut(host.as_str()) {
                    vars.set_str("container_types", &host_containers);
                }
            }

            let prefix = format!("{}-", dashed(&type_and_name));
            let existing = self.count_with_prefix(inventory, &skeleton.name, &prefix);
            if existing < affinity {
                if metal {
                    self.run_on_metal(inventory, &host, &host_group, options, assignment);
                } else {
                    let mut new = NewContainers {
                        host: &host,
                        host_group: &host_group,
                        host_containers: &host_containers,
                        type_and_name: &type_and_name,
                        skeleton,
                        assignment,
                        next_slot: 0,
                    };
                    for _ in existing..affinity {
                        self.create_container(inventory, &mut new);
                    }
                }
            }

            let joined = Rc::new(Joined {
                host,
                container_vars: self.container_vars_of(&host_group, &host),
                assignment: *assignment,
                all_group,
                prefix,
            });
            if let Some(entries) = self.entries_of.get(&host) {
                let component_now = |_: &Text, facts: &Facts| facts.component;
                join_groups(
                    inventory,
                    &mut self.facts,
                    &joined,
                    entries,
                    &component_now,
                    joined.container_vars.as_deref(),
                );
            }
            self.events.push(Event::Joined(joined));
        }
        Ok(())
    }

    /// A new container `HOST-CONTAINER-xxxxxxxx` for one affinity slot.
    fn create_container(&mut self, inventory: &mut Inventory, new: &mut NewContainers<'_>) {
        let NewContainers {
            host,
            host_group,
            host_containers,
            skeleton,
            assignment,
            ..
        } = *new;
        let name = self.fresh_name(inventory, new);
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
        vars.insert("container_name", Val::Str(name));
        vars.insert("physical_host", Val::Str(*host));
        vars.insert("physical_host_addr", host_address);
        vars.insert("physical_host_group", Val::Str(*host_group));
        vars.insert("component", Val::Str(*assignment));
        vars.insert("properties", skeleton.properties.clone());
        inventory.hostvars.insert(name, vars);
        inventory
            .ensure_group(host_containers, Group::with_hosts)
            .add_host(&name);
        inventory
            .ensure_group(&skeleton.name, Group::with_hosts)
            .add_host(&name);
        self.members_of(inventory, &skeleton.name)
            .entry(dashed(&name))
            .or_default()
            .push(name);
        self.entries_of.entry(*host).or_default().push(name);
        self.events.push(Event::Component {
            entry: name,
            component: *assignment,
        });
    }

    /// The first name for this host and container type, by slot number, that is not taken.
    /// Names depend only on the host, the container type and the slot, so regenerating an
    /// inventory gives the same names.
    fn fresh_name(&mut self, inventory: &Inventory, new: &mut NewContainers<'_>) -> Text {
        let members = self.members_of(inventory, &new.skeleton.name);
        let taken = |candidate: &str| {
            inventory.hostvars.contains_key(candidate)
                || members
                    .get(&dashed(candidate))
                    .is_some_and(|names| names.iter().any(|n| n.as_str() == candidate))
        };
        loop {
            let slot = new.next_slot;
            new.next_slot += 1;
            let suffix = container_suffix(new.host, &new.skeleton.name, slot);
            let candidate = format!("{}-{suffix:08x}", new.type_and_name);
            if !taken(&candidate) {
                return Text::new(&candidate);
            }
        }
    }

    /// A metal entry: the host itself runs the component. Its variables are written once
    /// all placements are done (`write_on_metal`); until then the facts say it.
    fn run_on_metal(
        &mut self,
        inventory: &mut Inventory,
        host: &Text,
        host_group: &Text,
        options: &Map<String, Value>,
        assignment: &Text,
    ) {
        let Some(facts) = self.facts_of(inventory, host) else {
            return;
        };
        facts.container_name = Some(*host);
        facts.component = Some(*assignment);
        facts.has_physical_host = true;
        facts.eligible = true;
        match self.on_metal.get_mut(host) {
            // The address is the host's `ip`, the same for all its placements.
            Some(m) => {
                m.host_group = *host_group;
                m.component = *assignment;
            }
            None => {
                let address = options.get("ip").map(Val::from_json).unwrap_or_default();
                self.on_metal.insert(
                    *host,
                    OnMetal {
                        address,
                        host_group: *host_group,
                        component: *assignment,
                    },
                );
            }
        }
        self.events.push(Event::Component {
            entry: *host,
            component: *assignment,
        });
    }

    /// Writes what the last metal placement of each host set.
    fn write_on_metal(&mut self, inventory: &mut Inventory) {
        for (host, m) in self.on_metal.drain() {
            let Some(vars) = inventory.hostvars.get_mut(host.as_str()) else {
                continue;
            };
            vars.insert("ansible_host", m.address.clone());
            vars.insert("management_address", m.address.clone());
            vars.insert("container_name", Val::Str(host));
            vars.insert("physical_host", Val::Str(host));
            vars.insert("physical_host_addr", m.address);
            vars.insert("physical_host_group", Val::Str(m.host_group));
            vars.insert("component", Val::Str(m.component));
        }
    }

    /// Replays the record as upstream's second run sees it: every entry exists from the
    /// start, and an entry's component is the last one set so far in this run or, before
    /// that, the one it ended the first run with.
    fn settle(mut self, inventory: &mut Inventory) {
        self.write_on_metal(inventory);
        let events = std::mem::take(&mut self.events);
        let mut sorted_entries: FxHashMap<Text, Vec<Text>> = FxHashMap::default();
        let mut current: FxHashMap<Text, Text> = FxHashMap::default();
        for event in &events {
            match event {
                Event::Component { entry, component } => {
                    current.insert(*entry, *component);
                }
                Event::Nest { name, host_group } => nest(inventory, name, host_group),
                Event::Joined(joined) => {
                    // Upstream's second run reads the saved inventory: entries in name order.
                    let entries = sorted_entries.entry(joined.host).or_insert_with(|| {
                        let mut e = self
                            .entries_of
                            .get(&joined.host)
                            .cloned()
                            .unwrap_or_default();
                        e.sort_unstable();
                        e
                    });
                    let component_now = |entry: &Text, facts: &Facts| match current.get(entry) {
                        Some(c) => Some(*c),
                        None => facts.component,
                    };
                    join_groups(
                        inventory,
                        &mut self.facts,
                        joined,
                        entries,
                        &component_now,
                        joined.container_vars.as_deref(),
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
    facts: &mut FxHashMap<Text, Facts>,
    joined: &Joined,
    entries: &[Text],
    component_of: &dyn Fn(&Text, &Facts) -> Option<Text>,
    container_vars: Option<&[(Text, Val, Option<String>)]>,
) {
    for entry in entries {
        let Some(vars) = inventory.hostvars.get_mut(entry.as_str()) else {
            continue;
        };
        let f = facts.entry(*entry).or_insert_with(|| Facts::read(vars));
        if !f.eligible {
            continue;
        }
        if f.container_name.is_none() {
            vars.insert("container_name", Val::Str(*entry));
            f.container_name = Some(*entry);
        }
        if !f.has_physical_host {
            vars.insert("physical_host", Val::Str(joined.host));
            f.has_physical_host = true;
        }
        let Some(container) = f.container_name else {
            continue;
        };
        let component = component_of(entry, f);
        let component = component.as_ref().map(Text::as_str);
        if let Some(cv) = container_vars {
            apply_container_vars(vars, cv, component);
        }

        let matches_prefix = starts_with_dashed(&container, &joined.prefix);
        let (to_assignment, to_all) = if matches_prefix {
            (true, true)
        } else if f.metal {
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
