//! The subscribe state machine, as a pure function: `(state, event) → (state,
//! effects)`. No IO, no tokio: the multiplexer actor (`multiplexer.rs`)
//! runs the effects and feeds the outcomes back as events, and every
//! transition is unit-tested here.
//!
//! ```text
//!   Unsubscribed ──SubscriptionChanged──▶ Handshaking ──HandshakeSuccess──▶ Receiving ◀─┐
//!                                          │  ▲                               │  │       │ ReceiveSuccess
//!                      HandshakeFailure ◀──┘  │ success                       │  └───────┘ (deliver, next poll)
//!   (retryable)  HandshakeReconnecting ───────┘          ReceiveFailure ──▶ ReceiveReconnecting
//!   (gave up / not retryable) HandshakeFailed            (gave up / not retryable) ReceiveFailed
//!   Disconnect ─▶ Stopped ─Reconnect─▶ Handshaking        UnsubscribeAll / empty ─▶ Unsubscribed
//! ```
//!
//! A change of channels while receiving keeps the cursor and joins the new
//! mix with a handshake first (state `Joining`): the actor cancels the
//! long-poll in flight (its response is then never delivered) and sends a
//! `tt=0` request for the new mix, which the server answers at once. Its
//! success says the new channels are part of the connected long-poll
//! (`SubscriptionChanged`, what an awaited `subscribe()` waits for); its
//! failure says why not (a 403 names the denied channels). Receiving then
//! continues from the kept cursor, so nothing published meanwhile is missed.
//!
//! **Shards.** One engine runs one long-poll. When the channel union does not
//! fit one subscribe URL the actor runs several engines side by side, one per
//! shard of the union (`shards.rs`), each with its own cursor; a channel
//! stays in its shard, so the transitions here are the same for each. The
//! session-level statuses come from a second pure state machine there
//! (`Session`: `Connected` once every shard is, `Disconnected` once every
//! shard stopped, the rest per shard), also unit-tested.
//!
//! **Gaps.** A receive that holds as many messages as the server's queue
//! (the threshold, 100 on PubNub) may follow messages the server dropped:
//! its cursor was too old (a backpressure pause, an outage, a
//! `disconnect`/`reconnect`) or a burst outran the poll. With
//! [`GapRecovery::FromHistory`] the batch is held (state `Recovering`) while
//! the actor fetches the [`Gap`] — newer than the previous cursor, older than
//! the batch — from history (`FetchGap`); then the recovered messages are
//! delivered first (`DeliverRecovered`), the batch after them, and receiving
//! goes on. What history could not answer is reported (`PotentialLoss`);
//! after a refusal that cannot succeed (no storage, 403) history is not
//! asked again and gaps are only reported, as with [`GapRecovery::Report`].

use std::time::Duration;

use super::envelope::Cursor;
use super::event::{category_of, StatusCategory};
use crate::config::{GapRecovery, ReconnectPolicy};
use crate::Error;

/// Timetokens a full receive may have skipped: messages newer than `after`
/// (the previous cursor) and older than `before` (the batch's oldest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gap {
    /// The previous cursor: messages after it.
    pub after: u64,
    /// The batch's oldest timetoken: messages before it.
    pub before: u64,
}

/// Where the subscribe loop is.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Nothing subscribed.
    Unsubscribed,
    /// Handshake in flight. `restore` is a cursor to continue from instead of
    /// the handshake's (catch-up, or a cursor kept across a reconnect).
    Handshaking {
        /// Cursor to resume from once the handshake succeeds.
        restore: Option<Cursor>,
    },
    /// Retrying a failed handshake per the reconnect policy.
    HandshakeReconnecting {
        /// Cursor to resume from.
        restore: Option<Cursor>,
        /// Failed attempts so far.
        attempts: u32,
        /// The last failure.
        reason: Error,
    },
    /// The handshake failed for good; `Reconnect` restarts.
    HandshakeFailed {
        /// Cursor to resume from.
        restore: Option<Cursor>,
        /// Why.
        reason: Error,
    },
    /// The channel mix changed while receiving: a handshake for the new
    /// mix is in flight; receiving continues from `cursor` once it succeeds.
    Joining {
        /// The cursor to continue from.
        cursor: Cursor,
    },
    /// Long-polling from `cursor`.
    Receiving {
        /// The cursor of the poll in flight.
        cursor: Cursor,
    },
    /// A full receive is held while its gap is fetched from history.
    Recovering {
        /// The cursor after the held batch.
        cursor: Cursor,
        /// The cursor before it (to poll again from after a disconnect).
        resume: Cursor,
        /// What is being fetched.
        gap: Gap,
        /// The channel mix changed meanwhile: join it once the gap is filled.
        rejoin: bool,
    },
    /// Retrying a failed receive from the same cursor.
    ReceiveReconnecting {
        /// The cursor to retry from.
        cursor: Cursor,
        /// Failed attempts so far.
        attempts: u32,
        /// The last failure.
        reason: Error,
    },
    /// Receiving failed for good; `Reconnect` restarts from `cursor`.
    ReceiveFailed {
        /// The cursor to resume from.
        cursor: Cursor,
        /// Why.
        reason: Error,
    },
    /// Stopped on request (`disconnect`); `Reconnect` resumes.
    Stopped {
        /// The cursor to resume from.
        cursor: Option<Cursor>,
    },
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The union of channels/groups changed; `empty` when nothing is left.
    SubscriptionChanged {
        /// Whether nothing is subscribed any more.
        empty: bool,
    },
    /// A subscription asked to catch up from `cursor`.
    SubscriptionRestored {
        /// The timetoken (and region) to continue from.
        cursor: Cursor,
    },
    /// The handshake answered with the current cursor.
    HandshakeSuccess {
        /// The server's cursor.
        cursor: Cursor,
    },
    /// The handshake failed.
    HandshakeFailure {
        /// Why.
        reason: Error,
    },
    /// A receive answered; its messages are pending delivery.
    ReceiveSuccess {
        /// The next cursor.
        cursor: Cursor,
        /// How many messages it holds.
        messages: usize,
        /// The oldest timetoken among them.
        oldest: Option<u64>,
    },
    /// The gap fetch answered; the recovered messages are pending delivery.
    /// `complete` is false when history could not cover the whole gap (a
    /// page limit, a channel it could not ask about).
    GapFilled {
        /// Whether the whole gap was covered.
        complete: bool,
        /// How many of the fetched messages were not delivered yet. None
        /// means history held nothing the full receive had skipped, so
        /// whatever the server dropped was not stored: a potential loss.
        recovered: usize,
    },
    /// The gap fetch failed.
    GapFailed {
        /// Why.
        reason: Error,
    },
    /// A receive failed.
    ReceiveFailure {
        /// Why.
        reason: Error,
    },
    /// The application asked to stop.
    Disconnect,
    /// The application asked to resume.
    Reconnect,
    /// The application unsubscribed from everything.
    UnsubscribeAll,
}

