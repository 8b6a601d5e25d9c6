//! Time, publish, fire and signal (PROTOCOL.md §2, §3).
//!
//! * The message is the last path segment (GET; a literal `/` in it is kept)
//!   or the body (POST; sniffed for compression, never form-decoded). It must
//!   be JSON; it is forwarded as compact JSON in its original key order.
//! * Size: `len(encodeURIComponent(channel) + encodeURIComponent(message)) +
//!   97 > publish_size_limit` → 400 `[0,"Message Too Large",tt]`. Signals:
//!   compact JSON longer than `signal_size_limit` → 400
//!   `[0,"Signal size too large",tt]`.
//! * `store=0` keeps a message out of history; `ttl` (hours, `0` = forever)
//!   bounds its life in history; `meta` becomes the envelope `u`; `seqn` the
//!   envelope `s` (1 when absent, as the real service sends);
//!   `custom_message_type` (or the Rust SDK's older `type`) the envelope `cmt`;
//!   `ptto` overrides the visible timetoken; the publisher's `uuid` is `i`.
//! * **Fire** is a publish with `store=0` and `norep=true|1` — exactly what
//!   the SDKs send for fire, and indistinguishable from it on the wire. With
//!   no Functions to run it is answered `Sent` and neither stored nor
//!   delivered, as PubNub documents for fire.
//! * **Mobile Push**: a publish on a channel with registered devices hands
//!   the stored message to `push.rs`, which records the notifications its
//!   `pn_apns` / `pn_fcm` / `pn_gcm` keys would send; other channels cost
//!   one hash lookup under the lock already taken.
//! * Message JSON that does not parse → 400 `[0,"Invalid JSON",tt]` (meta too).
//!   `custom_message_type` is passed through unchecked; the SDKs validate it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;

use super::access::{Permission, Resources};
use super::app::App;
use super::errors::{ok_json, ApiError};
use super::keyset::KeysetHandle;
use super::message::{compact_json, MessageKind, NewMessage};
use super::metrics::Published;
use super::wire::{uri_component_len, RequestCtx};

/// Envelope overhead PubNub adds when sizing a publish (PROTOCOL.md §1.8).
const PUBLISH_OVERHEAD: usize = 97;

/// `GET /time/0` → `[<timetoken>]`.
pub(crate) fn time(app: &App) -> Response<Body> {
    ok_json(format!("[{}]", app.clock.tick()))
}

fn sent(timetoken: u64) -> Response<Body> {
    ok_json(format!(r#"[1,"Sent","{timetoken}"]"#))
}

/// Publish or signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublishKind {
    Publish,
    Signal,
    /// A file message (`/v1/files/publish-file/…`, `files.rs`): a publish
    /// stored and delivered as message type 4.
    File,
}

/// `/publish/{pub}/{sub}/0/{ch}/0[/{msg}]` and `/signal/…`.
pub(crate) fn publish(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    kind: PublishKind,
    publish_key: &str,
    channel: &str,
    path_message: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let reject = |message: &str| ApiError::publish(message, app.clock.tick());
    if keyset
        .publish_key
        .as_deref()
        .is_some_and(|expected| expected != publish_key)
    {
        return Err(reject("Invalid Key"));
    }
    if channel.is_empty() {
        return Err(reject("Invalid Channel"));
    }
    let text = match path_message {
        Some(text) => text,
        None => std::str::from_utf8(&ctx.body).map_err(|_| reject("Invalid JSON"))?,
    };
    let data = compact_json(text).ok_or_else(|| reject("Invalid JSON"))?;
    match kind {
        PublishKind::Publish | PublishKind::File => {
            let size = uri_component_len(channel) + uri_component_len(text) + PUBLISH_OVERHEAD;
            if size > app.config.publish_size_limit {
                return Err(reject("Message Too Large"));
            }
        }
        PublishKind::Signal => {
            if data.get().len() > app.config.signal_size_limit {
                return Err(reject("Signal size too large"));
            }
        }
    }
    let meta = match ctx.query.non_empty("meta") {
        None => None,
        Some(text) => Some(compact_json(text).ok_or_else(|| reject("Invalid JSON"))?),
    };
    app.authorize(keyset, ctx, Permission::Write, &Resources::channel(channel))?;

    let store = kind != PublishKind::Signal && ctx.query.flag("store", true);
    let norep = ctx.query.flag("norep", false);
    if kind == PublishKind::Publish && !store && norep {
        // Fire: for Functions only; nothing to store or deliver here.
        app.metrics.publish(Published::Fire);
        return Ok(sent(app.clock.tick()));
    }
    let ttl = ctx
        .query
        .get("ttl")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|hours| hours.is_finite() && *hours > 0.0)
        // Whole 100 ns units; hours beyond u64 saturate.
        .map(|hours| (hours * 3600.0 * 10_000_000.0) as u64);
    let message = NewMessage {
        channel: Arc::from(channel),
        kind: match kind {
            PublishKind::Publish => MessageKind::Message,
            PublishKind::Signal => MessageKind::Signal,
            PublishKind::File => MessageKind::File,
        },
        data,
        meta,
        publisher: ctx.uuid().map(Arc::from),
        custom_message_type: ctx
            .query
            .non_empty("custom_message_type")
            .or_else(|| ctx.query.non_empty("type"))
            .map(str::to_owned),
        sequence: ctx.query.get("seqn").and_then(|v| v.trim().parse().ok()),
        stored: store,
        ttl,
        ptto: ctx
            .query
            .get("ptto")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|tt| *tt > 0),
    }
    .prepare(&keyset.subscribe_key);
    let (stored, push_devices) = {
        let mut state = keyset.lock();
        let stored = state.insert(message);
        // Mobile Push: one lookup; the message is read only when the
        // channel has registered devices (`push.rs`).
        let devices = (kind == PublishKind::Publish)
            .then(|| state.push.devices_on(channel))
            .flatten();
        (stored, devices)
    };
    if let Some(devices) = push_devices {
        super::push::on_publish(keyset, &stored, devices);
    }
    let timetoken = stored.timetoken;
    app.metrics.publish(match kind {
        PublishKind::Publish => Published::Message,
        PublishKind::Signal => Published::Signal,
        PublishKind::File => Published::File,
    });
    Ok(sent(timetoken))
}
