//! Message Persistence: history v2, fetch messages v3, message counts and
//! delete (PROTOCOL.md §6).
//!
//! Timetokens are `u64` everywhere, read from JSON numbers or strings
//! without going through `f64`. Messages from an encrypted channel are
//! decrypted with the configured crypto module; a message that cannot be
//! decrypted keeps its raw payload and carries the error, so one bad item
//! never fails a page.

use std::collections::BTreeMap;

use futures::Stream;
use serde_json::Value;

use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::timetoken_from;
use crate::api::util::{
    bool_text, channels_setters, check_ok, parse_reply, setters, str_field, u32_from,
    validate_channel_list, validate_name,
};
use crate::error::truncated_text;
use crate::transport::encoding::{encode, encode_list};
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// Most messages one history v2 page holds.
pub const MAX_HISTORY_COUNT: u32 = 100;
/// Most messages fetch-messages returns for a single channel.
pub const MAX_FETCH_SINGLE: u32 = 100;
/// Most messages per channel fetch-messages returns for several channels,
/// or with message actions.
pub const MAX_FETCH_MULTI: u32 = 25;

/// One message of a history v2 page.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    /// The message (decrypted when a crypto module is configured and
    /// decryption worked; else as stored).
    pub message: Value,
    /// Its timetoken, when asked for with
    /// [`HistoryBuilder::include_timetoken`] (always set by
    /// [`HistoryBuilder::pages`]).
    pub timetoken: Option<u64>,
    /// Its publish metadata, when asked for with
    /// [`HistoryBuilder::include_meta`] and it has some.
    pub meta: Option<Value>,
    /// Why the message could not be decrypted; `message` is then the raw payload.
    pub error: Option<Error>,
}

/// A history v2 page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryResult {
    /// The messages, oldest first.
    pub messages: Vec<HistoryItem>,
    /// Timetoken of the oldest message of the page (0 when empty): pass it
    /// as `start` to get the page before this one.
    pub start: u64,
    /// Timetoken of the newest message of the page (0 when empty).
    pub end: u64,
}

/// Builder of a history v2 query on one channel; await it, or walk the
/// whole channel with [`pages`](Self::pages). Created by [`PubNub::history`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let page = client
///     .history()
///     .channel("chat")
///     .count(25)
///     .include_timetoken(true)
///     .await?;
/// for item in &page.messages {
///     println!("{:?} {}", item.timetoken, item.message);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a history query does nothing until it is awaited"]
#[derive(Debug, Clone)]
pub struct HistoryBuilder {
    client: PubNub,
    channel: String,
    count: Option<u32>,
    reverse: Option<bool>,
    start: Option<u64>,
    end: Option<u64>,
    include_timetoken: bool,
    include_meta: bool,
}

impl HistoryBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
        /// How many messages (1 ..= 100, default 100).
        count(count: Option<u32>);
        /// `true` takes the oldest messages of the range first instead of the
        /// newest (the page is oldest-first either way).
        reverse(reverse: Option<bool>);
        /// Only messages older than this timetoken (exclusive).
        start(timetoken: Option<u64>);
        /// Only messages at or newer than this timetoken (inclusive).
        end(timetoken: Option<u64>);
        /// Return each message's timetoken (`include_token=true`).
        include_timetoken(include: bool);
        /// Return each message's publish metadata (`include_meta=true`).
        include_meta(include: bool);
    }

    /// Walks the channel's whole history backwards, newest message first,
    /// one request per page of [`count`](Self::count) messages; each page
    /// asks for messages older than the oldest of the previous one, until
    /// a page comes back empty (or older than [`end`](Self::end)).
    ///
    /// Items always carry their timetoken. `reverse` is ignored. A failed
    /// request ends the stream with that error.
    ///
    /// ```no_run
    /// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
    /// use futures::TryStreamExt as _;
    /// let all: Vec<_> = client.history().channel("chat").pages().try_collect().await?;
    /// println!("{} messages stored", all.len());
    /// # Ok(()) }
    /// ```
    pub fn pages(self) -> impl Stream<Item = Result<HistoryItem, Error>> + Send + 'static {
        let mut template = self.include_timetoken(true);
        template.reverse = None;
        async_stream::stream! {
            let mut cursor = template.start;
            loop {
                let mut builder = template.clone();
                builder.start = cursor;
                let page = match builder.await {
                    Ok(page) => page,
                    Err(error) => {
                        yield Err(error);
                        break;
                    }
                };
                if page.messages.is_empty() {
                    break;
                }
                let oldest = page
                    .messages
                    .iter()
                    .filter_map(|item| item.timetoken)
                    .min()
                    .unwrap_or(page.start);
                for item in page.messages.into_iter().rev() {
                    yield Ok(item);
                }
                // No progress (a server ignoring `start`) must not loop forever.
                if oldest == 0 || cursor.is_some_and(|previous| oldest >= previous) {
                    break;
                }
                cursor = Some(oldest);
            }
        }
    }
}

