//! The listener adapter for users coming from the Python SDK: callbacks,
//! implemented on top of the streams.

use std::sync::Arc;

use futures::StreamExt;

use super::event::{
    AppContextEvent, Event, EventMask, FileEvent, Message, MessageAction, Presence, Status,
};
use super::multiplexer::Command;
use super::queue::{StatusStream, SubscriptionStream};
use super::router::Outlet;
use super::subscription::{Subscription, SubscriptionSet};
use crate::PubNub;

/// Callbacks for everything a client receives. Every method has an empty
/// default; implement the ones you need. Calls come from one task, in order.
///
/// ```no_run
/// # fn run(client: pubnub_rx::PubNub) {
/// use pubnub_rx::subscribe::{Listener, Message, Status};
/// struct Printer;
/// impl Listener for Printer {
///     fn message(&self, message: &Message) { println!("{}", message.payload_json()); }
///     fn status(&self, status: &Status) { println!("{status:?}"); }
/// }
/// let id = client.add_listener(Printer);
/// client.remove_listener(id);
/// # }
/// ```
pub trait Listener: Send + Sync + 'static {
    /// A published message.
    fn message(&self, _message: &Message) {}
    /// A signal.
    fn signal(&self, _signal: &Message) {}
    /// A presence event.
    fn presence(&self, _presence: &Presence) {}
    /// A message action event.
    fn message_action(&self, _action: &MessageAction) {}
    /// An App Context event.
    fn app_context(&self, _event: &AppContextEvent) {}
    /// A file event.
    fn file(&self, _file: &FileEvent) {}
    /// A status event (client-wide listeners only).
    fn status(&self, _status: &Status) {}
}

/// Identifies a registered listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

fn call(listener: &dyn Listener, event: &Event) {
    match event {
        Event::Message(m) => listener.message(m),
        Event::Signal(s) => listener.signal(s),
        Event::Presence(p) => listener.presence(p),
        Event::MessageAction(a) => listener.message_action(a),
        Event::AppContext(c) => listener.app_context(c),
        Event::File(f) => listener.file(f),
    }
}

async fn drive(
    listener: Arc<dyn Listener>,
    mut events: SubscriptionStream<Event>,
    status: Option<StatusStream>,
) {
    match status {
        Some(mut status) => loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(event) => call(listener.as_ref(), &event),
                    None => break,
                },
                item = status.next() => match item {
                    Some(item) => listener.status(&item),
                    None => break,
                },
            }
        },
        None => {
            while let Some(event) = events.next().await {
                call(listener.as_ref(), &event);
            }
        }
    }
}

impl PubNub {
    /// Calls `listener` for every event of every subscription of this
    /// client, and for every status. Needs a tokio runtime.
    pub fn add_listener(&self, listener: impl Listener) -> ListenerId {
        let slot = &self.subscriber;
        let id = slot.next_id();
        let capacity = self.inner.config.subscription_queue_capacity;
        let outlet = Outlet::new(
            capacity,
            Default::default(),
            EventMask::ALL,
            Arc::clone(&slot.space),
            "client listener".to_owned(),
        );
        let events = SubscriptionStream::new(outlet.new_queue(EventMask::ALL), Some, None);
        let status = self.status();
        match slot.mux(&self.inner) {
            Ok(mux) => mux.send(Command::AddGlobal { id, outlet }),
            Err(error) => tracing::error!(%error, "cannot add a listener"),
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let task = runtime.spawn(drive(Arc::new(listener), events, Some(status)));
            slot.listeners_insert(id, task.abort_handle());
        }
        ListenerId(id)
    }

    /// Stops calling a listener added with [`add_listener`](Self::add_listener).
    pub fn remove_listener(&self, id: ListenerId) {
        if let Some(task) = self.subscriber.listeners_remove(id.0) {
            task.abort();
        }
        if let Some(mux) = self.subscriber.running_mux() {
            mux.send(Command::RemoveGlobal { id: id.0 });
        }
    }
}

/// A listener attached to one subscription; dropping it does not stop the
/// listener, [`ListenerHandle::remove`] does.
#[derive(Debug)]
pub struct ListenerHandle(tokio::task::AbortHandle);

impl ListenerHandle {
    /// Stops calling the listener.
    pub fn remove(self) {
        self.0.abort();
    }
}

fn attach(events: SubscriptionStream<Event>, listener: impl Listener) -> ListenerHandle {
    ListenerHandle(tokio::spawn(drive(Arc::new(listener), events, None)).abort_handle())
}

impl Subscription {
    /// Calls `listener` for this subscription's events (from a tokio task;
    /// call within a runtime).
    pub fn add_listener(&self, listener: impl Listener) -> ListenerHandle {
        attach(self.events(), listener)
    }
}

impl SubscriptionSet {
    /// Calls `listener` for this set's events (from a tokio task; call
    /// within a runtime).
    pub fn add_listener(&self, listener: impl Listener) -> ListenerHandle {
        attach(self.events(), listener)
    }
}
