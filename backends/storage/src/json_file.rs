//! The JSON file backend: `openstack_inventory.json` in the configuration
//! directory, as upstream stores it.
//!
//! * The file is read from the first search directory where it exists.
//! * It is written back where it was found; a new one goes to the first
//!   search directory that exists.
//! * Each run holds an exclusive lock on `openstack_inventory.json.lock` in
//!   that directory from `load` until `write` finishes (or the backend is
//!   dropped), so concurrent runs cannot lose each other's changes. A reader
//!   (`load_for_reading`) takes it shared, or reads without it when it may not
//!   create the lock file. A run waits at most `lock_timeout` for another, and
//!   says on standard error what it waits for after a second.
//! * Before the file is replaced, its previous contents are appended to
//!   `backup_openstack_inventory.tar` next to it (see [`crate::backup`]).
//!
//! Settings (`osa.ini` section of type `json`):
//! * `directory` — use only this directory, instead of the `--config`
//!   directory followed by `/etc/openstack_deploy`. Used as written.
//! * `lock_timeout` — how many seconds to wait for another run's lock (0 to
//!   86400, default 600).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use inventory_backend::{BackendError, Settings, StorageBackend};

use crate::backup::append_backup;
use crate::fsutil::{FileLock, LockError, LockMode, atomic_write, limit_mode};
use crate::{BACKUP_FILENAME, INVENTORY_FILENAME};

/// The lock file guarding a directory's inventory and backup archive.
pub const LOCK_FILENAME: &str = "openstack_inventory.json.lock";

/// How often `load` retries when the inventory appeared or moved while it
/// waited for the lock (another run created it); more means something keeps
/// changing the directories and it is better to stop.
const LOCATE_ATTEMPTS: usize = 5;

/// How long a run waits for another's lock unless `lock_timeout` says otherwise (as a
/// plugin's, through the plugin host).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(600);
/// The largest `lock_timeout` accepted, in seconds (a day).
const MAX_LOCK_TIMEOUT: u64 = 86_400;

/// The `lock_timeout` setting: whole seconds from 0 to a day. The plugin host reads the
/// key of a plugin's section with this too, so that it means the same everywhere.
pub fn parse_lock_timeout(value: &str) -> Result<Duration, BackendError> {
    match value.trim().parse::<u64>() {
        Ok(seconds) if seconds <= MAX_LOCK_TIMEOUT => Ok(Duration::from_secs(seconds)),
        _ => Err(BackendError::new(format_args!(
            "setting 'lock_timeout' must be a whole number of seconds from 0 to \
             {MAX_LOCK_TIMEOUT}, not '{value}'"
        ))),
    }
}

/// Stores the inventory as `openstack_inventory.json` (see the module docs).
#[derive(Debug)]
pub struct JsonFileBackend {
    search_dirs: Vec<PathBuf>,
    /// Where the file lives or will be written, once known.
    location: Option<Location>,
    /// Held from `load` until `write` finishes or `self` is dropped.
    lock: Option<FileLock>,
    /// Whether `lock` excludes everyone (taken by `load`, for a write).
    exclusive: bool,
    lock_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    dir: PathBuf,
    /// Whether an inventory file existed there when it was located.
    existed: bool,
}

impl Location {
    fn file(&self) -> PathBuf {
        self.dir.join(INVENTORY_FILENAME)
    }
}

