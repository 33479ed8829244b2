//! Reproducible names and addresses: a lost inventory can be regenerated, addresses are
//! never ones that must not be handed out, and any network size works.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use crate::reference::{check_allocated_addresses, user_config};
use crate::support::*;
use crate::synthetic;

fn regenerate(d: &Deployment) -> String {
    for f in [
        "openstack_inventory.json",
        "openstack_inventory.json.lock",
        "backup_openstack_inventory.tar",
    ] {
        let _ = std::fs::remove_file(d.path().join(f));
    }
    d.ok(&[])
}

#[test]
fn deleting_the_inventory_and_running_again_recreates_it_byte_for_byte() {
    for case in reference_cases() {
        let d = Deployment::from_case(&case);
        let first = d.ok(&[]);
        let again = regenerate(&d);
        assert!(first == again, "{case}: regenerated inventory differs");
    }
    let mut d = Deployment::new();
    d.env = None;
    d.write("openstack_user_config.yml", &synthetic::config(600));
    let first = d.ok(&[]);
    assert!(
        first == regenerate(&d),
        "synthetic: regenerated inventory differs"
    );
    check_allocated_addresses(&serde_json::from_str(&first).unwrap(), &user_config(&d));
}

/// Container name → its addresses, for every container of an inventory.
fn container_addresses(inventory: &Value) -> BTreeMap<String, Vec<String>> {
    inventory["_meta"]["hostvars"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v["properties"]["is_metal"] != Value::Bool(true))
        .map(|(name, v)| {
            let addresses = v["container_networks"]
                .as_object()
                .unwrap()
                .values()
                .filter_map(|n| n["address"].as_str().map(str::to_string))
                .collect();
            (name.clone(), addresses)
        })
        .collect()
}

#[test]
fn regenerating_after_adding_hosts_keeps_names_and_nearly_every_address() {
    let mut d = Deployment::new();
    d.env = None;
    d.write("openstack_user_config.yml", &synthetic::config(400));
    let before = container_addresses(&serde_json::from_str(&d.ok(&[])).unwrap());

    // The same deployment with three more infrastructure hosts (each gets a full set of
    // containers competing for addresses), regenerated from scratch.
    let mut grown = synthetic::config(400);
    for group in [
        "shared_infra_hosts",
        "identity_hosts",
        "image_hosts",
        "repo_infra_hosts",
    ] {
        grown = grown.replacen(
            &format!("{group}:\n"),
            &format!(
                "{group}:\n  infra4:\n    ip: 10.0.200.4\n  infra5:\n    ip: 10.0.200.5\n  infra6:\n    ip: 10.0.200.6\n"
            ),
            1,
        );
    }
    d.write("openstack_user_config.yml", &grown);
    let after = container_addresses(&serde_json::from_str(&regenerate(&d)).unwrap());

    assert!(after.len() > before.len());
    let mut moved = 0;
    for (name, addresses) in &before {
        let now = after
            .get(name)
            .unwrap_or_else(|| panic!("container {name} was renamed or lost"));
        moved += addresses.iter().filter(|a| !now.contains(a)).count();
    }
    let total: usize = before.values().map(Vec::len).sum();
    // Contested addresses are rare: with N containers in a network of S addresses, a
    // container loses its address with probability about N/S (here well under 1%).
    assert!(total > 40);
    assert!(moved * 100 <= total, "{moved} of {total} addresses moved");
}

