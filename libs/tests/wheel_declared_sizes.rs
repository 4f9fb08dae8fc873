//! Regression test for a finding of the `wheel` fuzz target: `Wheel::from_bytes` reserved
//! memory by each member's *declared* size, so a 1 KiB zip declaring 1 GiB per member made it
//! reserve 1 GiB per member (enough members exhaust the address space and abort the host).
//! Alone in its test binary, so that the largest allocation it records is this test's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Recording;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged after recording the size.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: `ptr` and `layout` come from this allocator, that is from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// A zip of `count` one-byte stored members whose headers declare `declared` bytes each.
fn zip_declaring(count: usize, declared: u32) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for index in 0..count {
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file(format!("m{index}.py"), options).unwrap();
        zip.write_all(b"x").unwrap();
    }
    let mut bytes = zip.finish().unwrap().into_inner();
    // The uncompressed size sits at offset 22 of a local header and 24 of a central one.
    for (signature, offset) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
        let starts: Vec<usize> = bytes.windows(4).enumerate().filter(|(_, w)| w == signature).map(|(i, _)| i).collect();
        for start in starts {
            bytes[start + offset..start + offset + 4].copy_from_slice(&declared.to_le_bytes());
        }
    }
    bytes
}

#[test]
fn declared_member_sizes_reserve_no_memory() {
    let bytes = zip_declaring(8, 0x3FFF_FFFF);
    assert!(bytes.len() < 2048);
    LARGEST.store(0, Ordering::Relaxed);
    let result = eryx_libs::Wheel::from_bytes("declared.whl", &bytes);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(result.is_err(), "no METADATA: the wheel is refused");
    assert!(largest <= 4 << 20, "reading a {} byte wheel allocated {largest} bytes at once", bytes.len());
}
