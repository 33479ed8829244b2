//! Inventories in every shape upstream writes load, and the first run settles them: `null`
//! and other non-names in `lxc_hosts`, host names stored as numbers; and the containers of
//! a host whose name has a `_`, which upstream leaves out of their component groups.

use serde::Serialize;
use serde_json::{Value, json};

use crate::support::*;

fn steady_state(case: &str) -> String {
    std::fs::read_to_string(reference_case(case).join("steady_state.json")).unwrap()
}

/// The text `json.dumps(indent=4, sort_keys=True)` and `print` give `inventory` (whose
/// values hold no floats but whole ones and no non-ASCII text).
fn upstream_text(inventory: &Value) -> String {
    fn sort_keys(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.sort_keys();
                map.values_mut().for_each(sort_keys);
            }
            Value::Array(items) => items.iter_mut().for_each(sort_keys),
            _ => {}
        }
    }
    let mut inventory = inventory.clone();
    sort_keys(&mut inventory);
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    inventory.serialize(&mut ser).unwrap();
    out.push(b'\n');
    String::from_utf8(out).unwrap()
}

/// `group`'s hosts as they are stored, names or not.
fn members<'v>(inventory: &'v Value, group: &str) -> &'v Vec<Value> {
    inventory[group]["hosts"]
        .as_array()
        .unwrap_or_else(|| panic!("{group} has no hosts list"))
}

fn members_mut<'v>(inventory: &'v mut Value, group: &str) -> &'v mut Vec<Value> {
    inventory[group]["hosts"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("{group} has no hosts list"))
}

/// Runs on a stored `upstream` inventory and expects it to be replaced by `expected`, once:
/// the first run prints and writes `expected`, backing up `upstream`; a second run prints
/// the same and writes nothing.
fn settles_in_one_write(d: &Deployment, upstream: &str, expected: &str) {
    d.write("openstack_inventory.json", upstream);
    assert_eq!(d.ok(&[]), expected, "first run");
    assert_eq!(d.inventory_text().unwrap(), expected);
    let members = d.backup_members();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(tar_member_text(&d.backup_path(), &members[0]), upstream);

    assert_eq!(d.ok(&[]), expected, "second run");
    assert_eq!(d.inventory_text().unwrap(), expected);
    assert_eq!(d.backup_members(), members, "the second run wrote");
}

// ---------------------------------------------------------------------------------------
// lxc_hosts: upstream lists every entry's `physical_host`, names or not.

#[test]
fn a_null_in_lxc_hosts_of_a_settled_upstream_inventory_is_dropped_in_one_write() {
    for case in reference_cases() {
        let expected = steady_state(&case);
        let mut upstream: Value = serde_json::from_str(&expected).unwrap();
        members_mut(&mut upstream, "lxc_hosts").insert(0, Value::Null);
        let upstream = upstream_text(&upstream);
        assert!(upstream.contains("\"hosts\": [\n            null,\n"));

        let d = Deployment::from_case(&case);
        settles_in_one_write(&d, &upstream, &expected);
    }
}

/// `small_config` with two hosts in a group of no containers: `spare1`, hosting nothing,
/// and `spare2`, whose `physical_host` a host variable sets to a number.
fn spare_hosts_config() -> String {
    small_config(
        "spare_hosts:\n  spare1:\n    ip: 172.29.236.31\n  spare2:\n    ip: 172.29.236.32\n    host_vars:\n      physical_host: 12\n",
    )
}

#[test]
fn lxc_hosts_as_upstream_writes_it_for_hosts_hosting_nothing() {
    let d = Deployment::with_config(&spare_hosts_config());
    let ours = d.ok(&[]);
    let mut upstream: Value = serde_json::from_str(&ours).unwrap();
    assert_eq!(members(&upstream, "lxc_hosts"), &[json!("infra1")]);
    assert_eq!(hostvars(&upstream, "spare1")["physical_host"], Value::Null);
    assert_eq!(hostvars(&upstream, "spare2")["physical_host"], 12);
    // Upstream goes through the entries in name order and appends every physical_host
    // that is not the entry itself: `infra1` for its containers, then `None` for spare1
    // and 12 for spare2.
    members_mut(&mut upstream, "lxc_hosts").extend([Value::Null, json!(12)]);
    let upstream = upstream_text(&upstream);
    assert_ne!(upstream, ours);

    settles_in_one_write(&d, &upstream, &ours);
}

