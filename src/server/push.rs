//! Mobile Push (PROTOCOL.md §12; the `native_sync/*push*` cassettes are the
//! specification): which channels a device token receives push
//! notifications for, and — since nothing leaves this machine — a record of
//! the notifications a publish would have sent.
//!
//! # Routes
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/push/sub-key/{sub}/devices/{token}?type=fcm\|gcm\|apns\|mpns` | `add=a,b` and / or `remove=a,b` change the device's channels → `[1, "Modified Channels"]`; neither → the channels, a JSON array |
//! | `GET /v1/push/sub-key/{sub}/devices/{token}/remove?type=…` | removes the device → `[1, "Removed Device"]` |
//! | `GET /v2/push/sub-key/{sub}/devices-apns2/{token}?topic=…&environment=development\|production` | the same for APNs over HTTP/2 (`environment` defaults to development) |
//! | `GET /v2/push/sub-key/{sub}/devices-apns2/{token}/remove?topic=…&environment=…` | removes the device for that topic and environment only |
//! | `GET /dev/push/{sub}/notifications` | dev server only: the recorded notifications, oldest first |
//!
//! Answers are byte for byte the recorded ones (`[1, "Modified Channels"]`
//! with its space, lists as `["a", "b"]`, `Content-Type:
//! text/javascript; charset="UTF-8"`). Errors are 400 with the recorded
//! `{"error": "…"}` body: `Invalid type argument` (no or unknown `type` on
//! the v1 path — also what PubNub answers for a *missing* type) and
//! `Invalid device token` (adding an APNs or APNs2 token that is not hex, as
//! recorded; removing and listing accept any token, as recorded). Not
//! recorded, worded in the same style: `Invalid topic argument` (APNs2
//! without a `topic`), `Invalid environment argument` and the bounds below.
//!
//! A registration is keyed by push type and device token, and for APNs2 by
//! topic and environment too: the same token registered for `fcm` and
//! `gcm`, or for two topics, is two devices. Tokens are compared exactly
//! (case-sensitive).
//!
//! # Bounds
//!
//! Per keyset at most [`MAX_DEVICES`] devices, [`MAX_CHANNELS_PER_DEVICE`]
//! channels per device and [`MAX_REGISTRATIONS`] (device, channel) pairs;
//! an `add` past one of them changes nothing and is answered 400
//! `{"error": "…"}` naming the bound. PubNub documents no such numbers for
//! registrations (only the 1,000-channel cap of its list paging); these keep
//! one local process from growing without end. A device whose last channel
//! is removed is forgotten.
//!
//! # Access Manager
//!
//! The REST reference of these endpoints says only that, with Access
//! Manager on, a request needs a valid token or a signature, and the
//! "Operations to permissions mapping" page found in the docs has no row for
//! them. What this server chose: **read** on the channels the call touches —
//! the channels of `add` / `remove`, and for listing and removing a device
//! the channels it is registered on. Registering a device on a channel makes
//! it receive what is published there, which is what read grants for
//! subscribe; a client may list or drop only registrations it could have
//! made. A device with no channels needs no grant, but a bad signature or an
//! unusable token is still refused, as everywhere.
//!
//! # Notifications
//!
//! A publish (not a signal or fire) on a channel with registered devices
//! whose JSON message is an object carrying `pn_apns`, `pn_fcm` / `pn_gcm`
//! or `pn_mpns` records one [`PushNotification`] per device that would get
//! one: `pn_apns` goes to `apns` devices, and to `apns2` devices only when
//! one of its `pn_push` entries (`"version": "v2"`) names a target with the
//! device's topic and environment (default development) and does not list
//! the token in `excluded_devices`; `pn_fcm` (else `pn_gcm`) goes to `fcm`
//! and `gcm` devices alike (both are Firebase); `pn_mpns` to `mpns` devices.
//! `pn_debug: true` is kept as the record's `debug` flag. Each is logged at
//! INFO and kept in a ring of the last [`MAX_NOTIFICATIONS`] per keyset,
//! read at `GET /dev/push/{sub}/notifications` (no Access Manager: a
//! dev-server route, like `/metrics`) or with
//! [`DevServerHandle::push_notifications`](super::DevServerHandle::push_notifications).
//! The message itself is looked at only when its channel has registrations,
//! so publishing elsewhere costs one hash lookup.
//!
//! Differences from PubNub, and why: nothing is sent to APNs or FCM (no
//! network, no credentials); `pn_debug` does not publish delivery reports on
//! `{channel}-pndebug` (their wording is not recorded); lists are sorted by
//! name for every push type (PubNub's v1 lists are sorted, its APNs2 lists
//! came back in no recorded order).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::access::{Permission, Resources};
use super::app::App;
use super::errors::{json_string, ok_json, pn_response, ApiError, PN_CONTENT_TYPE};
use super::keyset::KeysetHandle;
use super::message::StoredMessage;
use super::storage::{Persist, Table};
use super::wire::{decode_path, RequestCtx};
use crate::api::push::ApnsEnvironment;

