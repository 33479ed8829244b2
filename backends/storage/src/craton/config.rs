//! The `[craton]` section of `osa.ini`: checked whole before any request is made.
//!
//! Every mistake is a [`ConfigError`] naming the key; the caller adds the file and the
//! section. The token is read here, from `token_file` or `token`, under the permission
//! rules of `docs/security.md`, and never shown: [`Token`] has no `Display` and a
//! redacting `Debug`.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use inventory_backend::Settings;
use reqwest::Url;

use crate::fsutil::current_euid;

/// The keys of a `type = craton` section, for messages.
pub const KNOWN_KEYS: &str = "url, project, user, token, token_file, cloud, region, ca_file, \
                              timeout, cache_dir, lock_timeout";

pub const DEFAULT_CLOUD: &str = "openstack-ansible";
pub const DEFAULT_REGION: &str = "RegionOne";
const DEFAULT_TIMEOUT: u64 = 30;
const MAX_TIMEOUT: u64 = 3600;
/// How long a run waits for another using the same cache_dir (as the other backends).
const DEFAULT_LOCK_TIMEOUT: u64 = 600;
const MAX_LOCK_TIMEOUT: u64 = 86_400;
/// A token file larger than this is not a token (and is not read whole).
const MAX_TOKEN_LEN: u64 = 4096;
/// Craton keeps names in 255 characters; the storage region adds a prefix to the region's.
const MAX_NAME_LEN: usize = 200;

/// A Craton API token. Shown nowhere: no `Display`, and `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token itself, for the `X-Auth-Token` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A checked `[craton]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CratonConfig {
    /// The API base (`.../v1`), without a trailing `/`.
    pub url: Url,
    pub project: String,
    pub user: String,
    pub token: Token,
    pub cloud: String,
    pub region: String,
    /// PEM certificates to trust besides the system's, as read from `ca_file`.
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
    pub cache_dir: PathBuf,
    /// How long to wait for another run holding the cache_dir lock.
    pub lock_timeout: Duration,
}

/// A setting that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Missing(&'static str),
    Unknown(String),
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl CratonConfig {
    /// Checks the settings of a section of `ini_path` (whose own permissions decide
    /// whether `token` may be written in it). Reads the token and `ca_file`.
    pub fn from_settings(settings: &Settings, ini_path: &Path) -> Result<Self, ConfigError> {
        Self::from_settings_with(settings, ini_path, &Environment::current())
    }

    fn from_settings_with(
        settings: &Settings,
        ini_path: &Path,
        env: &Environment,
    ) -> Result<Self, ConfigError> {
        if let Some(key) = settings
            .keys()
            .find(|k| !KNOWN_KEYS.split(", ").any(|known| known == k.as_str()))
        {
            return Err(ConfigError::Unknown(key.clone()));
        }
        let get = |key: &'static str| {
            settings
                .get(key)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let url = parse_url(get("url").ok_or(ConfigError::Missing("url"))?)?;
        let project = header_value(
            "project",
            get("project").ok_or(ConfigError::Missing("project"))?,
        )?;
        let user = header_value("user", get("user").ok_or(ConfigError::Missing("user"))?)?;
        let token = match (get("token"), get("token_file")) {
            (Some(_), Some(_)) => {
                return Err(invalid("token", "set only one of 'token' and 'token_file'"));
            }
            (None, None) => return Err(ConfigError::Missing("token_file")),
            (Some(token), None) => {
                check_private("token", ini_path, "holds a token", env)?;
                header_value("token", token).map(Token)?
            }
            (None, Some(file)) => read_token(Path::new(file), env)?,
        };
        let name = |key: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = get(key).unwrap_or(default);
            if value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
                return Err(invalid(
                    key,
                    format!(
                        "must be a name of at most {MAX_NAME_LEN} characters, without control characters"
                    ),
                ));
            }
            Ok(value.to_string())
        };
        let cloud = name("cloud", DEFAULT_CLOUD)?;
        let region = name("region", DEFAULT_REGION)?;
        let ca_pem = get("ca_file").map(read_ca_file).transpose()?;
        let timeout = seconds("timeout", get("timeout"), DEFAULT_TIMEOUT, 1..=MAX_TIMEOUT)?;
        let lock_timeout = seconds(
            "lock_timeout",
            get("lock_timeout"),
            DEFAULT_LOCK_TIMEOUT,
            0..=MAX_LOCK_TIMEOUT,
        )?;
        let cache_dir = match get("cache_dir") {
            Some(dir) if Path::new(dir).is_absolute() => PathBuf::from(dir),
            Some(dir) => {
                return Err(invalid(
                    "cache_dir",
                    format!("'{dir}' is not an absolute path"),
                ));
            }
            None => env.default_cache_dir().ok_or_else(|| {
                invalid(
                    "cache_dir",
                    "not set, and neither XDG_CACHE_HOME nor HOME says where the default is",
                )
            })?,
        };
        Ok(CratonConfig {
            url,
            project,
            user,
            token,
            cloud,
            region,
            ca_pem,
            timeout: Duration::from_secs(timeout),
            cache_dir,
            lock_timeout: Duration::from_secs(lock_timeout),
        })
    }
}

