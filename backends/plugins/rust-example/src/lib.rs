//! A minimal inventory storage plugin in Rust: the inventory in one file,
//! named by the `path` setting, replaced atomically (a temporary file beside
//! it, flushed to disk, renamed over it).
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

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

use inventory_backend::{BackendError, Settings, StorageBackend};

#[derive(Default)]
pub struct FileBackend {
    path: PathBuf,
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
            Ok(text) => Ok(Some(text)),
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
        })
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

inventory_backend::export_plugin!(FileBackend);
