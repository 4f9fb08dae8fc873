//! The pins of `libs/pins.txt` (every file the tests download from a registry, with its version
//! and SHA-256) and the files they name, fetched and verified by `libs/pinned.sh`.
//!
//! Standard library only, so that any test crate of the workspace can include it:
//! `#[path = "../../tests/common/pins.rs"] mod pins;`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One line of `libs/pins.txt`.
#[derive(Clone, Debug)]
pub(crate) struct Pin {
    /// How the file is fetched (`pip-wheel`, `pip-sdist`, `npm`, ...).
    pub(crate) client: String,
    /// What the client is asked for (`pytest==8.4.2`).
    pub(crate) requirement: String,
    /// The file's name.
    pub(crate) file: String,
    /// Its SHA-256, lowercase hexadecimal.
    pub(crate) sha256: String,
}

impl Pin {
    /// The version of a `NAME==VERSION` (pip) or `NAME@VERSION` (npm) requirement.
    pub(crate) fn version(&self) -> &str {
        let (_, version) = self
            .requirement
            .rsplit_once("==")
            .or_else(|| self.requirement.rsplit_once('@'))
            .unwrap_or_else(|| panic!("{} names no version", self.requirement));
        version
    }
}

fn libs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the crate is one level below the repository").join("libs")
}

/// The pin called `name` in `libs/pins.txt`.
pub(crate) fn pin(name: &str) -> Pin {
    let path = libs().join("pins.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .find(|line| line.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no pin named {name} in libs/pins.txt"));
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(columns.len(), 5, "libs/pins.txt: {line:?} is not NAME CLIENT REQUIREMENT FILE SHA256");
    Pin {
        client: columns[1].into(),
        requirement: columns[2].into(),
        file: columns[3].into(),
        sha256: columns[4].into(),
    }
}

/// The verified file of the pin called `name`, downloaded by `libs/pinned.sh` with the
/// registry's own client into eryx's cache folder on first use.
pub(crate) fn pinned_file(name: &str) -> PathBuf {
    let out = Command::new(libs().join("pinned.sh"))
        .args(["path", name])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("libs/pinned.sh runs");
    assert!(out.status.success(), "libs/pinned.sh path {name} failed");
    let path = PathBuf::from(String::from_utf8(out.stdout).expect("a UTF-8 path").trim_end());
    assert!(path.is_file(), "libs/pinned.sh path {name} gave {}, which is not a file", path.display());
    path
}
