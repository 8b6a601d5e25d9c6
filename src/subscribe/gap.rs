//! Filling a subscribe gap from Message Persistence (the engine's
//! `FetchGap` effect; see [`engine`](super::engine)).
//!
//! The channels concerned are the subscribed channels, the channels of the
//! subscribed groups (asked from the channel-group service) and, for
//! wildcard subscriptions, the channels seen through them so far. Their
//! messages newer than the gap's `after` and older than its `before` are
//! fetched with fetch-messages v3, paged, and turned into one subscribe
//! response body — the same envelopes a receive carries, the payloads copied
//! verbatim from history's JSON — so the recovered messages go through the
//! very dispatch, duplicate filter, routing and decryption of live ones.
//! They are marked [`Message::recovered`](super::Message::recovered).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::engine::Gap;
use super::envelope::SubscribeResponse;
use crate::client::{ClientInner, Request};
use crate::transport::encoding::{encode, encode_list};
use crate::transport::HttpMethod;
use crate::Error;

/// Channels per fetch request (PubNub takes up to 500; this keeps URLs short).
const CHANNELS_PER_REQUEST: usize = 100;
/// History requests one gap may take; past it the rest is reported.
pub(crate) const MAX_GAP_REQUESTS: usize = 100;
/// Fetch v3 page sizes: one channel, several channels.
const PAGE_SINGLE: usize = 100;
const PAGE_MULTI: usize = 25;

/// What a gap fetch must cover.
#[derive(Debug, Clone)]
pub(crate) struct GapQuery {
    pub(crate) gap: Gap,
    /// Channels subscribed directly (no presence channels, no wildcards).
    pub(crate) channels: Vec<String>,
    /// Channel groups subscribed (their channels are asked for).
    pub(crate) groups: Vec<String>,
    /// Wildcard patterns subscribed, with the channels seen through each.
    pub(crate) wildcards: Vec<(String, Vec<String>)>,
}

/// What a gap fetch found.
#[derive(Debug)]
pub(crate) struct GapFill {
    /// The recovered messages as a subscribe response, oldest first.
    pub(crate) response: Option<SubscribeResponse>,
    /// Whether every channel concerned was covered over the whole gap.
    pub(crate) complete: bool,
    /// The channels asked about.
    pub(crate) channels: Vec<String>,
}

/// A timetoken as history writes it (string or number).
#[derive(Deserialize)]
#[serde(untagged)]
enum Token {
    Text(String),
    Number(u64),
}

impl Token {
    fn value(&self) -> Option<u64> {
        match self {
            Self::Text(text) => text.parse().ok(),
            Self::Number(n) => Some(*n),
        }
    }
}

#[derive(Deserialize)]
struct FetchItem<'a> {
    #[serde(borrow)]
    message: &'a RawValue,
    timetoken: Token,
    #[serde(default, borrow)]
    meta: Option<&'a RawValue>,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    message_type: Option<Value>,
    #[serde(default)]
    custom_message_type: Option<String>,
}

#[derive(Deserialize)]
struct FetchBody<'a> {
    #[serde(default, borrow)]
    channels: BTreeMap<String, Vec<FetchItem<'a>>>,
}

/// One recovered message, ready to be written as an envelope.
struct Recovered {
    timetoken: u64,
    envelope: String,
}

/// The channel a recovered message came from and what it matched through.
#[derive(Clone)]
struct Target {
    channel: String,
    subscription: Option<String>,
}

