//! The local cache: the inventory text last loaded from (or written to) Craton, and which
//! revision it is, so that a run whose inventory did not move downloads nothing.
//!
//! One file per Craton store (URL, project, cloud and region) in `cache_dir`, a directory
//! only the running user may use, next to the lock that runs sharing that directory take
//! from load to write. The file is trusted for nothing but its text: a run uses it only
//! when Craton says the newest revision is the very cell it was read from, and only when
//! the text still has the digest recorded with it. A missing, damaged or foreign file
//! costs one download, never an error. It never holds the token.

use std::fs;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fsutil::{FileLock, LockError, LockMode, atomic_write_with_mode, private_dir};

use super::digest;

/// The first word of a cache file, and its format version.
const MAGIC: &str = "osa-inventory-craton-cache 1 ";

/// Where one revision of the inventory lives in Craton.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionCell {
    pub revision: u64,
    /// The Craton cell holding it.
    pub id: i64,
    /// Craton's creation time of that cell (to microseconds): with the id, tells the cell
    /// apart from one created later under the same id, after a reinstall.
    pub created_at: String,
}

/// The Craton objects holding a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Places {
    pub cloud: i64,
    /// The region of the hosts.
    pub fleet_region: i64,
    /// The region of the stored inventory's cells.
    pub store_region: i64,
}

/// What a cache file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub places: Places,
    pub cell: RevisionCell,
    pub text: String,
}

pub struct Cache {
    dir: PathBuf,
    /// What the file belongs to: URL, project, cloud, region.
    identity: String,
    file: PathBuf,
    lock: PathBuf,
}

impl Cache {
    pub fn new(dir: &Path, identity: String) -> Cache {
        let key = &digest(identity.as_bytes())[..16];
        Cache {
            dir: dir.to_path_buf(),
            file: dir.join(format!("craton-{key}.cache")),
            lock: dir.join(format!("craton-{key}.lock")),
            identity,
        }
    }

    /// Takes the lock of this store in the cache directory (creating the directory) in
    /// `mode`, waiting at most `timeout` and saying so after a second. `None`: a reader
    /// that may not create the lock file goes on without it.
    pub fn lock(&self, mode: LockMode, timeout: Duration) -> Result<Option<FileLock>, String> {
        let created = private_dir(&self.dir).map_err(|e| format!("cache_dir: {e}"));
        if mode == LockMode::Exclusive {
            created?;
        }
        FileLock::wait_for(&self.lock, mode, timeout).map_err(|e| match e {
            LockError::Io(e) => format!("cannot lock {}: {e}", self.lock.display()),
            timed_out @ LockError::TimedOut(_) => format!(
                "cannot lock {}: {timed_out} (setting lock_timeout)",
                self.lock.display()
            ),
        })
    }

