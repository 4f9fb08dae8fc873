#![no_main]
//! Fuzz target `table`: see `eryx_fuzz::table::check_toml`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| eryx_fuzz::table::check_toml(data));
