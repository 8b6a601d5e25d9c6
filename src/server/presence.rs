//! Presence (PROTOCOL.md §4.4, §5): who is on which channel, their state, and
//! the events on `<channel>-pnpres`.
//!
//! * A subscribe or heartbeat marks a uuid present on its channels (and the
//!   channels of its groups) until `now + heartbeat` (the request's
//!   `heartbeat` parameter, else the configured presence timeout), measured
//!   on the server clock. A `leave` removes it; the sweep removes members
//!   whose time ran out and reports `timeout`. The sweep runs every
//!   `sweep_interval` and at once after `advance_clock`, so tests never wait.
//! * Events: a channel is in *announce* mode (one `join` / `leave` /
//!   `timeout` / `state-change` event per change) while its occupancy is at
//!   most `announce_max`. Above it the channel switches to *interval* mode:
//!   per-user events stop (state-change included — the docs say per-user
//!   events stop; real behaviour unverified) and an `interval` event with
//!   the occupancy is sent at the switch and then every `presence_interval`,
//!   carrying `join` / `leave` / `timeout` arrays when deltas are on (each
//!   only when non-empty; `here_now_refresh: true` instead when they would
//!   make the event larger than 30 KB). When occupancy falls back to
//!   `announce_max` the pending deltas are flushed in one last `interval`
//!   event and the channel returns to announce mode.
//! * State (per uuid and channel) is set by `set_state`, by a subscribe or
//!   heartbeat `state` parameter (an empty object changes nothing) and is
//!   dropped when the uuid leaves or times out on that channel.
//! * Wildcard subscriptions do not mark presence (nothing documents a
//!   presence for a pattern).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Response;
use serde_json::{json, Map, Value};

use super::access::{Permission, Resources};
use super::app::App;
use super::clock::duration_to_tt;
use super::errors::{ok_json, service, ApiError};
use super::keyset::{split_presence, KeysetHandle, KeysetState, PRESENCE_SUFFIX};
use super::message::{raw_of, MessageKind, NewMessage};
use super::wire::{split_list, RequestCtx};

/// Above this many bytes an `interval` event replaces its delta arrays with
/// `here_now_refresh: true` (PROTOCOL.md §4.4).
const INTERVAL_EVENT_MAX_BYTES: usize = 30_000;
/// The most occupants here_now lists per channel.
const HERE_NOW_MAX_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy)]
struct Member {
    /// When the member times out (timetoken units).
    expires_at: u64,
}

#[derive(Debug, Default)]
struct Deltas {
    join: Vec<String>,
    leave: Vec<String>,
    timeout: Vec<String>,
}

impl Deltas {
    fn is_empty(&self) -> bool {
        self.join.is_empty() && self.leave.is_empty() && self.timeout.is_empty()
    }
}

#[derive(Debug, Default)]
struct ChannelPresence {
    members: BTreeMap<String, Member>,
    interval_mode: bool,
    pending: Deltas,
    last_interval: u64,
}

/// The presence registry of one keyset.
#[derive(Debug, Default)]
pub(crate) struct Presence {
    channels: HashMap<String, ChannelPresence>,
    /// uuid → channels it is present on (where_now).
    by_uuid: HashMap<String, BTreeSet<String>>,
    /// uuid → channel → state object.
    states: HashMap<String, HashMap<String, Value>>,
}

impl Presence {
    pub(crate) fn occupancy(&self, channel: &str) -> usize {
        self.channels.get(channel).map_or(0, |c| c.members.len())
    }

    /// Every channel with presence data (members, or pending interval
    /// deltas), in no order (the console).
    pub(crate) fn channel_names(&self) -> impl Iterator<Item = &String> {
        self.channels.keys()
    }

    /// How many uuids are present on at least one channel (the console).
    pub(crate) fn present_uuids(&self) -> usize {
        self.by_uuid.len()
    }

    fn state_of(&self, uuid: &str, channel: &str) -> Option<&Value> {
        self.states.get(uuid).and_then(|m| m.get(channel))
    }

