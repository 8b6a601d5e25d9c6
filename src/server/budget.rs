//! The global cap on the memory held by stored messages, over every channel
//! of every keyset (`max_store_bytes`, `--max-store-bytes`).
//!
//! Per-channel retention alone does not bound the server: 200 channels of
//! 1,000 recent and 10,000 stored 30 KB messages are gigabytes. So every
//! message the store holds is **charged** to one [`StoreBudget`]: its
//! [`Charge`] lives inside the message and gives the bytes back when the
//! last reference to the message is dropped, whichever rule dropped it
//! (per-channel retention, delete, eviction). The charged total is therefore
//! exact and costs two relaxed atomic adds per message.
//!
//! **Eviction order.** Each inserted message is also appended to one global
//! FIFO of weak references, in insertion order (exact timetoken order within
//! a keyset, since a keyset inserts under its lock; across keysets, the order
//! in which they were published). When the total is above the cap, the
//! publisher that crossed it — after releasing its keyset lock — pops the
//! oldest entries and removes each message from its channel (recent messages
//! and history), until enough bytes are freed. Entries whose message is
//! already gone are skipped; the FIFO is compacted when dead entries
//! outnumber live ones. Both make a publish amortised O(1).
//!
//! **Locks.** A keyset inserting holds its own lock and then the FIFO lock,
//! briefly; eviction holds the FIFO lock only to pop an entry, and then locks
//! the entry's keyset alone. No two keyset locks are ever held together, so
//! eviction cannot deadlock with publishers on other keysets.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::keyset::KeysetState;
use super::message::StoredMessage;

/// At most one eviction log line per this period (the count in between is
/// summed into the next line).
const LOG_EVERY: Duration = Duration::from_secs(10);
/// The FIFO is compacted when it holds more than twice the live messages
/// plus this many entries.
const COMPACT_SLACK: usize = 1024;

/// One message in eviction order.
#[derive(Debug)]
struct Entry {
    msg: Weak<StoredMessage>,
    keyset: Weak<Mutex<KeysetState>>,
}

/// When the last eviction line was written, and what was evicted since.
#[derive(Debug, Default)]
struct EvictionLog {
    last: Option<Instant>,
    unreported: u64,
}

/// The server-wide account of stored message bytes; see the module docs.
#[derive(Debug)]
pub(crate) struct StoreBudget {
    cap: usize,
    charged: AtomicUsize,
    live: AtomicUsize,
    evicted: AtomicU64,
    fifo: Mutex<VecDeque<Entry>>,
    log: Mutex<EvictionLog>,
}

/// The bytes one held message is charged; returned when it is dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<StoreBudget>,
    bytes: usize,
}

impl Charge {
    /// The bytes charged.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.charged.fetch_sub(self.bytes, Ordering::Relaxed);
        self.budget.live.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data that stays consistent per call.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StoreBudget {
    /// A budget of `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            charged: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            fifo: Mutex::new(VecDeque::new()),
            log: Mutex::new(EvictionLog::default()),
        }
    }

    /// Charges `bytes` for one message; the returned [`Charge`] goes into
    /// the message.
    pub(crate) fn charge(self: &Arc<Self>, bytes: usize) -> Charge {
        self.charged.fetch_add(bytes, Ordering::Relaxed);
        self.live.fetch_add(1, Ordering::Relaxed);
        Charge {
            budget: self.clone(),
            bytes,
        }
    }

    /// Appends a just-inserted message to the eviction order. Called under
    /// the lock of the message's keyset.
    pub(crate) fn track(&self, msg: &Arc<StoredMessage>, keyset: &Weak<Mutex<KeysetState>>) {
        let mut fifo = lock(&self.fifo);
        fifo.push_back(Entry {
            msg: Arc::downgrade(msg),
            keyset: keyset.clone(),
        });
        let live = self.live.load(Ordering::Relaxed);
        if fifo.len() > live.saturating_mul(2).saturating_add(COMPACT_SLACK) {
            fifo.retain(|entry| entry.msg.strong_count() > 0);
        }
    }

    /// Whether the held messages are above the cap.
    pub(crate) fn over(&self) -> bool {
        self.charged.load(Ordering::Relaxed) > self.cap
    }

    /// Bytes charged by the messages held now.
    pub(crate) fn held_bytes(&self) -> usize {
        self.charged.load(Ordering::Relaxed)
    }

    /// The cap in bytes.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Messages evicted by the cap since the server started.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Evicts the oldest messages until the held bytes are back under the
    /// cap. Must be called with no keyset lock held.
    pub(crate) fn evict(&self) {
        let mut excess = self.held_bytes().saturating_sub(self.cap);
        let mut evicted = 0u64;
        while excess > 0 {
            let Some(entry) = lock(&self.fifo).pop_front() else {
                break;
            };
            let (Some(msg), Some(keyset)) = (entry.msg.upgrade(), entry.keyset.upgrade()) else {
                continue;
            };
            if lock(&keyset).evict(&msg) {
                // Counted as freed even if an answer being written still
                // holds it for a moment: that answer ends soon, and counting
                // it again would evict more than needed.
                excess = excess.saturating_sub(msg.charged_bytes());
                evicted += 1;
            }
        }
        if evicted > 0 {
            self.evicted.fetch_add(evicted, Ordering::Relaxed);
            self.report(evicted);
        }
    }

    /// The rate-limited eviction log line.
    fn report(&self, evicted: u64) {
        let mut log = lock(&self.log);
        log.unreported += evicted;
        let now = Instant::now();
        if log
            .last
            .is_some_and(|last| now.duration_since(last) < LOG_EVERY)
        {
            return;
        }
        tracing::warn!(
            evicted = log.unreported,
            held_bytes = self.held_bytes(),
            cap_bytes = self.cap,
            "message store full: evicted the oldest messages (history and subscriber catch-up); \
             raise --max-store-bytes to keep more"
        );
        log.last = Some(now);
        log.unreported = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::message::tests::sample;
    use crate::server::message::MessageKind;

    fn message() -> StoredMessage {
        sample(MessageKind::Message, None)
    }

    #[test]
    fn charges_come_back_on_drop_and_dead_entries_do_not_pile_up() {
        let budget = Arc::new(StoreBudget::new(usize::MAX));
        let keyset = Weak::new();
        let kept = Arc::new(message().charged_to(&budget));
        budget.track(&kept, &keyset);
        let one = budget.held_bytes();
        assert_eq!(one, kept.charged_bytes());
        assert_eq!(one, kept.footprint());
        for _ in 1..10_000 {
            let msg = Arc::new(message().charged_to(&budget));
            budget.track(&msg, &keyset);
            drop(msg);
            assert_eq!(budget.held_bytes(), one, "freed at once");
        }
        // The oldest entry is alive, so popping from the front alone would
        // keep every dead entry behind it: compaction bounds the FIFO.
        assert!(lock(&budget.fifo).len() <= COMPACT_SLACK + 3);
        drop(kept);
        assert_eq!(budget.held_bytes(), 0);
        assert!(!budget.over());
    }

    #[test]
    fn eviction_skips_entries_whose_message_or_keyset_is_gone() {
        let budget = Arc::new(StoreBudget::new(0));
        let held = Arc::new(message().charged_to(&budget));
        budget.track(&held, &Weak::new());
        assert!(budget.over());
        budget.evict();
        // Nothing could be removed (no keyset): nothing counted as evicted.
        assert_eq!(budget.evicted(), 0);
        assert!(lock(&budget.fifo).is_empty());
    }
}
