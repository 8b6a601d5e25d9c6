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

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use super::dedupe::Dedupe;
use super::engine::{Effect, Engine, Event as EngineEvent, Gap, StatusKind};
use super::envelope::{Cursor, SubscribeResponse};
use super::event::{Batch, Event, MessageKind, Status};
use super::gap::{self, GapFill, GapQuery};
use super::hash::FastMap;
use super::heartbeat::{self, PresenceUpdate};
use super::router::{Blocked, Outlet, Router, SubscriberId};
use super::status::StatusHub;
use super::wire_events::{build_event, decrypt_payload, message_kind};
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

/// Channels remembered per wildcard subscription, for gap recovery.
const SEEN_PER_WILDCARD: usize = 1000;

/// Shortest time between two `MessagesLost` reports of one subscription
/// (losses in between are summed into the next report).
const LOSS_REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// Loss of one subscriber not reported yet.
struct PendingLoss {
    /// Whose loss it is (its status stream is told too).
    id: SubscriberId,
    label: String,
    count: u64,
    /// When this subscriber's last report went out.
    reported_at: Instant,
}

/// Commands from handles to the actor.
pub(crate) enum Command {
    /// Add or update a subscriber with its wire names.
    Subscribe {
        id: SubscriberId,
        outlet: Arc<Outlet>,
        channels: Vec<String>,
        groups: Vec<String>,
        timetoken: Option<u64>,
        /// Answered once the subscriber is part of a connected long-poll,
        /// or with what stopped it.
        ack: Option<oneshot::Sender<Result<(), Error>>>,
    },
    /// Remove a subscriber (its streams end).
    Unsubscribe {
        id: SubscriberId,
        /// Answered once the leave it caused was sent (or none was due).
        ack: Option<oneshot::Sender<()>>,
    },
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
    /// Unsubscribe everything, send the leaves, end every stream and stop;
    /// `done` is answered when all of that is over.
    Close { done: oneshot::Sender<()> },
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
    let (presence, presence_task) = heartbeat::spawn(Arc::clone(&client), Arc::clone(&status));
    let actor = Multiplexer {
        engine: Engine::new(client.config.reconnect_policy).with_gap_recovery(
            gap_mode(&client.config),
            client.config.request_message_count_threshold,
        ),
        dedupe: Dedupe::new(client.config.maximum_message_cache),
        client,
        status,
        router: Router::default(),
        globals: Vec::new(),
        presence,
        presence_task: Some(presence_task),
        closing: None,
        announced: (BTreeSet::new(), BTreeSet::new()),
        pending: None,
        blocked: Vec::new(),
        deferred: None,
        space,
        staging: FastMap::default(),
        union_dirty: false,
        losses: FastMap::default(),
        loss_deadline: None,
        joining: Vec::new(),
        leaving: Vec::new(),
        held: None,
        recovered: None,
        recovered_count: 0,
        seen: FastMap::default(),
    };
    runtime.spawn(actor.run(rx));
    Ok(MuxHandle { commands: tx })
}

type Inflight = Pin<Box<dyn Future<Output = Outcome> + Send>>;

enum Outcome {
    Handshake(Result<SubscribeResponse, Error>),
    Receive(Result<SubscribeResponse, Error>),
    Gap(Result<GapFill, Error>),
}

