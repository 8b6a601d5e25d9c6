//! Message persistence (PROTOCOL.md §6): history v2, fetch messages v3 (with
//! and without actions), message counts and delete.
//!
//! Range rules (PubNub docs): `start` is exclusive, `end` inclusive. With
//! only `start`, history v2 returns messages older than it — or, with
//! `reverse=true`, newer than it (the docs' "page from oldest to newest");
//! with only `end`, messages at or newer than it; with both, the messages
//! between them whichever is larger. Without `reverse` the newest `count`
//! messages of the range are returned, with it the oldest; items are always
//! oldest first. Fetch v3 returns the newest `max` of the range. Delete
//! removes the range the same way (start exclusive, end inclusive; both
//! absent = everything). Expired messages (publish `ttl`) are never returned.
//! With actions (`/v3/history-with-actions/…`, or `include_message_actions`
//! on `/v3/history/…`) every item carries the `actions` stored for it
//! (`actions.rs`).
//!
//! Payloads and `meta` are answered **verbatim**: the stored JSON text (as
//! published, with insignificant whitespace removed, as subscribe delivers
//! it) is spliced into the answer, never parsed into a `Value` and
//! re-serialized, so key order, number spelling (`1.50`,
//! `12345678901234567890`) and `\u` escapes come back as they were sent.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::access::{Permission, Resources};
use super::app::App;
use super::errors::{ok_json, ApiError};
use super::keyset::KeysetHandle;
use super::message::StoredMessage;
use super::storage::Table;
use super::wire::{split_list, RequestCtx};

const HISTORY_MAX_COUNT: usize = 100;
const FETCH_MAX_SINGLE: usize = 100;
const FETCH_MAX_MULTI: usize = 25;

#[derive(Debug, Clone, Copy, Default)]
struct Range {
    start: Option<u64>,
    end: Option<u64>,
}

impl Range {
    fn from_query(ctx: &RequestCtx) -> Result<Self, ApiError> {
        let parse = |key: &str| -> Result<Option<u64>, ApiError> {
            match ctx.query.non_empty(key) {
                None => Ok(None),
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                    ApiError::history(format!("Invalid Arguments: `{key}` must be a timetoken"))
                }),
            }
        };
        Ok(Self {
            start: parse("start")?,
            end: parse("end")?,
        })
    }

    /// Whether timetoken `tt` is in the range; `newer_than_start` flips the
    /// meaning of a lone `start` (history v2 `reverse=true`).
    fn contains(self, tt: u64, newer_than_start: bool) -> bool {
        match (self.start, self.end) {
            (None, None) => true,
            (Some(start), None) if newer_than_start => tt > start,
            (Some(start), None) => tt < start,
            (None, Some(end)) => tt >= end,
            (Some(start), Some(end)) => tt >= start.min(end) && tt <= start.max(end) && tt != start,
        }
    }
}

/// The live messages of `history` in `range`, oldest first, limited to the
/// newest (or with `oldest` the oldest) `count`. The flag says whether the
/// range held more.
fn select(
    history: Option<&VecDeque<Arc<StoredMessage>>>,
    range: Range,
    count: usize,
    oldest: bool,
    now: u64,
) -> (Vec<Arc<StoredMessage>>, bool) {
    let in_range: Vec<&Arc<StoredMessage>> = history
        .into_iter()
        .flatten()
        .filter(|m| m.is_live(now) && range.contains(m.timetoken, oldest))
        .collect();
    let more = in_range.len() > count;
    let picked = if oldest {
        in_range.into_iter().take(count).cloned().collect()
    } else {
        let skip = in_range.len().saturating_sub(count);
        in_range.into_iter().skip(skip).cloned().collect()
    };
    (picked, more)
}

/// A timetoken as history v2 writes it: a number, or with
/// `string_message_token` a string.
#[derive(Serialize)]
#[serde(untagged)]
enum Token {
    Number(u64),
    Text(String),
}

/// A `meta` as history v2 writes it: the stored JSON, or `""` for a
/// message published without one (2023 recording).
#[derive(Serialize)]
#[serde(untagged)]
enum Meta<'a> {
    Raw(&'a RawValue),
    Empty(&'static str),
}

/// One history v2 item with `include_token` / `include_meta`.
#[derive(Serialize)]
struct HistoryItem<'a> {
    message: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<Meta<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timetoken: Option<Token>,
}

/// A history v2 item: the bare stored message, or the object form.
#[derive(Serialize)]
#[serde(untagged)]
enum HistoryEntry<'a> {
    Bare(&'a RawValue),
    Object(HistoryItem<'a>),
}

/// One fetch v3 item. Payload and `meta` are the stored JSON text, spliced
/// in as received: PubNub hands back what was published, key order and
/// number spelling included, so nothing here goes through a `Value`.
#[derive(Serialize)]
struct FetchItem<'a> {
    message: &'a RawValue,
    timetoken: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uuid: Option<&'a str>,
    /// `null` for an ordinary message, as both MIT clients expect; absent
    /// unless `include_message_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    message_type: Option<Option<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_message_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<Map<String, Value>>,
}

