//! The plugin side of the ABI, for Rust plugins: what [`export_plugin!`](crate::export_plugin)
//! expands to calls these functions, one per exported symbol.
//!
//! Each takes the raw ABI arguments, turns them into Rust values, calls the
//! [`StorageBackend`] method, and turns the result back into a return code
//! and buffers. Every call runs under `catch_unwind`: a panic becomes an
//! error message naming the call, the panic's message and where it happened,
//! and the instance is then refused for every further call (its state can no
//! longer be trusted), except `close`, which still drops it.
//!
//! Buffers handed to the host are `Box<[u8]>` turned into a pointer and a
//! length, and [`free_buffer`] turns them back; an empty text is `{ NULL, 0 }`.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::abi::{self, Buffer};
use crate::{BackendError, StorageBackend, settings_json};

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
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    std::str::from_utf8(bytes).map_err(|e| {
        BackendError::new(format_args!(
            "the {what} the host passed is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

/// The instance behind the host's pointer, unless it is null or poisoned.
///
/// # Safety
/// `instance` is null or was returned by [`open`] for this `T` and not closed.
unsafe fn instance<'a, T>(instance: *mut c_void) -> Result<&'a mut Instance<T>, String> {
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

/// `osa_inventory_plugin_abi_version`.
pub fn abi_version() -> u32 {
    abi::ABI_VERSION
}

/// `osa_inventory_plugin_open`: decodes the settings, builds a backend with
/// `make`, registers the settings.
///
/// # Safety
/// The arguments are as `osa_inventory_plugin.h` describes.
pub unsafe fn open<T: StorageBackend + Send + 'static>(
    make: impl FnOnce() -> T,
    settings: *const u8,
    settings_len: usize,
    instance: *mut *mut c_void,
    error: *mut Buffer,
) -> i32 {
    if instance.is_null() {
        unsafe { give(error, "the host passed no place for the instance".into()) };
        return abi::ERROR;
    }
    let result = guard("open", || {
        let text = unsafe { take_text(settings, settings_len, "settings")? };
        let settings = settings_json::decode(text)?;
        let mut backend = make();
        backend.register(&settings)?;
        Ok(backend)
    });
    match result {
        Ok(backend) => {
            let boxed = Box::new(Instance {
                backend,
                poisoned: None,
            });
            unsafe { *instance = Box::into_raw(boxed).cast::<c_void>() };
            abi::OK
        }
        Err(failure) => {
            unsafe { give(error, failure.message()) };
            abi::ERROR
        }
    }
}

/// `osa_inventory_plugin_load`.
///
/// # Safety
/// The arguments are as `osa_inventory_plugin.h` describes; `instance` came
/// from [`open`] with the same `T`.
pub unsafe fn load<T: StorageBackend + Send + 'static>(
    instance: *mut c_void,
    inventory: *mut Buffer,
    error: *mut Buffer,
) -> i32 {
    let result =
        unsafe { self::instance::<T>(instance) }.and_then(|i| on_instance(i, "load", |b| b.load()));
    match result {
        Ok(Some(text)) => {
            unsafe { give(inventory, text) };
            abi::PRESENT
        }
        Ok(None) => abi::ABSENT,
        Err(message) => {
            unsafe { give(error, message) };
            abi::ERROR
        }
    }
}

/// `osa_inventory_plugin_write`.
///
/// # Safety
/// The arguments are as `osa_inventory_plugin.h` describes; `instance` came
/// from [`open`] with the same `T`.
pub unsafe fn write<T: StorageBackend + Send + 'static>(
    instance: *mut c_void,
    inventory: *const u8,
    inventory_len: usize,
    error: *mut Buffer,
) -> i32 {
    let result = unsafe { self::instance::<T>(instance) }.and_then(|i| {
        on_instance(i, "write", |b| {
            let text = unsafe { take_text(inventory, inventory_len, "inventory")? };
            b.write(text)
        })
    });
    match result {
        Ok(()) => abi::OK,
        Err(message) => {
            unsafe { give(error, message) };
            abi::ERROR
        }
    }
}

/// `osa_inventory_plugin_location`: [`StorageBackend::location`], absent
/// when it is empty.
///
/// # Safety
/// The arguments are as `osa_inventory_plugin.h` describes; `instance` came
/// from [`open`] with the same `T`.
pub unsafe fn location<T: StorageBackend + Send + 'static>(
    instance: *mut c_void,
    location: *mut Buffer,
    error: *mut Buffer,
) -> i32 {
    let result = unsafe { self::instance::<T>(instance) }
        .and_then(|i| on_instance(i, "location", |b| Ok(b.location())));
    match result {
        Ok(text) if text.is_empty() => abi::ABSENT,
        Ok(text) => {
            unsafe { give(location, text) };
            abi::PRESENT
        }
        Err(message) => {
            unsafe { give(error, message) };
            abi::ERROR
        }
    }
}

/// `osa_inventory_plugin_close`: drops the backend (a panic while dropping is
/// printed on standard error: there is nobody to return it to).
///
/// # Safety
/// `instance` is null or came from [`open`] with the same `T` and was not
/// closed yet.
pub unsafe fn close<T: StorageBackend + Send + 'static>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    let boxed = unsafe { Box::from_raw(instance.cast::<Instance<T>>()) };
    if let Err(failure) = guard("close", || {
        drop(boxed);
        Ok(())
    }) {
        eprintln!("{}", failure.message());
    }
}

