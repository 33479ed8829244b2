//! Finding and reading the inputs: the user configuration (`openstack_user_config.yml`
//! plus `conf.d/`) and the environment (`env.d/` of the base environment, then of the
//! config directory), merged as docs/generation.md §1 describes.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::yaml;

pub use inventory_storage::config_dirs::ConfigDirs;
pub const USER_CONFIG_FILE: &str = "openstack_user_config.yml";

/// Reads one YAML file; an empty document is an empty mapping.
pub fn read_yaml_mapping(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    let text = String::from_utf8(text).map_err(|_| Error::File {
        path: path.to_path_buf(),
        message: "not valid UTF-8 text".into(),
    })?;
    match yaml::load_str(&text) {
        Ok(None) => Ok(Map::new()),
        Ok(Some(Value::Object(map))) => Ok(map),
        Ok(Some(other)) => Err(Error::File {
            path: path.to_path_buf(),
            message: format!(
                "the top level must be a mapping of keys to values, not {}",
                kind_of(&other)
            ),
        }),
        Err(error) => Err(Error::Yaml {
            path: path.to_path_buf(),
            excerpt: error.excerpt(&text),
            error,
        }),
    }
}

pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Every `*.yml`/`*.yaml` file under `dir`, recursively, sorted by relative path.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::File {
            path: d.clone(),
            message: format!("cannot list directory: {e}"),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::File {
                path: d.clone(),
                message: format!("cannot list directory: {e}"),
            })?;
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yml" || ext == "yaml")
            {
                found.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.strip_prefix(dir).ok().cmp(&b.strip_prefix(dir).ok()));
    Ok(found)
}

/// Merges `new` into `base` as upstream's `merge_dict` does: a non-empty mapping is merged
/// recursively into what is there; any other value (an empty mapping included) replaces it.
/// A replaced key keeps its position, as in a Python dict.
pub fn merge(base: &mut Map<String, Value>, new: Map<String, Value>) {
    for (key, value) in new {
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                let slot = base.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(existing) = slot {
                    merge(existing, inner);
                }
            }
            other => {
                base.insert(key, other);
            }
        }
    }
}

/// Loads `openstack_user_config.yml` and merges every `conf.d/` file over it, then
/// normalises the top-level keys (docs/generation.md §2).
pub fn load_user_config(
    dirs: &ConfigDirs,
    log: &mut crate::log::Log,
) -> Result<Map<String, Value>> {
    let mut config = Map::new();
    if let Some(file) = dirs.find_file(USER_CONFIG_FILE) {
        log.debug(format!(
            "Loading user configuration from {}",
            file.display()
        ));
        config = read_yaml_mapping(&file)?;
    }
    if let Some(conf_d) = dirs.find_dir(Some("conf.d")) {
        for file in yaml_files(&conf_d)? {
            log.debug(format!("Merging overrides from {}", file.display()));
            merge(&mut config, read_yaml_mapping(&file)?);
        }
    }
    if config.is_empty() {
        let mut searched = dirs.candidates(None);
        searched.extend(dirs.candidates(Some("conf.d")));
        return Err(Error::MissingDataSource(python_list_repr(&searched)));
    }
    normalise_keys(config)
}

