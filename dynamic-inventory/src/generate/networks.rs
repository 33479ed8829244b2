//! §8: container networks. Each provider network is bound to groups; every host entry
//! reached through those groups gets an entry in `container_networks` and, for
//! containers, an address from the network's pool.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{Map, Value};

use super::{Config, is_true, management_flag, provider_networks, truthy};
use crate::address::{AddressBook, Network, Pool};
use crate::config::value_text;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::model::{Inventory, Vars};
use crate::value::{Map as ValMap, Text, Val};

pub fn assign(
    inventory: &mut Inventory,
    config: &Config,
    addresses: &mut AddressBook,
    log: &mut Log,
) -> Result<()> {
    let (mut pools, pool_index) = build_pools(config)?;
    for net in provider_networks(config) {
        let provider = Provider::new(net, &pools, &pool_index, inventory)?;
        let mut visit = Visit::default();
        for bind in group_binds(net) {
            visit.group(inventory, &bind);
        }
        for entry in visit.hosts {
            provider.apply(inventory, config, &entry, addresses, &mut pools, log)?;
        }
    }
    Ok(())
}

/// One pool per `cidr_networks` entry that has a value.
fn build_pools(config: &Config) -> Result<(Vec<Pool>, HashMap<String, usize>)> {
    let mut pools = Vec::new();
    let mut index = HashMap::default();
    let Some(Value::Object(cidrs)) = config.get("cidr_networks") else {
        return Ok((pools, index));
    };
    for (name, cidr) in cidrs {
        if cidr.is_null() {
            continue;
        }
        let network = cidr
            .as_str()
            .and_then(Network::parse)
            .ok_or_else(|| Error::InvalidCidr {
                name: name.clone(),
                value: value_text(cidr),
            })?;
        index.insert(name.clone(), pools.len());
        pools.push(Pool::new(name, network));
    }
    Ok((pools, index))
}

fn group_binds(net: &Map<String, Value>) -> Vec<String> {
    net.get("group_binds")
        .and_then(Value::as_array)
        .map(|binds| {
            binds
                .iter()
                .filter_map(Value::as_str)
                .map(|b| b.replace('-', "_"))
                .collect()
        })
        .unwrap_or_default()
}

/// The host entries reached from the bound groups: children first (recursively, in
/// order), then the group's own hosts. Each group and host is visited once, so group
/// cycles cannot loop and shared subgroups cost nothing twice.
#[derive(Default)]
struct Visit {
    groups: HashSet<Text>,
    seen: HashSet<Text>,
    hosts: Vec<Text>,
}

impl Visit {
    fn group(&mut self, inventory: &Inventory, name: &str) {
        let Some((_, name, group)) = inventory.groups.get_full(name) else {
            return;
        };
        if !self.groups.insert(*name) {
            return;
        }
        for child in group.children() {
            self.group(inventory, child);
        }
        for host in group.hosts() {
            if self.seen.insert(*host) {
                self.hosts.push(*host);
            }
        }
    }
}

/// The settings of one provider network.
struct Provider<'n> {
    net: &'n Map<String, Value>,
    queue: Option<&'n Value>,
    pool: Option<usize>,
    netmask: Val,
    key: String,
    management: bool,
    /// With `reference_group`: the hosts allowed to join.
    reference_hosts: Option<HashSet<Text>>,
    /// The network entry from the provider network's settings, for a container and for
    /// a host on metal (without `interface`), built once.
    container_entry: ValMap,
    metal_entry: ValMap,
}

