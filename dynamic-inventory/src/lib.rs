//! `dynamic-inventory`: the OpenStack-Ansible inventory generator.
//!
//! [`run`] is the whole program; `main.rs` only calls it. The steps: read the user
//! configuration and the environment (`config`), load the stored inventory through the
//! configured storage backend, generate (`generate`, in the steps of
//! docs/generation.md), store it when it changed, print it.

// The public surface is what the binary, inventory-manage and the xtask use: the command
// line, the stored inventory's model and its values, Python's JSON, and where the
// configuration is looked for. The rest is this crate's own.
pub mod cli;
// The model, its values and Python's JSON are the inventory-model crate's, shared with
// inventory-manage; re-exported under their old paths for the generator's modules.
pub use inventory_model::{model, pyjson, value};

pub use config::ConfigDirs;

mod error;

// The modules this crate's integration tests also test directly. Only the `internals`
// feature, which the crate's dev-dependency on itself turns on, makes them public: they
// are no API.
#[cfg(feature = "internals")]
pub mod address;
#[cfg(not(feature = "internals"))]
mod address;
#[cfg(feature = "internals")]
pub mod config;
#[cfg(not(feature = "internals"))]
mod config;
#[cfg(feature = "internals")]
pub mod generate;
#[cfg(not(feature = "internals"))]
mod generate;
#[cfg(feature = "internals")]
pub mod log;
#[cfg(not(feature = "internals"))]
mod log;
#[cfg(feature = "internals")]
pub mod yaml;
#[cfg(not(feature = "internals"))]
mod yaml;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::config::BaseEnvironment;
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
                eprintln!("{}", inventory_storage::one_line(line));
            }
            // A closed stdout (a pager quit early) is not an error worth reporting.
            let _ = std::io::stdout()
                .lock()
                .write_all(outcome.stdout.as_bytes());
            outcome.code
        }
        Err(e) => {
            // One line, whatever the message quotes from input: scripts match on it.
            eprintln!("{}", inventory_storage::one_line(&e.to_string()));
            // Then, for a YAML error, the line of the file with a caret under the
            // column (its characters escaped as the message's are).
            if let Some(excerpt) = e.excerpt() {
                eprintln!("{excerpt}");
            }
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: &Cli, log: &mut Log) -> Result<Outcome> {
    let mut clock = log.clock();
    let dirs = ConfigDirs::new(cli.config.as_deref());
    let base = match &cli.environment {
        Some(dir) => BaseEnvironment::Dir(dir.clone()),
        None => BaseEnvironment::Builtin,
    };

    // The configuration is read on a second thread while the stored inventory is loaded
    // and parsed: the two are independent and each is a large part of a run.
    let debug = log.enabled();
    let (inputs, stored) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut log = Log::new(debug);
            let mut clock = log.clock();
            let inputs = config::load_user_config(&dirs, &mut log).and_then(|config| {
                let env = config::load_environment(&base, &dirs, &mut log)?;
                Ok((config, env))
            });
            clock.lap(&mut log, "reading the configuration (second thread)");
            (inputs, log)
        });
        let stored = load_stored(&dirs, cli.check, log);
        let inputs = match reader.join() {
            Ok((inputs, reader_log)) => {
                log.append(reader_log);
                inputs
            }
            Err(_) => Err(Error::Config(
                "reading the configuration failed unexpectedly".into(),
            )),
        };
        (inputs, stored)
    });
    release_freed_memory();
    // A configuration error is reported first, as upstream checks the configuration first.
    let (config, env) = inputs?;
    let Stored {
        mut backend,
        label,
        location,
        inventory,
        addresses,
        text_len,
        fingerprint: stored_fingerprint,
    } = stored?;
    let backend_error = |source| inventory_storage::StorageError::Backend {
        backend: label.clone(),
        source,
    };
    clock.lap(log, "reading the configuration and the stored inventory");
    let inventory = generate::generate(&config, &env, inventory, addresses, log)?;
    clock.lap(log, "generating");

    let unknown = generate::unknown_config_groups(&config, &env);
    // Said on every run, not only with --check: a misspelt group silently places nothing.
    let warnings: Vec<String> = unknown
        .iter()
        .map(|group| {
            let hint = match generate::closest_group(group, &env) {
                Some(known) => format!(" (did you mean {known}?)"),
                None => String::new(),
            };
            format!(
                "warning: group {group} in the configuration is not a host group of the \
                 environment, so its hosts get no services{hint}"
            )
        })
        .collect();
    // The configuration is not needed any more; free it, and what generation freed,
    // before the text is built.
    drop((config, env));
    release_freed_memory();
    if cli.check {
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

    // Whatever is stored must be readable by the next run.
    let depth = inventory.depth();
    if depth > model::MAX_DEPTH {
        return Err(Error::TooDeep {
            depth,
            max: model::MAX_DEPTH,
        });
    }
    let text = inventory.to_text_sized(text_len);
    clock.lap(log, "writing the inventory text");
    let unchanged = stored_fingerprint == Some(model::text_fingerprint(&text));
    if unchanged && !backend.needs_write() {
        log.debug("Inventory unchanged, nothing written");
    } else if unchanged {
        log.debug(format!(
            "Inventory unchanged; writing it to {location} to bring the backend's derived data in line"
        ));
        backend.write(&text).map_err(backend_error)?;
    } else {
        log.debug(format!("Saving modified inventory to {location}"));
        backend.write(&text).map_err(backend_error)?;
    }
    drop(backend);
    clock.lap(log, "storing");

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
        stderr: warnings,
        code: ExitCode::SUCCESS,
    })
}

