//! A sandbox's site-packages: the files of its wheels plus loose native extensions.
//!
//! Both the late path (eryx-rt, into its cache folder) and the build-time path (eryx-build,
//! into OUT_DIR) assemble the same tree from the same inputs with [`SitePackages`], and link
//! the same [`NativeExtension`]s from it. A native extension's file stays in the tree (CPython
//! looks for it on `sys.path`), but empty: its code is linked into the component and the
//! guest's `dlopen` never reads the file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::base::SITE_PACKAGES_GUEST_DIR;
use crate::link::NativeExtension;
use crate::wheel::{Wheel, WheelError, is_native_extension, is_safe_file_path};

/// The files of a site-packages tree, by path, with the input each came from.
#[derive(Default)]
pub struct SitePackages {
    files: BTreeMap<String, (Vec<u8>, String)>,
}

impl SitePackages {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every file of `wheel`; a path that another input provides already is an error.
    pub fn add_wheel(&mut self, wheel: &Wheel) -> Result<(), WheelError> {
        for file in &wheel.files {
            self.add(&file.path, file.bytes.clone(), &wheel.origin)?;
        }
        Ok(())
    }

    /// Adds a loose native extension at `path` (relative to site-packages, e.g. `pkg/_x.cpython-314-wasm32-wasi.so`).
    pub fn add_native_extension(&mut self, path: &str, bytes: Vec<u8>) -> Result<(), WheelError> {
        self.add(path.trim_start_matches('/'), bytes, &format!("native extension {path}"))
    }

    /// Adds any other file (from a site-packages folder given by the user).
    pub fn add_file(&mut self, path: &str, bytes: Vec<u8>, origin: &str) -> Result<(), WheelError> {
        self.add(path, bytes, origin)
    }

    fn add(&mut self, path: &str, bytes: Vec<u8>, origin: &str) -> Result<(), WheelError> {
        // `write_to` joins the path to its folder: only plain relative paths stay inside it,
        // and a name longer than file systems take would fail only there.
        if !is_safe_file_path(path) {
            return Err(WheelError::UnsafeSitePath { path: path.into(), origin: origin.into() });
        }
        let conflict = |path: &str, first: &str| WheelError::Conflict {
            path: path.into(),
            first: first.into(),
            second: origin.into(),
        };
        if let Some((_, first)) = self.files.get(path) {
            return Err(conflict(path, first));
        }
        // One path cannot be a file and also a folder holding another file.
        for (at, _) in path.match_indices('/') {
            if let Some((_, first)) = self.files.get(&path[..at]) {
                return Err(conflict(&path[..at], first));
            }
        }
        let folder = format!("{path}/");
        if let Some((_, (_, first))) = self.files.range(folder.clone()..).next().filter(|(p, _)| p.starts_with(&folder))
        {
            return Err(conflict(path, first));
        }
        self.files.insert(path.to_string(), (bytes, origin.to_string()));
        Ok(())
    }

    /// Whether no file was added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The native extensions to link, each under the guest path CPython will `dlopen`.
    pub fn native_extensions(&self) -> Vec<NativeExtension> {
        self.files
            .iter()
            .filter(|(path, _)| is_native_extension(path))
            .map(|(path, (bytes, _))| NativeExtension::new(format!("{SITE_PACKAGES_GUEST_DIR}/{path}"), bytes.clone()))
            .collect()
    }

    /// The input (wheel, folder) that provided the extension at `guest_path`, for messages.
    pub fn origin_of_guest_path(&self, guest_path: &str) -> String {
        let path = guest_path.strip_prefix(SITE_PACKAGES_GUEST_DIR).unwrap_or(guest_path).trim_start_matches('/');
        self.files.get(path).map(|(_, origin)| origin.clone()).unwrap_or_default()
    }

    /// SHA-256 over every path and content: equal trees, equal digests, whatever the input order.
    pub fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for (path, (bytes, _)) in &self.files {
            hasher.update((path.len() as u64).to_le_bytes());
            hasher.update(path.as_bytes());
            hasher.update(Sha256::digest(bytes));
        }
        hasher.finalize().into()
    }

    /// The files as they are installed, sorted by path: extension files are empty.
    pub fn installed_files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(path, (bytes, _))| {
            let contents: &[u8] = if is_native_extension(path) { &[] } else { bytes };
            (path.as_str(), contents)
        })
    }

    /// Writes the tree under `dir` (which must exist and be empty).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (path, contents) in self.installed_files() {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::File::create(&target)?.write_all(contents)?;
        }
        Ok(())
    }
}
