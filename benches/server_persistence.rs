//! Publish throughput of the dev server with a data dir (`--data-dir`),
//! by commit mode, beside the in-memory server:
//!
//! * **memory** — no data dir (the default);
//! * **group** — `CommitMode::Group` (`--commit group`, the default with a
//!   data dir): the writer thread commits whatever changes queued while the
//!   previous commit ran in one transaction with one fsync; each publish is
//!   answered after its commit;
//! * **each** — `CommitMode::EachChange` (`--commit each`): one transaction
//!   and fsync per change, the answer after it.
//!
//! `P` publishers (keep-alive HTTP/1 connections, `P` = 1, 16, 64) each
//! publish in a loop, one request at a time, until the case's publishes are
//! answered. The figures are publishes per second and the answer latency
//! (p50, p99). The server runs on its own runtime (one worker thread) and
//! the publishers on another, so on two cores each has one. The three
//! modes run in alternating chunks (the median chunk is reported) so they
//! see the same machine load; compare the ratios, not the absolute figures.
//! The data dir is under `target/tmp` (a real disk: an fsync there costs
//! what it costs a user).
//!
//! ```text
//! cargo bench --bench server_persistence                  # 4,000 publishes per mode and P
//! PERSIST_PUBLISHES=1000 cargo bench --bench server_persistence
//! cargo test --bench server_persistence                   # a short run: does every case work?
//! ```
//!
//! Prints a Markdown table (BENCHMARKS.md §8).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pubnub_rx::server::{CommitMode, DevServer, DevServerConfig, DevServerHandle};
use tokio::runtime::Runtime;

/// Alternating chunks per mode; the median is reported.
const CHUNKS: usize = 3;
/// Concurrent publishers per case.
const PUBLISHERS: [usize; 3] = [1, 16, 64];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Memory,
    Group,
    Each,
}

impl Mode {
    const ALL: [Self; 3] = [Self::Memory, Self::Group, Self::Each];

    fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Group => "group",
            Self::Each => "each",
        }
    }
}

/// One chunk's outcome.
struct Chunk {
    per_second: f64,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

async fn publish_flood(origin: &str, publishers: usize, publishes: usize) -> Chunk {
    let left = Arc::new(AtomicUsize::new(publishes));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..publishers {
        let (left, origin) = (left.clone(), origin.to_owned());
        tasks.spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                .is_ok()
            {
                let url = format!(
                    "http://{origin}/publish/demo/demo/0/bench-{p}/0/%7B%22n%22%3A{n}%2C%22text%22%3A%22a%20message%20of%20some%20length%22%7D"
                );
                let sent = Instant::now();
                let reply = http.get(url).send().await.expect("publish answered");
                assert!(reply.status().is_success(), "{}", reply.status());
                let _ = reply.bytes().await.expect("body");
                latencies.push(sent.elapsed());
                n += 1;
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(publishes);
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.expect("publisher"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Chunk {
        per_second: publishes as f64 / elapsed.as_secs_f64(),
        latencies,
    }
}

fn start(server_rt: &Runtime, mode: Mode, dir: &std::path::Path) -> DevServerHandle {
    let config = DevServerConfig::default().with_port(0);
    let config = match mode {
        Mode::Memory => config,
        Mode::Group => config
            .with_data_dir(dir)
            .with_commit_mode(CommitMode::Group),
        Mode::Each => config
            .with_data_dir(dir)
            .with_commit_mode(CommitMode::EachChange),
    };
    server_rt
        .block_on(DevServer::start(config))
        .expect("dev server starts")
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --bench` does not.
    let measuring = std::env::args().any(|a| a == "--bench");
    let publishes: usize = std::env::var("PERSIST_PUBLISHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 4_000 } else { 100 });
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("persist-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("persist-client")
        .enable_all()
        .build()
        .expect("client runtime");
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(root).expect("target tmp dir");

    println!("| mode | publishers | publishes/s | p50 | p99 | ratio to memory |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for publishers in PUBLISHERS {
        let mut chunks: Vec<Vec<Chunk>> = Mode::ALL.iter().map(|_| Vec::new()).collect();
        for _ in 0..CHUNKS {
            for (i, mode) in Mode::ALL.into_iter().enumerate() {
                let dir = tempfile::tempdir_in(root).expect("data dir");
                let server = start(&server_rt, mode, dir.path());
                let origin = server.origin();
                // Warm the connections and the database file.
                client_rt.block_on(publish_flood(&origin, publishers, publishers * 4));
                chunks[i].push(client_rt.block_on(publish_flood(
                    &origin,
                    publishers,
                    publishes / CHUNKS,
                )));
                server_rt.block_on(server.shutdown());
            }
        }
        let medians: Vec<&Chunk> = chunks
            .iter_mut()
            .map(|c| {
                c.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
                &c[c.len() / 2]
            })
            .collect();
        let memory = medians[0].per_second;
        for (mode, chunk) in Mode::ALL.iter().zip(&medians) {
            println!(
                "| {} | {publishers} | {:.0} | {:.2} ms | {:.2} ms | {:.2} |",
                mode.name(),
                chunk.per_second,
                percentile(&chunk.latencies, 0.50).as_secs_f64() * 1e3,
                percentile(&chunk.latencies, 0.99).as_secs_f64() * 1e3,
                chunk.per_second / memory,
            );
        }
    }
}
