//! Presence: here now, where now, presence state, and manual heartbeat and
//! leave (PROTOCOL.md §5).
//!
//! The subscribe engine announces the user with its long-polls and
//! heartbeats and sends a leave on unsubscribe; the manual [`PubNub::heartbeat`]
//! and [`PubNub::leave`] build the same requests. Subscribe and heartbeat
//! requests carry the state recorded by [`PubNub::set_state`] for the
//! user's own id.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::to_value;
use crate::api::util::{
    channel_groups_setter, channels_setters, parse_reply, setters, str_field, string_list,
    uuid_or_own, validate_names,
};
use crate::client::Request;
use crate::subscribe::heartbeat::{heartbeat_request, leave_request};
use crate::transport::encoding::{encode, encode_list};
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// Most occupants one here-now answer lists per channel.
pub const MAX_HERE_NOW_LIMIT: u32 = 1000;

/// Someone present on a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct HereNowOccupant {
    /// Their user id.
    pub uuid: String,
    /// Their presence state on that channel, when asked for with
    /// [`HereNowBuilder::include_state`] and they have one.
    pub state: Option<Value>,
}

/// Occupancy of one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct HereNowChannel {
    /// The channel.
    pub name: String,
    /// How many users are present (never capped by `limit`).
    pub occupancy: u64,
    /// Who is present (empty when user ids were not asked for).
    pub occupants: Vec<HereNowOccupant>,
}

/// The answer to [`PubNub::here_now`], whichever of PubNub's three formats
/// (one channel, several channels or groups, global) the server used.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HereNowResult {
    /// Number of channels listed.
    pub total_channels: u64,
    /// Users present, summed over the listed channels.
    pub total_occupancy: u64,
    /// The channels, sorted by name. PubNub lists only occupied channels in
    /// multi-channel and global answers.
    pub channels: Vec<HereNowChannel>,
}

impl HereNowResult {
    /// The entry of one channel, if listed.
    pub fn channel(&self, name: &str) -> Option<&HereNowChannel> {
        self.channels.iter().find(|c| c.name == name)
    }
}

/// Builder of a here-now query; await it. Created by [`PubNub::here_now`].
///
/// With no channel and no group it asks about the whole keyset (global here now).
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let here = client.here_now().channels(["lobby", "game"]).include_state(true).await?;
/// for channel in &here.channels {
///     println!("{}: {} present", channel.name, channel.occupancy);
///     for who in &channel.occupants {
///         println!("  {} {:?}", who.uuid, who.state);
///     }
/// }
/// # Ok(()) }
/// ```
#[must_use = "a here-now query does nothing until it is awaited"]
#[derive(Debug)]
pub struct HereNowBuilder {
    client: PubNub,
    targets: Targets,
    include_state: bool,
    include_uuids: bool,
    limit: Option<u32>,
    offset: Option<u32>,
}

impl HereNowBuilder {
    channels_setters!(
        /// The channels to ask about (replaces any given before).
        targets.channels
    );
    channel_groups_setter!(
        /// The channel groups to ask about (their channels are listed).
        targets.groups
    );

    setters! {
        /// List each occupant's presence state too (`state=1`). Default `false`.
        include_state(include: bool);
        /// List who is present (default `true`); `false` asks for counts only
        /// (`disable_uuids=1`).
        include_uuids(include: bool);
        /// At most this many occupants listed per channel (0 ..= 1000; 0 = counts only).
        limit(limit: Option<u32>);
        /// Skip this many occupants of each channel's list (paging with `limit`).
        offset(offset: Option<u32>);
    }
}

impl Endpoint for HereNowBuilder {
    type Output = HereNowResult;
    /// The channel, when the request names exactly one and no group.
    type Context = Option<String>;

    fn build(self) -> Result<Call<Option<String>>, Error> {
        self.targets.validate_names()?;
        if let Some(limit) = self.limit {
            if limit > MAX_HERE_NOW_LIMIT {
                return Err(Error::invalid_argument(
                    "limit",
                    format!("{limit} is over PubNub's maximum of {MAX_HERE_NOW_LIMIT}; page with `offset`"),
                ));
            }
        }
        let sub = encode(&self.client.inner.config.subscribe_key).into_owned();
        let path = if self.targets.is_empty() {
            format!("/v2/presence/sub-key/{sub}")
        } else {
            format!(
                "/v2/presence/sub-key/{sub}/channel/{}",
                encode_list(&self.targets.channels)
            )
        };
        let request = self.client.request(HttpMethod::Get, path);
        let mut request = self.targets.group_param(request);
        if self.include_state {
            request = request.param("state", "1");
        }
        if !self.include_uuids {
            request = request.param("disable_uuids", "1");
        }
        request = request
            .param_opt("limit", self.limit.map(|l| l.to_string()))
            .param_opt("offset", self.offset.map(|o| o.to_string()));
        let context = self.targets.single();
        Ok(Call {
            client: self.client,
            request,
            context,
        })
    }

