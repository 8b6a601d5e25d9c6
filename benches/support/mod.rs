//! Shared bench fixtures: realistic subscribe envelopes, an in-memory
//! "firehose" transport that answers every receive long-poll at once, the
//! borrowed-decode floor, resident-memory readings and the side-by-side
//! measurement helpers.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use pubnub_rx::transport::{Transport, TransportRequest, TransportResponse};
use pubnub_rx::Error;
use tokio::sync::Notify;

/// What goes into one 100-message envelope.
#[derive(Clone, Copy, Debug)]
pub enum Mix {
    /// 100 messages (~200 B JSON objects with meta).
    Messages,
    /// 80 messages, 15 signals, 5 presence events.
    Mixed,
}

/// A ~200-byte chat message as a JSON object.
pub fn payload(i: usize) -> String {
    format!(
        r#"{{"id":"msg-{i:06}","type":"chat","text":"The quick brown fox jumps over the lazy dog #{i}","author":{{"id":"user-{a}","name":"User {a}"}},"sent":{ts},"tags":["rust","pubnub"]}}"#,
        a = i % 17,
        ts = 1_700_000_000_000u64 + i as u64
    )
}

/// One subscribe response body with 100 envelopes. `channel_of(i)` names
/// the channel of envelope `i`; timetokens start at `base`; `encrypt` turns
/// a payload into ciphertext.
pub fn envelope(
    base: u64,
    mix: Mix,
    channel_of: &dyn Fn(usize) -> String,
    encrypt: Option<&dyn Fn(&str) -> String>,
) -> String {
    let mut out = format!(r#"{{"t":{{"t":"{}","r":1}},"m":["#, base + 100);
    for i in 0..100 {
        if i > 0 {
            out.push(',');
        }
        let tt = base + i as u64;
        let channel = channel_of(i);
        let presence = matches!(mix, Mix::Mixed) && i % 20 == 19;
        let signal = matches!(mix, Mix::Mixed) && !presence && i % 7 == 3;
        if presence {
            out.push_str(&format!(
                r#"{{"a":"2","f":0,"p":{{"t":"{tt}","r":1}},"k":"sub-c-bench","c":"{channel}-pnpres","d":{{"action":"join","timestamp":1700000000,"uuid":"user-{i}","occupancy":{i}}},"b":"{channel}-pnpres"}}"#
            ));
        } else if signal {
            out.push_str(&format!(
                r#"{{"a":"4","e":1,"f":0,"i":"user-{i}","s":1,"p":{{"t":"{tt}","r":1}},"k":"sub-c-bench","c":"{channel}","d":{{"typing":true}}}}"#
            ));
        } else {
            let data = payload(i);
            let d = match encrypt {
                Some(encrypt) => format!("\"{}\"", encrypt(&data)),
                None => data,
            };
            out.push_str(&format!(
                r#"{{"a":"3","f":0,"i":"user-{u}","s":{i},"p":{{"t":"{tt}","r":1}},"k":"sub-c-bench","c":"{channel}","d":{d},"u":{{"lang":"en","priority":{p}}}}}"#,
                u = i % 17,
                p = i % 3
            ));
        }
    }
    out.push_str("]}");
    out
}

/// Two alternating envelopes with distinct timetokens (so the client's
/// duplicate filter, which remembers the last 100 ids, drops nothing).
pub fn envelopes(
    mix: Mix,
    channel_of: &dyn Fn(usize) -> String,
    encrypt: Option<&dyn Fn(&str) -> String>,
) -> Vec<String> {
    vec![
        envelope(17_000_000_000_000_000, mix, channel_of, encrypt),
        envelope(17_000_000_000_001_000, mix, channel_of, encrypt),
    ]
}

#[derive(Debug)]
struct State {
    bodies: Vec<Bytes>,
    next: AtomicUsize,
    budget: AtomicU64,
    more: Notify,
    /// Distinct channels the subscribe requests named so far (a union too
    /// long for one URL is split over several long-polls).
    channels: AtomicUsize,
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
    requested: Notify,
}

/// Answers handshakes with a cursor and each receive at once with the next
/// prebuilt envelope while its budget lasts; then parks receives until
/// [`allow`](Self::allow) adds budget.
#[derive(Debug, Clone)]
pub struct Firehose(Arc<State>);

impl Firehose {
    pub fn new(bodies: Vec<String>) -> Self {
        Self(Arc::new(State {
            bodies: bodies.into_iter().map(Bytes::from).collect(),
            next: AtomicUsize::new(0),
            budget: AtomicU64::new(0),
            more: Notify::new(),
            channels: AtomicUsize::new(0),
            seen: std::sync::Mutex::new(std::collections::HashSet::new()),
            requested: Notify::new(),
        }))
    }

    /// The `index`th prebuilt body.
    pub fn body(&self, index: usize) -> Bytes {
        self.0.bodies[index % self.0.bodies.len()].clone()
    }

    /// Waits until the subscribe requests have named at least `count`
    /// distinct channels.
    pub async fn wait_for_channels(&self, count: usize) {
        loop {
            let requested = self.0.requested.notified();
            if self.0.channels.load(Ordering::Acquire) >= count {
                return;
            }
            requested.await;
        }
    }

    /// Lets `responses` more receives through.
    pub fn allow(&self, responses: u64) {
        self.0.budget.fetch_add(responses, Ordering::AcqRel);
        self.0.more.notify_waiters();
    }
}

fn take_budget(state: &State) -> bool {
    state
        .budget
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(1))
        .is_ok()
}

