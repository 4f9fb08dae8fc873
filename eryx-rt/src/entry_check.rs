//! Checking a cache file without reading every byte of it on every load.
//!
//! A compiled component is 30-50 MB; hashing it (XXH3) on every process start cost about 6 ms,
//! more than everything else `eryx -c pass` does. Each checked file `F` has a sidecar `F.check`
//! that records its size and XXH3-128 checksum, and the identity of the file as it was when
//! the checksum was last verified: device, inode, size, modification and change times (all in
//! nanoseconds). A load opens the file and compares its `fstat` with that identity:
//!
//! * same identity: the file is the one that was verified, unchanged since: no hashing;
//! * any other identity (the file was rewritten, touched, copied, restored from a backup,
//!   replaced by another file, or the sidecar is from an older eryx): the whole file is hashed
//!   once; if the checksum matches, the new identity is recorded, else the entry is bad.
//!
//! Why this is safe against corrupt or swapped entries: every write to a file's bytes changes
//! its modification and change times, and the change time cannot be set back by any user
//! process (`utimensat` sets it to the current time); replacing the file (rename, copy, a new
//! file that reuses the inode number) gives another inode or another change time. What it does
//! not catch is what no check of metadata can: bits that rot on the medium under an unchanged
//! inode, which the filesystem's own checks are for, and a writer that forges the sidecar too
//! (anyone who can write the cache folder can also write a matching checksum). On systems
//! without inode numbers every load hashes the whole file, as before.
//!
//! Timestamps are coarse (the kernel stamps files from a clock that advances in ticks of a few
//! milliseconds, some filesystems in seconds), so a write right after a verification could
//! leave the times unchanged. As git does for its index, an identity is therefore recorded
//! only once the file's change time is [`RACY_MARGIN`] older than the verification: a freshly
//! written entry is hashed on its first load and trusted by identity from then on.
//!
//! Sidecars of older eryx versions (`F.xxh3`, the bare checksum) are still accepted: the file
//! is hashed against it once and a `F.check` is written.

use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::files::write_atomic;

/// How much older than the verification a file's change time must be for its identity to be
/// recorded (more than the coarsest timestamp granularity of common filesystems).
pub(crate) const RACY_MARGIN: Duration = Duration::from_secs(2);

/// First line of a sidecar; another version is treated like no sidecar.
const HEADER: &str = "eryx-entry-check-v1";

/// The identity of a file as `fstat` reports it. Equal identities mean the same, unchanged file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileIdentity {
    /// `None` where the platform has no inode numbers and change times.
    #[cfg(unix)]
    pub(crate) fn of(metadata: &Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Some(FileIdentity {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime_ns: ns(metadata.mtime(), metadata.mtime_nsec()),
            ctime_ns: ns(metadata.ctime(), metadata.ctime_nsec()),
        })
    }

    #[cfg(not(unix))]
    pub(crate) fn of(_metadata: &Metadata) -> Option<Self> {
        None
    }

    /// Whether both name the same file (device and inode), changed or not.
    pub(crate) fn same_inode(&self, other: &Self) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }

    /// Whether the file's metadata last changed more than `margin` before `now_ns` (nanoseconds
    /// since the Unix epoch): only then can a later write not leave every field unchanged.
    pub(crate) fn settled(&self, margin: Duration, now_ns: i128) -> bool {
        self.ctime_ns + (margin.as_nanos() as i128) < now_ns
    }

    /// The identity as text (five decimal numbers).
    pub(crate) fn encode(&self) -> String {
        format!("{} {} {} {} {}", self.dev, self.ino, self.size, self.mtime_ns, self.ctime_ns)
    }

    fn decode(text: &str) -> Option<Self> {
        let mut fields = text.split(' ');
        let identity = FileIdentity {
            dev: fields.next()?.parse().ok()?,
            ino: fields.next()?.parse().ok()?,
            size: fields.next()?.parse().ok()?,
            mtime_ns: fields.next()?.parse().ok()?,
            ctime_ns: fields.next()?.parse().ok()?,
        };
        fields.next().is_none().then_some(identity)
    }
}

