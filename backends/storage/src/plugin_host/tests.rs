//! The host against real shared libraries: the C example plugin and the
//! broken C fixtures, compiled here with `cc`.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// A compiled plugin in its own private directory (mode 0700, library 0755).
struct Built {
    dir: tempfile::TempDir,
    library: PathBuf,
}

/// Compiles C `source` into a shared library.
fn build_c_source(source: &str) -> Built {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let src = dir.path().join("plugin.c");
    fs::write(&src, source).unwrap();
    let library = dir.path().join("libplugin.so");
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&library)
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/include"))
        .arg("-I")
        .arg(plugins_dir().join("fixtures"))
        .arg("-I")
        .arg(plugins_dir().join("c-example"))
        .arg(&src)
        .output()
        .expect("cc (a C compiler) must be installed to test plugins");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::set_permissions(&library, fs::Permissions::from_mode(0o755)).unwrap();
    Built { dir, library }
}

/// Compiles a file of `backends/plugins/` (by including it).
fn build_c(relative: &str) -> Built {
    let path = plugins_dir().join(relative);
    assert!(path.exists(), "{}", path.display());
    build_c_source(&format!("#include \"{}\"\n", path.display()))
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn open_err(library: &Path) -> String {
    PluginBackend::open(library).unwrap_err().to_string()
}

fn registered(built: &Built, pairs: &[(&str, &str)]) -> PluginBackend {
    let mut b = PluginBackend::open(&built.library).unwrap();
    b.register(&settings(pairs)).unwrap();
    b
}

#[test]
fn the_c_example_round_trips_an_inventory() {
    let built = build_c("c-example/osa_inventory_file.c");
    let store = built.dir.path().join("inventory.json");
    let store_s = store.to_str().unwrap();
    let mut b = registered(&built, &[("path", store_s)]);
    assert_eq!(
        b.location(),
        format!("{store_s} (plugin {})", built.library.display())
    );
    assert_eq!(b.load().unwrap(), None);
    let text = "{\n    \"all\": {\"hosts\": [\"é\"]}\n}\n";
    b.write(text).unwrap();
    assert_eq!(fs::read_to_string(&store).unwrap(), text);
    assert_eq!(b.load().unwrap().as_deref(), Some(text));
    // A second instance of the same library, at the same time.
    let mut other = registered(&built, &[("path", store_s)]);
    assert_eq!(other.load().unwrap().as_deref(), Some(text));
    drop(other);
    b.write("{}").unwrap();
    assert_eq!(b.load().unwrap().as_deref(), Some("{}"));
}

#[test]
fn settings_reach_the_plugin_intact() {
    let built = build_c("c-example/osa_inventory_file.c");
    let sub = built.dir.path().join("a \"quoted\" \\ dir é 🦀\tx");
    fs::create_dir(&sub).unwrap();
    let store = sub.join("inv.json");
    let mut b = registered(&built, &[("path", store.to_str().unwrap())]);
    b.write("{}").unwrap();
    assert_eq!(fs::read_to_string(&store).unwrap(), "{}");
}

#[test]
fn plugin_errors_come_through_verbatim() {
    let built = build_c("c-example/osa_inventory_file.c");
    let mut b = PluginBackend::open(&built.library).unwrap();
    assert_eq!(
        b.register(&Settings::new()).unwrap_err().to_string(),
        "setting 'path' is required: the file holding the inventory"
    );
    assert_eq!(
        b.register(&settings(&[("path", "/x"), ("colour", "red")]))
            .unwrap_err()
            .to_string(),
        "unknown setting 'colour' (known: path)"
    );
    // Unregistered: used anyway.
    let err = b.load().unwrap_err().to_string();
    assert!(
        err.contains("used before its settings were registered"),
        "{err}"
    );
    assert_eq!(b.location(), format!("plugin {}", built.library.display()));

    // load: the path is a directory.
    let dir = built.dir.path().to_str().unwrap();
    let mut b = registered(&built, &[("path", dir)]);
    assert_eq!(
        b.load().unwrap_err().to_string(),
        format!("cannot read {dir}: Is a directory")
    );
    // write: the directory does not exist.
    let missing = built.dir.path().join("missing/inv.json");
    let mut b = registered(&built, &[("path", missing.to_str().unwrap())]);
    assert_eq!(b.load().unwrap(), None);
    assert_eq!(
        b.write("{}").unwrap_err().to_string(),
        format!(
            "cannot write {}.tmp: No such file or directory",
            missing.display()
        )
    );
}

#[test]
fn a_missing_file_or_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libnone.so");
    assert_eq!(
        open_err(&missing),
        format!("plugin library {} does not exist", missing.display())
    );
    assert_eq!(
        open_err(dir.path()),
        format!("plugin library {} is not a file", dir.path().display())
    );
}

