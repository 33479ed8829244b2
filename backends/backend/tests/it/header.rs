//! The C header and the Rust mirror (`inventory_backend::abi`) describe the same ABI:
//! a C program compiled here from the header prints every constant, size and field
//! offset, and each must be what Rust has.

use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

use inventory_backend::abi::{self, HostApi, PluginApi, Setting};

const PROGRAM: &str = r#"
#include <stdio.h>
#include "osa_inventory_plugin.h"

#define FIELD(type, field) printf(#type "." #field " %zu %zu\n", offsetof(type, field), sizeof(((type *)0)->field))

int main(void) {
    printf("version %u %u %u\n", (unsigned)OSA_INVENTORY_PLUGIN_ABI_VERSION,
           (unsigned)OSA_INVENTORY_PLUGIN_ABI_MAJOR, (unsigned)OSA_INVENTORY_PLUGIN_ABI_MINOR);
    printf("version_of %u\n", (unsigned)OSA_INVENTORY_PLUGIN_ABI_VERSION_OF(3, 7));
    printf("codes %d %d %d %d\n", OSA_INVENTORY_PLUGIN_OK, OSA_INVENTORY_PLUGIN_PRESENT,
           OSA_INVENTORY_PLUGIN_ABSENT, OSA_INVENTORY_PLUGIN_ERROR);
    printf("levels %d %d %d %d\n", OSA_INVENTORY_LOG_ERROR, OSA_INVENTORY_LOG_WARNING,
           OSA_INVENTORY_LOG_INFO, OSA_INVENTORY_LOG_DEBUG);
    printf("init %s\n", OSA_INVENTORY_PLUGIN_INIT_SYMBOL);
    printf("sizes %zu %zu %zu %zu %zu %zu\n", sizeof(osa_inventory_plugin_buffer),
           sizeof(osa_inventory_plugin_setting), sizeof(osa_inventory_host_api),
           (size_t)OSA_INVENTORY_HOST_API_SIZE_2_0, sizeof(osa_inventory_plugin_api),
           (size_t)OSA_INVENTORY_PLUGIN_API_SIZE_2_0);
    FIELD(osa_inventory_plugin_buffer, data);
    FIELD(osa_inventory_plugin_buffer, len);
    FIELD(osa_inventory_plugin_setting, key);
    FIELD(osa_inventory_plugin_setting, value);
    FIELD(osa_inventory_host_api, struct_size);
    FIELD(osa_inventory_host_api, abi_version);
    FIELD(osa_inventory_host_api, log);
    FIELD(osa_inventory_host_api, lock_timeout_seconds);
    FIELD(osa_inventory_host_api, log_enabled);
    FIELD(osa_inventory_plugin_api, struct_size);
    FIELD(osa_inventory_plugin_api, abi_version);
    FIELD(osa_inventory_plugin_api, min_host_abi_version);
    FIELD(osa_inventory_plugin_api, open);
    FIELD(osa_inventory_plugin_api, load);
    FIELD(osa_inventory_plugin_api, write);
    FIELD(osa_inventory_plugin_api, location);
    FIELD(osa_inventory_plugin_api, close);
    FIELD(osa_inventory_plugin_api, free_buffer);
    FIELD(osa_inventory_plugin_api, load_for_reading);
    osa_inventory_host_api host = {0};
    host.struct_size = (uint32_t)OSA_INVENTORY_HOST_API_SIZE_2_0;
    printf("has %d", OSA_INVENTORY_HOST_HAS(&host, lock_timeout_seconds) ? 1 : 0);
    host.lock_timeout_seconds = (uint32_t (*)(osa_inventory_host_context *))1;
    host.log_enabled = (int32_t (*)(osa_inventory_host_context *, int32_t))1;
    printf(" %d %d", OSA_INVENTORY_HOST_HAS(&host, lock_timeout_seconds) ? 1 : 0,
           OSA_INVENTORY_HOST_HAS(&host, log_enabled) ? 1 : 0);
    host.struct_size = (uint32_t)sizeof host;
    printf(" %d\n", OSA_INVENTORY_HOST_HAS(&host, log_enabled) ? 1 : 0);
    return 0;
}
"#;

