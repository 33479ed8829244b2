//! Integration tests: drive the real `dynamic-inventory` executable in temp dirs.

mod ansible;
mod behaviour;
mod errors;
mod reference;
mod storage;
mod support;
