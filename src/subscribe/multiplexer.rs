//! The multiplexer: one actor per client that owns the subscribe state
//! machine and the one long-poll carrying every subscription's channels and
//! groups, and routes what it returns to the subscriptions' queues.
//!
//! Subscriptions talk to it through an unbounded command channel (commands
//! come at the rate the application subscribes and unsubscribes, and
//! dropping a subscription must be able to send one without awaiting). It
//! runs [engine](super::engine) effects: a request effect drops the future
//! of the request in flight — so a cancelled poll's response can never be
//! delivered — and starts the new one. It ends when the last client handle
//! is dropped, closing every stream.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, Notify};

use super::dedupe::Dedupe;
use super::engine::{Effect, Engine, Event as EngineEvent, StatusKind};
use super::envelope::{Cursor, Envelope, SubscribeResponse};
use super::event::{
    AppContextEvent, AppContextKind, Batch, Event, FileEvent, Message, MessageAction, MessageKind,
    Presence, PresenceEvent, Status,
};
use super::hash::FastMap;
use super::heartbeat::{self, PresenceUpdate};
use super::router::{Blocked, Outlet, Router, SubscriberId};
use super::status::StatusHub;
use crate::api::timetoken_from;
use crate::client::{ClientInner, Request};
use crate::transport::encoding::{encode, encode_list};
use crate::transport::{HttpMethod, RequestKind};
use crate::Error;

/// Suffix of presence channels and groups.
pub(crate) const PRESENCE_SUFFIX: &str = "-pnpres";

/// Most commands handled before acting on a changed channel mix.
const COMMAND_BATCH: usize = 4096;

/// Extra time the watchdog allows beyond the subscribe timeout before it
/// abandons a long-poll (the transport's own timeout should fire first).
const WATCHDOG_GRACE: Duration = Duration::from_secs(5);

/// Commands from handles to the actor.
pub(crate) enum Command {
    /// Add or update a subscriber with its wire names.
    Subscribe {
        id: SubscriberId,
        outlet: Arc<Outlet>,
        channels: Vec<String>,
        groups: Vec<String>,
        timetoken: Option<u64>,
    },
    /// Remove a subscriber (its streams end).
    Unsubscribe { id: SubscriberId },
    /// A client-wide listener: receives every event.
    AddGlobal {
        id: SubscriberId,
        outlet: Arc<Outlet>,
    },
    /// Remove a client-wide listener.
    RemoveGlobal { id: SubscriberId },
    /// Remove every subscriber.
    UnsubscribeAll,
    /// Stop the long-poll, keeping subscriptions and cursor.
    Disconnect,
    /// Resume after `Disconnect` or a failure.
    Reconnect,
}

/// The handles' side of the actor.
#[derive(Clone)]
pub(crate) struct MuxHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl MuxHandle {
    /// Sends a command; a closed actor (runtime gone) is ignored, since
    /// everything it would act on has ended with it.
    pub(crate) fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }
}

/// Starts the actor on the current tokio runtime.
pub(crate) fn spawn(
    client: Arc<ClientInner>,
    status: Arc<StatusHub>,
    space: Arc<Notify>,
) -> Result<MuxHandle, Error> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::InvalidArgument {
        name: "runtime",
        reason: "subscribing needs a tokio runtime: call subscribe() from within one".to_owned(),
    })?;
    let (tx, rx) = mpsc::unbounded_channel();
    let presence = heartbeat::spawn(Arc::clone(&client), Arc::clone(&status));
    let actor = Multiplexer {
        engine: Engine::new(client.config.reconnect_policy),
        dedupe: Dedupe::new(client.config.maximum_message_cache),
        client,
        status,
        router: Router::default(),
        globals: Vec::new(),
        presence,
        announced: (BTreeSet::new(), BTreeSet::new()),
        pending: None,
        blocked: Vec::new(),
        deferred: None,
        space,
        staging: FastMap::default(),
        union_dirty: false,
    };
    runtime.spawn(actor.run(rx));
    Ok(MuxHandle { commands: tx })
}