impl<'n> Provider<'n> {
    fn new(
        net: &'n Map<String, Value>,
        pools: &[Pool],
        pool_index: &HashMap<String, usize>,
        inventory: &Inventory,
    ) -> Result<Self> {
        let queue = net.get("ip_from_q").filter(|q| !q.is_null());
        let pool = queue
            .and_then(Value::as_str)
            .and_then(|q| pool_index.get(q).copied());
        let netmask = pool
            .and_then(|i| pools.get(i))
            .map(|p| Val::str(&p.network.netmask()))
            .unwrap_or_default();
        let text = |key: &str| {
            net.get(key)
                .map(value_text)
                .unwrap_or_else(|| "None".into())
        };
        let key = if truthy(net.get("address_prefix")) {
            format!("{}_address", text("address_prefix"))
        } else if truthy(queue) {
            format!("{}_address", text("ip_from_q"))
        } else {
            format!("{}_address", text("container_interface"))
        };
        let reference_hosts = match net.get("reference_group") {
            Some(group) if truthy(Some(group)) => {
                let group = value_text(group);
                if !inventory.groups.contains_key(group.as_str()) {
                    return Err(Error::Config(format!(
                        "reference_group '{group}' of the provider network with queue '{}' is not a group of the inventory",
                        text("ip_from_q")
                    )));
                }
                let mut visit = Visit::default();
                visit.group(inventory, &group);
                Some(visit.seen)
            }
            _ => None,
        };
        Ok(Provider {
            net,
            queue,
            pool,
            netmask,
            key,
            management: is_true(management_flag(net)),
            reference_hosts,
            container_entry: network_entry(net, false),
            metal_entry: network_entry(net, true),
        })
    }

    fn queue_name(&self) -> String {
        self.queue.map(value_text).unwrap_or_else(|| "None".into())
    }

    fn apply(
        &self,
        inventory: &mut Inventory,
        config: &Config,
        name: &Text,
        addresses: &mut AddressBook,
        pools: &mut [Pool],
        log: &mut Log,
    ) -> Result<()> {
        let Some(vars) = inventory.hostvars.get_mut(name.as_str()) else {
            return Ok(());
        };
        let physical_host = match vars.get("physical_host") {
            Some(Val::Str(p)) => Some(*p),
            _ => None,
        };
        if let Some(allowed) = &self.reference_hosts
            && !physical_host.as_ref().is_some_and(|p| allowed.contains(p))
        {
            return Ok(());
        }
        vars.remove("container_network");
        let metal = super::is_metal_entry(vars);
        let fresh = if metal {
            &self.metal_entry
        } else {
            &self.container_entry
        };
        let key = self.key.as_str();

        let networks = vars.map_mut("container_networks");
        let present = networks.contains_key(key);
        let previous_address = networks
            .get(key)
            .and_then(Val::as_map)
            .and_then(|e| e.get("address"))
            .cloned();
        if let Some(Val::Map(existing)) = networks.get_mut(key) {
            for (k, v) in fresh.iter() {
                if existing.get(k) != Some(v) {
                    existing.insert(k, v.clone());
                }
            }
        }

        // The address `ansible_host` takes when this is the management network.
        let mut host_address: Option<Val> = None;
        if !metal && !present {
            let mut entry = fresh.clone();
            // A legacy top-level `KEY` holding the address moves into the entry.
            let legacy = vars.get(key).filter(|v| v.truthy()).cloned();
            let address = match legacy {
                Some(a) => {
                    vars.remove(key);
                    Some(a)
                }
                None => match self.pool {
                    Some(pool) => {
                        let ip = addresses
                            .allocate(pools, pool, name)
                            .ok_or_else(|| Error::PoolExhausted(self.queue_name()))?;
                        log.debug_with(|| format!("Assigned {ip} on {key} to {name}"));
                        Some(Val::str(&ip.to_string()))
                    }
                    None => None,
                },
            };
            if let Some(a) = &address {
                entry.insert("address", a.clone());
            }
            entry.insert("netmask", self.netmask.clone());
            host_address = address;
            vars.map_mut("container_networks")
                .insert(key, Val::Map(entry));
        } else if metal {
            // A host on metal: its entry is rebuilt, with its own address on the
            // management network.
            let address = if self.management {
                match metal_host_address(config, vars, name, physical_host.as_deref()) {
                    Some((ip, management)) => {
                        host_address = Some(ip);
                        Some(management)
                    }
                    // A host no longer in the configuration keeps the address it had.
                    None => {
                        host_address = vars.get("ansible_host").cloned();
                        previous_address
                    }
                }
            } else {
                None
            };
            let networks = vars.map_mut("container_networks");
            let unchanged = networks.get(key).and_then(Val::as_map).is_some_and(|e| {
                e.len() == fresh.len() + 1 + usize::from(address.is_some())
                    && fresh.iter().all(|(k, v)| e.get(k) == Some(v))
                    && e.get("netmask") == Some(&self.netmask)
                    && address.as_ref().is_none_or(|a| e.get("address") == Some(a))
            });
            if !unchanged {
                let mut entry = fresh.clone();
                entry.insert("netmask", self.netmask.clone());
                if let Some(a) = address {
                    entry.insert("address", a);
                }
                networks.insert(key, Val::Map(entry));
            }
        } else {
            host_address = previous_address;
        }

        if self.management {
            let host_address = host_address.unwrap_or_default();
            if vars.get("ansible_host") != Some(&host_address) {
                vars.insert("ansible_host", host_address);
            }
            let address = vars
                .map_mut("container_networks")
                .get(key)
                .and_then(Val::as_map)
                .and_then(|e| e.get("address"))
                .cloned()
                .unwrap_or_default();
            if vars.get("management_address") != Some(&address) {
                vars.insert("management_address", address);
            }
        }

        if let Some(gateway) = self.net.get("gateway").filter(|g| truthy(Some(g))) {
            let gateway = Val::from_json(gateway);
            vars.insert("gateway", gateway.clone());
            if let Some(Val::Map(e)) = vars.map_mut("container_networks").get_mut(key) {
                e.insert("gateway", gateway);
            }
        }

        if let Some(routes) = self.net.get("static_routes").filter(|r| truthy(Some(r))) {
            let routes = match routes {
                Value::Array(items) => items.as_slice(),
                _ => std::slice::from_ref(routes),
            };
            let mut rebuilt = thin_vec::ThinVec::with_capacity(routes.len());
            for route in routes {
                let complete = route
                    .as_object()
                    .is_some_and(|r| truthy(r.get("cidr")) && truthy(r.get("gateway")));
                if !complete {
                    return Err(Error::IncompleteStaticRoute(self.queue_name()));
                }
                rebuilt.push(Val::from_json(route));
            }
            if let Some(Val::Map(e)) = vars.map_mut("container_networks").get_mut(key) {
                e.insert("static_routes", Val::List(rebuilt));
            }
        }
        Ok(())
    }
}

