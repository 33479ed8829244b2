//! The OpenStack-Ansible inventory as both programs work on it, and Python's JSON for it.
//!
//! * [`model`]: the inventory (`_meta.hostvars` and the groups), read from and written to
//!   its stored text, with the fingerprint that tells whether a run changed it.
//! * [`value`]: the values inside it (JSON data in a compact form, strings interned) and
//!   Python's truthiness of them.
//! * [`pyjson`]: Python's `json.dumps` (the exact bytes upstream writes) and `json.loads`
//!   (NaN, the infinities and integers beyond 64 bits included) for those values.
//!
//! Interning is for the life of the process: every distinct string a [`value::Text`]
//! holds stays in memory until the process ends. That suits a program making one run over
//! one inventory (both programs of the project); a long-lived caller reading many unrelated
//! inventories would keep all their strings.

pub mod model;
pub mod pyjson;
pub mod value;
