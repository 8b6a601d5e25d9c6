//! Fan-out of status events to every status stream of a client.

use std::sync::{Arc, Mutex};

use super::event::Status;
use super::queue::{OverflowPolicy, Queue};

/// How many status events an unread status stream keeps.
const STATUS_QUEUE: usize = 256;

/// The status streams of one client.
#[derive(Default)]
pub(crate) struct StatusHub {
    queues: Mutex<Vec<Arc<Queue<Status>>>>,
}

impl StatusHub {
    /// A new status stream's queue.
    pub(crate) fn subscribe(&self) -> Arc<Queue<Status>> {
        let queue = Queue::new(STATUS_QUEUE, OverflowPolicy::DropOldest, 0, None);
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queues.retain(|q| !q.is_abandoned());
        queues.push(Arc::clone(&queue));
        queue
    }

    /// Sends a status to every stream.
    pub(crate) fn emit(&self, status: Status) {
        tracing::debug!(?status, "status");
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queues.retain(|q| !q.is_abandoned());
        for queue in queues.iter() {
            let _ = queue.offer([status.clone()]);
        }
    }

    /// Ends every status stream (the client is gone).
    pub(crate) fn close(&self) {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for queue in queues.drain(..) {
            queue.close();
        }
    }
}
