//! The plugin side of the ABI, for Rust plugins: what
//! [`export_plugin!`](crate::export_plugin) expands to uses this module (as
//! `inventory_backend::__private`), which is not part of the SDK's API.
//!
//! [`init`] keeps the host's table and returns the plugin table the macro
//! builds with [`plugin_api`]; its functions take the raw ABI arguments, turn
//! them into Rust values, call the [`StorageBackend`] method, and turn the
//! result back into a return code and buffers. Every call runs under
//! `catch_unwind`: a panic becomes an error message naming the call, the
//! panic's message and where it happened, and the instance is then refused
//! for every further call (its state can no longer be trusted), except
//! `close`, which still drops it.
//!
//! Buffers handed to the host are `Box<[u8]>` turned into a pointer and a
//! length, and `free_buffer` turns them back; an empty text is `{ NULL, 0 }`.

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, c_char, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

use crate::abi::{self, Buffer, HostApi, PluginApi, Setting};
use crate::host::Host;
use crate::{BackendError, Settings, StorageBackend};

/// How the exported plugin makes a backend: the macro implements it on a type
/// of its own, calling the constructor it was given.
pub trait Construct {
    /// The backend type.
    type Backend: StorageBackend + Send + 'static;

    /// A backend for a new instance, before its settings are registered.
    fn construct(host: Host) -> Self::Backend;
}

/// The plugin table for backends made by `C`, built at compile time.
pub const fn plugin_api<C: Construct>() -> PluginApi {
    PluginApi {
        struct_size: std::mem::size_of::<PluginApi>() as u32,
        abi_version: abi::ABI_VERSION,
        // Host functions of later versions are called only when the host has them.
        min_host_abi_version: abi::ABI_VERSION_2_0,
        open: Some(open::<C>),
        load: Some(load::<C>),
        write: Some(write::<C>),
        location: Some(location::<C>),
        close: Some(close::<C>),
        free_buffer: Some(free_buffer),
        load_for_reading: Some(load_for_reading::<C>),
    }
}

/// The host's table, as the latest `init` of our major version gave it.
static HOST_API: Mutex<Option<HostApi>> = Mutex::new(None);

/// `osa_inventory_plugin_init`: keeps the host's table when its major version
/// is ours, and returns `api` in every case (the host decides).
///
/// # Safety
/// `host` is NULL or points to a host table at least as large as its
/// `struct_size` says, valid for the rest of the process.
pub unsafe fn init(
    host_abi_version: u32,
    host: *const HostApi,
    api: &'static PluginApi,
) -> *const PluginApi {
    let kept = if host.is_null() || abi::major(host_abi_version) != abi::ABI_MAJOR {
        None
    } else {
        // SAFETY: not NULL, and of our major version: the table starts with its size,
        // and the caller promises that many readable bytes.
        let size = unsafe { (*host).struct_size };
        // SAFETY: as above; fields beyond `size` are left `None`.
        Some(unsafe { abi::copy_table(host, size) })
    };
    *HOST_API.lock().unwrap_or_else(|e| e.into_inner()) = kept;
    api
}

/// What the host's pointer to an instance points to.
struct Instance<T> {
    backend: T,
    /// What the panic that made it unusable said, once one has.
    poisoned: Option<String>,
}

/// Why a guarded call did not return a value.
enum Failure {
    Error(String),
    Panic(String),
}

impl Failure {
    fn message(self) -> String {
        match self {
            Failure::Error(m) | Failure::Panic(m) => m,
        }
    }
}

thread_local! {
    /// How many guarded calls are running on this thread (the panic hook keeps
    /// quiet for panics inside them: they are reported as errors instead).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The message and place of the last panic inside a guarded call.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Chains a panic hook that records panics inside guarded calls instead of
/// printing them, and hands every other panic to the hook that was there.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) == 0 {
                return previous(info);
            }
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            let text = match info.location() {
                Some(l) => format!("{message} (at {}:{}:{})", l.file(), l.line(), l.column()),
                None => message.to_string(),
            };
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

/// Runs `f`, turning an error or a panic into a [`Failure`] whose message is
/// ready for the host.
fn guard<R>(call: &str, f: impl FnOnce() -> Result<R, BackendError>) -> Result<R, Failure> {
    install_panic_hook();
    LAST_PANIC.with(|p| p.borrow_mut().take());
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Failure::Error(e.message().to_string())),
        Err(payload) => {
            let recorded = LAST_PANIC.with(|p| p.borrow_mut().take());
            let message = recorded.unwrap_or_else(|| {
                payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".to_string())
            });
            Err(Failure::Panic(format!(
                "the plugin panicked in {call}: {message}"
            )))
        }
    }
}