type Inflight = Pin<Box<dyn Future<Output = Outcome> + Send>>;

enum Outcome {
    Handshake(Result<SubscribeResponse, Error>),
    Receive(Result<SubscribeResponse, Error>),
}

struct Multiplexer {
    client: Arc<ClientInner>,
    status: Arc<StatusHub>,
    engine: Engine,
    router: Router,
    globals: Vec<(SubscriberId, Arc<Outlet>)>,
    dedupe: Dedupe,
    presence: mpsc::UnboundedSender<PresenceUpdate>,
    /// Channels and groups the presence actor was last told about.
    announced: (BTreeSet<String>, BTreeSet<String>),
    /// The successful receive whose messages await the engine's `Deliver`.
    pending: Option<SubscribeResponse>,
    /// Events backpressure queues could not take yet.
    blocked: Vec<Blocked>,
    /// A receive postponed until `blocked` drains (backpressure).
    deferred: Option<(Cursor, Option<Duration>)>,
    /// Signalled when a backpressure queue makes room.
    space: Arc<Notify>,
    /// Per-subscriber events of the batch being dispatched (reused).
    staging: FastMap<SubscriberId, Vec<Event>>,
    /// The commands handled since the last flush changed the channel mix.
    union_dirty: bool,
}

impl Multiplexer {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut inflight: Option<Inflight> = None;
        loop {
            let request = async {
                match inflight.as_mut() {
                    Some(future) => future.await,
                    None => std::future::pending().await,
                }
            };
            let space = Arc::clone(&self.space);
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => {
                        self.on_command(command, &mut inflight);
                        // Take the commands already queued too, and act on
                        // the new channel mix once: subscribing N
                        // subscriptions in a row then costs one long-poll
                        // restart, not N (each rebuilding the whole list).
                        for _ in 1..COMMAND_BATCH {
                            match commands.try_recv() {
                                Ok(command) => self.on_command(command, &mut inflight),
                                Err(_) => break,
                            }
                        }
                        self.flush_union(&mut inflight);
                    }
                    None => break,
                },
                outcome = request => {
                    inflight = None;
                    self.on_outcome(outcome, &mut inflight);
                }
                () = space.notified(), if !self.blocked.is_empty() => self.retry_blocked(&mut inflight),
            }
        }
        // The last client handle is gone: end every stream. Dropping the
        // presence sender lets that actor send the leaves still due and end.
        drop(inflight);
        for outlet in self.router.drain_outlets() {
            outlet.close();
        }
        for (_, outlet) in self.globals.drain(..) {
            outlet.close();
        }
        let left = std::mem::take(&mut self.announced);
        let _ = self.presence.send(PresenceUpdate {
            channels: Vec::new(),
            groups: Vec::new(),
            left_channels: left.0.into_iter().collect(),
            left_groups: left.1.into_iter().collect(),
        });
        self.status.close();
    }

    fn on_command(&mut self, command: Command, inflight: &mut Option<Inflight>) {
        match command {
            Command::Subscribe {
                id,
                outlet,
                channels,
                groups,
                timetoken,
            } => {
                if let Some(timetoken) = timetoken {
                    // Earlier commands' change first, in order; this one
                    // restarts the subscribe loop from `timetoken` anyway.
                    self.flush_union(inflight);
                    self.router.insert(id, outlet, channels, groups);
                    self.announce_presence();
                    let event = EngineEvent::SubscriptionRestored {
                        cursor: Cursor {
                            timetoken,
                            region: 0,
                        },
                    };
                    self.apply(event, inflight);
                } else {
                    let changed = self.router.insert(id, outlet, channels, groups);
                    self.union_dirty |= changed;
                }
            }
            Command::Unsubscribe { id } => {
                if let Some((outlet, changed)) = self.router.remove(id) {
                    outlet.close();
                    self.union_dirty |= changed;
                }
            }
            Command::AddGlobal { id, outlet } => self.globals.push((id, outlet)),
            Command::RemoveGlobal { id } => {
                self.globals.retain(|(other, outlet)| {
                    let keep = *other != id;
                    if !keep {
                        outlet.close();
                    }
                    keep
                });
            }
            Command::UnsubscribeAll => {
                self.union_dirty = false;
                for outlet in self.router.drain_outlets() {
                    outlet.close();
                }
                self.announce_presence();
                self.apply(EngineEvent::UnsubscribeAll, inflight);
            }
            Command::Disconnect => {
                self.flush_union(inflight);
                self.apply(EngineEvent::Disconnect, inflight);
            }
            Command::Reconnect => {
                self.flush_union(inflight);
                self.apply(EngineEvent::Reconnect, inflight);
            }
        }
    }

    /// Acts on a change of the channel mix made by the commands handled so
    /// far (kept in order with the commands that drive the engine).
    fn flush_union(&mut self, inflight: &mut Option<Inflight>) {
        if std::mem::take(&mut self.union_dirty) {
            self.union_changed(inflight);
        }
    }

    fn union_changed(&mut self, inflight: &mut Option<Inflight>) {
        self.announce_presence();
        let empty = self.router.is_empty();
        self.apply(EngineEvent::SubscriptionChanged { empty }, inflight);
    }

    /// Tells the presence actor the current channels and those that left.
    fn announce_presence(&mut self) {
        let strip = |names: BTreeSet<&str>| -> BTreeSet<String> {
            names
                .into_iter()
                .filter(|n| !n.ends_with(PRESENCE_SUFFIX))
                .map(str::to_owned)
                .collect()
        };
        let channels = strip(self.router.channels());
        let groups = strip(self.router.groups());
        if (&channels, &groups) == (&self.announced.0, &self.announced.1) {
            return;
        }
        let left_channels = self.announced.0.difference(&channels).cloned().collect();
        let left_groups = self.announced.1.difference(&groups).cloned().collect();
        let _ = self.presence.send(PresenceUpdate {
            channels: channels.iter().cloned().collect(),
            groups: groups.iter().cloned().collect(),
            left_channels,
            left_groups,
        });
        self.announced = (channels, groups);
    }

    fn on_outcome(&mut self, outcome: Outcome, inflight: &mut Option<Inflight>) {
        let event = match outcome {
            Outcome::Handshake(Ok(response)) => EngineEvent::HandshakeSuccess {
                cursor: response.cursor,
            },
            Outcome::Handshake(Err(reason)) => EngineEvent::HandshakeFailure { reason },
            Outcome::Receive(Ok(response)) => {
                let cursor = response.cursor;
                self.pending = Some(response);
                EngineEvent::ReceiveSuccess { cursor }
            }
            Outcome::Receive(Err(reason)) => EngineEvent::ReceiveFailure { reason },
        };
        self.apply(event, inflight);
    }

    fn apply(&mut self, event: EngineEvent, inflight: &mut Option<Inflight>) {
        tracing::trace!(?event, state = ?self.engine.state(), "subscribe engine");
        for effect in self.engine.handle(event) {
            match effect {
                Effect::Handshake { delay } => {
                    self.deferred = None;
                    *inflight = Some(self.request(None, delay));
                }
                Effect::Receive { cursor, delay } => {
                    if self.blocked.is_empty() {
                        self.deferred = None;
                        *inflight = Some(self.request(Some(cursor), delay));
                    } else {
                        // Backpressure: poll again once the consumers made room.
                        *inflight = None;
                        self.deferred = Some((cursor, delay));
                    }
                }
                Effect::Cancel => {
                    *inflight = None;
                    self.deferred = None;
                    self.pending = None;
                }
                Effect::Deliver => {
                    if let Some(response) = self.pending.take() {
                        self.dispatch(response);
                    }
                }
                Effect::Emit(kind) => self.emit(kind),
            }
        }
        self.pending = None;
    }

    fn emit(&self, kind: StatusKind) {
        let names = |set: BTreeSet<&str>| set.into_iter().map(str::to_owned).collect::<Vec<_>>();
        let status = match kind {
            StatusKind::Connected => Status::Connected {
                channels: names(self.router.channels()),
                channel_groups: names(self.router.groups()),
            },
            StatusKind::Reconnected => Status::Reconnected {
                channels: names(self.router.channels()),
                channel_groups: names(self.router.groups()),
            },
            StatusKind::Disconnected => Status::Disconnected,
            StatusKind::UnexpectedDisconnect(error) => Status::UnexpectedDisconnect { error },
            StatusKind::Failed(category, error) => Status::Failed { category, error },
        };
        self.status.emit(status);
    }

    /// Builds the handshake (`cursor` = `None`) or receive request for the
    /// current channel mix, and the future that sends it.
    fn request(&self, cursor: Option<Cursor>, delay: Option<Duration>) -> Inflight {
        let request = subscribe_request(&self.client, &self.router, cursor);
        let client = Arc::clone(&self.client);
        let watchdog = client.config.subscribe_timeout + WATCHDOG_GRACE;
        let delay = delay.map(with_jitter);
        Box::pin(async move {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let result = match tokio::time::timeout(watchdog, client.execute(request)).await {
                Ok(Ok(response)) => SubscribeResponse::decode(response.body),
                Ok(Err(error)) => Err(error),
                Err(_) => Err(Error::Timeout { after: watchdog }),
            };
            match cursor {
                None => Outcome::Handshake(result),
                Some(_) => Outcome::Receive(result),
            }
        })
    }

    /// Routes a receive's envelopes to the subscribers' queues, once each.
    fn dispatch(&mut self, response: SubscribeResponse) {
        let SubscribeResponse {
            body, envelopes, ..
        } = response;
        // With a crypto module, decrypt once, here, the messages that go
        // somewhere (a duplicate among them is decrypted for nothing).
        let mut decrypted = Vec::new();
        if self.client.config.crypto.is_some() {
            decrypted = envelopes
                .iter()
                .map(|envelope| {
                    let wanted = message_kind(&body, envelope) == Some(MessageKind::Message)
                        && (!self.globals.is_empty()
                            || self
                                .router
                                .route(
                                    envelope.channel.as_str(&body),
                                    envelope.subscription.as_ref().map(|s| s.as_str(&body)),
                                )
                                .next()
                                .is_some());
                    if wanted {
                        decrypt_payload(&self.client, envelope.payload.as_str(&body))
                    } else {
                        None
                    }
                })
                .collect();
        }
        let batch = Arc::new(Batch {
            body,
            envelopes,
            decrypted,
        });
        let body = &batch.body;
        for (index, envelope) in batch.envelopes.iter().enumerate() {
            let channel = envelope.channel.as_str(body);
            if !self
                .dedupe
                .first_time(envelope.published.timetoken, channel)
            {
                tracing::debug!(
                    channel,
                    timetoken = envelope.published.timetoken,
                    "duplicate dropped"
                );
                continue;
            }
            let subscription = envelope.subscription.as_ref().map(|s| s.as_str(body));
            let mut targets = self.router.route(channel, subscription).peekable();
            if targets.peek().is_none() && self.globals.is_empty() {
                tracing::debug!(
                    channel,
                    "message for no current subscription (sent before an unsubscribe)"
                );
                continue;
            }
            let Some(event) = build_event(&self.client, &batch, index, envelope) else {
                continue;
            };
            for id in targets {
                self.staging.entry(id).or_default().push(event.clone());
            }
            if !self.globals.is_empty() {
                self.staging.entry(GLOBAL).or_default().push(event);
            }
        }
        let mut staging = std::mem::take(&mut self.staging);
        for (id, events) in staging.iter_mut() {
            if events.is_empty() {
                continue;
            }
            if *id == GLOBAL {
                for (_, outlet) in &self.globals {
                    let mut copy = events.clone();
                    let lost = outlet.deliver(&mut copy, &mut self.blocked);
                    self.report_loss(outlet, lost);
                }
            } else if let Some(outlet) = self.router.outlet(*id) {
                let lost = outlet.deliver(events, &mut self.blocked);
                self.report_loss(outlet, lost);
            }
            events.clear();
        }
        // Keep the per-subscriber buffers (their allocations are reused) only
        // for subscribers that still exist.
        staging.retain(|id, _| *id == GLOBAL || self.router.outlet(*id).is_some());
        self.staging = staging;
    }

    fn report_loss(&self, outlet: &Outlet, lost: u64) {
        if lost > 0 {
            tracing::warn!(subscription = %outlet.label, lost, "subscription queue full: oldest events dropped");
            self.status.emit(Status::MessagesLost {
                subscription: outlet.label.clone(),
                count: lost,
            });
        }
    }

    /// Backpressure: offer the blocked events again; once all are taken,
    /// start the postponed receive.
    fn retry_blocked(&mut self, inflight: &mut Option<Inflight>) {
        let blocked = std::mem::take(&mut self.blocked);
        for Blocked { queue, events } in blocked {
            match queue.offer(events) {
                super::queue::Offer::Taken | super::queue::Offer::Abandoned => {}
                super::queue::Offer::Full(rest) => self.blocked.push(Blocked {
                    queue,
                    events: rest,
                }),
            }
        }
        if self.blocked.is_empty() {
            if let Some((cursor, delay)) = self.deferred.take() {
                *inflight = Some(self.request(Some(cursor), delay));
            }
        }
    }
}

