//! Dispatch: one subscribe response of 100 messages through the real client
//! path — the multiplexer actor, envelope decoding, decryption when enabled,
//! routing, delivery into the subscriptions' queues — drained from the
//! streams by one consumer task. An in-memory transport answers every
//! receive at once, so the figure is the client's own cost.
//!
//! Criterion reports time and messages per second per envelope. A second
//! pass runs every case interleaved with its borrowed-decode floor (the
//! `decode_baseline` bench's parse of the same body) and prints the ratio,
//! messages/s, deliveries/s (messages × subscriptions reached) and the cost
//! of each extra subscriber on a fanned-out channel.
//!
//! `cargo bench --bench dispatch`

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use std::task::Poll;

use futures::StreamExt;
use pubnub_rx::crypto::CryptoModule;
use pubnub_rx::subscribe::SubscriptionStream;
use pubnub_rx::subscribe::{OverflowPolicy, SubscriptionOptions};
use pubnub_rx::{Config, Event, GapRecovery, PubNub, Subscription, SubscriptionSet};
use support::{envelopes, Firehose, Mix};

struct Case {
    name: &'static str,
    mix: Mix,
    /// Channel of envelope `i`.
    channel_of: fn(usize) -> String,
    /// Subscriptions: channel names (one subscription each).
    subscriptions: Vec<String>,
    /// Wrap them in one SubscriptionSet.
    as_set: bool,
    with_presence: bool,
    encrypted: bool,
    /// Deliveries per envelope.
    deliveries: u64,
}

fn chat(_: usize) -> String {
    "chat".to_owned()
}

fn spread(i: usize) -> String {
    format!("ch-{i}")
}

fn cases() -> Vec<Case> {
    let fanout = |n: usize, name: &'static str| Case {
        name,
        mix: Mix::Messages,
        channel_of: chat,
        subscriptions: vec!["chat".to_owned(); n],
        as_set: false,
        with_presence: false,
        encrypted: false,
        deliveries: 100 * n as u64,
    };
    vec![
        Case {
            name: "1_subscription",
            ..fanout(1, "")
        },
        Case {
            name: "100_subscriptions_100_channels",
            channel_of: spread,
            subscriptions: (0..100).map(spread).collect(),
            deliveries: 100,
            ..fanout(1, "")
        },
        fanout(10, "fanout_10"),
        fanout(100, "fanout_100"),
        fanout(1000, "fanout_1000"),
        Case {
            name: "set_of_100",
            channel_of: spread,
            subscriptions: (0..100).map(spread).collect(),
            as_set: true,
            deliveries: 100,
            ..fanout(1, "")
        },
        Case {
            name: "cipher_key",
            encrypted: true,
            ..fanout(1, "")
        },
        Case {
            name: "mixed_signals_presence",
            mix: Mix::Mixed,
            with_presence: true,
            ..fanout(1, "")
        },
    ]
}

struct Running {
    firehose: Firehose,
    streams: Vec<SubscriptionStream<Event>>,
    _client: PubNub,
    _sentinel: Subscription,
    _subscriptions: Vec<Subscription>,
    _set: Option<SubscriptionSet>,
}