    fn set_state(&mut self, uuid: &str, channel: &str, state: Option<Value>) {
        match state {
            Some(state) => {
                self.states
                    .entry(uuid.to_owned())
                    .or_default()
                    .insert(channel.to_owned(), state);
            }
            None => {
                if let Some(map) = self.states.get_mut(uuid) {
                    map.remove(channel);
                    if map.is_empty() {
                        self.states.remove(uuid);
                    }
                }
            }
        }
    }

    fn add_member(&mut self, uuid: &str, channel: &str, expires_at: u64) -> bool {
        let entry = self.channels.entry(channel.to_owned()).or_default();
        let joined = entry
            .members
            .insert(uuid.to_owned(), Member { expires_at })
            .is_none();
        if joined {
            self.by_uuid
                .entry(uuid.to_owned())
                .or_default()
                .insert(channel.to_owned());
        }
        joined
    }

    /// Removes a member; its state on the channel goes with it (state lives
    /// as long as the presence it describes).
    fn remove_member(&mut self, uuid: &str, channel: &str) -> bool {
        let removed = self
            .channels
            .get_mut(channel)
            .is_some_and(|c| c.members.remove(uuid).is_some());
        if removed {
            self.set_state(uuid, channel, None);
            if let Some(channels) = self.by_uuid.get_mut(uuid) {
                channels.remove(channel);
                if channels.is_empty() {
                    self.by_uuid.remove(uuid);
                }
            }
        }
        removed
    }

    fn forget_if_idle(&mut self, channel: &str) {
        if self
            .channels
            .get(channel)
            .is_some_and(|c| c.members.is_empty() && !c.interval_mode && c.pending.is_empty())
        {
            self.channels.remove(channel);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Join,
    Leave,
    Timeout,
    StateChange,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Leave => "leave",
            Self::Timeout => "timeout",
            Self::StateChange => "state-change",
        }
    }
}

/// Channels (without `-pnpres` names) plus the channels of the groups
/// (without `-pnpres` groups), deduplicated, in order.
pub(crate) fn presence_channels<'k>(
    state: &KeysetState,
    channels: &'k [String],
    groups: &[String],
) -> Cow<'k, [String]> {
    // The usual case (distinct plain channels, no group to expand) is the
    // list itself: a long-poll touches presence twice, with no copies.
    let expands_groups = groups.iter().any(|group| !split_presence(group).1);
    let as_given = !expands_groups
        && channels
            .iter()
            .enumerate()
            .all(|(i, c)| !split_presence(c).1 && !channels[..i].contains(c));
    if as_given {
        return Cow::Borrowed(channels);
    }
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if !out.iter().any(|c| c == name) {
            out.push(name.to_owned());
        }
    };
    for channel in channels {
        if !split_presence(channel).1 {
            push(channel);
        }
    }
    for group in groups {
        if !split_presence(group).1 {
            for channel in state.groups.channels_of(group) {
                push(channel);
            }
        }
    }
    Cow::Owned(out)
}

impl KeysetState {
    fn now_secs(&self) -> u64 {
        self.clock.unix_secs()
    }

    /// Publishes one presence event on `<channel>-pnpres`.
    fn publish_presence(&mut self, channel: &str, payload: &Value) {
        let message = NewMessage::server_event(
            Arc::from(format!("{channel}{PRESENCE_SUFFIX}")),
            MessageKind::Presence,
            raw_of(payload),
        )
        .prepare(&self.subscribe_key);
        self.insert(message);
    }

    fn interval_event(&self, channel: &str, deltas: &Deltas) -> Value {
        let mut event = Map::new();
        event.insert("action".into(), json!("interval"));
        event.insert("timestamp".into(), json!(self.now_secs()));
        event.insert("occupancy".into(), json!(self.presence.occupancy(channel)));
        if self.config.presence_deltas && !deltas.is_empty() {
            let mut with_deltas = event.clone();
            for (key, list) in [
                ("join", &deltas.join),
                ("leave", &deltas.leave),
                ("timeout", &deltas.timeout),
            ] {
                if !list.is_empty() {
                    with_deltas.insert(key.into(), json!(list));
                }
            }
            let with_deltas = Value::Object(with_deltas);
            if with_deltas.to_string().len() <= INTERVAL_EVENT_MAX_BYTES {
                return with_deltas;
            }
            event.insert("here_now_refresh".into(), json!(true));
        }
        Value::Object(event)
    }

