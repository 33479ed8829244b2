//! `inventory-manage` through the real binary, in temporary directories: upstream's
//! tables and export on the reference inventory and on a small inventory whose expected
//! output was printed by upstream's tool, every change and its backup, the SQLite
//! plugin (migrating there and back byte for byte), the Craton backend against the real
//! Craton server, and every error.

mod changes;
mod craton;
#[path = "../../../tests/support/craton.rs"]
mod craton_server;
mod errors;
mod locks;
#[path = "../../../tests/support/plugins.rs"]
mod plugin_build;
mod plugins;
mod support;
mod tables;
mod upstream_shapes;
