//! Inventory generation, in the order of docs/generation.md: checks (§3), global variables (§4),
//! hosts (§5), skeleton (§6), containers (§7), networks (§8), finishing (§9).
//!
//! Every step does work proportional to what it touches: group membership is tested in
//! hash sets, each host's entries are indexed once, and nothing loops over all hosts for
//! each host.

mod containers;
#[cfg(feature = "internals")]
pub use containers::container_suffix;
mod networks;

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::address::AddressBook;
use crate::config::{kind_of, value_text};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::model::{Group, Inventory, Vars};
use crate::value::{Map as ValMap, Text, Truthy, Val};

/// The user configuration after normalisation (docs/generation.md §2).
pub type Config = Map<String, Value>;
/// The merged environment.
pub type Environment = Map<String, Value>;

/// Generates the inventory from the configuration, starting from `inventory` (the stored
/// one, or an empty one).
pub fn generate(
    config: &Config,
    env: &Environment,
    mut inventory: Inventory,
    mut addresses: AddressBook,
    log: &mut Log,
) -> Result<Inventory> {
    let mut clock = log.clock();
    let container_cidr = check_config(config, env)?;
    set_global_vars(&mut inventory, config, container_cidr);
    reserve_used_addresses(&mut addresses, config)?;
    clock.lap(log, "checks and global variables");
    setup_hosts(&mut inventory, config, &mut addresses, log)?;
    setup_skeleton(&mut inventory, env, config)?;
    clock.lap(log, "hosts and skeleton");
    containers::place_all(&mut inventory, env, config, log)?;
    clock.lap(log, "containers");
    networks::assign(&mut inventory, config, &mut addresses, log)?;
    clock.lap(log, "networks");
    finish(&mut inventory);
    clock.lap(log, "finishing");
    log.debug_with(|| format!("{} hosts found.", inventory.hostvars.len()));
    Ok(inventory)
}

/// `--check`: groups of the configuration that the environment does not know.
pub fn unknown_config_groups(config: &Config, env: &Environment) -> Vec<String> {
    let known = env.get("physical_skel").and_then(Value::as_object);
    config
        .keys()
        .filter(|k| {
            !matches!(
                k.as_str(),
                "global_overrides" | "cidr_networks" | "used_ips"
            )
        })
        .filter(|k| !known.is_some_and(|m| m.contains_key(*k)))
        .cloned()
        .collect()
}

/// The host group of the environment whose name is closest to `unknown` (a typo such as
/// `compte_hosts`), when one is close enough to be the likely meaning.
pub fn closest_group<'e>(unknown: &str, env: &'e Environment) -> Option<&'e str> {
    let known = env.get("physical_skel").and_then(Value::as_object)?;
    let (name, distance) = known
        .keys()
        .map(|k| (k.as_str(), strsim::levenshtein(unknown, k)))
        .min_by_key(|(name, distance)| (*distance, *name))?;
    // A third of the name may differ: `compte_hosts`, `computehosts`, `compute_host`.
    (distance <= (unknown.len() / 3).max(2)).then_some(name)
}

// ---------------------------------------------------------------------------------------
// Small helpers shared by the steps.

/// Python truthiness of an optional value (configuration or inventory), absent being
/// false.
pub(crate) fn truthy<T: Truthy + ?Sized>(v: Option<&T>) -> bool {
    v.is_some_and(T::truthy)
}

/// `value is True` in Python: exactly the boolean true.
pub(crate) fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

/// Whether an entry runs on metal: its `properties.is_metal` is true.
pub(crate) fn is_metal_entry(vars: &Vars) -> bool {
    let props = vars.get("properties").and_then(Val::as_map);
    props.is_some_and(|p| truthy(p.get("is_metal")))
}

/// The group a container type maps to: its last `_word` replaced by `_SUFFIX`, `-` by `_`
/// (`shared-infra_containers` → `shared_infra_hosts`). A name without `_` stays as it is.
pub(crate) fn sibling_group(container_type: &str, suffix: &str) -> String {
    match container_type.rfind('_') {
        Some(i) => format!("{}_{suffix}", &container_type[..i]).replace('-', "_"),
        None => container_type.to_string(),
    }
}

