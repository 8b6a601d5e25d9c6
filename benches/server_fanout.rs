//! Dev server fan-out, side by side with a floor: one publish delivered to N
//! parked subscribe long-polls (N = 10, 100, 1000 separate keep-alive
//! connections), answered by
//!
//! * **floor** — a bare hyper server (the same hyper / tokio versions and
//!   the same accept loop style as the dev server: one task per connection
//!   in a `JoinSet`, HTTP/1 with keep-alive and the same header-read timer)
//!   that parks every subscribe request and answers all of them with one
//!   prebuilt body when the publish arrives; nothing else;
//! * **dev server** — `pubnub_rx::server` with its defaults.
//!
//! Each round parks every subscriber, publishes one message and waits until
//! all N answers arrived. The figure that matters is **server CPU per
//! delivery**: the CPU time of the server's runtime threads (read from
//! `/proc/self/task/*/schedstat`, in nanoseconds) over the measured rounds,
//! divided by the deliveries. It covers the whole cycle of one delivery:
//! reading and parsing the subscribe request, parking it, waking it and
//! writing the answer (user and kernel time, loopback TCP included), plus
//! 1/N of the publish. Both servers stay up side by side and their rounds
//! run in alternating chunks, so that both see the same machine load; the
//! median chunk is reported, and its ratio to the floor's is what to
//! compare across runs and machines. Wall time per publish is shown too.
//!
//! The subscribers are minimal HTTP/1.1 clients (one `TcpStream` each: write
//! the request, read the head and `content-length` bytes, take the next
//! cursor) on a current-thread runtime on the main thread; each server runs
//! on its own runtime (threads `fanout-floor`, `fanout-dev`) with
//! `FANOUT_SERVER_THREADS` worker threads (default 1), so on two cores the
//! client and the server being measured have one each.
//!
//! ```text
//! cargo bench --bench server_fanout                 # 10, 100 and 1000 parked polls
//! cargo bench --bench server_fanout -- 1000         # only 1000
//! FANOUT_DELIVERIES=50000 cargo bench --bench server_fanout   # per server and size (default 100,000)
//! cargo test --bench server_fanout                  # a short run (1,000 per size): does every case work?
//! ```
//!
//! Prints a Markdown table (BENCHMARKS.md §5).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::join_all;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use pubnub_rx::server::{DevServer, DevServerConfig, DevServerHandle};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Names of the two servers' runtime threads, whose CPU time is measured.
const FLOOR_THREAD: &str = "fanout-floor";
const DEV_THREAD: &str = "fanout-dev";
/// Each server's rounds are split into this many chunks, alternating
/// between floor and dev server so that both see the same machine load;
/// the median chunk is reported.
const CHUNKS: usize = 5;
/// Parked polls per case.
const SIZES: [usize; 3] = [10, 100, 1000];
/// Rounds run before measuring (connections warm, buffers grown).
const WARM_UP_ROUNDS: usize = 3;

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
struct Answer<'a> {
    #[serde(borrow)]
    t: Cursor<'a>,
}

impl Subscriber {
    async fn connect(addr: SocketAddr, index: usize) -> Self {
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
        let parsed: Answer<'_> = serde_json::from_slice(body).unwrap();
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

/// CPU time so far of the threads whose name starts with `thread` (Linux;
/// zero elsewhere).
fn server_cpu(thread: &str) -> Duration {
    let mut nanos = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let named = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|name| name.trim_end().starts_with(thread));
        if !named {
            continue;
        }
        // First field: time spent on a CPU, in nanoseconds.
        nanos += std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(nanos)
}

// ---------------------------------------------------------------------------
// The floor: a bare hyper server that only parks and answers.

/// A 17-digit cursor, like the dev server's timetokens.
const FLOOR_CURSOR: &str = "17650000000000000";

struct FloorState {
    /// `{"t":{…},"m":[]}`: the handshake answer.
    handshake: Bytes,
    /// The one message every parked poll gets, shaped and sized like the dev
    /// server's answer to the bench's publish.
    delivery: Bytes,
    /// `[1,"Sent","…"]`.
    sent: Bytes,
    /// Bumped by a publish; parked polls wait for a change.
    generation: watch::Sender<u64>,
    parked: watch::Sender<usize>,
}

/// Takes a parked poll off the count when it ends.
struct Parked<'a>(&'a watch::Sender<usize>);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// The dev server's answer headers (`errors.rs`), so both write the same bytes.
fn floor_response(body: &Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.clone()));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=\"UTF-8\""),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, PATCH, OPTIONS"),
    );
    response
}

