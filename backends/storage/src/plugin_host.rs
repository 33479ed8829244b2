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
//! 3. `osa_inventory_plugin_abi_version` is looked up and called first; a
//!    version other than [`ABI_VERSION`] is refused with both versions named.
//! 4. Every other symbol of the ABI is looked up; all missing ones are named.
//!
//! The library is never unloaded (its handle is leaked): a plugin may leave
//! threads, atexit handlers or thread-local destructors behind, and unloading
//! code that is still referenced crashes. [`StorageBackend::register`] opens an
//! instance; dropping the backend closes it.
//!
//! Every buffer the plugin hands over is copied and given back to the
//! plugin's `free_buffer`; text the host passes is followed by a NUL byte. An
//! unknown return code, a failure without a message, a missing instance, or
//! text that is not UTF-8 is an error naming the library and the call.

use std::collections::BTreeSet;
use std::ffi::c_void;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::ptr;

use inventory_backend::abi::{
    self, ABI_VERSION, AbiVersionFn, Buffer, CloseFn, FreeBufferFn, LoadFn, LocationFn, OpenFn,
    WriteFn, symbols,
};
use inventory_backend::{BackendError, Settings, StorageBackend, settings_json};
use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};

unsafe extern "C" {
    /// The effective user id (POSIX, in the C library std already links).
    safe fn geteuid() -> u32;
}

/// The plugin's functions, looked up once.
#[derive(Clone, Copy)]
struct Api {
    open: OpenFn,
    load: LoadFn,
    write: WriteFn,
    location: LocationFn,
    close: CloseFn,
    free_buffer: FreeBufferFn,
}

/// A storage backend in a shared library.
pub struct PluginBackend {
    library: PathBuf,
    api: Api,
    /// The plugin's instance once registered; null before.
    instance: *mut c_void,
}

// The ABI lets the host use an instance from any thread, one call at a time
// (`&mut self` for every call but `location`, and `PluginBackend` is not
// `Sync`, so there is never a second call at once).
unsafe impl Send for PluginBackend {}

impl std::fmt::Debug for PluginBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginBackend")
            .field("library", &self.library)
            .field("registered", &!self.instance.is_null())
            .finish()
    }
}

impl PluginBackend {
    /// Loads the plugin library at `library` (an absolute path) and checks
    /// it: permissions, ABI version, symbols. Nothing of the plugin runs but
    /// its initialisers and `osa_inventory_plugin_abi_version`.
    pub fn open(library: &Path) -> Result<PluginBackend, BackendError> {
        let file = open_checked(library)?;
        Self::load_checked(library, file)
    }

    /// Loads the library `file` (opened and checked by [`open_checked`]; `library` names
    /// it in messages).
    fn load_checked(library: &Path, file: fs::File) -> Result<PluginBackend, BackendError> {
        // Loaded through the descriptor of the checked file; without /proc, by its path
        // (checked a moment ago, in directories nobody else may change).
        let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        let load_path = if fd_path.exists() {
            fd_path
        } else {
            fs::canonicalize(library).unwrap_or_else(|_| library.to_path_buf())
        };
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
        let version_fn = unsafe { lib.get::<AbiVersionFn>(symbols::ABI_VERSION) }
            .map(|s| *s)
            .map_err(|_| {
                BackendError::new(format_args!(
                    "{} is not an inventory storage plugin: it does not export {}",
                    library.display(),
                    symbols::name(symbols::ABI_VERSION)
                ))
            })?;
        let version = unsafe { version_fn() };
        if version != ABI_VERSION {
            let age = if version > ABI_VERSION {
                "newer than this program supports: upgrade this program, or use a build of the plugin"
            } else {
                "older than this program supports: rebuild the plugin"
            };
            return Err(BackendError::new(format_args!(
                "plugin library {} implements plugin ABI version {version}, but this program \
                 implements ABI version {ABI_VERSION} ({age} for ABI version {ABI_VERSION})",
                library.display()
            )));
        }
        let missing: Vec<&str> = symbols::REQUIRED
            .iter()
            .filter(|s| unsafe { lib.get::<*const c_void>(**s) }.is_err())
            .map(|s| symbols::name(s))
            .collect();
        if !missing.is_empty() {
            return Err(BackendError::new(format_args!(
                "plugin library {} does not export {}, which ABI version {ABI_VERSION} requires",
                library.display(),
                missing.join(", ")
            )));
        }
        let api = unsafe {
            Api {
                open: *lib.get::<OpenFn>(symbols::OPEN).expect("checked"),
                load: *lib.get::<LoadFn>(symbols::LOAD).expect("checked"),
                write: *lib.get::<WriteFn>(symbols::WRITE).expect("checked"),
                location: *lib.get::<LocationFn>(symbols::LOCATION).expect("checked"),
                close: *lib.get::<CloseFn>(symbols::CLOSE).expect("checked"),
                free_buffer: *lib
                    .get::<FreeBufferFn>(symbols::FREE_BUFFER)
                    .expect("checked"),
            }
        };
        // Never unloaded: the function pointers stay valid for the whole process.
        std::mem::forget(lib);
        Ok(PluginBackend {
            library: library.to_path_buf(),
            api,
            instance: ptr::null_mut(),
        })
    }

