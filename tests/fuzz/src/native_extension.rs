//! The checks on a native extension before linking (`eryx_libs::link::check_extension`):
//! its guest path and Python tag, the wasm magic, the `dylink.0` section.
//!
//! The input is the guest path, a newline, then the module's bytes, so that seeds are real
//! (tiny) wasm modules behind a readable path.

use eryx_libs::NativeExtension;
use wasmparser::{Encoding, Parser, Payload};

/// Checks `data` (path, `\n`, bytes); when the extension is accepted, checks what that promises.
pub fn check(data: &[u8]) {
    let (path, bytes) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let path = String::from_utf8_lossy(path).into_owned();
    let extension = NativeExtension::new(path.clone(), bytes);
    if eryx_libs::link::check_extension(&extension).is_err() {
        return;
    }
    assert!(path.starts_with('/') && path.ends_with(".so"), "accepted the guest path {path:?}");
    let mut payloads = Parser::new(0).parse_all(bytes);
    let Some(Ok(Payload::Version { encoding, .. })) = payloads.next() else {
        panic!("accepted bytes without a wasm header");
    };
    assert_eq!(encoding, Encoding::Module, "accepted a component as a shared library");
    let mut dylink = false;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("accepted bytes that do not parse") {
            Payload::CustomSection(section) if section.name() == "dylink.0" => {
                dylink = true;
                // The linker reads this section next: it must read.
                let wasmparser::KnownCustom::Dylink0(reader) = section.as_known() else {
                    panic!("dylink.0 that wasmparser does not know");
                };
                // wit-component's linker refuses unknown subsections and other architectures.
                for subsection in reader {
                    match subsection.expect("accepted an unreadable dylink.0 section") {
                        wasmparser::Dylink0Subsection::TargetArch(arch) => assert_eq!(arch, "wasm32"),
                        wasmparser::Dylink0Subsection::Unknown { ty, .. } => panic!("accepted subsection type {ty}"),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    assert!(dylink, "accepted a library without a dylink.0 section");
}
