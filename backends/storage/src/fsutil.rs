//! Every risky filesystem operation of the project, in one place.
//!
//! Replacing a file that operators depend on (the inventory, its backup
//! archive) must never leave a half-written file behind, even when the
//! machine loses power mid-write, and two runs of the generator must never
//! interleave their read-modify-write cycles. [`atomic_write`] and
//! [`FileLock`] are the only ways the project does either.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The mode of a file created by [`atomic_write`] when none existed before.
const NEW_FILE_MODE: u32 = 0o644;

/// Replaces `path` with `contents` so that readers see either the old file or
/// the complete new one, never a mix or a truncated file.
///
/// The data goes to a temporary file in the same directory (so the final
/// `rename` stays on one filesystem and is atomic), is flushed to disk, gets
/// the permissions of the file it replaces (or `0644` for a new file), and is
/// renamed over `path`; finally the directory is synced so the rename itself
/// survives a crash. If `path` is a symbolic link, the file it points to is
/// replaced and the link is kept. On failure the temporary file is removed and
/// `path` is untouched.
pub fn atomic_write(path: &Path, contents: &[u8]) -> io::Result<()> {
    atomic_write_with_mode(path, contents, NEW_FILE_MODE)
}

/// [`atomic_write`], giving a file created anew the permissions `new_mode` (`0o600` for
/// data only its owner may read) instead of `0644`.
pub fn atomic_write_with_mode(path: &Path, contents: &[u8], new_mode: u32) -> io::Result<()> {
    atomic_write_limited(path, contents, new_mode, 0o7777)
}

/// [`atomic_write_with_mode`], with the permissions (kept or new) reduced to those of
/// `limit`: a copy of private data (the inventory's backup archive) is never readable by
/// more users than the original. The limit applies before the rename, so no other user
/// ever sees the file with wider permissions.
pub fn atomic_write_limited(
    path: &Path,
    contents: &[u8],
    new_mode: u32,
    limit: u32,
) -> io::Result<()> {
    let target = resolve_symlink(path)?;
    let dir = parent_dir(&target);
    let file_name = target
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file path", path.display()),
            )
        })?
        .to_string_lossy()
        .into_owned();

    let existing = match fs::metadata(&target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };

    // A hidden name starting with the target's name makes a leftover (after
    // a crash, where no destructor runs) easy to recognise.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.as_file_mut().write_all(contents)?;
    copy_metadata(tmp.as_file(), existing.as_ref(), new_mode, limit)?;
    tmp.as_file().sync_all()?;
    // `persist` renames over the target; on error the temporary file is
    // still owned by the returned error and deleted when it is dropped.
    tmp.persist(&target).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// The file that writing to `path` must replace: `path` itself, or the file
