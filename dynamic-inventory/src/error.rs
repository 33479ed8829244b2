//! Everything that can stop a run. The first group of messages are the upstream
//! generator's, word for word (operators and tooling match on them); the rest are ours,
//! for inputs upstream would crash on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- Upstream messages (docs/generation.md §1, §3) ---
    // Upstream's sentence, then how to point at the configuration (ours).
    #[error(
        "Could not read data sources: '{0}'. No openstack_user_config.yml (or conf.d/*.yml) \
         with a configuration was found there: give its directory with --config DIR or \
         OSA_CONFIG_DIR."
    )]
    MissingDataSource(String),

    #[error("No container CIDR specified in user config")]
    NoCidrNetworks,

    #[error("No container or management network specified in user config.")]
    NoContainerNetwork,

    #[error("global_overrides can't be found in user config")]
    NoGlobalOverrides,

    #[error("provider networks can't be found under global_overrides in user config")]
    NoProviderNetworks,

    #[error("can't find {0} in cidr_networks")]
    UnknownQueue(String),

    #[error(
        "Provider network with queue '{0}' requires 'is_management_address' to be set to True."
    )]
    ManagementAddressRequired(String),

    #[error(
        "Both host:{0} and host:{1} have address:{2} assigned.  Cannot assign same ip to both hosts"
    )]
    SameIpForTwoHosts(String, String, String),

    #[error("Host {0} has both {1} and {2} assigned")]
    TwoIpsForHost(String, String, String),

    #[error(
        "The group 'lxc_hosts' must not be defined in config; it will be dynamically  generated."
    )]
    LxcHostsDefined,

    #[error(
        "Group {parent} has a child group {child}, but also has host entries in user configuration. Hosts cannot be sibling with groups."
    )]
    GroupConflict { parent: String, child: String },

    #[error(
        "Static route provider network with queue '{0}' needs both 'cidr' and 'gateway' values."
    )]
    IncompleteStaticRoute(String),

    #[error(
        "Cannot retrieve requested amount of IP addresses. Increase the {0} range in your openstack_user_config.yml."
    )]
    PoolExhausted(String),

    #[error(
        "The resulting combination of [ \"{host}\" + \"{container}\" ] is longer than 52 characters. This combination will result in a container name that is longer than the maximum allowable hostname of 63 characters. Before this process can continue please adjust the host entries in your \"openstack_user_config.yml\" to use a short hostname. The recommended hostname length is < 20 characters long."
    )]
    ContainerNameTooLong { host: String, container: String },

    #[error(
        "The resulting hostname \"{0}\" is longer than 63 characters. This combination may result in a name that is longer than the maximum allowable hostname of 63 characters. Before this process can continue please adjust the host entries in your \"openstack_user_config.yml\" to use a short hostname."
    )]
    HostNameTooLong(String),

    // --- Our own messages, for input upstream crashes on ---
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },

    /// A YAML file that cannot be read. The message is one line, naming the file, the
    /// line and the column; [`Error::excerpt`] quotes the line with a caret.
    #[error("{path}: invalid YAML: {error}")]
    Yaml {
        path: PathBuf,
        error: crate::yaml::YamlError,
        /// [`crate::yaml::YamlError::excerpt`] of the file's text.
        excerpt: String,
    },

    #[error("Host {host} in group {group} of the user configuration has no 'ip' set")]
    HostWithoutIp { host: String, group: String },

    #[error("{0}")]
    Config(String),

    #[error("{0}")]
    Environment(String),

    #[error("cidr_networks entry '{name}' is not a valid network: {value}")]
    InvalidCidr { name: String, value: String },

    #[error("used_ips entry {0} is not an IP address or a \"FIRST,LAST\" range")]
    InvalidUsedIp(String),

    #[error(
        "the inventory would nest {depth} levels deep, more than the {max} a stored \
         inventory may have (a configuration value nested too deeply); nothing was written"
    )]
    TooDeep { depth: usize, max: usize },

    #[error("{location}: the stored inventory cannot be used: {message}{earlier}")]
    StoredInventory {
        location: String,
        message: String,
        /// `; earlier versions are in ...`, or empty.
        earlier: String,
    },

    #[error(transparent)]
    Storage(#[from] inventory_storage::StorageError),
}

impl Error {
    /// Lines to show under the message, if any: the source line of a YAML error with a
    /// caret under the column. Free of control characters (escaped), like the message.
    pub fn excerpt(&self) -> Option<&str> {
        match self {
            Error::Yaml { excerpt, .. } => Some(excerpt),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
