//! End to end over loopback HTTP.
//!
//! (a) **Firehose receive throughput.** A tiny local HTTP server answers
//! every receive long-poll at once with a prebuilt 100-message envelope
//! (two of them, alternating, with distinct timetokens, so the client's
//! duplicate filter drops nothing) while its budget lasts, and parks receives
//! once it is spent. It is read by pubnub-rx (default reqwest transport, one
//! subscription, its `messages()` stream drained by one consumer) and by the
//! floor any client pays: a raw reqwest keep-alive loop that fetches the
//! same bodies and parses them into a borrowed struct. Both run in the same
//! process, in criterion and then alternately in rounds for the ratio, with
//! the resident memory before and after.
//!
//! (b) **Through the in-process dev server.** Publish→receive latency (one
//! publish at a time; p50/p99 per delivery and until the last subscriber has
//! it) and sustained throughput (publishes kept in flight, never more than
//! 50 ahead of the slowest subscriber so the server's 100-message queue
//! drops nothing), for 1 publisher → 1 subscriber and 1 → 100 subscribers,
//! every subscriber a separate client with its own connection.
//!
//! `cargo bench --bench end_to_end`

mod support;

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use criterion::{criterion_group, Criterion, Throughput};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use pubnub_rx::server::{DevServer, DevServerConfig, DevServerHandle};
use pubnub_rx::subscribe::{OverflowPolicy, SubscriptionStream};
use pubnub_rx::{Config, Message, PubNub, Subscription, SubscriptionOptions};
use support::{borrowed, envelopes, Mix};
use tokio::sync::Notify;

// ---------------------------------------------------------------- firehose

struct FirehoseState {
    bodies: Vec<Bytes>,
    next: AtomicUsize,
    /// Receives each reader may still get answered: the raw loop
    /// (`uuid=raw`) and pubnub-rx, so that a long-poll one of them left
    /// parked never takes the other's answers.
    budget: [AtomicU64; 2],
    more: Notify,
}

/// Who reads the firehose.
#[derive(Clone, Copy)]
enum Reader {
    Raw = 0,
    PubnubRx = 1,
}

const HANDSHAKE: &[u8] = br#"{"t":{"t":"1","r":1},"m":[]}"#;

async fn subscribe(
    State(state): State<Arc<FirehoseState>>,
    RawQuery(query): RawQuery,
) -> impl IntoResponse {
    let query = query.as_deref().unwrap_or("");
    let handshake = query.split('&').any(|pair| pair == "tt=0");
    let reader = if query.split('&').any(|pair| pair == "uuid=raw") {
        Reader::Raw
    } else {
        Reader::PubnubRx
    };
    let budget = &state.budget[reader as usize];
    let body = if handshake {
        Bytes::from_static(HANDSHAKE)
    } else {
        loop {
            let more = state.more.notified();
            if budget
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(1))
                .is_ok()
            {
                break;
            }
            more.await;
        }
        let index = state.next.fetch_add(1, Ordering::AcqRel) % state.bodies.len();
        state.bodies[index].clone()
    };
    ([(header::CONTENT_TYPE, "application/json")], body)
}

async fn other() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":200,"message":"OK","service":"Presence"}"#,
    )
}

/// The firehose server on its own one-thread runtime.
struct FirehoseServer {
    state: Arc<FirehoseState>,
    base: String,
    _runtime: tokio::runtime::Runtime,
}

impl FirehoseServer {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(FirehoseState {
            bodies: envelopes(Mix::Messages, &|_| "chat".to_owned(), None)
                .into_iter()
                .map(Bytes::from)
                .collect(),
            next: AtomicUsize::new(0),
            budget: [AtomicU64::new(0), AtomicU64::new(0)],
            more: Notify::new(),
        });
        let app = axum::Router::new()
            .route("/v2/subscribe/{*rest}", get(subscribe))
            .fallback(other)
            .with_state(Arc::clone(&state));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            state,
            base,
            _runtime: runtime,
        }
    }

    fn allow(&self, reader: Reader, responses: u64) {
        self.state.budget[reader as usize].fetch_add(responses, Ordering::AcqRel);
        self.state.more.notify_waiters();
    }
}

