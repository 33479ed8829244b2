//! The Craton backend against the real Craton server (`../shared/craton`): each test
//! starts its own server and counts its requests. Skipped, saying so, when `../shared`
//! is not beside the checkout.
//!
//! Both programs are driven: `inventory-manage` (this crate's binary) and
//! `dynamic-inventory` (built beside it by `cargo test --workspace`).

mod crash;
mod faults;
mod manage;
mod round_trip;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};

use assert_cmd::Command;
use serde_json::{Map, Value};

pub use crate::craton_server::Craton;
pub use crate::support::reference_cases;
use crate::support::{document, hostvars, reference, reference_case};

/// The `dynamic-inventory` binary: beside ours when the workspace was built (what
/// `cargo test --workspace` and `.ci/run` do), else built once into `target/craton-e2e`.
pub fn dynamic_inventory() -> PathBuf {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_inventory-manage"));
    let beside = ours.with_file_name("dynamic-inventory");
    if beside.is_file() {
        return beside;
    }
    crate::plugin_build::build("craton-e2e", false, &["dynamic-inventory"])
        .join("dynamic-inventory")
}

/// A deployment whose inventory is kept in a Craton server: a temp directory holding
/// `osa.ini` (sections `[craton]`, and `[json]` for a JSON file in `json/`), the token
/// file and the cache.
pub struct Setup {
    pub craton: Craton,
    pub dir: tempfile::TempDir,
    pub cloud: String,
}

impl Setup {
    /// A fresh server, or `None` when the test is skipped.
    pub fn new(test: &str) -> Option<Setup> {
        Self::with_extra(test, "")
    }

    /// With extra lines in the `[craton]` section.
    pub fn with_extra(test: &str, extra: &str) -> Option<Setup> {
        let craton = Craton::start(test)?;
        Some(Self::on(craton, extra))
    }

    pub fn on(craton: Craton, extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let setup = Setup {
            craton,
            dir,
            cloud: "openstack-ansible".into(),
        };
        setup.write_ini(extra);
        fs::create_dir(setup.json_dir()).unwrap();
        setup
    }

    pub fn write_ini(&self, extra: &str) {
        let text = format!(
            "{}\n[json]\ndirectory = {}\n",
            self.craton.osa_ini(self.dir.path(), extra),
            self.json_dir().display()
        );
        fs::write(self.ini(), text).unwrap();
        crate::craton_server::set_mode(&self.ini(), 0o600);
    }

    pub fn ini(&self) -> PathBuf {
        self.dir.path().join("osa.ini")
    }