#[test]
fn anything_a_physical_host_variable_holds_is_dropped_from_lxc_hosts() {
    let d = Deployment::with_config(&small_config(""));
    let ours = d.ok(&[]);
    let mut upstream: Value = serde_json::from_str(&ours).unwrap();
    members_mut(&mut upstream, "lxc_hosts").extend([
        json!(1.5),
        json!(true),
        json!(["rack", 3]),
        json!({"rack": 3}),
    ]);
    // The `nspawn_hosts` of older releases is filled the same way.
    upstream["nspawn_hosts"] = json!({"hosts": [null, "infra1"]});
    let upstream = upstream_text(&upstream);
    let mut expected: Value = serde_json::from_str(&ours).unwrap();
    expected["nspawn_hosts"] = json!({"hosts": ["infra1"]});

    settles_in_one_write(&d, &upstream, &upstream_text(&expected));
}

// ---------------------------------------------------------------------------------------
// Host names that YAML reads as numbers, booleans or null.

#[test]
fn a_host_name_stored_as_a_number_is_read_as_its_name() {
    // Upstream writes this only when every host is named so and none has containers (a
    // container's name, a string, cannot be sorted with them): its `_meta.hostvars` has
    // the key "1", and the group and `container_name` the number.
    let config = format!(
        "cidr_networks:\n  management: 172.29.236.0/22\n{}spare_hosts:\n  1:\n    ip: 172.29.236.31\n",
        management_overrides("172.29.236.9")
    );
    let d = Deployment::with_config(&config);
    let ours = d.ok(&[]);
    let mut upstream: Value = serde_json::from_str(&ours).unwrap();
    assert_eq!(members(&upstream, "spare_hosts"), &[json!("1")]);
    assert_eq!(hostvars(&upstream, "1")["container_name"], "1");
    *members_mut(&mut upstream, "spare_hosts") = vec![json!(1)];
    upstream["_meta"]["hostvars"]["1"]["container_name"] = json!(1);
    *members_mut(&mut upstream, "lxc_hosts") = vec![Value::Null];
    let upstream = upstream_text(&upstream);

    // The group lists the host by its name; its variables are kept as they are.
    let mut expected: Value = serde_json::from_str(&upstream).unwrap();
    *members_mut(&mut expected, "spare_hosts") = vec![json!("1")];
    *members_mut(&mut expected, "lxc_hosts") = vec![];
    settles_in_one_write(&d, &upstream, &upstream_text(&expected));
}

// ---------------------------------------------------------------------------------------
// What upstream never writes is still refused.

