//! Typed events from wire envelopes: messages and signals (decrypted once,
//! pointing into their shared batch), presence, App Context, message actions
//! and files. An envelope whose payload lacks the shape its type promises is
//! logged and dropped, never a panic.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::envelope::Envelope;
use super::event::{
    AppContextData, AppContextEvent, AppContextKind, Batch, Event, FileData, FileEvent, Message,
    MessageAction, MessageActionData, MessageKind, Presence, PresenceData, PresenceEvent,
};
use super::multiplexer::PRESENCE_SUFFIX;
use crate::api::timetoken_from;
use crate::client::ClientInner;
use crate::Error;

/// Whether an envelope is a message or a signal (`None`: another event).
pub(crate) fn message_kind(body: &[u8], envelope: &Envelope) -> Option<MessageKind> {
    if envelope.channel.as_str(body).ends_with(PRESENCE_SUFFIX) {
        return None;
    }
    match envelope.message_type {
        1 => Some(MessageKind::Signal),
        2..=4 => None,
        // 0, and unknown types delivered as messages.
        _ => Some(MessageKind::Message),
    }
}

/// Turns envelope `index` of `batch` into a typed event; `None` (logged)
/// when its payload does not have the shape its type promises. Messages and
/// signals point into the batch (their decryption, if any, is done).
pub(crate) fn build_event(
    client: &ClientInner,
    batch: &Arc<Batch>,
    index: usize,
    envelope: &Envelope,
) -> Option<Event> {
    let body = &batch.body;
    let channel = envelope.channel.as_str(body);
    if let Some(stripped) = channel.strip_suffix(PRESENCE_SUFFIX) {
        return presence_event(body, envelope, stripped).map(|p| Event::Presence(Presence::new(p)));
    }
    match envelope.message_type {
        0 => Message::new(batch, index, MessageKind::Message).map(Event::Message),
        1 => Message::new(batch, index, MessageKind::Signal).map(Event::Signal),
        2 => app_context_event(body, envelope).map(|e| Event::AppContext(AppContextEvent::new(e))),
        3 => message_action_event(body, envelope)
            .map(|e| Event::MessageAction(MessageAction::new(e))),
        4 => file_event(client, body, envelope).map(|e| Event::File(FileEvent::new(e))),
        other => {
            tracing::warn!(
                channel,
                message_type = other,
                "unknown envelope type: delivered as a message"
            );
            Message::new(batch, index, MessageKind::Message).map(Event::Message)
        }
    }
}

/// `None` when the payload is not a string (so not ciphertext).
pub(crate) fn decrypt_payload(client: &ClientInner, raw: &str) -> Option<Result<Bytes, Error>> {
    let crypto = client.config.crypto.as_ref()?;
    if !raw.starts_with('"') {
        return None;
    }
    // Borrowed unless the string holds escapes (base64 rarely does).
    let text: std::borrow::Cow<'_, str> = match serde_json::from_str::<JsonText<'_>>(raw) {
        Ok(JsonText(text)) => text,
        Err(_) => return None,
    };
    Some(
        crypto
            .decrypt_base64(&text)
            .map_err(Error::from)
            .map(|plain| {
                // The plaintext is the publisher's JSON; anything else is delivered
                // as a JSON string of the text, as the PubNub SDKs do.
                if serde_json::from_slice::<serde::de::IgnoredAny>(&plain).is_ok() {
                    Bytes::from(plain)
                } else {
                    let text = String::from_utf8_lossy(&plain).into_owned();
                    Bytes::from(serde_json::to_string(&text).unwrap_or_default())
                }
            }),
    )
}

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(serde::Deserialize)]
struct JsonText<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

fn subscription_name(body: &[u8], envelope: &Envelope, channel: &str) -> String {
    envelope
        .subscription
        .as_ref()
        .map(|s| s.as_str(body))
        .map(|s| s.strip_suffix(PRESENCE_SUFFIX).unwrap_or(s).to_owned())
        .unwrap_or_else(|| channel.to_owned())
}

fn parse_payload(body: &[u8], envelope: &Envelope, what: &str) -> Option<Value> {
    let raw = envelope.payload.as_str(body);
    match serde_json::from_str(raw) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(%error, "unreadable {what} payload dropped: {raw}");
            None
        }
    }
}

fn u64_field(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(timetoken_from).unwrap_or(0)
}