    fn parse(answer: Answer<Option<String>>) -> Result<HereNowResult, Error> {
        parse_here_now(answer.body(), answer.context.as_deref())
    }
}

/// A here-now whose channel and group lists are longer than one request
/// carries (`max_subscribe_list_bytes`, as the long-polls split) is asked
/// in parts, and the answers are merged: totals summed, channels sorted,
/// unoccupied channels left out as PubNub's multi-channel answer does.
impl std::future::IntoFuture for HereNowBuilder {
    type Output = Result<HereNowResult, Error>;
    type IntoFuture = crate::api::endpoint::Boxed<HereNowResult>;

    fn into_future(self) -> Self::IntoFuture {
        let budget = self.client.inner.config.max_subscribe_list_bytes;
        let parts =
            crate::subscribe::shards::chunks(&self.targets.channels, &self.targets.groups, budget);
        if parts.len() <= 1 {
            return crate::api::endpoint::send(self);
        }
        Box::pin(async move {
            let mut merged = HereNowResult::default();
            for (channels, groups) in parts {
                let part = HereNowBuilder {
                    client: self.client.clone(),
                    targets: Targets { channels, groups },
                    include_state: self.include_state,
                    include_uuids: self.include_uuids,
                    limit: self.limit,
                    offset: self.offset,
                };
                let answer = crate::api::endpoint::send(part).await?;
                merged.total_occupancy += answer.total_occupancy;
                merged
                    .channels
                    .extend(answer.channels.into_iter().filter(|c| c.occupancy > 0));
            }
            merged.channels.sort_by(|a, b| a.name.cmp(&b.name));
            merged.total_channels = merged.channels.len() as u64;
            Ok(merged)
        })
    }
}

/// Reads any of the three here-now formats. `single` is the channel name
/// when the request named exactly one channel and no group.
pub(crate) fn parse_here_now(body: &[u8], single: Option<&str>) -> Result<HereNowResult, Error> {
    const WHAT: &str = "the here-now response";
    let value = parse_reply(WHAT, body)?;
    // Multi-channel, group and global answers wrap the channels in
    // `payload`; Python's SDK decides the same way.
    if let Some(payload) = value.get("payload").filter(|p| p.is_object()) {
        let channels: Vec<HereNowChannel> = match payload.get("channels") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(name, entry)| HereNowChannel {
                    name: name.clone(),
                    occupancy: entry.get("occupancy").and_then(Value::as_u64).unwrap_or(0),
                    occupants: parse_occupants(entry.get("uuids")),
                })
                .collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                return Err(Error::deserialization(
                    WHAT,
                    "`payload.channels` is not an object",
                    body,
                ))
            }
        };
        let total_occupancy = payload
            .get("total_occupancy")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| channels.iter().map(|c| c.occupancy).sum());
        let total_channels = payload
            .get("total_channels")
            .and_then(Value::as_u64)
            .unwrap_or(channels.len() as u64);
        return Ok(HereNowResult {
            total_channels,
            total_occupancy,
            channels,
        });
    }
    let occupancy = value
        .get("occupancy")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            Error::deserialization(WHAT, "expected `occupancy` or a `payload` object", body)
        })?;
    let name = single.unwrap_or_default().to_owned();
    Ok(HereNowResult {
        total_channels: 1,
        total_occupancy: occupancy,
        channels: vec![HereNowChannel {
            name,
            occupancy,
            occupants: parse_occupants(value.get("uuids")),
        }],
    })
}

/// `["u1", …]` or, with `state=1`, `[{"uuid": "u1", "state": {…}}, …]`.
fn parse_occupants(list: Option<&Value>) -> Vec<HereNowOccupant> {
    let Some(Value::Array(items)) = list else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(uuid) => Some(HereNowOccupant {
                uuid: uuid.clone(),
                state: None,
            }),
            Value::Object(map) => Some(HereNowOccupant {
                uuid: map.get("uuid")?.as_str()?.to_owned(),
                state: map.get("state").filter(|s| !s.is_null()).cloned(),
            }),
            _ => None,
        })
        .collect()
}

