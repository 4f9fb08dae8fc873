//! [`Runtime`]: what sandboxes share, owned by one explicit handle.
//!
//! A runtime owns the wasmtime engines, the compiled components (in memory, and on disk in
//! its cache folder), the late linker's memory and its configuration. Sandboxes of one runtime
//! share compiled code; two runtimes share nothing but the files of a common cache folder
//! (content-addressed, so that is safe). [`Runtime::default`] is a lazily created process-wide
//! runtime configured from the environment, which keeps `Sandbox::builder()` a one-liner.
//!
//! [`Runtime::load`] is the one way from a [`Source`] to a compiled component: it learns the
//! component's identity (linking only when no one remembers it), derives the cache key, finds
//! the trees the guest sees (images in memory when the source carries them, else folders it
//! installs in the cache folder with their bytecode packs, see [`crate::bytecode`]), and on a
//! miss makes the wasm (and its snapshot) and compiles it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use wasmtime::Engine;

use crate::bytecode::{self, Tree};
use crate::cache_entries::HeldTrees;
use crate::component::{ComponentCache, Loaded, LoadedFrom};
use crate::component_store::{ComponentStore, EntryInfo, cache_limit_from_env};
use crate::engine::{Allocation, Metering, new_engine};
use crate::error::BuildError;
use crate::files::{CacheFolder, default_cache_dir};
use crate::fs::{TreeAt, Trees};
use crate::late::{Input, LateLinker};
use crate::preinit::{Preinitializer, snapshot_key};
use crate::source::Source;

/// The environment variable that turns the pre-initialised snapshot off by default.
pub(crate) const NO_PREINIT_ENV: &str = "ERYX_NO_PREINIT";

/// A handle on engines, caches and configuration shared by sandboxes. Cloning is cheap (the
/// clones share everything); the last clone dropped frees it all, including a temporary cache
/// folder.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use eryx_rt::Runtime;
///
/// // Without snapshots, whatever ERYX_NO_PREINIT says; the cache folder from the environment.
/// let runtime = Runtime::builder().preinit(false).build()?;
/// let mut a = runtime.sandbox().build()?;
/// let mut b = runtime.sandbox().fuel(10_000_000).build()?; // the fuel-metering engine
/// assert_eq!(a.execute("print(2 + 2)")?.stdout, "4\n");
/// assert!(b.execute("while True: pass").unwrap_err().failure.is_limit());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    allocation: Allocation,
    folder: CacheFolder,
    /// Compiled code on disk (in the persistent cache folder), bounded by its cap.
    store: Option<ComponentStore>,
    preinit_by_default: bool,
    plain: ComponentCache,
    fuel: OnceLock<ComponentCache>,
    preinitializer: Preinitializer,
    late: LateLinker,
    stdlib: OnceLock<PathBuf>,
    /// The trees the sandboxes mount, locked against removal while this runtime lives.
    trees: HeldTrees,
}

/// Configures a [`Runtime`]. Every setting defaults to what the environment says (see the
/// crate docs, "Configuration"), so `Runtime::builder().build()` is the default runtime's
/// configuration.
#[derive(Clone, Debug)]
pub struct RuntimeBuilder {
    cache_dir: Option<PathBuf>,
    cache_limit: u64,
    preinit: bool,
    allocation: Allocation,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            cache_dir: default_cache_dir(),
            cache_limit: cache_limit_from_env(),
            preinit: std::env::var_os(NO_PREINIT_ENV).is_none_or(|value| value.is_empty() || value == "0"),
            allocation: Allocation::OnDemand,
        }
    }
}

impl RuntimeBuilder {
    /// Keeps compiled code, snapshots and unpacked trees in `dir` (created when needed), shared
    /// with every process that uses the same folder.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Caps the compiled code kept in the cache folder, in bytes (default: `ERYX_CACHE_LIMIT`,
    /// else [`DEFAULT_CACHE_LIMIT`](crate::DEFAULT_CACHE_LIMIT), 4 GiB). Writing a new entry
    /// removes the least recently used ones until the rest fits; an entry that a process has
    /// loaded is never removed, so the folder may exceed the cap while they run.
    pub fn cache_limit(mut self, bytes: u64) -> Self {
        self.cache_limit = bytes;
        self
    }