impl JsonFileBackend {
    /// A backend looking in `search_dirs`, in order (the caller passes the
    /// `--config` directory, `~` expanded, then `/etc/openstack_deploy`).
    pub fn new(search_dirs: Vec<PathBuf>) -> Self {
        JsonFileBackend {
            search_dirs,
            location: None,
            lock: None,
            exclusive: false,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// The directories searched, in order.
    pub fn search_dirs(&self) -> &[PathBuf] {
        &self.search_dirs
    }

    /// The inventory file, once `load` (or `write`) has located it.
    pub fn path(&self) -> Option<PathBuf> {
        self.location.as_ref().map(Location::file)
    }

    /// Finds where the inventory is (or will be written), without locking.
    fn locate(&self) -> Result<Location, BackendError> {
        for dir in &self.search_dirs {
            let file = dir.join(INVENTORY_FILENAME);
            match fs::symlink_metadata(&file) {
                Ok(_) => {
                    return Ok(Location {
                        dir: dir.clone(),
                        existed: true,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                // Not knowing whether it exists (a directory we may not
                // search) must not make us start a fresh inventory elsewhere.
                Err(e) => return Err(io_error("cannot check", &file, &e)),
            }
        }
        self.search_dirs
            .iter()
            .find(|d| d.is_dir())
            .map(|dir| Location {
                dir: dir.clone(),
                existed: false,
            })
            .ok_or_else(|| {
                BackendError::new(format_args!(
                    "none of the directories for {INVENTORY_FILENAME} exists: {}",
                    join_paths(&self.search_dirs)
                ))
            })
    }

    /// Locates the inventory and takes the lock of its directory in `mode`,
    /// checking again under the lock in case another run created the file
    /// meanwhile. A reader that may not create the lock file reads unlocked.
    fn lock_location(&mut self, mode: LockMode) -> Result<Location, BackendError> {
        // A lock taken by an earlier call is released first: taking the same
        // lock through a second handle would wait for ourselves forever.
        self.lock = None;
        let mut location = self.locate()?;
        for _ in 0..LOCATE_ATTEMPTS {
            let lock_path = location.dir.join(LOCK_FILENAME);
            let lock =
                FileLock::wait_for(&lock_path, mode, self.lock_timeout).map_err(|e| match e {
                    LockError::Io(e) => io_error("cannot lock", &lock_path, &e),
                    timed_out @ LockError::TimedOut(_) => BackendError::new(format_args!(
                        "cannot lock {}: {timed_out} (setting lock_timeout)",
                        lock_path.display()
                    )),
                })?;
            let now = self.locate()?;
            if now == location {
                // Whoever may open the lock file may hold it and stop every run: it gets
                // no more permissions than the inventory.
                if let (Some(lock), true) = (&lock, location.existed) {
                    limit_mode(lock.file(), private_bits(&location.file())?)
                        .map_err(|e| io_error("cannot restrict", &lock_path, &e))?;
                }
                self.exclusive = lock.is_some() && mode == LockMode::Exclusive;
                self.lock = lock;
                self.location = Some(location.clone());
                return Ok(location);
            }
            drop(lock);
            location = now;
        }
        Err(BackendError::new(format_args!(
            "{INVENTORY_FILENAME} keeps appearing or moving in {} while waiting for its lock",
            join_paths(&self.search_dirs)
        )))
    }
}

impl JsonFileBackend {
    /// Reads the inventory at `location`, located (and locked) by the caller.
    fn read_located(&self, location: Location) -> Result<Option<String>, BackendError> {
        if !location.existed {
            return Ok(None);
        }
        let file = location.file();
        let bytes = fs::read(&file).map_err(|e| io_error("cannot read", &file, &e))?;
        String::from_utf8(bytes).map(Some).map_err(|e| {
            BackendError::new(format_args!(
                "cannot read {}: not valid UTF-8 (at byte {})",
                file.display(),
                e.utf8_error().valid_up_to()
            ))
        })
    }
}

impl StorageBackend for JsonFileBackend {
    fn register(&mut self, settings: &Settings) -> Result<(), BackendError> {
        for (key, value) in settings {
            match key.as_str() {
                "directory" => {
                    if value.trim().is_empty() {
                        return Err(BackendError::new("setting 'directory' is empty"));
                    }
                    self.search_dirs = vec![PathBuf::from(value)];
                    self.location = None;
                    self.lock = None;
                }
                "lock_timeout" => self.lock_timeout = parse_lock_timeout(value)?,
                other => {
                    return Err(BackendError::new(format_args!(
                        "unknown setting '{other}' (known: directory, lock_timeout)"
                    )));
                }
            }
        }
        Ok(())
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        let location = self.lock_location(LockMode::Exclusive)?;
        self.read_located(location)
    }

    fn load_for_reading(&mut self) -> Result<Option<String>, BackendError> {
        // Shared: other readers go on, writers wait until this reader is done (dropped).
        let location = self.lock_location(LockMode::Shared)?;
        self.read_located(location)
    }

    fn write(&mut self, inventory: &str) -> Result<(), BackendError> {
        // Normally `load` has located and locked; a caller writing without
        // loading still gets the same rules and the same exclusion.
        let location = match (&self.location, &self.lock) {
            (Some(location), Some(_)) if self.exclusive => location.clone(),
            _ => self.lock_location(LockMode::Exclusive)?,
        };
        let file = location.file();
        let result = save(&location.dir, &file, inventory.as_bytes());
        // The cycle is over whether or not it worked; a later `write` locks again.
        self.lock = None;
        result?;
        self.location = Some(Location {
            existed: true,
            ..location
        });
        Ok(())
    }

    fn earlier_versions(&self) -> Option<String> {
        let archive = self.location.as_ref()?.dir.join(BACKUP_FILENAME);
        archive.exists().then(|| {
            format!(
                "earlier versions are in {} (one member per write)",
                archive.display()
            )
        })
    }

    fn location(&self) -> String {
        match &self.location {
            Some(location) => location.file().display().to_string(),
            None => self
                .search_dirs
                .iter()
                .map(|d| d.join(INVENTORY_FILENAME).display().to_string())
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// Backs up the current `file` (if any) into `dir`'s archive, then replaces it.
fn save(dir: &Path, file: &Path, contents: &[u8]) -> Result<(), BackendError> {
    // The bytes on disk now, not those loaded: under the lock they are the
    // same, and if someone edited the file by hand, that edit is what must
    // be kept.
    match fs::read(file) {
        Ok(previous) => {
            append_backup(
                &dir.join(BACKUP_FILENAME),
                INVENTORY_FILENAME,
                &previous,
                SystemTime::now(),
                private_bits(file)?,
            )
            // The archive's errors already name it.
            .map_err(|e| {
                BackendError::new(format_args!("cannot back up {}: {e}", file.display()))
            })?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("cannot read", file, &e)),
    }
    atomic_write(file, contents).map_err(|e| io_error("cannot write", file, &e))
}

/// The read and write bits of `file`'s permissions: what its backups and lock file may
/// have at most.
fn private_bits(file: &Path) -> Result<u32, BackendError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(file).map_err(|e| io_error("cannot check", file, &e))?;
        Ok(meta.permissions().mode() & 0o666)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(0o666)
    }
}

fn io_error(what: &str, path: &Path, e: &io::Error) -> BackendError {
    BackendError::new(format_args!("{what} {}: {e}", path.display()))
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn backup_members(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let bytes = fs::read(dir.join(BACKUP_FILENAME)).unwrap();
        let mut tar = tar::Archive::new(bytes.as_slice());
        tar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().to_string_lossy().into_owned();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, data)
            })
            .collect()
    }

    fn is_locked(dir: &Path) -> bool {
        FileLock::try_acquire(&dir.join(LOCK_FILENAME))
            .unwrap()
            .is_none()
    }

    #[test]
    fn load_none_then_write_to_first_existing_dir() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("missing");
        let first = root.path().join("first");
        let second = root.path().join("second");
        fs::create_dir(&first).unwrap();
        fs::create_dir(&second).unwrap();
        let mut b = JsonFileBackend::new(vec![missing.clone(), first.clone(), second.clone()]);
        b.register(&Settings::new()).unwrap();
        assert_eq!(b.load().unwrap(), None);
        assert!(is_locked(&first));
        assert_eq!(
            b.location(),
            first.join(INVENTORY_FILENAME).display().to_string()
        );
        b.write("{}\n").unwrap();
        assert!(!is_locked(&first));
        assert_eq!(
            fs::read_to_string(first.join(INVENTORY_FILENAME)).unwrap(),
            "{}\n"
        );
        // Nothing existed, so nothing was backed up.
        assert!(!first.join(BACKUP_FILENAME).exists());
        assert!(!second.join(INVENTORY_FILENAME).exists());
    }

    #[test]
    fn load_from_first_dir_having_the_file_and_write_back_there() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config");
        let etc = root.path().join("etc");
        fs::create_dir(&config).unwrap();
        fs::create_dir(&etc).unwrap();
        fs::write(etc.join(INVENTORY_FILENAME), "old").unwrap();
        let mut b = JsonFileBackend::new(vec![config.clone(), etc.clone()]);
        assert_eq!(b.load().unwrap().as_deref(), Some("old"));
        assert!(is_locked(&etc));
        assert!(!config.join(LOCK_FILENAME).exists());
        b.write("new").unwrap();
        assert_eq!(
            fs::read_to_string(etc.join(INVENTORY_FILENAME)).unwrap(),
            "new"
        );
        assert!(!config.join(INVENTORY_FILENAME).exists());
        let members = backup_members(&etc);
        assert_eq!(members.len(), 1);
        assert!(members[0].0.starts_with("openstack_inventory.json-"));
        assert_eq!(members[0].1, b"old");
    }

    #[test]
    fn earlier_dir_wins_when_both_have_the_file() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config");
        let etc = root.path().join("etc");
        fs::create_dir(&config).unwrap();
        fs::create_dir(&etc).unwrap();
        fs::write(config.join(INVENTORY_FILENAME), "config").unwrap();
        fs::write(etc.join(INVENTORY_FILENAME), "etc").unwrap();
        let mut b = JsonFileBackend::new(vec![config.clone(), etc.clone()]);
        assert_eq!(b.load().unwrap().as_deref(), Some("config"));
        assert_eq!(b.path(), Some(config.join(INVENTORY_FILENAME)));
    }

