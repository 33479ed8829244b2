//! Shared helpers: a deployment in a temp dir, and running the real binary on it.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

#[path = "../../../tests/support/fixtures.rs"]
mod fixtures;
pub use fixtures::{default_osa_ini, reference_case, reference_cases};

/// The upstream environment (`tests/fixtures/reference`), for byte-exact comparisons with
/// upstream output.
pub fn reference_env() -> PathBuf {
    fixtures::reference()
}

/// A configuration directory in a temp dir, and the environment to run with.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    /// `-e DIR`; `None` runs with the built-in environment.
    pub env: Option<PathBuf>,
}

impl Deployment {
    /// An empty config dir, run against the upstream reference environment.
    pub fn new() -> Self {
        Deployment {
            dir: tempfile::tempdir().unwrap(),
            env: Some(reference_env()),
        }
    }

    /// A copy of a reference case's configuration.
    pub fn from_case(case: &str) -> Self {
        let d = Deployment::new();
        copy_dir(&reference_case(case).join("config"), d.path());
        d
    }

    /// A deployment with this `openstack_user_config.yml`.
    pub fn with_config(yaml: &str) -> Self {
        let d = Deployment::new();
        d.write("openstack_user_config.yml", yaml);
        d
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) {
        let p = self.path().join(relative);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn inventory_path(&self) -> PathBuf {
        self.path().join("openstack_inventory.json")
    }

    pub fn inventory_text(&self) -> Option<String> {
        std::fs::read_to_string(self.inventory_path()).ok()
    }

    pub fn inventory(&self) -> Value {
        serde_json::from_str(&self.inventory_text().expect("an inventory was written")).unwrap()
    }

    pub fn backup_path(&self) -> PathBuf {
        self.path().join("backup_openstack_inventory.tar")
    }

    /// The members of the backup archive; none when there is no archive.
    pub fn backup_members(&self) -> Vec<String> {
        if self.backup_path().exists() {
            tar_members(&self.backup_path())
        } else {
            Vec::new()
        }
    }

    /// Replaces `openstack_user_config.yml`.
    pub fn write_config(&self, yaml: &str) {
        self.write(USER_CONFIG, yaml);
    }

    /// The command, with the config dir, environment and a missing osa.ini.
    pub fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("dynamic-inventory").unwrap();
        cmd.arg("--config").arg(self.path());
        if let Some(env) = &self.env {
            cmd.arg("-e").arg(env);
        }
        cmd.env("OSA_INI_PATH", fixtures::default_osa_ini())
            .env_remove("OSA_CONFIG_DIR")
            .current_dir(self.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects success; returns stdout parsed as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out}"))
    }