#[test]
fn a_name_already_taken_is_skipped_deterministically() {
    // Generate once to learn the name infra1's galera container gets, then make that
    // name a different, unrelated entry: the container must get another name, the same
    // one on every run, and the unrelated entry must be left alone.
    let d = Deployment::with_config(&small_config(""));
    let inv = d.json(&[]);
    let galera = hostnames_starting(&inv, "infra1-galera-container-");
    assert_eq!(galera.len(), 1);
    let taken = galera[0].clone();

    let occupied = format!(
        "{{\"_meta\": {{\"hostvars\": {{\"{taken}\": {{\"note\": \"not a container\"}}}}}}}}"
    );
    let runs: Vec<Vec<String>> = (0..2)
        .map(|_| {
            d.write("openstack_inventory.json", &occupied);
            let inv = d.json(&[]);
            assert_eq!(hostvars(&inv, &taken)["note"], "not a container");
            hostnames_starting(&inv, "infra1-galera-container-")
                .into_iter()
                .filter(|n| *n != taken)
                .collect()
        })
        .collect();
    assert_eq!(runs[0].len(), 1);
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn names_and_addresses_do_not_depend_on_the_machine() {
    // Pinned values: regenerating an inventory with a later version must give the same
    // names and addresses, so the derivations may never change.
    assert_eq!(
        dynamic_inventory::generate::container_suffix("infra1", "galera_container", 0),
        0xa206_70e6
    );
    let net = dynamic_inventory::address::Network::parse("172.29.236.0/22").unwrap();
    let mut pools = vec![dynamic_inventory::address::Pool::new(net)];
    let mut book = dynamic_inventory::address::AddressBook::default();
    let ip = book
        .allocate(&mut pools, 0, "infra1-galera-container-a20670e6")
        .unwrap();
    assert_eq!(ip, "172.29.238.164".parse::<IpAddr>().unwrap());
}

#[test]
fn an_ipv6_slash_64_management_network_works_end_to_end() {
    let d = Deployment::with_config(&format!(
        r#"
cidr_networks:
  management: "fd00:10:20:30::/64"
used_ips:
  - "fd00:10:20:30::1,fd00:10:20:30::ff"
{}shared_infra_hosts:
  infra1:
    ip: "fd00:10:20:30::100"
"#,
        management_overrides("fd00:10:20:30::10")
    ));
    let inv = d.json(&[]);
    let config = user_config(&d);
    check_allocated_addresses(&inv, &config);
    let galera = &hostnames_starting(&inv, "infra1-galera-container-")[0];
    let net = &hostvars(&inv, galera)["container_networks"]["management_address"];
    assert_eq!(net["netmask"], "ffff:ffff:ffff:ffff::");
    let address: IpAddr = net["address"].as_str().unwrap().parse().unwrap();
    assert!(address.is_ipv6());
    assert_eq!(hostvars(&inv, galera)["ansible_host"], net["address"]);
    assert_eq!(inv["all"]["vars"]["container_cidr"], "fd00:10:20:30::/64");
    assert_eq!(d.ok(&[]), regenerate(&d));
}

#[test]
fn reserved_addresses_are_never_handed_out_whatever_the_names() {
    // A small network where most addresses are reserved (network, broadcast, used_ips
    // ranges and single addresses, host addresses): over many sets of host names the
    // containers must still only get free addresses, each once.
    for seed in 0..40u32 {
        let host = format!("h{:x}", seed.wrapping_mul(2_654_435_761));
        let d = Deployment::with_config(&format!(
            r#"
cidr_networks:
  management: 10.9.0.0/25
used_ips:
  - "10.9.0.1,10.9.0.40"
  - "10.9.0.60,10.9.0.90"
  - "10.9.0.100"
{overrides}shared_infra_hosts:
  {host}:
    ip: 10.9.0.41
    affinity:
      galera_container: 3
      rabbit_mq_container: 3
"#,
            overrides = management_overrides("10.9.0.2"),
        ));
        let inv = d.json(&[]);
        check_allocated_addresses(&inv, &user_config(&d));
        let hostvars = inv["_meta"]["hostvars"].as_object().unwrap();
        let containers = hostvars
            .values()
            .filter(|v| v["properties"]["is_metal"] != Value::Bool(true))
            .count();
        assert!(containers >= 8, "seed {seed}: {containers} containers");
        for v in hostvars
            .values()
            .filter(|v| v["is_metal"] != Value::Bool(true))
        {
            let Some(a) = v["container_networks"]["management_address"]["address"].as_str() else {
                continue;
            };
            assert_ne!(a, "10.9.0.41", "seed {seed}: host address handed out");
            assert_ne!(a, "10.9.0.127", "seed {seed}: broadcast handed out");
        }
    }
}
