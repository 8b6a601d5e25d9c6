//! [`Subscription`] and [`SubscriptionSet`] handles and their streams.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::{Add, AddAssign, SubAssign};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::completion::{Subscribing, Unsubscribing};
use super::event::{
    AppContextEvent, Event, EventMask, FileEvent, Message, MessageAction, Presence, Status,
    StatusCategory,
};
use super::multiplexer::{Command, PRESENCE_SUFFIX};
use super::queue::{OverflowPolicy, StatusStream, SubscriptionStream};
use super::router::{Outlet, SubscriberId};
use crate::entity::{Channel, ChannelGroup, ChannelMetadata, UserMetadata};
use crate::{Error, PubNub};
use tokio::sync::oneshot;

/// Options of a subscription.
///
/// ```
/// use pubnub_rx::subscribe::{OverflowPolicy, SubscriptionOptions};
/// let options = SubscriptionOptions::new()
///     .with_presence()
///     .queue_capacity(256)
///     .overflow(OverflowPolicy::Backpressure);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionOptions {
    with_presence: bool,
    timetoken: Option<u64>,
    queue_capacity: Option<usize>,
    overflow: OverflowPolicy,
}

impl SubscriptionOptions {
    /// Default options: no presence, live from now, the client's default
    /// queue capacity, drop-oldest on overflow.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also receive presence events (subscribes the `-pnpres` channel).
    pub fn with_presence(mut self) -> Self {
        self.with_presence = true;
        self
    }

    /// Start from this timetoken (catch up on what was published since).
    pub fn timetoken(mut self, timetoken: u64) -> Self {
        self.timetoken = Some(timetoken);
        self
    }

    /// Capacity of each of this subscription's stream queues.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = Some(capacity.max(1));
        self
    }

    /// What to do when a consumer falls behind.
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = policy;
        self
    }
}

/// What the subscription handles share with their streams: when the last of
/// them is dropped, the subscription unsubscribes.
struct Core {
    id: SubscriberId,
    client: PubNub,
    outlet: Arc<Outlet>,
    subscribed: AtomicBool,
}

impl Core {
    fn new(
        client: &PubNub,
        capacity: Option<usize>,
        policy: OverflowPolicy,
        accepts: EventMask,
        label: String,
    ) -> Self {
        let capacity = capacity.unwrap_or(client.inner.config.subscription_queue_capacity);
        let space = Arc::clone(&client.subscriber.space);
        Self {
            id: client.subscriber.next_id(),
            client: client.clone(),
            outlet: Outlet::new(capacity, policy, accepts, space, label),
            subscribed: AtomicBool::new(false),
        }
    }

    fn subscribe(
        &self,
        channels: Vec<String>,
        groups: Vec<String>,
        timetoken: Option<u64>,
    ) -> Subscribing {
        let client = &self.client;
        if !client.inner.config.enable_subscribe {
            let error = Error::InvalidConfig {
                field: "enable_subscribe",
                reason: "is false: this client is publish-only".to_owned(),
            };
            client.subscriber.status.emit_to(
                Status::Failed {
                    category: StatusCategory::BadRequest,
                    error: error.clone(),
                },
                &[self.id],
            );
            return Subscribing::ready(Err(error));
        }
        if channels.is_empty() && groups.is_empty() {
            drop(self.unsubscribe());
            return Subscribing::ready(Err(Error::Unsubscribed {
                reason: "nothing to subscribe: no channel and no channel group",
            }));
        }
        match client.subscriber.mux(&client.inner) {
            Ok(mux) => {
                self.subscribed.store(true, Ordering::Release);
                let (ack, answer) = oneshot::channel();
                mux.send(Command::Subscribe {
                    id: self.id,
                    outlet: Arc::clone(&self.outlet),
                    channels,
                    groups,
                    timetoken,
                    ack: Some(ack),
                });
                Subscribing::waiting(answer)
            }
            Err(error) => {
                tracing::error!(%error, "cannot subscribe");
                client.subscriber.status.emit_to(
                    Status::Failed {
                        category: StatusCategory::BadRequest,
                        error: error.clone(),
                    },
                    &[self.id],
                );
                Subscribing::ready(Err(error))
            }
        }
    }

    fn unsubscribe(&self) -> Unsubscribing {
        if self.subscribed.swap(false, Ordering::AcqRel) {
            if let Some(mux) = self.client.subscriber.running_mux() {
                let (ack, answer) = oneshot::channel();
                mux.send(Command::Unsubscribe {
                    id: self.id,
                    ack: Some(ack),
                });
                return Unsubscribing::waiting(answer);
            }
        }
        Unsubscribing::ready()
    }

