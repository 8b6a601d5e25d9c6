//! Publish, fire and signal (PROTOCOL.md §3).

use serde::Serialize;
use serde_json::Value;

use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::util::setters;
use crate::api::{parse_json, timetoken_from, to_json, validate_channel};
use crate::transport::encoding::{encode, uri_component_len};
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// PubNub's publish limit: 32 KiB of escaped channel + message, plus the
/// envelope overhead (PROTOCOL.md §1.8).
pub const MAX_PUBLISH_SIZE: usize = 32 * 1024;
/// Overhead PubNub's own size calculator adds to the escaped size.
const PUBLISH_OVERHEAD: usize = 97;
/// PubNub's signal payload limit in bytes.
pub const MAX_SIGNAL_SIZE: usize = 64;

/// The answer to a publish, fire or signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishResult {
    /// The message's timetoken: its position in history and in subscribe streams.
    pub timetoken: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Publish,
    Fire,
}

/// Builder of a publish (or fire); await it to send. Created by
/// [`PubNub::publish`] and [`PubNub::fire`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// #[derive(serde::Serialize)]
/// struct Chat<'a> { text: &'a str }
/// let result = client
///     .publish()
///     .channel("room.1")
///     .message(&Chat { text: "hi" })
///     .meta(&serde_json::json!({"lang": "en"}))
///     .should_store(true)
///     .ttl(24)
///     .await?;
/// println!("sent at {}", result.timetoken);
/// # Ok(()) }
/// ```
#[must_use = "a publish does nothing until it is awaited"]
#[derive(Debug)]
pub struct PublishBuilder {
    client: PubNub,
    mode: Mode,
    channel: String,
    message: Option<Result<String, Error>>,
    meta: Option<Result<String, Error>>,
    should_store: Option<bool>,
    ttl: Option<u32>,
    replicate: Option<bool>,
    use_post: bool,
    custom_message_type: Option<String>,
    timetoken_override: Option<u64>,
}

impl PubNub {
    /// Publishes a message to a channel (stored in history by default,
    /// delivered to subscribers).
    pub fn publish(&self) -> PublishBuilder {
        PublishBuilder::new(self.clone(), Mode::Publish)
    }

    /// Fires a message: like publish but not stored and not replicated
    /// (`store=0&norep=true`); meant for PubNub Functions.
    pub fn fire(&self) -> PublishBuilder {
        PublishBuilder::new(self.clone(), Mode::Fire)
    }

    /// Sends a signal: a small (≤ 64 bytes) unstored message.
    pub fn signal(&self) -> SignalBuilder {
        SignalBuilder {
            client: self.clone(),
            channel: String::new(),
            message: None,
            custom_message_type: None,
        }
    }
}

impl PublishBuilder {
    fn new(client: PubNub, mode: Mode) -> Self {
        Self {
            client,
            mode,
            channel: String::new(),
            message: None,
            meta: None,
            should_store: None,
            ttl: None,
            replicate: None,
            use_post: false,
            custom_message_type: None,
            timetoken_override: None,
        }
    }

    /// The message: any value serde can turn into JSON (required; `null` is refused).
    pub fn message<T: Serialize + ?Sized>(mut self, message: &T) -> Self {
        self.message = Some(to_json("message", message));
        self
    }

    /// User metadata (a JSON object): delivered to subscribers as the
    /// message's meta, never encrypted, and what filter expressions read.
    pub fn meta<T: Serialize + ?Sized>(mut self, meta: &T) -> Self {
        self.meta = Some(to_json("meta", meta));
        self
    }

