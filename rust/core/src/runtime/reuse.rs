//! A global allocator that keeps a few recently freed large blocks for reuse.
//!
//! Fresh memory from the OS costs a page fault and a kernel-side clearing on the first
//! touch of every page: for a 65 MB result that takes longer than computing it. Training
//! loops and repeated calls free and allocate blocks of the same sizes over and over, so
//! blocks of at least [`MIN_BLOCK`] bytes are kept when freed (up to a byte budget, at most
//! [`SLOTS`] of them, each for at most [`IDLE`]) and handed out again by the next request of
//! about their size. Everything else goes straight to the system allocator, and new large
//! blocks are backed by huge pages where the OS supports it.
//!
//! The budget is read once from `FERROGRAD_CACHE_MB` (default [`DEFAULT_CACHE_MB`]; `0` turns
//! reuse off; a value that is not a whole number means the default). Idle blocks are given
//! back when a later large block is allocated or freed, so a program that stops using large
//! blocks keeps at most the budget.
//!
//! ```
//! use std::alloc::{GlobalAlloc, Layout};
//! use ferrograd_core::runtime::reuse::{ReusingAlloc, MIN_BLOCK};
//! let layout = Layout::from_size_align(MIN_BLOCK, 8).unwrap();
//! unsafe {
//!     let p = ReusingAlloc.alloc(layout);
//!     assert!(!p.is_null());
//!     ReusingAlloc.dealloc(p, layout);
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Blocks at least this large are kept for reuse when freed.
pub const MIN_BLOCK: usize = 4 << 20;

/// At most this many blocks are kept.
pub const SLOTS: usize = 16;

/// A kept block unused for this long is given back to the system.
pub const IDLE: Duration = Duration::from_secs(2);

/// Bytes kept at most unless `FERROGRAD_CACHE_MB` says otherwise.
pub const DEFAULT_CACHE_MB: usize = 512;

/// Largest alignment the system allocator serves with plain `malloc`/`free`; only such
/// blocks are kept, so any kept block can serve any request up to it.
const MAX_ALIGN: usize = if cfg!(target_pointer_width = "64") {
    16
} else {
    8
};

/// The allocator: large blocks are reused, the rest is [`System`]'s.
pub struct ReusingAlloc;

#[derive(Clone, Copy)]
struct Slot {
    /// Address of the block; 0 when the slot is empty.
    ptr: usize,
    /// Bytes the block holds (see [`true_size`]).
    size: usize,
    /// When it was freed.
    freed: Option<Instant>,
}

const EMPTY: Slot = Slot {
    ptr: 0,
    size: 0,
    freed: None,
};

struct Cache {
    lock: AtomicBool,
    slots: UnsafeCell<[Slot; SLOTS]>,
}

// SAFETY: `slots` is only touched while `lock` is held.
unsafe impl Sync for Cache {}

static CACHE: Cache = Cache {
    lock: AtomicBool::new(false),
    slots: UnsafeCell::new([EMPTY; SLOTS]),
};

/// The byte budget; read on first use of a large block.
static BUDGET: AtomicUsize = AtomicUsize::new(0);
static SETUP: Once = Once::new();

fn lock() {
    while CACHE
        .lock
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
}

fn unlock() {
    CACHE.lock.store(false, Ordering::Release);
}

/// `FERROGRAD_CACHE_MB` as a number, read without allocating (this runs inside the
/// allocator, where an allocation of a large value would come back here).
fn budget_mb_from_env() -> Option<usize> {
    #[cfg(unix)]
    {
        extern "C" {
            fn getenv(name: *const std::ffi::c_char) -> *const std::ffi::c_char;
        }
        // SAFETY: the name is a NUL-terminated literal; a non-null result is a NUL-terminated
        // string owned by the environment, only read here.
        let v = unsafe { getenv(c"FERROGRAD_CACHE_MB".as_ptr()) };
        if v.is_null() {
            return None;
        }
        let v = unsafe { std::ffi::CStr::from_ptr(v) };
        v.to_str().ok()?.trim().parse().ok()
    }
    #[cfg(not(unix))]
    None
}

