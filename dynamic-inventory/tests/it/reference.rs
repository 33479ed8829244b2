//! The upstream reference cases (`tests/fixtures/reference/cases`): byte-exact steady state,
//! fresh runs equal to upstream up to generated names and addresses, stable re-runs.

use std::collections::HashSet;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;

use dynamic_inventory::address::Network;
use dynamic_inventory::config::{ConfigDirs, load_user_config};
use dynamic_inventory::log::Log;
use serde_json::{Map, Value};

use crate::support::*;

fn steady_state(case: &str) -> String {
    std::fs::read_to_string(reference_case(case).join("steady_state.json")).unwrap()
}

#[test]
fn steady_state_is_reproduced_byte_for_byte_and_not_rewritten() {
    for case in reference_cases() {
        let d = Deployment::from_case(&case);
        let expected = steady_state(&case);
        d.write("openstack_inventory.json", &expected);
        let inode = std::fs::metadata(d.inventory_path()).unwrap().ino();
        let out = d.ok(&["--list"]);
        assert!(
            out == expected,
            "{case}: output differs from steady_state.json"
        );
        assert_eq!(d.inventory_text().unwrap(), expected, "{case}");
        assert_eq!(
            std::fs::metadata(d.inventory_path()).unwrap().ino(),
            inode,
            "{case}: rewritten"
        );
        assert!(!d.backup_path().exists(), "{case}: a backup was made");
    }
}

#[test]
fn the_built_in_environment_gives_upstream_results() {
    // Drop-in replacement: with our own default environment, an upstream inventory stays
    // exactly as it is (same group order, same component for hosts running services on metal).
    for case in reference_cases() {
        let mut d = Deployment::from_case(&case);
        d.env = None;
        let expected = steady_state(&case);
        d.write("openstack_inventory.json", &expected);
        let out = d.ok(&["--list"]);
        if out != expected {
            let ours: Value = serde_json::from_str(&out).unwrap();
            let upstream: Value = serde_json::from_str(&expected).unwrap();
            panic!("{case}: {}", first_difference(&ours, &upstream));
        }
    }
}

#[test]
fn fresh_runs_match_upstream_up_to_names_and_addresses() {
    // With upstream's environment and with the one built into the binary.
    let runs = reference_cases()
        .into_iter()
        .flat_map(|case| [(case.clone(), true), (case, false)]);
    for (case, upstream_env) in runs {
        let mut d = Deployment::from_case(&case);
        if !upstream_env {
            d.env = None;
        }
        let out = d.ok(&[]);
        assert_eq!(
            d.inventory_text().unwrap(),
            out,
            "{case}: file differs from stdout"
        );
        let config = user_config(&d);
        let ours: Value = serde_json::from_str(&out).unwrap();
        let upstream: Value = serde_json::from_str(&steady_state(&case)).unwrap();
        let (ours_n, upstream_n) = (normalise(&ours, &config), normalise(&upstream, &config));
        if ours_n != upstream_n {
            panic!("{case}: {}", first_difference(&ours_n, &upstream_n));
        }
        check_allocated_addresses(&ours, &config);
    }
}

#[test]
fn a_second_run_changes_nothing() {
    for case in reference_cases() {
        let d = Deployment::from_case(&case);
        let first = d.ok(&[]);
        let inode = std::fs::metadata(d.inventory_path()).unwrap().ino();
        let second = d.ok(&[]);
        assert!(first == second, "{case}: second run differs");
        assert_eq!(
            std::fs::metadata(d.inventory_path()).unwrap().ino(),
            inode,
            "{case}"
        );
        assert!(!d.backup_path().exists(), "{case}");
    }
}

pub fn user_config(d: &Deployment) -> Map<String, Value> {
    let dirs = ConfigDirs::with_default(d.path().to_str(), std::path::Path::new("/nonexistent"));
    load_user_config(&dirs, &mut Log::new(false)).unwrap()
}

fn networks(config: &Map<String, Value>) -> Vec<(String, Network)> {
    config["cidr_networks"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), Network::parse(v.as_str()?)?)))
        .collect()
}

