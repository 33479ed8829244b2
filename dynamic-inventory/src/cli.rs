//! Command-line flags, compatible with upstream's `dynamic_inventory.py` plus Ansible's
//! inventory-script contract (`--list`, `--host`).

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "dynamic-inventory",
    version = inventory_backend::version_with_abi!(),
    about = "OpenStack Inventory Generator",
    long_about = "Generates the OpenStack-Ansible inventory from openstack_user_config.yml, \
                  conf.d/ and env.d/, stores it through the configured backend and prints it \
                  as JSON for Ansible.",
    after_help = "Storage: the inventory is stored through the backend chosen in \
                  /etc/ansible/osa.ini, or in the file the environment variable OSA_INI_PATH \
                  names. Without /etc/ansible/osa.ini (and OSA_INI_PATH unset), it is \
                  openstack_inventory.json in the configuration directory, as upstream \
                  stores it. See docs/storage.md."
)]
pub struct Cli {
    /// Path containing the user defined configuration files (default: $OSA_CONFIG_DIR,
    /// then /etc/openstack_deploy)
    #[arg(long, value_name = "DIR", env = "OSA_CONFIG_DIR")]
    pub config: Option<String>,

    /// List all entries (the default)
    #[arg(long)]
    pub list: bool,

    /// Print the variables of one host (Ansible's inventory script contract)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["list", "check"])]
    pub host: Option<String>,

    /// Configuration check only: generate, report problems, never write
    #[arg(long)]
    pub check: bool,

    /// Append debug messages to inventory.log in the working directory
    #[arg(short, long)]
    pub debug: bool,

    /// Directory that contains the base env.d directory (default: the environment built
    /// into this program)
    #[arg(short, long, value_name = "DIR")]
    pub environment: Option<PathBuf>,
}
