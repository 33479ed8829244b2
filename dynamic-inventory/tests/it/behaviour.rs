//! One test per behaviour of the generator (docs/generation.md §1 to §10), each asserting what it
//! produces in the generated inventory.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::support::*;

const MANAGEMENT_FLAG: &str = "        is_management_address: true\n";
const INFRA1: &str = "  infra1:\n    ip: 172.29.236.11\n";
const COMPUTE1: &str = "  compute1:\n    ip: 172.29.236.21\n";

/// `small_config` with a second shared-infra host, infra2.
fn two_infra_hosts(extra: &str) -> String {
    edit(
        &small_config(extra),
        INFRA1,
        "  infra1:\n    ip: 172.29.236.11\n  infra2:\n    ip: 172.29.236.12\n",
    )
}

/// `small_config` with another provider network after the management one.
fn with_network(network: &str, extra: &str) -> String {
    edit(
        &small_config(extra),
        MANAGEMENT_FLAG,
        &format!("{MANAGEMENT_FLAG}{network}"),
    )
}

/// `small_config` with one more key under `global_overrides`.
fn with_override(line: &str) -> String {
    edit(
        &small_config(""),
        "  management_bridge: br-mgmt\n",
        &format!("  management_bridge: br-mgmt\n  {line}\n"),
    )
}

fn address<'v>(inventory: &'v Value, host: &str, network: &str) -> Option<&'v str> {
    hostvars(inventory, host)["container_networks"][network]["address"].as_str()
}

fn in_network(address: &str, base: [u8; 4], prefix: u32) -> bool {
    let ip: Ipv4Addr = address.parse().unwrap();
    let mask = u32::MAX << (32 - prefix);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(base)) & mask
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// env.d overrides in the configuration directory.

#[test]
fn env_d_override_changes_a_property() {
    let d = Deployment::with_config(&small_config(""));
    d.write(
        "env.d/galera.yml",
        "container_skel:\n  galera_container:\n    properties:\n      is_metal: true\n",
    );
    let inventory = d.json(&[]);
    assert!(hostnames_starting(&inventory, "infra1-galera-container").is_empty());
    assert!(group_hosts(&inventory, "galera_container").is_empty());
    assert_eq!(group_hosts(&inventory, "galera"), ["infra1"]);
    // The rest of the entry is still the base environment's.
    assert!(
        group_children(&inventory, "shared_infra_containers").contains(&"galera_container".into())
    );
    // Other containers are unaffected.
    assert_eq!(
        hostnames_starting(&inventory, "infra1-memcached-container-").len(),
        1
    );
}

#[test]
fn env_d_override_adds_keys() {
    let d = Deployment::with_config(&small_config(""));
    d.write(
        "env.d/custom.yml",
        r#"
component_skel:
  custom_service:
    belongs_to:
      - custom_all
container_skel:
  custom_container:
    belongs_to:
      - shared_infra_containers
    contains:
      - custom_service
  galera_container:
    properties:
      custom_flag: true
"#,
    );
    let inventory = d.json(&[]);
    let custom = hostnames_starting(&inventory, "infra1-custom-container-");
    assert_eq!(custom.len(), 1, "{:?}", hostnames(&inventory));
    assert_eq!(group_hosts(&inventory, "custom_container"), custom);
    assert_eq!(group_hosts(&inventory, "custom_service"), custom);
    assert_eq!(group_children(&inventory, "custom_all"), ["custom_service"]);
    assert!(address(&inventory, &custom[0], "management_address").is_some());

    let galera = hostnames_starting(&inventory, "infra1-galera-container-");
    assert_eq!(galera.len(), 1);
    assert_eq!(
        hostvars(&inventory, &galera[0])["properties"],
        json!({"custom_flag": true})
    );
    // Keys the override did not name are kept.
    assert_eq!(group_hosts(&inventory, "galera"), galera);
}

#[test]
fn env_d_override_empties_a_list() {
    let d = Deployment::with_config(&small_config(""));
    d.write(
        "env.d/galera.yml",
        "container_skel:\n  galera_container:\n    contains: []\n",
    );
    let inventory = d.json(&[]);
    assert!(hostnames_starting(&inventory, "infra1-galera-container").is_empty());
    assert!(group_hosts(&inventory, "galera").is_empty());
    // belongs_to was not touched.
    assert!(
        group_children(&inventory, "shared_infra_containers").contains(&"galera_container".into())
    );
    assert_eq!(
        hostnames_starting(&inventory, "infra1-rabbit-mq-container-").len(),
        1
    );
}

#[test]
fn env_d_override_empties_an_entry() {
    let d = Deployment::with_config(&small_config(""));
    d.write(
        "env.d/galera.yml",
        "container_skel:\n  galera_container: {}\n",
    );
    let inventory = d.json(&[]);
    assert!(hostnames_starting(&inventory, "infra1-galera-container").is_empty());
    assert!(group_hosts(&inventory, "galera").is_empty());
    // Without belongs_to, galera_container is nobody's child any more.
    assert!(
        !group_children(&inventory, "shared_infra_containers").contains(&"galera_container".into())
    );
    assert!(
        !group_children(&inventory, "database_containers").contains(&"galera_container".into())
    );
    assert!(
        group_children(&inventory, "shared_infra_containers")
            .contains(&"memcached_container".into())
    );
}

