//! Mobile Push: which channels a device receives push notifications for
//! (PROTOCOL.md §12; the `*push*` cassettes are the specification).
//!
//! FCM/GCM and APNs (certificate) devices live under
//! `/v1/push/sub-key/{sub}/devices/{token}` with `type=`; APNs HTTP/2
//! (token auth) devices under `/v2/push/sub-key/{sub}/devices-apns2/{token}`
//! with `environment=` and `topic=` instead of `type=`.

use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        assert!(parse_modified(br#"[1, "Modified Channels"]"#).is_ok());
        assert!(parse_modified(br#"[0, "nope"]"#).is_err());
        assert_eq!(parse_list(br#"["a", "b"]"#).unwrap(), vec!["a", "b"]);
        assert!(parse_list(br#"{"a":1}"#).is_err());
    }
}