/// Staging key of the client-wide listeners.
const GLOBAL: SubscriberId = 0;

/// Adds up to a quarter of the delay (at most 1 s) of random jitter, so
/// many clients cut off together do not reconnect in lockstep.
fn with_jitter(delay: Duration) -> Duration {
    let spread = (delay / 4).min(Duration::from_secs(1));
    let nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return delay;
    }
    delay + Duration::from_nanos(rand::random::<u64>() % nanos)
}

/// `GET /v2/subscribe/{sub}/{channels}/0` for the current mix (PROTOCOL.md §4.1).
pub(crate) fn subscribe_request(
    client: &ClientInner,
    router: &Router,
    cursor: Option<Cursor>,
) -> Request {
    let config = &client.config;
    let channels = router.channels();
    let groups = router.groups();
    let path = format!(
        "/v2/subscribe/{}/{}/0",
        encode(&config.subscribe_key),
        encode_list(&channels)
    );
    let plain = |names: &BTreeSet<&str>| -> Vec<String> {
        names
            .iter()
            .filter(|n| !n.ends_with(PRESENCE_SUFFIX))
            .map(|n| (*n).to_owned())
            .collect()
    };
    let state = heartbeat::state_param(client, &plain(&channels), &plain(&groups));
    let mut request = Request::new(HttpMethod::Get, path)
        .param(
            "tt",
            cursor.map_or_else(|| "0".to_owned(), |c| c.timetoken.to_string()),
        )
        .param_opt(
            "tr",
            cursor
                .filter(|c| c.region != 0)
                .map(|c| c.region.to_string()),
        )
        .param_opt(
            "channel-group",
            (!groups.is_empty()).then(|| groups.iter().copied().collect::<Vec<_>>().join(",")),
        )
        .param("heartbeat", config.presence_timeout.to_string())
        .param_opt("state", state)
        .param_opt("filter-expr", config.filter_expression.clone());
    request.kind = RequestKind::Subscribe;
    request
}

