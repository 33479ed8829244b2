//! The SQLite storage plugin: every action works through it as through the JSON file,
//! and `migrate` moves an inventory from the JSON file to SQLite and back byte for byte,
//! leaving the source untouched.
//!
//! The plugin is built here with `cargo build` into its own target directory
//! (`target/plugin-tests`, shared with dynamic-inventory's plugin tests, so as not to
//! wait on the lock of the `cargo test` running us), once per test binary. Each test
//! installs a private copy (directory 0700, library 0755), which the host's permission
//! check accepts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::plugin_build;
use crate::support::*;

/// The SQLite plugin and its command, built once: their output directory.
fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| plugin_build::build("plugin-tests", false, &["osa-inventory-sqlite"]))
}

/// A deployment with the prod inventory in its JSON file, and the SQLite plugin
/// installed beside an `osa.ini` with sections `json` (that file, active), `sqlite`, and
/// `restored` (another JSON directory).
struct Setup {
    site: Site,
    private: tempfile::TempDir,
    restored: tempfile::TempDir,
    ini: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let site = Site::prod();
        let private = plugin_build::private_dir();
        let library = plugin_build::install(
            &built().join(plugin_build::library_name("osa_inventory_sqlite")),
            private.path(),
        );
        let restored = tempfile::tempdir().unwrap();
        let ini = private.path().join("osa.ini");
        let setup = Setup {
            site,
            private,
            restored,
            ini,
        };
        std::fs::write(
            &setup.ini,
            format!(
                "[storage]\nbackend = json\n\n\
                 [json]\ntype = json\ndirectory = {}\n\n\
                 [sqlite]\ntype = plugin\nlibrary = {}\ndatabase = {}\n\n\
                 [restored]\ntype = json\ndirectory = {}\n",
                setup.site.path().display(),
                library.display(),
                setup.database().display(),
                setup.restored.path().display(),
            ),
        )
        .unwrap();
        setup
    }

    fn database(&self) -> PathBuf {
        self.private.path().join("inventory.sqlite")
    }

    /// How the plugin host names the SQLite store in messages: as the plugin does.
    fn location(&self) -> String {
        self.database().display().to_string()
    }

    /// The installed SQLite plugin.
    fn library(&self) -> PathBuf {
        self.private
            .path()
            .join(plugin_build::library_name("osa_inventory_sqlite"))
    }

    /// Adds `sections` to the osa.ini.
    fn add_sections(&self, sections: &str) {
        let mut text = std::fs::read_to_string(&self.ini).unwrap();
        text.push_str(sections);
        std::fs::write(&self.ini, text).unwrap();
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.site.with_ini(&self.ini).args(args).output().unwrap();
        ok(out)
    }

    /// Runs with this osa.ini, expecting exit status 1; returns standard error.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.site.with_ini(&self.ini).args(args).output().unwrap();
        failed(out, 1)
    }

    /// The SQLite plugin's own tool.
    fn sqlite_tool(&self, args: &[&str]) -> String {
        let out = Command::new(built().join("osa-inventory-sqlite"))
            .args(args)
            .arg(self.database())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn revisions(&self) -> usize {
        self.sqlite_tool(&["history"]).lines().count() - 1
    }

    fn stored_in_sqlite(&self) -> String {
        self.sqlite_tool(&["show"])
    }
}

#[test]
fn migrating_to_sqlite_and_back_is_byte_identical() {
    let s = Setup::new();
    let original = steady_state("prod");
    let db = s.location();
    let json = s.site.file(INVENTORY).display().to_string();

    // JSON file (the active backend) -> SQLite.
    assert_eq!(
        s.ok(&["migrate", "--to", "sqlite"]),
        format!("Copied the inventory from {json} (json backend) to {db} (sqlite backend)\n")
    );
    assert_eq!(s.stored_in_sqlite(), original);
    assert_eq!(s.revisions(), 1);
    // The source is untouched: same bytes, no backup.
    assert_eq!(s.site.inventory_text().unwrap(), original);
    assert!(s.site.backups().is_empty());

    // SQLite -> another JSON directory.
    let restored = s.restored.path().join(INVENTORY).display().to_string();
    assert_eq!(
        s.ok(&["migrate", "--from", "sqlite", "--to", "restored"]),
        format!(
            "Copied the inventory from {db} (sqlite backend) to {restored} (restored backend)\n"
        )
    );
    assert_eq!(std::fs::read_to_string(&restored).unwrap(), original);
    assert_eq!(s.revisions(), 1);
    // The destination was empty: nothing to back up.
    assert!(backups_in(s.restored.path()).is_empty());

    // Again: the destination already holds the very same inventory.
    assert_eq!(
        s.ok(&["migrate", "--to", "sqlite"]),
        format!("{db} (sqlite backend) already holds this inventory; nothing was written\n")
    );
    assert_eq!(s.revisions(), 1);
}