/// Whether history items come wrapped as `{"message":…, "timetoken":…, "meta":…}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemShape {
    wrapped: bool,
}

impl Endpoint for HistoryBuilder {
    type Output = HistoryResult;
    type Context = ItemShape;

    fn build(self) -> Result<Call<ItemShape>, Error> {
        validate_name("channel", "channel", &self.channel)?;
        let count = self.count.unwrap_or(MAX_HISTORY_COUNT);
        if !(1..=MAX_HISTORY_COUNT).contains(&count) {
            return Err(Error::invalid_argument(
                "count",
                format!("{count} is out of range: PubNub returns 1 to {MAX_HISTORY_COUNT} messages per page"),
            ));
        }
        let path = format!(
            "/v2/history/sub-key/{}/channel/{}",
            encode(&self.client.inner.config.subscribe_key),
            encode(&self.channel)
        );
        let mut request = self
            .client
            .request(HttpMethod::Get, path)
            .param("count", count.to_string())
            .param_opt("reverse", self.reverse.map(bool_text))
            .param_opt("start", self.start.map(|t| t.to_string()))
            .param_opt("end", self.end.map(|t| t.to_string()));
        if self.include_timetoken {
            request = request.param("include_token", "true");
        }
        if self.include_meta {
            request = request.param("include_meta", "true");
        }
        let shape = ItemShape {
            wrapped: self.include_timetoken || self.include_meta,
        };
        Ok(Call {
            client: self.client,
            request,
            context: shape,
        })
    }

    fn parse(answer: Answer<ItemShape>) -> Result<HistoryResult, Error> {
        let decrypt = decryptor(&answer.client);
        parse_history(answer.body(), answer.context.wrapped, decrypt.as_deref())
    }
}

awaitable!(HistoryBuilder => HistoryResult);

/// A decryption function over the configured crypto module, if any.
type Decrypt = dyn Fn(&str) -> Result<Vec<u8>, Error> + Send + Sync;

fn decryptor(client: &PubNub) -> Option<Box<Decrypt>> {
    let crypto = client.inner.config.crypto.clone()?;
    Some(Box::new(move |text: &str| {
        crypto.decrypt_base64(text).map_err(Error::from)
    }))
}

/// Decrypts one stored payload: a ciphertext is a JSON string of base64;
/// the plaintext is JSON, or else kept as a string. On failure the raw
/// payload is returned with the error.
pub(crate) fn decrypt_payload(message: Value, decrypt: &Decrypt) -> (Value, Option<Error>) {
    let Value::String(text) = &message else {
        let error = Error::deserialization(
            "an encrypted history message",
            "expected a base64 ciphertext string; this message was stored unencrypted",
            message.to_string().as_bytes(),
        );
        return (message, Some(error));
    };
    match decrypt(text) {
        Ok(plain) => match serde_json::from_slice(&plain) {
            Ok(value) => (value, None),
            Err(_) => match String::from_utf8(plain) {
                Ok(text) => (Value::String(text), None),
                Err(e) => {
                    let error = Error::deserialization(
                        "a decrypted history message",
                        format!("the plaintext is not UTF-8 ({e}); is the cipher key right?"),
                        text.as_bytes(),
                    );
                    (message, Some(error))
                }
            },
        },
        Err(error) => (message, Some(error)),
    }
}

