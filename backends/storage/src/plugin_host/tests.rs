//! The host against real shared libraries: the C example plugin and the C
//! fixtures (plugins of other ABI versions, broken ones, a probe logging what it
//! receives), compiled here with `cc`.

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
        .args([
            "-std=c11", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o",
        ])
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
    assert_eq!(b.location(), store_s);
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
             osa_inventory_plugin_init",
            built.library.display()
        )
    );
}

#[test]
fn a_library_of_abi_1_is_refused_with_how_to_rebuild_it() {
    let built = build_c("fixtures/abi_1.c");
    assert_eq!(
        open_err(&built.library),
        format!(
            "plugin library {} was built for plugin ABI 1, which this program no longer \
             loads: rebuild it against plugin ABI 2 (this program's osa_inventory_plugin.h, \
             or for a Rust plugin its inventory-backend crate; docs/plugins.md says what \
             changed)",
            built.library.display()
        )
    );
}

#[test]
fn another_major_version_is_refused_naming_both() {
    let newer = build_c("fixtures/abi_newer_major.c");
    assert_eq!(
        open_err(&newer.library),
        format!(
            "plugin library {} implements plugin ABI 3.0, but this program implements ABI \
             {host} (a newer major version: upgrade this program, or use a build of the \
             plugin for ABI 2)",
            newer.library.display(),
            host = version_text(ABI_VERSION),
        )
    );
    let older = build_c_source(
        "#define FIXTURE_ABI_VERSION OSA_INVENTORY_PLUGIN_ABI_VERSION_OF(1, 9)\n\
         #include \"fixture.h\"\n",
    );
    assert_eq!(
        open_err(&older.library),
        format!(
            "plugin library {} implements plugin ABI 1.9, but this program implements ABI \
             {host} (an older major version: rebuild the plugin against ABI 2)",
            older.library.display(),
            host = version_text(ABI_VERSION),
        )
    );
}

/// Registers the probe-like plugin `built` with a debug log; returns both.
fn logged(built: &Built, pairs: &[(&str, &str)]) -> (PluginBackend, DebugLog) {
    let log = DebugLog::new();
    let mut b = PluginBackend::open(&built.library)
        .unwrap()
        .named("probe")
        .logging_to(Some(log.clone()));
    b.register(&settings(pairs)).unwrap();
    (b, log)
}

#[test]
fn a_plugin_of_an_older_minor_version_loads_and_is_read_only_as_far_as_its_table() {
    // Its table stops before load_for_reading; a bad pointer follows, which the host
    // would call (and crash) if it read past struct_size.
    let built = build_c("fixtures/abi_older_minor.c");
    let (mut b, log) = logged(&built, &[]);
    assert_eq!(b.abi_version(), abi::version(2, 0));
    assert_eq!(b.load_for_reading().unwrap(), None);
    assert_eq!(b.load().unwrap(), None);
    let calls: Vec<String> = log
        .take()
        .into_iter()
        .filter(|l| l.contains(": debug: load"))
        .collect();
    assert_eq!(
        calls,
        ["probe backend: debug: load", "probe backend: debug: load"]
    );
}

#[test]
fn a_plugin_of_a_newer_minor_version_loads_unless_it_needs_a_newer_host() {
    let newer = format!("{}.{}", ABI_MAJOR, abi::ABI_MINOR + 1);
    let built = build_c("fixtures/abi_newer_minor.c");
    let (mut b, log) = logged(&built, &[]);
    assert_eq!(version_text(b.abi_version()), newer);
    assert_eq!(b.load_for_reading().unwrap(), None);
    assert!(
        log.take()
            .contains(&"probe backend: debug: load_for_reading".to_string())
    );

    let built = build_c("fixtures/abi_requires_newer_host.c");
    assert_eq!(
        open_err(&built.library),
        format!(
            "plugin library {} (built for plugin ABI {newer}) requires a host of ABI {newer} \
             or newer, but this program implements ABI {host}: upgrade this program, or use \
             a build of the plugin for ABI {host}",
            built.library.display(),
            host = version_text(ABI_VERSION),
        )
    );
}

