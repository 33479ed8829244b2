//! The upstream reference data kept in the repository (`tests/fixtures/reference`, see its
//! README.md), for the tests of dynamic-inventory and inventory-manage and for the benchmark
//! (each includes this file with `#[path]`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `tests/fixtures/reference`: upstream's environment (`env.d/`, so this is an `-e`
/// directory) and its cases.
pub fn reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates live in the workspace")
        .join("tests/fixtures/reference")
}

/// A reference case's directory: `config/`, `first_run.json`, `steady_state.json`.
pub fn reference_case(name: &str) -> PathBuf {
    reference().join("cases").join(name)
}

/// The reference cases, by name, sorted.
pub fn reference_cases() -> Vec<String> {
    let dir = reference().join("cases");
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "{}: no cases", dir.display());
    cases
}

/// An `osa.ini` that selects the JSON file backend with its default settings: what a
/// machine without `/etc/ansible/osa.ini` gets. Tests point `OSA_INI_PATH` at it so that
/// whatever this machine has in `/etc/ansible` plays no part (a missing file named by
/// `OSA_INI_PATH` is an error, not "no osa.ini").
pub fn default_osa_ini() -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("default-osa.ini");
    let text = "[storage]\nbackend = json\n";
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        // Written whole under a unique name, then renamed: parallel tests never read a
        // partial file.
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}