    pub fn json_dir(&self) -> PathBuf {
        self.dir.path().join("json")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn json_file(&self) -> PathBuf {
        self.json_dir().join("openstack_inventory.json")
    }

    /// `inventory-manage` with this `osa.ini`.
    pub fn manage(&self) -> Command {
        let mut cmd = Command::cargo_bin("inventory-manage").unwrap();
        cmd.env("OSA_INI_PATH", self.ini())
            .env_remove("OSA_CONFIG_DIR")
            .current_dir(self.dir.path());
        cmd
    }

    pub fn manage_run(&self, args: &[&str]) -> Output {
        self.manage().args(args).output().unwrap()
    }

    /// Runs `inventory-manage`, which must succeed quietly; returns its stdout.
    pub fn manage_ok(&self, args: &[&str]) -> String {
        crate::support::ok(self.manage_run(args))
    }

    /// `dynamic-inventory` on `config` with the upstream environment and this `osa.ini`.
    pub fn dynamic(&self, config: &Path) -> StdCommand {
        let mut cmd = StdCommand::new(dynamic_inventory());
        cmd.arg("--config")
            .arg(config)
            .arg("-e")
            .arg(reference())
            .arg("--list")
            .env("OSA_INI_PATH", self.ini())
            .env_remove("OSA_CONFIG_DIR")
            .current_dir(self.dir.path());
        cmd
    }

    /// Stores `text` in Craton through `migrate` from the JSON file.
    pub fn store(&self, text: &str) {
        fs::write(self.json_file(), text).unwrap();
        self.manage_ok(&["migrate", "--from", "json", "--to", "craton", "--force"]);
    }

    /// What `inventory-manage dump` reads from Craton.
    pub fn stored(&self) -> String {
        self.manage_ok(&["dump"])
    }

    pub fn fleet_region(&self) -> i64 {
        self.craton
            .region_id(&self.cloud, "RegionOne")
            .expect("the fleet region exists")
    }

    /// The revision cells of the store region: (revision, note, has the text).
    pub fn revisions(&self) -> Vec<(u64, String, bool)> {
        let region = self
            .craton
            .region_id(&self.cloud, "osa-inventory.RegionOne")
            .expect("the store region exists");
        let mut cells: Vec<(u64, String, bool)> = self
            .craton
            .list(&format!("/cells?region_id={region}"), "cells")
            .into_iter()
            .filter_map(|c| {
                let revision = c["name"]
                    .as_str()?
                    .strip_prefix("revision-")?
                    .parse()
                    .ok()?;
                let vars = self.craton.get(&format!("/cells/{}/variables", c["id"]));
                let has_text = vars["variables"].get("inventory").is_some();
                Some((
                    revision,
                    c["note"].as_str().unwrap_or_default().to_string(),
                    has_text,
                ))
            })
            .collect();
        cells.sort();
        cells
    }
}

/// How many groups [`assert_fleet_matches`] lists with `GET /hosts?label=G` (each host's
/// own labels are always checked, which covers every group).
#[derive(Clone, Copy)]
pub enum Groups {
    All,
    First(usize),
}

/// Checks that the hosts of Craton's fleet region are exactly the inventory's: names,
/// labels (both ways: `GET /hosts?label=G` and each host's labels), variables, parents,
/// device types, addresses; and that no host's resolved variables carry the stored
/// inventory.
pub fn assert_fleet_matches(setup: &Setup, text: &str) {
    assert_fleet_matches_listing(setup, text, Groups::All);
}

pub fn assert_fleet_matches_listing(setup: &Setup, text: &str, listed_groups: Groups) {
    let craton = &setup.craton;
    let inventory = document(text);
    let hostvars = hostvars(&inventory);
    let region = setup.fleet_region();
    let hosts = craton.list(
        &format!("/hosts?region_id={region}&details=true&resolved-values=false"),
        "hosts",
    );
    let by_name: BTreeMap<&str, &Value> = hosts
        .iter()
        .map(|h| (h["name"].as_str().unwrap(), h))
        .collect();
    assert_eq!(
        by_name.keys().copied().collect::<BTreeSet<_>>(),
        hostvars.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        "the fleet's hosts are the inventory's"
    );
    let id_of = |name: &str| by_name[name]["id"].as_i64().unwrap();

    // Groups as labels, from both sides.
    let mut groups_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut to_list = match listed_groups {
        Groups::All => usize::MAX,
        Groups::First(n) => n,
    };
    for (group, body) in &inventory {
        if group == "_meta" {
            continue;
        }
        let Some(members) = body.get("hosts").and_then(Value::as_array) else {
            continue;
        };
        let expected: BTreeSet<&str> = members
            .iter()
            .filter_map(Value::as_str)
            .filter(|h| hostvars.contains_key(*h))
            .collect();
        for host in &expected {
            groups_of.entry(host).or_default().insert(group.clone());
        }
        if to_list == 0 {
            continue;
        }
        to_list -= 1;
        let listed = craton.list(&format!("/hosts?label={group}&region_id={region}"), "hosts");
        let listed: BTreeSet<&str> = listed.iter().map(|h| h["name"].as_str().unwrap()).collect();
        assert_eq!(listed, expected, "GET /hosts?label={group}");
    }

    for (name, vars) in hostvars {
        let host = by_name[name.as_str()];
        let id = id_of(name);
        assert_eq!(&host["variables"], vars, "variables of {name}");
        let labels = craton.get(&format!("/hosts/{id}/labels"));
        let labels: BTreeSet<String> = labels["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            labels,
            groups_of.remove(name.as_str()).unwrap_or_default(),
            "labels of {name}"
        );
        let physical = vars
            .get("physical_host")
            .and_then(Value::as_str)
            .filter(|p| p != name);
        let device_type = if physical.is_some() {
            "container"
        } else {
            "server"
        };
        assert_eq!(host["device_type"], device_type, "device_type of {name}");
        let parent = physical.filter(|p| hostvars.contains_key(*p)).map(&id_of);
        assert_eq!(host["parent_id"].as_i64(), parent, "parent of {name}");
        let address = vars
            .get("ansible_host")
            .and_then(Value::as_str)
            .filter(|a| a.parse::<std::net::IpAddr>().is_ok())
            .unwrap_or("0.0.0.0");
        assert_eq!(host["ip_address"], address, "ip_address of {name}");
    }
    assert_resolved_variables_are_small(setup, text, &hosts);
}

/// A host's resolved variables (its own, its parent's, its region's and cloud's) are its
/// own and its parent's: the stored inventory is in none of them.
fn assert_resolved_variables_are_small(setup: &Setup, text: &str, hosts: &[Value]) {
    let by_id: BTreeMap<i64, &Value> = hosts
        .iter()
        .map(|h| (h["id"].as_i64().unwrap(), h))
        .collect();
    for host in hosts.iter().take(12) {
        let id = host["id"].as_i64().unwrap();
        let resolved = setup.craton.get(&format!("/hosts/{id}/variables"));
        let resolved = resolved["variables"].as_object().unwrap();
        let mut expected: Map<String, Value> = Map::new();
        if let Some(parent) = host["parent_id"].as_i64() {
            expected.extend(by_id[&parent]["variables"].as_object().unwrap().clone());
        }
        expected.extend(host["variables"].as_object().unwrap().clone());
        assert_eq!(resolved, &expected, "resolved variables of host {id}");
        assert!(
            resolved.len() < 100 && serde_json::to_string(resolved).unwrap().len() < text.len() / 2
        );
    }
}

/// A copy of a reference case's configuration, in a temp dir.
pub fn case_config(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&reference_case(case).join("config"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Requests of one kind among `requests` (`"POST /v1/hosts"` matches those exactly;
/// a trailing `*` matches a prefix).
pub fn count(requests: &[String], pattern: &str) -> usize {
    match pattern.strip_suffix('*') {
        Some(prefix) => requests.iter().filter(|r| r.starts_with(prefix)).count(),
        None => requests.iter().filter(|r| *r == pattern).count(),
    }
}
