//! Inventory storage: backend selection from `osa.ini` and the built-in backends.
//!
//! * [`osa_ini`] reads `osa.ini`, which says which backend stores the
//!   inventory and how it is configured.
//! * [`open`] builds the backend a [`BackendSpec`] describes (the JSON file
//!   backend when there is no `osa.ini`).
//! * [`json_file`] is the default built-in backend: `openstack_inventory.json`.
//! * [`craton`] is the other built-in backend: an OpenStack Craton server
//!   (`type = craton`; `docs/craton.md`).
//! * [`plugin_host`] loads a backend from a shared library (`type = plugin`);
//!   `docs/plugins.md` is the guide for plugin authors.
//! * [`backup`] keeps the tar archive of previous inventories.
//! * [`fsutil`] holds every risky filesystem operation (atomic replacement,
//!   locking) for the whole project.

use std::path::PathBuf;

use inventory_backend::{BackendError, Settings, StorageBackend};

pub mod backup;
pub mod config_dirs;
pub mod craton;
pub mod fsutil;
pub mod json_file;
pub mod osa_ini;
pub mod plugin_host;

pub use config_dirs::ConfigDirs;
pub use craton::CratonBackend;
pub use json_file::JsonFileBackend;
pub use osa_ini::{BackendKind, BackendSpec, OsaIni};
pub use plugin_host::{DebugLog, PluginBackend};

/// `text` as one line for a message: surrounding white space removed, control characters
/// (newlines, terminal escapes) written escaped (`\n`, `\u{1b}`). Whatever a message
/// quotes from input (a file, an archive, a server's answer) cannot then break it into
/// several lines or rewrite the operator's terminal.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The inventory file the JSON backend reads and writes.
pub const INVENTORY_FILENAME: &str = "openstack_inventory.json";

/// The archive of previous inventories, next to the inventory file.
pub const BACKUP_FILENAME: &str = "backup_openstack_inventory.tar";

/// Why the storage could not be set up; each names the file, section or key
/// concerned and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `OSA_INI_PATH` names a file that does not exist.
    #[error(
        "OSA_INI_PATH names {}, which does not exist; point it at your osa.ini, \
         or unset it to use /etc/ansible/osa.ini (or, without that file, the JSON file)",
        .path.display()
    )]
    NamedIniMissing { path: PathBuf },

    /// `osa.ini` is not valid INI.
    #[error("{}, line {line}: {message}", .path.display())]
    IniSyntax {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A required section is missing.
    #[error("{} has no [{section}] section{hint}", .path.display())]
    MissingSection {
        path: PathBuf,
        section: String,
        /// What is there instead, when something is (`; [Storage] ...`), else empty.
        hint: String,
    },

    /// A required key is missing (or empty).
    #[error("section [{section}] of {} has no '{key}' key", .path.display())]
    MissingKey {
        path: PathBuf,
        section: String,
        key: String,
    },

    /// A key that means nothing in its section.
    #[error("unknown key '{key}' in section [{section}] of {} (known: {known})", .path.display())]
    UnknownKey {
        path: PathBuf,
        section: String,
        key: String,
        known: String,
    },

    /// A key whose value is unusable.
    #[error("invalid '{key}' in section [{section}] of {}: {message}", .path.display())]
    InvalidValue {
        path: PathBuf,
        section: String,
        key: String,
        message: String,
    },

    /// `[storage] backend` names neither a section nor a built-in type.
    #[error(
        "[storage] backend = {section} in {} names no section [{section}], \
         and '{section}' is not a built-in backend type ({known})",
        .path.display()
    )]
    NoSuchBackendSection {
        path: PathBuf,
        section: String,
        /// The backends that exist, for the message.
        known: String,
    },

    /// A section asked for by name does not exist.
    #[error("no section [{section}] in {} ({known})", .path.display())]
    NoSuchSection {
        path: PathBuf,
        section: String,
        /// The backends that exist, for the message.
        known: String,
    },

    /// A section's `type` (or its name, by default) is no backend type.
    #[error("unknown backend type '{kind}' in section [{section}] of {} (known: {known})", .path.display())]
    UnknownType {
        path: PathBuf,
        section: String,
        kind: String,
        known: String,
    },

    /// The backend itself refused or failed (for a plugin, also: its library
    /// could not be loaded).
    #[error("{backend} backend: {source}")]
    Backend {
        backend: String,
        #[source]
        source: BackendError,
    },
}