/// The floor: a keep-alive reqwest loop plus borrowed decode, following the
/// cursor like a client does.
struct RawLoop {
    http: reqwest::Client,
    base: String,
    cursor: String,
}

impl RawLoop {
    async fn run(&mut self, server: &FirehoseServer, envelopes: u64) -> Duration {
        let started = Instant::now();
        server.allow(Reader::Raw, envelopes);
        let mut messages = 0;
        for _ in 0..envelopes {
            let url = format!(
                "{}/v2/subscribe/sub-c-bench/chat/0?tt={}&tr=1&uuid=raw&pnsdk=raw",
                self.base, self.cursor
            );
            let body = self
                .http
                .get(url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let parsed: borrowed::Response<'_> = serde_json::from_slice(&body).unwrap();
            messages += parsed.m.len();
            parsed.t.t.clone_into(&mut self.cursor);
            std::hint::black_box(&parsed);
        }
        assert_eq!(messages as u64, envelopes * 100);
        started.elapsed()
    }
}

/// pubnub-rx with its default transport, one subscription, one consumer.
struct Client {
    messages: SubscriptionStream<Message>,
    _subscription: Subscription,
    _client: PubNub,
}

impl Client {
    fn start(server: &FirehoseServer) -> Self {
        let origin = server.base.trim_start_matches("http://");
        let config = Config::builder()
            .subscribe_key("sub-c-bench")
            .user_id("bench")
            .origin(origin)
            .ssl(false)
            .build()
            .unwrap();
        let client = PubNub::new(config).unwrap();
        // Backpressure: between rounds nobody reads, and the client should
        // then pause rather than drop (nothing runs behind the floor's back).
        let subscription = client
            .channel("chat")
            .subscription(SubscriptionOptions::new().overflow(OverflowPolicy::Backpressure));
        let messages = subscription.messages();
        subscription.subscribe();
        Self {
            messages,
            _subscription: subscription,
            _client: client,
        }
    }