/// The host entries of a group of the user configuration: `None` for a null group.
fn config_hosts<'c>(config: &'c Config, key: &str) -> Result<Option<&'c Map<String, Value>>> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(hosts)) => Ok(Some(hosts)),
        Some(other) => Err(Error::Config(format!(
            "{key} in the user configuration must be a mapping of host names to their settings, not {}",
            kind_of(other)
        ))),
    }
}

/// The settings of one host of a configuration group, which must include `ip`.
fn host_options<'c>(group: &str, host: &str, options: &'c Value) -> Result<&'c Map<String, Value>> {
    match options.as_object() {
        Some(o) if o.contains_key("ip") => Ok(o),
        _ => Err(Error::HostWithoutIp {
            host: host.to_string(),
            group: group.to_string(),
        }),
    }
}

/// A list of names from the environment (`belongs_to`, `contains`), empty when absent.
pub(crate) fn name_list<'e>(
    entry: &'e Map<String, Value>,
    key: &str,
    section: &str,
    name: &str,
) -> Result<Vec<&'e str>> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().ok_or_else(|| {
                    Error::Environment(format!(
                        "{section}.{name}.{key} must be a list of names, but holds {i}"
                    ))
                })
            })
            .collect(),
        Some(other) => Err(Error::Environment(format!(
            "{section}.{name}.{key} must be a list of names, not {}",
            kind_of(other)
        ))),
    }
}

/// The entries of an environment section (`physical_skel`, ...), in order.
pub(crate) fn env_section<'e>(
    env: &'e Environment,
    section: &str,
) -> Result<Vec<(&'e str, &'e Map<String, Value>)>> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let empty = EMPTY.get_or_init(Map::new);
    match env.get(section) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(entries)) => entries
            .iter()
            .map(|(name, body)| match body {
                Value::Object(b) => Ok((name.as_str(), b)),
                Value::Null => Ok((name.as_str(), empty)),
                other => Err(Error::Environment(format!(
                    "{section}.{name} in the environment must be a mapping, not {}",
                    kind_of(other)
                ))),
            })
            .collect(),
        Some(other) => Err(Error::Environment(format!(
            "{section} in the environment must be a mapping, not {}",
            kind_of(other)
        ))),
    }
}

fn global_overrides(config: &Config) -> Option<&Map<String, Value>> {
    config.get("global_overrides").and_then(Value::as_object)
}