#[test]
fn migrate_replaces_an_inventory_only_when_forced() {
    let s = Setup::new();
    s.ok(&["migrate", "--to", "sqlite"]);
    s.ok(&["-r", "net1"]);
    let changed = s.site.inventory_text().unwrap();
    assert_ne!(changed, steady_state("prod"));

    assert_eq!(
        s.fails(&["migrate", "--to", "sqlite"]),
        format!(
            "{} (sqlite backend) already holds an inventory; nothing was written \
             (use --force to replace it)\n",
            s.location()
        )
    );
    assert_eq!(s.revisions(), 1);

    s.ok(&["migrate", "--to", "sqlite", "--force"]);
    assert_eq!(s.revisions(), 2);
    assert_eq!(s.stored_in_sqlite(), changed);

    // Forced into a JSON file: the JSON backend keeps the file it replaced.
    std::fs::write(s.restored.path().join(INVENTORY), steady_state("test")).unwrap();
    s.ok(&["migrate", "--from", "sqlite", "--to", "restored", "--force"]);
    assert_eq!(
        std::fs::read_to_string(s.restored.path().join(INVENTORY)).unwrap(),
        changed
    );
    let backups = backups_in(s.restored.path());
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].1, steady_state("test"));
}

#[test]
fn migrate_takes_its_source_from_file_or_backend() {
    let s = Setup::new();
    // A file of any name, e.g. one taken out of the backup archive.
    s.site.write("old.json", &steady_state("test"));
    s.ok(&["-f", "old.json", "migrate", "--to", "sqlite"]);
    assert_eq!(s.stored_in_sqlite(), steady_state("test"));
    s.ok(&["--backend", "sqlite", "migrate", "--to", "restored"]);
    assert_eq!(
        std::fs::read_to_string(s.restored.path().join(INVENTORY)).unwrap(),
        steady_state("test")
    );
}

#[test]
fn every_action_works_on_the_sqlite_backend() {
    let s = Setup::new();
    s.ok(&["migrate", "--to", "sqlite"]);
    for args in READING_ACTIONS {
        let mut through_sqlite = vec!["--backend", "sqlite"];
        through_sqlite.extend_from_slice(args);
        assert_eq!(s.ok(&through_sqlite), s.ok(args), "{args:?}");
    }
    assert_eq!(s.revisions(), 1);

    // A change is one new revision holding what the JSON backend would hold.
    s.ok(&[
        "--backend",
        "sqlite",
        "-r",
        "infra2-utility-container-19afcd5e",
    ]);
    s.ok(&["-r", "infra2-utility-container-19afcd5e"]);
    assert_eq!(s.revisions(), 2);
    assert_eq!(s.stored_in_sqlite(), s.site.inventory_text().unwrap());
    s.ok(&["--backend", "sqlite", "--clear-ips"]);
    s.ok(&["--clear-ips"]);
    assert_eq!(s.revisions(), 3);
    assert_eq!(s.stored_in_sqlite(), s.site.inventory_text().unwrap());

    // An unknown host changes nothing there either.
    let out = s
        .site
        .with_ini(&s.ini)
        .args(["--backend", "sqlite", "-r", "nope"])
        .output()
        .unwrap();
    assert_eq!(
        failed(out, 1),
        format!(
            "no host nope in the inventory ({}); nothing was changed\n",
            s.location()
        )
    );
    assert_eq!(s.revisions(), 3);
}

