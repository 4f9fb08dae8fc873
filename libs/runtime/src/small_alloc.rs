//! A small-object allocator for CPython's object and `PyMem` domains, with free lists.
//!
//! Why: the libpython of the pinned base libraries is built without pymalloc, so every
//! `PyObject_Malloc`/`PyObject_Free` (every int, float, tuple, frame object...) went through
//! two wrappers to wasi-libc's `malloc`/`free` (dlmalloc). Profiles of a pure-Python loop put a
//! quarter of its time there. mimalloc, which this libpython can select at start-up, was faster
//! but spreads its heap over the memory that the start-up snapshot captures, which made a new
//! sandbox copy that memory instead of mapping it copy-on-write. This allocator keeps its pools
//! inside libc's heap, so the snapshot stays as dense as before.
//!
//! How (the design of CPython's own pymalloc, written small):
//! * requests of up to [`MAX_SMALL`] bytes are rounded up to a multiple of [`GRANULE`] (a size
//!   class); larger ones, and everything this allocator did not hand out, go to the allocator
//!   that was installed before (libc through CPython's raw wrappers);
//! * each class carves its blocks from pools of [`POOL_SIZE`] bytes, aligned to their size, that
//!   come from libc (`aligned_alloc`, so memory limits hold: libc grows the memory, the host's
//!   limiter may refuse, and the NULL that follows becomes Python's `MemoryError`);
//! * a pool starts with a header holding its class, its free list (freed blocks, linked through
//!   their first word), the offset of its never-used tail and its count of blocks in use; a
//!   bitmap with one bit per [`POOL_SIZE`] of the 32-bit address space says whether an address
//!   lies in one of our pools. That bitmap is what makes `free` and `realloc` of pointers from
//!   the previous allocator safe, including those allocated before this one was installed;
//! * pools with a free block are linked per class; a pool that becomes empty goes back to libc
//!   (a few are kept for reuse), except the last usable pool of its class, so that a loop which
//!   allocates and frees one object does not take and return a pool each time.
//!
//! The guest is single-threaded (wasm32-wasip1, and CPython holds its GIL around these domains),
//! so the state is a plain static. Alignment is 8 bytes, as pymalloc's on 32-bit targets.

use std::alloc::{Layout, alloc, dealloc};
use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::ptr;

use crate::ffi::{self, PyMemAllocatorEx};

/// Block sizes are multiples of this (and blocks are aligned to it).
const GRANULE: usize = 8;
/// The largest request served from pools.
const MAX_SMALL: usize = 512;
const CLASSES: usize = MAX_SMALL / GRANULE;
/// log2 of [`POOL_SIZE`].
const POOL_SHIFT: u32 = 12;
const POOL_SIZE: usize = 1 << POOL_SHIFT;
/// Bytes at the start of a pool taken by its [`Pool`] header (a multiple of 16).
const HEADER: usize = (size_of::<Pool>() + 15) & !15;
/// Empty pools kept for reuse by any class instead of going back to libc.
const KEEP_EMPTY: usize = 4;
/// Words of the bitmap: one bit per possible pool of the 32-bit address space.
const BITMAP_WORDS: usize = 1 << (32 - POOL_SHIFT - 5);

const _: () = assert!(usize::BITS == 32, "the pool table covers a 32-bit address space (wasm32)");

/// The start of a pool.
#[repr(C)]
struct Pool {
    /// Freed blocks, linked through their first word.
    free: *mut Block,
    /// Offset of the first block never handed out.
    fresh: usize,
    /// Blocks handed out and not freed.
    used: usize,
    class: usize,
    prev: *mut Pool,
    next: *mut Pool,
}

struct Block {
    next: *mut Block,
}

/// The allocator that was installed before ours, for one domain.
#[derive(Clone, Copy)]
struct Previous {
    ctx: *mut c_void,
    malloc: unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void,
    calloc: unsafe extern "C" fn(*mut c_void, usize, usize) -> *mut c_void,
    realloc: unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> *mut c_void,
    free: unsafe extern "C" fn(*mut c_void, *mut c_void),
}

