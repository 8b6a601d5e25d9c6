//! Dev server fan-out: one publish delivered to N parked subscribe
//! long-polls (N = 10, 100, 1000 separate connections). Each iteration parks
//! every subscriber, publishes one message and waits until all N answers
//! arrived; throughput is deliveries per second. Client and server share the
//! machine, so the figure includes the raw HTTP clients' own cost.
//!
//! `cargo bench --bench server_fanout`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use pubnub_rx::server::{DevServer, DevServerConfig, DevServerHandle};
use serde_json::Value;

async fn poll(http: &reqwest::Client, base: &str, channel: &str, tt: &str, uuid: &str) -> String {
    let url = format!("{base}/v2/subscribe/sub-c-bench/{channel}/0?tt={tt}&tr=1&uuid={uuid}");
    let body = http.get(url).send().await.unwrap().text().await.unwrap();
    let value: Value = serde_json::from_str(&body).unwrap();
    value["t"]["t"].as_str().unwrap().to_owned()
}

struct Fanout {
    server: DevServerHandle,
    http: reqwest::Client,
    base: String,
    cursors: Vec<String>,
}

async fn setup(subscribers: usize) -> Fanout {
    let server = DevServer::start(DevServerConfig::default().with_hold(Duration::from_secs(60)))
        .await
        .unwrap();
    let base = server.base_url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(subscribers + 8)
        .build()
        .unwrap();
    let cursors = join_all((0..subscribers).map(|i| {
        let (http, base) = (http.clone(), base.clone());
        async move { poll(&http, &base, "fan", "0", &format!("u{i}")).await }
    }))
    .await;
    Fanout {
        server,
        http,
        base,
        cursors,
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("server_fanout");
    for subscribers in [10usize, 100, 1000] {
        let mut fanout = runtime.block_on(setup(subscribers));
        group.throughput(Throughput::Elements(subscribers as u64));
        group.bench_function(format!("{subscribers}_parked"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let polls = fanout.cursors.iter().enumerate().map(|(i, tt)| {
                            let (http, base, tt) =
                                (fanout.http.clone(), fanout.base.clone(), tt.clone());
                            tokio::spawn(async move {
                                poll(&http, &base, "fan", &tt, &format!("u{i}")).await
                            })
                        });
                        let polls: Vec<_> = polls.collect();
                        fanout.server.wait_for_parked(subscribers).await;
                        let started = Instant::now();
                        let url = format!(
                            "{}/publish/pub-c-bench/sub-c-bench/0/fan/0/%22go%22?uuid=pub",
                            fanout.base
                        );
                        fanout
                            .http
                            .get(url)
                            .send()
                            .await
                            .unwrap()
                            .bytes()
                            .await
                            .unwrap();
                        let cursors = join_all(polls).await;
                        total += started.elapsed();
                        fanout.cursors = cursors.into_iter().map(|c| c.unwrap()).collect();
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
