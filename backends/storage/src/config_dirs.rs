//! Where the inputs and the JSON file backend's inventory are looked for: the preferred
//! configuration directory (`--config`), then `/etc/openstack_deploy`. Both programs and
//! the JSON file backend use the same list, so they always find the same files.

use std::path::{Path, PathBuf};

/// Upstream's configuration directory, the last place looked in.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/openstack_deploy";

/// The directories every input is looked up in: the preferred one (`--config` or
/// `OSA_CONFIG_DIR`, with `~` expanded), then `/etc/openstack_deploy`.
#[derive(Debug, Clone)]
pub struct ConfigDirs {
    dirs: Vec<PathBuf>,
}

impl ConfigDirs {
    pub fn new(preferred: Option<&str>) -> Self {
        Self::with_default(preferred, Path::new(DEFAULT_CONFIG_DIR))
    }

    /// Like `new`, with another fallback directory (tests).
    pub fn with_default(preferred: Option<&str>, default: &Path) -> Self {
        let mut dirs = Vec::new();
        if let Some(p) = preferred {
            dirs.push(expand_user(p));
        }
        dirs.push(default.to_path_buf());
        ConfigDirs { dirs }
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Every candidate for `suffix`, in search order.
    pub fn candidates(&self, suffix: Option<&str>) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|d| match suffix {
                Some(s) => d.join(s),
                None => d.clone(),
            })
            .collect()
    }

    pub fn find_file(&self, name: &str) -> Option<PathBuf> {
        self.candidates(Some(name))
            .into_iter()
            .find(|p| p.is_file())
    }

    pub fn find_dir(&self, suffix: Option<&str>) -> Option<PathBuf> {
        self.candidates(suffix).into_iter().find(|p| p.is_dir())
    }
}

/// `os.path.expanduser` for the common forms `~` and `~/x`.
fn expand_user(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME");
    match (path, home) {
        ("~", Some(home)) => PathBuf::from(home),
        (p, Some(home)) if p.starts_with("~/") => PathBuf::from(home).join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}