/// The answer to [`PubNub::where_now`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WhereNowResult {
    /// The channels the user is present on.
    pub channels: Vec<String>,
}

/// Builder of a where-now query; await it. Created by [`PubNub::where_now`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let mine = client.where_now().await?; // this client's user id
/// let bobs = client.where_now().uuid("bob").await?;
/// println!("I am on {:?}, bob on {:?}", mine.channels, bobs.channels);
/// # Ok(()) }
/// ```
#[must_use = "a where-now query does nothing until it is awaited"]
#[derive(Debug)]
pub struct WhereNowBuilder {
    client: PubNub,
    uuid: Option<String>,
}

impl WhereNowBuilder {
    setters! {
        /// Whose channels to list (default: this client's user id).
        uuid(uuid: Option<String>);
    }
}

impl Endpoint for WhereNowBuilder {
    type Output = WhereNowResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let uuid = uuid_or_own(&self.client, self.uuid)?;
        let path = format!(
            "/v2/presence/sub-key/{}/uuid/{}",
            encode(&self.client.inner.config.subscribe_key),
            encode(&uuid)
        );
        let request = self.client.request(HttpMethod::Get, path);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<WhereNowResult, Error> {
        parse_where_now(answer.body())
    }
}

awaitable!(WhereNowBuilder => WhereNowResult);

pub(crate) fn parse_where_now(body: &[u8]) -> Result<WhereNowResult, Error> {
    const WHAT: &str = "the where-now response";
    let value = parse_reply(WHAT, body)?;
    let channels = value
        .pointer("/payload/channels")
        .and_then(string_list)
        .ok_or_else(|| Error::deserialization(WHAT, "expected `payload.channels`", body))?;
    Ok(WhereNowResult { channels })
}

/// The answer to [`PubNub::set_state`].
#[derive(Debug, Clone, PartialEq)]
pub struct SetStateResult {
    /// The state the server stored, as it echoed it.
    pub state: Value,
}

/// Builder of a set-state call; await it. Created by [`PubNub::set_state`].
///
/// The state is one JSON object applied to every channel and group named.
/// When it is set for this client's own user id it is also remembered, so
/// the subscribe loop and heartbeats keep announcing it while subscribed.
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// client
///     .set_state()
///     .channels(["lobby"])
///     .state(&serde_json::json!({"mood": "happy", "level": 3}))
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a set-state call does nothing until it is awaited"]
#[derive(Debug)]
pub struct SetStateBuilder {
    client: PubNub,
    targets: Targets,
    uuid: Option<String>,
    state: Option<Result<Value, Error>>,
}

impl SetStateBuilder {
    channels_setters!(
        /// The channels to set the state on (replaces any given before).
        targets.channels
    );
    channel_groups_setter!(
        /// Channel groups to set the state on.
        targets.groups
    );

    setters! {
        /// Whose state (default: this client's user id).
        uuid(uuid: Option<String>);
    }

    /// The state: anything that serializes to a JSON object (required).
    pub fn state<T: Serialize + ?Sized>(mut self, state: &T) -> Self {
        self.state = Some(to_value("state", state));
        self
    }
}

/// What a set-state answer needs: the state to remember when it is the
/// client's own, and the channels and groups it applies to.
pub(crate) struct SetStateContext {
    own: bool,
    targets: Vec<String>,
    state: Value,
}

impl Endpoint for SetStateBuilder {
    type Output = SetStateResult;
    type Context = SetStateContext;

    fn build(self) -> Result<Call<SetStateContext>, Error> {
        self.targets.validate()?;
        let uuid = uuid_or_own(&self.client, self.uuid)?;
        let state = self.state.ok_or_else(|| {
            Error::invalid_argument("state", "is missing: call `.state(&value)`")
        })??;
        if !state.is_object() {
            return Err(Error::invalid_argument(
                "state",
                "must be a JSON object (its fields are the user's state)",
            ));
        }
        let config = &self.client.inner.config;
        let path = format!(
            "/v2/presence/sub-key/{}/channel/{}/uuid/{}/data",
            encode(&config.subscribe_key),
            encode_list(&self.targets.channels),
            encode(&uuid)
        );
        let request = self
            .client
            .request(HttpMethod::Get, path)
            .param("state", state.to_string());
        let request = self.targets.group_param(request);
        let own = uuid == config.user_id;
        let Targets { channels, groups } = self.targets;
        Ok(Call {
            client: self.client,
            request,
            context: SetStateContext {
                own,
                targets: channels.into_iter().chain(groups).collect(),
                state,
            },
        })
    }

