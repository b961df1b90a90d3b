//! The process's global allocator: mimalloc, entered through its plain `mi_malloc` family.
//!
//! Why mimalloc: the server and the load generator allocate and free many small buffers per DM
//! message, on several threads, and glibc's malloc and free (with its fastbin consolidation) were
//! 13-20 % of their CPU under `perf`.
//!
//! Why not the `mimalloc` crate's `MiMalloc`: it hands every request to `mi_malloc_aligned`, whose
//! extra checks cost on each call and which takes mimalloc's generic path for every block over
//! 1 KiB (a message's command list, its output buffer). Every mimalloc block is aligned to at
//! least a machine word: its size classes are whole words and its pages start aligned (checked
//! in the sources of libmimalloc-sys 0.1.49, mimalloc v3: the smallest class is one word, the
//! others multiples of 16 bytes on 64-bit targets; re-check on an upgrade). So for the alignments
//! Rust asks for almost always (up to a word) `mi_malloc`, `mi_zalloc` and `mi_realloc` give what
//! [`GlobalAlloc`] requires on their fast paths; larger alignments still go through the aligned
//! entry points. (mimalloc's guarded mode, which could place a block off that alignment, is only
//! built with libmimalloc-sys's `debug` feature, which this crate does not enable.) Measured with callgrind on a WBXML→XML conversion of `testadd.wbxml`: 25,474 →
//! 24,406 instructions (docs/performance.md, "Codecs").
//!
//! This file is also the allocator of the codec comparison bench (`omadm-bench --features
//! mimalloc`), which includes it, so both measure the same thing.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The largest alignment every mimalloc block has without asking: a machine word.
const PLAIN_ALIGN: usize = std::mem::size_of::<usize>();

/// mimalloc through `mi_malloc` / `mi_zalloc` / `mi_realloc` when the alignment allows.
pub struct Mimalloc;

// SAFETY: every block mimalloc returns is aligned to `PLAIN_ALIGN` (see the module doc), so the plain calls satisfy any
// layout whose alignment is at most that; the others use the aligned calls, which take it as an
// argument. `mi_free` frees blocks from either family, and a null pointer from mimalloc is the
// out-of-memory answer `GlobalAlloc` expects.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block: *mut u8 = if layout.align() <= PLAIN_ALIGN {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        };
        debug_assert!(block as usize % layout.align() == 0, "mimalloc block off its alignment");
        block
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every size and alignment a program may ask for gets a block aligned as asked, whichever of
    /// the two families serves it; zeroed blocks are zero and a reallocation keeps the contents.
    #[test]
    fn blocks_are_aligned_zeroed_and_kept_as_asked() {
        // Imported here, not for the module: the comparison bench includes this file without a
        // test harness, where a module-level import would be unused.
        use super::{GlobalAlloc, Layout, Mimalloc};
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 3, 7, 8, 9, 24, 100, 1023, 1024, 1025, 3104, 70_000] {
                let layout = Layout::from_size_align(size, align).expect("valid layout");
                // SAFETY: a non-zero-size layout; each block is freed once, with its layout.
                unsafe {
                    let zeroed = Mimalloc.alloc_zeroed(layout);
                    assert!(!zeroed.is_null());
                    assert_eq!(zeroed as usize % align, 0, "alloc_zeroed({size}, {align})");
                    assert!(std::slice::from_raw_parts(zeroed, size).iter().all(|&b| b == 0));
                    Mimalloc.dealloc(zeroed, layout);

                    let block = Mimalloc.alloc(layout);
                    assert!(!block.is_null());
                    assert_eq!(block as usize % align, 0, "alloc({size}, {align})");
                    for i in 0..size {
                        *block.add(i) = i as u8;
                    }
                    let grown = Mimalloc.realloc(block, layout, 2 * size + 5);
                    assert_eq!(grown as usize % align, 0, "realloc({size}, {align})");
                    assert!((0..size).all(|i| *grown.add(i) == i as u8), "realloc({size}, {align}) kept the bytes");
                    Mimalloc.dealloc(grown, Layout::from_size_align(2 * size + 5, align).expect("valid layout"));
                }
            }
        }
    }
}
