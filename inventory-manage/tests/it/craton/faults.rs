//! Faults and refusals: a stopped, frozen or failing server, bad credentials, TLS without
//! the right CA, plain HTTP across the network, a readable token file. Each is one line on
//! standard error and exit status 1, with the stored inventory untouched; and the token
//! appears in no output, log or cache file.

use std::fs;
use std::path::Path;
use std::process::Output;

use super::{Setup, case_config};
use crate::craton_server::{Craton, set_mode, tls_files};
use crate::support::{failed, steady_state};

/// Expects exit 1, nothing on stdout and one line on stderr; returns that line.
fn one_line_failure(out: Output) -> String {
    let stderr = failed(out, 1);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr.trim_end().to_string()
}

/// The stored inventory and its history are as they were.
fn assert_untouched(setup: &Setup, text: &str) {
    assert_eq!(setup.stored(), text);
    assert_eq!(setup.revisions().len(), 1);
}

#[test]
fn a_stopped_server_is_one_clear_message() {
    let Some(setup) = Setup::new("a_stopped_server_is_one_clear_message") else {
        return;
    };
    let text = steady_state("test");
    setup.store(&text);
    setup.craton.kill();
    let config = case_config("test");
    let line = one_line_failure(setup.dynamic(config.path()).output().unwrap());
    assert!(
        line.starts_with("craton backend: GET /v1/cells?region_id="),
        "{line}"
    );
    assert!(line.contains(": no connection to Craton: "), "{line}");
    assert!(
        line.contains("Connection refused") && line.ends_with("(3 attempts)"),
        "{line}"
    );
    let line = one_line_failure(setup.manage_run(&["-l"]));
    assert!(line.contains("no connection to Craton"), "{line}");
    setup.craton.restart();
    assert_untouched(&setup, &text);
}

#[test]
fn a_frozen_server_times_out() {
    let Some(setup) = Setup::with_extra("a_frozen_server_times_out", "timeout = 1\n") else {
        return;
    };
    let text = steady_state("test");
    setup.store(&text);
    setup.craton.pause();
    let started = std::time::Instant::now();
    let line = one_line_failure(setup.manage_run(&["dump"]));
    setup.craton.resume();
    assert!(
        line.ends_with(": no answer from Craton within 1 s (setting 'timeout')"),
        "{line}"
    );
    assert!(started.elapsed().as_secs() < 30);
    assert_untouched(&setup, &text);
}

#[test]
fn wrong_credentials_and_server_errors_are_named() {
    let Some(setup) = Setup::new("wrong_credentials_and_server_errors") else {
        return;
    };
    let text = steady_state("test");
    setup.store(&text);
    let token_file = setup.dir.path().join("craton.token");

    fs::write(&token_file, "0123456789abcdef0123456789abcdef\n").unwrap();
    let line = one_line_failure(setup.manage_run(&["-l"]));
    assert!(line.starts_with("craton backend: GET /v1/cells?"), "{line}");
    assert!(
        line.contains(": Craton refused the credentials (401 Unauthorized: "),
        "{line}"
    );
    assert!(
        line.ends_with("check 'project', 'user' and the token"),
        "{line}"
    );
    fs::write(&token_file, format!("{}\n", setup.craton.token)).unwrap();

    // A server whose database lost a table answers 500 to every request on it.
    let db = setup.craton.database();
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect({:?}); c.execute('ALTER TABLE cells RENAME TO cells_gone'); c.commit()",
            db.display().to_string()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert!(
        line.contains(": Craton answered 500 Internal Server Error: "),
        "{line}"
    );
    assert!(line.ends_with("(3 attempts)"), "{line}");
    let _ = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect({:?}); c.execute('ALTER TABLE cells_gone RENAME TO cells'); c.commit()",
            db.display().to_string()
        ))
        .status();

    // A URL that is not Craton's API (a wrong path): its 404 is a fault, not "nothing
    // stored".
    fs::remove_dir_all(setup.cache_dir()).unwrap();
    let v1 = setup.craton.url.clone();
    let wrong = v1.replace("/v1", "/v2");
    let ini = fs::read_to_string(setup.ini()).unwrap();
    fs::write(
        setup.ini(),
        ini.replace(&format!("url = {v1}"), &format!("url = {wrong}")),
    )
    .unwrap();
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert!(line.starts_with("craton backend: GET /v2/clouds?name=openstack-ansible: Craton answered 404 Not Found: The requested URL was not found"), "{line}");
    fs::write(setup.ini(), ini).unwrap();
    assert_untouched(&setup, &text);
}

