//! `inventory-manage` on the Craton backend: every listing and change gives what it gives
//! on the JSON file, and the fleet follows each change.

use serde_json::Value;

use super::{Setup, assert_fleet_matches};
use crate::support::{READING_ACTIONS, document, failed, hostvars, steady_state};

#[test]
fn every_action_works_on_craton_as_on_the_json_file() {
    let Some(setup) = Setup::new("every_action_works_on_craton") else {
        return;
    };
    let text = steady_state("prod");
    setup.store(&text);
    // The JSON section holds the same inventory: each action runs on both.
    std::fs::write(setup.json_file(), &text).unwrap();
    let both = |args: &[&str]| {
        let on_craton = setup.manage_ok(args);
        let mut json = vec!["--backend", "json"];
        json.extend_from_slice(args);
        assert_eq!(on_craton, setup.manage_ok(&json), "{args:?}");
        on_craton
    };
    for args in READING_ACTIONS {
        both(args);
    }

    // -r of a physical host: its containers stay, in the inventory and in Craton, where
    // they lose their parent.
    let physical = "infra1";
    let containers: Vec<String> = hostvars(&document(&text))
        .iter()
        .filter(|(name, vars)| name.as_str() != physical && vars["physical_host"] == physical)
        .map(|(name, _)| name.clone())
        .collect();
    assert!(
        containers.len() > 5,
        "infra1 has containers in the prod case"
    );
    assert_eq!(both(&["-r", physical]), "Success. . .\n");
    let stored = setup.stored();
    assert_eq!(stored, std::fs::read_to_string(setup.json_file()).unwrap());
    let region = setup.fleet_region();
    let hosts = setup
        .craton
        .list(&format!("/hosts?region_id={region}"), "hosts");
    assert!(!hosts.iter().any(|h| h["name"] == physical));
    for container in &containers {
        let host = hosts
            .iter()
            .find(|h| h["name"] == container.as_str())
            .unwrap_or_else(|| panic!("{container} is still in Craton"));
        assert_eq!(host["parent_id"], Value::Null, "{container} is detached");
        assert_eq!(host["device_type"], "container");
    }
    assert_fleet_matches(&setup, &stored);

    // -d of a group, --clear-ips: the same on both, and the fleet follows.
    both(&["-d", "galera"]);
    assert!(
        setup
            .craton
            .list(&format!("/hosts?label=galera&region_id={region}"), "hosts")
            .is_empty()
    );
    both(&["--clear-ips"]);
    let stored = setup.stored();
    assert_eq!(stored, std::fs::read_to_string(setup.json_file()).unwrap());
    assert_fleet_matches(&setup, &stored);
    assert_eq!(setup.revisions().len(), 4);

    // An unknown host: the message names Craton's location; nothing changes.
    let out = setup.manage_run(&["-r", "nope"]);
    let stderr = failed(out, 1);
    assert!(stderr.starts_with("no host nope in the inventory (cloud 'openstack-ansible', region 'RegionOne' of project "), "{stderr}");
    assert!(stderr.ends_with("); nothing was changed\n"), "{stderr}");
    assert_eq!(setup.revisions().len(), 4);
}

#[test]
fn migrate_refuses_a_craton_that_holds_an_inventory_unless_forced() {
    let Some(setup) = Setup::new("migrate_refuses_a_craton_that_holds_an_inventory") else {
        return;
    };
    setup.store(&steady_state("test"));
    std::fs::write(setup.json_file(), steady_state("prod")).unwrap();
    let stderr = failed(
        setup.manage_run(&["migrate", "--from", "json", "--to", "craton"]),
        1,
    );
    assert!(stderr.contains("already holds an inventory"), "{stderr}");
    assert_eq!(setup.stored(), steady_state("test"));
    setup.manage_ok(&["migrate", "--from", "json", "--to", "craton", "--force"]);
    assert_eq!(setup.stored(), steady_state("prod"));
    assert_fleet_matches(&setup, &steady_state("prod"));
}

#[test]
fn a_first_write_refuses_a_region_holding_other_hosts() {
    let Some(setup) = Setup::new("a_first_write_refuses_a_region_holding_other_hosts") else {
        return;
    };
    let craton = &setup.craton;
    let (_, cloud) = craton.call(
        "POST",
        "/clouds",
        Some(&serde_json::json!({"name": "openstack-ansible"})),
    );
    let (_, region) = craton.call(
        "POST",
        "/regions",
        Some(&serde_json::json!({"name": "RegionOne", "cloud_id": cloud["id"]})),
    );
    let (status, _) = craton.call(
        "POST",
        "/hosts",
        Some(&serde_json::json!({
            "name": "someone-elses-switch", "cloud_id": cloud["id"], "region_id": region["id"],
            "ip_address": "10.9.9.9", "device_type": "switch"
        })),
    );
    assert_eq!(status, 201);
    std::fs::write(setup.json_file(), steady_state("test")).unwrap();
    let stderr = failed(
        setup.manage_run(&["migrate", "--from", "json", "--to", "craton"]),
        1,
    );
    assert_eq!(
        stderr,
        "craton backend: region 'RegionOne' of cloud 'openstack-ansible' in Craton already holds \
         1 host(s) that are not in this inventory (someone-elses-switch); the Craton backend \
         manages every host of its region and would delete them: set 'region' (or 'cloud') to \
         one of its own, or remove them; nothing was written\n"
    );
    let hosts = craton.list(&format!("/hosts?region_id={}", region["id"]), "hosts");
    assert_eq!(hosts.len(), 1);
    assert!(failed(setup.manage_run(&["dump"]), 1).contains("no inventory is stored"));
}
