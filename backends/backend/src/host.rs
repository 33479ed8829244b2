//! What the host offers a plugin instance: its debug log and the run's lock timeout.
//!
//! [`export_plugin!`](crate::export_plugin) hands each instance a [`Host`]
//! (with the two-argument form of the macro, to the constructor). Outside a
//! host (the plugin's own tests, a command-line tool using the backend
//! directly) [`Host::standalone`] makes one that logs nowhere, or where
//! [`Host::with_logger`] says.

use std::ffi::c_void;
use std::fmt;
use std::time::Duration;

use crate::abi::{self, HostApi};

/// How long a run waits for a lock when `osa.ini` does not say (`lock_timeout`):
/// 600 seconds, as the JSON file backend.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// The level of a line for the debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `OSA_INVENTORY_LOG_ERROR`: something failed.
    Error,
    /// `OSA_INVENTORY_LOG_WARNING`: something is wrong but the call goes on.
    Warning,
    /// `OSA_INVENTORY_LOG_INFO`: what the plugin did.
    Info,
    /// `OSA_INVENTORY_LOG_DEBUG`: details.
    Debug,
}

impl LogLevel {
    /// The level's number in the ABI.
    pub const fn code(self) -> i32 {
        match self {
            LogLevel::Error => abi::LOG_ERROR,
            LogLevel::Warning => abi::LOG_WARNING,
            LogLevel::Info => abi::LOG_INFO,
            LogLevel::Debug => abi::LOG_DEBUG,
        }
    }

    /// The level of an ABI number, if it is one.
    pub const fn from_code(code: i32) -> Option<LogLevel> {
        match code {
            abi::LOG_ERROR => Some(LogLevel::Error),
            abi::LOG_WARNING => Some(LogLevel::Warning),
            abi::LOG_INFO => Some(LogLevel::Info),
            abi::LOG_DEBUG => Some(LogLevel::Debug),
            _ => None,
        }
    }

    /// The level's name in log lines: `error`, `warning`, `info`, `debug`.
    pub const fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warning => "warning",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A function receiving the lines of a [`Host::standalone`].
type Logger = Box<dyn Fn(LogLevel, &str) + Send + Sync>;

/// The host's services for one plugin instance.
///
/// Keep it in the backend value: it is valid as long as the instance, which
/// the host closes by dropping that value. Do not let a copy of what it gives
/// access to outlive the value (a thread still logging after `close`).
pub struct Host {
    kind: Kind,
}

enum Kind {
    /// A host across the ABI: its table (copied, fields beyond its size `None`)
    /// and the context of this instance.
    Foreign { api: HostApi, context: *mut c_void },
    /// No host.
    Standalone {
        lock_timeout: Duration,
        logger: Option<Logger>,
    },
}

// SAFETY: the ABI allows the host functions to be called from any thread while the
// instance lives, with the context of that instance; everything else in a `Host` is
// owned data that is itself `Send` (the logger is `Send + Sync`).
unsafe impl Send for Host {}
// SAFETY: as for `Send`: calls through `&Host` from several threads at once are
// allowed by the ABI, and a standalone logger is `Sync`.
unsafe impl Sync for Host {}

impl Host {
    /// No host: lines are dropped, and the lock timeout is `lock_timeout`.
    pub fn standalone(lock_timeout: Duration) -> Host {
        Host {
            kind: Kind::Standalone {
                lock_timeout,
                logger: None,
            },
        }
    }

    /// A standalone host whose lines go to `logger` (a test collecting them,
    /// a tool printing them). No effect on a host across the ABI.
    pub fn with_logger(mut self, logger: impl Fn(LogLevel, &str) + Send + Sync + 'static) -> Host {
        if let Kind::Standalone { logger: slot, .. } = &mut self.kind {
            *slot = Some(Box::new(logger));
        }
        self
    }

    /// The host across the ABI: `api` (as [`abi::copy_table`] read it) and the
    /// context `open` received.
    ///
    /// # Safety
    /// `context` is the context the host gave to `open` for the instance this
    /// `Host` serves, and the `Host` is dropped before that instance is closed.
    pub(crate) unsafe fn foreign(api: HostApi, context: *mut c_void) -> Host {
        Host {
            kind: Kind::Foreign { api, context },
        }
    }