/// The fetch v3 answer.
#[derive(Serialize)]
struct FetchBody<'a> {
    status: u16,
    error: bool,
    error_message: &'static str,
    channels: BTreeMap<&'a str, Vec<FetchItem<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    more: Option<Value>,
}

/// Serializes a response built from borrowed raw JSON; cannot fail for
/// these types, `null` only if that ever changed.
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn count_param(ctx: &RequestCtx, key: &str, default: usize, max: usize) -> usize {
    ctx.query
        .get(key)
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(default, |n| n.min(max))
}

/// `GET /v2/history/sub-key/{sub}/channel/{ch}`.
pub(crate) fn history_v2(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channel: &str,
) -> Result<Response<Body>, ApiError> {
    let count = count_param(ctx, "count", HISTORY_MAX_COUNT, HISTORY_MAX_COUNT);
    let range = Range::from_query(ctx)?;
    let reverse = ctx.query.flag("reverse", false);
    let include_token = ctx.query.flag("include_token", false);
    let include_meta = ctx.query.flag("include_meta", false);
    let string_tokens = ctx.query.flag("string_message_token", false);
    app.authorize(keyset, ctx, Permission::Read, &Resources::channel(channel))?;
    let now = app.clock.now();
    let (msgs, _) = {
        let state = keyset.lock();
        let history = state.store.channels.get(channel).map(|c| &c.history);
        select(history, range, count, reverse, now)
    };
    let items: Vec<HistoryEntry<'_>> = msgs
        .iter()
        .map(|m| {
            if !include_token && !include_meta {
                return HistoryEntry::Bare(&m.data);
            }
            HistoryEntry::Object(HistoryItem {
                message: &m.data,
                timetoken: include_token.then(|| {
                    if string_tokens {
                        Token::Text(m.timetoken.to_string())
                    } else {
                        Token::Number(m.timetoken)
                    }
                }),
                meta: include_meta.then(|| m.meta.as_deref().map_or(Meta::Empty(""), Meta::Raw)),
            })
        })
        .collect();
    let first = msgs.first().map_or(0, |m| m.timetoken);
    let last = msgs.last().map_or(0, |m| m.timetoken);
    Ok(ok_json(to_json(&(items, first, last))))
}

/// `GET /v3/history[-with-actions]/sub-key/{sub}/channel/{chs}`.
pub(crate) fn fetch_messages(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: &str,
    with_actions: bool,
) -> Result<Response<Body>, ApiError> {
    let channels = split_list(channels_segment);
    if channels.is_empty() {
        return Err(ApiError::history(
            "Invalid Arguments: name at least one channel",
        ));
    }
    let with_actions = with_actions || ctx.query.flag("include_message_actions", false);
    if with_actions && channels.len() > 1 {
        return Err(ApiError::history(
            "Invalid Arguments: history with actions takes exactly one channel",
        ));
    }
    let (default, max) = if with_actions || channels.len() > 1 {
        (FETCH_MAX_MULTI, FETCH_MAX_MULTI)
    } else {
        (FETCH_MAX_SINGLE, FETCH_MAX_SINGLE)
    };
    let count = count_param(ctx, "max", default, max);
    let range = Range::from_query(ctx)?;
    let include_meta = ctx.query.flag("include_meta", false);
    let include_uuid = ctx.query.flag("include_uuid", false);
    let include_type = ctx.query.flag("include_message_type", false);
    let include_custom_type = ctx.query.flag("include_custom_message_type", false);
    app.authorize(
        keyset,
        ctx,
        Permission::Read,
        &Resources::channels(channels.iter().cloned()),
    )?;
    let now = app.clock.now();
    type Selected = (
        String,
        Vec<(Arc<StoredMessage>, Option<Map<String, Value>>)>,
        bool,
    );
    let selected: Vec<Selected> = {
        let state = keyset.lock();
        channels
            .iter()
            .map(|channel| {
                let data = state.store.channels.get(channel.as_str());
                let (msgs, more) = select(data.map(|c| &c.history), range, count, false, now);
                let msgs = msgs
                    .into_iter()
                    .map(|m| {
                        let actions = with_actions.then(|| {
                            data.map(|c| c.actions.for_message(m.timetoken))
                                .unwrap_or_default()
                        });
                        (m, actions)
                    })
                    .collect();
                (channel.clone(), msgs, more)
            })
            .collect()
    };
    let mut by_channel = BTreeMap::new();
    let mut more = None;
    for (channel, msgs, truncated) in &selected {
        if msgs.is_empty() {
            continue;
        }
        let items: Vec<FetchItem<'_>> = msgs
            .iter()
            .map(|(m, actions)| FetchItem {
                message: &m.data,
                timetoken: m.timetoken.to_string(),
                meta: m.meta.as_deref().filter(|_| include_meta),
                uuid: m.publisher.as_deref().filter(|_| include_uuid),
                message_type: include_type.then(|| m.kind.type_number().filter(|n| *n != 0)),
                custom_message_type: m
                    .custom_message_type
                    .as_deref()
                    .filter(|_| include_custom_type),
                actions: actions.clone(),
            })
            .collect();
        if *truncated && selected.len() == 1 {
            if let Some((oldest, _)) = msgs.first() {
                let path = if with_actions {
                    "history-with-actions"
                } else {
                    "history"
                };
                more = Some(json!({
                    "url": format!(
                        "/v3/{path}/sub-key/{}/channel/{}?max={count}&start={}",
                        percent_encode(&keyset.subscribe_key),
                        percent_encode(channel),
                        oldest.timetoken
                    ),
                    "start": oldest.timetoken.to_string(),
                    "max": count
                }));
            }
        }
        by_channel.insert(channel.as_str(), items);
    }
    Ok(ok_json(to_json(&FetchBody {
        status: 200,
        error: false,
        error_message: "",
        channels: by_channel,
        more,
    })))
}

