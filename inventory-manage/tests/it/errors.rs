//! Every way a run can fail: a message on standard error naming the problem, exit status
//! 1 (2 for a command line clap refuses), nothing on standard output, nothing written.

use crate::support::*;

/// An osa.ini in `site` with these sections after `[storage] backend = active`.
fn osa_ini(site: &Site, active: &str, sections: &str) -> std::path::PathBuf {
    let path = site.file("osa.ini");
    std::fs::write(
        &path,
        format!("[storage]\nbackend = {active}\n\n{sections}"),
    )
    .unwrap();
    path
}

/// A JSON section keeping the inventory in `dir`.
fn json_section(name: &str, dir: &std::path::Path) -> String {
    format!("[{name}]\ntype = json\ndirectory = {}\n\n", dir.display())
}

#[test]
fn unknown_hosts_and_groups_change_nothing() {
    let site = Site::prod();
    let location = site.file(INVENTORY).display().to_string();
    assert_eq!(
        site.fails(&["-r", "nope"]),
        format!("no host nope in the inventory ({location}); nothing was changed\n")
    );
    // One unknown name among known ones: none is removed.
    assert_eq!(
        site.fails(&["-r", "compute1", "-r", "compute9"]),
        format!("no host compute9 in the inventory ({location}); nothing was changed\n")
    );
    assert_eq!(
        site.fails(&["-d", "galera", "-d", "no_such_group"]),
        format!("no group no_such_group in the inventory ({location}); nothing was changed\n")
    );
    // _meta is not a group.
    assert_eq!(
        site.fails(&["-d", "_meta"]),
        format!("no group _meta in the inventory ({location}); nothing was changed\n")
    );
    assert!(site.backups().is_empty());
}

