//! The plugin ABI, mirrored from `include/osa_inventory_plugin.h`.
//!
//! The header is the reference (and `docs/plugins.md` the guide); this module
//! gives the same names to Rust: the version, the return codes, the buffer
//! type, the symbol names and the function pointer types the host looks up.
//! Rust plugin authors do not use it directly: [`export_plugin!`](crate::export_plugin)
//! writes the exported functions.

use std::ffi::c_void;

/// The ABI version this crate implements (`OSA_INVENTORY_PLUGIN_ABI_VERSION`).
/// Any incompatible change increments it; the host refuses a plugin built for
/// another version.
pub const ABI_VERSION: u32 = 1;

/// The prefix every exported symbol has.
pub const SYMBOL_PREFIX: &str = "osa_inventory_plugin_";

/// `OSA_INVENTORY_PLUGIN_OK`: `open` and `write` succeeded.
pub const OK: i32 = 0;
/// `OSA_INVENTORY_PLUGIN_PRESENT`: `load` or `location` returned a value.
pub const PRESENT: i32 = 1;
/// `OSA_INVENTORY_PLUGIN_ABSENT`: `load` found no stored inventory, or
/// `location` has nothing to say.
pub const ABSENT: i32 = 0;
/// `OSA_INVENTORY_PLUGIN_ERROR`: the call failed; the message is in `error`.
pub const ERROR: i32 = -1;

/// `osa_inventory_plugin_buffer`: text the plugin hands to the host, allocated
/// by the plugin and given back to its `free_buffer`.
#[repr(C)]
#[derive(Debug)]
pub struct Buffer {
    pub data: *mut u8,
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

/// The exported symbol names (NUL-terminated, as `dlsym` wants them).
pub mod symbols {
    pub const ABI_VERSION: &[u8] = b"osa_inventory_plugin_abi_version\0";
    pub const OPEN: &[u8] = b"osa_inventory_plugin_open\0";
    pub const LOAD: &[u8] = b"osa_inventory_plugin_load\0";
    pub const WRITE: &[u8] = b"osa_inventory_plugin_write\0";
    pub const LOCATION: &[u8] = b"osa_inventory_plugin_location\0";
    pub const CLOSE: &[u8] = b"osa_inventory_plugin_close\0";
    pub const FREE_BUFFER: &[u8] = b"osa_inventory_plugin_free_buffer\0";

    /// Every symbol besides `abi_version`, which ABI version 1 requires.
    pub const REQUIRED: &[&[u8]] = &[OPEN, LOAD, WRITE, LOCATION, CLOSE, FREE_BUFFER];

    /// A symbol name without its NUL, for messages.
    pub fn name(symbol: &[u8]) -> &str {
        std::str::from_utf8(symbol.strip_suffix(b"\0").unwrap_or(symbol)).unwrap_or("?")
    }
}

/// `uint32_t osa_inventory_plugin_abi_version(void)`
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;

/// `int32_t osa_inventory_plugin_open(const char *settings, size_t settings_len,
/// osa_inventory_plugin_instance **instance, osa_inventory_plugin_buffer *error)`
pub type OpenFn = unsafe extern "C" fn(
    settings: *const u8,
    settings_len: usize,
    instance: *mut *mut c_void,
    error: *mut Buffer,
) -> i32;

/// `int32_t osa_inventory_plugin_load(osa_inventory_plugin_instance *instance,
/// osa_inventory_plugin_buffer *inventory, osa_inventory_plugin_buffer *error)`
pub type LoadFn =
    unsafe extern "C" fn(instance: *mut c_void, inventory: *mut Buffer, error: *mut Buffer) -> i32;

/// `int32_t osa_inventory_plugin_write(osa_inventory_plugin_instance *instance,
/// const char *inventory, size_t inventory_len, osa_inventory_plugin_buffer *error)`
pub type WriteFn = unsafe extern "C" fn(
    instance: *mut c_void,
    inventory: *const u8,
    inventory_len: usize,
    error: *mut Buffer,
) -> i32;

/// `int32_t osa_inventory_plugin_location(osa_inventory_plugin_instance *instance,
/// osa_inventory_plugin_buffer *location, osa_inventory_plugin_buffer *error)`
pub type LocationFn =
    unsafe extern "C" fn(instance: *mut c_void, location: *mut Buffer, error: *mut Buffer) -> i32;

/// `void osa_inventory_plugin_close(osa_inventory_plugin_instance *instance)`
pub type CloseFn = unsafe extern "C" fn(instance: *mut c_void);

/// `void osa_inventory_plugin_free_buffer(char *data, size_t len)`
pub type FreeBufferFn = unsafe extern "C" fn(data: *mut u8, len: usize);

#[cfg(test)]
mod tests {
    use super::*;

    /// The header and this module must say the same thing.
    #[test]
    fn header_matches() {
        let header = include_str!("../include/osa_inventory_plugin.h");
        assert!(header.contains(&format!(
            "#define OSA_INVENTORY_PLUGIN_ABI_VERSION {ABI_VERSION}u"
        )));
        for (name, value) in [
            ("OK", OK),
            ("PRESENT", PRESENT),
            ("ABSENT", ABSENT),
            ("ERROR", ERROR),
        ] {
            let value = if value < 0 {
                format!("({value})")
            } else {
                value.to_string()
            };
            assert!(
                header.contains(&format!("#define OSA_INVENTORY_PLUGIN_{name} {value}")),
                "{name}"
            );
        }
        for symbol in std::iter::once(symbols::ABI_VERSION).chain(symbols::REQUIRED.iter().copied())
        {
            let name = symbols::name(symbol);
            assert!(name.starts_with(SYMBOL_PREFIX));
            assert!(header.contains(&format!(" {name}(")), "{name}");
        }
        // No function the Rust side does not know about.
        let declared = header
            .lines()
            .filter(|l| {
                (l.starts_with("int32_t ") || l.starts_with("void ") || l.starts_with("uint32_t "))
                    && l.contains(" osa_inventory_plugin_")
            })
            .count();
        assert_eq!(declared, 1 + symbols::REQUIRED.len());
    }
}
