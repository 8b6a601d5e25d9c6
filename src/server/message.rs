//! One message as the server keeps it, and its subscribe envelope.
//!
//! The envelope (PROTOCOL.md §4.3) is rendered **once**, when the message is
//! published, without the parts that vary: `p` (known only once the
//! timetoken is assigned, and cheap) and `b` (which depends on how each
//! subscriber matched the channel). A response splices those in with a few
//! byte copies, so fanning a message out to thousands of parked long-polls
//! never re-serializes its payload.
//!
//! Payloads are kept as compact JSON text in their original key order;
//! a `serde_json::Value` is built lazily, only if a filter expression needs it.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::budget::{Charge, StoreBudget};
use super::errors::json_string;

/// What kind of event a message is (envelope `e`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKind {
    /// A published message (`e` absent).
    Message,
    /// A signal (`e: 1`).
    Signal,
    /// A presence event on a `-pnpres` channel (no `e`, no `i`).
    Presence,
    /// An App Context event (`e: 2`).
    AppContext,
    /// A message-action event (`e: 3`, PROTOCOL.md §4.5).
    Action,
    /// A file message (`e: 4`, PROTOCOL.md §12).
    File,
}

impl MessageKind {
    /// The envelope/history `message_type` number, `None` for presence.
    pub(crate) fn type_number(self) -> Option<u8> {
        match self {
            Self::Message => Some(0),
            Self::Signal => Some(1),
            Self::AppContext => Some(2),
            Self::Action => Some(3),
            Self::File => Some(4),
            Self::Presence => None,
        }
    }

    /// Whether `filter-expr` applies (PROTOCOL.md §4.7: messages, signals,
    /// files — not the events the server makes itself: presence and App
    /// Context, which carry no publisher `meta` to filter on).
    pub(crate) fn is_filtered(self) -> bool {
        !matches!(self, Self::Presence | Self::AppContext)
    }
}

/// A message or event held by the server.
#[derive(Debug)]
pub(crate) struct StoredMessage {
    /// Server-issued timetoken: the subscribe cursor space. Unique and
    /// strictly increasing in publish order.
    pub(crate) seq: u64,
    /// The timetoken clients see (`p.t`, history): `seq`, or the publisher's
    /// `ptto` override.
    pub(crate) timetoken: u64,
    pub(crate) channel: Arc<str>,
    pub(crate) kind: MessageKind,
    /// Compact payload JSON.
    pub(crate) data: Box<RawValue>,
    /// Compact `meta` JSON.
    pub(crate) meta: Option<Box<RawValue>>,
    pub(crate) publisher: Option<Arc<str>>,
    pub(crate) custom_message_type: Option<String>,
    /// History expiry (timetoken units), from the publish `ttl`.
    pub(crate) expires_at: Option<u64>,
    /// Whether the message is kept in history.
    pub(crate) stored: bool,
    /// `{…"d":…` — the envelope without `p`, `b` and the closing brace.
    envelope_head: Bytes,
    data_value: OnceLock<Value>,
    meta_value: OnceLock<Option<Value>>,
    /// What this message costs the store's global byte budget; given back
    /// when the message is dropped.
    charge: Option<Charge>,
}

/// The parts of a message known before it gets a timetoken.
#[derive(Debug)]
pub(crate) struct NewMessage {
    pub(crate) channel: Arc<str>,
    pub(crate) kind: MessageKind,
    pub(crate) data: Box<RawValue>,
    pub(crate) meta: Option<Box<RawValue>>,
    pub(crate) publisher: Option<Arc<str>>,
    pub(crate) custom_message_type: Option<String>,
    pub(crate) sequence: Option<u64>,
    pub(crate) stored: bool,
    /// History time-to-live in timetoken units (`None`: keyset retention).
    pub(crate) ttl: Option<u64>,
    /// Publisher's timetoken override.
    pub(crate) ptto: Option<u64>,
}

/// A pre-rendered envelope head; build it outside any lock.
#[derive(Debug)]
pub(crate) struct PreparedMessage {
    new: NewMessage,
    head: Bytes,
}

impl NewMessage {
    /// An event the server publishes itself (presence, App Context): no
    /// publisher, not stored in history.
    pub(crate) fn server_event(channel: Arc<str>, kind: MessageKind, data: Box<RawValue>) -> Self {
        Self {
            channel,
            kind,
            data,
            meta: None,
            publisher: None,
            custom_message_type: None,
            sequence: None,
            stored: false,
            ttl: None,
            ptto: None,
        }
    }

