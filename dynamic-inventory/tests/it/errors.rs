//! Every error of docs/generation.md §3 (and the later ones), each from a small configuration: the exact
//! message on standard error, exit code 1, nothing on standard output, and the stored
//! inventory (and its backup archive) left exactly as they were.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::*;

/// The management network block of `small_config`, whose last line is this.
const MANAGEMENT_FLAG: &str = "        is_management_address: true\n";
const INFRA1: &str = "  infra1:\n    ip: 172.29.236.11\n";
const COMPUTE1: &str = "  compute1:\n    ip: 172.29.236.21\n";

/// A deployment with an inventory generated from `good` (twice, the second time with one
/// more, empty, host group, so that the backup archive exists too), then `bad` written as
/// the configuration. The run with `bad` must fail with exit code 1 and print nothing on
/// standard output, and the inventory and backup must stay byte for byte as they were.
/// Returns the deployment and the trimmed standard error.
fn break_existing(good: &str, bad: &str) -> (Deployment, String) {
    let d = Deployment::with_config(good);
    d.ok(&[]);
    d.write_config(&format!("{good}\nmarker_hosts: {{}}\n"));
    d.ok(&[]);
    let inventory = std::fs::read(d.inventory_path()).unwrap();
    let backup = std::fs::read(d.backup_path()).expect("the second, different run made a backup");
    assert_eq!(d.backup_members().len(), 1);

    d.write_config(bad);
    let stderr = d.fails(&[]);
    assert_eq!(
        std::fs::read(d.inventory_path()).unwrap(),
        inventory,
        "the inventory was changed"
    );
    assert_eq!(
        std::fs::read(d.backup_path()).unwrap(),
        backup,
        "the backup archive was changed"
    );
    assert_eq!(d.backup_members().len(), 1, "a backup member was added");
    (d, stderr.trim().to_string())
}

/// `break_existing` from the small configuration, returning only the message.
fn fails_over_existing(bad: &str) -> String {
    break_existing(&small_config(""), bad).1
}

/// A fresh deployment (no inventory yet) with this configuration must fail without
/// writing anything; returns the trimmed standard error.
fn fails_fresh(bad: &str) -> String {
    let d = Deployment::with_config(bad);
    let stderr = d.fails(&[]);
    assert!(!d.inventory_path().exists(), "an inventory was written");
    assert!(!d.backup_path().exists(), "a backup was written");
    stderr.trim().to_string()
}

fn without_cidr_networks() -> String {
    edit(
        &small_config(""),
        "cidr_networks:\n  management: 172.29.236.0/22\n  storage: 172.29.244.0/22\n",
        "",
    )
}

// ---------------------------------------------------------------------------------------
// Check 1: cidr_networks.

#[test]
fn missing_cidr_networks() {
    assert_eq!(
        fails_over_existing(&without_cidr_networks()),
        "No container CIDR specified in user config"
    );
}