struct Heap {
    /// Per class, the pools that have a free or never-used block (doubly linked).
    usable: [*mut Pool; CLASSES],
    /// Empty pools kept for reuse (linked through `next`) and their number.
    empty: *mut Pool,
    empty_count: usize,
    /// Bit `n` is set when `n << POOL_SHIFT` starts one of our pools in use.
    ours: [u32; BITMAP_WORDS],
    /// Index 0: `PYMEM_DOMAIN_MEM`, 1: `PYMEM_DOMAIN_OBJ`.
    previous: [Option<Previous>; 2],
}

struct HeapCell(UnsafeCell<Heap>);
// SAFETY: the guest has a single thread.
unsafe impl Sync for HeapCell {}

static HEAP: HeapCell = HeapCell(UnsafeCell::new(Heap {
    usable: [ptr::null_mut(); CLASSES],
    empty: ptr::null_mut(),
    empty_count: 0,
    ours: [0; BITMAP_WORDS],
    previous: [None; 2],
}));

/// The allocator's state. Never held across a call that could re-enter it (libc does not).
#[inline(always)]
fn heap() -> &'static mut Heap {
    // SAFETY: single-threaded guest, and no caller keeps the reference across a re-entry.
    unsafe { &mut *HEAP.0.get() }
}

/// What the allocator holds, for tests and diagnostics.
pub(crate) struct Stats {
    /// Whether it serves both domains.
    pub installed: bool,
    /// Pools in use (each [`POOL_SIZE`] bytes).
    pub pools: usize,
    /// Blocks handed out and not freed, and their bytes.
    pub blocks: usize,
    pub bytes: usize,
    /// The size of the linear memory (all heaps, code data and stack).
    pub memory: usize,
}

/// Counts what the pools hold (a walk over the pool table: for diagnostics, not hot paths).
pub(crate) fn stats() -> Stats {
    let heap = heap();
    let mut stats = Stats { installed: heap.previous.iter().all(Option::is_some), pools: 0, blocks: 0, bytes: 0, memory: 0 };
    stats.memory = core::arch::wasm32::memory_size::<0>() * 65536;
    for (word_index, &word) in heap.ours.iter().enumerate() {
        for bit in (0..32).filter(|bit| word & (1 << bit) != 0) {
            // SAFETY: a set bit marks a pool in use, whose header is initialised.
            let pool = unsafe { &*(((word_index * 32 + bit) << POOL_SHIFT) as *const Pool) };
            stats.pools += 1;
            stats.blocks += pool.used;
            stats.bytes += pool.used * block_size(pool.class);
        }
    }
    stats
}

/// Puts the allocator in front of CPython's `PYMEM_DOMAIN_MEM` and `PYMEM_DOMAIN_OBJ`.
///
/// Call it before Python starts (the C API allows replacing an allocator only then). If a
/// domain's current allocator lacks a function, that domain is left alone.
pub(crate) fn install() {
    let domains = [(0, ffi::PYMEM_DOMAIN_MEM), (1, ffi::PYMEM_DOMAIN_OBJ)];
    for (index, domain) in domains {
        let mut current = PyMemAllocatorEx { ctx: ptr::null_mut(), malloc: None, calloc: None, realloc: None, free: None };
        // SAFETY: `current` is a valid out-parameter; the interpreter does not run yet.
        unsafe { ffi::PyMem_GetAllocator(domain, &mut current) };
        let (Some(malloc), Some(calloc), Some(realloc), Some(free)) =
            (current.malloc, current.calloc, current.realloc, current.free)
        else {
            continue;
        };
        let slot = &mut heap().previous[index];
        *slot = Some(Previous { ctx: current.ctx, malloc, calloc, realloc, free });
        // Each domain's context is its previous allocator, so the hooks know where to forward.
        let ctx = ptr::from_mut(slot).cast::<c_void>();
        let mut ours = PyMemAllocatorEx {
            ctx,
            malloc: Some(small_malloc),
            calloc: Some(small_calloc),
            realloc: Some(small_realloc),
            free: Some(small_free),
        };
        // SAFETY: the hooks live for the program; CPython copies the struct.
        unsafe { ffi::PyMem_SetAllocator(domain, &mut ours) };
    }
}

