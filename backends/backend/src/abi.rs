//! The plugin ABI, mirrored from `include/osa_inventory_plugin.h`.
//!
//! The header is the reference (and `docs/plugins.md` the guide); this module
//! gives the same names to Rust: versions, return codes, log levels, the two
//! tables and the function pointer types in them. The plugin host uses it;
//! Rust plugin authors do not need it: [`export_plugin!`](crate::export_plugin)
//! writes the entry point and the plugin table.
//!
//! Every function pointer of a table is an `Option`, which has the layout of a
//! C function pointer that may be NULL.

use std::ffi::{c_char, c_void};
use std::mem::{offset_of, size_of};

/// `OSA_INVENTORY_PLUGIN_ABI_VERSION_OF(major, minor)`: a version as one number.
pub const fn version(major: u32, minor: u32) -> u32 {
    (major << 16) | (minor & 0xFFFF)
}

/// The major part of a version (`OSA_INVENTORY_PLUGIN_ABI_MAJOR_OF`).
pub const fn major(version: u32) -> u32 {
    version >> 16
}

/// The minor part of a version (`OSA_INVENTORY_PLUGIN_ABI_MINOR_OF`).
pub const fn minor(version: u32) -> u32 {
    version & 0xFFFF
}

/// A version as people write it: `2.1`.
pub fn version_text(version: u32) -> String {
    format!("{}.{}", major(version), minor(version))
}

/// `OSA_INVENTORY_PLUGIN_ABI_MAJOR`.
pub const ABI_MAJOR: u32 = 2;
/// `OSA_INVENTORY_PLUGIN_ABI_MINOR`.
pub const ABI_MINOR: u32 = 1;
/// The ABI version this crate implements (`OSA_INVENTORY_PLUGIN_ABI_VERSION`): 2.1.
pub const ABI_VERSION: u32 = version(ABI_MAJOR, ABI_MINOR);
/// ABI 2.0, the oldest version of this major: the `min_host_abi_version` of a
/// plugin that calls no host function added later without checking for it.
pub const ABI_VERSION_2_0: u32 = version(2, 0);

/// What a program's `--version` prints after its name: the calling crate's version and
/// the plugin ABI this crate implements, `0.1.0 (plugin ABI 2.1)`, as a `&'static str`
/// (clap's `#[command(version = ...)]` takes one). Each program of the project uses it,
/// so an operator can tell which plugins a binary loads.
#[macro_export]
macro_rules! version_with_abi {
    () => {{
        static VERSION: ::std::sync::OnceLock<::std::string::String> = ::std::sync::OnceLock::new();
        VERSION
            .get_or_init(|| {
                format!(
                    "{} (plugin ABI {})",
                    env!("CARGO_PKG_VERSION"),
                    $crate::abi::version_text($crate::abi::ABI_VERSION)
                )
            })
            .as_str()
    }};
}

/// The one symbol a plugin exports (`OSA_INVENTORY_PLUGIN_INIT_SYMBOL`),
/// NUL-terminated as `dlsym` wants it.
pub const INIT_SYMBOL: &[u8] = b"osa_inventory_plugin_init\0";
/// What a plugin of ABI 1 exported first (it has no entry point): the host
/// looks for it only to say that such a library needs rebuilding.
pub const ABI_1_VERSION_SYMBOL: &[u8] = b"osa_inventory_plugin_abi_version\0";

/// A symbol name without its NUL, for messages.
pub fn symbol_name(symbol: &[u8]) -> &str {
    std::str::from_utf8(symbol.strip_suffix(b"\0").unwrap_or(symbol)).unwrap_or("?")
}

/// `OSA_INVENTORY_PLUGIN_OK`: `open` and `write` succeeded.
pub const OK: i32 = 0;
/// `OSA_INVENTORY_PLUGIN_PRESENT`: `load`, `load_for_reading` or `location`
/// returned a value.
pub const PRESENT: i32 = 1;
/// `OSA_INVENTORY_PLUGIN_ABSENT`: `load` found no stored inventory, or
/// `location` has nothing to say.
pub const ABSENT: i32 = 0;
/// `OSA_INVENTORY_PLUGIN_ERROR`: the call failed; the message is in `error`.
pub const ERROR: i32 = -1;

/// `OSA_INVENTORY_LOG_ERROR`.
pub const LOG_ERROR: i32 = 1;
/// `OSA_INVENTORY_LOG_WARNING`.
pub const LOG_WARNING: i32 = 2;
/// `OSA_INVENTORY_LOG_INFO`.
pub const LOG_INFO: i32 = 3;
/// `OSA_INVENTORY_LOG_DEBUG`.
pub const LOG_DEBUG: i32 = 4;

