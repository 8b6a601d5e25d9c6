//! Typed events delivered by subscriptions, and the client's status events.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::envelope::Envelope;
use crate::Error;

/// What kind of published message a [`Message`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A published message (envelope type 0).
    Message,
    /// A signal (envelope type 1).
    Signal,
}

/// A message or signal received on a subscription.
///
/// Cheap to clone: it is a reference to the subscribe response it arrived
/// in (one shared buffer and its decoded envelopes), so every subscriber of
/// the channel shares one copy of the payload, and building it allocates
/// nothing per message. [`decode`](Self::decode) parses your type from it on
/// demand. A message you keep keeps that whole response (its body and
/// decoded envelopes, up to 100 messages) in memory: to hold many messages
/// for long, keep what you decoded from them instead.
#[derive(Clone)]
pub struct Message {
    batch: Arc<Batch>,
    /// Position of this message's envelope in `batch.envelopes`.
    index: u32,
    kind: MessageKind,
}

/// One subscribe response as the messages built from it share it.
pub(crate) struct Batch {
    pub(crate) body: Bytes,
    pub(crate) envelopes: Vec<Envelope>,
    /// Per envelope, the decryption result when the client has a crypto
    /// module and the envelope is a message with a string payload; empty
    /// without a crypto module.
    pub(crate) decrypted: Vec<Option<Result<Bytes, Error>>>,
    /// Whether these messages were recovered from history (a gap), not
    /// received live.
    pub(crate) recovered: bool,
}

impl Message {
    /// The message of envelope `index` of `batch`; `None` when there is no
    /// such envelope.
    pub(crate) fn new(batch: &Arc<Batch>, index: usize, kind: MessageKind) -> Option<Self> {
        if index >= batch.envelopes.len() {
            return None;
        }
        Some(Self {
            batch: Arc::clone(batch),
            index: u32::try_from(index).ok()?,
            kind,
        })
    }

    fn envelope(&self) -> &Envelope {
        // In range by construction (`new` checks it; the batch never changes).
        &self.batch.envelopes[self.index as usize]
    }

    fn body(&self) -> &[u8] {
        &self.batch.body
    }

    fn decrypted(&self) -> Option<&Result<Bytes, Error>> {
        self.batch
            .decrypted
            .get(self.index as usize)
            .and_then(Option::as_ref)
    }

    /// Message or signal.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The channel the message was published on.
    pub fn channel(&self) -> &str {
        self.envelope().channel.as_str(self.body())
    }

    /// What the message matched through: the channel group or wildcard
    /// pattern, or the channel itself for a direct subscription.
    pub fn subscription(&self) -> &str {
        match &self.envelope().subscription {
            Some(span) => span.as_str(self.body()),
            None => self.channel(),
        }
    }

    /// The message's timetoken.
    pub fn timetoken(&self) -> u64 {
        self.envelope().published.timetoken
    }

    /// The region of the timetoken.
    pub fn region(&self) -> u32 {
        self.envelope().published.region
    }

    /// The publisher's user id, when the server reported it.
    pub fn publisher(&self) -> Option<&str> {
        self.envelope()
            .publisher
            .as_ref()
            .map(|span| span.as_str(self.body()))
    }

    /// The custom message type given at publish time.
    pub fn custom_message_type(&self) -> Option<&str> {
        self.envelope()
            .custom_message_type
            .as_ref()
            .map(|span| span.as_str(self.body()))
    }

    /// The publisher's sequence number, when present.
    pub fn sequence(&self) -> Option<u32> {
        self.envelope().sequence
    }

    /// The user metadata as raw JSON, when the publisher attached some.
    pub fn meta_json(&self) -> Option<&str> {
        self.envelope()
            .meta
            .as_ref()
            .map(|span| span.as_str(self.body()))
    }

