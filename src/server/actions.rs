//! Message actions (PROTOCOL.md §10): add, remove and get, stored with the
//! channel's messages, announced to subscribers as `e:3` events (§4.5) and
//! returned by fetch v3 with actions (§6.2).
//!
//! Actions live in the channel's [`ChannelData`](super::keyset::ChannelData)
//! next to its history, keyed by their own timetoken; a channel keeps at most
//! [`MAX_ACTIONS_PER_CHANNEL`] (the oldest go first). Access Manager: get
//! needs read, add needs write, remove needs delete on the channel.
//! Adding the same type and value to the same message twice as the same uuid
//! is refused with 409 "Action Already Added", as PubNub does; removing an
//! action that does not exist answers 200 (removal is idempotent here).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::to_raw_value;
use serde_json::{json, Map, Value};

use super::access::{Permission, Resources};
use super::app::App;
use super::errors::{ok_json, ApiError};
use super::history::percent_encode;
use super::keyset::KeysetHandle;
use super::message::{MessageKind, NewMessage, PreparedMessage};
use super::storage::{Persist, Table};
use super::wire::RequestCtx;

/// The most actions one channel keeps; the oldest are dropped past it.
pub(crate) const MAX_ACTIONS_PER_CHANNEL: usize = 10_000;
/// Largest (and default) `limit` of a get.
const MAX_LIMIT: usize = 100;
/// Longest action `type` (PubNub's documented limit).
const MAX_TYPE_LEN: usize = 15;
/// Longest action `value` accepted here.
const MAX_VALUE_LEN: usize = 1024;

/// `source` of every message-actions error body.
const SOURCE: &str = "actions";

/// One stored action (also as the data dir keeps it, keyed by channel and
/// action timetoken).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredAction {
    pub(crate) message_timetoken: u64,
    pub(crate) action_type: String,
    pub(crate) value: String,
    pub(crate) uuid: String,
}

/// The actions of one channel, by action timetoken.
#[derive(Debug, Default)]
pub(crate) struct ChannelActions {
    by_timetoken: BTreeMap<u64, StoredAction>,
}

impl ChannelActions {
    /// Whether the channel has no action.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_timetoken.is_empty()
    }

    /// Adds an action (also one read back from the data dir); the oldest
    /// past [`MAX_ACTIONS_PER_CHANNEL`] are dropped, there too.
    pub(crate) fn insert(
        &mut self,
        channel: &str,
        action_timetoken: u64,
        action: StoredAction,
        persist: &Persist,
    ) {
        self.by_timetoken.insert(action_timetoken, action);
        while self.by_timetoken.len() > MAX_ACTIONS_PER_CHANNEL {
            if let Some((dropped, _)) = self.by_timetoken.pop_first() {
                persist.delete(Table::Actions, &(channel, dropped));
            }
        }
    }

    fn contains(&self, action: &StoredAction) -> bool {
        self.by_timetoken.values().any(|a| a == action)
    }

    /// The actions on the message of timetoken `message_timetoken`, in
    /// fetch v3's shape: `{"<type>":{"<value>":[{"uuid","actionTimetoken"}]}}`.
    pub(crate) fn for_message(&self, message_timetoken: u64) -> Map<String, Value> {
        let mut out = Map::new();
        for (tt, action) in self
            .by_timetoken
            .iter()
            .filter(|(_, a)| a.message_timetoken == message_timetoken)
        {
            let by_value = out
                .entry(action.action_type.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(by_value) = by_value {
                let list = by_value
                    .entry(action.value.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    list.push(json!({"uuid": action.uuid, "actionTimetoken": tt.to_string()}));
                }
            }
        }
        out
    }
}

/// An action as the API answers it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActionBody<'a> {
    #[serde(rename = "type")]
    action_type: &'a str,
    value: &'a str,
    uuid: &'a str,
    action_timetoken: String,
    message_timetoken: String,
}

impl<'a> ActionBody<'a> {
    fn new(action_timetoken: u64, action: &'a StoredAction) -> Self {
        Self {
            action_type: &action.action_type,
            value: &action.value,
            uuid: &action.uuid,
            action_timetoken: action_timetoken.to_string(),
            message_timetoken: action.message_timetoken.to_string(),
        }
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::Sourced {
        status: StatusCode::BAD_REQUEST,
        source: SOURCE,
        message: message.into(),
    }
}

fn timetoken(text: &str, what: &str) -> Result<u64, ApiError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|tt| *tt > 0)
        .ok_or_else(|| bad_request(format!("Invalid {what}: `{text}` is not a timetoken")))
}

