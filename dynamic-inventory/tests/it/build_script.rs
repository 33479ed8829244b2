//! The build script embeds the default environment, and refuses to build a binary without
//! one (an empty built-in environment would generate an empty inventory for everyone).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest compiled build script of this crate, beside the test binary's `deps/`.
fn build_script() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    std::fs::read_dir(profile_dir.join("build"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path().join("build-script-build")))
        .filter(|p| {
            p.exists()
                && p.parent()
                    .and_then(|d| d.file_name())
                    .is_some_and(|n| n.to_string_lossy().starts_with("dynamic-inventory-"))
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .expect("the build script was compiled")
}

fn run_in(root: &Path) -> std::process::Output {
    let manifest = root.join("dynamic-inventory");
    let out = root.join("out");
    std::fs::create_dir_all(&manifest).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    Command::new(build_script())
        .env("CARGO_MANIFEST_DIR", &manifest)
        .env("OUT_DIR", &out)
        .output()
        .unwrap()
}

#[test]
fn the_build_fails_without_the_default_environment() {
    let root = tempfile::tempdir().unwrap();
    let output = run_in(root.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("cannot be read"), "{stderr}");
    assert!(
        stderr.contains("build from a checkout of the whole repository"),
        "{stderr}"
    );

    let env_d = root.path().join("etc/environment/env.d");
    std::fs::create_dir_all(&env_d).unwrap();
    std::fs::write(env_d.join("README"), "not yaml").unwrap();
    let output = run_in(root.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("holds no .yml file"), "{stderr}");

    std::fs::write(env_d.join("nova.yml"), "component_skel: {}\n").unwrap();
    let output = run_in(root.path());
    assert!(output.status.success(), "{output:?}");
    let embedded = std::fs::read_to_string(root.path().join("out/builtin_env.rs")).unwrap();
    assert!(
        embedded.contains("(\"nova.yml\", include_str!("),
        "{embedded}"
    );
}
