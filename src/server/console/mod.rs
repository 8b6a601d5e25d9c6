//! The web console (`GET /console`) and the dev-server-only JSON it reads
//! (`GET /dev/…`).
//!
//! The page is one HTML file with inline CSS and plain JavaScript
//! (`console.html`, embedded in the binary with `include_str!`: no
//! framework, no CDN, no build step). It polls the JSON below every 1.5 s
//! and uses the server's own PubNub API for what a client would do:
//! subscribe (the live message view), publish, here_now with state, fetch
//! v3. Those API calls carry `pnsdk=pubnub-dev-console` so that the request
//! log can hide them.
//!
//! | route | answers |
//! | --- | --- |
//! | `/console` | the page (`text/html`) |
//! | `/dev/keysets` | every keyset: keys, Access Manager mode, counts of channels, stored messages, groups, present uuids, App Context objects |
//! | `/dev/keysets/{sub}/channels` | channels (by name) with occupancy, stored and recent message counts, newest timetoken, groups; `presence=1` adds the `-pnpres` channels |
//! | `/dev/keysets/{sub}/groups` | channel groups with their channels |
//! | `/dev/keysets/{sub}/objects/uuids`, `…/objects/channels` | App Context objects, every field, with their memberships / members |
//! | `/dev/keysets/{sub}/access` | Access Manager mode, live v2 grants, the v3 tokens issued here (decoded: ttl, authorized uuid, resources, patterns, expired, revoked) |
//! | `/dev/keysets/{sub}/token?token=…` | one pasted token, decoded (and whether this keyset signed and revoked it) |
//! | `/dev/requests` | the request log, newest first: method, path, query, status, latency, route, uuid; `q` filters (every word must appear), `hide=console` hides the console's own calls, `before` pages |
//! | `/dev/losses` | messages lost to the subscribe queue, per (keyset, uuid), most first |
//!
//! Every list takes `limit` (default 100, at most 1,000) and a cursor
//! (`start`: the name to continue after, or `before`: the request `seq`;
//! `offset` for grants) and answers `next` (the cursor of the next page, or
//! `null`) and `total`. The loss table keeps at most [`MAX_LOSS_ENTRIES`]
//! subscribers (the one whose last loss is oldest makes room). A keyset
//! that does not exist is a 404 (the console never creates one). Like
//! `/metrics`, these are answered before the request log, fault injection
//! and the counters.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use super::app::App;
use super::errors::{pn_response, ApiError};
use super::keyset::{split_presence, KeysetHandle};
use super::metrics::route_label;
use super::wire::{decode_path, decode_query};

/// The page.
const PAGE: &str = include_str!("console.html");

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;
/// Largest page.
const MAX_LIMIT: usize = 1_000;
/// Most subscribers the loss table keeps.
pub(crate) const MAX_LOSS_ENTRIES: usize = 1_000;
/// Most characters of a path or query (or a subscriber's channel list) in
/// an answer.
const MAX_TEXT: usize = 512;
/// Most related ids (groups of a channel, channels of a group, members)
/// listed per row.
const MAX_RELATED: usize = 50;
/// The `pnsdk` the page sends with its API calls.
const CONSOLE_PNSDK: &str = "pubnub-dev-console";
/// Service name in error bodies.
const SERVICE: &str = "Dev Console";

/// One subscriber's queue-overflow losses.
#[derive(Debug, Clone)]
struct Loss {
    lost: u64,
    /// Answers that lost messages.
    polls: u64,
    /// Unix milliseconds of the last loss.
    last_ms: u64,
    /// Order of the last loss, for eviction.
    order: u64,
    /// The channel list of the last poll that lost messages.
    channels: String,
}

/// Messages lost to the subscribe queue, per (keyset, uuid), bounded by
/// [`MAX_LOSS_ENTRIES`].
#[derive(Debug, Default)]
pub(crate) struct Losses {
    map: Mutex<HashMap<(Arc<str>, String), Loss>>,
    order: AtomicU64,
}

fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Losses {
    /// `lost` messages a subscriber (`uuid`, or none) of `subscribe_key`
    /// lost in one answer to `channels`. Nothing when `lost` is 0, so the
    /// subscribe path pays only when messages were lost.
    pub(crate) fn record(
        &self,
        subscribe_key: &Arc<str>,
        uuid: Option<&str>,
        channels: &str,
        lost: usize,
    ) {
        if lost == 0 {
            return;
        }
        let order = self.order.fetch_add(1, Ordering::Relaxed);
        let key = (subscribe_key.clone(), uuid.unwrap_or_default().to_owned());
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(&key) && map.len() >= MAX_LOSS_ENTRIES {
            let oldest = map
                .iter()
                .min_by_key(|(_, loss)| loss.order)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
        let entry = map.entry(key).or_insert_with(|| Loss {
            lost: 0,
            polls: 0,
            last_ms: 0,
            order,
            channels: String::new(),
        });
        entry.lost = entry
            .lost
            .saturating_add(u64::try_from(lost).unwrap_or(u64::MAX));
        entry.polls += 1;
        entry.last_ms = unix_ms();
        entry.order = order;
        entry.channels = clip(channels, MAX_TEXT);
    }

    fn json(&self, limit: usize) -> Value {
        let mut rows: Vec<((Arc<str>, String), Loss)> = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let total = rows.len();
        rows.sort_by(|a, b| b.1.lost.cmp(&a.1.lost).then_with(|| a.0.cmp(&b.0)));
        let losses: Vec<Value> = rows
            .into_iter()
            .take(limit)
            .map(|((sub, uuid), loss)| {
                json!({
                    "subscribe_key": &*sub,
                    "uuid": (!uuid.is_empty()).then_some(uuid),
                    "lost": loss.lost,
                    "polls": loss.polls,
                    "last_ms": loss.last_ms,
                    "channels": loss.channels,
                })
            })
            .collect();
        json!({ "losses": losses, "total": total, "max_entries": MAX_LOSS_ENTRIES })
    }
}

/// The decoded query of a console request.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn limit(&self) -> usize {
        self.get("limit")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(DEFAULT_LIMIT)
            .clamp(1, MAX_LIMIT)
    }

    fn number(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    }
}

fn json_response(value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A console error: PubNub's `{"status":…,"error":true,"service":…,"message":…}`.
fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::Service {
        status,
        service: SERVICE,
        message: message.into(),
    }
}

fn page() -> Response<Body> {
    let mut response = pn_response(StatusCode::OK, "text/html; charset=utf-8", PAGE);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page loads nothing from elsewhere; say so to the browser.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
        ),
    );
    headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    headers.remove(header::ACCESS_CONTROL_ALLOW_METHODS);
    response
}

/// Answers `/console` and `/dev/…` (GET; the caller checked the method);
/// `None` for every other path.
pub(crate) fn dev_route(app: &App, path: &str, query: Option<&str>) -> Option<Response<Body>> {
    if path == "/console" || path == "/console/" {
        return Some(page());
    }
    if !path.starts_with("/dev/") {
        return None;
    }
    let Ok(segments) = decode_path(path) else {
        return Some(
            error(
                StatusCode::BAD_REQUEST,
                "the path is not valid percent-encoding",
            )
            .into_response(),
        );
    };
    let params = match query.map(decode_query).transpose() {
        Ok(pairs) => Params(pairs.unwrap_or_default()),
        Err(e) => return Some(error(StatusCode::BAD_REQUEST, e.what).into_response()),
    };
    let segs: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
    let answer = match segs.as_slice() {
        ["dev", "keysets"] => Ok(keysets(app, &params)),
        ["dev", "keysets", sub, rest @ ..] => match app.keysets.find(sub) {
            None => Err(error(
                StatusCode::NOT_FOUND,
                format!("no keyset `{sub}` on this server (yet)"),
            )),
            Some(keyset) => match rest {
                ["channels"] => Ok(channels(&keyset, &params)),
                ["groups"] => Ok(groups(&keyset, &params)),
                ["objects", kind @ ("uuids" | "channels")] => {
                    Ok(objects(&keyset, *kind == "uuids", &params))
                }
                ["access"] => Ok(access(app, &keyset, &params)),
                ["token"] => token(app, &keyset, &params),
                _ => Err(not_found()),
            },
        },
        ["dev", "requests"] => Ok(requests(app, &params)),
        ["dev", "losses"] => Ok(app.losses.json(params.limit())),
        _ => Err(not_found()),
    };
    Some(match answer {
        Ok(value) => json_response(&value),
        Err(e) => e.into_response(),
    })
}

fn not_found() -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "no dev console route at this path (see the module docs of pubnub_rx::server)",
    )
}

