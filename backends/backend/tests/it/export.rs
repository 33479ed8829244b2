//! The SDK's plugin table, called as the host calls it (in-process:
//! `export_plugin!` defines the entry point in this test binary), with host
//! tables made here: a whole 2.1 one, a 2.0 one, one of another major.

use std::ffi::{CString, c_void};
use std::mem::size_of;
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use inventory_backend::abi::{self, Buffer, HostApi, PluginApi, Setting};
use inventory_backend::host::{Host, LogLevel};
use inventory_backend::{BackendError, Settings, StorageBackend};

/// Keeps the inventory in memory. Settings: `name` (required), `fail_in` and
/// `panic_in` (a call name) to misbehave; any `x_*` is accepted and logged.
struct Memory {
    host: Host,
    name: String,
    inventory: Option<String>,
    fail_in: String,
    panic_in: String,
}

impl Memory {
    fn new(host: Host) -> Self {
        Memory {
            host,
            name: String::new(),
            inventory: None,
            fail_in: String::new(),
            panic_in: String::new(),
        }
    }

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
        self.host
            .log(LogLevel::Debug, format_args!("settings {settings:?}"));
        for (key, value) in settings {
            match key.as_str() {
                "name" => self.name = value.clone(),
                "fail_in" => self.fail_in = value.clone(),
                "panic_in" => self.panic_in = value.clone(),
                x if x.starts_with("x_") => {}
                other => return Err(BackendError::new(format_args!("unknown setting '{other}'"))),
            }
        }
        if self.name.is_empty() {
            return Err(BackendError::new("setting 'name' is required"));
        }
        self.host.log(
            LogLevel::Info,
            format_args!(
                "lock timeout {} s, debug lines kept: {}",
                self.host.lock_timeout().as_secs(),
                self.host.log_enabled(LogLevel::Debug)
            ),
        );
        self.trouble("register")?;
        Ok(())
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        self.trouble("load")?;
        Ok(self.inventory.clone())
    }

    fn load_for_reading(&mut self) -> Result<Option<String>, BackendError> {
        self.trouble("load_for_reading")?;
        Ok(self.inventory.as_ref().map(|i| format!("{i} (read only)")))
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

inventory_backend::export_plugin!(Memory, Memory::new);

/// The host's side of one instance: what it answers, what it was told.
struct Context {
    lock_timeout: u32,
    keeps_lines: bool,
    lines: Mutex<Vec<String>>,
}

impl Context {
    fn new(lock_timeout: u32) -> Box<Context> {
        Box::new(Context {
            lock_timeout,
            keeps_lines: true,
            lines: Mutex::new(Vec::new()),
        })
    }

    fn as_ptr(&self) -> *mut c_void {
        ptr::from_ref(self).cast_mut().cast()
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// # Safety
/// `host` is a `Context`; `message_len` bytes at `message`.
unsafe extern "C" fn host_log(host: *mut c_void, level: i32, message: *const u8, len: usize) {
    // SAFETY: as the contract says.
    let (host, bytes) = unsafe {
        (
            &*host.cast::<Context>(),
            std::slice::from_raw_parts(message, len),
        )
    };
    let text = String::from_utf8_lossy(bytes);
    host.lines.lock().unwrap().push(format!("{level}: {text}"));
}

/// # Safety
/// `host` is a `Context`.
unsafe extern "C" fn host_lock_timeout(host: *mut c_void) -> u32 {
    // SAFETY: as the contract says.
    unsafe { (*host.cast::<Context>()).lock_timeout }
}

/// # Safety
/// `host` is a `Context`.
unsafe extern "C" fn host_log_enabled(host: *mut c_void, _level: i32) -> i32 {
    // SAFETY: as the contract says.
    i32::from(unsafe { (*host.cast::<Context>()).keeps_lines })
}

/// What a host reading past the end of a 2.0 table would take for `log_enabled`.
unsafe extern "C" fn beyond_the_table(_host: *mut c_void, _level: i32) -> i32 {
    panic!("the plugin read the host table beyond its struct_size");
}

/// A 2.1 host.
static HOST: HostApi = HostApi {
    struct_size: size_of::<HostApi>() as u32,
    abi_version: abi::ABI_VERSION,
    log: Some(host_log),
    lock_timeout_seconds: Some(host_lock_timeout),
    log_enabled: Some(host_log_enabled),
};

/// A 2.0 host: its table ends before `log_enabled` (what lies there is not its).
static HOST_2_0: HostApi = HostApi {
    struct_size: abi::HOST_API_SIZE_2_0 as u32,
    abi_version: abi::ABI_VERSION_2_0,
    log: Some(host_log),
    lock_timeout_seconds: Some(host_lock_timeout),
    log_enabled: Some(beyond_the_table),
};

/// The SDK keeps the host table of the latest init: tests that call init hold this.
static INIT: Mutex<()> = Mutex::new(());

/// Calls the entry point with `host`; returns the plugin table and the lock that
/// keeps other tests from calling it again meanwhile.
fn init(version: u32, host: *const HostApi) -> (&'static PluginApi, MutexGuard<'static, ()>) {
    let guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: a host table valid for the whole process (for another major version, its
    // header at least).
    let table = unsafe { osa_inventory_plugin_init(version, host) };
    // SAFETY: the SDK returns a static table.
    (unsafe { &*table }, guard)
}

/// The plugin table, after an init by a 2.1 host.
fn api() -> (&'static PluginApi, MutexGuard<'static, ()>) {
    init(abi::ABI_VERSION, &HOST)
}

/// Takes a buffer the plugin handed out, freeing it as the host must.
fn take(api: &PluginApi, buffer: &mut Buffer) -> Option<String> {
    if buffer.data.is_null() {
        assert_eq!(buffer.len, 0);
        return None;
    }
    // SAFETY: the plugin's buffer, `len` bytes, freed once below.
    let bytes = unsafe { std::slice::from_raw_parts(buffer.data, buffer.len) }.to_vec();
    // SAFETY: as above.
    unsafe { api.free_buffer.unwrap()(buffer.data, buffer.len) };
    *buffer = Buffer::empty();
    Some(String::from_utf8(bytes).unwrap())
}

/// An open instance and its host context (which must outlive it).
struct Opened {
    api: &'static PluginApi,
    instance: *mut c_void,
    context: Box<Context>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        // SAFETY: opened by this table, closed once.
        unsafe { self.api.close.unwrap()(self.instance) };
    }
}

fn open_raw(
    api: &'static PluginApi,
    context: Box<Context>,
    settings: &[Setting],
) -> Result<Opened, (String, Box<Context>)> {
    let mut instance = ptr::null_mut();
    let mut error = Buffer::empty();
    // SAFETY: the settings' strings live during the call; the context outlives the
    // instance (it moves into `Opened`).
    let code = unsafe {
        api.open.unwrap()(
            context.as_ptr(),
            settings.as_ptr(),
            settings.len(),
            &mut instance,
            &mut error,
        )
    };
    match code {
        abi::OK => {
            assert!(!instance.is_null());
            assert!(take(api, &mut error).is_none());
            Ok(Opened {
                api,
                instance,
                context,
            })
        }
        abi::ERROR => Err((take(api, &mut error).expect("an error message"), context)),
        other => panic!("open returned {other}"),
    }
}

/// `pairs` as the host passes them, and the strings they point to.
fn c_settings(pairs: &[(&str, &str)]) -> (Vec<Setting>, Vec<CString>) {
    let strings: Vec<CString> = pairs
        .iter()
        .flat_map(|(k, v)| [CString::new(*k).unwrap(), CString::new(*v).unwrap()])
        .collect();
    let settings = strings
        .chunks(2)
        .map(|kv| Setting {
            key: kv[0].as_ptr(),
            value: kv[1].as_ptr(),
        })
        .collect();
    (settings, strings)
}

fn open_with(
    api: &'static PluginApi,
    context: Box<Context>,
    pairs: &[(&str, &str)],
) -> Result<Opened, String> {
    let (settings, _strings) = c_settings(pairs);
    open_raw(api, context, &settings).map_err(|(message, _)| message)
}

fn open(api: &'static PluginApi, pairs: &[(&str, &str)]) -> Result<Opened, String> {
    open_with(api, Context::new(600), pairs)
}

fn loaded(
    api: &PluginApi,
    code: i32,
    inventory: &mut Buffer,
    error: &mut Buffer,
) -> Result<Option<String>, String> {
    match code {
        abi::PRESENT => Ok(Some(take(api, inventory).unwrap_or_default())),
        abi::ABSENT => Ok(None),
        abi::ERROR => Err(take(api, error).expect("an error message")),
        other => panic!("load returned {other}"),
    }
}

impl Opened {
    fn load(&self) -> Result<Option<String>, String> {
        let (mut inventory, mut error) = (Buffer::empty(), Buffer::empty());
        // SAFETY: an open instance and two empty buffers.
        let code = unsafe { self.api.load.unwrap()(self.instance, &mut inventory, &mut error) };
        loaded(self.api, code, &mut inventory, &mut error)
    }

    fn load_for_reading(&self) -> Result<Option<String>, String> {
        let (mut inventory, mut error) = (Buffer::empty(), Buffer::empty());
        // SAFETY: an open instance and two empty buffers.
        let code = unsafe {
            self.api.load_for_reading.unwrap()(self.instance, &mut inventory, &mut error)
        };
        loaded(self.api, code, &mut inventory, &mut error)
    }

    fn write_bytes(&self, inventory: &[u8]) -> Result<(), String> {
        let mut error = Buffer::empty();
        // SAFETY: an open instance, `len` bytes, an empty buffer.
        let code = unsafe {
            self.api.write.unwrap()(
                self.instance,
                inventory.as_ptr(),
                inventory.len(),
                &mut error,
            )
        };
        match code {
            abi::OK => Ok(()),
            abi::ERROR => Err(take(self.api, &mut error).expect("an error message")),
            other => panic!("write returned {other}"),
        }
    }

    fn write(&self, inventory: &str) -> Result<(), String> {
        self.write_bytes(inventory.as_bytes())
    }

    fn location(&self) -> Result<Option<String>, String> {
        let (mut location, mut error) = (Buffer::empty(), Buffer::empty());
        // SAFETY: an open instance and two empty buffers.
        let code = unsafe { self.api.location.unwrap()(self.instance, &mut location, &mut error) };
        match code {
            abi::PRESENT => Ok(take(self.api, &mut location)),
            abi::ABSENT => Ok(None),
            abi::ERROR => Err(take(self.api, &mut error).expect("an error message")),
            other => panic!("location returned {other}"),
        }
    }
}

#[test]
fn the_entry_point_returns_a_whole_table_of_this_version() {
    let (api, _guard) = api();
    assert_eq!(api.struct_size as usize, size_of::<PluginApi>());
    assert_eq!(api.abi_version, abi::ABI_VERSION);
    assert_eq!(api.min_host_abi_version, abi::ABI_VERSION_2_0);
    assert!(api.open.is_some() && api.load.is_some() && api.write.is_some());
    assert!(api.location.is_some() && api.close.is_some() && api.free_buffer.is_some());
    assert!(api.load_for_reading.is_some());
}

#[test]
fn a_full_cycle() {
    let (api, _guard) = api();
    let i = open(api, &[("name", "one")]).unwrap();
    assert_eq!(i.load().unwrap(), None);
    i.write("{\"all\": {}}\n").unwrap();
    assert_eq!(i.load().unwrap().as_deref(), Some("{\"all\": {}}\n"));
    // Loading again, writing again: any number of times.
    i.write("{}").unwrap();
    assert_eq!(i.load().unwrap().as_deref(), Some("{}"));
    assert_eq!(i.location().unwrap().as_deref(), Some("memory:one"));
}

#[test]
fn load_for_reading_reaches_the_backends_own() {
    let (api, _guard) = api();
    let i = open(api, &[("name", "r")]).unwrap();
    assert_eq!(i.load_for_reading().unwrap(), None);
    i.write("{}").unwrap();
    assert_eq!(
        i.load_for_reading().unwrap().as_deref(),
        Some("{} (read only)")
    );
    let i = open(api, &[("name", "r"), ("fail_in", "load_for_reading")]).unwrap();
    assert_eq!(
        i.load_for_reading().unwrap_err(),
        "load_for_reading failed on purpose"
    );
}

#[test]
fn settings_arrive_as_pairs_exactly() {
    let (api, _guard) = api();
    let i = open(
        api,
        &[
            ("name", "pairs"),
            ("x_path", "/a \"quoted\" \\ dir é 🦀\tx"),
            ("x_empty", ""),
            ("x_equals", "a = b ; c"),
        ],
    )
    .unwrap();
    assert_eq!(
        i.context.lines()[0],
        "4: settings {\"name\": \"pairs\", \"x_empty\": \"\", \"x_equals\": \"a = b ; c\", \
         \"x_path\": \"/a \\\"quoted\\\" \\\\ dir é 🦀\\tx\"}"
    );
}

#[test]
fn settings_the_sdk_cannot_take_are_errors() {
    let (api, _guard) = api();
    let name = CString::new("name").unwrap();
    let a = CString::new("a").unwrap();
    let twice = [
        Setting {
            key: name.as_ptr(),
            value: a.as_ptr(),
        },
        Setting {
            key: name.as_ptr(),
            value: a.as_ptr(),
        },
    ];
    let err = open_raw(api, Context::new(1), &twice).err().unwrap().0;
    assert_eq!(err, "the host passed setting 'name' twice");
    let null_key = [Setting {
        key: ptr::null(),
        value: a.as_ptr(),
    }];
    let err = open_raw(api, Context::new(1), &null_key).err().unwrap().0;
    assert_eq!(err, "the host passed a NULL setting name");
    let bad = CString::new(b"\xff".to_vec()).unwrap();
    let not_utf8 = [Setting {
        key: name.as_ptr(),
        value: bad.as_ptr(),
    }];
    let err = open_raw(api, Context::new(1), &not_utf8).err().unwrap().0;
    assert_eq!(
        err,
        "the host passed a value for setting 'name' that is not valid UTF-8 (at byte 0)"
    );
    let mut instance = ptr::null_mut();
    let mut error = Buffer::empty();
    let context = Context::new(1);
    // SAFETY: NULL settings with a count: refused, not followed.
    let code =
        unsafe { api.open.unwrap()(context.as_ptr(), ptr::null(), 2, &mut instance, &mut error) };
    assert_eq!(code, abi::ERROR);
    assert_eq!(
        take(api, &mut error).unwrap(),
        "the host passed no settings (a NULL pointer with 2 settings)"
    );
}

#[test]
fn the_host_functions_reach_the_backend() {
    let (api, _guard) = api();
    let mut context = Context::new(42);
    context.keeps_lines = false;
    let i = open_with(api, context, &[("name", "h")]).unwrap();
    assert_eq!(
        i.context.lines()[1],
        "3: lock timeout 42 s, debug lines kept: false"
    );
}

#[test]
fn a_2_0_host_is_read_only_as_far_as_its_table_goes() {
    let (api, _guard) = init(abi::ABI_VERSION_2_0, &HOST_2_0);
    let i = open_with(api, Context::new(7), &[("name", "old")]).unwrap();
    // Without log_enabled, lines are assumed kept; the function past the end is not
    // called (it would panic).
    assert_eq!(
        i.context.lines()[1],
        "3: lock timeout 7 s, debug lines kept: true"
    );
}

#[test]
fn a_host_of_another_major_version_gets_the_table_but_is_not_used() {
    // A 3.0 host's table may have another layout: only its header is valid here.
    static HEADER: abi::TableHeader = abi::TableHeader {
        struct_size: 8,
        abi_version: abi::version(3, 0),
    };
    let (api, _guard) = init(
        abi::version(3, 0),
        // Of another major version: the SDK may read only the header.
        ptr::from_ref(&HEADER).cast::<HostApi>(),
    );
    assert_eq!(api.abi_version, abi::ABI_VERSION);
    let err = open(api, &[("name", "x")]).err().unwrap();
    assert_eq!(
        err,
        "the host called open without a usable osa_inventory_plugin_init before it"
    );
}

#[test]
fn instances_are_independent() {
    let (api, _guard) = api();
    let a = open(api, &[("name", "a")]).unwrap();
    let b = open(api, &[("name", "b")]).unwrap();
    a.write("A").unwrap();
    assert_eq!(b.load().unwrap(), None);
    assert_eq!(a.load().unwrap().as_deref(), Some("A"));
    assert_eq!(b.location().unwrap().as_deref(), Some("memory:b"));
}

#[test]
fn errors_come_back_as_messages() {
    let (api, _guard) = api();
    assert_eq!(open(api, &[]).err().unwrap(), "setting 'name' is required");
    assert_eq!(
        open(api, &[("name", "x"), ("colour", "red")])
            .err()
            .unwrap(),
        "unknown setting 'colour'"
    );
    assert_eq!(
        open(api, &[("name", "x"), ("fail_in", "register")])
            .err()
            .unwrap(),
        "register failed on purpose"
    );
    let i = open(api, &[("name", "x"), ("fail_in", "load")]).unwrap();
    assert_eq!(i.load().unwrap_err(), "load failed on purpose");
    // An error does not poison the instance.
    i.write("{}").unwrap();
    let i = open(api, &[("name", "x"), ("fail_in", "write")]).unwrap();
    assert_eq!(i.write("{}").unwrap_err(), "write failed on purpose");
    assert_eq!(i.load().unwrap(), None);
}

#[test]
fn an_inventory_that_is_not_utf8_is_an_error() {
    let (api, _guard) = api();
    let i = open(api, &[("name", "x")]).unwrap();
    let err = i.write_bytes(b"{\"a\": \"\xff\"}").unwrap_err();
    assert_eq!(
        err,
        "the inventory the host passed is not valid UTF-8 (at byte 7)"
    );
}

#[test]
fn a_panic_becomes_an_error_and_poisons_the_instance() {
    let (api, _guard) = api();
    let i = open(api, &[("name", "x"), ("panic_in", "load")]).unwrap();
    let err = i.load().unwrap_err();
    assert!(
        err.starts_with("the plugin panicked in load: boom in load (at "),
        "{err}"
    );
    assert!(err.contains("export.rs:"), "{err}");
    for later in [
        i.write("{}").unwrap_err(),
        i.location().unwrap_err(),
        i.load_for_reading().unwrap_err(),
    ] {
        assert_eq!(
            later,
            format!("this plugin instance can no longer be used: {err}")
        );
    }
}

#[test]
fn panics_in_every_call_are_caught() {
    let (api, _guard) = api();
    let err = open(api, &[("name", "x"), ("panic_in", "register")])
        .err()
        .unwrap();
    assert!(
        err.starts_with("the plugin panicked in open: boom in register"),
        "{err}"
    );
    let i = open(api, &[("name", "x"), ("panic_in", "write")]).unwrap();
    assert!(
        i.write("{}")
            .unwrap_err()
            .starts_with("the plugin panicked in write: boom in write")
    );
    let i = open(api, &[("name", "x"), ("panic_in", "location")]).unwrap();
    assert!(
        i.location()
            .unwrap_err()
            .starts_with("the plugin panicked in location: no location")
    );
    let i = open(api, &[("name", "x"), ("panic_in", "load_for_reading")]).unwrap();
    assert!(
        i.load_for_reading()
            .unwrap_err()
            .starts_with("the plugin panicked in load_for_reading: boom in load_for_reading")
    );
}

#[test]
fn null_pointers_are_refused_not_followed() {
    let (api, _guard) = api();
    let context = Context::new(1);
    let mut error = Buffer::empty();
    // SAFETY: NULL for the instance: refused, not followed.
    let code = unsafe {
        api.open.unwrap()(
            context.as_ptr(),
            ptr::null(),
            0,
            ptr::null_mut(),
            &mut error,
        )
    };
    assert_eq!(code, abi::ERROR);
    assert_eq!(
        take(api, &mut error).unwrap(),
        "the host passed no place for the instance"
    );
    let (mut inventory, mut error) = (Buffer::empty(), Buffer::empty());
    // SAFETY: a NULL instance: refused, not followed.
    let code = unsafe { api.load.unwrap()(ptr::null_mut(), &mut inventory, &mut error) };
    assert_eq!(
        loaded(api, code, &mut inventory, &mut error).unwrap_err(),
        "the host passed a NULL instance"
    );
    // SAFETY: closing NULL and freeing NULL do nothing.
    unsafe {
        api.close.unwrap()(ptr::null_mut());
        api.free_buffer.unwrap()(ptr::null_mut(), 0);
    }
    // A NULL error buffer only loses the message.
    // SAFETY: as above; the context lives through the call.
    let code = unsafe {
        api.open.unwrap()(
            context.as_ptr(),
            ptr::null(),
            0,
            &mut ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(code, abi::ERROR);
}

#[test]
fn panics_outside_plugin_calls_still_reach_the_previous_hook() {
    // The SDK's hook is installed by the calls above (or now); a panic outside a
    // plugin call must still be an ordinary panic, caught by catch_unwind here.
    let (api, _guard) = api();
    let _ = open(api, &[]);
    let caught = std::panic::catch_unwind(|| panic!("ordinary"));
    assert!(caught.is_err());
}
