//! `osa-inventory-sqlite`: an inventory storage plugin keeping the inventory,
//! and the history of every change to it, in one SQLite file.
//!
//! Built as a shared library (`libosa_inventory_sqlite.so`) that
//! `dynamic-inventory` loads through `osa.ini`:
//!
//! ```ini
//! [storage]
//! backend = sqlite
//!
//! [sqlite]
//! type = plugin
//! library = /usr/local/lib/osa-inventory/libosa_inventory_sqlite.so
//! database = /etc/openstack_deploy/openstack_inventory.sqlite
//! ; lock_timeout = 600
//! ```
//!
//! Settings: `database` (required), the absolute path of the SQLite file,
//! created on first use. `lock_timeout` (optional, seconds, default 600), how
//! long a run waits for another one to finish with the database, is read by the
//! host, which gives it to every plugin ([`Host::lock_timeout`]).
//!
//! What it does (the database it opens, the revisions it stores, how long it
//! waited for another run) goes to the host's debug log
//! (`dynamic-inventory --debug`).
//!
//! # The database
//!
//! ```sql
//! CREATE TABLE history (
//!     revision   INTEGER PRIMARY KEY AUTOINCREMENT,  -- 1, 2, ...; never reused
//!     written_at TEXT NOT NULL,                      -- UTC, 2024-05-01T12:00:00Z
//!     summary    TEXT NOT NULL,                      -- what changed, one line
//!     inventory  TEXT NOT NULL                       -- the whole inventory, as written
//! );
//! CREATE VIEW current_inventory AS                   -- the newest revision
//!     SELECT * FROM history ORDER BY revision DESC LIMIT 1;
//! ```
//!
//! The current inventory is the newest revision; every write adds one, with
//! the time, a summary of the hosts and groups added, removed and changed,
//! and the full text, so any earlier version can be restored (the
//! `osa-inventory-sqlite` command: `history`, `show`, `restore`, `import`).
//! `PRAGMA user_version` holds the schema version ([`SCHEMA_VERSION`]).
//!
//! # Consistency
//!
//! `load` starts a write transaction (`BEGIN IMMEDIATE`) and keeps it until
//! `write` commits it (or the instance is closed, which abandons it): two runs
//! never interleave, the second waits up to `lock_timeout` and then reads what
//! the first wrote, and a crash at any point leaves the database as it was
//! before the transaction. An inventory identical to the newest revision adds
//! nothing.

// The only unsafe code is the SDK's, which export_plugin! writes.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use inventory_backend::host::{Host, LogLevel};
use inventory_backend::{BackendError, Settings, StorageBackend};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The schema this plugin creates and understands (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

pub mod cli;

/// How long a run waits for another one, by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = inventory_backend::host::DEFAULT_LOCK_TIMEOUT;
/// The longest wait used, in seconds (a day, the most the host allows): SQLite's busy
/// timeout is a C int of milliseconds, and beyond about 24.8 days rusqlite panics.
pub const MAX_LOCK_TIMEOUT: u64 = 86_400;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS history (
        revision   INTEGER PRIMARY KEY AUTOINCREMENT,
        written_at TEXT NOT NULL,
        summary    TEXT NOT NULL,
        inventory  TEXT NOT NULL
    );
    CREATE VIEW IF NOT EXISTS current_inventory AS
        SELECT revision, written_at, summary, inventory
        FROM history ORDER BY revision DESC LIMIT 1;
    PRAGMA user_version = 1;
";

/// One stored revision, without its inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Its number: 1, 2, ...
    pub revision: i64,
    /// When it was written, UTC: `2024-05-01T12:00:00Z`.
    pub written_at: String,
    /// What changed, one line.
    pub summary: String,
}

/// The SQLite storage backend.
#[derive(Debug)]
pub struct SqliteBackend {
    /// The host's log and lock timeout.
    host: Host,
    database: Option<PathBuf>,
    lock_timeout: Duration,
    connection: Option<Connection>,
}

impl Default for SqliteBackend {
    /// A backend without a host: it logs nothing and waits
    /// [`DEFAULT_LOCK_TIMEOUT`] for a lock.
    fn default() -> Self {
        SqliteBackend::with_host(Host::default())
    }
}

impl SqliteBackend {
    /// A backend using `host`'s log and lock timeout: how the plugin makes its
    /// instances.
    pub fn with_host(host: Host) -> Self {
        let lock_timeout = host
            .lock_timeout()
            .min(Duration::from_secs(MAX_LOCK_TIMEOUT));
        SqliteBackend {
            host,
            database: None,
            lock_timeout,
            connection: None,
        }
    }

    /// A backend for `database`, as if registered with that setting.
    pub fn for_database(database: &Path) -> Self {
        let mut backend = SqliteBackend::default();
        backend.database = Some(database.to_path_buf());
        backend
    }