/// What the actor must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Cancel the request in flight (its response must not be delivered) and
    /// send a handshake after `delay`.
    Handshake {
        /// Pause before sending.
        delay: Option<Duration>,
    },
    /// Cancel the request in flight and long-poll from `cursor` after `delay`.
    Receive {
        /// Cursor to poll from.
        cursor: Cursor,
        /// Pause before sending.
        delay: Option<Duration>,
    },
    /// Cancel the request in flight; send nothing.
    Cancel,
    /// Deliver the messages of the receive that just succeeded (or the one
    /// held while its gap was fetched).
    Deliver,
    /// Hold the receive that just succeeded and fetch `gap` from history.
    FetchGap(Gap),
    /// Deliver the messages the gap fetch recovered (before the batch).
    DeliverRecovered,
    /// Report a status.
    Emit(StatusKind),
}

/// The statuses the engine decides on (the actor adds the channel lists).
#[derive(Debug, Clone, PartialEq)]
pub enum StatusKind {
    /// `Status::Connected`.
    Connected,
    /// `Status::Reconnected`.
    Reconnected,
    /// `Status::SubscriptionChanged`: a new channel mix joined the
    /// connected long-poll.
    SubscriptionChanged,
    /// `Status::Disconnected`.
    Disconnected,
    /// `Status::UnexpectedDisconnect`.
    UnexpectedDisconnect(Error),
    /// `Status::Failed`.
    Failed(StatusCategory, Error),
    /// `Status::GapRecovered`.
    GapRecovered,
    /// `Status::PotentialLoss`: `gap` could not be (fully) checked; `reason`
    /// when history refused or failed.
    PotentialLoss {
        /// The unchecked range.
        gap: Gap,
        /// Why history could not answer, when it failed.
        reason: Option<Error>,
    },
}

/// The state machine plus the little memory it needs across states.
#[derive(Debug, Clone)]
pub struct Engine {
    state: State,
    policy: ReconnectPolicy,
    /// Whether this session was connected before (then a recovery is a
    /// "reconnect", not a first "connect").
    was_connected: bool,
    gap_recovery: GapRecovery,
    /// Messages in one receive that mean the server's queue was full.
    threshold: usize,
    /// History refused in a way that cannot succeed: report gaps only.
    history_unavailable: bool,
}

impl Engine {
    /// A new engine, unsubscribed, recovering gaps from history with the
    /// PubNub threshold (100).
    pub fn new(policy: ReconnectPolicy) -> Self {
        Self {
            state: State::Unsubscribed,
            policy,
            was_connected: false,
            gap_recovery: GapRecovery::FromHistory,
            threshold: 100,
            history_unavailable: false,
        }
    }

    /// Sets what a full receive leads to, and the message count that makes
    /// a receive full.
    pub fn with_gap_recovery(mut self, recovery: GapRecovery, threshold: usize) -> Self {
        self.gap_recovery = recovery;
        self.threshold = threshold.max(1);
        self
    }

    /// Whether history refused a gap fetch in a way that cannot succeed, so
    /// gaps are only reported from now on.
    pub fn history_unavailable(&self) -> bool {
        self.history_unavailable
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Applies an event; returns the effects to run, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let (state, effects) = self.transition(event);
        if let Some(state) = state {
            if matches!(state, State::Unsubscribed) {
                self.was_connected = false;
            }
            self.state = state;
        }
        effects
    }

    fn connected_status(&mut self) -> Effect {
        let status = if self.was_connected {
            StatusKind::Reconnected
        } else {
            StatusKind::Connected
        };
        self.was_connected = true;
        Effect::Emit(status)
    }