#[test]
fn a_missing_function_is_named() {
    let built = build_c("fixtures/missing_function.c");
    assert_eq!(
        open_err(&built.library),
        format!(
            "plugin library {}'s table has no write, which plugin ABI 2.0 requires",
            built.library.display()
        )
    );
    let built = build_c_source(
        "#include \"osa_inventory_plugin.h\"\n\
         static const osa_inventory_plugin_api api = {sizeof api, \
         OSA_INVENTORY_PLUGIN_ABI_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL};\n\
         const osa_inventory_plugin_api *osa_inventory_plugin_init(uint32_t v, \
         const osa_inventory_host_api *h) { (void)v; (void)h; return &api; }\n",
    );
    assert_eq!(
        open_err(&built.library),
        format!(
            "plugin library {}'s table has no open, load, write, location, close, \
             free_buffer, which plugin ABI 2.0 requires",
            built.library.display()
        )
    );
}

#[test]
fn a_table_too_small_or_none_is_refused() {
    let built = build_c_source(
        "#include \"osa_inventory_plugin.h\"\n\
         static const uint32_t api[3] = {12, OSA_INVENTORY_PLUGIN_ABI_VERSION, 0};\n\
         const osa_inventory_plugin_api *osa_inventory_plugin_init(uint32_t v, \
         const osa_inventory_host_api *h) { (void)v; (void)h; \
         return (const osa_inventory_plugin_api *)api; }\n",
    );
    assert_eq!(
        open_err(&built.library),
        format!(
            "plugin library {} returned a plugin table of 12 bytes, smaller than the {} bytes \
             of plugin ABI 2.0",
            built.library.display(),
            abi::PLUGIN_API_SIZE_2_0
        )
    );
    let built = build_c_source("#define FIXTURE_INIT_NULL\n#include \"fixture.h\"\n");
    assert_eq!(
        open_err(&built.library),
        format!(
            "plugin library {}: osa_inventory_plugin_init returned no plugin table",
            built.library.display()
        )
    );
}

#[test]
fn init_runs_once_per_library_file() {
    // Its location says how many times init ran, as seen by the instance.
    let source = "#include <stdio.h>\n#include <stdlib.h>\n#include \"osa_inventory_plugin.h\"\n\
        static int inits;\n\
        struct osa_inventory_plugin_instance { int unused; };\n\
        static int32_t op(osa_inventory_host_context *h, const osa_inventory_plugin_setting *s, \
          size_t n, osa_inventory_plugin_instance **i, osa_inventory_plugin_buffer *e) \
          { (void)h; (void)s; (void)n; (void)e; *i = calloc(1, sizeof **i); return 0; }\n\
        static int32_t ld(osa_inventory_plugin_instance *i, osa_inventory_plugin_buffer *t, \
          osa_inventory_plugin_buffer *e) { (void)i; (void)t; (void)e; return 0; }\n\
        static int32_t wr(osa_inventory_plugin_instance *i, const char *t, size_t n, \
          osa_inventory_plugin_buffer *e) { (void)i; (void)t; (void)n; (void)e; return 0; }\n\
        static int32_t lc(osa_inventory_plugin_instance *i, osa_inventory_plugin_buffer *l, \
          osa_inventory_plugin_buffer *e) { (void)i; (void)e; l->data = malloc(32); \
          l->len = (size_t)snprintf(l->data, 32, \"init ran %d times\", inits); return 1; }\n\
        static void cl(osa_inventory_plugin_instance *i) { free(i); }\n\
        static void fb(char *d, size_t n) { (void)n; free(d); }\n\
        static const osa_inventory_plugin_api api = {sizeof api, \
          OSA_INVENTORY_PLUGIN_ABI_VERSION, OSA_INVENTORY_PLUGIN_ABI_VERSION_OF(2, 0), \
          op, ld, wr, lc, cl, fb, NULL};\n\
        const osa_inventory_plugin_api *osa_inventory_plugin_init(uint32_t v, \
          const osa_inventory_host_api *h) { (void)v; (void)h; inits++; return &api; }\n";
    let built = build_c_source(source);
    let a = registered(&built, &[]);
    let b = registered(&built, &[]);
    // Another name for the same file.
    let link = built.dir.path().join("libsame.so");
    fs::hard_link(&built.library, &link).unwrap();
    let mut c = PluginBackend::open(&link).unwrap();
    c.register(&Settings::new()).unwrap();
    for backend in [&a, &b, &c] {
        assert_eq!(backend.location(), "init ran 1 times");
    }
    // A copy is another library: loaded and initialised on its own.
    let copy = build_c_source(source);
    assert_eq!(registered(&copy, &[]).location(), "init ran 1 times");
}

