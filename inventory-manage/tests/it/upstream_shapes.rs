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

/// `text` (in the generator's format) with the numbers strict JSON lacks, which upstream
/// writes from YAML's `.nan`, `.inf` and big integers, as the first host's first variables.
fn with_numbers_json_lacks(text: &str) -> (String, String) {
    let hostvars = "        \"hostvars\": {\n            \"";
    let at = text.find(hostvars).expect("hostvars") + hostvars.len();
    let host = text[at..at + text[at..].find('"').unwrap()].to_string();
    let first_var = at + text[at..].find("{\n").unwrap() + 2;
    let numbers = "                \"aa_big\": 123456789012345678901234567890,
                \"aa_inf\": [
                    Infinity,
                    -Infinity
                ],
                \"aa_nan\": NaN,
";
    let text = format!("{}{numbers}{}", &text[..first_var], &text[first_var..]);
    (text, host)
}

#[test]
fn numbers_strict_json_lacks_are_read_printed_and_kept_as_upstream_does() {
    let (upstream, host) = with_numbers_json_lacks(&steady_state("prod"));
    assert!(
        serde_json::from_str::<Value>(&upstream).is_err(),
        "strict JSON reads it"
    );
    let site = Site::with_inventory(&upstream);
    let clean = Site::prod();
    for args in [&["-l"][..], &["-g"], &["-G"]] {
        assert_eq!(site.ok(args), clean.ok(args), "{args:?}");
    }
    // json.dumps(indent=2) writes them as it read them.
    let export = site.ok(&["-e"]);
    let expected = clean.ok(&["-e"]).replacen(
        "\"hostvars\": {\n",
        "\"hostvars\": {\n        \"aa_big\": 123456789012345678901234567890,\n        \
         \"aa_inf\": [\n          Infinity,\n          -Infinity\n        ],\n        \
         \"aa_nan\": NaN,\n",
        1,
    );
    assert_ne!(expected, clean.ok(&["-e"]));
    assert_eq!(export, expected);
    assert_eq!(site.ok(&["dump"]), upstream);

    // A change keeps them, byte for byte.
    let container = "infra2-galera-container-061d9096";
    assert_ne!(host, container);
    assert_eq!(site.ok(&["-r", container]), SUCCESS);
    let written = site.inventory_text().unwrap();
    assert!(written.contains(&upstream[upstream.find("\"aa_big\"").unwrap()..][..150]));
    assert!(!written.contains(container));
}
