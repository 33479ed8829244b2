//! The Craton backend benchmark: `cargo bench -p dynamic-inventory --bench craton`.
//!
//! Runs the real `dynamic-inventory` binary (a whole process per call, as Ansible does)
//! against the real Craton server of `../shared/craton` (a fresh server per deployment
//! size, started by `tests/support/craton.rs`), on a synthetic deployment of 1,000 hosts,
//! and the same deployment on the JSON file backend in the same run as the baseline:
//!
//! 1. the first sync into an empty Craton (a fresh run storing the inventory and creating
//!    its hosts): requests (counted in the server's `requests.log`), requests per host of
//!    the inventory, wall time;
//! 2. unchanged runs with a current cache, interleaved with unchanged runs on the JSON
//!    file: median wall times and their ratio; each Craton run must send exactly one
//!    request and no `POST`, `PUT` or `DELETE`;
//! 3. unchanged runs after deleting the cache (one download), interleaved the same way;
//! 4. adding one host to the configuration: requests, wall time; then an unchanged run
//!    must be back to one request.
//!
//! The stored inventory is checked to be the very text the JSON backend writes.
//! `BENCH_SIZES=1000,3000` changes the deployments and `BENCH_RUNS=21` the number of
//! interleaved pairs (a third of them, at least 3, for the runs without a cache).
//! Without `../shared/craton` beside the checkout, says it is skipped and exits 0.

#[path = "../../tests/support/craton.rs"]
mod craton_server;
#[path = "../../tests/support/rusage.rs"]
mod rusage;
#[path = "../tests/it/synthetic.rs"]
mod synthetic;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use craton_server::Craton;

/// One run of the binary: wall time and peak memory (KiB).
#[derive(Clone, Copy)]
struct Run {
    time: Duration,
    peak_rss_kib: u64,
}

/// Runs `dynamic-inventory --config config` with this osa.ini in `cwd`; its output goes
/// to `stdout` when given (else nowhere).
fn run_once(config: &Path, osa_ini: &Path, cwd: &Path, stdout: Option<&Path>) -> Run {
    let binary = env!("CARGO_BIN_EXE_dynamic-inventory");
    let out = match stdout {
        Some(file) => Stdio::from(fs::File::create(file).unwrap()),
        None => Stdio::null(),
    };
    let start = Instant::now();
    // Reaped below with wait4, which also reports the child's peak memory.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(binary)
        .arg("--config")
        .arg(config)
        .env("OSA_INI_PATH", osa_ini)
        .env_remove("OSA_CONFIG_DIR")
        .current_dir(cwd)
        .stdout(out)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let (status, peak_rss_kib) = rusage::wait_with_rusage(child.id() as libc::pid_t);
    let time = start.elapsed();
    assert!(
        status == 0,
        "dynamic-inventory failed on {}",
        config.display()
    );
    Run { time, peak_rss_kib }
}

/// Median time and highest peak memory of some runs.
#[derive(Clone, Copy)]
struct Measure {
    median: Duration,
    peak_rss_kib: u64,
    runs: usize,
}

fn summarise(runs: &[Run]) -> Measure {
    let mut times: Vec<Duration> = runs.iter().map(|r| r.time).collect();
    times.sort();
    Measure {
        median: times[times.len() / 2],
        peak_rss_kib: runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0),
        runs: runs.len(),
    }
}

impl From<Run> for Measure {
    fn from(run: Run) -> Measure {
        summarise(&[run])
    }
}

/// The server logs a request once its answer is sent, so the last line can come a moment
/// after the client is gone: the requests since `mark`, once the log stops growing.
fn settled_requests(craton: &Craton, mark: usize) -> Vec<String> {
    let mut seen = craton.requests_since(mark);
    let mut quiet = 0;
    while quiet < 3 {
        std::thread::sleep(Duration::from_millis(5));
        let now = craton.requests_since(mark);
        if now.len() == seen.len() {
            quiet += 1;
        } else {
            quiet = 0;
            seen = now;
        }
    }
    seen
}

fn writes(requests: &[String]) -> usize {
    requests.iter().filter(|r| !r.starts_with("GET ")).count()
}