    /// Renders the envelope head for `subscribe_key`.
    pub(crate) fn prepare(self, subscribe_key: &str) -> PreparedMessage {
        let mut head = BytesMut::with_capacity(self.data.get().len() + 128);
        head.put_slice(br#"{"a":"1","f":0"#);
        if let Some(publisher) = &self.publisher {
            head.put_slice(br#","i":"#);
            head.put_slice(json_string(publisher).as_bytes());
        }
        if self.kind != MessageKind::Presence {
            head.put_slice(br#","s":"#);
            head.put_slice(self.sequence.unwrap_or(1).to_string().as_bytes());
        }
        head.put_slice(br#","k":"#);
        head.put_slice(json_string(subscribe_key).as_bytes());
        head.put_slice(br#","c":"#);
        head.put_slice(json_string(&self.channel).as_bytes());
        head.put_slice(br#","d":"#);
        head.put_slice(self.data.get().as_bytes());
        match self.kind {
            MessageKind::Signal => head.put_slice(br#","e":1"#),
            MessageKind::AppContext => head.put_slice(br#","e":2"#),
            MessageKind::Action => head.put_slice(br#","e":3"#),
            MessageKind::File => head.put_slice(br#","e":4"#),
            MessageKind::Message | MessageKind::Presence => {}
        }
        if let Some(meta) = &self.meta {
            head.put_slice(br#","u":"#);
            head.put_slice(meta.get().as_bytes());
        }
        if let Some(cmt) = &self.custom_message_type {
            head.put_slice(br#","cmt":"#);
            head.put_slice(json_string(cmt).as_bytes());
        }
        PreparedMessage {
            new: self,
            head: head.freeze(),
        }
    }
}

impl PreparedMessage {
    /// The publisher's sequence number (`seq` of the publish), if any.
    pub(crate) fn sequence(&self) -> Option<u64> {
        self.new.sequence
    }

    /// Completes the message with its server timetoken.
    pub(crate) fn finish(self, seq: u64) -> StoredMessage {
        let NewMessage {
            channel,
            kind,
            data,
            meta,
            publisher,
            custom_message_type,
            stored,
            ttl,
            ptto,
            ..
        } = self.new;
        let timetoken = ptto.unwrap_or(seq);
        StoredMessage {
            seq,
            timetoken,
            channel,
            kind,
            data,
            meta,
            publisher,
            custom_message_type,
            expires_at: ttl.map(|ttl| timetoken.saturating_add(ttl)),
            stored,
            envelope_head: self.head,
            data_value: OnceLock::new(),
            meta_value: OnceLock::new(),
            charge: None,
        }
    }
}

impl StoredMessage {
    /// The heap and struct bytes this message holds: its pre-rendered
    /// envelope, payload, `meta`, publisher and custom type, the struct
    /// itself and the two store slots that point at it.
    pub(crate) fn footprint(&self) -> usize {
        self.envelope_head.len()
            + self.data.get().len()
            + self.meta.as_ref().map_or(0, |m| m.get().len())
            + self.publisher.as_ref().map_or(0, |p| p.len())
            + self.custom_message_type.as_ref().map_or(0, String::len)
            + std::mem::size_of::<Self>()
            + 4 * std::mem::size_of::<usize>()
    }

    /// Charges the message's [footprint](Self::footprint) to `budget`.
    pub(crate) fn charged_to(mut self, budget: &Arc<StoreBudget>) -> Self {
        self.charge = Some(budget.charge(self.footprint()));
        self
    }

    /// The bytes this message is charged (0 when not charged).
    pub(crate) fn charged_bytes(&self) -> usize {
        self.charge.as_ref().map_or(0, Charge::bytes)
    }

    /// Appends the full envelope, with `b` when the subscriber matched
    /// through a group, a wildcard or a presence channel.
    pub(crate) fn write_envelope(&self, out: &mut BytesMut, matched_by: Option<&str>) {
        out.put_slice(&self.envelope_head);
        // Writing into `BytesMut` cannot fail.
        let _ = write!(out, r#","p":{{"t":"{}","r":1}}"#, self.timetoken);
        if let Some(b) = matched_by {
            out.put_slice(br#","b":"#);
            out.put_slice(json_string(b).as_bytes());
        }
        out.put_u8(b'}');
    }

    /// The payload as a JSON value (parsed on first use).
    pub(crate) fn data_value(&self) -> &Value {
        self.data_value
            .get_or_init(|| serde_json::from_str(self.data.get()).unwrap_or(Value::Null))
    }

    /// The `meta` as a JSON value (parsed on first use).
    pub(crate) fn meta_value(&self) -> Option<&Value> {
        self.meta_value
            .get_or_init(|| {
                self.meta
                    .as_ref()
                    .and_then(|meta| serde_json::from_str(meta.get()).ok())
            })
            .as_ref()
    }

    /// Whether the message is still in history at `now`.
    pub(crate) fn is_live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// A stored message as the data dir keeps it (table `messages`, keyed by
/// `seq`): everything needed to render it again, the payload verbatim.
#[derive(Debug, Serialize)]
pub(crate) struct KeptMessageRef<'a> {
    timetoken: u64,
    channel: &'a str,
    message_type: u8,
    data: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    publisher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_message_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

/// [`KeptMessageRef`] read back.
#[derive(Debug, Deserialize)]
pub(crate) struct KeptMessage {
    timetoken: u64,
    channel: String,
    message_type: u8,
    data: Box<RawValue>,
    #[serde(default)]
    meta: Option<Box<RawValue>>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    custom_message_type: Option<String>,
    #[serde(default)]
    sequence: Option<u64>,
    #[serde(default)]
    expires_at: Option<u64>,
}

impl StoredMessage {
    /// The record the data dir keeps for this message.
    pub(crate) fn kept(&self, sequence: Option<u64>) -> KeptMessageRef<'_> {
        KeptMessageRef {
            timetoken: self.timetoken,
            channel: &self.channel,
            message_type: self.kind.type_number().unwrap_or(0),
            data: &self.data,
            meta: self.meta.as_deref(),
            publisher: self.publisher.as_deref(),
            custom_message_type: self.custom_message_type.as_deref(),
            sequence,
            expires_at: self.expires_at,
        }
    }
}

impl KeptMessage {
    /// The message again, as it was published, for `subscribe_key`, with
    /// its server sequence number `seq`; its envelope is rendered anew.
    pub(crate) fn restore(self, subscribe_key: &str, seq: u64) -> StoredMessage {
        let kind = match self.message_type {
            1 => MessageKind::Signal,
            2 => MessageKind::AppContext,
            3 => MessageKind::Action,
            4 => MessageKind::File,
            _ => MessageKind::Message,
        };
        NewMessage {
            channel: Arc::from(self.channel),
            kind,
            data: self.data,
            meta: self.meta,
            publisher: self.publisher.map(Arc::from),
            custom_message_type: self.custom_message_type,
            sequence: self.sequence,
            stored: true,
            ttl: self.expires_at.map(|at| at.saturating_sub(self.timetoken)),
            ptto: (self.timetoken != seq).then_some(self.timetoken),
        }
        .prepare(subscribe_key)
        .finish(seq)
    }
}

/// Removes insignificant whitespace from valid JSON text, keeping key order
/// and string contents exactly.
pub(crate) fn minify_json(valid: &str) -> String {
    let mut out = String::with_capacity(valid.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in valid.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// Parses JSON text into compact raw JSON; `None` if it is not JSON.
pub(crate) fn compact_json(text: &str) -> Option<Box<RawValue>> {
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    RawValue::from_string(minify_json(raw.get())).ok()
}

/// Compact raw JSON of a value built by the server.
pub(crate) fn raw_of(value: &Value) -> Box<RawValue> {
    // Serializing a `Value` cannot fail; the default is `null`.
    serde_json::value::to_raw_value(value).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A finished message on `ch` (also used by other modules' tests).
    pub(crate) fn sample(kind: MessageKind, meta: Option<&str>) -> StoredMessage {
        NewMessage {
            channel: Arc::from("ch"),
            kind,
            data: compact_json(r#"{"z": 1, "a": "x y"}"#).unwrap(),
            meta: meta.and_then(compact_json),
            publisher: Some(Arc::from("me")),
            custom_message_type: None,
            sequence: None,
            stored: true,
            ttl: None,
            ptto: None,
        }
        .prepare("sub-c-1")
        .finish(17000000000000001)
    }

    #[test]
    fn minify_keeps_order_and_strings() {
        assert_eq!(
            minify_json("{ \"b\" : [1, 2],\n \"a\": \"x \\\" y\" }"),
            r#"{"b":[1,2],"a":"x \" y"}"#
        );
    }

    #[test]
    fn envelope_has_the_documented_fields() {
        let msg = sample(MessageKind::Message, Some(r#"{"k": "v"}"#));
        let mut out = BytesMut::new();
        msg.write_envelope(&mut out, None);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"a":"1","f":0,"i":"me","s":1,"k":"sub-c-1","c":"ch","d":{"z":1,"a":"x y"},"u":{"k":"v"},"p":{"t":"17000000000000001","r":1}}"#
        );
        let mut out = BytesMut::new();
        sample(MessageKind::Signal, None).write_envelope(&mut out, Some("grp"));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["e"], 1);
        assert_eq!(v["b"], "grp");
    }

    #[test]
    fn lazy_values() {
        let msg = sample(MessageKind::Message, Some(r#"{"k": "v"}"#));
        assert_eq!(msg.data_value()["z"], 1);
        assert_eq!(msg.meta_value().unwrap()["k"], "v");
    }
}
