//! Subscribe v2 long-poll (PROTOCOL.md §4).
//!
//! * **Handshake** (`tt` absent or `0`): answers at once with a fresh cursor
//!   and an empty `m`; the presence join it causes gets a later timetoken, so
//!   it arrives in the first receive, as with the real service.
//! * **Receive** (`tt=<cursor>`): returns every message newer than the cursor
//!   on the requested channels, the channels of the requested groups and the
//!   channels matching the requested wildcards, oldest first. The subscribe
//!   queue of PROTOCOL.md §1.8 belongs to the connection and is shared by all
//!   of its channels: when more than `queue_size` messages are newer than the
//!   cursor, the newest `queue_size` are returned and the older ones are lost
//!   for this subscriber. The new cursor is the newest timetoken scanned.
//! * With nothing to return the request parks until a publish that concerns
//!   it, the hold time, or shutdown. A parked poll registers its interest
//!   (channels, groups, wildcards) **before** scanning, so a publish between
//!   the scan and the wait still wakes it; a publish wakes only the polls
//!   registered on its channel, on a group holding it or on a wildcard
//!   matching it. A parked poll is a future holding a `Notify`, not a thread
//!   or a buffer; a vanished client only costs its registration until the
//!   hold time ends or the connection is noticed closed.
//! * `filter-expr` is parsed once per request and applied to messages and
//!   signals (not presence events). An expression that does not parse makes
//!   the subscriber match no message at all, which is what PubNub is
//!   reported to do (PROTOCOL.md §4.7) — silently delivering everything would
//!   hide the client's bug.
//! * Envelope `b`: absent for a channel subscribed directly; the group name
//!   or wildcard pattern when matched through one; the `-pnpres` channel
//!   itself for presence events on a directly subscribed presence channel
//!   (as in the real cassettes).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use bytes::{BufMut, BytesMut};
use tokio::sync::Notify;

use super::access::{Permission, Resources};
use super::app::{App, ParkedPolls};
use super::errors::{ok_json, service, ApiError};
use super::filter::{FilterContext, FilterExpr};
use super::keyset::{split_presence, KeysetHandle, KeysetState, WaitKeys, Wildcard};
use super::message::StoredMessage;
use super::presence::{channel_states, heartbeat_timeout, presence_channels};
use super::wire::{split_list, RequestCtx};

/// The subscriber's filter.
enum Filter {
    None,
    Expr(FilterExpr),
    /// Did not parse: no message or signal matches.
    Invalid,
}

impl Filter {
    fn from_query(ctx: &RequestCtx) -> Self {
        match ctx.query.non_empty("filter-expr") {
            None => Self::None,
            Some(source) => match FilterExpr::parse(source) {
                Ok(expr) => Self::Expr(expr),
                Err(error) => {
                    tracing::debug!(%error, source, "unparsable filter-expr: the subscriber matches no messages");
                    Self::Invalid
                }
            },
        }
    }

    fn passes(&self, msg: &StoredMessage) -> bool {
        if !msg.kind.is_filtered() {
            return true;
        }
        match self {
            Self::None => true,
            Self::Invalid => false,
            Self::Expr(expr) => expr.matches(&FilterContext {
                meta: msg.meta_value(),
                data: Some(msg.data_value()),
                publisher: msg.publisher.as_deref(),
                channel: &msg.channel,
            }),
        }
    }
}

/// One message to deliver and how the subscriber matched it.
struct Hit {
    msg: Arc<StoredMessage>,
    matched_by: Option<Arc<str>>,
}

struct Scan {
    hits: Vec<Hit>,
    /// Newest `seq` looked at (delivered or filtered out).
    newest_seen: u64,
    /// Messages left out by the queue rule.
    lost: usize,
}

fn scan_channel(
    msgs: &std::collections::VecDeque<Arc<StoredMessage>>,
    cursor: u64,
    limit: usize,
    filter: &Filter,
    matched_by: Option<&Arc<str>>,
    scan: &mut Scan,
) {
    let mut taken = 0;
    for msg in msgs.iter().rev() {
        if msg.seq <= cursor {
            break;
        }
        scan.newest_seen = scan.newest_seen.max(msg.seq);
        if filter.passes(msg) {
            if taken >= limit {
                // Older than the newest `limit`: lost (counted for /metrics).
                scan.lost += 1;
                continue;
            }
            scan.hits.push(Hit {
                msg: msg.clone(),
                matched_by: matched_by.cloned(),
            });
            taken += 1;
        }
    }
}