    /// The database file, once registered.
    pub fn database(&self) -> Option<&Path> {
        self.database.as_deref()
    }

    fn database_or_error(&self) -> Result<&Path, BackendError> {
        self.database
            .as_deref()
            .ok_or_else(|| BackendError::new("setting 'database' is required"))
    }

    fn error(&self, what: &str, e: &rusqlite::Error) -> BackendError {
        let db = self
            .database
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if let rusqlite::Error::SqliteFailure(f, _) = e
            && f.code == rusqlite::ErrorCode::DatabaseBusy
        {
            return BackendError::new(format_args!(
                "cannot {what} database {db}: another program kept it locked for more than \
                 {} seconds (setting lock_timeout)",
                self.lock_timeout.as_secs()
            ));
        }
        BackendError::new(format_args!("cannot {what} database {db}: {e}"))
    }

    /// The connection, opened (and the file created) on first use.
    fn connection(&mut self) -> Result<&Connection, BackendError> {
        if self.connection.is_none() {
            let database = self.database_or_error()?.to_path_buf();
            let connection = Connection::open_with_flags(
                &database,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| self.error("open", &e))?;
            connection
                .busy_timeout(self.lock_timeout)
                .map_err(|e| self.error("open", &e))?;
            self.host.log(
                LogLevel::Debug,
                format_args!(
                    "opened database {} (waiting at most {} s for another run's lock)",
                    database.display(),
                    self.lock_timeout.as_secs()
                ),
            );
            self.connection = Some(connection);
        }
        Ok(self.connection.as_ref().expect("just opened"))
    }

    /// Starts the write transaction unless one is open, and makes sure the
    /// schema is there.
    fn begin(&mut self) -> Result<(), BackendError> {
        self.connection()?;
        let connection = self.connection.as_ref().expect("open");
        if !connection.is_autocommit() {
            return Ok(());
        }
        let started = Instant::now();
        let result = connection
            .execute_batch("BEGIN IMMEDIATE")
            .and_then(|()| connection.pragma_query_value(None, "user_version", |r| r.get(0)));
        let version: i64 = result.map_err(|e| {
            self.rollback();
            self.error("lock", &e)
        })?;
        let waited = started.elapsed();
        if waited >= Duration::from_secs(1) {
            self.host.log(
                LogLevel::Info,
                format_args!(
                    "waited {:.1} s for another run to release database {}",
                    waited.as_secs_f64(),
                    self.database_or_error()?.display()
                ),
            );
        }
        if version == 0 {
            connection.execute_batch(SCHEMA).map_err(|e| {
                self.rollback();
                self.error("set up", &e)
            })?;
        } else if version != SCHEMA_VERSION {
            let _ = connection.execute_batch("ROLLBACK");
            return Err(BackendError::new(format_args!(
                "database {} has schema version {version}, but this plugin knows only version \
                 {SCHEMA_VERSION}: use the plugin that created it",
                self.database_or_error()?.display()
            )));
        }
        Ok(())
    }

    /// Ends the transaction without changing anything.
    fn rollback(&self) {
        if let Some(c) = &self.connection
            && !c.is_autocommit()
        {
            let _ = c.execute_batch("ROLLBACK");
        }
    }

