//! The plugin host: a storage backend in a shared library.
//!
//! [`PluginBackend::open`] loads a library implementing the plugin ABI
//! (`backends/backend/include/osa_inventory_plugin.h`, mirrored in
//! [`inventory_backend::abi`]); the result is a [`StorageBackend`] like the
//! built-in ones. `docs/plugins.md` is the guide for plugin authors.
//!
//! Loading, in order, each failure an error naming the library:
//!
//! 1. The file must exist, be a regular file, and neither it nor any directory
//!    above it, from `/` down (along the path as written and the path it
//!    resolves to), may be writable by anyone but its owner and root: each must
//!    belong to root or to the user running the program, and its mode must not
//!    have the group- or other-write bit, except for a sticky directory (`/tmp`),
//!    where others cannot rename what is ours. Whoever can replace the library
//!    runs code as the user running the inventory, usually root (OpenSSH's
//!    StrictModes and sudo refuse their files on the same grounds). The file is
//!    opened once (`O_NOFOLLOW`), checked open (`fstat`), and that open file is
//!    what is loaded (`/proc/self/fd/N`): a directory swapped between the check
//!    and the load cannot substitute another library.
//! 2. `dlopen` with `RTLD_NOW | RTLD_LOCAL`: every undefined symbol is
//!    resolved now, so a library that cannot work fails here and not in the
//!    middle of a call.
//! 3. The entry point `osa_inventory_plugin_init` is looked up (a library of
//!    ABI 1, which exported `osa_inventory_plugin_abi_version` instead, is
//!    refused with how to rebuild it) and called with [`ABI_VERSION`] and the
//!    host table, once per library file per process: a library loaded again
//!    (a second section) reuses the table its first call returned.
//! 4. The plugin table is checked: another major version, a minimum host
//!    version newer than ours, a table too small for 2.0 or a required function
//!    missing is refused, naming the versions or the functions. Only the first
//!    `struct_size` bytes of the table are read: the functions of minor versions
//!    after the plugin's are absent.
//!
//! The library is never unloaded (its handle is leaked): a plugin may leave
//! threads, atexit handlers or thread-local destructors behind, and unloading
//! code that is still referenced crashes. [`StorageBackend::register`] opens an
//! instance, with a host context of its own (the section's name for the debug
//! log, the run's lock timeout); dropping the backend closes it.
//!
//! Every buffer the plugin hands over is copied and given back to the
//! plugin's `free_buffer`; text the host passes is followed by a NUL byte. An
//! unknown return code, a failure without a message, a missing instance, or
//! text that is not UTF-8 is an error naming the library and the call.

#![warn(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::collections::BTreeSet;
use std::ffi::{CString, c_void};
use std::fs;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};

use inventory_backend::abi::{
    self, ABI_MAJOR, ABI_VERSION, Buffer, CloseFn, FreeBufferFn, HostApi, InitFn, LoadFn,
    LocationFn, OpenFn, PluginApi, Setting, TableHeader, WriteFn, version_text,
};
use inventory_backend::host::LogLevel;
use inventory_backend::{BackendError, Settings, StorageBackend, canonical_location};
use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};

use crate::json_file::{DEFAULT_LOCK_TIMEOUT, parse_lock_timeout};

unsafe extern "C" {
    /// The effective user id (POSIX, in the C library std already links).
    safe fn geteuid() -> u32;
}

/// The lines the backends of a run add to its debug log (a plugin's `log`
/// calls), kept until the program takes them. Clones share the lines.
#[derive(Debug, Clone, Default)]
pub struct DebugLog(Arc<Mutex<Vec<String>>>);

impl DebugLog {
    /// An empty log.
    pub fn new() -> Self {
        DebugLog::default()
    }

    /// Adds a line.
    pub fn push(&self, line: impl Into<String>) {
        self.lines().push(line.into());
    }

    /// The lines added since the last call, oldest first.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines())
    }

    fn lines(&self) -> MutexGuard<'_, Vec<String>> {
        // A panic while a line was added loses nothing worth refusing the others for.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The host's side of one plugin instance: what the host functions answer.
