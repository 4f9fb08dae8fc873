#![no_main]
//! Fuzz target `wheel`: see `eryx_fuzz::wheel::check_bytes`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| eryx_fuzz::wheel::check_bytes(data));