    /// Runs, expects failure, checks nothing was written; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let before = self.inventory_text();
        let out = self.run(args);
        assert!(!out.status.success(), "unexpectedly succeeded");
        assert_eq!(out.status.code(), Some(1));
        assert!(
            out.stdout.is_empty(),
            "stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(self.inventory_text(), before, "the inventory was touched");
        assert!(!self.backup_path().exists() || before.is_some());
        String::from_utf8(out.stderr).unwrap()
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

/// The contents of one member of a tar archive (extracted with `tar -xOf`).
pub fn tar_member_text(path: &Path, member: &str) -> String {
    let out = std::process::Command::new("tar")
        .arg("-xOf")
        .arg(path)
        .arg(member)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar -xOf {member}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `text` with the first `from` replaced by `to`; `from` must occur in it.
pub fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is not in {text}");
    text.replacen(from, to, 1)
}

/// The names of every `_meta.hostvars` entry.
pub fn hostnames(inventory: &Value) -> Vec<String> {
    inventory["_meta"]["hostvars"]
        .as_object()
        .expect("_meta.hostvars")
        .keys()
        .cloned()
        .collect()
}

/// The hostvars entries whose name starts with `prefix`.
pub fn hostnames_starting(inventory: &Value, prefix: &str) -> Vec<String> {
    hostnames(inventory)
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The variables of one host entry (panics when there is none).
pub fn hostvars<'v>(inventory: &'v Value, name: &str) -> &'v Value {
    inventory["_meta"]["hostvars"]
        .get(name)
        .unwrap_or_else(|| panic!("no hostvars entry {name}"))
}

fn names(inventory: &Value, group: &str, key: &str) -> Vec<String> {
    let group_value = inventory
        .get(group)
        .unwrap_or_else(|| panic!("no group {group}"));
    group_value
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|i| i.as_str().expect("a name").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The `hosts` of a group (empty when it has none; panics when the group is missing).
pub fn group_hosts(inventory: &Value, group: &str) -> Vec<String> {
    names(inventory, group, "hosts")
}

/// The `children` of a group (empty when it has none; panics when the group is missing).
pub fn group_children(inventory: &Value, group: &str) -> Vec<String> {
    names(inventory, group, "children")
}

/// Member names of a tar archive (read with the `tar` binary: GNU tar must read it).
pub fn tar_members(path: &Path) -> Vec<String> {
    let out = std::process::Command::new("tar")
        .arg("-tf")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

pub const USER_CONFIG: &str = "openstack_user_config.yml";

/// `global_overrides` (top-level YAML) with one provider network, the management network
/// of `cidr_networks.management`; `vip` is both load balancer addresses.
pub fn management_overrides(vip: &str) -> String {
    format!(
        r#"global_overrides:
  internal_lb_vip_address: "{vip}"
  external_lb_vip_address: "{vip}"
  management_bridge: br-mgmt
  provider_networks:
    - network:
        container_bridge: br-mgmt
        container_type: veth
        container_interface: eth1
        ip_from_q: management
        type: raw
        group_binds:
          - all_containers
          - hosts
        is_management_address: true
"#
    )
}

/// A minimal valid configuration: one infra host, one compute host, the management
/// network; extra YAML is appended at the top level.
pub fn small_config(extra: &str) -> String {
    format!(
        r#"
cidr_networks:
  management: 172.29.236.0/22
  storage: 172.29.244.0/22
used_ips:
  - "172.29.236.1,172.29.236.50"
{}shared_infra_hosts:
  infra1:
    ip: 172.29.236.11
compute_hosts:
  compute1:
    ip: 172.29.236.21
{extra}"#,
        management_overrides("172.29.236.9")
    )
}

/// A YAML error as the program prints it on standard error: the one-line message
/// (`FILE: invalid YAML: line N, column M: ...`), then line N of the file quoted after a
/// gutter with N, then a caret line. Checks that shape (nothing else printed, no control
/// character, the caret alone and within the quoted text) and returns the message, the
/// quoted text and the caret's offset in it, in characters.
pub fn yaml_error_parts(stderr: &str) -> (String, String, usize) {
    assert!(
        !stderr.chars().any(|ch| ch.is_control() && ch != '\n'),
        "a control character on standard error: {stderr:?}"
    );
    let lines: Vec<&str> = stderr.trim_end_matches('\n').split('\n').collect();
    assert_eq!(lines.len(), 3, "message, source line, caret: {stderr}");
    let message = lines[0];
    let place = message
        .split_once(": invalid YAML: line ")
        .unwrap_or_else(|| panic!("not a YAML error: {message}"))
        .1;
    let line: usize = place.split(',').next().unwrap().parse().unwrap();
    let gutter = format!("  {line} |");
    let quoted = lines[1]
        .strip_prefix(&gutter)
        .unwrap_or_else(|| panic!("no gutter {gutter:?}: {stderr}"));
    // An empty line is quoted without the space after the bar.
    let quoted = quoted.strip_prefix(' ').unwrap_or(quoted);
    let blank_gutter = format!("  {} | ", " ".repeat(line.to_string().len()));
    let caret = lines[2]
        .strip_prefix(&blank_gutter)
        .unwrap_or_else(|| panic!("no caret line: {stderr}"));
    let offset = caret.len() - 1;
    assert!(
        caret.ends_with('^') && caret[..offset].bytes().all(|b| b == b' '),
        "{stderr}"
    );
    assert!(
        offset <= quoted.chars().count(),
        "caret past the line: {stderr}"
    );
    (message.to_owned(), quoted.to_owned(), offset)
}