fn strings(value: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .find_map(|key| value.get(*key).and_then(Value::as_array))
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn presence_event(body: &[u8], envelope: &Envelope, channel: &str) -> Option<PresenceData> {
    let d = parse_payload(body, envelope, "presence")?;
    let action = d.get("action").and_then(Value::as_str).unwrap_or_default();
    let uuid = d
        .get("uuid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let occupancy = u64_field(&d, "occupancy");
    let timestamp = u64_field(&d, "timestamp");
    let state = d.get("data").or_else(|| d.get("state")).cloned();
    let event = match action {
        "join" => PresenceEvent::Join {
            uuid,
            occupancy,
            timestamp,
            state,
        },
        "leave" => PresenceEvent::Leave {
            uuid,
            occupancy,
            timestamp,
        },
        "timeout" => PresenceEvent::Timeout {
            uuid,
            occupancy,
            timestamp,
        },
        "state-change" => PresenceEvent::StateChange {
            uuid,
            occupancy,
            timestamp,
            state: state.unwrap_or(Value::Null),
        },
        "interval" => PresenceEvent::Interval {
            occupancy,
            timestamp,
            // The docs spell the deltas `joined`/`left`/`timedout`; the
            // service and every SDK use `join`/`leave`/`timeout`. Accept both.
            join: strings(&d, &["join", "joined"]),
            leave: strings(&d, &["leave", "left"]),
            timeout: strings(&d, &["timeout", "timedout"]),
            here_now_refresh: d
                .get("here_now_refresh")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        other => {
            tracing::warn!(channel, action = other, "unknown presence action dropped");
            return None;
        }
    };
    Some(PresenceData {
        channel: channel.to_owned(),
        subscription: subscription_name(body, envelope, channel),
        timetoken: envelope.published.timetoken,
        event,
    })
}

fn app_context_event(body: &[u8], envelope: &Envelope) -> Option<AppContextData> {
    let d = parse_payload(body, envelope, "App Context")?;
    let channel = envelope.channel.as_str(body);
    let kind = match d.get("type").and_then(Value::as_str) {
        Some("uuid" | "user") => AppContextKind::User,
        Some("channel" | "space") => AppContextKind::Channel,
        Some("membership") => AppContextKind::Membership,
        other => {
            tracing::warn!(channel, kind = ?other, "unknown App Context event type dropped");
            return None;
        }
    };
    Some(AppContextData {
        channel: channel.to_owned(),
        subscription: subscription_name(body, envelope, channel),
        timetoken: envelope.published.timetoken,
        set: d.get("event").and_then(Value::as_str) != Some("delete"),
        kind,
        data: d.get("data").cloned().unwrap_or(Value::Null),
    })
}

fn message_action_event(body: &[u8], envelope: &Envelope) -> Option<MessageActionData> {
    let d = parse_payload(body, envelope, "message action")?;
    let channel = envelope.channel.as_str(body);
    let data = d.get("data")?;
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(MessageActionData {
        channel: channel.to_owned(),
        subscription: subscription_name(body, envelope, channel),
        timetoken: envelope.published.timetoken,
        added: d.get("event").and_then(Value::as_str) != Some("removed"),
        action_type: text("type"),
        value: text("value"),
        message_timetoken: u64_field(data, "messageTimetoken"),
        action_timetoken: u64_field(data, "actionTimetoken"),
        uuid: envelope
            .publisher
            .as_ref()
            .map(|p| p.as_str(body).to_owned())
            .or_else(|| data.get("uuid").and_then(Value::as_str).map(str::to_owned)),
    })
}

fn file_event(client: &ClientInner, body: &[u8], envelope: &Envelope) -> Option<FileData> {
    let channel = envelope.channel.as_str(body);
    let raw = envelope.payload.as_str(body);
    let (d, decryption_error) = match decrypt_payload(client, raw) {
        Some(Ok(plain)) => (serde_json::from_slice::<Value>(&plain).ok()?, None),
        Some(Err(error)) => (Value::Null, Some(error)),
        None => (parse_payload(body, envelope, "file")?, None),
    };
    let file = d.get("file");
    let text = |key: &str| {
        file.and_then(|f| f.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(FileData {
        channel: channel.to_owned(),
        subscription: subscription_name(body, envelope, channel),
        timetoken: envelope.published.timetoken,
        publisher: envelope
            .publisher
            .as_ref()
            .map(|p| p.as_str(body).to_owned()),
        message: d.get("message").cloned().filter(|m| !m.is_null()),
        file_id: text("id"),
        file_name: text("name"),
        decryption_error,
    })
}
