//! Mobile Push: which channels a device receives push notifications for
//! (PROTOCOL.md §12; the `*push*` cassettes are the specification).
//!
//! FCM/GCM and APNs (certificate) devices live under
//! `/v1/push/sub-key/{sub}/devices/{token}` with `type=`; APNs HTTP/2
//! (token auth) devices under `/v2/push/sub-key/{sub}/devices-apns2/{token}`
//! with `environment=` and `topic=` instead of `type=`.
//!
//! A notification is sent by publishing an ordinary message that carries
//! `pn_apns` / `pn_fcm` / `pn_gcm` keys on a channel with registered
//! devices; [`PushPayload`] builds such a message:
//!
//! ```no_run
//! # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
//! use pubnub_rx::api::push::{Apns2Target, ApnsEnvironment, ApnsPayload, FcmPayload, PushPayload};
//! use serde_json::json;
//!
//! let payload = PushPayload::new()
//!     .apns(
//!         ApnsPayload::new()
//!             .alert("Game on", "Portugal vs Denmark starts now")
//!             .sound("default")
//!             .target(Apns2Target::new("com.example.app").environment(ApnsEnvironment::Production)),
//!     )
//!     .fcm(FcmPayload::new().notification("Game on", "Portugal vs Denmark starts now"))
//!     .message(&json!({"text": "kick-off"}));
//! client.publish().channel("matches").message(&payload).await?;
//! # Ok(()) }
//! ```

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::parse_json;
use crate::api::util::{channels_setters, string_list, validate_channel_list};
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// The push service a device token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PushType {
    /// Firebase Cloud Messaging (`type=fcm`).
    Fcm,
    /// Google Cloud Messaging, FCM's older name (`type=gcm`).
    Gcm,
    /// Apple Push Notification service with a certificate (`type=apns`).
    Apns,
    /// APNs over HTTP/2 with token auth: needs [`topic`](AddPushChannelsBuilder::topic).
    Apns2,
}

impl PushType {
    /// The `type` value sent for this service (`None` for APNs2, which has
    /// its own path instead).
    fn type_param(self) -> Option<&'static str> {
        match self {
            Self::Fcm => Some("fcm"),
            Self::Gcm => Some("gcm"),
            Self::Apns => Some("apns"),
            Self::Apns2 => None,
        }
    }
}

/// The APNs environment of an APNs2 device (default development, as the
/// official SDKs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ApnsEnvironment {
    /// Sandbox builds (`environment=development`).
    #[default]
    Development,
    /// App Store / TestFlight builds (`environment=production`).
    Production,
}

impl ApnsEnvironment {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}

/// What a push builder does to the device's registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Add,
    Remove,
    List,
    RemoveDevice,
}

/// The device, service and APNs2 settings every push call shares.
#[derive(Debug, Clone, Default)]
struct Device {
    device_id: String,
    push_type: Option<PushType>,
    topic: Option<String>,
    environment: ApnsEnvironment,
    channels: Vec<String>,
}

impl Device {
    /// Checks the arguments and builds the request of `action`.
    fn request(self, client: &PubNub, action: Action) -> Result<crate::client::Request, Error> {
        if self.device_id.is_empty() {
            return Err(Error::invalid_argument(
                "device_id",
                "is empty: give the device's push token",
            ));
        }
        let push_type = self.push_type.ok_or_else(|| {
            Error::invalid_argument(
                "push_type",
                "is missing: call `.push_type(PushType::Fcm | PushType::Apns2 | ...)`",
            )
        })?;
        if matches!(action, Action::Add | Action::Remove) {
            validate_channel_list(&self.channels)?;
        }
        let sub = encode(&client.inner.config.subscribe_key);
        let device = encode(&self.device_id);
        let mut path = match push_type {
            PushType::Apns2 => format!("/v2/push/sub-key/{sub}/devices-apns2/{device}"),
            _ => format!("/v1/push/sub-key/{sub}/devices/{device}"),
        };
        if action == Action::RemoveDevice {
            path.push_str("/remove");
        }
        let mut request = client.request(HttpMethod::Get, path);
        let channels = self.channels.join(",");
        request = match action {
            Action::Add => request.param("add", channels),
            Action::Remove => request.param("remove", channels),
            Action::List | Action::RemoveDevice => request,
        };
        match push_type.type_param() {
            Some(kind) => request = request.param("type", kind),
            None => {
                let topic = self.topic.filter(|t| !t.is_empty()).ok_or_else(|| {
                    Error::invalid_argument(
                        "topic",
                        "is missing: APNs2 needs the app's bundle id, e.g. `.topic(\"com.example.app\")`",
                    )
                })?;
                request = request
                    .param("environment", self.environment.as_str())
                    .param("topic", topic);
            }
        }
        Ok(request)
    }
}

