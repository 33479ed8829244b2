//! Locks of the JSON file backend as operators meet them: a run waiting for another says
//! so and gives up after `lock_timeout`; readers share the lock; a user who may read the
//! inventory but not write its directory can list it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command as StdCommand;
use std::time::Duration;

use inventory_storage::fsutil::{FileLock, LockMode};

use crate::support::{Site, failed, ok};

fn osa_ini(site: &Site, extra: &str) -> std::path::PathBuf {
    let ini = site.file("osa.ini");
    std::fs::write(
        &ini,
        format!(
            "[storage]\nbackend = json\n[json]\ndirectory = {}\n{extra}",
            site.path().display()
        ),
    )
    .unwrap();
    ini
}

#[test]
fn a_waiting_run_says_what_it_waits_for_and_gives_up_after_lock_timeout() {
    let site = Site::prod();
    let ini = osa_ini(&site, "lock_timeout = 2\n");
    let lock_path = site.file("openstack_inventory.json.lock");
    let held = FileLock::wait_for(&lock_path, LockMode::Exclusive, Duration::ZERO)
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    let out = site.with_ini(&ini).args(["-r", "infra1"]).output().unwrap();
    let stderr = failed(out, 1);
    assert!(started.elapsed() >= Duration::from_secs(2));
    let lock = lock_path.display();
    assert_eq!(
        stderr,
        format!(
            "waiting for the lock on {lock}, held by another run (fuser -v {lock} shows which \
             process); giving up after 2 s\n\
             json backend: cannot lock {lock}: gave up after 2 s waiting for another run to \
             release it (setting lock_timeout)\n"
        )
    );

    // Listing only shares the lock with other readers: it does not wait for one.
    drop(held);
    let _reader = FileLock::wait_for(&lock_path, LockMode::Shared, Duration::ZERO)
        .unwrap()
        .unwrap();
    let listed = ok(site.with_ini(&ini).arg("-l").output().unwrap());
    assert!(listed.contains("infra1"));
    // But a change waits for the reader to finish.
    let out = site.with_ini(&ini).args(["-r", "infra1"]).output().unwrap();
    assert!(failed(out, 1).contains("gave up after 2 s"));
}

#[test]
fn a_reader_without_write_access_lists_the_inventory() {
    let site = Site::prod();
    let ini = osa_ini(&site, "");
    for path in [site.path(), &site.file("openstack_inventory.json"), &ini] {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let binary = assert_cmd::cargo::cargo_bin("inventory-manage");
    let cmd = |args: &[&str]| as_nobody(&binary, &ini, args, site.path());
    // No lock file yet, and nobody may create one: the listing reads without it.
    let Some(out) = cmd(&["-l"]) else {
        return;
    };
    assert!(ok(out).contains("infra1"));
    assert!(!site.file("openstack_inventory.json.lock").exists());
    // With the lock file there (root's, read only for others): a shared lock on it.
    std::fs::write(site.file("openstack_inventory.json.lock"), "").unwrap();
    let out = cmd(&["-G"]).unwrap();
    assert!(ok(out).contains("infra1"));
    // A change is refused with a message naming what it could not do.
    let out = cmd(&["-r", "infra1"]).unwrap();
    let stderr = failed(out, 1);
    assert!(stderr.starts_with("json backend: "), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

/// Runs `binary args` with this `osa.ini` as the unprivileged user `nobody`, when this
/// test runs as root (the only way to lose write access here); `None` otherwise.
fn as_nobody(binary: &Path, ini: &Path, args: &[&str], cwd: &Path) -> Option<std::process::Output> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/usr/bin/setpriv").exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped a_reader_without_write_access_lists_the_inventory: it needs root and \
             setpriv to run as another user"
        );
        return None;
    }
    Some(
        StdCommand::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(binary)
            .args(args)
            .env("OSA_INI_PATH", ini)
            .env_remove("OSA_CONFIG_DIR")
            .current_dir(cwd)
            .output()
            .unwrap(),
    )
}
