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
use std::task::Poll;
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
use super::shards::{self, Reported, Session, ShardNames};
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

/// Potential losses (`Status::PotentialLoss`) not reported yet: within
/// [`LOSS_REPORT_INTERVAL`] of the last report they are merged into one —
/// the widest range, every channel — so a stream of full batches with no
/// history to fill them cannot flood the status stream.
#[derive(Default)]
struct PendingPotentialLoss {
    /// When the last report went out.
    reported_at: Option<Instant>,
    /// What is waiting.
    waiting: Option<WaitingLoss>,
}

/// Merged potential losses: every channel and group, the widest range, the
/// first reason.
struct WaitingLoss {
    channels: BTreeSet<String>,
    groups: BTreeSet<String>,
    after: u64,
    before: u64,
    reason: Option<Error>,
}

impl WaitingLoss {
    fn merge(&mut self, other: WaitingLoss) {
        self.channels.extend(other.channels);
        self.groups.extend(other.groups);
        self.after = self.after.min(other.after);
        self.before = self.before.max(other.before);
        if self.reason.is_none() {
            self.reason = other.reason;
        }
    }

    fn into_status(self) -> Status {
        Status::PotentialLoss {
            channels: self.channels.into_iter().collect(),
            channel_groups: self.groups.into_iter().collect(),
            after: self.after,
            before: self.before,
            reason: self.reason,
        }
    }
}

impl PendingPotentialLoss {
    /// When the next merged report may go out.
    fn due(&self, now: Instant) -> Instant {
        self.reported_at.map_or(now, |at| at + LOSS_REPORT_INTERVAL)
    }

    /// `Ok` with the status to report now, or `Err` with when the loss,
    /// merged into what waits, is due.
    fn offer(&mut self, loss: WaitingLoss, now: Instant) -> Result<Status, Instant> {
        if self.waiting.is_none() && now >= self.due(now) {
            self.reported_at = Some(now);
            return Ok(loss.into_status());
        }
        match &mut self.waiting {
            Some(waiting) => waiting.merge(loss),
            None => self.waiting = Some(loss),
        }
        Err(self.due(now))
    }

    /// The merged report when it is due (or `all`), else when it will be.
    fn flush(&mut self, now: Instant, all: bool) -> Result<Option<Status>, Instant> {
        if self.waiting.is_none() {
            return Ok(None);
        }
        if !all && now < self.due(now) {
            return Err(self.due(now));
        }
        self.reported_at = Some(now);
        Ok(self.waiting.take().map(WaitingLoss::into_status))
    }
}

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
        shards: vec![Shard::new(new_engine(&client.config))],
        names: vec![ShardNames::default()],
        session: Session::default(),
        dedupe: Dedupe::new(client.config.maximum_message_cache),
        client,
        status,
        router: Router::default(),
        globals: Vec::new(),
        presence,
        presence_task: Some(presence_task),
        closing: None,
        announced: (BTreeSet::new(), BTreeSet::new()),
        blocked: Vec::new(),
        space,
        staging: FastMap::default(),
        union_dirty: false,
        losses: FastMap::default(),
        loss_deadline: None,
        potential: PendingPotentialLoss::default(),
        joining: Vec::new(),
        leaving: Vec::new(),
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

/// One long-poll of the union (see `shards.rs`): its state machine, its
/// request in flight and what it received.
struct Shard {
    engine: Engine,
    inflight: Option<Inflight>,
    /// The successful receive whose messages await the engine's `Deliver`.
    pending: Option<SubscribeResponse>,
    /// A full receive held while its gap is fetched (engine `Recovering`).
    held: Option<SubscribeResponse>,
    /// What the gap fetch found, until the engine delivers it.
    recovered: Option<GapFill>,
    /// How many recovered messages the last gap delivered.
    recovered_count: usize,
    /// A receive postponed until `blocked` drains (backpressure).
    deferred: Option<(Cursor, Option<Duration>)>,
}