    /// The cached entry, or `None` when there is none usable (with the reason on
    /// standard error when it is damaged rather than absent).
    pub fn read(&self) -> Option<Entry> {
        let bytes = match fs::read(&self.file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.ignored(&format!("cannot read it: {e}"));
                return None;
            }
        };
        match self.parse(bytes) {
            Ok(entry) => Some(entry),
            Err(why) => {
                self.ignored(why);
                None
            }
        }
    }

    fn ignored(&self, why: &str) {
        // A terminal user wants to know why a run was slower; Ansible would show it as a
        // warning on every run until the next download replaces the file, which is fine.
        if io::stderr().is_terminal() {
            eprintln!(
                "craton backend: ignoring the cache {} ({why}); downloading the inventory",
                self.file.display()
            );
        }
    }

    fn parse(&self, bytes: Vec<u8>) -> Result<Entry, &'static str> {
        let text = String::from_utf8(bytes).map_err(|_| "not UTF-8")?;
        let rest = text
            .strip_prefix(MAGIC)
            .ok_or("not a cache file of this version")?;
        let (header, body) = rest.split_once('\n').ok_or("truncated")?;
        let header: Value = serde_json::from_str(header).map_err(|_| "damaged header")?;
        if header["identity"].as_str() != Some(self.identity.as_str()) {
            return Err("it belongs to another Craton store");
        }
        if header["size"].as_u64() != Some(body.len() as u64)
            || header["sha256"].as_str() != Some(digest(body.as_bytes()).as_str())
        {
            return Err("its text does not match its digest");
        }
        let int = |key: &str| header[key].as_i64().ok_or("damaged header");
        let places = Places {
            cloud: int("cloud_id")?,
            fleet_region: int("fleet_region_id")?,
            store_region: int("store_region_id")?,
        };
        let cell = RevisionCell {
            revision: header["revision"].as_u64().ok_or("damaged header")?,
            id: int("cell_id")?,
            created_at: header["created_at"]
                .as_str()
                .ok_or("damaged header")?
                .to_string(),
        };
        let body_start = text.len() - body.len();
        let mut text = text;
        text.drain(..body_start);
        Ok(Entry { places, cell, text })
    }

    /// Replaces the cached entry (atomically, readable by the owner only).
    pub fn write(&self, entry: &Entry) -> Result<(), String> {
        let header = json!({
            "identity": self.identity,
            "cloud_id": entry.places.cloud,
            "fleet_region_id": entry.places.fleet_region,
            "store_region_id": entry.places.store_region,
            "revision": entry.cell.revision,
            "cell_id": entry.cell.id,
            "created_at": entry.cell.created_at,
            "size": entry.text.len(),
            "sha256": digest(entry.text.as_bytes()),
        });
        let mut bytes = Vec::with_capacity(entry.text.len() + 512);
        bytes.extend_from_slice(MAGIC.as_bytes());
        bytes.extend_from_slice(header.to_string().as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(entry.text.as_bytes());
        private_dir(&self.dir).map_err(|e| format!("cache_dir: {e}"))?;
        atomic_write_with_mode(&self.file, &bytes, 0o600)
            .map_err(|e| format!("cannot write {}: {e}", self.file.display()))
    }

    /// Forgets the cached entry (its text is no longer Craton's newest).
    pub fn clear(&self) {
        let _ = fs::remove_file(&self.file);
    }

    #[cfg(test)]
    pub fn file(&self) -> &Path {
        &self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Entry {
        Entry {
            places: Places {
                cloud: 1,
                fleet_region: 2,
                store_region: 3,
            },
            cell: RevisionCell {
                revision: 7,
                id: 12,
                created_at: "2026-11-30T10:06:43.919149".into(),
            },
            text: text.into(),
        }
    }

    #[test]
    fn round_trip_and_private_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        let cache = Cache::new(&dir, "https://c/v1 p cloud region".into());
        assert_eq!(cache.read(), None);
        let e = entry("{\n  \"all\": {}\n}\n");
        cache.write(&e).unwrap();
        assert_eq!(cache.read(), Some(e));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(cache.file()), 0o600);
        }
    }

    #[test]
    fn damaged_or_foreign_files_are_ignored() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        let cache = Cache::new(&dir, "one".into());
        cache.write(&entry("{}")).unwrap();
        let good = fs::read(cache.file()).unwrap();

        // Another store's file under this name (a hash collision, a copied file).
        let other = Cache::new(&dir, "two".into());
        fs::copy(cache.file(), other.file()).unwrap();
        assert_eq!(other.read(), None);

        // The text changed behind the header's back.
        let mut tampered = good.clone();
        let last = tampered.len() - 1;
        tampered[last] = b']';
        fs::write(cache.file(), &tampered).unwrap();
        assert_eq!(cache.read(), None);

        for bad in [
            &b""[..],
            b"garbage",
            b"osa-inventory-craton-cache 1 {",
            &good[..good.len() - 1],
        ] {
            fs::write(cache.file(), bad).unwrap();
            assert_eq!(cache.read(), None);
        }
        cache.clear();
        assert!(!cache.file().exists());
    }

    #[test]
    fn the_lock_is_per_store_and_exclusive() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        let a = Cache::new(&dir, "a".into());
        let wait = Duration::from_millis(50);
        let held = a.lock(LockMode::Exclusive, wait).unwrap();
        assert!(FileLock::try_acquire(&a.lock).unwrap().is_none());
        let e = a.lock(LockMode::Shared, wait).unwrap_err();
        assert!(e.ends_with("(setting lock_timeout)"), "{e}");
        let b = Cache::new(&dir, "b".into());
        drop(b.lock(LockMode::Exclusive, wait).unwrap());
        drop(held);
        assert!(FileLock::try_acquire(&a.lock).unwrap().is_some());
    }
}