    /// `None` state = unchanged.
    fn transition(&mut self, event: Event) -> (Option<State>, Vec<Effect>) {
        use Effect as E;
        use Event as Ev;
        use State as S;
        let state = self.state.clone();
        match (state, event) {
            // Nothing left: stop, say so once.
            (S::Unsubscribed, Ev::SubscriptionChanged { empty: true } | Ev::UnsubscribeAll) => {
                (None, vec![])
            }
            (_, Ev::SubscriptionChanged { empty: true } | Ev::UnsubscribeAll) => (
                Some(S::Unsubscribed),
                vec![E::Cancel, E::Emit(StatusKind::Disconnected)],
            ),

            // Catch-up request: handshake, then continue from the given cursor.
            (S::Stopped { .. }, Ev::SubscriptionRestored { cursor }) => (
                Some(S::Stopped {
                    cursor: Some(cursor),
                }),
                vec![],
            ),
            (_, Ev::SubscriptionRestored { cursor }) => (
                Some(S::Handshaking {
                    restore: Some(cursor),
                }),
                vec![E::Handshake { delay: None }],
            ),

            // Channel mix changed.
            (S::Unsubscribed, Ev::SubscriptionChanged { empty: false }) => (
                Some(S::Handshaking { restore: None }),
                vec![E::Handshake { delay: None }],
            ),
            (
                S::Handshaking { .. } | S::HandshakeReconnecting { .. },
                Ev::SubscriptionChanged { empty: false },
            ) => (None, vec![E::Handshake { delay: None }]),
            (S::HandshakeFailed { restore, .. }, Ev::SubscriptionChanged { empty: false }) => (
                Some(S::Handshaking { restore }),
                vec![E::Handshake { delay: None }],
            ),
            (
                S::Receiving { cursor } | S::Joining { cursor },
                Ev::SubscriptionChanged { empty: false },
            ) => (
                Some(S::Joining { cursor }),
                vec![E::Handshake { delay: None }],
            ),
            // Already retrying: the next attempt carries the new mix; its
            // success reports `Reconnected` for all of it.
            (S::ReceiveReconnecting { cursor, .. }, Ev::SubscriptionChanged { empty: false }) => (
                Some(S::Receiving { cursor }),
                vec![E::Receive {
                    cursor,
                    delay: None,
                }],
            ),
            (S::ReceiveFailed { cursor, .. }, Ev::SubscriptionChanged { empty: false }) => (
                Some(S::Handshaking {
                    restore: Some(cursor),
                }),
                vec![E::Handshake { delay: None }],
            ),
            (S::Stopped { .. }, Ev::SubscriptionChanged { empty: false }) => (None, vec![]),

            // Handshake outcomes.
            (
                S::Handshaking { restore } | S::HandshakeReconnecting { restore, .. },
                Ev::HandshakeSuccess { cursor },
            ) => {
                let cursor = match restore {
                    // Keep the restore timetoken; take the region from the
                    // handshake when the restore cursor has none.
                    Some(r) => Cursor {
                        timetoken: r.timetoken,
                        region: if r.region == 0 {
                            cursor.region
                        } else {
                            r.region
                        },
                    },
                    None => cursor,
                };
                let status = self.connected_status();
                (
                    Some(S::Receiving { cursor }),
                    vec![
                        status,
                        E::Receive {
                            cursor,
                            delay: None,
                        },
                    ],
                )
            }
            // The new mix joined: continue from the kept cursor.
            (S::Joining { cursor }, Ev::HandshakeSuccess { .. }) => (
                Some(S::Receiving { cursor }),
                vec![
                    E::Emit(StatusKind::SubscriptionChanged),
                    E::Receive {
                        cursor,
                        delay: None,
                    },
                ],
            ),
            (S::Joining { cursor }, Ev::HandshakeFailure { reason }) => {
                self.handshake_failed(Some(cursor), 0, reason, true)
            }
            (S::Handshaking { restore }, Ev::HandshakeFailure { reason }) => {
                self.handshake_failed(restore, 0, reason, true)
            }
            (
                S::HandshakeReconnecting {
                    restore, attempts, ..
                },
                Ev::HandshakeFailure { reason },
            ) => self.handshake_failed(restore, attempts + 1, reason, false),

            // Receive outcomes.
            (
                S::Receiving { cursor: previous },
                Ev::ReceiveSuccess {
                    cursor,
                    messages,
                    oldest,
                },
            ) => self.received(previous, cursor, messages, oldest, Vec::new()),
            (
                S::ReceiveReconnecting {
                    cursor: previous, ..
                },
                Ev::ReceiveSuccess {
                    cursor,
                    messages,
                    oldest,
                },
            ) => {
                let status = self.connected_status();
                self.received(previous, cursor, messages, oldest, vec![status])
            }

            // Gap outcomes: the recovered messages first, then the batch.
            (
                S::Recovering {
                    cursor,
                    gap,
                    rejoin,
                    ..
                },
                Ev::GapFilled {
                    complete,
                    recovered,
                },
            ) => {
                let mut effects = vec![E::DeliverRecovered, E::Deliver];
                if recovered > 0 {
                    effects.push(E::Emit(StatusKind::GapRecovered));
                }
                if !complete || recovered == 0 {
                    effects.push(E::Emit(StatusKind::PotentialLoss { gap, reason: None }));
                }
                self.after_gap(cursor, rejoin, effects)
            }
            (
                S::Recovering {
                    cursor,
                    gap,
                    rejoin,
                    ..
                },
                Ev::GapFailed { reason },
            ) => {
                if !reason.is_retryable() {
                    // No storage, no read permission, a request that cannot
                    // be built: asking again cannot help.
                    self.history_unavailable = true;
                }
                let effects = vec![
                    E::Emit(StatusKind::PotentialLoss {
                        gap,
                        reason: Some(reason),
                    }),
                    E::Deliver,
                ];
                self.after_gap(cursor, rejoin, effects)
            }
            // A new channel mix while the gap is fetched: join it after.
            (
                S::Recovering {
                    cursor,
                    resume,
                    gap,
                    ..
                },
                Ev::SubscriptionChanged { empty: false },
            ) => (
                Some(S::Recovering {
                    cursor,
                    resume,
                    gap,
                    rejoin: true,
                }),
                vec![],
            ),
            (S::Receiving { cursor }, Ev::ReceiveFailure { reason }) => {
                self.receive_failed(cursor, 0, reason, true)
            }
            (
                S::ReceiveReconnecting {
                    cursor, attempts, ..
                },
                Ev::ReceiveFailure { reason },
            ) => self.receive_failed(cursor, attempts + 1, reason, false),

            // Application control.
            (S::Unsubscribed | S::Stopped { .. }, Ev::Disconnect) => (None, vec![]),
            (state, Ev::Disconnect) => {
                let cursor = match state {
                    // The held batch is dropped: poll it again after a reconnect.
                    S::Recovering { resume, .. } => Some(resume),
                    S::Receiving { cursor }
                    | S::Joining { cursor }
                    | S::ReceiveReconnecting { cursor, .. }
                    | S::ReceiveFailed { cursor, .. } => Some(cursor),
                    S::Handshaking { restore }
                    | S::HandshakeReconnecting { restore, .. }
                    | S::HandshakeFailed { restore, .. } => restore,
                    _ => None,
                };
                (
                    Some(S::Stopped { cursor }),
                    vec![E::Cancel, E::Emit(StatusKind::Disconnected)],
                )
            }
            (
                S::Stopped { cursor }
                | S::HandshakeFailed {
                    restore: cursor, ..
                },
                Ev::Reconnect,
            ) => (
                Some(S::Handshaking { restore: cursor }),
                vec![E::Handshake { delay: None }],
            ),
            (S::ReceiveFailed { cursor, .. }, Ev::Reconnect) => (
                Some(S::Handshaking {
                    restore: Some(cursor),
                }),
                vec![E::Handshake { delay: None }],
            ),
            // Reconnect while retrying: try again now.
            (S::HandshakeReconnecting { .. }, Ev::Reconnect) => {
                (None, vec![E::Handshake { delay: None }])
            }
            (S::ReceiveReconnecting { cursor, .. }, Ev::Reconnect) => (
                None,
                vec![E::Receive {
                    cursor,
                    delay: None,
                }],
            ),

            // Anything else is a stale outcome (of a cancelled request) or a
            // no-op in this state.
            _ => (None, vec![]),
        }
    }

