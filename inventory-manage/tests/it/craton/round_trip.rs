//! Every reference case through Craton: migrated in and out byte for byte, printed by
//! `dynamic-inventory` unchanged without a single write, the cache only saving a
//! download, the fleet matching the inventory; and the request counts of a first sync
//! and of small changes.

use std::fs;

use super::{
    Groups, Setup, assert_fleet_matches, assert_fleet_matches_listing, case_config, count,
    reference_cases,
};
use crate::support::{ok, steady_state};

#[test]
fn every_reference_case_round_trips_and_runs_unchanged_without_writes() {
    for case in reference_cases() {
        let Some(setup) = Setup::new("every_reference_case_round_trips") else {
            return;
        };
        let craton = &setup.craton;
        let text = steady_state(&case);
        let hosts = crate::support::hostvars(&crate::support::document(&text)).len();

        // JSON -> Craton: a first sync, about one request per host.
        fs::write(setup.json_file(), &text).unwrap();
        let mark = craton.mark();
        let out = setup.manage_ok(&["migrate", "--from", "json", "--to", "craton"]);
        assert!(out.starts_with("Copied the inventory from "), "{out}");
        let sent = craton.requests_since(mark);
        assert_eq!(
            count(&sent, "POST /v1/hosts"),
            hosts,
            "{case}: one POST per host"
        );
        assert!(
            sent.len() <= hosts + 12,
            "{case}: {} requests for {hosts} hosts: {sent:?}",
            sent.len()
        );

        // Craton -> JSON, into an empty directory: the same bytes.
        assert_eq!(setup.stored(), text, "{case}: dump");
        fs::remove_file(setup.json_file()).unwrap();
        setup.manage_ok(&["migrate", "--from", "craton", "--to", "json"]);
        assert_eq!(
            fs::read_to_string(setup.json_file()).unwrap(),
            text,
            "{case}: back to JSON"
        );

        // Every group listed by label for one case, a few for the others (each host's own
        // labels are checked for all).
        let groups = if case == "prod" {
            Groups::All
        } else {
            Groups::First(10)
        };
        assert_fleet_matches_listing(&setup, &text, groups);

        // dynamic-inventory prints the same inventory; with a current cache one request,
        // no write.
        let config = case_config(&case);
        let mark = craton.mark();
        let printed = ok(setup.dynamic(config.path()).output().unwrap());
        assert_eq!(printed, text, "{case}: dynamic-inventory with Craton");
        let sent = craton.requests_since(mark);
        assert_eq!(
            sent.len(),
            1,
            "{case}: an unchanged run with a current cache: {sent:?}"
        );
        assert!(sent[0].starts_with("GET /v1/cells?region_id="), "{sent:?}");

        // Without the cache: the same, at the cost of one download and the lookups.
        fs::remove_dir_all(setup.cache_dir()).unwrap();
        let mark = craton.mark();
        let printed = ok(setup.dynamic(config.path()).output().unwrap());
        assert_eq!(printed, text, "{case}: without a cache");
        let sent = craton.requests_since(mark);
        assert!(craton.writes_since(mark).is_empty(), "{case}: {sent:?}");
        assert_eq!(
            count(&sent, "GET /v1/cells/*"),
            1,
            "{case}: one download: {sent:?}"
        );
        assert!(sent.len() <= 4, "{case}: {sent:?}");

        // And once more: the cache is back.
        let mark = craton.mark();
        let printed = ok(setup.dynamic(config.path()).output().unwrap());
        assert_eq!(printed, text);
        assert_eq!(craton.requests_since(mark).len(), 1);
        assert_eq!(
            setup.revisions().len(),
            1,
            "{case}: nothing but the first write"
        );
    }
}

