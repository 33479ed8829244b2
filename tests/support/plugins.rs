//! Building and installing the sample storage plugins, for the tests of dynamic-inventory
//! and inventory-manage and for the benchmark (each includes this file with `#[path]`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the including crate's parent directory).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates live in the workspace")
        .to_path_buf()
}

/// Builds packages of the workspace with `cargo build` into `target/TARGET_DIR`, their
/// own target directory so as not to wait on the lock of the cargo running us; returns
/// the directory holding what was built.
pub fn build(target_dir: &str, release: bool, packages: &[&str]) -> PathBuf {
    let target = workspace().join("target").join(target_dir);
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--quiet"]);
    if release {
        cargo.arg("--release");
    }
    for package in packages {
        cargo.args(["-p", package]);
    }
    let out = cargo.output().expect("cargo must run");
    assert!(
        out.status.success(),
        "building {packages:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join(if release { "release" } else { "debug" })
}

/// The file name of a shared library built from `crate_name` (`libNAME.so` on Linux).
pub fn library_name(crate_name: &str) -> String {
    format!(
        "{}{crate_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// A directory only its owner can write, as the plugin host requires of a library's.
pub fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    make_private(dir.path());
    dir
}

/// Makes `dir` (created if needed) writable by its owner only.
fn make_private(dir: &Path) {
    std::fs::create_dir_all(dir).expect("the directory can be created");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .expect("its mode can be set");
}

/// Copies `library` into the private directory `dir` with mode 0755, as an operator
/// would install it; returns the copy.
pub fn install(library: &Path, dir: &Path) -> PathBuf {
    let target = dir.join(library.file_name().expect("a library file"));
    std::fs::copy(library, &target).expect("the library can be copied");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
        .expect("its mode can be set");
    target
}