    /// A receive answered while receiving from `previous`: deliver and poll
    /// on, or hold the batch and fetch (or report) its gap first.
    fn received(
        &mut self,
        previous: Cursor,
        cursor: Cursor,
        messages: usize,
        oldest: Option<u64>,
        mut effects: Vec<Effect>,
    ) -> (Option<State>, Vec<Effect>) {
        let gap = oldest
            .filter(|_| self.gap_recovery != GapRecovery::Off && messages >= self.threshold)
            .filter(|oldest| *oldest > previous.timetoken.saturating_add(1))
            .map(|before| Gap {
                after: previous.timetoken,
                before,
            });
        match gap {
            Some(gap)
                if self.gap_recovery == GapRecovery::FromHistory && !self.history_unavailable =>
            {
                effects.push(Effect::FetchGap(gap));
                (
                    Some(State::Recovering {
                        cursor,
                        resume: previous,
                        gap,
                        rejoin: false,
                    }),
                    effects,
                )
            }
            gap => {
                if let Some(gap) = gap {
                    effects.push(Effect::Emit(StatusKind::PotentialLoss {
                        gap,
                        reason: None,
                    }));
                }
                effects.push(Effect::Deliver);
                effects.push(Effect::Receive {
                    cursor,
                    delay: None,
                });
                (Some(State::Receiving { cursor }), effects)
            }
        }
    }

    /// After a gap fetch: poll on from `cursor`, or join the changed mix.
    fn after_gap(
        &mut self,
        cursor: Cursor,
        rejoin: bool,
        mut effects: Vec<Effect>,
    ) -> (Option<State>, Vec<Effect>) {
        if rejoin {
            effects.push(Effect::Handshake { delay: None });
            (Some(State::Joining { cursor }), effects)
        } else {
            effects.push(Effect::Receive {
                cursor,
                delay: None,
            });
            (Some(State::Receiving { cursor }), effects)
        }
    }

    fn handshake_failed(
        &mut self,
        restore: Option<Cursor>,
        attempt: u32,
        reason: Error,
        first: bool,
    ) -> (Option<State>, Vec<Effect>) {
        match self.retry_delay(&reason, attempt) {
            Some(delay) => {
                let mut effects = Vec::new();
                if first {
                    effects.push(Effect::Emit(StatusKind::UnexpectedDisconnect(
                        reason.clone(),
                    )));
                }
                effects.push(Effect::Handshake { delay: Some(delay) });
                (
                    Some(State::HandshakeReconnecting {
                        restore,
                        attempts: attempt,
                        reason,
                    }),
                    effects,
                )
            }
            None => {
                let status = Effect::Emit(StatusKind::Failed(category_of(&reason), reason.clone()));
                (
                    Some(State::HandshakeFailed { restore, reason }),
                    vec![status],
                )
            }
        }
    }

    fn receive_failed(
        &mut self,
        cursor: Cursor,
        attempt: u32,
        reason: Error,
        first: bool,
    ) -> (Option<State>, Vec<Effect>) {
        match self.retry_delay(&reason, attempt) {
            Some(delay) => {
                let mut effects = Vec::new();
                if first {
                    effects.push(Effect::Emit(StatusKind::UnexpectedDisconnect(
                        reason.clone(),
                    )));
                }
                effects.push(Effect::Receive {
                    cursor,
                    delay: Some(delay),
                });
                (
                    Some(State::ReceiveReconnecting {
                        cursor,
                        attempts: attempt,
                        reason,
                    }),
                    effects,
                )
            }
            None => {
                let status = Effect::Emit(StatusKind::Failed(category_of(&reason), reason.clone()));
                (Some(State::ReceiveFailed { cursor, reason }), vec![status])
            }
        }
    }

    /// The pause before retry `attempt`, or `None` when the failure is not
    /// retryable (400, 403, ...) or the policy gives up.
    fn retry_delay(&self, reason: &Error, attempt: u32) -> Option<Duration> {
        if !is_retryable_subscribe_error(reason) {
            return None;
        }
        self.policy.delay(attempt)
    }
}

