//! Where the inventory is read from and written to: the active backend of `osa.ini`,
//! another of its sections (`--backend`), or one file (`--file`).
//!
//! Backends are opened exactly as `dynamic-inventory` opens them
//! ([`inventory_storage::open`], the same search directories), so both programs always
//! work on the same inventory, under the same lock.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use inventory_backend::{BackendError, Settings, StorageBackend};
use inventory_storage::ConfigDirs;
use inventory_storage::osa_ini::{DEFAULT_OSA_INI, OSA_INI_ENV};
use inventory_storage::{
    BackendKind, BackendSpec, INVENTORY_FILENAME, JsonFileBackend, OsaIni, StorageError,
};

use crate::cli::StoreArgs;
use crate::error::{Error, Result};

/// An opened backend, named for messages.
pub struct Store {
    backend: Box<dyn StorageBackend>,
    /// Its `osa.ini` section ("json" for the JSON file without `osa.ini` or with `--file`).
    label: String,
    /// For the JSON file backend: the directories it may use, in order, to tell whether
    /// two stores are the same directory.
    json_dirs: Option<Vec<PathBuf>>,
    /// Whether the action will write: otherwise the store is loaded for reading only
    /// (a lock that only excludes writers, or none where it cannot be taken).
    writable: bool,
}

/// The stored inventory text and where it came from.
pub struct Stored {
    pub text: String,
    pub location: String,
    /// Where the backend keeps earlier versions (for the message when the text is not
    /// an inventory).
    pub earlier_versions: Option<String>,
}

impl Store {
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn location(&self) -> String {
        self.backend.location()
    }

    fn backend_error(&self, source: BackendError) -> Error {
        Error::Storage(StorageError::Backend {
            backend: self.label.clone(),
            source,
        })
    }

    /// The stored text, `None` when nothing is stored. Takes the backend's lock (shared
    /// when the store is not writable), held until [`Store::write`] or until the store
    /// is dropped.
    pub fn load(&mut self) -> Result<Option<String>> {
        let loaded = if self.writable {
            self.backend.load()
        } else {
            self.backend.load_for_reading()
        };
        loaded.map_err(|e| self.backend_error(e))
    }

    /// The stored inventory, which must exist.
    pub fn load_inventory(&mut self) -> Result<Stored> {
        let text = self.load()?;
        let location = self.location();
        match text {
            Some(text) => Ok(Stored {
                text,
                location,
                earlier_versions: self.backend.earlier_versions(),
            }),
            None => Err(Error::NoInventory {
                location,
                backend: self.label.clone(),
            }),
        }
    }

    pub fn write(&mut self, text: &str) -> Result<()> {
        self.backend.write(text).map_err(|e| self.backend_error(e))
    }

    /// The directory a JSON file store reads or would write (as the backend chooses it:
    /// the first directory holding the file, else the first that exists), resolved.
    fn json_directory(&self) -> Option<PathBuf> {
        let dirs = self.json_dirs.as_ref()?;
        let chosen = dirs
            .iter()
            .find(|d| fs::symlink_metadata(d.join(INVENTORY_FILENAME)).is_ok())
            .or_else(|| dirs.iter().find(|d| d.is_dir()))?;
        Some(fs::canonicalize(chosen).unwrap_or_else(|_| chosen.clone()))
    }

    /// Whether `self` and `other` keep their data in the same place. Checked before the
    /// second is loaded: loading one store twice would wait for its own lock. Locations
    /// are compared as the backends identify their stores: a path however written
    /// (`/srv/./inv`, a link to it), a plugin's library when it cannot name its store.
    pub fn same_store_as(&self, other: &Store) -> bool {
        if self.backend.store_identity() == other.backend.store_identity() {
            return true;
        }
        matches!(
            (self.json_directory(), other.json_directory()),
            (Some(a), Some(b)) if a == b
        )
    }
}

/// Finds and opens stores for one run: the configuration directories and `osa.ini`.
pub struct Stores {
    dirs: Vec<PathBuf>,
    /// `None` until needed; then `Some(None)` when there is no `osa.ini`.
    ini: Option<Option<OsaIni>>,
}

impl Stores {
    pub fn new(config: Option<&str>) -> Stores {
        Stores {
            dirs: ConfigDirs::new(config).dirs().to_vec(),
            ini: None,
        }
    }

    fn ini(&mut self) -> Result<Option<&OsaIni>> {
        if self.ini.is_none() {
            self.ini = Some(OsaIni::discover()?);
        }
        Ok(self.ini.as_ref().and_then(Option::as_ref))
    }

    /// The store the global options select: `--file`, `--backend`, or the active one.
    /// `writable`: the action will change the inventory.
    pub fn selected(&mut self, args: &StoreArgs, writable: bool) -> Result<Store> {
        if let Some(file) = &args.file {
            return self.file(file, writable);
        }
        if let Some(section) = &args.backend {
            return self.section("--backend", section, writable);
        }
        let spec = match self.ini()? {
            Some(ini) => Some(ini.active()?),
            None => None,
        };
        self.open(spec.as_ref(), writable)
    }