struct Multiplexer {
    client: Arc<ClientInner>,
    status: Arc<StatusHub>,
    engine: Engine,
    router: Router,
    globals: Vec<(SubscriberId, Arc<Outlet>)>,
    dedupe: Dedupe,
    presence: mpsc::UnboundedSender<PresenceUpdate>,
    /// The presence actor, awaited when the multiplexer ends.
    presence_task: Option<tokio::task::JoinHandle<()>>,
    /// Set by `Close`: answered once everything has stopped.
    closing: Option<oneshot::Sender<()>>,
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
    /// Loss counted but not reported yet, per outlet (keyed by its address).
    losses: FastMap<usize, PendingLoss>,
    /// When the next summed loss report is due.
    loss_deadline: Option<Instant>,
    /// Awaited `subscribe()`s not answered yet.
    joining: Vec<(SubscriberId, oneshot::Sender<Result<(), Error>>)>,
    /// Awaited `unsubscribe()`s whose leave is not sent yet.
    leaving: Vec<oneshot::Sender<()>>,
    /// A full receive held while its gap is fetched (engine `Recovering`).
    held: Option<SubscribeResponse>,
    /// What the gap fetch found, until the engine delivers it.
    recovered: Option<GapFill>,
    /// How many recovered messages the last gap delivered.
    recovered_count: usize,
    /// Channels seen through each wildcard subscription (bounded).
    seen: FastMap<String, BTreeSet<String>>,
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
            let loss_due = self.loss_deadline;
            let loss_timer = async move {
                match loss_due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => {
                        self.on_command(command, &mut inflight);
                        // Take the commands already queued too, and act on
                        // the new channel mix once: subscribing N
                        // subscriptions in a row then costs one long-poll
                        // restart, not N (each rebuilding the whole list).
                        for _ in 1..COMMAND_BATCH {
                            if self.closing.is_some() {
                                break;
                            }
                            match commands.try_recv() {
                                Ok(command) => self.on_command(command, &mut inflight),
                                Err(_) => break,
                            }
                        }
                        if self.closing.is_some() {
                            break;
                        }
                        self.flush_union(&mut inflight);
                        self.answer_settled();
                    }
                    None => break,
                },
                outcome = request => {
                    inflight = None;
                    self.on_outcome(outcome, &mut inflight);
                }
                () = space.notified(), if !self.blocked.is_empty() => self.retry_blocked(&mut inflight),
                () = loss_timer => self.flush_losses(false),
            }
        }
        self.flush_losses(true);
        answer_joining(
            &mut self.joining,
            |_| true,
            || {
                Err(Error::Unsubscribed {
                    reason: "the client closed",
                })
            },
        );
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
        if !left.0.is_empty() || !left.1.is_empty() {
            let _ = self.presence.send(PresenceUpdate {
                channels: Vec::new(),
                groups: Vec::new(),
                left_channels: left.0.into_iter().collect(),
                left_groups: left.1.into_iter().collect(),
                sent: std::mem::take(&mut self.leaving),
            });
        }
        self.flush_losses(true);
        let Self {
            presence,
            presence_task,
            status,
            closing,
            client,
            ..
        } = self;
        // Closing the channel lets the presence actor send the leaves still
        // due and end; `close()` waits for that, bounded by the request
        // timeout (each leave has that timeout too).
        drop(presence);
        if let (Some(task), Some(_)) = (presence_task, closing.as_ref()) {
            let bound = client.config.non_subscribe_request_timeout + WATCHDOG_GRACE;
            if tokio::time::timeout(bound, task).await.is_err() {
                tracing::warn!("close: the leave requests did not finish in time");
            }
        }
        status.close();
        if let Some(done) = closing {
            let _ = done.send(());
        }
    }

    fn on_command(&mut self, command: Command, inflight: &mut Option<Inflight>) {
        match command {
            Command::Subscribe {
                id,
                outlet,
                channels,
                groups,
                timetoken,
                ack,
            } => {
                if let Some(ack) = ack {
                    // A subscriber subscribing again answers the earlier wait too.
                    self.joining.push((id, ack));
                }
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
            Command::Unsubscribe { id, ack } => {
                answer_joining(
                    &mut self.joining,
                    |joiner| joiner == id,
                    || {
                        Err(Error::Unsubscribed {
                            reason: "unsubscribed before it connected",
                        })
                    },
                );
                if let Some((outlet, changed)) = self.router.remove(id) {
                    outlet.close();
                    self.union_dirty |= changed;
                }
                self.leaving.extend(ack);
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
            Command::Close { done } => {
                self.union_dirty = false;
                for outlet in self.router.drain_outlets() {
                    outlet.close();
                }
                for (_, outlet) in self.globals.drain(..) {
                    outlet.close();
                }
                self.announce_presence();
                self.apply(EngineEvent::UnsubscribeAll, inflight);
                self.closing = Some(done);
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
            sent: std::mem::take(&mut self.leaving),
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
                let messages = response.envelopes.len();
                let oldest = response
                    .envelopes
                    .iter()
                    .map(|e| e.published.timetoken)
                    .min();
                self.pending = Some(response);
                EngineEvent::ReceiveSuccess {
                    cursor,
                    messages,
                    oldest,
                }
            }
            Outcome::Receive(Err(reason)) => EngineEvent::ReceiveFailure { reason },
            Outcome::Gap(Ok(fill)) => {
                let complete = fill.complete;
                // New to this client: neither delivered already nor in the
                // held batch (which overlaps the gap when ptto reorders).
                let held = self.held.as_ref();
                let recovered = fill.response.as_ref().map_or(0, |r| {
                    r.envelopes
                        .iter()
                        .filter(|e| {
                            let channel = e.channel.as_str(&r.body);
                            let tt = e.published.timetoken;
                            !self.dedupe.seen(tt, channel)
                                && !held.is_some_and(|h| {
                                    h.envelopes.iter().any(|x| {
                                        x.published.timetoken == tt
                                            && x.channel.as_str(&h.body) == channel
                                    })
                                })
                        })
                        .count()
                });
                self.recovered = Some(fill);
                EngineEvent::GapFilled {
                    complete,
                    recovered,
                }
            }
            Outcome::Gap(Err(reason)) => EngineEvent::GapFailed { reason },
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
                    if let Some(response) = self.pending.take().or_else(|| self.held.take()) {
                        self.dispatch(response, false);
                    }
                }
                Effect::FetchGap(gap) => {
                    self.held = self.pending.take();
                    *inflight = Some(self.gap_request(gap));
                }
                Effect::DeliverRecovered => {
                    self.recovered_count =
                        match self.recovered.as_mut().and_then(|f| f.response.take()) {
                            Some(response) => self.dispatch(response, true),
                            None => 0,
                        };
                }
                Effect::Emit(kind) => self.emit(kind),
            }
        }
        self.pending = None;
        if !matches!(self.engine.state(), super::engine::State::Recovering { .. }) {
            // Left without delivering (a disconnect, a restore): the held
            // batch is polled again from the cursor before it.
            self.held = None;
            self.recovered = None;
        }
    }

    /// What a gap fetch must cover for the current subscriptions.
    fn gap_query(&self, gap: Gap) -> GapQuery {
        let live = |name: &&str| !name.ends_with(PRESENCE_SUFFIX);
        let mut channels = Vec::new();
        let mut wildcards = Vec::new();
        for name in self.router.channels().into_iter().filter(live) {
            if name.ends_with(".*") {
                let seen = self
                    .seen
                    .get(name)
                    .map(|set| set.iter().cloned().collect())
                    .unwrap_or_default();
                wildcards.push((name.to_owned(), seen));
            } else {
                channels.push(name.to_owned());
            }
        }
        GapQuery {
            gap,
            channels,
            groups: self
                .router
                .groups()
                .into_iter()
                .filter(live)
                .map(str::to_owned)
                .collect(),
            wildcards,
        }
    }

    /// The future that fetches a gap from history.
    fn gap_request(&self, gap: Gap) -> Inflight {
        let query = self.gap_query(gap);
        let client = Arc::clone(&self.client);
        Box::pin(async move { Outcome::Gap(gap::fill(client, query).await) })
    }

    fn emit(&mut self, kind: StatusKind) {
        let names = |set: BTreeSet<&str>| set.into_iter().map(str::to_owned).collect::<Vec<_>>();
        let connected = matches!(
            kind,
            StatusKind::Connected | StatusKind::Reconnected | StatusKind::SubscriptionChanged
        );
        let status = match kind {
            StatusKind::Connected => Status::Connected {
                channels: names(self.router.channels()),
                channel_groups: names(self.router.groups()),
            },
            StatusKind::Reconnected => Status::Reconnected {
                channels: names(self.router.channels()),
                channel_groups: names(self.router.groups()),
            },
            StatusKind::SubscriptionChanged => Status::SubscriptionChanged {
                channels: names(self.router.channels()),
                channel_groups: names(self.router.groups()),
            },
            StatusKind::Disconnected => Status::Disconnected,
            StatusKind::UnexpectedDisconnect(error) => Status::UnexpectedDisconnect { error },
            StatusKind::Failed(category, error) => Status::Failed { category, error },
            StatusKind::GapRecovered => Status::GapRecovered {
                channels: self
                    .recovered
                    .take()
                    .map(|fill| fill.channels)
                    .unwrap_or_default(),
                count: std::mem::take(&mut self.recovered_count),
            },
            StatusKind::PotentialLoss { gap, reason } => {
                let live = |name: &&str| !name.ends_with(PRESENCE_SUFFIX);
                Status::PotentialLoss {
                    channels: self
                        .router
                        .channels()
                        .into_iter()
                        .filter(live)
                        .map(str::to_owned)
                        .collect(),
                    channel_groups: self
                        .router
                        .groups()
                        .into_iter()
                        .filter(live)
                        .map(str::to_owned)
                        .collect(),
                    after: gap.after,
                    before: gap.before,
                    reason,
                }
            }
        };
        // Every subscriber in the long-poll is concerned by its state.
        let concerned = self.router.ids();
        if connected {
            answer_joining(
                &mut self.joining,
                |id| self.router.outlet(id).is_some(),
                || Ok(()),
            );
        } else if let Status::Failed { error, .. } = &status {
            answer_joining(&mut self.joining, |_| true, || Err(error.clone()));
        } else if matches!(status, Status::Disconnected) {
            answer_joining(
                &mut self.joining,
                |_| true,
                || {
                    Err(Error::Unsubscribed {
                        reason: "the client disconnected",
                    })
                },
            );
        }
        self.status.emit_to(status, &concerned);
    }

    /// After a batch of commands: a subscribe that changed nothing while
    /// the long-poll is connected is already part of it, and an
    /// unsubscribe that caused no leave has nothing to wait for.
    fn answer_settled(&mut self) {
        if matches!(self.engine.state(), super::engine::State::Receiving { .. }) {
            answer_joining(
                &mut self.joining,
                |id| self.router.outlet(id).is_some(),
                || Ok(()),
            );
        }
        for ack in self.leaving.drain(..) {
            let _ = ack.send(());
        }
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

    /// Routes a receive's envelopes to the subscribers' queues, once each;
    /// returns how many were new (not duplicates).
    fn dispatch(&mut self, response: SubscribeResponse, recovered: bool) -> usize {
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
            recovered,
        });
        let body = &batch.body;
        let mut fresh = 0;
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
            fresh += 1;
            let subscription = envelope.subscription.as_ref().map(|s| s.as_str(body));
            if let Some(pattern) = subscription.filter(|s| s.ends_with(".*")) {
                let seen = self.seen.entry(pattern.to_owned()).or_default();
                if seen.len() < SEEN_PER_WILDCARD && !seen.contains(channel) {
                    seen.insert(channel.to_owned());
                }
            }
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
        let mut losses: Vec<(SubscriberId, Arc<Outlet>, u64)> = Vec::new();
        for (id, events) in staging.iter_mut() {
            if events.is_empty() {
                continue;
            }
            if *id == GLOBAL {
                for (_, outlet) in &self.globals {
                    let mut copy = events.clone();
                    let lost = outlet.deliver(&mut copy, &mut self.blocked);
                    if lost > 0 {
                        losses.push((GLOBAL, Arc::clone(outlet), lost));
                    }
                }
            } else if let Some(outlet) = self.router.outlet(*id) {
                let lost = outlet.deliver(events, &mut self.blocked);
                if lost > 0 {
                    losses.push((*id, Arc::clone(outlet), lost));
                }
            }
            events.clear();
        }
        for (id, outlet, lost) in losses {
            self.report_loss(id, &outlet, lost);
        }
        // Keep the per-subscriber buffers (their allocations are reused) only
        // for subscribers that still exist.
        staging.retain(|id, _| *id == GLOBAL || self.router.outlet(*id).is_some());
        self.staging = staging;
        fresh
    }

    /// Counts a loss and reports it at once, unless this subscriber was
    /// reported on less than [`LOSS_REPORT_INTERVAL`] ago: then it is summed
    /// into one report when the interval is over. So a flood yields at most
    /// one status per subscriber per batch and per interval, and the counts
    /// add up exactly.
    fn report_loss(&mut self, id: SubscriberId, outlet: &Outlet, lost: u64) {
        if lost == 0 {
            return;
        }
        tracing::warn!(subscription = %outlet.label, lost, "subscription queue full: oldest events dropped");
        let now = Instant::now();
        let key = std::ptr::from_ref(outlet) as usize;
        match self.losses.get_mut(&key) {
            Some(pending) if now < pending.reported_at + LOSS_REPORT_INTERVAL => {
                pending.count += lost;
                let due = pending.reported_at + LOSS_REPORT_INTERVAL;
                self.loss_deadline = Some(self.loss_deadline.map_or(due, |at| at.min(due)));
            }
            earlier => {
                let summed = earlier.map_or(0, |pending| pending.count);
                self.status.emit_to(
                    Status::MessagesLost {
                        subscription: outlet.label.clone(),
                        count: summed + lost,
                    },
                    &[id],
                );
                self.losses.insert(
                    key,
                    PendingLoss {
                        id,
                        label: outlet.label.clone(),
                        count: 0,
                        reported_at: now,
                    },
                );
            }
        }
    }

    /// Reports the summed losses that are due (all of them when `all`), and
    /// forgets subscribers with nothing pending whose interval is over.
    fn flush_losses(&mut self, all: bool) {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let status = &self.status;
        self.losses.retain(|_, pending| {
            let due = pending.reported_at + LOSS_REPORT_INTERVAL;
            if pending.count > 0 && (all || now >= due) {
                status.emit_to(
                    Status::MessagesLost {
                        subscription: pending.label.clone(),
                        count: std::mem::take(&mut pending.count),
                    },
                    &[pending.id],
                );
                pending.reported_at = now;
                return true;
            }
            if pending.count > 0 {
                next = Some(next.map_or(due, |at| at.min(due)));
                return true;
            }
            now < due
        });
        self.loss_deadline = next;
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

/// Answers the awaited `subscribe()`s of the subscribers `which` picks,
/// keeping the others waiting.
fn answer_joining(
    joining: &mut Vec<(SubscriberId, oneshot::Sender<Result<(), Error>>)>,
    which: impl Fn(SubscriberId) -> bool,
    answer: impl Fn() -> Result<(), Error>,
) {
    for (id, ack) in std::mem::take(joining) {
        if which(id) {
            let _ = ack.send(answer());
        } else {
            joining.push((id, ack));
        }
    }
}

/// The gap recovery the engine runs: from history only without a filter
/// expression, since history would return messages the server's filter
/// kept from this subscriber (the filter cannot be evaluated here); with
/// one, gaps are reported.
fn gap_mode(config: &crate::Config) -> crate::GapRecovery {
    match config.gap_recovery {
        crate::GapRecovery::FromHistory if config.filter_expression.is_some() => {
            crate::GapRecovery::Report
        }
        mode => mode,
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