/// A number of seconds within `allowed` (`default` when not set).
fn seconds(
    key: &'static str,
    text: Option<&str>,
    default: u64,
    allowed: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(text) = text else {
        return Ok(default);
    };
    match text.parse::<u64>() {
        Ok(n) if allowed.contains(&n) => Ok(n),
        _ => Err(invalid(
            key,
            format!(
                "'{text}' is not a whole number of seconds from {} to {}",
                allowed.start(),
                allowed.end()
            ),
        )),
    }
}

/// `https://`, or `http://` to a loopback address only; no credentials, query or
/// fragment (they would end up in messages).
fn parse_url(text: &str) -> Result<Url, ConfigError> {
    let mut url =
        Url::parse(text).map_err(|e| invalid("url", format!("'{text}' is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "url",
            "must not hold a user name or password; use 'user' and 'token_file'",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "url",
            format!("'{url}' must not have a query or a fragment"),
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "url",
                format!(
                    "'{url}' is plain http to a host that is not a loopback address; \
                     the token and the inventory would cross the network unencrypted: use https://"
                ),
            ));
        }
        other => {
            return Err(invalid("url", format!("scheme '{other}' is not https")));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url", format!("'{text}' names no host")));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A value sent in a header: visible ASCII only (a newline would split the request).
fn header_value(key: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            key,
            "must be printable ASCII without spaces (it is sent in a request header)",
        ));
    }
    Ok(value.to_string())
}

/// Reads `token_file`: owned by root or by the running user, readable by nobody else.
fn read_token(path: &Path, env: &Environment) -> Result<Token, ConfigError> {
    let shown = path.display();
    let mut file =
        File::open(path).map_err(|e| invalid("token_file", format!("cannot read {shown}: {e}")))?;
    // The file opened is the file checked: no swap between the check and the read.
    let meta = file
        .metadata()
        .map_err(|e| invalid("token_file", format!("cannot read {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(invalid(
            "token_file",
            format!("{shown} is not a regular file"),
        ));
    }
    check_mode("token_file", path, &meta, "holds the token", env)?;
    if meta.len() > MAX_TOKEN_LEN {
        return Err(invalid(
            "token_file",
            format!("{shown} is too large to hold a token"),
        ));
    }
    let mut text = String::new();
    file.by_ref()
        .take(MAX_TOKEN_LEN)
        .read_to_string(&mut text)
        .map_err(|e| invalid("token_file", format!("cannot read {shown}: {e}")))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(invalid("token_file", format!("{shown} is empty")));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "token_file",
            format!("{shown} must hold the token alone, on one line, in printable ASCII"),
        ));
    }
    Ok(Token(token.to_string()))
}

/// `path` (osa.ini, when it holds `token`) must be readable by its owner only.
fn check_private(
    key: &'static str,
    path: &Path,
    what: &str,
    env: &Environment,
) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| invalid(key, format!("cannot check {}: {e}", path.display())))?;
    check_mode(key, path, &meta, what, env)
}

