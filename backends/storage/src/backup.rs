//! The inventory backup archive, `backup_openstack_inventory.tar`.
//!
//! Before the inventory file is overwritten, its previous contents are
//! appended to a plain (uncompressed) tar archive next to it, as a member
//! named `openstack_inventory.json-YYYYMMDD_HHMMSS.json` (UTC). Upstream
//! appends in place; here the archive is read and rewritten whole through
//! [`atomic_write`], so a crash never leaves a damaged archive, and old
//! members are pruned in the same step.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use tar::{Archive, Builder, EntryType, Header};

use crate::fsutil::atomic_write_limited;

/// How many members the archive keeps, the newest one included.
pub const MAX_BACKUPS: usize = 15;

/// The mode of a new member (what upstream's files usually have).
const MEMBER_MODE: u32 = 0o644;

/// The mode of a new archive, before the caller's limit.
const NEW_ARCHIVE_MODE: u32 = 0o644;

/// One member read from an existing archive, rewritten as it was.
struct Member {
    name: String,
    header: Header,
    data: Vec<u8>,
}

/// Appends `contents` to the tar archive `archive` as
/// `{member_prefix}-YYYYMMDD_HHMMSS.json` (time `now`, UTC) and returns the
/// member name used.
///
/// If a member of that name already exists (two saves in one second), the
/// name gets `-1`, `-2`, ... before `.json`. After appending, at most
/// [`MAX_BACKUPS`] members are kept; the oldest (first in the archive) are
/// dropped. A missing archive is created. An archive that cannot be read as
/// tar is an error naming it: old backups are never discarded silently.
///
/// The archive's permissions (those it had, or 0644 for a new one) are reduced
/// to `mode_limit`: the caller passes the backed-up file's, so that the copies
/// are never readable by more users than the original.
pub fn append_backup(
    archive: &Path,
    member_prefix: &str,
    contents: &[u8],
    now: SystemTime,
    mode_limit: u32,
) -> io::Result<String> {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the system clock is set before 1970; cannot name the backup",
            )
        })?
        .as_secs();

    // Written through, a link planted in the inventory's directory would make a run
    // (often root) replace whatever it points to with the archive.
    if fs::symlink_metadata(archive).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; backups are not written through one (remove the link)",
                archive.display()
            ),
        ));
    }
    let mut members = read_members(archive)?;

    let taken: HashSet<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let stamp = timestamp(secs);
    let mut name = format!("{member_prefix}-{stamp}.json");
    let mut n = 1u64;
    while taken.contains(name.as_str()) {
        name = format!("{member_prefix}-{stamp}-{n}.json");
        n += 1;
    }

    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::Regular);
    header.set_mode(MEMBER_MODE);
    header.set_mtime(secs);
    header.set_uid(0);
    header.set_gid(0);
    members.push(Member {
        name: name.clone(),
        header,
        data: contents.to_vec(),
    });

    let excess = members.len().saturating_sub(MAX_BACKUPS);
    members.drain(..excess);

    let bytes = build_archive(members).map_err(|e| with_path(archive, "cannot build", e))?;
    atomic_write_limited(archive, &bytes, NEW_ARCHIVE_MODE, mode_limit)
        .map_err(|e| with_path(archive, "cannot write", e))?;
    Ok(name)
}

/// The regular-file members of `archive`, in archive order; none when it does
/// not exist (or is empty, which is how `touch` leaves it).
fn read_members(archive: &Path) -> io::Result<Vec<Member>> {
    let bytes = match fs::read(archive) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(with_path(archive, "cannot read", e)),
    };
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    // The tar crate stops quietly at a partial block; a tar archive is a
    // whole number of 512-byte blocks, so anything else is damaged.
    if bytes.len() % 512 != 0 {
        return Err(corrupt(
            archive,
            format_args!(
                "its size ({} bytes) is not a whole number of tar blocks",
                bytes.len()
            ),
        ));
    }

    let mut members = Vec::new();
    let mut tar = Archive::new(bytes.as_slice());
    let entries = tar.entries().map_err(|e| corrupt(archive, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(archive, e))?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            // Archive-wide attributes, not a backup; nothing to keep.
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| corrupt(archive, e))?
            .to_string_lossy()
            .into_owned();
        if !kind.is_file() {
            return Err(corrupt(
                archive,
                format_args!(
                    "member '{name}' is not a regular file; this is not an inventory backup archive"
                ),
            ));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| corrupt(archive, format_args!("member '{name}': {e}")))?;
        // A fresh header with the old attributes: the raw one may hold a
        // truncated name (long names live in extension records the tar crate
        // has already applied) which `append_data` would not replace cleanly.
        let old = entry.header();
        let mut header = Header::new_ustar();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(old.mode().map_err(|e| corrupt(archive, e))?);
        header.set_mtime(old.mtime().map_err(|e| corrupt(archive, e))?);
        header.set_uid(old.uid().map_err(|e| corrupt(archive, e))?);
        header.set_gid(old.gid().map_err(|e| corrupt(archive, e))?);
        if let Ok(Some(user)) = old.username() {
            // Names too long for the field are dropped, ids are kept.
            let _ = header.set_username(user);
        }
        if let Ok(Some(group)) = old.groupname() {
            let _ = header.set_groupname(group);
        }
        members.push(Member { name, header, data });
    }
    Ok(members)
}

