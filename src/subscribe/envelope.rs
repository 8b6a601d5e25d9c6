//! Wire types of a subscribe v2 response (PROTOCOL.md §4.2–4.3) and their
//! zero-copy decoding.
//!
//! The response body stays in one shared [`Bytes`] buffer. serde parses it
//! with borrowed fields (`&str`, `&RawValue`), and every field of a decoded
//! envelope is a [`Span`] — a byte range into that buffer — so decoding
//! allocates nothing per message beyond the envelope list itself. A string
//! that contained JSON escapes cannot be borrowed; only then is it owned.
//!
//! The body's UTF-8 is validated once, then parsed as `&str` (serde_json
//! then skips validating each string), in one pass: each `m` item becomes an
//! [`Envelope`] as soon as it is read.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Error;

/// The subscribe cursor: a timetoken and its region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cursor {
    /// 17-digit timetoken.
    pub timetoken: u64,
    /// Region (`r`) the timetoken belongs to.
    pub region: u32,
}

/// Where a decoded text field lives.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Span {
    /// Byte range into the response body (valid UTF-8 by construction).
    Range(u32, u32),
    /// The field held JSON escapes, so serde unescaped it into a new string.
    Owned(Box<str>),
}

impl Span {
    pub(crate) fn as_str<'a>(&'a self, body: &'a [u8]) -> &'a str {
        match self {
            Self::Range(start, end) => body
                .get(*start as usize..*end as usize)
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .unwrap_or(""),
            Self::Owned(text) => text,
        }
    }

    fn text(body: &[u8], value: Cow<'_, str>) -> Self {
        match value {
            Cow::Borrowed(s) => {
                Self::range(body, s.as_bytes()).unwrap_or_else(|| Self::Owned(s.into()))
            }
            Cow::Owned(s) => Self::Owned(s.into_boxed_str()),
        }
    }

    fn raw(body: &[u8], value: &RawValue) -> Self {
        let text = value.get();
        Self::range(body, text.as_bytes()).unwrap_or_else(|| Self::Owned(text.into()))
    }

    /// The position of `part` inside `body`, when `part` borrows from it.
    fn range(body: &[u8], part: &[u8]) -> Option<Self> {
        let range = subslice_range(body, part)?;
        Some(Self::Range(
            u32::try_from(range.start).ok()?,
            u32::try_from(range.end).ok()?,
        ))
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range(start, end) => write!(f, "{start}..{end}"),
            Self::Owned(text) => write!(f, "{text:?}"),
        }
    }
}

/// Byte range of `part` within `base`, if `part` points into `base`.
fn subslice_range(base: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= base.len()).then_some(start..end)
}

/// One decoded envelope (`m[]` item).
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// `c`: the channel the message was published on.
    pub(crate) channel: Span,
    /// `b`: the subscription it matched through, when it differs from `c`.
    pub(crate) subscription: Option<Span>,
    /// `d`: the payload, raw JSON.
    pub(crate) payload: Span,
    /// `e`: 0 message, 1 signal, 2 App Context, 3 message action, 4 file.
    pub(crate) message_type: u8,
    /// `f`
    pub(crate) flags: u32,
    /// `i`: the publisher's uuid.
    pub(crate) publisher: Option<Span>,
    /// `p`: the message's own timetoken and region.
    pub(crate) published: Cursor,
    /// `u`: user metadata, raw JSON.
    pub(crate) meta: Option<Span>,
    /// `cmt`: custom message type.
    pub(crate) custom_message_type: Option<Span>,
    /// `s`: publisher sequence number.
    pub(crate) sequence: Option<u32>,
}

/// A decoded subscribe response: the next cursor and the envelopes.
#[derive(Debug, Clone)]
pub(crate) struct SubscribeResponse {
    pub(crate) body: Bytes,
    pub(crate) cursor: Cursor,
    pub(crate) envelopes: Vec<Envelope>,
}

#[derive(Deserialize)]
struct WireCursor {
    #[serde(deserialize_with = "timetoken")]
    t: u64,
    #[serde(default)]
    r: u32,
}

