#![no_main]
//! Fuzz target `native_extension`: see `eryx_fuzz::native_extension::check`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| eryx_fuzz::native_extension::check(data));
