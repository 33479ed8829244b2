use super::*;
use std::sync::{Arc, Mutex};

const ONE: &str =
    "{\n    \"all\": {\"hosts\": [\"a\"]},\n    \"_meta\": {\"hostvars\": {\"a\": {}}}\n}\n";
const TWO: &str = "{\n    \"all\": {\"hosts\": [\"a\", \"b\"]},\n    \"_meta\": {\"hostvars\": {\"a\": {}, \"b\": {}}}\n}\n";

fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn backend(db: &Path) -> SqliteBackend {
    let mut b = SqliteBackend::default();
    b.register(&settings(&[("database", db.to_str().unwrap())]))
        .unwrap();
    b
}

fn revisions(db: &Path) -> Vec<i64> {
    history(db).unwrap().iter().map(|r| r.revision).collect()
}

#[test]
fn settings_are_checked() {
    let mut b = SqliteBackend::default();
    for (pairs, expected) in [
        (
            &[][..],
            "setting 'database' is required: the SQLite file holding the inventory",
        ),
        (&[("database", " ")][..], "setting 'database' is required"),
        (
            &[("database", "inv.sqlite")][..],
            "setting 'database' must be an absolute path, not 'inv.sqlite'",
        ),
        (
            &[("database", "/x"), ("colour", "red")][..],
            "unknown setting 'colour' (known: database, lock_timeout)",
        ),
        (
            // The host reads it from osa.ini and never passes it on.
            &[("database", "/x"), ("lock_timeout", "5")][..],
            "setting 'lock_timeout' is the host's: give the backend a Host",
        ),
    ] {
        let err = b.register(&settings(pairs)).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{pairs:?}: {err}");
    }
    b.register(&settings(&[("database", "/x/y.sqlite")]))
        .unwrap();
    assert_eq!(b.location(), "/x/y.sqlite");
    assert_eq!(b.lock_timeout, DEFAULT_LOCK_TIMEOUT);
}

#[test]
fn the_lock_timeout_is_the_hosts() {
    let b = SqliteBackend::with_host(Host::standalone(Duration::from_secs(5)));
    assert_eq!(b.lock_timeout, Duration::from_secs(5));
    // Once a panic inside rusqlite (beyond a C int of milliseconds): a host saying more
    // than a day gets a day.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let mut b = SqliteBackend::with_host(Host::standalone(Duration::from_secs(2_147_484)));
    assert_eq!(b.lock_timeout, Duration::from_secs(MAX_LOCK_TIMEOUT));
    b.register(&settings(&[("database", db.to_str().unwrap())]))
        .unwrap();
    assert_eq!(b.load().unwrap(), None);
}

/// A backend with a host of this lock timeout, whose log lines are collected.
fn logged(db: &Path, lock_timeout: u64) -> (SqliteBackend, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let host =
        Host::standalone(Duration::from_secs(lock_timeout)).with_logger(move |level, line| {
            sink.lock().unwrap().push(format!("{level}: {line}"));
        });
    let mut b = SqliteBackend::with_host(host);
    b.register(&settings(&[("database", db.to_str().unwrap())]))
        .unwrap();
    (b, lines)
}

#[test]
fn what_it_does_goes_to_the_hosts_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let (mut b, lines) = logged(&db, 9);
    b.load().unwrap();
    b.write(ONE).unwrap();
    b.load().unwrap();
    b.write(ONE).unwrap();
    assert_eq!(
        *lines.lock().unwrap(),
        [
            format!(
                "debug: opened database {} (waiting at most 9 s for another run's lock)",
                db.display()
            ),
            "info: stored revision 1: first inventory: 1 host, 1 group".to_string(),
            "debug: the inventory is the newest revision already: nothing stored".to_string(),
        ]
    );
}

#[test]
fn round_trip_with_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let mut b = backend(&db);
    assert_eq!(b.load().unwrap(), None);
    b.write(ONE).unwrap();
    assert_eq!(b.load().unwrap().as_deref(), Some(ONE));
    // Identical: no new revision.
    b.write(ONE).unwrap();
    assert_eq!(revisions(&db), vec![1]);
    b.load().unwrap();
    b.write(TWO).unwrap();
    drop(b);

    let h = history(&db).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].summary, "first inventory: 1 host, 1 group");
    assert_eq!(h[1].summary, "1 host added (b); 1 group changed (all)");
    for r in &h {
        // 2024-05-01T12:00:00Z
        assert_eq!(r.written_at.len(), 20, "{}", r.written_at);
        assert!(r.written_at.ends_with('Z'));
    }
    assert_eq!(inventory_at(&db, Some(1)).unwrap().as_deref(), Some(ONE));
    assert_eq!(inventory_at(&db, None).unwrap().as_deref(), Some(TWO));
    assert_eq!(inventory_at(&db, Some(9)).unwrap(), None);
    let mut again = backend(&db);
    assert_eq!(again.load().unwrap().as_deref(), Some(TWO));
}

