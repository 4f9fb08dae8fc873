//! Links the base component (base libraries + guest runtime, no extensions) with the same
//! linker that late linking and eryx-build use, and records its SHA-256 for cache keys.

use std::path::PathBuf;

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let base = eryx_libs::BaseLibraries::load();
    let component = match eryx_libs::link_component(&base, &[]) {
        Ok(component) => component,
        Err(error) => {
            eprintln!("error: cannot link the eryx base component: {error}");
            std::process::exit(1);
        }
    };
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&component);
    std::fs::write(out_dir.join("base-component.wasm"), &component).expect("OUT_DIR is writable");
    std::fs::write(out_dir.join("base-component.sha256"), hex::encode(digest)).expect("OUT_DIR is writable");
}