/// `osa_inventory_plugin_buffer`: text the plugin hands to the host, allocated
/// by the plugin and given back to its `free_buffer`.
#[repr(C)]
#[derive(Debug)]
pub struct Buffer {
    /// The bytes (UTF-8), or NULL for no text.
    pub data: *mut u8,
    /// How many bytes `data` holds.
    pub len: usize,
}

impl Buffer {
    /// `{ NULL, 0 }`, what the host sets every output buffer to before a call.
    pub const fn empty() -> Self {
        Buffer {
            data: std::ptr::null_mut(),
            len: 0,
        }
    }
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer::empty()
    }
}

/// `osa_inventory_plugin_setting`: one key/value pair of the plugin's section,
/// both NUL-terminated UTF-8 owned by the host.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The key.
    pub key: *const c_char,
    /// The value, as written in `osa.ini`.
    pub value: *const c_char,
}

/// `osa_inventory_plugin_init`.
pub type InitFn =
    unsafe extern "C" fn(host_abi_version: u32, host: *const HostApi) -> *const PluginApi;

/// The host table's `log`.
pub type LogFn =
    unsafe extern "C" fn(host: *mut c_void, level: i32, message: *const u8, message_len: usize);
/// The host table's `lock_timeout_seconds`.
pub type LockTimeoutFn = unsafe extern "C" fn(host: *mut c_void) -> u32;
/// The host table's `log_enabled` (2.1).
pub type LogEnabledFn = unsafe extern "C" fn(host: *mut c_void, level: i32) -> i32;

/// `osa_inventory_host_api`: the host's functions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostApi {
    /// The size of this table as the host knows it.
    pub struct_size: u32,
    /// The host's ABI version.
    pub abi_version: u32,
    /// 2.0: a line for the debug log.
    pub log: Option<LogFn>,
    /// 2.0: the run's lock timeout, in seconds.
    pub lock_timeout_seconds: Option<LockTimeoutFn>,
    /// 2.1: whether a line of a level would be kept.
    pub log_enabled: Option<LogEnabledFn>,
}

/// `OSA_INVENTORY_HOST_API_SIZE_2_0`: the size of a 2.0 host table.
pub const HOST_API_SIZE_2_0: usize = offset_of!(HostApi, log_enabled);

/// `open` of the plugin table.
pub type OpenFn = unsafe extern "C" fn(
    host: *mut c_void,
    settings: *const Setting,
    settings_count: usize,
    instance: *mut *mut c_void,
    error: *mut Buffer,
) -> i32;
/// `load` and `load_for_reading` of the plugin table.
pub type LoadFn =
    unsafe extern "C" fn(instance: *mut c_void, inventory: *mut Buffer, error: *mut Buffer) -> i32;
/// `write` of the plugin table.
pub type WriteFn = unsafe extern "C" fn(
    instance: *mut c_void,
    inventory: *const u8,
    inventory_len: usize,
    error: *mut Buffer,
) -> i32;
/// `location` of the plugin table.
pub type LocationFn =
    unsafe extern "C" fn(instance: *mut c_void, location: *mut Buffer, error: *mut Buffer) -> i32;
/// `close` of the plugin table.
pub type CloseFn = unsafe extern "C" fn(instance: *mut c_void);
/// `free_buffer` of the plugin table.
pub type FreeBufferFn = unsafe extern "C" fn(data: *mut u8, len: usize);

/// `osa_inventory_plugin_api`: the plugin's functions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginApi {
    /// The size of the table as the plugin was built.
    pub struct_size: u32,
    /// The ABI version the plugin was built for.
    pub abi_version: u32,
    /// The oldest host ABI version the plugin works with.
    pub min_host_abi_version: u32,
    /// 2.0, required: creates an instance.
    pub open: Option<OpenFn>,
    /// 2.0, required: the stored inventory, for a caller that will write.
    pub load: Option<LoadFn>,
    /// 2.0, required: stores the inventory.
    pub write: Option<WriteFn>,
    /// 2.0, required: the store, identified.
    pub location: Option<LocationFn>,
    /// 2.0, required: releases an instance.
    pub close: Option<CloseFn>,
    /// 2.0, required: releases a buffer.
    pub free_buffer: Option<FreeBufferFn>,
    /// 2.1, optional: the stored inventory, for a caller that will not write.
    pub load_for_reading: Option<LoadFn>,
}