#[test]
fn a_file_that_is_not_a_shared_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let lib = dir.path().join("libtext.so");
    fs::write(&lib, "this is not a library, it is a text file\n").unwrap();
    fs::set_permissions(&lib, fs::Permissions::from_mode(0o644)).unwrap();
    let err = open_err(&lib);
    assert!(
        err.starts_with(&format!("cannot load plugin library {}: ", lib.display())),
        "{err}"
    );
    assert!(
        err.contains("invalid ELF header") || err.contains("too short"),
        "{err}"
    );
}

#[test]
fn a_library_that_is_no_plugin_is_refused() {
    let built = build_c_source("int something_else(void) { return 1; }\n");
    assert_eq!(
        open_err(&built.library),
        format!(
            "{} is not an inventory storage plugin: it does not export \
             osa_inventory_plugin_abi_version",
            built.library.display()
        )
    );
}

#[test]
fn another_abi_version_is_refused_naming_both() {
    let newer = build_c("fixtures/abi_newer.c");
    assert_eq!(
        open_err(&newer.library),
        format!(
            "plugin library {} implements plugin ABI version 2, but this program implements \
             ABI version 1 (newer than this program supports: upgrade this program, or use a \
             build of the plugin for ABI version 1)",
            newer.library.display()
        )
    );
    let older = build_c("fixtures/abi_older.c");
    assert_eq!(
        open_err(&older.library),
        format!(
            "plugin library {} implements plugin ABI version 0, but this program implements \
             ABI version 1 (older than this program supports: rebuild the plugin for ABI \
             version 1)",
            older.library.display()
        )
    );
}

#[test]
fn a_missing_symbol_is_named() {
    let built = build_c("fixtures/missing_symbol.c");
    assert_eq!(
        open_err(&built.library),
        format!(
            "plugin library {} does not export osa_inventory_plugin_write, which ABI version 1 \
             requires",
            built.library.display()
        )
    );
    let built = build_c_source(
        "#include <stdint.h>\nuint32_t osa_inventory_plugin_abi_version(void) { return 1; }\n",
    );
    assert_eq!(
        open_err(&built.library),
        format!(
            "plugin library {} does not export osa_inventory_plugin_open, \
             osa_inventory_plugin_load, osa_inventory_plugin_write, \
             osa_inventory_plugin_location, osa_inventory_plugin_close, \
             osa_inventory_plugin_free_buffer, which ABI version 1 requires",
            built.library.display()
        )
    );
}

#[test]
fn an_unresolvable_library_fails_at_load_not_mid_call() {
    let built = build_c_source(
        "#include \"fixture.h\"\nextern int osa_no_such_function(void);\n\
         int use_it(void) { return osa_no_such_function(); }\n",
    );
    let err = open_err(&built.library);
    assert!(
        err.starts_with(&format!(
            "cannot load plugin library {}: ",
            built.library.display()
        )),
        "{err}"
    );
    assert!(err.contains("osa_no_such_function"), "{err}");
}

#[test]
fn an_inventory_that_is_not_utf8_is_an_error_naming_the_library() {
    let built = build_c("fixtures/not_utf8.c");
    let mut b = registered(&built, &[]);
    assert_eq!(
        b.load().unwrap_err().to_string(),
        format!(
            "plugin library {} returned an inventory that is not valid UTF-8 (at byte 9)",
            built.library.display()
        )
    );
}

#[test]
fn invalid_json_is_handed_on_as_it_is() {
    // The host does not parse the inventory: the program reports it, naming location().
    let built = build_c("fixtures/invalid_json.c");
    let mut b = registered(&built, &[]);
    assert_eq!(
        b.load().unwrap().as_deref(),
        Some("{\"all\": {\"hosts\": [")
    );
    assert_eq!(b.location(), format!("plugin {}", built.library.display()));
}

