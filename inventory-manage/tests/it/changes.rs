//! The changing actions (`-r`, `-d`, `--clear-ips`): what they remove, that the result is
//! byte for byte what the generator would print, and that the previous inventory is
//! kept in the backup archive.

use serde_json::{Map, Value};

use crate::support::*;

const SUCCESS: &str = "Success. . .\n";

/// `inventory` without `host` in `_meta.hostvars` and in every group's hosts.
fn without_host(inventory: &mut Map<String, Value>, host: &str) {
    inventory["_meta"]["hostvars"]
        .as_object_mut()
        .unwrap()
        .shift_remove(host);
    for (_, group) in inventory.iter_mut() {
        if let Some(Value::Array(hosts)) = group.get_mut("hosts") {
            hosts.retain(|h| h != host);
        }
    }
}

fn groups_listing<'a>(inventory: &'a Map<String, Value>, host: &str) -> Vec<&'a str> {
    inventory
        .keys()
        .filter(|g| group_hosts(inventory, g).is_some_and(|hs| hs.contains(&host)))
        .map(String::as_str)
        .collect()
}

#[test]
fn the_reference_inventory_is_the_generators_format() {
    // The expectations below rely on it.
    let text = steady_state("prod");
    assert_eq!(generator_text(&document(&text)), text);
}

#[test]
fn removing_a_container_removes_it_everywhere_and_keeps_a_backup() {
    let site = Site::prod();
    let before = site.inventory_text().unwrap();
    let container = "infra2-galera-container-061d9096";
    let mut expected = document(&before);
    assert!(groups_listing(&expected, container).len() >= 3);
    without_host(&mut expected, container);

    assert_eq!(site.ok(&["-r", container]), SUCCESS);
    let after = site.inventory_text().unwrap();
    assert_eq!(after, generator_text(&expected));
    let inventory = document(&after);
    assert!(!hostvars(&inventory).contains_key(container));
    assert!(groups_listing(&inventory, container).is_empty());
    assert!(!after.contains(container));
    // The previous inventory, whole, in the archive.
    let backups = site.backups();
    assert_eq!(backups.len(), 1);
    assert!(
        backups[0].0.starts_with("openstack_inventory.json-"),
        "{}",
        backups[0].0
    );
    assert_eq!(backups[0].1, before);
}

#[test]
fn removing_a_physical_host_keeps_its_containers_as_upstream_does() {
    let site = Site::prod();
    let mut expected = site.inventory();
    without_host(&mut expected, "infra1");
    site.ok(&["--remove-item", "infra1"]);
    let inventory = site.inventory();
    assert_eq!(site.inventory_text().unwrap(), generator_text(&expected));
    assert!(!hostvars(&inventory).contains_key("infra1"));
    let left: Vec<&String> = hostvars(&inventory)
        .keys()
        .filter(|h| h.starts_with("infra1-"))
        .collect();
    assert_eq!(left.len(), 18);
    // The group of its containers stays, listing them.
    assert_eq!(
        group_hosts(&inventory, "infra1_host_containers")
            .unwrap()
            .len(),
        18
    );
}

#[test]
fn removing_several_hosts_is_one_change() {
    let site = Site::prod();
    let mut expected = site.inventory();
    for host in ["compute2", "infra3-keystone-container-f53a8df1", "net1"] {
        without_host(&mut expected, host);
    }
    site.ok(&[
        "-r",
        "compute2",
        "-r",
        "infra3-keystone-container-f53a8df1",
        "--remove-item=net1",
    ]);
    assert_eq!(site.inventory_text().unwrap(), generator_text(&expected));
    assert_eq!(site.backups().len(), 1);
}

#[test]
fn removing_a_group_removes_it_from_its_parents() {
    let site = Site::prod();
    let inventory = site.inventory();
    let parents: Vec<&String> = inventory
        .iter()
        .filter(|(_, g)| {
            g.get("children")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c == "galera"))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(!parents.is_empty());
    let mut expected = inventory.clone();
    expected.shift_remove("galera");
    expected.shift_remove("keystone");
    for (_, group) in expected.iter_mut() {
        if let Some(Value::Array(children)) = group.get_mut("children") {
            children.retain(|c| c != "galera" && c != "keystone");
        }
    }
    assert_eq!(
        site.ok(&["-d", "galera", "--remove-group", "keystone"]),
        SUCCESS
    );
    assert_eq!(site.inventory_text().unwrap(), generator_text(&expected));
    assert_eq!(site.backups().len(), 1);
}

#[test]
fn clear_ips_removes_container_addresses_only() {
    let site = Site::prod();
    let mut expected = site.inventory();
    let mut cleared = 0;
    for (_, vars) in expected["_meta"]["hostvars"].as_object_mut().unwrap() {
        let vars = vars.as_object_mut().unwrap();
        if vars.get("is_metal") == Some(&Value::Bool(true)) {
            continue;
        }
        cleared += 1;
        for key in [
            "container_networks",
            "container_address",
            "ansible_host",
            "ansible_ssh_host",
        ] {
            vars.shift_remove(key);
        }
    }
    assert_eq!(cleared, 54);
    assert_eq!(site.ok(&["--clear-ips"]), SUCCESS);
    let after = site.inventory_text().unwrap();
    assert_eq!(after, generator_text(&expected));
    assert_eq!(
        hostvars(&document(&after))["infra1"]["ansible_host"],
        "172.29.236.11"
    );
    assert_eq!(site.backups().len(), 1);
    // Nothing left to clear: nothing written, no new backup.
    assert_eq!(site.ok(&["--clear-ips"]), SUCCESS);
    assert_eq!(site.inventory_text().unwrap(), after);
    assert_eq!(site.backups().len(), 1);
}

#[test]
fn a_change_through_file_writes_that_file_and_its_backup() {
    let site = Site::empty();
    let deploy = tempfile::tempdir().unwrap();
    let file = deploy.path().join(INVENTORY);
    std::fs::write(&file, steady_state("prod")).unwrap();
    site.ok(&["-f", file.to_str().unwrap(), "-r", "net3"]);
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(!after.contains("\"net3\""));
    assert_eq!(backups_in(deploy.path()).len(), 1);
    assert!(site.inventory_text().is_none());
    assert!(site.backups().is_empty());
}

#[test]
fn a_file_in_another_format_is_rewritten_in_the_generators() {
    // As upstream's own tool leaves it: indent 2, keys unsorted.
    let site = Site::prod();
    let reversed: Map<String, Value> = site.inventory().into_iter().rev().collect();
    site.write(INVENTORY, &serde_json::to_string_pretty(&reversed).unwrap());
    let mut expected = document(&steady_state("prod"));
    without_host(&mut expected, "net2");
    site.ok(&["-r", "net2"]);
    assert_eq!(site.inventory_text().unwrap(), generator_text(&expected));
}