impl Shard {
    fn new(engine: Engine) -> Self {
        Self {
            engine,
            inflight: None,
            pending: None,
            held: None,
            recovered: None,
            recovered_count: 0,
            deferred: None,
        }
    }

    /// Part of a connected long-poll (receiving, or recovering a gap).
    fn connected(&self) -> bool {
        matches!(
            self.engine.state(),
            super::engine::State::Receiving { .. } | super::engine::State::Recovering { .. }
        )
    }

    /// Not polling at all (nothing subscribed, or stopped on request).
    fn idle(&self) -> bool {
        matches!(
            self.engine.state(),
            super::engine::State::Unsubscribed | super::engine::State::Stopped { .. }
        )
    }
}

/// An engine with the client's reconnect policy and gap recovery.
fn new_engine(config: &crate::Config) -> Engine {
    Engine::new(config.reconnect_policy)
        .with_gap_recovery(gap_mode(config), config.request_message_count_threshold)
}

struct Multiplexer {
    client: Arc<ClientInner>,
    status: Arc<StatusHub>,
    /// The long-polls; one unless the union outgrows one URL.
    shards: Vec<Shard>,
    /// Which names each shard carries (same indexes as `shards`).
    names: Vec<ShardNames>,
    /// Turns the shards' statuses into the session's (`shards.rs`).
    session: Session,
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
    /// Events backpressure queues could not take yet.
    blocked: Vec<Blocked>,
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
    /// Potential losses waiting to be reported together.
    potential: PendingPotentialLoss,
    /// Awaited `subscribe()`s not answered yet.
    joining: Vec<(SubscriberId, oneshot::Sender<Result<(), Error>>)>,
    /// Awaited `unsubscribe()`s whose leave is not sent yet.
    leaving: Vec<oneshot::Sender<()>>,
    /// Channels seen through each wildcard subscription (bounded).
    seen: FastMap<String, BTreeSet<String>>,
}