/// Hands `text` to the host in `out` (`{ NULL, 0 }` when empty).
///
/// # Safety
/// `out` is null or points to a writable [`Buffer`].
unsafe fn give(out: *mut Buffer, text: String) {
    // SAFETY: the caller promises NULL or a writable buffer.
    let Some(out) = (unsafe { out.as_mut() }) else {
        return;
    };
    if text.is_empty() {
        *out = Buffer::empty();
        return;
    }
    let bytes: Box<[u8]> = text.into_bytes().into_boxed_slice();
    let len = bytes.len();
    *out = Buffer {
        data: Box::into_raw(bytes).cast::<u8>(),
        len,
    };
}

/// The host's text: `len` bytes at `data`.
///
/// # Safety
/// `data` is null with `len` 0, or points to `len` readable bytes that stay
/// valid for `'a`.
unsafe fn take_text<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a str, BackendError> {
    if data.is_null() {
        return if len == 0 {
            Ok("")
        } else {
            Err(BackendError::new(format_args!(
                "the host passed no {what} (a NULL pointer with length {len})"
            )))
        };
    }
    // SAFETY: not NULL, and the caller promises `len` readable bytes living for `'a`.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    std::str::from_utf8(bytes).map_err(|e| {
        BackendError::new(format_args!(
            "the {what} the host passed is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

/// One NUL-terminated string of a setting.
///
/// # Safety
/// `text` is NULL or points to a NUL-terminated string valid for `'a`.
unsafe fn setting_text<'a>(text: *const c_char, what: &str) -> Result<&'a str, BackendError> {
    if text.is_null() {
        return Err(BackendError::new(format_args!(
            "the host passed a NULL {what}"
        )));
    }
    // SAFETY: not NULL, NUL-terminated and valid for `'a`, as the caller promises.
    let text = unsafe { CStr::from_ptr(text) };
    text.to_str().map_err(|e| {
        BackendError::new(format_args!(
            "the host passed a {what} that is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

/// The host's settings: `count` pairs at `settings`.
///
/// # Safety
/// `settings` is NULL with `count` 0, or points to `count` settings whose
/// strings are NUL-terminated and valid during the call.
unsafe fn take_settings(settings: *const Setting, count: usize) -> Result<Settings, BackendError> {
    if count == 0 {
        return Ok(Settings::new());
    }
    if settings.is_null() {
        return Err(BackendError::new(format_args!(
            "the host passed no settings (a NULL pointer with {count} settings)"
        )));
    }
    // SAFETY: not NULL and `count` settings long, as the caller promises.
    let pairs = unsafe { std::slice::from_raw_parts(settings, count) };
    let mut out = Settings::new();
    for pair in pairs {
        // SAFETY: the caller promises NUL-terminated strings valid during the call.
        let key = unsafe { setting_text(pair.key, "setting name")? };
        // SAFETY: as above.
        let value = unsafe { setting_text(pair.value, &format!("value for setting '{key}'"))? };
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(BackendError::new(format_args!(
                "the host passed setting '{key}' twice"
            )));
        }
    }
    Ok(out)
}

/// The instance behind the host's pointer, unless it is null or poisoned.
///
/// # Safety
/// `instance` is null or was returned by [`open`] for this `T` and not closed.
unsafe fn instance<'a, T>(instance: *mut c_void) -> Result<&'a mut Instance<T>, String> {
    // SAFETY: NULL, or an `Instance<T>` from `open` that nobody else uses now (the host
    // makes one call at a time on an instance), as the caller promises.
    let instance = unsafe { instance.cast::<Instance<T>>().as_mut() }
        .ok_or_else(|| "the host passed a NULL instance".to_string())?;
    match &instance.poisoned {
        Some(panic) => Err(format!(
            "this plugin instance can no longer be used: {panic}"
        )),
        None => Ok(instance),
    }
}

/// Runs a guarded call on an instance: a panic poisons it.
fn on_instance<T, R>(
    instance: &mut Instance<T>,
    call: &str,
    f: impl FnOnce(&mut T) -> Result<R, BackendError>,
) -> Result<R, String> {
    let backend = &mut instance.backend;
    guard(call, || f(backend)).map_err(|failure| match failure {
        Failure::Panic(message) => {
            instance.poisoned = Some(message.clone());
            message
        }
        Failure::Error(message) => message,
    })
}

/// `open`: reads the settings, builds a backend with `C`, registers the settings.
///
/// # Safety
/// The arguments are as `osa_inventory_plugin.h` describes.
unsafe extern "C" fn open<C: Construct>(
    host: *mut c_void,
    settings: *const Setting,
    settings_count: usize,
    instance: *mut *mut c_void,
    error: *mut Buffer,
) -> i32 {
    if instance.is_null() {
        // SAFETY: `error` is NULL or writable, as the header says.
        unsafe { give(error, "the host passed no place for the instance".into()) };
        return abi::ERROR;
    }
    let result = guard("open", || {
        // SAFETY: the settings are as the header describes, valid during this call.
        let settings = unsafe { take_settings(settings, settings_count)? };
        let api = (*HOST_API.lock().unwrap_or_else(|e| e.into_inner())).ok_or_else(|| {
            BackendError::new(
                "the host called open without a usable osa_inventory_plugin_init before it",
            )
        })?;
        // SAFETY: `host` is the context of the instance being made; the `Host` lives in
        // the backend, which `close` drops before the host ends the context.
        let host = unsafe { Host::foreign(api, host) };
        let mut backend = C::construct(host);
        backend.register(&settings)?;
        Ok(backend)
    });
    match result {
        Ok(backend) => {
            let boxed = Box::new(Instance {
                backend,
                poisoned: None,
            });
            // SAFETY: checked not NULL above; the header makes it writable.
            unsafe { *instance = Box::into_raw(boxed).cast::<c_void>() };
            abi::OK
        }
        Err(failure) => {
            // SAFETY: `error` is NULL or writable, as the header says.
            unsafe { give(error, failure.message()) };
            abi::ERROR
        }
    }
}

/// What `load` and `load_for_reading` return to the host.
///
/// # Safety
/// `inventory` and `error` are NULL or writable buffers.
unsafe fn loaded(
    result: Result<Option<String>, String>,
    inventory: *mut Buffer,
    error: *mut Buffer,
) -> i32 {
    match result {
        Ok(Some(text)) => {
            // SAFETY: as the caller promises.
            unsafe { give(inventory, text) };
            abi::PRESENT
        }
        Ok(None) => abi::ABSENT,
        Err(message) => {
            // SAFETY: as the caller promises.
            unsafe { give(error, message) };
            abi::ERROR
        }
    }
}

/// `load`.
///
/// # Safety
/// The arguments are as `osa_inventory_plugin.h` describes; `instance` came
/// from [`open`] with the same `C`.
unsafe extern "C" fn load<C: Construct>(
    instance: *mut c_void,
    inventory: *mut Buffer,
    error: *mut Buffer,
) -> i32 {
    // SAFETY: `instance` came from `open::<C>` and is not closed, as the header says.
    let result = unsafe { self::instance::<C::Backend>(instance) }
        .and_then(|i| on_instance(i, "load", |b| b.load()));
    // SAFETY: the buffers are NULL or writable, as the header says.
    unsafe { loaded(result, inventory, error) }
}

/// `load_for_reading`.
///
/// # Safety
/// As [`load`].
unsafe extern "C" fn load_for_reading<C: Construct>(
    instance: *mut c_void,
    inventory: *mut Buffer,
    error: *mut Buffer,
) -> i32 {
    // SAFETY: `instance` came from `open::<C>` and is not closed, as the header says.
    let result = unsafe { self::instance::<C::Backend>(instance) }
        .and_then(|i| on_instance(i, "load_for_reading", |b| b.load_for_reading()));
    // SAFETY: the buffers are NULL or writable, as the header says.
    unsafe { loaded(result, inventory, error) }
}

/// `write`.
///
/// # Safety
/// The arguments are as `osa_inventory_plugin.h` describes; `instance` came
/// from [`open`] with the same `C`.
unsafe extern "C" fn write<C: Construct>(
    instance: *mut c_void,
    inventory: *const u8,
    inventory_len: usize,
    error: *mut Buffer,
) -> i32 {
    // SAFETY: `instance` came from `open::<C>` and is not closed, as the header says.
    let result = unsafe { self::instance::<C::Backend>(instance) }.and_then(|i| {
        on_instance(i, "write", |b| {
            // SAFETY: `inventory_len` bytes at `inventory`, valid during the call.
            let text = unsafe { take_text(inventory, inventory_len, "inventory")? };
            b.write(text)
        })
    });
    match result {
        Ok(()) => abi::OK,
        Err(message) => {
            // SAFETY: `error` is NULL or writable, as the header says.
            unsafe { give(error, message) };
            abi::ERROR
        }
    }
}

/// `location`: [`StorageBackend::location`], absent when it is empty.
///
/// # Safety
/// The arguments are as `osa_inventory_plugin.h` describes; `instance` came
/// from [`open`] with the same `C`.
unsafe extern "C" fn location<C: Construct>(
    instance: *mut c_void,
    location: *mut Buffer,
    error: *mut Buffer,
) -> i32 {
    // SAFETY: `instance` came from `open::<C>` and is not closed, as the header says.
    let result = unsafe { self::instance::<C::Backend>(instance) }
        .and_then(|i| on_instance(i, "location", |b| Ok(b.location())));
    match result {
        Ok(text) if text.is_empty() => abi::ABSENT,
        Ok(text) => {
            // SAFETY: `location` is NULL or writable, as the header says.
            unsafe { give(location, text) };
            abi::PRESENT
        }
        Err(message) => {
            // SAFETY: `error` is NULL or writable, as the header says.
            unsafe { give(error, message) };
            abi::ERROR
        }
    }
}

/// `close`: drops the backend (a panic while dropping goes to the host's log:
/// there is nobody to return it to).
///
/// # Safety
/// `instance` is null or came from [`open`] with the same `C` and was not
/// closed yet.
unsafe extern "C" fn close<C: Construct>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` in `open::<C>`, closed once, as the header says.
    let boxed = unsafe { Box::from_raw(instance.cast::<Instance<C::Backend>>()) };
    // The backend holds the `Host`: a panic while dropping it leaves nothing to log
    // with, and the header allows nothing on standard output. Standard error it is.
    if let Err(failure) = guard("close", || {
        drop(boxed);
        Ok(())
    }) {
        eprintln!("{}", failure.message());
    }
}

/// `free_buffer`.
///
/// # Safety
/// `data` and `len` are those of a buffer this module handed out, not freed yet.
unsafe extern "C" fn free_buffer(data: *mut u8, len: usize) {
    if !data.is_null() {
        // SAFETY: `give` made it from a `Box<[u8]>` of `len` bytes, and the host frees
        // each buffer once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
    }
}

/// Exports a [`StorageBackend`] as a plugin: the entry point
/// `osa_inventory_plugin_init` of `osa_inventory_plugin.h` and the plugin
/// table it returns, each function catching panics at the boundary.
///
/// Use it once, in a crate built as a `cdylib`:
///
/// ```ignore
/// // MyBackend: Default; it gets no Host.
/// inventory_backend::export_plugin!(MyBackend);
/// // Any fn(Host) -> MyBackend: the Host logs and gives the lock timeout.
/// inventory_backend::export_plugin!(MyBackend, MyBackend::new);
/// ```
///
/// The backend must be `Send + 'static` (the host may use an instance from
/// several threads, one call at a time). Each `osa.ini` section using the
/// plugin gets its own instance: the constructor runs, then
/// [`StorageBackend::register`] with the section's settings.
///
/// The library works with hosts of ABI 2.0 and newer: the plugin table says
/// [`abi::ABI_VERSION`] and a minimum host version of 2.0, as
/// [`Host`] calls a later host function only when the host has it.
#[macro_export]
macro_rules! export_plugin {
    ($backend:ty) => {
        $crate::export_plugin!($backend, |_host: $crate::host::Host| {
            <$backend as ::core::default::Default>::default()
        });
    };
    ($backend:ty, $make:expr) => {
        /// The entry point of the plugin ABI (`osa_inventory_plugin.h`), written by
        /// `inventory_backend::export_plugin!`.
        ///
        /// # Safety
        /// Called by the host as the header describes: `host` is NULL or a host
        /// table valid for the rest of the process.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn osa_inventory_plugin_init(
            host_abi_version: u32,
            host: *const $crate::abi::HostApi,
        ) -> *const $crate::abi::PluginApi {
            struct Make;
            impl $crate::__private::Construct for Make {
                type Backend = $backend;
                fn construct(host: $crate::host::Host) -> $backend {
                    ($make)(host)
                }
            }
            static API: $crate::abi::PluginApi = $crate::__private::plugin_api::<Make>();
            // SAFETY: `host` is as this function's own contract says.
            unsafe { $crate::__private::init(host_abi_version, host, &API) }
        }

        // The entry point has exactly the type the host looks up.
        const _: $crate::abi::InitFn = osa_inventory_plugin_init;
    };
}
