//! The scale benchmark: `cargo bench -p dynamic-inventory --bench scale`.
//!
//! Runs the real `dynamic-inventory` binary (as Ansible does: a whole process per call) on
//! synthetic deployments of 100, 1,000 and 10,000 hosts and on the upstream reference
//! cases (`tests/fixtures/reference`), fresh (no stored inventory) and unchanged (the
//! stored inventory already up to date), and prints the median wall time, the peak memory
//! (maximum resident set of the process) against the size of the JSON written, and how
//! time grows with ten times the hosts.
//!
//! Each fresh run is paired with an unchanged run right after it, so both see the machine
//! in the same state. `BENCH_SIZES=100,1000` and `BENCH_RUNS=9` change what is measured
//! (default: all three sizes, 7 pairs for 10,000 hosts and 21 for smaller deployments).

#[path = "../../tests/support/fixtures.rs"]
mod fixtures;
#[path = "../../tests/support/plugins.rs"]
mod plugin_build;
#[path = "../../tests/support/rusage.rs"]
mod rusage;
#[path = "../tests/it/synthetic.rs"]
mod synthetic;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Measure {
    median: Duration,
    peak_rss_kib: u64,
}

/// One run of the binary with this osa.ini: wall time and peak memory (KiB).
fn run_once(args: &[&str], osa_ini: &Path) -> (Duration, u64) {
    let binary = env!("CARGO_BIN_EXE_dynamic-inventory");
    let start = Instant::now();
    // Reaped below with wait4, which also reports the child's peak memory.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(binary)
        .args(args)
        .env("OSA_INI_PATH", osa_ini)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let (status, rss) = rusage::wait_with_rusage(child.id() as libc::pid_t);
    let elapsed = start.elapsed();
    assert!(status == 0, "dynamic-inventory failed: {args:?}");
    (elapsed, rss)
}

fn summarise(mut samples: Vec<(Duration, u64)>) -> Measure {
    samples.sort();
    Measure {
        median: samples[samples.len() / 2].0,
        peak_rss_kib: samples.iter().map(|s| s.1).max().unwrap_or(0),
    }
}

/// `runs` pairs of a fresh run (after `clear`) and an unchanged run right after it, so
/// that both see the machine in the same state; checks the unchanged run wrote nothing.
fn paired(
    args: &[&str],
    osa_ini: &Path,
    runs: usize,
    clear: &dyn Fn(),
    stored: &dyn Fn() -> Vec<u8>,
) -> (Measure, Measure) {
    let (mut fresh, mut unchanged) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        clear();
        fresh.push(run_once(args, osa_ini));
        let before = stored();
        unchanged.push(run_once(args, osa_ini));
        assert!(stored() == before, "an unchanged run wrote: {args:?}");
    }
    (summarise(fresh), summarise(unchanged))
}

struct Row {
    name: String,
    hosts: usize,
    json_bytes: u64,
    fresh: Measure,
    unchanged: Measure,
}