/// What the C program says, one line per item, for the header as C compilers see it.
fn c_says() -> String {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("layout.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let program = dir.path().join("layout");
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o"])
        .arg(&program)
        .arg("-I")
        .arg(&include)
        .arg(&source)
        .output()
        .expect("cc (a C compiler) must be installed to test the header");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&program).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

macro_rules! field {
    ($c:literal, $type:ty, $field:ident) => {
        format!(
            "{}.{} {} {}\n",
            $c,
            stringify!($field),
            offset_of!($type, $field),
            size_of_field(|t: &$type| &t.$field)
        )
    };
}

fn size_of_field<T, F>(_: impl Fn(&T) -> &F) -> usize {
    size_of::<F>()
}

#[test]
fn the_header_and_the_rust_mirror_agree() {
    let mut expected = format!(
        "version {} {} {}\nversion_of {}\ncodes {} {} {} {}\nlevels {} {} {} {}\ninit {}\n",
        abi::ABI_VERSION,
        abi::ABI_MAJOR,
        abi::ABI_MINOR,
        abi::version(3, 7),
        abi::OK,
        abi::PRESENT,
        abi::ABSENT,
        abi::ERROR,
        abi::LOG_ERROR,
        abi::LOG_WARNING,
        abi::LOG_INFO,
        abi::LOG_DEBUG,
        abi::symbol_name(abi::INIT_SYMBOL),
    );
    expected.push_str(&format!(
        "sizes {} {} {} {} {} {}\n",
        size_of::<abi::Buffer>(),
        size_of::<Setting>(),
        size_of::<HostApi>(),
        abi::HOST_API_SIZE_2_0,
        size_of::<PluginApi>(),
        abi::PLUGIN_API_SIZE_2_0,
    ));
    for line in [
        field!("osa_inventory_plugin_buffer", abi::Buffer, data),
        field!("osa_inventory_plugin_buffer", abi::Buffer, len),
        field!("osa_inventory_plugin_setting", Setting, key),
        field!("osa_inventory_plugin_setting", Setting, value),
        field!("osa_inventory_host_api", HostApi, struct_size),
        field!("osa_inventory_host_api", HostApi, abi_version),
        field!("osa_inventory_host_api", HostApi, log),
        field!("osa_inventory_host_api", HostApi, lock_timeout_seconds),
        field!("osa_inventory_host_api", HostApi, log_enabled),
        field!("osa_inventory_plugin_api", PluginApi, struct_size),
        field!("osa_inventory_plugin_api", PluginApi, abi_version),
        field!("osa_inventory_plugin_api", PluginApi, min_host_abi_version),
        field!("osa_inventory_plugin_api", PluginApi, open),
        field!("osa_inventory_plugin_api", PluginApi, load),
        field!("osa_inventory_plugin_api", PluginApi, write),
        field!("osa_inventory_plugin_api", PluginApi, location),
        field!("osa_inventory_plugin_api", PluginApi, close),
        field!("osa_inventory_plugin_api", PluginApi, free_buffer),
        field!("osa_inventory_plugin_api", PluginApi, load_for_reading),
    ] {
        expected.push_str(&line);
    }
    // OSA_INVENTORY_HOST_HAS: within a 2.0 table but NULL, within and set, beyond the
    // table though set, within a whole table.
    expected.push_str("has 0 1 0 1\n");
    assert_eq!(c_says(), expected);
}

#[test]
fn the_function_lists_name_every_field_in_order() {
    // Each function field of a table, in order, with the version that added it: the
    // lists the host uses in messages.
    let plugin: Vec<&str> = abi::PLUGIN_FUNCTIONS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        plugin,
        [
            "open",
            "load",
            "write",
            "location",
            "close",
            "free_buffer",
            "load_for_reading"
        ]
    );
    let header = include_str!("../../include/osa_inventory_plugin.h");
    for (name, added) in abi::PLUGIN_FUNCTIONS.iter().chain(abi::HOST_FUNCTIONS) {
        let at = header
            .find(&format!("(*{name})("))
            .unwrap_or_else(|| panic!("{name} is not in the header"));
        // The version of a field is that of the "-- ABI 2.N" marker above it.
        let marker = header[..at].rfind("/* -- ABI ").unwrap() + "/* -- ABI ".len();
        let version: String = header[marker..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        assert_eq!(version, abi::version_text(*added), "{name}");
    }
    let host: Vec<&str> = abi::HOST_FUNCTIONS.iter().map(|(n, _)| *n).collect();
    assert_eq!(host, ["log", "lock_timeout_seconds", "log_enabled"]);
}