    /// The user metadata parsed into `T`.
    pub fn meta<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        self.meta_json()
            .map(|json| {
                serde_json::from_str(json)
                    .map_err(|e| Error::deserialization("the message meta", e, json.as_bytes()))
            })
            .transpose()
    }

    /// The payload as JSON text (decrypted when the client has a crypto
    /// module and decryption succeeded; the raw ciphertext string otherwise).
    pub fn payload_json(&self) -> &str {
        match self.decrypted() {
            Some(Ok(plain)) => std::str::from_utf8(plain).unwrap_or(""),
            _ => self.envelope().payload.as_str(self.body()),
        }
    }

    /// Parses the payload into your type.
    ///
    /// Fails with the decryption error when the payload could not be
    /// decrypted, so garbage never decodes silently.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        if let Some(error) = self.decryption_error() {
            return Err(error.clone());
        }
        let json = self.payload_json();
        serde_json::from_str(json)
            .map_err(|e| Error::deserialization("the message payload", e, json.as_bytes()))
    }

    /// Why the payload could not be decrypted, if it could not; the payload
    /// is then the raw value as received.
    pub fn decryption_error(&self) -> Option<&Error> {
        match self.decrypted() {
            Some(Err(error)) => Some(error),
            _ => None,
        }
    }

    /// Whether two handles are the same message sharing one payload
    /// allocation (no copy was made).
    pub fn shares_payload_with(&self, other: &Message) -> bool {
        Arc::ptr_eq(&self.batch, &other.batch) && self.index == other.index
    }

    /// The envelope flags (`f`) as the server sent them.
    pub fn flags(&self) -> u32 {
        self.envelope().flags
    }

    /// Whether this message was recovered from history after a full receive
    /// (see [`GapRecovery`](crate::GapRecovery)) rather than received live;
    /// recovered messages arrive before the receive that revealed the gap,
    /// in timetoken order, and never twice.
    pub fn recovered(&self) -> bool {
        self.batch.recovered
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("kind", &self.kind())
            .field("channel", &self.channel())
            .field("subscription", &self.subscription())
            .field("timetoken", &self.timetoken())
            .field("publisher", &self.publisher())
            .field("payload", &self.payload_json())
            .field("meta", &self.meta_json())
            .field("custom_message_type", &self.custom_message_type())
            .field("decryption_error", &self.decryption_error())
            .finish()
    }
}

/// What a [`Presence`] event holds: someone joined, left, timed out or
/// changed state on a channel; or an interval summary.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceData {
    /// The channel the event is about (without the `-pnpres` suffix).
    pub channel: String,
    /// What it matched through: the channel, or the channel group.
    pub subscription: String,
    /// Timetoken of the event.
    pub timetoken: u64,
    /// What happened.
    pub event: PresenceEvent,
}

/// What happened, in a [`Presence`] event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PresenceEvent {
    /// A user joined.
    Join {
        /// Who.
        uuid: String,
        /// Occupancy after the change.
        occupancy: u64,
        /// Unix seconds.
        timestamp: u64,
        /// The user's state, when the join carried one.
        state: Option<Value>,
    },
    /// A user left.
    Leave {
        /// Who.
        uuid: String,
        /// Occupancy after the change.
        occupancy: u64,
        /// Unix seconds.
        timestamp: u64,
    },
    /// A user timed out (no heartbeat within its presence timeout).
    Timeout {
        /// Who.
        uuid: String,
        /// Occupancy after the change.
        occupancy: u64,
        /// Unix seconds.
        timestamp: u64,
    },
    /// A user's state changed.
    StateChange {
        /// Who.
        uuid: String,
        /// Occupancy.
        occupancy: u64,
        /// Unix seconds.
        timestamp: u64,
        /// The new state.
        state: Value,
    },
    /// Interval mode summary (busy channels): occupancy plus who joined,
    /// left or timed out since the previous interval.
    Interval {
        /// Occupancy.
        occupancy: u64,
        /// Unix seconds.
        timestamp: u64,
        /// Users that joined.
        join: Vec<String>,
        /// Users that left.
        leave: Vec<String>,
        /// Users that timed out.
        timeout: Vec<String>,
        /// The deltas did not fit: call here_now for the member list.
        here_now_refresh: bool,
    },
}