#[test]
fn the_host_functions_reach_the_plugin() {
    let built = build_c("fixtures/probe.c");
    let (mut b, log) = logged(
        &built,
        &[
            ("path", "/a \"quoted\" = path é"),
            ("colour", ""),
            ("lock_timeout", "42"),
        ],
    );
    assert_eq!(
        log.take(),
        [
            "probe backend: debug: 2 settings",
            "probe backend: info: setting colour =",
            "probe backend: info: setting path = /a \"quoted\" = path é",
            "probe backend: warning: lock timeout 42 s",
            "probe backend: error: debug lines kept: 1",
            "probe backend: level 7: a level the header does not define",
            "probe backend: info: two\\nlines",
        ]
    );
    b.load().unwrap();
    b.load_for_reading().unwrap();
    assert!(b.write("{}").is_err());
    drop(b);
    assert_eq!(
        log.take(),
        [
            "probe backend: debug: load",
            "probe backend: debug: load_for_reading",
            "probe backend: debug: load",
            "probe backend: debug: write",
            "probe backend: debug: close",
        ]
    );
}

#[test]
fn the_lock_timeout_is_the_hosts_setting() {
    let built = build_c("fixtures/probe.c");
    let timeout = |pairs: &[(&str, &str)]| -> String {
        let (_b, log) = logged(&built, pairs);
        log.take()
            .into_iter()
            .find(|l| l.contains("lock timeout"))
            .unwrap()
    };
    assert_eq!(timeout(&[]), "probe backend: warning: lock timeout 600 s");
    assert_eq!(
        timeout(&[("lock_timeout", " 0 ")]),
        "probe backend: warning: lock timeout 0 s"
    );
    let mut b = PluginBackend::open(&built.library).unwrap();
    for bad in ["soon", "-1", "86401", ""] {
        assert_eq!(
            b.register(&settings(&[("lock_timeout", bad)]))
                .unwrap_err()
                .to_string(),
            format!(
                "setting 'lock_timeout' must be a whole number of seconds from 0 to 86400, \
                 not '{bad}'"
            )
        );
    }
}

#[test]
fn a_setting_holding_a_nul_is_refused() {
    let built = build_c("fixtures/probe.c");
    let mut b = PluginBackend::open(&built.library).unwrap();
    assert_eq!(
        b.register(&settings(&[("path", "a\0b")]))
            .unwrap_err()
            .to_string(),
        "setting 'path' contains a NUL character, which a plugin cannot receive"
    );
}