async fn start(case: &Case) -> Running {
    let crypto = CryptoModule::legacy("bench-key", true).unwrap();
    let encrypt = |plain: &str| crypto.encrypt_to_base64(plain.as_bytes()).unwrap();
    let bodies = envelopes(
        case.mix,
        &case.channel_of,
        if case.encrypted { Some(&encrypt) } else { None },
    );
    let firehose = Firehose::new(bodies);
    let mut config = Config::builder()
        .subscribe_key("sub-c-bench")
        .user_id("bench")
        .origin("firehose.invalid")
        .use_request_id(false)
        // Every envelope here holds 100 messages, a full batch: with gap
        // recovery on, each would also ask history for the range before it.
        // That protocol cost is `end_to_end`'s (firehose, gap recovery on and
        // off); this bench measures dispatch alone.
        .gap_recovery(GapRecovery::Off)
        .transport(Arc::new(firehose.clone()));
    if case.encrypted {
        config = config.crypto_module(crypto.clone());
    }
    let client = PubNub::new(config.build().unwrap()).unwrap();
    let mut options = SubscriptionOptions::new()
        .queue_capacity(1024)
        .overflow(OverflowPolicy::Backpressure);
    if case.with_presence {
        options = options.with_presence();
    }
    let subscriptions: Vec<Subscription> = case
        .subscriptions
        .iter()
        .map(|ch| client.channel(ch.as_str()).subscription(options.clone()))
        .collect();
    let (streams, set) = if case.as_set {
        let set = client.subscription_set(subscriptions.iter().cloned());
        let streams = vec![set.events()];
        set.subscribe();
        (streams, Some(set))
    } else {
        let streams = subscriptions.iter().map(Subscription::events).collect();
        for s in &subscriptions {
            s.subscribe();
        }
        (streams, None)
    };
    // Wait until the multiplexer has taken every subscription (commands are
    // handled in order, so once a long-poll names one more channel, added
    // last, all are routed); a receive cancelled by a later change of
    // channels would also lose its budget.
    let mut names: Vec<&String> = case.subscriptions.iter().collect();
    names.sort();
    names.dedup();
    let channels = names.len() * if case.with_presence { 2 } else { 1 };
    let sentinel = client
        .channel("sentinel")
        .subscription(SubscriptionOptions::new());
    sentinel.subscribe();
    firehose.wait_for_channels(channels + 1).await;
    Running {
        firehose,
        streams,
        _client: client,
        _sentinel: sentinel,
        _subscriptions: subscriptions,
        _set: set,
    }
}

