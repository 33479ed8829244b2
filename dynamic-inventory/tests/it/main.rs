//! Integration tests: drive the real `dynamic-inventory` executable in temp dirs.

mod ansible;
mod reference;
mod storage;
mod support;