    fn parse(answer: Answer<SetStateContext>) -> Result<SetStateResult, Error> {
        let value = parse_reply("the set-state response", answer.body())?;
        let Answer {
            client, context, ..
        } = answer;
        if context.own {
            remember_state(&client, &context.targets, &context.state);
        }
        let state = value.get("payload").cloned().unwrap_or(context.state);
        Ok(SetStateResult { state })
    }
}

awaitable!(SetStateBuilder => SetStateResult);

/// Records the user's own state per channel/group for subscribe and
/// heartbeat requests; an empty object clears it.
fn remember_state(client: &PubNub, targets: &[String], state: &Value) {
    let clear = state.as_object().is_some_and(|o| o.is_empty());
    let mut slot = client
        .inner
        .presence_state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for target in targets {
        if clear {
            slot.remove(target);
        } else {
            slot.insert(target.clone(), state.clone());
        }
    }
}

/// The answer to [`PubNub::get_state`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GetStateResult {
    /// Whose state it is.
    pub uuid: String,
    /// The state per channel (channels without state may be absent).
    pub channels: BTreeMap<String, Value>,
}

/// Builder of a get-state query; await it. Created by [`PubNub::get_state`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let got = client.get_state().channels(["lobby"]).uuid("bob").await?;
/// println!("bob's state in the lobby: {:?}", got.channels.get("lobby"));
/// # Ok(()) }
/// ```
#[must_use = "a get-state query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetStateBuilder {
    client: PubNub,
    targets: Targets,
    uuid: Option<String>,
}

impl GetStateBuilder {
    channels_setters!(
        /// The channels to read the state on (replaces any given before).
        targets.channels
    );
    channel_groups_setter!(
        /// Channel groups to read the state on.
        targets.groups
    );

    setters! {
        /// Whose state (default: this client's user id).
        uuid(uuid: Option<String>);
    }
}

/// What a get-state answer needs: whose state was asked for, and the
/// channel when the request named exactly one and no group.
pub(crate) struct GetStateContext {
    uuid: String,
    single: Option<String>,
}

impl Endpoint for GetStateBuilder {
    type Output = GetStateResult;
    type Context = GetStateContext;

    fn build(self) -> Result<Call<GetStateContext>, Error> {
        self.targets.validate()?;
        let uuid = uuid_or_own(&self.client, self.uuid)?;
        let path = format!(
            "/v2/presence/sub-key/{}/channel/{}/uuid/{}",
            encode(&self.client.inner.config.subscribe_key),
            encode_list(&self.targets.channels),
            encode(&uuid)
        );
        let request = self.client.request(HttpMethod::Get, path);
        let request = self.targets.group_param(request);
        let single = self.targets.single();
        Ok(Call {
            client: self.client,
            request,
            context: GetStateContext { uuid, single },
        })
    }

    fn parse(answer: Answer<GetStateContext>) -> Result<GetStateResult, Error> {
        let GetStateContext { uuid, single } = &answer.context;
        parse_get_state(answer.body(), uuid, single.as_deref())
    }
}

awaitable!(GetStateBuilder => GetStateResult);

