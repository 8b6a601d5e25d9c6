//! Fan-out of status events to the status streams of a client: the
//! client-wide streams get every status, a subscription's stream the ones
//! that concern that subscription.

use std::sync::{Arc, Mutex, MutexGuard};

use super::event::Status;
use super::queue::{OverflowPolicy, Queue};
use super::router::SubscriberId;

/// How many status events an unread status stream keeps.
const STATUS_QUEUE: usize = 256;

/// One status stream's queue and whom it listens for.
struct Entry {
    queue: Arc<Queue<Status>>,
    /// `None`: the client-wide stream; `Some(id)`: subscription `id`'s.
    subscriber: Option<SubscriberId>,
}

/// The status streams of one client.
#[derive(Default)]
pub(crate) struct StatusHub {
    entries: Mutex<Vec<Entry>>,
}

impl StatusHub {
    fn entries(&self) -> MutexGuard<'_, Vec<Entry>> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|e| !e.queue.is_abandoned());
        entries
    }

    fn add(&self, subscriber: Option<SubscriberId>) -> Arc<Queue<Status>> {
        let queue = Queue::new(STATUS_QUEUE, OverflowPolicy::DropOldest, 0, None);
        self.entries().push(Entry {
            queue: Arc::clone(&queue),
            subscriber,
        });
        queue
    }

    /// A new client-wide status stream's queue.
    pub(crate) fn subscribe(&self) -> Arc<Queue<Status>> {
        self.add(None)
    }

    /// A new status stream's queue for subscription `id`.
    pub(crate) fn subscribe_for(&self, id: SubscriberId) -> Arc<Queue<Status>> {
        self.add(Some(id))
    }

    /// Sends a status to the client-wide streams only.
    pub(crate) fn emit(&self, status: Status) {
        self.emit_to(status, &[]);
    }

    /// Sends a status to the client-wide streams and to the streams of the
    /// subscriptions in `concerned`.
    pub(crate) fn emit_to(&self, status: Status, concerned: &[SubscriberId]) {
        tracing::debug!(?status, "status");
        for entry in self.entries().iter() {
            let wanted = entry.subscriber.is_none_or(|id| concerned.contains(&id));
            if wanted {
                let _ = entry.queue.offer([status.clone()]);
            }
        }
    }

    /// Ends the status streams of subscription `id` (it is gone).
    pub(crate) fn close_for(&self, id: SubscriberId) {
        self.entries().retain(|entry| {
            let theirs = entry.subscriber == Some(id);
            if theirs {
                entry.queue.close();
            }
            !theirs
        });
    }

    /// Ends every status stream (the client is gone).
    pub(crate) fn close(&self) {
        for entry in self.entries().drain(..) {
            entry.queue.close();
        }
    }
}