    async fn run(&mut self, server: &FirehoseServer, envelopes: u64) -> Duration {
        let expected = envelopes * 100;
        let started = Instant::now();
        server.allow(Reader::PubnubRx, envelopes);
        for seen in 0..expected {
            match self.messages.next().await {
                Some(message) => {
                    std::hint::black_box(&message);
                }
                None => panic!("stream ended after {seen} of {expected}"),
            }
        }
        started.elapsed()
    }
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn firehose_criterion(c: &mut Criterion) {
    let server = FirehoseServer::start();
    let runtime = client_runtime();
    let mut raw = RawLoop {
        http: reqwest::Client::new(),
        base: server.base.clone(),
        cursor: "1".to_owned(),
    };
    let mut client = runtime.block_on(async { Client::start(&server) });
    let mut group = c.benchmark_group("end_to_end/firehose");
    group.throughput(Throughput::Elements(100));
    group.bench_function("raw_reqwest_borrowed_decode", |b| {
        b.iter_custom(|iters| runtime.block_on(raw.run(&server, iters)))
    });
    group.bench_function("pubnub_rx_messages", |b| {
        b.iter_custom(|iters| runtime.block_on(client.run(&server, iters)))
    });
    group.finish();
}

fn firehose_side_by_side() {
    let quick = !support::bench_mode();
    let (rounds, envelopes) = if quick { (1, 2) } else { (9, 400) };
    let server = FirehoseServer::start();
    let runtime = client_runtime();
    let mut raw = RawLoop {
        http: reqwest::Client::new(),
        base: server.base.clone(),
        cursor: "1".to_owned(),
    };
    let mut client = runtime.block_on(async { Client::start(&server) });
    // Warm up, then read the resident memory around the measured rounds.
    runtime.block_on(client.run(&server, 50.min(envelopes * 10)));
    let rss_before = support::rss_kib();
    let (floor, ours, ratios) = support::side_by_side(
        rounds,
        || runtime.block_on(raw.run(&server, envelopes)),
        || runtime.block_on(client.run(&server, envelopes)),
    );
    let rss_after = support::rss_kib();
    let rate = |us: Vec<f64>| {
        support::spread(
            &us.iter()
                .map(|us| (envelopes * 100) as f64 / (us / 1e6))
                .collect::<Vec<_>>(),
        )
    };
    let (floor, ours, ratio) = (rate(floor), rate(ours), support::spread(&ratios));
    let share = 1.0 / ratio.median;
    println!(
        "\nfirehose side by side (load average {}): {rounds} alternating rounds of {} messages; messages/s median [min max]",
        support::load_average(),
        envelopes * 100
    );
    println!(
        "raw reqwest loop + borrowed decode: {:>9.0} [{:.0} {:.0}]",
        floor.median, floor.min, floor.max
    );
    println!(
        "pubnub-rx messages stream:          {:>9.0} [{:.0} {:.0}]",
        ours.median, ours.min, ours.max
    );
    println!(
        "pubnub-rx / floor: {:.0}% (time ratio median {:.2} [{:.2} {:.2}])",
        share * 100.0,
        ratio.median,
        ratio.min,
        ratio.max
    );
    println!(
        "resident memory over {} messages: {:?} KiB -> {:?} KiB",
        rounds as u64 * 2 * envelopes * 100,
        rss_before,
        rss_after
    );
}

// ---------------------------------------------------------- dev server

/// One receipt: which subscriber got which message when.
type Receipt = (usize, u64, Instant);

struct Fleet {
    server: DevServerHandle,
    publisher: PubNub,
    receipts: tokio::sync::mpsc::UnboundedReceiver<Receipt>,
    received: Arc<Vec<AtomicU64>>,
    progress: Arc<Notify>,
    _subscribers: Vec<(PubNub, Subscription)>,
}

fn dev_client(server: &DevServerHandle, user: &str) -> PubNub {
    let config = Config::builder()
        .subscribe_key("sub-c-bench")
        .publish_key("pub-c-bench")
        .user_id(user)
        .origin(server.origin())
        .ssl(false)
        .build()
        .unwrap();
    PubNub::new(config).unwrap()
}

async fn fleet(subscribers: usize, channel: &str) -> Fleet {
    let server = DevServer::start(DevServerConfig::default().with_hold(Duration::from_secs(60)))
        .await
        .unwrap();
    let publisher = dev_client(&server, "publisher");
    let (tx, receipts) = tokio::sync::mpsc::unbounded_channel();
    let received: Arc<Vec<AtomicU64>> =
        Arc::new((0..subscribers).map(|_| AtomicU64::new(0)).collect());
    let progress = Arc::new(Notify::new());
    let mut handles = Vec::new();
    for index in 0..subscribers {
        let client = dev_client(&server, &format!("subscriber-{index}"));
        let subscription = client
            .channel(channel)
            .subscription(SubscriptionOptions::new());
        let mut messages = subscription.messages();
        subscription.subscribe();
        let (tx, received, progress) = (tx.clone(), Arc::clone(&received), Arc::clone(&progress));
        tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                let now = Instant::now();
                let seq = message
                    .decode::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v["seq"].as_u64());
                received[index].fetch_add(1, Ordering::AcqRel);
                progress.notify_one();
                if tx.send((index, seq.unwrap_or(u64::MAX), now)).is_err() {
                    break;
                }
            }
        });
        handles.push((client, subscription));
    }
    // Every subscriber has handshaken and parked its first receive.
    server.wait_for_parked(subscribers).await;
    Fleet {
        server,
        publisher,
        receipts,
        received,
        progress,
        _subscribers: handles,
    }
}

fn payload(seq: u64) -> serde_json::Value {
    let mut value: serde_json::Value =
        serde_json::from_str(&support::payload(seq as usize)).unwrap();
    value["seq"] = seq.into();
    value
}

