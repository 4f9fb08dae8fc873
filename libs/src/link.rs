//! The one linker of eryx: base libraries + guest runtime + native extensions → component.
//!
//! Each native extension is linked `dl_openable` under the absolute path that CPython passes
//! to `dlopen` in the guest (for example `/site-packages/pkg/_mod.cpython-314-wasm32-wasi.so`),
//! so the built-in libdl of wit-component finds it there. The output depends only on the
//! inputs: extensions are sorted by path, so the same set gives the same bytes in any order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::base::BaseLibraries;

/// A native extension module (a PIC wasm32 shared library with a `dylink.0` section).
#[derive(Clone, Debug)]
pub struct NativeExtension {
    /// The absolute path of the `.so` file inside the guest, as `dlopen` will see it.
    pub guest_path: String,
    /// The shared library's bytes.
    pub bytes: Vec<u8>,
}

impl NativeExtension {
    /// An extension that the guest will `dlopen` at `guest_path`.
    pub fn new(guest_path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        NativeExtension { guest_path: guest_path.into(), bytes: bytes.into() }
    }
}

/// Why a component could not be linked. Each names the extension (or symbol) at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The guest path is not an absolute path of a `.so` file.
    #[error(
        "native extension {path}: the path must be absolute and end in `.so` (it is the path CPython passes to dlopen in the guest)"
    )]
    BadPath {
        /// The guest path given.
        path: String,
    },
    /// The bytes are not a WebAssembly module.
    #[error("native extension {path} is not a WebAssembly module; build it for wasm32-wasi")]
    NotWasm {
        /// The extension's guest path.
        path: String,
        /// What the parser found.
        source: wasmparser::BinaryReaderError,
    },
    /// The bytes are WebAssembly, but not a wasm32 core module the linker takes (a component,
    /// another architecture, an unknown `dylink.0` subsection).
    #[error(
        "native extension {path} is not a wasm32 shared library the linker takes ({reason}); build it for wasm32-wasi and link it with `--shared --experimental-pic`"
    )]
    Unsupported {
        /// The extension's guest path.
        path: String,
        /// What was found.
        reason: String,
    },
    /// The module is not a shared library (no `dylink.0` section).
    #[error(
        "native extension {path} has no `dylink.0` section: it is not a shared library; link it with `--shared --experimental-pic`"
    )]
    NotSharedLibrary {
        /// The extension's guest path.
        path: String,
    },
    /// The file name carries another CPython's tag.
    #[error(
        "native extension {path} is built for {tag}, but this sandbox runs CPython 3.14 (`cpython-314-wasm32-wasi` or `abi3`); rebuild it for CPython 3.14"
    )]
    WrongPython {
        /// The extension's guest path.
        path: String,
        /// The tag in its file name, such as `cpython-311-wasm32-wasi`.
        tag: String,
    },
    /// Two extensions have the same guest path.
    #[error("two native extensions claim the same path {path}; remove one of the wheels or extensions")]
    DuplicatePath {
        /// The guest path claimed twice.
        path: String,
    },
    /// Some library imports symbols that no library exports.
    #[error(
        "cannot link: a library needs symbols that no library exports (rebuild the extension against CPython 3.14 for WASI, or add the library that defines them):\n{details}"
    )]
    UnresolvedSymbols {
        /// One line per missing symbol: which library needs what.
        details: String,
        /// wit-component's error (whose message `details` repeats, so it is not a `source`).
        error: anyhow::Error,
    },
    /// Some library needs a shared library that is not part of the component.
    #[error("cannot link: a library needs a shared library that is not part of the component:\n{details}")]
    MissingLibrary {
        /// One line per library: which needs what.
        details: String,
        /// wit-component's error (whose message `details` repeats, so it is not a `source`).
        error: anyhow::Error,
    },
    /// wit-component refused for another reason.
    #[error("wit-component could not link the component")]
    Linker {
        /// wit-component's error.
        source: anyhow::Error,
    },
}

static LINK_CALLS: AtomicUsize = AtomicUsize::new(0);

/// How many times this process has called [`link_component`]: lets a program (and its tests)
/// show that a path, such as an embedded component, links nothing at run time.
pub fn link_calls() -> usize {
    LINK_CALLS.load(Ordering::Relaxed)
}