#[derive(Debug)]
struct HostContext {
    /// The backend's `osa.ini` section, naming it in log lines.
    name: String,
    lock_timeout_seconds: u32,
    /// Where lines go; `None` when the program is not debugging.
    log: Option<DebugLog>,
}

impl HostContext {
    /// Adds `text` (made one line) to the debug log after the backend's name.
    fn log(&self, text: &str) {
        if let Some(log) = &self.log {
            log.push(format!("{} backend: {}", self.name, crate::one_line(text)));
        }
    }

    /// The context behind a plugin's pointer.
    ///
    /// # Safety
    /// `host` is NULL or a context a live instance received in `open`.
    unsafe fn from_ptr<'a>(host: *mut c_void) -> Option<&'a HostContext> {
        // SAFETY: NULL, or a `HostContext` kept alive by its `PluginBackend` until the
        // instance is closed; only shared references are ever made to it.
        unsafe { host.cast::<HostContext>().as_ref() }
    }
}

/// The host table every plugin receives.
static HOST_API: HostApi = HostApi {
    struct_size: size_of::<HostApi>() as u32,
    abi_version: ABI_VERSION,
    log: Some(host_log),
    lock_timeout_seconds: Some(host_lock_timeout),
    log_enabled: Some(host_log_enabled),
};

/// `log`: a line for the debug log, `SECTION backend: LEVEL: MESSAGE`.
///
/// # Safety
/// As the header says: `host` is a live instance's context, `message_len`
/// readable bytes at `message`.
unsafe extern "C" fn host_log(host: *mut c_void, level: i32, message: *const u8, len: usize) {
    // Nothing may unwind into the plugin.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as this function's contract.
        let Some(context) = (unsafe { HostContext::from_ptr(host) }) else {
            return;
        };
        if context.log.is_none() {
            return;
        }
        let text = if message.is_null() {
            String::new()
        } else {
            // SAFETY: `len` readable bytes at `message`, as the contract says.
            String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(message, len) })
                .into_owned()
        };
        let level = match LogLevel::from_code(level) {
            Some(level) => level.name().to_string(),
            None => format!("level {level}"),
        };
        context.log(&format!("{level}: {text}"));
    }));
}

/// `lock_timeout_seconds`.
///
/// # Safety
/// `host` is a live instance's context.
unsafe extern "C" fn host_lock_timeout(host: *mut c_void) -> u32 {
    // SAFETY: as this function's contract.
    match unsafe { HostContext::from_ptr(host) } {
        Some(context) => context.lock_timeout_seconds,
        None => DEFAULT_LOCK_TIMEOUT.as_secs() as u32,
    }
}

/// `log_enabled` (2.1): every level is kept when debugging, none otherwise.
///
/// # Safety
/// `host` is a live instance's context.
unsafe extern "C" fn host_log_enabled(host: *mut c_void, _level: i32) -> i32 {
    // SAFETY: as this function's contract.
    let debugging = unsafe { HostContext::from_ptr(host) }.is_some_and(|c| c.log.is_some());
    i32::from(debugging)
}

/// A plugin table, as `osa_inventory_plugin_init` returned it.
#[derive(Clone, Copy)]
struct TablePtr(*const PluginApi);

// SAFETY: the table is static data of a library that is never unloaded, read-only to
// us: any thread may read it.
unsafe impl Send for TablePtr {}

/// The libraries this process has initialised, by file (device, inode), and the
/// table each init returned: init runs once per library, as the loader too knows
/// a library by its file. A library is never unloaded, so its file (mapped) keeps
/// its inode number from being reused.
static INITIALISED: Mutex<Vec<((u64, u64), TablePtr)>> = Mutex::new(Vec::new());

/// The plugin's functions, from its checked table.
#[derive(Clone, Copy)]
struct Api {
    /// The ABI version the plugin was built for.
    version: u32,
    open: OpenFn,
    load: LoadFn,
    write: WriteFn,
    location: LocationFn,
    close: CloseFn,
    free_buffer: FreeBufferFn,
    /// 2.1, optional.
    load_for_reading: Option<LoadFn>,
}