/// Most devices one keyset holds.
pub const MAX_DEVICES: usize = 10_000;
/// Most channels one device is registered on.
pub const MAX_CHANNELS_PER_DEVICE: usize = 1_000;
/// Most (device, channel) registrations one keyset holds.
pub const MAX_REGISTRATIONS: usize = 100_000;
/// Most recorded notifications one keyset keeps (oldest dropped first).
pub const MAX_NOTIFICATIONS: usize = 1_000;

/// The push service a device is registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PushService {
    /// Firebase Cloud Messaging (`type=fcm`).
    Fcm,
    /// Firebase under its older name (`type=gcm`).
    Gcm,
    /// APNs with a certificate (`type=apns`).
    Apns,
    /// APNs over HTTP/2 (`/v2/push/…/devices-apns2/…`).
    Apns2,
    /// Microsoft Push Notification Service (`type=mpns`).
    Mpns,
}

impl PushService {
    /// The wire name (`fcm`, `gcm`, `apns`, `apns2`, `mpns`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fcm => "fcm",
            Self::Gcm => "gcm",
            Self::Apns => "apns",
            Self::Apns2 => "apns2",
            Self::Mpns => "mpns",
        }
    }

    fn from_type(value: &str) -> Option<Self> {
        match value {
            "fcm" => Some(Self::Fcm),
            "gcm" => Some(Self::Gcm),
            "apns" => Some(Self::Apns),
            "mpns" => Some(Self::Mpns),
            _ => None,
        }
    }
}

/// One notification the dev server would have sent.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PushNotification {
    /// The channel published on.
    pub channel: String,
    /// The service of the device.
    pub push_type: PushService,
    /// The device token.
    pub device: String,
    /// APNs2: the device's topic.
    pub topic: Option<String>,
    /// APNs2: the device's environment.
    pub environment: Option<ApnsEnvironment>,
    /// The `pn_apns` / `pn_fcm` / `pn_gcm` / `pn_mpns` object sent to it.
    pub payload: Value,
    /// The publish's timetoken.
    pub timetoken: u64,
    /// The message asked for `pn_debug`.
    pub debug: bool,
}

impl PushNotification {
    fn to_json(&self) -> Value {
        json!({
            "channel": self.channel,
            "push_type": self.push_type.as_str(),
            "device": self.device,
            "topic": self.topic,
            "environment": self.environment.map(ApnsEnvironment::as_str),
            "payload": self.payload,
            "timetoken": self.timetoken.to_string(),
            "debug": self.debug,
        })
    }
}

/// APNs environment, ordered (the client's enum is not `Ord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Environment {
    Development,
    Production,
}

impl Environment {
    fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("" | "development") => Some(Self::Development),
            Some("production") => Some(Self::Production),
            Some(_) => None,
        }
    }

    fn public(self) -> ApnsEnvironment {
        match self {
            Self::Development => ApnsEnvironment::Development,
            Self::Production => ApnsEnvironment::Production,
        }
    }
}

/// What a registration is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct DeviceKey {
    service: PushService,
    token: Arc<str>,
    /// APNs2 only: topic and environment.
    apns2: Option<(Arc<str>, Environment)>,
}

