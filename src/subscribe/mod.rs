//! Subscribing: entities make [`Subscription`]s, subscriptions combine into
//! [`SubscriptionSet`]s, and each yields typed streams of what arrives.
//!
//! One multiplexer actor per client (`multiplexer.rs`) merges every active
//! subscription into a single long-poll and routes each message once to the
//! subscriptions that asked for it, through bounded queues
//! ([`OverflowPolicy`]). The [`engine`] is the pure state machine it runs;
//! `router.rs` answers "who gets this"; the presence actor (`heartbeat.rs`)
//! sends heartbeats and leaves.
//!
//! ```no_run
//! # async fn run(client: pubnub_rx::PubNub) {
//! use futures::StreamExt;
//! use pubnub_rx::subscribe::SubscriptionOptions;
//!
//! let subscription = client.channel("chat").subscription(SubscriptionOptions::new().with_presence());
//! let mut messages = subscription.messages();
//! subscription.subscribe().await.expect("subscribed");
//! while let Some(message) = messages.next().await {
//!     println!("{} said {}", message.publisher().unwrap_or("?"), message.payload_json());
//! }
//! # }
//! ```

mod completion;
mod dedupe;
pub mod engine;
pub(crate) mod envelope;
mod event;
mod gap;
mod hash;
pub(crate) mod heartbeat;
mod listener;
pub(crate) mod multiplexer;
mod queue;
pub(crate) mod router;
pub(crate) mod shards;
mod status;
mod subscription;
mod wire_events;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use completion::{Subscribing, Unsubscribing};
pub use envelope::Cursor;
pub use event::{
    AppContextData, AppContextEvent, AppContextKind, Event, FileData, FileEvent, Message,
    MessageAction, MessageActionData, MessageKind, Presence, PresenceData, PresenceEvent, Status,
    StatusCategory,
};
pub use listener::{Listener, ListenerHandle, ListenerId};
pub use queue::{OverflowPolicy, StatusStream, SubscriptionStream};
pub use subscription::{Subscription, SubscriptionOptions, SubscriptionSet};

use crate::client::ClientInner;
use crate::Error;
use multiplexer::MuxHandle;
use status::StatusHub;

/// The subscribe side of a client, shared by its handles: the multiplexer
/// handle (started on first use), the status streams and the listeners.
pub(crate) struct SubscriberSlot {
    mux: Mutex<Option<MuxHandle>>,
    /// Signalled when a backpressure queue makes room; the multiplexer waits
    /// on it to resume a paused long-poll.
    pub(crate) space: Arc<tokio::sync::Notify>,
    pub(crate) status: Arc<StatusHub>,
    next_id: AtomicU64,
    listeners: Mutex<HashMap<u64, tokio::task::AbortHandle>>,
}

impl Default for SubscriberSlot {
    fn default() -> Self {
        Self {
            mux: Mutex::new(None),
            space: Arc::new(tokio::sync::Notify::new()),
            status: Arc::new(StatusHub::default()),
            // 0 is reserved for the client-wide listeners' staging slot.
            next_id: AtomicU64::new(1),
            listeners: Mutex::new(HashMap::new()),
        }
    }
}

impl SubscriberSlot {
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The multiplexer, started on first use.
    pub(crate) fn mux(&self, client: &Arc<ClientInner>) -> Result<MuxHandle, Error> {
        let mut slot = self
            .mux
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(handle) = slot.as_ref() {
            return Ok(handle.clone());
        }
        let handle = multiplexer::spawn(
            Arc::clone(client),
            Arc::clone(&self.status),
            Arc::clone(&self.space),
        )?;
        *slot = Some(handle.clone());
        Ok(handle)
    }

    /// The multiplexer if it was started (commands to a never-started one
    /// have nothing to act on).
    pub(crate) fn running_mux(&self) -> Option<MuxHandle> {
        self.mux
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn listeners(&self) -> std::sync::MutexGuard<'_, HashMap<u64, tokio::task::AbortHandle>> {
        self.listeners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn listeners_insert(&self, id: u64, task: tokio::task::AbortHandle) {
        self.listeners().insert(id, task);
    }

    pub(crate) fn listeners_remove(&self, id: u64) -> Option<tokio::task::AbortHandle> {
        self.listeners().remove(&id)
    }
}

impl Drop for SubscriberSlot {
    fn drop(&mut self) {
        for (_, task) in self.listeners().drain() {
            task.abort();
        }
        if self.running_mux().is_none() {
            // No actor will close the status streams: do it here.
            self.status.close();
        }
    }
}
