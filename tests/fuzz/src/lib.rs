//! The checks behind eryx's fuzz targets, one module per parser of untrusted input.
//!
//! Each `fuzz_targets/*.rs` is a one-line call into a module here, so that the properties are
//! plain Rust that a reader can review in one place. A property that does not hold panics,
//! which libFuzzer reports as a crash and saves the input under `artifacts/<target>/`.

pub mod native_extension;
pub mod site;
pub mod table;
pub mod wheel;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Component, Path};

/// Most any single allocation may take while a target runs: inputs are a few KiB, so a bigger
/// one means a size was taken from the input unchecked.
pub const MAX_ALLOCATION: usize = 256 << 20;

/// The system allocator, aborting (a crash libFuzzer saves the input of) on an allocation above
/// [`MAX_ALLOCATION`]. libFuzzer's own `-malloc_limit_mb` needs a sanitizer's malloc hooks, and
/// an allocation that is never touched does not show in the resident memory it watches.
pub struct CappedAllocator;

impl CappedAllocator {
    fn check(size: usize) {
        if size > MAX_ALLOCATION {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "eryx-fuzz: an allocation of {size} bytes; aborting");
            std::process::abort();
        }
    }
}

// SAFETY: every call is forwarded to `System` unchanged, after a check that allocates nothing.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        // SAFETY: `ptr` and `layout` come from this allocator, that is from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

/// True when `path` names a file strictly below the folder it is joined to: relative, no
/// `.`/`..`, no empty segment, no NUL. Anything else could write outside a site-packages tree.
pub fn stays_below(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && !path.ends_with('/')
        && !path.split('/').any(str::is_empty)
        && Path::new(path).components().all(|part| matches!(part, Component::Normal(_)))
}