    /// The newest revision's number and inventory.
    fn newest(&self) -> Result<Option<(i64, String)>, BackendError> {
        let connection = self.connection.as_ref().expect("open");
        connection
            .query_row(
                "SELECT revision, inventory FROM history ORDER BY revision DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| self.error("read", &e))
    }

    /// Stores `inventory` as a new revision, its summary preceded by `note`,
    /// unless it is the newest revision already. Returns the new revision's
    /// number, `None` when nothing was written. Commits the transaction.
    pub fn write_revision(
        &mut self,
        inventory: &str,
        note: Option<&str>,
    ) -> Result<Option<i64>, BackendError> {
        // Checked without building the values: a 10,000-host inventory is 16 MB.
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(inventory) {
            // The cycle is over, written or not.
            self.rollback();
            return Err(BackendError::new(format_args!(
                "refusing to store an inventory that is not valid JSON: {e}"
            )));
        }
        self.begin()?;
        let result = self.insert(inventory, note);
        match result {
            Ok(revision) => {
                let connection = self.connection.as_ref().expect("open");
                connection
                    .execute_batch("COMMIT")
                    .map_err(|e| self.error("write", &e))
                    .inspect_err(|_| self.rollback())?;
                Ok(revision)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    fn insert(&self, inventory: &str, note: Option<&str>) -> Result<Option<i64>, BackendError> {
        let newest = self.newest()?;
        if newest.as_ref().is_some_and(|(_, text)| text == inventory) {
            self.host.log(
                LogLevel::Debug,
                "the inventory is the newest revision already: nothing stored",
            );
            return Ok(None);
        }
        let mut summary =
            inventory_summary::summarize(newest.as_ref().map(|(_, t)| t.as_str()), inventory);
        if let Some(note) = note {
            summary = format!("{note}; {summary}");
        }
        let connection = self.connection.as_ref().expect("open");
        connection
            .execute(
                "INSERT INTO history (written_at, summary, inventory) \
                 VALUES (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?1, ?2)",
                (&summary, inventory),
            )
            .map_err(|e| self.error("write", &e))?;
        let revision = connection.last_insert_rowid();
        self.host.log(
            LogLevel::Info,
            format_args!("stored revision {revision}: {summary}"),
        );
        Ok(Some(revision))
    }
}

impl StorageBackend for SqliteBackend {
    fn register(&mut self, settings: &Settings) -> Result<(), BackendError> {
        self.rollback();
        self.connection = None;
        let mut database = None;
        for (key, value) in settings {
            match key.as_str() {
                "database" => database = Some(value.trim()),
                // In osa.ini, the host reads it for every plugin, and never passes it on.
                "lock_timeout" => {
                    return Err(BackendError::new(
                        "setting 'lock_timeout' is the host's: give the backend a Host \
                         (SqliteBackend::with_host) saying it",
                    ));
                }
                other => {
                    return Err(BackendError::new(format_args!(
                        "unknown setting '{other}' (known: database, lock_timeout)"
                    )));
                }
            }
        }
        let database = match database {
            None | Some("") => {
                return Err(BackendError::new(
                    "setting 'database' is required: the SQLite file holding the inventory",
                ));
            }
            Some(d) => PathBuf::from(d),
        };
        if !database.is_absolute() {
            return Err(BackendError::new(format_args!(
                "setting 'database' must be an absolute path, not '{}'",
                database.display()
            )));
        }
        self.database = Some(database);
        Ok(())
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        self.begin()?;
        let newest = self.newest();
        if newest.is_err() {
            self.rollback();
        }
        Ok(newest?.map(|(_, text)| text))
    }

    fn write(&mut self, inventory: &str) -> Result<(), BackendError> {
        self.write_revision(inventory, None).map(|_| ())
    }

    fn location(&self) -> String {
        self.database
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

impl Drop for SqliteBackend {
    fn drop(&mut self) {
        // Closing would abandon it too; saying so is clearer.
        self.rollback();
    }
}

/// Opens `database` read-only, for looking at it; a missing file is an error.
/// `None` when nothing was ever stored in it (the schema is created by the
/// first write transaction).
fn open_read_only(database: &Path) -> Result<Option<Connection>, BackendError> {
    if !database.exists() {
        return Err(BackendError::new(format_args!(
            "database {} does not exist",
            database.display()
        )));
    }
    let connection = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        BackendError::new(format_args!(
            "cannot open database {}: {e}",
            database.display()
        ))
    })?;
    connection.busy_timeout(DEFAULT_LOCK_TIMEOUT).map_err(|e| {
        BackendError::new(format_args!(
            "cannot open database {}: {e}",
            database.display()
        ))
    })?;
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| read_error(database, e))?;
    match version {
        0 => Ok(None),
        SCHEMA_VERSION => Ok(Some(connection)),
        other => Err(BackendError::new(format_args!(
            "database {} has schema version {other}, but this program knows only version \
             {SCHEMA_VERSION}",
            database.display()
        ))),
    }
}

fn read_error(database: &Path, e: rusqlite::Error) -> BackendError {
    BackendError::new(format_args!(
        "cannot read database {}: {e}",
        database.display()
    ))
}

/// Every revision in `database`, oldest first.
pub fn history(database: &Path) -> Result<Vec<Revision>, BackendError> {
    let Some(connection) = open_read_only(database)? else {
        return Ok(Vec::new());
    };
    let mut statement = connection
        .prepare("SELECT revision, written_at, summary FROM history ORDER BY revision")
        .map_err(|e| read_error(database, e))?;
    statement
        .query_map([], |row| {
            Ok(Revision {
                revision: row.get(0)?,
                written_at: row.get(1)?,
                summary: row.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| read_error(database, e))
}

/// The inventory of `revision` (the newest when `None`); `None` when there
/// is no such revision.
pub fn inventory_at(
    database: &Path,
    revision: Option<i64>,
) -> Result<Option<String>, BackendError> {
    let Some(connection) = open_read_only(database)? else {
        return Ok(None);
    };
    let result = match revision {
        Some(r) => connection.query_row(
            "SELECT inventory FROM history WHERE revision = ?1",
            [r],
            |row| row.get(0),
        ),
        None => connection.query_row(
            "SELECT inventory FROM history ORDER BY revision DESC LIMIT 1",
            [],
            |row| row.get(0),
        ),
    };
    result.optional().map_err(|e| read_error(database, e))
}

inventory_backend::export_plugin!(SqliteBackend, SqliteBackend::with_host);

#[cfg(test)]
mod tests;