/// A device as the data dir keys it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KeptDevice {
    service: String,
    token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    environment: Option<String>,
}

impl KeptDevice {
    fn of(device: &DeviceKey) -> Self {
        Self {
            service: device.service.as_str().to_owned(),
            token: device.token.to_string(),
            topic: device.apns2.as_ref().map(|(topic, _)| topic.to_string()),
            environment: device
                .apns2
                .as_ref()
                .map(|(_, env)| env.public().as_str().to_owned()),
        }
    }

    fn device(&self) -> Option<DeviceKey> {
        let service = match self.service.as_str() {
            "apns2" => PushService::Apns2,
            other => PushService::from_type(other)?,
        };
        let apns2 = match (&self.topic, service) {
            (Some(topic), PushService::Apns2) => Some((
                Arc::from(topic.as_str()),
                Environment::parse(self.environment.as_deref())?,
            )),
            (None, PushService::Apns2) => return None,
            _ => None,
        };
        Some(DeviceKey {
            service,
            token: Arc::from(self.token.as_str()),
            apns2,
        })
    }
}

/// The push registrations and recorded notifications of one keyset.
#[derive(Debug, Default)]
pub(crate) struct PushRegistry {
    devices: HashMap<DeviceKey, BTreeSet<String>>,
    by_channel: HashMap<String, BTreeSet<DeviceKey>>,
    registrations: usize,
    notifications: VecDeque<PushNotification>,
}

impl PushRegistry {
    /// The devices registered on `channel`, `None` (one hash lookup) when
    /// there are none: the publish hot path.
    pub(crate) fn devices_on(&self, channel: &str) -> Option<Vec<DeviceKey>> {
        self.by_channel
            .get(channel)
            .map(|devices| devices.iter().cloned().collect())
    }

