//! Embeds the default environment (`etc/environment/env.d/*.yml`) into the binary, so
//! `dynamic-inventory` needs no files beside it.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let env_d = manifest.join("../etc/environment/env.d");
    println!("cargo:rerun-if-changed={}", env_d.display());
    // A binary without its environment would generate an empty inventory for everyone:
    // no environment, no build (as under `cargo package`, which leaves `etc/` behind).
    let entries = std::fs::read_dir(&env_d).unwrap_or_else(|e| {
        panic!(
            "the default environment {} cannot be read ({e}); build from a checkout of the \
             whole repository",
            env_d.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    assert!(
        !files.is_empty(),
        "the default environment {} holds no .yml file; build from a checkout of the whole \
         repository",
        env_d.display()
    );
    files.sort();
    let mut out = String::from("pub const FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            name,
            path.canonicalize().unwrap_or(path.clone())
        ));
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("builtin_env.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