/// Reads `[items, start, end]`.
pub(crate) fn parse_history(
    body: &[u8],
    wrapped: bool,
    decrypt: Option<&Decrypt>,
) -> Result<HistoryResult, Error> {
    const WHAT: &str = "the history response";
    let value = parse_reply(WHAT, body)?;
    let Some([Value::Array(items), start, end]) = value.as_array().map(Vec::as_slice) else {
        return Err(Error::deserialization(
            WHAT,
            "expected [[messages…], start, end]",
            body,
        ));
    };
    let messages = items
        .iter()
        .map(|item| {
            let (message, timetoken, meta) = match item {
                Value::Object(map) if wrapped && map.contains_key("message") => (
                    map.get("message").cloned().unwrap_or(Value::Null),
                    map.get("timetoken").and_then(timetoken_from),
                    meta_of(map.get("meta")),
                ),
                other => (other.clone(), None, None),
            };
            let (message, error) = match decrypt {
                Some(decrypt) => decrypt_payload(message, decrypt),
                None => (message, None),
            };
            HistoryItem {
                message,
                timetoken,
                meta,
                error,
            }
        })
        .collect();
    Ok(HistoryResult {
        messages,
        start: timetoken_from(start).unwrap_or(0),
        end: timetoken_from(end).unwrap_or(0),
    })
}

/// `meta` as stored: absent, `null` and `""` all mean none.
fn meta_of(meta: Option<&Value>) -> Option<Value> {
    match meta {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(meta) => Some(meta.clone()),
    }
}

/// A message action attached to a fetched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryAction {
    /// The action type (e.g. `reaction`).
    pub action_type: String,
    /// The action value (e.g. `smiley_face`).
    pub value: String,
    /// Who added it.
    pub uuid: String,
    /// When it was added.
    pub action_timetoken: u64,
}

/// One message returned by [`PubNub::fetch_messages`].
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedMessage {
    /// The message (decrypted when a crypto module is configured and
    /// decryption worked; else as stored).
    pub message: Value,
    /// Its timetoken.
    pub timetoken: u64,
    /// Its publish metadata, when asked for and present.
    pub meta: Option<Value>,
    /// The publisher's user id, when asked for with `include_uuid`.
    pub uuid: Option<String>,
    /// PubNub's message type when asked for: `None`/0 message, 1 signal,
    /// 2 App Context, 3 message action, 4 file.
    pub message_type: Option<u32>,
    /// The publisher's custom message type, when asked for and set.
    pub custom_message_type: Option<String>,
    /// Message actions, with [`FetchMessagesBuilder::include_actions`].
    pub actions: Vec<HistoryAction>,
    /// Why the message could not be decrypted; `message` is then the raw payload.
    pub error: Option<Error>,
}

/// Where the next fetch-messages page starts, when the server has more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchMore {
    /// Pass as [`FetchMessagesBuilder::start`] for the next page.
    pub start: u64,
    /// The page size the server used.
    pub max: Option<u32>,
    /// The server's URL for the next page.
    pub url: Option<String>,
}

/// The answer to [`PubNub::fetch_messages`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FetchMessagesResult {
    /// Messages per channel, oldest first.
    pub channels: BTreeMap<String, Vec<FetchedMessage>>,
    /// Present when more messages are available.
    pub more: Option<FetchMore>,
}

/// Builder of a fetch-messages (history v3) query on one or more channels;
/// await it. Created by [`PubNub::fetch_messages`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let fetched = client
///     .fetch_messages()
///     .channels(["a", "b"])
///     .max(25)
///     .include_uuid(true)
///     .include_meta(true)
///     .await?;
/// for (channel, messages) in &fetched.channels {
///     println!("{channel}: {} messages", messages.len());
/// }
/// # Ok(()) }
/// ```
#[must_use = "a fetch-messages query does nothing until it is awaited"]
#[derive(Debug)]
pub struct FetchMessagesBuilder {
    client: PubNub,
    channels: Vec<String>,
    max: Option<u32>,
    start: Option<u64>,
    end: Option<u64>,
    include_meta: Option<bool>,
    include_message_type: Option<bool>,
    include_custom_message_type: Option<bool>,
    include_uuid: Option<bool>,
    include_actions: bool,
}

