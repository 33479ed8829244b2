//! The real Craton server for tests and the benchmark (each includes this file with
//! `#[path]`): `../shared/craton/start.sh` brings up OpenStack Craton on 127.0.0.1 with a
//! fresh database, project and token.
//!
//! The server's Python venv is built once (about 30 s, from PyPI) in `target/craton` and
//! shared; each [`Craton::start`] then runs its own server (about 2 s) in its own temp
//! directory, so tests run in parallel and each counts only its own requests
//! (`requests.log`, one `METHOD PATH` line per request).
//!
//! Without `../shared/craton` beside the checkout, [`Craton::start`] says on standard error
//! that the test is skipped and why, and returns `None`.

#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

/// `../shared/craton` beside the checkout.
pub fn craton_source() -> PathBuf {
    workspace().join("../shared/craton")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates live in the workspace")
        .to_path_buf()
}

/// The name of the clouds that [`Craton::requests`] looks up to know the log is complete.
const SENTINEL: &str = "osa-test-log-sentinel-";

/// Serialises building the shared venv between the threads of one test binary; a file
/// lock does it between processes.
static SETUP: Mutex<()> = Mutex::new(());

/// A running Craton server, stopped when dropped.
pub struct Craton {
    pub url: String,
    pub project: String,
    pub user: String,
    pub token: String,
    pid: std::sync::atomic::AtomicU32,
    /// How many sentinel requests were sent (each has its own name).
    sentinels: std::sync::atomic::AtomicUsize,
    /// The server started again by [`Craton::restart`], reaped when dropped.
    restarted: Mutex<Option<std::process::Child>>,
    /// The server's work directory (database, `requests.log`).
    dir: tempfile::TempDir,
    /// The PEM of the CA that signed its certificate, when it speaks HTTPS.
    ca_pem: Option<Vec<u8>>,
}

/// A certificate and key (PEM) for the server, and the CA certificate that signed them.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_pem: Vec<u8>,
}

impl Craton {
    /// Starts a fresh server over plain HTTP, or returns `None` (saying why on standard
    /// error) when `../shared/craton` is not there.
    pub fn start(test: &str) -> Option<Craton> {
        Self::start_with(test, None)
    }

    /// Starts a fresh server speaking HTTPS with `tls`.
    pub fn start_tls(test: &str, tls: &TlsFiles) -> Option<Craton> {
        Self::start_with(test, Some(tls))
    }