/// Bytes the block at `ptr` really holds: at least `size`, the size it was last requested
/// with; more when the system allocator rounded up or a smaller request reused it.
fn true_size(ptr: *mut u8, size: usize) -> usize {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    {
        extern "C" {
            fn malloc_usable_size(ptr: *mut std::ffi::c_void) -> usize;
        }
        // SAFETY: `ptr` is a live block from the system's `malloc`, `calloc`, `realloc` or
        // `posix_memalign` (every kept or reused block is; larger alignments never get here).
        unsafe { malloc_usable_size(ptr as *mut std::ffi::c_void) }.max(size)
    }
    #[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
    size
}

/// Reads the budget and makes `fork` safe: the lock is taken around it, so a child never
/// starts with the cache half updated or locked by a thread it does not have.
fn setup() {
    SETUP.call_once(|| {
        let mb = budget_mb_from_env().unwrap_or(DEFAULT_CACHE_MB);
        BUDGET.store(mb.saturating_mul(1 << 20), Ordering::Relaxed);
        #[cfg(unix)]
        {
            extern "C" fn prepare() {
                lock();
            }
            extern "C" fn after() {
                unlock();
            }
            // The handlers only take and release a spin lock that is held for a few
            // instructions at a time, never across a call that could fork.
            crate::runtime::team::at_fork(Some(prepare), Some(after), Some(after));
        }
    });
}

fn reusable(layout: Layout) -> bool {
    layout.size() >= MIN_BLOCK && layout.align() <= MAX_ALIGN
}

/// Runs `f` on the slots under the lock, then frees the blocks it evicted (outside the lock,
/// so the system allocator is never called while holding it).
fn with_slots<R>(f: impl FnOnce(&mut [Slot; SLOTS], &mut [Slot; SLOTS]) -> R) -> R {
    let mut evicted = [EMPTY; SLOTS];
    lock();
    // SAFETY: the lock is held.
    let r = f(unsafe { &mut *CACHE.slots.get() }, &mut evicted);
    unlock();
    for s in evicted.iter().filter(|s| s.ptr != 0) {
        release(s.ptr as *mut u8, s.size);
    }
    r
}

/// Gives a kept block back to the system.
fn release(ptr: *mut u8, size: usize) {
    // Every kept block came from `malloc`, `calloc`, `realloc` or `posix_memalign` (the
    // system allocator serves alignments up to MAX_ALIGN with the first three); the layouts of
    // the requests it served since may differ, so it goes straight to `free`.
    #[cfg(unix)]
    {
        extern "C" {
            fn free(ptr: *mut std::ffi::c_void);
        }
        let _ = size;
        // SAFETY: `ptr` came from `malloc` and is no longer used.
        unsafe { free(ptr as *mut std::ffi::c_void) };
    }
    #[cfg(not(unix))]
    // SAFETY: as above; elsewhere `System` frees such blocks with the size and alignment
    // ignored.
    unsafe {
        System.dealloc(ptr, Layout::from_size_align_unchecked(size, 1))
    };
}

/// Moves the slots idle for longer than [`IDLE`] at `now` to `evicted`.
fn evict_idle(slots: &mut [Slot; SLOTS], evicted: &mut [Slot; SLOTS], now: Instant) {
    for (s, e) in slots.iter_mut().zip(evicted.iter_mut()) {
        if s.ptr != 0 && s.freed.is_some_and(|t| now.duration_since(t) > IDLE) {
            *e = std::mem::replace(s, EMPTY);
        }
    }
}

/// A kept block of at least `size` bytes (and not much more), if there is one.
fn take(size: usize) -> Option<*mut u8> {
    let now = Instant::now();
    with_slots(|slots, evicted| {
        evict_idle(slots, evicted, now);
        let most = size.saturating_add(size / 4);
        let best = slots
            .iter_mut()
            .filter(|s| s.ptr != 0 && s.size >= size && s.size <= most)
            .min_by_key(|s| s.size)?;
        Some(std::mem::replace(best, EMPTY).ptr as *mut u8)
    })
}

