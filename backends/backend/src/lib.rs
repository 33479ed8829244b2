//! The storage interface of the OpenStack-Ansible inventory.
//!
//! Every place an inventory can live (the JSON file, a REST service, a plugin
//! loaded at run time) implements [`StorageBackend`]. The data crossing the
//! interface is plain JSON text, so a backend written in another language (see
//! the plugin ABI) sees exactly what a built-in backend sees.
//!
//! This crate is also the SDK for storage plugins written in Rust: implement
//! [`StorageBackend`] in a `cdylib` crate and export it with
//! [`export_plugin!`], which writes the entry point of the plugin ABI
//! ([`abi`], `include/osa_inventory_plugin.h`) and catches panics at the
//! boundary; the [`Host`](host::Host) it gives each instance logs to the
//! program's debug log and tells the run's lock timeout. It has no
//! dependencies. `docs/plugins.md` is the guide.
//!
//! ```ignore
//! use inventory_backend::host::{Host, LogLevel};
//! use inventory_backend::{BackendError, Settings, StorageBackend};
//!
//! struct MyBackend { host: Host, /* ... */ }
//!
//! impl MyBackend {
//!     fn new(host: Host) -> Self { MyBackend { host, /* ... */ } }
//! }
//!
//! impl StorageBackend for MyBackend { /* register, load, write, location */ }
//!
//! inventory_backend::export_plugin!(MyBackend, MyBackend::new);
//! ```

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::collections::BTreeMap;
use std::fmt;

use std::path::{Component, Path, PathBuf};

pub mod abi;
pub mod host;

#[doc(hidden)]
#[path = "export.rs"]
pub mod __private;

/// The key/value settings of a backend's section in `osa.ini`.
pub type Settings = BTreeMap<String, String>;

/// Why a backend operation failed, in words an operator can act on.
///
/// The host adds which backend failed; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    message: String,
}

impl BackendError {
    /// An error saying `message`.
    pub fn new(message: impl fmt::Display) -> Self {
        BackendError {
            message: message.to_string(),
        }
    }

    /// What the error says.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {}

/// Where an inventory is stored.
///
/// The generator calls `register` once, then `load`, then `write` only when
/// the inventory changed (or when [`StorageBackend::needs_write`] asks for it). A backend that needs exclusive access (a lock) takes
/// it in `load` and holds it until `write` or until it is dropped.
pub trait StorageBackend {
    /// Receives the settings of this backend's `osa.ini` section.
    fn register(&mut self, settings: &Settings) -> Result<(), BackendError>;

    /// Returns the stored inventory as a JSON document, or `None` when nothing
    /// has been stored yet.
    fn load(&mut self) -> Result<Option<String>, BackendError>;

    /// [`StorageBackend::load`] for a caller that will not write (a listing, `--check`,
    /// the source of a copy): a backend may take a lock that only excludes writers, or
    /// none where it cannot lock (a user who may read the store but not write it).
    /// The default is `load`.
    fn load_for_reading(&mut self) -> Result<Option<String>, BackendError> {
        self.load()
    }

    /// Stores the inventory, a JSON document as the generator prints it.
    /// Nothing may be half written: either the new inventory is stored or the
    /// previous one is left as it was.
    fn write(&mut self, inventory: &str) -> Result<(), BackendError>;

    /// Names where the data lives, for messages
    /// ("/etc/openstack_deploy/openstack_inventory.json"). It identifies the
    /// store: two backends using the same store give the same location (an
    /// absolute path may be written differently: see [`StorageBackend::store_identity`]).
    fn location(&self) -> String;

    /// What tells this backend's store from others: two backends whose
    /// identities are equal keep their data in the same place (`migrate`
    /// refuses to copy a store onto itself, which could wait for its own lock).
    /// The default is the [`canonical_location`] of [`StorageBackend::location`].
    /// Across the plugin ABI only `location` is passed; the host computes this.
    fn store_identity(&self) -> String {
        canonical_location(&self.location())
    }

