//! Concurrency and crash safety: two machines (two caches) writing, runs killed in the
//! middle of a write, a server killed in the middle of a write.

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use inventory_storage::OsaIni;

use super::{Groups, Setup, assert_fleet_matches, assert_fleet_matches_listing, case_config};
use crate::support::{document, failed, generator_text, steady_state};

/// Opens the active backend of `ini` in this process (to interleave two clients).
fn open(ini: &std::path::Path) -> Box<dyn inventory_backend::StorageBackend> {
    let spec = OsaIni::read(ini).unwrap().active().unwrap();
    inventory_storage::open(Some(&spec), vec![]).unwrap()
}

/// The `test` case with the hosts of a group removed (another valid inventory).
fn without_group_hosts(text: &str, group: &str) -> String {
    let mut doc = document(text);
    let hosts: Vec<String> = doc[group]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    assert!(!hosts.is_empty());
    for (_, body) in doc.iter_mut() {
        if let Some(list) = body.get_mut("hosts").and_then(|h| h.as_array_mut()) {
            list.retain(|h| !hosts.iter().any(|gone| h == gone.as_str()));
        }
    }
    let hostvars = doc["_meta"]["hostvars"].as_object_mut().unwrap();
    for host in &hosts {
        hostvars.remove(host);
    }
    generator_text(&doc)
}

#[test]
fn of_two_machines_the_one_that_loaded_first_gets_the_conflict() {
    let Some(setup) = Setup::new("of_two_machines_the_one_that_loaded_first") else {
        return;
    };
    let old = steady_state("test");
    setup.store(&old);
    // A second machine: the same Craton, its own cache.
    let other = tempfile::tempdir().unwrap();
    let other_ini = other.path().join("osa.ini");
    fs::write(&other_ini, setup.craton.osa_ini(other.path(), "")).unwrap();
    crate::craton_server::set_mode(&other_ini, 0o600);

    let mut first = open(&setup.ini());
    let mut second = open(&other_ini);
    assert_eq!(first.load().unwrap().as_deref(), Some(old.as_str()));
    assert_eq!(second.load().unwrap().as_deref(), Some(old.as_str()));
    let newer = without_group_hosts(&old, "galera");
    second.write(&newer).unwrap();

    let mark = setup.craton.mark();
    let lost = without_group_hosts(&old, "rabbitmq");
    let err = first.write(&lost).unwrap_err();
    assert_eq!(
        err.message(),
        "the inventory in Craton changed since this run loaded it (revision 1, now 2); \
         nothing was written"
    );
    // The one request that tried, refused, and the look at what changed.
    let writes = setup.craton.writes_since(mark);
    assert_eq!(writes, vec!["POST /v1/cells".to_string()], "{writes:?}");
    drop(first);
    assert_eq!(setup.stored(), newer, "nothing is lost");
    assert_fleet_matches(&setup, &newer);
    assert_eq!(setup.revisions().len(), 2);

    // Through the binary: exit 1 and the message, and the store as it was.
    let mut stale = open(&other_ini);
    stale.load().unwrap();
    let newer_doc = document(&newer);
    let rabbit = newer_doc["rabbitmq"]["hosts"][0].as_str().unwrap();
    setup.manage_ok(&["-r", rabbit]);
    let err = stale.write(&old).unwrap_err();
    assert!(
        err.message().contains("(revision 2, now 3)"),
        "{}",
        err.message()
    );
}

/// `text` with a variable added to every host: a write of it changes every host.
fn with_marker(text: &str, value: u64) -> String {
    let mut doc = document(text);
    for (_, vars) in doc["_meta"]["hostvars"].as_object_mut().unwrap() {
        vars.as_object_mut()
            .unwrap()
            .insert("marker".into(), serde_json::json!(value));
    }
    generator_text(&doc)
}

#[test]
fn runs_killed_during_writes_leave_a_whole_inventory_and_the_next_write_repairs_the_fleet() {
    let Some(setup) = Setup::new("runs_killed_during_writes") else {
        return;
    };
    let config = case_config("test");
    // Two inventories differing in every host, and in which hosts there are.
    let a = with_marker(&steady_state("test"), 1);
    let b = with_marker(&without_group_hosts(&steady_state("test"), "galera"), 2);
    let migrate = |text: &str| {
        fs::write(setup.json_file(), text).unwrap();
        std::process::Command::new(assert_cmd::cargo::cargo_bin("inventory-manage"))
            .args(["migrate", "--from", "json", "--to", "craton", "--force"])
            .env("OSA_INI_PATH", setup.ini())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    setup.store(&a);
    // How long an uninterrupted write takes: kills fall anywhere in it.
    let started = std::time::Instant::now();
    assert!(migrate(&b).wait().unwrap().success());
    let write_time = started.elapsed().as_millis() as u64;
    // A deterministic sequence of kill times, printed with a failure to reproduce it.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut interrupted = 0;
    let mut last = b.clone();
    for round in 0..24 {
        let target = if last == a { b.clone() } else { a.clone() };
        let delay = Duration::from_millis(next() % write_time.max(1));
        let mut child = migrate(&target);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill();
        let _ = child.wait();

        // Whatever was interrupted, the stored inventory is the old or the new, whole.
        let stored = setup.stored();
        assert!(
            stored == last || stored == target,
            "round {round} (killed after {delay:?} of {write_time} ms): a partial inventory"
        );
        last = stored;
        if round % 4 != 3 {
            continue;
        }
        // The next write (dynamic-inventory, which writes to repair the fleet even when
        // its inventory is unchanged) brings the fleet in line.
        let out = setup.dynamic(config.path()).output().unwrap();
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).unwrap();
        // The same inventory; the bytes may differ: a stored text in another key order
        // holding the same inventory is not rewritten.
        assert_eq!(
            document(&setup.stored()),
            document(&printed),
            "round {round}"
        );
        assert_fleet_matches_listing(&setup, &printed, Groups::First(5));
        last = printed;
    }
    assert!(
        interrupted >= 12,
        "only {interrupted} of 24 writes were interrupted"
    );
}

#[test]
fn a_server_killed_during_a_write_then_restarted() {
    let Some(setup) = Setup::new("a_server_killed_during_a_write") else {
        return;
    };
    let a = steady_state("prod");
    setup.store(&a);
    // A change to every host, so that the write takes a while.
    let c = with_marker(&without_group_hosts(&a, "galera"), 1);
    fs::write(setup.json_file(), &c).unwrap();
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(250));
            setup.craton.kill();
        });
        setup
            .manage()
            .args(["migrate", "--from", "json", "--to", "craton", "--force"])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap()
    });
    let stderr = failed(out, 1);
    assert!(stderr.starts_with("craton backend: "), "{stderr}");
    assert!(stderr.contains("no connection to Craton"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    setup.craton.restart();
    let stored = setup.stored();
    assert!(
        stored == a || stored == c,
        "a whole inventory after the restart"
    );
    // The next run stores what it generates and repairs the fleet, whatever was left.
    let out = setup.dynamic(case_config("prod").path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(document(&setup.stored()), document(&printed));
    assert_fleet_matches(&setup, &printed);
}
