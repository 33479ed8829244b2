//! Inventories in shapes upstream writes and `dynamic-inventory` rewrites: `null` in
//! `lxc_hosts` (upstream's, for a host that hosts nothing) is read by every action, and
//! a change writes the inventory without it.

use serde_json::Value;

use crate::support::*;

const SUCCESS: &str = "Success. . .\n";

/// `text` (in the generator's format) with a `null` first in `lxc_hosts`' hosts.
fn with_null_in_lxc_hosts(text: &str) -> String {
    let from = "    \"lxc_hosts\": {\n        \"hosts\": [\n";
    assert!(text.contains(from), "no lxc_hosts in {text}");
    text.replacen(from, &format!("{from}            null,\n"), 1)
}

#[test]
fn every_report_reads_an_inventory_with_null_in_lxc_hosts() {
    let clean = Site::prod();
    let upstream = with_null_in_lxc_hosts(&steady_state("prod"));
    let site = Site::with_inventory(&upstream);
    assert_eq!(
        document(&upstream)["lxc_hosts"]["hosts"][0],
        Value::Null,
        "the null is there"
    );
    for args in [&["-l"][..], &["-g"], &["-G"], &["-e"]] {
        assert_eq!(site.ok(args), clean.ok(args), "{args:?}");
    }
    // Dumped as it is stored.
    assert_eq!(site.ok(&["dump"]), upstream);
    assert_eq!(site.inventory_text().unwrap(), upstream);
    assert!(site.backups().is_empty(), "reading wrote a backup");
}

#[test]
fn a_change_writes_the_inventory_without_the_null() {
    let upstream = with_null_in_lxc_hosts(&steady_state("prod"));
    let site = Site::with_inventory(&upstream);
    let container = "infra2-galera-container-061d9096";
    assert_eq!(site.ok(&["-r", container]), SUCCESS);

    let mut expected = document(&steady_state("prod"));
    expected["_meta"]["hostvars"]
        .as_object_mut()
        .unwrap()
        .shift_remove(container);
    for (_, group) in expected.iter_mut() {
        if let Some(Value::Array(hosts)) = group.get_mut("hosts") {
            hosts.retain(|h| h != container);
        }
    }
    assert_eq!(site.inventory_text().unwrap(), generator_text(&expected));
    let backups = site.backups();
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].1, upstream);
}

#[test]
fn a_change_that_changes_nothing_else_still_drops_the_null_once() {
    let site = Site::prod();
    site.ok(&["--clear-ips"]);
    let cleared = site.inventory_text().unwrap();
    let upstream = with_null_in_lxc_hosts(&cleared);
    site.write(INVENTORY, &upstream);
    let before = site.backups().len();

    // Nothing is left to clear, but the stored text holds the null: written once.
    assert_eq!(site.ok(&["--clear-ips"]), SUCCESS);
    assert_eq!(site.inventory_text().unwrap(), cleared);
    let backups = site.backups();
    assert_eq!(backups.len(), before + 1);
    assert_eq!(backups.last().unwrap().1, upstream);

    assert_eq!(site.ok(&["--clear-ips"]), SUCCESS);
    assert_eq!(site.inventory_text().unwrap(), cleared);
    assert_eq!(site.backups().len(), before + 1, "the second run wrote");
}