/// The two fields every version of either table starts with, whatever its major version.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TableHeader {
    /// The table's size.
    pub struct_size: u32,
    /// The ABI version of whoever made the table.
    pub abi_version: u32,
}

/// `OSA_INVENTORY_PLUGIN_API_SIZE_2_0`: the size of a 2.0 plugin table.
pub const PLUGIN_API_SIZE_2_0: usize = offset_of!(PluginApi, load_for_reading);

/// The names of the plugin table's functions, in order, and the version that
/// added each: for messages, and for checking the header.
pub const PLUGIN_FUNCTIONS: &[(&str, u32)] = &[
    ("open", ABI_VERSION_2_0),
    ("load", ABI_VERSION_2_0),
    ("write", ABI_VERSION_2_0),
    ("location", ABI_VERSION_2_0),
    ("close", ABI_VERSION_2_0),
    ("free_buffer", ABI_VERSION_2_0),
    ("load_for_reading", version(2, 1)),
];

/// The names of the host table's functions, in order, and the version that
/// added each.
pub const HOST_FUNCTIONS: &[(&str, u32)] = &[
    ("log", ABI_VERSION_2_0),
    ("lock_timeout_seconds", ABI_VERSION_2_0),
    ("log_enabled", version(2, 1)),
];

/// Whether a table of `struct_size` bytes has the field at `offset` of
/// `size` bytes (`OSA_INVENTORY_HOST_HAS`, less the NULL check).
pub const fn table_has(struct_size: u32, offset: usize, size: usize) -> bool {
    struct_size as usize >= offset + size
}

/// A copy of the table at `table`, of which only the first `struct_size` bytes
/// (at most the size of `T`) are read; the fields beyond are zero: `None` for a
/// function.
///
/// # Safety
/// `table` points to at least `min(struct_size, size_of::<T>())` readable
/// bytes, and `T` is one of the two tables (`repr(C)`, all-zero valid).
pub unsafe fn copy_table<T: Copy>(table: *const T, struct_size: u32) -> T {
    let mut copy = std::mem::MaybeUninit::<T>::zeroed();
    let len = (struct_size as usize).min(size_of::<T>());
    // SAFETY: the caller promises `len` readable bytes at `table`; the copy has
    // `size_of::<T>()` writable bytes, and they cannot overlap (a local).
    unsafe {
        std::ptr::copy_nonoverlapping(table.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), len);
    }
    // SAFETY: every byte is either copied from a valid table of the same layout or
    // zero, and zero is valid for each field (integers, `Option` of function pointers).
    unsafe { copy.assume_init() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_major_and_minor() {
        assert_eq!(ABI_VERSION, 0x0002_0001);
        assert_eq!(major(ABI_VERSION), 2);
        assert_eq!(minor(ABI_VERSION), 1);
        assert_eq!(version_text(version(3, 12)), "3.12");
        assert!(version(2, 9) < version(3, 0));
    }

    #[test]
    fn tables_start_with_the_frozen_header() {
        assert_eq!(offset_of!(PluginApi, struct_size), 0);
        assert_eq!(offset_of!(PluginApi, abi_version), 4);
        assert_eq!(offset_of!(HostApi, struct_size), 0);
        assert_eq!(offset_of!(HostApi, abi_version), 4);
        assert_eq!(size_of::<TableHeader>(), 8);
    }

    #[test]
    fn a_short_table_is_read_only_as_far_as_it_goes() {
        let full = PluginApi {
            struct_size: size_of::<PluginApi>() as u32,
            abi_version: ABI_VERSION,
            min_host_abi_version: ABI_VERSION_2_0,
            open: None,
            load: None,
            write: None,
            location: None,
            close: None,
            free_buffer: None,
            load_for_reading: Some(no_load),
        };
        // SAFETY: `full` is a whole table.
        let copy = unsafe { copy_table(&full, PLUGIN_API_SIZE_2_0 as u32) };
        assert!(copy.load_for_reading.is_none());
        assert_eq!(copy.abi_version, ABI_VERSION);
        // SAFETY: as above; a larger size is cut to the table's.
        let copy = unsafe { copy_table(&full, 4096) };
        assert!(copy.load_for_reading.is_some());
    }

    unsafe extern "C" fn no_load(_: *mut c_void, _: *mut Buffer, _: *mut Buffer) -> i32 {
        ABSENT
    }
}
