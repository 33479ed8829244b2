//! The YAML reader's own speed: `cargo bench -p dynamic-inventory --bench yaml`.
//!
//! Loads, in this process, with `dynamic_inventory::yaml::load_str`:
//!
//! * the synthetic `openstack_user_config.yml` of 10,000 hosts (block mappings and
//!   sequences, as operators write them);
//! * upstream's environment (`tests/fixtures/reference/env.d`, every file in turn);
//! * ten megabytes of flow sequence (the input of the memory test), short plain scalars.
//!
//! and prints the median time and throughput of each. `BENCH_RUNS=N` changes the number
//! of loads of each input (default 15). The figures are for comparing builds of the reader
//! measured in the same session (docs/performance.md), not absolute.

#[path = "../../tests/support/fixtures.rs"]
mod fixtures;
#[path = "../tests/it/synthetic.rs"]
mod synthetic;

use std::hint::black_box;
use std::time::{Duration, Instant};

use dynamic_inventory::yaml;

/// One input: a name and its documents (each loaded separately).
struct Input {
    name: &'static str,
    documents: Vec<String>,
}

impl Input {
    fn bytes(&self) -> usize {
        self.documents.iter().map(String::len).sum()
    }
}

fn inputs() -> Vec<Input> {
    let env_d = fixtures::reference().join("env.d");
    let mut files: Vec<_> = std::fs::read_dir(&env_d)
        .unwrap_or_else(|e| panic!("{}: {e}", env_d.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    files.sort();
    let environment = files
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();

    let mut flow = String::with_capacity(10_000_016);
    flow.push_str("unused_list: [");
    flow.push_str(&"1,".repeat(4_999_999));
    flow.push_str("1]\n");

    vec![
        Input {
            name: "synthetic config, 10000 hosts",
            documents: vec![synthetic::config(10_000)],
        },
        Input {
            name: "reference env.d",
            documents: environment,
        },
        Input {
            name: "flow list, 5M items",
            documents: vec![flow],
        },
    ]
}

/// One load of every document of the input.
fn load_once(input: &Input) -> Duration {
    let start = Instant::now();
    for document in &input.documents {
        let value = yaml::load_str(black_box(document)).expect("the input loads");
        black_box(value);
    }
    start.elapsed()
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(15)
        .max(1);
    println!(
        "{:<32} {:>10} {:>12} {:>10}",
        "input", "MB", "median (ms)", "MB/s"
    );
    for input in inputs() {
        // One load first, so that every measured load finds the allocator warmed up.
        load_once(&input);
        let mut samples: Vec<Duration> = (0..runs).map(|_| load_once(&input)).collect();
        samples.sort();
        let median = samples[samples.len() / 2];
        let megabytes = input.bytes() as f64 / 1e6;
        println!(
            "{:<32} {:>10.2} {:>12.1} {:>10.1}",
            input.name,
            megabytes,
            median.as_secs_f64() * 1e3,
            megabytes / median.as_secs_f64()
        );
    }
}
