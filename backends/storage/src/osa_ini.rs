//! Choosing the storage backend: `osa.ini`.
//!
//! # Where it is
//!
//! `/etc/ansible/osa.ini`, or the file named by the environment variable
//! `OSA_INI_PATH` when that is set and not empty. When the default file does
//! not exist, the inventory is stored in the JSON file as upstream does (the
//! `json` backend with its default settings); a file named by `OSA_INI_PATH`
//! must exist.
//!
//! # Format
//!
//! ```ini
//! [storage]
//! backend = json          ; the name of the section configuring the backend to use
//!
//! [json]                  ; a backend section; `type` defaults to the section name
//! type = json
//! directory = /etc/openstack_deploy
//!
//! [sqlite]
//! type = plugin
//! library = /usr/local/lib/libosa_inventory_sqlite.so
//! database = /var/lib/osa/inventory.sqlite
//! ```
//!
//! * A line is blank, a comment (first non-blank character `;` or `#`), a
//!   section header `[name]`, or `key = value` or `key: value` (the first `=`
//!   or `:` separates, as in Python's configparser). Text after ` ;` or ` #` (a
//!   comment character preceded by white space) is a comment. Surrounding
//!   white space is removed from names, keys and values; quotes are kept
//!   as written. There are no continuation lines. Keys are case-insensitive
//!   (read in lower case, as configparser does); section names are
//!   case-sensitive, and a section missing in one case but present in another
//!   is named in the error.
//! * A section or key may appear only once, and every key must be inside a
//!   section.
//! * `[storage]` is required and holds exactly one key, `backend`: the name
//!   of the section configuring the backend to use. When no section of that
//!   name exists and the name is that of a built-in type (`json`), that type
//!   is used with its default settings.
//! * Every other section configures one backend. Its `type` key says which
//!   kind (default: the section name), so several sections may configure
//!   the same kind differently and `backend` picks one of them.
//!
//! # Backend types
//!
//! * `json` (built in): `openstack_inventory.json` in the configuration
//!   directory. Setting: `directory` (optional) to use only that directory.
//! * `craton` (built in): an OpenStack Craton server (`docs/craton.md`). Its
//!   keys are checked whole here ([`CratonConfig`]): `url`, `project`, `user`,
//!   `token_file` or `token`, and optional `cloud`, `region`, `ca_file`,
//!   `timeout`, `cache_dir`.
//! * `plugin`: a backend in a shared library. `library` (required) is the
//!   absolute path of the library; `lock_timeout` is read by the plugin host
//!   (as the JSON backend reads it) and told to the plugin; every other key is
//!   passed to the plugin.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use inventory_backend::Settings;

use crate::StorageError;
use crate::craton::CratonConfig;
use crate::craton::config::{ConfigError, KNOWN_KEYS as CRATON_KEYS};

// Why a hand-written reader and not the `rust-ini` crate: every error names its line
// (a duplicate key or section too, which rust-ini merges silently or keeps as a
// multi-value), values are taken literally (rust-ini unescapes backslashes and strips
// quotes by default, which would change a Windows-style or quoted value), and the
// comment rule keeps `http://host/#x` whole. Those are exactness requirements, in
// about 80 lines.

/// The `osa.ini` used when `OSA_INI_PATH` is not set.
pub const DEFAULT_OSA_INI: &str = "/etc/ansible/osa.ini";

/// The environment variable naming another `osa.ini`.
pub const OSA_INI_ENV: &str = "OSA_INI_PATH";

/// The section choosing the backend, and its key.
const STORAGE_SECTION: &str = "storage";
const BACKEND_KEY: &str = "backend";

/// The backend types, for messages.
const KNOWN_TYPES: &str = "json, craton, plugin";

/// A parsed `osa.ini`: its path and its sections in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsaIni {
    path: PathBuf,
    sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    name: String,
    /// Keys in file order, each once.
    entries: Vec<(String, String)>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One configured backend: which section, which kind, and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSpec {
    /// The section that configured it (the type name for a built-in type
    /// used without a section).
    pub section: String,
    pub kind: BackendKind,
    /// Every key of the section except `type` (and `library` for plugins).
    pub settings: Settings,
}

