//! The storage interface of the OpenStack-Ansible inventory.
//!
//! Every place an inventory can live (the JSON file, a REST service, a plugin
//! loaded at run time) implements [`StorageBackend`]. The data crossing the
//! interface is plain JSON text, so a backend written in another language (see
//! the plugin ABI) sees exactly what a built-in backend sees.
//!
//! This crate is also the SDK for storage plugins written in Rust: implement
//! [`StorageBackend`] in a `cdylib` crate and export it with
//! [`export_plugin!`], which writes the C functions of the plugin ABI
//! ([`abi`], `include/osa_inventory_plugin.h`) and catches panics at the
//! boundary. It has no dependencies. `docs/plugins.md` is the guide.
//!
//! ```ignore
//! use inventory_backend::{BackendError, Settings, StorageBackend};
//!
//! #[derive(Default)]
//! struct MyBackend { /* ... */ }
//!
//! impl StorageBackend for MyBackend { /* register, load, write, location */ }
//!
//! inventory_backend::export_plugin!(MyBackend);
//! ```

use std::collections::BTreeMap;
use std::fmt;

pub mod abi;
pub mod export;
pub mod settings_json;

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
    pub fn new(message: impl fmt::Display) -> Self {
        BackendError {
            message: message.to_string(),
        }
    }

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

    /// Names where the data lives, for messages ("/etc/openstack_deploy/openstack_inventory.json").
    fn location(&self) -> String;

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
}
