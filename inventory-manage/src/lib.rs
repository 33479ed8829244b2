//! `inventory-manage`: upstream's `inventory-manage.py` on any storage backend.
//!
//! [`run`] is the whole program; `main.rs` only calls it. The inventory is read through
//! the backend `osa.ini` selects (or `--backend`, or `--file`) exactly as
//! `dynamic-inventory` reads it ([`store`]); the tables and the export are upstream's
//! ([`report`]); changes ([`edit`]) are made on the generator's own model and written
//! back in its exact format, once, only when the whole change succeeded. `dump` prints
//! the stored inventory and `migrate` copies it to another backend unchanged.

#![forbid(unsafe_code)]

pub mod cli;
pub mod document;
pub mod edit;
pub mod error;
pub mod python;
pub mod report;
pub mod store;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use inventory_model::model::{Inventory, text_fingerprint};
use serde_json::{Map, Value};

use crate::cli::{Action, Cli, Command};
use crate::error::{Error, Result};
use crate::store::{Store, Stored, Stores};

/// What upstream prints after a change.
const SUCCESS: &str = "Success. . .\n";

/// Runs the program with these arguments (the first is the program name).
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args).and_then(|cli| cli.check().map(|()| cli)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match execute(&cli) {
        Ok(stdout) => {
            // A closed stdout (a pager quit early) is not an error worth reporting.
            let _ = std::io::stdout().lock().write_all(stdout.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line, whatever the message quotes from input.
            eprintln!("{}", inventory_storage::one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Does what `cli` asks; returns what to print on standard output.
fn execute(cli: &Cli) -> Result<String> {
    let mut stores = Stores::new(cli.store.config.as_deref());
    match &cli.command {
        Some(Command::Dump { output }) => dump(&mut stores, cli, output.as_deref()),
        Some(Command::Migrate { to, force }) => {
            migrate(&mut stores, cli, cli.store.from.as_deref(), to, *force)
        }
        None => match cli.action() {
            Some(action) => act(&mut stores, cli, action),
            // clap requires one of the actions when there is no subcommand.
            None => Ok(String::new()),
        },
    }
}

fn act(stores: &mut Stores, cli: &Cli, action: Action) -> Result<String> {
    let changes = matches!(
        action,
        Action::ClearIps | Action::RemoveGroups(_) | Action::RemoveHosts(_)
    );
    if let Action::ListHosts { sort } = &action {
        // Checked before anything is read: a typo should not wait for a lock.
        report::sort_column(sort)?;
    }
    let mut store = stores.selected(&cli.store, changes)?;
    let stored = store.load_inventory()?;
    let mut inventory = parse(&stored)?;
    if !changes {
        // Release the lock before printing: listing must not hold up a deployment.
        drop(store);
        let document = as_document(&stored)?;
        return match action {
            Action::ListHosts { sort } => report::list_hosts(&document, &sort),
            Action::ListGroups => Ok(report::groups_per_container(&document)),
            Action::ListContainers => Ok(report::containers_per_group(&document)),
            _ => Ok(report::export(&document)),
        };
    }
    let before = inventory.fingerprint();
    let outcome = match &action {
        Action::RemoveHosts(names) => edit::remove_hosts(&mut inventory, names),
        Action::RemoveGroups(names) => edit::remove_groups(&mut inventory, names),
        _ => {
            edit::clear_ips(&mut inventory);
            Ok(())
        }
    };
    outcome.map_err(|missing| match missing {
        edit::Missing::Host(host) => Error::UnknownHost {
            host,
            location: stored.location.clone(),
        },
        edit::Missing::Group(group) => Error::UnknownGroup {
            group,
            location: stored.location.clone(),
        },
    })?;
    let text = inventory.to_text();
    // Written only when the inventory changed, in the generator's exact format.
    if text_fingerprint(&text) != before {
        store.write(&text)?;
    }
    Ok(SUCCESS.to_string())
}

/// The stored inventory on the generator's model; the same checks and message as
/// `dynamic-inventory`.
fn parse(stored: &Stored) -> Result<Inventory> {
    Inventory::parse(&stored.text).map_err(|e| corrupt(stored, e.0))
}

/// The stored inventory as `json.loads` reads it: keys in stored order.
fn as_document(stored: &Stored) -> Result<Map<String, Value>> {
    document::parse(&stored.text).map_err(|message| corrupt(stored, message))
}

fn corrupt(stored: &Stored, message: String) -> Error {
    Error::Corrupt {
        location: stored.location.clone(),
        message,
        earlier: (stored.earlier_versions.as_ref())
            .map(|hint| format!("; {hint}"))
            .unwrap_or_default(),
    }
}

/// `dump`: the stored text, unchanged, after checking it is an inventory.
fn dump(stores: &mut Stores, cli: &Cli, output: Option<&Path>) -> Result<String> {
    let mut store = stores.selected(&cli.store, false)?;
    let stored = store.load_inventory()?;
    drop(store);
    parse(&stored)?;
    match output {
        None => Ok(stored.text),
        Some(path) => {
            inventory_storage::fsutil::atomic_write(path, stored.text.as_bytes()).map_err(
                |source| Error::Output {
                    path: path.to_path_buf(),
                    source,
                },
            )?;
            Ok(String::new())
        }
    }
}

/// `migrate`: copies the stored text of the source to `to`, byte for byte. The source
/// is only read (and stays locked until the copy is stored, so no change is lost); the
/// destination must hold no inventory unless `force`.
fn migrate(
    stores: &mut Stores,
    cli: &Cli,
    from: Option<&str>,
    to: &str,
    force: bool,
) -> Result<String> {
    if from == Some(to) {
        return Err(Error::SameSection(to.to_string()));
    }
    let mut source = match from {
        Some(section) => stores.section("--from", section, false)?,
        None => stores.selected(&cli.store, false)?,
    };
    let mut destination = stores.section("--to", to, true)?;
    if source.same_store_as(&destination) {
        return Err(Error::SameStore(destination.location()));
    }
    let stored = source.load_inventory()?;
    parse(&stored)?;
    let existing = destination.load()?;
    let location = destination.location();
    match existing {
        Some(text) if text == stored.text => {
            return Ok(format!(
                "{location} ({to} backend) already holds this inventory; nothing was written\n"
            ));
        }
        Some(text) if !force && !is_empty_document(&text) => {
            return Err(Error::DestinationNotEmpty {
                location,
                backend: to.to_string(),
            });
        }
        _ => {}
    }
    destination.write(&stored.text)?;
    let location = destination.location();
    drop(destination);
    Ok(describe_copy(&source, &stored, to, &location))
}

fn describe_copy(source: &Store, stored: &Stored, to: &str, location: &str) -> String {
    format!(
        "Copied the inventory from {} ({} backend) to {location} ({to} backend)\n",
        stored.location,
        source.label()
    )
}

/// Text that holds no inventory: nothing, or an empty JSON object.
fn is_empty_document(text: &str) -> bool {
    let trimmed = text.trim();
    trimmed.is_empty()
        || serde_json::from_str::<Value>(trimmed)
            .is_ok_and(|v| v.as_object().is_some_and(Map::is_empty))
}