#[test]
fn settings_are_checked_before_any_request() {
    let Some(setup) = Setup::new("settings_are_checked_before_any_request") else {
        return;
    };
    let mark = setup.craton.mark();
    let ini = setup.ini().display().to_string();
    let token_file = setup.dir.path().join("craton.token");

    set_mode(&token_file, 0o640);
    let line = one_line_failure(setup.manage_run(&["-l"]));
    assert_eq!(
        line,
        format!(
            "invalid 'token_file' in section [craton] of {ini}: {} holds the token but is \
             readable by group or others (mode 0640); chmod 600 it",
            token_file.display()
        )
    );
    set_mode(&token_file, 0o600);

    let original = fs::read_to_string(setup.ini()).unwrap();
    let edit = |from: &str, to: &str| {
        fs::write(setup.ini(), original.replace(from, to)).unwrap();
    };
    edit("url = http://127.0.0.1:", "url = http://10.11.12.13:");
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert!(
        line.starts_with(&format!(
            "invalid 'url' in section [craton] of {ini}: 'http://10.11.12.13:"
        )),
        "{line}"
    );
    assert!(
        line.contains("plain http to a host that is not a loopback address"),
        "{line}"
    );

    // An inline token needs an osa.ini nobody else can read.
    let inline = original.replace(
        &format!("token_file = {}", token_file.display()),
        &format!("token = {}", setup.craton.token),
    );
    fs::write(setup.ini(), &inline).unwrap();
    set_mode(&setup.ini(), 0o644);
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert!(
        line.contains("holds a token but is readable by group or others (mode 0644)"),
        "{line}"
    );
    assert!(!line.contains(&setup.craton.token));
    set_mode(&setup.ini(), 0o600);
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert!(
        line.contains("no inventory"),
        "an empty Craton, reached: {line}"
    );

    edit("user = ", "colour = red\nuser = ");
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert!(
        line.starts_with(&format!(
            "unknown key 'colour' in section [craton] of {ini} (known: url, project,"
        )),
        "{line}"
    );
    let no_project: String = original
        .lines()
        .filter(|l| !l.starts_with("project = "))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(setup.ini(), no_project).unwrap();
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert_eq!(
        line,
        format!("section [craton] of {ini} has no 'project' key")
    );
    fs::write(setup.ini(), original).unwrap();

    // Only the one run that reached Craton made requests.
    assert_eq!(setup.craton.requests_since(mark).len(), 1);
}

#[test]
fn https_needs_the_right_ca_file() {
    let certs = tempfile::tempdir().unwrap();
    let tls = tls_files(certs.path());
    let Some(craton) = Craton::start_tls("https_needs_the_right_ca_file", &tls) else {
        return;
    };
    assert!(craton.url.starts_with("https://127.0.0.1:"));
    let ca_file = certs.path().join("ca.pem");
    fs::write(&ca_file, &tls.ca_pem).unwrap();
    let setup = Setup::on(craton, &format!("ca_file = {}\n", ca_file.display()));
    let text = steady_state("test");
    setup.store(&text);
    assert_eq!(setup.stored(), text);

    // Without ca_file the server's certificate is not trusted.
    setup.write_ini("");
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert!(line.contains("no connection to Craton: "), "{line}");
    assert!(line.contains("UnknownIssuer"), "{line}");
    assert!(
        line.ends_with("set 'ca_file' to that CA's certificate"),
        "{line}"
    );

    // Nor with another CA.
    let other = tls_files(tempfile::tempdir().unwrap().path());
    fs::write(&ca_file, &other.ca_pem).unwrap();
    setup.write_ini(&format!("ca_file = {}\n", ca_file.display()));
    let line = one_line_failure(setup.manage_run(&["dump"]));
    assert!(line.contains("certificate"), "{line}");
}

#[test]
fn the_token_appears_nowhere() {
    let Some(setup) = Setup::new("the_token_appears_nowhere") else {
        return;
    };
    let token = setup.craton.token.clone();
    let text = steady_state("test");
    let config = case_config("test");
    let mut seen = Vec::new();
    let mut keep = |out: Output| seen.push(out);
    keep(setup.manage_run(&["migrate", "--from", "json", "--to", "craton"]));
    fs::write(setup.json_file(), &text).unwrap();
    keep(setup.manage_run(&["migrate", "--from", "json", "--to", "craton"]));
    keep(setup.manage_run(&["-l"]));
    keep(setup.manage_run(&["-e"]));
    let mut debug = setup.dynamic(config.path());
    debug.arg("-d");
    keep(debug.output().unwrap());
    // Failures: a frozen server, a wrong token.
    setup.craton.kill();
    let mut debug = setup.dynamic(config.path());
    debug.arg("-d");
    keep(debug.output().unwrap());
    setup.craton.restart();
    fs::write(
        setup.dir.path().join("craton.token"),
        "ffffffffffffffffffffffffffffffff\n",
    )
    .unwrap();
    keep(setup.manage_run(&["-l"]));

    assert!(seen.len() == 7);
    for out in &seen {
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(&token),
                "the token in an output"
            );
        }
    }
    let log = setup.dir.path().join("inventory.log");
    assert!(log.is_file(), "--debug wrote its log");
    let mut files = vec![log];
    files.extend(
        fs::read_dir(setup.cache_dir())
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        assert_no_token(&file, &token);
    }
}

fn assert_no_token(file: &Path, token: &str) {
    let bytes = fs::read(file).unwrap();
    assert!(
        !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token is in {}",
        file.display()
    );
}

#[test]
fn an_answer_that_is_not_cratons_json_is_named() {
    // Not Craton at all: a static web server whose /v1/clouds is a text file.
    let Some(setup) = Setup::new("an_answer_that_is_not_cratons_json") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("v1")).unwrap();
    fs::write(root.path().join("v1/clouds"), "<html>hello</html>\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(root.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ini = fs::read_to_string(setup.ini()).unwrap();
    fs::write(
        setup.ini(),
        ini.replace(&setup.craton.url, &format!("http://127.0.0.1:{port}/v1")),
    )
    .unwrap();
    let line = one_line_failure(setup.manage_run(&["dump"]));
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        line.starts_with(
            "craton backend: GET /v1/clouds?name=openstack-ansible: the answer is not the JSON \
             Craton's API gives: expected value at line 1 column 1"
        ),
        "{line}"
    );
}