/// Python's `repr()` of a list of path strings: `['/a', '/b']`.
fn python_list_repr(paths: &[PathBuf]) -> String {
    let items: Vec<String> = paths
        .iter()
        .map(|p| {
            let s = p.to_string_lossy();
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Top-level keys get `-` replaced by `_`. Two keys that become one are merged host by
/// host when both are mappings (a host with two different `ip`s is an error); otherwise
/// the later one wins.
fn normalise_keys(config: Map<String, Value>) -> Result<Map<String, Value>> {
    let mut out = Map::with_capacity(config.len());
    for (key, value) in config {
        let key = if key.contains('-') {
            key.replace('-', "_")
        } else {
            key
        };
        match (out.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                for (host, vars) in incoming {
                    if let Some(previous) = existing.get(&host) {
                        let (a, b) = (ip_text(previous), ip_text(&vars));
                        if let (Some(a), Some(b)) = (a, b)
                            && a != b
                        {
                            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                            return Err(Error::TwoIpsForHost(host, lo, hi));
                        }
                    }
                    existing.insert(host, vars);
                }
            }
            (_, value) => {
                out.insert(key, value);
            }
        }
    }
    Ok(out)
}

/// The `ip` of a host entry as text, if it has one.
pub fn ip_text(host: &Value) -> Option<String> {
    host.get("ip").map(value_text)
}

/// A value as Python's `str()` shows it in messages.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// Where the base environment comes from.
#[derive(Debug, Clone)]
pub enum BaseEnvironment {
    /// The environment compiled into the binary (the project's `etc/environment`).
    Builtin,
    /// `--environment DIR`: the `env.d/` directory under DIR.
    Dir(PathBuf),
}

/// The default environment, embedded at build time so the binary works from anywhere.
mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_env.rs"));
}

/// Loads the base environment, then merges the config directory's `env.d/` over it.
pub fn load_environment(
    base: &BaseEnvironment,
    dirs: &ConfigDirs,
    log: &mut crate::log::Log,
) -> Result<Map<String, Value>> {
    let mut env = Map::new();
    match base {
        BaseEnvironment::Builtin => {
            for (name, text) in builtin::FILES {
                let parsed = yaml::load_str(text).map_err(|error| Error::Yaml {
                    path: PathBuf::from(format!("(built-in environment)/env.d/{name}")),
                    excerpt: error.excerpt(text),
                    error,
                })?;
                if let Some(Value::Object(map)) = parsed {
                    merge(&mut env, map);
                }
            }
        }
        BaseEnvironment::Dir(dir) => {
            let env_d = dir.join("env.d");
            if !env_d.is_dir() {
                return Err(Error::File {
                    path: env_d,
                    message: "no env.d directory in the environment directory".into(),
                });
            }
            for file in yaml_files(&env_d)? {
                log.debug(format!("Loading environment file {}", file.display()));
                merge(&mut env, read_yaml_mapping(&file)?);
            }
        }
    }
    if let Some(env_d) = dirs.find_dir(Some("env.d")) {
        for file in yaml_files(&env_d)? {
            log.debug(format!("Merging environment override {}", file.display()));
            merge(&mut env, read_yaml_mapping(&file)?);
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn merge_recurses_into_non_empty_mappings_only() {
        let mut base = obj(json!({"a": {"x": 1, "y": [1]}, "b": {"k": 1}, "c": [1, 2]}));
        merge(
            &mut base,
            obj(json!({"a": {"y": [], "z": 2}, "b": {}, "c": {"n": 1}, "d": null})),
        );
        assert_eq!(
            Value::Object(base.clone()),
            json!({"a": {"x": 1, "y": [], "z": 2}, "b": {}, "c": {"n": 1}, "d": null})
        );
        let keys: Vec<&String> = base.keys().collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
    }

    #[test]
    fn dashed_keys_merge_hosts_and_detect_two_ips() {
        let config = obj(json!({
            "a-b_hosts": {"h1": {"ip": "10.0.0.1"}},
            "a_b_hosts": {"h2": {"ip": "10.0.0.2"}},
        }));
        let out = normalise_keys(config).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"a_b_hosts": {"h1": {"ip": "10.0.0.1"}, "h2": {"ip": "10.0.0.2"}}})
        );

        let config = obj(json!({
            "a-b_hosts": {"h1": {"ip": "10.0.0.9"}},
            "a_b_hosts": {"h1": {"ip": "10.0.0.10"}},
        }));
        let err = normalise_keys(config).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Host h1 has both 10.0.0.10 and 10.0.0.9 assigned"
        );
    }

    #[test]
    fn missing_sources_are_listed_like_python() {
        let paths = [PathBuf::from("/x"), PathBuf::from("/etc/openstack_deploy")];
        assert_eq!(python_list_repr(&paths), "['/x', '/etc/openstack_deploy']");
    }
}