#[test]
fn members_upstream_never_writes_are_refused() {
    let d = Deployment::with_config(&small_config(""));
    let ours = d.ok(&[]);
    for (group, key, member, shown) in [
        ("galera", "hosts", json!({"a": 1}), r#"{"a":1}"#),
        ("galera", "hosts", json!(["a"]), r#"["a"]"#),
        ("all_containers", "children", Value::Null, "null"),
        ("lxc_hosts", "children", json!(1), "1"),
    ] {
        let mut stored: Value = serde_json::from_str(&ours).unwrap();
        let list = stored[group]
            .as_object_mut()
            .unwrap()
            .entry(key)
            .or_insert(json!([]));
        list.as_array_mut().unwrap().push(member);
        d.write("openstack_inventory.json", &upstream_text(&stored));
        let err = d.fails(&[]);
        assert!(
            err.ends_with(&format!(
                "\"{key}\" of group \"{group}\" holds {shown}, which is not a name\n"
            )),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// A host whose name has a `_` (upstream's availability-zone example).

/// Two ceph monitor hosts, one named with `_`, one with `-`, and the storage network bound
/// to the ceph component groups.
fn az_config() -> String {
    let storage = "    - network:\n        container_bridge: br-storage\n        container_type: veth\n        container_interface: eth2\n        ip_from_q: storage\n        type: raw\n        group_binds:\n          - ceph_mon\n          - ceph_osd\n";
    let config = small_config(
        "ceph_mon_hosts:\n  az1_ceph1:\n    ip: 172.29.236.41\n  az2-ceph1:\n    ip: 172.29.236.42\nceph_osd_hosts:\n  az1_ceph1:\n    ip: 172.29.236.41\n",
    );
    edit(
        &config,
        "        is_management_address: true\n",
        &format!("        is_management_address: true\n{storage}"),
    )
}

/// The one ceph monitor container of `host`.
fn mon_container(inventory: &Value, host: &str) -> String {
    let names = hostnames_starting(inventory, &format!("{host}-ceph-mon-container-"));
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

#[test]
fn containers_of_a_host_named_with_underscore_join_their_component_groups() {
    let d = Deployment::with_config(&az_config());
    let inventory = d.json(&[]);
    for host in ["az1_ceph1", "az2-ceph1"] {
        let container = mon_container(&inventory, host);
        assert!(
            group_hosts(&inventory, "ceph_mon").contains(&container),
            "{container} is not in ceph_mon"
        );
        assert!(
            group_hosts(&inventory, "ceph_mon_all").contains(&container),
            "{container} is not in ceph_mon_all"
        );
        assert!(group_hosts(&inventory, "ceph_mon_container").contains(&container));
        let vars = hostvars(&inventory, &container);
        assert_eq!(vars["physical_host"], host);
        assert_eq!(vars["component"], "ceph_mon");
        // So the storage network, bound to ceph_mon, reaches it.
        let storage = vars["container_networks"]["storage_address"]["address"]
            .as_str()
            .unwrap_or_else(|| panic!("{container} has no storage address"));
        assert!(storage.starts_with("172.29.24"), "{storage}");
    }
    // The host itself runs ceph_osd on metal.
    assert_eq!(group_hosts(&inventory, "ceph_osd"), ["az1_ceph1"]);
}

#[test]
fn an_upstream_inventory_missing_those_containers_gets_them_in_one_write() {
    let d = Deployment::with_config(&az_config());
    let ours = d.ok(&[]);
    let mut upstream: Value = serde_json::from_str(&ours).unwrap();
    let container = mon_container(&upstream, "az1_ceph1");
    // Upstream compares `az1-ceph1-ceph-mon-container-...` (the name with `_` as `-`) with
    // `az1_ceph1-ceph-mon-container-`: the container never joins ceph_mon or ceph_mon_all,
    // so the storage network never reaches it. Everything else is the same.
    for group in ["ceph_mon", "ceph_mon_all"] {
        members_mut(&mut upstream, group).retain(|h| *h != json!(container));
    }
    let networks = upstream["_meta"]["hostvars"][&container]["container_networks"]
        .as_object_mut()
        .unwrap();
    let storage = networks.shift_remove("storage_address").unwrap();
    let upstream = upstream_text(&upstream);

    d.write("openstack_inventory.json", &upstream);
    let first = d.json(&[]);
    for group in ["ceph_mon", "ceph_mon_all"] {
        assert!(
            group_hosts(&first, group).contains(&container),
            "{container} is not in {group}"
        );
    }
    let added = &hostvars(&first, &container)["container_networks"]["storage_address"];
    assert!(added["address"].is_string(), "{added}");
    assert_eq!(added["bridge"], storage["bridge"]);
    assert_eq!(added["interface"], storage["interface"]);
    let members = d.backup_members();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(tar_member_text(&d.backup_path(), &members[0]), upstream);

    // Settled: the second run writes nothing.
    let written = d.inventory_text().unwrap();
    assert_eq!(d.ok(&[]), written);
    assert_eq!(d.inventory_text().unwrap(), written);
    assert_eq!(d.backup_members(), members);
}

// ---------------------------------------------------------------------------------------
// Numbers strict JSON lacks: upstream writes YAML's `.nan` and `.inf` as `NaN` and
// `Infinity`, and integers of any size as their digits.

/// The variables upstream writes for `var_nan: .nan` and the like, in its format (keys
/// that sort before every other variable of a host).
const NUMBERS_JSON_LACKS: &str = "                \"aa_big\": 123456789012345678901234567890,
                \"aa_inf\": Infinity,
                \"aa_list\": [
                    NaN,
                    -Infinity,
                    -98765432109876543210987654321
                ],
                \"aa_nan\": NaN,
";

/// `text` with [`NUMBERS_JSON_LACKS`] among the variables of its first host.
fn with_numbers_json_lacks(text: &str) -> String {
    let hostvars = "        \"hostvars\": {\n";
    let at = text.find(hostvars).expect("hostvars") + hostvars.len();
    let first_host_end = at + text[at..].find("{\n").expect("a host") + 2;
    format!(
        "{}{NUMBERS_JSON_LACKS}{}",
        &text[..first_host_end],
        &text[first_host_end..]
    )
}

#[test]
fn numbers_strict_json_lacks_load_and_are_written_back_unchanged() {
    for case in reference_cases() {
        let upstream = with_numbers_json_lacks(&steady_state(&case));
        assert!(
            serde_json::from_str::<Value>(&upstream).is_err(),
            "strict JSON reads it"
        );
        let d = Deployment::from_case(&case);
        d.write("openstack_inventory.json", &upstream);
        assert_eq!(d.ok(&[]), upstream, "{case}");
        assert_eq!(d.inventory_text().unwrap(), upstream);
        assert!(
            d.backup_members().is_empty(),
            "{case}: an unchanged inventory was written"
        );

        // Ansible's per-host query prints them as Python's json.dumps does.
        let output = d.ok(&["--host", first_host(&upstream)]);
        assert!(
            output.contains("\"aa_big\": 123456789012345678901234567890"),
            "{output}"
        );
        assert!(output.contains("\"aa_nan\": NaN"), "{output}");
    }
}

fn first_host(text: &str) -> &str {
    let hostvars = "        \"hostvars\": {\n            \"";
    let at = text.find(hostvars).expect("hostvars") + hostvars.len();
    &text[at..at + text[at..].find('"').unwrap()]
}