impl FetchMessagesBuilder {
    channels_setters!(
        /// The channels (replaces any given before; at least one).
        channels
    );

    setters! {
        /// Messages per channel: 1 ..= 100 for one channel, 1 ..= 25 for several
        /// or with actions. Unset, the server uses those maxima.
        max(max: Option<u32>);
        /// Only messages older than this timetoken (exclusive).
        start(timetoken: Option<u64>);
        /// Only messages at or newer than this timetoken (inclusive).
        end(timetoken: Option<u64>);
        /// Return publish metadata (`include_meta`).
        include_meta(include: Option<bool>);
        /// Return PubNub's message type (`include_message_type`).
        include_message_type(include: Option<bool>);
        /// Return the custom message type (`include_custom_message_type`).
        include_custom_message_type(include: Option<bool>);
        /// Return the publisher's user id (`include_uuid`).
        include_uuid(include: Option<bool>);
        /// Return message actions too (one channel only, at most 25 messages).
        include_actions(include: bool);
    }
}

impl Endpoint for FetchMessagesBuilder {
    type Output = FetchMessagesResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_channel_list(&self.channels)?;
        if self.include_actions && self.channels.len() > 1 {
            return Err(Error::invalid_argument(
                "channels",
                "fetching with message actions takes exactly one channel",
            ));
        }
        let limit = if self.channels.len() == 1 && !self.include_actions {
            MAX_FETCH_SINGLE
        } else {
            MAX_FETCH_MULTI
        };
        if let Some(max) = self.max {
            if !(1..=limit).contains(&max) {
                return Err(Error::invalid_argument(
                    "max",
                    format!(
                        "{max} is out of range: 1 to {limit} messages per channel for this request"
                    ),
                ));
            }
        }
        let sub = encode(&self.client.inner.config.subscribe_key).into_owned();
        let path = if self.include_actions {
            format!(
                "/v3/history-with-actions/sub-key/{sub}/channel/{}",
                encode_list(&self.channels)
            )
        } else {
            format!(
                "/v3/history/sub-key/{sub}/channel/{}",
                encode_list(&self.channels)
            )
        };
        let request = self
            .client
            .request(HttpMethod::Get, path)
            .param_opt("max", self.max.map(|m| m.to_string()))
            .param_opt("start", self.start.map(|t| t.to_string()))
            .param_opt("end", self.end.map(|t| t.to_string()))
            .param_opt("include_meta", self.include_meta.map(bool_text))
            .param_opt(
                "include_message_type",
                self.include_message_type.map(bool_text),
            )
            .param_opt(
                "include_custom_message_type",
                self.include_custom_message_type.map(bool_text),
            )
            .param_opt("include_uuid", self.include_uuid.map(bool_text));
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<FetchMessagesResult, Error> {
        let decrypt = decryptor(&answer.client);
        parse_fetch_messages(answer.body(), decrypt.as_deref())
    }
}

awaitable!(FetchMessagesBuilder => FetchMessagesResult);

