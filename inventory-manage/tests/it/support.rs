//! Shared helpers: a configuration directory holding an inventory, running the binary on
//! it, and reading back what it stored.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::{Map, Value};

pub const INVENTORY: &str = "openstack_inventory.json";
pub const BACKUP: &str = "backup_openstack_inventory.tar";

/// Every action that only reads, for the tests that run each on a backend and compare.
pub const READING_ACTIONS: [&[&str]; 6] = [
    &["-l"],
    &["-l", "-s", "physical_host"],
    &["-g"],
    &["-G"],
    &["-e"],
    &["dump"],
];

#[path = "../../../tests/support/fixtures.rs"]
mod fixtures;
pub use fixtures::{default_osa_ini, reference, reference_case, reference_cases};

/// Upstream's settled inventory of a reference case (what `dynamic-inventory` prints).
pub fn steady_state(case: &str) -> String {
    let path = reference_case(case).join("steady_state.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A configuration directory (`--config`), without `osa.ini`.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn empty() -> Site {
        Site {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A site whose `openstack_inventory.json` holds `text`.
    pub fn with_inventory(text: &str) -> Site {
        let site = Site::empty();
        site.write(INVENTORY, text);
        site
    }

    /// The prod reference case's settled inventory.
    pub fn prod() -> Site {
        Site::with_inventory(&steady_state("prod"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.file(name), text).unwrap();
    }

    pub fn inventory_text(&self) -> Option<String> {
        std::fs::read_to_string(self.file(INVENTORY)).ok()
    }

    pub fn inventory(&self) -> Map<String, Value> {
        document(&self.inventory_text().expect("an inventory"))
    }

    /// The members of the backup archive (name, contents), none without an archive.
    pub fn backups(&self) -> Vec<(String, String)> {
        backups_in(self.path())
    }

    /// The command with `--config` this directory, no `osa.ini`, run from it.
    pub fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("inventory-manage").unwrap();
        cmd.arg("--config")
            .arg(self.path())
            .env("OSA_INI_PATH", fixtures::default_osa_ini())
            .env_remove("OSA_CONFIG_DIR")
            .current_dir(self.path());
        cmd
    }

    /// The command with this `osa.ini`.
    pub fn with_ini(&self, ini: &Path) -> Command {
        let mut cmd = self.command();
        cmd.env("OSA_INI_PATH", ini);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        ok(self.run(args))
    }

    /// Runs, expects exit status 1 with nothing on stdout and the inventory and its
    /// backups as they were; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        self.fails_with(self.command(), args)
    }

    pub fn fails_with(&self, mut cmd: Command, args: &[&str]) -> String {
        let before = (self.inventory_text(), self.backups());
        let out = cmd.args(args).output().unwrap();
        let stderr = failed(out, 1);
        assert_eq!(
            (self.inventory_text(), self.backups()),
            before,
            "something was written"
        );
        stderr
    }
}

/// Expects success with nothing on stderr; returns stdout.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Expects exit status `code` with nothing on stdout; returns stderr.
pub fn failed(out: Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

pub fn backups_in(dir: &Path) -> Vec<(String, String)> {
    let Ok(bytes) = std::fs::read(dir.join(BACKUP)) else {
        return Vec::new();
    };
    let mut archive = tar::Archive::new(bytes.as_slice());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            (name, text)
        })
        .collect()
}

/// A JSON object, keys in stored order.
pub fn document(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => map,
        other => panic!("not a JSON object: {other:?}"),
    }
}

/// The inventory text as the generator prints it (`json.dumps(indent=4,
/// sort_keys=True)` plus a newline), for an inventory whose keys are sorted.
pub fn generator_text(inventory: &Map<String, Value>) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(inventory, &mut ser).unwrap();
    out.push(b'\n');
    String::from_utf8(out).unwrap()
}

pub fn hostvars(inventory: &Map<String, Value>) -> &Map<String, Value> {
    inventory["_meta"]["hostvars"].as_object().unwrap()
}

/// The hosts of a group, when it has that list.
pub fn group_hosts<'a>(inventory: &'a Map<String, Value>, group: &str) -> Option<Vec<&'a str>> {
    Some(
        inventory
            .get(group)?
            .get("hosts")?
            .as_array()?
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect(),
    )
}

/// An ASCII table as Python's prettytable prints one with every column left-aligned,
/// plus the newline of `print`: written here independently of the program's renderer.
pub fn prettytable(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            for line in cell.split('\n') {
                widths[i] = widths[i].max(line.chars().count());
            }
        }
    }
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let line = |cells: Vec<&str>| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("| {c}{} ", " ".repeat(w - c.chars().count())))
            .collect::<String>()
            + "|\n"
    };
    let mut out = rule.clone();
    out += &line(header.to_vec());
    out += &rule;
    for row in rows {
        let split: Vec<Vec<&str>> = row.iter().map(|c| c.split('\n').collect()).collect();
        let height = split.iter().map(Vec::len).max().unwrap_or(1);
        for i in 0..height {
            out += &line(
                split
                    .iter()
                    .map(|c| c.get(i).copied().unwrap_or(""))
                    .collect(),
            );
        }
    }
    out += &rule;
    out
}