    /// Adds a line to the host's debug log (`dynamic-inventory --debug`), after
    /// the backend's name and the level. One line: newlines are shown escaped.
    pub fn log(&self, level: LogLevel, message: impl fmt::Display) {
        match &self.kind {
            Kind::Foreign { api, context } => {
                let Some(log) = api.log else { return };
                let text = message.to_string();
                // SAFETY: `log` is the host's, called with this instance's context (valid
                // while `self` is, see `foreign`) and `text.len()` readable bytes.
                unsafe { log(*context, level.code(), text.as_ptr(), text.len()) };
            }
            Kind::Standalone {
                logger: Some(logger),
                ..
            } => logger(level, &message.to_string()),
            Kind::Standalone { logger: None, .. } => {}
        }
    }

    /// Tells the operator something they must see even without `--debug`, on the
    /// program's standard error, after the backend's name (`pg backend: waiting for the
    /// lock held by ...`): a lock being waited for, a setting ignored. One line.
    ///
    /// Until the host table has a function for it (plugin ABI 2.2), a host across the ABI
    /// receives it as a warning of the debug log; a standalone host writes it to standard
    /// error itself.
    pub fn notice(&self, message: impl fmt::Display) {
        match &self.kind {
            Kind::Foreign { .. } => self.log(LogLevel::Warning, message),
            Kind::Standalone { .. } => {
                use std::io::Write;
                // A failed standard error cannot be reported anywhere.
                let _ = writeln!(std::io::stderr().lock(), "{message}");
            }
        }
    }

    /// Whether a line at `level` would be kept, to skip building costly ones.
    /// True when the host cannot say (an ABI 2.0 host).
    pub fn log_enabled(&self, level: LogLevel) -> bool {
        match &self.kind {
            Kind::Foreign { api, context } => match api.log_enabled {
                // SAFETY: the host's function, with this instance's context.
                Some(enabled) => unsafe { enabled(*context, level.code()) != 0 },
                None => api.log.is_some(),
            },
            Kind::Standalone { logger, .. } => logger.is_some(),
        }
    }

    /// How long this run lets the instance wait for a lock on its store: the
    /// section's `lock_timeout` (which the host reads), or
    /// [`DEFAULT_LOCK_TIMEOUT`].
    pub fn lock_timeout(&self) -> Duration {
        match &self.kind {
            Kind::Foreign { api, context } => match api.lock_timeout_seconds {
                // SAFETY: the host's function, with this instance's context.
                Some(seconds) => Duration::from_secs(u64::from(unsafe { seconds(*context) })),
                None => DEFAULT_LOCK_TIMEOUT,
            },
            Kind::Standalone { lock_timeout, .. } => *lock_timeout,
        }
    }

    /// The host's ABI version ([`abi::version`]); this crate's for a
    /// standalone host.
    pub fn abi_version(&self) -> u32 {
        match &self.kind {
            Kind::Foreign { api, .. } => api.abi_version,
            Kind::Standalone { .. } => abi::ABI_VERSION,
        }
    }
}

impl Default for Host {
    /// [`Host::standalone`] with [`DEFAULT_LOCK_TIMEOUT`].
    fn default() -> Self {
        Host::standalone(DEFAULT_LOCK_TIMEOUT)
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Foreign { api, .. } => f
                .debug_struct("Host")
                .field("abi_version", &abi::version_text(api.abi_version))
                .finish_non_exhaustive(),
            Kind::Standalone {
                lock_timeout,
                logger,
            } => f
                .debug_struct("Host")
                .field("lock_timeout", lock_timeout)
                .field("logging", &logger.is_some())
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn levels_have_the_abi_numbers() {
        for level in [
            LogLevel::Error,
            LogLevel::Warning,
            LogLevel::Info,
            LogLevel::Debug,
        ] {
            assert_eq!(LogLevel::from_code(level.code()), Some(level));
        }
        assert_eq!(LogLevel::from_code(0), None);
        assert_eq!(LogLevel::Warning.to_string(), "warning");
    }

    #[test]
    fn a_standalone_host_logs_where_told() {
        let host = Host::standalone(Duration::from_secs(3));
        assert!(!host.log_enabled(LogLevel::Error));
        host.log(LogLevel::Info, "dropped");
        assert_eq!(host.lock_timeout(), Duration::from_secs(3));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let host = Host::default().with_logger(move |level, line| {
            sink.lock().unwrap().push(format!("{level}: {line}"));
        });
        assert!(host.log_enabled(LogLevel::Debug));
        host.log(LogLevel::Warning, format_args!("{} and {}", 1, 2));
        assert_eq!(*lines.lock().unwrap(), ["warning: 1 and 2"]);
        assert_eq!(host.lock_timeout(), DEFAULT_LOCK_TIMEOUT);
        assert_eq!(host.abi_version(), abi::ABI_VERSION);
    }
}