/// A storage backend in a shared library.
pub struct PluginBackend {
    library: PathBuf,
    /// The library file's (device, inode): the store when the plugin cannot name it.
    file_id: (u64, u64),
    /// The `osa.ini` section, for the debug log.
    name: String,
    debug_log: Option<DebugLog>,
    api: Api,
    /// The plugin's instance once registered; null before.
    instance: *mut c_void,
    /// The instance's host context, which the plugin may use until `close` returns.
    context: Option<Box<HostContext>>,
}

// SAFETY: the ABI lets the host use an instance from any thread, one call at a time
// (`&mut self` for every call but `location`, and `PluginBackend` is not `Sync`, so
// there is never a second call at once); the host context is only read, and its log
// is behind a mutex.
unsafe impl Send for PluginBackend {}

impl std::fmt::Debug for PluginBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginBackend")
            .field("library", &self.library)
            .field("name", &self.name)
            .field("abi_version", &version_text(self.api.version))
            .field("registered", &!self.instance.is_null())
            .finish()
    }
}

impl PluginBackend {
    /// Loads the plugin library at `library` (an absolute path) and checks
    /// it: permissions, entry point, versions, table. Nothing of the plugin
    /// runs but its initialisers and `osa_inventory_plugin_init` (and, for a
    /// library of ABI 1, `osa_inventory_plugin_abi_version`).
    pub fn open(library: &Path) -> Result<PluginBackend, BackendError> {
        let file = open_checked(library)?;
        Self::load_checked(library, file)
    }

    /// Names the backend (its `osa.ini` section) in the lines its plugin logs;
    /// `plugin` until then. Applies to instances registered afterwards.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Sends the lines its plugin logs to `log` (`None`: nowhere, and the
    /// plugin is told they are not kept). Applies to instances registered
    /// afterwards.
    pub fn logging_to(mut self, log: Option<DebugLog>) -> Self {
        self.debug_log = log;
        self
    }

    /// Loads the library `file` (opened and checked by [`open_checked`]; `library` names
    /// it in messages).
    fn load_checked(library: &Path, file: fs::File) -> Result<PluginBackend, BackendError> {
        let meta = file.metadata().map_err(|e| {
            BackendError::new(format_args!(
                "cannot read plugin library {}: {e}",
                library.display()
            ))
        })?;
        let file_id = (meta.dev(), meta.ino());
        // Held while the library is loaded and initialised: init never runs twice, nor
        // concurrently.
        let mut initialised = INITIALISED.lock().unwrap_or_else(|e| e.into_inner());
        let known = initialised
            .iter()
            .find(|(id, _)| *id == file_id)
            .map(|e| e.1);
        let table = match known {
            Some(table) => table,
            None => {
                let table = TablePtr(Self::initialise(library, file)?);
                initialised.push((file_id, table));
                table
            }
        };
        drop(initialised);
        let api = check_table(library, table.0)?;
        Ok(PluginBackend {
            library: library.to_path_buf(),
            file_id,
            name: "plugin".to_string(),
            debug_log: None,
            api,
            instance: ptr::null_mut(),
            context: None,
        })
    }

