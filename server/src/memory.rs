//! Counting the bytes the process has allocated, as Redis's zmalloc does:
//! `used_memory` in INFO and the `maxmemory` check read it. The global
//! allocator (chosen by the binary) is wrapped in [`CountingAllocator`]; each
//! thread adds to its own counter slot, so counting costs an uncontended
//! atomic add per allocation, and reading sums the slots.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

const SLOTS: usize = 64;

/// A counter per slot, padded to its own cache line.
#[repr(align(64))]
struct Slot(AtomicIsize);

static COUNTERS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot; `usize::MAX` until its first allocation.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn add(delta: isize) {
    let slot = MY_SLOT
        .try_with(|slot| {
            if slot.get() == usize::MAX {
                slot.set(NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS);
            }
            slot.get()
        })
        .unwrap_or(0);
    COUNTERS[slot].0.fetch_add(delta, Ordering::Relaxed);
}

/// Bytes allocated and not yet freed (0 if the binary does not count).
pub fn allocated_bytes() -> u64 {
    let total: isize = COUNTERS
        .iter()
        .map(|slot| slot.0.load(Ordering::Relaxed))
        .sum();
    total.max(0) as u64
}

/// Wraps the real allocator and counts what passes through it.
pub struct CountingAllocator<A>(pub A);

// SAFETY: every call is forwarded unchanged to the wrapped allocator; the
// wrapper only adds the sizes to counters.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = self.0.alloc(layout);
        if !ptr.is_null() {
            add(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = self.0.alloc_zeroed(layout);
        if !ptr.is_null() {
            add(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout);
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = self.0.realloc(ptr, layout, new_size);
        if !new.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        new
    }
}
