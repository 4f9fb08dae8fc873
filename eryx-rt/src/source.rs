//! Where a sandbox's component comes from: one enum, one answer per question.
//!
//! Every component is the base libraries plus zero or more native extensions, linked by the
//! same linker; it only differs in *when* it was linked: the base component by this crate's
//! build script, an embedded one by eryx-build in a downstream build, a late-linked one at
//! sandbox creation. Each gives the SHA-256 of its linked bytes (its identity in cache keys, so
//! equal bytes share one compiled entry whichever path made them), its wasm, the site-packages
//! tree to mount (or, for a binary that carries them, the trees served from memory) and the
//! modules to import before the snapshot by default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::base::{BASE_COMPONENT_SHA256, base_component};
use crate::embedded::Embedded;
use crate::engine::Metering;
use crate::error::BuildError;
use crate::fs::Trees;
use crate::late::{LateLinker, Prepared};

/// Standard-library modules in the snapshot of every sandbox whose builder names no imports of
/// its own (the guest runtime always adds json). Their first import costs a sandbox tens of
/// milliseconds (asyncio alone is 52 modules) and nothing once in the snapshot: restoring a
/// snapshot maps its memory copy-on-write, so a larger image does not cost a new sandbox more
/// (measured: `eryx -c pass` takes the same CPU time with them as without). Both are stateless
/// at import: decimal's contexts are made on first use, per sandbox; asyncio makes no event
/// loop; logging (which asyncio imports) renews its start time after a restore.
pub(crate) const DEFAULT_PREINIT_IMPORTS: &[&str] = &["asyncio", "decimal"];

/// A component source.
pub(crate) enum Source {
    /// The base component (no extensions).
    Base,
    /// A component eryx-build linked into the binary.
    Embedded(&'static Embedded),
    /// A component linked at run time from the builder's inputs.
    Late(Arc<Prepared>),
}

/// What [`Source::identity`] found out: the SHA-256 of the linked bytes, and the bytes when
/// finding out meant linking them.
pub(crate) struct Identity {
    pub(crate) sha256: String,
    pub(crate) wasm: Option<Vec<u8>>,
}

impl Source {
    /// The hex SHA-256 of the linked component; links only when no one remembers it.
    pub(crate) fn identity(&self, late: &LateLinker, cache_dir: Option<&Path>) -> Result<Identity, BuildError> {
        match self {
            Source::Base => Ok(Identity { sha256: BASE_COMPONENT_SHA256.to_string(), wasm: None }),
            Source::Embedded(embedded) => Ok(Identity { sha256: embedded.component_sha256().to_string(), wasm: None }),
            Source::Late(prepared) if !prepared.has_extensions() => Source::Base.identity(late, cache_dir),
            Source::Late(prepared) => match late.known_sha256(prepared, cache_dir) {
                Some(sha256) => Ok(Identity { sha256, wasm: None }),
                None => {
                    let linked = late.link(prepared, cache_dir)?;
                    Ok(Identity { sha256: linked.sha256, wasm: Some(linked.wasm) })
                }
            },
        }
    }

    /// The component's bytes (linking a late one again when they are needed after a hit).
    pub(crate) fn wasm(&self, late: &LateLinker, cache_dir: Option<&Path>) -> Result<Vec<u8>, BuildError> {
        match self {
            Source::Base => Ok(base_component()),
            Source::Embedded(embedded) => Ok(embedded.wasm()),
            Source::Late(prepared) if !prepared.has_extensions() => Ok(base_component()),
            Source::Late(prepared) => Ok(late.link(prepared, cache_dir)?.wasm),
        }
    }

    /// The digest naming the site-packages tree, if there is one (part of snapshot keys: the
    /// snapshot imports code from it).
    pub(crate) fn site_digest(&self) -> Option<&str> {
        match self {
            Source::Base => None,
            Source::Embedded(embedded) => embedded.site_digest(),
            Source::Late(prepared) => Some(prepared.site_digest()),
        }
    }

    /// Installs the site-packages tree under `root` (once) and returns its folder.
    pub(crate) fn install_site(&self, root: &Path) -> Result<Option<PathBuf>, BuildError> {
        match self {
            Source::Base => Ok(None),
            Source::Embedded(embedded) => embedded.install_site(root),
            Source::Late(prepared) => prepared.install_site(root).map(Some),
        }
    }

    /// The top-level modules of the source's wheels (for `preinit_wheels`), sorted.
    pub(crate) fn wheel_modules(&self) -> &[String] {
        match self {
            Source::Late(prepared) => prepared.wheel_modules(),
            Source::Base | Source::Embedded(_) => &[],
        }
    }

    /// Code compiled ahead of time for the snapshot after `imports` on an engine with
    /// `metering`, if the source carries it (an embedded component built with eryx-build's
    /// precompile option, for its own import list and no fuel).
    pub(crate) fn precompiled(&self, imports: Option<&[String]>, metering: Metering) -> Option<&'static [u8]> {
        match self {
            Source::Embedded(embedded) if metering == Metering::Off => {
                let code = embedded.precompiled_snapshot()?;
                (imports? == embedded.preinit_imports().as_slice()).then_some(code)
            }
            _ => None,
        }
    }

    /// The trees the guest sees, served from memory, when the source carries them with their
    /// bytecode packs (an embedded component built with eryx-build's precompile option); `None`:
    /// they are installed in the cache folder.
    pub(crate) fn trees_in_memory(&self) -> Result<Option<Trees>, BuildError> {
        match self {
            Source::Embedded(embedded) => embedded.trees_in_memory(),
            Source::Base | Source::Late(_) => Ok(None),
        }
    }

    /// The modules imported before the snapshot unless the builder names its own: an embedded
    /// crate's `preinit` list, else [`DEFAULT_PREINIT_IMPORTS`].
    pub(crate) fn default_preinit_imports(&self) -> Vec<String> {
        match self {
            Source::Embedded(embedded) => embedded.preinit_imports(),
            Source::Base | Source::Late(_) => DEFAULT_PREINIT_IMPORTS.iter().map(|name| name.to_string()).collect(),
        }
    }
}
