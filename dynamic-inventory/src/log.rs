//! The `--debug` log: what a run did, appended to `inventory.log` in the working
//! directory (as upstream does), so an operator can see why a container or address
//! appeared. Collected in memory and written once, so a run that is not debugging pays
//! nothing but a branch. The storage backend adds its own lines (a plugin's `log`) through
//! [`Log::backend_log`]; they take their place among this log's as it records more.

use std::io::Write;
use std::path::Path;

use inventory_storage::DebugLog;

#[derive(Debug, Default)]
pub struct Log {
    enabled: bool,
    lines: Vec<String>,
    /// The lines of the storage backend, once it was given this log.
    backend: Option<DebugLog>,
}

impl Log {
    pub fn new(enabled: bool) -> Self {
        Log {
            enabled,
            lines: Vec::new(),
            backend: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Where the storage backend adds its lines (`None` when not debugging: they are
    /// then not even made).
    pub fn backend_log(&mut self) -> Option<DebugLog> {
        if !self.enabled {
            return None;
        }
        Some(self.backend.get_or_insert_with(DebugLog::new).clone())
    }

    /// Moves the backend's lines added so far after this log's.
    fn absorb_backend_lines(&mut self) {
        if let Some(backend) = &self.backend {
            self.lines.extend(backend.take());
        }
    }

    /// Records a line; the message is only built when debugging is on.
    pub fn debug(&mut self, message: impl Into<String>) {
        if self.enabled {
            self.absorb_backend_lines();
            self.lines.push(message.into());
        }
    }

    /// Records a line built lazily, for messages in hot loops.
    pub fn debug_with(&mut self, message: impl FnOnce() -> String) {
        if self.enabled {
            self.absorb_backend_lines();
            self.lines.push(message());
        }
    }

    /// Adds the lines of another log (a worker thread's) after this one's.
    pub fn append(&mut self, mut other: Log) {
        self.absorb_backend_lines();
        self.lines.append(&mut other.lines);
    }

    /// A stopwatch whose laps are logged (only when debugging).
    pub fn clock(&self) -> Clock {
        Clock(std::time::Instant::now())
    }

    /// Appends the collected lines to `path`.
    pub fn flush_to(&mut self, path: &Path) -> std::io::Result<()> {
        self.absorb_backend_lines();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_lines_take_their_place() {
        let mut log = Log::new(true);
        log.debug("first");
        let backend = log.backend_log().unwrap();
        backend.push("sqlite backend: info: opened");
        log.debug("second");
        backend.push("sqlite backend: debug: closed");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.log");
        log.flush_to(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "dynamic-inventory: first\n\
             dynamic-inventory: sqlite backend: info: opened\n\
             dynamic-inventory: second\n\
             dynamic-inventory: sqlite backend: debug: closed\n"
        );
        assert!(Log::new(false).backend_log().is_none());
    }
}
