//! One `pubsub` run: connect every subscriber, publish, drain, count.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, BoxStream, StreamExt};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use pubnub_rx::subscribe::{StatusStream, SubscriptionStream};
use pubnub_rx::{
    Config, Message, PubNub, Status, StatusCategory, Subscription, SubscriptionOptions,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::args::{Plan, Target};
use crate::report::Report;
use crate::tally::{Outcome, Payload, Tally};
use crate::usage::{self, Cpu};

/// Highest latency the histogram tracks (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 600_000_000;
/// How often the progress display and the end condition are looked at.
const TICK: Duration = Duration::from_millis(200);

/// Counters shared by the tasks of a run.
#[derive(Default)]
struct Shared {
    /// Successful publishes per channel.
    published: Vec<AtomicU64>,
    publish_errors: AtomicU64,
    first_publish_error: Mutex<Option<String>>,
    /// Distinct deliveries over all subscribers.
    delivered: AtomicU64,
    reported_lost: AtomicU64,
    statuses: Mutex<BTreeMap<String, u64>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one subscriber task hands back.
struct Received {
    channel: usize,
    tally: Tally,
    latency: Histogram<u64>,
    last: Option<Instant>,
}

fn config(plan: &Plan, origin: &str, user_id: String) -> Result<Config, String> {
    let mut builder = Config::builder().user_id(user_id);
    builder = match &plan.target {
        Target::Embedded => builder
            .origin(origin)
            .ssl(false)
            .subscribe_key("sub-c-bench")
            .publish_key("pub-c-bench"),
        Target::Origin {
            host,
            ssl,
            subscribe_key,
            publish_key,
        } => builder
            .origin(host.as_str())
            .ssl(*ssl)
            .subscribe_key(subscribe_key.as_str())
            .publish_key(publish_key.as_str()),
    };
    if let Some(key) = &plan.options.cipher_key {
        builder = builder.cipher_key(key.as_str());
    }
    if !plan.options.presence {
        builder = builder.heartbeat_interval(None);
    }
    builder
        .subscription_queue_capacity(plan.options.queue_capacity)
        .build()
        .map_err(|error| format!("invalid client configuration: {error}"))
}

fn client(plan: &Plan, origin: &str, user_id: String) -> Result<PubNub, String> {
    PubNub::new(config(plan, origin, user_id)?)
        .map_err(|error| format!("cannot build a client: {error}"))
}

/// Reports the first `Connected` on `ready`, then tallies every status that
/// is not good news.
async fn watch_statuses(
    mut status: StatusStream,
    ready: mpsc::Sender<Result<(), String>>,
    shared: Arc<Shared>,
) {
    let mut ready = Some(ready);
    while let Some(status) = status.next().await {
        match &status {
            Status::Connected { .. } => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(())).await;
                }
                continue;
            }
            Status::Heartbeat { error: None } => continue,
            Status::Failed { error, .. } => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(format!("subscribe failed: {error}"))).await;
                }
            }
            Status::MessagesLost { count, .. } => {
                shared.reported_lost.fetch_add(*count, Ordering::Relaxed);
            }
            _ => {}
        }
        let category: StatusCategory = status.category();
        *lock(&shared.statuses)
            .entry(format!("{category:?}"))
            .or_default() += 1;
    }
}

async fn receive(
    channel: usize,
    latency: Histogram<u64>,
    mut messages: SubscriptionStream<Message>,
    mut stop: watch::Receiver<bool>,
    clock: Instant,
    shared: Arc<Shared>,
) -> Received {
    let mut received = Received {
        channel,
        tally: Tally::default(),
        latency,
        last: None,
    };
    loop {
        let message = tokio::select! {
            biased;
            _ = stop.changed() => break,
            message = messages.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let now = Instant::now();
        received.last = Some(now);
        received.tally.bytes += message.payload_json().len() as u64;
        let Ok(payload) = serde_json::from_str::<Payload<'_>>(message.payload_json()) else {
            received.tally.malformed += 1;
            continue;
        };
        if received.tally.record(payload.p, payload.s) != Outcome::Duplicate {
            shared.delivered.fetch_add(1, Ordering::Relaxed);
            let sent = clock + Duration::from_micros(payload.t);
            let micros = now.saturating_duration_since(sent).as_micros();
            received.latency.saturating_record(
                u64::try_from(micros)
                    .unwrap_or(u64::MAX)
                    .clamp(1, MAX_LATENCY_US),
            );
        }
    }
    received
}

struct Publisher {
    client: PubNub,
    index: u32,
    count: u64,
    channels: Arc<Vec<String>>,
    size: usize,
    padding: Arc<str>,
    rate: Option<f64>,
    inflight: usize,
    deadline: Option<Instant>,
    clock: Instant,
    shared: Arc<Shared>,
}

