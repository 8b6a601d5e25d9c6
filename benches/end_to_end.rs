//! End to end over loopback HTTP.
//!
//! (a) **Firehose receive throughput.** A tiny local HTTP server (axum, on
//! its own one-thread runtime) answers every receive long-poll at once with
//! a prebuilt 100-message envelope (two of them, alternating, with distinct
//! timetokens, so the client's duplicate filter drops nothing) while the
//! reader's budget lasts, and parks its receives once it is spent. Three
//! readers, each on its own tokio runtime:
//!
//! * the floor any client pays: a raw reqwest keep-alive loop that fetches
//!   the bodies one after the other and parses them into a borrowed struct
//!   (current-thread runtime, the fastest setting for one sequential loop);
//! * pubnub-rx (default reqwest transport, one subscription, its
//!   `messages()` stream drained by one consumer) on a current-thread
//!   runtime, and on a 2-worker runtime.
//!
//! They run in criterion, then interleaved in rounds for the ratios, with
//! the resident memory before and after.
//!
//! (b) **Through the in-process dev server.** Publish→receive latency (one
//! publish at a time; p50/p99 per delivery and until the last subscriber has
//! it) and sustained throughput (publishes kept in flight, never more than
//! 50 ahead of the slowest subscriber so the server's 100-message queue
//! drops nothing), for 1 publisher → 1 subscriber and 1 → 100 subscribers,
//! every subscriber a separate client with its own connection.
//!
//! `cargo bench --bench end_to_end` (see BENCHMARKS.md for pinning it to one
//! core with `taskset`, which makes the firehose figures repeatable).

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
use pubnub_rx::{Config, GapRecovery, Message, PubNub, Subscription, SubscriptionOptions};
use support::{borrowed, envelopes, Mix};
use tokio::sync::Notify;

// ---------------------------------------------------------------- firehose

struct FirehoseState {
    bodies: Vec<Bytes>,
    next: AtomicUsize,
    /// Receives each reader may still get answered (by [`Reader`]), so that
    /// a long-poll one of them left parked never takes another's answers.
    budget: [AtomicU64; 5],
    more: Notify,
}

/// Who reads the firehose (told apart by the `uuid` they send).
#[derive(Clone, Copy)]
enum Reader {
    Raw = 0,
    CurrentThread = 1,
    MultiThread = 2,
    /// Current-thread, gap recovery off.
    GapOff = 3,
    /// Current-thread, history refuses (storage off).
    NoStorage = 4,
}

const READERS: [Reader; 5] = [
    Reader::Raw,
    Reader::CurrentThread,
    Reader::MultiThread,
    Reader::GapOff,
    Reader::NoStorage,
];

impl Reader {
    fn uuid(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::CurrentThread => "current",
            Self::MultiThread => "multi",
            Self::GapOff => "gapoff",
            Self::NoStorage => "nostore",
        }
    }
}

const HANDSHAKE: &[u8] = br#"{"t":{"t":"1","r":1},"m":[]}"#;

async fn subscribe(
    State(state): State<Arc<FirehoseState>>,
    RawQuery(query): RawQuery,
) -> impl IntoResponse {
    let query = query.as_deref().unwrap_or("");
    let handshake = query.split('&').any(|pair| pair == "tt=0");
    let reader = READERS
        .into_iter()
        .find(|reader| {
            query
                .split('&')
                .any(|pair| pair.strip_prefix("uuid=") == Some(reader.uuid()))
        })
        .unwrap_or(Reader::MultiThread);
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

/// Fetch v3 for the gap checks: every batch of the firehose is full (100
/// messages), so with gap recovery on each one asks history for the range
/// before it. History has nothing there; for the `nostore` reader it
/// refuses (storage off), which stops the asking after the first time.
async fn history(RawQuery(query): RawQuery) -> impl IntoResponse {
    let nostore = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .any(|pair| pair == "uuid=nostore");
    if nostore {
        (
            axum::http::StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":403,"error":true,"error_message":"Storage is not enabled for this subscribe key","channels":{}}"#,
        )
    } else {
        (
            axum::http::StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":200,"error":false,"error_message":"","channels":{}}"#,
        )
    }
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
            budget: std::array::from_fn(|_| AtomicU64::new(0)),
            more: Notify::new(),
        });
        let app = axum::Router::new()
            .route("/v2/subscribe/{*rest}", get(subscribe))
            .route("/v3/history/{*rest}", get(history))
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
/// cursor like a client does, on its own current-thread runtime (the
/// fastest setting for one sequential loop: no hand-off between threads).
struct RawLoop {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    cursor: String,
}

