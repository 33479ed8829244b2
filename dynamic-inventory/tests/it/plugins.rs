//! Storage plugins through the real binary: the SQLite plugin against the JSON backend on
//! every reference case, the C and Rust examples round-tripping, and every broken fixture
//! refused with its own message, leaving the stored inventory as it was.
//!
//! The plugins are built here: the Rust ones with `cargo build` into their own target
//! directory (`target/plugin-tests`, so as not to wait on the lock of the `cargo test`
//! running us), once per test binary; the C ones with `cc`. Each test uses private copies
//! (directory 0700, library 0755), which the host's permission check accepts.

use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::plugin_build;
use crate::support::*;

/// The Rust plugins and the SQLite command, built once: their output directory.
fn rust_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        plugin_build::build(
            "plugin-tests",
            false,
            &[
                "osa-inventory-sqlite",
                "osa-inventory-rust-example",
                "osa-inventory-fixture-faulty",
            ],
        )
    })
}

fn rust_library(crate_name: &str) -> PathBuf {
    rust_plugins().join(plugin_build::library_name(crate_name))
}

fn sqlite_command() -> Command {
    Command::new(rust_plugins().join("osa-inventory-sqlite"))
}

/// A private directory holding one plugin library.
struct Installed {
    dir: tempfile::TempDir,
    library: PathBuf,
}

impl Installed {
    /// A copy of `library`, as an operator would install it.
    fn copy(library: &Path) -> Installed {
        let dir = private_dir();
        let library = plugin_build::install(library, dir.path());
        Installed { dir, library }
    }

