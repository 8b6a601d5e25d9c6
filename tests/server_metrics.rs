//! `/metrics` (Prometheus text format) and `/healthz`: the values move as
//! traffic flows.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::collections::HashMap;
use std::time::Duration;

use dev_server::{test_config, TestServer, STEP};

/// One scrape: `name{labels}` → value, plus the `# TYPE` of each family.
struct Scrape {
    samples: HashMap<String, f64>,
    types: HashMap<String, String>,
    /// Sample keys in the order they appeared.
    order: Vec<String>,
}

/// A small parser for the text exposition format: `# HELP` / `# TYPE`
/// lines, and `name{labels} value` samples. Panics on anything else, so a
/// malformed exposition fails the test.
fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape {
        samples: HashMap::new(),
        types: HashMap::new(),
        order: Vec::new(),
    };
    let mut helped = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(!help.is_empty());
            helped.insert(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(helped.contains(name), "TYPE before HELP for {name}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            scrape.types.insert(name.to_owned(), kind.to_owned());
        } else {
            let (key, value) = line.rsplit_once(' ').expect("sample has a value");
            let name = key.split('{').next().unwrap();
            assert!(name.starts_with("pubnub_"), "{line}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| scrape.types.get(*base).map(String::as_str) == Some("histogram"))
                .unwrap_or(name);
            assert!(scrape.types.contains_key(family), "no TYPE for {line}");
            let value: f64 = value.parse().expect("numeric value");
            scrape.order.push(key.to_owned());
            assert!(
                scrape.samples.insert(key.to_owned(), value).is_none(),
                "duplicate sample {key}"
            );
        }
    }
    scrape
}

impl Scrape {
    fn get(&self, key: &str) -> f64 {
        self.samples.get(key).copied().unwrap_or(0.0)
    }
}

async fn scrape(t: &TestServer) -> Scrape {
    let reply = t.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("text/plain; version=0.0.4")));
    parse(&reply.body)
}

#[tokio::test]
async fn healthz_answers_ok() {
    let t = TestServer::start().await;
    let reply = t.get("/healthz").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    // Not a PubNub route: the request log stays empty.
    assert!(t.server.request_log().snapshot().is_empty());
}

#[tokio::test]
async fn counters_move_with_publishes_deliveries_and_parked_polls() {
    let t = TestServer::with_config(test_config().with_hold(Duration::from_secs(60))).await;
    let before = scrape(&t).await;
    assert_eq!(before.get("pubnub_parked_polls"), 0.0);
    assert_eq!(before.types["pubnub_publishes_total"], "counter");
    assert_eq!(before.types["pubnub_request_duration_seconds"], "histogram");

    let cursor = t.handshake("m", "alice", "").await;
    for n in 1..=3 {
        t.publish("m", &n.to_string()).await;
    }
    let after = scrape(&t).await;
    let key = r#"pubnub_publishes_total{kind="message"}"#;
    assert_eq!(after.get(key) - before.get(key), 3.0);
    assert_eq!(after.get("pubnub_store_messages"), 3.0);
    assert_eq!(after.get("pubnub_store_bytes"), 3.0);
    assert_eq!(
        after.get(r#"pubnub_requests_total{route="publish",status="200"}"#),
        3.0
    );
    assert_eq!(after.get("pubnub_deliveries_total"), 0.0);

    let polled = t.receive("m", cursor, "alice", "").await;
    assert_eq!(polled.messages.len(), 3);
    let delivered = scrape(&t).await;
    assert_eq!(delivered.get("pubnub_deliveries_total"), 3.0);
    assert!(delivered.get("pubnub_sent_bytes_total") > after.get("pubnub_sent_bytes_total"));
    assert!(delivered.get("pubnub_received_bytes_total") > 0.0);
    assert!(delivered.get("pubnub_open_connections") >= 1.0);

    // A parked poll shows in the gauge while it waits.
    let parked = {
        let http = t.http.clone();
        let url = format!(
            "{}/v2/subscribe/{}/m/0?tt={}&uuid=alice",
            t.base,
            dev_server::SUB,
            polled.cursor
        );
        tokio::spawn(async move { http.get(url).send().await.unwrap().text().await.unwrap() })
    };
    tokio::time::timeout(STEP, t.server.wait_for_parked(1))
        .await
        .expect("the poll parks");
    assert_eq!(scrape(&t).await.get("pubnub_parked_polls"), 1.0);
    t.publish("m", "4").await;
    tokio::time::timeout(STEP, parked).await.unwrap().unwrap();
    tokio::time::timeout(STEP, t.server.wait_for_parked(0))
        .await
        .unwrap();
    let end = scrape(&t).await;
    assert_eq!(end.get("pubnub_parked_polls"), 0.0);
    assert_eq!(end.get("pubnub_deliveries_total"), 4.0);
}

#[tokio::test]
async fn histogram_buckets_are_cumulative_and_count_equals_requests() {
    let t = TestServer::start().await;
    for _ in 0..5 {
        assert_eq!(t.get("/time/0").await.status, 200);
    }
    assert_eq!(t.get("/no/such/api").await.status, 404);
    let s = scrape(&t).await;
    assert_eq!(
        s.get(r#"pubnub_requests_total{route="time",status="200"}"#),
        5.0
    );
    assert_eq!(
        s.get(r#"pubnub_requests_total{route="unknown",status="404"}"#),
        1.0
    );
    let buckets: Vec<(&String, f64)> = s
        .order
        .iter()
        .filter(|k| k.starts_with(r#"pubnub_request_duration_seconds_bucket{route="time","#))
        .map(|k| (k, s.get(k)))
        .collect();
    assert!(buckets.len() > 2);
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    let (last, total) = buckets.last().unwrap();
    assert!(last.contains(r#"le="+Inf""#));
    assert_eq!(*total, 5.0);
    assert_eq!(
        s.get(r#"pubnub_request_duration_seconds_count{route="time"}"#),
        5.0
    );
    assert!(s.get(r#"pubnub_request_duration_seconds_sum{route="time"}"#) > 0.0);
}

#[tokio::test]
async fn queue_overflow_losses_are_counted() {
    let t = TestServer::with_config(test_config().with_queue_size(2)).await;
    let cursor = t.handshake("q", "bob", "").await;
    for n in 1..=5 {
        t.publish("q", &n.to_string()).await;
    }
    let polled = t.receive("q", cursor, "bob", "").await;
    assert_eq!(polled.messages.len(), 2);
    let s = scrape(&t).await;
    assert_eq!(s.get("pubnub_queue_overflow_losses_total"), 3.0);
    assert_eq!(s.get("pubnub_deliveries_total"), 2.0);
}
