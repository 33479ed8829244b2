//! The SDK's exported functions, called as the host calls them (in-process:
//! `export_plugin!` defines them in this test binary).

use std::ffi::c_void;
use std::ptr;

use inventory_backend::abi::{self, Buffer};
use inventory_backend::{BackendError, Settings, StorageBackend, settings_json};

/// Keeps the inventory in memory. Settings: `name` (required), `fail_in` and
/// `panic_in` (a call name) to misbehave.
#[derive(Default)]
struct Memory {
    name: String,
    inventory: Option<String>,
    fail_in: String,
    panic_in: String,
}

impl Memory {
    fn trouble(&self, call: &str) -> Result<(), BackendError> {
        if self.panic_in == call {
            panic!("boom in {call}");
        }
        if self.fail_in == call {
            return Err(BackendError::new(format_args!("{call} failed on purpose")));
        }
        Ok(())
    }
}

impl StorageBackend for Memory {
    fn register(&mut self, settings: &Settings) -> Result<(), BackendError> {
        for (key, value) in settings {
            match key.as_str() {
                "name" => self.name = value.clone(),
                "fail_in" => self.fail_in = value.clone(),
                "panic_in" => self.panic_in = value.clone(),
                other => return Err(BackendError::new(format_args!("unknown setting '{other}'"))),
            }
        }
        if self.name.is_empty() {
            return Err(BackendError::new("setting 'name' is required"));
        }
        self.trouble("register")?;
        Ok(())
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        self.trouble("load")?;
        Ok(self.inventory.clone())
    }

    fn write(&mut self, inventory: &str) -> Result<(), BackendError> {
        self.trouble("write")?;
        self.inventory = Some(inventory.to_string());
        Ok(())
    }

    fn location(&self) -> String {
        if self.panic_in == "location" {
            panic!("no location");
        }
        format!("memory:{}", self.name)
    }
}

inventory_backend::export_plugin!(Memory);

/// Takes a buffer the plugin handed out, freeing it as the host must.
fn take(buffer: &mut Buffer) -> Option<String> {
    if buffer.data.is_null() {
        assert_eq!(buffer.len, 0);
        return None;
    }
    let bytes = unsafe { std::slice::from_raw_parts(buffer.data, buffer.len) }.to_vec();
    unsafe { osa_inventory_plugin_free_buffer(buffer.data, buffer.len) };
    *buffer = Buffer::empty();
    Some(String::from_utf8(bytes).unwrap())
}

fn open_raw(settings: &str) -> Result<*mut c_void, String> {
    let mut instance = ptr::null_mut();
    let mut error = Buffer::empty();
    let code = unsafe {
        osa_inventory_plugin_open(settings.as_ptr(), settings.len(), &mut instance, &mut error)
    };
    match code {
        abi::OK => {
            assert!(!instance.is_null());
            assert!(take(&mut error).is_none());
            Ok(instance)
        }
        abi::ERROR => Err(take(&mut error).expect("an error message")),
        other => panic!("open returned {other}"),
    }
}

fn open(pairs: &[(&str, &str)]) -> Result<*mut c_void, String> {
    let settings: Settings = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    open_raw(&settings_json::encode(&settings))
}

fn load(instance: *mut c_void) -> Result<Option<String>, String> {
    let (mut inventory, mut error) = (Buffer::empty(), Buffer::empty());
    match unsafe { osa_inventory_plugin_load(instance, &mut inventory, &mut error) } {
        abi::PRESENT => Ok(Some(take(&mut inventory).unwrap_or_default())),
        abi::ABSENT => Ok(None),
        abi::ERROR => Err(take(&mut error).expect("an error message")),
        other => panic!("load returned {other}"),
    }
}

fn write_bytes(instance: *mut c_void, inventory: &[u8]) -> Result<(), String> {
    let mut error = Buffer::empty();
    match unsafe {
        osa_inventory_plugin_write(instance, inventory.as_ptr(), inventory.len(), &mut error)
    } {
        abi::OK => Ok(()),
        abi::ERROR => Err(take(&mut error).expect("an error message")),
        other => panic!("write returned {other}"),
    }
}

fn write(instance: *mut c_void, inventory: &str) -> Result<(), String> {
    write_bytes(instance, inventory.as_bytes())
}

fn location(instance: *mut c_void) -> Result<Option<String>, String> {
    let (mut location, mut error) = (Buffer::empty(), Buffer::empty());
    match unsafe { osa_inventory_plugin_location(instance, &mut location, &mut error) } {
        abi::PRESENT => Ok(take(&mut location)),
        abi::ABSENT => Ok(None),
        abi::ERROR => Err(take(&mut error).expect("an error message")),
        other => panic!("location returned {other}"),
    }
}

fn close(instance: *mut c_void) {
    unsafe { osa_inventory_plugin_close(instance) }
}

#[test]
fn the_abi_version_is_the_crates() {
    assert_eq!(osa_inventory_plugin_abi_version(), abi::ABI_VERSION);
}

