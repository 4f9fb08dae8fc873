//! Late linking: a sandbox with native extensions gets a component linked at its creation.
//!
//! The inputs (wheels, loose extensions, site-packages folders) are assembled into one
//! site-packages tree with eryx-libs' [`SitePackages`] ([`LateLinker::prepare`]); its native
//! extensions are linked with the base libraries by eryx-libs' linker, the one eryx-build and
//! this crate's build script use, so the same inputs give the same bytes on every path.
//!
//! A component's cache key derives from the SHA-256 of its linked bytes, so a cache hit must
//! know that SHA-256 without linking: the linker remembers "input identity → linked SHA-256" in
//! memory and in a small index in the cache folder (`link-index/<identity>`), where the identity
//! is a digest of the extensions' paths and bytes, the base libraries and eryx's version. A
//! process that sees the same inputs again also skips parsing and hashing the wheels: the
//! prepared inputs are remembered by a digest of their raw bytes. Across processes, wheel files
//! are recognised by their file identity ([`crate::wheel_index`]): a warm start reads no wheel
//! at all unless the site-packages tree or the linked bytes must be made again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use eryx_libs::{BaseLibraries, NativeExtension, SitePackages, Wheel, WheelError};
use sha2::{Digest, Sha256};

use crate::entry_check::RACY_MARGIN;
use crate::error::BuildError;
use crate::files::{install_dir, is_installed, write_atomic};
pub(crate) use crate::late_input::Input;
use crate::wheel_index::{self, Summary};

/// Inputs assembled and verified: what a warm start needs ([`Summary`]) at once, the
/// site-packages tree and the extensions to link when they are needed (read again from the
/// inputs when the summary came from the wheel index).
pub(crate) struct Prepared {
    summary: Summary,
    detail: OnceLock<Detail>,
    /// The inputs, to read the detail from.
    inputs: Vec<Input>,
    /// The wheel-index entry the summary came from (removed if the inputs no longer match it).
    index_entry: Option<(PathBuf, [u8; 32])>,
}

/// The assembled tree and the extensions to link.
struct Detail {
    site: SitePackages,
    extensions: Vec<NativeExtension>,
}

impl Prepared {
    /// Whether there is anything to link (without extensions, the base component serves).
    pub(crate) fn has_extensions(&self) -> bool {
        self.summary.has_extensions
    }

    pub(crate) fn site_digest(&self) -> &str {
        &self.summary.site_digest
    }

    /// The top-level modules of the wheels among the inputs, sorted.
    pub(crate) fn wheel_modules(&self) -> &[String] {
        &self.summary.wheel_modules
    }

    /// Writes the site-packages tree under `root` (once) and returns its folder.
    pub(crate) fn install_site(&self, root: &Path) -> Result<PathBuf, BuildError> {
        let target = root.join("site-packages").join(&self.summary.site_digest);
        if !is_installed(&target) {
            let detail = self.detail()?;
            install_dir(&target, |staging| detail.site.write_to(staging))?;
        }
        Ok(target)
    }

    /// The tree and extensions: read and verified again if the summary came from the index,
    /// and checked to be what the summary describes.
    fn detail(&self) -> Result<&Detail, BuildError> {
        if let Some(detail) = self.detail.get() {
            return Ok(detail);
        }
        let (summary, detail) = assemble(&read_inputs(&self.inputs)?)?;
        if summary != self.summary {
            if let Some((cache_dir, key)) = &self.index_entry {
                wheel_index::forget(cache_dir, key);
            }
            return Err(BuildError::InputsChanged { inputs: describe_inputs(&self.inputs) });
        }
        Ok(self.detail.get_or_init(|| detail))
    }
}

/// A linked component: its bytes and their hex SHA-256.
pub(crate) struct Linked {
    pub(crate) wasm: Vec<u8>,
    pub(crate) sha256: String,
}

/// The late linker of a runtime: its base libraries and what it remembers.
#[derive(Default)]
pub(crate) struct LateLinker {
    base: OnceLock<BaseLibraries>,
    /// Raw-input digest, or wheel-index key, → prepared inputs.
    prepared: Mutex<HashMap<[u8; 32], Arc<Prepared>>>,
    /// Input identity → hex SHA-256 of the linked component.
    linked: Mutex<HashMap<[u8; 32], String>>,
}

impl LateLinker {
    /// Reads the inputs, verifies wheels and assembles the tree, or finds them prepared already:
    /// in memory, or, for inputs recognised by their files' identity, in the wheel index in
    /// `cache_dir` (then nothing is read until the tree or the extensions are needed).
    pub(crate) fn prepare(&self, inputs: &[Input], cache_dir: Option<&Path>) -> Result<Arc<Prepared>, BuildError> {
        self.prepare_with_margin(inputs, cache_dir, RACY_MARGIN)
    }