/// Reads `{"status":200,"error":false,"channels":{"ch":[…]},"more":{…}}`.
pub(crate) fn parse_fetch_messages(
    body: &[u8],
    decrypt: Option<&Decrypt>,
) -> Result<FetchMessagesResult, Error> {
    const WHAT: &str = "the fetch-messages response";
    let value = parse_reply(WHAT, body)?;
    let mut channels = BTreeMap::new();
    match value.get("channels") {
        Some(Value::Object(map)) => {
            for (name, items) in map {
                let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
                let parsed = items
                    .iter()
                    .map(|item| parse_fetched(item, decrypt, body))
                    .collect::<Result<Vec<_>, _>>()?;
                channels.insert(name.clone(), parsed);
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(Error::deserialization(
                WHAT,
                "`channels` is not an object",
                body,
            ))
        }
    }
    let more = value.get("more").and_then(|more| {
        Some(FetchMore {
            start: more.get("start").and_then(timetoken_from)?,
            max: more
                .get("max")
                .and_then(Value::as_u64)
                .and_then(|m| u32::try_from(m).ok()),
            url: str_field(more, "url"),
        })
    });
    Ok(FetchMessagesResult { channels, more })
}

fn parse_fetched(
    item: &Value,
    decrypt: Option<&Decrypt>,
    body: &[u8],
) -> Result<FetchedMessage, Error> {
    let timetoken = item
        .get("timetoken")
        .and_then(timetoken_from)
        .ok_or_else(|| {
            Error::deserialization(
                "the fetch-messages response",
                format!(
                    "a message has no timetoken: {}",
                    truncated_text(item.to_string().as_bytes())
                ),
                body,
            )
        })?;
    let message = item.get("message").cloned().unwrap_or(Value::Null);
    let (message, error) = match decrypt {
        Some(decrypt) => decrypt_payload(message, decrypt),
        None => (message, None),
    };
    // Seen as a number (JS mocks) and as the string "1" (a Python cassette).
    let message_type = item.get("message_type").and_then(u32_from);
    Ok(FetchedMessage {
        message,
        timetoken,
        meta: meta_of(item.get("meta")),
        uuid: str_field(item, "uuid"),
        message_type,
        custom_message_type: str_field(item, "custom_message_type"),
        actions: parse_history_actions(item.get("actions")),
        error,
    })
}

/// `{"<type>": {"<value>": [{"uuid": …, "actionTimetoken": …}]}}`, flattened.
fn parse_history_actions(actions: Option<&Value>) -> Vec<HistoryAction> {
    let Some(Value::Object(types)) = actions else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (action_type, values) in types {
        let Some(values) = values.as_object() else {
            continue;
        };
        for (value, entries) in values {
            for entry in entries.as_array().into_iter().flatten() {
                out.push(HistoryAction {
                    action_type: action_type.clone(),
                    value: value.clone(),
                    uuid: str_field(entry, "uuid").unwrap_or_default(),
                    action_timetoken: entry
                        .get("actionTimetoken")
                        .and_then(timetoken_from)
                        .unwrap_or(0),
                });
            }
        }
    }
    out
}

/// The answer to [`PubNub::message_counts`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageCountsResult {
    /// Messages newer than the given timetoken, per channel.
    pub channels: BTreeMap<String, u64>,
}

/// Builder of a message-counts query; await it. Created by
/// [`PubNub::message_counts`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub, last_read: u64) -> Result<(), pubnub_rx::Error> {
/// let unread = client
///     .message_counts()
///     .channels(["a", "b"])
///     .timetoken(last_read)
///     .await?;
/// println!("unread in a: {:?}", unread.channels.get("a"));
/// # Ok(()) }
/// ```
#[must_use = "a message-counts query does nothing until it is awaited"]
#[derive(Debug)]
pub struct MessageCountsBuilder {
    client: PubNub,
    channels: Vec<String>,
    timetoken: Option<u64>,
    channel_timetokens: Vec<u64>,
}

impl MessageCountsBuilder {
    channels_setters!(
        /// The channels (replaces any given before; at least one).
        channels
    );

    setters! {
        /// Count messages newer than this timetoken on every channel.
        timetoken(timetoken: Option<u64>);
    }

    /// One timetoken per channel, in the order of the channels.
    pub fn channel_timetokens(mut self, timetokens: impl IntoIterator<Item = u64>) -> Self {
        self.channel_timetokens = timetokens.into_iter().collect();
        self
    }
}