fn build_archive(members: Vec<Member>) -> io::Result<Vec<u8>> {
    let mut builder = Builder::new(Vec::new());
    for mut m in members {
        // `append_data` sets the name and checksum, not the size.
        m.header.set_size(m.data.len() as u64);
        builder.append_data(&mut m.header, &m.name, m.data.as_slice())?;
    }
    builder.into_inner()
}

fn with_path(archive: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", archive.display()))
}

fn corrupt(archive: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "backup archive {} is damaged ({why}); move it aside to start a new one",
            archive.display()
        ),
    )
}

/// `YYYYMMDD_HHMMSS` for `secs` seconds after the Unix epoch, in UTC.
fn timestamp(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}_{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` days after 1970-01-01
/// (Howard Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of the 400-year era
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the year, from March
    let mp = (5 * doy + 2) / 153; // month, from March
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::Duration;

    const PREFIX: &str = "openstack_inventory.json";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// (name, data, mode, mtime) of every member, in order.
    fn members(archive: &Path) -> Vec<(String, Vec<u8>, u32, u64)> {
        let bytes = fs::read(archive).unwrap();
        let mut tar = Archive::new(bytes.as_slice());
        tar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().to_string_lossy().into_owned();
                let mode = e.header().mode().unwrap();
                let mtime = e.header().mtime().unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, data, mode, mtime)
            })
            .collect()
    }

    fn names(archive: &Path) -> Vec<String> {
        members(archive).into_iter().map(|m| m.0).collect()
    }

    #[test]
    fn civil_dates() {
        assert_eq!(timestamp(0), "19700101_000000");
        assert_eq!(timestamp(951_782_400), "20000229_000000");
        assert_eq!(timestamp(1_709_251_199), "20240229_235959");
        assert_eq!(timestamp(1_735_689_600), "20250101_000000");
        assert_eq!(timestamp(4_107_542_400), "21000301_000000");
        assert_eq!(timestamp(1_700_000_000), "20231114_221320");
    }

    #[test]
    fn creates_archive_with_named_member() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        let name = append_backup(&archive, PREFIX, b"{}\n", at(1_700_000_000), 0o7777).unwrap();
        assert_eq!(name, "openstack_inventory.json-20231114_221320.json");
        let m = members(&archive);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0, name);
        assert_eq!(m[0].1, b"{}\n");
        assert_eq!(m[0].2, 0o644);
        assert_eq!(m[0].3, 1_700_000_000);
    }

    #[test]
    fn same_second_gets_unique_names() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        let t = at(1_700_000_000);
        let a = append_backup(&archive, PREFIX, b"a", t, 0o7777).unwrap();
        let b = append_backup(&archive, PREFIX, b"b", t, 0o7777).unwrap();
        let c = append_backup(&archive, PREFIX, b"c", t, 0o7777).unwrap();
        let d = append_backup(&archive, PREFIX, b"d", at(1_700_000_001), 0o7777).unwrap();
        assert_eq!(a, "openstack_inventory.json-20231114_221320.json");
        assert_eq!(b, "openstack_inventory.json-20231114_221320-1.json");
        assert_eq!(c, "openstack_inventory.json-20231114_221320-2.json");
        assert_eq!(d, "openstack_inventory.json-20231114_221321.json");
        assert_eq!(names(&archive), vec![a, b, c, d]);
        let data: Vec<Vec<u8>> = members(&archive).into_iter().map(|m| m.1).collect();
        assert_eq!(
            data,
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
    }

    #[test]
    fn prunes_to_newest_fifteen() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        let mut all = Vec::new();
        for i in 0..20u64 {
            let data = format!("v{i}");
            all.push(
                append_backup(&archive, PREFIX, data.as_bytes(), at(1_000 + i), 0o7777).unwrap(),
            );
            assert_eq!(names(&archive).len(), (i as usize + 1).min(MAX_BACKUPS));
        }
        assert_eq!(names(&archive), all[5..].to_vec());
        let m = members(&archive);
        assert_eq!(m[0].1, b"v5");
        assert_eq!(m[14].1, b"v19");
        // Old members keep their own mtime.
        assert_eq!(m[0].3, 1_005);
    }

    #[test]
    fn readable_by_gnu_tar() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        let a = append_backup(&archive, PREFIX, b"one", at(1_700_000_000), 0o7777).unwrap();
        let b = append_backup(&archive, PREFIX, b"two", at(1_700_000_000), 0o7777).unwrap();
        let out = Command::new("tar")
            .arg("-tf")
            .arg(&archive)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{a}\n{b}\n")
        );
        let out = Command::new("tar")
            .arg("-xOf")
            .arg(&archive)
            .arg(&b)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"two");
    }

    #[test]
    fn readable_by_python_tarfile() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        let a = append_backup(&archive, PREFIX, b"one", at(1_700_000_000), 0o7777).unwrap();
        let b = append_backup(&archive, PREFIX, b"two", at(1_700_000_002), 0o7777).unwrap();
        let script = "import sys, tarfile\n\
            with tarfile.open(sys.argv[1]) as t:\n\
            \x20   for m in t.getmembers():\n\
            \x20       print(m.name, oct(m.mode), m.mtime, m.isfile(), t.extractfile(m).read().decode())\n";
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&archive)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{a} 0o644 1700000000 True one\n{b} 0o644 1700000002 True two\n")
        );
    }

    #[test]
    fn keeps_members_of_an_archive_written_by_python() {
        // Upstream's archives are written by Python's tarfile (append mode).
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        let src = dir.path().join("src.json");
        fs::write(&src, b"old").unwrap();
        let script = "import sys, tarfile\n\
            with tarfile.open(sys.argv[1], 'a') as t:\n\
            \x20   t.add(sys.argv[2], arcname='openstack_inventory.json-20200101_000000.json')\n\
            \x20   t.add(sys.argv[2], arcname='x' * 150 + '.json')\n";
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&archive)
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let name = append_backup(&archive, PREFIX, b"new", at(1_700_000_000), 0o7777).unwrap();
        let m = members(&archive);
        let long = format!("{}.json", "x".repeat(150));
        assert_eq!(
            m.iter().map(|m| m.0.clone()).collect::<Vec<_>>(),
            vec![
                "openstack_inventory.json-20200101_000000.json".to_string(),
                long.clone(),
                name
            ]
        );
        assert_eq!(m[0].1, b"old");
        let out = Command::new("tar")
            .arg("-tf")
            .arg(&archive)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8(out.stdout).unwrap().contains(&long));
    }

    #[test]
    fn corrupt_archive_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        for garbage in [b"not a tar archive".to_vec(), vec![b'x'; 1024]] {
            fs::write(&archive, &garbage).unwrap();
            let err = append_backup(&archive, PREFIX, b"x", at(0), 0o7777).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(
                err.to_string().contains(&archive.display().to_string()),
                "{err}"
            );
            // Left as it was.
            assert_eq!(fs::read(&archive).unwrap(), garbage);
        }
    }

    #[test]
    fn truncated_archive_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        append_backup(&archive, PREFIX, &vec![b'a'; 5000], at(0), 0o7777).unwrap();
        let bytes = fs::read(&archive).unwrap();
        // Cut inside the member's data, at a block boundary.
        fs::write(&archive, &bytes[..2048]).unwrap();
        let err = append_backup(&archive, PREFIX, b"x", at(1), 0o7777).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        assert_eq!(fs::read(&archive).unwrap(), &bytes[..2048]);
    }

    #[test]
    fn empty_archive_file_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        fs::write(&archive, b"").unwrap();
        let name = append_backup(&archive, PREFIX, b"x", at(0), 0o7777).unwrap();
        assert_eq!(names(&archive), vec![name]);
    }

    #[test]
    fn non_file_member_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        let mut b = Builder::new(Vec::new());
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::Directory);
        h.set_mode(0o755);
        b.append_data(&mut h, "somedir/", io::empty()).unwrap();
        fs::write(&archive, b.into_inner().unwrap()).unwrap();
        let err = append_backup(&archive, PREFIX, b"x", at(0), 0o7777).unwrap_err();
        assert!(err.to_string().contains("somedir"), "{err}");
    }

    #[test]
    fn clock_before_epoch_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("backup.tar");
        let err = append_backup(
            &archive,
            PREFIX,
            b"x",
            UNIX_EPOCH - Duration::from_secs(1),
            0o7777,
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(!archive.exists());
    }
}