impl RawLoop {
    fn new(server: &FirehoseServer) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = runtime.block_on(async { reqwest::Client::new() });
        Self {
            runtime,
            http,
            base: server.base.clone(),
            cursor: "1".to_owned(),
        }
    }

    fn run(&mut self, server: &FirehoseServer, envelopes: u64) -> Duration {
        let Self {
            runtime,
            http,
            base,
            cursor,
        } = self;
        runtime.block_on(async {
            let started = Instant::now();
            server.allow(Reader::Raw, envelopes);
            let mut messages = 0;
            for _ in 0..envelopes {
                let url = format!(
                    "{base}/v2/subscribe/sub-c-bench/chat/0?tt={cursor}&tr=1&uuid=raw&pnsdk=raw"
                );
                let body = http.get(url).send().await.unwrap().bytes().await.unwrap();
                let parsed: borrowed::Response<'_> = serde_json::from_slice(&body).unwrap();
                messages += parsed.m.len();
                parsed.t.t.clone_into(cursor);
                std::hint::black_box(&parsed);
            }
            assert_eq!(messages as u64, envelopes * 100);
            started.elapsed()
        })
    }
}

/// The tokio runtime a firehose reader runs on.
#[derive(Clone, Copy)]
enum Flavor {
    /// Everything on the calling thread.
    CurrentThread,
    /// Two worker threads (the consumer runs on the calling thread).
    MultiThread,
}

fn runtime(flavor: Flavor) -> tokio::runtime::Runtime {
    match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
    }
    .enable_all()
    .build()
    .unwrap()
}

/// pubnub-rx with its default transport, one subscription, one consumer,
/// on its own runtime.
struct Client {
    reader: Reader,
    messages: SubscriptionStream<Message>,
    _subscription: Subscription,
    _client: PubNub,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    fn start(server: &FirehoseServer, flavor: Flavor) -> Self {
        let reader = match flavor {
            Flavor::CurrentThread => Reader::CurrentThread,
            Flavor::MultiThread => Reader::MultiThread,
        };
        Self::start_as(server, flavor, reader, GapRecovery::FromHistory)
    }

    fn start_as(
        server: &FirehoseServer,
        flavor: Flavor,
        reader: Reader,
        recovery: GapRecovery,
    ) -> Self {
        let runtime = runtime(flavor);
        let origin = server.base.trim_start_matches("http://");
        let config = Config::builder()
            .subscribe_key("sub-c-bench")
            .user_id(reader.uuid())
            .origin(origin)
            .ssl(false)
            .gap_recovery(recovery)
            .build()
            .unwrap();
        let (client, subscription, messages) = runtime.block_on(async {
            let client = PubNub::new(config).unwrap();
            // Backpressure: between rounds nobody reads, and the client
            // should then pause rather than drop (nothing runs behind the
            // other readers' backs).
            let subscription = client
                .channel("chat")
                .subscription(SubscriptionOptions::new().overflow(OverflowPolicy::Backpressure));
            let messages = subscription.messages();
            subscription.subscribe();
            (client, subscription, messages)
        });
        Self {
            reader,
            messages,
            _subscription: subscription,
            _client: client,
            runtime,
        }
    }

    fn run(&mut self, server: &FirehoseServer, envelopes: u64) -> Duration {
        let Self {
            reader,
            messages,
            runtime,
            ..
        } = self;
        runtime.block_on(async {
            let expected = envelopes * 100;
            let started = Instant::now();
            server.allow(*reader, envelopes);
            for seen in 0..expected {
                match messages.next().await {
                    Some(message) => {
                        std::hint::black_box(&message);
                    }
                    None => panic!("stream ended after {seen} of {expected}"),
                }
            }
            started.elapsed()
        })
    }
}

fn firehose_criterion(c: &mut Criterion) {
    let server = FirehoseServer::start();
    let mut raw = RawLoop::new(&server);
    let mut group = c.benchmark_group("end_to_end/firehose");
    group.throughput(Throughput::Elements(100));
    group.bench_function("raw_reqwest_borrowed_decode", |b| {
        b.iter_custom(|iters| raw.run(&server, iters))
    });
    for (name, flavor) in [
        ("pubnub_rx_messages/current_thread", Flavor::CurrentThread),
        ("pubnub_rx_messages/multi_thread", Flavor::MultiThread),
    ] {
        let mut client = Client::start(&server, flavor);
        group.bench_function(name, |b| b.iter_custom(|iters| client.run(&server, iters)));
    }
    group.finish();
}

