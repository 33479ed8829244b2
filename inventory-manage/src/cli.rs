//! Command-line arguments: upstream's `inventory-manage.py` flags, unchanged, plus the
//! choice of the storage backend and two subcommands (`dump`, `migrate`).

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "inventory-manage",
    version = inventory_backend::version_with_abi!(),
    about = "Inspect and edit the OpenStack-Ansible inventory, on any storage backend",
    long_about = "Inspect and edit the OpenStack-Ansible inventory, on any storage backend.\n\n\
                  Without --file or --backend, the inventory is the one the active backend of \
                  osa.ini stores ($OSA_INI_PATH, else /etc/ansible/osa.ini); without osa.ini, \
                  openstack_inventory.json in the --config directory, then in \
                  /etc/openstack_deploy, as dynamic-inventory finds it.",
    override_usage = "inventory-manage [-f FILE | --backend SECTION] [--config DIR] \
                      (-l [-s SORT] | -g | -G | -e | --clear-ips | -r HOST... | -d GROUP...)\n       \
                      inventory-manage [-f FILE | --backend SECTION] [--config DIR] dump [-o FILE]\n       \
                      inventory-manage [-f FILE | --backend SECTION | --from SECTION] [--config DIR] \
                      migrate --to SECTION [--force]",
    // Like argparse: `-s a -s b` keeps the last, `-l -l` is `-l`.
    args_override_self = true,
    // An action with a subcommand is refused by `Cli::check` (clap's own check would
    // also refuse the global options before the subcommand: `-f FILE dump`).
    subcommand_negates_reqs = true,
    group(
        ArgGroup::new("action")
            .required(true)
            .multiple(false)
            .args([
                "remove_item",
                "remove_group",
                "list_host",
                "list_groups",
                "list_containers",
                "export",
                "clear_ips",
            ])
    )
)]
pub struct Cli {
    #[command(flatten)]
    pub store: StoreArgs,

    /// Sort items based on given key i.e. physical_host
    #[arg(short, long, value_name = "SORT", default_value = "component")]
    pub sort: String,

    /// host name to remove from inventory, this can be used multiple times.
    #[arg(short = 'r', long, value_name = "REMOVE_ITEM", action = clap::ArgAction::Append)]
    pub remove_item: Vec<String>,

    /// group name to remove from inventory, this can be used multiple times.
    #[arg(short = 'd', long, value_name = "REMOVE_GROUP", action = clap::ArgAction::Append)]
    pub remove_group: Vec<String>,

    /// List hosts and containers: name, is_metal, component, physical host, addresses
    #[arg(short = 'l', long)]
    pub list_host: bool,

    /// List containers and the groups each belongs to
    #[arg(short = 'g', long)]
    pub list_groups: bool,

    /// List groups and the containers in each group
    #[arg(short = 'G', long)]
    pub list_containers: bool,

    /// Export group and variable information per host in JSON.
    #[arg(short = 'e', long)]
    pub export: bool,

    /// Clears IPs from the existing inventory, but leaves all other information intact.
    /// LXC interface files and load balancers will *not* be modified.
    #[arg(long)]
    pub clear_ips: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where the inventory is: usable before or after a subcommand.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Inventory file: used directly, instead of the backend of osa.ini. A relative path
    /// is looked up in the --config directory, then in /etc/openstack_deploy
    #[arg(
        short,
        long,
        value_name = "FILE",
        global = true,
        conflicts_with = "backend"
    )]
    pub file: Option<PathBuf>,

    /// The osa.ini section of the backend to use, instead of the active one
    #[arg(long, value_name = "SECTION", global = true)]
    pub backend: Option<String>,

    /// migrate: the osa.ini section of the backend to copy from (default: --file,
    /// --backend, or the active backend); before or after `migrate`
    #[arg(
        long,
        value_name = "SECTION",
        global = true,
        conflicts_with_all = ["file", "backend"]
    )]
    pub from: Option<String>,

    /// Configuration directory holding openstack_inventory.json for the JSON backend
    /// (default: $OSA_CONFIG_DIR, then /etc/openstack_deploy)
    #[arg(long, value_name = "DIR", env = "OSA_CONFIG_DIR", global = true)]
    pub config: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the whole inventory exactly as it is stored (or write it to a file)
    Dump {
        /// Write it to FILE (replaced atomically) instead of standard output
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Copy the inventory, unchanged, from one backend to another
    Migrate {
        /// The osa.ini section of the backend to copy to
        #[arg(long, value_name = "SECTION")]
        to: String,
        /// Replace an inventory the destination already holds
        #[arg(long)]
        force: bool,
    },
}

/// What the flags ask for (exactly one, clap checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    ListHosts { sort: String },
    ListGroups,
    ListContainers,
    Export,
    ClearIps,
    RemoveGroups(Vec<String>),
    RemoveHosts(Vec<String>),
}

impl Cli {
    /// What clap cannot check: an action flag given with a subcommand.
    pub fn check(&self) -> Result<(), clap::Error> {
        if self.store.from.is_some() && !matches!(self.command, Some(Command::Migrate { .. })) {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                "the argument '--from <SECTION>' can only be used with 'migrate'",
            ));
        }
        let Some(command) = &self.command else {
            return Ok(());
        };
        if let (Command::Migrate { .. }, Some(_)) = (command, &self.store.from) {
            // Given on both sides of the subcommand, global options escape clap's
            // conflict check.
            let global = if self.store.file.is_some() {
                Some("--file <FILE>")
            } else if self.store.backend.is_some() {
                Some("--backend <SECTION>")
            } else {
                None
            };
            if let Some(global) = global {
                let mut cmd = <Cli as clap::CommandFactory>::command();
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("the argument '--from <SECTION>' cannot be used with '{global}'"),
                ));
            }
        }
        let Some(flag) = self.action_flag() else {
            return Ok(());
        };
        let name = match command {
            Command::Dump { .. } => "dump",
            Command::Migrate { .. } => "migrate",
        };
        let mut cmd = <Cli as clap::CommandFactory>::command();
        Err(cmd.error(
            clap::error::ErrorKind::ArgumentConflict,
            format!("the subcommand '{name}' cannot be used with '{flag}'"),
        ))
    }

    /// The long name of the action flag given, if any.
    fn action_flag(&self) -> Option<&'static str> {
        match self.action()? {
            Action::ListHosts { .. } => Some("--list-host"),
            Action::ListGroups => Some("--list-groups"),
            Action::ListContainers => Some("--list-containers"),
            Action::Export => Some("--export"),
            Action::ClearIps => Some("--clear-ips"),
            Action::RemoveGroups(_) => Some("--remove-group"),
            Action::RemoveHosts(_) => Some("--remove-item"),
        }
    }

    /// The upstream action the flags select, when no subcommand was given.
    pub fn action(&self) -> Option<Action> {
        if self.list_host {
            Some(Action::ListHosts {
                sort: self.sort.clone(),
            })
        } else if self.list_groups {
            Some(Action::ListGroups)
        } else if self.list_containers {
            Some(Action::ListContainers)
        } else if self.export {
            Some(Action::Export)
        } else if self.clear_ips {
            Some(Action::ClearIps)
        } else if !self.remove_group.is_empty() {
            Some(Action::RemoveGroups(self.remove_group.clone()))
        } else if !self.remove_item.is_empty() {
            Some(Action::RemoveHosts(self.remove_item.clone()))
        } else {
            None
        }
    }
}