fn host_ips(config: &Map<String, Value>) -> HashSet<String> {
    config
        .iter()
        .filter(|(k, _)| k.ends_with("hosts"))
        .filter_map(|(_, v)| v.as_object())
        .flat_map(|hosts| hosts.values())
        .filter_map(|h| h.get("ip").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Generated 8-hex suffixes become `XXXXXXXX`; container addresses become `ADDR:NETWORK`;
/// host entries become a sorted list, so containers of one kind compare as a multiset.
pub fn normalise(inventory: &Value, config: &Map<String, Value>) -> Value {
    let nets = networks(config);
    let hosts = host_ips(config);
    fn walk(v: &Value, nets: &[(String, Network)], hosts: &HashSet<String>) -> Value {
        match v {
            Value::String(s) => Value::String(normalise_text(s, nets, hosts)),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, nets, hosts)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (normalise_text(k, nets, hosts), walk(x, nets, hosts)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut top = inventory.as_object().unwrap().clone();
    let meta = top.remove("_meta").unwrap();
    let mut entries: Vec<Value> = meta["hostvars"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            Value::Array(vec![
                Value::String(normalise_text(k, &nets, &hosts)),
                walk(v, &nets, &hosts),
            ])
        })
        .collect();
    entries.sort_by_key(|e| e.to_string());
    let mut out = walk(&Value::Object(top), &nets, &hosts);
    out.as_object_mut()
        .unwrap()
        .insert("_meta.hostvars".into(), Value::Array(entries));
    out
}

fn normalise_text(s: &str, nets: &[(String, Network)], hosts: &HashSet<String>) -> String {
    let b = s.as_bytes();
    if b.len() > 9
        && b[b.len() - 9] == b'-'
        && b[b.len() - 8..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    {
        return format!("{}-XXXXXXXX", &s[..s.len() - 9]);
    }
    if let Ok(ip) = s.parse::<IpAddr>()
        && !hosts.contains(s)
        && let Some((name, _)) = nets.iter().find(|(_, n)| n.contains(ip))
    {
        return format!("ADDR:{name}");
    }
    s.to_string()
}

pub fn first_difference(a: &Value, b: &Value) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                if x.get(k) != y.get(k) {
                    return match (x.get(k), y.get(k)) {
                        (Some(p), Some(q)) => format!("{k}.{}", first_difference(p, q)),
                        (p, q) => format!("{k}: ours {p:?} upstream {q:?}"),
                    };
                }
            }
            String::new()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return format!("[{i}].{}", first_difference(p, q));
                }
            }
            String::new()
        }
        _ => format!(": ours {a} upstream {b}"),
    }
}

/// Every address handed to a container lies in a configured network, is unique, and is
/// not a network, broadcast, used_ips or host address.
pub fn check_allocated_addresses(inventory: &Value, config: &Map<String, Value>) {
    let nets = networks(config);
    let hosts = host_ips(config);
    let used: Vec<(IpAddr, IpAddr)> = config
        .get("used_ips")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    let s = i.as_str().unwrap();
                    let (a, b) = s.split_once(',').unwrap_or((s, s));
                    (a.trim().parse().unwrap(), b.trim().parse().unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut seen = HashSet::new();
    for (name, vars) in inventory["_meta"]["hostvars"].as_object().unwrap() {
        if vars["properties"]["is_metal"] == Value::Bool(true) {
            continue;
        }
        for (key, net) in vars["container_networks"].as_object().unwrap() {
            let Some(addr) = net.get("address").and_then(Value::as_str) else {
                continue;
            };
            let ip: IpAddr = addr.parse().unwrap();
            let network = nets
                .iter()
                .find(|(_, n)| n.contains(ip))
                .unwrap_or_else(|| panic!("{name} {key}: {addr} is in no network"));
            let canonical = network.1.canonical();
            let base: IpAddr = canonical.split('/').next().unwrap().parse().unwrap();
            assert_ne!(ip, base, "{name}: network address handed out");
            let broadcast = match (ip, base) {
                (IpAddr::V4(_), IpAddr::V4(b)) => {
                    let len: u32 = canonical.split('/').nth(1).unwrap().parse().unwrap();
                    let last = u32::from(b) | (u32::MAX.checked_shr(len).unwrap_or(0));
                    IpAddr::V4(last.into())
                }
                _ => base,
            };
            assert_ne!(ip, broadcast, "{name}: broadcast address handed out");
            assert!(
                !hosts.contains(addr),
                "{name}: host address {addr} handed out"
            );
            for (a, b) in &used {
                assert!(
                    !(*a <= ip && ip <= *b),
                    "{name}: used address {addr} handed out"
                );
            }
            assert!(seen.insert(addr.to_string()), "{addr} handed out twice");
        }
    }
}