#[cfg(unix)]
fn check_mode(
    key: &'static str,
    path: &Path,
    meta: &std::fs::Metadata,
    what: &str,
    env: &Environment,
) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    if mode & 0o044 != 0 {
        return Err(invalid(
            key,
            format!(
                "{} {what} but is readable by group or others (mode {mode:04o}); \
                 chmod 600 it",
                path.display()
            ),
        ));
    }
    if meta.uid() != 0 && meta.uid() != env.euid {
        return Err(invalid(
            key,
            format!(
                "{} {what} but belongs to user id {}, neither root nor the user running this (id {})",
                path.display(),
                meta.uid(),
                env.euid
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(
    _key: &'static str,
    _path: &Path,
    _meta: &std::fs::Metadata,
    _what: &str,
    _env: &Environment,
) -> Result<(), ConfigError> {
    Ok(())
}

fn read_ca_file(file: &str) -> Result<Vec<u8>, ConfigError> {
    let pem =
        std::fs::read(file).map_err(|e| invalid("ca_file", format!("cannot read {file}: {e}")))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        _ => Err(invalid(
            "ca_file",
            format!("{file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
        )),
    }
}

/// What the defaults depend on, passed in so tests need not change the process's
/// environment.
struct Environment {
    xdg_cache_home: Option<PathBuf>,
    home: Option<PathBuf>,
    euid: u32,
}

impl Environment {
    fn current() -> Self {
        Environment {
            xdg_cache_home: std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from),
            home: std::env::var_os("HOME").map(PathBuf::from),
            euid: current_euid(),
        }
    }

    /// `$XDG_CACHE_HOME/osa-inventory`, else `~/.cache/osa-inventory` (the XDG rule:
    /// a relative XDG_CACHE_HOME is ignored).
    fn default_cache_dir(&self) -> Option<PathBuf> {
        let base = match &self.xdg_cache_home {
            Some(dir) if dir.is_absolute() => dir.clone(),
            _ => self
                .home
                .as_ref()
                .filter(|h| h.is_absolute())?
                .join(".cache"),
        };
        Some(base.join("osa-inventory"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let f = Fixture {
                dir: tempfile::tempdir().unwrap(),
            };
            fs::write(f.ini(), "[storage]\n").unwrap();
            chmod(&f.ini(), 0o600);
            fs::write(f.token_file(), "s3cret-token\n").unwrap();
            chmod(&f.token_file(), 0o600);
            f
        }
        fn ini(&self) -> PathBuf {
            self.dir.path().join("osa.ini")
        }
        fn token_file(&self) -> PathBuf {
            self.dir.path().join("craton.token")
        }
        fn settings(&self, extra: &[(&str, &str)]) -> Settings {
            let mut s: Settings = [
                ("url", "https://craton.example.com:7780/v1/"),
                ("project", "5a3a6f0e-1111-2222-3333-444455556666"),
                ("user", "osa-deployer"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            s.insert("token_file".into(), self.token_file().display().to_string());
            for (k, v) in extra {
                if v.is_empty() {
                    s.remove(*k);
                } else {
                    s.insert(k.to_string(), v.to_string());
                }
            }
            s
        }
        fn env(&self) -> Environment {
            Environment {
                xdg_cache_home: None,
                home: Some("/home/deployer".into()),
                euid: current_euid(),
            }
        }
        fn parse(&self, extra: &[(&str, &str)]) -> Result<CratonConfig, ConfigError> {
            CratonConfig::from_settings_with(&self.settings(extra), &self.ini(), &self.env())
        }
        fn error(&self, extra: &[(&str, &str)]) -> (String, String) {
            match self.parse(extra) {
                Err(ConfigError::Invalid { key, message }) => (key.to_string(), message),
                other => panic!("expected an invalid value, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_backend_says_where_earlier_revisions_are() {
        use inventory_backend::StorageBackend;
        let config = Fixture::new().parse(&[("region", "east")]).unwrap();
        let backend = crate::craton::CratonBackend::new(config);
        assert_eq!(
            backend.earlier_versions().unwrap(),
            "earlier revisions are the cells revision-N of region 'osa-inventory.east' in \
             Craton, the newest 15 with their text (docs/craton.md)"
        );
    }

    #[test]
    fn defaults_and_token_from_file() {
        let f = Fixture::new();
        let c = f.parse(&[]).unwrap();
        assert_eq!(c.url.as_str(), "https://craton.example.com:7780/v1");
        assert_eq!(c.token.expose(), "s3cret-token");
        assert_eq!(c.cloud, DEFAULT_CLOUD);
        assert_eq!(c.region, DEFAULT_REGION);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(
            c.cache_dir,
            PathBuf::from("/home/deployer/.cache/osa-inventory")
        );
        assert_eq!(c.ca_pem, None);
        // The token shows nowhere in the configuration's debug form.
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn xdg_cache_home_wins_when_absolute() {
        let f = Fixture::new();
        let mut env = f.env();
        env.xdg_cache_home = Some("/var/cache/me".into());
        assert_eq!(
            env.default_cache_dir().unwrap(),
            PathBuf::from("/var/cache/me/osa-inventory")
        );
        env.xdg_cache_home = Some("relative".into());
        assert_eq!(
            env.default_cache_dir().unwrap(),
            PathBuf::from("/home/deployer/.cache/osa-inventory")
        );
        env.home = None;
        assert_eq!(env.default_cache_dir(), None);
    }

    #[test]
    fn missing_and_unknown_keys() {
        let f = Fixture::new();
        assert_eq!(f.parse(&[("url", "")]), Err(ConfigError::Missing("url")));
        assert_eq!(
            f.parse(&[("project", "")]),
            Err(ConfigError::Missing("project"))
        );
        assert_eq!(f.parse(&[("user", "")]), Err(ConfigError::Missing("user")));
        assert_eq!(
            f.parse(&[("token_file", "")]),
            Err(ConfigError::Missing("token_file"))
        );
        assert_eq!(
            f.parse(&[("tokenfile", "/x")]),
            Err(ConfigError::Unknown("tokenfile".into()))
        );
    }

    #[test]
    fn urls() {
        let f = Fixture::new();
        for ok in [
            "http://127.0.0.1:7780/v1",
            "http://127.1.2.3/v1",
            "http://localhost:7780/v1",
            "http://[::1]:7780/v1",
            "https://10.0.0.1/v1",
        ] {
            assert!(f.parse(&[("url", ok)]).is_ok(), "{ok}");
        }
        let (key, message) = f.error(&[("url", "http://10.0.0.5:7780/v1")]);
        assert_eq!(key, "url");
        assert!(message.contains("plain http"), "{message}");
        assert!(f.error(&[("url", "ftp://x/v1")]).1.contains("scheme 'ftp'"));
        assert!(f.error(&[("url", "not a url")]).1.contains("is not a URL"));
        assert!(
            f.error(&[("url", "https://u:p@h/v1")])
                .1
                .contains("user name or password")
        );
        assert!(f.error(&[("url", "https://h/v1?x=1")]).1.contains("query"));
    }

    #[cfg(unix)]
    #[test]
    fn token_file_permissions() {
        let f = Fixture::new();
        chmod(&f.token_file(), 0o640);
        let (key, message) = f.error(&[]);
        assert_eq!(key, "token_file");
        assert!(
            message.contains("readable by group or others (mode 0640)"),
            "{message}"
        );
        assert!(!message.contains("s3cret"));
        chmod(&f.token_file(), 0o604);
        assert!(f.error(&[]).1.contains("mode 0604"));
        chmod(&f.token_file(), 0o400);
        assert!(f.parse(&[]).is_ok());
    }

    #[test]
    fn token_file_contents() {
        let f = Fixture::new();
        fs::write(f.token_file(), "").unwrap();
        assert!(f.error(&[]).1.ends_with("is empty"));
        fs::write(f.token_file(), "two\nlines\n").unwrap();
        let message = f.error(&[]).1;
        assert!(message.contains("on one line"), "{message}");
        assert!(!message.contains("lines"));
        let missing = f.dir.path().join("none");
        let (key, message) = f.error(&[("token_file", missing.to_str().unwrap())]);
        assert_eq!(key, "token_file");
        assert!(message.starts_with("cannot read "), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn inline_token_needs_a_private_osa_ini() {
        let f = Fixture::new();
        let inline = [("token_file", ""), ("token", "inline-secret")];
        assert_eq!(f.parse(&inline).unwrap().token.expose(), "inline-secret");
        chmod(&f.ini(), 0o644);
        let (key, message) = f.error(&inline);
        assert_eq!(key, "token");
        assert!(
            message.contains("osa.ini holds a token but is readable"),
            "{message}"
        );
        assert!(!message.contains("inline-secret"));
        let both = [("token", "x")];
        assert!(f.error(&both).1.contains("only one of"));
    }

    #[test]
    fn numbers_names_and_paths() {
        let f = Fixture::new();
        assert_eq!(
            f.parse(&[("timeout", "5")]).unwrap().timeout,
            Duration::from_secs(5)
        );
        for bad in ["0", "-1", "1.5", "3601", "soon"] {
            let (key, message) = f.error(&[("timeout", bad)]);
            assert_eq!(key, "timeout");
            assert!(message.contains("from 1 to 3600"), "{message}");
        }
        assert_eq!(f.error(&[("cache_dir", "rel/dir")]).0, "cache_dir");
        assert_eq!(
            f.parse(&[("cache_dir", "/var/cache/osa")])
                .unwrap()
                .cache_dir,
            PathBuf::from("/var/cache/osa")
        );
        assert_eq!(f.error(&[("region", "a\nb")]).0, "region");
        assert_eq!(f.error(&[("user", "two words")]).0, "user");
        let c = f
            .parse(&[("cloud", "prod"), ("region", "RegionTwo")])
            .unwrap();
        assert_eq!((c.cloud.as_str(), c.region.as_str()), ("prod", "RegionTwo"));
    }

    #[test]
    fn ca_file_must_hold_certificates() {
        let f = Fixture::new();
        let pem = f.dir.path().join("ca.pem");
        fs::write(&pem, "not a certificate").unwrap();
        let (key, message) = f.error(&[("ca_file", pem.to_str().unwrap())]);
        assert_eq!(key, "ca_file");
        assert!(message.contains("holds no PEM certificate"), "{message}");
        assert!(
            f.error(&[("ca_file", "/nonexistent/ca.pem")])
                .1
                .starts_with("cannot read")
        );
    }
}