/// The domain's previous allocator, from the context CPython passes back.
#[inline(always)]
unsafe fn previous(ctx: *mut c_void) -> Previous {
    // SAFETY (caller): `ctx` is the pointer `install` registered, to a filled slot.
    unsafe { (*ctx.cast::<Option<Previous>>()).unwrap_unchecked() }
}

#[inline(always)]
fn block_size(class: usize) -> usize {
    (class + 1) * GRANULE
}

#[inline(always)]
fn class_of(size: usize) -> usize {
    (size.max(1) - 1) / GRANULE
}

/// The pool holding `block`, when it is one of ours.
#[inline(always)]
fn our_pool(block: *mut c_void) -> Option<*mut Pool> {
    let index = block as usize >> POOL_SHIFT;
    let ours = heap().ours[index / 32] & (1 << (index % 32)) != 0;
    ours.then_some((block as usize & !(POOL_SIZE - 1)) as *mut Pool)
}

/// Marks the pool at `pool` as ours or not.
fn set_ours(heap: &mut Heap, pool: *mut Pool, ours: bool) {
    let index = pool as usize >> POOL_SHIFT;
    if ours {
        heap.ours[index / 32] |= 1 << (index % 32);
    } else {
        heap.ours[index / 32] &= !(1 << (index % 32));
    }
}

#[inline(always)]
unsafe fn pool_is_full(pool: &Pool) -> bool {
    pool.free.is_null() && pool.fresh + block_size(pool.class) > POOL_SIZE
}

unsafe extern "C" fn small_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    if size <= MAX_SMALL {
        return unsafe { allocate(class_of(size)) };
    }
    unsafe {
        let previous = previous(ctx);
        (previous.malloc)(previous.ctx, size)
    }
}

unsafe extern "C" fn small_calloc(ctx: *mut c_void, count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        Some(total) if total <= MAX_SMALL => unsafe {
            let block = allocate(class_of(total));
            if !block.is_null() {
                ptr::write_bytes(block.cast::<u8>(), 0, total);
            }
            block
        },
        // Overflow is the previous allocator's to report (it returns NULL).
        _ => unsafe {
            let previous = previous(ctx);
            (previous.calloc)(previous.ctx, count, size)
        },
    }
}

unsafe extern "C" fn small_realloc(ctx: *mut c_void, block: *mut c_void, size: usize) -> *mut c_void {
    if block.is_null() {
        return unsafe { small_malloc(ctx, size) };
    }
    let Some(pool) = our_pool(block) else {
        return unsafe {
            let previous = previous(ctx);
            (previous.realloc)(previous.ctx, block, size)
        };
    };
    let old_size = block_size(unsafe { (*pool).class });
    // Shrinking by less than a quarter keeps the block (as pymalloc does).
    if size <= old_size && size * 4 > old_size * 3 {
        return block;
    }
    unsafe {
        let moved = small_malloc(ctx, size);
        if !moved.is_null() {
            ptr::copy_nonoverlapping(block.cast::<u8>(), moved.cast::<u8>(), size.min(old_size));
            release(pool, block);
        }
        moved
    }
}

unsafe extern "C" fn small_free(ctx: *mut c_void, block: *mut c_void) {
    if block.is_null() {
        return;
    }
    unsafe {
        match our_pool(block) {
            Some(pool) => release(pool, block),
            None => {
                let previous = previous(ctx);
                (previous.free)(previous.ctx, block);
            }
        }
    }
}

