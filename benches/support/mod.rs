//! Shared bench fixtures: realistic subscribe envelopes and an in-memory
//! "firehose" transport that answers every receive long-poll at once.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

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
        }))
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