    fn channels_of(&self, device: &DeviceKey) -> Vec<String> {
        self.devices
            .get(device)
            .map(|channels| channels.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Adds `channels` to `device`, or nothing when a bound would be passed.
    fn add(&mut self, device: &DeviceKey, channels: &[String]) -> Result<(), String> {
        let current = self.devices.get(device);
        let new = channels
            .iter()
            .filter(|c| current.is_none_or(|held| !held.contains(*c)))
            .count();
        if new == 0 {
            return Ok(());
        }
        if current.is_none() && self.devices.len() >= MAX_DEVICES {
            return Err(format!(
                "Too many devices: a keyset holds at most {MAX_DEVICES} push devices"
            ));
        }
        if current.map_or(0, BTreeSet::len) + new > MAX_CHANNELS_PER_DEVICE {
            return Err(format!(
                "Too many channels: a device holds at most {MAX_CHANNELS_PER_DEVICE} push channels"
            ));
        }
        if self.registrations + new > MAX_REGISTRATIONS {
            return Err(format!(
                "Too many registrations: a keyset holds at most {MAX_REGISTRATIONS} push registrations"
            ));
        }
        let held = self.devices.entry(device.clone()).or_default();
        for channel in channels {
            if held.insert(channel.clone()) {
                self.registrations += 1;
                self.by_channel
                    .entry(channel.clone())
                    .or_default()
                    .insert(device.clone());
            }
        }
        Ok(())
    }

    fn remove(&mut self, device: &DeviceKey, channels: &[String]) {
        let Some(held) = self.devices.get_mut(device) else {
            return;
        };
        for channel in channels {
            if held.remove(channel) {
                self.registrations -= 1;
                unindex(&mut self.by_channel, channel, device);
            }
        }
        if held.is_empty() {
            self.devices.remove(device);
        }
    }

    fn remove_device(&mut self, device: &DeviceKey) {
        if let Some(held) = self.devices.remove(device) {
            self.registrations -= held.len();
            for channel in &held {
                unindex(&mut self.by_channel, channel, device);
            }
        }
    }

    fn record(&mut self, notifications: Vec<PushNotification>) {
        for notification in notifications {
            if self.notifications.len() == MAX_NOTIFICATIONS {
                self.notifications.pop_front();
            }
            self.notifications.push_back(notification);
        }
    }

    /// Keeps the channels of `device` (or its removal) in the data dir.
    fn keep(&self, persist: &Persist, device: &DeviceKey) {
        let key = KeptDevice::of(device);
        match self.devices.get(device) {
            Some(channels) => persist.put(Table::Push, &key, channels),
            None => persist.delete(Table::Push, &key),
        }
    }

    /// Puts a registration read back from the data dir.
    pub(crate) fn restore(&mut self, device: &KeptDevice, channels: &[String]) {
        if let Some(device) = device.device() {
            let _ = self.add(&device, channels);
        }
    }

    /// The recorded notifications, oldest first.
    pub(crate) fn notifications(&self) -> Vec<PushNotification> {
        self.notifications.iter().cloned().collect()
    }
}

fn unindex(
    by_channel: &mut HashMap<String, BTreeSet<DeviceKey>>,
    channel: &str,
    device: &DeviceKey,
) {
    if let Some(devices) = by_channel.get_mut(channel) {
        devices.remove(device);
        if devices.is_empty() {
            by_channel.remove(channel);
        }
    }
}

/// A push path, borrowing from the decoded segments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PushPath<'a> {
    device: &'a str,
    apns2: bool,
    remove_device: bool,
}

impl<'a> PushPath<'a> {
    /// `rest` is what follows `/{v1|v2}/push/sub-key/{sub}/`.
    pub(crate) fn resolve(version: &str, rest: &[&'a str]) -> Option<Self> {
        let (apns2, device, remove_device) = match (version, rest) {
            ("v1", ["devices", device]) => (false, *device, false),
            ("v1", ["devices", device, "remove"]) => (false, *device, true),
            ("v2", ["devices-apns2", device]) => (true, *device, false),
            ("v2", ["devices-apns2", device, "remove"]) => (true, *device, true),
            _ => return None,
        };
        Some(Self {
            device,
            apns2,
            remove_device,
        })
    }
}

/// PubNub's push error: 400 `{"error": "<message>"}`.
fn push_error(message: &str) -> ApiError {
    ApiError::Raw {
        status: StatusCode::BAD_REQUEST,
        body: format!(r#"{{"error": {}}}"#, json_string(message)),
    }
}

fn modified(what: &str) -> Response<Body> {
    ok_json(format!("[1, {}]", json_string(what)))
}

/// `["a", "b"]`, spaced as the service sends it.
fn channel_list(channels: &[String]) -> Response<Body> {
    let items: Vec<String> = channels.iter().map(|c| json_string(c)).collect();
    ok_json(format!("[{}]", items.join(", ")))
}

/// An APNs device token is hex (the recorded `Invalid device token` was for
/// one with `_` and letters past `f`).
fn valid_apns_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every `/v1/push/…` and `/v2/push/…` request.
pub(crate) fn handle(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    path: PushPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let query = &ctx.query;
    let (service, apns2) = if path.apns2 {
        let topic = query
            .non_empty("topic")
            .ok_or_else(|| push_error("Invalid topic argument"))?;
        let environment = Environment::parse(query.get("environment"))
            .ok_or_else(|| push_error("Invalid environment argument"))?;
        (PushService::Apns2, Some((Arc::from(topic), environment)))
    } else {
        let service = query
            .get("type")
            .and_then(PushService::from_type)
            .ok_or_else(|| push_error("Invalid type argument"))?;
        (service, None)
    };
    if path.device.is_empty() {
        return Err(push_error("Invalid device token"));
    }
    let device = DeviceKey {
        service,
        token: Arc::from(path.device),
        apns2,
    };

    if path.remove_device {
        let held = keyset.lock().push.channels_of(&device);
        app.authorize(keyset, ctx, Permission::Read, &Resources::channels(held))?;
        let mut state = keyset.lock();
        state.push.remove_device(&device);
        state.push.keep(&state.persist, &device);
        return Ok(modified("Removed Device"));
    }
    let add = query.get("add").map(|_| query.list("add"));
    let remove = query.get("remove").map(|_| query.list("remove"));
    if add.is_none() && remove.is_none() {
        let held = keyset.lock().push.channels_of(&device);
        app.authorize(
            keyset,
            ctx,
            Permission::Read,
            &Resources::channels(held.iter().cloned()),
        )?;
        return Ok(channel_list(&held));
    }
    let add = add.unwrap_or_default();
    let remove = remove.unwrap_or_default();
    if !add.is_empty()
        && matches!(service, PushService::Apns | PushService::Apns2)
        && !valid_apns_token(path.device)
    {
        return Err(push_error("Invalid device token"));
    }
    app.authorize(
        keyset,
        ctx,
        Permission::Read,
        &Resources::channels(add.iter().chain(&remove).cloned()),
    )?;
    let mut state = keyset.lock();
    state
        .push
        .add(&device, &add)
        .map_err(|message| push_error(&message))?;
    state.push.remove(&device, &remove);
    state.push.keep(&state.persist, &device);
    Ok(modified("Modified Channels"))
}

/// What a device of `device`'s kind is sent from the message `object`.
fn payload_for<'v>(
    device: &DeviceKey,
    object: &'v serde_json::Map<String, Value>,
) -> Option<&'v Value> {
    match device.service {
        PushService::Fcm | PushService::Gcm => {
            object.get("pn_fcm").or_else(|| object.get("pn_gcm"))
        }
        PushService::Apns => object.get("pn_apns"),
        PushService::Mpns => object.get("pn_mpns"),
        PushService::Apns2 => {
            let apns = object.get("pn_apns")?;
            let (topic, environment) = device.apns2.as_ref()?;
            let targeted = apns
                .get("pn_push")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|entry| entry.get("version").and_then(Value::as_str) == Some("v2"))
                .filter_map(|entry| entry.get("targets").and_then(Value::as_array))
                .flatten()
                .any(|target| {
                    let env = Environment::parse(target.get("environment").and_then(Value::as_str));
                    let excluded = target
                        .get("excluded_devices")
                        .and_then(Value::as_array)
                        .is_some_and(|list| {
                            list.iter().any(|d| d.as_str() == Some(&*device.token))
                        });
                    target.get("topic").and_then(Value::as_str) == Some(&**topic)
                        && env == Some(*environment)
                        && !excluded
                });
            targeted.then_some(apns)
        }
    }
}