/// A string field borrowed from the body when it holds no escapes.
///
/// (`#[serde(borrow)]` borrows a bare `Cow<str>` field, but an
/// `Option<Cow<str>>` goes through `Cow`'s own `Deserialize`, which always
/// allocates; this visitor borrows in both places.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

#[derive(Deserialize)]
struct WireEnvelope<'a> {
    #[serde(borrow)]
    c: Text<'a>,
    #[serde(borrow, default)]
    b: Option<Text<'a>>,
    #[serde(borrow)]
    d: &'a RawValue,
    #[serde(default)]
    e: Option<u8>,
    #[serde(default)]
    f: Option<u32>,
    #[serde(borrow, default)]
    i: Option<Text<'a>>,
    p: WireCursor,
    #[serde(borrow, default)]
    u: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cmt: Option<Text<'a>>,
    #[serde(default)]
    s: Option<u32>,
}

/// A timetoken as a JSON string or number, parsed without `f64`.
fn timetoken<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct TimetokenVisitor;
    impl Visitor<'_> for TimetokenVisitor {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a timetoken (string or integer)")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.parse()
                .map_err(|_| E::custom(format!("timetoken `{v}` is not an integer")))
        }
    }
    deserializer.deserialize_any(TimetokenVisitor)
}

impl WireEnvelope<'_> {
    /// The envelope with its text fields as spans of `base`.
    fn into_envelope(self, base: &[u8]) -> Envelope {
        let channel = Span::text(base, self.c.0);
        // `b` equal to `c` means "no separate subscription" (§4.3).
        let subscription = self
            .b
            .filter(|b| channel.as_str(base) != b.0.as_ref())
            .map(|b| Span::text(base, b.0));
        Envelope {
            channel,
            subscription,
            payload: Span::raw(base, self.d),
            message_type: self.e.unwrap_or(0),
            flags: self.f.unwrap_or(0),
            publisher: self.i.map(|i| Span::text(base, i.0)),
            published: Cursor {
                timetoken: self.p.t,
                region: self.p.r,
            },
            meta: self.u.map(|u| Span::raw(base, u)),
            custom_message_type: self.cmt.map(|c| Span::text(base, c.0)),
            sequence: self.s,
        }
    }
}

/// Decodes the whole response in one pass: each `m` item becomes an
/// [`Envelope`] (spans of `base`) as soon as it is parsed, with no list of
/// intermediate wire structs.
struct ResponseSeed<'b> {
    base: &'b [u8],
}

impl<'de> de::DeserializeSeed<'de> for ResponseSeed<'_> {
    type Value = (Cursor, Vec<Envelope>);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResponseSeed<'_> {
    type Value = (Cursor, Vec<Envelope>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a subscribe response object with `t` and `m`")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut cursor = None;
        let mut envelopes = Vec::new();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.0.as_ref() {
                "t" => {
                    let t: WireCursor = map.next_value()?;
                    cursor = Some(Cursor {
                        timetoken: t.t,
                        region: t.r,
                    });
                }
                "m" => envelopes = map.next_value_seed(EnvelopesSeed { base: self.base })?,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let cursor = cursor.ok_or_else(|| de::Error::missing_field("t"))?;
        Ok((cursor, envelopes))
    }
}

/// The `m` array (`null` reads as empty).
struct EnvelopesSeed<'b> {
    base: &'b [u8],
}

impl<'de> de::DeserializeSeed<'de> for EnvelopesSeed<'_> {
    type Value = Vec<Envelope>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for EnvelopesSeed<'_> {
    type Value = Vec<Envelope>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of envelopes")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut envelopes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(wire) = seq.next_element::<WireEnvelope<'de>>()? {
            envelopes.push(wire.into_envelope(self.base));
        }
        Ok(envelopes)
    }
}

