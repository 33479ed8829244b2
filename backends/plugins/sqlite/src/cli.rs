//! The command line of the `osa-inventory-sqlite` tool, for the tool itself and for
//! whatever generates its shell completions or manual page from [`command`].

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// `osa-inventory-sqlite COMMAND DATABASE [ARGUMENT]`.
#[derive(Debug, Parser)]
#[command(
    name = "osa-inventory-sqlite",
    about = "The inventory history kept by the SQLite storage plugin (docs/plugins.md)",
    override_usage = "osa-inventory-sqlite history DATABASE\n       \
                      osa-inventory-sqlite show DATABASE [REVISION]\n       \
                      osa-inventory-sqlite restore DATABASE REVISION\n       \
                      osa-inventory-sqlite import DATABASE FILE",
    arg_required_else_help = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The tool's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every revision: number, time written (UTC), what changed
    History {
        /// The SQLite file the plugin keeps
        database: PathBuf,
    },
    /// Print the inventory of REVISION (default: the current one)
    Show {
        /// The SQLite file the plugin keeps
        database: PathBuf,
        /// A revision number, as `history` lists them
        revision: Option<String>,
    },
    /// Make REVISION the current inventory again, as a new revision
    Restore {
        /// The SQLite file the plugin keeps
        database: PathBuf,
        /// A revision number, as `history` lists them
        revision: String,
    },
    /// Store the inventory in FILE (an openstack_inventory.json) as a new revision, e.g.
    /// when moving from the JSON file backend
    Import {
        /// The SQLite file the plugin keeps
        database: PathBuf,
        /// The inventory file to store
        file: PathBuf,
    },
}

/// What `--version` prints after the name: the tool's version and the plugin ABI
/// version the library beside it implements (`0.1.0 (plugin ABI 2.1)`).
pub fn version() -> &'static str {
    inventory_backend::version_with_abi!()
}

/// The tool's clap command: what it parses, and what completions and a manual page
/// can be generated from.
pub fn command() -> clap::Command {
    Cli::command().version(version())
}

/// Parses `args` (the first is the program name) as the tool does.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory_backend::abi;
    use std::path::Path;

    #[test]
    fn the_command_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn arguments_parse_into_commands() {
        let cli = parse_from(["osa-inventory-sqlite", "show", "/x/db", "3"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Show { database, revision: Some(r) } if database == Path::new("/x/db") && r == "3"
        ));
        let err = parse_from(["osa-inventory-sqlite", "restore", "/x/db"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = parse_from(["osa-inventory-sqlite", "--version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
        assert_eq!(
            err.to_string(),
            format!(
                "osa-inventory-sqlite {} (plugin ABI {}.{})\n",
                env!("CARGO_PKG_VERSION"),
                abi::ABI_MAJOR,
                abi::ABI_MINOR
            )
        );
    }
}