    /// Keeps nothing across processes: trees go to a temporary folder removed with the runtime,
    /// compiled code stays in memory.
    pub fn no_cache_dir(mut self) -> Self {
        self.cache_dir = None;
        self
    }

    /// Whether sandboxes start from a pre-initialised snapshot unless their builder says
    /// otherwise (see [`SandboxBuilder::preinit`](crate::SandboxBuilder::preinit)).
    pub fn preinit(mut self, enabled: bool) -> Self {
        self.preinit = enabled;
        self
    }

    /// Uses wasmtime's pooling allocator for sandboxes, with room for `max_sandboxes` alive at
    /// once (per engine: sandboxes with and without a fuel budget have a pool each). Address
    /// space for them is reserved up front and their slots are reused; building a sandbox
    /// beyond the limit fails. Off by default: then there is no limit, and a sandbox maps its
    /// memory when it is created (see the start-up benchmark for what each costs).
    pub fn pooling_allocator(mut self, max_sandboxes: u32) -> Self {
        self.allocation = Allocation::Pooling { max_sandboxes };
        self
    }

    /// Creates the runtime (its plain engine; the fuel-metering one comes when a sandbox asks).
    pub fn build(self) -> Result<Runtime, BuildError> {
        let engine = new_engine(Metering::Off, self.allocation)?;
        // Snapshots are made on an engine of their own when sandboxes use a pool, so that
        // making one never takes a sandbox's slot.
        let preinit_engine = match self.allocation {
            Allocation::OnDemand => engine.clone(),
            Allocation::Pooling { .. } => new_engine(Metering::Off, Allocation::OnDemand)?,
        };
        Ok(Runtime {
            inner: Arc::new(Inner {
                allocation: self.allocation,
                store: self.cache_dir.as_ref().map(|dir| ComponentStore::new(dir).with_limit(self.cache_limit)),
                folder: CacheFolder::new(self.cache_dir),
                preinit_by_default: self.preinit,
                preinitializer: Preinitializer::new(preinit_engine),
                plain: ComponentCache::new(engine),
                fuel: OnceLock::new(),
                late: LateLinker::default(),
                stdlib: OnceLock::new(),
                trees: HeldTrees::default(),
            }),
        })
    }
}

impl Default for Runtime {
    /// The process-wide runtime, created on first use from the environment's configuration.
    ///
    /// # Panics
    ///
    /// When wasmtime cannot create an engine on this host (an unsupported CPU) or the epoch
    /// thread cannot start; [`Runtime::builder`] returns these as errors instead.
    fn default() -> Self {
        static DEFAULT: OnceLock<Runtime> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                Runtime::builder().build().unwrap_or_else(|error| panic!("cannot create the eryx runtime: {error}"))
            })
            .clone()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache_dir", &self.inner.folder.persistent())
            .field("preinit", &self.inner.preinit_by_default)
            .field("allocation", &self.inner.allocation)
            .finish_non_exhaustive()
    }
}

/// A compiled component ready for a sandbox, with what the sandbox needs around it.
pub(crate) struct Ready {
    pub(crate) loaded: Arc<Loaded>,
    pub(crate) from: LoadedFrom,
    pub(crate) engine: Engine,
    pub(crate) metering: Metering,
    /// The standard library and site-packages the guest sees.
    pub(crate) trees: Trees,
}

