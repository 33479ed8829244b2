//! The `--debug` log: what a run did, appended to `inventory.log` in the working
//! directory (as upstream does), so an operator can see why a container or address
//! appeared. Collected in memory and written once, so a run that is not debugging pays
//! nothing but a branch.

use std::io::Write;
use std::path::Path;

#[derive(Debug, Default)]
pub struct Log {
    enabled: bool,
    lines: Vec<String>,
}

impl Log {
    pub fn new(enabled: bool) -> Self {
        Log {
            enabled,
            lines: Vec::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records a line; the message is only built when debugging is on.
    pub fn debug(&mut self, message: impl Into<String>) {
        if self.enabled {
            self.lines.push(message.into());
        }
    }

    /// Records a line built lazily, for messages in hot loops.
    pub fn debug_with(&mut self, message: impl FnOnce() -> String) {
        if self.enabled {
            self.lines.push(message());
        }
    }

    /// Adds the lines of another log (a worker thread's) after this one's.
    pub fn append(&mut self, mut other: Log) {
        self.lines.append(&mut other.lines);
    }

    /// A stopwatch whose laps are logged (only when debugging).
    pub fn clock(&self) -> Clock {
        Clock(std::time::Instant::now())
    }

    /// Appends the collected lines to `path`.
    pub fn flush_to(&mut self, path: &Path) -> std::io::Result<()> {
        if !self.enabled || self.lines.is_empty() {
            return Ok(());
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let mut text = String::new();
        for line in self.lines.drain(..) {
            text.push_str("dynamic-inventory: ");
            text.push_str(&line);
            text.push('\n');
        }
        file.write_all(text.as_bytes())
    }
}

/// Times the steps of a run for the debug log.
pub struct Clock(std::time::Instant);

impl Clock {
    /// Logs the time since the previous lap.
    pub fn lap(&mut self, log: &mut Log, step: &str) {
        if log.enabled() {
            let now = std::time::Instant::now();
            log.debug(format!(
                "{step}: {:.1} ms",
                (now - self.0).as_secs_f64() * 1e3
            ));
            self.0 = now;
        }
    }
}
