//! Dev server fan-out: one publish delivered to N parked subscribe
//! long-polls (N = 10, 100, 1000 separate keep-alive connections). Each
//! iteration parks every subscriber, publishes one message and waits until
//! all N answers arrived; throughput is deliveries per second.
//!
//! The subscribers are minimal HTTP/1.1 clients (one `TcpStream` each: write
//! the request, read the head and `content-length` bytes, take the next
//! cursor), so that the figure is mostly the server's: a pooled HTTP client
//! would add its own cost and, worse, open fresh connections whenever a
//! finished one is not back in its pool yet. Client and server still share
//! the machine.
//!
//! `cargo bench --bench server_fanout`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use pubnub_rx::server::{DevServer, DevServerConfig, DevServerHandle};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One subscriber: a keep-alive connection and its cursor.
struct Subscriber {
    stream: TcpStream,
    uuid: String,
    cursor: String,
    buffer: Vec<u8>,
}

#[derive(Deserialize)]
struct Cursor<'a> {
    #[serde(borrow)]
    t: &'a str,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow)]
    t: Cursor<'a>,
}

impl Subscriber {
    async fn connect(addr: std::net::SocketAddr, index: usize) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            uuid: format!("u{index}"),
            cursor: "0".to_owned(),
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Sends one subscribe request (handshake while the cursor is `0`).
    async fn send(&mut self, channel: &str) {
        let request = format!(
            "GET /v2/subscribe/sub-c-bench/{channel}/0?tt={}&tr=1&uuid={} HTTP/1.1\r\nhost: bench\r\n\r\n",
            self.cursor, self.uuid
        );
        self.stream.write_all(request.as_bytes()).await.unwrap();
    }

    /// Reads one response and moves the cursor; returns the body length.
    async fn receive(&mut self) -> usize {
        self.buffer.clear();
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            self.read_more().await;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end]).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "unexpected answer: {head}"
        );
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("a content-length");
        while self.buffer.len() < head_end + length {
            self.read_more().await;
        }
        let body = &self.buffer[head_end..head_end + length];
        let parsed: Response<'_> = serde_json::from_slice(body).unwrap();
        self.cursor = parsed.t.t.to_owned();
        length
    }

    async fn read_more(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

struct Fanout {
    server: DevServerHandle,
    publisher: reqwest::Client,
    base: String,
    subscribers: Vec<Subscriber>,
}

async fn setup(count: usize) -> Fanout {
    let server = DevServer::start(DevServerConfig::default().with_hold(Duration::from_secs(60)))
        .await
        .unwrap();
    let base = server.base_url();
    let mut subscribers = join_all((0..count).map(|i| Subscriber::connect(server.addr(), i))).await;
    // Handshakes: each gets its first cursor.
    join_all(subscribers.iter_mut().map(|s| async move {
        s.send("fan").await;
        s.receive().await;
    }))
    .await;
    Fanout {
        server,
        publisher: reqwest::Client::new(),
        base,
        subscribers,
    }
}

/// Parks every subscriber, publishes once, and returns the time from the
/// publish until the last subscriber has its answer.
async fn round(fanout: &mut Fanout) -> Duration {
    for subscriber in &mut fanout.subscribers {
        subscriber.send("fan").await;
    }
    fanout
        .server
        .wait_for_parked(fanout.subscribers.len())
        .await;
    let started = Instant::now();
    let url = format!(
        "{}/publish/pub-c-bench/sub-c-bench/0/fan/0/%7B%22text%22%3A%22go%22%7D?uuid=pub",
        fanout.base
    );
    fanout
        .publisher
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let lengths = join_all(fanout.subscribers.iter_mut().map(Subscriber::receive)).await;
    let elapsed = started.elapsed();
    assert!(
        lengths.iter().all(|n| *n > 40),
        "every answer carries the message"
    );
    elapsed
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
                        total += round(&mut fanout).await;
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