fn firehose_side_by_side() {
    let quick = !support::bench_mode();
    let (rounds, envelopes) = if quick { (1, 2) } else { (9, 400) };
    let server = FirehoseServer::start();
    let mut raw = RawLoop::new(&server);
    let mut current = Client::start(&server, Flavor::CurrentThread);
    let mut multi = Client::start(&server, Flavor::MultiThread);
    let mut gap_off = Client::start_as(
        &server,
        Flavor::CurrentThread,
        Reader::GapOff,
        GapRecovery::Off,
    );
    let mut no_storage = Client::start_as(
        &server,
        Flavor::CurrentThread,
        Reader::NoStorage,
        GapRecovery::FromHistory,
    );
    // Warm up, then read the resident memory around the measured rounds.
    for client in [&mut current, &mut multi, &mut gap_off, &mut no_storage] {
        client.run(&server, 50.min(envelopes * 10));
    }
    let rss_before = support::rss_kib();
    let times = support::interleaved(
        rounds,
        &mut [
            &mut || raw.run(&server, envelopes),
            &mut || current.run(&server, envelopes),
            &mut || multi.run(&server, envelopes),
            &mut || gap_off.run(&server, envelopes),
            &mut || no_storage.run(&server, envelopes),
        ],
    );
    let rss_after = support::rss_kib();
    let rate = |us: &[f64]| {
        support::spread(
            &us.iter()
                .map(|us| (envelopes * 100) as f64 / (us / 1e6))
                .collect::<Vec<_>>(),
        )
    };
    println!(
        "\nfirehose side by side (load average {}): {rounds} interleaved rounds of {} messages each; messages/s median [min max]; share of the floor = median of per-round floor time / reader time",
        support::load_average(),
        envelopes * 100
    );
    let names = [
        "raw reqwest loop + borrowed decode (current-thread runtime)",
        "pubnub-rx, current-thread, gap recovery on (history asked per batch)",
        "pubnub-rx, 2-worker runtime, gap recovery on",
        "pubnub-rx, current-thread, gap recovery off",
        "pubnub-rx, current-thread, gap recovery on, storage off",
    ];
    for (index, (name, us)) in names.iter().zip(&times).enumerate() {
        let r = rate(us);
        let share = if index == 0 {
            String::new()
        } else {
            let ratio = support::spread(&support::ratios(&times[0], us));
            format!(
                "  {:.0}% of the floor [{:.0}% {:.0}%]",
                100.0 / ratio.median,
                100.0 / ratio.max,
                100.0 / ratio.min
            )
        };
        println!(
            "{name:<60} {:>9.0} [{:.0} {:.0}]{share}",
            r.median, r.min, r.max
        );
    }
    println!(
        "resident memory over {} messages: {:?} KiB -> {:?} KiB",
        rounds as u64 * 5 * envelopes * 100,
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
    let runtime = runtime(Flavor::MultiThread);
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

/// `PUBNUB_BENCH_PROFILE=<reader>,<envelopes>` (reader `raw`, `current` or
/// `multi`): only that firehose reader, for `valgrind --tool=callgrind` or
/// `perf`; `PUBNUB_BENCH_PROFILE=side_by_side`: only that comparison.
fn profile(spec: &str) {
    let (who, envelopes) = spec.split_once(',').unwrap_or((spec, "1000"));
    let envelopes: u64 = envelopes.parse().expect("envelopes is a number");
    let server = FirehoseServer::start();
    let elapsed = match who {
        "raw" => RawLoop::new(&server).run(&server, envelopes),
        "multi" => Client::start(&server, Flavor::MultiThread).run(&server, envelopes),
        _ => Client::start(&server, Flavor::CurrentThread).run(&server, envelopes),
    };
    println!(
        "{who}: {envelopes} envelopes in {elapsed:?} ({:.1} µs each)",
        elapsed.as_secs_f64() * 1e6 / envelopes.max(1) as f64
    );
}

fn main() {
    if let Ok(spec) = std::env::var("PUBNUB_BENCH_PROFILE") {
        if spec == "side_by_side" {
            firehose_side_by_side();
        } else {
            profile(&spec);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    firehose_side_by_side();
    dev_server();
}