impl Transport for Firehose {
    fn send(
        &self,
        request: TransportRequest,
    ) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let ok = |body: Bytes| Ok(TransportResponse { status: 200, body });
        if !request.path.starts_with("/v2/subscribe/") {
            return futures::future::ready(ok(Bytes::from_static(
                br#"{"status":200,"message":"OK","service":"Presence"}"#,
            )))
            .boxed();
        }
        let channels = {
            let mut seen = self.0.seen.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(list) = request.path.split('/').nth(4) {
                seen.extend(list.split(',').map(str::to_owned));
            }
            seen.len()
        };
        self.0.channels.store(channels, Ordering::Release);
        self.0.requested.notify_waiters();
        if request.query_param("tt") == Some("0") {
            return futures::future::ready(ok(Bytes::from_static(
                br#"{"t":{"t":"1","r":1},"m":[]}"#,
            )))
            .boxed();
        }
        let state = Arc::clone(&self.0);
        async move {
            loop {
                let more = state.more.notified();
                if take_budget(&state) {
                    break;
                }
                more.await;
            }
            let index = state.next.fetch_add(1, Ordering::AcqRel) % state.bodies.len();
            ok(state.bodies[index].clone())
        }
        .boxed()
    }
}

/// A subscribe response parsed the cheapest way serde_json allows: every
/// field borrowed (`&str`, `&RawValue`), nothing owned but the `m` list.
pub mod borrowed {
    use serde::Deserialize;
    use serde_json::value::RawValue;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct Cursor<'a> {
        #[serde(borrow)]
        pub t: &'a str,
        pub r: u32,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct Envelope<'a> {
        #[serde(borrow)]
        pub c: &'a str,
        #[serde(borrow, default)]
        pub b: Option<&'a str>,
        #[serde(borrow)]
        pub d: &'a RawValue,
        #[serde(default)]
        pub e: Option<u8>,
        #[serde(borrow, default)]
        pub i: Option<&'a str>,
        #[serde(borrow)]
        pub p: Cursor<'a>,
        #[serde(borrow, default)]
        pub u: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct Response<'a> {
        #[serde(borrow)]
        pub t: Cursor<'a>,
        #[serde(borrow)]
        pub m: Vec<Envelope<'a>>,
    }

    /// Parses `body`; returns the number of envelopes (0 for a bad body).
    pub fn decode(body: &[u8]) -> usize {
        serde_json::from_slice::<Response<'_>>(body).map_or(0, |r| r.m.len())
    }

    /// The same after validating the UTF-8 of the whole body once, so
    /// serde_json need not validate each string.
    pub fn decode_str(body: &[u8]) -> usize {
        std::str::from_utf8(body)
            .ok()
            .and_then(|text| serde_json::from_str::<Response<'_>>(text).ok())
            .map_or(0, |r| r.m.len())
    }
}

/// Resident set size of this process in KiB (`VmRSS` of
/// `/proc/self/status`), `None` where that file does not exist.
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Whether the binary runs as a benchmark (`cargo bench` passes `--bench`);
/// under `cargo test --benches` it gets no such flag and should only smoke
/// test.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Median and spread (min, max) of a sample.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn spread(values: &[f64]) -> Spread {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    };
    Spread {
        median,
        min: sorted.first().copied().unwrap_or(f64::NAN),
        max: sorted.last().copied().unwrap_or(f64::NAN),
    }
}

/// The `q`-quantile (0..=1) of durations, nearest-rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs every closure once per round, in turn, `rounds` times (after one
/// unrecorded warm-up round); returns each one's round times in µs.
pub fn interleaved(rounds: usize, runs: &mut [&mut dyn FnMut() -> Duration]) -> Vec<Vec<f64>> {
    for run in runs.iter_mut() {
        run();
    }
    let mut times = vec![Vec::with_capacity(rounds); runs.len()];
    for _ in 0..rounds {
        for (run, times) in runs.iter_mut().zip(&mut times) {
            times.push(run().as_secs_f64() * 1e6);
        }
    }
    times
}

/// Per-round ratios `b / a`.
pub fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| b / a).collect()
}

/// Load average of the last minute, for the record.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}