/// Requests by method and first path segment, most frequent first: `POST /hosts 1134`.
fn breakdown(requests: &[String]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for request in requests {
        let (method, path) = request.split_once(' ').unwrap_or((request, ""));
        let path = path.split('?').next().unwrap_or_default();
        let resource: String = path
            .split('/')
            .filter(|s| !s.is_empty() && *s != "v1")
            .map(|s| if s.parse::<u64>().is_ok() { "N" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let key = format!("{method} /{resource}");
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One deployment, configured twice (its stored inventory lives beside the
/// configuration for the JSON file backend, and in Craton for the other).
struct Deployment {
    work: tempfile::TempDir,
    craton: Craton,
}

impl Deployment {
    fn json_config(&self) -> PathBuf {
        self.work.path().join("json-deploy")
    }
    fn craton_config(&self) -> PathBuf {
        self.work.path().join("craton-deploy")
    }
    /// The JSON file backend beside the configuration, with its default settings.
    fn json_ini(&self) -> PathBuf {
        let ini = self.work.path().join("json-osa.ini");
        fs::write(&ini, "[storage]\nbackend = json\n").unwrap();
        ini
    }
    fn craton_ini(&self) -> PathBuf {
        self.work.path().join("osa.ini")
    }
    fn cache_dir(&self) -> PathBuf {
        self.work.path().join("cache")
    }
    fn json_file(&self) -> PathBuf {
        self.json_config().join("openstack_inventory.json")
    }

    fn run_json(&self) -> Run {
        run_once(
            &self.json_config(),
            &self.json_ini(),
            self.work.path(),
            None,
        )
    }

    /// A run on Craton and the requests it sent.
    fn run_craton(&self, stdout: Option<&Path>) -> (Run, Vec<String>) {
        let mark = self.craton.mark();
        let run = run_once(
            &self.craton_config(),
            &self.craton_ini(),
            self.work.path(),
            stdout,
        );
        (run, settled_requests(&self.craton, mark))
    }

    /// Appends a host to both configurations.
    fn add_host(&self) {
        for dir in [self.json_config(), self.craton_config()] {
            let file = dir.join("openstack_user_config.yml");
            let text = fs::read_to_string(&file).unwrap();
            // In the reserved 10.0.0.0/24: no container can hold that address already.
            let added = text.replacen(
                "\ncompute_hosts:\n",
                "\ncompute_hosts:\n  compute-added:\n    ip: 10.0.0.201\n",
                1,
            );
            assert!(added != text, "no compute_hosts group to add a host to");
            fs::write(&file, added).unwrap();
        }
    }
}

/// `pairs` unchanged runs on the JSON file interleaved with `pairs` runs on Craton (which
/// goes first alternates), `before_craton` called before each Craton run; checks the JSON
/// file is untouched and returns the Craton runs' requests.
fn interleaved(
    d: &Deployment,
    pairs: usize,
    before_craton: &dyn Fn(),
) -> (Measure, Measure, Vec<Vec<String>>) {
    let stored = fs::read(d.json_file()).unwrap();
    let (mut json, mut craton, mut requests) = (Vec::new(), Vec::new(), Vec::new());
    let mut on_craton = || {
        before_craton();
        let (run, sent) = d.run_craton(None);
        craton.push(run);
        requests.push(sent);
    };
    for i in 0..pairs {
        if i % 2 == 0 {
            json.push(d.run_json());
            on_craton();
        } else {
            on_craton();
            json.push(d.run_json());
        }
    }
    assert!(
        fs::read(d.json_file()).unwrap() == stored,
        "an unchanged run wrote the JSON file"
    );
    (summarise(&json), summarise(&craton), requests)
}

struct Row {
    step: &'static str,
    requests: usize,
    writes: usize,
    craton: Measure,
    json: Measure,
}

struct Report {
    hosts: usize,
    inventory_hosts: usize,
    json_bytes: u64,
    rows: Vec<Row>,
    first_sync: Vec<String>,
    added: Vec<String>,
}

fn bench(hosts: usize, pairs: usize) -> Option<Report> {
    let craton = Craton::start("the craton benchmark")?;
    let work = tempfile::tempdir().unwrap();
    let d = Deployment { work, craton };
    for dir in [d.json_config(), d.craton_config()] {
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("openstack_user_config.yml"),
            synthetic::config(hosts),
        )
        .unwrap();
    }
    fs::write(d.craton_ini(), d.craton.osa_ini(d.work.path(), "")).unwrap();
    craton_server::set_mode(&d.craton_ini(), 0o600);
    let mut rows = Vec::new();

    // 1. The first sync: a fresh run into an empty Craton, against a fresh run on the
    //    JSON file.
    let json_fresh = d.run_json();
    let printed = d.work.path().join("first-sync.json");
    let (first, first_sync) = d.run_craton(Some(&printed));
    let json_text = fs::read(d.json_file()).unwrap();
    assert!(
        fs::read(&printed).unwrap() == json_text,
        "the inventory stored in Craton is not the one the JSON backend wrote"
    );
    let inventory: serde_json::Value = serde_json::from_slice(&json_text).unwrap();
    let inventory_hosts = inventory["_meta"]["hostvars"]
        .as_object()
        .map_or(0, |m| m.len());
    rows.push(Row {
        step: "first sync (fresh)",
        requests: first_sync.len(),
        writes: writes(&first_sync),
        craton: first.into(),
        json: json_fresh.into(),
    });

    // 2. Unchanged runs, the cache current: one request each, nothing written.
    let (json, craton, sent) = interleaved(&d, pairs, &|| {});
    for requests in &sent {
        assert!(
            requests.len() == 1 && writes(requests) == 0,
            "an unchanged run with a current cache sent {requests:?}"
        );
    }
    rows.push(Row {
        step: "unchanged, cache current",
        requests: 1,
        writes: 0,
        craton,
        json,
    });

    // 3. Unchanged runs without a cache: the newest revision is downloaded.
    let cache = d.cache_dir();
    let (json, craton, sent) = interleaved(&d, (pairs / 3).max(3), &|| {
        let _ = fs::remove_dir_all(&cache);
    });
    for requests in &sent {
        assert!(
            writes(requests) == 0,
            "an unchanged run without a cache wrote: {requests:?}"
        );
    }
    rows.push(Row {
        step: "unchanged, no cache",
        requests: sent.iter().map(Vec::len).max().unwrap_or(0),
        writes: 0,
        craton,
        json,
    });

    // 4. One host added to the configuration (on both backends).
    d.add_host();
    let json_added = d.run_json();
    let (added_run, added) = d.run_craton(None);
    rows.push(Row {
        step: "one host added",
        requests: added.len(),
        writes: writes(&added),
        craton: added_run.into(),
        json: json_added.into(),
    });
    let (_, after) = d.run_craton(None);
    assert!(
        after.len() == 1 && writes(&after) == 0,
        "the run after adding a host is not back to one request: {after:?}"
    );

    Some(Report {
        hosts,
        inventory_hosts,
        json_bytes: json_text.len() as u64,
        rows,
        first_sync,
        added,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print(report: &Report) {
    println!(
        "\nsynthetic {} hosts: {} hosts in the inventory (hosts and containers), {:.2} MB of JSON",
        report.hosts,
        report.inventory_hosts,
        report.json_bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "{:<26} {:>5} {:>9} {:>7} {:>12} {:>10} {:>8} {:>10} {:>9}",
        "craton backend",
        "runs",
        "requests",
        "writes",
        "craton (ms)",
        "json (ms)",
        "ratio",
        "peak (MB)",
        "json (MB)"
    );
    for r in &report.rows {
        println!(
            "{:<26} {:>5} {:>9} {:>7} {:>12.1} {:>10.1} {:>7.2}x {:>10.1} {:>9.1}",
            r.step,
            r.craton.runs,
            r.requests,
            r.writes,
            ms(r.craton.median),
            ms(r.json.median),
            ms(r.craton.median) / ms(r.json.median),
            mib(r.craton.peak_rss_kib),
            mib(r.json.peak_rss_kib),
        );
    }
    let row = |step: &str| report.rows.iter().find(|r| r.step == step);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    if let Some(first) = row("first sync (fresh)") {
        let per_host = first.requests as f64 / report.inventory_hosts as f64;
        println!(
            "first sync: {} requests for {} hosts: {:.3} per host, {:.1} ms per host \
             (target about 1 per host: {})",
            first.requests,
            report.inventory_hosts,
            per_host,
            ms(first.craton.median) / report.inventory_hosts as f64,
            verdict(per_host <= 1.1),
        );
        println!("  {}", breakdown(&report.first_sync));
    }
    if let Some(unchanged) = row("unchanged, cache current") {
        let ratio = ms(unchanged.craton.median) / ms(unchanged.json.median);
        println!(
            "unchanged run, cache current: 1 request, no writes (checked on each of {} runs); \
             {ratio:.2}x the JSON file (target at most 2x: {})",
            unchanged.craton.runs,
            verdict(ratio <= 2.0),
        );
    }
    if let Some(added) = row("one host added") {
        println!(
            "one host added: {} requests (target at most 10: {}): {}",
            added.requests,
            verdict(added.requests <= 10),
            breakdown(&report.added),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| n >= 4)
        .collect();
    let pairs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(21);
    let mut reports = Vec::new();
    for &hosts in &sizes {
        match bench(hosts, pairs) {
            Some(report) => reports.push(report),
            None => {
                println!("craton benchmark skipped: no Craton server (../shared/craton)");
                return;
            }
        }
    }
    for report in &reports {
        print(report);
    }
}