    /// Loads `file` and calls its entry point; returns the table it gave.
    fn initialise(library: &Path, file: fs::File) -> Result<*const PluginApi, BackendError> {
        // Loaded through the descriptor of the checked file; without /proc, by its path
        // (checked a moment ago, in directories nobody else may change).
        let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        let load_path = if fd_path.exists() {
            fd_path
        } else {
            fs::canonicalize(library).unwrap_or_else(|_| library.to_path_buf())
        };
        // SAFETY: loading runs the library's initialisers: that is what loading a plugin
        // means, and the file was checked to be one only root or we could have written.
        let lib = unsafe { Library::open(Some(&load_path), RTLD_NOW | RTLD_LOCAL) };
        // Kept open, as the library is kept loaded: the loader knows a library by the name
        // it was opened with, and a descriptor number used again for another library
        // would be taken for this one.
        let _ = file.into_raw_fd();
        let lib = lib.map_err(|e| {
            // dlerror's text ("PATH: invalid ELF header") names the file it was given.
            let detail = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.to_string());
            let prefix = format!("{}: ", load_path.display());
            let detail = detail.strip_prefix(&prefix).unwrap_or(&detail).to_string();
            BackendError::new(format_args!(
                "cannot load plugin library {}: {detail}",
                library.display()
            ))
        })?;
        // SAFETY: looked up with the type the header gives the entry point.
        let init = unsafe { lib.get::<InitFn>(abi::INIT_SYMBOL) }.map(|s| *s);
        let init = match init {
            Ok(init) => init,
            Err(_) => {
                // SAFETY: ABI 1 declared `uint32_t osa_inventory_plugin_abi_version(void)`,
                // to be called first, without side effects.
                let old =
                    unsafe { lib.get::<unsafe extern "C" fn() -> u32>(abi::ABI_1_VERSION_SYMBOL) }
                        .map(|s| *s);
                let error = match old {
                    // SAFETY: as above.
                    Ok(version) => built_for_abi_1(library, unsafe { version() }),
                    Err(_) => BackendError::new(format_args!(
                        "{} is not an inventory storage plugin: it does not export {}",
                        library.display(),
                        abi::symbol_name(abi::INIT_SYMBOL)
                    )),
                };
                // Never unloaded, even refused: its initialisers have run.
                std::mem::forget(lib);
                return Err(error);
            }
        };
        // Never unloaded: the table and the functions stay valid for the whole process.
        std::mem::forget(lib);
        // SAFETY: the entry point, called once for this library (under INITIALISED's
        // lock), with a host table valid for the whole process.
        Ok(unsafe { init(ABI_VERSION, &HOST_API) })
    }

    /// The library's path, as configured.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// The ABI version the plugin was built for.
    pub fn abi_version(&self) -> u32 {
        self.api.version
    }

    /// Copies a buffer the plugin handed over and gives it back to the plugin.
    fn take(&self, buffer: &mut Buffer) -> Option<Vec<u8>> {
        if buffer.data.is_null() {
            return None;
        }
        // SAFETY: the plugin handed over `len` bytes at `data`, ours until freed below.
        let bytes = unsafe { std::slice::from_raw_parts(buffer.data, buffer.len) }.to_vec();
        // SAFETY: given back once, with the plugin's own `data` and `len`.
        unsafe { (self.api.free_buffer)(buffer.data, buffer.len) };
        *buffer = Buffer::empty();
        Some(bytes)
    }

    /// The error of a failed call: the plugin's message as it is, or what
    /// the host found wrong, naming the library and the call.
    fn failure(&self, call: &str, code: i32, error: &mut Buffer) -> BackendError {
        let message = self.take(error);
        if code != abi::ERROR {
            return BackendError::new(format_args!(
                "plugin library {}: {call} returned {code}, which plugin ABI {ABI_MAJOR} does \
                 not define",
                self.library.display(),
            ));
        }
        match message {
            Some(m) if !m.is_empty() => BackendError::new(String::from_utf8_lossy(&m).trim_end()),
            _ => BackendError::new(format_args!(
                "plugin library {}: {call} failed without saying why",
                self.library.display(),
            )),
        }
    }

    fn instance(&self) -> Result<*mut c_void, BackendError> {
        if self.instance.is_null() {
            Err(BackendError::new(format_args!(
                "plugin library {}: used before its settings were registered",
                self.library.display()
            )))
        } else {
            Ok(self.instance)
        }
    }

    fn close(&mut self) {
        if !self.instance.is_null() {
            // SAFETY: an instance `open` returned, closed once (then forgotten).
            unsafe { (self.api.close)(self.instance) };
            self.instance = ptr::null_mut();
        }
        // The plugin may use the context until `close` returns, not after.
        self.context = None;
    }

    /// `load` or `load_for_reading`.
    fn load_with(&mut self, call: &str, load: LoadFn) -> Result<Option<String>, BackendError> {
        let instance = self.instance()?;
        let mut inventory = Buffer::empty();
        let mut error = Buffer::empty();
        // SAFETY: a live instance of this plugin, two empty buffers.
        let code = unsafe { load(instance, &mut inventory, &mut error) };
        let bytes = self.take(&mut inventory);
        match code {
            abi::PRESENT => {
                self.take(&mut error);
                String::from_utf8(bytes.unwrap_or_default())
                    .map(Some)
                    .map_err(|e| {
                        BackendError::new(format_args!(
                            "plugin library {} returned an inventory that is not valid UTF-8 \
                             (at byte {})",
                            self.library.display(),
                            e.utf8_error().valid_up_to()
                        ))
                    })
            }
            abi::ABSENT => {
                self.take(&mut error);
                Ok(None)
            }
            code => Err(self.failure(call, code, &mut error)),
        }
    }

    /// What the plugin's `location` says, when it says something. A failure goes
    /// to the debug log.
    fn plugin_location(&self) -> Option<String> {
        let instance = self.instance().ok()?;
        let mut location = Buffer::empty();
        let mut error = Buffer::empty();
        // SAFETY: a live instance of this plugin, two empty buffers.
        let code = unsafe { (self.api.location)(instance, &mut location, &mut error) };
        let text = self.take(&mut location);
        let message = self.take(&mut error);
        match (code, text) {
            (abi::PRESENT, Some(text)) if !text.is_empty() => {
                Some(String::from_utf8_lossy(&text).into_owned())
            }
            (abi::PRESENT | abi::ABSENT, _) => None,
            (code, _) => {
                if let Some(context) = &self.context {
                    let why = match message {
                        Some(m) if code == abi::ERROR && !m.is_empty() => {
                            String::from_utf8_lossy(&m).into_owned()
                        }
                        _ => format!("it returned {code} without a message"),
                    };
                    context.log(&format!("location failed: {why}"));
                }
                None
            }
        }
    }
}