    fn flush_interval(&mut self, channel: &str) {
        let now = self.clock.now();
        let deltas = match self.presence.channels.get_mut(channel) {
            Some(cp) => {
                cp.last_interval = now;
                std::mem::take(&mut cp.pending)
            }
            None => return,
        };
        let event = self.interval_event(channel, &deltas);
        self.publish_presence(channel, &event);
    }

    /// Reports a change of `uuid` on `channel` (membership already updated).
    fn report(&mut self, channel: &str, action: Action, uuid: &str) {
        let announce_max = self.config.announce_max;
        let occupancy = self.presence.occupancy(channel);
        let Some(cp) = self.presence.channels.get_mut(channel) else {
            return;
        };
        if cp.interval_mode || occupancy > announce_max {
            let switching = !cp.interval_mode;
            cp.interval_mode = true;
            match action {
                Action::Join => cp.pending.join.push(uuid.to_owned()),
                Action::Leave => cp.pending.leave.push(uuid.to_owned()),
                Action::Timeout => cp.pending.timeout.push(uuid.to_owned()),
                Action::StateChange => {}
            }
            if switching {
                self.flush_interval(channel);
            } else if occupancy <= announce_max {
                self.flush_interval(channel);
                if let Some(cp) = self.presence.channels.get_mut(channel) {
                    cp.interval_mode = false;
                }
            }
            return;
        }
        let mut event = Map::new();
        event.insert("action".into(), json!(action.name()));
        event.insert("uuid".into(), json!(uuid));
        event.insert("timestamp".into(), json!(self.now_secs()));
        event.insert("occupancy".into(), json!(occupancy));
        if action != Action::Leave && action != Action::Timeout {
            if let Some(state) = self.presence.state_of(uuid, channel) {
                event.insert("data".into(), state.clone());
            }
        }
        self.publish_presence(channel, &Value::Object(event));
    }

    /// Marks `uuid` present on `channels` for `timeout`, applying `states`
    /// (channel → state object; an empty object changes nothing). With
    /// `refresh_only` it only extends existing memberships (used when a
    /// long-poll ends, so that a `leave` sent meanwhile is not undone).
    pub(crate) fn presence_touch(
        &mut self,
        uuid: &str,
        channels: &[String],
        timeout: Duration,
        states: &Map<String, Value>,
        refresh_only: bool,
    ) {
        let expires_at = self.clock.now().saturating_add(duration_to_tt(timeout));
        for channel in channels {
            let new_state = states
                .get(channel)
                .filter(|s| s.as_object().is_some_and(|o| !o.is_empty()));
            let state_changed =
                new_state.is_some_and(|s| self.presence.state_of(uuid, channel) != Some(s));
            if let Some(state) = new_state.filter(|_| state_changed) {
                self.presence.set_state(uuid, channel, Some(state.clone()));
            }
            // One lookup: extend the membership if there is one.
            let present = match self
                .presence
                .channels
                .get_mut(channel)
                .and_then(|c| c.members.get_mut(uuid))
            {
                Some(member) => {
                    member.expires_at = member.expires_at.max(expires_at);
                    true
                }
                None => false,
            };
            if present {
                if state_changed {
                    self.report(channel, Action::StateChange, uuid);
                }
            } else if !refresh_only {
                self.presence.add_member(uuid, channel, expires_at);
                self.report(channel, Action::Join, uuid);
            }
        }
    }

    /// Removes `uuid` from `channels`, reporting `leave`.
    pub(crate) fn presence_leave(&mut self, uuid: &str, channels: &[String]) {
        for channel in channels {
            if self.presence.remove_member(uuid, channel) {
                self.report(channel, Action::Leave, uuid);
                self.presence.forget_if_idle(channel);
            }
        }
    }