/// Collects what `keys` should receive after `cursor`, applying the queue
/// rule. Runs under the keyset lock; touches only channels that hold data.
fn scan(state: &KeysetState, keys: &WaitKeys, cursor: u64, limit: usize, filter: &Filter) -> Scan {
    let mut out = Scan {
        hits: Vec::new(),
        newest_seen: cursor,
        lost: 0,
    };
    let mut seen: HashSet<Arc<str>> = HashSet::new();
    // The channel list has no duplicates (`split_list`): a channel can only
    // be reached twice through a group or a wildcard.
    let overlaps = !keys.groups.is_empty() || !keys.wildcards.is_empty();
    let channels = &state.store.channels;
    for name in &keys.channels {
        if let Some((key, data)) = channels.get_key_value(name.as_str()) {
            if !overlaps || seen.insert(key.clone()) {
                let matched_by = split_presence(name).1.then(|| key.clone());
                scan_channel(
                    &data.recent,
                    cursor,
                    limit,
                    filter,
                    matched_by.as_ref(),
                    &mut out,
                );
            }
        }
    }
    for group in &keys.groups {
        let (base, presence) = split_presence(group);
        let matched_by: Arc<str> = Arc::from(group.as_str());
        for member in state.groups.channels_of(base) {
            let name = if presence {
                format!("{member}-pnpres")
            } else {
                member.clone()
            };
            if let Some((key, data)) = channels.get_key_value(name.as_str()) {
                if seen.insert(key.clone()) {
                    scan_channel(
                        &data.recent,
                        cursor,
                        limit,
                        filter,
                        Some(&matched_by),
                        &mut out,
                    );
                }
            }
        }
    }
    for wildcard in &keys.wildcards {
        let matched_by: Arc<str> = Arc::from(wildcard.pattern.as_str());
        let prefix = wildcard.prefix();
        let range = channels
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(name, _)| name.starts_with(prefix));
        for (key, data) in range {
            if wildcard.matches(key) && seen.insert(key.clone()) {
                scan_channel(
                    &data.recent,
                    cursor,
                    limit,
                    filter,
                    Some(&matched_by),
                    &mut out,
                );
            }
        }
    }
    if out.hits.len() > limit {
        // Keep the newest `limit`: the older ones are lost for this
        // subscriber, as PubNub's queue documents.
        let drop = out.hits.len() - limit;
        out.hits.select_nth_unstable_by_key(drop, |hit| hit.msg.seq);
        out.hits.drain(..drop);
        out.lost += drop;
    }
    out.hits.sort_unstable_by_key(|hit| hit.msg.seq);
    out
}

/// `{"t":{"t":"<cursor>","r":1},"m":[…]}`.
fn render(cursor: u64, hits: &[Hit]) -> Response<Body> {
    let size: usize = hits.iter().map(|h| h.msg.data.get().len() + 200).sum();
    let mut out = BytesMut::with_capacity(48 + size);
    // Writing into `BytesMut` cannot fail.
    let _ = write!(out, r#"{{"t":{{"t":"{cursor}","r":1}},"m":["#);
    for (i, hit) in hits.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        hit.msg.write_envelope(&mut out, hit.matched_by.as_deref());
    }
    out.put_slice(b"]}");
    ok_json(out.freeze())
}

/// A parked poll's registration: made together with the poll's first
/// presence update, removed together with its last one (one lock each), or
/// on drop when the poll is cancelled (client gone, shutdown).
struct Registration<'a> {
    keyset: Arc<KeysetHandle>,
    id: u64,
    keys: WaitKeys,
    parked: &'a ParkedPolls,
    /// Unregistered by [`Registration::finish`].
    finished: bool,
}

impl<'a> Registration<'a> {
    /// Registers the poll and runs `first` under the same lock.
    fn new(
        keyset: Arc<KeysetHandle>,
        keys: WaitKeys,
        notify: &Arc<Notify>,
        parked: &'a ParkedPolls,
        first: impl FnOnce(&mut KeysetState, &WaitKeys),
    ) -> Self {
        let id = keyset.next_poll_id();
        {
            let mut state = keyset.lock();
            state.waiters.register(id, &keys, notify);
            first(&mut state, &keys);
        }
        parked.add();
        Self {
            keyset,
            id,
            keys,
            parked,
            finished: false,
        }
    }

