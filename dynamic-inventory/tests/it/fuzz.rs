//! Seeded mutation fuzzing of the two readers of untrusted text: the configuration
//! reader (YAML) and the stored-inventory reader (JSON). Each starts from the reference
//! data, applies a few random mutations (flipped, deleted, duplicated bytes, YAML and
//! JSON tokens dropped in), and checks:
//!
//! * no input makes a reader panic;
//! * an inventory the reader accepts is written back as text the reader accepts again,
//!   with the same fingerprint (whatever a run stores, the next run reads);
//! * a refusal is one line of message;
//! * the whole program, on a mutated configuration or stored inventory, either stores an
//!   inventory the next run reads, or fails with one line (for a YAML error, followed by
//!   the line of the file and a caret), exit status 1, and the stored inventory untouched.
//!
//! The seeds are fixed: a failure names the case, the seed and the round, which
//! reproduce it. `FUZZ_ROUNDS` raises the number of inputs (default 1,500 per reader, a
//! twentieth of that for whole runs of the program).

use std::panic::{AssertUnwindSafe, catch_unwind};

use dynamic_inventory::model::Inventory;
use dynamic_inventory::yaml;

use crate::support::*;

/// xorshift64: small, fast and the same everywhere, so a seed reproduces a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a\n",
    "[",
    "]",
    "{",
    "}",
    ",",
    "- ",
    ": ",
    "\n",
    "\n  ",
    "\t",
    "#",
    "'",
    "\"",
    "\\",
    "null",
    "~",
    "yes",
    "1e400",
    ".inf",
    ".nan",
    "0x1F",
    "2024-01-01",
    "!!str ",
    "!!python/object ",
    "? ",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "\u{1b}[31m",
    "\u{0}",
    "\u{feff}",
    "é",
    "NaN",
    "Infinity",
    "-0",
    "184467440737095516160",
    "true",
    "\"\\ud800\"",
    "[[[[[[[[",
    "]]]]]]]]",
    "{\"a\":",
    "\"_meta\"",
    "\"hostvars\"",
];

/// `base` with one to four mutations.
fn mutate(base: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => {
                let end = (at + 1 + rng.below(64)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            2 => {
                let end = (at + 1 + rng.below(256)).min(bytes.len());
                let piece = bytes[at.min(end)..end].to_vec();
                let to = rng.below(bytes.len() + 1);
                bytes.splice(to..to, piece);
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
        }
    }
    bytes
}

fn rounds() -> usize {
    std::env::var("FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_500)
}

#[test]
fn the_configuration_reader_never_panics() {
    let cases = reference_cases();
    let mut rng = Rng(0x5eed_c0f1_9000_0001);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..rounds() {
        let case = &cases[round % cases.len()];
        let base =
            std::fs::read(reference_case(case).join("config/openstack_user_config.yml")).unwrap();
        let input = mutate(&base, &mut rng);
        let text = String::from_utf8_lossy(&input);
        let outcome = catch_unwind(AssertUnwindSafe(|| yaml::load_str(&text)));
        match outcome {
            Err(_) => panic!("round {round} ({case}): the YAML reader panicked on {text:?}"),
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) => {
                refused += 1;
                let message = e.to_string();
                assert!(!message.is_empty(), "round {round}: an empty message");
            }
        }
    }
    // Both outcomes were exercised, or the mutations are not doing their job.
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn whatever_the_inventory_reader_accepts_it_reads_back() {
    let cases = reference_cases();
    let mut rng = Rng(0x5eed_1a7e_0000_0002);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..rounds() {
        let case = &cases[round % cases.len()];
        let base = std::fs::read(reference_case(case).join("steady_state.json")).unwrap();
        let input = mutate(&base, &mut rng);
        let Ok(text) = String::from_utf8(input) else {
            // The backends refuse text that is not UTF-8 before the reader sees it.
            continue;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            Inventory::parse(&text).map(|inventory| {
                let written = inventory.to_text();
                let again = Inventory::parse(&written)
                    .unwrap_or_else(|e| panic!("written text refused: {e}"));
                (inventory.depth(), written, again.to_text())
            })
        }));
        match outcome {
            Err(_) => panic!("round {round} ({case}): the inventory reader panicked on {text:?}"),
            Ok(Ok((depth, written, rewritten))) => {
                accepted += 1;
                assert!(depth <= 128, "round {round}: depth {depth}");
                assert_eq!(written, rewritten, "round {round}: not stable once written");
            }
            Ok(Err(e)) => {
                refused += 1;
                assert!(!e.0.is_empty(), "round {round}: an empty message");
            }
        }
    }
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn the_program_on_mutated_inputs_fails_cleanly_or_stores_what_it_reads_back() {
    // The whole program, on a mutated configuration or a mutated stored inventory: it
    // either succeeds and stores an inventory the next run reads, or fails with one line
    // (and a YAML error's excerpt), exit status 1, and the stored inventory untouched. Fewer rounds: each is a process.
    let mut rng = Rng(0x5eed_b1a5_0000_0003);
    let rounds = (rounds() / 20).max(20);
    for round in 0..rounds {
        let case = if round % 2 == 0 { "test" } else { "prod" };
        let d = Deployment::from_case(case);
        let config = d.path().join("openstack_user_config.yml");
        let stored = std::fs::read(reference_case(case).join("steady_state.json")).unwrap();
        if round % 4 < 2 {
            let mutated = mutate(&std::fs::read(&config).unwrap(), &mut rng);
            std::fs::write(&config, mutated).unwrap();
            std::fs::write(d.inventory_path(), &stored).unwrap();
        } else {
            std::fs::write(d.inventory_path(), mutate(&stored, &mut rng)).unwrap();
        }
        let before = std::fs::read(d.inventory_path()).unwrap();
        let out = d.run(&[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {
                let again = d.run(&["--check"]);
                let again_err = String::from_utf8_lossy(&again.stderr);
                assert!(
                    !again_err.contains("cannot be used"),
                    "round {round} ({case}): stored an inventory the next run refuses: {again_err}"
                );
            }
            Some(1) => {
                // One line of message; a YAML error adds the line of the file and a
                // caret under the column (checked by yaml_error_parts).
                if stderr.lines().count() != 1 {
                    assert!(
                        stderr.contains(": invalid YAML: line "),
                        "round {round} ({case}): {stderr}"
                    );
                    yaml_error_parts(&stderr);
                }
                assert!(out.stdout.is_empty(), "round {round} ({case})");
                assert_eq!(
                    std::fs::read(d.inventory_path()).unwrap(),
                    before,
                    "round {round} ({case}): the stored inventory was touched"
                );
            }
            other => panic!("round {round} ({case}): exit {other:?}: {stderr}"),
        }
    }
}