#[test]
fn protocol_violations_are_errors_naming_the_library() {
    let built = build_c_source("#define FIXTURE_WRITE_CODE 7\n#include \"fixture.h\"\n");
    let mut b = registered(&built, &[]);
    assert_eq!(
        b.write("{}").unwrap_err().to_string(),
        format!(
            "plugin library {}: osa_inventory_plugin_write returned 7, which ABI version 1 \
             does not define",
            built.library.display()
        )
    );
    let built = build_c_source("#define FIXTURE_WRITE_CODE (-1)\n#include \"fixture.h\"\n");
    let mut b = registered(&built, &[]);
    assert_eq!(
        b.write("{}").unwrap_err().to_string(),
        format!(
            "plugin library {}: osa_inventory_plugin_write failed without saying why",
            built.library.display()
        )
    );
    let built = build_c_source("#define FIXTURE_NO_INSTANCE\n#include \"fixture.h\"\n");
    let mut b = PluginBackend::open(&built.library).unwrap();
    assert_eq!(
        b.register(&Settings::new()).unwrap_err().to_string(),
        format!(
            "plugin library {}: osa_inventory_plugin_open succeeded but returned no instance",
            built.library.display()
        )
    );
}

#[test]
fn a_library_others_can_write_is_refused() {
    let built = build_c("fixtures/invalid_json.c");
    let lib = &built.library;
    for mode in [0o775, 0o757, 0o777] {
        fs::set_permissions(lib, fs::Permissions::from_mode(mode)).unwrap();
        assert_eq!(
            open_err(lib),
            format!(
                "refusing to load plugin library {}: it is writable by users other than its \
                 owner (mode {mode:04o}; run chmod go-w {})",
                lib.display(),
                lib.display()
            )
        );
    }
    fs::set_permissions(lib, fs::Permissions::from_mode(0o755)).unwrap();
    let dir = built.dir.path();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(
        open_err(lib),
        format!(
            "refusing to load plugin library {}: its directory {} is writable by users other \
             than its owner (mode 0777; run chmod go-w {})",
            lib.display(),
            dir.display(),
            dir.display()
        )
    );
    // Sticky, as /tmp: others cannot rename or remove the library, which is ours.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)).unwrap();
    PluginBackend::open(lib).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o750)).unwrap();
    PluginBackend::open(lib).unwrap();
}

#[test]
fn every_directory_above_the_library_is_checked() {
    // /tmp/X/open/safe/lib.so: `open` is writable by anyone, two levels up.
    let built = build_c("fixtures/invalid_json.c");
    let open = built.dir.path().join("open");
    let safe = open.join("safe");
    fs::create_dir_all(&safe).unwrap();
    let lib = safe.join("libplugin.so");
    fs::copy(&built.library, &lib).unwrap();
    fs::set_permissions(&lib, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&safe, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(
        open_err(&lib),
        format!(
            "refusing to load plugin library {}: its directory {} is writable by users other \
             than its owner (mode 0777; run chmod go-w {})",
            lib.display(),
            open.display(),
            open.display()
        )
    );
    fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
    PluginBackend::open(&lib).unwrap();
}

#[test]
fn a_symlink_is_checked_where_it_points_too() {
    let built = build_c("fixtures/invalid_json.c");
    // A safe link to a library in an unsafe directory.
    let unsafe_dir = built.dir.path().join("shared");
    fs::create_dir(&unsafe_dir).unwrap();
    fs::set_permissions(&unsafe_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let real = unsafe_dir.join("libreal.so");
    fs::copy(&built.library, &real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o755)).unwrap();
    let link = built.dir.path().join("liblink.so");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = open_err(&link);
    assert!(
        err.contains(&format!(
            "its directory {} is writable",
            unsafe_dir.display()
        )),
        "{err}"
    );
}

#[test]
fn a_library_owned_by_another_user_is_refused() {
    if geteuid() != 0 {
        // Only root can give a file away; the rule is the same for everyone.
        return;
    }
    let built = build_c("fixtures/invalid_json.c");
    std::os::unix::fs::chown(&built.library, Some(4242), None).unwrap();
    assert_eq!(
        open_err(&built.library),
        format!(
            "refusing to load plugin library {}: it belongs to user 4242, who is neither root \
             nor the user running this program (user 0)",
            built.library.display()
        )
    );
}

#[test]
fn the_file_checked_is_the_file_loaded() {
    // Between the check and the load, another library takes the checked one's name (as
    // a rename or a directory swap would do): the checked file is still what is loaded.
    let good = build_c("fixtures/invalid_json.c");
    let other = build_c("fixtures/abi_newer.c");
    let file = open_checked(&good.library).unwrap();
    fs::rename(&other.library, &good.library).unwrap();
    let loaded = PluginBackend::load_checked(&good.library, file);
    assert!(loaded.is_ok(), "{:?}", loaded.err());
    // Loading by name now would get the other library, which is refused.
    assert!(open_err(&good.library).contains("implements plugin ABI version 2"));
}