#[test]
fn a_full_cycle() {
    let i = open(&[("name", "one")]).unwrap();
    assert_eq!(load(i).unwrap(), None);
    write(i, "{\"all\": {}}\n").unwrap();
    assert_eq!(load(i).unwrap().as_deref(), Some("{\"all\": {}}\n"));
    assert_eq!(location(i).unwrap().as_deref(), Some("memory:one"));
    close(i);
}

#[test]
fn instances_are_independent() {
    let a = open(&[("name", "a")]).unwrap();
    let b = open(&[("name", "b")]).unwrap();
    write(a, "A").unwrap();
    assert_eq!(load(b).unwrap(), None);
    assert_eq!(load(a).unwrap().as_deref(), Some("A"));
    assert_eq!(location(b).unwrap().as_deref(), Some("memory:b"));
    close(a);
    close(b);
}

#[test]
fn errors_come_back_as_messages() {
    assert_eq!(open(&[]).unwrap_err(), "setting 'name' is required");
    assert_eq!(
        open(&[("name", "x"), ("colour", "red")]).unwrap_err(),
        "unknown setting 'colour'"
    );
    assert_eq!(
        open(&[("name", "x"), ("fail_in", "register")]).unwrap_err(),
        "register failed on purpose"
    );
    let i = open(&[("name", "x"), ("fail_in", "load")]).unwrap();
    assert_eq!(load(i).unwrap_err(), "load failed on purpose");
    // An error does not poison the instance.
    write(i, "{}").unwrap();
    close(i);
    let i = open(&[("name", "x"), ("fail_in", "write")]).unwrap();
    assert_eq!(write(i, "{}").unwrap_err(), "write failed on purpose");
    assert_eq!(load(i).unwrap(), None);
    close(i);
}

#[test]
fn bad_settings_text_is_an_error() {
    let err = open_raw("[1, 2]").unwrap_err();
    assert!(
        err.starts_with("the settings are not a JSON object of strings"),
        "{err}"
    );
    let err = open_raw("{\"name\": 1}").unwrap_err();
    assert!(err.contains("'name' is not a string"), "{err}");
}

#[test]
fn an_inventory_that_is_not_utf8_is_an_error() {
    let i = open(&[("name", "x")]).unwrap();
    let err = write_bytes(i, b"{\"a\": \"\xff\"}").unwrap_err();
    assert_eq!(
        err,
        "the inventory the host passed is not valid UTF-8 (at byte 7)"
    );
    close(i);
}

#[test]
fn a_panic_becomes_an_error_and_poisons_the_instance() {
    let i = open(&[("name", "x"), ("panic_in", "load")]).unwrap();
    let err = load(i).unwrap_err();
    assert!(
        err.starts_with("the plugin panicked in load: boom in load (at "),
        "{err}"
    );
    assert!(err.contains("export.rs:"), "{err}");
    for later in [write(i, "{}").unwrap_err(), location(i).unwrap_err()] {
        assert_eq!(
            later,
            format!("this plugin instance can no longer be used: {err}")
        );
    }
    close(i);
}

#[test]
fn panics_in_every_call_are_caught() {
    let err = open(&[("name", "x"), ("panic_in", "register")]).unwrap_err();
    assert!(
        err.starts_with("the plugin panicked in open: boom in register"),
        "{err}"
    );
    let i = open(&[("name", "x"), ("panic_in", "write")]).unwrap();
    assert!(
        write(i, "{}")
            .unwrap_err()
            .starts_with("the plugin panicked in write: boom in write")
    );
    close(i);
    let i = open(&[("name", "x"), ("panic_in", "location")]).unwrap();
    assert!(
        location(i)
            .unwrap_err()
            .starts_with("the plugin panicked in location: no location")
    );
    close(i);
}

#[test]
fn null_pointers_are_refused_not_followed() {
    let mut error = Buffer::empty();
    let code = unsafe { osa_inventory_plugin_open(b"{}".as_ptr(), 2, ptr::null_mut(), &mut error) };
    assert_eq!(code, abi::ERROR);
    assert_eq!(
        take(&mut error).unwrap(),
        "the host passed no place for the instance"
    );
    assert_eq!(
        load(ptr::null_mut()).unwrap_err(),
        "the host passed a NULL instance"
    );
    // Closing NULL and freeing NULL do nothing.
    close(ptr::null_mut());
    unsafe { osa_inventory_plugin_free_buffer(ptr::null_mut(), 0) };
    // A NULL error buffer only loses the message.
    let code = unsafe {
        osa_inventory_plugin_open(b"{}".as_ptr(), 2, &mut ptr::null_mut(), ptr::null_mut())
    };
    assert_eq!(code, abi::ERROR);
}

#[test]
fn panics_outside_plugin_calls_still_reach_the_previous_hook() {
    // The SDK's hook is installed by the calls above (or now); a panic outside a
    // plugin call must still be an ordinary panic, caught by catch_unwind here.
    let _ = open(&[]);
    let caught = std::panic::catch_unwind(|| panic!("ordinary"));
    assert!(caught.is_err());
}