    fn start_with(test: &str, tls: Option<&TlsFiles>) -> Option<Craton> {
        let source = craton_source();
        if !source.join("start.sh").is_file() {
            // Straight to the process's standard error: the test harness captures
            // `eprintln!`, and a skip must be seen even when the test passes.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: it needs the Craton server, and {} is not beside the checkout",
                source.display()
            );
            return None;
        }
        let base = shared_base();
        let mut last_error = String::new();
        // A port found free can be taken by another test before the server binds it.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("a temp dir");
            for name in ["craton", "venv"] {
                std::os::unix::fs::symlink(base.join(name), dir.path().join(name))
                    .expect("links to the shared venv");
            }
            let port = free_port();
            let mut command = Command::new(source.join("start.sh"));
            command.arg(dir.path()).arg(port.to_string());
            if let Some(tls) = tls {
                command
                    .env("CRATON_TLS_CERT", &tls.cert)
                    .env("CRATON_TLS_KEY", &tls.key);
            }
            let out = command.output().expect("start.sh runs");
            if !out.status.success() {
                last_error = String::from_utf8_lossy(&out.stderr).into_owned();
                continue;
            }
            let exports = parse_exports(&String::from_utf8_lossy(&out.stdout));
            let get = |k: &str| {
                exports
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            return Some(Craton {
                url: get("CRATON_URL").expect("CRATON_URL"),
                project: get("CRATON_PROJECT").expect("CRATON_PROJECT"),
                user: get("CRATON_USER").expect("CRATON_USER"),
                token: get("CRATON_TOKEN").expect("CRATON_TOKEN"),
                pid: std::sync::atomic::AtomicU32::new(
                    get("CRATON_PID")
                        .and_then(|p| p.parse().ok())
                        .expect("CRATON_PID"),
                ),
                sentinels: std::sync::atomic::AtomicUsize::new(0),
                restarted: Mutex::new(None),
                dir,
                ca_pem: tls.map(|t| t.ca_pem.clone()),
            });
        }
        panic!("the Craton server did not start: {last_error}");
    }

    /// Every request the server answered so far, one `METHOD PATH` each.
    ///
    /// The server logs a request after answering it, so a client may go on before its
    /// last request is in the log. It serves one request at a time: once a request sent
    /// now (a sentinel, left out of the list) is logged, every request before it is.
    pub fn requests(&self) -> Vec<String> {
        let n = self
            .sentinels
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let sentinel = format!("{SENTINEL}{n}");
        let sent = self
            .client()
            .get(format!("{}/clouds?name={sentinel}", self.url))
            .header("X-Auth-Project", &self.project)
            .header("X-Auth-User", &self.user)
            .header("X-Auth-Token", &self.token)
            .timeout(Duration::from_secs(10))
            .send()
            .is_ok();
        let started = std::time::Instant::now();
        loop {
            let log = self.log_lines();
            let logged = log.iter().any(|l| l.ends_with(&sentinel));
            // A server that is stopped or frozen answers nothing: its log is complete.
            if logged || !sent || started.elapsed() > Duration::from_secs(10) {
                return log.into_iter().filter(|l| !l.contains(SENTINEL)).collect();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn log_lines(&self) -> Vec<String> {
        fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// How many requests so far, to look at those after it with [`Craton::requests_since`].
    pub fn mark(&self) -> usize {
        self.requests().len()
    }

    pub fn requests_since(&self, mark: usize) -> Vec<String> {
        let mut all = self.requests();
        all.split_off(mark.min(all.len()))
    }

    /// The `POST`, `PUT` and `DELETE` requests since `mark`.
    pub fn writes_since(&self, mark: usize) -> Vec<String> {
        self.requests_since(mark)
            .into_iter()
            .filter(|r| !r.starts_with("GET "))
            .collect()
    }

    /// `osa.ini` text for a `[craton]` section using this server, with a token file
    /// (written, mode 0600, in `dir`) and the cache in `dir/cache`, plus `extra` lines.
    pub fn osa_ini(&self, dir: &Path, extra: &str) -> String {
        let token_file = dir.join("craton.token");
        fs::write(&token_file, format!("{}\n", self.token)).unwrap();
        set_mode(&token_file, 0o600);
        format!(
            "[storage]\nbackend = craton\n\n[craton]\nurl = {}\nproject = {}\nuser = {}\n\
             token_file = {}\ncache_dir = {}\n{extra}",
            self.url,
            self.project,
            self.user,
            token_file.display(),
            dir.join("cache").display()
        )
    }

    fn client(&self) -> reqwest::blocking::Client {
        let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60));
        if let Some(pem) = &self.ca_pem {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap());
        }
        builder.build().unwrap()
    }

    /// Sends a request as the server's user; returns the status and the JSON answer.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client()
            .request(method, format!("{}{path}", self.url))
            .header("X-Auth-Project", &self.project)
            .header("X-Auth-User", &self.user)
            .header("X-Auth-Token", &self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().expect("Craton answers");
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET path`, which must succeed.
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        assert!(status < 300, "GET {path}: {status} {body}");
        body
    }

    /// Every item of a paged listing (`path` has a query).
    pub fn list(&self, path: &str, key: &str) -> Vec<Value> {
        let mut items: Vec<Value> = Vec::new();
        loop {
            let page_path = match items.last().and_then(|i| i["id"].as_i64()) {
                Some(marker) => format!("{path}&limit=100&marker={marker}"),
                None => format!("{path}&limit=100"),
            };
            let page = self.get(&page_path)[key].as_array().cloned().unwrap();
            let full = page.len() == 100;
            items.extend(page);
            if !full {
                return items;
            }
        }
    }

    /// The id of the cloud named `cloud` and of its region named `region`.
    pub fn region_id(&self, cloud: &str, region: &str) -> Option<i64> {
        let (status, clouds) = self.call("GET", &format!("/clouds?name={cloud}"), None);
        if status == 404 {
            return None;
        }
        let cloud_id = clouds["clouds"][0]["id"].as_i64()?;
        self.list(&format!("/regions?cloud_id={cloud_id}"), "regions")
            .into_iter()
            .find(|r| r["name"] == region)
            .and_then(|r| r["id"].as_i64())
    }

    /// Stops the server for good (as a crash would).
    pub fn kill(&self) {
        self.signal("KILL");
    }

    /// Freezes the server: connections are accepted by the kernel, never answered.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(
                self.pid
                    .load(std::sync::atomic::Ordering::SeqCst)
                    .to_string(),
            )
            .status();
    }

    /// Starts the server again after [`Craton::kill`], on the same port and database.
    pub fn restart(&self) {
        let dir = self.dir.path();
        let log = fs::OpenOptions::new()
            .append(true)
            .open(dir.join("requests.log"))
            .unwrap();
        // Kept in `restarted` and reaped when the server is dropped.
        #[allow(clippy::zombie_processes)]
        let child = Command::new(dir.join("venv/bin/python"))
            .arg(craton_source().join("launcher.py"))
            .arg(format!(
                "--config-file={}",
                dir.join("craton.conf").display()
            ))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the server starts again");
        self.pid
            .store(child.id(), std::sync::atomic::Ordering::SeqCst);
        let port: u16 = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse().ok())
            .expect("a port in the URL");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the Craton server did not start again");
    }

    /// The server's SQLite database, for tests that break it on purpose.
    pub fn database(&self) -> PathBuf {
        self.dir.path().join("craton.sqlite")
    }
}

impl Drop for Craton {
    fn drop(&mut self) {
        self.signal("CONT");
        self.signal("KILL");
        if let Some(mut child) = self.restarted.lock().ok().and_then(|mut c| c.take()) {
            let _ = child.wait();
        }
    }
}

/// The directory holding the unpacked server and its venv, built on first use.
fn shared_base() -> PathBuf {
    let base = workspace().join("target/craton");
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    fs::create_dir_all(&base).unwrap();
    let lock = fs::File::create(workspace().join("target/craton.setup.lock")).unwrap();
    lock.lock().unwrap();
    if !base.join("venv/bin/craton-dbsync").exists() || !base.join("craton/setup.py").exists() {
        // start.sh builds the venv on its first run; the server it starts is not needed.
        let out = Command::new(craton_source().join("start.sh"))
            .arg(&base)
            .arg(free_port().to_string())
            .output()
            .expect("start.sh runs");
        assert!(
            out.status.success(),
            "setting up the Craton server failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let exports = parse_exports(&String::from_utf8_lossy(&out.stdout));
        if let Some((_, pid)) = exports.iter().find(|(k, _)| k == "CRATON_PID") {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
    base
}

fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A CA and a server certificate for 127.0.0.1 signed by it (rustls refuses a
/// self-signed certificate used directly as the server's), written into `dir`.
pub fn tls_files(dir: &Path) -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "osa-inventory test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let files = TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        ca_pem: ca.pem().into_bytes(),
    };
    fs::write(&files.cert, cert.pem()).unwrap();
    fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}