fn bench_dir(dir: &Path, env: Option<&Path>, hosts: usize, name: &str, runs: usize) -> Row {
    let mut args = vec!["--config".to_string(), dir.display().to_string()];
    if let Some(env) = env {
        args.push("-e".into());
        args.push(env.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let inventory = dir.join("openstack_inventory.json");
    let clear = || {
        for f in [
            "openstack_inventory.json",
            "openstack_inventory.json.lock",
            "backup_openstack_inventory.tar",
        ] {
            let _ = std::fs::remove_file(dir.join(f));
        }
    };
    // The JSON file backend with its default settings, whatever /etc/ansible holds.
    let no_ini = dir.join("json-osa.ini");
    std::fs::write(&no_ini, "[storage]\nbackend = json\n").unwrap();
    let stored = || std::fs::read(&inventory).unwrap();
    let (fresh, unchanged) = paired(&args, &no_ini, runs, &clear, &stored);
    let json_bytes = std::fs::metadata(&inventory).map(|m| m.len()).unwrap_or(0);
    assert!(
        !dir.join("backup_openstack_inventory.tar").exists(),
        "an unchanged run of {name} made a backup"
    );
    Row {
        name: name.to_string(),
        hosts,
        json_bytes,
        fresh,
        unchanged,
    }
}

/// Small deployments run in milliseconds, where the machine's noise is largest: three
/// times as many pairs for them.
fn runs_for(hosts: usize, runs: usize) -> usize {
    if hosts < 10_000 { runs * 3 } else { runs }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let work = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();

    let reference = fixtures::reference();
    for name in fixtures::reference_cases() {
        let case = fixtures::reference_case(&name);
        let dir = work.path().join(format!("case-{name}"));
        copy_dir(&case.join("config"), &dir);
        let hosts = count_hosts(&case.join("steady_state.json"));
        rows.push(bench_dir(
            &dir,
            Some(&reference),
            hosts,
            &format!("reference {name}"),
            runs_for(hosts, runs),
        ));
    }
    for &n in &sizes {
        let dir = work.path().join(format!("synthetic-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("openstack_user_config.yml"), synthetic::config(n)).unwrap();
        rows.push(bench_dir(
            &dir,
            None,
            n,
            &format!("synthetic {n}"),
            runs_for(n, runs),
        ));
    }

    let sqlite = sizes
        .iter()
        .copied()
        .max()
        .map(|n| bench_sqlite(work.path(), n, runs));

    println!(
        "\n{:<20} {:>7} {:>11} {:>11} {:>11} {:>11} {:>11} {:>9}",
        "deployment",
        "hosts",
        "JSON (MB)",
        "fresh (ms)",
        "unchanged",
        "peak (MB)",
        "peak/JSON",
        "unch/fresh"
    );
    for r in &rows {
        let peak = r.fresh.peak_rss_kib.max(r.unchanged.peak_rss_kib) as f64 / 1024.0;
        let json = r.json_bytes as f64 / (1024.0 * 1024.0);
        println!(
            "{:<20} {:>7} {:>11.2} {:>11.1} {:>11.1} {:>11.1} {:>11.2} {:>9.2}",
            r.name,
            r.hosts,
            json,
            ms(r.fresh.median),
            ms(r.unchanged.median),
            peak,
            peak / json,
            ms(r.unchanged.median) / ms(r.fresh.median),
        );
    }
    let synthetic: Vec<&Row> = rows
        .iter()
        .filter(|r| r.name.starts_with("synthetic"))
        .collect();
    if let (Some((fresh, unchanged)), Some(json)) = (&sqlite, synthetic.last()) {
        println!(
            "{:<20} {:>7} {:>11} {:>11.1} {:>11.1} {:>11.1} {:>11} {:>9.2}",
            format!("sqlite {}", json.hosts),
            json.hosts,
            "",
            ms(fresh.median),
            ms(unchanged.median),
            fresh.peak_rss_kib.max(unchanged.peak_rss_kib) as f64 / 1024.0,
            "",
            ms(unchanged.median) / ms(fresh.median),
        );
        println!(
            "sqlite plugin / json file at {} hosts: fresh {:.2}x, unchanged {:.2}x",
            json.hosts,
            ms(fresh.median) / ms(json.fresh.median),
            ms(unchanged.median) / ms(json.unchanged.median),
        );
    }
    for pair in synthetic.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        println!(
            "growth {} -> {} hosts ({:.0}x): fresh {:.1}x, unchanged {:.1}x",
            a.hosts,
            b.hosts,
            b.hosts as f64 / a.hosts as f64,
            ms(b.fresh.median) / ms(a.fresh.median),
            ms(b.unchanged.median) / ms(a.unchanged.median),
        );
    }
}

/// The largest synthetic deployment stored through the SQLite plugin, against the same
/// deployment on the JSON file measured in the same run.
fn bench_sqlite(work: &Path, hosts: usize, runs: usize) -> (Measure, Measure) {
    let built = plugin_build::build("bench-plugins", true, &["osa-inventory-sqlite"]);
    // The plugin host accepts only libraries no one else can write: a private copy.
    let private = plugin_build::private_dir();
    let plugin_dir = private.path();
    let library = plugin_build::install(
        &built.join(plugin_build::library_name("osa_inventory_sqlite")),
        plugin_dir,
    );
    let database = plugin_dir.join("inventory.sqlite");
    let ini = plugin_dir.join("osa.ini");
    std::fs::write(
        &ini,
        format!(
            "[storage]\nbackend = sqlite\n\n[sqlite]\ntype = plugin\nlibrary = {}\ndatabase = {}\n",
            library.display(),
            database.display()
        ),
    )
    .unwrap();
    let dir = work.join(format!("synthetic-{hosts}"));
    let args = ["--config", dir.to_str().unwrap()];
    let clear = || {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
        }
    };
    let stored = || std::fs::read(&database).unwrap();
    paired(&args, &ini, runs, &clear, &stored)
}

fn count_hosts(steady_state: &Path) -> usize {
    let text = std::fs::read_to_string(steady_state).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["_meta"]["hostvars"].as_object().map_or(0, |m| m.len())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}
