//! Recognising late-link inputs by the identity of their files, without reading them.
//!
//! Preparing a sandbox's wheels means inflating every member and checking it against the
//! wheel's RECORD (SHA-256): for numpy that was half of a warm `eryx --wheel numpy-….whl -c
//! 'import numpy'`, spent before the cache key of the compiled component was even known. What
//! the rest of a warm start needs from the wheels is small (the digest naming the
//! site-packages tree, the link identity, the top-level modules), so it is remembered in
//! `wheel-index/<key>` of the cache folder, where the key is a digest of each wheel file's path
//! and identity as `fstat` reports it: device, inode, size, modification and change times (the
//! same identity [`crate::entry_check`] trusts for compiled code). In-memory inputs (wheel
//! bytes, loose extensions) enter the key by the SHA-256 of their bytes; a site-packages
//! folder is not indexed (every file of it would need a `stat`).
//!
//! Why a replaced wheel is never taken for the old one: writing a file's bytes changes its
//! change time, which no user process can set back (`utimensat` sets it to the current time,
//! even when it restores the modification time), and replacing the file by another (rename,
//! copy, a new file that reuses the inode) gives another inode or another change time. So a
//! user who swaps the wheel at the same path for another one, even of the same size with its
//! old modification time, gets another key and the new content. Change times are stamped from
//! a coarse clock, so a write right after the index was made could leave them equal: as in
//! `entry_check`, inputs are looked up and recorded only once every file's change time is
//! [`RACY_MARGIN`](crate::entry_check::RACY_MARGIN) old, and a file is recorded only if its identity was the same before and
//! after it was read. An entry that does not parse, or whose checksum line does not match, is
//! ignored and written again from the wheels.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::cache_entries::WHEEL_INDEX;
use crate::entry_check::{FileIdentity, now_ns};
use crate::files::write_atomic;
use crate::late_input::Input;

/// First line of an entry; another version is treated like no entry.
const HEADER: &str = "eryx-wheel-index-v1";

/// What a warm start needs to know about prepared inputs (the late linker's prepared inputs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Hex digest of the assembled site-packages tree.
    pub(crate) site_digest: String,
    /// The link identity (what the linked bytes depend on).
    pub(crate) identity: [u8; 32],
    /// Whether there are native extensions to link.
    pub(crate) has_extensions: bool,
    /// The top-level modules of the wheels, sorted.
    pub(crate) wheel_modules: Vec<String>,
}

impl Summary {
    /// The entry's text, or `None` when a module name could not be written unambiguously.
    fn encode(&self) -> Option<String> {
        if !self.wheel_modules.iter().all(|module| is_module_name(module)) {
            return None;
        }
        let body = format!(
            "{HEADER}\nsite {}\nidentity {}\nextensions {}\nmodules {}\n",
            self.site_digest,
            hex::encode(self.identity),
            u8::from(self.has_extensions),
            self.wheel_modules.join(" "),
        );
        let check = hex::encode(Sha256::digest(body.as_bytes()));
        Some(format!("{body}check {check}\n"))
    }

    fn decode(text: &str) -> Option<Self> {
        let (body, check) = text.strip_suffix('\n')?.rsplit_once('\n')?;
        let body = format!("{body}\n");
        if check.strip_prefix("check ")? != hex::encode(Sha256::digest(body.as_bytes())) {
            return None;
        }
        let mut lines = body.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let site_digest = lines.next()?.strip_prefix("site ")?;
        let valid_hex = |text: &str| text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_hex(site_digest) {
            return None;
        }
        let identity = hex::decode(lines.next()?.strip_prefix("identity ")?).ok()?.try_into().ok()?;
        let has_extensions = match lines.next()?.strip_prefix("extensions ")? {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        let modules = lines.next()?.strip_prefix("modules ")?;
        let wheel_modules: Vec<String> = modules.split(' ').filter(|m| !m.is_empty()).map(str::to_string).collect();
        if lines.next().is_some() || !wheel_modules.iter().all(|m| is_module_name(m)) {
            return None;
        }
        Some(Summary { site_digest: site_digest.to_string(), identity, has_extensions, wheel_modules })
    }
}

fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
        && !name.contains(char::is_whitespace)
}