/// `migrate` between two names of one store must be refused before either is loaded:
/// loading the second would wait for the lock the first holds (lock_timeout, here 2 s,
/// and the message would be another).
fn refused_as_the_same_store(s: &Setup, from: &str, to: &str, shown: &str) {
    let started = std::time::Instant::now();
    assert_eq!(
        s.fails(&["migrate", "--from", from, "--to", to]),
        format!(
            "the source and the destination are the same store ({shown}): nothing to migrate\n"
        ),
        "--from {from} --to {to}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn migrating_a_plugin_store_onto_itself_is_refused_however_its_path_is_written() {
    let s = Setup::new();
    s.ok(&["migrate", "--to", "sqlite"]);
    let dir = s.private.path().display().to_string();
    std::fs::create_dir(s.private.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(s.private.path(), s.private.path().join("link")).unwrap();
    let variants = [
        format!("{dir}/./inventory.sqlite"),
        format!("{dir}/sub/../inventory.sqlite"),
        format!("{dir}/link/inventory.sqlite"),
        format!("{dir}/link/./sub/../inventory.sqlite"),
    ];
    let mut sections = String::new();
    for (i, database) in variants.iter().enumerate() {
        sections.push_str(&format!(
            "\n[same{i}]\ntype = plugin\nlibrary = {}\ndatabase = {database}\nlock_timeout = 2\n",
            s.library().display()
        ));
    }
    s.add_sections(&sections);
    for (i, database) in variants.iter().enumerate() {
        let same = format!("same{i}");
        refused_as_the_same_store(&s, "sqlite", &same, database);
        refused_as_the_same_store(&s, &same, "sqlite", &s.location());
    }
    assert_eq!(s.revisions(), 1);

    // A database that does not exist yet is compared as it will be.
    s.add_sections(&format!(
        "\n[new1]\ntype = plugin\nlibrary = {lib}\ndatabase = {dir}/new.sqlite\n\
         \n[new2]\ntype = plugin\nlibrary = {lib}\ndatabase = {dir}/sub/./../new.sqlite\n",
        lib = s.library().display()
    ));
    s.ok(&["migrate", "--to", "new1"]);
    refused_as_the_same_store(&s, "new1", "new2", &format!("{dir}/sub/./../new.sqlite"));
}

#[test]
fn a_plugin_keeping_the_json_file_is_the_same_store_as_the_json_backend() {
    // The C example plugin stores a file: pointed at the JSON backend's own file.
    let s = Setup::new();
    let library = s.private.path().join("libosa_inventory_file.so");
    let out = Command::new("cc")
        .args([
            "-std=c11", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(&library)
        .arg("-I")
        .arg(plugin_build::workspace().join("backends/backend/include"))
        .arg(plugin_build::workspace().join("backends/plugins/c-example/osa_inventory_file.c"))
        .output()
        .expect("cc (a C compiler) must be installed to test plugins");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = format!("{}/./{INVENTORY}", s.site.path().display());
    s.add_sections(&format!(
        "\n[file]\ntype = plugin\nlibrary = {}\npath = {written}\n",
        library.display()
    ));
    refused_as_the_same_store(&s, "json", "file", &written);
    refused_as_the_same_store(
        &s,
        "file",
        "json",
        &s.site.file(INVENTORY).display().to_string(),
    );
    assert_eq!(s.site.inventory_text().unwrap(), steady_state("prod"));
}

/// The SQLite plugin stores strict JSON: an upstream inventory holding `NaN` (which the
/// JSON file keeps, see docs/compatibility.md) is refused, with the reason, and nothing is
/// written on either side.
#[test]
fn an_inventory_holding_nan_is_refused_by_the_sqlite_plugin() {
    let s = Setup::new();
    let upstream = steady_state("prod").replacen(
        "    \"_meta\": {\n        \"hostvars\": {\n",
        "    \"_meta\": {\n        \"hostvars\": {\n            \"aa_nan_host\": {\n                \"x\": NaN\n            },\n",
        1,
    );
    assert_ne!(upstream, steady_state("prod"));
    s.site.write(INVENTORY, &upstream);
    let err = s.fails(&["migrate", "--to", "sqlite"]);
    assert!(
        err.contains("refusing to store an inventory that is not valid JSON"),
        "{err}"
    );
    assert_eq!(s.site.inventory_text().unwrap(), upstream);
    assert_eq!(s.revisions(), 0);
}
