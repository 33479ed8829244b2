//! Integration tests.

mod export;