#[test]
fn empty_or_null_cidr_networks() {
    for empty in [
        "cidr_networks: {}\n",
        "cidr_networks:\n",
        "cidr_networks: ~\n",
    ] {
        let bad = format!("{}{empty}", without_cidr_networks());
        assert_eq!(
            fails_over_existing(&bad),
            "No container CIDR specified in user config",
            "{empty}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Check 2: the container network.

/// Only a storage network; a provider network claims the management role but its queue
/// is not in `cidr_networks`, so it does not count (and check 3, which would complain
/// about that queue, comes later).
const NO_CONTAINER_NETWORK: &str = r#"
cidr_networks:
  storage: 172.29.244.0/22
global_overrides:
  management_bridge: br-mgmt
  provider_networks:
    - network:
        container_bridge: br-storage
        container_type: veth
        container_interface: eth2
        ip_from_q: storage
        type: raw
        group_binds:
          - all_containers
          - hosts
    - network:
        container_bridge: br-mgmt
        container_type: veth
        container_interface: eth1
        ip_from_q: management
        address_prefix: management
        is_management_address: true
        type: raw
        group_binds:
          - hosts
shared_infra_hosts:
  infra1:
    ip: 172.29.236.11
"#;

#[test]
fn no_container_or_management_network() {
    assert_eq!(
        fails_over_existing(NO_CONTAINER_NETWORK),
        "No container or management network specified in user config."
    );
}

/// A configuration whose only candidate for the container network is the provider
/// network on `mgmt_net`, with `flags` added to that network.
fn provider_fallback_config(flags: &str) -> String {
    format!(
        r#"
cidr_networks:
  storage: 172.29.244.0/22
  mgmt_net: 10.20.0.0/22
global_overrides:
  provider_networks:
    - network:
        container_bridge: br-storage
        container_type: veth
        container_interface: eth2
        ip_from_q: storage
        type: raw
        group_binds:
          - all_containers
          - hosts
    - network:
        container_bridge: br-mgmt
        container_type: veth
        container_interface: eth1
        ip_from_q: mgmt_net
        type: raw
        group_binds:
          - all_containers
          - hosts
{flags}shared_infra_hosts:
  infra1:
    ip: 10.20.0.11
"#
    )
}

#[test]
fn provider_network_fallback_for_the_container_network() {
    for flags in [
        "        is_management_address: true\n",
        "        is_container_address: true\n",
        "        address_prefix: management\n",
        "        address_prefix: container\n",
    ] {
        let d = Deployment::with_config(&provider_fallback_config(flags));
        let inventory = d.json(&[]);
        assert_eq!(
            inventory["all"]["vars"]["container_cidr"],
            json!(["10.20.0.0/22"]),
            "{flags}"
        );
    }
    // Without any of those flags the network does not count.
    assert_eq!(
        fails_fresh(&provider_fallback_config("")),
        "No container or management network specified in user config."
    );
}

// ---------------------------------------------------------------------------------------
// Check 3: provider networks.

#[test]
fn missing_global_overrides() {
    let bad = r#"
cidr_networks:
  management: 172.29.236.0/22
shared_infra_hosts:
  infra1:
    ip: 172.29.236.11
"#;
    assert_eq!(
        fails_over_existing(bad),
        "global_overrides can't be found in user config"
    );
}

#[test]
fn missing_provider_networks() {
    let bad = r#"
cidr_networks:
  management: 172.29.236.0/22
global_overrides:
  internal_lb_vip_address: 172.29.236.9
  management_bridge: br-mgmt
shared_infra_hosts:
  infra1:
    ip: 172.29.236.11
"#;
    assert_eq!(
        fails_over_existing(bad),
        "provider networks can't be found under global_overrides in user config"
    );
}

#[test]
fn global_no_containers_needs_no_provider_networks() {
    let config = r#"
cidr_networks:
  management: 172.29.236.0/22
global_overrides:
  no_containers: true
shared_infra_hosts:
  infra1:
    ip: 172.29.236.11
"#;
    let d = Deployment::with_config(config);
    let inventory = d.json(&[]);
    assert_eq!(hostnames(&inventory), ["infra1"]);
    assert_eq!(group_hosts(&inventory, "galera"), ["infra1"]);
}

#[test]
fn queue_not_in_cidr_networks() {
    let bad = edit(
        &small_config(""),
        "ip_from_q: management",
        "ip_from_q: mgmt",
    );
    assert_eq!(
        fails_over_existing(&bad),
        "can't find mgmt in cidr_networks"
    );
}

#[test]
fn management_bridge_without_is_management_address() {
    let bad = edit(&small_config(""), MANAGEMENT_FLAG, "");
    assert_eq!(
        fails_over_existing(&bad),
        "Provider network with queue 'management' requires 'is_management_address' to be set to True."
    );
    let bad = edit(
        &small_config(""),
        MANAGEMENT_FLAG,
        "        is_management_address: false\n",
    );
    assert_eq!(
        fails_over_existing(&bad),
        "Provider network with queue 'management' requires 'is_management_address' to be set to True."
    );
}

// ---------------------------------------------------------------------------------------
// Checks 4 to 6: host addresses, lxc_hosts.

#[test]
fn two_hosts_with_one_address() {
    // infra1 comes first in the configuration; the message sorts the names.
    let bad = edit(
        &small_config(""),
        COMPUTE1,
        "  compute1:\n    ip: 172.29.236.11\n",
    );
    assert_eq!(
        fails_over_existing(&bad),
        "Both host:compute1 and host:infra1 have address:172.29.236.11 assigned.  Cannot assign same ip to both hosts"
    );
}

#[test]
fn one_host_with_two_addresses_across_groups() {
    // The addresses are sorted as text: "…100" before "…11".
    let bad = small_config("storage_hosts:\n  infra1:\n    ip: 172.29.236.100\n");
    assert_eq!(
        fails_over_existing(&bad),
        "Host infra1 has both 172.29.236.100 and 172.29.236.11 assigned"
    );
}

#[test]
fn one_host_with_two_addresses_under_keys_that_normalise_alike() {
    let bad = small_config("shared-infra_hosts:\n  infra1:\n    ip: 172.29.236.100\n");
    assert_eq!(
        fails_over_existing(&bad),
        "Host infra1 has both 172.29.236.100 and 172.29.236.11 assigned"
    );
    // Dashed key first, then the underscored one.
    let bad = format!(
        "a-b_hosts:\n  h1:\n    ip: 172.29.236.61\n{}a_b_hosts:\n  h1:\n    ip: 172.29.236.7\n",
        small_config("")
    );
    assert_eq!(
        fails_over_existing(&bad),
        "Host h1 has both 172.29.236.61 and 172.29.236.7 assigned"
    );
}

#[test]
fn lxc_hosts_in_the_configuration() {
    let bad = small_config("lxc_hosts:\n  lxc1:\n    ip: 172.29.236.31\n");
    assert_eq!(
        fails_over_existing(&bad),
        "The group 'lxc_hosts' must not be defined in config; it will be dynamically  generated."
    );
}

// ---------------------------------------------------------------------------------------
// Check 7: a group with both child groups and hosts.

#[test]
fn parent_group_with_host_entries() {
    // The first physical_skel entry (adjutant.yml) belonging to `hosts` is
    // registration_hosts; the first belonging to `all_containers` is
    // registration_containers.
    let bad = small_config("hosts:\n  infra2:\n    ip: 172.29.236.12\n");
    assert_eq!(
        fails_over_existing(&bad),
        "Group hosts has a child group registration_hosts, but also has host entries in user configuration. Hosts cannot be sibling with groups."
    );
    let bad = small_config("all_containers:\n  c1:\n    ip: 172.29.236.13\n");
    assert_eq!(
        fails_over_existing(&bad),
        "Group all_containers has a child group registration_containers, but also has host entries in user configuration. Hosts cannot be sibling with groups."
    );
}

// ---------------------------------------------------------------------------------------
// Later errors.

#[test]
fn static_route_without_cidr_or_gateway() {
    let message = "Static route provider network with queue 'management' needs both 'cidr' and 'gateway' values.";
    for routes in [
        "          - cidr: 10.0.0.0/8\n",
        "          - gateway: 172.29.236.1\n",
        "          - cidr: 10.0.0.0/8\n            gateway: ~\n",
        "          - cidr: null\n            gateway: 172.29.236.1\n",
        "          - cidr: 10.0.0.0/8\n            gateway: 172.29.236.1\n          - cidr: 10.1.0.0/16\n",
    ] {
        let bad = edit(
            &small_config(""),
            MANAGEMENT_FLAG,
            &format!("{MANAGEMENT_FLAG}        static_routes:\n{routes}"),
        );
        assert_eq!(fails_over_existing(&bad), message, "{routes}");
    }

    // Complete routes are accepted and written on every entry of the network.
    let good = edit(
        &small_config(""),
        MANAGEMENT_FLAG,
        &format!(
            "{MANAGEMENT_FLAG}        static_routes:\n          - cidr: 10.0.0.0/8\n            gateway: 172.29.236.1\n"
        ),
    );
    let inventory = Deployment::with_config(&good).json(&[]);
    let galera = hostnames_starting(&inventory, "infra1-galera-container-");
    assert_eq!(galera.len(), 1);
    for name in [galera[0].as_str(), "compute1"] {
        assert_eq!(
            hostvars(&inventory, name)["container_networks"]["management_address"]["static_routes"],
            json!([{"cidr": "10.0.0.0/8", "gateway": "172.29.236.1"}]),
            "{name}"
        );
    }
}

/// A /30 container network (two usable addresses), both hosts outside it; infra1 gets
/// galera and rabbitmq containers, plus the utility container unless `utility` is 0.
fn tiny_pool_config(utility: u32) -> String {
    format!(
        r#"
cidr_networks:
  container: 10.0.0.0/30
global_overrides:
  management_bridge: br-mgmt
  provider_networks:
    - network:
        container_bridge: br-mgmt
        container_type: veth
        container_interface: eth1
        ip_from_q: container
        type: raw
        group_binds:
          - all_containers
          - hosts
        is_management_address: true
shared_infra_hosts:
  infra1:
    ip: 172.29.236.11
    affinity:
      memcached_container: 0
      utility_container: {utility}
compute_hosts:
  compute1:
    ip: 172.29.236.21
"#
    )
}

#[test]
fn exhausted_address_pool() {
    let message = "Cannot retrieve requested amount of IP addresses. Increase the container range in your openstack_user_config.yml.";
    // Three containers, two addresses, from scratch.
    assert_eq!(fails_fresh(&tiny_pool_config(1)), message);

    // Two containers fit exactly; a third one added later does not.
    let (d, stderr) = break_existing(&tiny_pool_config(0), &tiny_pool_config(1));
    assert_eq!(stderr, message);
    let inventory: Value = d.inventory();
    let mut addresses: Vec<String> = hostnames_starting(&inventory, "infra1-")
        .iter()
        .map(|n| {
            hostvars(&inventory, n)["container_networks"]["container_address"]["address"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["10.0.0.1", "10.0.0.2"]);
}

fn container_name_message(host: &str, container: &str) -> String {
    format!(
        "The resulting combination of [ \"{host}\" + \"{container}\" ] is longer than 52 characters. This combination will result in a container name that is longer than the maximum allowable hostname of 63 characters. Before this process can continue please adjust the host entries in your \"openstack_user_config.yml\" to use a short hostname. The recommended hostname length is < 20 characters long."
    )
}

/// `small_config` with infra1 renamed.
fn infra_named(host: &str) -> String {
    edit(
        &small_config(""),
        INFRA1,
        &format!("  {host}:\n    ip: 172.29.236.11\n"),
    )
}

#[test]
fn container_name_too_long() {
    // galera_container comes first among infra1's containers: 36 + 1 + 16 = 53.
    let host = format!("infra{}", "x".repeat(31));
    assert_eq!(host.len(), 36);
    assert_eq!(
        fails_over_existing(&infra_named(&host)),
        container_name_message(&host, "galera-container")
    );
}

#[test]
fn container_name_limit_is_52() {
    // memcached-container is the longest of the shared-infra containers (19).
    let host = format!("infra{}", "x".repeat(27));
    assert_eq!(format!("{host}-memcached-container").len(), 52);
    let inventory = Deployment::with_config(&infra_named(&host)).json(&[]);
    assert_eq!(
        hostnames_starting(&inventory, &format!("{host}-memcached-container-")).len(),
        1
    );

    let host = format!("{host}y");
    assert_eq!(
        fails_over_existing(&infra_named(&host)),
        container_name_message(&host, "memcached-container")
    );
}

#[test]
fn metal_host_name_too_long() {
    let compute_named = |host: &str| {
        edit(
            &small_config(""),
            COMPUTE1,
            &format!("  {host}:\n    ip: 172.29.236.21\n"),
        )
    };
    // 63 characters is fine for a host that runs its services on metal.
    let host = format!("compute{}", "x".repeat(56));
    assert_eq!(host.len(), 63);
    let inventory = Deployment::with_config(&compute_named(&host)).json(&[]);
    assert_eq!(
        group_hosts(&inventory, "nova_compute"),
        std::slice::from_ref(&host)
    );

    let host = format!("{host}y");
    assert_eq!(
        fails_over_existing(&compute_named(&host)),
        format!(
            "The resulting hostname \"{host}\" is longer than 63 characters. This combination may result in a name that is longer than the maximum allowable hostname of 63 characters. Before this process can continue please adjust the host entries in your \"openstack_user_config.yml\" to use a short hostname."
        )
    );
}

#[test]
fn host_without_ip() {
    let message = "Host compute1 in group compute_hosts of the user configuration has no 'ip' set";
    let bad = edit(
        &small_config(""),
        COMPUTE1,
        "  compute1:\n    management_ip: 172.29.236.21\n",
    );
    assert_eq!(fails_over_existing(&bad), message);
    let bad = edit(&small_config(""), COMPUTE1, "  compute1:\n");
    assert_eq!(fails_over_existing(&bad), message);
}

// ---------------------------------------------------------------------------------------
// Inputs that cannot be read.

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn invalid_yaml_names_the_file() {
    let (d, stderr) = break_existing(
        &small_config(""),
        "cidr_networks: [172.29.236.0/22\nshared_infra_hosts: {\n",
    );
    let file = display(&d.path().join(USER_CONFIG));
    assert!(
        stderr.starts_with(&format!("{file}: invalid YAML")),
        "{stderr}"
    );
    // One line of message, then the line of the file and a caret under the column.
    let (message, quoted, caret) = yaml_error_parts(&stderr);
    assert!(message.starts_with(&format!("{file}: invalid YAML: line ")));
    assert!(caret <= quoted.len(), "{stderr}");
}

#[test]
fn a_yaml_error_quotes_the_line_with_a_caret_under_the_column() {
    // A tab and two-byte characters before the column: columns count characters and
    // the tab is shown escaped, as control characters are in messages.
    let bad = format!("{}x:\té: ü: 1\n", small_config(""));
    let line = bad.lines().count();
    let (d, stderr) = break_existing(&small_config(""), &bad);
    let file = display(&d.path().join(USER_CONFIG));
    // The first line is the message as it always was: scripts match on it.
    assert_eq!(
        stderr,
        format!(
            "{file}: invalid YAML: line {line}, column 5: mapping values are not allowed in \
             this context\n  {line} | x:\\té: ü: 1\n  {gutter} |      ^",
            gutter = " ".repeat(line.to_string().len())
        )
    );
    let (_, quoted, caret) = yaml_error_parts(&stderr);
    assert_eq!(quoted.chars().nth(caret), Some(':'));

    // A hostile file cannot put a terminal escape or a line break on the screen, and
    // the caret stays under the offending character.
    let bad = "k: \"\u{2028}\u{202e}\u{85}\": v: w\n";
    let (d, stderr) = break_existing(&small_config(""), bad);
    let file = display(&d.path().join(USER_CONFIG));
    assert_eq!(
        stderr,
        format!(
            "{file}: invalid YAML: line 1, column 9: mapping values are not allowed in \
             this context\n  1 | k: \"\\u{{2028}}\\u{{202e}}\\u{{85}}\": v: w\n    | {}^",
            " ".repeat(27)
        )
    );
    let bad = "k: v\u{1b}]0;owned\u{7}\n";
    let (_, stderr) = break_existing(&small_config(""), bad);
    let (message, quoted, caret) = yaml_error_parts(&stderr);
    assert!(
        message.ends_with(
            "line 1, column 5: unacceptable character #x001b: special characters are not allowed"
        ),
        "{message}"
    );
    assert_eq!(quoted, "k: v\\u{1b}]0;owned\\u{7}");
    assert_eq!(caret, 4);
}

#[test]
fn invalid_yaml_in_conf_d_and_env_d_names_the_file() {
    for file in ["conf.d/broken.yml", "env.d/broken.yml"] {
        let d = Deployment::with_config(&small_config(""));
        d.ok(&[]);
        let before = d.inventory_text().unwrap();
        d.write(file, "key: [unclosed\n");
        let stderr = d.fails(&[]);
        let path = display(&d.path().join(file));
        assert!(
            stderr.trim().starts_with(&format!("{path}: invalid YAML")),
            "{stderr}"
        );
        assert_eq!(d.inventory_text().unwrap(), before);
    }
}

#[test]
fn no_configuration_at_all() {
    if Path::new("/etc/openstack_deploy").exists() {
        eprintln!("skipped: /etc/openstack_deploy exists on this machine");
        return;
    }
    let d = Deployment::new();
    // A stored inventory alone is not a configuration; it stays as it is.
    d.write(
        "openstack_inventory.json",
        "{\"_meta\": {\"hostvars\": {}}}",
    );
    let stderr = d.fails(&[]);
    let dir = display(d.path());
    let expected = format!(
        "Could not read data sources: '['{dir}', '/etc/openstack_deploy', '{dir}/conf.d', '/etc/openstack_deploy/conf.d']'. \
         No openstack_user_config.yml (or conf.d/*.yml) with a configuration was found there: \
         give its directory with --config DIR or OSA_CONFIG_DIR."
    );
    assert_eq!(stderr.trim(), expected);

    // An empty configuration file (an empty mapping) loads nothing either.
    d.write_config("");
    assert_eq!(d.fails(&[]).trim(), expected);
    d.write_config("# nothing but a comment\n---\n");
    assert_eq!(d.fails(&[]).trim(), expected);
}

#[test]
fn corrupt_stored_inventory() {
    for corrupt in ["{\"_meta\": {\"hostvars\": ", "[1, 2, 3]"] {
        let d = Deployment::with_config(&small_config(""));
        d.ok(&[]);
        d.write("openstack_inventory.json", corrupt);
        let stderr = d.fails(&[]);
        let path = display(&d.inventory_path());
        assert!(
            stderr.trim().starts_with(&format!("{path}: ")),
            "{corrupt}: {stderr}"
        );
        assert_eq!(d.inventory_text().unwrap(), corrupt);
        assert!(!d.backup_path().exists());
        // No backup yet: nothing to point at.
        assert!(!stderr.contains("earlier versions"), "{stderr}");
    }
}

#[test]
fn a_corrupt_stored_inventory_points_at_the_backups() {
    let d = Deployment::with_config(&small_config(""));
    d.ok(&[]);
    // A change makes a backup of the first inventory.
    d.write_config(&small_config("    container_vars:\n      x: 1\n"));
    d.ok(&[]);
    assert!(d.backup_path().exists());
    d.write("openstack_inventory.json", "{");
    let stderr = d.fails(&[]);
    assert!(
        stderr.trim_end().ends_with(&format!(
            "; earlier versions are in {} (one member per write)",
            display(&d.backup_path())
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn invalid_cidr() {
    for (value, shown) in [
        ("172.29.244.0/33", "172.29.244.0/33"),
        ("not-a-network", "not-a-network"),
        ("\"172.29.244.0/22/1\"", "172.29.244.0/22/1"),
    ] {
        let bad = edit(
            &small_config(""),
            "storage: 172.29.244.0/22",
            &format!("storage: {value}"),
        );
        assert_eq!(
            fails_over_existing(&bad),
            format!("cidr_networks entry 'storage' is not a valid network: {shown}")
        );
    }
}

#[test]
fn checks_run_in_the_specified_order() {
    let lxc = "lxc_hosts:\n  lxc1:\n    ip: 172.29.236.31\n";
    // 1 before 6.
    assert_eq!(
        fails_fresh(&format!("{}{lxc}", without_cidr_networks())),
        "No container CIDR specified in user config"
    );
    // 3 before 4.
    let bad = edit(
        &edit(&small_config(""), MANAGEMENT_FLAG, ""),
        COMPUTE1,
        "  compute1:\n    ip: 172.29.236.11\n",
    );
    assert_eq!(
        fails_fresh(&bad),
        "Provider network with queue 'management' requires 'is_management_address' to be set to True."
    );
    // 4 before 5: infra1 has a second address, which is compute1's.
    let bad = small_config("storage_hosts:\n  infra1:\n    ip: 172.29.236.21\n");
    assert_eq!(
        fails_fresh(&bad),
        "Both host:compute1 and host:infra1 have address:172.29.236.21 assigned.  Cannot assign same ip to both hosts"
    );
    // 5 before 6.
    let bad = small_config(&format!(
        "storage_hosts:\n  infra1:\n    ip: 172.29.236.100\n{lxc}"
    ));
    assert_eq!(
        fails_fresh(&bad),
        "Host infra1 has both 172.29.236.100 and 172.29.236.11 assigned"
    );
    // 6 before 7.
    let bad = small_config(&format!("hosts:\n  infra2:\n    ip: 172.29.236.12\n{lxc}"));
    assert_eq!(
        fails_fresh(&bad),
        "The group 'lxc_hosts' must not be defined in config; it will be dynamically  generated."
    );
}

/// `small_config` with a value nested `levels` deep (the document counted) under
/// `global_overrides`.
fn config_nesting(levels: usize) -> String {
    // The document (1) and global_overrides (2) hold `deep` (3); each list adds one.
    let value = format!("{}x{}", "[".repeat(levels - 2), "]".repeat(levels - 2));
    edit(
        &small_config(""),
        "global_overrides:\n",
        &format!("global_overrides:\n  deep: {value}\n"),
    )
}

#[test]
fn whatever_a_run_stores_the_next_run_reads() {
    // Too deep: refused before anything is written, naming the file.
    let d = Deployment::with_config(&config_nesting(125));
    let stderr = d.fails(&[]);
    assert!(stderr.contains("openstack_user_config.yml"), "{stderr}");
    assert!(
        stderr.contains("nested more than 116 levels deep"),
        "{stderr}"
    );
    assert!(d.inventory_text().is_none());

    // As deep as accepted: stored, and every later run reads it.
    let d = Deployment::with_config(&config_nesting(116));
    let first = d.ok(&[]);
    assert!(first.contains("\"deep\""));
    assert_eq!(d.ok(&[]), first);
    assert_eq!(d.ok(&["--check"]), "Configuration ok!\n");
}

#[test]
fn an_alias_bomb_is_refused_naming_the_file_and_the_anchor() {
    let mut bomb = String::from("global_overrides:\n  b0: &b0 [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..=6 {
        let items = [format!("*b{}", level - 1).as_str(); 9].join(", ");
        bomb.push_str(&format!("  b{level}: &b{level} [{items}]\n"));
    }
    let d = Deployment::with_config(&small_config(""));
    d.write("conf.d/bomb.yml", &bomb);
    let stderr = d.fails(&[]);
    // The message, then the line of the value that expands too much, with a caret.
    let (message, quoted, _) = yaml_error_parts(&stderr);
    assert!(message.contains("bomb.yml"), "{stderr}");
    assert!(quoted.contains("&b"), "{stderr}");
    assert!(stderr.contains("alias '*b4' copies"), "{stderr}");
    assert!(d.inventory_text().is_none());
}

#[test]
fn ten_megabytes_of_configuration_stay_under_a_gibibyte() {
    // An unused list of five million short items: ten megabytes of flow YAML, the input
    // that once needed 1.25 GiB.
    let d = Deployment::with_config(&small_config(""));
    let mut big = String::with_capacity(10_000_016);
    big.push_str("unused_list: [");
    big.push_str(&"1,".repeat(4_999_999));
    big.push_str("1]\n");
    d.write("conf.d/big.yml", &big);
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dynamic-inventory"))
        .arg("--config")
        .arg(d.path())
        .arg("-e")
        .arg(reference_env())
        .env("OSA_INI_PATH", default_osa_ini())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (status, peak_kib) = crate::rusage::wait_with_rusage(child.id() as libc::pid_t);
    assert_eq!(status, 0);
    assert!(peak_kib < 1024 * 1024, "peak memory {peak_kib} KiB");
}