macro_rules! push_builder {
    ($(#[$doc:meta])* $name:ident, $action:expr, $output:ty, $parse:path, with_channels: $with:tt) => {
        $(#[$doc])*
        #[must_use = "a push call does nothing until it is awaited"]
        #[derive(Debug, Clone)]
        pub struct $name {
            client: PubNub,
            device: Device,
        }

        impl $name {
            /// The device's push token (required; sent as given, percent-encoded).
            pub fn device_id(mut self, device_id: impl Into<String>) -> Self {
                self.device.device_id = device_id.into();
                self
            }

            /// The push service of the token (required).
            pub fn push_type(mut self, push_type: PushType) -> Self {
                self.device.push_type = Some(push_type);
                self
            }

            /// APNs2 only: the app's bundle id (required for [`PushType::Apns2`]).
            pub fn topic(mut self, topic: impl Into<String>) -> Self {
                self.device.topic = Some(topic.into());
                self
            }

            /// APNs2 only: the APNs environment (default development).
            pub fn environment(mut self, environment: ApnsEnvironment) -> Self {
                self.device.environment = environment;
                self
            }

            push_builder!(@channels $with);
        }

        impl Endpoint for $name {
            type Output = $output;
            type Context = ();

            fn build(self) -> Result<Call, Error> {
                let request = self.device.request(&self.client, $action)?;
                Ok(Call::new(self.client, request))
            }

            fn parse(answer: Answer) -> Result<$output, Error> {
                $parse(answer.body())
            }
        }

        awaitable!($name => $output);
    };
    (@channels true) => {
        channels_setters! {
            /// The channels (at least one).
            device.channels
        }
    };
    (@channels false) => {};
}

push_builder!(
    /// Enables push notifications on channels for a device; await it.
    /// Created by [`PubNub::add_push_channels`].
    ///
    /// ```no_run
    /// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
    /// use pubnub_rx::api::push::{ApnsEnvironment, PushType};
    /// client
    ///     .add_push_channels()
    ///     .device_id("a1b2c3")
    ///     .push_type(PushType::Apns2)
    ///     .topic("com.example.app")
    ///     .environment(ApnsEnvironment::Production)
    ///     .channels(["news", "alerts"])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    AddPushChannelsBuilder, Action::Add, (), parse_modified, with_channels: true
);
push_builder!(
    /// Disables push notifications on channels for a device; await it.
    /// Created by [`PubNub::remove_push_channels`].
    RemovePushChannelsBuilder, Action::Remove, (), parse_modified, with_channels: true
);
push_builder!(
    /// Lists the channels a device gets push notifications for; await it.
    /// Created by [`PubNub::list_push_channels`].
    ListPushChannelsBuilder, Action::List, Vec<String>, parse_list, with_channels: false
);
push_builder!(
    /// Removes every push registration of a device; await it. Created by
    /// [`PubNub::remove_push_device`].
    RemovePushDeviceBuilder, Action::RemoveDevice, (), parse_modified, with_channels: false
);

impl PubNub {
    /// Enables push notifications on channels for a device.
    pub fn add_push_channels(&self) -> AddPushChannelsBuilder {
        AddPushChannelsBuilder {
            client: self.clone(),
            device: Device::default(),
        }
    }

    /// Disables push notifications on channels for a device.
    pub fn remove_push_channels(&self) -> RemovePushChannelsBuilder {
        RemovePushChannelsBuilder {
            client: self.clone(),
            device: Device::default(),
        }
    }

    /// Lists the channels a device gets push notifications for.
    pub fn list_push_channels(&self) -> ListPushChannelsBuilder {
        ListPushChannelsBuilder {
            client: self.clone(),
            device: Device::default(),
        }
    }

    /// Removes every push registration of a device.
    pub fn remove_push_device(&self) -> RemovePushDeviceBuilder {
        RemovePushDeviceBuilder {
            client: self.clone(),
            device: Device::default(),
        }
    }
}

/// Reads `[1, "Modified Channels"]` / `[1, "Removed Device"]`.
fn parse_modified(body: &[u8]) -> Result<(), Error> {
    let value = parse_json("the push response", body)?;
    match value.get(0).and_then(Value::as_i64) {
        Some(1) => Ok(()),
        _ => Err(Error::from_response(400, body)),
    }
}

/// Reads the JSON array of channel names.
fn parse_list(body: &[u8]) -> Result<Vec<String>, Error> {
    let value = parse_json("the push channel list", body)?;
    string_list(&value).ok_or_else(|| {
        Error::deserialization("the push channel list", "expected an array of names", body)
    })
}

/// An APNs2 recipient of a [`ApnsPayload`]: the app's topic (bundle id)
/// and APNs environment, as `pn_push` names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apns2Target {
    topic: String,
    environment: ApnsEnvironment,
    excluded_devices: Vec<String>,
}

impl Apns2Target {
    /// Devices registered for `topic` (environment development unless set).
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            environment: ApnsEnvironment::Development,
            excluded_devices: Vec::new(),
        }
    }

    /// The APNs environment of the devices to reach.
    pub fn environment(mut self, environment: ApnsEnvironment) -> Self {
        self.environment = environment;
        self
    }

    /// Device tokens that must not get this notification (e.g. the
    /// sender's own device): `excluded_devices`.
    pub fn exclude_devices<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.excluded_devices
            .extend(tokens.into_iter().map(Into::into));
        self
    }

    fn to_value(&self) -> Value {
        let mut target = Map::new();
        target.insert("environment".into(), self.environment.as_str().into());
        target.insert("topic".into(), self.topic.clone().into());
        if !self.excluded_devices.is_empty() {
            target.insert(
                "excluded_devices".into(),
                self.excluded_devices.clone().into(),
            );
        }
        Value::Object(target)
    }
}

