//! Backend selection through osa.ini, as the binary sees it.

use std::path::Path;

use crate::support::*;

#[test]
fn the_shipped_osa_ini_example_selects_the_json_backend() {
    let d = Deployment::with_config(&small_config(""));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/ansible/osa.ini.example");
    let out = d.command().env("OSA_INI_PATH", &example).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        d.inventory_text().unwrap().as_bytes(),
        out.stdout.as_slice()
    );
}

#[test]
fn the_json_backend_directory_setting_moves_the_inventory() {
    let d = Deployment::with_config(&small_config(""));
    let store = tempfile::tempdir().unwrap();
    d.write(
        "osa.ini",
        &format!(
            "[storage]\nbackend = files\n\n[files]\ntype = json\ndirectory = {}\n",
            store.path().display()
        ),
    );
    let out = d
        .command()
        .env("OSA_INI_PATH", d.path().join("osa.ini"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.inventory_text().is_none());
    let stored = std::fs::read(store.path().join("openstack_inventory.json")).unwrap();
    assert_eq!(stored, out.stdout);
}

#[test]
fn a_bad_osa_ini_is_a_clear_error_and_nothing_is_written() {
    let d = Deployment::with_config(&small_config(""));
    let cases = [
        (
            "[storage]\nbackend = couch\n\n[couch]\ntype = couchdb\n",
            "unknown backend type 'couchdb' in section [couch] of",
        ),
        ("[json]\ntype = json\n", "has no [storage] section"),
        ("[storage]\nbackend json\n", "line 2"),
        (
            "[storage]\nbackend = json\n[json]\ncolour = blue\n",
            "colour",
        ),
    ];
    for (ini, expected) in cases {
        d.write("osa.ini", ini);
        let out = d
            .command()
            .env("OSA_INI_PATH", d.path().join("osa.ini"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{ini}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{ini}: {stderr}");
        assert!(d.inventory_text().is_none(), "{ini}");
    }
}

#[test]
fn osa_ini_path_naming_no_file_is_an_error_not_the_json_file() {
    let d = Deployment::with_config(&small_config(""));
    let missing = d.path().join("typo-osa.ini");
    let out = d.command().env("OSA_INI_PATH", &missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "OSA_INI_PATH names {}, which does not exist; point it at your osa.ini, or unset \
             it to use /etc/ansible/osa.ini (or, without that file, the JSON file)\n",
            missing.display()
        )
    );
    // Nothing was stored in the JSON file instead.
    assert!(d.inventory_text().is_none());
}