/// Whether an envelope is a message or a signal (`None`: another event).
fn message_kind(body: &[u8], envelope: &Envelope) -> Option<MessageKind> {
    if envelope.channel.as_str(body).ends_with(PRESENCE_SUFFIX) {
        return None;
    }
    match envelope.message_type {
        1 => Some(MessageKind::Signal),
        2..=4 => None,
        // 0, and unknown types delivered as messages.
        _ => Some(MessageKind::Message),
    }
}

/// Turns envelope `index` of `batch` into a typed event; `None` (logged)
/// when its payload does not have the shape its type promises. Messages and
/// signals point into the batch (their decryption, if any, is done).
fn build_event(
    client: &ClientInner,
    batch: &Arc<Batch>,
    index: usize,
    envelope: &Envelope,
) -> Option<Event> {
    let body = &batch.body;
    let channel = envelope.channel.as_str(body);
    if let Some(stripped) = channel.strip_suffix(PRESENCE_SUFFIX) {
        return presence_event(body, envelope, stripped).map(|p| Event::Presence(Arc::new(p)));
    }
    match envelope.message_type {
        0 => Message::new(batch, index, MessageKind::Message).map(Event::Message),
        1 => Message::new(batch, index, MessageKind::Signal).map(Event::Signal),
        2 => app_context_event(body, envelope).map(|e| Event::AppContext(Arc::new(e))),
        3 => message_action_event(body, envelope).map(|e| Event::MessageAction(Arc::new(e))),
        4 => file_event(client, body, envelope).map(|e| Event::File(Arc::new(e))),
        other => {
            tracing::warn!(
                channel,
                message_type = other,
                "unknown envelope type: delivered as a message"
            );
            Message::new(batch, index, MessageKind::Message).map(Event::Message)
        }
    }
}

