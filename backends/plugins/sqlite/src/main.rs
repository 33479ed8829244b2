//! `osa-inventory-sqlite`: look at and restore the history the SQLite plugin keeps.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use inventory_backend::{BackendError, StorageBackend};
use osa_inventory_sqlite::{SqliteBackend, history, inventory_at};

const USAGE: &str = "\
usage: osa-inventory-sqlite COMMAND DATABASE [ARGUMENT]

The inventory history kept by the SQLite storage plugin (docs/plugins.md).

commands:
  history DATABASE            list every revision: number, time written (UTC), what changed
  show DATABASE [REVISION]    print the inventory of REVISION (default: the current one)
  restore DATABASE REVISION   make REVISION the current inventory again, as a new revision
  import DATABASE FILE        store the inventory in FILE (an openstack_inventory.json) as
                              a new revision, e.g. when moving from the JSON file backend
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["history", db] => list(Path::new(db)),
        ["show", db] => show(Path::new(db), None),
        ["show", db, revision] => {
            revision_number(revision).and_then(|r| show(Path::new(db), Some(r)))
        }
        ["restore", db, revision] => {
            revision_number(revision).and_then(|r| restore(Path::new(db), r))
        }
        ["import", db, file] => import(Path::new(db), Path::new(file)),
        ["-h" | "--help" | "help"] => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osa-inventory-sqlite: {e}");
            ExitCode::FAILURE
        }
    }
}

fn revision_number(text: &str) -> Result<i64, BackendError> {
    text.parse::<i64>()
        .ok()
        .filter(|r| *r > 0)
        .ok_or_else(|| BackendError::new(format_args!("'{text}' is not a revision number")))
}

fn list(db: &Path) -> Result<(), BackendError> {
    let revisions = history(db)?;
    let mut out = String::from("revision  written (UTC)         summary\n");
    for r in &revisions {
        out.push_str(&format!(
            "{:>8}  {:<20}  {}\n",
            r.revision, r.written_at, r.summary
        ));
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(())
}

fn show(db: &Path, revision: Option<i64>) -> Result<(), BackendError> {
    let text = inventory_at(db, revision)?.ok_or_else(|| match revision {
        Some(r) => no_such_revision(db, r),
        None => BackendError::new(format_args!("database {} holds no inventory", db.display())),
    })?;
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(())
}

fn no_such_revision(db: &Path, revision: i64) -> BackendError {
    BackendError::new(format_args!(
        "database {} has no revision {revision} (see: osa-inventory-sqlite history {})",
        db.display(),
        db.display()
    ))
}

/// Stores `text` through the plugin itself: same lock, same history.
fn store(db: &Path, text: &str, note: &str) -> Result<(), BackendError> {
    let mut backend = SqliteBackend::for_database(db);
    backend.load()?;
    match backend.write_revision(text, Some(note))? {
        Some(revision) => println!("stored as revision {revision}: {note}"),
        None => println!("that is the current inventory already; nothing written"),
    }
    Ok(())
}

fn restore(db: &Path, revision: i64) -> Result<(), BackendError> {
    let text = inventory_at(db, Some(revision))?.ok_or_else(|| no_such_revision(db, revision))?;
    store(db, &text, &format!("restored revision {revision}"))
}

fn import(db: &Path, file: &Path) -> Result<(), BackendError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| BackendError::new(format_args!("cannot read {}: {e}", file.display())))?;
    store(db, &text, &format!("imported {}", file.display()))
}