/// Subscribe treats an unreadable response like a network fault (a proxy or
/// captive portal answered): retry it.
fn is_retryable_subscribe_error(error: &Error) -> bool {
    error.is_retryable() || matches!(error, Error::Deserialization { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: Cursor = Cursor {
        timetoken: 100,
        region: 1,
    };
    const C2: Cursor = Cursor {
        timetoken: 200,
        region: 1,
    };

    fn net() -> Error {
        Error::Network {
            message: "connection reset".into(),
        }
    }
    fn denied() -> Error {
        Error::AccessDenied {
            status: 403,
            message: "Forbidden".into(),
            channels: vec!["x".into()],
            channel_groups: vec![],
            uuids: vec![],
        }
    }
    fn bad() -> Error {
        Error::Http {
            status: 400,
            message: "Bad Request".into(),
            service: None,
            body: String::new(),
        }
    }
    fn policy() -> ReconnectPolicy {
        ReconnectPolicy::Linear {
            delay: Duration::from_millis(10),
            max_retries: Some(2),
        }
    }
    fn engine_in(state: State) -> Engine {
        let mut e = Engine::new(policy());
        e.state = state;
        e
    }
    fn d() -> Option<Duration> {
        Some(Duration::from_millis(10))
    }

    #[test]
    fn first_subscription_handshakes_then_receives_and_connects() {
        let mut e = Engine::new(policy());
        assert_eq!(
            e.handle(Event::SubscriptionChanged { empty: false }),
            [Effect::Handshake { delay: None }]
        );
        assert_eq!(e.state(), &State::Handshaking { restore: None });
        assert_eq!(
            e.handle(Event::HandshakeSuccess { cursor: C1 }),
            [
                Effect::Emit(StatusKind::Connected),
                Effect::Receive {
                    cursor: C1,
                    delay: None
                }
            ]
        );
        assert_eq!(
            e.handle(Event::ReceiveSuccess {
                cursor: C2,
                messages: 1,
                oldest: None,
            }),
            [
                Effect::Deliver,
                Effect::Receive {
                    cursor: C2,
                    delay: None
                }
            ]
        );
        assert_eq!(e.state(), &State::Receiving { cursor: C2 });
    }

    #[test]
    fn empty_subscription_or_unsubscribe_all_ends_with_disconnected() {
        for event in [
            Event::SubscriptionChanged { empty: true },
            Event::UnsubscribeAll,
        ] {
            for state in [
                State::Handshaking { restore: None },
                State::Receiving { cursor: C1 },
                State::ReceiveReconnecting {
                    cursor: C1,
                    attempts: 1,
                    reason: net(),
                },
                State::ReceiveFailed {
                    cursor: C1,
                    reason: net(),
                },
                State::Stopped { cursor: None },
            ] {
                let mut e = engine_in(state.clone());
                assert_eq!(
                    e.handle(event.clone()),
                    [Effect::Cancel, Effect::Emit(StatusKind::Disconnected)],
                    "{state:?}"
                );
                assert_eq!(e.state(), &State::Unsubscribed);
            }
            let mut e = Engine::new(policy());
            assert!(
                e.handle(event).is_empty(),
                "already unsubscribed: nothing to say"
            );
        }
    }

    #[test]
    fn channel_change_while_receiving_joins_with_a_handshake_and_keeps_the_cursor() {
        let mut e = engine_in(State::Receiving { cursor: C1 });
        assert_eq!(
            e.handle(Event::SubscriptionChanged { empty: false }),
            [Effect::Handshake { delay: None }]
        );
        assert_eq!(e.state(), &State::Joining { cursor: C1 });
        // Another change before the handshake answered: handshake again.
        assert_eq!(
            e.handle(Event::SubscriptionChanged { empty: false }),
            [Effect::Handshake { delay: None }]
        );
        // The handshake's cursor is not taken: receiving goes on from C1.
        assert_eq!(
            e.handle(Event::HandshakeSuccess { cursor: C2 }),
            [
                Effect::Emit(StatusKind::SubscriptionChanged),
                Effect::Receive {
                    cursor: C1,
                    delay: None
                }
            ]
        );
        assert_eq!(e.state(), &State::Receiving { cursor: C1 });
        let mut e = engine_in(State::ReceiveReconnecting {
            cursor: C1,
            attempts: 1,
            reason: net(),
        });
        assert_eq!(
            e.handle(Event::SubscriptionChanged { empty: false }),
            [Effect::Receive {
                cursor: C1,
                delay: None
            }]
        );
        let mut e = engine_in(State::Handshaking { restore: None });
        assert_eq!(
            e.handle(Event::SubscriptionChanged { empty: false }),
            [Effect::Handshake { delay: None }]
        );
        let mut e = engine_in(State::HandshakeReconnecting {
            restore: None,
            attempts: 1,
            reason: net(),
        });
        assert_eq!(
            e.handle(Event::SubscriptionChanged { empty: false }),
            [Effect::Handshake { delay: None }]
        );
        let mut e = engine_in(State::HandshakeFailed {
            restore: Some(C1),
            reason: net(),
        });
        assert_eq!(
            e.handle(Event::SubscriptionChanged { empty: false }),
            [Effect::Handshake { delay: None }]
        );
        assert_eq!(e.state(), &State::Handshaking { restore: Some(C1) });
        let mut e = engine_in(State::ReceiveFailed {
            cursor: C1,
            reason: net(),
        });
        assert_eq!(
            e.handle(Event::SubscriptionChanged { empty: false }),
            [Effect::Handshake { delay: None }]
        );
        assert_eq!(e.state(), &State::Handshaking { restore: Some(C1) });
        let mut e = engine_in(State::Stopped { cursor: Some(C1) });
        assert!(
            e.handle(Event::SubscriptionChanged { empty: false })
                .is_empty(),
            "stays stopped"
        );
    }

    #[test]
    fn a_refused_join_fails_keeping_the_cursor_and_a_network_error_retries() {
        let mut e = engine_in(State::Joining { cursor: C1 });
        assert_eq!(
            e.handle(Event::HandshakeFailure { reason: denied() }),
            [Effect::Emit(StatusKind::Failed(
                StatusCategory::AccessDenied,
                denied()
            ))]
        );
        assert_eq!(
            e.state(),
            &State::HandshakeFailed {
                restore: Some(C1),
                reason: denied()
            }
        );
        let mut e = engine_in(State::Joining { cursor: C1 });
        assert_eq!(
            e.handle(Event::HandshakeFailure { reason: net() }),
            [
                Effect::Emit(StatusKind::UnexpectedDisconnect(net())),
                Effect::Handshake { delay: d() }
            ]
        );
        let mut e = engine_in(State::Joining { cursor: C1 });
        assert_eq!(
            e.handle(Event::Disconnect),
            [Effect::Cancel, Effect::Emit(StatusKind::Disconnected)]
        );
        assert_eq!(e.state(), &State::Stopped { cursor: Some(C1) });
    }

    #[test]
    fn restore_handshakes_then_continues_from_the_given_timetoken() {
        let mut e = engine_in(State::Receiving { cursor: C2 });
        let catch_up = Cursor {
            timetoken: 50,
            region: 0,
        };
        assert_eq!(
            e.handle(Event::SubscriptionRestored { cursor: catch_up }),
            [Effect::Handshake { delay: None }]
        );
        let effects = e.handle(Event::HandshakeSuccess {
            cursor: Cursor {
                timetoken: 300,
                region: 7,
            },
        });
        let resumed = Cursor {
            timetoken: 50,
            region: 7,
        };
        assert_eq!(
            effects,
            [
                Effect::Emit(StatusKind::Connected),
                Effect::Receive {
                    cursor: resumed,
                    delay: None
                }
            ]
        );
        let mut stopped = engine_in(State::Stopped { cursor: None });
        assert!(stopped
            .handle(Event::SubscriptionRestored { cursor: catch_up })
            .is_empty());
        assert_eq!(
            stopped.state(),
            &State::Stopped {
                cursor: Some(catch_up)
            }
        );
    }

    #[test]
    fn receive_failures_retry_then_recover_with_reconnected() {
        let mut e = engine_in(State::Receiving { cursor: C1 });
        e.was_connected = true;
        assert_eq!(
            e.handle(Event::ReceiveFailure { reason: net() }),
            [
                Effect::Emit(StatusKind::UnexpectedDisconnect(net())),
                Effect::Receive {
                    cursor: C1,
                    delay: d()
                }
            ]
        );
        assert_eq!(
            e.handle(Event::ReceiveFailure { reason: net() }),
            [Effect::Receive {
                cursor: C1,
                delay: d()
            }]
        );
        assert!(matches!(
            e.state(),
            State::ReceiveReconnecting { attempts: 1, .. }
        ));
        assert_eq!(
            e.handle(Event::ReceiveSuccess {
                cursor: C2,
                messages: 1,
                oldest: None,
            }),
            [
                Effect::Emit(StatusKind::Reconnected),
                Effect::Deliver,
                Effect::Receive {
                    cursor: C2,
                    delay: None
                }
            ]
        );
    }

    #[test]
    fn receive_gives_up_after_max_retries() {
        let mut e = engine_in(State::ReceiveReconnecting {
            cursor: C1,
            attempts: 1,
            reason: net(),
        });
        let effects = e.handle(Event::ReceiveFailure { reason: net() });
        assert_eq!(
            effects,
            [Effect::Emit(StatusKind::Failed(
                StatusCategory::NetworkIssues,
                net()
            ))]
        );
        assert!(matches!(e.state(), State::ReceiveFailed { cursor: C1, .. }));
        assert_eq!(
            e.handle(Event::Reconnect),
            [Effect::Handshake { delay: None }]
        );
        assert_eq!(e.state(), &State::Handshaking { restore: Some(C1) });
    }

    #[test]
    fn access_denied_and_bad_request_are_never_retried() {
        for (reason, category) in [
            (denied(), StatusCategory::AccessDenied),
            (bad(), StatusCategory::BadRequest),
        ] {
            let mut e = engine_in(State::Receiving { cursor: C1 });
            assert_eq!(
                e.handle(Event::ReceiveFailure {
                    reason: reason.clone()
                }),
                [Effect::Emit(StatusKind::Failed(category, reason.clone()))]
            );
            assert!(matches!(e.state(), State::ReceiveFailed { .. }));
            let mut e = engine_in(State::Handshaking { restore: None });
            assert_eq!(
                e.handle(Event::HandshakeFailure {
                    reason: reason.clone()
                }),
                [Effect::Emit(StatusKind::Failed(category, reason))]
            );
            assert!(matches!(e.state(), State::HandshakeFailed { .. }));
        }
    }

    #[test]
    fn handshake_failures_retry_and_give_up() {
        let mut e = engine_in(State::Handshaking { restore: None });
        let timeout = Error::Timeout {
            after: Duration::from_secs(1),
        };
        assert_eq!(
            e.handle(Event::HandshakeFailure {
                reason: timeout.clone()
            }),
            [
                Effect::Emit(StatusKind::UnexpectedDisconnect(timeout.clone())),
                Effect::Handshake { delay: d() }
            ]
        );
        assert_eq!(
            e.handle(Event::HandshakeFailure {
                reason: timeout.clone()
            }),
            [Effect::Handshake { delay: d() }]
        );
        assert_eq!(
            e.handle(Event::HandshakeFailure {
                reason: timeout.clone()
            }),
            [Effect::Emit(StatusKind::Failed(
                StatusCategory::Timeout,
                timeout
            ))]
        );
        assert_eq!(
            e.handle(Event::Reconnect),
            [Effect::Handshake { delay: None }]
        );
        let mut retrying = engine_in(State::HandshakeReconnecting {
            restore: None,
            attempts: 0,
            reason: net(),
        });
        assert_eq!(
            retrying.handle(Event::HandshakeSuccess { cursor: C1 }),
            [
                Effect::Emit(StatusKind::Connected),
                Effect::Receive {
                    cursor: C1,
                    delay: None
                }
            ]
        );
        assert_eq!(retrying.handle(Event::Reconnect), []);
    }

    #[test]
    fn no_retry_policy_fails_at_once() {
        let mut e = Engine::new(ReconnectPolicy::None);
        e.state = State::Receiving { cursor: C1 };
        assert_eq!(
            e.handle(Event::ReceiveFailure { reason: net() }),
            [Effect::Emit(StatusKind::Failed(
                StatusCategory::NetworkIssues,
                net()
            ))]
        );
    }

    #[test]
    fn unreadable_responses_are_retried() {
        let mut e = engine_in(State::Receiving { cursor: C1 });
        let garbage = Error::Deserialization {
            what: "x",
            reason: "y".into(),
            body: "<html>".into(),
        };
        assert!(matches!(
            e.handle(Event::ReceiveFailure { reason: garbage }).last(),
            Some(Effect::Receive { .. })
        ));
    }

    #[test]
    fn disconnect_and_reconnect() {
        for (state, cursor) in [
            (State::Receiving { cursor: C1 }, Some(C1)),
            (
                State::ReceiveReconnecting {
                    cursor: C1,
                    attempts: 0,
                    reason: net(),
                },
                Some(C1),
            ),
            (
                State::ReceiveFailed {
                    cursor: C1,
                    reason: net(),
                },
                Some(C1),
            ),
            (State::Handshaking { restore: None }, None),
            (
                State::HandshakeReconnecting {
                    restore: Some(C2),
                    attempts: 0,
                    reason: net(),
                },
                Some(C2),
            ),
            (
                State::HandshakeFailed {
                    restore: None,
                    reason: net(),
                },
                None,
            ),
        ] {
            let mut e = engine_in(state.clone());
            assert_eq!(
                e.handle(Event::Disconnect),
                [Effect::Cancel, Effect::Emit(StatusKind::Disconnected)],
                "{state:?}"
            );
            assert_eq!(e.state(), &State::Stopped { cursor });
            assert_eq!(
                e.handle(Event::Reconnect),
                [Effect::Handshake { delay: None }]
            );
            assert_eq!(e.state(), &State::Handshaking { restore: cursor });
        }
        let mut idle = Engine::new(policy());
        assert!(idle.handle(Event::Disconnect).is_empty());
        assert!(idle.handle(Event::Reconnect).is_empty());
        let mut stopped = engine_in(State::Stopped { cursor: None });
        assert!(stopped.handle(Event::Disconnect).is_empty());
    }

    #[test]
    fn reconnect_while_retrying_tries_now() {
        let mut e = engine_in(State::ReceiveReconnecting {
            cursor: C1,
            attempts: 0,
            reason: net(),
        });
        assert_eq!(
            e.handle(Event::Reconnect),
            [Effect::Receive {
                cursor: C1,
                delay: None
            }]
        );
        let mut e = engine_in(State::HandshakeReconnecting {
            restore: None,
            attempts: 0,
            reason: net(),
        });
        assert_eq!(
            e.handle(Event::Reconnect),
            [Effect::Handshake { delay: None }]
        );
    }

    #[test]
    fn stale_outcomes_are_ignored() {
        let stale = [
            Event::HandshakeSuccess { cursor: C2 },
            Event::HandshakeFailure { reason: net() },
            Event::ReceiveSuccess {
                cursor: C2,
                messages: 1,
                oldest: None,
            },
            Event::ReceiveFailure { reason: net() },
        ];
        for state in [
            State::Unsubscribed,
            State::Stopped { cursor: Some(C1) },
            State::ReceiveFailed {
                cursor: C1,
                reason: net(),
            },
        ] {
            for event in &stale {
                let mut e = engine_in(state.clone());
                assert!(e.handle(event.clone()).is_empty(), "{state:?} + {event:?}");
                assert_eq!(e.state(), &state);
            }
        }
        // A handshake outcome while receiving (the handshake was cancelled) is stale too.
        let mut e = engine_in(State::Receiving { cursor: C1 });
        assert!(e.handle(Event::HandshakeSuccess { cursor: C2 }).is_empty());
        assert_eq!(e.state(), &State::Receiving { cursor: C1 });
    }

    #[test]
    fn a_new_session_connects_again_after_unsubscribing() {
        let mut e = engine_in(State::Receiving { cursor: C1 });
        e.was_connected = true;
        e.handle(Event::UnsubscribeAll);
        e.handle(Event::SubscriptionChanged { empty: false });
        assert_eq!(
            e.handle(Event::HandshakeSuccess { cursor: C2 })[0],
            Effect::Emit(StatusKind::Connected)
        );
    }

    fn full(cursor: Cursor, oldest: u64) -> Event {
        Event::ReceiveSuccess {
            cursor,
            messages: 100,
            oldest: Some(oldest),
        }
    }
    const GAP: Gap = Gap {
        after: 100,
        before: 150,
    };
    fn recovering(rejoin: bool) -> State {
        State::Recovering {
            cursor: C2,
            resume: C1,
            gap: GAP,
            rejoin,
        }
    }

    #[test]
    fn a_full_receive_is_held_while_its_gap_is_fetched() {
        let mut e = engine_in(State::Receiving { cursor: C1 });
        assert_eq!(e.handle(full(C2, 150)), [Effect::FetchGap(GAP)]);
        assert_eq!(e.state(), &recovering(false));
        // Recovered first, then the batch, then the report, then polling on.
        assert_eq!(
            e.handle(Event::GapFilled {
                complete: true,
                recovered: 3
            }),
            [
                Effect::DeliverRecovered,
                Effect::Deliver,
                Effect::Emit(StatusKind::GapRecovered),
                Effect::Receive {
                    cursor: C2,
                    delay: None
                }
            ]
        );
        assert_eq!(e.state(), &State::Receiving { cursor: C2 });
    }

    #[test]
    fn an_incomplete_or_empty_fill_reports_a_potential_loss() {
        let loss = Effect::Emit(StatusKind::PotentialLoss {
            gap: GAP,
            reason: None,
        });
        let mut e = engine_in(recovering(false));
        let effects = e.handle(Event::GapFilled {
            complete: false,
            recovered: 5,
        });
        assert!(effects.contains(&loss));
        assert!(effects.contains(&Effect::Emit(StatusKind::GapRecovered)));
        assert_eq!(effects.first(), Some(&Effect::DeliverRecovered));
        // History had none of what the server dropped: not stored, say so.
        let mut e = engine_in(recovering(false));
        let effects = e.handle(Event::GapFilled {
            complete: true,
            recovered: 0,
        });
        assert!(effects.contains(&loss));
        assert!(!effects.contains(&Effect::Emit(StatusKind::GapRecovered)));
    }

    #[test]
    fn no_gap_below_the_threshold_or_when_contiguous_or_off() {
        // Fewer messages than the queue holds: nothing was dropped.
        let mut e = engine_in(State::Receiving { cursor: C1 });
        let partial = Event::ReceiveSuccess {
            cursor: C2,
            messages: 99,
            oldest: Some(150),
        };
        assert_eq!(e.handle(partial)[0], Effect::Deliver);
        // A full batch that starts right after the cursor skipped nothing.
        let mut e = engine_in(State::Receiving { cursor: C1 });
        assert_eq!(e.handle(full(C2, 101))[0], Effect::Deliver);
        // Off: neither fetched nor reported.
        let mut e = Engine::new(policy()).with_gap_recovery(GapRecovery::Off, 100);
        e.state = State::Receiving { cursor: C1 };
        assert_eq!(e.handle(full(C2, 150))[0], Effect::Deliver);
    }

    #[test]
    fn report_mode_reports_and_delivers_without_fetching() {
        let mut e = Engine::new(policy()).with_gap_recovery(GapRecovery::Report, 10);
        e.state = State::Receiving { cursor: C1 };
        let effects = e.handle(Event::ReceiveSuccess {
            cursor: C2,
            messages: 10,
            oldest: Some(150),
        });
        assert_eq!(
            effects,
            [
                Effect::Emit(StatusKind::PotentialLoss {
                    gap: GAP,
                    reason: None
                }),
                Effect::Deliver,
                Effect::Receive {
                    cursor: C2,
                    delay: None
                }
            ]
        );
    }

    #[test]
    fn a_refusing_history_is_not_asked_again() {
        let mut e = engine_in(recovering(false));
        let effects = e.handle(Event::GapFailed { reason: denied() });
        assert_eq!(
            effects[0],
            Effect::Emit(StatusKind::PotentialLoss {
                gap: GAP,
                reason: Some(denied())
            })
        );
        assert_eq!(effects[1], Effect::Deliver);
        assert!(e.history_unavailable());
        // The next full batch is reported, not fetched.
        let effects = e.handle(full(
            Cursor {
                timetoken: 300,
                region: 1,
            },
            250,
        ));
        assert!(
            !effects.iter().any(|x| matches!(x, Effect::FetchGap(_))),
            "{effects:?}"
        );
        assert!(matches!(
            effects[0],
            Effect::Emit(StatusKind::PotentialLoss { .. })
        ));
        // A failure that can succeed later (network) keeps history in use.
        let mut e = engine_in(recovering(false));
        e.handle(Event::GapFailed { reason: net() });
        assert!(!e.history_unavailable());
    }

    #[test]
    fn a_reconnecting_receive_reports_reconnected_before_the_fetch() {
        let mut e = engine_in(State::ReceiveReconnecting {
            cursor: C1,
            attempts: 1,
            reason: net(),
        });
        e.was_connected = true;
        assert_eq!(
            e.handle(full(C2, 150)),
            [Effect::Emit(StatusKind::Reconnected), Effect::FetchGap(GAP)]
        );
    }

    #[test]
    fn changes_while_recovering() {
        // A new mix waits for the fill, then joins with a handshake.
        let mut e = engine_in(recovering(false));
        assert!(e
            .handle(Event::SubscriptionChanged { empty: false })
            .is_empty());
        assert_eq!(e.state(), &recovering(true));
        let effects = e.handle(Event::GapFilled {
            complete: true,
            recovered: 1,
        });
        assert_eq!(effects.last(), Some(&Effect::Handshake { delay: None }));
        assert_eq!(e.state(), &State::Joining { cursor: C2 });
        // A disconnect drops the held batch and resumes from before it.
        let mut e = engine_in(recovering(false));
        assert_eq!(
            e.handle(Event::Disconnect),
            [Effect::Cancel, Effect::Emit(StatusKind::Disconnected)]
        );
        assert_eq!(e.state(), &State::Stopped { cursor: Some(C1) });
        // Unsubscribing everything cancels the fetch.
        let mut e = engine_in(recovering(false));
        assert_eq!(e.handle(Event::UnsubscribeAll)[0], Effect::Cancel);
        assert_eq!(e.state(), &State::Unsubscribed);
        // Stale receive outcomes are ignored.
        let mut e = engine_in(recovering(false));
        assert!(e.handle(full(C2, 150)).is_empty());
        assert!(e.handle(Event::ReceiveFailure { reason: net() }).is_empty());
        assert_eq!(e.state(), &recovering(false));
    }
}