    fn prepare_with_margin(
        &self,
        inputs: &[Input],
        cache_dir: Option<&Path>,
        margin: Duration,
    ) -> Result<Arc<Prepared>, BuildError> {
        let key = wheel_index::inputs_key_with_margin(inputs, margin);
        if let Some(key) = key {
            if let Some(prepared) = self.remembered(&key) {
                return Ok(prepared);
            }
            if let Some(dir) = cache_dir
                && let Some(summary) = wheel_index::lookup(dir, &key)
            {
                let prepared = Arc::new(Prepared {
                    summary,
                    detail: OnceLock::new(),
                    inputs: inputs.to_vec(),
                    index_entry: Some((dir.to_path_buf(), key)),
                });
                return Ok(self.remember(key, prepared));
            }
        }
        let raw = read_inputs(inputs)?;
        let raw_digest = digest_raw(&raw);
        let prepared = match self.remembered(&raw_digest) {
            Some(prepared) => prepared,
            None => {
                let (summary, detail) = assemble(&raw)?;
                let prepared =
                    Prepared { summary, detail: OnceLock::from(detail), inputs: inputs.to_vec(), index_entry: None };
                self.remember(raw_digest, Arc::new(prepared))
            }
        };
        // Recorded only if no file changed while it was read (same key before and after).
        if let Some(key) = key
            && wheel_index::inputs_key_with_margin(inputs, margin) == Some(key)
        {
            if let Some(dir) = cache_dir {
                wheel_index::record(dir, &key, &prepared.summary);
            }
            self.remember(key, prepared.clone());
        }
        Ok(prepared)
    }

    fn remembered(&self, key: &[u8; 32]) -> Option<Arc<Prepared>> {
        self.prepared.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    fn remember(&self, key: [u8; 32], prepared: Arc<Prepared>) -> Arc<Prepared> {
        self.prepared.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(prepared).clone()
    }

    /// The SHA-256 of the component these inputs link to, if it is known (from memory, or from
    /// the index in `cache_dir`), without linking.
    pub(crate) fn known_sha256(&self, prepared: &Prepared, cache_dir: Option<&Path>) -> Option<String> {
        if let Some(sha256) = self.linked.lock().unwrap_or_else(|e| e.into_inner()).get(&prepared.summary.identity) {
            return Some(sha256.clone());
        }
        let path = index_path(cache_dir?, &prepared.summary.identity);
        let sha256 = std::fs::read_to_string(&path).ok()?;
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return None;
        }
        // Its last use, for the cache's least-recently-used order.
        crate::cache_entries::record_use_existing(&path);
        self.linked.lock().unwrap_or_else(|e| e.into_inner()).insert(prepared.summary.identity, sha256.clone());
        Some(sha256)
    }

    /// Links the component and remembers its SHA-256 (in memory, and in the index in `cache_dir`).
    pub(crate) fn link(&self, prepared: &Prepared, cache_dir: Option<&Path>) -> Result<Linked, BuildError> {
        let detail = prepared.detail()?;
        let base = self.base.get_or_init(BaseLibraries::load);
        let wasm = eryx_libs::link_component(base, &detail.extensions).map_err(|error| BuildError::Link {
            error,
            origins: detail
                .extensions
                .iter()
                .map(|e| (e.guest_path.clone(), detail.site.origin_of_guest_path(&e.guest_path)))
                .collect(),
        })?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        self.linked.lock().unwrap_or_else(|e| e.into_inner()).insert(prepared.summary.identity, sha256.clone());
        if let Some(dir) = cache_dir {
            let path = index_path(dir, &prepared.summary.identity);
            if let Err(error) = write_atomic(&path, sha256.as_bytes()) {
                tracing::warn!(path = %path.display(), %error, "cannot write the late-link index");
            }
        }
        Ok(Linked { wasm, sha256 })
    }
}