#[test]
fn a_note_precedes_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let mut b = backend(&db);
    assert_eq!(b.write_revision(ONE, None).unwrap(), Some(1));
    assert_eq!(b.write_revision(TWO, None).unwrap(), Some(2));
    assert_eq!(
        b.write_revision(ONE, Some("restored revision 1")).unwrap(),
        Some(3)
    );
    assert_eq!(b.write_revision(ONE, Some("again")).unwrap(), None);
    assert_eq!(
        history(&db).unwrap()[2].summary,
        "restored revision 1; 1 host removed (b); 1 group changed (all)"
    );
}

#[test]
fn load_holds_the_database_until_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let mut first = backend(&db);
    assert_eq!(first.load().unwrap(), None);

    let (mut impatient, _) = logged(&db, 0);
    let err = impatient.load().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "cannot lock database {}: another program kept it locked for more than 0 seconds \
             (setting lock_timeout)",
            db.display()
        )
    );
    // Reading is still possible meanwhile.
    assert_eq!(history(&db).unwrap(), vec![]);

    let d = db.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let second = std::thread::spawn(move || {
        let (mut b, lines) = logged(&d, 600);
        let loaded = b.load().unwrap();
        tx.send(loaded).unwrap();
        lines.lock().unwrap().clone()
    });
    assert!(rx.recv_timeout(Duration::from_millis(1200)).is_err());
    first.write(ONE).unwrap();
    // The second run sees what the first wrote, and says it waited.
    let loaded = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(loaded.as_deref(), Some(ONE));
    let lines = second.join().unwrap();
    let waited = lines[1]
        .strip_prefix("info: waited ")
        .and_then(|l| {
            l.strip_suffix(&format!(
                " s for another run to release database {}",
                db.display()
            ))
        })
        .and_then(|seconds| seconds.parse::<f64>().ok());
    assert!(waited.is_some_and(|s| s >= 1.0), "{lines:?}");
}

#[test]
fn dropping_without_writing_changes_nothing_and_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    backend(&db).write(ONE).unwrap();
    let before = std::fs::read(&db).unwrap();
    let mut b = backend(&db);
    assert_eq!(b.load().unwrap().as_deref(), Some(ONE));
    drop(b);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let (mut other, _) = logged(&db, 0);
    assert_eq!(other.load().unwrap().as_deref(), Some(ONE));
}

#[test]
fn invalid_json_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    let mut b = backend(&db);
    b.write(ONE).unwrap();
    b.load().unwrap();
    let err = b.write("{\"all\": ").unwrap_err().to_string();
    assert!(
        err.starts_with("refusing to store an inventory that is not valid JSON: "),
        "{err}"
    );
    assert_eq!(revisions(&db), vec![1]);
    // The failed write ended the transaction: others are not kept waiting.
    let mut other = backend(&db);
    other.lock_timeout = Duration::ZERO;
    assert_eq!(other.load().unwrap().as_deref(), Some(ONE));
}

#[test]
fn a_file_that_is_not_a_database_is_an_error_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    std::fs::write(
        &db,
        "this is not a database, it is a text file of some length\n".repeat(20),
    )
    .unwrap();
    let before = std::fs::read(&db).unwrap();
    let mut b = backend(&db);
    let err = b.load().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "cannot lock database {}: file is not a database",
            db.display()
        )
    );
    assert!(b.write(ONE).is_err());
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn an_unknown_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    backend(&db).write(ONE).unwrap();
    Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA user_version = 7")
        .unwrap();
    let err = backend(&db).load().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "database {} has schema version 7, but this plugin knows only version 1: use the \
             plugin that created it",
            db.display()
        )
    );
}

#[test]
fn a_missing_directory_is_an_error_naming_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing/inv.sqlite");
    let err = backend(&db).load().unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("cannot open database {}: ", db.display())),
        "{err}"
    );
    let err = history(&db).unwrap_err().to_string();
    assert_eq!(err, format!("database {} does not exist", db.display()));
}

#[test]
fn the_schema_is_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inv.sqlite");
    backend(&db).write(ONE).unwrap();
    let c = Connection::open(&db).unwrap();
    let (revision, inventory): (i64, String) = c
        .query_row(
            "SELECT revision, inventory FROM current_inventory",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((revision, inventory.as_str()), (1, ONE));
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}