/// The `pn_apns` part of a [`PushPayload`]: Apple's `aps` dictionary, any
/// custom keys, and the APNs2 targets (`pn_push`).
///
/// Devices registered with [`PushType::Apns2`] get the notification only
/// when a [target](Self::target) names their topic and environment; devices
/// registered with [`PushType::Apns`] get it regardless.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApnsPayload {
    aps: Map<String, Value>,
    custom: Map<String, Value>,
    targets: Vec<Apns2Target>,
}

impl ApnsPayload {
    /// An empty payload.
    pub fn new() -> Self {
        Self::default()
    }

    /// `aps.alert` as a title and a body.
    pub fn alert(mut self, title: impl Into<String>, body: impl Into<String>) -> Self {
        let alert = serde_json::json!({"title": title.into(), "body": body.into()});
        self.aps.insert("alert".into(), alert);
        self
    }

    /// `aps.alert` as one line of text.
    pub fn alert_text(mut self, text: impl Into<String>) -> Self {
        self.aps.insert("alert".into(), text.into().into());
        self
    }

    /// `aps.badge`: the number on the app icon.
    pub fn badge(mut self, badge: u32) -> Self {
        self.aps.insert("badge".into(), badge.into());
        self
    }

    /// `aps.sound`: a sound file of the app bundle, or `"default"`.
    pub fn sound(mut self, sound: impl Into<String>) -> Self {
        self.aps.insert("sound".into(), sound.into().into());
        self
    }

    /// `aps.content-available: 1`: a silent (background) notification.
    pub fn content_available(mut self) -> Self {
        self.aps.insert("content-available".into(), 1.into());
        self
    }