/// What a [`MessageAction`] event holds: an action (reaction, receipt,
/// ...) was added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageActionData {
    /// The channel of the message the action belongs to.
    pub channel: String,
    /// What it matched through.
    pub subscription: String,
    /// Timetoken of the event.
    pub timetoken: u64,
    /// `true` when added, `false` when removed.
    pub added: bool,
    /// The action type, e.g. `reaction`.
    pub action_type: String,
    /// The action value, e.g. `smiley_face`.
    pub value: String,
    /// Timetoken of the message the action is attached to.
    pub message_timetoken: u64,
    /// Timetoken of the action itself.
    pub action_timetoken: u64,
    /// Who added or removed it.
    pub uuid: Option<String>,
}

/// Which App Context object an [`AppContextEvent`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppContextKind {
    /// User (uuid) metadata.
    User,
    /// Channel metadata.
    Channel,
    /// A membership of a user in a channel.
    Membership,
}

/// What an [`AppContextEvent`] holds: App Context (objects) metadata was
/// set or deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct AppContextData {
    /// The channel the event arrived on.
    pub channel: String,
    /// What it matched through.
    pub subscription: String,
    /// Timetoken of the event.
    pub timetoken: u64,
    /// `true` for set, `false` for delete.
    pub set: bool,
    /// Which kind of object.
    pub kind: AppContextKind,
    /// The object (id, name, custom, ...), as sent.
    pub data: Value,
}

/// What a [`FileEvent`] holds: a file was shared on a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct FileData {
    /// The channel.
    pub channel: String,
    /// What it matched through.
    pub subscription: String,
    /// Timetoken of the file message.
    pub timetoken: u64,
    /// Who shared it.
    pub publisher: Option<String>,
    /// The message sent with the file.
    pub message: Option<Value>,
    /// File id.
    pub file_id: String,
    /// File name.
    pub file_name: String,
    /// Why the file message could not be decrypted, if it could not.
    pub decryption_error: Option<Error>,
}