/// The key of `inputs` as their files are now, or `None` when they cannot be recognised
/// without reading them (a site-packages folder, a file that cannot be `stat`ed, a file
/// changed less than `margin` ago, a platform without inode numbers). `margin` is
/// [`RACY_MARGIN`](crate::entry_check::RACY_MARGIN) except in tests.
pub(crate) fn inputs_key_with_margin(inputs: &[Input], margin: Duration) -> Option<[u8; 32]> {
    let now = now_ns();
    let mut key = Sha256::new();
    key.update(HEADER.as_bytes());
    key.update([0]);
    key.update(env!("CARGO_PKG_VERSION").as_bytes());
    key.update([0]);
    key.update(eryx_libs::FINGERPRINT.as_bytes());
    let mut field = |tag: u8, bytes: &[u8]| {
        key.update([tag]);
        key.update((bytes.len() as u64).to_le_bytes());
        key.update(bytes);
    };
    for input in inputs {
        match input {
            Input::WheelFile(path) => {
                let identity = FileIdentity::of(&std::fs::metadata(path).ok()?)?;
                if !identity.settled(margin, now) {
                    return None;
                }
                field(0, path.as_os_str().as_encoded_bytes());
                field(1, identity.encode().as_bytes());
            }
            Input::WheelBytes { name, bytes } => {
                field(2, name.as_bytes());
                field(3, &Sha256::digest(bytes));
            }
            Input::Extension { path, bytes } => {
                field(4, path.as_bytes());
                field(5, &Sha256::digest(bytes));
            }
            Input::SiteDir(_) => return None,
        }
    }
    Some(key.finalize().into())
}

/// The entry of `key` in `cache_dir`.
pub(crate) fn entry_path(cache_dir: &Path, key: &[u8; 32]) -> PathBuf {
    cache_dir.join(WHEEL_INDEX).join(hex::encode(key))
}

/// The summary recorded for `key`, if there is a valid one.
pub(crate) fn lookup(cache_dir: &Path, key: &[u8; 32]) -> Option<Summary> {
    let path = entry_path(cache_dir, key);
    let text = std::fs::read_to_string(&path).ok()?;
    let summary = Summary::decode(&text);
    match summary {
        // Its last use, for the cache's least-recently-used order.
        Some(_) => crate::cache_entries::record_use_existing(&path),
        None => tracing::debug!(path = %path.display(), "ignoring an invalid wheel-index entry"),
    }
    summary
}

/// Records `summary` for `key` (a folder that cannot be written only costs reading the wheels
/// on each start).
pub(crate) fn record(cache_dir: &Path, key: &[u8; 32], summary: &Summary) {
    let Some(text) = summary.encode() else { return };
    let path = entry_path(cache_dir, key);
    if let Err(error) = write_atomic(&path, text.as_bytes()) {
        tracing::debug!(path = %path.display(), %error, "cannot write the wheel index");
    }
}

/// Removes the entry of `key` (it described other inputs than the files hold now).
pub(crate) fn forget(cache_dir: &Path, key: &[u8; 32]) {
    let _ = std::fs::remove_file(entry_path(cache_dir, key));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            site_digest: "ab".repeat(32),
            identity: [7; 32],
            has_extensions: true,
            wheel_modules: vec!["numpy".into(), "_cffi_backend".into()],
        }
    }

    #[test]
    fn entry_round_trips_and_a_damaged_one_is_refused() {
        let text = summary().encode().unwrap();
        assert_eq!(Summary::decode(&text), Some(summary()));
        let no_modules = Summary { wheel_modules: vec![], ..summary() };
        assert_eq!(Summary::decode(&no_modules.encode().unwrap()), Some(no_modules));
        // One changed character anywhere, a truncation, or garbage: refused.
        let flipped = text.replacen("identity 07", "identity 08", 1);
        assert_ne!(flipped, text);
        assert_eq!(Summary::decode(&flipped), None);
        assert_eq!(Summary::decode(&text[..text.len() - 10]), None);
        assert_eq!(Summary::decode("garbage"), None);
        assert_eq!(Summary::decode(""), None);
        // A module name with a space cannot be written unambiguously: no entry.
        assert_eq!(Summary { wheel_modules: vec!["a b".into()], ..summary() }.encode(), None);
    }

    #[cfg(unix)]
    #[test]
    fn key_follows_the_file_identity_and_waits_for_it_to_settle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.whl");
        std::fs::write(&path, b"one").unwrap();
        let inputs = [Input::WheelFile(path.clone())];
        let margin = Duration::from_millis(50);
        assert_eq!(inputs_key_with_margin(&inputs, margin), None, "changed just now");
        std::thread::sleep(margin * 2);
        let first = inputs_key_with_margin(&inputs, margin).unwrap();
        assert_eq!(inputs_key_with_margin(&inputs, margin), Some(first));

        // Other bytes of the same size, written in place, with the old modification time put back.
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, b"two").unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(modified).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), modified);
        std::thread::sleep(margin * 2);
        let second = inputs_key_with_margin(&inputs, margin).unwrap();
        assert_ne!(first, second, "the change time moved");

        assert_eq!(inputs_key_with_margin(&[Input::SiteDir(dir.path().into())], margin), None);
        assert_eq!(inputs_key_with_margin(&[Input::WheelFile(dir.path().join("missing.whl"))], margin), None);
    }
}