/// The current time in nanoseconds since the Unix epoch (to compare with change times).
pub(crate) fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as i128
}

/// What a sidecar says about its file.
#[derive(Debug, PartialEq, Eq)]
struct Sidecar {
    size: u64,
    checksum: u128,
    verified: Option<FileIdentity>,
}

impl Sidecar {
    fn encode(&self) -> String {
        let verified = self.verified.map(|identity| identity.encode()).unwrap_or_else(|| "-".into());
        format!("{HEADER}\nsize {}\nxxh3-128 {:032x}\nverified {verified}\n", self.size, self.checksum)
    }

    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let size = lines.next()?.strip_prefix("size ")?.parse().ok()?;
        let checksum = u128::from_str_radix(lines.next()?.strip_prefix("xxh3-128 ")?, 16).ok()?;
        let verified = match lines.next()?.strip_prefix("verified ")? {
            "-" => None,
            identity => Some(FileIdentity::decode(identity)?),
        };
        Some(Sidecar { size, checksum, verified })
    }
}

/// The sidecar of `path`: `path` with `.check` appended.
pub(crate) fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".check");
    PathBuf::from(name)
}

fn legacy_sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".xxh3");
    PathBuf::from(name)
}

/// How a file passed its check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verified {
    /// Its identity matched the one recorded when it was last hashed.
    ByIdentity,
    /// It was hashed in full (first load after a change of identity, or no identity known).
    ByChecksum,
}

/// Checks the open `file` at `path` against its sidecar. `None`: no sidecar, or the file does
/// not match it (the caller removes the entry). `mapped` gives the file's bytes when it has to
/// be hashed (a memory map, so only pages that are hashed are read).
pub(crate) fn verify(path: &Path, file: &File, mapped: impl FnOnce() -> Option<memmap2::Mmap>) -> Option<Verified> {
    verify_with_margin(path, &sidecar_path(path), file, mapped, RACY_MARGIN)
}

/// [`verify`] with the sidecar at `sidecar` (for a file whose folder the guest sees: its
/// sidecar stays outside, so no host file identity is visible to the guest).
pub(crate) fn verify_beside(
    path: &Path,
    sidecar: &Path,
    file: &File,
    mapped: impl FnOnce() -> Option<memmap2::Mmap>,
) -> Option<Verified> {
    verify_with_margin(path, sidecar, file, mapped, RACY_MARGIN)
}

fn verify_with_margin(
    path: &Path,
    sidecar_file: &Path,
    file: &File,
    mapped: impl FnOnce() -> Option<memmap2::Mmap>,
    margin: Duration,
) -> Option<Verified> {
    let now = now_ns();
    let identity = file.metadata().ok().and_then(|metadata| FileIdentity::of(&metadata));
    let sidecar = std::fs::read_to_string(sidecar_file).ok().and_then(|text| Sidecar::decode(&text));
    if let Some(sidecar) = &sidecar
        && sidecar.verified.is_some()
        && sidecar.verified == identity
        && identity.is_some_and(|identity| identity.size == sidecar.size)
    {
        return Some(Verified::ByIdentity);
    }
    let expected = match sidecar {
        Some(sidecar) => sidecar.checksum,
        None => {
            let legacy = std::fs::read(legacy_sidecar_path(path)).ok()?;
            u128::from_le_bytes(legacy.try_into().ok()?)
        }
    };
    let bytes = mapped()?;
    if xxhash_rust::xxh3::xxh3_128(&bytes) != expected {
        return None;
    }
    // Record what was verified, so the next load skips hashing; a cache folder that cannot be
    // written only costs the hash on each load.
    let settled = identity.filter(|identity| identity.settled(margin, now));
    let sidecar = Sidecar { size: bytes.len() as u64, checksum: expected, verified: settled };
    if let Err(error) = write_atomic(sidecar_file, sidecar.encode().as_bytes()) {
        tracing::debug!(path = %sidecar_file.display(), %error, "cannot record the verified identity");
    }
    Some(Verified::ByChecksum)
}

