//! Integration tests: drive the real `dynamic-inventory` executable in temp dirs.