/// The refusal of a library built for ABI 1, whose `osa_inventory_plugin_abi_version`
/// returned `version`.
fn built_for_abi_1(library: &Path, version: u32) -> BackendError {
    BackendError::new(format_args!(
        "plugin library {} was built for plugin ABI {version}, which this program no longer \
         loads: rebuild it against plugin ABI {ABI_MAJOR} (this program's \
         osa_inventory_plugin.h, or for a Rust plugin its inventory-backend crate; \
         docs/plugins.md says what changed)",
        library.display()
    ))
}

/// Checks the plugin table `table` of `library`, reading only what it holds.
fn check_table(library: &Path, table: *const PluginApi) -> Result<Api, BackendError> {
    let lib = library.display();
    if table.is_null() {
        return Err(BackendError::new(format_args!(
            "plugin library {lib}: {} returned no plugin table",
            abi::symbol_name(abi::INIT_SYMBOL)
        )));
    }
    // SAFETY: a table starts with its size, in every version.
    let size = unsafe { ptr::read(table.cast::<u32>()) };
    if (size as usize) < size_of::<TableHeader>() {
        return Err(too_small(library, size));
    }
    // SAFETY: the first two fields, in every version, within `size` bytes.
    let header = unsafe { ptr::read(table.cast::<TableHeader>()) };
    let version = header.abi_version;
    let plugin = version_text(version);
    let host = version_text(ABI_VERSION);
    if abi::major(version) != ABI_MAJOR {
        let what = if abi::major(version) > ABI_MAJOR {
            format!(
                "a newer major version: upgrade this program, or use a build of the plugin \
                 for ABI {ABI_MAJOR}"
            )
        } else {
            format!("an older major version: rebuild the plugin against ABI {ABI_MAJOR}")
        };
        return Err(BackendError::new(format_args!(
            "plugin library {lib} implements plugin ABI {plugin}, but this program implements \
             ABI {host} ({what})"
        )));
    }
    if (size as usize) < abi::PLUGIN_API_SIZE_2_0 {
        return Err(too_small(library, size));
    }
    // SAFETY: `size` bytes of a table of our major version, as the plugin says.
    let copy = unsafe { abi::copy_table(table, size) };
    if copy.min_host_abi_version > ABI_VERSION {
        let needed = version_text(copy.min_host_abi_version);
        return Err(BackendError::new(format_args!(
            "plugin library {lib} (built for plugin ABI {plugin}) requires a host of ABI \
             {needed} or newer, but this program implements ABI {host}: upgrade this \
             program, or use a build of the plugin for ABI {host}"
        )));
    }
    let required = [
        ("open", copy.open.is_some()),
        ("load", copy.load.is_some()),
        ("write", copy.write.is_some()),
        ("location", copy.location.is_some()),
        ("close", copy.close.is_some()),
        ("free_buffer", copy.free_buffer.is_some()),
    ];
    let missing: Vec<&str> = required
        .iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| *name)
        .collect();
    match (
        copy.open,
        copy.load,
        copy.write,
        copy.location,
        copy.close,
        copy.free_buffer,
    ) {
        (Some(open), Some(load), Some(write), Some(location), Some(close), Some(free_buffer)) => {
            Ok(Api {
                version,
                open,
                load,
                write,
                location,
                close,
                free_buffer,
                load_for_reading: copy.load_for_reading,
            })
        }
        _ => Err(BackendError::new(format_args!(
            "plugin library {lib}'s table has no {}, which plugin ABI 2.0 requires",
            missing.join(", ")
        ))),
    }
}

