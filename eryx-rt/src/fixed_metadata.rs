//! File metadata that does not depend on the host, for reproducible snapshots.
//!
//! A snapshot holds the guest's whole linear memory, including memory that was freed or never
//! cleared (stack frames, padding of objects): whatever the guest read during
//! pre-initialisation can be left there. Python reads file metadata on every import (`stat`
//! for the finder and the loader), and wasi-libc asks for a file's metadata hash to fill
//! `st_ino`; on the host those are the times the trees were unpacked and their inode numbers,
//! so two builds of the same inputs made different bytes. The snapshots the precompiler makes
//! at build time are taken on a linker where these four functions of `wasi:filesystem/types`
//! are replaced: times are one fixed instant, and metadata hashes derive from what the guest
//! asked (the descriptor's handle, the path), which a deterministic guest asks identically.
//! Everything else (sizes, types, contents) is the host's, and is itself reproducible. The
//! replacements call the scratch-aware file system (`fs`) and change only what it answers.

use sha2::{Digest, Sha256};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    self as fs, Datetime, DescriptorStat, Host as _, HostDescriptor, MetadataHashValue, PathFlags,
};

use crate::fs::{FsHost, FsView};
use crate::host::State;

/// The interface as wasmtime-wasi registers it (guests importing any 0.2 version resolve to it).
const INTERFACE: &str = "wasi:filesystem/types@0.2.12";

/// The instant every time stamp reads as: 1980-01-01, as in zip files.
const FIXED_TIME: Datetime = Datetime { seconds: 315_532_800, nanoseconds: 0 };

/// Replaces `stat`, `stat-at`, `metadata-hash` and `metadata-hash-at` in `linker`.
pub(crate) fn fix_file_metadata(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(INTERFACE)?;
    types.func_wrap(
        "[method]descriptor.stat",
        |mut store: StoreContextMut<'_, State>, (fd,): (Resource<fs::Descriptor>,)| {
            let mut view = store.data_mut().fs();
            let result = HostDescriptor::stat(&mut view, fd).map(fixed_times);
            Ok((lower_error(&mut view, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, State>, (fd, flags, path): (Resource<fs::Descriptor>, PathFlags, String)| {
            let mut view = store.data_mut().fs();
            let result = HostDescriptor::stat_at(&mut view, fd, flags, path).map(fixed_times);
            Ok((lower_error(&mut view, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.metadata-hash",
        |mut store: StoreContextMut<'_, State>, (fd,): (Resource<fs::Descriptor>,)| {
            let rep = fd.rep();
            let mut view = store.data_mut().fs();
            let result = HostDescriptor::metadata_hash(&mut view, fd).map(|_| hash_of(rep, ""));
            Ok((lower_error(&mut view, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.metadata-hash-at",
        |mut store: StoreContextMut<'_, State>, (fd, flags, path): (Resource<fs::Descriptor>, PathFlags, String)| {
            let rep = fd.rep();
            let hash = hash_of(rep, &path);
            let mut view = store.data_mut().fs();
            let result = HostDescriptor::metadata_hash_at(&mut view, fd, flags, path).map(|_| hash);
            Ok((lower_error(&mut view, result)?,))
        },
    )?;
    Ok(())
}

fn fixed_times(mut stat: DescriptorStat) -> DescriptorStat {
    for time in
        [&mut stat.data_access_timestamp, &mut stat.data_modification_timestamp, &mut stat.status_change_timestamp]
    {
        if time.is_some() {
            *time = Some(FIXED_TIME);
        }
    }
    stat
}

fn hash_of(rep: u32, path: &str) -> MetadataHashValue {
    let digest = Sha256::new().chain_update(rep.to_le_bytes()).chain_update(path.as_bytes()).finalize();
    let half = |range: std::ops::Range<usize>| u64::from_le_bytes(digest[range].try_into().expect("8 bytes"));
    MetadataHashValue { lower: half(0..8), upper: half(8..16) }
}

/// A WASI error becomes the guest's error code; anything else traps, as in wasmtime-wasi.
fn lower_error<T>(
    view: &mut FsView<'_>,
    result: wasmtime_wasi::p2::FsResult<T>,
) -> wasmtime::Result<Result<T, fs::ErrorCode>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(error) => Ok(Err(view.convert_error_code(error)?)),
    }
}