/// After a publish on a channel with registered `devices`: records (and
/// logs) the notification each of them would get.
pub(crate) fn on_publish(keyset: &KeysetHandle, message: &StoredMessage, devices: Vec<DeviceKey>) {
    let Some(object) = message.data_value().as_object() else {
        return;
    };
    let debug = object.get("pn_debug").and_then(Value::as_bool) == Some(true);
    let notifications: Vec<PushNotification> = devices
        .iter()
        .filter_map(|device| {
            let payload = payload_for(device, object)?;
            Some(PushNotification {
                channel: message.channel.to_string(),
                push_type: device.service,
                device: device.token.to_string(),
                topic: device.apns2.as_ref().map(|(topic, _)| topic.to_string()),
                environment: device.apns2.as_ref().map(|(_, env)| env.public()),
                payload: payload.clone(),
                timetoken: message.timetoken,
                debug,
            })
        })
        .collect();
    if notifications.is_empty() {
        return;
    }
    for n in &notifications {
        tracing::info!(
            subscribe_key = %keyset.subscribe_key,
            channel = %n.channel,
            push_type = n.push_type.as_str(),
            device = %n.device,
            topic = n.topic.as_deref().unwrap_or(""),
            environment = n.environment.map_or("", ApnsEnvironment::as_str),
            timetoken = n.timetoken,
            debug = n.debug,
            "push notification recorded, not sent (the dev server has no push gateway)"
        );
    }
    keyset.lock().push.record(notifications);
}

