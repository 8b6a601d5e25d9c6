//! Counters for `/metrics` (Prometheus text exposition format) and the
//! dev-server-only routes `/metrics` and `/healthz`.
//!
//! Every counter is an atomic: a request costs a handful of relaxed atomic
//! adds, a delivery one. Gauges that the server already tracks (parked
//! polls) or that live in the store (messages, bytes) are read when
//! `/metrics` is scraped, not maintained per request.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Response, StatusCode};

use super::app::App;
use super::hooks::RouteKind;

/// Every route kind with its label, in the order the arrays are indexed.
const ROUTES: [(RouteKind, &str); 27] = [
    (RouteKind::Time, "time"),
    (RouteKind::Publish, "publish"),
    (RouteKind::Signal, "signal"),
    (RouteKind::Subscribe, "subscribe"),
    (RouteKind::Heartbeat, "heartbeat"),
    (RouteKind::Leave, "leave"),
    (RouteKind::HereNow, "here_now"),
    (RouteKind::WhereNow, "where_now"),
    (RouteKind::SetState, "set_state"),
    (RouteKind::GetState, "get_state"),
    (RouteKind::History, "history"),
    (RouteKind::FetchMessages, "fetch_messages"),
    (RouteKind::MessageCounts, "message_counts"),
    (RouteKind::DeleteMessages, "delete_messages"),
    (RouteKind::ChannelGroups, "channel_groups"),
    (RouteKind::Grant, "grant"),
    (RouteKind::Audit, "audit"),
    (RouteKind::GrantToken, "grant_token"),
    (RouteKind::RevokeToken, "revoke_token"),
    (RouteKind::AppContext, "app_context"),
    (RouteKind::MessageActions, "message_actions"),
    (RouteKind::Files, "files"),
    (RouteKind::PublishFile, "publish_file"),
    (RouteKind::FileStore, "file_store"),
    (RouteKind::Push, "push"),
    (RouteKind::Options, "options"),
    (RouteKind::Unknown, "unknown"),
];

/// Upper bounds (seconds) of the latency histogram buckets; `+Inf` follows.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// HTTP statuses are counted per value in `100..600`.
const STATUS_BASE: u16 = 100;
const STATUS_SPAN: usize = 500;

/// The label of a route kind (as `/metrics` and the console show it).
pub(crate) fn route_label(kind: RouteKind) -> &'static str {
    ROUTES[route_index(kind)].1
}

fn route_index(kind: RouteKind) -> usize {
    ROUTES
        .iter()
        .position(|(k, _)| *k == kind)
        .unwrap_or(ROUTES.len() - 1)
}

/// What a publish was, for `pubnub_publishes_total{kind}`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Published {
    Message,
    Signal,
    Fire,
    File,
}

#[derive(Debug)]
struct RouteStats {
    /// Non-cumulative bucket counts; the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
    statuses: Box<[AtomicU64]>,
}

impl RouteStats {
    fn new() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
            statuses: (0..STATUS_SPAN).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The server's counters.
#[derive(Debug)]
pub(crate) struct Metrics {
    routes: Vec<RouteStats>,
    connections: AtomicI64,
    connections_total: AtomicU64,
    published: [AtomicU64; 4],
    deliveries: AtomicU64,
    losses: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            routes: ROUTES.iter().map(|_| RouteStats::new()).collect(),
            connections: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            published: std::array::from_fn(|_| AtomicU64::new(0)),
            deliveries: AtomicU64::new(0),
            losses: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }
}

fn add(counter: &AtomicU64, by: usize) {
    counter.fetch_add(u64::try_from(by).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Counts one open connection for as long as it lives.
#[derive(Debug)]
pub(crate) struct ConnectionGuard<'a>(&'a Metrics);

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// An accepted connection; the gauge drops with the guard.
    pub(crate) fn connection(&self) -> ConnectionGuard<'_> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self)
    }

    /// An accepted publish, signal or fire.
    pub(crate) fn publish(&self, kind: Published) {
        add(&self.published[kind as usize], 1);
    }

    /// Messages written into one subscribe answer.
    pub(crate) fn delivered(&self, messages: usize) {
        add(&self.deliveries, messages);
    }

    /// Messages one subscriber lost to the queue rule.
    pub(crate) fn lost(&self, messages: usize) {
        if messages > 0 {
            add(&self.losses, messages);
        }
    }

    /// One answered request.
    pub(crate) fn request(
        &self,
        kind: RouteKind,
        status: StatusCode,
        latency: Duration,
        bytes_in: usize,
        bytes_out: usize,
    ) {
        let stats = &self.routes[route_index(kind)];
        let secs = latency.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(BUCKETS.len());
        add(&stats.buckets[bucket], 1);
        stats.sum_micros.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        add(&stats.count, 1);
        let slot = usize::from(status.as_u16().saturating_sub(STATUS_BASE));
        if let Some(counter) = stats.statuses.get(slot) {
            add(counter, 1);
        }
        add(&self.bytes_in, bytes_in);
        add(&self.bytes_out, bytes_out);
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP pubnub_{name} {help}");
    let _ = writeln!(out, "# TYPE pubnub_{name} {kind}");
}

