//! Integration tests: drive the real `dynamic-inventory` executable in temp dirs.

mod ansible;
mod behaviour;
mod build_script;
mod errors;
mod fuzz;
#[path = "../../../tests/support/plugins.rs"]
mod plugin_build;
mod plugins;
mod reference;
mod reproducible;
#[path = "../../../tests/support/rusage.rs"]
mod rusage;
mod storage;
mod support;
mod synthetic;
mod upstream_shapes;