/// Assembles read inputs into the site-packages tree, verifying every wheel.
fn assemble(raw: &[Raw]) -> Result<(Summary, Detail), BuildError> {
    let mut site = SitePackages::new();
    let mut wheel_modules = std::collections::BTreeSet::new();
    for input in raw {
        match input {
            Raw::Wheel { origin, bytes } => {
                let wheel = Wheel::from_bytes(origin.clone(), bytes)?;
                wheel_modules.extend(wheel.top_level_modules());
                site.add_wheel(&wheel)?
            }
            Raw::Extension { path, bytes } => site.add_native_extension(path, bytes.to_vec())?,
            Raw::File { path, bytes, origin: _ } if eryx_libs::wheel::is_native_extension(path) => {
                site.add_native_extension(path, bytes.to_vec())?
            }
            Raw::File { path, bytes, origin } => site.add_file(path, bytes.to_vec(), origin)?,
        }
    }
    let extensions = site.native_extensions();
    let mut identity = Sha256::new();
    identity.update(b"eryx-late-link-v2\0");
    identity.update(env!("CARGO_PKG_VERSION").as_bytes());
    identity.update([0]);
    identity.update(eryx_libs::FINGERPRINT.as_bytes());
    for extension in &extensions {
        identity.update((extension.guest_path.len() as u64).to_le_bytes());
        identity.update(extension.guest_path.as_bytes());
        identity.update(Sha256::digest(&extension.bytes));
    }
    let summary = Summary {
        site_digest: hex::encode(site.digest()),
        identity: identity.finalize().into(),
        has_extensions: !extensions.is_empty(),
        wheel_modules: wheel_modules.into_iter().collect(),
    };
    Ok((summary, Detail { site, extensions }))
}

/// The inputs named for an error message.
fn describe_inputs(inputs: &[Input]) -> String {
    let names: Vec<String> = inputs
        .iter()
        .map(|input| match input {
            Input::WheelFile(path) | Input::SiteDir(path) => path.display().to_string(),
            Input::WheelBytes { name, .. } => name.clone(),
            Input::Extension { path, .. } => path.clone(),
        })
        .collect();
    names.join(", ")
}

fn index_path(cache_dir: &Path, identity: &[u8; 32]) -> PathBuf {
    cache_dir.join("link-index").join(hex::encode(identity))
}

enum Raw {
    Wheel { origin: String, bytes: Arc<[u8]> },
    Extension { path: String, bytes: Arc<[u8]> },
    File { path: String, bytes: Arc<[u8]>, origin: String },
}

fn read_inputs(inputs: &[Input]) -> Result<Vec<Raw>, BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let mut raw = Vec::new();
    for input in inputs {
        match input {
            Input::WheelFile(path) => {
                let bytes = std::fs::read(path).map_err(|source| {
                    BuildError::Wheel(WheelError::Read { wheel: path.display().to_string(), source })
                })?;
                raw.push(Raw::Wheel { origin: path.display().to_string(), bytes: bytes.into() });
            }
            Input::WheelBytes { name, bytes } => raw.push(Raw::Wheel { origin: name.clone(), bytes: bytes.clone() }),
            Input::Extension { path, bytes } => raw.push(Raw::Extension { path: path.clone(), bytes: bytes.clone() }),
            Input::SiteDir(dir) => {
                let mut stack = vec![dir.clone()];
                while let Some(current) = stack.pop() {
                    for entry in std::fs::read_dir(&current).map_err(io(&current))? {
                        let entry = entry.map_err(io(&current))?;
                        let path = entry.path();
                        if entry.file_type().map_err(io(&path))?.is_dir() {
                            stack.push(path);
                            continue;
                        }
                        let relative =
                            path.strip_prefix(dir).expect("walked below dir").to_string_lossy().replace('\\', "/");
                        let bytes = std::fs::read(&path).map_err(io(&path))?;
                        raw.push(Raw::File { path: relative, bytes: bytes.into(), origin: dir.display().to_string() });
                    }
                }
            }
        }
    }
    Ok(raw)
}