impl Endpoint for MessageCountsBuilder {
    type Output = MessageCountsResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_channel_list(&self.channels)?;
        let path = format!(
            "/v3/history/sub-key/{}/message-counts/{}",
            encode(&self.client.inner.config.subscribe_key),
            encode_list(&self.channels)
        );
        let request = self.client.request(HttpMethod::Get, path);
        let request = match (self.timetoken, self.channel_timetokens.as_slice()) {
            (Some(timetoken), []) => request.param("timetoken", timetoken.to_string()),
            (None, [one]) => request.param("timetoken", one.to_string()),
            (None, many) if !many.is_empty() => {
                if many.len() != self.channels.len() {
                    return Err(Error::invalid_argument(
                        "channel_timetokens",
                        format!(
                            "has {} timetokens for {} channels: give one per channel",
                            many.len(),
                            self.channels.len()
                        ),
                    ));
                }
                let list: Vec<String> = many.iter().map(u64::to_string).collect();
                request.param("channelsTimetoken", list.join(","))
            }
            (Some(_), _) => {
                return Err(Error::invalid_argument(
                    "timetoken",
                    "give either one timetoken or one per channel, not both",
                ))
            }
            (None, _) => {
                return Err(Error::invalid_argument(
                    "timetoken",
                    "is missing: count messages newer than which timetoken?",
                ))
            }
        };
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<MessageCountsResult, Error> {
        parse_message_counts(answer.body())
    }
}

awaitable!(MessageCountsBuilder => MessageCountsResult);

pub(crate) fn parse_message_counts(body: &[u8]) -> Result<MessageCountsResult, Error> {
    const WHAT: &str = "the message-counts response";
    let value = parse_reply(WHAT, body)?;
    let map = value
        .get("channels")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::deserialization(WHAT, "expected a `channels` object", body))?;
    Ok(MessageCountsResult {
        channels: map
            .iter()
            .map(|(name, count)| (name.clone(), count.as_u64().unwrap_or(0)))
            .collect(),
    })
}

/// Builder of a delete-messages call; await it. Created by
/// [`PubNub::delete_messages`]. Needs the keyset's "delete from history"
/// setting (and the delete permission under Access Manager).
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// // Everything stored on the channel:
/// client.delete_messages().channel("chat").await?;
/// # Ok(()) }
/// ```
#[must_use = "a delete does nothing until it is awaited"]
#[derive(Debug)]
pub struct DeleteMessagesBuilder {
    client: PubNub,
    channel: String,
    start: Option<u64>,
    end: Option<u64>,
}

impl DeleteMessagesBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
        /// Range bound passed as `start` (PubNub's delete range is
        /// `start` exclusive … `end` inclusive).
        start(timetoken: Option<u64>);
        /// Range bound passed as `end`.
        end(timetoken: Option<u64>);
    }
}

impl Endpoint for DeleteMessagesBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_name("channel", "channel", &self.channel)?;
        let path = format!(
            "/v3/history/sub-key/{}/channel/{}",
            encode(&self.client.inner.config.subscribe_key),
            encode(&self.channel)
        );
        let request = self
            .client
            .request(HttpMethod::Delete, path)
            .param_opt("start", self.start.map(|t| t.to_string()))
            .param_opt("end", self.end.map(|t| t.to_string()));
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the delete-messages response", answer.body())
    }
}

awaitable!(DeleteMessagesBuilder => ());

impl PubNub {
    /// Messages stored on one channel (history v2). See [`HistoryBuilder`].
    pub fn history(&self) -> HistoryBuilder {
        HistoryBuilder {
            client: self.clone(),
            channel: String::new(),
            count: None,
            reverse: None,
            start: None,
            end: None,
            include_timetoken: false,
            include_meta: false,
        }
    }

    /// Messages stored on one or more channels (history v3). See
    /// [`FetchMessagesBuilder`].
    pub fn fetch_messages(&self) -> FetchMessagesBuilder {
        FetchMessagesBuilder {
            client: self.clone(),
            channels: Vec::new(),
            max: None,
            start: None,
            end: None,
            include_meta: None,
            include_message_type: None,
            include_custom_message_type: None,
            include_uuid: None,
            include_actions: false,
        }
    }

    /// How many messages were stored on channels since a timetoken. See
    /// [`MessageCountsBuilder`].
    pub fn message_counts(&self) -> MessageCountsBuilder {
        MessageCountsBuilder {
            client: self.clone(),
            channels: Vec::new(),
            timetoken: None,
            channel_timetokens: Vec::new(),
        }
    }

