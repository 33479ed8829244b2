//! `osa-inventory-sqlite`: look at and restore the history the SQLite plugin keeps.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use inventory_backend::{BackendError, StorageBackend};
use osa_inventory_sqlite::cli::{self, Command};
use osa_inventory_sqlite::{SqliteBackend, history, inventory_at};

fn main() -> ExitCode {
    let cli = match cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version on standard output with status 0, mistakes on standard
            // error with status 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let result = match cli.command {
        Command::History { database } => list(&database),
        Command::Show { database, revision } => match revision {
            None => show(&database, None),
            Some(r) => revision_number(&r).and_then(|r| show(&database, Some(r))),
        },
        Command::Restore { database, revision } => {
            revision_number(&revision).and_then(|r| restore(&database, r))
        }
        Command::Import { database, file } => import(&database, &file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osa-inventory-sqlite: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A revision number; parsed here rather than by clap to keep the tool's message and
/// status (1) for it.
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