    fn status(&self) -> StatusStream {
        StatusStream::new(self.client.subscriber.status.subscribe_for(self.id))
    }

    fn stream<T>(
        self: &Arc<Self>,
        mask: EventMask,
        map: fn(Event) -> Option<T>,
    ) -> SubscriptionStream<T> {
        let keep_alive: Arc<dyn Send + Sync> = Arc::clone(self) as Arc<dyn Send + Sync>;
        SubscriptionStream::new(self.outlet.new_queue(mask), map, Some(keep_alive))
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        drop(self.unsubscribe());
        self.outlet.close();
        self.client.subscriber.status.close_for(self.id);
    }
}

macro_rules! stream_methods {
    () => {
        /// The client this subscription belongs to.
        pub(crate) fn client(&self) -> &PubNub {
            &self.core().client
        }

        /// How statuses and logs name this subscription.
        pub(crate) fn label(&self) -> String {
            self.core().outlet.label.clone()
        }

        /// Published messages.
        pub fn messages(&self) -> SubscriptionStream<Message> {
            self.core().stream(EventMask::MESSAGE, |e| match e {
                Event::Message(m) => Some(m),
                _ => None,
            })
        }

        /// Signals.
        pub fn signals(&self) -> SubscriptionStream<Message> {
            self.core().stream(EventMask::SIGNAL, |e| match e {
                Event::Signal(m) => Some(m),
                _ => None,
            })
        }

        /// Presence events (subscribe `with_presence` to get them).
        pub fn presence(&self) -> SubscriptionStream<Presence> {
            self.core().stream(EventMask::PRESENCE, |e| match e {
                Event::Presence(p) => Some(p),
                _ => None,
            })
        }

        /// Message action events.
        pub fn message_actions(&self) -> SubscriptionStream<MessageAction> {
            self.core().stream(EventMask::MESSAGE_ACTION, |e| match e {
                Event::MessageAction(a) => Some(a),
                _ => None,
            })
        }

        /// App Context events.
        pub fn app_context(&self) -> SubscriptionStream<AppContextEvent> {
            self.core().stream(EventMask::APP_CONTEXT, |e| match e {
                Event::AppContext(c) => Some(c),
                _ => None,
            })
        }

        /// File events.
        pub fn files(&self) -> SubscriptionStream<FileEvent> {
            self.core().stream(EventMask::FILE, |e| match e {
                Event::File(f) => Some(f),
                _ => None,
            })
        }

        /// Every event, of every kind, in arrival order.
        pub fn events(&self) -> SubscriptionStream<Event> {
            self.core().stream(EventMask::ALL, Some)
        }

        /// The statuses that concern this subscription: the long-poll it
        /// is in connected (`Connected`, `SubscriptionChanged` when it
        /// joined a connected one, `Reconnected`), was lost
        /// (`UnexpectedDisconnect`) or failed (`Failed`), and the events
        /// its own queues lost (`MessagesLost`). Client-wide reports
        /// (heartbeats, listener panics) are on
        /// [`PubNub::status`](crate::PubNub::status) only. The stream ends
        /// when the subscription is dropped.
        pub fn status(&self) -> StatusStream {
            self.core().status()
        }
    };
}

/// A subscription to channels or channel groups, made from an entity.
///
/// Create its streams, then [`subscribe`](Self::subscribe). The
/// subscription unsubscribes when [`unsubscribe`](Self::unsubscribe) is
/// called, or when its last handle and last stream are dropped. Each stream
/// sees each matching event once; streams created after events arrived get
/// the backlog kept since subscribing.
#[derive(Clone)]
pub struct Subscription {
    core: Arc<Core>,
    channels: Arc<[String]>,
    groups: Arc<[String]>,
    timetoken: Option<u64>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("channels", &self.channels)
            .field("channel_groups", &self.groups)
            .field("subscribed", &self.is_subscribed())
            .finish()
    }
}

impl Subscription {
    fn new(
        client: &PubNub,
        channels: Vec<String>,
        groups: Vec<String>,
        options: SubscriptionOptions,
        accepts: EventMask,
    ) -> Self {
        let label = channels
            .iter()
            .chain(&groups)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(",");
        Self {
            core: Arc::new(Core::new(
                client,
                options.queue_capacity,
                options.overflow,
                accepts,
                label,
            )),
            channels: channels.into(),
            groups: groups.into(),
            timetoken: options.timetoken,
        }
    }

    fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Joins the client's long-poll (from the options' timetoken, if any).
    ///
    /// Starts at once; await the returned [`Subscribing`] to know when the
    /// subscription is part of a connected long-poll, or why it is not.
    pub fn subscribe(&self) -> Subscribing {
        self.core
            .subscribe(self.channels.to_vec(), self.groups.to_vec(), self.timetoken)
    }

    /// Joins the client's long-poll, catching up from `timetoken`; await it
    /// as [`subscribe`](Self::subscribe).
    pub fn subscribe_with_timetoken(&self, timetoken: u64) -> Subscribing {
        self.core.subscribe(
            self.channels.to_vec(),
            self.groups.to_vec(),
            Some(timetoken),
        )
    }

    /// Leaves the long-poll; its streams end. Channels other subscriptions
    /// still use stay in the long-poll (and get no `leave`). Await the
    /// returned [`Unsubscribing`] to know that the leave was sent.
    pub fn unsubscribe(&self) -> Unsubscribing {
        self.core.unsubscribe()
    }

    /// Whether it is subscribed.
    pub fn is_subscribed(&self) -> bool {
        self.core.subscribed.load(Ordering::Acquire)
    }

    /// Channels (wire names, `-pnpres` included) this subscription asks for.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// Channel groups (wire names) this subscription asks for.
    pub fn channel_groups(&self) -> &[String] {
        &self.groups
    }

    stream_methods!();
}

fn with_presence(name: &str, presence: bool) -> Vec<String> {
    let mut names = vec![name.to_owned()];
    if presence {
        names.push(format!("{name}{PRESENCE_SUFFIX}"));
    }
    names
}

impl Channel {
    /// A subscription to this channel (a wildcard such as `room.*` matches
    /// every `room.<x>` channel).
    pub fn subscription(&self, options: SubscriptionOptions) -> Subscription {
        let channels = with_presence(&self.name, options.with_presence);
        Subscription::new(&self.client, channels, Vec::new(), options, EventMask::ALL)
    }
}

impl ChannelGroup {
    /// A subscription to every channel of this group.
    pub fn subscription(&self, options: SubscriptionOptions) -> Subscription {
        let groups = with_presence(&self.name, options.with_presence);
        Subscription::new(&self.client, Vec::new(), groups, options, EventMask::ALL)
    }
}

impl ChannelMetadata {
    /// A subscription to this channel's App Context events.
    pub fn subscription(&self, options: SubscriptionOptions) -> Subscription {
        let channels = vec![self.name.to_string()];
        Subscription::new(
            &self.client,
            channels,
            Vec::new(),
            options,
            EventMask::APP_CONTEXT,
        )
    }
}

impl UserMetadata {
    /// A subscription to this user's App Context events.
    pub fn subscription(&self, options: SubscriptionOptions) -> Subscription {
        let channels = vec![self.name.to_string()];
        Subscription::new(
            &self.client,
            channels,
            Vec::new(),
            options,
            EventMask::APP_CONTEXT,
        )
    }
}

/// Several subscriptions subscribed and consumed as one: its streams see an
/// event once even when several members match it.
///
/// ```no_run
/// # fn run(client: pubnub_rx::PubNub) {
/// use pubnub_rx::subscribe::SubscriptionOptions;
/// let a = client.channel("a").subscription(SubscriptionOptions::new());
/// let b = client.channel_group("g").subscription(SubscriptionOptions::new());
/// let mut set = a + b;
/// set += client.channel("c").subscription(SubscriptionOptions::new());
/// let events = set.events();
/// set.subscribe();
/// # drop(events); }
/// ```
#[derive(Clone)]
pub struct SubscriptionSet {
    core: Arc<Core>,
    members: Arc<Mutex<Vec<Subscription>>>,
    timetoken: Option<u64>,
}

impl fmt::Debug for SubscriptionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionSet")
            .field("members", &*self.members())
            .finish()
    }
}

impl SubscriptionSet {
    fn from_members(client: &PubNub, members: Vec<Subscription>) -> Self {
        // Queue settings follow the first member's options.
        let (capacity, policy) = members
            .first()
            .map(|m| (Some(m.core.outlet_capacity()), m.core.outlet_policy()))
            .unwrap_or((None, OverflowPolicy::DropOldest));
        let timetoken = members.iter().find_map(|m| m.timetoken);
        Self {
            core: Arc::new(Core::new(
                client,
                capacity,
                policy,
                EventMask::ALL,
                "subscription set".to_owned(),
            )),
            members: Arc::new(Mutex::new(members)),
            timetoken,
        }
    }

    fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn members(&self) -> MutexGuard<'_, Vec<Subscription>> {
        self.members
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn union(&self) -> (Vec<String>, Vec<String>) {
        let members = self.members();
        let channels: BTreeSet<&String> = members.iter().flat_map(|m| m.channels.iter()).collect();
        let groups: BTreeSet<&String> = members.iter().flat_map(|m| m.groups.iter()).collect();
        (
            channels.into_iter().cloned().collect(),
            groups.into_iter().cloned().collect(),
        )
    }

    /// Subscribes the union of the members' channels and groups; await it
    /// as [`Subscription::subscribe`].
    pub fn subscribe(&self) -> Subscribing {
        let (channels, groups) = self.union();
        self.core.subscribe(channels, groups, self.timetoken)
    }

    /// Subscribes, catching up from `timetoken`.
    pub fn subscribe_with_timetoken(&self, timetoken: u64) -> Subscribing {
        let (channels, groups) = self.union();
        self.core.subscribe(channels, groups, Some(timetoken))
    }

    /// Leaves the long-poll; its streams end. Await it as
    /// [`Subscription::unsubscribe`].
    pub fn unsubscribe(&self) -> Unsubscribing {
        self.core.unsubscribe()
    }

    /// Whether it is subscribed.
    pub fn is_subscribed(&self) -> bool {
        self.core.subscribed.load(Ordering::Acquire)
    }

    /// Adds a member (applied at once when subscribed).
    pub fn add(&self, subscription: Subscription) {
        {
            let mut members = self.members();
            if members
                .iter()
                .any(|m| Arc::ptr_eq(&m.core, &subscription.core))
            {
                return;
            }
            members.push(subscription);
        }
        self.refresh();
    }

    /// Removes a member (applied at once when subscribed).
    pub fn remove(&self, subscription: &Subscription) {
        self.members()
            .retain(|m| !Arc::ptr_eq(&m.core, &subscription.core));
        self.refresh();
    }

    /// The members.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.members().clone()
    }

    fn refresh(&self) {
        if self.is_subscribed() {
            let (channels, groups) = self.union();
            drop(self.core.subscribe(channels, groups, None));
        }
    }

    stream_methods!();
}

impl Core {
    fn outlet_capacity(&self) -> usize {
        self.outlet.capacity()
    }

    fn outlet_policy(&self) -> OverflowPolicy {
        self.outlet.policy()
    }
}

impl Add for Subscription {
    type Output = SubscriptionSet;

    fn add(self, rhs: Subscription) -> SubscriptionSet {
        let client = self.core.client.clone();
        SubscriptionSet::from_members(&client, vec![self, rhs])
    }
}

impl Add<Subscription> for SubscriptionSet {
    type Output = SubscriptionSet;

    fn add(self, rhs: Subscription) -> SubscriptionSet {
        SubscriptionSet::add(&self, rhs);
        self
    }
}

impl AddAssign<Subscription> for SubscriptionSet {
    fn add_assign(&mut self, rhs: Subscription) {
        SubscriptionSet::add(self, rhs);
    }
}

impl SubAssign<Subscription> for SubscriptionSet {
    fn sub_assign(&mut self, rhs: Subscription) {
        self.remove(&rhs);
    }
}

impl SubAssign<&Subscription> for SubscriptionSet {
    fn sub_assign(&mut self, rhs: &Subscription) {
        self.remove(rhs);
    }
}

impl PubNub {
    /// A set of subscriptions consumed as one.
    pub fn subscription_set(
        &self,
        subscriptions: impl IntoIterator<Item = Subscription>,
    ) -> SubscriptionSet {
        SubscriptionSet::from_members(self, subscriptions.into_iter().collect())
    }

    /// A stream of connection status events (connected, reconnected, lost,
    /// access denied, messages lost, ...).
    pub fn status(&self) -> StatusStream {
        StatusStream::new(self.subscriber.status.subscribe())
    }

    /// Unsubscribes every subscription; a final `Disconnected` status follows.
    pub fn unsubscribe_all(&self) {
        if let Some(mux) = self.subscriber.running_mux() {
            mux.send(Command::UnsubscribeAll);
        }
    }

    /// Stops the long-poll, keeping subscriptions and the cursor; resume
    /// with [`reconnect`](Self::reconnect).
    pub fn disconnect(&self) {
        if let Some(mux) = self.subscriber.running_mux() {
            mux.send(Command::Disconnect);
        }
    }

    /// Resumes after [`disconnect`](Self::disconnect) or after the subscribe
    /// loop gave up, from the last cursor.
    pub fn reconnect(&self) {
        if let Some(mux) = self.subscriber.running_mux() {
            mux.send(Command::Reconnect);
        }
    }
}