/// Reads both get-state formats: one channel (`payload` is the state) or
/// several (`payload.channels` maps channel → state). Which one is decided
/// by the request, as Python's SDK does, since a state may itself have a
/// `channels` field.
pub(crate) fn parse_get_state(
    body: &[u8],
    uuid: &str,
    single: Option<&str>,
) -> Result<GetStateResult, Error> {
    const WHAT: &str = "the get-state response";
    let value = parse_reply(WHAT, body)?;
    let payload = value
        .get("payload")
        .ok_or_else(|| Error::deserialization(WHAT, "expected `payload`", body))?;
    let uuid = str_field(&value, "uuid").unwrap_or_else(|| uuid.to_owned());
    let mut channels = BTreeMap::new();
    match single {
        Some(requested) => {
            let name = str_field(&value, "channel").unwrap_or_else(|| requested.to_owned());
            channels.insert(name, payload.clone());
        }
        None => {
            if let Some(map) = payload.get("channels").and_then(Value::as_object) {
                channels.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
    Ok(GetStateResult { uuid, channels })
}

/// Builder of a manual heartbeat; await it. Created by [`PubNub::heartbeat`].
///
/// Subscriptions send heartbeats themselves; this is for keeping a user
/// present without subscribing.
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// client.heartbeat().channels(["lobby"]).heartbeat(60).await?;
/// # Ok(()) }
/// ```
#[must_use = "a heartbeat does nothing until it is awaited"]
#[derive(Debug)]
pub struct HeartbeatBuilder {
    client: PubNub,
    targets: Targets,
    heartbeat: Option<u32>,
    state: Option<Result<Value, Error>>,
}

impl HeartbeatBuilder {
    channels_setters!(
        /// The channels to be present on (replaces any given before).
        targets.channels
    );
    channel_groups_setter!(
        /// Channel groups to be present on.
        targets.groups
    );

    setters! {
        /// Seconds without a heartbeat after which PubNub times the user out
        /// (default: the configured presence timeout).
        heartbeat(seconds: Option<u32>);
    }

    /// The state to announce: a JSON object keyed by channel/group name.
    /// Default: the state recorded by [`PubNub::set_state`] for these
    /// channels and groups, if any.
    pub fn state<T: Serialize + ?Sized>(mut self, state: &T) -> Self {
        self.state = Some(to_value("state", state));
        self
    }
}

impl Endpoint for HeartbeatBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        self.targets.validate()?;
        let heartbeat = self
            .heartbeat
            .unwrap_or(self.client.inner.config.presence_timeout);
        if heartbeat == 0 {
            return Err(Error::invalid_argument(
                "heartbeat",
                "must be at least 1 second",
            ));
        }
        let state = match self.state {
            Some(state) => {
                let state = state?;
                if !state.is_object() {
                    return Err(Error::invalid_argument(
                        "state",
                        "must be a JSON object keyed by channel or group name",
                    ));
                }
                Some(state.to_string())
            }
            None => None,
        };
        // The subscribe engine's heartbeat request (with the state recorded
        // by `set_state`), with this call's own timeout and state if given.
        let Targets { channels, groups } = &self.targets;
        let mut request = heartbeat_request(&self.client.inner, channels, groups);
        replace_param(&mut request, "heartbeat", heartbeat.to_string());
        if let Some(state) = state {
            replace_param(&mut request, "state", state);
        }
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_presence_ok("the heartbeat response", answer.body())
    }
}

/// Builder of a manual leave; await it. Created by [`PubNub::leave`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// client.leave().channels(["lobby"]).await?;
/// # Ok(()) }
/// ```
#[must_use = "a leave does nothing until it is awaited"]
#[derive(Debug)]
pub struct LeaveBuilder {
    client: PubNub,
    targets: Targets,
}

impl LeaveBuilder {
    channels_setters!(
        /// The channels to leave (replaces any given before).
        targets.channels
    );
    channel_groups_setter!(
        /// Channel groups to leave.
        targets.groups
    );
}

impl Endpoint for LeaveBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        self.targets.validate()?;
        let Targets { channels, groups } = &self.targets;
        let request = leave_request(&self.client.inner, channels, groups);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_presence_ok("the leave response", answer.body())
    }
}

awaitable!(HeartbeatBuilder => (), LeaveBuilder => ());

/// The channels and channel groups a presence call names.
#[derive(Debug, Default)]
struct Targets {
    channels: Vec<String>,
    groups: Vec<String>,
}

impl Targets {
    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty()
    }

    /// Every name valid (none at all is fine).
    fn validate_names(&self) -> Result<(), Error> {
        validate_names("channels", "channel", &self.channels)?;
        validate_names("channel_groups", "channel group", &self.groups)
    }

    /// At least one name, all valid.
    fn validate(&self) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::invalid_argument(
                "channels",
                "name at least one channel or channel group",
            ));
        }
        self.validate_names()
    }

    /// The channel, when exactly one and no group is named: PubNub then
    /// answers in its one-channel format.
    fn single(&self) -> Option<String> {
        match (self.channels.as_slice(), self.groups.is_empty()) {
            ([only], true) => Some(only.clone()),
            _ => None,
        }
    }

    /// Adds the `channel-group` list when groups are named.
    fn group_param(&self, request: Request) -> Request {
        if self.groups.is_empty() {
            request
        } else {
            request.param("channel-group", self.groups.join(","))
        }
    }
}

fn replace_param(request: &mut Request, key: &'static str, value: String) {
    request.query.retain(|(k, _)| *k != key);
    request.query.push((key, value));
}