fn access_mode(keyset: &KeysetHandle) -> &'static str {
    keyset.access().map_or("open", |a| a.mode_name())
}

fn keysets(app: &App, params: &Params) -> Value {
    let mut all = app.keysets.all();
    all.sort_by(|a, b| a.subscribe_key.cmp(&b.subscribe_key));
    let total = all.len();
    let after = params.get("start");
    let limit = params.limit();
    let mut rows = Vec::new();
    let mut next = None;
    for keyset in all
        .iter()
        .filter(|k| after.is_none_or(|a| &*k.subscribe_key > a))
    {
        if rows.len() == limit {
            next = rows
                .last()
                .and_then(|v: &Value| v["subscribe_key"].as_str().map(str::to_owned));
            break;
        }
        let state = keyset.lock();
        let (mut channels, mut messages) = (0usize, 0usize);
        for (name, data) in &state.store.channels {
            if !split_presence(name).1 {
                channels += 1;
                messages += data.history.len();
            }
        }
        let (uuid_objects, channel_objects) = super::objects::console_counts(&state.objects);
        rows.push(json!({
            "subscribe_key": &*keyset.subscribe_key,
            "publish_key": keyset.publish_key,
            "access": access_mode(keyset),
            "channels": channels,
            "messages": messages,
            "groups": state.groups.all().len(),
            "present": state.presence.present_uuids(),
            "uuid_objects": uuid_objects,
            "channel_objects": channel_objects,
        }));
    }
    json!({ "keysets": rows, "total": total, "next": next })
}

fn channels(keyset: &KeysetHandle, params: &Params) -> Value {
    use std::ops::Bound;
    let with_presence = params.flag("presence");
    let after = params.get("start");
    let limit = params.limit();
    let shown = |name: &str| with_presence || !split_presence(name).1;
    let state = keyset.lock();
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    // The page is the union of the channels that hold messages and the
    // channels with presence, by name.
    let mut names: BTreeSet<&str> = state
        .store
        .channels
        .range::<str, _>((lower, Bound::Unbounded))
        .map(|(name, _)| &**name)
        .filter(|name| shown(name))
        .take(limit + 1)
        .collect();
    let mut total = state
        .store
        .channels
        .keys()
        .filter(|name| shown(name))
        .count();
    for name in state.presence.channel_names() {
        if !shown(name) || state.store.channels.contains_key(name.as_str()) {
            continue;
        }
        total += 1;
        if after.is_none_or(|a| name.as_str() > a) {
            names.insert(name);
            if names.len() > limit + 1 {
                names.pop_last();
            }
        }
    }
    let mut next = None;
    let mut rows = Vec::new();
    for name in names {
        if rows.len() == limit {
            next = rows
                .last()
                .and_then(|v: &Value| v["name"].as_str().map(str::to_owned));
            break;
        }
        let data = state.store.channels.get(name);
        let newest = data
            .and_then(|d| {
                d.recent
                    .back()
                    .into_iter()
                    .chain(d.history.back())
                    .max_by_key(|m| m.timetoken)
            })
            .map(|m| m.timetoken.to_string());
        let groups: Vec<&String> = state.groups.groups_of(name).take(MAX_RELATED).collect();
        rows.push(json!({
            "name": name,
            "occupancy": state.presence.occupancy(name),
            "messages": data.map_or(0, |d| d.history.len()),
            "recent": data.map_or(0, |d| d.recent.len()),
            "newest": newest,
            "groups": groups,
        }));
    }
    json!({ "channels": rows, "total": total, "next": next })
}

fn groups(keyset: &KeysetHandle, params: &Params) -> Value {
    use std::ops::Bound;
    let state = keyset.lock();
    let all = state.groups.all();
    let lower = params
        .get("start")
        .map_or(Bound::Unbounded, Bound::Excluded);
    let limit = params.limit();
    let mut rows = Vec::new();
    let mut next = None;
    for (name, channels) in all.range::<str, _>((lower, Bound::Unbounded)) {
        if rows.len() == limit {
            next = rows
                .last()
                .and_then(|v: &Value| v["name"].as_str().map(str::to_owned));
            break;
        }
        let listed: Vec<&String> = channels.iter().take(MAX_RELATED).collect();
        rows.push(json!({ "name": name, "count": channels.len(), "channels": listed }));
    }
    json!({ "groups": rows, "total": all.len(), "next": next })
}