    /// Times out expired members and sends due `interval` events.
    pub(crate) fn presence_sweep(&mut self) {
        let now = self.clock.now();
        let mut expired: Vec<(String, String)> = Vec::new();
        let mut due: Vec<String> = Vec::new();
        let interval = duration_to_tt(self.config.presence_interval).max(1);
        for (channel, cp) in &self.presence.channels {
            for (uuid, member) in &cp.members {
                if member.expires_at <= now {
                    expired.push((channel.clone(), uuid.clone()));
                }
            }
            if cp.interval_mode && now >= cp.last_interval.saturating_add(interval) {
                due.push(channel.clone());
            }
        }
        for (channel, uuid) in expired {
            if self.presence.remove_member(&uuid, &channel) {
                self.report(&channel, Action::Timeout, &uuid);
            }
        }
        for channel in due {
            let still_due = self.presence.channels.get(&channel).is_some_and(|cp| {
                cp.interval_mode && now >= cp.last_interval.saturating_add(interval)
            });
            if still_due {
                self.flush_interval(&channel);
            }
        }
        let idle: Vec<String> = self.presence.channels.keys().cloned().collect();
        for channel in idle {
            self.presence.forget_if_idle(&channel);
        }
    }

    /// Sets (or with an empty object clears) `uuid`'s state on `channels`,
    /// reporting `state-change` where the uuid is present.
    fn presence_set_state(&mut self, uuid: &str, channels: &[String], state: &Map<String, Value>) {
        for channel in channels {
            let new = (!state.is_empty()).then(|| Value::Object(state.clone()));
            if self.presence.state_of(uuid, channel) == new.as_ref() {
                continue;
            }
            self.presence.set_state(uuid, channel, new);
            let present = self
                .presence
                .channels
                .get(channel)
                .is_some_and(|c| c.members.contains_key(uuid));
            if present {
                self.report(channel, Action::StateChange, uuid);
            }
        }
    }
}

/// The `heartbeat` query parameter (seconds) or the configured default.
pub(crate) fn heartbeat_timeout(app: &App, ctx: &RequestCtx) -> Duration {
    ctx.query
        .get("heartbeat")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|secs| *secs > 0)
        .map_or(app.config.presence_timeout, Duration::from_secs)
}

/// Parses a `state` parameter keyed by channel (subscribe / heartbeat).
pub(crate) fn channel_states(
    ctx: &RequestCtx,
    svc: &'static str,
) -> Result<Map<String, Value>, ApiError> {
    match ctx.query.non_empty("state") {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::bad_request(
                svc,
                "`state` must be a JSON object keyed by channel name",
            )),
        },
    }
}

fn require_uuid(ctx: &RequestCtx) -> Result<&str, ApiError> {
    ctx.uuid().ok_or_else(|| {
        ApiError::bad_request(service::PRESENCE, "the `uuid` query parameter is required")
    })
}

fn path_channels(segment: &str) -> Vec<String> {
    split_list(segment)
}

