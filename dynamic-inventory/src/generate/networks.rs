//! docs/generation.md §8: container networks. Each provider network is bound to groups; every host entry
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
use crate::value::{Map as ValMap, Text, Truthy, Val};

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
        pools.push(Pool::new(network));
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
    /// `gateway`, when set.
    gateway: Option<Val>,
    /// `static_routes`, when set; `Err` when a route lacks `cidr` or `gateway` (an error
    /// for the first host the network reaches).
    static_routes: Option<std::result::Result<Val, ()>>,
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
            queue,
            pool,
            netmask,
            key,
            management: is_true(management_flag(net)),
            reference_hosts,
            container_entry: network_entry(net, false),
            metal_entry: network_entry(net, true),
            gateway: net
                .get("gateway")
                .filter(|g| truthy(Some(*g)))
                .map(Val::from_json),
            static_routes: net
                .get("static_routes")
                .filter(|r| truthy(Some(*r)))
                .map(static_routes),
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
        let key = self.key.as_str();
        let routes = match &self.static_routes {
            Some(Ok(routes)) => Some(routes),
            Some(Err(())) => return Err(Error::IncompleteStaticRoute(self.queue_name())),
            None => None,
        };

        // A host on metal on the management network: its addresses from its configuration
        // (a host no longer configured keeps what it had).
        let configured = if metal && self.management {
            match metal_host_address(config, vars, name, physical_host.as_deref()) {
                Some(found) => Some(Ok(found)),
                None => Some(Err(vars.get("ansible_host").cloned())),
            }
        } else {
            None
        };
        let present = vars
            .get("container_networks")
            .and_then(Val::as_map)
            .and_then(|n| n.get(key))
            .is_some_and(|e| e.as_map().is_some());
        // A container new on this network: a legacy top-level `KEY` holding its address
        // moves into the entry; otherwise the pool gives one.
        let mut new_address = None;
        if !metal && !present {
            new_address = match vars.get(key).filter(|v| v.truthy()).cloned() {
                Some(legacy) => {
                    vars.remove(key);
                    Some(legacy)
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
        }

        let networks = vars.map_mut("container_networks");
        // The address `ansible_host` takes when this is the management network.
        let host_address = if metal {
            let (address, host_address) = match configured {
                None => (None, None),
                Some(Ok((ip, management))) => (Some(management), Some(ip)),
                Some(Err(ansible_host)) => {
                    let old = networks
                        .get(key)
                        .and_then(Val::as_map)
                        .and_then(|e| e.get("address"))
                        .cloned();
                    (old, ansible_host)
                }
            };
            // The entry is rebuilt: replaced unless it already is what it would become.
            let fresh = &self.metal_entry;
            let unchanged = networks.get(key).and_then(Val::as_map).is_some_and(|e| {
                let extra = usize::from(self.gateway.is_some()) + usize::from(routes.is_some());
                e.len() == fresh.len() + 1 + usize::from(address.is_some()) + extra
                    && fresh.iter().all(|(k, v)| e.get(k) == Some(v))
                    && e.get("netmask") == Some(&self.netmask)
                    && address.as_ref().is_none_or(|a| e.get("address") == Some(a))
                    && self
                        .gateway
                        .as_ref()
                        .is_none_or(|g| e.get("gateway") == Some(g))
                    && routes.is_none_or(|r| e.get("static_routes") == Some(r))
            });
            if !unchanged {
                let mut entry = fresh.clone();
                entry.insert("netmask", self.netmask.clone());
                if let Some(a) = address {
                    entry.insert("address", a);
                }
                networks.insert(key, Val::Map(entry));
            }
            host_address
        } else if let Some(Val::Map(existing)) = networks.get_mut(key) {
            // Already on this network: its settings are updated, its address kept.
            for (k, v) in self.container_entry.iter() {
                existing.set(k, v.clone());
            }
            existing.get("address").cloned()
        } else {
            let mut entry = self.container_entry.clone();
            if let Some(a) = &new_address {
                entry.insert("address", a.clone());
            }
            entry.insert("netmask", self.netmask.clone());
            networks.insert(key, Val::Map(entry));
            new_address
        };

        let mut entry_address = Val::Null;
        if let Some(Val::Map(entry)) = networks.get_mut(key) {
            entry_address = entry.get("address").cloned().unwrap_or_default();
            if let Some(gateway) = &self.gateway {
                entry.set("gateway", gateway.clone());
            }
            if let Some(routes) = routes {
                entry.set("static_routes", routes.clone());
            }
        }
        if let Some(gateway) = &self.gateway {
            vars.set("gateway", gateway.clone());
        }
        if self.management {
            vars.set("ansible_host", host_address.unwrap_or_default());
            vars.set("management_address", entry_address);
        }
        Ok(())
    }
}

/// `static_routes` as set on an entry; every route needs `cidr` and `gateway`.
fn static_routes(routes: &Value) -> std::result::Result<Val, ()> {
    let routes = match routes {
        Value::Array(items) => items.as_slice(),
        _ => std::slice::from_ref(routes),
    };
    let complete = |route: &Value| {
        route
            .as_object()
            .is_some_and(|r| truthy(r.get("cidr")) && truthy(r.get("gateway")))
    };
    if routes.iter().all(complete) {
        Ok(Val::List(routes.iter().map(Val::from_json).collect()))
    } else {
        Err(())
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