    /// The library's path, as configured.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Copies a buffer the plugin handed over and gives it back to the plugin.
    fn take(&self, buffer: &mut Buffer) -> Option<Vec<u8>> {
        if buffer.data.is_null() {
            return None;
        }
        let bytes = unsafe { std::slice::from_raw_parts(buffer.data, buffer.len) }.to_vec();
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
                "plugin library {}: {}{call} returned {code}, which ABI version {ABI_VERSION} \
                 does not define",
                self.library.display(),
                abi::SYMBOL_PREFIX
            ));
        }
        match message {
            Some(m) if !m.is_empty() => BackendError::new(String::from_utf8_lossy(&m).trim_end()),
            _ => BackendError::new(format_args!(
                "plugin library {}: {}{call} failed without saying why",
                self.library.display(),
                abi::SYMBOL_PREFIX
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
            unsafe { (self.api.close)(self.instance) };
            self.instance = ptr::null_mut();
        }
    }
}

impl StorageBackend for PluginBackend {
    /// Opens an instance of the plugin with these settings (closing the one
    /// registered before, if any).
    fn register(&mut self, settings: &Settings) -> Result<(), BackendError> {
        self.close();
        let text = nul_terminated(settings_json::encode(settings).as_bytes());
        let mut instance: *mut c_void = ptr::null_mut();
        let mut error = Buffer::empty();
        let code =
            unsafe { (self.api.open)(text.as_ptr(), text.len() - 1, &mut instance, &mut error) };
        if code != abi::OK {
            return Err(self.failure("open", code, &mut error));
        }
        self.take(&mut error);
        if instance.is_null() {
            return Err(BackendError::new(format_args!(
                "plugin library {}: {}open succeeded but returned no instance",
                self.library.display(),
                abi::SYMBOL_PREFIX
            )));
        }
        self.instance = instance;
        Ok(())
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        let instance = self.instance()?;
        let mut inventory = Buffer::empty();
        let mut error = Buffer::empty();
        let code = unsafe { (self.api.load)(instance, &mut inventory, &mut error) };
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
            code => Err(self.failure("load", code, &mut error)),
        }
    }

    fn write(&mut self, inventory: &str) -> Result<(), BackendError> {
        let instance = self.instance()?;
        let text = nul_terminated(inventory.as_bytes());
        let mut error = Buffer::empty();
        let code = unsafe { (self.api.write)(instance, text.as_ptr(), text.len() - 1, &mut error) };
        if code != abi::OK {
            return Err(self.failure("write", code, &mut error));
        }
        self.take(&mut error);
        Ok(())
    }

    /// `LOCATION (plugin LIBRARY)` when the plugin says where its data is,
    /// else `plugin LIBRARY`.
    fn location(&self) -> String {
        let plugin = format!("plugin {}", self.library.display());
        let Ok(instance) = self.instance() else {
            return plugin;
        };
        let mut location = Buffer::empty();
        let mut error = Buffer::empty();
        let code = unsafe { (self.api.location)(instance, &mut location, &mut error) };
        let text = self.take(&mut location);
        self.take(&mut error);
        match (code, text) {
            (abi::PRESENT, Some(text)) if !text.is_empty() => {
                format!("{} ({plugin})", String::from_utf8_lossy(&text))
            }
            _ => plugin,
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
