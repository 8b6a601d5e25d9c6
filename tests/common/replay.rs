//! The cassette-replay harness: a local HTTP server that answers with the
//! responses recorded from the real PubNub service (in order) and records
//! what the client sent, plus helpers to compare a request of ours with the
//! recorded one.
//!
//! Generic over endpoints: a test file loads cassettes, turns each recorded
//! request into the equivalent call of our client (an "interpreter" per
//! endpoint family), runs it against [`ReplayServer`], then checks with
//! [`assert_equivalent`] that the same request went out and that the parsed
//! result matches the recorded body.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use pubnub_rx::transport::encoding::decode;
use serde_json::Value;

/// One recorded exchange.
#[derive(Debug, Clone)]
pub struct Interaction {
    pub method: String,
    /// The full recorded URI (`response.url` when the recorder kept it: it
    /// has every parameter; else `request.uri`).
    pub uri: String,
    pub body: Option<Vec<u8>>,
    /// Recorded request headers, names lowercased (first value of each).
    pub headers: BTreeMap<String, String>,
    pub status: u16,
    pub response_body: Vec<u8>,
}

/// A cassette file.
#[derive(Debug, Clone)]
pub struct Cassette {
    pub path: PathBuf,
    pub name: String,
    pub interactions: Vec<Interaction>,
}

impl Cassette {
    pub fn load(path: &Path, root: &Path) -> Cassette {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let interactions = doc["interactions"]
            .as_array()
            .map(|items| items.iter().map(Interaction::from_json).collect())
            .unwrap_or_default();
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        Cassette {
            path: path.to_owned(),
            name,
            interactions,
        }
    }

    /// Every cassette under `<shared>/fixtures/cassettes/<folder>` for each folder.
    pub fn load_dirs(shared: &Path, folders: &[&str]) -> Vec<Cassette> {
        let root = shared.join("fixtures/cassettes");
        let mut out = Vec::new();
        for folder in folders {
            let dir = root.join(folder);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            paths.sort();
            out.extend(paths.iter().map(|p| Cassette::load(p, &root)));
        }
        out
    }
}

impl Interaction {
    fn from_json(v: &Value) -> Interaction {
        let request = &v["request"];
        let response = &v["response"];
        let uri = response
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("http"))
            .or_else(|| request["uri"].as_str())
            .unwrap_or_default()
            .to_owned();
        let body = match &request["body"] {
            Value::String(s) if !s.is_empty() => Some(s.as_bytes().to_vec()),
            _ => None,
        };
        let response_body = match (response.get("body"), response.get("body_base64")) {
            (_, Some(Value::String(b64))) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default(),
            (Some(Value::String(text)), _) => decode_binary_body(text),
            _ => Vec::new(),
        };
        let headers = request["headers"]
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(name, values)| {
                        let value = match values {
                            Value::Array(list) => list.first()?.as_str()?,
                            Value::String(one) => one.as_str(),
                            _ => return None,
                        };
                        Some((name.to_ascii_lowercase(), value.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Interaction {
            method: request["method"].as_str().unwrap_or("GET").to_owned(),
            uri,
            body,
            headers,
            status: response["status"].as_u64().unwrap_or(200) as u16,
            response_body,
        }
    }

    /// The raw (still encoded) path.
    pub fn raw_path(&self) -> &str {
        let after_scheme = self
            .uri
            .split_once("://")
            .map_or(self.uri.as_str(), |(_, rest)| rest);
        let path_and_query = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        path_and_query
            .split_once('?')
            .map_or(path_and_query, |(path, _)| path)
    }

    /// Decoded path segments (after the leading `/`).
    pub fn segments(&self) -> Vec<String> {
        decoded_segments(self.raw_path())
    }

    /// Decoded query (`+` as space).
    pub fn query(&self) -> BTreeMap<String, String> {
        let query = self.uri.split_once('?').map_or("", |(_, q)| q);
        decode_query(query)
    }

    pub fn response_json(&self) -> Value {
        serde_json::from_slice(&self.response_body).unwrap_or(Value::Null)
    }
}

/// `{"binary": "<base64 of gzip>"}` bodies are gunzipped; other text is kept.
fn decode_binary_body(text: &str) -> Vec<u8> {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        if let (1, Some(Value::String(b64))) = (map.len(), map.get("binary")) {
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) {
                let mut out = Vec::new();
                if flate2::read::GzDecoder::new(raw.as_slice())
                    .read_to_end(&mut out)
                    .is_ok()
                {
                    return out;
                }
                return raw;
            }
        }
    }
    text.as_bytes().to_vec()
}

