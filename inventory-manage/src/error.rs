//! Everything that can stop `inventory-manage`. Each message names what is wrong and,
//! when it helps, what to do; the program prints it on standard error and exits with
//! status 1, having written nothing.

use std::path::PathBuf;

use inventory_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `osa.ini` or a backend failed (the message names the section or file).
    #[error(transparent)]
    Storage(#[from] StorageError),

    /// The stored text is not an inventory (dynamic-inventory's wording).
    #[error("{location}: the stored inventory cannot be used: {message}{earlier}")]
    Corrupt {
        location: String,
        message: String,
        /// `; earlier versions are in ...`, or empty.
        earlier: String,
    },

    /// The backend holds no inventory at all.
    #[error("no inventory is stored in {location} ({backend} backend)")]
    NoInventory { location: String, backend: String },

    /// `--file` names no existing file.
    #[error("inventory file {name} not found (looked for {looked})")]
    FileNotFound { name: String, looked: String },

    /// `--file` names a file other than `openstack_inventory.json` for a change.
    #[error(
        "{}: only a file named openstack_inventory.json can be changed (its lock and \
         backup archive are named after it); the other actions can read any file",
        .0.display()
    )]
    FileNameNotWritable(PathBuf),

    /// `--backend`, `--from` or `--to` without an `osa.ini`.
    #[error("{option} {section}: there is no osa.ini ({} does not exist)", .path.display())]
    NoOsaIni {
        option: &'static str,
        section: String,
        path: PathBuf,
    },

    /// `--backend storage`: the section that selects, not a backend.
    #[error("[{section}] in {} selects the backend; it is not a backend section", .path.display())]
    NotABackendSection { section: String, path: PathBuf },

    /// `-s` names no column of `-l`.
    #[error("Invalid field name: {field} (the columns are: {known})")]
    InvalidSortField { field: String, known: String },

    /// `-r` names a host the inventory does not have.
    #[error("no host {host} in the inventory ({location}); nothing was changed")]
    UnknownHost { host: String, location: String },

    /// `-d` names a group the inventory does not have.
    #[error("no group {group} in the inventory ({location}); nothing was changed")]
    UnknownGroup { group: String, location: String },

    /// `migrate --from X --to X`.
    #[error("--from and --to both name [{0}]: nothing to migrate")]
    SameSection(String),

    /// Source and destination are one store under two names.
    #[error("the source and the destination are the same store ({0}): nothing to migrate")]
    SameStore(String),

    /// `migrate` would overwrite an inventory.
    #[error(
        "{location} ({backend} backend) already holds an inventory; nothing was written \
         (use --force to replace it)"
    )]
    DestinationNotEmpty { location: String, backend: String },

    /// `dump -o FILE` could not write FILE.
    #[error("cannot write {}: {source}", .path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