/// Hands out a block of `class`, or NULL when libc has no memory for a new pool.
#[inline(always)]
unsafe fn allocate(class: usize) -> *mut c_void {
    let heap = heap();
    let mut pool = heap.usable[class];
    if pool.is_null() {
        pool = unsafe { new_pool(heap, class) };
        if pool.is_null() {
            return ptr::null_mut();
        }
    }
    unsafe {
        let p = &mut *pool;
        let block = if p.free.is_null() {
            let block = pool.cast::<u8>().add(p.fresh).cast::<Block>();
            p.fresh += block_size(class);
            block
        } else {
            let block = p.free;
            p.free = (*block).next;
            block
        };
        p.used += 1;
        if pool_is_full(p) {
            unlink(heap, pool);
        }
        block.cast()
    }
}

/// Returns `block` to `pool`, which holds it.
#[inline(always)]
unsafe fn release(pool: *mut Pool, block: *mut c_void) {
    let heap = heap();
    unsafe {
        let p = &mut *pool;
        let was_full = pool_is_full(p);
        let block = block.cast::<Block>();
        (*block).next = p.free;
        p.free = block;
        p.used -= 1;
        if was_full {
            link(heap, pool);
        }
        if p.used == 0 && !(heap.usable[p.class] == pool && p.next.is_null()) {
            unlink(heap, pool);
            retire_pool(heap, pool);
        }
    }
}

/// A pool for `class` (a kept empty one, or a new one from libc), linked as usable.
#[cold]
unsafe fn new_pool(heap: &mut Heap, class: usize) -> *mut Pool {
    let pool = if heap.empty.is_null() {
        // SAFETY: the layout has a non-zero size and a power-of-two alignment.
        let pool = unsafe { alloc(Layout::from_size_align_unchecked(POOL_SIZE, POOL_SIZE)) }.cast::<Pool>();
        if pool.is_null() {
            return pool;
        }
        pool
    } else {
        let pool = heap.empty;
        heap.empty = unsafe { (*pool).next };
        heap.empty_count -= 1;
        pool
    };
    unsafe {
        pool.write(Pool {
            free: ptr::null_mut(),
            fresh: HEADER,
            used: 0,
            class,
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
        });
        link(heap, pool);
    }
    set_ours(heap, pool, true);
    pool
}

/// Takes an empty, unlinked pool out of use: kept for reuse, or given back to libc.
#[cold]
unsafe fn retire_pool(heap: &mut Heap, pool: *mut Pool) {
    set_ours(heap, pool, false);
    if heap.empty_count < KEEP_EMPTY {
        unsafe { (*pool).next = heap.empty };
        heap.empty = pool;
        heap.empty_count += 1;
    } else {
        // SAFETY: allocated in `new_pool` with this layout.
        unsafe { dealloc(pool.cast(), Layout::from_size_align_unchecked(POOL_SIZE, POOL_SIZE)) };
    }
}

/// Puts `pool` first in its class's usable list.
#[inline(always)]
unsafe fn link(heap: &mut Heap, pool: *mut Pool) {
    unsafe {
        let class = (*pool).class;
        let head = heap.usable[class];
        (*pool).prev = ptr::null_mut();
        (*pool).next = head;
        if !head.is_null() {
            (*head).prev = pool;
        }
        heap.usable[class] = pool;
    }
}

/// Takes `pool` out of its class's usable list.
#[inline(always)]
unsafe fn unlink(heap: &mut Heap, pool: *mut Pool) {
    unsafe {
        let (prev, next) = ((*pool).prev, (*pool).next);
        if prev.is_null() {
            heap.usable[(*pool).class] = next;
        } else {
            (*prev).next = next;
        }
        if !next.is_null() {
            (*next).prev = prev;
        }
        (*pool).prev = ptr::null_mut();
        (*pool).next = ptr::null_mut();
    }
}