/// a symbolic link at `path` points to (replacing the link with a regular
/// file would silently detach it from wherever the operator keeps the data).
fn resolve_symlink(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path),
        Ok(_) => Ok(path.to_path_buf()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path.to_path_buf()),
        Err(e) => Err(e),
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn copy_metadata(
    tmp: &File,
    existing: Option<&fs::Metadata>,
    new_mode: u32,
    limit: u32,
) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let mode = existing.map_or(new_mode, |m| m.mode() & 0o7777) & limit;
    tmp.set_permissions(fs::Permissions::from_mode(mode))?;
    if let Some(old) = existing {
        let new = tmp.metadata()?;
        if (new.uid(), new.gid()) != (old.uid(), old.gid()) {
            // Keep the owner when we may (root rewriting a file owned by a
            // deploy user). A non-root caller cannot give files away; the
            // write itself is still correct, so that refusal is not an error.
            match std::os::unix::fs::fchown(tmp, Some(old.uid()), Some(old.gid())) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn copy_metadata(
    tmp: &File,
    existing: Option<&fs::Metadata>,
    _new_mode: u32,
    _limit: u32,
) -> io::Result<()> {
    if let Some(old) = existing {
        tmp.set_permissions(old.permissions())?;
    }
    Ok(())
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Directories cannot be opened for syncing here; the rename is as durable
    // as the platform makes it.
    Ok(())
}

/// Makes sure `dir` exists and only the running user can use it: missing directories are
/// created with mode `0700`; an existing `dir` must belong to the running user and give
/// group and others no access, else the error says which and how to fix it. For caches of
/// private data, where another local user must neither read nor plant files.
#[cfg(unix)]
pub fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};

    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = fs::metadata(dir)?;
    let euid = current_euid();
    if meta.uid() != euid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to user id {}, not to the user running this (id {euid})",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is open to group or others (mode {mode:04o}); chmod 700 it",
                dir.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Reduces the permissions of an open file to those of `limit` when it has more (a lock
/// file beside a private inventory: whoever may open it may take it and hold up every
/// run). A file of another user's is left as it is: only its owner may change it.
#[cfg(unix)]
pub fn limit_mode(file: &File, limit: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode() & 0o7777;
    if mode & !limit == 0 {
        return Ok(());
    }
    match file.set_permissions(fs::Permissions::from_mode(mode & limit)) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
pub fn limit_mode(_file: &File, _limit: u32) -> io::Result<()> {
    Ok(())
}

/// The effective user id of this process (owner checks of private files).
#[cfg(unix)]
pub fn current_euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
pub fn current_euid() -> u32 {
    0
}

/// How long a run waits for a lock silently, before saying what it waits for.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(1);
/// How often a waiting run tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(25);

/// Whether a lock excludes everyone (a writer) or only writers (a reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Exclusive,
    Shared,
}

/// Why [`FileLock::wait_for`] did not get the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{0}")]
    Io(io::Error),
    #[error("gave up after {} s waiting for another run to release it", .0.as_secs())]
    TimedOut(Duration),
}

/// An advisory lock on a lock file (exclusive unless taken shared), released when
/// dropped.
///
/// Advisory: it only excludes other holders of the same lock (other runs of
/// the generator), which is all that is needed to serialise their
/// read-modify-write cycles. The lock file itself is never removed; removing
/// it would let a later run lock a new file while an earlier one still holds
/// the old.
#[derive(Debug)]
pub struct FileLock {
    // Held only for its lock; closing the file releases it.
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Opens (creating if missing) the lock file at `path` and blocks until
    /// this process holds its exclusive lock.
    ///
    /// When the file exists but cannot be opened for writing (an operator
    /// without write access only reading the inventory), it is opened read
    /// only: the lock works the same on such a handle.
    pub fn acquire(path: &Path) -> io::Result<FileLock> {
        let file = Self::open(path)?;
        file.lock()?;
        Ok(FileLock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Like [`FileLock::acquire`], but returns `Ok(None)` instead of waiting
    /// when another handle holds the lock.
    pub fn try_acquire(path: &Path) -> io::Result<Option<FileLock>> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock {
                file,
                path: path.to_path_buf(),
            })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Takes the lock in `mode`, waiting at most `timeout` for another holder. After a
    /// second of waiting it says on standard error what it waits for, so that a run
    /// blocked behind another does not look hung.
    ///
    /// A shared lock is for readers: when the lock file does not exist and cannot be
    /// created (a user who may read the directory but not write it), `Ok(None)` says to
    /// read without a lock; writers replace files atomically, so a reader still sees a
    /// whole file.
    pub fn wait_for(
        path: &Path,
        mode: LockMode,
        timeout: Duration,
    ) -> Result<Option<FileLock>, LockError> {
        let file = match Self::open(path) {
            Ok(file) => file,
            Err(e)
                if mode == LockMode::Shared
                    && matches!(
                        e.kind(),
                        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                    ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(LockError::Io(e)),
        };
        let try_lock = |file: &File| match mode {
            LockMode::Exclusive => file.try_lock(),
            LockMode::Shared => file.try_lock_shared(),
        };
        let started = Instant::now();
        let mut announced = false;
        loop {
            match try_lock(&file) {
                Ok(()) => {
                    return Ok(Some(FileLock {
                        file,
                        path: path.to_path_buf(),
                    }));
                }
                Err(fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
                Err(fs::TryLockError::WouldBlock) => {}
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(LockError::TimedOut(timeout));
            }
            if !announced && waited >= ANNOUNCE_WAIT {
                eprintln!(
                    "waiting for the lock on {}, held by another run (fuser -v {} shows which \
                     process); giving up after {} s",
                    path.display(),
                    path.display(),
                    timeout.as_secs()
                );
                announced = true;
            }
            std::thread::sleep(LOCK_POLL.min(timeout - waited));
        }
    }

    /// Opens the lock file, never through a symbolic link: a link planted where the lock
    /// file goes would make a run (often root) create or open whatever it points to.
    fn open(path: &Path) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let mut read_only = OpenOptions::new();
        read_only.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(NEW_FILE_MODE).custom_flags(libc::O_NOFOLLOW);
            read_only.custom_flags(libc::O_NOFOLLOW);
        }
        let opened = match options.open(path) {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                read_only.open(path).map_err(|_| e)
            }
            Err(e) => Err(e),
        };
        opened.map_err(|e| {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "it is a symbolic link; a lock file must be a regular file (remove the link)",
                );
            }
            e
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open lock file (for checks; locking it again is not needed).
    pub fn file(&self) -> &File {
        &self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_new_file_with_0644_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.json");
        atomic_write(&path, b"hello").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        #[cfg(unix)]
        assert_eq!(mode_of(&path), 0o644);
        assert_eq!(names_in(dir.path()), vec!["inv.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn keeps_mode_of_replaced_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.json");
        fs::write(&path, b"old contents that are longer").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        atomic_write(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(names_in(dir.path()), vec!["inv.json"]);
    }

    #[test]
    fn failure_leaves_target_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename must fail.
        let path = dir.path().join("inv.json");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), b"x").unwrap();
        assert!(atomic_write(&path, b"new").is_err());
        assert_eq!(names_in(dir.path()), vec!["inv.json"]);
        assert_eq!(fs::read(path.join("keep")).unwrap(), b"x");
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("inv.json");
        assert!(atomic_write(&path, b"x").is_err());
        assert!(!path.exists());
    }

    #[cfg(unix)]
    #[test]
    fn writes_through_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("inv.json");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        atomic_write(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(names_in(&real_dir), vec!["inv.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn new_file_mode_applies_to_new_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        atomic_write_with_mode(&path, b"a", 0o600).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        atomic_write_with_mode(&path, b"b", 0o600).unwrap();
        assert_eq!(mode_of(&path), 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn private_dir_is_created_0700_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        private_dir(&dir).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(mode_of(&root.path().join("a")), 0o700);
        private_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).unwrap();
        let e = private_dir(&dir).unwrap_err().to_string();
        assert!(
            e.contains("open to group or others (mode 0750); chmod 700 it"),
            "{e}"
        );
    }

    #[test]
    fn lock_excludes_a_second_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = FileLock::acquire(&path).unwrap();
        assert!(path.exists());
        assert_eq!(held.path(), path);

        // Another handle (as another process would have) cannot take it.
        let other = File::options().read(true).write(true).open(&path).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        assert!(FileLock::try_acquire(&path).unwrap().is_none());

        drop(held);
        assert!(other.try_lock().is_ok());
        other.unlock().unwrap();
        assert!(FileLock::try_acquire(&path).unwrap().is_some());
    }

    #[test]
    fn acquire_blocks_until_released() {
        use std::sync::mpsc;
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = FileLock::acquire(&path).unwrap();
        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let lock = FileLock::acquire(&p).unwrap();
            tx.send(()).unwrap();
            drop(lock);
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(held);
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }

    #[test]
    fn shared_locks_exclude_writers_only_and_time_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let wait = Duration::from_millis(100);
        let reader = FileLock::wait_for(&path, LockMode::Shared, wait)
            .unwrap()
            .unwrap();
        let second_reader = FileLock::wait_for(&path, LockMode::Shared, wait).unwrap();
        assert!(second_reader.is_some());
        let writer = FileLock::wait_for(&path, LockMode::Exclusive, wait);
        assert!(matches!(writer, Err(LockError::TimedOut(t)) if t == wait));
        drop((reader, second_reader));
        let writer = FileLock::wait_for(&path, LockMode::Exclusive, wait)
            .unwrap()
            .unwrap();
        let reader = FileLock::wait_for(&path, LockMode::Shared, wait);
        assert_eq!(
            reader.unwrap_err().to_string(),
            "gave up after 0 s waiting for another run to release it"
        );
        drop(writer);
    }

    #[cfg(unix)]
    #[test]
    fn a_reader_without_write_access_reads_without_a_lock() {
        use std::os::unix::fs::PermissionsExt;
        if current_euid() == 0 {
            // Root may write anywhere; the case cannot happen.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
        let path = dir.path().join("x.lock");
        let got = FileLock::wait_for(&path, LockMode::Shared, Duration::from_secs(1));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(got.unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_file_that_is_a_symbolic_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        let path = dir.path().join("x.lock");
        // Dangling: following it would create the target.
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let e = FileLock::acquire(&path).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(!target.exists());
        let e = FileLock::wait_for(&path, LockMode::Shared, Duration::ZERO).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(!target.exists());
    }

    #[cfg(unix)]
    #[test]
    fn lock_works_on_read_only_lock_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        fs::write(&path, b"").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        // Root ignores permissions; either way the lock must be taken.
        let held = FileLock::acquire(&path).unwrap();
        assert!(FileLock::try_acquire(&path).unwrap().is_none());
        drop(held);
    }
}