impl Publisher {
    async fn run(self) {
        let sequence = stream::iter(0..self.count);
        let paced: BoxStream<'static, u64> = match self.rate {
            Some(rate) => {
                // The interval sleeps between ticks (no busy wait) and bursts
                // to catch up when a publish took longer than its slot.
                let interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                sequence
                    .zip(tokio_stream::wrappers::IntervalStream::new(interval))
                    .map(|(k, _)| k)
                    .boxed()
            }
            None => sequence.boxed(),
        };
        let deadline = self.deadline;
        let this = &self;
        paced
            .take_while(|_| futures::future::ready(deadline.is_none_or(|d| Instant::now() < d)))
            .map(|k| this.publish(k))
            .buffer_unordered(self.inflight)
            .for_each(|()| futures::future::ready(()))
            .await;
    }

    async fn publish(&self, k: u64) {
        let channel = (self.index as usize + k as usize) % self.channels.len();
        let sent = u64::try_from(self.clock.elapsed().as_micros()).unwrap_or(u64::MAX);
        let payload = Payload::padded(self.index, k, sent, self.size, &self.padding);
        let result = self
            .client
            .publish()
            .channel(self.channels[channel].as_str())
            .message(&payload)
            .await;
        match result {
            Ok(_) => {
                self.shared.published[channel].fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.shared.publish_errors.fetch_add(1, Ordering::Relaxed);
                lock(&self.shared.first_publish_error).get_or_insert_with(|| error.to_string());
            }
        }
    }
}