/// `osa_inventory_plugin_free_buffer`.
///
/// # Safety
/// `data` and `len` are those of a buffer this module handed out, not freed yet.
pub unsafe fn free_buffer(data: *mut u8, len: usize) {
    if !data.is_null() {
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
    }
}

/// Exports a [`StorageBackend`] as a plugin: the seven `osa_inventory_plugin_*`
/// functions of `osa_inventory_plugin.h`, each catching panics at the boundary.
///
/// Use it once, in a crate built as a `cdylib`:
///
/// ```ignore
/// inventory_backend::export_plugin!(MyBackend);                 // MyBackend: Default
/// inventory_backend::export_plugin!(MyBackend, MyBackend::new); // any fn() -> MyBackend
/// ```
///
/// The backend must be `Send + 'static` (the host may use an instance from
/// several threads, one call at a time). Each `osa.ini` section using the
/// plugin gets its own instance: the constructor runs, then
/// [`StorageBackend::register`] with the section's settings.
#[macro_export]
macro_rules! export_plugin {
    ($backend:ty) => {
        $crate::export_plugin!($backend, <$backend as ::core::default::Default>::default);
    };
    ($backend:ty, $make:expr) => {
        /// Plugin ABI entry point (`osa_inventory_plugin.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn osa_inventory_plugin_abi_version() -> u32 {
            $crate::export::abi_version()
        }

        /// Plugin ABI entry point (`osa_inventory_plugin.h`).
        ///
        /// # Safety
        /// Called by the host as the header describes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn osa_inventory_plugin_open(
            settings: *const u8,
            settings_len: usize,
            instance: *mut *mut ::core::ffi::c_void,
            error: *mut $crate::abi::Buffer,
        ) -> i32 {
            unsafe {
                $crate::export::open::<$backend>($make, settings, settings_len, instance, error)
            }
        }

        /// Plugin ABI entry point (`osa_inventory_plugin.h`).
        ///
        /// # Safety
        /// Called by the host as the header describes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn osa_inventory_plugin_load(
            instance: *mut ::core::ffi::c_void,
            inventory: *mut $crate::abi::Buffer,
            error: *mut $crate::abi::Buffer,
        ) -> i32 {
            unsafe { $crate::export::load::<$backend>(instance, inventory, error) }
        }

        /// Plugin ABI entry point (`osa_inventory_plugin.h`).
        ///
        /// # Safety
        /// Called by the host as the header describes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn osa_inventory_plugin_write(
            instance: *mut ::core::ffi::c_void,
            inventory: *const u8,
            inventory_len: usize,
            error: *mut $crate::abi::Buffer,
        ) -> i32 {
            unsafe { $crate::export::write::<$backend>(instance, inventory, inventory_len, error) }
        }

        /// Plugin ABI entry point (`osa_inventory_plugin.h`).
        ///
        /// # Safety
        /// Called by the host as the header describes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn osa_inventory_plugin_location(
            instance: *mut ::core::ffi::c_void,
            location: *mut $crate::abi::Buffer,
            error: *mut $crate::abi::Buffer,
        ) -> i32 {
            unsafe { $crate::export::location::<$backend>(instance, location, error) }
        }

        /// Plugin ABI entry point (`osa_inventory_plugin.h`).
        ///
        /// # Safety
        /// Called by the host as the header describes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn osa_inventory_plugin_close(instance: *mut ::core::ffi::c_void) {
            unsafe { $crate::export::close::<$backend>(instance) }
        }

        /// Plugin ABI entry point (`osa_inventory_plugin.h`).
        ///
        /// # Safety
        /// Called by the host as the header describes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn osa_inventory_plugin_free_buffer(data: *mut u8, len: usize) {
            unsafe { $crate::export::free_buffer(data, len) }
        }

        // The exported functions must have exactly the types the host looks up.
        const _: () = {
            let _: $crate::abi::AbiVersionFn = osa_inventory_plugin_abi_version;
            let _: $crate::abi::OpenFn = osa_inventory_plugin_open;
            let _: $crate::abi::LoadFn = osa_inventory_plugin_load;
            let _: $crate::abi::WriteFn = osa_inventory_plugin_write;
            let _: $crate::abi::LocationFn = osa_inventory_plugin_location;
            let _: $crate::abi::CloseFn = osa_inventory_plugin_close;
            let _: $crate::abi::FreeBufferFn = osa_inventory_plugin_free_buffer;
        };
    };
}