/// `GET /dev/push/{sub}/notifications`: the dev-server-only inspection
/// route (`None` for any other path).
pub(crate) fn dev_route(app: &App, path: &str) -> Option<Response<Body>> {
    if !path.starts_with("/dev/push/") {
        return None;
    }
    let segments = decode_path(path).ok()?;
    let [dev, push, subscribe_key, notifications] = segments.as_slice() else {
        return None;
    };
    if dev != "dev" || push != "push" || notifications != "notifications" {
        return None;
    }
    let list: Vec<Value> = app
        .keysets
        .find(subscribe_key)
        .map(|keyset| {
            keyset
                .lock()
                .push
                .notifications
                .iter()
                .map(PushNotification::to_json)
                .collect()
        })
        .unwrap_or_default();
    Some(pn_response(
        StatusCode::OK,
        PN_CONTENT_TYPE,
        Value::Array(list).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fcm(token: &str) -> DeviceKey {
        DeviceKey {
            service: PushService::Fcm,
            token: Arc::from(token),
            apns2: None,
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn add_remove_keep_the_index() {
        let mut registry = PushRegistry::default();
        registry.add(&fcm("d1"), &names(&["a", "b"])).unwrap();
        registry.add(&fcm("d2"), &names(&["a"])).unwrap();
        assert_eq!(registry.devices_on("a").unwrap().len(), 2);
        registry.remove(&fcm("d1"), &names(&["a"]));
        assert_eq!(registry.devices_on("a").unwrap(), vec![fcm("d2")]);
        registry.remove_device(&fcm("d2"));
        assert!(registry.devices_on("a").is_none());
        assert_eq!(registry.channels_of(&fcm("d1")), ["b"]);
        registry.remove(&fcm("d1"), &names(&["b"]));
        assert!(registry.devices.is_empty());
        assert_eq!(registry.registrations, 0);
    }

    #[test]
    fn bounds_refuse_without_changing_anything() {
        let mut registry = PushRegistry::default();
        let many: Vec<String> = (0..=MAX_CHANNELS_PER_DEVICE)
            .map(|i| format!("c{i}"))
            .collect();
        assert!(registry.add(&fcm("d"), &many).is_err());
        assert!(registry.devices.is_empty());
        registry
            .add(&fcm("d"), &many[..MAX_CHANNELS_PER_DEVICE])
            .unwrap();
        assert!(registry
            .add(&fcm("d"), &many[MAX_CHANNELS_PER_DEVICE..])
            .is_err());
        // Adding what is already there passes the bound.
        registry.add(&fcm("d"), &many[..1]).unwrap();
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let mut registry = PushRegistry::default();
        let n = |tt| PushNotification {
            channel: "c".into(),
            push_type: PushService::Fcm,
            device: "d".into(),
            topic: None,
            environment: None,
            payload: json!({}),
            timetoken: tt,
            debug: false,
        };
        registry.record((0..MAX_NOTIFICATIONS as u64 + 5).map(n).collect());
        assert_eq!(registry.notifications.len(), MAX_NOTIFICATIONS);
        assert_eq!(registry.notifications[0].timetoken, 5);
    }

    #[test]
    fn apns2_needs_a_matching_target() {
        let device = DeviceKey {
            service: PushService::Apns2,
            token: Arc::from("ab12"),
            apns2: Some((Arc::from("com.example.app"), Environment::Production)),
        };
        let message = |targets: Value| json!({"pn_apns": {"aps": {"alert": "hi"}, "pn_push": [{"targets": targets, "version": "v2"}]}});
        let hit = message(json!([{"topic": "com.example.app", "environment": "production"}]));
        assert!(payload_for(&device, hit.as_object().unwrap()).is_some());
        for miss in [
            message(json!([{"topic": "com.example.app"}])),
            message(json!([{"topic": "com.other", "environment": "production"}])),
            message(
                json!([{"topic": "com.example.app", "environment": "production", "excluded_devices": ["ab12"]}]),
            ),
            json!({"pn_apns": {"aps": {}}}),
            json!({"pn_fcm": {}}),
        ] {
            assert!(
                payload_for(&device, miss.as_object().unwrap()).is_none(),
                "{miss}"
            );
        }
    }
}