    /// After `load`: whether `write` is wanted even though the inventory did not change,
    /// because the backend keeps data derived from it that is out of date (the Craton
    /// backend's hosts after an interrupted write). Backends that derive nothing keep the
    /// default.
    fn needs_write(&self) -> bool {
        false
    }

    /// Where earlier versions of the inventory are kept, for the message about a stored
    /// inventory that cannot be used (`earlier versions are in PATH`); `None` when the
    /// backend keeps none, or cannot say.
    fn earlier_versions(&self) -> Option<String> {
        None
    }

    /// [`StorageBackend::write`], with the one-line account of what changed (the change
    /// report's summary, or `restored REV`) for a backend that records one with each
    /// version. The default ignores the summary and calls `write`.
    fn write_with_summary(&mut self, inventory: &str, summary: &str) -> Result<(), BackendError> {
        let _ = summary;
        self.write(inventory)
    }

    /// Every stored version, oldest first, the current one last; `None` when the backend
    /// keeps no history (the default). Called without `load`: a backend takes whatever
    /// lock it needs to read a consistent list, as a reader.
    fn history(&mut self) -> Result<Option<Vec<Version>>, BackendError> {
        Ok(None)
    }

    /// The text of version `id` (an [`Version::id`] of [`StorageBackend::history`])
    /// exactly as stored, `None` when there is no such version. Called without `load`.
    fn load_version(&mut self, id: &str) -> Result<Option<String>, BackendError> {
        let _ = id;
        Ok(None)
    }
}

/// One stored version of the inventory, as [`StorageBackend::history`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Version {
    /// What names it to [`StorageBackend::load_version`] and on the command line
    /// (`inventory-manage show REV`): a revision number, an archive member's name.
    /// Never empty; printable, without white space.
    pub id: String,
    /// When it was written, UTC, `2024-05-01T12:00:00Z`; `None` when unknown.
    pub written_at: Option<String>,
    /// The one-line account of what it changed that the backend recorded; `None` when
    /// it recorded none (the caller may then compute one from the neighbouring version).
    pub summary: Option<String>,
    /// Its size in bytes.
    pub size: u64,
}

/// `location` with an absolute path made canonical, as the operating system
/// resolves it: `.` and `..` components and symbolic links resolved
/// (`/srv/./inv/../inv/db` and a link to `/srv/inv` name `/srv/inv/db`). A
/// path whose end does not exist yet is resolved as far as it exists, the rest
/// taken as written less its `.` and `..`. Anything else (a URL) is returned as
/// it is.
pub fn canonical_location(location: &str) -> String {
    let path = Path::new(location);
    if !path.is_absolute() {
        return location.to_string();
    }
    canonical_path(path).display().to_string()
}

/// [`canonical_location`] for a path.
fn canonical_path(path: &Path) -> PathBuf {
    // The longest leading part the system can resolve, then the rest, lexically.
    let components: Vec<Component<'_>> = path.components().collect();
    for resolved_len in (1..=components.len()).rev() {
        let head: PathBuf = components[..resolved_len].iter().collect();
        if let Ok(mut out) = std::fs::canonicalize(&head) {
            for component in &components[resolved_len..] {
                match component {
                    Component::CurDir => {}
                    Component::ParentDir => {
                        out.pop();
                    }
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_locations_resolve_paths_only() {
        let temp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(temp.path()).unwrap();
        let d = base.display();
        std::fs::create_dir(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
        let expected = format!("{d}/real/store");
        for written in [
            format!("{d}/real/store"),
            format!("{d}/real/./store"),
            format!("{d}/./real/../real/store"),
            format!("{d}/link/store"),
            format!("{d}/real/missing/../store"),
        ] {
            assert_eq!(canonical_location(&written), expected, "{written}");
        }
        assert_eq!(
            canonical_location(&format!("{d}/none/./a/../b")),
            format!("{d}/none/b")
        );
        for other in ["https://cmdb.example.com/x/../y", "relative/./path", ""] {
            assert_eq!(canonical_location(other), other);
        }
    }
}