/// Builds the backend `spec` describes and registers its settings.
///
/// A plugin's library is loaded and checked here (see [`plugin_host`]); any
/// failure is a [`StorageError::Backend`] naming the section, and nothing has
/// been read or written.
///
/// `None` (no `osa.ini`) means the JSON file backend with default settings.
/// `search_dirs` are the directories the JSON backend looks in, in order:
/// the `--config` directory (`~` expanded), then `/etc/openstack_deploy`.
pub fn open(
    spec: Option<&BackendSpec>,
    search_dirs: Vec<PathBuf>,
) -> Result<Box<dyn StorageBackend>, StorageError> {
    open_logging(spec, search_dirs, None)
}

/// [`open`], the lines a plugin logs going to `debug_log` (`None`: the program is not
/// debugging), after the section's name: `sqlite backend: info: ...`.
pub fn open_logging(
    spec: Option<&BackendSpec>,
    search_dirs: Vec<PathBuf>,
    debug_log: Option<DebugLog>,
) -> Result<Box<dyn StorageBackend>, StorageError> {
    let no_settings = Settings::new();
    let (name, kind, settings) = match spec {
        Some(spec) => (spec.section.as_str(), &spec.kind, &spec.settings),
        None => ("json", &BackendKind::Json, &no_settings),
    };
    let mut backend: Box<dyn StorageBackend> = match kind {
        BackendKind::Json => Box::new(JsonFileBackend::new(search_dirs)),
        BackendKind::Craton(config) => Box::new(CratonBackend::new((**config).clone())),
        BackendKind::Plugin { library } => Box::new(
            PluginBackend::open(library)
                .map_err(|source| StorageError::Backend {
                    backend: name.to_string(),
                    source,
                })?
                .named(name)
                .logging_to(debug_log),
        ),
    };
    backend
        .register(settings)
        .map_err(|source| StorageError::Backend {
            backend: name.to_string(),
            source,
        })?;
    Ok(backend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    #[test]
    fn one_line_escapes_control_characters() {
        assert_eq!(one_line(" a\nb\u{1b}[31mc\t\n"), "a\\nb\\u{1b}[31mc");
        assert_eq!(one_line("plain, unicode: é ✓"), "plain, unicode: é ✓");
    }

    #[test]
    fn default_is_json_in_search_dirs() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(INVENTORY_FILENAME), "{}").unwrap();
        let mut b = open(None, vec![dir.path().to_path_buf()]).unwrap();
        assert_eq!(b.load().unwrap().as_deref(), Some("{}"));
        assert_eq!(
            b.location(),
            dir.path().join(INVENTORY_FILENAME).display().to_string()
        );
    }

    #[test]
    fn json_spec_settings_are_registered() {
        let dir = tempfile::tempdir().unwrap();
        let ini = OsaIni::parse(
            Path::new("osa.ini"),
            &format!(
                "[storage]\nbackend = files\n[files]\ntype = json\ndirectory = {}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let spec = ini.active().unwrap();
        let mut b = open(Some(&spec), vec!["/nonexistent".into()]).unwrap();
        assert_eq!(b.load().unwrap(), None);
        b.write("{}").unwrap();
        assert!(dir.path().join(INVENTORY_FILENAME).exists());
    }

    #[test]
    fn bad_setting_names_the_backend() {
        let ini = OsaIni::parse(
            Path::new("osa.ini"),
            "[storage]\nbackend = json\n[json]\ncolour = red\n",
        )
        .unwrap();
        let spec = ini.active().unwrap();
        let err = open(Some(&spec), vec![]).err().unwrap();
        assert_eq!(
            err.to_string(),
            "json backend: unknown setting 'colour' (known: directory, lock_timeout)"
        );
        assert!(matches!(err, StorageError::Backend { .. }));
    }

    #[test]
    fn a_missing_plugin_library_names_the_section_and_the_file() {
        let spec = BackendSpec {
            section: "sqlite".into(),
            kind: BackendKind::Plugin {
                library: "/nonexistent/libx.so".into(),
            },
            settings: Settings::new(),
        };
        let err = open(Some(&spec), vec![]).err().unwrap();
        assert!(matches!(err, StorageError::Backend { .. }));
        assert_eq!(
            err.to_string(),
            "sqlite backend: plugin library /nonexistent/libx.so does not exist"
        );
    }
}
