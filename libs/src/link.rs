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
    pub bytes: Vec<u8>,
}

impl NativeExtension {
    pub fn new(guest_path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        NativeExtension { guest_path: guest_path.into(), bytes: bytes.into() }
    }
}

/// Why a component could not be linked. Each names the extension (or symbol) at fault.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(
        "native extension {path}: the path must be absolute and end in `.so` (it is the path CPython passes to dlopen in the guest)"
    )]
    BadPath { path: String },
    #[error("native extension {path} is not a WebAssembly module ({reason}); build it for wasm32-wasi")]
    NotWasm { path: String, reason: String },
    #[error(
        "native extension {path} has no `dylink.0` section: it is not a shared library; link it with `--shared --experimental-pic`"
    )]
    NotSharedLibrary { path: String },
    #[error(
        "native extension {path} is built for {tag}, but this sandbox runs CPython 3.14 (`cpython-314-wasm32-wasi` or `abi3`); rebuild it for CPython 3.14"
    )]
    WrongPython { path: String, tag: String },
    #[error("two native extensions claim the same path {path}; remove one of the wheels or extensions")]
    DuplicatePath { path: String },
    #[error(
        "cannot link: a library needs symbols that no library exports (rebuild the extension against CPython 3.14 for WASI, or add the library that defines them):\n{details}"
    )]
    UnresolvedSymbols { details: String },
    #[error("cannot link: a library needs a shared library that is not part of the component:\n{details}")]
    MissingLibrary { details: String },
    #[error("wit-component could not link the component: {details}")]
    Linker { details: String },
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

fn classify(error: anyhow::Error) -> LinkError {
    let details = format!("{error:#}");
    if let Some(rest) = details.split_once("unresolved symbol(s):") {
        LinkError::UnresolvedSymbols { details: rest.1.trim().to_string() }
    } else if let Some(rest) = details.split_once("missing libraries:") {
        LinkError::MissingLibrary { details: rest.1.trim().to_string() }
    } else {
        LinkError::Linker { details }
    }
}

/// Checks what can be checked before linking, so the error names the extension.
fn check_extension(extension: &NativeExtension) -> Result<(), LinkError> {
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
            Ok(wasmparser::Payload::CustomSection(section)) if section.name() == "dylink.0" => has_dylink = true,
            Ok(_) => {}
            Err(error) => return Err(LinkError::NotWasm { path: path.clone(), reason: error.message().to_string() }),
        }
    }
    if has_dylink { Ok(()) } else { Err(LinkError::NotSharedLibrary { path: path.clone() }) }
}