/// Publishes one message at a time and waits until every subscriber has it.
async fn latency(fleet: &mut Fleet, samples: u64) -> (Vec<Duration>, Vec<Duration>) {
    let subscribers = fleet.received.len();
    let (mut each, mut all) = (Vec::new(), Vec::new());
    for seq in 0..samples {
        // Let every subscriber park its next long-poll first.
        fleet.server.wait_for_parked(subscribers).await;
        let started = Instant::now();
        fleet
            .publisher
            .publish()
            .channel("latency")
            .message(&payload(seq))
            .await
            .unwrap();
        let mut last = started;
        for _ in 0..subscribers {
            let (_, got, at) = fleet.receipts.recv().await.unwrap();
            assert_eq!(got, seq);
            each.push(at - started);
            last = last.max(at);
        }
        all.push(last - started);
    }
    each.sort();
    all.sort();
    (each, all)
}

/// Publishes `total` messages with up to 16 publishes in flight and never
/// more than 50 ahead of the slowest subscriber; returns the time until the
/// last subscriber got the last one.
async fn throughput(fleet: &mut Fleet, channel: &str, first: u64, total: u64) -> Duration {
    const IN_FLIGHT: usize = 16;
    const WINDOW: u64 = 50;
    let base: Vec<u64> = fleet
        .received
        .iter()
        .map(|r| r.load(Ordering::Acquire))
        .collect();
    let slowest = |fleet: &Fleet| {
        fleet
            .received
            .iter()
            .zip(&base)
            .map(|(r, b)| r.load(Ordering::Acquire) - b)
            .min()
            .unwrap_or(0)
    };
    let started = Instant::now();
    let mut published = 0u64;
    let mut inflight = FuturesUnordered::new();
    while slowest(fleet) < total {
        // Drain receipts so the channel does not grow.
        while fleet.receipts.try_recv().is_ok() {}
        let can_publish =
            published < total && inflight.len() < IN_FLIGHT && published < slowest(fleet) + WINDOW;
        if can_publish {
            let publish = fleet
                .publisher
                .publish()
                .channel(channel)
                .message(&payload(first + published))
                .into_future();
            inflight.push(publish);
            published += 1;
            continue;
        }
        let progress = Arc::clone(&fleet.progress);
        tokio::select! {
            Some(result) = inflight.next(), if !inflight.is_empty() => {
                result.unwrap();
            }
            () = progress.notified() => {}
        }
    }
    let elapsed = started.elapsed();
    while fleet.receipts.try_recv().is_ok() {}
    elapsed
}

fn dev_server() {
    let quick = !support::bench_mode();
    let runtime = client_runtime();
    println!(
        "\ndev server, loopback (load average {})",
        support::load_average()
    );
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>12} {:>14}",
        "publisher→subs",
        "p50 each",
        "p99 each",
        "p50 all",
        "p99 all",
        "messages/s",
        "deliveries/s"
    );
    for subscribers in [1usize, 100] {
        runtime.block_on(async {
            let mut latency_fleet = fleet(subscribers, "latency").await;
            let samples = match (quick, subscribers) {
                (true, _) => 3,
                (false, 1) => 2000,
                (false, _) => 300,
            };
            let _ = latency(&mut latency_fleet, samples.min(20)).await;
            let (each, all) = latency(&mut latency_fleet, samples).await;
            drop(latency_fleet);
            let mut fleet = fleet(subscribers, "throughput").await;
            let total = match (quick, subscribers) {
                (true, _) => 20,
                (false, 1) => 20_000,
                (false, _) => 3_000,
            };
            let _ = throughput(&mut fleet, "throughput", 0, total / 10).await;
            let elapsed = throughput(&mut fleet, "throughput", total / 10, total).await;
            let rate = total as f64 / elapsed.as_secs_f64();
            let us = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6);
            println!(
                "{:<16} {:>9} {:>9} {:>9} {:>9} {:>12.0} {:>14.0}",
                format!("1 → {subscribers}"),
                us(support::quantile(&each, 0.5)),
                us(support::quantile(&each, 0.99)),
                us(support::quantile(&all, 0.5)),
                us(support::quantile(&all, 0.99)),
                rate,
                rate * subscribers as f64
            );
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = firehose_criterion
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    firehose_side_by_side();
    dev_server();
}
