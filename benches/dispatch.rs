//! Dispatch: one subscribe response of 100 messages through the real client
//! path — the multiplexer actor, envelope decoding, decryption when enabled,
//! routing, delivery into the subscriptions' queues — drained from the
//! streams by one consumer. An in-memory transport answers every receive at
//! once, so the figure is the client's own cost.
//!
//! Throughput is reported in messages per iteration (one envelope) under
//! `messages/...` and in deliveries (messages × matching subscriptions)
//! under `deliveries/...`.
//!
//! `cargo bench --bench dispatch`

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::stream::{select_all, StreamExt};
use pubnub_rx::crypto::CryptoModule;
use pubnub_rx::subscribe::{OverflowPolicy, SubscriptionOptions};
use pubnub_rx::{Config, Event, PubNub, Subscription, SubscriptionSet};
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
    streams: futures::stream::SelectAll<pubnub_rx::subscribe::SubscriptionStream<Event>>,
    _client: PubNub,
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
        let streams = select_all([set.events()]);
        set.subscribe();
        (streams, Some(set))
    } else {
        let streams = select_all(subscriptions.iter().map(Subscription::events));
        for s in &subscriptions {
            s.subscribe();
        }
        (streams, None)
    };
    Running {
        firehose,
        streams,
        _client: client,
        _subscriptions: subscriptions,
        _set: set,
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for case in cases() {
        for (unit, elements) in [("messages", 100), ("deliveries", case.deliveries)] {
            let mut group = c.benchmark_group(format!("dispatch/{unit}"));
            group.throughput(Throughput::Elements(elements));
            let mut running = runtime.block_on(start(&case));
            group.bench_function(case.name, |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let expected = iters * case.deliveries;
                        let started = Instant::now();
                        running.firehose.allow(iters);
                        let mut seen = 0;
                        while seen < expected {
                            match running.streams.next().await {
                                Some(event) => {
                                    std::hint::black_box(&event);
                                    seen += 1;
                                }
                                None => panic!("stream ended after {seen} of {expected}"),
                            }
                        }
                        started.elapsed()
                    })
                })
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