fn ok_presence() -> Response<Body> {
    ok_json(r#"{"status":200,"message":"OK","service":"Presence"}"#)
}

/// `GET /v2/presence/sub-key/{sub}/channel/{chs}/heartbeat`.
pub(crate) fn heartbeat(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: &str,
) -> Result<Response<Body>, ApiError> {
    let channels = path_channels(channels_segment);
    let groups = ctx.query.list("channel-group");
    if channels.is_empty() && groups.is_empty() {
        return Err(ApiError::bad_request(
            service::PRESENCE,
            "name at least one channel or channel group",
        ));
    }
    let uuid = require_uuid(ctx)?;
    let states = channel_states(ctx, service::PRESENCE)?;
    app.authorize(
        keyset,
        ctx,
        Permission::Read,
        &Resources::channels(channels.iter().cloned()).with_groups(groups.iter().cloned()),
    )?;
    let timeout = heartbeat_timeout(app, ctx);
    let mut state = keyset.lock();
    let targets = presence_channels(&state, &channels, &groups);
    state.presence_touch(uuid, &targets, timeout, &states, false);
    Ok(ok_presence())
}

/// `GET /v2/presence/sub-key/{sub}/channel/{chs}/leave`.
pub(crate) fn leave(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: &str,
) -> Result<Response<Body>, ApiError> {
    let channels = path_channels(channels_segment);
    let groups = ctx.query.list("channel-group");
    if channels.is_empty() && groups.is_empty() {
        return Err(ApiError::bad_request(
            service::PRESENCE,
            "name at least one channel or channel group",
        ));
    }
    let uuid = require_uuid(ctx)?;
    // Unsubscribing needs no permission (PubNub's operations-to-permissions
    // page); a bad signature or an unusable token is still refused.
    app.authorize(keyset, ctx, Permission::Read, &Resources::default())?;
    let mut state = keyset.lock();
    let targets = presence_channels(&state, &channels, &groups);
    state.presence_leave(uuid, &targets);
    Ok(ok_json(
        r#"{"status":200,"message":"OK","action":"leave","service":"Presence"}"#,
    ))
}

struct HereNowOptions {
    uuids: bool,
    state: bool,
    limit: usize,
    offset: usize,
}

fn occupants(state: &KeysetState, channel: &str, opts: &HereNowOptions) -> Value {
    let members = state.presence.channels.get(channel);
    let occupancy = members.map_or(0, |c| c.members.len());
    let mut entry = Map::new();
    if opts.uuids && opts.limit > 0 {
        let list: Vec<Value> = members
            .into_iter()
            .flat_map(|c| c.members.keys())
            .skip(opts.offset)
            .take(opts.limit)
            .map(|uuid| {
                if opts.state {
                    let mut item = Map::new();
                    item.insert("uuid".into(), json!(uuid));
                    if let Some(s) = state.presence.state_of(uuid, channel) {
                        item.insert("state".into(), s.clone());
                    }
                    Value::Object(item)
                } else {
                    json!(uuid)
                }
            })
            .collect();
        entry.insert("uuids".into(), Value::Array(list));
    }
    entry.insert("occupancy".into(), json!(occupancy));
    Value::Object(entry)
}

/// `GET /v2/presence/sub-key/{sub}[/channel/{chs}]` (here_now). `None` is
/// the global form.
pub(crate) fn here_now(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let channels = channels_segment.map(path_channels).unwrap_or_default();
    let groups = ctx.query.list("channel-group");
    let opts = HereNowOptions {
        uuids: !ctx.query.flag("disable_uuids", false),
        state: ctx.query.flag("state", false),
        limit: ctx
            .query
            .get("limit")
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(HERE_NOW_MAX_LIMIT, |l| l.min(HERE_NOW_MAX_LIMIT)),
        offset: ctx
            .query
            .get("offset")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0),
    };
    let resources = if channels.is_empty() && groups.is_empty() {
        // Global here_now: every channel of the keyset.
        Resources::keyset()
    } else {
        Resources::channels(channels.iter().cloned()).with_groups(groups.iter().cloned())
    };
    app.authorize(keyset, ctx, Permission::Read, &resources)?;
    let state = keyset.lock();
    // Single-channel shape exactly when the path names one channel and no
    // group is given (PROTOCOL.md §5.3; JS crashes on the wrong shape).
    if channels_segment.is_some() && channels.len() == 1 && groups.is_empty() {
        let channel = channels.first().map(String::as_str).unwrap_or_default();
        let mut body = Map::new();
        body.insert("status".into(), json!(200));
        body.insert("message".into(), json!("OK"));
        body.insert("service".into(), json!("Presence"));
        if let Value::Object(entry) = occupants(&state, channel, &opts) {
            body.extend(entry);
        }
        return Ok(ok_json(Value::Object(body).to_string()));
    }
    // Global here_now lists the occupied channels; a channel or group list
    // lists every channel asked for, empty ones included (as the MIT
    // clients' fake server answered; the real service is unrecorded).
    let listed: Vec<String> = if channels_segment.is_none() && groups.is_empty() {
        let mut occupied: Vec<String> = state
            .presence
            .channels
            .iter()
            .filter(|(_, c)| !c.members.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        occupied.sort();
        occupied
    } else {
        let mut names = channels.clone();
        for group in &groups {
            for channel in state.groups.channels_of(group) {
                if !names.contains(channel) {
                    names.push(channel.clone());
                }
            }
        }
        names
    };
    let mut by_channel = Map::new();
    let mut total = 0;
    for channel in &listed {
        total += state.presence.occupancy(channel);
        by_channel.insert(channel.clone(), occupants(&state, channel, &opts));
    }
    Ok(ok_json(
        json!({
            "status": 200,
            "message": "OK",
            "payload": {
                "channels": by_channel,
                "total_channels": listed.len(),
                "total_occupancy": total
            },
            "service": "Presence"
        })
        .to_string(),
    ))
}

/// `GET /v2/presence/sub-key/{sub}/uuid/{uuid}` (where_now).
pub(crate) fn where_now(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    uuid: &str,
) -> Result<Response<Body>, ApiError> {
    // Where Now needs no permission (PubNub's operations-to-permissions
    // page); a bad signature or an unusable token is still refused, and a
    // token bound to a uuid asks about that uuid only.
    let subject = Resources::default().with_subject(uuid);
    app.authorize(keyset, ctx, Permission::Read, &subject)?;
    let channels: Vec<String> = keyset
        .lock()
        .presence
        .by_uuid
        .get(uuid)
        .map(|set| set.iter().cloned().collect())
        .unwrap_or_default();
    Ok(ok_json(
        json!({
            "status": 200,
            "message": "OK",
            "payload": {"channels": channels},
            "service": "Presence"
        })
        .to_string(),
    ))
}

/// `GET /v2/presence/sub-key/{sub}/channel/{chs}/uuid/{uuid}/data?state=…`.
pub(crate) fn set_state(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: &str,
    uuid: &str,
) -> Result<Response<Body>, ApiError> {
    let channels = path_channels(channels_segment);
    let groups = ctx.query.list("channel-group");
    if channels.is_empty() && groups.is_empty() {
        return Err(ApiError::bad_request(
            service::PRESENCE,
            "name at least one channel or channel group",
        ));
    }
    let new_state = match ctx.query.get("state").map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => map,
        _ => {
            return Err(ApiError::bad_request(
                service::PRESENCE,
                "`state` must be a JSON object",
            ))
        }
    };
    // Set State needs read on the channels, not write: PubNub's
    // "Operations to permissions mapping" lists Set State under `read`
    // (https://www.pubnub.com/docs/security/access-control/operations-permissions-mapping).
    app.authorize(
        keyset,
        ctx,
        Permission::Read,
        &Resources::channels(channels.iter().cloned())
            .with_groups(groups.iter().cloned())
            .with_subject(uuid),
    )?;
    let mut state = keyset.lock();
    let targets = presence_channels(&state, &channels, &groups);
    state.presence_set_state(uuid, &targets, &new_state);
    Ok(ok_json(
        json!({
            "status": 200,
            "message": "OK",
            "payload": Value::Object(new_state),
            "service": "Presence"
        })
        .to_string(),
    ))
}