/// Keeps the freed block `ptr` of `size` bytes if the budget allows, evicting the oldest
/// blocks to make room. False when it is not kept (the caller frees it).
fn keep(ptr: *mut u8, size: usize, budget: usize) -> bool {
    if size > budget {
        return false;
    }
    let now = Instant::now();
    with_slots(|slots, evicted| {
        evict_idle(slots, evicted, now);
        loop {
            let held: usize = slots.iter().map(|s| s.size).sum();
            let free_slot = slots.iter().position(|s| s.ptr == 0);
            if let (Some(i), true) = (free_slot, held + size <= budget) {
                slots[i] = Slot {
                    ptr: ptr as usize,
                    size,
                    freed: Some(now),
                };
                return true;
            }
            let oldest = slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.ptr != 0)
                .min_by_key(|(_, s)| s.freed)
                .map(|(i, _)| i)
                .expect("a full cache or an exceeded budget has a block");
            let slot = evicted
                .iter_mut()
                .find(|e| e.ptr == 0)
                .expect("no more blocks are evicted than there are slots");
            *slot = std::mem::replace(&mut slots[oldest], EMPTY);
        }
    })
}

/// A new large block from the system, aligned to a cache line where the system allows, so
/// that kernels can write whole lines with streaming stores from its start.
fn fresh_block(layout: Layout) -> *mut u8 {
    #[cfg(unix)]
    {
        extern "C" {
            fn posix_memalign(out: *mut *mut std::ffi::c_void, align: usize, size: usize) -> i32;
        }
        let mut p = std::ptr::null_mut();
        // SAFETY: 64 is a power of two and a multiple of the pointer size. The block is freed
        // and resized with `free` and `realloc` (through `System`), which accept it.
        if unsafe { posix_memalign(&mut p, 64, layout.size()) } == 0 {
            return p as *mut u8;
        }
        std::ptr::null_mut()
    }
    #[cfg(not(unix))]
    // SAFETY: the layout has a non-zero size (it is a large block).
    unsafe {
        System.alloc(layout)
    }
}