/// Heartbeat and leave answer `{"status": 200, "message": "OK", …}`.
pub(crate) fn check_presence_ok(what: &'static str, body: &[u8]) -> Result<(), Error> {
    let value = parse_reply(what, body)?;
    match value.get("status").and_then(Value::as_u64) {
        Some(200) | None => Ok(()),
        Some(status) => Err(Error::from_response(
            u16::try_from(status).unwrap_or(400),
            body,
        )),
    }
}

impl PubNub {
    /// Who is present on channels or channel groups — or, with neither, on
    /// the whole keyset. See [`HereNowBuilder`].
    pub fn here_now(&self) -> HereNowBuilder {
        HereNowBuilder {
            client: self.clone(),
            targets: Targets::default(),
            include_state: false,
            include_uuids: true,
            limit: None,
            offset: None,
        }
    }

    /// The channels a user is present on. See [`WhereNowBuilder`].
    pub fn where_now(&self) -> WhereNowBuilder {
        WhereNowBuilder {
            client: self.clone(),
            uuid: None,
        }
    }

    /// Sets a user's presence state on channels and groups. See [`SetStateBuilder`].
    pub fn set_state(&self) -> SetStateBuilder {
        SetStateBuilder {
            client: self.clone(),
            targets: Targets::default(),
            uuid: None,
            state: None,
        }
    }

    /// Reads a user's presence state. See [`GetStateBuilder`].
    pub fn get_state(&self) -> GetStateBuilder {
        GetStateBuilder {
            client: self.clone(),
            targets: Targets::default(),
            uuid: None,
        }
    }

    /// Announces this user on channels without subscribing. See [`HeartbeatBuilder`].
    pub fn heartbeat(&self) -> HeartbeatBuilder {
        HeartbeatBuilder {
            client: self.clone(),
            targets: Targets::default(),
            heartbeat: None,
            state: None,
        }
    }

    /// Tells PubNub this user left channels (a `leave` presence event). See [`LeaveBuilder`].
    pub fn leave(&self) -> LeaveBuilder {
        LeaveBuilder {
            client: self.clone(),
            targets: Targets::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn here_now_single_with_state() {
        let body = br#"{"status": 200, "message": "OK", "service": "Presence", "uuids": [{"state": {"count": 5}, "uuid": "u1"}, "u2"], "occupancy": 2}"#;
        let r = parse_here_now(body, Some("ch")).unwrap();
        assert_eq!((r.total_channels, r.total_occupancy), (1, 2));
        let ch = r.channel("ch").unwrap();
        assert_eq!(ch.occupants[0].uuid, "u1");
        assert_eq!(ch.occupants[0].state, Some(serde_json::json!({"count": 5})));
        assert_eq!(ch.occupants[1].state, None);
    }

    #[test]
    fn here_now_multi_and_empty() {
        let body = br#"{"status":200,"payload":{"channels":{"b":{"occupancy":1},"a":{"uuids":["x"],"occupancy":1}},"total_channels":2,"total_occupancy":2}}"#;
        let r = parse_here_now(body, None).unwrap();
        assert_eq!(r.channels.len(), 2);
        assert_eq!(r.channels[0].name, "a");
        assert!(r.channels[1].occupants.is_empty());
        let empty = parse_here_now(
            br#"{"payload":{"total_channels": 0, "total_occupancy": 0, "channels": {}}}"#,
            None,
        )
        .unwrap();
        assert_eq!(empty, HereNowResult::default());
        assert!(matches!(
            parse_here_now(br#"{"status":200}"#, None),
            Err(Error::Deserialization { .. })
        ));
    }

    #[test]
    fn get_state_request_decides_the_format() {
        // A one-channel state that happens to have a `channels` field.
        let body = br#"{"status":200,"uuid":"u","payload":{"channels":{"x":1}},"channel":"c"}"#;
        let r = parse_get_state(body, "u", Some("c")).unwrap();
        assert_eq!(r.channels["c"], serde_json::json!({"channels": {"x": 1}}));
        let r = parse_get_state(body, "u", None).unwrap();
        assert_eq!(r.channels["x"], serde_json::json!(1));
    }

    #[test]
    fn error_flag_and_status() {
        assert!(check_presence_ok("x", br#"{"status": 200, "message": "OK"}"#).is_ok());
        let e = check_presence_ok(
            "x",
            br#"{"status": 400, "error": true, "message": "Invalid"}"#,
        )
        .unwrap_err();
        assert_eq!(e.status(), Some(400));
    }
}
