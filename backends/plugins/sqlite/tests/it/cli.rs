//! The `osa-inventory-sqlite` command: history, show, restore, import.

use std::path::Path;
use std::process::{Command, Output};

use inventory_backend::StorageBackend;
use osa_inventory_sqlite::{SqliteBackend, history};

const ONE: &str =
    "{\n    \"all\": {\"hosts\": [\"a\"]},\n    \"_meta\": {\"hostvars\": {\"a\": {}}}\n}\n";
const TWO: &str = "{\n    \"all\": {\"hosts\": [\"a\", \"b\"]},\n    \"_meta\": {\"hostvars\": {\"a\": {}, \"b\": {}}}\n}\n";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_osa-inventory-sqlite"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    assert!(out.stdout.is_empty());
    String::from_utf8(out.stderr).unwrap()
}

fn two_revisions(db: &Path) {
    let mut b = SqliteBackend::for_database(db);
    b.load().unwrap();
    b.write(ONE).unwrap();
    b.load().unwrap();
    b.write(TWO).unwrap();
}

#[test]
fn history_lists_every_revision() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    two_revisions(&db);
    let out = ok(&["history", db.to_str().unwrap()]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "revision  written (UTC)         summary");
    assert!(lines[1].starts_with("       1  20"), "{out}");
    assert!(
        lines[1].ends_with("Z  first inventory: 1 host, 1 group"),
        "{out}"
    );
    assert!(lines[2].starts_with("       2  20"), "{out}");
    assert!(
        lines[2].ends_with("Z  1 host added (b); 1 group changed (all)"),
        "{out}"
    );
}

#[test]
fn show_prints_a_revision_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let db_s = db.to_str().unwrap();
    two_revisions(&db);
    assert_eq!(ok(&["show", db_s]), TWO);
    assert_eq!(ok(&["show", db_s, "1"]), ONE);
    assert_eq!(
        fails(&["show", db_s, "3"]),
        format!(
            "osa-inventory-sqlite: database {db_s} has no revision 3 (see: osa-inventory-sqlite \
             history {db_s})\n"
        )
    );
    assert_eq!(
        fails(&["show", db_s, "first"]),
        "osa-inventory-sqlite: 'first' is not a revision number\n"
    );
}

#[test]
fn restore_makes_an_old_revision_current_as_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let db_s = db.to_str().unwrap();
    two_revisions(&db);
    assert_eq!(
        ok(&["restore", db_s, "1"]),
        "stored as revision 3: restored revision 1\n"
    );
    assert_eq!(ok(&["show", db_s]), ONE);
    let h = history(&db).unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(
        h[2].summary,
        "restored revision 1; 1 host removed (b); 1 group changed (all)"
    );
    // The plugin now loads the restored inventory.
    let mut b = SqliteBackend::for_database(&db);
    assert_eq!(b.load().unwrap().as_deref(), Some(ONE));
    drop(b);
    assert_eq!(
        ok(&["restore", db_s, "3"]),
        "that is the current inventory already; nothing written\n"
    );
    assert!(fails(&["restore", db_s, "7"]).contains("has no revision 7"));
    assert_eq!(history(&db).unwrap().len(), 3);
}

#[test]
fn import_stores_a_json_inventory_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let db_s = db.to_str().unwrap();
    let file = dir.path().join("openstack_inventory.json");
    std::fs::write(&file, ONE).unwrap();
    let file_s = file.to_str().unwrap();
    assert_eq!(
        ok(&["import", db_s, file_s]),
        format!("stored as revision 1: imported {file_s}\n")
    );
    assert_eq!(ok(&["show", db_s]), ONE);
    assert_eq!(
        history(&db).unwrap()[0].summary,
        format!("imported {file_s}; first inventory: 1 host, 1 group")
    );
    std::fs::write(&file, "{\"all\": ").unwrap();
    let err = fails(&["import", db_s, file_s]);
    assert!(
        err.starts_with(
            "osa-inventory-sqlite: refusing to store an inventory that is not valid JSON"
        ),
        "{err}"
    );
    assert_eq!(history(&db).unwrap().len(), 1);
}

#[test]
fn a_missing_database_is_reported_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.sqlite");
    let db_s = db.to_str().unwrap();
    for args in [
        vec!["history", db_s],
        vec!["show", db_s],
        vec!["restore", db_s, "1"],
    ] {
        assert_eq!(
            fails(&args),
            format!("osa-inventory-sqlite: database {db_s} does not exist\n"),
            "{args:?}"
        );
    }
    assert!(!db.exists());
}

#[test]
fn usage() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Usage: osa-inventory-sqlite history DATABASE\n"),
        "{stderr}"
    );
    assert!(ok(&["--help"]).contains("osa-inventory-sqlite restore DATABASE REVISION\n"));
    assert!(ok(&["help"]).contains("osa-inventory-sqlite import DATABASE FILE\n"));
    assert_eq!(run(&["history"]).status.code(), Some(2));
    assert_eq!(run(&["history", "a", "b"]).status.code(), Some(2));
    assert_eq!(run(&["undo", "a"]).status.code(), Some(2));
}

#[test]
fn version_names_the_plugin_abi() {
    for flag in ["--version", "-V"] {
        assert_eq!(
            ok(&[flag]),
            format!(
                "osa-inventory-sqlite {} (plugin ABI {}.{})\n",
                env!("CARGO_PKG_VERSION"),
                inventory_backend::abi::ABI_MAJOR,
                inventory_backend::abi::ABI_MINOR
            )
        );
    }
}