impl Runtime {
    /// Starts configuring a runtime (defaults from the environment).
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The persistent cache folder, if there is one.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.folder.persistent()
    }

    /// The compiled components in the cache folder, if there is one (to list, prune or clear).
    pub fn component_store(&self) -> Option<&ComponentStore> {
        self.inner.store.as_ref()
    }

    /// Whether sandboxes start from a snapshot unless their builder says otherwise.
    pub(crate) fn preinit_by_default(&self) -> bool {
        self.inner.preinit_by_default
    }

    /// Reads and verifies late-linking inputs into a source.
    pub(crate) fn prepare(&self, inputs: &[Input]) -> Result<Source, BuildError> {
        Ok(Source::Late(self.inner.late.prepare(inputs, self.inner.folder.persistent())?))
    }

    /// The compiled component of `source` (its snapshot after `imports`, if given) for an
    /// engine with `metering`.
    pub(crate) fn load(
        &self,
        source: &Source,
        imports: Option<&[String]>,
        metering: Metering,
    ) -> Result<Ready, BuildError> {
        let inner = &*self.inner;
        let cache = self.components(metering)?;
        let disk = inner.folder.persistent();
        let identity = source.identity(&inner.late, disk)?;
        let component_key = cache.key(identity.sha256.as_bytes());
        let key = match imports {
            Some(imports) => cache.key(snapshot_key(&component_key, imports, source.site_digest()).as_bytes()),
            None => component_key,
        };
        // After the identity (a failed link leaves nothing), before a snapshot imports from them.
        let trees = match source.trees_in_memory()? {
            Some(trees) => trees,
            None => self.install_trees(source)?,
        };
        let precompiled = source.precompiled(imports, metering);
        let describe = || entry_info(source, imports, metering, &trees);
        let (loaded, from) = cache.load(&key, inner.store.as_ref(), precompiled, describe, || {
            let wasm = match identity.wasm {
                Some(wasm) => wasm,
                None => source.wasm(&inner.late, disk)?,
            };
            match imports {
                Some(imports) => inner.preinitializer.snapshot(&wasm, imports, &trees, None),
                None => Ok(wasm),
            }
        })?;
        Ok(Ready { loaded, from, engine: cache.engine().clone(), metering, trees })
    }

    /// Installs the standard library and the source's site-packages tree in the cache folder
    /// (once), each with its bytecode pack.
    fn install_trees(&self, source: &Source) -> Result<Trees, BuildError> {
        let root = self.inner.folder.root()?;
        let site_dir = self.inner.trees.hold(|| source.install_site(&root))?;
        let stdlib_dir = self.stdlib_dir(&root)?;
        if let Some(site) = &site_dir {
            bytecode::ensure_pack(&self.inner.preinitializer, Tree::SitePackages { stdlib: &stdlib_dir, site });
        }
        Ok(Trees { stdlib: TreeAt::Host(stdlib_dir), site: site_dir.map(TreeAt::Host) })
    }

    /// The compiled components of the engine with `metering` (created on first use).
    fn components(&self, metering: Metering) -> Result<&ComponentCache, BuildError> {
        match metering {
            Metering::Off => Ok(&self.inner.plain),
            Metering::Fuel => {
                if let Some(cache) = self.inner.fuel.get() {
                    return Ok(cache);
                }
                let cache = ComponentCache::new(new_engine(Metering::Fuel, self.inner.allocation)?);
                Ok(self.inner.fuel.get_or_init(|| cache))
            }
        }
    }

    fn stdlib_dir(&self, root: &Path) -> Result<PathBuf, BuildError> {
        if let Some(dir) = self.inner.stdlib.get() {
            return Ok(dir.clone());
        }
        let dir = self.inner.trees.hold_tree(|| crate::stdlib::install(root))?;
        bytecode::ensure_pack(&self.inner.preinitializer, Tree::Stdlib(&dir));
        Ok(self.inner.stdlib.get_or_init(|| dir).clone())
    }
}

/// What a new cache entry holds, for `eryx cache list`: its source, the distributions installed
/// beside it (the `*.dist-info` folders of its site-packages tree) and the snapshot's imports.
fn entry_info(source: &Source, imports: Option<&[String]>, metering: Metering, trees: &Trees) -> EntryInfo {
    let mut wheels: Vec<String> = trees
        .site_top_level_names()
        .into_iter()
        .filter_map(|name| name.strip_suffix(".dist-info").map(str::to_string))
        .collect();
    wheels.sort();
    let kind = match source {
        Source::Base => "base",
        Source::Embedded(_) => "embedded",
        Source::Late(_) => "late-linked",
    };
    EntryInfo::new(kind, metering == Metering::Fuel, wheels, imports.map(<[String]>::to_vec))
}