fn digest_raw(raw: &[Raw]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for input in raw {
        let (tag, name, bytes): (u8, &str, &[u8]) = match input {
            Raw::Wheel { origin, bytes } => (0, origin, bytes),
            Raw::Extension { path, bytes } => (1, path, bytes),
            Raw::File { path, bytes, .. } => (2, path, bytes),
        };
        hasher.update([tag]);
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(Sha256::digest(bytes));
    }
    hasher.finalize().into()
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Write;

    use super::*;

    const MARGIN: Duration = Duration::from_millis(50);

    /// A pure-Python wheel of one module `swap` whose file holds `body` (stored, not deflated:
    /// equal-length bodies give equal-size wheels).
    fn wheel(body: &str) -> Vec<u8> {
        use base64::Engine;
        let files = [
            ("swap.py", body.as_bytes().to_vec()),
            ("swap-0.1.dist-info/METADATA", b"Metadata-Version: 2.1\nName: swap\nVersion: 0.1\n".to_vec()),
            ("swap-0.1.dist-info/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec()),
        ];
        let mut record = String::new();
        for (path, bytes) in &files {
            let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
            record.push_str(&format!("{path},sha256={hash},{}\n", bytes.len()));
        }
        record.push_str("swap-0.1.dist-info/RECORD,,\n");
        let mut out = Vec::new();
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut out));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for (path, bytes) in files.iter().chain([&("swap-0.1.dist-info/RECORD", record.into_bytes())]) {
            zip.start_file(*path, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        out
    }

    /// Writes `bytes` over the file at `path` in place and puts its modification time back.
    fn overwrite_keeping_mtime(path: &Path, bytes: &[u8]) {
        let modified = std::fs::metadata(path).unwrap().modified().unwrap();
        let mut file = std::fs::File::options().write(true).truncate(true).open(path).unwrap();
        file.write_all(bytes).unwrap();
        file.set_modified(modified).unwrap();
    }

    fn installed_module(prepared: &Prepared, root: &Path) -> String {
        std::fs::read_to_string(prepared.install_site(root).unwrap().join("swap.py")).unwrap()
    }

    #[test]
    fn index_hit_reads_nothing_until_needed_and_swaps_corruption_and_races_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let path = dir.path().join("swap-0.1-py3-none-any.whl");
        let (one, two) = (wheel("VALUE = 1\n"), wheel("VALUE = 2\n"));
        assert_eq!(one.len(), two.len());
        std::fs::write(&path, &one).unwrap();
        let inputs = [Input::WheelFile(path.clone())];
        let prepare = |linker: &LateLinker| linker.prepare_with_margin(&inputs, Some(&cache), MARGIN).unwrap();

        // Too fresh to recognise by identity: read, and not recorded.
        let first = prepare(&LateLinker::default());
        assert!(first.detail.get().is_some());
        assert!(!cache.join("wheel-index").exists());
        std::thread::sleep(MARGIN * 2);
        let read = prepare(&LateLinker::default());
        assert!(read.detail.get().is_some(), "a miss reads the wheel");
        let key = wheel_index::inputs_key_with_margin(&inputs, MARGIN).unwrap();
        assert!(wheel_index::lookup(&cache, &key).is_some(), "and records it");

        // Another process: nothing read until the tree is needed, then the same tree.
        let hit = prepare(&LateLinker::default());
        assert!(hit.detail.get().is_none(), "a hit reads nothing");
        assert_eq!(hit.summary, read.summary);
        assert_eq!(hit.wheel_modules(), ["swap"]);
        assert_eq!(installed_module(&hit, &dir.path().join("root-a")), "VALUE = 1\n");

        // A corrupt entry is ignored, and written again from the wheel.
        let entry = wheel_index::entry_path(&cache, &key);
        std::fs::write(&entry, "eryx-wheel-index-v1\nsite 00\n").unwrap();
        let rebuilt = prepare(&LateLinker::default());
        assert!(rebuilt.detail.get().is_some());
        assert_eq!(rebuilt.summary, read.summary);
        assert_eq!(wheel_index::lookup(&cache, &key), Some(read.summary.clone()));

        // The same path, other bytes of the same size, the old modification time: the new
        // content, in this process (its memory) and in another (the index).
        let linker = LateLinker::default();
        assert!(prepare(&linker).detail.get().is_none(), "remembered by identity");
        overwrite_keeping_mtime(&path, &two);
        let swapped = prepare(&linker);
        assert_ne!(swapped.site_digest(), read.site_digest());
        assert_eq!(installed_module(&swapped, &dir.path().join("root-b")), "VALUE = 2\n");
        std::thread::sleep(MARGIN * 2);
        let again = prepare(&LateLinker::default());
        assert_eq!(again.site_digest(), swapped.site_digest());
        let key_two = wheel_index::inputs_key_with_margin(&inputs, MARGIN).unwrap();
        assert_ne!(key_two, key);

        // Swapped between the look-up and the read of the contents: a clear error, and the
        // entry is dropped so that the next build reads the wheel.
        let hit = prepare(&LateLinker::default());
        assert!(hit.detail.get().is_none());
        overwrite_keeping_mtime(&path, &one);
        match hit.install_site(&dir.path().join("root-c")) {
            Err(BuildError::InputsChanged { inputs }) => assert!(inputs.contains("swap-0.1"), "{inputs}"),
            other => panic!("expected InputsChanged, got {:?}", other.map(|_| ())),
        }
        assert!(wheel_index::lookup(&cache, &key_two).is_none());
        let fresh = prepare(&LateLinker::default());
        assert_eq!(installed_module(&fresh, &dir.path().join("root-d")), "VALUE = 1\n");
    }
}