    /// Any other `aps` key (e.g. `category`, `thread-id`).
    pub fn aps_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.aps.insert(key.into(), value.into());
        self
    }

    /// A custom key beside `aps`, delivered to the app.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.custom.insert(key.into(), value.into());
        self
    }

    /// Adds an APNs2 recipient (`pn_push` with `"version": "v2"`).
    pub fn target(mut self, target: Apns2Target) -> Self {
        self.targets.push(target);
        self
    }

    fn to_value(&self) -> Value {
        let mut apns = self.custom.clone();
        apns.insert("aps".into(), Value::Object(self.aps.clone()));
        if !self.targets.is_empty() {
            let targets: Vec<Value> = self.targets.iter().map(Apns2Target::to_value).collect();
            apns.insert(
                "pn_push".into(),
                serde_json::json!([{"targets": targets, "version": "v2"}]),
            );
        }
        Value::Object(apns)
    }
}

/// The `pn_fcm` (or `pn_gcm`) part of a [`PushPayload`]: Firebase's
/// `notification` and `data` objects and any other key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FcmPayload {
    notification: Map<String, Value>,
    data: Map<String, Value>,
    custom: Map<String, Value>,
}

impl FcmPayload {
    /// An empty payload.
    pub fn new() -> Self {
        Self::default()
    }

    /// `notification.title` and `notification.body`: shown by the system.
    pub fn notification(mut self, title: impl Into<String>, body: impl Into<String>) -> Self {
        self.notification
            .insert("title".into(), title.into().into());
        self.notification.insert("body".into(), body.into().into());
        self
    }

    /// A key of `data`, handed to the app. Firebase wants string values.
    pub fn data(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(key.into(), Value::String(value.into()));
        self
    }

    /// Any other key of the payload (e.g. `android`).
    pub fn field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.custom.insert(key.into(), value.into());
        self
    }

    fn to_value(&self) -> Value {
        let mut fcm = self.custom.clone();
        if !self.notification.is_empty() {
            fcm.insert(
                "notification".into(),
                Value::Object(self.notification.clone()),
            );
        }
        if !self.data.is_empty() {
            fcm.insert("data".into(), Value::Object(self.data.clone()));
        }
        Value::Object(fcm)
    }
}

/// A message that also sends mobile push notifications: publish it with
/// [`PubNub::publish`] on a channel with registered devices. Subscribers
/// get the whole message; APNs and FCM devices get their part.
///
/// It serializes to one JSON object: the [`message`](Self::message) keys
/// beside `pn_apns`, `pn_fcm`, `pn_gcm` and `pn_debug` as set (the
/// builder's keys win over message keys of the same name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushPayload {
    message: Map<String, Value>,
    apns: Option<ApnsPayload>,
    fcm: Option<FcmPayload>,
    gcm: Option<FcmPayload>,
    debug: bool,
}

impl PushPayload {
    /// A payload with no notification yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The notification for APNs and APNs2 devices (`pn_apns`).
    pub fn apns(mut self, apns: ApnsPayload) -> Self {
        self.apns = Some(apns);
        self
    }

    /// The notification for FCM devices (`pn_fcm`).
    pub fn fcm(mut self, fcm: FcmPayload) -> Self {
        self.fcm = Some(fcm);
        self
    }

    /// The same for clients still sending the older `pn_gcm` key.
    pub fn gcm(mut self, gcm: FcmPayload) -> Self {
        self.gcm = Some(gcm);
        self
    }

    /// `pn_debug: true`: PubNub reports how the push went on
    /// `{channel}-pndebug`.
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// What real-time subscribers read. A JSON object's keys sit beside the
    /// `pn_*` keys; any other value (a string, a number, an array) is kept
    /// under `"message"`.
    pub fn message<T: Serialize + ?Sized>(mut self, message: &T) -> Self {
        self.message = match serde_json::to_value(message) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) | Err(_) => Map::new(),
            Ok(other) => Map::from_iter([("message".to_owned(), other)]),
        };
        self
    }

    /// The message as JSON.
    pub fn to_value(&self) -> Value {
        let mut out = self.message.clone();
        if let Some(apns) = &self.apns {
            out.insert("pn_apns".into(), apns.to_value());
        }
        if let Some(fcm) = &self.fcm {
            out.insert("pn_fcm".into(), fcm.to_value());
        }
        if let Some(gcm) = &self.gcm {
            out.insert("pn_gcm".into(), gcm.to_value());
        }
        if self.debug {
            out.insert("pn_debug".into(), true.into());
        }
        Value::Object(out)
    }
}