/// `GET /v2/presence/sub-key/{sub}/channel/{chs}/uuid/{uuid}` (get state).
pub(crate) fn get_state(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: &str,
    uuid: &str,
) -> Result<Response<Body>, ApiError> {
    let channels = path_channels(channels_segment);
    let groups = ctx.query.list("channel-group");
    if channels.is_empty() && groups.is_empty() {
        return Err(ApiError::bad_request(
            service::PRESENCE,
            "name at least one channel or channel group",
        ));
    }
    app.authorize(
        keyset,
        ctx,
        Permission::Read,
        &Resources::channels(channels.iter().cloned())
            .with_groups(groups.iter().cloned())
            .with_subject(uuid),
    )?;
    let state = keyset.lock();
    let state_of = |channel: &str| {
        state
            .presence
            .state_of(uuid, channel)
            .cloned()
            .unwrap_or_else(|| json!({}))
    };
    if channels.len() == 1 && groups.is_empty() {
        let channel = channels.first().map(String::as_str).unwrap_or_default();
        return Ok(ok_json(
            json!({
                "status": 200,
                "message": "OK",
                "service": "Presence",
                "uuid": uuid,
                "channel": channel,
                "payload": state_of(channel)
            })
            .to_string(),
        ));
    }
    let targets = presence_channels(&state, &channels, &groups);
    let by_channel: Map<String, Value> = targets
        .iter()
        .map(|channel| (channel.clone(), state_of(channel)))
        .collect();
    Ok(ok_json(
        json!({
            "status": 200,
            "message": "OK",
            "payload": {"channels": by_channel},
            "service": "Presence",
            "uuid": uuid
        })
        .to_string(),
    ))
}