// ---------------------------------------------------------------------------------------
// Group names.

#[test]
fn dashed_group_names_and_group_binds_are_normalised() {
    let storage = r#"    - network:
        container_bridge: br-storage
        container_type: veth
        container_interface: eth2
        ip_from_q: storage
        type: raw
        group_binds:
          - shared-infra_containers
"#;
    // infra1 under the dashed key, infra2 under the underscored one: one group.
    let config = edit(
        &with_network(
            storage,
            "shared_infra_hosts:\n  infra2:\n    ip: 172.29.236.12\n",
        ),
        "shared_infra_hosts:",
        "shared-infra_hosts:",
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    assert!(inventory.get("shared-infra_hosts").is_none());
    assert_eq!(
        group_hosts(&inventory, "shared_infra_hosts"),
        ["infra1", "infra2"]
    );
    for host in ["infra1", "infra2"] {
        let galera = hostnames_starting(&inventory, &format!("{host}-galera-container-"));
        assert_eq!(galera.len(), 1, "{host}");
        let storage = address(&inventory, &galera[0], "storage_address")
            .unwrap_or_else(|| panic!("{} has no storage address", galera[0]));
        assert!(in_network(storage, [172, 29, 244, 0], 22), "{storage}");
    }
    // compute1 is not in shared_infra_containers.
    assert!(
        hostvars(&inventory, "compute1")["container_networks"]
            .get("storage_address")
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------
// Provider networks.

fn pod_network(reference_group: &str) -> String {
    format!(
        r#"    - network:
        container_bridge: br-pod1
        container_type: veth
        container_interface: eth3
        ip_from_q: pod1_net
        address_prefix: pod1
        type: raw
        group_binds:
          - all_containers
          - hosts
        reference_group: {reference_group}
"#
    )
}

/// infra1/infra2 and compute1/compute2; infra1 and compute1 are in pod 1.
fn pod_config(reference_group: &str) -> String {
    let config = with_network(
        &pod_network(reference_group),
        "pod1_hosts:\n  infra1:\n    ip: 172.29.236.11\n  compute1:\n    ip: 172.29.236.21\n",
    );
    let config = edit(
        &config,
        "  storage: 172.29.244.0/22\n",
        "  storage: 172.29.244.0/22\n  pod1_net: 10.1.0.0/24\n",
    );
    let config = edit(
        &config,
        INFRA1,
        "  infra1:\n    ip: 172.29.236.11\n  infra2:\n    ip: 172.29.236.12\n",
    );
    edit(
        &config,
        COMPUTE1,
        "  compute1:\n    ip: 172.29.236.21\n  compute2:\n    ip: 172.29.236.22\n",
    )
}

fn check_pod(inventory: &Value) {
    let mut in_pod = 0;
    for name in hostnames(inventory) {
        let vars = hostvars(inventory, &name);
        let networks = &vars["container_networks"];
        assert!(networks.get("pod1_net_address").is_none(), "{name}");
        let physical = vars["physical_host"].as_str().unwrap_or_default();
        let metal = vars["properties"]["is_metal"] == json!(true);
        match physical {
            "infra1" | "compute1" => {
                let pod = networks
                    .get("pod1_address")
                    .unwrap_or_else(|| panic!("{name} has no pod1_address"));
                assert_eq!(pod["netmask"], "255.255.255.0", "{name}");
                assert_eq!(pod["bridge"], "br-pod1", "{name}");
                if metal {
                    assert!(pod.get("address").is_none(), "{name}");
                } else {
                    let a = pod["address"].as_str().unwrap();
                    assert!(in_network(a, [10, 1, 0, 0], 24), "{name}: {a}");
                    in_pod += 1;
                }
            }
            _ => assert!(networks.get("pod1_address").is_none(), "{name}"),
        }
    }
    // infra1's four containers.
    assert_eq!(in_pod, 4);
    assert!(
        hostvars(inventory, "compute1")["container_networks"]
            .get("pod1_address")
            .is_some()
    );
}

#[test]
fn reference_group_and_address_prefix() {
    let inventory = Deployment::with_config(&pod_config("pod1_hosts")).json(&[]);
    check_pod(&inventory);
}

#[test]
fn reference_group_includes_hosts_of_child_groups() {
    let d = Deployment::with_config(&pod_config("pods"));
    d.write(
        "env.d/pods.yml",
        "physical_skel:\n  pod1_hosts:\n    belongs_to:\n      - pods\n",
    );
    let inventory = d.json(&[]);
    assert_eq!(group_children(&inventory, "pods"), ["pod1_hosts"]);
    assert!(group_hosts(&inventory, "pods").is_empty());
    check_pod(&inventory);
}

// ---------------------------------------------------------------------------------------
// Containers.

#[test]
fn is_nest_groups_get_the_host_container_groups() {
    let d = Deployment::with_config(&two_infra_hosts(""));
    d.write(
        "env.d/nest.yml",
        "container_skel:\n  shared_infra_nest:\n    properties:\n      is_nest: true\n",
    );
    let inventory = d.json(&[]);
    assert_eq!(
        group_children(&inventory, "shared_infra_nest"),
        ["infra1_host_containers", "infra2_host_containers"]
    );
    assert_eq!(
        sorted(group_hosts(&inventory, "infra1_host_containers")),
        sorted(hostnames_starting(&inventory, "infra1-"))
    );
    assert_eq!(group_hosts(&inventory, "infra1_host_containers").len(), 4);
}

#[test]
fn affinity_zero_and_two() {
    let config = edit(
        &two_infra_hosts(""),
        INFRA1,
        "  infra1:\n    ip: 172.29.236.11\n    affinity:\n      galera_container: 0\n      rabbit_mq_container: 2\n",
    );
    let d = Deployment::with_config(&config);
    let inventory = d.json(&[]);
    assert!(hostnames_starting(&inventory, "infra1-galera-container").is_empty());
    let galera = hostnames_starting(&inventory, "infra2-galera-container-");
    assert_eq!(galera.len(), 1);
    assert_eq!(group_hosts(&inventory, "galera"), galera);

    let rabbits = sorted(hostnames_starting(
        &inventory,
        "infra1-rabbit-mq-container-",
    ));
    assert_eq!(rabbits.len(), 2);
    assert_ne!(rabbits[0], rabbits[1]);
    for group in [
        "rabbit_mq_container",
        "rabbitmq",
        "infra1_host_containers",
        "shared_infra_all",
    ] {
        let members = group_hosts(&inventory, group);
        for r in &rabbits {
            assert!(members.contains(r), "{r} not in {group}");
        }
    }
    let a0 = address(&inventory, &rabbits[0], "management_address").unwrap();
    let a1 = address(&inventory, &rabbits[1], "management_address").unwrap();
    assert_ne!(a0, a1);
    assert_eq!(
        hostnames_starting(&inventory, "infra2-rabbit-mq-container-").len(),
        1
    );

    // A second run keeps exactly these two.
    let again = d.json(&[]);
    assert_eq!(
        sorted(hostnames_starting(&again, "infra1-rabbit-mq-container-")),
        rabbits
    );
}

#[test]
fn no_containers_on_one_host_only() {
    let config = edit(
        &two_infra_hosts(""),
        INFRA1,
        "  infra1:\n    ip: 172.29.236.11\n    no_containers: true\n",
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    assert!(
        hostnames_starting(&inventory, "infra1-").is_empty(),
        "{:?}",
        hostnames(&inventory)
    );
    for (service, container) in [
        ("galera", "galera-container"),
        ("memcached", "memcached-container"),
        ("rabbitmq", "rabbit-mq-container"),
        ("utility", "utility-container"),
    ] {
        let on_infra2 = hostnames_starting(&inventory, &format!("infra2-{container}-"));
        assert_eq!(on_infra2.len(), 1, "infra2 lost its {container}");
        let members = group_hosts(&inventory, service);
        assert!(
            members.contains(&"infra1".to_string()),
            "{service}: {members:?}"
        );
        assert!(members.contains(&on_infra2[0]), "{service}: {members:?}");
    }
    assert_eq!(group_hosts(&inventory, "lxc_hosts"), ["infra2"]);
}

#[test]
fn host_no_containers_false_overrides_the_global_setting() {
    let config = edit(
        &with_override("no_containers: true"),
        INFRA1,
        "  infra1:\n    ip: 172.29.236.11\n    no_containers: false\n  infra2:\n    ip: 172.29.236.12\n",
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    assert_eq!(hostnames_starting(&inventory, "infra1-").len(), 4);
    assert!(hostnames_starting(&inventory, "infra2-").is_empty());
    assert!(group_hosts(&inventory, "galera").contains(&"infra2".to_string()));
    assert_eq!(group_hosts(&inventory, "lxc_hosts"), ["infra1"]);
}

#[test]
fn hosts_without_containers_are_not_lxc_hosts() {
    let config = small_config("spare_hosts:\n  spare1:\n    ip: 172.29.236.31\n");
    let inventory = Deployment::with_config(&config).json(&[]);
    assert_eq!(inventory["lxc_hosts"], json!({"hosts": ["infra1"]}));
    let spare = hostvars(&inventory, "spare1");
    assert_eq!(spare["ansible_host"], "172.29.236.31");
    assert_eq!(spare["physical_host"], Value::Null);
    assert_eq!(group_hosts(&inventory, "spare_hosts"), ["spare1"]);
}

// ---------------------------------------------------------------------------------------
// Hosts.

#[test]
fn management_ip_differs_from_ip() {
    let config = edit(
        &small_config(""),
        INFRA1,
        "  infra1:\n    ip: 172.29.236.11\n    management_ip: 172.29.237.11\n",
    );
    let config = edit(
        &config,
        COMPUTE1,
        "  compute1:\n    ip: 172.29.236.21\n    management_ip: 172.29.237.21\n",
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    for (host, ip, management) in [
        ("infra1", "172.29.236.11", "172.29.237.11"),
        ("compute1", "172.29.236.21", "172.29.237.21"),
    ] {
        let vars = hostvars(&inventory, host);
        assert_eq!(vars["ansible_host"], ip, "{host}");
        assert_eq!(vars["management_address"], management, "{host}");
        assert_eq!(
            vars["container_networks"]["management_address"]["address"], management,
            "{host}"
        );
    }
    for name in hostnames_starting(&inventory, "infra1-") {
        let vars = hostvars(&inventory, &name);
        assert_eq!(vars["physical_host_addr"], "172.29.236.11", "{name}");
        let a = vars["ansible_host"].as_str().unwrap();
        assert!(a != "172.29.237.11" && a != "172.29.237.21", "{name}: {a}");
    }
}

#[test]
fn host_vars_are_copied_onto_the_host() {
    let config = edit(
        &small_config(""),
        COMPUTE1,
        "  compute1:\n    ip: 172.29.236.21\n    host_vars:\n      nova_virt_type: qemu\n      custom:\n        nested: [1, 2]\n",
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    let vars = hostvars(&inventory, "compute1");
    assert_eq!(vars["nova_virt_type"], "qemu");
    assert_eq!(vars["custom"], json!({"nested": [1, 2]}));
    assert!(vars.get("host_vars").is_none());
    assert!(
        hostvars(&inventory, "infra1")
            .get("nova_virt_type")
            .is_none()
    );
}

#[test]
fn removed_global_overrides_are_removed_from_all_vars() {
    let d = Deployment::with_config(&with_override("extra_setting: 42"));
    let first = d.json(&[]);
    assert_eq!(first["all"]["vars"]["extra_setting"], 42);

    d.write_config(&small_config(""));
    let second = d.json(&[]);
    let vars = second["all"]["vars"].as_object().unwrap();
    assert!(!vars.contains_key("extra_setting"));
    assert_eq!(vars["container_cidr"], "172.29.236.0/22");
    assert_eq!(vars["internal_lb_vip_address"], "172.29.236.9");
    let keys: Vec<&str> = vars.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "container_cidr",
            "external_lb_vip_address",
            "internal_lb_vip_address",
            "management_bridge",
            "provider_networks"
        ]
    );
    assert!(!d.inventory_text().unwrap().contains("extra_setting"));
}

// ---------------------------------------------------------------------------------------
// Flags.

#[test]
fn check_on_a_good_configuration() {
    let d = Deployment::with_config(&small_config(""));
    assert_eq!(d.ok(&["--check"]), "Configuration ok!\n");
    assert!(!d.inventory_path().exists());
    assert!(!d.backup_path().exists());

    // With a stored inventory and a changed configuration: still nothing written.
    d.ok(&[]);
    let before = std::fs::read(d.inventory_path()).unwrap();
    d.write_config(&two_infra_hosts(""));
    assert_eq!(d.ok(&["--check"]), "Configuration ok!\n");
    assert_eq!(std::fs::read(d.inventory_path()).unwrap(), before);
    assert!(!d.backup_path().exists());
}

#[test]
fn check_reports_groups_unknown_to_the_environment() {
    let d = Deployment::with_config(&small_config(
        "spare_hosts:\n  spare1:\n    ip: 172.29.236.31\n",
    ));
    let stderr = d.fails(&["--check"]);
    assert_eq!(
        stderr.trim(),
        "Group spare_hosts was found in configuration but not the environment."
    );
    assert!(!d.inventory_path().exists());
    assert!(!d.backup_path().exists());
}

#[test]
fn every_run_warns_of_groups_unknown_to_the_environment() {
    let d = Deployment::with_config(&small_config(
        "compte_hosts:\n  compute9:\n    ip: 172.29.236.39\n\
         spare_things:\n  spare1:\n    ip: 172.29.236.31\n",
    ));
    let out = d.run(&[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "warning: group compte_hosts in the configuration is not a host group of the \
         environment, so its hosts get no services (did you mean compute_hosts?)\n\
         warning: group spare_things in the configuration is not a host group of the \
         environment, so its hosts get no services\n"
    );
    // The inventory is printed and stored as usual, the misspelt group's host in no
    // service group (as upstream does).
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        d.inventory_text().unwrap()
    );
    let inventory = d.inventory();
    assert!(!group_hosts(&inventory, "compute_hosts").contains(&"compute9".to_string()));
}

#[test]
fn host_prints_one_hosts_variables() {
    let d = Deployment::with_config(&small_config(""));
    let inventory = d.json(&[]);
    let out = d.ok(&["--host", "compute1"]);
    assert!(out.ends_with('\n'));
    assert!(out.starts_with("{\n    \""), "{out}");
    let vars: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(&vars, hostvars(&inventory, "compute1"));
    assert_eq!(vars["ansible_host"], "172.29.236.21");

    let galera = &hostnames_starting(&inventory, "infra1-galera-container-")[0];
    let vars: Value = serde_json::from_str(&d.ok(&["--host", galera])).unwrap();
    assert_eq!(&vars, hostvars(&inventory, galera));

    assert_eq!(d.ok(&["--host", "no-such-host"]), "{}\n");
}

#[test]
fn non_ascii_is_escaped() {
    let config = edit(
        &small_config(""),
        COMPUTE1,
        "  compute1:\n    ip: 172.29.236.21\n    host_vars:\n      motto: \"café ☕ 😀\"\n",
    );
    let d = Deployment::with_config(&config);
    let out = d.ok(&[]);
    assert!(out.is_ascii());
    assert!(
        out.contains(r#""motto": "caf\u00e9 \u2615 \ud83d\ude00""#),
        "{}",
        out.lines()
            .find(|l| l.contains("motto"))
            .unwrap_or("no motto")
    );
    assert_eq!(d.inventory_text().unwrap(), out);
    let parsed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hostvars(&parsed, "compute1")["motto"], "café ☕ 😀");

    let host = d.ok(&["--host", "compute1"]);
    assert!(host.is_ascii());
    assert!(host.contains(r#""caf\u00e9 \u2615 \ud83d\ude00""#));
}

// ---------------------------------------------------------------------------------------
// Configuration files.

#[test]
fn conf_d_merges_over_the_main_configuration() {
    let d = Deployment::with_config(&small_config(""));
    // Written in reverse order: merged by sorted relative path, recursively.
    d.write(
        "conf.d/sub/compute.yml",
        "compute_hosts:\n  compute2:\n    ip: 172.29.236.22\n",
    );
    d.write(
        "conf.d/20-second.yaml",
        "global_overrides:\n  conf_d_order: second\n",
    );
    d.write(
        "conf.d/10-first.yml",
        "global_overrides:\n  conf_d_order: first\n",
    );
    d.write(
        "conf.d/ignored.txt",
        "compute_hosts: {compute3: {ip: 172.29.236.23}}\n",
    );
    let inventory = d.json(&[]);
    assert_eq!(
        group_hosts(&inventory, "compute_hosts"),
        ["compute1", "compute2"]
    );
    assert_eq!(
        hostvars(&inventory, "compute2")["ansible_host"],
        "172.29.236.22"
    );
    assert_eq!(
        group_hosts(&inventory, "nova_compute"),
        ["compute1", "compute2"]
    );
    let vars = &inventory["all"]["vars"];
    assert_eq!(vars["conf_d_order"], "second");
    // The merge kept the main file's overrides.
    assert_eq!(vars["internal_lb_vip_address"], "172.29.236.9");
    assert!(vars["provider_networks"].is_array());
}

#[test]
fn yaml_1_1_values_anchors_and_merge_keys() {
    let config = edit(
        &small_config(""),
        COMPUTE1,
        r#"  compute1: &compute
    ip: 172.29.236.21
    host_vars:
      enabled: yes
      switch: On
      disabled: off
      refused: NO
      label: None
      quoted: "yes"
      octal: 017
      not_octal: 0o17
      hex: 0x1F
      grouped: 1_000
      sexagesimal: 1:30
      nothing: ~
      empty:
  compute2:
    <<: *compute
    ip: 172.29.236.22
"#,
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    assert_eq!(
        group_hosts(&inventory, "compute_hosts"),
        ["compute1", "compute2"]
    );
    assert_eq!(
        hostvars(&inventory, "compute2")["ansible_host"],
        "172.29.236.22"
    );
    for host in ["compute1", "compute2"] {
        let vars = hostvars(&inventory, host);
        let expected = [
            ("enabled", json!(true)),
            ("switch", json!(true)),
            ("disabled", json!(false)),
            ("refused", json!(false)),
            ("label", json!("None")),
            ("quoted", json!("yes")),
            ("octal", json!(15)),
            ("not_octal", json!("0o17")),
            ("hex", json!(31)),
            ("grouped", json!(1000)),
            ("sexagesimal", json!(90)),
            ("nothing", Value::Null),
            ("empty", Value::Null),
        ];
        for (key, value) in expected {
            assert_eq!(vars.get(key), Some(&value), "{host}.{key}");
        }
    }
}

#[test]
fn yaml_booleans_in_settings_take_effect() {
    // `no_containers: yes` is a boolean in YAML 1.1.
    let config = edit(
        &two_infra_hosts(""),
        INFRA1,
        "  infra1:\n    ip: 172.29.236.11\n    no_containers: yes\n",
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    assert!(hostnames_starting(&inventory, "infra1-").is_empty());
    assert_eq!(hostnames_starting(&inventory, "infra2-").len(), 4);
}

// ---------------------------------------------------------------------------------------
// Debug log and backups.

#[test]
fn debug_appends_to_inventory_log() {
    let d = Deployment::with_config(&small_config(""));
    let log = d.path().join("inventory.log");
    d.ok(&[]);
    assert!(!log.exists(), "inventory.log written without -d");
    d.ok(&["-d"]);
    let first = std::fs::read_to_string(&log).unwrap();
    assert!(!first.is_empty());
    d.ok(&["--debug"]);
    let second = std::fs::read_to_string(&log).unwrap();
    assert!(second.len() > first.len());
    assert!(second.starts_with(&first), "the log was not appended to");
}

#[test]
fn backup_holds_the_previous_inventory() {
    let d = Deployment::with_config(&small_config(""));
    let first = d.ok(&[]);
    assert!(
        !d.backup_path().exists(),
        "a first run has nothing to back up"
    );

    // An unchanged run makes no backup.
    d.ok(&[]);
    assert!(!d.backup_path().exists());

    d.write_config(&two_infra_hosts(""));
    let second = d.ok(&[]);
    assert_ne!(first, second);
    let members = d.backup_members();
    assert_eq!(members.len(), 1);
    let name = &members[0];
    let stamp = name
        .strip_prefix("openstack_inventory.json-")
        .and_then(|s| s.strip_suffix(".json"))
        .unwrap_or_else(|| panic!("member name {name}"));
    let (date, time) = stamp.split_once('_').unwrap();
    assert!(
        date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );
    assert!(
        time.len() == 6 && time.bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );
    assert_eq!(tar_member_text(&d.backup_path(), name), first);
    assert_eq!(d.inventory_text().unwrap(), second);
}

/// Runs `runs` times, changing the inventory every time; returns the inventory text as
/// it was before each run (None before the first).
fn changing_runs(d: &Deployment, runs: usize) -> Vec<Option<String>> {
    let mut before = Vec::new();
    for i in 0..runs {
        before.push(d.inventory_text());
        d.write_config(&with_override(&format!("run_counter: {i}")));
        let out = d.ok(&[]);
        assert_eq!(d.inventory_text().unwrap(), out);
    }
    before
}

#[test]
fn saves_in_one_second_get_distinct_backup_names() {
    let d = Deployment::with_config("");
    let before = changing_runs(&d, 4);
    let members = d.backup_members();
    assert_eq!(members.len(), 3, "{members:?}");
    let distinct: HashSet<&String> = members.iter().collect();
    assert_eq!(distinct.len(), 3, "{members:?}");
    for (member, previous) in members.iter().zip(&before[1..]) {
        assert_eq!(
            Some(tar_member_text(&d.backup_path(), member)),
            *previous,
            "{member}"
        );
    }
}

#[test]
fn backups_are_pruned_to_fifteen() {
    let d = Deployment::with_config("");
    let before = changing_runs(&d, 17);
    let members = d.backup_members();
    assert_eq!(members.len(), 15, "{members:?}");
    let distinct: HashSet<&String> = members.iter().collect();
    assert_eq!(distinct.len(), 15);
    // The newest fifteen previous versions, oldest first.
    for (member, previous) in members.iter().zip(&before[2..]) {
        assert_eq!(
            Some(tar_member_text(&d.backup_path(), member)),
            *previous,
            "{member}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// An inventory written by upstream.

#[test]
fn upstream_inventory_keeps_names_and_addresses_when_a_host_is_added() {
    let d = Deployment::from_case("prod");
    let upstream_text =
        std::fs::read_to_string(reference_case("prod").join("steady_state.json")).unwrap();
    d.write("openstack_inventory.json", &upstream_text);
    let upstream: Value = serde_json::from_str(&upstream_text).unwrap();
    d.write(
        "conf.d/new-compute.yml",
        "compute_hosts:\n  compute3:\n    ip: 172.29.236.18\n",
    );
    let inventory = d.json(&[]);

    let mut expected = hostnames(&upstream);
    expected.push("compute3".into());
    assert_eq!(sorted(hostnames(&inventory)), sorted(expected));
    for name in hostnames(&upstream) {
        let old = hostvars(&upstream, &name);
        let new = hostvars(&inventory, &name);
        assert_eq!(new["ansible_host"], old["ansible_host"], "{name}");
        assert_eq!(new["container_name"], old["container_name"], "{name}");
        let old_nets = old["container_networks"].as_object().unwrap();
        for (key, net) in old_nets {
            assert_eq!(
                new["container_networks"][key]["address"], net["address"],
                "{name} {key}"
            );
        }
    }
    for (group, value) in upstream.as_object().unwrap() {
        let Some(hosts) = value.get("hosts").and_then(Value::as_array) else {
            continue;
        };
        let now = &inventory[group]["hosts"];
        for h in hosts {
            assert!(
                now.as_array().unwrap().contains(h),
                "{h} left group {group}"
            );
        }
    }
    assert_eq!(
        group_hosts(&inventory, "compute_hosts"),
        ["compute1", "compute2", "compute3"]
    );
    assert!(group_hosts(&inventory, "nova_compute").contains(&"compute3".to_string()));
    let compute3 = hostvars(&inventory, "compute3");
    assert_eq!(compute3["ansible_host"], "172.29.236.18");
    assert_eq!(
        compute3["container_networks"]["management_address"]["address"],
        "172.29.236.18"
    );

    // The upstream file is what was backed up.
    let members = d.backup_members();
    assert_eq!(members.len(), 1);
    assert_eq!(
        tar_member_text(&d.backup_path(), &members[0]),
        upstream_text
    );
}

// ---------------------------------------------------------------------------------------
// More of §1 to §10.

#[test]
fn a_null_host_group_skips_only_that_group() {
    let config = edit(
        &small_config(""),
        "compute_hosts:\n",
        "storage_hosts:\ncompute_hosts:\n",
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    assert!(group_hosts(&inventory, "storage_hosts").is_empty());
    assert_eq!(group_hosts(&inventory, "compute_hosts"), ["compute1"]);
    assert_eq!(group_hosts(&inventory, "nova_compute"), ["compute1"]);
    assert_eq!(
        hostvars(&inventory, "compute1")["ansible_host"],
        "172.29.236.21"
    );
}

#[test]
fn container_vars_reach_every_entry_of_the_host_in_one_run() {
    let config = edit(
        &two_infra_hosts(""),
        INFRA1,
        r#"  infra1:
    ip: 172.29.236.11
    container_vars:
      plain_var: plain
      limited_var:
        limit_container_types: galera
        setting: 1
"#,
    );
    let d = Deployment::with_config(&config);
    let inventory = d.json(&[]);
    let containers = hostnames_starting(&inventory, "infra1-");
    assert_eq!(containers.len(), 4);
    for name in containers.iter().map(String::as_str).chain(["infra1"]) {
        let vars = hostvars(&inventory, name);
        assert_eq!(vars["plain_var"], "plain", "{name}");
        if name.starts_with("infra1-galera-container-") {
            assert_eq!(vars["limited_var"], json!({"setting": 1}), "{name}");
        } else {
            assert!(vars.get("limited_var").is_none(), "{name}");
        }
    }
    for name in hostnames_starting(&inventory, "infra2") {
        assert!(
            hostvars(&inventory, &name).get("plain_var").is_none(),
            "{name}"
        );
    }
    // Already settled: a second run changes nothing.
    assert_eq!(d.json(&[]), inventory);
    assert!(!d.backup_path().exists());
}

#[test]
fn a_host_does_not_claim_entries_of_a_host_whose_name_it_prefixes() {
    let config = edit(
        &small_config(""),
        INFRA1,
        r#"  infra1:
    ip: 172.29.236.11
    container_vars:
      only_on_infra1: true
  infra10:
    ip: 172.29.236.12
"#,
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    assert_eq!(hostnames_starting(&inventory, "infra10-").len(), 4);
    for name in hostnames_starting(&inventory, "infra10") {
        assert!(
            hostvars(&inventory, &name).get("only_on_infra1").is_none(),
            "{name} got infra1's container_vars"
        );
    }
    for name in hostnames_starting(&inventory, "infra1-") {
        assert_eq!(
            hostvars(&inventory, &name)["only_on_infra1"],
            true,
            "{name}"
        );
    }
}

#[test]
fn containers_of_another_tech_are_not_lxc_hosts() {
    let config = edit(
        &two_infra_hosts(""),
        INFRA1,
        "  infra1:\n    ip: 172.29.236.11\n    container_vars:\n      container_tech: nspawn\n",
    );
    let inventory = Deployment::with_config(&config).json(&[]);
    assert_eq!(group_hosts(&inventory, "lxc_hosts"), ["infra2"]);
    for name in hostnames_starting(&inventory, "infra2-") {
        assert_eq!(
            hostvars(&inventory, &name)["container_tech"],
            "lxc",
            "{name}"
        );
    }
}

#[test]
fn network_entries_carry_bridge_settings_and_gateway() {
    let storage = r#"    - network:
        container_bridge: br-storage
        container_bridge_type: openvswitch
        container_type: veth
        container_interface: eth2
        container_mtu: 9000
        ip_from_q: storage
        gateway: 172.29.244.1
        type: raw
        group_binds:
          - shared_infra_containers
          - compute_hosts
"#;
    let inventory = Deployment::with_config(&with_network(storage, "")).json(&[]);
    let galera = &hostnames_starting(&inventory, "infra1-galera-container-")[0];
    let vars = hostvars(&inventory, galera);
    let entry = vars["container_networks"]["storage_address"].clone();
    let storage_address = entry["address"].as_str().unwrap().to_string();
    assert!(in_network(&storage_address, [172, 29, 244, 0], 22));
    assert_eq!(
        entry,
        json!({
            "address": storage_address,
            "bridge": "br-storage",
            "bridge_type": "openvswitch",
            "gateway": "172.29.244.1",
            "interface": "eth2",
            "mtu": 9000,
            "netmask": "255.255.252.0",
            "type": "veth",
        })
    );
    assert_eq!(vars["gateway"], "172.29.244.1");
    // The management network stays the container's address.
    let management = address(&inventory, galera, "management_address").unwrap();
    assert_eq!(vars["ansible_host"], management);
    assert_eq!(vars["management_address"], management);

    // compute1 runs on metal: no interface and no address from the pool.
    let compute = hostvars(&inventory, "compute1");
    assert_eq!(
        compute["container_networks"]["storage_address"],
        json!({
            "bridge": "br-storage",
            "bridge_type": "openvswitch",
            "gateway": "172.29.244.1",
            "mtu": 9000,
            "netmask": "255.255.252.0",
            "type": "veth",
        })
    );
    assert_eq!(compute["ansible_host"], "172.29.236.21");
}

#[test]
fn legacy_address_keys_move_into_container_networks() {
    let storage = r#"    - network:
        container_bridge: br-storage
        container_type: veth
        container_interface: eth2
        ip_from_q: storage
        type: raw
        group_binds:
          - shared_infra_containers
"#;
    let d = Deployment::with_config(&with_network(storage, ""));
    let mut inventory = d.json(&[]);
    let galera = hostnames_starting(&inventory, "infra1-galera-container-")[0].clone();
    let vars = inventory["_meta"]["hostvars"][&galera]
        .as_object_mut()
        .unwrap();
    vars["container_networks"]
        .as_object_mut()
        .unwrap()
        .remove("storage_address");
    vars.insert("storage_address".into(), json!("172.29.244.77"));
    vars.insert("container_network".into(), json!({"old": "style"}));
    d.write(
        "openstack_inventory.json",
        &serde_json::to_string_pretty(&inventory).unwrap(),
    );

    let inventory = d.json(&[]);
    let vars = hostvars(&inventory, &galera);
    assert_eq!(
        vars["container_networks"]["storage_address"]["address"],
        "172.29.244.77"
    );
    assert_eq!(
        vars["container_networks"]["storage_address"]["netmask"],
        "255.255.252.0"
    );
    assert!(vars.get("storage_address").is_none());
    assert!(vars.get("container_network").is_none());
}

#[test]
fn numbers_are_printed_as_python_prints_them() {
    let config = edit(
        &small_config(""),
        COMPUTE1,
        r#"  compute1:
    ip: 172.29.236.21
    host_vars:
      ratio: 1.0
      hundred: 100.0
      small: 0.00001
      tiny: 1.5e-7
      big: 1.0e+20
      not_a_float: 1e20
      count: 7
"#,
    );
    let out = Deployment::with_config(&config).ok(&[]);
    for line in [
        r#""ratio": 1.0"#,
        r#""hundred": 100.0"#,
        r#""small": 1e-05"#,
        r#""tiny": 1.5e-07"#,
        r#""big": 1e+20"#,
        r#""not_a_float": "1e20""#,
        r#""count": 7"#,
    ] {
        assert!(
            out.lines().any(|l| l.trim().trim_end_matches(',') == line),
            "no line {line} in the output"
        );
    }
}

#[test]
fn removed_hosts_stay_in_the_inventory() {
    let with_compute2 = edit(
        &small_config(""),
        COMPUTE1,
        "  compute1:\n    ip: 172.29.236.21\n  compute2:\n    ip: 172.29.236.22\n",
    );
    let d = Deployment::with_config(&with_compute2);
    let first = d.json(&[]);
    d.write_config(&small_config(""));
    let second = d.json(&[]);
    assert_eq!(
        group_hosts(&second, "compute_hosts"),
        ["compute1", "compute2"]
    );
    assert_eq!(
        group_hosts(&second, "nova_compute"),
        ["compute1", "compute2"]
    );
    assert_eq!(hostvars(&second, "compute2"), hostvars(&first, "compute2"));
}

#[test]
fn config_dir_from_osa_config_dir_and_tilde() {
    let d = Deployment::new();
    d.write("deploy/openstack_user_config.yml", &small_config(""));
    let deploy = d.path().join("deploy");

    let mut cmd = assert_cmd::Command::cargo_bin("dynamic-inventory").unwrap();
    let out = cmd
        .arg("-e")
        .arg(reference_env())
        .env("OSA_CONFIG_DIR", &deploy)
        .env("OSA_INI_PATH", default_osa_ini())
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(deploy.join("openstack_inventory.json")).unwrap();
    assert_eq!(written, out.stdout);
    assert!(!d.inventory_path().exists());
    std::fs::remove_file(deploy.join("openstack_inventory.json")).unwrap();

    let mut cmd = assert_cmd::Command::cargo_bin("dynamic-inventory").unwrap();
    let out = cmd
        .arg("--config")
        .arg("~/deploy")
        .arg("-e")
        .arg(reference_env())
        .env("HOME", d.path())
        .env_remove("OSA_CONFIG_DIR")
        .env("OSA_INI_PATH", default_osa_ini())
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(deploy.join("openstack_inventory.json")).unwrap();
    assert_eq!(written, out.stdout);
}

#[test]
fn help_says_where_the_inventory_is_stored() {
    let out = assert_cmd::Command::cargo_bin("dynamic-inventory")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "/etc/ansible/osa.ini",
        "OSA_INI_PATH",
        "openstack_inventory.json",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn version_names_the_plugin_abi() {
    let out = assert_cmd::Command::cargo_bin("dynamic-inventory")
        .unwrap()
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "dynamic-inventory {} (plugin ABI {}.{})\n",
            env!("CARGO_PKG_VERSION"),
            inventory_backend::abi::ABI_MAJOR,
            inventory_backend::abi::ABI_MINOR
        )
    );
}