impl SubscribeResponse {
    /// Decodes a subscribe response body. Never panics on bad input.
    pub(crate) fn decode(body: Bytes) -> Result<Self, Error> {
        let failed = |e: &dyn fmt::Display| {
            Error::deserialization("the subscribe response", e.to_string(), &body)
        };
        // Validating the UTF-8 once, up front, lets serde_json read from a
        // `&str` and skip validating every string it meets (what parsing
        // from bytes costs).
        let text = std::str::from_utf8(&body).map_err(|e| failed(&e))?;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let (cursor, envelopes) = de::DeserializeSeed::deserialize(
            ResponseSeed {
                base: text.as_bytes(),
            },
            &mut deserializer,
        )
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|e| failed(&e))?;
        Ok(Self {
            body,
            cursor,
            envelopes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"t":{"t":"17379929965457610","r":42},"m":[{"a":"3","f":0,"i":"uuid-mock","s":1,"p":{"t":"17379929965457610","r":42},"k":"sub-c-d0b8","c":"test-channel","d":"hey","b":"test-group","u":{"x":1},"cmt":"chat"},{"a":"2","f":0,"p":{"t":"14720341194420285","r":1},"k":"sub","c":"ch-pnpres","d":{"action":"join","timestamp":1472034119,"uuid":"listener","occupancy":1},"b":"ch-pnpres"}]}"#;

    #[test]
    fn decodes_cassette_envelopes_without_copying() {
        let r = SubscribeResponse::decode(Bytes::from_static(BODY.as_bytes())).unwrap();
        assert_eq!(
            r.cursor,
            Cursor {
                timetoken: 17379929965457610,
                region: 42
            }
        );
        assert_eq!(r.envelopes.len(), 2);
        let m = &r.envelopes[0];
        assert!(matches!(m.channel, Span::Range(..)));
        assert_eq!(m.channel.as_str(&r.body), "test-channel");
        assert_eq!(
            m.subscription.as_ref().unwrap().as_str(&r.body),
            "test-group"
        );
        assert_eq!(m.payload.as_str(&r.body), r#""hey""#);
        assert_eq!(m.publisher.as_ref().unwrap().as_str(&r.body), "uuid-mock");
        assert_eq!(m.meta.as_ref().unwrap().as_str(&r.body), r#"{"x":1}"#);
        assert_eq!(
            m.custom_message_type.as_ref().unwrap().as_str(&r.body),
            "chat"
        );
        assert_eq!(m.sequence, Some(1));
        for span in [&m.subscription, &m.publisher, &m.custom_message_type] {
            assert!(
                matches!(span, Some(Span::Range(..))),
                "optional text fields borrow too: {span:?}"
            );
        }
        let p = &r.envelopes[1];
        assert!(
            p.subscription.is_none(),
            "b == c means a direct subscription"
        );
        assert_eq!(p.published.timetoken, 14720341194420285);
    }

    #[test]
    fn escaped_strings_are_owned_and_numbers_accepted() {
        let body = r#"{"t":{"t":17000000000000001,"r":1},"m":[{"c":"caf\u00e9 \"x\"","d":1,"p":{"t":"17000000000000001","r":1}}]}"#;
        let r = SubscribeResponse::decode(Bytes::from_static(body.as_bytes())).unwrap();
        assert_eq!(r.cursor.timetoken, 17000000000000001);
        assert_eq!(r.envelopes[0].channel.as_str(&r.body), "café \"x\"");
        assert!(matches!(r.envelopes[0].channel, Span::Owned(_)));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            "",
            "{",
            "[]",
            r#"{"t":{"t":"x","r":1},"m":[]}"#,
            r#"{"t":{"t":"1"},"m":[{"c":1}]}"#,
        ] {
            let err = SubscribeResponse::decode(Bytes::from_static(body.as_bytes())).unwrap_err();
            assert!(
                matches!(err, Error::Deserialization { .. }),
                "{body}: {err:?}"
            );
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[derive(Debug, Clone)]
    struct Wire {
        channel: String,
        subscription: Option<String>,
        payload: Value,
        message_type: Option<u8>,
        publisher: Option<String>,
        timetoken: u64,
        as_number: bool,
        meta: Option<Value>,
        custom_message_type: Option<String>,
    }

    fn wire() -> impl Strategy<Value = Wire> {
        (
            any::<String>(),
            proptest::option::of(any::<String>()),
            json_value(),
            proptest::option::of(0u8..5),
            proptest::option::of(any::<String>()),
            10_000_000_000_000_000u64..99_999_999_999_999_999,
            any::<bool>(),
            proptest::option::of(json_value()),
            proptest::option::of("[A-Za-z0-9_-]{3,50}"),
        )
            .prop_map(
                |(
                    channel,
                    subscription,
                    payload,
                    message_type,
                    publisher,
                    timetoken,
                    as_number,
                    meta,
                    custom_message_type,
                )| Wire {
                    channel,
                    subscription,
                    payload,
                    message_type,
                    publisher,
                    timetoken,
                    as_number,
                    meta,
                    custom_message_type,
                },
            )
    }

    fn render(w: &Wire) -> Value {
        let tt = if w.as_number {
            json!(w.timetoken)
        } else {
            json!(w.timetoken.to_string())
        };
        let mut envelope = json!({"a": "1", "f": 0, "k": "sub", "c": w.channel, "d": w.payload, "p": {"t": tt, "r": 7}});
        let object = envelope.as_object_mut().unwrap();
        if let Some(b) = &w.subscription {
            object.insert("b".into(), json!(b));
        }
        if let Some(e) = w.message_type {
            object.insert("e".into(), json!(e));
        }
        if let Some(i) = &w.publisher {
            object.insert("i".into(), json!(i));
        }
        if let Some(u) = &w.meta {
            object.insert("u".into(), u.clone());
        }
        if let Some(cmt) = &w.custom_message_type {
            object.insert("cmt".into(), json!(cmt));
        }
        envelope
    }

    proptest! {
        #[test]
        fn arbitrary_valid_envelopes_decode_to_their_fields(envelopes in prop::collection::vec(wire(), 0..8), cursor in any::<u64>()) {
            let body = json!({"t": {"t": cursor.to_string(), "r": 3}, "m": envelopes.iter().map(render).collect::<Vec<_>>()});
            let decoded = SubscribeResponse::decode(Bytes::from(serde_json::to_vec(&body).unwrap())).unwrap();
            prop_assert_eq!(decoded.cursor, Cursor { timetoken: cursor, region: 3 });
            prop_assert_eq!(decoded.envelopes.len(), envelopes.len());
            let b = &decoded.body;
            for (got, want) in decoded.envelopes.iter().zip(&envelopes) {
                prop_assert_eq!(got.channel.as_str(b), want.channel.as_str());
                let expected_subscription = want.subscription.as_deref().filter(|s| *s != want.channel);
                prop_assert_eq!(got.subscription.as_ref().map(|s| s.as_str(b)), expected_subscription);
                let payload: Value = serde_json::from_str(got.payload.as_str(b)).unwrap();
                prop_assert_eq!(&payload, &want.payload);
                prop_assert_eq!(got.message_type, want.message_type.unwrap_or(0));
                prop_assert_eq!(got.publisher.as_ref().map(|p| p.as_str(b)), want.publisher.as_deref());
                prop_assert_eq!(got.published, Cursor { timetoken: want.timetoken, region: 7 });
                let meta = got.meta.as_ref().map(|m| serde_json::from_str::<Value>(m.as_str(b)).unwrap());
                // `"u": null` means no meta.
                prop_assert_eq!(meta.as_ref(), want.meta.as_ref().filter(|m| !m.is_null()));
                prop_assert_eq!(got.custom_message_type.as_ref().map(|c| c.as_str(b)), want.custom_message_type.as_deref());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = SubscribeResponse::decode(Bytes::from(bytes));
        }

        #[test]
        fn mutated_valid_bodies_never_panic_the_decoder(w in wire(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut text = serde_json::to_vec(&json!({"t": {"t": "1", "r": 1}, "m": [render(&w)]})).unwrap();
            let at = cut.index(text.len());
            text[at] = byte;
            let _ = SubscribeResponse::decode(Bytes::from(text.clone()));
            text.truncate(at);
            let _ = SubscribeResponse::decode(Bytes::from(text));
        }
    }
}