#[test]
fn without_a_debug_log_nothing_is_kept_and_the_plugin_is_told() {
    let quiet = HostContext {
        name: "x".into(),
        lock_timeout_seconds: 5,
        log: None,
    };
    let log = DebugLog::new();
    let loud = HostContext {
        name: "x".into(),
        lock_timeout_seconds: 5,
        log: Some(log.clone()),
    };
    let ptr = |c: &HostContext| ptr::from_ref(c).cast_mut().cast::<c_void>();
    let text = "kept?";
    // SAFETY: live contexts, `text.len()` bytes; NULL contexts are allowed to be ignored.
    unsafe {
        assert_eq!(host_log_enabled(ptr(&quiet), abi::LOG_ERROR), 0);
        assert_eq!(host_log_enabled(ptr(&loud), abi::LOG_DEBUG), 1);
        assert_eq!(host_log_enabled(ptr::null_mut(), abi::LOG_DEBUG), 0);
        assert_eq!(host_lock_timeout(ptr(&quiet)), 5);
        assert_eq!(host_lock_timeout(ptr::null_mut()), 600);
        host_log(ptr(&quiet), abi::LOG_INFO, text.as_ptr(), text.len());
        host_log(ptr(&loud), abi::LOG_INFO, text.as_ptr(), text.len());
        host_log(ptr::null_mut(), abi::LOG_INFO, text.as_ptr(), text.len());
        host_log(ptr(&loud), abi::LOG_INFO, ptr::null(), 3);
        host_log(ptr(&loud), abi::LOG_INFO, b"\xff".as_ptr(), 1);
    }
    assert_eq!(
        log.take(),
        [
            "x backend: info: kept?",
            "x backend: info:",
            "x backend: info: \u{fffd}"
        ]
    );
}

#[test]
fn a_location_identifies_the_store_however_written() {
    let built = build_c("c-example/osa_inventory_file.c");
    let dir = fs::canonicalize(built.dir.path()).unwrap();
    let store = dir.join("inventory.json");
    let a = registered(&built, &[("path", store.to_str().unwrap())]);
    let written = format!("{}/./sub/../inventory.json", dir.display());
    fs::create_dir(dir.join("sub")).unwrap();
    let b = registered(&built, &[("path", &written)]);
    // Shown as written, compared resolved.
    assert_eq!(b.location(), written);
    assert_eq!(a.store_identity(), b.store_identity());
    assert_eq!(a.store_identity(), store.display().to_string());
    let other = registered(
        &built,
        &[("path", dir.join("other.json").to_str().unwrap())],
    );
    assert_ne!(a.store_identity(), other.store_identity());

    // A plugin that cannot name its store: every instance of the library is one store.
    let probe = build_c("fixtures/probe.c");
    let (p, q) = (registered(&probe, &[]), registered(&probe, &[("x", "y")]));
    assert_eq!(p.location(), format!("plugin {}", probe.library.display()));
    assert_eq!(p.store_identity(), q.store_identity());
    let another = build_c("fixtures/probe.c");
    assert_ne!(
        p.store_identity(),
        registered(&another, &[]).store_identity()
    );
}

#[test]
fn a_failing_location_goes_to_the_debug_log() {
    let built = build_c("fixtures/probe.c");
    let (b, log) = logged(&built, &[("location", "!the cmdb is unreachable")]);
    log.take();
    assert_eq!(b.location(), format!("plugin {}", built.library.display()));
    assert_eq!(
        log.take(),
        ["probe backend: location failed: the cmdb is unreachable"]
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
            "plugin library {}: write returned 7, which plugin ABI 2 does not define",
            built.library.display()
        )
    );
    let built = build_c_source("#define FIXTURE_WRITE_CODE (-1)\n#include \"fixture.h\"\n");
    let mut b = registered(&built, &[]);
    assert_eq!(
        b.write("{}").unwrap_err().to_string(),
        format!(
            "plugin library {}: write failed without saying why",
            built.library.display()
        )
    );
    let built = build_c_source("#define FIXTURE_NO_INSTANCE\n#include \"fixture.h\"\n");
    let mut b = PluginBackend::open(&built.library).unwrap();
    assert_eq!(
        b.register(&Settings::new()).unwrap_err().to_string(),
        format!(
            "plugin library {}: open succeeded but returned no instance",
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
    let other = build_c("fixtures/abi_newer_major.c");
    let file = open_checked(&good.library).unwrap();
    fs::rename(&other.library, &good.library).unwrap();
    let loaded = PluginBackend::load_checked(&good.library, file);
    assert!(loaded.is_ok(), "{:?}", loaded.err());
    // Loading by name now would get the other library, which is refused.
    assert!(open_err(&good.library).contains("implements plugin ABI 3.0"));
}
