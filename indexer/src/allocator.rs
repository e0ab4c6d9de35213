//! How the indexer's allocator (mimalloc, set as the global allocator by the `soil-indexer` binary
//! and the benches) hands freed memory back to the operating system.
//!
//! By default mimalloc gives freed pages back about a second after they were freed. A backfill frees
//! and allocates hundreds of MiB every second (fetched log ranges, decoded events, batches of rows),
//! so pages were given back and faulted in again without end: the kernel zeroing fresh pages
//! (`clear_page_erms`) took about 45 % of the end-to-end backfill's CPU time (docs/BENCHMARKS.md).
//! While backfilling, freed memory is kept for reuse instead; once caught up, it is given back again
//! as before. Where mimalloc is not the global allocator (the tests), these calls only configure its
//! unused heap.

use libmimalloc_sys as mi;

/// `mi_option_purge_delay` (mimalloc.h's `mi_option_e`): milliseconds before freed memory is given
/// back to the OS; -1 never.
const PURGE_DELAY: mi::mi_option_t = 15;

/// mimalloc's own default for [`PURGE_DELAY`], in milliseconds.
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1_000;

/// While `backfilling`, freed memory is kept for reuse; when it ends, what is free is given back
/// to the OS now and from then on a second after it is freed.
pub fn set_backfilling(backfilling: bool) {
    // SAFETY: both calls only read and set mimalloc's options and free lists; mimalloc makes them
    // safe to call from any thread at any time.
    unsafe {
        if backfilling {
            mi::mi_option_set(PURGE_DELAY, -1);
        } else {
            mi::mi_option_set(PURGE_DELAY, DEFAULT_PURGE_DELAY_MS);
            mi::mi_collect(true);
        }
    }
}