fn optional_timetoken(ctx: &RequestCtx, key: &str) -> Result<Option<u64>, ApiError> {
    ctx.query
        .non_empty(key)
        .map(|v| timetoken(v, key))
        .transpose()
}

/// The `e:3` event for `action`, stored nowhere but the subscribe buffer.
fn announce(
    keyset: &KeysetHandle,
    channel: &str,
    event: &str,
    action_timetoken: u64,
    action: &StoredAction,
) -> Result<PreparedMessage, ApiError> {
    let payload = json!({
        "source": "actions",
        "version": "1.0",
        "data": {
            "type": action.action_type,
            "value": action.value,
            "messageTimetoken": action.message_timetoken.to_string(),
            "actionTimetoken": action_timetoken.to_string(),
        },
        "event": event,
    });
    let data = to_raw_value(&payload).map_err(|e| ApiError::Sourced {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        source: SOURCE,
        message: format!("the action event could not be encoded: {e}"),
    })?;
    Ok(NewMessage {
        channel: Arc::from(channel),
        kind: MessageKind::Action,
        data,
        meta: None,
        publisher: Some(Arc::from(action.uuid.as_str())),
        custom_message_type: None,
        sequence: None,
        stored: false,
        ttl: None,
        ptto: None,
    }
    .prepare(&keyset.subscribe_key))
}

/// `POST /v1/message-actions/{sub}/channel/{ch}/message/{tt}`.
pub(crate) fn add(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channel: &str,
    message_tt: &str,
) -> Result<Response<Body>, ApiError> {
    let message_timetoken = timetoken(message_tt, "message timetoken")?;
    let body: Value = serde_json::from_slice(&ctx.body)
        .map_err(|_| bad_request("Invalid request body: expected {\"type\":…,\"value\":…}"))?;
    let field = |key: &str, max: usize| -> Result<String, ApiError> {
        match body.get(key).and_then(Value::as_str) {
            Some(text) if !text.is_empty() && text.chars().count() <= max => Ok(text.to_owned()),
            Some(_) => Err(bad_request(format!(
                "Invalid {key}: must be 1 to {max} characters"
            ))),
            None => Err(bad_request(format!("Missing {key}"))),
        }
    };
    let action_type = field("type", MAX_TYPE_LEN)?;
    let value = field("value", MAX_VALUE_LEN)?;
    app.authorize(keyset, ctx, Permission::Write, &Resources::channel(channel))?;
    let action = StoredAction {
        message_timetoken,
        action_type,
        value,
        uuid: ctx.uuid().unwrap_or_default().to_owned(),
    };
    let mut state = keyset.lock();
    let exists = state
        .store
        .channels
        .get(channel)
        .is_some_and(|c| c.actions.contains(&action));
    if exists {
        return Err(ApiError::Sourced {
            status: StatusCode::CONFLICT,
            source: SOURCE,
            message: "Action Already Added".to_owned(),
        });
    }
    let action_timetoken = state.clock.tick();
    let event = announce(keyset, channel, "added", action_timetoken, &action)?;
    let answer = json!({"status": 200, "data": ActionBody::new(action_timetoken, &action)});
    let inner = &mut *state;
    inner
        .persist
        .put(Table::Actions, &(channel, action_timetoken), &action);
    inner
        .store
        .channels
        .entry(Arc::from(channel))
        .or_default()
        .actions
        .insert(channel, action_timetoken, action, &inner.persist);
    state.insert(event);
    drop(state);
    Ok(ok_json(answer.to_string()))
}