    /// Runs `last` and unregisters the poll under the same lock.
    fn finish(mut self, last: impl FnOnce(&mut KeysetState, &WaitKeys)) {
        {
            let mut state = self.keyset.lock();
            last(&mut state, &self.keys);
            state.waiters.unregister(self.id, &self.keys);
        }
        self.finished = true;
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.keyset.lock().waiters.unregister(self.id, &self.keys);
        }
        self.parked.remove();
    }
}

/// `GET /v2/subscribe/{sub}/{chs}/0`.
pub(crate) async fn subscribe(
    app: &App,
    keyset: Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: &str,
) -> Result<Response<Body>, ApiError> {
    let mut keys = WaitKeys::default();
    for name in split_list(channels_segment) {
        match Wildcard::parse(&name) {
            Some(wildcard) => keys.wildcards.push(wildcard),
            None => keys.channels.push(name),
        }
    }
    keys.groups = ctx.query.list("channel-group");
    if keys.channels.is_empty() && keys.groups.is_empty() && keys.wildcards.is_empty() {
        return Err(ApiError::bad_request(
            service::SUBSCRIBE,
            "subscribe to at least one channel or channel group",
        ));
    }
    let cursor = match ctx.query.get("tt").map(str::trim) {
        None | Some("" | "0") => None,
        Some(tt) => Some(tt.parse::<u64>().map_err(|_| {
            ApiError::bad_request(service::SUBSCRIBE, format!("invalid timetoken `tt={tt}`"))
        })?),
    };
    let states = channel_states(ctx, service::SUBSCRIBE)?;
    let timeout = heartbeat_timeout(app, ctx);
    let filter = Filter::from_query(ctx);
    app.authorize_with(&keyset, ctx, Permission::Read, || {
        Resources::channels(
            keys.channels
                .iter()
                .cloned()
                .chain(keys.wildcards.iter().map(|w| w.pattern.clone())),
        )
        .with_groups(keys.groups.iter().cloned())
    })?;
    let uuid = ctx.uuid();

    let Some(cursor) = cursor else {
        // Handshake: cursor first, then the join, so the join is newer.
        let mut state = keyset.lock();
        let cursor = state.clock.tick();
        if let Some(uuid) = uuid {
            let targets = presence_channels(&state, &keys.channels, &keys.groups);
            state.presence_touch(uuid, &targets, timeout, &states, false);
        }
        drop(state);
        return Ok(render(cursor, &[]));
    };

    let notify = Arc::new(Notify::new());
    let registration =
        Registration::new(keyset.clone(), keys, &notify, &app.parked, |state, keys| {
            if let Some(uuid) = uuid {
                let targets = presence_channels(state, &keys.channels, &keys.groups);
                state.presence_touch(uuid, &targets, timeout, &states, false);
            }
        });

    // `sleep` saturates absurd hold times instead of overflowing.
    let hold = tokio::time::sleep(app.config.hold);
    tokio::pin!(hold);
    let limit = app.config.queue_size.max(1);
    let mut cursor = cursor;
    let response = loop {
        let found = {
            let state = keyset.lock();
            scan(&state, &registration.keys, cursor, limit, &filter)
        };
        if !found.hits.is_empty() {
            app.metrics.lost(found.lost);
            app.losses
                .record(&keyset.subscribe_key, uuid, channels_segment, found.lost);
            app.metrics.delivered(found.hits.len());
            break render(found.newest_seen, &found.hits);
        }
        // Everything newer was filtered out: skip it from now on.
        cursor = found.newest_seen;
        // Shutdown wakes every registered poll after setting the flag
        // (`App::stop_parked_polls`), so this poll is either woken or sees it.
        if app.is_stopping() {
            break render(cursor, &[]);
        }
        tokio::select! {
            () = notify.notified() => {}
            () = &mut hold => break render(cursor, &[]),
        }
    };

    registration.finish(|state, keys| {
        if let Some(uuid) = uuid {
            let targets = presence_channels(state, &keys.channels, &keys.groups);
            state.presence_touch(uuid, &targets, timeout, &Default::default(), true);
        }
    });
    Ok(response)
}