    /// The backend configured by section `name` of `osa.ini` (named by `option`).
    pub fn section(&mut self, option: &'static str, name: &str, writable: bool) -> Result<Store> {
        let Some(ini) = self.ini()? else {
            return Err(Error::NoOsaIni {
                option,
                section: name.to_string(),
                path: osa_ini_path(std::env::var_os(OSA_INI_ENV)),
            });
        };
        if name == "storage" {
            return Err(Error::NotABackendSection {
                section: name.to_string(),
                path: ini.path().to_path_buf(),
            });
        }
        let spec = ini.section(name)?;
        self.open(Some(&spec), writable)
    }

    fn open(&self, spec: Option<&BackendSpec>, writable: bool) -> Result<Store> {
        let backend = inventory_storage::open(spec, self.dirs.clone())?;
        let label = spec.map_or("json", |s| s.section.as_str()).to_string();
        let json_dirs = match spec {
            None => Some(self.dirs.clone()),
            Some(spec) => match spec.kind {
                BackendKind::Json => Some(match spec.settings.get("directory") {
                    Some(dir) => vec![PathBuf::from(dir)],
                    None => self.dirs.clone(),
                }),
                BackendKind::Craton(_) | BackendKind::Plugin { .. } => None,
            },
        };
        Ok(Store {
            backend,
            label,
            json_dirs,
            writable,
        })
    }

    /// `--file PATH`: an absolute path as it is; a relative one looked up in the
    /// configuration directories, as upstream looks up its `--file`.
    fn file(&self, file: &Path, writable: bool) -> Result<Store> {
        let candidates: Vec<PathBuf> = if file.is_absolute() {
            vec![file.to_path_buf()]
        } else {
            self.dirs.iter().map(|d| d.join(file)).collect()
        };
        let found = candidates
            .iter()
            .find(|p| p.is_file())
            .ok_or_else(|| Error::FileNotFound {
                name: file.display().to_string(),
                looked: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let dir = match found.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if found.file_name() == Some(INVENTORY_FILENAME.as_ref()) {
            // The JSON file backend restricted to that directory: same lock, backup
            // archive and atomic replacement as every other run.
            let mut backend = JsonFileBackend::new(vec![dir.clone()]);
            let mut settings = Settings::new();
            settings.insert("directory".into(), dir.display().to_string());
            backend
                .register(&settings)
                .map_err(|source| StorageError::Backend {
                    backend: "json".into(),
                    source,
                })?;
            return Ok(Store {
                backend: Box::new(backend),
                label: "json".into(),
                json_dirs: Some(vec![dir]),
                writable,
            });
        }
        if writable {
            return Err(Error::FileNameNotWritable(found.clone()));
        }
        Ok(Store {
            backend: Box::new(ReadOnlyFile {
                path: found.clone(),
            }),
            label: "file".into(),
            json_dirs: None,
            writable: false,
        })
    }
}

/// The `osa.ini` in effect (as [`OsaIni::discover`] chooses it), for messages.
fn osa_ini_path(env: Option<OsString>) -> PathBuf {
    match env {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_OSA_INI),
    }
}

/// Any inventory file, read as it is: `--file` naming something other than
/// `openstack_inventory.json` (a copy, a file taken out of the backup archive).
struct ReadOnlyFile {
    path: PathBuf,
}

impl StorageBackend for ReadOnlyFile {
    fn register(&mut self, _settings: &Settings) -> Result<(), BackendError> {
        Ok(())
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        match fs::read(&self.path) {
            Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
                BackendError::new(format_args!(
                    "cannot read {}: not valid UTF-8 (at byte {})",
                    self.path.display(),
                    e.utf8_error().valid_up_to()
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BackendError::new(format_args!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn write(&mut self, _inventory: &str) -> Result<(), BackendError> {
        Err(BackendError::new(format_args!(
            "{} is read only",
            self.path.display()
        )))
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osa_ini_path_follows_the_environment() {
        assert_eq!(osa_ini_path(None), PathBuf::from(DEFAULT_OSA_INI));
        assert_eq!(
            osa_ini_path(Some("".into())),
            PathBuf::from(DEFAULT_OSA_INI)
        );
        assert_eq!(
            osa_ini_path(Some("/x/o.ini".into())),
            PathBuf::from("/x/o.ini")
        );
    }

    #[test]
    fn a_relative_file_is_looked_up_in_the_config_dirs() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        fs::write(b.path().join("copy.json"), "{}").unwrap();
        let stores = Stores {
            dirs: vec![a.path().to_path_buf(), b.path().to_path_buf()],
            ini: Some(None),
        };
        let mut store = stores.file(Path::new("copy.json"), false).unwrap();
        assert_eq!(store.label(), "file");
        assert_eq!(store.load().unwrap().as_deref(), Some("{}"));
        assert!(matches!(
            stores.file(Path::new("copy.json"), true),
            Err(Error::FileNameNotWritable(_))
        ));
        let err = stores.file(Path::new("none.json"), false).err().unwrap();
        assert!(
            err.to_string()
                .starts_with("inventory file none.json not found")
        );
    }
}