    setters! {
        /// The channel to publish to (required).
        channel(channel: String);
        /// Store in history (`true`) or not; unset uses the keyset's default.
        /// Ignored by fire, which never stores.
        should_store(store: Option<bool>);
        /// Hours this message stays in history (0 = keyset default retention...
        /// sent only when storing).
        ttl(hours: Option<u32>);
        /// Replicate to other PubNub regions (default true); `false` sends `norep=true`.
        replicate(replicate: Option<bool>);
        /// Send the message in a POST body instead of the URL path (for large messages).
        use_post(use_post: bool);
        /// A custom message type (3–50 characters of `A-Z a-z 0-9 _ -`),
        /// delivered to subscribers with the message.
        custom_message_type(message_type: Option<String>);
        /// Asks the server to use this timetoken for the message (`ptto`).
        timetoken_override(timetoken: Option<u64>);
    }
}

impl Endpoint for PublishBuilder {
    type Output = PublishResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let client = self.client;
        let config = &client.inner.config;
        let (publish_key, message) =
            required_parts(&client, "publishing", &self.channel, self.message)?;
        if message == "null" {
            return Err(Error::invalid_argument(
                "message",
                "is null; PubNub does not deliver null messages",
            ));
        }
        let payload = match &config.crypto {
            Some(crypto) => to_json("message", &crypto.encrypt_to_base64(message.as_bytes())?)?,
            None => message,
        };
        let size =
            uri_component_len(&self.channel) + uri_component_len(&payload) + PUBLISH_OVERHEAD;
        if size > MAX_PUBLISH_SIZE {
            return Err(Error::MessageTooLarge {
                what: "publish",
                size: Some(size),
                limit: MAX_PUBLISH_SIZE,
            });
        }
        let meta = match self.meta {
            Some(meta) => Some(validate_meta(meta?)?),
            None => None,
        };
        if let Some(message_type) = &self.custom_message_type {
            validate_custom_message_type(message_type)?;
        }
        let mut path = format!(
            "/publish/{}/{}/0/{}/0",
            encode(publish_key),
            encode(&config.subscribe_key),
            encode(&self.channel)
        );
        let use_post = self.use_post;
        if !use_post {
            path.push('/');
            path.push_str(&encode(&payload));
        }
        let method = if use_post {
            HttpMethod::Post
        } else {
            HttpMethod::Get
        };
        let mut request = client.request(method, path);
        let (store, norep) = match self.mode {
            Mode::Fire => (Some(false), Some(true)),
            Mode::Publish => (
                self.should_store,
                self.replicate.map(|replicate| !replicate),
            ),
        };
        request = request
            .param_opt("store", store.map(|s| if s { "1" } else { "0" }))
            .param_opt("norep", norep.map(|n| if n { "true" } else { "false" }))
            .param_opt("meta", meta)
            .param_opt("custom_message_type", self.custom_message_type)
            .param_opt("ptto", self.timetoken_override.map(|t| t.to_string()))
            .param("seqn", client.next_seqn().to_string());
        if store != Some(false) {
            request = request.param_opt("ttl", self.ttl.map(|t| t.to_string()));
        }
        if use_post {
            request = request.json_body(payload);
            request.sign_as_get = true;
        }
        Ok(Call::new(client, request))
    }

    fn parse(answer: Answer) -> Result<PublishResult, Error> {
        parse_publish_response(answer.body())
    }
}

/// Builder of a signal; await it to send. Created by [`PubNub::signal`].
#[must_use = "a signal does nothing until it is awaited"]
#[derive(Debug)]
pub struct SignalBuilder {
    client: PubNub,
    channel: String,
    message: Option<Result<String, Error>>,
    custom_message_type: Option<String>,
}

impl SignalBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
    }

    /// The payload; its JSON must fit in 64 bytes. Signals are never encrypted.
    pub fn message<T: Serialize + ?Sized>(mut self, message: &T) -> Self {
        self.message = Some(to_json("signal", message));
        self
    }

    setters! {
        /// A custom message type (3–50 characters of `A-Z a-z 0-9 _ -`).
        custom_message_type(message_type: Option<String>);
    }
}

