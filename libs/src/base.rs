//! The base libraries and the guest runtime, embedded in this crate.
//!
//! The third-party files (libc, libc++, libpython3.14, the WASI emulation libraries, the
//! preview1 adapter and the standard library archive) come from the `componentize-py` package
//! pinned in Cargo.lock; the build script verified each against `base-libs.sha256` before
//! copying it into OUT_DIR. They stay zstd-compressed in the binary (about 5 MB instead of
//! 25 MB) and are decompressed only when something is linked or the stdlib is unpacked.

use std::io::Read;

/// Where the guest runtime expects the standard library (see libs/runtime/src/lib.rs).
pub const STDLIB_GUEST_DIR: &str = "/usr/local/lib/python3.14";
/// Where the guest runtime puts wheels' files on `sys.path`.
pub const SITE_PACKAGES_GUEST_DIR: &str = "/site-packages";

macro_rules! base_file {
    ($name:literal) => {
        ($name, include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".zst")))
    };
}

/// The shared libraries, in the order the linker sees them (first exporter wins).
const LIBRARIES: [(&str, &[u8]); 8] = [
    base_file!("libpython3.14.so"),
    base_file!("libc++.so"),
    base_file!("libc++abi.so"),
    base_file!("libwasi-emulated-mman.so"),
    base_file!("libwasi-emulated-process-clocks.so"),
    base_file!("libwasi-emulated-getpid.so"),
    base_file!("libwasi-emulated-signal.so"),
    base_file!("libc.so"),
];
const ADAPTER: (&str, &[u8]) = base_file!("wasi_snapshot_preview1.reactor.wasm");
const STDLIB: (&str, &[u8]) = base_file!("python-lib.tar");

/// Our guest runtime, built from libs/runtime by libs/runtime/build.sh.
pub const RUNTIME_NAME: &str = "liberyx_runtime.so";
const RUNTIME: &[u8] = include_bytes!("../runtime/eryx_runtime.so");

/// One shared library, decompressed.
#[derive(Clone)]
pub struct Library {
    /// The name other libraries use for it in their `dylink.0` "needed" list.
    pub name: &'static str,
    /// The library's bytes.
    pub bytes: Vec<u8>,
}

/// Everything a component holds besides native extensions, decompressed.
pub struct BaseLibraries {
    /// The guest runtime first, then the libraries it and the extensions import from.
    pub libraries: Vec<Library>,
    /// The WASI preview1 adapter that turns preview1 imports into WASI 0.2 ones.
    pub adapter: Vec<u8>,
}

impl BaseLibraries {
    /// Decompresses the embedded libraries (about 60 ms; callers cache the result).
    pub fn load() -> Self {
        let mut libraries = vec![Library { name: RUNTIME_NAME, bytes: RUNTIME.to_vec() }];
        libraries.extend(LIBRARIES.iter().map(|(name, zst)| Library { name, bytes: decompress(zst) }));
        BaseLibraries { libraries, adapter: decompress(ADAPTER.1) }
    }
}

/// The CPython standard library as an uncompressed tar archive (flat: `json/__init__.py`, ...).
pub fn stdlib_tar() -> Vec<u8> {
    decompress(STDLIB.1)
}

/// Where each file of the standard library sits in [`stdlib_tar`], listed by the build script
/// (so the tree can be shown without decompressing it): a first line with the archive's
/// length, then `offset size path` per file (`path` relative to the library's root, `/`-separated).
pub const STDLIB_INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/python-lib.index"));

/// SHA-256 over every embedded input (the pinned hashes of the base files and the runtime's
/// bytes), computed by the build script: it changes whenever a linked component could.
pub const FINGERPRINT: &str = include_str!(concat!(env!("OUT_DIR"), "/fingerprint.hex"));

fn decompress(zst: &[u8]) -> Vec<u8> {
    // The build script verified these bytes by SHA-256, so they are valid zstd frames.
    let mut decoder =
        ruzstd::decoding::StreamingDecoder::new(zst).expect("embedded base library is a valid zstd frame");
    let mut out = Vec::new();
    decoder.read_to_end(&mut out).expect("embedded base library is a valid zstd frame");
    out
}