/// Records `bytes` as the content of the file at `path`, which was just written with them. Its
/// identity is not recorded yet (its times are too recent to rely on): the first load hashes it.
pub(crate) fn record(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    record_beside(&sidecar_path(path), bytes)
}

/// [`record`] with the sidecar at `sidecar`.
pub(crate) fn record_beside(sidecar: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let sidecar_data =
        Sidecar { size: bytes.len() as u64, checksum: xxhash_rust::xxh3::xxh3_128(bytes), verified: None };
    write_atomic(sidecar, sidecar_data.encode().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(path: &Path) -> Option<memmap2::Mmap> {
        let file = File::open(path).ok()?;
        // SAFETY: test files are not changed while mapped.
        unsafe { memmap2::Mmap::map(&file) }.ok()
    }

    /// Short enough for a test, longer than the kernel's timestamp tick.
    const TEST_MARGIN: Duration = Duration::from_millis(50);

    fn check(path: &Path) -> Option<Verified> {
        check_with_margin(path, TEST_MARGIN)
    }

    /// A check for which the file is still too fresh, however long the test took to get here
    /// (a loaded machine can take more than [`TEST_MARGIN`] between two statements).
    fn check_fresh(path: &Path) -> Option<Verified> {
        check_with_margin(path, Duration::from_secs(3600))
    }

    fn check_with_margin(path: &Path, margin: Duration) -> Option<Verified> {
        let file = File::open(path).unwrap();
        verify_with_margin(path, &sidecar_path(path), &file, || map(path), margin)
    }

    fn settle() {
        std::thread::sleep(TEST_MARGIN * 2);
    }

    #[test]
    fn sidecar_round_trips() {
        let sidecar = Sidecar {
            size: 7,
            checksum: 0x0123_4567_89ab_cdef_0011_2233_4455_6677,
            verified: Some(FileIdentity { dev: 1, ino: 2, size: 7, mtime_ns: -3, ctime_ns: 4 }),
        };
        assert_eq!(Sidecar::decode(&sidecar.encode()), Some(sidecar));
        assert_eq!(Sidecar::decode("eryx-entry-check-v0\nsize 1\n"), None);
    }

    #[test]
    fn unchanged_file_is_trusted_by_identity_and_a_changed_one_is_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry");
        std::fs::write(&path, b"compiled code").unwrap();
        record(&path, b"compiled code").unwrap();
        // Too fresh to trust its times: hashed, and hashed again until its times have settled.
        assert_eq!(check_fresh(&path), Some(Verified::ByChecksum));
        assert_eq!(check_fresh(&path), Some(Verified::ByChecksum));
        settle();
        assert_eq!(check(&path), Some(Verified::ByChecksum));
        assert_eq!(check(&path), Some(Verified::ByIdentity));

        // Same bytes, new identity (a copy over it): hashed once, then trusted again.
        let copy = dir.path().join("copy");
        std::fs::write(&copy, b"compiled code").unwrap();
        std::fs::rename(&copy, &path).unwrap();
        settle();
        assert_eq!(check(&path), Some(Verified::ByChecksum));
        assert_eq!(check(&path), Some(Verified::ByIdentity));

        // Same size, other bytes, written in place right after a check: caught.
        std::fs::write(&path, b"compiled cod3").unwrap();
        assert_eq!(check(&path), None);
    }

    #[test]
    fn swapped_file_fails_and_legacy_sidecar_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry");
        std::fs::write(&path, b"one").unwrap();
        record(&path, b"one").unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, b"two").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(check(&path), None);

        std::fs::remove_file(sidecar_path(&path)).unwrap();
        std::fs::write(legacy_sidecar_path(&path), xxhash_rust::xxh3::xxh3_128(b"two").to_le_bytes()).unwrap();
        settle();
        assert_eq!(check(&path), Some(Verified::ByChecksum));
        assert_eq!(check(&path), Some(Verified::ByIdentity));
    }
}