/// `s` percent-encoded for a path segment or query value of a `more` link.
pub(crate) fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `GET /v3/history/sub-key/{sub}/message-counts/{chs}`.
pub(crate) fn message_counts(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: &str,
) -> Result<Response<Body>, ApiError> {
    let channels = split_list(channels_segment);
    if channels.is_empty() {
        return Err(ApiError::history(
            "Invalid Arguments: name at least one channel",
        ));
    }
    let parse = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::history(format!("Invalid Arguments: `{v}` is not a timetoken")))
    };
    let timetokens: Vec<u64> =
        match (
            ctx.query.non_empty("timetoken"),
            ctx.query.non_empty("channelsTimetoken"),
        ) {
            (_, Some(list)) => {
                let list = list.split(',').map(parse).collect::<Result<Vec<_>, _>>()?;
                match list.as_slice() {
                    [one] => vec![*one; channels.len()],
                    _ if list.len() == channels.len() => list,
                    _ => return Err(ApiError::history(
                        "Invalid Arguments: `channelsTimetoken` needs one timetoken per channel",
                    )),
                }
            }
            (Some(one), None) => vec![parse(one)?; channels.len()],
            (None, None) => {
                return Err(ApiError::history(
                    "Invalid Arguments: pass `timetoken` or `channelsTimetoken`",
                ))
            }
        };
    app.authorize(
        keyset,
        ctx,
        Permission::Read,
        &Resources::channels(channels.iter().cloned()),
    )?;
    let now = app.clock.now();
    let state = keyset.lock();
    let counts: Map<String, Value> = channels
        .iter()
        .zip(timetokens)
        .map(|(channel, after)| {
            let n = state.store.channels.get(channel.as_str()).map_or(0, |c| {
                c.history
                    .iter()
                    .filter(|m| m.timetoken > after && m.is_live(now))
                    .count()
            });
            (channel.clone(), json!(n))
        })
        .collect();
    Ok(ok_json(
        json!({"status": 200, "error": false, "error_message": "", "channels": counts}).to_string(),
    ))
}

/// `DELETE /v3/history/sub-key/{sub}/channel/{chs}`.
pub(crate) fn delete_messages(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channels_segment: &str,
) -> Result<Response<Body>, ApiError> {
    let channels = split_list(channels_segment);
    if channels.is_empty() {
        return Err(ApiError::history(
            "Invalid Arguments: name at least one channel",
        ));
    }
    let range = Range::from_query(ctx)?;
    app.authorize(
        keyset,
        ctx,
        Permission::Delete,
        &Resources::channels(channels.iter().cloned()),
    )?;
    let mut guard = keyset.lock();
    let state = &mut *guard;
    for channel in &channels {
        if let Some(data) = state.store.channels.get_mut(channel.as_str()) {
            data.history.retain(|m| {
                let deleted = range.contains(m.timetoken, false);
                if deleted {
                    state.persist.delete(Table::Messages, &m.seq);
                }
                !deleted
            });
        }
    }
    Ok(ok_json(
        r#"{"status":200,"error":false,"error_message":""}"#,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_rules() {
        let r = Range {
            start: Some(10),
            end: None,
        };
        assert!(r.contains(9, false) && !r.contains(10, false) && !r.contains(11, false));
        assert!(r.contains(11, true) && !r.contains(10, true));
        let r = Range {
            start: None,
            end: Some(10),
        };
        assert!(r.contains(10, false) && r.contains(11, false) && !r.contains(9, false));
        let r = Range {
            start: Some(20),
            end: Some(10),
        };
        assert!(r.contains(10, false) && r.contains(19, false) && !r.contains(20, false));
        let r = Range {
            start: Some(10),
            end: Some(20),
        };
        assert!(!r.contains(10, false) && r.contains(20, false));
        let r = Range {
            start: Some(10),
            end: Some(10),
        };
        assert!(!r.contains(10, false));
    }
}