pub fn decoded_segments(raw_path: &str) -> Vec<String> {
    raw_path
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            decode(s, false)
                .map(|d| d.into_owned())
                .unwrap_or_else(|_| s.to_owned())
        })
        .collect()
}

pub fn decode_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k, true)
                .map(|d| d.into_owned())
                .unwrap_or_else(|_| k.to_owned());
            let v = decode(v, true)
                .map(|d| d.into_owned())
                .unwrap_or_else(|_| v.to_owned());
            (k, v)
        })
        .collect()
}

/// What our client sent.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub raw_path: String,
    pub query: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// Request headers, names lowercased.
    pub headers: BTreeMap<String, String>,
}

impl Captured {
    pub fn segments(&self) -> Vec<String> {
        decoded_segments(&self.raw_path)
    }
}

fn capture(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Captured {
    Captured {
        method: method.to_string(),
        raw_path: uri.path().to_owned(),
        query: decode_query(uri.query().unwrap_or("")),
        body: body.to_vec(),
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
    }
}

/// A local server answering with recorded responses in order.
pub struct ReplayServer {
    pub addr: SocketAddr,
    captured: Arc<Mutex<Vec<Captured>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct ReplayState {
    responses: Mutex<std::collections::VecDeque<(u16, Vec<u8>)>>,
    captured: Arc<Mutex<Vec<Captured>>>,
}

impl ReplayServer {
    /// Serves `(status, body)` pairs in order; once they run out every
    /// request gets 599 so a test sees the extra request.
    pub async fn start(responses: Vec<(u16, Vec<u8>)>) -> ReplayServer {
        let captured = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(ReplayState {
            responses: Mutex::new(responses.into()),
            captured: Arc::clone(&captured),
        });
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&state);
                async move { serve(state, method, uri, headers, body) }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        ReplayServer {
            addr,
            captured,
            shutdown: Some(tx),
        }
    }

    pub async fn for_cassette(cassette: &Cassette) -> ReplayServer {
        Self::for_interactions(cassette.interactions.iter()).await
    }

    /// Serves the recorded answers of these interactions only (for cassettes
    /// of which a test replays a part).
    pub async fn for_interactions<'a>(
        interactions: impl IntoIterator<Item = &'a Interaction>,
    ) -> ReplayServer {
        Self::start(
            interactions
                .into_iter()
                .map(|i| (i.status, i.response_body.clone()))
                .collect(),
        )
        .await
    }

    pub fn origin(&self) -> String {
        self.addr.to_string()
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.captured.lock().unwrap().clone()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn serve(
    state: Arc<ReplayState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state
        .captured
        .lock()
        .unwrap()
        .push(capture(method, uri, headers, body));
    let next = state.responses.lock().unwrap().pop_front();
    match next {
        Some((status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                status,
                [("content-type", "text/javascript; charset=\"UTF-8\"")],
                body,
            )
                .into_response()
        }
        None => (
            StatusCode::from_u16(599).unwrap(),
            "cassette exhausted: unexpected extra request",
        )
            .into_response(),
    }
}

/// A replay server for several concurrent clients: each request is answered
/// with the first unused recorded interaction it matches (method, decoded
/// path with channel lists compared as sets, and the recorded `tt`, `uuid`,
/// `add`, `remove`, `channel-group` values). An unmatched subscribe
/// long-poll is held open, as a real server holds one with nothing to say;
/// any other unmatched request gets 599.
pub struct MatchingReplayServer {
    pub addr: SocketAddr,
    state: Arc<MatchState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct MatchState {
    interactions: Vec<Interaction>,
    used: Mutex<Vec<bool>>,
    /// Every request with the index of the interaction that answered it.
    log: Mutex<Vec<(Captured, Option<usize>)>>,
    changed: tokio::sync::Notify,
    stop: tokio::sync::Notify,
}

impl MatchingReplayServer {
    pub async fn start(cassette: &Cassette) -> MatchingReplayServer {
        let state = Arc::new(MatchState {
            used: Mutex::new(vec![false; cassette.interactions.len()]),
            interactions: cassette.interactions.clone(),
            log: Mutex::new(Vec::new()),
            changed: tokio::sync::Notify::new(),
            stop: tokio::sync::Notify::new(),
        });
        let shared = Arc::clone(&state);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&shared);
                async move { serve_matching(state, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stopper = Arc::clone(&state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                    stopper.stop.notify_waiters();
                })
                .await;
        });
        MatchingReplayServer {
            addr,
            state,
            shutdown: Some(tx),
        }
    }

    pub fn origin(&self) -> String {
        self.addr.to_string()
    }

    /// Requests so far, with the recorded interaction each one matched.
    pub fn log(&self) -> Vec<(Captured, Option<usize>)> {
        self.state.log.lock().unwrap().clone()
    }

    /// Indexes of recorded interactions not used yet.
    pub fn unused(&self) -> Vec<usize> {
        let used = self.state.used.lock().unwrap();
        (0..used.len()).filter(|i| !used[*i]).collect()
    }

    /// Waits until recorded interaction `index` has been requested.
    pub async fn wait_used(&self, index: usize) {
        loop {
            let notified = self.state.changed.notified();
            if self.state.used.lock().unwrap()[index] {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for MatchingReplayServer {
    fn drop(&mut self) {
        self.state.stop.notify_waiters();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn request_matches(recorded: &Interaction, ours: &Captured) -> bool {
    if recorded.method != ours.method {
        return false;
    }
    let (want, got) = (recorded.segments(), ours.segments());
    if want.len() != got.len() || want.iter().zip(&got).any(|(w, g)| w != g && !list_eq(w, g)) {
        return false;
    }
    let query = recorded.query();
    ["tt", "uuid", "add", "remove", "channel-group"]
        .iter()
        .all(|key| match query.get(*key) {
            None => true,
            Some(want) => ours
                .query
                .get(*key)
                .is_some_and(|got| got == want || list_eq(got, want)),
        })
}

async fn serve_matching(
    state: Arc<MatchState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let captured = capture(method, uri, headers, body);
    let chosen = {
        let mut used = state.used.lock().unwrap();
        let index = (0..state.interactions.len())
            .find(|i| !used[*i] && request_matches(&state.interactions[*i], &captured));
        if let Some(i) = index {
            used[i] = true;
        }
        index
    };
    let is_subscribe = captured.raw_path.starts_with("/v2/subscribe/");
    state.log.lock().unwrap().push((captured, chosen));
    state.changed.notify_waiters();
    match chosen {
        Some(i) => {
            let recorded = &state.interactions[i];
            let status =
                StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                status,
                [("content-type", "text/javascript; charset=\"UTF-8\"")],
                recorded.response_body.clone(),
            )
                .into_response()
        }
        None if is_subscribe => {
            // Nothing recorded for this long-poll: hold it like a real server.
            state.stop.notified().await;
            (StatusCode::OK, "{\"t\":{\"t\":\"0\",\"r\":0},\"m\":[]}").into_response()
        }
        None => (
            StatusCode::from_u16(599).unwrap(),
            "no recorded interaction matches",
        )
            .into_response(),
    }
}

/// Parameters our client adds that the recorder usually filtered out, or
/// whose values differ per run.
pub const VOLATILE_PARAMS: &[&str] = &[
    "pnsdk",
    "uuid",
    "requestid",
    "seqn",
    "signature",
    "timestamp",
    "auth",
];

/// Parameters whose values are JSON and compared parsed.
const JSON_PARAMS: &[&str] = &["meta", "state"];
/// Parameters whose values are booleans spelled `1`/`true` or `0`/`false`.
const BOOL_PARAMS: &[&str] = &[
    "norep",
    "store",
    "include_token",
    "include_meta",
    "reverse",
    "include_uuid",
    "include_message_type",
    "disable_uuids",
    "state",
    "count",
    "include_custom_message_type",
    "string_message_token",
];

/// Python sends `True`/`False` for some flags (e.g. `count=True`).
fn normal_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "true" | "True" => Some(true),
        "0" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Compares our request with the recorded one: same method, same decoded path
/// segments (segment `i` compared with `segment_eq` when given, e.g. parsed
/// JSON payloads), every recorded query parameter present with an equivalent
/// value (volatile ones only need to be present), and no unexpected extra
/// parameters of ours.
pub fn assert_equivalent(
    cassette: &str,
    recorded: &Interaction,
    ours: &Captured,
    segment_eq: &dyn Fn(usize, &str, &str) -> bool,
) {
    assert_equivalent_with(cassette, recorded, ours, segment_eq, &[]);
}

/// [`assert_equivalent`], also allowing our request to carry `extra`
/// parameters the recording client did not send (e.g. `heartbeat`, which
/// pubnub-rx puts on every subscribe).
pub fn assert_equivalent_with(
    cassette: &str,
    recorded: &Interaction,
    ours: &Captured,
    segment_eq: &dyn Fn(usize, &str, &str) -> bool,
    extra: &[&str],
) {
    assert_eq!(ours.method, recorded.method, "{cassette}: method");
    let (want, got) = (recorded.segments(), ours.segments());
    assert_eq!(
        got.len(),
        want.len(),
        "{cassette}: path {} vs recorded {}",
        ours.raw_path,
        recorded.raw_path()
    );
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert!(
            w == g || segment_eq(i, w, g),
            "{cassette}: path segment {i}: ours {g:?}, recorded {w:?}"
        );
    }
    let recorded_query = recorded.query();
    for (key, want) in &recorded_query {
        // `ee` marks the Python event engine; `l_*` are telemetry.
        if key.starts_with("l_")
            || ["pnsdk", "requestid", "signature", "timestamp", "seqn", "ee"]
                .contains(&key.as_str())
        {
            continue;
        }
        let got = ours.query.get(key).unwrap_or_else(|| {
            panic!(
                "{cassette}: our request lacks `{key}` (recorded {want:?}); ours: {:?}",
                ours.query
            )
        });
        let same = got == want
            || (JSON_PARAMS.contains(&key.as_str()) && json_eq(got, want))
            || (BOOL_PARAMS.contains(&key.as_str())
                && normal_bool(got).is_some()
                && normal_bool(got) == normal_bool(want))
            || list_eq(got, want);
        assert!(
            same,
            "{cassette}: query `{key}`: ours {got:?}, recorded {want:?}"
        );
    }
    for key in ours.query.keys() {
        assert!(
            recorded_query.contains_key(key)
                || VOLATILE_PARAMS.contains(&key.as_str())
                || extra.contains(&key.as_str()),
            "{cassette}: we sent `{key}={}` which the recorded request does not have",
            ours.query[key]
        );
    }
}

pub fn json_eq(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Comma lists compared as sets of names.
fn list_eq(a: &str, b: &str) -> bool {
    if !a.contains(',') && !b.contains(',') {
        return false;
    }
    let mut a: Vec<&str> = a.split(',').collect();
    let mut b: Vec<&str> = b.split(',').collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// Replay bookkeeping: counts what replayed and prints the tally.
#[derive(Default)]
pub struct Tally {
    pub replayed: Vec<String>,
    pub skipped: Vec<(String, String)>,
}

impl Tally {
    pub fn ok(&mut self, name: &str) {
        self.replayed.push(name.to_owned());
    }
    pub fn skip(&mut self, name: &str, why: &str) {
        self.skipped.push((name.to_owned(), why.to_owned()));
    }
    pub fn report(&self, family: &str) {
        let total = self.replayed.len() + self.skipped.len();
        println!(
            "{family}: replayed {}/{} cassettes",
            self.replayed.len(),
            total
        );
        for (name, why) in &self.skipped {
            println!("  not replayed: {name}: {why}");
        }
    }
}