impl Multiplexer {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let shards = &mut self.shards;
            // The first request of any shard that completes.
            let request = std::future::poll_fn(|cx| {
                for (index, shard) in shards.iter_mut().enumerate() {
                    if let Some(future) = shard.inflight.as_mut() {
                        if let Poll::Ready(outcome) = future.as_mut().poll(cx) {
                            shard.inflight = None;
                            return Poll::Ready((index, outcome));
                        }
                    }
                }
                Poll::Pending
            });
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
                        self.on_command(command);
                        // Take the commands already queued too, and act on
                        // the new channel mix once: subscribing N
                        // subscriptions in a row then costs one long-poll
                        // restart, not N (each rebuilding the whole list).
                        for _ in 1..COMMAND_BATCH {
                            if self.closing.is_some() {
                                break;
                            }
                            match commands.try_recv() {
                                Ok(command) => self.on_command(command),
                                Err(_) => break,
                            }
                        }
                        if self.closing.is_some() {
                            break;
                        }
                        self.flush_union();
                        self.answer_settled();
                    }
                    None => break,
                },
                (index, outcome) = request => self.on_outcome(index, outcome),
                () = space.notified(), if !self.blocked.is_empty() => self.retry_blocked(),
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
        for shard in &mut self.shards {
            shard.inflight = None;
        }
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

    fn on_command(&mut self, command: Command) {
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
                    self.flush_union();
                    self.router.insert(id, outlet, channels, groups);
                    self.reassign();
                    self.announce_presence();
                    let event = EngineEvent::SubscriptionRestored {
                        cursor: Cursor {
                            timetoken,
                            region: 0,
                        },
                    };
                    self.apply_all(event);
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
                self.apply_all(EngineEvent::UnsubscribeAll);
                self.reassign();
            }
            Command::Disconnect => {
                self.flush_union();
                self.apply_all(EngineEvent::Disconnect);
            }
            Command::Reconnect => {
                self.flush_union();
                self.apply_all(EngineEvent::Reconnect);
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
                self.apply_all(EngineEvent::UnsubscribeAll);
                self.reassign();
                self.closing = Some(done);
            }
        }
    }

    /// Acts on a change of the channel mix made by the commands handled so
    /// far (kept in order with the commands that drive the engine).
    fn flush_union(&mut self) {
        if std::mem::take(&mut self.union_dirty) {
            self.union_changed();
        }
    }

    fn union_changed(&mut self) {
        self.announce_presence();
        if self.router.is_empty() {
            self.apply_all(EngineEvent::SubscriptionChanged { empty: true });
            self.reassign();
            return;
        }
        for index in self.reassign() {
            self.apply(index, EngineEvent::SubscriptionChanged { empty: false });
        }
    }

    /// Fits the union into the shards (sticky: names stay where they are),
    /// drops emptied shards and adds new ones; returns the shards whose names
    /// changed.
    fn reassign(&mut self) -> Vec<usize> {
        let budget = self.client.config.max_subscribe_list_bytes;
        let flags = shards::assign(
            &mut self.names,
            &self.router.channels(),
            &self.router.groups(),
            budget,
        );
        while self.shards.len() < self.names.len() {
            self.shards
                .push(Shard::new(new_engine(&self.client.config)));
        }
        let mut changed: Vec<usize> = flags
            .iter()
            .enumerate()
            .filter_map(|(index, changed)| changed.then_some(index))
            .collect();
        // An emptied shard stops quietly (its names left with a leave); one
        // shard always stays, for the next subscription.
        let mut index = self.names.len();
        while index > 0 {
            index -= 1;
            if self.names[index].is_empty() && self.names.len() > 1 {
                self.names.remove(index);
                self.shards.remove(index);
                changed.retain(|c| *c != index);
                for c in &mut changed {
                    if *c > index {
                        *c -= 1;
                    }
                }
            }
        }
        changed
    }

    /// Applies an event to every shard.
    fn apply_all(&mut self, event: EngineEvent) {
        for index in 0..self.shards.len() {
            self.apply(index, event.clone());
        }
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

    fn on_outcome(&mut self, index: usize, outcome: Outcome) {
        let Some(shard) = self.shards.get_mut(index) else {
            return;
        };
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
                shard.pending = Some(response);
                EngineEvent::ReceiveSuccess {
                    cursor,
                    messages,
                    oldest,
                }
            }
            Outcome::Receive(Err(reason)) => EngineEvent::ReceiveFailure { reason },
            Outcome::Gap(Ok(fill)) => {
                let complete = fill.complete;
                // New to this client: not delivered already. (The gap ends
                // before the held batch's oldest message, so it cannot
                // overlap the batch.)
                let recovered = fill.response.as_ref().map_or(0, |r| {
                    r.envelopes
                        .iter()
                        .filter(|e| {
                            !self
                                .dedupe
                                .seen(e.published.timetoken, e.channel.as_str(&r.body))
                        })
                        .count()
                });
                shard.recovered = Some(fill);
                EngineEvent::GapFilled {
                    complete,
                    recovered,
                }
            }
            Outcome::Gap(Err(reason)) => EngineEvent::GapFailed { reason },
        };
        self.apply(index, event);
    }

    fn apply(&mut self, index: usize, event: EngineEvent) {
        let Some(shard) = self.shards.get_mut(index) else {
            return;
        };
        tracing::trace!(shard = index, ?event, state = ?shard.engine.state(), "subscribe engine");
        for effect in shard.engine.handle(event) {
            match effect {
                Effect::Handshake { delay } => {
                    let request = self.request(index, None, delay);
                    let shard = &mut self.shards[index];
                    shard.deferred = None;
                    shard.inflight = Some(request);
                }
                Effect::Receive { cursor, delay } => {
                    if self.blocked.is_empty() {
                        let request = self.request(index, Some(cursor), delay);
                        let shard = &mut self.shards[index];
                        shard.deferred = None;
                        shard.inflight = Some(request);
                    } else {
                        // Backpressure: poll again once the consumers made room.
                        let shard = &mut self.shards[index];
                        shard.inflight = None;
                        shard.deferred = Some((cursor, delay));
                    }
                }
                Effect::Cancel => {
                    let shard = &mut self.shards[index];
                    shard.inflight = None;
                    shard.deferred = None;
                    shard.pending = None;
                }
                Effect::Deliver => {
                    let shard = &mut self.shards[index];
                    if let Some(response) = shard.pending.take().or_else(|| shard.held.take()) {
                        self.dispatch(response, false);
                    }
                }
                Effect::FetchGap(gap) => {
                    let request = self.gap_request(index, gap);
                    let shard = &mut self.shards[index];
                    shard.held = shard.pending.take();
                    shard.inflight = Some(request);
                }
                Effect::DeliverRecovered => {
                    let response = self.shards[index]
                        .recovered
                        .as_mut()
                        .and_then(|f| f.response.take());
                    let count = response.map_or(0, |r| self.dispatch(r, true));
                    self.shards[index].recovered_count = count;
                }
                Effect::Emit(kind) => self.emit(index, kind),
            }
        }
        let shard = &mut self.shards[index];
        shard.pending = None;
        if !matches!(
            shard.engine.state(),
            super::engine::State::Recovering { .. }
        ) {
            // Left without delivering (a disconnect, a restore): the held
            // batch is polled again from the cursor before it.
            shard.held = None;
            shard.recovered = None;
        }
    }

    /// Whether every shard is part of a connected long-poll.
    fn all_connected(&self) -> bool {
        self.shards.iter().all(Shard::connected)
    }

    /// What a gap fetch must cover for the current subscriptions.
    fn gap_query(&self, index: usize, gap: Gap) -> GapQuery {
        let live = |name: &&str| !name.ends_with(PRESENCE_SUFFIX);
        let names = &self.names[index];
        let mut channels = Vec::new();
        let mut wildcards = Vec::new();
        for name in names.channels.iter().map(String::as_str).filter(live) {
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
            groups: names
                .groups
                .iter()
                .map(String::as_str)
                .filter(live)
                .map(str::to_owned)
                .collect(),
            wildcards,
        }
    }

    /// The future that fetches a gap of shard `index` from history.
    fn gap_request(&self, index: usize, gap: Gap) -> Inflight {
        let query = self.gap_query(index, gap);
        let client = Arc::clone(&self.client);
        Box::pin(async move { Outcome::Gap(gap::fill(client, query).await) })
    }

    /// Reports a status of shard `index`. With several shards, `Connected`
    /// and `SubscriptionChanged` wait until every shard is connected and
    /// name the whole union, `Disconnected` until every shard stopped;
    /// the others are per shard and name its channels.
    fn emit(&mut self, index: usize, kind: StatusKind) {
        let names = |set: BTreeSet<&str>| set.into_iter().map(str::to_owned).collect::<Vec<_>>();
        let live = |name: &&String| !name.ends_with(PRESENCE_SUFFIX);
        // This shard's names, for the statuses that name them.
        let shard_names = || -> (Vec<String>, Vec<String>) {
            self.names.get(index).map_or_else(Default::default, |n| {
                (
                    n.channels.iter().cloned().collect(),
                    n.groups.iter().cloned().collect(),
                )
            })
        };
        let connected = matches!(
            kind,
            StatusKind::Connected | StatusKind::Reconnected | StatusKind::SubscriptionChanged
        );
        let reported = self.session.on_status(
            &kind,
            self.all_connected(),
            self.shards.iter().all(Shard::idle),
        );
        let status = match (reported, kind) {
            (Reported::Nothing, _) => return,
            (Reported::Connected, _) => Status::Connected {
                channels: names(self.router.channels()),
                channel_groups: names(self.router.groups()),
            },
            (Reported::SubscriptionChanged, _) => Status::SubscriptionChanged {
                channels: names(self.router.channels()),
                channel_groups: names(self.router.groups()),
            },
            (Reported::Disconnected, _) => Status::Disconnected,
            (Reported::ShardStatus, StatusKind::Reconnected) => {
                let (channels, channel_groups) = shard_names();
                Status::Reconnected {
                    channels,
                    channel_groups,
                }
            }
            (
                Reported::ShardStatus,
                StatusKind::Connected | StatusKind::SubscriptionChanged | StatusKind::Disconnected,
            ) => return,
            (_, StatusKind::UnexpectedDisconnect(error)) => Status::UnexpectedDisconnect { error },
            (_, StatusKind::Failed(category, error)) => Status::Failed { category, error },
            (_, StatusKind::GapRecovered) => {
                let shard = &mut self.shards[index];
                Status::GapRecovered {
                    channels: shard
                        .recovered
                        .take()
                        .map(|fill| fill.channels)
                        .unwrap_or_default(),
                    count: std::mem::take(&mut shard.recovered_count),
                }
            }
            (_, StatusKind::PotentialLoss { gap, reason }) => {
                let (channels, groups) = shard_names();
                let loss = WaitingLoss {
                    channels: channels.into_iter().filter(|n| live(&n)).collect(),
                    groups: groups.into_iter().filter(|n| live(&n)).collect(),
                    after: gap.after,
                    before: gap.before,
                    reason,
                };
                match self.potential.offer(loss, Instant::now()) {
                    Ok(status) => status,
                    Err(due) => {
                        self.loss_deadline = Some(self.loss_deadline.map_or(due, |at| at.min(due)));
                        return;
                    }
                }
            }
        };
        // Every subscriber in the long-poll is concerned by its state.
        let concerned = self.router.ids();
        if connected {
            if self.all_connected() {
                answer_joining(
                    &mut self.joining,
                    |id| self.router.outlet(id).is_some(),
                    || Ok(()),
                );
            }
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
        if self.all_connected() {
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
    /// channels of shard `index`, and the future that sends it.
    fn request(&self, index: usize, cursor: Option<Cursor>, delay: Option<Duration>) -> Inflight {
        let empty = BTreeSet::new();
        let (channels, groups) = self
            .names
            .get(index)
            .map_or((&empty, &empty), |n| (&n.channels, &n.groups));
        let request = subscribe_request(&self.client, channels, groups, cursor);
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
        match self.potential.flush(now, all) {
            Ok(Some(status)) => self.status.emit_to(status, &self.router.ids()),
            Ok(None) => {}
            Err(due) => next = Some(next.map_or(due, |at| at.min(due))),
        }
        self.loss_deadline = next;
    }

    /// Backpressure: offer the blocked events again; once all are taken,
    /// start the postponed receive.
    fn retry_blocked(&mut self) {
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
            for index in 0..self.shards.len() {
                if let Some((cursor, delay)) = self.shards[index].deferred.take() {
                    let request = self.request(index, Some(cursor), delay);
                    self.shards[index].inflight = Some(request);
                }
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
    channels: &BTreeSet<String>,
    groups: &BTreeSet<String>,
    cursor: Option<Cursor>,
) -> Request {
    let config = &client.config;
    let path = format!(
        "/v2/subscribe/{}/{}/0",
        encode(&config.subscribe_key),
        encode_list(channels)
    );
    let plain = |names: &BTreeSet<String>| -> Vec<String> {
        names
            .iter()
            .filter(|n| !n.ends_with(PRESENCE_SUFFIX))
            .cloned()
            .collect()
    };
    let state = heartbeat::state_param(client, &plain(channels), &plain(groups));
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
            (!groups.is_empty()).then(|| {
                groups
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        )
        .param("heartbeat", config.presence_timeout.to_string())
        .param_opt("state", state)
        .param_opt("filter-expr", config.filter_expression.clone());
    request.kind = RequestKind::Subscribe;
    request
}