    /// A C plugin of `backends/plugins/`, compiled.
    fn compile(relative: &str) -> Installed {
        let dir = private_dir();
        let library = dir.path().join("libplugin.so");
        let out = Command::new("cc")
            .args([
                "-std=c11", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
            ])
            .arg(&library)
            .arg("-I")
            .arg(workspace().join("backends/backend/include"))
            .arg(workspace().join("backends/plugins").join(relative))
            .output()
            .expect("cc (a C compiler) must be installed to test plugins");
        assert!(
            out.status.success(),
            "cc {relative}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::set_permissions(&library, std::fs::Permissions::from_mode(0o755)).unwrap();
        Installed { dir, library }
    }

    fn sqlite() -> Installed {
        Installed::copy(&rust_library("osa_inventory_sqlite"))
    }

    /// A file next to the library (a store, an osa.ini).
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes an osa.ini selecting section `section`, of type plugin, with `settings`.
    fn osa_ini(&self, section: &str, settings: &[(&str, &str)]) -> PathBuf {
        let mut text = format!(
            "[storage]\nbackend = {section}\n\n[{section}]\ntype = plugin\nlibrary = {}\n",
            self.library.display()
        );
        for (key, value) in settings {
            text.push_str(&format!("{key} = {value}\n"));
        }
        let path = self.path("osa.ini");
        std::fs::write(&path, text).unwrap();
        path
    }
}

use crate::plugin_build::{private_dir, workspace};

/// Runs the binary on `d` with this osa.ini.
fn run_with(d: &Deployment, ini: &Path, args: &[&str]) -> Output {
    d.command()
        .env("OSA_INI_PATH", ini)
        .args(args)
        .output()
        .unwrap()
}

fn ok_with(d: &Deployment, ini: &Path) -> String {
    let out = run_with(d, ini, &[]);
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The number of revisions the SQLite plugin keeps in `db`.
fn revisions(db: &Path) -> usize {
    let out = sqlite_command().arg("history").arg(db).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().lines().count() - 1
}

fn sqlite_cli(args: &[&str]) -> String {
    let out = sqlite_command().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "osa-inventory-sqlite {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn steady_state(case: &str) -> String {
    std::fs::read_to_string(reference_case(case).join("steady_state.json")).unwrap()
}

#[test]
fn sqlite_output_is_the_json_backends_for_every_reference_case() {
    for case in reference_cases() {
        // An inventory already stored (upstream's steady state): JSON file vs. SQLite.
        let json = Deployment::from_case(&case);
        json.write("openstack_inventory.json", &steady_state(&case));
        let from_json = json.ok(&[]);

        let plugin = Installed::sqlite();
        let db = plugin.path("inventory.sqlite");
        let ini = plugin.osa_ini("sqlite", &[("database", db.to_str().unwrap())]);
        let seed = plugin.path("seed.json");
        std::fs::write(&seed, steady_state(&case)).unwrap();
        sqlite_cli(&["import", db.to_str().unwrap(), seed.to_str().unwrap()]);
        let d = Deployment::from_case(&case);
        let from_sqlite = ok_with(&d, &ini);
        assert!(
            from_sqlite == from_json,
            "{case}: SQLite output differs from JSON's"
        );
        assert_eq!(revisions(&db), 1, "{case}: a run wrote to the database");
        assert!(
            d.inventory_text().is_none(),
            "{case}: the JSON file was written"
        );

        // A fresh deployment: the first run stores, the second writes nothing, and the
        // JSON backend given what SQLite stored prints exactly the same.
        let plugin = Installed::sqlite();
        let db = plugin.path("inventory.sqlite");
        let ini = plugin.osa_ini("sqlite", &[("database", db.to_str().unwrap())]);
        let d = Deployment::from_case(&case);
        let first = ok_with(&d, &ini);
        assert_eq!(revisions(&db), 1, "{case}");
        assert!(
            sqlite_cli(&["show", db.to_str().unwrap()]) == first,
            "{case}: stored text"
        );
        let before = std::fs::read(&db).unwrap();
        let second = ok_with(&d, &ini);
        assert!(second == first, "{case}: the second run differs");
        assert_eq!(revisions(&db), 1, "{case}: the second run wrote");
        assert!(
            std::fs::read(&db).unwrap() == before,
            "{case}: the database changed"
        );

        let json = Deployment::from_case(&case);
        json.write("openstack_inventory.json", &first);
        assert!(
            json.ok(&[]) == first,
            "{case}: JSON output differs from SQLite's"
        );
        assert!(json.inventory_text().unwrap() == first, "{case}");
    }
}

#[test]
fn sqlite_keeps_a_history_that_can_be_restored() {
    let plugin = Installed::sqlite();
    let db = plugin.path("inventory.sqlite");
    let db_s = db.to_str().unwrap();
    let ini = plugin.osa_ini("sqlite", &[("database", db_s)]);
    let d = Deployment::with_config(&small_config(""));
    let first = ok_with(&d, &ini);
    d.write_config(&small_config(
        "haproxy_hosts:\n  lb1:\n    ip: 172.29.236.41\n",
    ));
    let second = ok_with(&d, &ini);
    assert_ne!(first, second);

    let history = sqlite_cli(&["history", db_s]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 3, "{history}");
    assert!(lines[1].contains("first inventory: "), "{history}");
    assert!(lines[2].contains("1 host added (lb1)"), "{history}");
    assert!(lines[2].contains("groups changed"), "{history}");

    // Back to the first version, and to the first configuration: nothing more to write.
    assert_eq!(
        sqlite_cli(&["restore", db_s, "1"]),
        "stored as revision 3: restored revision 1\n"
    );
    assert_eq!(sqlite_cli(&["show", db_s]), first);
    assert_eq!(sqlite_cli(&["show", db_s, "2"]), second);
    d.write_config(&small_config(""));
    assert_eq!(ok_with(&d, &ini), first);
    assert_eq!(revisions(&db), 3);
}

/// Stores through `ini` (a file-storing plugin at `store`), then checks that a second run
/// prints the same and leaves the file alone, and that a stored upstream inventory comes
/// back byte for byte.
fn round_trip(ini: &Path, store: &Path) {
    let d = Deployment::with_config(&small_config(""));
    let first = ok_with(&d, ini);
    assert!(std::fs::read_to_string(store).unwrap() == first);
    let inode = std::fs::metadata(store).unwrap().ino();
    let second = ok_with(&d, ini);
    assert!(second == first, "the second run differs");
    assert_eq!(std::fs::metadata(store).unwrap().ino(), inode, "rewritten");

    for case in reference_cases() {
        let expected = steady_state(&case);
        std::fs::write(store, &expected).unwrap();
        let inode = std::fs::metadata(store).unwrap().ino();
        let d = Deployment::from_case(&case);
        assert!(ok_with(&d, ini) == expected, "{case}: output differs");
        assert!(
            std::fs::read_to_string(store).unwrap() == expected,
            "{case}"
        );
        assert_eq!(
            std::fs::metadata(store).unwrap().ino(),
            inode,
            "{case}: rewritten"
        );
    }
}

#[test]
fn the_c_example_round_trips_an_inventory() {
    let plugin = Installed::compile("c-example/osa_inventory_file.c");
    let store = plugin.path("inventory.json");
    let ini = plugin.osa_ini("file", &[("path", store.to_str().unwrap())]);
    round_trip(&ini, &store);
}

#[test]
fn the_rust_example_round_trips_an_inventory() {
    let plugin = Installed::copy(&rust_library("osa_inventory_rust_example"));
    let store = plugin.path("inventory.json");
    let ini = plugin.osa_ini("file", &[("path", store.to_str().unwrap())]);
    round_trip(&ini, &store);
}

/// A deployment whose stored inventory is out of date (so a run would write), and the
/// bytes of that inventory.
fn outdated(store: &Path) -> (Deployment, Vec<u8>) {
    let d = Deployment::with_config(&small_config(""));
    let text = d.ok(&[]);
    std::fs::write(store, &text).unwrap();
    d.write_config(&small_config(
        "haproxy_hosts:\n  lb1:\n    ip: 172.29.236.41\n",
    ));
    (d, text.into_bytes())
}

/// Runs with `ini`, expects exit 1, nothing on stdout, one line on stderr, `store`
/// unchanged; returns the line.
fn refused(d: &Deployment, ini: &Path, store: &Path) -> String {
    let before = std::fs::read(store).ok();
    let json_before = d.inventory_text();
    let out = run_with(d, ini, &[]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        std::fs::read(store).ok(),
        before,
        "the store was touched: {stderr}"
    );
    assert_eq!(d.inventory_text(), json_before, "the JSON file was touched");
    stderr.trim_end().to_string()
}

#[test]
fn every_broken_plugin_is_refused_with_its_own_message() {
    let mut messages = HashSet::new();
    let mut check = |message: String, expected: &[&str]| {
        for part in expected {
            assert!(message.contains(part), "{part:?} not in: {message}");
        }
        assert!(
            messages.insert(message.clone()),
            "same message twice: {message}"
        );
    };

    // The C fixtures: they store nothing; the JSON file of the deployment stays as it is.
    let scratch = private_dir();
    let store = scratch.path().join("unused");
    let (d, _) = outdated(&store);
    for (source, expected) in [
        (
            "fixtures/abi_newer_major.c",
            &[
                "broken backend: plugin library ",
                "implements plugin ABI 3.0, but this program implements ABI 2.",
                "(a newer major version: upgrade this program, or use a build of the plugin \
                 for ABI 2)",
            ][..],
        ),
        (
            "fixtures/abi_1.c",
            &[
                "was built for plugin ABI 1, which this program no longer loads: rebuild it \
                 against plugin ABI 2",
            ][..],
        ),
        (
            "fixtures/abi_requires_newer_host.c",
            &[
                "requires a host of ABI 2.",
                "but this program implements ABI 2.",
            ][..],
        ),
        (
            "fixtures/missing_function.c",
            &["'s table has no write, which plugin ABI 2.0 requires"][..],
        ),
        (
            "fixtures/not_utf8.c",
            &["returned an inventory that is not valid UTF-8 (at byte 9)"][..],
        ),
    ] {
        let plugin = Installed::compile(source);
        let ini = plugin.osa_ini("broken", &[]);
        let message = refused(&d, &ini, &store);
        assert!(
            message.contains(&plugin.library.display().to_string()),
            "{message}"
        );
        check(message, expected);
    }

    // Invalid JSON: the program's own message, naming the plugin as the location.
    let plugin = Installed::compile("fixtures/invalid_json.c");
    let ini = plugin.osa_ini("broken", &[]);
    let message = refused(&d, &ini, &store);
    check(
        message,
        &[&format!(
            "plugin {}: the stored inventory cannot be used: not valid JSON",
            plugin.library.display()
        )],
    );

    // Not a library, no library, a library others may replace.
    let plugin = Installed::compile("fixtures/invalid_json.c");
    std::fs::write(&plugin.library, "not a library\n").unwrap();
    let ini = plugin.osa_ini("broken", &[]);
    check(
        refused(&d, &ini, &store),
        &["broken backend: cannot load plugin library "],
    );
    std::fs::remove_file(&plugin.library).unwrap();
    check(
        refused(&d, &ini, &store),
        &[&format!(
            "broken backend: plugin library {} does not exist",
            plugin.library.display()
        )],
    );
    let plugin = Installed::compile("fixtures/invalid_json.c");
    std::fs::set_permissions(&plugin.library, std::fs::Permissions::from_mode(0o775)).unwrap();
    let ini = plugin.osa_ini("broken", &[]);
    check(
        refused(&d, &ini, &store),
        &[&format!(
            "broken backend: refusing to load plugin library {}: it is writable by users \
             other than its owner (mode 0775",
            plugin.library.display()
        )],
    );

    // A Rust plugin panicking in each call: an error, never a crash, and its store intact.
    let faulty = Installed::copy(&rust_library("osa_inventory_fixture_faulty"));
    let store = faulty.path("inventory.json");
    let (d, stored) = outdated(&store);
    for (call, expected) in [
        (
            "register",
            "faulty backend: the plugin panicked in open: deliberate panic in register (at ",
        ),
        (
            "load",
            "faulty backend: the plugin panicked in load: deliberate panic in load (at ",
        ),
        (
            "write",
            "faulty backend: the plugin panicked in write: deliberate panic in write (at ",
        ),
        (
            "location",
            "faulty backend: this plugin instance can no longer be used: the plugin panicked \
             in location: deliberate panic in location (at ",
        ),
    ] {
        let ini = faulty.osa_ini(
            "faulty",
            &[("file", store.to_str().unwrap()), ("panic_in", call)],
        );
        check(refused(&d, &ini, &store), &[expected]);
        assert_eq!(std::fs::read(&store).unwrap(), stored);
    }

    // Errors the example plugins report: bad settings, a failed load, a failed write.
    let plugin = Installed::compile("c-example/osa_inventory_file.c");
    let store = plugin.path("inventory.json");
    let (d, _) = outdated(&store);
    let ini = plugin.osa_ini("file", &[]);
    check(
        refused(&d, &ini, &store),
        &["file backend: setting 'path' is required: the file holding the inventory"],
    );
    let ini = plugin.osa_ini("file", &[("path", plugin.dir.path().to_str().unwrap())]);
    check(
        refused(&d, &ini, &store),
        &[&format!(
            "file backend: cannot read {}: Is a directory",
            plugin.dir.path().display()
        )],
    );
    let missing = plugin.path("missing/inventory.json");
    let ini = plugin.osa_ini("file", &[("path", missing.to_str().unwrap())]);
    check(
        refused(&d, &ini, &missing),
        &[&format!(
            "file backend: cannot write {}.tmp: No such file or directory",
            missing.display()
        )],
    );

    // The SQLite plugin given a file that is not a database: refused, the file intact.
    let plugin = Installed::sqlite();
    let db = plugin.path("inventory.sqlite");
    std::fs::write(&db, "not a database ".repeat(100)).unwrap();
    let ini = plugin.osa_ini("sqlite", &[("database", db.to_str().unwrap())]);
    check(
        refused(&d, &ini, &db),
        &[&format!(
            "sqlite backend: cannot lock database {}: file is not a database",
            db.display()
        )],
    );
    let ini = plugin.osa_ini(
        "sqlite",
        &[("database", db.to_str().unwrap()), ("cache", "1")],
    );
    check(
        refused(&d, &ini, &db),
        &["sqlite backend: unknown setting 'cache' (known: database, lock_timeout)"],
    );
}

#[test]
fn a_plugin_that_aborts_the_process_leaves_the_stored_inventory_intact() {
    let faulty = Installed::copy(&rust_library("osa_inventory_fixture_faulty"));
    let store = faulty.path("inventory.json");
    let (d, stored) = outdated(&store);
    for call in ["load", "write"] {
        let ini = faulty.osa_ini(
            "faulty",
            &[("file", store.to_str().unwrap()), ("abort_in", call)],
        );
        let out = run_with(&d, &ini, &[]);
        assert!(!out.status.success(), "{call}");
        assert!(out.stdout.is_empty(), "{call}");
        assert_eq!(std::fs::read(&store).unwrap(), stored, "{call}");
    }
    // The same plugin, behaving, then writes.
    let ini = faulty.osa_ini("faulty", &[("file", store.to_str().unwrap())]);
    let out = ok_with(&d, &ini);
    assert_eq!(std::fs::read_to_string(&store).unwrap(), out);
}

#[test]
fn an_interrupted_sqlite_run_leaves_the_database_as_it_was() {
    // `--check` loads (starting the transaction) and never writes: the transaction is
    // abandoned when the plugin is closed, and the database keeps its bytes.
    let plugin = Installed::sqlite();
    let db = plugin.path("inventory.sqlite");
    let ini = plugin.osa_ini("sqlite", &[("database", db.to_str().unwrap())]);
    let d = Deployment::with_config(&small_config(""));
    ok_with(&d, &ini);
    let before = std::fs::read(&db).unwrap();
    d.write_config(&small_config(
        "haproxy_hosts:\n  lb1:\n    ip: 172.29.236.41\n",
    ));
    let out = run_with(&d, &ini, &["--check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert_eq!(revisions(&db), 1);
}

#[test]
fn the_guide_shows_the_examples_as_they_are() {
    let guide = std::fs::read_to_string(workspace().join("docs/plugins.md")).unwrap();
    for example in [
        "backends/plugins/c-example/osa_inventory_file.c",
        "backends/plugins/rust-example/src/lib.rs",
    ] {
        let text = std::fs::read_to_string(workspace().join(example)).unwrap();
        assert!(
            guide.contains(&text),
            "docs/plugins.md does not show {example} as it is"
        );
    }
}

/// Runs with `--debug` and returns what the run added to `inventory.log` (in the
/// deployment's directory, the working directory of the run), and the output.
fn debug_run(d: &Deployment, ini: &Path, args: &[&str]) -> (String, Output) {
    let log = d.path().join("inventory.log");
    let _ = std::fs::remove_file(&log);
    let mut all = vec!["--debug"];
    all.extend_from_slice(args);
    let out = run_with(d, ini, &all);
    (std::fs::read_to_string(&log).unwrap_or_default(), out)
}

#[test]
fn plugin_log_lines_go_to_the_debug_log_with_the_backends_name() {
    // What the probe receives, as it logs it: the settings as pairs, the lock timeout.
    let probe = Installed::compile("fixtures/probe.c");
    let ini = probe.osa_ini(
        "probe",
        &[
            ("colour", "red ; a comment"),
            ("lock_timeout", "42"),
            ("path", "/srv/a b/\"c\""),
        ],
    );
    let d = Deployment::with_config(&small_config(""));
    let (log, out) = debug_run(&d, &ini, &[]);
    // The probe stores nothing: the run fails at the write, after everything was logged.
    assert_eq!(out.status.code(), Some(1));
    for line in [
        "dynamic-inventory: probe backend: debug: 2 settings\n",
        "dynamic-inventory: probe backend: info: setting colour = red\n",
        "dynamic-inventory: probe backend: info: setting path = /srv/a b/\"c\"\n",
        "dynamic-inventory: probe backend: warning: lock timeout 42 s\n",
        "dynamic-inventory: probe backend: error: debug lines kept: 1\n",
        "dynamic-inventory: probe backend: info: two\\nlines\n",
        "dynamic-inventory: probe backend: debug: load\n",
        "dynamic-inventory: probe backend: debug: write\n",
        "dynamic-inventory: probe backend: debug: close\n",
    ] {
        assert!(log.contains(line), "{line:?} not in:\n{log}");
    }
    // Without --debug, nothing is written anywhere.
    std::fs::remove_file(d.path().join("inventory.log")).unwrap();
    let out = run_with(&d, &ini, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!d.path().join("inventory.log").exists());
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);

    // The examples and the SQLite plugin say what they stored.
    let c = Installed::compile("c-example/osa_inventory_file.c");
    let store = c.path("inventory.json");
    let ini = c.osa_ini("cfile", &[("path", store.to_str().unwrap())]);
    let (log, out) = debug_run(&d, &ini, &[]);
    assert!(out.status.success());
    let line = format!(
        "dynamic-inventory: cfile backend: info: wrote {} bytes to {}\n",
        out.stdout.len(),
        store.display()
    );
    assert!(log.contains(&line), "{line:?} not in:\n{log}");

    let rust = Installed::copy(&rust_library("osa_inventory_rust_example"));
    let store = rust.path("inventory.json");
    let ini = rust.osa_ini("rfile", &[("path", store.to_str().unwrap())]);
    let (log, out) = debug_run(&d, &ini, &[]);
    assert!(out.status.success());
    let line = format!(
        "dynamic-inventory: rfile backend: info: wrote {} bytes to {}\n",
        out.stdout.len(),
        store.display()
    );
    assert!(log.contains(&line), "{line:?} not in:\n{log}");

    let sqlite = Installed::sqlite();
    let db = sqlite.path("inventory.sqlite");
    let ini = sqlite.osa_ini(
        "sqlite",
        &[("database", db.to_str().unwrap()), ("lock_timeout", "7")],
    );
    let (log, out) = debug_run(&d, &ini, &[]);
    assert!(out.status.success());
    for line in [
        format!(
            "dynamic-inventory: sqlite backend: debug: opened database {} (waiting at most 7 s \
             for another run's lock)\n",
            db.display()
        ),
        "dynamic-inventory: sqlite backend: info: stored revision 1: first inventory: ".to_string(),
    ] {
        assert!(log.contains(&line), "{line:?} not in:\n{log}");
    }
}

#[test]
fn plugins_of_an_older_and_a_newer_minor_version_work() {
    let d = Deployment::with_config(&small_config(""));
    // --check loads for reading: the 2.0 plugin has no load_for_reading (the host must
    // call load, and not what lies past its table); the newer one has (and it calls the
    // fixture's load).
    for (source, calls) in [
        ("fixtures/abi_older_minor.c", &["load"][..]),
        (
            "fixtures/abi_newer_minor.c",
            &["load_for_reading", "load"][..],
        ),
    ] {
        let plugin = Installed::compile(source);
        let ini = plugin.osa_ini("minor", &[]);
        let (log, out) = debug_run(&d, &ini, &["--check"]);
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"Configuration ok!\n");
        let found: Vec<&str> = log
            .lines()
            .filter_map(|l| l.strip_prefix("dynamic-inventory: minor backend: debug: "))
            .filter(|l| l.starts_with("load"))
            .collect();
        assert_eq!(found, calls, "{source}:\n{log}");
    }
}

/// Holds SQLite's RESERVED lock on `db` (the lock `BEGIN IMMEDIATE` takes) as another
/// process would: a POSIX write lock on the byte after SQLite's pending byte
/// (0x40000000), as SQLite's Unix VFS documents its locking. POSIX locks are the
/// process's, and closing any descriptor of the file releases them: the test must not
/// open the database while it holds this.
struct SqliteWriterLock {
    _file: std::fs::File,
}

impl SqliteWriterLock {
    fn hold(db: &Path) -> SqliteWriterLock {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(db)
            .unwrap();
        // SAFETY: a zeroed `flock` is a valid value, filled in below.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = 0x4000_0001;
        lock.l_len = 1;
        // SAFETY: an open descriptor and a valid `flock`.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        SqliteWriterLock { _file: file }
    }
}

#[test]
fn the_lock_timeout_of_osa_ini_reaches_the_sqlite_plugin() {
    let plugin = Installed::sqlite();
    let db = plugin.path("inventory.sqlite");
    let d = Deployment::with_config(&small_config(""));
    let ini = plugin.osa_ini("sqlite", &[("database", db.to_str().unwrap())]);
    ok_with(&d, &ini);
    d.write_config(&small_config(
        "haproxy_hosts:\n  lb1:\n    ip: 172.29.236.41\n",
    ));
    let held = SqliteWriterLock::hold(&db);
    let untouched = plugin.path("not-the-database");
    for seconds in [0, 2] {
        let ini = plugin.osa_ini(
            "sqlite",
            &[
                ("database", db.to_str().unwrap()),
                ("lock_timeout", &seconds.to_string()),
            ],
        );
        let started = std::time::Instant::now();
        let message = refused(&d, &ini, &untouched);
        let waited = started.elapsed().as_secs_f64();
        assert_eq!(
            message,
            format!(
                "sqlite backend: cannot lock database {}: another program kept it locked for \
                 more than {seconds} seconds (setting lock_timeout)",
                db.display()
            )
        );
        assert!(
            waited >= f64::from(seconds) && waited < f64::from(seconds) + 30.0,
            "waited {waited} s with lock_timeout = {seconds}"
        );
    }
    drop(held);
    assert!(ok_with(&d, &ini).contains("lb1"));
    assert_eq!(revisions(&db), 2);
}