/// `None` when the payload is not a string (so not ciphertext).
fn decrypt_payload(client: &ClientInner, raw: &str) -> Option<Result<Bytes, Error>> {
    let crypto = client.config.crypto.as_ref()?;
    if !raw.starts_with('"') {
        return None;
    }
    // Borrowed unless the string holds escapes (base64 rarely does).
    let text: std::borrow::Cow<'_, str> = match serde_json::from_str::<JsonText<'_>>(raw) {
        Ok(JsonText(text)) => text,
        Err(_) => return None,
    };
    Some(
        crypto
            .decrypt_base64(&text)
            .map_err(Error::from)
            .map(|plain| {
                // The plaintext is the publisher's JSON; anything else is delivered
                // as a JSON string of the text, as the PubNub SDKs do.
                if serde_json::from_slice::<serde::de::IgnoredAny>(&plain).is_ok() {
                    Bytes::from(plain)
                } else {
                    let text = String::from_utf8_lossy(&plain).into_owned();
                    Bytes::from(serde_json::to_string(&text).unwrap_or_default())
                }
            }),
    )
}

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(serde::Deserialize)]
struct JsonText<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

fn subscription_name(body: &[u8], envelope: &Envelope, channel: &str) -> String {
    envelope
        .subscription
        .as_ref()
        .map(|s| s.as_str(body))
        .map(|s| s.strip_suffix(PRESENCE_SUFFIX).unwrap_or(s).to_owned())
        .unwrap_or_else(|| channel.to_owned())
}