/// The kinds of backend `osa.ini` can select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendKind {
    /// The built-in JSON file backend.
    Json,
    /// The built-in Craton backend, its section checked.
    Craton(Box<CratonConfig>),
    /// A backend in the shared library at `library` (an absolute path).
    Plugin { library: PathBuf },
}

impl OsaIni {
    /// Reads the `osa.ini` in effect: `$OSA_INI_PATH` when set and not
    /// empty, else `/etc/ansible/osa.ini`. `Ok(None)` when that file does not
    /// exist.
    pub fn discover() -> Result<Option<OsaIni>, StorageError> {
        Self::discover_from(std::env::var_os(OSA_INI_ENV))
    }

    /// [`OsaIni::discover`] with the value of `OSA_INI_PATH` given (tests
    /// cannot change the environment of a multi-threaded process safely).
    fn discover_from(env: Option<OsString>) -> Result<Option<OsaIni>, StorageError> {
        let (path, named) = match env {
            Some(p) if !p.is_empty() => (PathBuf::from(p), true),
            _ => (PathBuf::from(DEFAULT_OSA_INI), false),
        };
        match fs::metadata(&path) {
            Ok(_) => Self::read(&path).map(Some),
            // Only the default may be absent: a file named on purpose and missing would
            // silently mean the JSON file, and the inventory would split in two.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !named => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StorageError::NamedIniMissing { path })
            }
            Err(source) => Err(StorageError::Io { path, source }),
        }
    }

    /// Reads and parses the `osa.ini` at `path`.
    pub fn read(path: &Path) -> Result<OsaIni, StorageError> {
        let bytes = fs::read(path).map_err(|source| StorageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| StorageError::IniSyntax {
            path: path.to_path_buf(),
            line: line_of_byte(e.as_bytes(), e.utf8_error().valid_up_to()),
            message: "not valid UTF-8".to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text` as the contents of `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<OsaIni, StorageError> {
        let syntax = |line: usize, message: String| StorageError::IniSyntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut sections: Vec<Section> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = strip_comment(raw).trim();
            if content.is_empty() {
                continue;
            }
            if let Some(rest) = content.strip_prefix('[') {
                let (name, after) = rest
                    .split_once(']')
                    .ok_or_else(|| syntax(line, format!("section header '{content}' lacks ']'")))?;
                if !after.trim().is_empty() {
                    return Err(syntax(
                        line,
                        format!("unexpected '{}' after section header", after.trim()),
                    ));
                }
                let name = name.trim();
                if name.is_empty() {
                    return Err(syntax(line, "empty section name '[]'".to_string()));
                }
                if sections.iter().any(|s| s.name == name) {
                    return Err(syntax(line, format!("section [{name}] appears twice")));
                }
                sections.push(Section {
                    name: name.to_string(),
                    entries: Vec::new(),
                });
                continue;
            }
            let delimiter = content.find(['=', ':']).ok_or_else(|| {
                syntax(
                    line,
                    format!("expected '[section]' or 'key = value', found '{content}'"),
                )
            })?;
            let (key, value) = content.split_at(delimiter);
            let (key, value) = (key.trim().to_lowercase(), value[1..].trim());
            let key = key.as_str();
            if key.is_empty() {
                return Err(syntax(
                    line,
                    format!(
                        "no key before '{}' in '{content}'",
                        &content[delimiter..=delimiter]
                    ),
                ));
            }
            let section = sections
                .last_mut()
                .ok_or_else(|| syntax(line, format!("key '{key}' is outside of any [section]")))?;
            if section.get(key).is_some() {
                return Err(syntax(
                    line,
                    format!("key '{key}' appears twice in section [{}]", section.name),
                ));
            }
            section.entries.push((key.to_string(), value.to_string()));
        }
        Ok(OsaIni {
            path: path.to_path_buf(),
            sections,
        })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The section names, in file order.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|s| s.name.as_str())
    }

    /// The backend `[storage] backend` selects.
    pub fn active(&self) -> Result<BackendSpec, StorageError> {
        let storage = self
            .find(STORAGE_SECTION)
            .ok_or_else(|| StorageError::MissingSection {
                path: self.path.clone(),
                section: STORAGE_SECTION.to_string(),
                hint: match self.find_ignoring_case(STORAGE_SECTION) {
                    Some(other) => format!(
                        "; [{}] differs only in case (section names are case-sensitive)",
                        other.name
                    ),
                    None => String::new(),
                },
            })?;
        // Anything else here is most likely a misspelt `backend`.
        if let Some((key, _)) = storage.entries.iter().find(|(k, _)| k != BACKEND_KEY) {
            return Err(StorageError::UnknownKey {
                path: self.path.clone(),
                section: STORAGE_SECTION.to_string(),
                key: key.clone(),
                known: BACKEND_KEY.to_string(),
            });
        }
        let backend = storage
            .get(BACKEND_KEY)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| StorageError::MissingKey {
                path: self.path.clone(),
                section: STORAGE_SECTION.to_string(),
                key: BACKEND_KEY.to_string(),
            })?;
        if self.find(backend).is_none() && builtin_kind(backend).is_none() {
            return Err(StorageError::NoSuchBackendSection {
                path: self.path.clone(),
                section: backend.to_string(),
                known: self.known_backends(),
            });
        }
        self.section(backend)
    }

    /// The backend configured by section `name`, or a built-in type of that
    /// name with its default settings when there is no such section.
    pub fn section(&self, name: &str) -> Result<BackendSpec, StorageError> {
        let Some(section) = self.find(name) else {
            return match builtin_kind(name) {
                Some(kind) => Ok(BackendSpec {
                    section: name.to_string(),
                    kind,
                    settings: Settings::new(),
                }),
                None => Err(StorageError::NoSuchSection {
                    path: self.path.clone(),
                    section: name.to_string(),
                    known: self.known_backends(),
                }),
            };
        };
        let kind_name = section.get("type").unwrap_or(&section.name);
        let mut settings: Settings = section
            .entries
            .iter()
            .filter(|(k, _)| k != "type")
            .cloned()
            .collect();
        let kind = match kind_name {
            "json" => BackendKind::Json,
            "craton" => {
                let config = CratonConfig::from_settings(&settings, &self.path).map_err(|e| {
                    let (path, section) = (self.path.clone(), section.name.clone());
                    match e {
                        ConfigError::Missing(key) => StorageError::MissingKey {
                            path,
                            section,
                            key: key.to_string(),
                        },
                        ConfigError::Unknown(key) => StorageError::UnknownKey {
                            path,
                            section,
                            key,
                            known: CRATON_KEYS.to_string(),
                        },
                        ConfigError::Invalid { key, message } => StorageError::InvalidValue {
                            path,
                            section,
                            key: key.to_string(),
                            message,
                        },
                    }
                })?;
                settings.clear();
                BackendKind::Craton(Box::new(config))
            }
            "plugin" => {
                let library = settings
                    .remove("library")
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| StorageError::MissingKey {
                        path: self.path.clone(),
                        section: section.name.clone(),
                        key: "library".to_string(),
                    })?;
                let library = PathBuf::from(library);
                if !library.is_absolute() {
                    return Err(StorageError::InvalidValue {
                        path: self.path.clone(),
                        section: section.name.clone(),
                        key: "library".to_string(),
                        message: format!("'{}' is not an absolute path", library.display()),
                    });
                }
                BackendKind::Plugin { library }
            }
            other => {
                return Err(StorageError::UnknownType {
                    path: self.path.clone(),
                    section: section.name.clone(),
                    kind: other.to_string(),
                    known: KNOWN_TYPES.to_string(),
                });
            }
        };
        Ok(BackendSpec {
            section: section.name.clone(),
            kind,
            settings,
        })
    }

    fn find(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    fn find_ignoring_case(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// What a backend name may be, for messages: the backend sections of the file
    /// and the built-in types usable without one.
    fn known_backends(&self) -> String {
        let sections: Vec<&str> = self
            .section_names()
            .filter(|name| *name != STORAGE_SECTION)
            .collect();
        let sections = match sections.is_empty() {
            true => "none".to_string(),
            false => sections.join(", "),
        };
        format!("backend sections: {sections}; built-in: {BUILTIN_TYPES}")
    }
}

/// The built-in types usable without a section of their own, for messages.
const BUILTIN_TYPES: &str = "json";

/// The built-in types usable without a section of their own.
fn builtin_kind(name: &str) -> Option<BackendKind> {
    match name {
        "json" => Some(BackendKind::Json),
        _ => None,
    }
}

/// `line` without a trailing comment: `;` or `#` at the start or after
/// white space (so `a;b` and `http://x#y` stay whole).
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if (c == ';' || c == '#') && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// The 1-based line holding byte `offset` of `bytes`.
fn line_of_byte(bytes: &[u8], offset: usize) -> usize {
    bytes.iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
[storage]
backend = json          ; the name of the section configuring the backend to use

[json]                  ; a backend section; `type` defaults to the section name
type = json
directory = /etc/openstack_deploy

[sqlite]
type = plugin
library = /usr/local/lib/libosa_inventory_sqlite.so
database = /var/lib/osa/inventory.sqlite
";

    fn parse(text: &str) -> Result<OsaIni, StorageError> {
        OsaIni::parse(Path::new("/etc/ansible/osa.ini"), text)
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(text: &str) -> String {
        match parse(text).and_then(|ini| ini.active()) {
            Ok(spec) => panic!("expected an error, got {spec:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn example_parses() {
        let ini = parse(EXAMPLE).unwrap();
        assert_eq!(
            ini.section_names().collect::<Vec<_>>(),
            vec!["storage", "json", "sqlite"]
        );
        assert_eq!(
            ini.active().unwrap(),
            BackendSpec {
                section: "json".into(),
                kind: BackendKind::Json,
                settings: settings(&[("directory", "/etc/openstack_deploy")]),
            }
        );
        assert_eq!(
            ini.section("sqlite").unwrap(),
            BackendSpec {
                section: "sqlite".into(),
                kind: BackendKind::Plugin {
                    library: "/usr/local/lib/libosa_inventory_sqlite.so".into()
                },
                settings: settings(&[("database", "/var/lib/osa/inventory.sqlite")]),
            }
        );
    }

    #[test]
    fn plugin_selected() {
        let ini = parse(&EXAMPLE.replace("backend = json ", "backend = sqlite ")).unwrap();
        assert!(matches!(
            ini.active().unwrap().kind,
            BackendKind::Plugin { .. }
        ));
    }

    #[test]
    fn type_defaults_to_section_name() {
        let ini = parse("[storage]\nbackend = json\n[json]\ndirectory = /x\n").unwrap();
        let spec = ini.active().unwrap();
        assert_eq!(spec.kind, BackendKind::Json);
        assert_eq!(spec.settings, settings(&[("directory", "/x")]));

        let ini = parse("[storage]\nbackend=plugin\n[plugin]\nlibrary=/l.so\n").unwrap();
        assert_eq!(
            ini.active().unwrap().kind,
            BackendKind::Plugin {
                library: "/l.so".into()
            }
        );
    }

    #[test]
    fn named_section_of_builtin_type() {
        let ini =
            parse("[storage]\nbackend = files\n[files]\ntype = json\ndirectory = /srv\n").unwrap();
        let spec = ini.active().unwrap();
        assert_eq!(spec.section, "files");
        assert_eq!(spec.kind, BackendKind::Json);
        assert_eq!(spec.settings, settings(&[("directory", "/srv")]));
    }

    #[test]
    fn builtin_type_needs_no_section() {
        let ini = parse("# comment\n; another\n[storage]\n  backend   =   json  \n").unwrap();
        assert_eq!(
            ini.active().unwrap(),
            BackendSpec {
                section: "json".into(),
                kind: BackendKind::Json,
                settings: Settings::new()
            }
        );
    }

    #[test]
    fn comments_and_values() {
        let ini = parse(
            "[storage]\nbackend = p # why\n[p]\ntype = plugin\nlibrary = /a;b.so\nurl = http://h/x#frag\nempty =\n",
        )
        .unwrap();
        let spec = ini.active().unwrap();
        assert_eq!(
            spec.kind,
            BackendKind::Plugin {
                library: "/a;b.so".into()
            }
        );
        assert_eq!(
            spec.settings,
            settings(&[("url", "http://h/x#frag"), ("empty", "")])
        );
    }

    #[test]
    fn missing_storage_section() {
        assert_eq!(
            err("[json]\ndirectory = /x\n"),
            "/etc/ansible/osa.ini has no [storage] section"
        );
        assert_eq!(err(""), "/etc/ansible/osa.ini has no [storage] section");
    }

    #[test]
    fn missing_backend_key() {
        let expected = "section [storage] of /etc/ansible/osa.ini has no 'backend' key";
        assert_eq!(err("[storage]\n"), expected);
        assert_eq!(err("[storage]\nbackend =\n"), expected);
    }

    #[test]
    fn unknown_key_in_storage() {
        assert_eq!(
            err("[storage]\nbackend = json\nbakend = x\n"),
            "unknown key 'bakend' in section [storage] of /etc/ansible/osa.ini (known: backend)"
        );
    }

    #[test]
    fn backend_names_missing_section() {
        assert_eq!(
            err("[storage]\nbackend = sqlite\n"),
            "[storage] backend = sqlite in /etc/ansible/osa.ini names no section [sqlite], \
             and 'sqlite' is not a built-in backend type (backend sections: none; built-in: json)"
        );
        assert_eq!(
            err("[storage]\nbackend = sqlit\n[sqlite]\ntype = plugin\n[Craton]\n"),
            "[storage] backend = sqlit in /etc/ansible/osa.ini names no section [sqlit], \
             and 'sqlit' is not a built-in backend type \
             (backend sections: sqlite, Craton; built-in: json)"
        );
        let ini = parse("[storage]\nbackend = json\n").unwrap();
        assert_eq!(
            ini.section("nope").unwrap_err().to_string(),
            "no section [nope] in /etc/ansible/osa.ini (backend sections: none; built-in: json)"
        );
    }

    #[test]
    fn keys_as_configparser_reads_them() {
        // `key: value` as well as `key = value`, the first of the two separating; keys
        // in any case.
        let ini = parse(
            "[storage]\nBackend: db\n[db]\nTYPE : plugin\nLibrary=/l.so\n\
             url: http://h:8080/x?a=b\nratio = 1:2\n",
        )
        .unwrap();
        let spec = ini.active().unwrap();
        assert_eq!(
            spec.kind,
            BackendKind::Plugin {
                library: PathBuf::from("/l.so")
            }
        );
        assert_eq!(
            spec.settings,
            settings(&[("url", "http://h:8080/x?a=b"), ("ratio", "1:2")])
        );
        assert_eq!(
            parse("[s]\nKey = a\nkey: b\n").unwrap_err().to_string(),
            "/etc/ansible/osa.ini, line 3: key 'key' appears twice in section [s]"
        );
        assert_eq!(
            parse("[s]\n: b\n").unwrap_err().to_string(),
            "/etc/ansible/osa.ini, line 2: no key before ':' in ': b'"
        );
    }

    #[test]
    fn a_section_in_another_case_is_named() {
        assert_eq!(
            err("[Storage]\nbackend = json\n"),
            "/etc/ansible/osa.ini has no [storage] section; [Storage] differs only in case \
             (section names are case-sensitive)"
        );
        assert_eq!(
            err("[json]\n"),
            "/etc/ansible/osa.ini has no [storage] section"
        );
    }

    #[test]
    fn unknown_type() {
        assert_eq!(
            err("[storage]\nbackend = x\n[x]\ntype = cratn\n"),
            "unknown backend type 'cratn' in section [x] of /etc/ansible/osa.ini (known: json, craton, plugin)"
        );
        // The default type is the section name.
        assert_eq!(
            err("[storage]\nbackend = mystore\n[mystore]\n"),
            "unknown backend type 'mystore' in section [mystore] of /etc/ansible/osa.ini (known: json, craton, plugin)"
        );
    }

    #[test]
    fn plugin_library_required_and_absolute() {
        assert_eq!(
            err("[storage]\nbackend = p\n[p]\ntype = plugin\n"),
            "section [p] of /etc/ansible/osa.ini has no 'library' key"
        );
        assert_eq!(
            err("[storage]\nbackend = p\n[p]\ntype = plugin\nlibrary = lib.so\n"),
            "invalid 'library' in section [p] of /etc/ansible/osa.ini: 'lib.so' is not an absolute path"
        );
    }

    #[test]
    fn malformed_lines_are_named() {
        let cases = [
            ("[storage\n", 1, "section header '[storage' lacks ']'"),
            ("\n[]\n", 2, "empty section name '[]'"),
            ("[storage] x\n", 1, "unexpected 'x' after section header"),
            (
                "backend = json\n",
                1,
                "key 'backend' is outside of any [section]",
            ),
            (
                "[storage]\n\nbackend json\n",
                3,
                "expected '[section]' or 'key = value', found 'backend json'",
            ),
            ("[storage]\n= json\n", 2, "no key before '=' in '= json'"),
            ("[a]\n[b]\n[a]\n", 3, "section [a] appears twice"),
            (
                "[storage]\nbackend = a\nbackend = b\n",
                3,
                "key 'backend' appears twice in section [storage]",
            ),
        ];
        for (text, line, message) in cases {
            assert_eq!(
                parse(text).unwrap_err().to_string(),
                format!("/etc/ansible/osa.ini, line {line}: {message}"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn read_from_disk_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("osa.ini");
        fs::write(&path, EXAMPLE).unwrap();
        let ini = OsaIni::read(&path).unwrap();
        assert_eq!(ini.path(), path);
        assert_eq!(ini.active().unwrap().kind, BackendKind::Json);

        fs::write(&path, b"[storage]\nbackend = \xff\n").unwrap();
        assert_eq!(
            OsaIni::read(&path).unwrap_err().to_string(),
            format!("{}, line 2: not valid UTF-8", path.display())
        );

        let missing = dir.path().join("missing.ini");
        let e = OsaIni::read(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("cannot read {}: ", missing.display())),
            "{e}"
        );
    }

    #[test]
    fn discover_uses_env_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("osa.ini");
        fs::write(&path, EXAMPLE).unwrap();
        let ini = OsaIni::discover_from(Some(path.clone().into_os_string()))
            .unwrap()
            .unwrap();
        assert_eq!(ini.path(), path);
        // Named on purpose but missing: an error, never a silent fallback to JSON.
        let missing = dir.path().join("missing.ini");
        assert_eq!(
            OsaIni::discover_from(Some(missing.clone().into_os_string()))
                .unwrap_err()
                .to_string(),
            format!(
                "OSA_INI_PATH names {}, which does not exist; point it at your osa.ini, \
                 or unset it to use /etc/ansible/osa.ini (or, without that file, the JSON file)",
                missing.display()
            )
        );

        // A directory where the file should be is an error, not "no osa.ini".
        let e = OsaIni::discover_from(Some(dir.path().as_os_str().to_owned())).unwrap_err();
        assert!(e.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn discover_default_path_when_env_empty() {
        // Whatever this machine has at /etc/ansible/osa.ini, an empty
        // variable must mean that file, like an unset one.
        let a = OsaIni::discover_from(Some(OsString::new()));
        let b = OsaIni::discover_from(None);
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("differ: {a:?} / {b:?}"),
        }
    }
}