impl Endpoint for SignalBuilder {
    type Output = PublishResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let client = self.client;
        let config = &client.inner.config;
        let (publish_key, message) =
            required_parts(&client, "sending a signal", &self.channel, self.message)?;
        if message.len() > MAX_SIGNAL_SIZE {
            return Err(Error::MessageTooLarge {
                what: "signal",
                size: Some(message.len()),
                limit: MAX_SIGNAL_SIZE,
            });
        }
        if let Some(message_type) = &self.custom_message_type {
            validate_custom_message_type(message_type)?;
        }
        let path = format!(
            "/signal/{}/{}/0/{}/0/{}",
            encode(publish_key),
            encode(&config.subscribe_key),
            encode(&self.channel),
            encode(&message)
        );
        let request = client
            .request(HttpMethod::Get, path)
            .param_opt("custom_message_type", self.custom_message_type);
        Ok(Call::new(client, request))
    }

    fn parse(answer: Answer) -> Result<PublishResult, Error> {
        parse_publish_response(answer.body())
    }
}

awaitable!(PublishBuilder => PublishResult, SignalBuilder => PublishResult);

/// The publish key, the checked channel and the message that publish and
/// signal both need, checked in that order.
fn required_parts<'a>(
    client: &'a PubNub,
    operation: &'static str,
    channel: &str,
    message: Option<Result<String, Error>>,
) -> Result<(&'a str, String), Error> {
    let publish_key = publish_key(client, operation)?;
    validate_channel("channel", channel)?;
    let message = message.ok_or_else(|| {
        Error::invalid_argument("message", "is missing: call `.message(&value)`")
    })??;
    Ok((publish_key, message))
}

/// The client's publish key, or the error naming what needed it.
pub(crate) fn publish_key<'a>(
    client: &'a PubNub,
    operation: &'static str,
) -> Result<&'a str, Error> {
    client
        .inner
        .config
        .publish_key
        .as_deref()
        .ok_or(Error::MissingKey {
            key: "publish_key",
            operation,
        })
}

/// Reads `[1,"Sent","<timetoken>"]`.
pub(crate) fn parse_publish_response(body: &[u8]) -> Result<PublishResult, Error> {
    let value = parse_json("the publish response", body)?;
    let items = value.as_array();
    let status = items.and_then(|i| i.first()).and_then(Value::as_i64);
    if status != Some(1) {
        // A 200 carrying [0, "reason", tt]: report it like an error status.
        return Err(Error::from_response(400, body));
    }
    items
        .and_then(|i| i.get(2))
        .and_then(timetoken_from)
        .map(|timetoken| PublishResult { timetoken })
        .ok_or_else(|| {
            Error::deserialization(
                "the publish response",
                "expected [1,\"Sent\",\"<timetoken>\"]",
                body,
            )
        })
}

fn validate_meta(meta: String) -> Result<String, Error> {
    if meta.starts_with('{') {
        Ok(meta)
    } else {
        Err(Error::invalid_argument(
            "meta",
            "must be a JSON object (filter expressions read its fields)",
        ))
    }
}

pub(crate) fn validate_custom_message_type(value: &str) -> Result<(), Error> {
    let length = value.chars().count();
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let starts_well = !value.starts_with(['_', '-']);
    if !(3..=50).contains(&length) || !allowed || !starts_well {
        return Err(Error::invalid_argument(
            "custom_message_type",
            format!(
                "`{value}` must be 3 to 50 characters of A-Z a-z 0-9 _ - and not start with _ or -"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_response_parsing() {
        assert_eq!(
            parse_publish_response(br#"[1,"Sent","14820999390622229"]"#)
                .unwrap()
                .timetoken,
            14820999390622229
        );
        assert!(matches!(
            parse_publish_response(br#"[0,"Invalid Key","1"]"#),
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            parse_publish_response(b"<html>"),
            Err(Error::Deserialization { .. })
        ));
    }

    #[test]
    fn custom_message_types() {
        assert!(validate_custom_message_type("test_message").is_ok());
        assert!(validate_custom_message_type("ab").is_err());
        assert!(validate_custom_message_type("_abc").is_err());
        assert!(validate_custom_message_type("a b c").is_err());
    }
}