impl Serialize for PushPayload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apns2_payload_has_the_documented_pn_push_shape() {
        let payload = PushPayload::new().apns(
            ApnsPayload::new()
                .alert_text("hello world")
                .target(Apns2Target::new("BUNDLE_ID").environment(ApnsEnvironment::Production)),
        );
        assert_eq!(
            serde_json::to_value(&payload).unwrap(),
            json!({"pn_apns": {
                "aps": {"alert": "hello world"},
                "pn_push": [{"targets": [{"environment": "production", "topic": "BUNDLE_ID"}], "version": "v2"}]
            }})
        );
    }

    #[test]
    fn every_part_lands_in_its_key() {
        let payload = PushPayload::new()
            .message(&json!({"text": "kick-off", "room": 7}))
            .apns(
                ApnsPayload::new()
                    .alert("Title", "Body")
                    .badge(2)
                    .sound("melody")
                    .content_available()
                    .aps_field("category", "MATCH")
                    .field("match_id", 42)
                    .target(Apns2Target::new("com.a").exclude_devices(["tok1"]))
                    .target(Apns2Target::new("com.b").environment(ApnsEnvironment::Production)),
            )
            .fcm(
                FcmPayload::new()
                    .notification("Title", "Body")
                    .data("room", "7")
                    .field("android", json!({"priority": "high"})),
            )
            .gcm(FcmPayload::new().data("legacy", "yes"))
            .debug(true);
        assert_eq!(
            payload.to_value(),
            json!({
                "text": "kick-off",
                "room": 7,
                "pn_apns": {
                    "aps": {
                        "alert": {"title": "Title", "body": "Body"},
                        "badge": 2,
                        "sound": "melody",
                        "content-available": 1,
                        "category": "MATCH"
                    },
                    "match_id": 42,
                    "pn_push": [{
                        "targets": [
                            {"environment": "development", "topic": "com.a", "excluded_devices": ["tok1"]},
                            {"environment": "production", "topic": "com.b"}
                        ],
                        "version": "v2"
                    }]
                },
                "pn_fcm": {
                    "notification": {"title": "Title", "body": "Body"},
                    "data": {"room": "7"},
                    "android": {"priority": "high"}
                },
                "pn_gcm": {"data": {"legacy": "yes"}},
                "pn_debug": true
            })
        );
    }

    #[test]
    fn minimal_payloads_and_non_object_messages() {
        assert_eq!(PushPayload::new().to_value(), json!({}));
        // No targets: no `pn_push` (APNs certificate devices only).
        assert_eq!(
            PushPayload::new()
                .apns(ApnsPayload::new().badge(1))
                .message("hi")
                .to_value(),
            json!({"message": "hi", "pn_apns": {"aps": {"badge": 1}}})
        );
        assert_eq!(
            PushPayload::new()
                .fcm(FcmPayload::new())
                .debug(false)
                .to_value(),
            json!({"pn_fcm": {}})
        );
        // The builder's keys win over a message key of the same name.
        assert_eq!(
            PushPayload::new()
                .message(&json!({"pn_fcm": "mine"}))
                .fcm(FcmPayload::new().data("k", "v"))
                .to_value(),
            json!({"pn_fcm": {"data": {"k": "v"}}})
        );
    }

    #[test]
    fn responses() {
        assert!(parse_modified(br#"[1, "Modified Channels"]"#).is_ok());
        assert!(parse_modified(br#"[0, "nope"]"#).is_err());
        assert_eq!(parse_list(br#"["a", "b"]"#).unwrap(), vec!["a", "b"]);
        assert!(parse_list(br#"{"a":1}"#).is_err());
    }
}
