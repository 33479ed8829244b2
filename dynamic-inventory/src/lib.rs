//! `dynamic-inventory`: the OpenStack-Ansible inventory generator.
//!
//! [`run`] is the whole program; `main.rs` only calls it. The steps: read the user
//! configuration and the environment ([`config`]), load the stored inventory through the
//! configured storage backend, generate ([`generate`]), store it when it changed, print it.

pub mod address;
pub mod cli;
pub mod config;
pub mod error;
pub mod generate;
pub mod log;
pub mod model;
pub mod pyjson;
pub mod value;
pub mod yaml;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::config::{BaseEnvironment, ConfigDirs};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::model::Inventory;

/// What a successful run prints and how it exits.
struct Outcome {
    stdout: String,
    stderr: Vec<String>,
    code: ExitCode,
}

/// Runs the program with these arguments (the first is the program name).
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let mut log = Log::new(cli.debug);
    let result = execute(&cli, &mut log);
    if let Err(e) = &result {
        log.debug(format!("Failed: {e}"));
    }
    if let Err(e) = log.flush_to(Path::new("inventory.log")) {
        eprintln!("cannot write inventory.log: {e}");
    }
    match result {
        Ok(outcome) => {
            for line in &outcome.stderr {
                eprintln!("{line}");
            }
            // A closed stdout (a pager quit early) is not an error worth reporting.
            let _ = std::io::stdout()
                .lock()
                .write_all(outcome.stdout.as_bytes());
            outcome.code
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: &Cli, log: &mut Log) -> Result<Outcome> {
    let dirs = ConfigDirs::new(cli.config.as_deref());
    let config = config::load_user_config(&dirs, log)?;
    let base = match &cli.environment {
        Some(dir) => BaseEnvironment::Dir(dir.clone()),
        None => BaseEnvironment::Builtin,
    };
    let env = config::load_environment(&base, &dirs, log)?;

    let ini = inventory_storage::OsaIni::discover()?;
    let spec = ini.as_ref().map(|i| i.active()).transpose()?;
    let mut backend = inventory_storage::open(spec.as_ref(), dirs.dirs().to_vec())?;
    // Errors name the backend by its osa.ini section ("json" when there is no osa.ini).
    let label = spec
        .as_ref()
        .map_or("json", |s| s.section.as_str())
        .to_string();
    let backend_error = |source| inventory_storage::StorageError::Backend {
        backend: label.clone(),
        source,
    };
    let stored = backend.load().map_err(backend_error)?;
    let location = backend.location();
    let (inventory, stored_fingerprint) = match stored {
        Some(text) => {
            log.debug(format!("Loaded existing inventory from {location}"));
            let inventory = parse_stored(&text, &location)?;
            let fingerprint = inventory.fingerprint();
            (inventory, Some(fingerprint))
        }
        None => {
            log.debug("No existing inventory, created fresh skeleton.");
            (Inventory::default(), None)
        }
    };

    let inventory = generate::generate(&config, &env, inventory, log)?;

    if cli.check {
        let unknown = generate::unknown_config_groups(&config, &env);
        if unknown.is_empty() {
            return Ok(Outcome {
                stdout: "Configuration ok!\n".into(),
                stderr: Vec::new(),
                code: ExitCode::SUCCESS,
            });
        }
        return Ok(Outcome {
            stdout: String::new(),
            stderr: unknown
                .iter()
                .map(|g| format!("Group {g} was found in configuration but not the environment."))
                .collect(),
            code: ExitCode::FAILURE,
        });
    }

    let text = inventory.to_text();
    if stored_fingerprint == Some(model::text_fingerprint(&text)) {
        log.debug("Inventory unchanged, nothing written");
    } else {
        log.debug(format!("Saving modified inventory to {location}"));
        backend.write(&text).map_err(backend_error)?;
    }
    drop(backend);

    let stdout = match &cli.host {
        Some(host) => {
            let vars = inventory
                .hostvars
                .get(host.as_str())
                .cloned()
                .unwrap_or_default();
            pyjson::to_text(&value::Val::Map(vars))
        }
        None => text,
    };
    Ok(Outcome {
        stdout,
        stderr: Vec::new(),
        code: ExitCode::SUCCESS,
    })
}

fn parse_stored(text: &str, location: &str) -> Result<Inventory> {
    Inventory::parse(text).map_err(|e| Error::StoredInventory {
        location: location.to_string(),
        message: e.0,
    })
}
