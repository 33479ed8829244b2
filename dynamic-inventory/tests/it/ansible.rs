//! End to end through Ansible: `ansible-inventory` and `ansible-playbook` (ansible-core
//! from PyPI, in a venv made by tests/support/ansible-venv.sh) run the real binary as
//! their inventory script and must see exactly our hosts, groups and variables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::*;

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv's bin directory, created on first use.
fn ansible_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new(project_root().join("tests/support/ansible-venv.sh"))
            .output()
            .expect("tests/support/ansible-venv.sh runs");
        assert!(
            out.status.success(),
            "installing ansible-core failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

fn ansible(tool: &str, d: &Deployment, args: &[&str]) -> std::process::Output {
    let binary = assert_cmd::cargo::cargo_bin("dynamic-inventory");
    let mut cmd = Command::new(ansible_bin().join(tool));
    cmd.arg("-i").arg(&binary).args(args);
    cmd.env("OSA_CONFIG_DIR", d.path())
        .env("OSA_INI_PATH", default_osa_ini())
        // A failing inventory source must fail the command, not be skipped with a warning.
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .env("ANSIBLE_LOCAL_TEMP", d.path().join(".ansible-tmp"))
        .env("ANSIBLE_HOME", d.path().join(".ansible"))
        .current_dir(d.path());
    cmd.output().unwrap()
}

/// Every host reachable from each group (its hosts and its children's, recursively).
fn reachable(
    groups: &BTreeMap<String, (Vec<String>, Vec<String>)>,
) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(
        g: &str,
        groups: &BTreeMap<String, (Vec<String>, Vec<String>)>,
        seen: &mut BTreeSet<String>,
        out: &mut BTreeSet<String>,
    ) {
        if !seen.insert(g.to_string()) {
            return;
        }
        if let Some((hosts, children)) = groups.get(g) {
            out.extend(hosts.iter().cloned());
            for c in children {
                walk(c, groups, seen, out);
            }
        }
    }
    groups
        .keys()
        .map(|g| {
            let mut out = BTreeSet::new();
            walk(g, groups, &mut BTreeSet::new(), &mut out);
            (g.clone(), out)
        })
        .collect()
}

fn group_table(inventory: &Value) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let names = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    inventory
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "_meta")
        .map(|(k, g)| (k.clone(), (names(g.get("hosts")), names(g.get("children")))))
        .collect()
}

fn check_ansible_sees_our_inventory(d: &Deployment) {
    let ours: Value = serde_json::from_str(&d.ok(&["--list"])).unwrap();
    let out = ansible("ansible-inventory", d, &["--list"]);
    assert!(
        out.status.success(),
        "ansible-inventory failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();

    // The same hosts.
    let our_hosts: BTreeSet<&String> = ours["_meta"]["hostvars"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let seen_hosts: BTreeSet<&String> = seen["_meta"]["hostvars"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(our_hosts, seen_hosts);

    // The same members in every group that has any (Ansible drops empty groups).
    let (our_groups, seen_groups) = (
        reachable(&group_table(&ours)),
        reachable(&group_table(&seen)),
    );
    let mut compared = 0;
    for (group, members) in &our_groups {
        if members.is_empty() {
            continue;
        }
        assert_eq!(Some(members), seen_groups.get(group), "group {group}");
        compared += 1;
    }
    assert!(compared > 20, "only {compared} groups compared");

    // Every variable we give a host reaches it unchanged.
    for (host, vars) in ours["_meta"]["hostvars"].as_object().unwrap() {
        let theirs = &seen["_meta"]["hostvars"][host];
        for (k, v) in vars.as_object().unwrap() {
            assert_eq!(&theirs[k], v, "{host}.{k}");
        }
    }
}

#[test]
fn ansible_inventory_sees_the_reference_cases_unchanged() {
    for case in ["test", "prod"] {
        let d = Deployment::from_case(case);
        check_ansible_sees_our_inventory(&d);
    }
}

#[test]
fn ansible_inventory_and_playbook_accept_the_shipped_example() {
    let mut d = Deployment::new();
    d.env = None;
    copy_dir(&project_root().join("etc/openstack_deploy"), d.path());
    for generated in [
        "openstack_inventory.json",
        "openstack_inventory.json.lock",
        "backup_openstack_inventory.tar",
    ] {
        let _ = std::fs::remove_file(d.path().join(generated));
    }
    check_ansible_sees_our_inventory(&d);

    let playbook = project_root().join("playbooks/verify-inventory.yml");
    let out = ansible("ansible-playbook", &d, &[playbook.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "playbook failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_failing_inventory_fails_ansible() {
    let d = Deployment::with_config("cidr_networks: {}\n");
    let out = ansible("ansible-inventory", &d, &["--list"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No container CIDR specified in user config")
    );
}

/// `ansible-playbook` on a broken configuration, with the Ansible settings given by
/// `ANSIBLE_CONFIG` and nothing else.
fn playbook_on_a_broken_configuration(ansible_cfg: &Path) -> std::process::Output {
    let d = Deployment::with_config("cidr_networks: {}\n");
    let binary = assert_cmd::cargo::cargo_bin("dynamic-inventory");
    // A play on a group of the inventory: without the inventory it has nothing to do.
    let playbook = d.path().join("all-hosts.yml");
    std::fs::write(
        &playbook,
        "- hosts: galera_all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n",
    )
    .unwrap();
    Command::new(ansible_bin().join("ansible-playbook"))
        .arg("-i")
        .arg(&binary)
        .arg(&playbook)
        .env("ANSIBLE_CONFIG", ansible_cfg)
        .env_remove("ANSIBLE_INVENTORY_UNPARSED_FAILED")
        .env_remove("ANSIBLE_INVENTORY_ENABLED")
        .env("OSA_CONFIG_DIR", d.path())
        .env("OSA_INI_PATH", default_osa_ini())
        .env("ANSIBLE_LOCAL_TEMP", d.path().join(".ansible-tmp"))
        .env("ANSIBLE_HOME", d.path().join(".ansible"))
        .current_dir(d.path())
        .output()
        .unwrap()
}

#[test]
fn the_shipped_ansible_settings_make_a_failing_inventory_fail_the_playbook() {
    // Ansible's defaults: the failing script is skipped, the play runs on no host and
    // "succeeds". This is what the settings are for.
    let empty = tempfile::tempdir().unwrap();
    let defaults = empty.path().join("ansible.cfg");
    std::fs::write(&defaults, "[defaults]\n").unwrap();
    let out = playbook_on_a_broken_configuration(&defaults);
    assert!(
        out.status.success(),
        "Ansible's defaults no longer hide a failing inventory: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The shipped example, copied as an operator would (Ansible wants a .cfg name).
    let shipped = empty.path().join("shipped.cfg");
    std::fs::copy(
        project_root().join("etc/ansible/ansible.cfg.example"),
        &shipped,
    )
    .unwrap();
    let out = playbook_on_a_broken_configuration(&shipped);
    assert!(
        !out.status.success(),
        "the playbook ran on a failing inventory"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No container CIDR specified in user config"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