/// Asks for huge pages behind the 2 MiB-aligned part of a new block (a hint; no effect on
/// contents), so its first touch faults once per 2 MiB instead of once per 4 KiB.
fn advise_huge_pages(ptr: *mut u8, size: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        const MADV_HUGEPAGE: i32 = 14;
        extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        let start = ptr as usize;
        let first = start.div_ceil(HUGE) * HUGE;
        let end = (start + size) / HUGE * HUGE;
        if end > first {
            // SAFETY: the range lies inside the block; failure is harmless.
            unsafe { madvise(first as *mut std::ffi::c_void, end - first, MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, size);
}

/// Number of blocks currently kept (for tests and diagnostics).
pub fn kept_blocks() -> usize {
    with_slots(|slots, _| slots.iter().filter(|s| s.ptr != 0).count())
}

/// Gives every kept block back to the system.
pub fn release_all() {
    with_slots(|slots, evicted| {
        for (s, e) in slots.iter_mut().zip(evicted.iter_mut()) {
            *e = std::mem::replace(s, EMPTY);
        }
    })
}

// SAFETY: every block handed out is either fresh from the system or a kept block that is at
// least as large as requested, suitably aligned (MAX_ALIGN covers the request), and no
// longer in use; blocks are only kept once, when freed.
unsafe impl GlobalAlloc for ReusingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !reusable(layout) {
            return System.alloc(layout);
        }
        setup();
        if BUDGET.load(Ordering::Relaxed) > 0 {
            if let Some(p) = take(layout.size()) {
                return p;
            }
        }
        let p = fresh_block(layout);
        if !p.is_null() {
            advise_huge_pages(p, layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // The system's zeroed memory is cleared lazily by the OS; a kept block would need an
        // explicit pass.
        let p = System.alloc_zeroed(layout);
        if reusable(layout) && !p.is_null() {
            advise_huge_pages(p, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if reusable(layout) {
            setup();
            // The block's real size, so that reuse for smaller requests never makes it look
            // smaller than it is (to the budget or to the next request).
            let size = true_size(ptr, layout.size());
            if keep(ptr, size, BUDGET.load(Ordering::Relaxed)) {
                return;
            }
        }
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Every block, kept ones included, is a `System` block of this alignment.
        System.realloc(ptr, layout, new_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The tests share the one cache, so they run as one test.
    #[test]
    fn blocks_are_reused_bounded_and_released() {
        release_all();
        let big = Layout::from_size_align(MIN_BLOCK * 2, 8).unwrap();
        unsafe {
            let p = ReusingAlloc.alloc(big);
            p.write_bytes(7, big.size());
            ReusingAlloc.dealloc(p, big);
            assert_eq!(kept_blocks(), 1);
            // A request of about the same size gets the same block back.
            let smaller = Layout::from_size_align(MIN_BLOCK * 2 - 64, 4).unwrap();
            let q = ReusingAlloc.alloc(smaller);
            assert_eq!(q, p);
            assert_eq!(kept_blocks(), 0);
            // Much smaller or larger requests do not take it.
            ReusingAlloc.dealloc(q, smaller);
            let r = ReusingAlloc.alloc(Layout::from_size_align(MIN_BLOCK, 8).unwrap());
            assert_ne!(r, q);
            ReusingAlloc.dealloc(r, Layout::from_size_align(MIN_BLOCK, 8).unwrap());
            assert_eq!(kept_blocks(), 2);
            // Small blocks and large alignments are never kept.
            let small = Layout::from_size_align(1024, 8).unwrap();
            let s = ReusingAlloc.alloc(small);
            ReusingAlloc.dealloc(s, small);
            let aligned = Layout::from_size_align(MIN_BLOCK, 4096).unwrap();
            let a = ReusingAlloc.alloc(aligned);
            assert_eq!(a as usize % 4096, 0);
            ReusingAlloc.dealloc(a, aligned);
            assert_eq!(kept_blocks(), 2);
        }
        // The slot count bounds what is kept; the oldest goes first.
        let layout = Layout::from_size_align(MIN_BLOCK, 8).unwrap();
        let blocks: Vec<usize> = (0..SLOTS + 3)
            .map(|_| unsafe { ReusingAlloc.alloc(layout) } as usize)
            .collect();
        for &b in &blocks {
            unsafe { ReusingAlloc.dealloc(b as *mut u8, layout) };
        }
        assert_eq!(kept_blocks(), SLOTS);
        // The byte budget bounds it too.
        release_all();
        assert!(!keep(std::ptr::null_mut(), MIN_BLOCK * 3, MIN_BLOCK * 2));
        let p = unsafe { System.alloc(layout) };
        let q = unsafe { System.alloc(layout) };
        assert!(keep(p, MIN_BLOCK, MIN_BLOCK * 3 / 2));
        assert!(keep(q, MIN_BLOCK, MIN_BLOCK * 3 / 2));
        assert_eq!(kept_blocks(), 1, "the older block made room");
        assert_eq!(take(MIN_BLOCK), Some(q));
        unsafe { System.dealloc(q, layout) };
        // A block keeps its real size through reuse by smaller requests.
        release_all();
        let five = Layout::from_size_align(MIN_BLOCK * 5, 8).unwrap();
        let four = Layout::from_size_align(MIN_BLOCK * 9 / 2, 8).unwrap();
        unsafe {
            let p = ReusingAlloc.alloc(five);
            ReusingAlloc.dealloc(p, five);
            let q = ReusingAlloc.alloc(four);
            assert_eq!(q, p);
            ReusingAlloc.dealloc(q, four);
        }
        assert_eq!(take(MIN_BLOCK * 4), None, "too large for this request");
        let p = take(MIN_BLOCK * 5).expect("the whole block is still there");
        unsafe { ReusingAlloc.dealloc(p, five) };
        release_all();
        // Idle blocks are given back.
        let p = unsafe { System.alloc(layout) };
        assert!(keep(p, MIN_BLOCK, usize::MAX));
        with_slots(|slots, _| {
            for s in slots.iter_mut().filter(|s| s.ptr != 0) {
                s.freed = Instant::now().checked_sub(IDLE * 2);
            }
        });
        assert_eq!(take(MIN_BLOCK * 100), None);
        assert_eq!(kept_blocks(), 0);
        release_all();
    }
}