fn json_text(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Writes one history item as a subscribe envelope.
fn envelope(subscribe_key: &str, target: &Target, item: &FetchItem<'_>, tt: u64) -> String {
    let mut out = String::with_capacity(item.message.get().len() + 160);
    out.push_str(r#"{"a":"1","f":0"#);
    if let Some(uuid) = &item.uuid {
        let _ = write!(out, r#","i":{}"#, json_text(uuid));
    }
    let _ = write!(
        out,
        r#","p":{{"t":"{tt}","r":0}},"k":{},"c":{},"d":{}"#,
        json_text(subscribe_key),
        json_text(&target.channel),
        item.message.get()
    );
    if let Some(subscription) = &target.subscription {
        let _ = write!(out, r#","b":{}"#, json_text(subscription));
    }
    // History writes `""` for a message stored without meta.
    if let Some(meta) = item
        .meta
        .filter(|m| m.get() != r#""""# && m.get() != "null")
    {
        let _ = write!(out, r#","u":{}"#, meta.get());
    }
    let kind = match &item.message_type {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    if let Some(kind) = kind.filter(|k| (1..=4).contains(k)) {
        let _ = write!(out, r#","e":{kind}"#);
    }
    if let Some(cmt) = &item.custom_message_type {
        let _ = write!(out, r#","cmt":{}"#, json_text(cmt));
    }
    out.push('}');
    out
}

/// The channels of a channel group.
async fn group_channels(client: &ClientInner, group: &str) -> Result<Vec<String>, Error> {
    let path = format!(
        "/v1/channel-registration/sub-key/{}/channel-group/{}",
        encode(&client.config.subscribe_key),
        encode(group)
    );
    let response = client.execute(Request::new(HttpMethod::Get, path)).await?;
    let value: Value = serde_json::from_slice(&response.body)
        .map_err(|e| Error::deserialization("the channel group", e, &response.body))?;
    Ok(value["payload"]["channels"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// One fetch page for `channels`, older than `start`, not older than `end`.
async fn fetch_page(
    client: &ClientInner,
    channels: &[&Target],
    start: u64,
    end: u64,
    subscribe_key: &str,
    out: &mut Vec<Recovered>,
) -> Result<BTreeMap<String, (usize, u64)>, Error> {
    let names: Vec<&str> = channels.iter().map(|t| t.channel.as_str()).collect();
    let max = if names.len() == 1 {
        PAGE_SINGLE
    } else {
        PAGE_MULTI
    };
    let path = format!(
        "/v3/history/sub-key/{}/channel/{}",
        encode(subscribe_key),
        encode_list(&names)
    );
    let request = Request::new(HttpMethod::Get, path)
        .param("max", max.to_string())
        .param("start", start.to_string())
        .param("end", end.to_string())
        .param("include_meta", "true")
        .param("include_uuid", "true")
        .param("include_message_type", "true")
        .param("include_custom_message_type", "true");
    let response = client.execute(request).await?;
    let body: FetchBody<'_> = serde_json::from_slice(&response.body)
        .map_err(|e| Error::deserialization("the gap's history", e, &response.body))?;
    let mut counts = BTreeMap::new();
    for (channel, items) in &body.channels {
        let Some(target) = channels.iter().find(|t| &t.channel == channel) else {
            continue;
        };
        let mut oldest = start;
        for item in items {
            let Some(tt) = item.timetoken.value() else {
                continue;
            };
            // Only the gap: newer than `after`, older than `before`.
            if tt >= start || tt < end {
                continue;
            }
            oldest = oldest.min(tt);
            out.push(Recovered {
                timetoken: tt,
                envelope: envelope(subscribe_key, target, item, tt),
            });
        }
        counts.insert(channel.clone(), (items.len(), oldest));
    }
    // The channels whose page was full: more may be older.
    Ok(counts.into_iter().filter(|(_, (n, _))| *n >= max).collect())
}

/// Fetches the gap of `query` from history.
pub(crate) async fn fill(client: Arc<ClientInner>, query: GapQuery) -> Result<GapFill, Error> {
    let subscribe_key = client.config.subscribe_key.clone();
    let mut complete = true;
    let mut targets: Vec<Target> = query
        .channels
        .iter()
        .map(|channel| Target {
            channel: channel.clone(),
            subscription: None,
        })
        .collect();
    for group in &query.groups {
        match group_channels(&client, group).await {
            Ok(channels) => targets.extend(channels.into_iter().map(|channel| Target {
                channel,
                subscription: Some(group.clone()),
            })),
            Err(error) => {
                tracing::debug!(%error, group, "gap: the group's channels are unknown");
                complete = false;
            }
        }
    }
    for (pattern, seen) in &query.wildcards {
        if seen.is_empty() {
            // No channel of this wildcard was seen: nothing to ask about.
            complete = false;
        }
        targets.extend(seen.iter().map(|channel| Target {
            channel: channel.clone(),
            subscription: Some(pattern.clone()),
        }));
    }
    let mut unique: Vec<Target> = Vec::with_capacity(targets.len());
    for target in targets {
        if !unique.iter().any(|t| t.channel == target.channel) {
            unique.push(target);
        }
    }
    let channels: Vec<String> = unique.iter().map(|t| t.channel.clone()).collect();

    let (start, end) = (query.gap.before, query.gap.after.saturating_add(1));
    let mut recovered = Vec::new();
    let mut requests = 0usize;
    let mut answered = false;
    // Work items: a set of channels and the start of their next page.
    let mut work: Vec<(Vec<&Target>, u64)> = unique
        .chunks(CHANNELS_PER_REQUEST)
        .map(|chunk| (chunk.iter().collect(), start))
        .collect();
    while let Some((chunk, page_start)) = work.pop() {
        if requests == MAX_GAP_REQUESTS {
            complete = false;
            break;
        }
        requests += 1;
        match fetch_page(
            &client,
            &chunk,
            page_start,
            end,
            &subscribe_key,
            &mut recovered,
        )
        .await
        {
            Ok(full_pages) => {
                answered = true;
                // A full page may have more below it: page those channels on,
                // one by one (the larger single-channel page).
                for (channel, (_, oldest)) in full_pages {
                    if let Some(target) = chunk.iter().find(|t| t.channel == channel) {
                        if oldest > end {
                            work.push((vec![*target], oldest));
                        }
                    }
                }
            }
            Err(error) if !answered => return Err(error),
            Err(error) => {
                tracing::debug!(%error, "gap: a history page failed; the rest is reported");
                complete = false;
                break;
            }
        }
    }
    // Each channel was asked about once (`unique`), so nothing repeats.
    recovered.sort_by_key(|r| r.timetoken);
    let response = if recovered.is_empty() {
        None
    } else {
        let mut body = String::from(r#"{"t":{"t":"0","r":0},"m":["#);
        for (index, item) in recovered.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            body.push_str(&item.envelope);
        }
        body.push_str("]}");
        Some(SubscribeResponse::decode(Bytes::from(body))?)
    };
    Ok(GapFill {
        response,
        complete,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_items_become_envelopes_verbatim() {
        let body = r#"{"message":{"b":1,"a":1.50},"timetoken":"17","meta":{"k":"v"},"uuid":"al\"ice","message_type":4,"custom_message_type":"note"}"#;
        let item: FetchItem<'_> = serde_json::from_str(body).unwrap();
        let target = Target {
            channel: "ch".into(),
            subscription: Some("grp".into()),
        };
        let text = envelope("sub", &target, &item, 17);
        assert_eq!(
            text,
            r#"{"a":"1","f":0,"i":"al\"ice","p":{"t":"17","r":0},"k":"sub","c":"ch","d":{"b":1,"a":1.50},"b":"grp","u":{"k":"v"},"e":4,"cmt":"note"}"#
        );
        let plain: FetchItem<'_> =
            serde_json::from_str(r#"{"message":"x","timetoken":18,"meta":"","message_type":null}"#)
                .unwrap();
        let text = envelope(
            "sub",
            &Target {
                channel: "ch".into(),
                subscription: None,
            },
            &plain,
            18,
        );
        assert_eq!(
            text,
            r#"{"a":"1","f":0,"p":{"t":"18","r":0},"k":"sub","c":"ch","d":"x"}"#
        );
    }
}