#[test]
fn a_corrupt_inventory_is_reported_and_never_overwritten() {
    let site = Site::with_inventory("{\"_meta\": {\"hostvars\": {}},");
    let location = site.file(INVENTORY).display().to_string();
    for args in [
        &["-l"][..],
        &["-g"],
        &["-G"],
        &["-e"],
        &["-r", "x"],
        &["--clear-ips"],
        &["dump"],
    ] {
        let err = site.fails(args);
        assert!(
            err.starts_with(&format!(
                "{location}: the stored inventory cannot be used: not valid JSON: "
            )),
            "{args:?}: {err}"
        );
    }
    site.write(INVENTORY, r#"{"_meta": {"hostvars": {}}, "galera": ["a"]}"#);
    assert_eq!(
        site.fails(&["-d", "galera"]),
        format!(
            "{location}: the stored inventory cannot be used: group \"galera\" is not an object\n"
        )
    );
    site.write(INVENTORY, "[]");
    assert_eq!(
        site.fails(&["-l"]),
        format!(
            "{location}: the stored inventory cannot be used: the inventory is not a JSON object\n"
        )
    );
    // With backups, the message says where they are.
    std::fs::write(site.file(BACKUP), b"").unwrap();
    assert_eq!(
        site.fails(&["-G"]),
        format!(
            "{location}: the stored inventory cannot be used: the inventory is not a JSON \
             object; earlier versions are in {} (one member per write)\n",
            site.file(BACKUP).display()
        )
    );
    std::fs::remove_file(site.file(BACKUP)).unwrap();
    std::fs::write(site.file(INVENTORY), b"{\"\xff\": 1}").unwrap();
    let err = site.fails(&["-l"]);
    assert_eq!(
        err,
        format!("json backend: cannot read {location}: not valid UTF-8 (at byte 2)\n")
    );
}

#[test]
fn nothing_stored_is_an_error() {
    let site = Site::empty();
    let ini = osa_ini(&site, "json", &json_section("json", site.path()));
    for args in [&["-l"][..], &["-r", "a"], &["dump"]] {
        assert_eq!(
            site.fails_with(site.with_ini(&ini), args),
            format!(
                "no inventory is stored in {} (json backend)\n",
                site.file(INVENTORY).display()
            )
        );
    }
    assert!(site.inventory_text().is_none());
}

#[test]
fn backend_selection_mistakes_are_named() {
    let site = Site::prod();
    // OSA_INI_PATH naming a missing file is an error, never a fallback to the JSON file.
    let missing = site.file("no-osa.ini");
    assert_eq!(
        site.fails_with(site.with_ini(&missing), &["-l"]),
        format!(
            "OSA_INI_PATH names {}, which does not exist; point it at your osa.ini, or unset \
             it to use /etc/ansible/osa.ini (or, without that file, the JSON file)\n",
            missing.display()
        )
    );
    assert_eq!(
        site.fails(&["--backend", "sqlite", "-l"]),
        format!(
            "no section [sqlite] in {} (backend sections: none; built-in: json)\n",
            default_osa_ini().display()
        )
    );
    let ini = osa_ini(&site, "json", &json_section("json", site.path()));
    assert_eq!(
        site.fails_with(site.with_ini(&ini), &["--backend", "nope", "-l"]),
        format!(
            "no section [nope] in {} (backend sections: json; built-in: json)\n",
            ini.display()
        )
    );
    assert_eq!(
        site.fails_with(site.with_ini(&ini), &["--backend", "storage", "-l"]),
        format!(
            "[storage] in {} selects the backend; it is not a backend section\n",
            ini.display()
        )
    );
    std::fs::write(
        &ini,
        "[storage]\nbackend = json\n[sqlite]\ntype = plugin\nlibrary = /nonexistent/libx.so\n",
    )
    .unwrap();
    assert_eq!(
        site.fails_with(site.with_ini(&ini), &["--backend", "sqlite", "-r", "net1"]),
        "sqlite backend: plugin library /nonexistent/libx.so does not exist\n"
    );
    std::fs::write(&ini, "garbage\n").unwrap();
    assert_eq!(
        site.fails_with(site.with_ini(&ini), &["-l"]),
        format!(
            "{}, line 1: expected '[section]' or 'key = value', found 'garbage'\n",
            ini.display()
        )
    );
    std::fs::write(&ini, "[storage]\nbackend = json\n[json]\ncolour = red\n").unwrap();
    assert_eq!(
        site.fails_with(site.with_ini(&ini), &["-G"]),
        "json backend: unknown setting 'colour' (known: directory, lock_timeout)\n"
    );
}

#[test]
fn file_option_mistakes() {
    let site = Site::prod();
    let err = site.fails(&["-f", "no-such-inventory-file.json", "-l"]);
    assert!(
        err.starts_with(&format!(
            "inventory file no-such-inventory-file.json not found (looked for {}, ",
            site.file("no-such-inventory-file.json").display()
        )),
        "{err}"
    );
    assert_eq!(
        site.fails(&["-f", "/nonexistent/openstack_inventory.json", "-l"]),
        "inventory file /nonexistent/openstack_inventory.json not found \
         (looked for /nonexistent/openstack_inventory.json)\n"
    );
    // Any name can be read; only openstack_inventory.json can be changed.
    site.write("copy.json", &steady_state("prod"));
    for args in [&["-r", "net1"][..], &["-d", "galera"], &["--clear-ips"]] {
        let mut all = vec!["-f", "copy.json"];
        all.extend_from_slice(args);
        let before = std::fs::read_to_string(site.file("copy.json")).unwrap();
        assert_eq!(
            site.fails(&all),
            format!(
                "{}: only a file named openstack_inventory.json can be changed (its lock and \
                 backup archive are named after it); the other actions can read any file\n",
                site.file("copy.json").display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(site.file("copy.json")).unwrap(),
            before
        );
    }
}

#[test]
fn an_unknown_sort_column_is_refused_before_reading() {
    let site = Site::empty();
    assert_eq!(
        site.fails(&["-l", "-s", "bogus"]),
        "Invalid field name: bogus (the columns are: container_name, is_metal, component, \
         physical_host, tunnel_address, ansible_host, container_types)\n"
    );
    // Ignored by the other actions, as upstream.
    let site = Site::prod();
    site.ok(&["-G", "-s", "bogus"]);
}

#[test]
fn command_line_mistakes_exit_2() {
    let site = Site::prod();
    for (args, says) in [
        (
            &[][..],
            "the following required arguments were not provided",
        ),
        (&["-l", "-g"], "cannot be used with"),
        (&["-r", "a", "-d", "b"], "cannot be used with"),
        (&["-e", "--clear-ips"], "cannot be used with"),
        (&["-r"], "a value is required"),
        (
            &["-l", "dump"],
            "the subcommand 'dump' cannot be used with '--list-host'",
        ),
        (
            &["-r", "net1", "migrate", "--to", "x"],
            "the subcommand 'migrate' cannot be used with '--remove-item'",
        ),
        (&["migrate"], "--to <SECTION>"),
        (&["-f", "x", "--backend", "y", "-l"], "cannot be used with"),
        (
            &["-f", "x", "migrate", "--from", "a", "--to", "b"],
            "'--from <SECTION>' cannot be used with '--file <FILE>'",
        ),
        (
            &["migrate", "--to", "b", "--from", "a", "--backend", "c"],
            "cannot be used with",
        ),
        (&["--bogus"], "unexpected argument"),
    ] {
        let before = site.inventory_text();
        let err = failed(site.run(args), 2);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(site.inventory_text(), before);
    }
    assert!(site.backups().is_empty());
}

#[test]
fn migrate_mistakes() {
    let site = Site::prod();
    let other = tempfile::tempdir().unwrap();
    let ini = osa_ini(
        &site,
        "json",
        &(json_section("json", site.path())
            + &json_section("same", site.path())
            + &json_section("other", other.path())),
    );
    let run = |args: &[&str]| site.fails_with(site.with_ini(&ini), args);
    assert_eq!(
        run(&["migrate", "--from", "other", "--to", "other"]),
        "--from and --to both name [other]: nothing to migrate\n"
    );
    // Two names for one directory: refused at once (waiting would never end).
    assert_eq!(
        run(&["migrate", "--to", "same"]),
        format!(
            "the source and the destination are the same store ({}): nothing to migrate\n",
            site.file(INVENTORY).display()
        )
    );
    assert_eq!(
        run(&["migrate", "--to", "nowhere"]),
        format!(
            "no section [nowhere] in {} (backend sections: json, same, other; built-in: json)\n",
            ini.display()
        )
    );
    assert_eq!(
        run(&["migrate", "--from", "other", "--to", "json"]),
        format!(
            "no inventory is stored in {} (other backend)\n",
            other.path().join(INVENTORY).display()
        )
    );
    // A destination holding an inventory is not overwritten without --force.
    std::fs::write(other.path().join(INVENTORY), "{\"all\": {}}").unwrap();
    assert_eq!(
        run(&["migrate", "--to", "other"]),
        format!(
            "{} (other backend) already holds an inventory; nothing was written \
             (use --force to replace it)\n",
            other.path().join(INVENTORY).display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(other.path().join(INVENTORY)).unwrap(),
        "{\"all\": {}}"
    );
    // Nor is a corrupt source copied anywhere.
    site.write(INVENTORY, "{");
    let err = run(&["migrate", "--to", "other", "--force"]);
    assert!(
        err.contains("the stored inventory cannot be used: not valid JSON"),
        "{err}"
    );
    assert!(backups_in(other.path()).is_empty());
}

#[test]
fn dump_to_an_unwritable_place_fails() {
    let site = Site::prod();
    let target = site.file("missing-dir/out.json");
    let err = site.fails(&["dump", "-o", target.to_str().unwrap()]);
    assert!(
        err.starts_with(&format!("cannot write {}: ", target.display())),
        "{err}"
    );
    assert!(!target.exists());
}

#[test]
fn from_is_accepted_before_or_after_migrate_and_only_with_it() {
    let site = Site::prod();
    let other = tempfile::tempdir().unwrap();
    let ini = osa_ini(
        &site,
        "json",
        &format!(
            "{}{}",
            json_section("json", site.path()),
            json_section("other", other.path())
        ),
    );
    // As the usage line shows it: --from before the subcommand.
    let out = site
        .with_ini(&ini)
        .args(["--from", "json", "migrate", "--to", "other"])
        .output()
        .unwrap();
    assert!(ok(out).starts_with("Copied the inventory from "));
    assert_eq!(
        std::fs::read_to_string(other.path().join(INVENTORY)).unwrap(),
        site.inventory_text().unwrap()
    );
    // And after it, as before.
    let out = site
        .with_ini(&ini)
        .args(["migrate", "--from", "json", "--to", "other", "--force"])
        .output()
        .unwrap();
    assert!(ok(out).contains("already holds this inventory"));
    // Not with another action.
    let out = site
        .with_ini(&ini)
        .args(["--from", "json", "-l"])
        .output()
        .unwrap();
    let stderr = failed(out, 2);
    assert!(
        stderr
            .starts_with("error: the argument '--from <SECTION>' can only be used with 'migrate'"),
        "{stderr}"
    );
}

#[test]
fn a_damaged_archive_is_one_escaped_line() {
    let site = Site::prod();
    // A member named with a newline and a terminal escape: quoted, it must neither break
    // the message into lines nor reach the terminal as an escape.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    let name = "evil\n\u{1b}[31mred/";
    header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_cksum();
    builder.append(&header, std::io::empty()).unwrap();
    std::fs::write(site.file(BACKUP), builder.into_inner().unwrap()).unwrap();
    let stderr = site.fails(&["-r", "infra1"]);
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("evil\\n\\u{1b}[31mred"), "{stderr:?}");
}

#[test]
fn version_names_the_plugin_abi() {
    let site = Site::empty();
    assert_eq!(
        site.ok(&["--version"]),
        format!(
            "inventory-manage {} (plugin ABI {}.{})\n",
            env!("CARGO_PKG_VERSION"),
            inventory_backend::abi::ABI_MAJOR,
            inventory_backend::abi::ABI_MINOR
        )
    );
}