/// The network entry a provider network gives a host: `interface` (only in containers,
/// even when null), `bridge`, `bridge_type`, `type`, `mtu` (each only when set).
fn network_entry(net: &Map<String, Value>, metal: bool) -> ValMap {
    let mut entry = ValMap::new();
    if !metal {
        let interface = net.get("container_interface");
        entry.insert(
            "interface",
            interface.map(Val::from_json).unwrap_or_default(),
        );
    }
    for (from, to) in [
        ("container_bridge", "bridge"),
        ("container_bridge_type", "bridge_type"),
        ("container_type", "type"),
        ("container_mtu", "mtu"),
    ] {
        if let Some(v) = net.get(from).filter(|v| truthy(Some(v))) {
            entry.insert(to, Val::from_json(v));
        }
    }
    entry
}

/// For a metal entry on the management network: the host's `ip` (its `ansible_host`)
/// and its management address (`management_ip`, else `ip`), from its group of the user
/// configuration.
fn metal_host_address(
    config: &Config,
    vars: &Vars,
    name: &str,
    physical_host: Option<&str>,
) -> Option<(Val, Val)> {
    let group = vars.get("physical_host_group").and_then(Val::as_str)?;
    let hosts = config.get(group)?.as_object()?;
    let options = match hosts.get(name).filter(|v| !v.is_null()) {
        Some(o) => o,
        None => hosts.get(physical_host?)?,
    };
    let ip = options.get("ip")?;
    let management = options.get("management_ip").unwrap_or(ip);
    Some((Val::from_json(ip), Val::from_json(management)))
}