/// `DELETE /v1/message-actions/{sub}/channel/{ch}/message/{tt}/action/{att}`.
pub(crate) fn remove(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channel: &str,
    message_tt: &str,
    action_tt: &str,
) -> Result<Response<Body>, ApiError> {
    let message_timetoken = timetoken(message_tt, "message timetoken")?;
    let action_timetoken = timetoken(action_tt, "action timetoken")?;
    app.authorize(
        keyset,
        ctx,
        Permission::Delete,
        &Resources::channel(channel),
    )?;
    let mut state = keyset.lock();
    let removed = state.store.channels.get_mut(channel).and_then(|c| {
        let matches = c
            .actions
            .by_timetoken
            .get(&action_timetoken)
            .is_some_and(|a| a.message_timetoken == message_timetoken);
        if matches {
            c.actions.by_timetoken.remove(&action_timetoken)
        } else {
            None
        }
    });
    if let Some(action) = removed {
        state
            .persist
            .delete(Table::Actions, &(channel, action_timetoken));
        let event = announce(keyset, channel, "removed", action_timetoken, &action)?;
        state.insert(event);
    }
    drop(state);
    Ok(ok_json(r#"{"status":200,"data":{}}"#))
}

/// `GET /v1/message-actions/{sub}/channel/{ch}?start=&end=&limit=`: the
/// newest `limit` actions older than `start` (exclusive) and not older than
/// `end` (inclusive), oldest first; `more` points at the next older page.
pub(crate) fn get(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    channel: &str,
) -> Result<Response<Body>, ApiError> {
    let start = optional_timetoken(ctx, "start")?;
    let end = optional_timetoken(ctx, "end")?;
    let limit = ctx
        .query
        .count_in("limit", MAX_LIMIT, 1..=MAX_LIMIT)
        .map_err(|_| bad_request(format!("Invalid limit: must be 1 to {MAX_LIMIT}")))?;
    app.authorize(keyset, ctx, Permission::Read, &Resources::channel(channel))?;
    let state = keyset.lock();
    let empty = ChannelActions::default();
    let actions = state
        .store
        .channels
        .get(channel)
        .map_or(&empty, |c| &c.actions);
    let in_range = actions
        .by_timetoken
        .range(end.unwrap_or(0)..start.unwrap_or(u64::MAX));
    let mut picked: Vec<(u64, &StoredAction)> = in_range
        .rev()
        .take(limit + 1)
        .map(|(tt, a)| (*tt, a))
        .collect();
    let more = picked.len() > limit;
    picked.truncate(limit);
    picked.reverse();
    let data: Vec<ActionBody<'_>> = picked
        .iter()
        .map(|(tt, a)| ActionBody::new(*tt, a))
        .collect();
    let mut answer = json!({"status": 200, "data": data});
    if let (true, Some((oldest, _))) = (more, picked.first()) {
        let mut url = format!(
            "/v1/message-actions/{}/channel/{}?start={oldest}&limit={limit}",
            percent_encode(&keyset.subscribe_key),
            percent_encode(channel),
        );
        let mut more = json!({"start": oldest.to_string(), "limit": limit});
        if let Some(end) = end {
            url.push_str(&format!("&end={end}"));
            more["end"] = json!(end.to_string());
        }
        more["url"] = json!(url);
        answer["more"] = more;
    }
    Ok(ok_json(answer.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_keeps_at_most_the_cap_dropping_the_oldest() {
        let mut actions = ChannelActions::default();
        for tt in 1..=(MAX_ACTIONS_PER_CHANNEL as u64 + 5) {
            actions.insert(
                "c",
                tt,
                StoredAction {
                    message_timetoken: 1,
                    action_type: "r".into(),
                    value: tt.to_string(),
                    uuid: "u".into(),
                },
                &Persist::default(),
            );
        }
        assert_eq!(actions.by_timetoken.len(), MAX_ACTIONS_PER_CHANNEL);
        assert_eq!(actions.by_timetoken.keys().next(), Some(&6));
    }

    #[test]
    fn fetch_shape_groups_by_type_and_value() {
        let mut actions = ChannelActions::default();
        let action = |value: &str, uuid: &str| StoredAction {
            message_timetoken: 7,
            action_type: "reaction".into(),
            value: value.into(),
            uuid: uuid.into(),
        };
        actions.insert("c", 10, action("smile", "a"), &Persist::default());
        actions.insert("c", 11, action("smile", "b"), &Persist::default());
        actions.insert("c", 12, action("frown", "a"), &Persist::default());
        assert_eq!(
            Value::Object(actions.for_message(7)),
            json!({"reaction": {
                "smile": [{"uuid": "a", "actionTimetoken": "10"}, {"uuid": "b", "actionTimetoken": "11"}],
                "frown": [{"uuid": "a", "actionTimetoken": "12"}],
            }})
        );
        assert!(actions.for_message(8).is_empty());
    }
}