fn too_small(library: &Path, size: u32) -> BackendError {
    BackendError::new(format_args!(
        "plugin library {} returned a plugin table of {size} bytes, smaller than the {} bytes \
         of plugin ABI 2.0",
        library.display(),
        abi::PLUGIN_API_SIZE_2_0
    ))
}

impl StorageBackend for PluginBackend {
    /// Opens an instance of the plugin with these settings (closing the one
    /// registered before, if any). `lock_timeout` is the host's: checked here
    /// and given through the host table, never among the settings.
    fn register(&mut self, settings: &Settings) -> Result<(), BackendError> {
        self.close();
        let mut lock_timeout = DEFAULT_LOCK_TIMEOUT;
        let mut strings = Vec::with_capacity(settings.len());
        for (key, value) in settings {
            if key == "lock_timeout" {
                lock_timeout = parse_lock_timeout(value)?;
                continue;
            }
            let nul = || {
                BackendError::new(format_args!(
                    "setting '{}' contains a NUL character, which a plugin cannot receive",
                    key.replace('\0', "\\0")
                ))
            };
            let key_c = CString::new(key.as_str()).map_err(|_| nul())?;
            let value_c = CString::new(value.as_str()).map_err(|_| nul())?;
            strings.push((key_c, value_c));
        }
        // Sorted by key, as `Settings` is: strcmp's order for UTF-8.
        let pairs: Vec<Setting> = strings
            .iter()
            .map(|(key, value)| Setting {
                key: key.as_ptr(),
                value: value.as_ptr(),
            })
            .collect();
        let context = Box::new(HostContext {
            name: self.name.clone(),
            lock_timeout_seconds: u32::try_from(lock_timeout.as_secs()).unwrap_or(u32::MAX),
            log: self.debug_log.clone(),
        });
        let host = ptr::from_ref::<HostContext>(&context)
            .cast_mut()
            .cast::<c_void>();
        let mut instance: *mut c_void = ptr::null_mut();
        let mut error = Buffer::empty();
        // SAFETY: the settings' strings and the context outlive the call (the context
        // lives on in `self` if it succeeds); two places for the results.
        let code = unsafe {
            (self.api.open)(host, pairs.as_ptr(), pairs.len(), &mut instance, &mut error)
        };
        if code != abi::OK {
            return Err(self.failure("open", code, &mut error));
        }
        self.take(&mut error);
        if instance.is_null() {
            return Err(BackendError::new(format_args!(
                "plugin library {}: open succeeded but returned no instance",
                self.library.display(),
            )));
        }
        self.instance = instance;
        self.context = Some(context);
        Ok(())
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        self.load_with("load", self.api.load)
    }

    /// The plugin's `load_for_reading` when it has one (2.1), else `load`.
    fn load_for_reading(&mut self) -> Result<Option<String>, BackendError> {
        match self.api.load_for_reading {
            Some(load) => self.load_with("load_for_reading", load),
            None => self.load(),
        }
    }

    fn write(&mut self, inventory: &str) -> Result<(), BackendError> {
        let instance = self.instance()?;
        let text = nul_terminated(inventory.as_bytes());
        let mut error = Buffer::empty();
        // SAFETY: a live instance, `len` bytes followed by a NUL, an empty buffer.
        let code = unsafe { (self.api.write)(instance, text.as_ptr(), text.len() - 1, &mut error) };
        if code != abi::OK {
            return Err(self.failure("write", code, &mut error));
        }
        self.take(&mut error);
        Ok(())
    }