fn parse_payload(body: &[u8], envelope: &Envelope, what: &str) -> Option<Value> {
    let raw = envelope.payload.as_str(body);
    match serde_json::from_str(raw) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(%error, "unreadable {what} payload dropped: {raw}");
            None
        }
    }
}

fn u64_field(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(timetoken_from).unwrap_or(0)
}

fn strings(value: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .find_map(|key| value.get(*key).and_then(Value::as_array))
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn presence_event(body: &[u8], envelope: &Envelope, channel: &str) -> Option<Presence> {
    let d = parse_payload(body, envelope, "presence")?;
    let action = d.get("action").and_then(Value::as_str).unwrap_or_default();
    let uuid = d
        .get("uuid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let occupancy = u64_field(&d, "occupancy");
    let timestamp = u64_field(&d, "timestamp");
    let state = d.get("data").or_else(|| d.get("state")).cloned();
    let event = match action {
        "join" => PresenceEvent::Join {
            uuid,
            occupancy,
            timestamp,
            state,
        },
        "leave" => PresenceEvent::Leave {
            uuid,
            occupancy,
            timestamp,
        },
        "timeout" => PresenceEvent::Timeout {
            uuid,
            occupancy,
            timestamp,
        },
        "state-change" => PresenceEvent::StateChange {
            uuid,
            occupancy,
            timestamp,
            state: state.unwrap_or(Value::Null),
        },
        "interval" => PresenceEvent::Interval {
            occupancy,
            timestamp,
            // The docs spell the deltas `joined`/`left`/`timedout`; the
            // service and every SDK use `join`/`leave`/`timeout`. Accept both.
            join: strings(&d, &["join", "joined"]),
            leave: strings(&d, &["leave", "left"]),
            timeout: strings(&d, &["timeout", "timedout"]),
            here_now_refresh: d
                .get("here_now_refresh")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        other => {
            tracing::warn!(channel, action = other, "unknown presence action dropped");
            return None;
        }
    };
    Some(Presence {
        channel: channel.to_owned(),
        subscription: subscription_name(body, envelope, channel),
        timetoken: envelope.published.timetoken,
        event,
    })
}

fn app_context_event(body: &[u8], envelope: &Envelope) -> Option<AppContextEvent> {
    let d = parse_payload(body, envelope, "App Context")?;
    let channel = envelope.channel.as_str(body);
    let kind = match d.get("type").and_then(Value::as_str) {
        Some("uuid" | "user") => AppContextKind::User,
        Some("channel" | "space") => AppContextKind::Channel,
        Some("membership") => AppContextKind::Membership,
        other => {
            tracing::warn!(channel, kind = ?other, "unknown App Context event type dropped");
            return None;
        }
    };
    Some(AppContextEvent {
        channel: channel.to_owned(),
        subscription: subscription_name(body, envelope, channel),
        timetoken: envelope.published.timetoken,
        set: d.get("event").and_then(Value::as_str) != Some("delete"),
        kind,
        data: d.get("data").cloned().unwrap_or(Value::Null),
    })
}

fn message_action_event(body: &[u8], envelope: &Envelope) -> Option<MessageAction> {
    let d = parse_payload(body, envelope, "message action")?;
    let channel = envelope.channel.as_str(body);
    let data = d.get("data")?;
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(MessageAction {
        channel: channel.to_owned(),
        subscription: subscription_name(body, envelope, channel),
        timetoken: envelope.published.timetoken,
        added: d.get("event").and_then(Value::as_str) != Some("removed"),
        action_type: text("type"),
        value: text("value"),
        message_timetoken: u64_field(data, "messageTimetoken"),
        action_timetoken: u64_field(data, "actionTimetoken"),
        uuid: envelope
            .publisher
            .as_ref()
            .map(|p| p.as_str(body).to_owned())
            .or_else(|| data.get("uuid").and_then(Value::as_str).map(str::to_owned)),
    })
}

fn file_event(client: &ClientInner, body: &[u8], envelope: &Envelope) -> Option<FileEvent> {
    let channel = envelope.channel.as_str(body);
    let raw = envelope.payload.as_str(body);
    let (d, decryption_error) = match decrypt_payload(client, raw) {
        Some(Ok(plain)) => (serde_json::from_slice::<Value>(&plain).ok()?, None),
        Some(Err(error)) => (Value::Null, Some(error)),
        None => (parse_payload(body, envelope, "file")?, None),
    };
    let file = d.get("file");
    let text = |key: &str| {
        file.and_then(|f| f.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(FileEvent {
        channel: channel.to_owned(),
        subscription: subscription_name(body, envelope, channel),
        timetoken: envelope.published.timetoken,
        publisher: envelope
            .publisher
            .as_ref()
            .map(|p| p.as_str(body).to_owned()),
        message: d.get("message").cloned().filter(|m| !m.is_null()),
        file_id: text("id"),
        file_name: text("name"),
        decryption_error,
    })
}