fn objects(keyset: &KeysetHandle, uuids: bool, params: &Params) -> Value {
    let state = keyset.lock();
    let (rows, total, next) = super::objects::console_page(
        &state.objects,
        uuids,
        params.get("start"),
        params.limit(),
        MAX_RELATED,
    );
    json!({ "objects": rows, "total": total, "next": next })
}

fn access(app: &App, keyset: &KeysetHandle, params: &Params) -> Value {
    let offset = params
        .number("offset")
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    match keyset.access() {
        Some(access) => access.console_view(app.clock.unix_secs(), offset, params.limit()),
        None => json!({
            "mode": "open",
            "grants": [],
            "grants_total": 0,
            "tokens": [],
            "tokens_total": 0,
        }),
    }
}

fn token(app: &App, keyset: &KeysetHandle, params: &Params) -> Result<Value, ApiError> {
    let Some(text) = params.get("token") else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "give the token as `token=…`",
        ));
    };
    let now = app.clock.unix_secs();
    let decoded = match keyset.access() {
        Some(access) => access.console_token(text, now),
        None => crate::access::parse_token(text)
            .ok()
            .map(|t| super::access::token_json(&t, now)),
    };
    decoded.ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "not a v3 token: it does not decode as base64 CBOR with a signature",
        )
    })
}

fn requests(app: &App, params: &Params) -> Value {
    let log = app.log.snapshot();
    let total = log.len();
    let terms: Vec<String> = params
        .get("q")
        .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let hide_console = params.get("hide") == Some("console");
    let before = params.number("before").unwrap_or(u64::MAX);
    let limit = params.limit();
    let mut rows = Vec::new();
    let mut next = None;
    for request in log.iter().rev().filter(|r| r.seq < before) {
        if hide_console && request.param("pnsdk") == Some(CONSOLE_PNSDK) {
            continue;
        }
        let kind = route_label(request.kind);
        let status = request.status();
        if !terms.is_empty() {
            let haystack = format!(
                "{} {}?{} {} {}",
                request.method,
                request.path,
                request.raw_query.as_deref().unwrap_or(""),
                status.map_or_else(|| "pending".to_owned(), |s| s.to_string()),
                kind
            )
            .to_lowercase();
            if !terms.iter().all(|t| haystack.contains(t.as_str())) {
                continue;
            }
        }
        if rows.len() == limit {
            next = rows.last().and_then(|v: &Value| v["seq"].as_u64());
            break;
        }
        rows.push(json!({
            "seq": request.seq,
            "route": kind,
            "method": request.method,
            "path": clip(&request.path, MAX_TEXT),
            "query": request.raw_query.as_deref().map(|q| clip(q, MAX_TEXT)),
            "status": status,
            "latency_ms": request.latency().map(|l| (l.as_secs_f64() * 1e6).round() / 1e3),
            "uuid": request.param("uuid"),
        }));
    }
    json!({ "requests": rows, "total": total, "next": next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_bounded_and_evict_the_oldest() {
        let losses = Losses::default();
        let sub: Arc<str> = Arc::from("sub");
        losses.record(&sub, Some("first"), "a", 1);
        losses.record(&sub, Some("first"), "a", 2);
        losses.record(&sub, Some("ignored"), "a", 0);
        for n in 0..MAX_LOSS_ENTRIES {
            losses.record(&sub, Some(&format!("u{n}")), "b", 1);
        }
        let view = losses.json(MAX_LIMIT);
        assert_eq!(view["total"], MAX_LOSS_ENTRIES);
        let rows = view["losses"].as_array().unwrap();
        assert!(rows
            .iter()
            .all(|r| r["uuid"] != "first" && r["uuid"] != "ignored"));
        losses.record(&sub, None, "c", 5);
        let view = losses.json(1);
        assert_eq!(view["losses"][0]["lost"], 5);
        assert_eq!(view["losses"][0]["uuid"], Value::Null);
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("héllo", 10), "héllo");
        assert_eq!(clip("héllo", 2), "hé…");
    }

    #[test]
    fn the_page_never_renders_markup_from_data() {
        assert!(!PAGE.contains("innerHTML"));
        assert!(!PAGE.contains("outerHTML"));
        assert!(!PAGE.contains("insertAdjacentHTML"));
        assert!(!PAGE.contains("document.write"));
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
    }
}