/// The provider networks, each item's `network` mapping (items without one are skipped).
pub(crate) fn provider_networks(config: &Config) -> Vec<&Map<String, Value>> {
    global_overrides(config)
        .and_then(|o| o.get("provider_networks"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|pn| pn.get("network"))
                .filter(|n| truthy(Some(n)))
                .filter_map(Value::as_object)
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// §3 Checks before generation.

/// Runs checks 1 to 6 and returns the value of `all.vars.container_cidr`.
fn check_config(config: &Config, env: &Environment) -> Result<Value> {
    // 1. cidr_networks
    let cidr_networks = config.get("cidr_networks");
    if !truthy(cidr_networks) {
        return Err(Error::NoCidrNetworks);
    }
    let Some(cidr_networks) = cidr_networks.and_then(Value::as_object) else {
        return Err(Error::Config(
            "cidr_networks in the user configuration must be a mapping of network names to CIDRs"
                .into(),
        ));
    };

    // 2. The container network.
    let container_cidr = if let Some(c) = cidr_networks.get("container") {
        c.clone()
    } else if let Some(m) = cidr_networks.get("management") {
        m.clone()
    } else {
        let mut cidrs = Vec::new();
        for net in provider_networks(config) {
            let Some(q) = net.get("ip_from_q").and_then(Value::as_str) else {
                continue;
            };
            let Some(cidr) = cidr_networks.get(q) else {
                continue;
            };
            let prefix = net.get("address_prefix").and_then(Value::as_str);
            let management = management_flag(net);
            if matches!(prefix, Some("container" | "management")) || truthy(management) {
                cidrs.push(cidr.clone());
            }
        }
        if cidrs.is_empty() {
            return Err(Error::NoContainerNetwork);
        }
        Value::Array(cidrs)
    };

    // 3. Provider networks, unless every container runs on metal.
    let overrides = config.get("global_overrides");
    let no_containers = truthy(overrides.and_then(|o| o.get("no_containers")));
    let needs_networks = !no_containers
        && env_section(env, "container_skel")?.iter().any(|(_, body)| {
            let props = body.get("properties").and_then(Value::as_object);
            !props.is_some_and(|p| truthy(p.get("is_metal")))
        });
    if needs_networks {
        let Some(overrides) = overrides.and_then(Value::as_object) else {
            return Err(Error::NoGlobalOverrides);
        };
        if !overrides.contains_key("provider_networks") {
            return Err(Error::NoProviderNetworks);
        }
        let management_bridge = overrides.get("management_bridge");
        for net in provider_networks(config) {
            let queue = net.get("ip_from_q");
            if truthy(queue) {
                let q = value_text(queue.unwrap_or(&Value::Null));
                if !cidr_networks.contains_key(&q) {
                    return Err(Error::UnknownQueue(q));
                }
            }
            let bridge = net.get("container_bridge");
            if bridge.unwrap_or(&Value::Null) == management_bridge.unwrap_or(&Value::Null)
                && !truthy(management_flag(net))
            {
                return Err(Error::ManagementAddressRequired(value_text(
                    queue.unwrap_or(&Value::Null),
                )));
            }
        }
    }

    // 4. One address used by two hosts; a host without `ip`.
    let mut owner_of_ip: std::collections::HashMap<String, &str> = Default::default();
    for key in config.keys().filter(|k| k.ends_with("hosts")) {
        let Some(hosts) = config_hosts(config, key)? else {
            continue;
        };
        for (host, options) in hosts {
            let ip = value_text(&host_options(key, host, options)?["ip"]);
            match owner_of_ip.get(&ip) {
                Some(owner) if *owner != host => {
                    let (a, b) = if *owner <= host.as_str() {
                        (owner.to_string(), host.clone())
                    } else {
                        (host.clone(), owner.to_string())
                    };
                    return Err(Error::SameIpForTwoHosts(a, b, ip));
                }
                Some(_) => {}
                None => {
                    owner_of_ip.insert(ip, host);
                }
            }
        }
    }

    // 5. One host with two addresses across groups.
    let mut ip_of_host: std::collections::HashMap<&str, String> = Default::default();
    for key in config.keys().filter(|k| k.contains("_hosts")) {
        let Some(hosts) = config_hosts(config, key)? else {
            continue;
        };
        for (host, options) in hosts {
            let ip = value_text(&host_options(key, host, options)?["ip"]);
            match ip_of_host.get(host.as_str()) {
                Some(current) if *current != ip => {
                    let (a, b) = if *current <= ip {
                        (current.clone(), ip)
                    } else {
                        (ip, current.clone())
                    };
                    return Err(Error::TwoIpsForHost(host.clone(), a, b));
                }
                Some(_) => {}
                None => {
                    ip_of_host.insert(host, ip);
                }
            }
        }
    }

    // 6. lxc_hosts is generated, never configured.
    if config.contains_key("lxc_hosts") {
        return Err(Error::LxcHostsDefined);
    }
    Ok(container_cidr)
}

/// `is_management_address`, or its legacy spelling `is_container_address`.
pub(crate) fn management_flag(net: &Map<String, Value>) -> Option<&Value> {
    match net.get("is_management_address") {
        Some(v) => Some(v),
        None => net.get("is_container_address"),
    }
}

// ---------------------------------------------------------------------------------------
// §4 Global variables.

fn set_global_vars(inventory: &mut Inventory, config: &Config, container_cidr: Value) {
    let all = inventory.ensure_group("all", Group::default);
    let vars = all.extra.map_mut("vars");
    vars.insert("container_cidr", Val::from_json(&container_cidr));
    // Only a mapping of overrides replaces the variables (upstream ignores anything else).
    if let Some(overrides) = global_overrides(config) {
        for (k, v) in overrides {
            vars.insert(k, Val::from_json(v));
        }
        // Removing an override from the configuration removes it from the inventory.
        vars.retain(|k, _| k == "container_cidr" || overrides.contains_key(k));
    }
}

// ---------------------------------------------------------------------------------------
// §5 Used addresses and hosts.

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

/// The addresses the stored inventory has handed out (`container_networks.*.address`),
/// which must not be handed out again. Done where the inventory is loaded, so it overlaps
/// with reading the configuration.
pub fn stored_addresses(inventory: &Inventory) -> AddressBook {
    let mut addresses = AddressBook::default();
    for vars in inventory.hostvars.values() {
        let Some(networks) = vars.get("container_networks").and_then(Val::as_map) else {
            continue;
        };
        for net in networks.values() {
            let address = net.as_map().and_then(|n| n.get("address"));
            if let Some(ip) = address.and_then(Val::as_str).and_then(parse_ip) {
                addresses.reserve(ip);
            }
        }
    }
    addresses
}

/// `used_ips`: single addresses and `FIRST,LAST` ranges.
fn reserve_used_addresses(addresses: &mut AddressBook, config: &Config) -> Result<()> {
    if let Some(Value::Array(items)) = config.get("used_ips") {
        for item in items {
            let Some(text) = item.as_str() else {
                return Err(Error::InvalidUsedIp(item.to_string()));
            };
            let parts: Vec<&str> = text.split(',').collect();
            let bad = || Error::InvalidUsedIp(format!("\"{text}\""));
            let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
                return Err(bad());
            };
            let first = parse_ip(first).ok_or_else(bad)?;
            let last = parse_ip(last).ok_or_else(bad)?;
            if !addresses.reserve_range(first, last) {
                return Err(bad());
            }
        }
    }
    Ok(())
}

fn setup_hosts(
    inventory: &mut Inventory,
    config: &Config,
    addresses: &mut AddressBook,
    log: &mut Log,
) -> Result<()> {
    for key in config.keys().filter(|k| k.ends_with("hosts")) {
        inventory.ensure_group(key, Group::with_hosts);
        // A null group has no hosts; upstream stopped processing every later group here.
        let Some(hosts) = config_hosts(config, key)? else {
            log.debug(format!("Key {key} had no value"));
            continue;
        };
        for (host, options) in hosts {
            let options = host_options(key, host, options)?;
            let ip = options.get("ip").map(Val::from_json).unwrap_or_default();
            let vars = match inventory.hostvars.get_index_of(host.as_str()) {
                Some(i) => &mut inventory.hostvars[i],
                None => {
                    let i = inventory
                        .hostvars
                        .insert_full(Text::new(host), Vars::new())
                        .0;
                    &mut inventory.hostvars[i]
                }
            };
            let management = match options.get("management_ip") {
                Some(m) => Val::from_json(m),
                None => ip.clone(),
            };
            vars.insert("ansible_host", ip);
            vars.insert("management_address", management);
            vars.insert("is_metal", Val::Bool(true));
            vars.set_str("physical_host_group", key);
            let props = vars.get("properties");
            if !truthy(props) || props.and_then(Val::as_map).is_none() {
                vars.insert("properties", Val::Map(ValMap::new()));
            }
            vars.map_mut("properties")
                .insert("is_metal", Val::Bool(true));
            match options.get("host_vars") {
                None | Some(Value::Null) => {}
                Some(Value::Object(host_vars)) => {
                    for (k, v) in host_vars {
                        vars.insert(k, Val::from_json(v));
                    }
                }
                Some(other) => {
                    return Err(Error::Config(format!(
                        "host_vars of host {host} in {key} must be a mapping, not {}",
                        kind_of(other)
                    )));
                }
            }
            for address in [options.get("ip"), options.get("management_ip")] {
                if let Some(a) = address.and_then(Value::as_str).and_then(parse_ip) {
                    addresses.reserve(a);
                }
            }
            if let Some(group) = inventory.group_mut(key)
                && group.add_host(host)
            {
                log.debug_with(|| format!("Added host {host} to group {key}"));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// §6 The skeleton.

fn setup_skeleton(inventory: &mut Inventory, env: &Environment, config: &Config) -> Result<()> {
    for section in env.keys().filter(|s| *s != "version") {
        for (name, body) in env_section(env, section)? {
            if !inventory.groups.contains_key(name) {
                let make = if name.ends_with("container") {
                    Group::with_hosts
                } else {
                    Group::with_children_and_hosts
                };
                inventory.groups.insert(Text::new(name), make());
            }
            for parent in name_list(body, "belongs_to", section, name)? {
                inventory.ensure_group(parent, Group::with_children_and_hosts);
            }
        }
    }

    // Check 7: a group has either hosts (from the configuration) or child groups.
    for (child, body) in env_section(env, "physical_skel")? {
        for parent in name_list(body, "belongs_to", "physical_skel", child)? {
            if config.contains_key(parent) {
                return Err(Error::GroupConflict {
                    parent: parent.to_string(),
                    child: child.to_string(),
                });
            }
        }
    }

    for section in ["physical_skel", "component_skel"] {
        for (name, body) in env_section(env, section)? {
            for parent in name_list(body, "belongs_to", section, name)? {
                inventory
                    .ensure_group(parent, Group::with_children_and_hosts)
                    .add_child(name);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// §9 Finishing.

/// Keys every host entry has; missing ones are null (`container_networks` is `{}`).
const REQUIRED_HOSTVARS: [&str; 8] = [
    "properties",
    "ansible_host",
    "physical_host_group",
    "management_address",
    "container_name",
    "physical_host",
    "physical_host_addr",
    "component",
];

fn finish(inventory: &mut Inventory) {
    // lxc_hosts: the hosts of LXC containers, in the order of the (sorted) host entries.
    let mut names: Vec<&crate::value::Text> = inventory.hostvars.keys().collect();
    names.sort_unstable();
    let mut lxc_hosts = crate::model::Names::default();
    for name in names {
        let Some(vars) = inventory.hostvars.get(name.as_str()) else {
            continue;
        };
        let tech = vars.get("container_tech");
        let is_lxc = tech.is_none() || tech.and_then(Val::as_str) == Some("lxc");
        if let Some(Val::Str(physical)) = vars.get("physical_host")
            && physical != name
            && is_lxc
            && !lxc_hosts.contains(physical.as_str())
        {
            lxc_hosts.insert(*physical);
        }
    }
    inventory.groups.insert(
        Text::new("lxc_hosts"),
        Group {
            hosts: Some(lxc_hosts),
            ..Group::default()
        },
    );

    // Addresses of the physical hosts, looked up before entries are changed.
    let host_addresses: rustc_hash::FxHashMap<crate::value::Text, Val> = inventory
        .hostvars
        .values()
        .filter_map(|vars| match vars.get("physical_host") {
            Some(Val::Str(p)) => Some(p),
            _ => None,
        })
        .filter_map(|p| {
            let host = inventory.hostvars.get(p.as_str())?;
            Some((*p, host.get("ansible_host").cloned().unwrap_or_default()))
        })
        .collect();

    for (name, vars) in inventory.hostvars.iter_mut() {
        vars.insert_default("container_tech", || Val::str("lxc"));
        vars.insert_default("container_name", || Val::Str(*name));
        if let Some(addr) = vars
            .get("physical_host")
            .and_then(Val::as_str)
            .and_then(|p| host_addresses.get(p))
            && vars.get("physical_host_addr") != Some(addr)
        {
            vars.insert("physical_host_addr", addr.clone());
        }
        for key in REQUIRED_HOSTVARS {
            vars.insert_default(key, || Val::Null);
        }
        vars.insert_default("container_networks", || Val::Map(ValMap::new()));
    }
}
