//! The listener adapter for users coming from the Python SDK: callbacks,
//! implemented on top of the streams.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use futures::StreamExt;

use super::event::{
    AppContextEvent, Event, EventMask, FileEvent, Message, MessageAction, Presence, Status,
};
use super::multiplexer::Command;
use super::queue::{StatusStream, SubscriptionStream};
use super::router::Outlet;
use super::status::StatusHub;
use super::subscription::{Subscription, SubscriptionSet};
use crate::PubNub;

/// Callbacks for everything a client receives. Every method has an empty
/// default; implement the ones you need. Calls come from one task, in order.
///
/// A callback that panics is isolated: the panic is caught, reported as
/// [`Status::ListenerFailed`] on the client's status stream (with the panic
/// message), and the listener keeps getting the events that follow. A panic
/// in [`status`](Self::status) itself is only logged, so that it cannot
/// feed on its own report.
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

/// The text a panic was raised with (`panic!("...")` gives a `&str` or a
/// `String`; anything else has no text).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Runs a listener and keeps it running: each callback runs under
/// `catch_unwind`, so a panic costs that one call, not the listener.
struct Driver {
    listener: Arc<dyn Listener>,
    /// Where event-callback panics are reported.
    status: Arc<StatusHub>,
    /// Which listener it is, in the reports.
    label: String,
}

impl Driver {
    fn event(&self, event: &Event) {
        let listener = self.listener.as_ref();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| call(listener, event))) {
            let message = panic_message(payload.as_ref());
            tracing::error!(listener = %self.label, %message, "listener callback panicked");
            self.status.emit(Status::ListenerFailed {
                listener: self.label.clone(),
                channel: event.channel().to_owned(),
                timetoken: event.timetoken(),
                message,
            });
        }
    }

    fn status(&self, status: &Status) {
        let listener = self.listener.as_ref();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| listener.status(status))) {
            let message = panic_message(payload.as_ref());
            tracing::error!(listener = %self.label, %message, "listener status callback panicked");
        }
    }

    async fn run(self, mut events: SubscriptionStream<Event>, status: Option<StatusStream>) {
        match status {
            Some(mut status) => loop {
                tokio::select! {
                    event = events.next() => match event {
                        Some(event) => self.event(&event),
                        None => break,
                    },
                    item = status.next() => match item {
                        Some(item) => self.status(&item),
                        None => break,
                    },
                }
            },
            None => {
                while let Some(event) = events.next().await {
                    self.event(&event);
                }
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
            let driver = Driver {
                listener: Arc::new(listener),
                status: Arc::clone(&slot.status),
                label: "client listener".to_owned(),
            };
            let task = runtime.spawn(driver.run(events, Some(status)));
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

/// A listener attached to one subscription. Dropping the handle removes the
/// listener (as [`remove`](Self::remove) does); [`detach`](Self::detach)
/// keeps it for the life of the subscription instead.
#[derive(Debug)]
#[must_use = "dropping a ListenerHandle removes its listener at once: keep it, or call detach()"]
pub struct ListenerHandle(Option<tokio::task::AbortHandle>);

impl ListenerHandle {
    /// Stops calling the listener.
    pub fn remove(mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }

    /// Keeps calling the listener until the subscription's streams end,
    /// without a handle to remove it.
    pub fn detach(mut self) {
        self.0 = None;
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

fn attach(
    client: &PubNub,
    events: SubscriptionStream<Event>,
    label: String,
    listener: impl Listener,
) -> ListenerHandle {
    let driver = Driver {
        listener: Arc::new(listener),
        status: Arc::clone(&client.subscriber.status),
        label,
    };
    ListenerHandle(Some(tokio::spawn(driver.run(events, None)).abort_handle()))
}

impl Subscription {
    /// Calls `listener` for this subscription's events (from a tokio task;
    /// call within a runtime) until the returned handle is dropped or
    /// removed.
    pub fn add_listener(&self, listener: impl Listener) -> ListenerHandle {
        attach(self.client(), self.events(), self.label(), listener)
    }
}

impl SubscriptionSet {
    /// Calls `listener` for this set's events (from a tokio task; call
    /// within a runtime) until the returned handle is dropped or removed.
    pub fn add_listener(&self, listener: impl Listener) -> ListenerHandle {
        attach(self.client(), self.events(), self.label(), listener)
    }
}