/// Links `extensions` with the base libraries into a component (the base component when empty).
pub fn link_component(base: &BaseLibraries, extensions: &[NativeExtension]) -> Result<Vec<u8>, LinkError> {
    LINK_CALLS.fetch_add(1, Ordering::Relaxed);
    let mut sorted = BTreeMap::new();
    for extension in extensions {
        check_extension(extension)?;
        if sorted.insert(extension.guest_path.as_str(), extension).is_some() {
            return Err(LinkError::DuplicatePath { path: extension.guest_path.clone() });
        }
    }

    let mut linker = wit_component::Linker::default();
    let result = (|| {
        for library in &base.libraries {
            linker.library(library.name, &library.bytes, false)?;
        }
        for (path, extension) in &sorted {
            linker.library(path, &extension.bytes, true)?;
        }
        linker.use_built_in_libdl(true);
        linker.encoder().validate(true).adapter("wasi_snapshot_preview1", &base.adapter)?;
        linker.encode()
    })();
    let started = std::time::Instant::now();
    let component = result.map_err(classify)?;
    tracing::debug!(extensions = sorted.len(), bytes = component.len(), elapsed = ?started.elapsed(), "linked component");
    Ok(component)
}

/// Sorts wit-component's error into our variants. wit-component 0.263 offers no typed error
/// for these cases (`Linker::encode` returns an `anyhow::Error` built with `bail!`, no
/// downcastable type), so its message text is the only handle: the two prefixes below are the
/// ones its `linking` module writes. Anything else is kept whole as `Linker`; every variant
/// keeps the original error as its source.
fn classify(error: anyhow::Error) -> LinkError {
    let text = format!("{error:#}");
    let details = |prefix: &str| text.split_once(prefix).map(|(_, rest)| rest.trim().to_string());
    if let Some(details) = details("unresolved symbol(s):") {
        LinkError::UnresolvedSymbols { details, error }
    } else if let Some(details) = details("missing libraries:") {
        LinkError::MissingLibrary { details, error }
    } else {
        LinkError::Linker { source: error }
    }
}

/// Checks what can be checked before linking, so the error names the extension (also the
/// entry point of the `native_extension` fuzz target).
pub fn check_extension(extension: &NativeExtension) -> Result<(), LinkError> {
    let path = &extension.guest_path;
    let file_name = path.rsplit('/').next().unwrap_or_default();
    if !path.starts_with('/') || !file_name.ends_with(".so") || file_name.len() <= 3 {
        return Err(LinkError::BadPath { path: path.clone() });
    }
    if let Some(tag) = file_name.split('.').find(|part| part.starts_with("cpython-"))
        && !tag.starts_with("cpython-314-")
        && tag != "cpython-314"
    {
        return Err(LinkError::WrongPython { path: path.clone(), tag: tag.to_string() });
    }
    let mut has_dylink = false;
    for payload in wasmparser::Parser::new(0).parse_all(&extension.bytes) {
        match payload {
            // A component's nested modules may carry `dylink.0` too: refuse it here, by name.
            Ok(wasmparser::Payload::Version { encoding: wasmparser::Encoding::Component, .. }) => {
                return Err(LinkError::Unsupported { path: path.clone(), reason: "it is a component".into() });
            }
            Ok(wasmparser::Payload::CustomSection(section)) if section.name() == "dylink.0" => {
                check_dylink(path, &section)?;
                has_dylink = true;
            }
            Ok(_) => {}
            Err(source) => return Err(LinkError::NotWasm { path: path.clone(), source }),
        }
    }
    if has_dylink { Ok(()) } else { Err(LinkError::NotSharedLibrary { path: path.clone() }) }
}

/// Reads a `dylink.0` section as the linker will, refusing what it would refuse.
fn check_dylink(path: &str, section: &wasmparser::CustomSectionReader<'_>) -> Result<(), LinkError> {
    let unsupported = |reason: String| LinkError::Unsupported { path: path.into(), reason };
    let wasmparser::KnownCustom::Dylink0(reader) = section.as_known() else {
        return Err(unsupported("its dylink.0 section cannot be read".into()));
    };
    for subsection in reader {
        match subsection.map_err(|source| LinkError::NotWasm { path: path.into(), source })? {
            wasmparser::Dylink0Subsection::TargetArch(arch) if arch != "wasm32" => {
                return Err(unsupported(format!("dylink.0 says it is built for {arch}")));
            }
            wasmparser::Dylink0Subsection::Unknown { ty, .. } => {
                return Err(unsupported(format!("dylink.0 has a subsection of unknown type {ty}")));
            }
            _ => {}
        }
    }
    Ok(())
}