    /// Deletes stored messages of a channel. See [`DeleteMessagesBuilder`].
    pub fn delete_messages(&self) -> DeleteMessagesBuilder {
        DeleteMessagesBuilder {
            client: self.clone(),
            channel: String::new(),
            start: None,
            end: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failing(_: &str) -> Result<Vec<u8>, Error> {
        Err(Error::invalid_argument("cipher", "wrong key"))
    }

    fn reversing(text: &str) -> Result<Vec<u8>, Error> {
        Ok(format!("\"{}\"", text.chars().rev().collect::<String>()).into_bytes())
    }

    #[test]
    fn history_numbers_keep_all_digits() {
        let r = parse_history(
            br#"[[{"message":"a","timetoken":16376215880582193,"meta":""},{"message":{"x":1},"timetoken":"16376215916206737","meta":{"k":"v"}}],16376215880582193,16376215916206737]"#,
            true,
            None,
        )
        .unwrap();
        assert_eq!(r.start, 16376215880582193);
        assert_eq!(r.messages[0].timetoken, Some(16376215880582193));
        assert_eq!(r.messages[0].meta, None);
        assert_eq!(r.messages[1].timetoken, Some(16376215916206737));
        assert_eq!(r.messages[1].meta, Some(json!({"k": "v"})));
    }

    #[test]
    fn unwrapped_items_are_messages_even_if_they_look_wrapped() {
        let r = parse_history(br#"[[{"message":"inner"}],1,1]"#, false, None).unwrap();
        assert_eq!(r.messages[0].message, json!({"message": "inner"}));
    }

    #[test]
    fn decryption_failures_are_per_item() {
        let body = br#"[["abc", {"plain": true}, "xyz"],1,3]"#;
        let reversing: &Decrypt = &reversing;
        let failing: &Decrypt = &failing;
        let ok = parse_history(body, false, Some(reversing)).unwrap();
        assert_eq!(ok.messages[0].message, json!("cba"));
        assert!(ok.messages[0].error.is_none());
        assert!(matches!(
            ok.messages[1].error,
            Some(Error::Deserialization { .. })
        ));
        assert_eq!(ok.messages[1].message, json!({"plain": true}));
        let bad = parse_history(body, false, Some(failing)).unwrap();
        assert_eq!(bad.messages.len(), 3);
        assert_eq!(bad.messages[2].message, json!("xyz"));
        assert!(bad.messages.iter().all(|m| m.error.is_some()));
    }

    #[test]
    fn history_errors() {
        assert!(matches!(
            parse_history(
                br#"{"status":400,"error":true,"error_message":"Invalid Arguments"}"#,
                false,
                None
            ),
            Err(Error::Http { status: 400, .. })
        ));
        assert!(matches!(
            parse_history(br#"[1,2]"#, false, None),
            Err(Error::Deserialization { .. })
        ));
    }

    #[test]
    fn fetch_items_and_actions() {
        let body = br#"{"status":200,"error":false,"channels":{"c":[{"message":"hi","timetoken":"16485843895487893","message_type":"1","uuid":"u","meta":"","actions":{"reaction":{"smile":[{"uuid":"v","actionTimetoken":"16485843895487894"}]}}}]},"more":{"url":"/v3/x","start":"16485843895487800","max":25}}"#;
        let r = parse_fetch_messages(body, None).unwrap();
        let m = &r.channels["c"][0];
        assert_eq!(m.timetoken, 16485843895487893);
        assert_eq!(m.message_type, Some(1));
        assert_eq!(m.uuid.as_deref(), Some("u"));
        assert_eq!(m.meta, None);
        assert_eq!(
            m.actions,
            vec![HistoryAction {
                action_type: "reaction".into(),
                value: "smile".into(),
                uuid: "v".into(),
                action_timetoken: 16485843895487894
            }]
        );
        assert_eq!(r.more.unwrap().start, 16485843895487800);
    }

    #[test]
    fn message_counts_parse() {
        let r = parse_message_counts(
            br#"{"status": 200, "error": false, "error_message": "", "channels": {"a":1,"b":0}}"#,
        )
        .unwrap();
        assert_eq!(r.channels["a"], 1);
        assert_eq!(r.channels["b"], 0);
    }
}
