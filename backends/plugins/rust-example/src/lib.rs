//! A minimal inventory storage plugin in Rust: the inventory in one file,
//! named by the `path` setting, replaced atomically (a temporary file beside
//! it, flushed to disk, renamed over it). What it does goes to the host's
//! debug log (`dynamic-inventory --debug`).
//!
//! Build: `cargo build --release -p osa-inventory-rust-example`, which makes
//! `target/release/libosa_inventory_rust_example.so`. osa.ini:
//!
//! ```ini
//! [storage]
//! backend = file
//!
//! [file]
//! type = plugin
//! library = /usr/local/lib/osa-inventory/libosa_inventory_rust_example.so
//! path = /var/lib/osa/openstack_inventory.json
//! ```

// The only unsafe code is the SDK's, which export_plugin! writes.
#![forbid(unsafe_code)]

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

use inventory_backend::host::{Host, LogLevel};
use inventory_backend::{BackendError, Settings, StorageBackend};

/// The plugin's state for one `osa.ini` section.
pub struct FileBackend {
    /// The host's log (and lock timeout, which this plugin has no use for: it takes no
    /// lock).
    host: Host,
    path: PathBuf,
}

impl FileBackend {
    /// The constructor `export_plugin!` calls for each instance.
    pub fn new(host: Host) -> Self {
        FileBackend {
            host,
            path: PathBuf::new(),
        }
    }
}

impl StorageBackend for FileBackend {
    fn register(&mut self, settings: &Settings) -> Result<(), BackendError> {
        for (key, value) in settings {
            match key.as_str() {
                "path" => self.path = PathBuf::from(value),
                other => {
                    return Err(BackendError::new(format_args!(
                        "unknown setting '{other}' (known: path)"
                    )));
                }
            }
        }
        if self.path.as_os_str().is_empty() {
            return Err(BackendError::new(
                "setting 'path' is required: the file holding the inventory",
            ));
        }
        Ok(())
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => {
                let (bytes, path) = (text.len(), self.path.display());
                self.host.log(
                    LogLevel::Debug,
                    format_args!("read {bytes} bytes from {path}"),
                );
                Ok(Some(text))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BackendError::new(format_args!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn write(&mut self, inventory: &str) -> Result<(), BackendError> {
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let result = fs::File::create(&temporary)
            .and_then(|mut f| {
                f.write_all(inventory.as_bytes())?;
                f.sync_all()
            })
            .and_then(|()| fs::rename(&temporary, &self.path));
        result.map_err(|e| {
            let _ = fs::remove_file(&temporary);
            BackendError::new(format_args!("cannot write {}: {e}", self.path.display()))
        })?;
        let (bytes, path) = (inventory.len(), self.path.display());
        self.host.log(
            LogLevel::Info,
            format_args!("wrote {bytes} bytes to {path}"),
        );
        Ok(())
    }

    /// The file identifies the store: the host compares locations (made canonical).
    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

inventory_backend::export_plugin!(FileBackend, FileBackend::new);