    #[test]
    fn each_write_backs_up_the_previous_file() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_path_buf();
        let mut b = JsonFileBackend::new(vec![dir.clone()]);
        assert_eq!(b.load().unwrap(), None);
        b.write("one").unwrap();
        assert!(!dir.join(BACKUP_FILENAME).exists());
        // A second cycle on the same backend, then a fresh one; both within
        // one second, so the names must still differ.
        assert_eq!(b.load().unwrap().as_deref(), Some("one"));
        b.write("two").unwrap();
        let mut c = JsonFileBackend::new(vec![dir.clone()]);
        assert_eq!(c.load().unwrap().as_deref(), Some("two"));
        c.write("three").unwrap();
        let members = backup_members(&dir);
        assert_eq!(members.len(), 2);
        assert_ne!(members[0].0, members[1].0);
        assert_eq!(members[0].1, b"one");
        assert_eq!(members[1].1, b"two");
        assert_eq!(
            fs::read_to_string(dir.join(INVENTORY_FILENAME)).unwrap(),
            "three"
        );
    }

    #[test]
    fn no_existing_dir_is_an_error_listing_them() {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("a");
        let b = root.path().join("b");
        let mut backend = JsonFileBackend::new(vec![a.clone(), b.clone()]);
        let err = backend.load().unwrap_err().to_string();
        assert!(err.contains(&a.display().to_string()), "{err}");
        assert!(err.contains(&b.display().to_string()), "{err}");
        let err = backend.write("{}").unwrap_err().to_string();
        assert!(err.contains(&a.display().to_string()), "{err}");
    }

    #[test]
    fn location_before_load_lists_candidates() {
        let b = JsonFileBackend::new(vec![
            PathBuf::from("/x"),
            PathBuf::from("/etc/openstack_deploy"),
        ]);
        assert_eq!(
            b.location(),
            "/x/openstack_inventory.json or /etc/openstack_deploy/openstack_inventory.json"
        );
    }

    #[test]
    fn not_utf8_is_an_error_naming_the_file() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join(INVENTORY_FILENAME);
        fs::write(&file, b"{\"a\": \"\xff\"}").unwrap();
        let mut b = JsonFileBackend::new(vec![root.path().to_path_buf()]);
        let err = b.load().unwrap_err().to_string();
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn unreadable_file_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        // A directory where the file should be: reading it fails for root too.
        let file = root.path().join(INVENTORY_FILENAME);
        fs::create_dir(&file).unwrap();
        let mut b = JsonFileBackend::new(vec![root.path().to_path_buf()]);
        let err = b.load().unwrap_err().to_string();
        assert!(err.starts_with("cannot read "), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
    }

    #[test]
    fn corrupt_backup_archive_stops_the_write() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        fs::write(dir.join(INVENTORY_FILENAME), "old").unwrap();
        fs::write(dir.join(BACKUP_FILENAME), "garbage").unwrap();
        let mut b = JsonFileBackend::new(vec![dir.to_path_buf()]);
        b.load().unwrap();
        let err = b.write("new").unwrap_err().to_string();
        assert!(err.contains(BACKUP_FILENAME), "{err}");
        assert_eq!(
            fs::read_to_string(dir.join(INVENTORY_FILENAME)).unwrap(),
            "old"
        );
        assert!(!is_locked(dir));
    }

    #[test]
    fn directory_setting_replaces_search_dirs() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config");
        let chosen = root.path().join("chosen");
        fs::create_dir(&config).unwrap();
        fs::create_dir(&chosen).unwrap();
        fs::write(config.join(INVENTORY_FILENAME), "config").unwrap();
        let mut b = JsonFileBackend::new(vec![config.clone()]);
        b.register(&settings(&[("directory", chosen.to_str().unwrap())]))
            .unwrap();
        assert_eq!(b.search_dirs(), std::slice::from_ref(&chosen));
        assert_eq!(b.load().unwrap(), None);
        b.write("x").unwrap();
        assert_eq!(
            fs::read_to_string(chosen.join(INVENTORY_FILENAME)).unwrap(),
            "x"
        );
        assert_eq!(
            fs::read_to_string(config.join(INVENTORY_FILENAME)).unwrap(),
            "config"
        );
    }

    #[test]
    fn unknown_or_empty_setting_is_an_error() {
        let mut b = JsonFileBackend::new(vec![]);
        let err = b.register(&settings(&[("dirctory", "/x")])).unwrap_err();
        assert_eq!(
            err.message(),
            "unknown setting 'dirctory' (known: directory, lock_timeout)"
        );
        let err = b.register(&settings(&[("directory", " ")])).unwrap_err();
        assert!(err.message().contains("directory"));
    }

    #[test]
    fn lock_is_released_on_drop() {
        let root = tempfile::tempdir().unwrap();
        let mut b = JsonFileBackend::new(vec![root.path().to_path_buf()]);
        b.load().unwrap();
        assert!(is_locked(root.path()));
        drop(b);
        assert!(!is_locked(root.path()));
    }

    #[test]
    fn second_run_waits_for_the_first() {
        use std::sync::mpsc;
        use std::time::Duration;

        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_path_buf();
        let mut first = JsonFileBackend::new(vec![dir.clone()]);
        assert_eq!(first.load().unwrap(), None);

        let (tx, rx) = mpsc::channel();
        let d = dir.clone();
        let second = std::thread::spawn(move || {
            let mut b = JsonFileBackend::new(vec![d]);
            let loaded = b.load().unwrap();
            tx.send(loaded).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        first.write("first").unwrap();
        // The second run sees what the first wrote, not the state before it.
        let loaded = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(loaded.as_deref(), Some("first"));
        second.join().unwrap();
    }

    #[test]
    fn readers_share_the_lock_and_writers_wait_at_most_lock_timeout() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_path_buf();
        fs::write(dir.join(INVENTORY_FILENAME), "old").unwrap();
        let mut reader = JsonFileBackend::new(vec![dir.clone()]);
        reader
            .register(&settings(&[("lock_timeout", "0")]))
            .unwrap();
        assert_eq!(reader.load_for_reading().unwrap().as_deref(), Some("old"));
        let mut other_reader = JsonFileBackend::new(vec![dir.clone()]);
        assert_eq!(
            other_reader.load_for_reading().unwrap().as_deref(),
            Some("old")
        );

        let mut writer = JsonFileBackend::new(vec![dir.clone()]);
        writer
            .register(&settings(&[("lock_timeout", "0")]))
            .unwrap();
        let err = writer.load().unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot lock {}: gave up after 0 s waiting for another run to release it \
                 (setting lock_timeout)",
                dir.join(LOCK_FILENAME).display()
            )
        );
        // A reader's shared lock never lets it write: it needs the exclusive one, which
        // the other reader still prevents.
        assert!(reader.write("from a reader").is_err());
        drop((reader, other_reader));
        assert_eq!(writer.load().unwrap().as_deref(), Some("old"));
        writer.write("new").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn backups_and_lock_are_never_more_open_than_the_inventory() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        let inventory = dir.join(INVENTORY_FILENAME);
        fs::write(&inventory, "secret").unwrap();
        fs::set_permissions(&inventory, fs::Permissions::from_mode(0o600)).unwrap();
        // A lock file and an archive left wide open by an older run.
        fs::write(dir.join(LOCK_FILENAME), "").unwrap();
        fs::set_permissions(dir.join(LOCK_FILENAME), fs::Permissions::from_mode(0o666)).unwrap();
        let mut b = JsonFileBackend::new(vec![dir.to_path_buf()]);
        b.load().unwrap();
        b.write("new").unwrap();
        assert_eq!(mode(&inventory), 0o600);
        assert_eq!(mode(&dir.join(BACKUP_FILENAME)), 0o600);
        assert_eq!(mode(&dir.join(LOCK_FILENAME)), 0o600);

        fs::set_permissions(dir.join(BACKUP_FILENAME), fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&inventory, fs::Permissions::from_mode(0o640)).unwrap();
        b.load().unwrap();
        b.write("newer").unwrap();
        assert_eq!(mode(&dir.join(BACKUP_FILENAME)), 0o640);
        assert_eq!(mode(&dir.join(LOCK_FILENAME)), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_for_the_lock_or_the_archive_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("deploy");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(INVENTORY_FILENAME), "old").unwrap();
        let victim = root.path().join("victim");
        fs::write(&victim, "precious").unwrap();

        std::os::unix::fs::symlink(&victim, dir.join(BACKUP_FILENAME)).unwrap();
        let mut b = JsonFileBackend::new(vec![dir.clone()]);
        b.load().unwrap();
        let err = b.write("new").unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(
            fs::read_to_string(dir.join(INVENTORY_FILENAME)).unwrap(),
            "old"
        );
        fs::remove_file(dir.join(BACKUP_FILENAME)).unwrap();

        fs::remove_file(dir.join(LOCK_FILENAME)).unwrap();
        let dangling = root.path().join("created-by-a-run");
        std::os::unix::fs::symlink(&dangling, dir.join(LOCK_FILENAME)).unwrap();
        let err = b.load().unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot lock {}: it is a symbolic link; a lock file must be a regular file \
                 (remove the link)",
                dir.join(LOCK_FILENAME).display()
            )
        );
        assert!(!dangling.exists());
    }

    #[test]
    fn lock_timeout_is_checked() {
        let mut b = JsonFileBackend::new(vec![]);
        for bad in ["-1", "1.5", "86401", "soon"] {
            let err = b.register(&settings(&[("lock_timeout", bad)])).unwrap_err();
            assert_eq!(
                err.message(),
                format!(
                    "setting 'lock_timeout' must be a whole number of seconds from 0 to 86400, \
                     not '{bad}'"
                )
            );
        }
        b.register(&settings(&[("lock_timeout", "86400")])).unwrap();
        assert_eq!(b.lock_timeout, Duration::from_secs(86_400));
    }

    #[test]
    fn write_without_load_follows_the_same_rules() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        fs::write(dir.join(INVENTORY_FILENAME), "old").unwrap();
        let mut b = JsonFileBackend::new(vec![dir.to_path_buf()]);
        b.write("new").unwrap();
        assert_eq!(
            fs::read_to_string(dir.join(INVENTORY_FILENAME)).unwrap(),
            "new"
        );
        assert_eq!(backup_members(dir)[0].1, b"old");
    }
}