async fn floor_answer(state: &FloorState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let uri = request.uri();
    if uri.path().starts_with("/publish/") {
        state.generation.send_modify(|g| *g += 1);
        return floor_response(&state.sent);
    }
    let handshake = uri
        .query()
        .unwrap_or("")
        .split('&')
        .any(|pair| pair == "tt=0");
    if handshake {
        return floor_response(&state.handshake);
    }
    // Nothing of the request is needed any more; dropping it lets hyper
    // reuse its read buffer (the head's bytes point into it).
    drop(request);
    let mut publishes = state.generation.subscribe();
    state.parked.send_modify(|n| *n += 1);
    let _parked = Parked(&state.parked);
    // The sender lives in `state`, which outlives every connection.
    let _ = publishes.changed().await;
    floor_response(&state.delivery)
}

async fn floor_connection(stream: TcpStream, state: Arc<FloorState>) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(floor_answer(&state, request).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(300))
        .keep_alive(true);
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn floor_accept(listener: TcpListener, state: Arc<FloorState>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.unwrap();
                connections.spawn(floor_connection(stream, state.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

struct Floor {
    addr: SocketAddr,
    state: Arc<FloorState>,
    task: JoinHandle<()>,
}

impl Floor {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let envelope = format!(
            r#"{{"a":"1","f":0,"i":"pub","s":1,"k":"sub-c-bench","c":"fan","d":{{"text":"go"}},"p":{{"t":"{FLOOR_CURSOR}","r":1}}}}"#
        );
        let state = Arc::new(FloorState {
            handshake: Bytes::from(format!(r#"{{"t":{{"t":"{FLOOR_CURSOR}","r":1}},"m":[]}}"#)),
            delivery: Bytes::from(format!(
                r#"{{"t":{{"t":"{FLOOR_CURSOR}","r":1}},"m":[{envelope}]}}"#
            )),
            sent: Bytes::from(format!(r#"[1,"Sent","{FLOOR_CURSOR}"]"#)),
            generation: watch::Sender::new(0),
            parked: watch::Sender::new(0),
        });
        let task = tokio::spawn(floor_accept(listener, state.clone()));
        Self { addr, state, task }
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------
// The two servers behind one interface.

enum Server {
    Floor(Floor),
    Dev(DevServerHandle),
}

impl Server {
    fn name(&self) -> &'static str {
        match self {
            Self::Floor(_) => "floor (bare hyper)",
            Self::Dev(_) => "dev server",
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Self::Floor(floor) => floor.addr,
            Self::Dev(dev) => dev.addr(),
        }
    }

    async fn wait_for_parked(&self, count: usize) {
        match self {
            Self::Floor(floor) => {
                let mut parked = floor.state.parked.subscribe();
                let _ = parked.wait_for(|n| *n >= count).await;
            }
            Self::Dev(dev) => dev.wait_for_parked(count).await,
        }
    }
}

struct Fanout {
    server: Server,
    publisher: reqwest::Client,
    publish_url: String,
    subscribers: Vec<Subscriber>,
}

async fn setup(server: Server, count: usize) -> Fanout {
    let addr = server.addr();
    let mut subscribers = join_all((0..count).map(|i| Subscriber::connect(addr, i))).await;
    // Handshakes: each gets its first cursor.
    join_all(subscribers.iter_mut().map(|s| async move {
        s.send("fan").await;
        s.receive().await;
    }))
    .await;
    Fanout {
        server,
        publisher: reqwest::Client::new(),
        publish_url: format!(
            "http://{addr}/publish/pub-c-bench/sub-c-bench/0/fan/0/%7B%22text%22%3A%22go%22%7D?uuid=pub"
        ),
        subscribers,
    }
}

/// Parks every subscriber, publishes once, and waits until the last
/// subscriber has its answer.
async fn round(fanout: &mut Fanout) {
    for subscriber in &mut fanout.subscribers {
        subscriber.send("fan").await;
    }
    fanout
        .server
        .wait_for_parked(fanout.subscribers.len())
        .await;
    fanout
        .publisher
        .get(&fanout.publish_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let lengths = join_all(fanout.subscribers.iter_mut().map(Subscriber::receive)).await;
    assert!(
        lengths.iter().all(|n| *n > 40),
        "every answer carries the message"
    );
}

/// One server under test, on its own runtime, and its subscribers.
struct Case {
    fanout: Fanout,
    /// The name of its runtime's threads.
    thread: &'static str,
    /// Server CPU µs per delivery, one entry per measured chunk.
    chunks: Vec<f64>,
    rounds: usize,
    wall: Duration,
}

impl Case {
    /// Runs `rounds` rounds and records the server CPU they cost.
    fn run_chunk(&mut self, client: &Runtime, rounds: usize) {
        let parked = self.fanout.subscribers.len();
        let cpu = server_cpu(self.thread);
        let started = Instant::now();
        client.block_on(async {
            for _ in 0..rounds {
                round(&mut self.fanout).await;
            }
        });
        self.wall += started.elapsed();
        let cpu = server_cpu(self.thread).saturating_sub(cpu);
        self.rounds += rounds;
        self.chunks
            .push(cpu.as_secs_f64() * 1e6 / (rounds * parked) as f64);
    }

    /// Median, lowest and highest chunk.
    fn cpu_per_delivery(&self) -> (f64, f64, f64) {
        let mut sorted = self.chunks.clone();
        sorted.sort_by(f64::total_cmp);
        (
            sorted[sorted.len() / 2],
            sorted[0],
            sorted[sorted.len() - 1],
        )
    }
}

fn server_runtime(thread: &'static str, threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(thread)
        .enable_all()
        .build()
        .unwrap()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; anything else not starting with `-`
    // keeps only the sizes it names.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // Without `--bench` (`cargo test --benches`) a short run checks that
    // every case works.
    let measuring = std::env::args().any(|a| a == "--bench");
    let deliveries = env_or("FANOUT_DELIVERIES", if measuring { 100_000 } else { 1_000 });
    let server_threads = env_or("FANOUT_SERVER_THREADS", 1);
    let floor_runtime = server_runtime(FLOOR_THREAD, server_threads);
    let dev_runtime = server_runtime(DEV_THREAD, server_threads);
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    println!(
        "server_fanout: {deliveries} deliveries per server and size in {CHUNKS} chunks \
         (floor and dev server alternating), {server_threads} server thread(s) each\n"
    );
    println!("| parked polls | server | rounds | per publish (wall) | deliveries/s (wall) | server CPU per delivery, median [min max] | ratio to floor |");
    println!("|---|---|---|---|---|---|---|");
    for parked in SIZES {
        if !filters.is_empty() && !filters.iter().any(|f| *f == parked.to_string()) {
            continue;
        }
        let floor = Server::Floor(floor_runtime.block_on(Floor::start()));
        let config = DevServerConfig::default().with_hold(Duration::from_secs(60));
        let dev = Server::Dev(dev_runtime.block_on(DevServer::start(config)).unwrap());
        let mut cases = [(floor, FLOOR_THREAD), (dev, DEV_THREAD)].map(|(server, thread)| {
            let mut fanout = client.block_on(setup(server, parked));
            client.block_on(async {
                for _ in 0..WARM_UP_ROUNDS {
                    round(&mut fanout).await;
                }
            });
            Case {
                fanout,
                thread,
                chunks: Vec::new(),
                rounds: 0,
                wall: Duration::ZERO,
            }
        });
        let rounds = deliveries.div_ceil(parked * CHUNKS).max(5);
        for _ in 0..CHUNKS {
            for case in &mut cases {
                case.run_chunk(&client, rounds);
            }
        }
        let floor_median = cases[0].cpu_per_delivery().0;
        for case in &cases {
            let (median, low, high) = case.cpu_per_delivery();
            let per_publish = case.wall / u32::try_from(case.rounds).unwrap();
            let rate = (case.rounds * parked) as f64 / case.wall.as_secs_f64();
            println!(
                "| {parked} | {} | {} | {per_publish:.2?} | {:.0} k | {median:.2} µs [{low:.2} {high:.2}] | {:.2} |",
                case.fanout.server.name(),
                case.rounds,
                rate / 1e3,
                median / floor_median,
            );
        }
        // Close the subscribers before their servers go.
        for case in cases {
            drop(case.fanout.subscribers);
        }
    }
}