#[test]
fn a_damaged_cache_costs_a_download_and_changes_nothing() {
    let Some(setup) = Setup::new("a_damaged_cache_costs_a_download") else {
        return;
    };
    let text = steady_state("test");
    setup.store(&text);
    let cache = fs::read_dir(setup.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cache"))
        .expect("a cache file");
    let mut bytes = fs::read(&cache).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x20;
    fs::write(&cache, &bytes).unwrap();
    let mark = setup.craton.mark();
    assert_eq!(setup.stored(), text);
    let sent = setup.craton.requests_since(mark);
    assert_eq!(count(&sent, "GET /v1/cells/*"), 1, "{sent:?}");
    assert!(setup.craton.writes_since(mark).is_empty());
    // The cache was repaired by that download.
    let mark = setup.craton.mark();
    assert_eq!(setup.stored(), text);
    assert_eq!(setup.craton.requests_since(mark).len(), 1);
}

#[test]
fn small_changes_send_a_handful_of_requests_and_keep_a_history() {
    let Some(setup) = Setup::new("small_changes_send_a_handful_of_requests") else {
        return;
    };
    let craton = &setup.craton;
    let text = steady_state("prod");
    setup.store(&text);

    // Adding a host to the configuration: dynamic-inventory adds it and its containers.
    let config = case_config("prod");
    let user_config = config.path().join("openstack_user_config.yml");
    let yaml = fs::read_to_string(&user_config).unwrap();
    let added = yaml.replacen(
        "compute_hosts:\n",
        "compute_hosts:\n  compute-added:\n    ip: 172.29.236.250\n",
        1,
    );
    assert_ne!(added, yaml, "the prod case has compute_hosts");
    fs::write(&user_config, added).unwrap();
    let mark = craton.mark();
    let printed = ok(setup.dynamic(config.path()).output().unwrap());
    let sent = craton.requests_since(mark);
    assert_eq!(count(&sent, "POST /v1/hosts"), 1, "{sent:?}");
    assert!(
        sent.len() <= 10,
        "adding one host: {} requests: {sent:?}",
        sent.len()
    );
    assert_fleet_matches(&setup, &printed);

    // Removing a group: one label less on its hosts, nothing else.
    let mark = craton.mark();
    setup.manage_ok(&["-d", "nova_compute"]);
    let after = setup.stored();
    let sent = craton.requests_since(mark);
    assert_eq!(count(&sent, "POST /v1/hosts"), 0, "{sent:?}");
    assert!(sent.len() <= 12, "{sent:?}");
    assert_fleet_matches(&setup, &after);

    let history = setup.revisions();
    assert_eq!(history.len(), 3);
    assert!(
        history[0].1.starts_with("first inventory: 62 hosts"),
        "{history:?}"
    );
    assert!(
        history[1].1.contains("1 host added (compute-added)"),
        "{history:?}"
    );
    assert!(
        history[2].1.contains("1 group removed (nova_compute)"),
        "{history:?}"
    );
}

#[test]
fn old_revisions_keep_their_summary_and_lose_their_text() {
    let Some(setup) = Setup::new("old_revisions_keep_their_summary") else {
        return;
    };
    let base = crate::support::document(&steady_state("test"));
    let mut last = String::new();
    for n in 0..17 {
        let mut doc = base.clone();
        doc.insert(format!("extra_group_{n}"), serde_json::json!({"hosts": []}));
        last = crate::support::generator_text(&doc);
        setup.store(&last);
    }
    let history = setup.revisions();
    assert_eq!(history.len(), 17);
    let with_text: Vec<u64> = history.iter().filter(|r| r.2).map(|r| r.0).collect();
    assert_eq!(
        with_text,
        (3..=17).collect::<Vec<u64>>(),
        "the newest 15 keep their text"
    );
    assert!(history.iter().all(|r| !r.1.is_empty()));
    assert_eq!(setup.stored(), last);
}

#[test]
fn a_long_first_sync_shows_progress_on_a_terminal() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};

    let Some(setup) = Setup::new("a_long_first_sync_shows_progress") else {
        return;
    };
    let text = steady_state("prod");
    fs::write(setup.json_file(), &text).unwrap();
    // Standard error on a pseudo-terminal, as an operator running it by hand has it.
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the two integers; the null
    // pointers ask for no name, terminal settings or window size.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty");
    // SAFETY: both descriptors were just opened for us and are owned nowhere else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("inventory-manage"))
        .args(["migrate", "--from", "json", "--to", "craton"])
        .env("OSA_INI_PATH", setup.ini())
        .stdout(std::process::Stdio::piped())
        .stderr(slave)
        .spawn()
        .unwrap();
    let mut terminal = Vec::new();
    // Reading ends with an error (EIO) once the child closed its end.
    let _ = fs::File::from(master).read_to_end(&mut terminal);
    assert!(child.wait().unwrap().success());
    let terminal = String::from_utf8_lossy(&terminal);
    assert!(
        terminal.contains("craton backend: updating hosts in Craton: 62/62 hosts"),
        "{terminal:?}"
    );
    assert!(terminal.contains("\r"), "updated in place: {terminal:?}");
    assert_eq!(setup.stored(), text);
    // Not on a pipe: the other tests' quiet `ok()` checks hold.
}