    /// What the plugin says identifies its store; `plugin LIBRARY` when it says
    /// nothing (or fails, which goes to the debug log).
    fn location(&self) -> String {
        self.plugin_location()
            .unwrap_or_else(|| format!("plugin {}", self.library.display()))
    }

    /// The plugin's location made canonical; when it has none, the library file
    /// itself: every instance of such a library is taken for the same store.
    fn store_identity(&self) -> String {
        match self.plugin_location() {
            Some(location) => canonical_location(&location),
            None => format!(
                "plugin library on device {} inode {}",
                self.file_id.0, self.file_id.1
            ),
        }
    }
}

impl Drop for PluginBackend {
    fn drop(&mut self) {
        self.close();
    }
}

/// `bytes` followed by a NUL, which C plugins may rely on.
fn nul_terminated(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(0);
    v
}

/// Refuses a library that users other than its owner and root could replace
/// (see the module documentation).
pub fn check_permissions(library: &Path) -> Result<(), BackendError> {
    open_checked(library).map(drop)
}

/// Opens `library` for loading, once, after checking that nobody but root and the user
/// running this program could have replaced it: every directory from `/` down to it
/// (as written, and where links resolve to), then the open file itself. Loading that
/// open file (`/proc/self/fd/N`) loads the file checked, whatever is renamed meanwhile.
pub fn open_checked(library: &Path) -> Result<fs::File, BackendError> {
    // Whether it is a file is checked on the open file below.
    let resolved = fs::canonicalize(library).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => BackendError::new(format_args!(
            "plugin library {} does not exist",
            library.display()
        )),
        _ => BackendError::new(format_args!(
            "cannot read plugin library {}: {e}",
            library.display()
        )),
    })?;
    // Every directory above the library, as written and as resolved, from the root down
    // (as OpenSSH's StrictModes): whoever may rename any of them may swap the library.
    let dirs: BTreeSet<PathBuf> = [library, resolved.as_path()]
        .into_iter()
        .flat_map(|p| p.ancestors().skip(1))
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .collect();
    for dir in dirs {
        let meta = fs::metadata(&dir).map_err(|e| {
            BackendError::new(format_args!(
                "cannot read {}, a directory above plugin library {}: {e}",
                dir.display(),
                library.display()
            ))
        })?;
        check_writers(&dir, &meta, library)?;
    }
    // The file opened is the file checked: not through a link swapped in meanwhile.
    let mut options = fs::OpenOptions::new();
    options.read(true);
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let file = options.open(&resolved).map_err(|e| {
        BackendError::new(format_args!(
            "cannot open plugin library {}: {e}",
            library.display()
        ))
    })?;
    let meta = file.metadata().map_err(|e| {
        BackendError::new(format_args!(
            "cannot read plugin library {}: {e}",
            library.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(BackendError::new(format_args!(
            "plugin library {} is not a file",
            library.display()
        )));
    }
    check_writers(library, &meta, library)?;
    Ok(file)
}

/// Refuses `path` (the library, or a directory of it) when someone other
/// than root and the user running this program could write it.
fn check_writers(path: &Path, meta: &fs::Metadata, library: &Path) -> Result<(), BackendError> {
    let subject = if path == library {
        "it".to_string()
    } else {
        format!("its directory {}", path.display())
    };
    let uid = meta.uid();
    let me = geteuid();
    if uid != 0 && uid != me {
        return Err(BackendError::new(format_args!(
            "refusing to load plugin library {}: {subject} belongs to user {uid}, who is \
             neither root nor the user running this program (user {me})",
            library.display(),
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    // A sticky directory (such as /tmp) lets others add entries but not rename or remove
    // ours; the next component is checked in turn (root's or ours).
    let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !sticky_dir {
        return Err(BackendError::new(format_args!(
            "refusing to load plugin library {}: {subject} is writable by users other than \
             its owner (mode {mode:04o}; run chmod go-w {})",
            library.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