/// The `/metrics` body.
pub(crate) fn render(app: &App) -> String {
    let m = &app.metrics;
    let mut out = String::with_capacity(8 * 1024);
    family(
        &mut out,
        "parked_polls",
        "gauge",
        "Subscribe long-polls waiting for messages.",
    );
    let _ = writeln!(out, "pubnub_parked_polls {}", app.parked.count());
    family(
        &mut out,
        "open_connections",
        "gauge",
        "HTTP connections open now.",
    );
    let _ = writeln!(
        out,
        "pubnub_open_connections {}",
        m.connections.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "connections_total",
        "counter",
        "HTTP connections accepted.",
    );
    let _ = writeln!(
        out,
        "pubnub_connections_total {}",
        load(&m.connections_total)
    );
    family(
        &mut out,
        "publishes_total",
        "counter",
        "Accepted publishes by kind (message, signal, fire, file).",
    );
    for (label, index) in [
        ("message", Published::Message),
        ("signal", Published::Signal),
        ("fire", Published::Fire),
        ("file", Published::File),
    ] {
        let _ = writeln!(
            out,
            "pubnub_publishes_total{{kind=\"{label}\"}} {}",
            load(&m.published[index as usize])
        );
    }
    family(
        &mut out,
        "deliveries_total",
        "counter",
        "Messages written into subscribe answers.",
    );
    let _ = writeln!(out, "pubnub_deliveries_total {}", load(&m.deliveries));
    family(
        &mut out,
        "queue_overflow_losses_total",
        "counter",
        "Messages subscribers lost to the subscribe queue limit.",
    );
    let _ = writeln!(
        out,
        "pubnub_queue_overflow_losses_total {}",
        load(&m.losses)
    );
    family(
        &mut out,
        "received_bytes_total",
        "counter",
        "Request bytes received (request target and body).",
    );
    let _ = writeln!(out, "pubnub_received_bytes_total {}", load(&m.bytes_in));
    family(
        &mut out,
        "sent_bytes_total",
        "counter",
        "Response body bytes sent.",
    );
    let _ = writeln!(out, "pubnub_sent_bytes_total {}", load(&m.bytes_out));

    let (mut messages, mut bytes) = (0usize, 0usize);
    for keyset in app.keysets.all() {
        let state = keyset.lock();
        for data in state.store.channels.values() {
            messages += data.history.len();
            bytes += data
                .history
                .iter()
                .map(|m| m.data.get().len())
                .sum::<usize>();
        }
    }
    family(
        &mut out,
        "store_messages",
        "gauge",
        "Messages held in history over all keysets.",
    );
    let _ = writeln!(out, "pubnub_store_messages {messages}");
    family(
        &mut out,
        "store_bytes",
        "gauge",
        "Payload bytes of the messages held in history.",
    );
    let _ = writeln!(out, "pubnub_store_bytes {bytes}");
    let budget = app.keysets.budget();
    family(
        &mut out,
        "store_held_bytes",
        "gauge",
        "Memory held by stored messages (recent and history, envelopes included), counted against max_store_bytes.",
    );
    let _ = writeln!(out, "pubnub_store_held_bytes {}", budget.held_bytes());
    family(
        &mut out,
        "store_max_bytes",
        "gauge",
        "The cap on memory held by stored messages (max_store_bytes).",
    );
    let _ = writeln!(out, "pubnub_store_max_bytes {}", budget.cap());
    family(
        &mut out,
        "store_evicted_messages_total",
        "counter",
        "Messages evicted, oldest first over all channels and keysets, to stay under max_store_bytes.",
    );
    let _ = writeln!(
        out,
        "pubnub_store_evicted_messages_total {}",
        budget.evicted()
    );

    family(
        &mut out,
        "file_held_bytes",
        "gauge",
        "Bytes of the stored files over all keysets, counted against max_file_bytes.",
    );
    let _ = writeln!(out, "pubnub_file_held_bytes {}", app.files.held());
    family(
        &mut out,
        "file_evicted_total",
        "counter",
        "Files evicted, oldest first, to stay under max_file_bytes and the per-keyset file count.",
    );
    let _ = writeln!(out, "pubnub_file_evicted_total {}", app.files.evicted());

    family(
        &mut out,
        "requests_total",
        "counter",
        "Answered requests by route and HTTP status.",
    );
    for ((_, route), stats) in ROUTES.iter().zip(&m.routes) {
        for (slot, counter) in stats.statuses.iter().enumerate() {
            let n = load(counter);
            if n > 0 {
                let status = usize::from(STATUS_BASE) + slot;
                let _ = writeln!(
                    out,
                    "pubnub_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
    }
    family(
        &mut out,
        "request_duration_seconds",
        "histogram",
        "Time from request head to answer, by route.",
    );
    for ((_, route), stats) in ROUTES.iter().zip(&m.routes) {
        let mut cumulative = 0;
        for (i, counter) in stats.buckets.iter().enumerate() {
            cumulative += load(counter);
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), f64::to_string);
            let _ = writeln!(
                out,
                "pubnub_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = load(&stats.sum_micros) as f64 / 1e6;
        let _ = writeln!(
            out,
            "pubnub_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "pubnub_request_duration_seconds_count{{route=\"{route}\"}} {}",
            load(&stats.count)
        );
    }
    out
}

fn text(body: String, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Answers the dev-server-only routes `/metrics` and `/healthz`, the
/// recorded push notifications and the web console with its `/dev/…` JSON
/// (GET); `None` for everything else. These never reach the request log,
/// fault injection or the counters, so watching does not disturb what it
/// watches.
pub(crate) fn dev_route(
    app: &App,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<Response<Body>> {
    if *method != Method::GET {
        return None;
    }
    if let Some(response) = super::push::dev_route(app, path) {
        return Some(response);
    }
    if let Some(response) = super::console::dev_route(app, path, query) {
        return Some(response);
    }
    match path {
        "/metrics" => Some(text(
            render(app),
            "text/plain; version=0.0.4; charset=utf-8",
        )),
        "/healthz" => Some(text("ok".to_owned(), "text/plain; charset=utf-8")),
        _ => None,
    }
}