/// Live progress: a bar on a terminal, a line a second otherwise (on stderr,
/// so stdout keeps only the report).
struct Progress {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} deliveries ({per_sec}) {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self {
            bar,
            last_line: Instant::now(),
        }
    }

    fn show(&mut self, phase: &str, delivered: u64, expected: u64, published: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(expected);
            bar.set_position(delivered);
            bar.set_message(format!("{phase}, {published} published"));
        } else if self.last_line.elapsed() >= Duration::from_secs(1) {
            self.last_line = Instant::now();
            eprintln!(
                "pubnub-bench: {phase}: {published} published, {delivered}/{expected} delivered"
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs the benchmark against `origin` (the embedded server's, or the
/// plan's). `parked` resolves once `n` subscribe long-polls wait at the
/// embedded server.
pub async fn run<F, Fut>(
    plan: &Plan,
    origin: &str,
    parked: F,
    quiet: bool,
) -> Result<Report, String>
where
    F: FnOnce(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let options = &plan.options;
    let run_id = uuid_suffix();
    let channels: Arc<Vec<String>> = Arc::new(
        (0..options.channels)
            .map(|c| format!("bench.{run_id}.{c}"))
            .collect(),
    );
    let shared = Arc::new(Shared {
        published: (0..options.channels).map(|_| AtomicU64::new(0)).collect(),
        ..Shared::default()
    });
    let clock = Instant::now();
    let mut progress = Progress::new(quiet);

    // Subscribers: one client each, or all on one.
    let subscription_options = || {
        let options = SubscriptionOptions::new();
        if plan.options.presence {
            options.with_presence()
        } else {
            options
        }
    };
    let client_count = if options.shared_client {
        1
    } else {
        options.subscribers
    };
    let mut clients = Vec::with_capacity(client_count);
    let (ready_tx, mut ready_rx) = mpsc::channel(client_count.max(1));
    let mut status_tasks = JoinSet::new();
    for i in 0..client_count {
        let client = client(plan, origin, format!("bench-{run_id}-sub-{i}"))?;
        status_tasks.spawn(watch_statuses(
            client.status(),
            ready_tx.clone(),
            Arc::clone(&shared),
        ));
        clients.push(client);
    }
    drop(ready_tx);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut subscriptions: Vec<Subscription> = Vec::with_capacity(options.subscribers);
    let mut receivers = JoinSet::new();
    for i in 0..options.subscribers {
        let channel = i % options.channels;
        let client = &clients[if options.shared_client { 0 } else { i }];
        let subscription = client
            .channel(&channels[channel])
            .subscription(subscription_options());
        receivers.spawn(receive(
            channel,
            histogram()?,
            subscription.messages(),
            stop_rx.clone(),
            clock,
            Arc::clone(&shared),
        ));
        subscription.subscribe();
        subscriptions.push(subscription);
    }

    // Every subscriber connected (and, on the embedded server, parked)
    // before the first publish.
    let connect = async {
        let mut connected = 0;
        while connected < client_count {
            match ready_rx.recv().await {
                Some(Ok(())) => connected += 1,
                Some(Err(error)) => return Err(error),
                None => return Err("the clients stopped before connecting".to_owned()),
            }
            progress.show("connecting", 0, 0, connected as u64);
        }
        parked(client_count).await;
        Ok(())
    };
    match tokio::time::timeout(plan.connect_timeout, connect).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(format!(
                "not every subscriber connected within {:?}; raise --connect-timeout or lower --subscribers",
                plan.connect_timeout
            ))
        }
    }

    // Publishers.
    let cpu_start = Cpu::now();
    let started = Instant::now();
    let deadline = plan.duration.map(|d| started + d);
    let padding: Arc<str> = "x".repeat(options.size).into();
    let mut publishers = JoinSet::new();
    let per_publisher = plan.messages / options.publishers as u64;
    let remainder = plan.messages % options.publishers as u64;
    for p in 0..options.publishers {
        let publisher = Publisher {
            client: client(plan, origin, format!("bench-{run_id}-pub-{p}"))?,
            index: p as u32,
            count: per_publisher + u64::from((p as u64) < remainder),
            channels: Arc::clone(&channels),
            size: options.size,
            padding: Arc::clone(&padding),
            rate: plan.rate.map(|rate| rate / options.publishers as f64),
            inflight: options.inflight,
            deadline,
            clock,
            shared: Arc::clone(&shared),
        };
        publishers.spawn(publisher.run());
    }

    let subscribers_per_channel: Vec<u64> = (0..options.channels)
        .map(|c| ((c..options.subscribers).step_by(options.channels)).count() as u64)
        .collect();
    let expected_now = || -> u64 {
        shared
            .published
            .iter()
            .zip(&subscribers_per_channel)
            .map(|(published, subs)| published.load(Ordering::Relaxed) * subs)
            .sum()
    };
    let published_now = || -> u64 {
        shared
            .published
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .sum()
    };

    let mut ticker = tokio::time::interval(TICK);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut published_at: Option<Instant> = None;
    let mut interrupted = false;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                interrupted = true;
                publishers.abort_all();
                break;
            }
            Some(_) = publishers.join_next(), if !publishers.is_empty() => {
                if publishers.is_empty() {
                    published_at = Some(Instant::now());
                }
            }
            _ = ticker.tick() => {}
        }
        let delivered = shared.delivered.load(Ordering::Relaxed);
        let expected = expected_now();
        let phase = if published_at.is_some() {
            "draining"
        } else {
            "publishing"
        };
        progress.show(phase, delivered, expected, published_now());
        if let Some(at) = published_at {
            if delivered >= expected || at.elapsed() >= plan.drain_timeout {
                break;
            }
        }
    }
    let publish_end = published_at.unwrap_or_else(Instant::now);
    progress.finish();
    let _ = stop_tx.send(true);
    let mut results = Vec::with_capacity(options.subscribers);
    while let Some(result) = receivers.join_next().await {
        if let Ok(received) = result {
            results.push(received);
        }
    }
    let (client_cpu_secs, server_cpu_secs) = Cpu::now().since(cpu_start);
    status_tasks.abort_all();
    drop(subscriptions);
    drop(clients);

    let mut report = Report {
        target: match &plan.target {
            Target::Embedded => "embedded".into(),
            Target::Origin { host, .. } => host.clone(),
        },
        publishers: options.publishers,
        subscribers: options.subscribers,
        channels: options.channels,
        shared_client: options.shared_client,
        size: options.size,
        published: published_now(),
        publish_errors: shared.publish_errors.load(Ordering::Relaxed),
        expected: expected_now(),
        client_cpu_secs,
        server_cpu_secs,
        peak_rss_mib: usage::peak_rss_mib(),
        reported_lost: shared.reported_lost.load(Ordering::Relaxed),
        statuses: lock(&shared.statuses).clone(),
        interrupted,
        ..Report::default()
    };
    let mut latency = histogram()?;
    let mut bytes = 0;
    let mut last_delivery = None::<Instant>;
    for received in &results {
        let expected = shared.published[received.channel].load(Ordering::Relaxed);
        report.delivered += received.tally.unique;
        report.lost += received.tally.lost(expected);
        report.duplicates += received.tally.duplicates;
        report.out_of_order += received.tally.out_of_order;
        report.malformed += received.tally.malformed;
        bytes += received.tally.bytes;
        let _ = latency.add(&received.latency);
        last_delivery = last_delivery.max(received.last);
    }
    report.publish_secs = publish_end.duration_since(started).as_secs_f64();
    report.publish_msgs_per_sec = per_second(report.published as f64, report.publish_secs);
    report.delivery_secs = last_delivery.map_or(0.0, |last| {
        last.saturating_duration_since(started).as_secs_f64()
    });
    report.msgs_per_sec = per_second(report.delivered as f64, report.delivery_secs);
    report.mb_per_sec = per_second(bytes as f64 / 1e6, report.delivery_secs);
    if !latency.is_empty() {
        report.p50 = latency.value_at_quantile(0.5);
        report.p90 = latency.value_at_quantile(0.9);
        report.p99 = latency.value_at_quantile(0.99);
        report.p999 = latency.value_at_quantile(0.999);
        report.max = latency.max();
    }
    if let Some(error) = lock(&shared.first_publish_error).take() {
        eprintln!(
            "pubnub-bench: {} publish(es) failed; the first: {error}",
            report.publish_errors
        );
    }
    Ok(report)
}

fn per_second(amount: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        amount / secs
    } else {
        0.0
    }
}

/// A short random tag so that runs against a shared keyset never see each
/// other's messages.
fn uuid_suffix() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(8);
    id
}

fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).map_err(|error| format!("histogram: {error}"))
}