/// glibc keeps freed memory resident (the configuration reader's YAML parse, generation's
/// working tables); handing it back keeps the peak resident memory near the live data.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The storage backend after loading, and what it held.
struct Stored {
    backend: Box<dyn inventory_backend::StorageBackend>,
    /// The backend's osa.ini section, naming it in errors ("json" without osa.ini).
    label: String,
    location: String,
    inventory: Inventory,
    /// The addresses it has handed out.
    addresses: address::AddressBook,
    /// The size of its text, a good guess of the size of the new one.
    text_len: Option<usize>,
    /// Fingerprint of the stored inventory's canonical text; `None` when there was none.
    fingerprint: Option<u128>,
}

/// Loads the stored inventory; `read_only` (`--check`): as a reader, which never holds up
/// a writer for long and works without write access to the store.
fn load_stored(dirs: &ConfigDirs, read_only: bool, log: &mut Log) -> Result<Stored> {
    let mut clock = log.clock();
    let ini = inventory_storage::OsaIni::discover()?;
    let spec = ini.as_ref().map(|i| i.active()).transpose()?;
    let mut backend =
        inventory_storage::open_logging(spec.as_ref(), dirs.dirs().to_vec(), log.backend_log())?;
    let label = spec
        .as_ref()
        .map_or("json", |s| s.section.as_str())
        .to_string();
    let loaded = if read_only {
        backend.load_for_reading()
    } else {
        backend.load()
    };
    let text = loaded.map_err(|source| inventory_storage::StorageError::Backend {
        backend: label.clone(),
        source,
    })?;
    let location = backend.location();
    let text_len = text.as_ref().map(String::len);
    let (inventory, fingerprint) = match text {
        Some(text) => {
            log.debug(format!("Loaded existing inventory from {location}"));
            let inventory = parse_stored(&text, &location, || backend.earlier_versions())?;
            // Canonical, so a stored file formatted differently but holding the same
            // inventory does not count as a change.
            let fingerprint = inventory.fingerprint();
            (inventory, Some(fingerprint))
        }
        None => {
            log.debug("No existing inventory, created fresh skeleton.");
            (Inventory::default(), None)
        }
    };
    let addresses = generate::stored_addresses(&inventory);
    clock.lap(log, "loading the stored inventory");
    Ok(Stored {
        backend,
        label,
        location,
        inventory,
        addresses,
        text_len,
        fingerprint,
    })
}

/// `earlier` (where the backend keeps earlier versions) is asked only when the text
/// cannot be used.
fn parse_stored(
    text: &str,
    location: &str,
    earlier: impl FnOnce() -> Option<String>,
) -> Result<Inventory> {
    Inventory::parse(text).map_err(|e| Error::StoredInventory {
        location: location.to_string(),
        message: e.0,
        earlier: earlier()
            .map(|hint| format!("; {hint}"))
            .unwrap_or_default(),
    })
}