/// Takes every event ready on any stream (at least one), polling the
/// streams in turn: one consumer task for all subscriptions, without the
/// per-item bookkeeping of `select_all`.
async fn next_events(streams: &mut [SubscriptionStream<Event>]) -> u64 {
    std::future::poll_fn(|cx| {
        let mut got = 0;
        for stream in streams.iter_mut() {
            loop {
                match stream.poll_next_unpin(cx) {
                    Poll::Ready(Some(event)) => {
                        std::hint::black_box(&event);
                        got += 1;
                    }
                    Poll::Ready(None) => panic!("a stream ended"),
                    Poll::Pending => break,
                }
            }
        }
        if got > 0 {
            Poll::Ready(got)
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Lets `envelopes` responses through and drains every delivery they make.
async fn drain(running: &mut Running, envelopes: u64, deliveries: u64) -> Duration {
    let expected = envelopes * deliveries;
    let started = Instant::now();
    running.firehose.allow(envelopes);
    let mut seen = 0;
    while seen < expected {
        seen += next_events(&mut running.streams).await;
    }
    started.elapsed()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("dispatch");
    // One iteration is one 100-message envelope; deliveries per second are
    // messages per second times the subscriptions each message reaches
    // (printed by the side-by-side summary).
    group.throughput(Throughput::Elements(100));
    for case in cases() {
        let mut running = runtime.block_on(start(&case));
        group.bench_function(case.name, |b| {
            b.iter_custom(|iters| runtime.block_on(drain(&mut running, iters, case.deliveries)))
        });
    }
    group.finish();
}

/// Dispatch and its borrowed-decode floor, alternately in one run, so the
/// ratio holds on a machine other builds are loading.
fn side_by_side() {
    let runtime = runtime();
    let quick = !support::bench_mode();
    let rounds = if quick { 1 } else { 9 };
    println!(
        "\nside by side (load average {}): {rounds} interleaved rounds; median [min max] per 100-message envelope; ratio = dispatch / borrowed decode (from_slice) per round; vs str = dispatch / borrowed decode after one UTF-8 validation (from_str)",
        support::load_average()
    );
    println!(
        "{:<32} {:>22} {:>24} {:>20} {:>6} {:>12} {:>14}",
        "case",
        "borrowed decode µs",
        "dispatch µs",
        "ratio",
        "vs str",
        "messages/s",
        "deliveries/s"
    );
    let mut per_envelope = Vec::new();
    for case in cases() {
        let mut running = runtime.block_on(start(&case));
        let body = running.firehose.body(0);
        let envelopes = if quick {
            2
        } else {
            (200_000 / case.deliveries).clamp(10, 200)
        };
        let mut times = support::interleaved(
            rounds,
            &mut [
                &mut || {
                    let started = Instant::now();
                    for _ in 0..envelopes {
                        let n = support::borrowed::decode(std::hint::black_box(&body));
                        assert_eq!(n, 100);
                    }
                    started.elapsed()
                },
                &mut || {
                    let started = Instant::now();
                    for _ in 0..envelopes {
                        let n = support::borrowed::decode_str(std::hint::black_box(&body));
                        assert_eq!(n, 100);
                    }
                    started.elapsed()
                },
                &mut || runtime.block_on(drain(&mut running, envelopes, case.deliveries)),
            ],
        )
        .into_iter();
        let (floor, floor_str, dispatch) = (
            times.next().unwrap_or_default(),
            times.next().unwrap_or_default(),
            times.next().unwrap_or_default(),
        );
        let ratio = support::spread(&support::ratios(&floor, &dispatch));
        let ratio_str = support::spread(&support::ratios(&floor_str, &dispatch));
        let per = |v: &[f64]| {
            support::spread(&v.iter().map(|x| x / envelopes as f64).collect::<Vec<_>>())
        };
        let (floor, dispatch) = (per(&floor), per(&dispatch));
        let messages = 100.0 / (dispatch.median / 1e6);
        println!(
            "{:<32} {:>8.1} [{:>5.1} {:>5.1}] {:>8.1} [{:>6.1} {:>6.1}] {:>6.2} [{:>4.2} {:>4.2}] {:>6.2} {:>12.0} {:>14.0}",
            case.name,
            floor.median,
            floor.min,
            floor.max,
            dispatch.median,
            dispatch.min,
            dispatch.max,
            ratio.median,
            ratio.min,
            ratio.max,
            ratio_str.median,
            messages,
            messages * (case.deliveries as f64 / 100.0),
        );
        per_envelope.push((case.name, case.deliveries / 100, dispatch.median));
    }
    let one = per_envelope
        .iter()
        .find(|(name, ..)| *name == "1_subscription")
        .map(|(.., t)| *t);
    if let Some(one) = one {
        for (name, subscribers, t) in &per_envelope {
            if name.starts_with("fanout_") {
                let extra = (t - one) * 1e3 / 100.0 / (*subscribers as f64 - 1.0);
                println!("{name}: each extra subscriber adds {extra:.1} ns per message");
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench
}

/// `PUBNUB_BENCH_PROFILE=<case>,<envelopes>`: runs only that case for that
/// many envelopes (for `valgrind --tool=callgrind` or `perf`), no criterion;
/// `PUBNUB_BENCH_PROFILE=side_by_side`: only the side-by-side pass.
fn profile(spec: &str) {
    let (name, envelopes) = spec.split_once(',').unwrap_or((spec, "1000"));
    let envelopes: u64 = envelopes.parse().expect("envelopes is a number");
    let case = cases()
        .into_iter()
        .find(|c| c.name == name)
        .expect("a case name of this bench");
    let runtime = runtime();
    let mut running = runtime.block_on(start(&case));
    let elapsed = runtime.block_on(drain(&mut running, envelopes, case.deliveries));
    println!(
        "{name}: {envelopes} envelopes in {elapsed:?} ({:.1} µs each)",
        elapsed.as_secs_f64() * 1e6 / envelopes as f64
    );
}

fn main() {
    if let Ok(spec) = std::env::var("PUBNUB_BENCH_PROFILE") {
        if spec == "side_by_side" {
            side_by_side();
        } else {
            profile(&spec);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    side_by_side();
}
