//! Resident memory (Linux `VmRSS`), which criterion cannot measure:
//!
//! 1. per idle subscription: 10,000 subscriptions on one client, each with a
//!    `messages()` stream, on 10,000 distinct channels and on one shared
//!    channel; (RSS after − RSS before) / 10,000;
//! 2. a consumer that never polls while 100,000 messages flow: one
//!    subscription drained (with backpressure, so it gets every message), a
//!    second one on the same channel whose stream is never read (default
//!    options: drop-oldest, 1,024 events); the resident memory is sampled
//!    every 10,000 messages and must stay flat.
//!
//! An in-memory transport answers every receive at once with a prebuilt
//! 100-message envelope (so nothing but the client is measured).
//!
//! `cargo bench --bench memory`

mod support;

use std::sync::Arc;

use futures::StreamExt;
use pubnub_rx::subscribe::{OverflowPolicy, SubscriptionStream};
use pubnub_rx::{Config, Message, PubNub, Subscription, SubscriptionOptions};
use support::{envelopes, Firehose, Mix};

fn client(firehose: &Firehose) -> PubNub {
    let config = Config::builder()
        .subscribe_key("sub-c-bench")
        .user_id("bench")
        .origin("firehose.invalid")
        .use_request_id(false)
        .transport(Arc::new(firehose.clone()))
        .build()
        .unwrap();
    PubNub::new(config).unwrap()
}

fn kib(value: Option<u64>) -> i64 {
    value.map_or(-1, |v| v as i64)
}

/// Idle subscriptions: RSS growth, per subscription, and how long
/// subscribing them all took.
async fn idle(count: usize, distinct: bool) -> (i64, i64, std::time::Duration) {
    let firehose = Firehose::new(envelopes(Mix::Messages, &|_| "chat".to_owned(), None));
    let client = client(&firehose);
    // Start the actors first so that only the subscriptions are counted.
    let first = client
        .channel("warm-up")
        .subscription(SubscriptionOptions::new());
    let _first_stream = first.messages();
    first.subscribe();
    firehose.wait_for_channels(1).await;
    let before = support::rss_kib();
    let started = std::time::Instant::now();
    let mut subscriptions: Vec<(Subscription, SubscriptionStream<Message>)> =
        Vec::with_capacity(count);
    for i in 0..count {
        let name = if distinct {
            format!("channel-{i:05}")
        } else {
            "shared".to_owned()
        };
        let subscription = client
            .channel(name)
            .subscription(SubscriptionOptions::new());
        let stream = subscription.messages();
        subscription.subscribe();
        subscriptions.push((subscription, stream));
    }
    // The multiplexer has taken every subscription once a long-poll names
    // all channels.
    firehose
        .wait_for_channels(if distinct { count + 1 } else { 2 })
        .await;
    if !distinct {
        // Same channel: the request does not change; give the actor a moment
        // to drain its command queue by round-tripping one more subscribe.
        let last = client
            .channel("last")
            .subscription(SubscriptionOptions::new());
        last.subscribe();
        firehose.wait_for_channels(3).await;
        let stream = last.messages();
        subscriptions.push((last, stream));
    }
    let took = started.elapsed();
    let after = support::rss_kib();
    std::hint::black_box(&subscriptions);
    let delta = kib(after) - kib(before);
    (delta, delta * 1024 / count as i64, took)
}

/// A stream nobody reads while `envelopes` × 100 messages flow.
async fn never_polled(envelopes_total: u64, sample_every: u64) -> Vec<(u64, i64, u64)> {
    let firehose = Firehose::new(envelopes(Mix::Messages, &|_| "chat".to_owned(), None));
    let client = client(&firehose);
    // The drained subscription applies backpressure, so every message is
    // fetched and delivered to it; the other one drops its oldest.
    let drained = client
        .channel("chat")
        .subscription(SubscriptionOptions::new().overflow(OverflowPolicy::Backpressure));
    let ignored = client
        .channel("chat")
        .subscription(SubscriptionOptions::new());
    let mut messages = drained.messages();
    let never_read = ignored.messages();
    drained.subscribe();
    ignored.subscribe();
    let mut samples = vec![(0, kib(support::rss_kib()), 0)];
    let mut seen = 0u64;
    for _ in 0..envelopes_total / sample_every {
        firehose.allow(sample_every);
        for _ in 0..sample_every * 100 {
            let message = messages.next().await.expect("the stream stays open");
            std::hint::black_box(&message);
            seen += 1;
        }
        samples.push((seen, kib(support::rss_kib()), never_read.lost()));
    }
    samples
}

/// Runs one measurement (`part`) in this process.
fn run_part(part: &str, quick: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let count = if quick { 100 } else { 10_000 };
    match part {
        "distinct" | "shared" => {
            let distinct = part == "distinct";
            let (delta, per, took) = runtime.block_on(idle(count, distinct));
            println!(
                "{count} idle subscriptions with a messages() stream, {}: +{delta} KiB, {per} B per subscription (subscribed in {took:.2?})",
                if distinct { "each on its own channel" } else { "all on one channel" },
            );
        }
        _ => {
            let (total, every) = if quick { (10, 5) } else { (1_000, 100) };
            let samples = runtime.block_on(never_polled(total, every));
            println!(
                "{} messages through a client whose second subscription's stream is never read:",
                total * 100
            );
            println!(
                "{:>10} {:>10} {:>12}",
                "messages", "VmRSS KiB", "lost there"
            );
            for (seen, rss, lost) in &samples {
                println!("{seen:>10} {rss:>10} {lost:>12}");
            }
            let after_first = samples.get(1).map_or(0, |s| s.1);
            let last = samples.last().map_or(0, |s| s.1);
            println!(
                "growth after the first {} messages: {} KiB",
                every * 100,
                last - after_first
            );
        }
    }
}

/// Each measurement runs in a fresh child process (this binary again, with
/// `PUBNUB_MEMORY_PART` set), so memory one of them freed cannot hide what
/// the next one allocates.
fn main() {
    let quick = !support::bench_mode();
    if let Ok(part) = std::env::var("PUBNUB_MEMORY_PART") {
        run_part(&part, quick);
        return;
    }
    println!("memory (VmRSS), load average {}", support::load_average());
    let exe = std::env::current_exe().expect("the bench binary's path");
    for part in ["distinct", "shared", "never_polled"] {
        let output = std::process::Command::new(&exe)
            .args(std::env::args().skip(1))
            .env("PUBNUB_MEMORY_PART", part)
            .output()
            .expect("the bench binary runs again");
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        assert!(
            output.status.success(),
            "part {part} failed: {}",
            output.status
        );
    }
}