/// Defines a cheap-clone event handle over its data, like [`Message`]: every
/// subscriber of the event shares one allocation, and the handle derefs to
/// the data (`event.channel`, `event.timetoken`, ...).
macro_rules! event_handle {
    ($(#[$doc:meta])* $name:ident => $data:ident) => {
        $(#[$doc])*
        ///
        /// Cheap to clone: a shared reference to the event's data (every
        /// subscriber and stream of it shares one allocation); it derefs to
        #[doc = concat!("[`", stringify!($data), "`].")]
        #[derive(Clone, PartialEq)]
        pub struct $name(Arc<$data>);

        impl $name {
            /// A handle owning `data`.
            pub fn new(data: $data) -> Self {
                Self(Arc::new(data))
            }

            /// Whether two handles share one allocation (no copy was made).
            pub fn shares_data_with(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = $data;

            fn deref(&self) -> &$data {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }
    };
}

event_handle!(
    /// A presence event on a channel.
    Presence => PresenceData
);
event_handle!(
    /// A message action was added or removed.
    MessageAction => MessageActionData
);
event_handle!(
    /// App Context metadata was set or deleted.
    AppContextEvent => AppContextData
);
event_handle!(
    /// A file was shared on a channel.
    FileEvent => FileData
);

/// Any event a subscription delivers. Every payload is a cheap-clone
/// handle ([`Message`], [`Presence`], [`MessageAction`], [`AppContextEvent`],
/// [`FileEvent`]): cloning an event never copies what it carries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A published message.
    Message(Message),
    /// A signal.
    Signal(Message),
    /// A presence event.
    Presence(Presence),
    /// A message action event.
    MessageAction(MessageAction),
    /// An App Context event.
    AppContext(AppContextEvent),
    /// A file event.
    File(FileEvent),
}

impl Event {
    pub(crate) fn kind_bit(&self) -> u8 {
        match self {
            Self::Message(_) => EventMask::MESSAGE.0,
            Self::Signal(_) => EventMask::SIGNAL.0,
            Self::Presence(_) => EventMask::PRESENCE.0,
            Self::MessageAction(_) => EventMask::MESSAGE_ACTION.0,
            Self::AppContext(_) => EventMask::APP_CONTEXT.0,
            Self::File(_) => EventMask::FILE.0,
        }
    }

    /// The channel the event is about.
    pub fn channel(&self) -> &str {
        match self {
            Self::Message(m) | Self::Signal(m) => m.channel(),
            Self::Presence(p) => &p.channel,
            Self::MessageAction(a) => &a.channel,
            Self::AppContext(c) => &c.channel,
            Self::File(f) => &f.channel,
        }
    }

    /// The event's timetoken.
    pub fn timetoken(&self) -> u64 {
        match self {
            Self::Message(m) | Self::Signal(m) => m.timetoken(),
            Self::Presence(p) => p.timetoken,
            Self::MessageAction(a) => a.timetoken,
            Self::AppContext(c) => c.timetoken,
            Self::File(f) => f.timetoken,
        }
    }
}

/// Which event kinds a stream wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventMask(pub(crate) u8);

impl EventMask {
    pub(crate) const MESSAGE: Self = Self(1);
    pub(crate) const SIGNAL: Self = Self(2);
    pub(crate) const PRESENCE: Self = Self(4);
    pub(crate) const MESSAGE_ACTION: Self = Self(8);
    pub(crate) const APP_CONTEXT: Self = Self(16);
    pub(crate) const FILE: Self = Self(32);
    pub(crate) const ALL: Self = Self(63);

    pub(crate) fn wants(self, event: &Event) -> bool {
        self.0 & event.kind_bit() != 0
    }
}

/// Categories of [`Status`] events, as the PubNub SDKs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusCategory {
    /// The subscribe loop is connected.
    Connected,
    /// It recovered after a failure.
    Reconnected,
    /// It stopped (unsubscribed from everything, or disconnected on request).
    Disconnected,
    /// The connection was lost unexpectedly; reconnecting per policy.
    UnexpectedDisconnect,
    /// Access Manager refused the subscribe; not retried.
    AccessDenied,
    /// A request or subscribe long-poll timed out.
    Timeout,
    /// Network trouble (connection refused, DNS, TLS, reset).
    NetworkIssues,
    /// The server refused the request as malformed; not retried.
    BadRequest,
    /// Something else went wrong.
    Unknown,
    /// A subscription queue overflowed and dropped events.
    MessagesLost,
    /// A heartbeat request succeeded or failed.
    Heartbeat,
    /// A request was too long to send or refused as too long (HTTP 413/414);
    /// not retried.
    RequestTooLong,
    /// A listener callback panicked (caught; the listener goes on).
    ListenerFailed,
    /// Channels or groups joined the connected long-poll.
    SubscriptionChanged,
    /// Messages a full receive had skipped were recovered from history.
    GapRecovered,
    /// Messages may have been lost and history could not tell.
    PotentialLoss,
}

/// A connection-status event on [`PubNub::status`](crate::PubNub::status).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Status {
    /// Connected: the first subscribe handshake succeeded.
    Connected {
        /// Channels in the long-poll.
        channels: Vec<String>,
        /// Channel groups in the long-poll.
        channel_groups: Vec<String>,
    },
    /// Recovered after a failure, continuing from the last cursor.
    Reconnected {
        /// Channels in the long-poll.
        channels: Vec<String>,
        /// Channel groups in the long-poll.
        channel_groups: Vec<String>,
    },
    /// Channels or groups joined the connected long-poll (a subscription
    /// subscribed, or a set changed, while connected).
    SubscriptionChanged {
        /// Channels in the long-poll.
        channels: Vec<String>,
        /// Channel groups in the long-poll.
        channel_groups: Vec<String>,
    },
    /// The subscribe loop stopped: after the last unsubscribe, `unsubscribe_all`, or `disconnect`.
    Disconnected,
    /// The connection was lost; the client reconnects by itself per its policy.
    UnexpectedDisconnect {
        /// What failed.
        error: Error,
    },
    /// The subscribe loop failed and stopped; `reconnect()` restarts it.
    Failed {
        /// What kind of failure.
        category: StatusCategory,
        /// The error.
        error: Error,
    },
    /// A subscription queue overflowed (drop-oldest policy) and lost events.
    MessagesLost {
        /// The subscription's channels/groups, comma-separated.
        subscription: String,
        /// How many events were dropped since the last report.
        count: u64,
    },
    /// A heartbeat request result (reported per the heartbeat notification option).
    Heartbeat {
        /// `None` when it succeeded.
        error: Option<Error>,
    },
    /// A receive came back full (the server's queue may have dropped older
    /// messages) and the messages it had skipped were fetched from history
    /// and delivered before it, each marked [`Message::recovered`]
    /// ([`GapRecovery::FromHistory`](crate::GapRecovery::FromHistory)).
    GapRecovered {
        /// The channels history was asked about.
        channels: Vec<String>,
        /// How many messages were recovered (new ones only: duplicates of
        /// what was already delivered are not counted).
        count: usize,
    },
    /// Messages newer than `after` and older than `before` may have been
    /// lost — a receive came back full — and history could not (fully) tell:
    /// [`GapRecovery::Report`](crate::GapRecovery::Report), storage off or
    /// refused (`reason`), a wildcard whose channels were never seen, a
    /// group whose channels could not be listed, or the page limit reached.
    PotentialLoss {
        /// The channels concerned (wildcard patterns included).
        channels: Vec<String>,
        /// The channel groups concerned.
        channel_groups: Vec<String>,
        /// Messages after this timetoken …
        after: u64,
        /// … and before this one may be missing.
        before: u64,
        /// Why history could not answer, when it failed or refused.
        reason: Option<Error>,
    },
    /// A [`Listener`](crate::subscribe::Listener) callback panicked on an
    /// event. The panic was caught; the listener gets the events that follow.
    ListenerFailed {
        /// Which listener: the subscription's channels and groups, or
        /// `client listener`.
        listener: String,
        /// The channel of the event it panicked on.
        channel: String,
        /// The timetoken of that event.
        timetoken: u64,
        /// The panic message.
        message: String,
    },
}

impl Status {
    /// The category of this status.
    pub fn category(&self) -> StatusCategory {
        match self {
            Self::Connected { .. } => StatusCategory::Connected,
            Self::Reconnected { .. } => StatusCategory::Reconnected,
            Self::SubscriptionChanged { .. } => StatusCategory::SubscriptionChanged,
            Self::Disconnected => StatusCategory::Disconnected,
            Self::UnexpectedDisconnect { .. } => StatusCategory::UnexpectedDisconnect,
            Self::Failed { category, .. } => *category,
            Self::MessagesLost { .. } => StatusCategory::MessagesLost,
            Self::Heartbeat { .. } => StatusCategory::Heartbeat,
            Self::ListenerFailed { .. } => StatusCategory::ListenerFailed,
            Self::GapRecovered { .. } => StatusCategory::GapRecovered,
            Self::PotentialLoss { .. } => StatusCategory::PotentialLoss,
        }
    }

    /// The error behind this status, if any.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Self::UnexpectedDisconnect { error } | Self::Failed { error, .. } => Some(error),
            Self::Heartbeat { error } | Self::PotentialLoss { reason: error, .. } => error.as_ref(),
            _ => None,
        }
    }
}

/// The status category an error maps to.
pub(crate) fn category_of(error: &Error) -> StatusCategory {
    match error {
        Error::AccessDenied { .. } => StatusCategory::AccessDenied,
        Error::Timeout { .. } => StatusCategory::Timeout,
        Error::Network { .. } => StatusCategory::NetworkIssues,
        Error::InvalidKey { .. } | Error::InvalidArgument { .. } => StatusCategory::BadRequest,
        Error::InvalidRequest { .. } => StatusCategory::BadRequest,
        Error::RequestTooLong { .. } => StatusCategory::RequestTooLong,
        Error::Http { status, .. } if *status == 400 => StatusCategory::BadRequest,
        Error::Http { status, .. } if *status == 403 => StatusCategory::AccessDenied,
        _ => StatusCategory::Unknown,
    }
}
