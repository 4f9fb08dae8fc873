#![no_main]
//! Fuzz target `site`: see `eryx_fuzz::site::check_script`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| eryx_fuzz::site::check_script(data));
