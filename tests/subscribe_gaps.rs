//! Gap recovery end to end against the embedded dev server (its subscribe
//! queue holds 100 messages, as PubNub's): past the server's window nothing
//! is lost silently. A backpressure pause, a `disconnect()`/`reconnect()` or
//! a burst that overflows the server's queue is filled from history — the
//! missed messages first, in order, once, marked `recovered()` — and what
//! history cannot answer is reported as `Status::PotentialLoss`.

mod common;

use common::harness::{client, client_with, dev_server, expect_status, next};
use pubnub_rx::server::{DevServerHandle, RouteKind};
use pubnub_rx::subscribe::{Message, OverflowPolicy, StatusCategory, StatusStream};
use pubnub_rx::{Error, GapRecovery, PubNub, Status, SubscriptionOptions};

async fn publish_n(publisher: &PubNub, channel: &str, from: usize, to: usize, store: bool) {
    for i in from..to {
        publisher
            .publish()
            .channel(channel)
            .message(&format!("m{i}"))
            .should_store(store)
            .await
            .unwrap();
    }
}

fn texts(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.decode::<String>().unwrap())
        .collect()
}

fn names(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("m{i}")).collect()
}

async fn take<S>(stream: &mut S, n: usize) -> Vec<Message>
where
    S: futures::Stream<Item = Message> + Unpin,
{
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        got.push(next(stream).await);
    }
    got
}

fn fetches(server: &DevServerHandle) -> usize {
    server.request_log().of_kind(RouteKind::FetchMessages).len()
}

/// Disconnects and waits until the client says so.
async fn away(client: &PubNub, status: &mut StatusStream) {
    client.disconnect();
    expect_status(status, StatusCategory::Disconnected).await;
}

#[tokio::test]
async fn an_outage_past_the_server_window_is_filled_from_history() {
    let server = dev_server().await;
    let c = client(&server, "away");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c
        .channel("gaps.outage")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe().await.unwrap();

    away(&c, &mut status).await;
    publish_n(&publisher, "gaps.outage", 0, 150, true).await;
    c.reconnect();
    let got = take(&mut messages, 150).await;
    assert_eq!(texts(&got), names(0, 150), "all 150, in order");
    // The 50 the server's 100-message queue had dropped came from history.
    assert!(got[..50].iter().all(Message::recovered));
    assert!(!got[50..].iter().any(Message::recovered));
    let recovered = expect_status(&mut status, StatusCategory::GapRecovered).await;
    assert_eq!(
        recovered,
        Status::GapRecovered {
            channels: vec!["gaps.outage".into()],
            count: 50
        }
    );
    // Nothing twice: the next message is a new one.
    publisher
        .publish()
        .channel("gaps.outage")
        .message(&"after")
        .await
        .unwrap();
    assert_eq!(
        next(&mut messages).await.decode::<String>().unwrap(),
        "after"
    );
}

#[tokio::test]
async fn backpressure_becomes_lossless_with_storage() {
    let server = dev_server().await;
    let c = client(&server, "slow");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let options = SubscriptionOptions::new()
        .queue_capacity(100)
        .overflow(OverflowPolicy::Backpressure);
    let subscription = c.channel("gaps.flood").subscription(options);
    let mut messages = subscription.messages();
    subscription.subscribe().await.unwrap();
    // The consumer reads nothing while 2,000 are published: the long-poll
    // pauses, the server's queue drops all but the newest 100.
    publish_n(&publisher, "gaps.flood", 0, 2000, true).await;
    let got = take(&mut messages, 2000).await;
    assert_eq!(
        texts(&got),
        names(0, 2000),
        "2,000 delivered, in order, once"
    );
    assert_eq!(messages.lost(), 0);
    assert!(got.iter().any(Message::recovered));
    let recovered = expect_status(&mut status, StatusCategory::GapRecovered).await;
    assert!(matches!(recovered, Status::GapRecovered { count, .. } if count > 0));
}

#[tokio::test]
async fn unstored_messages_in_a_gap_are_reported_as_potential_loss() {
    let server = dev_server().await;
    let c = client(&server, "away");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c
        .channel("gaps.unstored")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe().await.unwrap();

    away(&c, &mut status).await;
    let first_unstored = server.timetoken();
    publish_n(&publisher, "gaps.unstored", 0, 150, false).await;
    c.reconnect();
    let got = take(&mut messages, 100).await;
    assert_eq!(
        texts(&got),
        names(50, 150),
        "the newest 100 the server kept"
    );
    let loss = expect_status(&mut status, StatusCategory::PotentialLoss).await;
    let Status::PotentialLoss {
        channels,
        after,
        before: until,
        reason,
        ..
    } = loss
    else {
        panic!("{loss:?}");
    };
    assert_eq!(channels, ["gaps.unstored"]);
    // The range covers the 50 the server dropped, up to the first it kept.
    assert!(after < first_unstored, "{after} {first_unstored}");
    assert_eq!(until, got[0].timetoken());
    assert_eq!(reason, None);
    assert!(fetches(&server) >= 1, "history was asked");
}

#[tokio::test]
async fn report_mode_reports_without_asking_history() {
    let server = dev_server().await;
    let c = client_with(&server, "away", |b| b.gap_recovery(GapRecovery::Report));
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c
        .channel("gaps.report")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe().await.unwrap();
    away(&c, &mut status).await;
    publish_n(&publisher, "gaps.report", 0, 150, true).await;
    c.reconnect();
    let got = take(&mut messages, 100).await;
    assert_eq!(texts(&got), names(50, 150));
    let loss = expect_status(&mut status, StatusCategory::PotentialLoss).await;
    assert!(
        matches!(loss, Status::PotentialLoss { ref channels, .. } if channels == &["gaps.report"])
    );
    assert_eq!(fetches(&server), 0);
}

#[tokio::test]
async fn a_refusing_history_is_reported_and_not_asked_again() {
    let server = dev_server().await;
    let c = client(&server, "away");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c
        .channel("gaps.refused")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe().await.unwrap();
    server.faults().respond(
        RouteKind::FetchMessages,
        1,
        403,
        r#"{"status":403,"error":true,"service":"Access Manager","message":"Forbidden","payload":{"channels":["gaps.refused"]}}"#,
    );
    away(&c, &mut status).await;
    publish_n(&publisher, "gaps.refused", 0, 150, true).await;
    c.reconnect();
    assert_eq!(texts(&take(&mut messages, 100).await), names(50, 150));
    let loss = expect_status(&mut status, StatusCategory::PotentialLoss).await;
    assert!(
        matches!(
            &loss,
            Status::PotentialLoss {
                reason: Some(Error::AccessDenied { .. }),
                ..
            }
        ),
        "{loss:?}"
    );
    assert_eq!(fetches(&server), 1);

    // The next gap is reported at once, without a request that cannot succeed.
    away(&c, &mut status).await;
    publish_n(&publisher, "gaps.refused", 150, 300, true).await;
    c.reconnect();
    assert_eq!(texts(&take(&mut messages, 100).await), names(200, 300));
    expect_status(&mut status, StatusCategory::PotentialLoss).await;
    assert_eq!(fetches(&server), 1);
}

#[tokio::test]
async fn groups_and_seen_wildcard_channels_are_recovered_too() {
    let server = dev_server().await;
    let c = client(&server, "away");
    let publisher = client(&server, "pub");
    publisher
        .channel_group("gaps-group")
        .add(["gaps.in-group"])
        .await
        .unwrap();
    let mut status = c.status();
    let group = c
        .channel_group("gaps-group")
        .subscription(SubscriptionOptions::new());
    let wildcard = c.channel("gapw.*").subscription(SubscriptionOptions::new());
    let (mut in_group, mut in_wildcard) = (group.messages(), wildcard.messages());
    group.subscribe().await.unwrap();
    wildcard.subscribe().await.unwrap();
    // The wildcard's channel is seen once while connected.
    publisher
        .publish()
        .channel("gapw.a")
        .message(&"seen")
        .await
        .unwrap();
    assert_eq!(
        next(&mut in_wildcard).await.decode::<String>().unwrap(),
        "seen"
    );

    away(&c, &mut status).await;
    publish_n(&publisher, "gaps.in-group", 0, 80, true).await;
    publish_n(&publisher, "gapw.a", 0, 80, true).await;
    c.reconnect();
    let group_got = take(&mut in_group, 80).await;
    let wild_got = take(&mut in_wildcard, 80).await;
    assert_eq!(texts(&group_got), names(0, 80));
    assert_eq!(texts(&wild_got), names(0, 80));
    assert!(group_got.iter().all(|m| m.subscription() == "gaps-group"));
    assert!(wild_got.iter().all(|m| m.subscription() == "gapw.*"));
    assert!(group_got[0].recovered(), "the oldest came from history");
    let recovered = expect_status(&mut status, StatusCategory::GapRecovered).await;
    assert!(
        matches!(recovered, Status::GapRecovered { count: 60, .. }),
        "{recovered:?}"
    );
}

#[tokio::test]
async fn a_wildcard_never_seen_is_reported() {
    let server = dev_server().await;
    let c = client(&server, "away");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let wildcard = c.channel("gapn.*").subscription(SubscriptionOptions::new());
    let mut messages = wildcard.messages();
    wildcard.subscribe().await.unwrap();
    away(&c, &mut status).await;
    publish_n(&publisher, "gapn.x", 0, 150, true).await;
    c.reconnect();
    assert_eq!(texts(&take(&mut messages, 100).await), names(50, 150));
    let loss = expect_status(&mut status, StatusCategory::PotentialLoss).await;
    assert!(
        matches!(&loss, Status::PotentialLoss { channels, .. } if channels == &["gapn.*"]),
        "{loss:?}"
    );
}

/// Full batches, one after the other, with nothing stored: history is
/// refused once, then every batch is a potential loss. The reports are
/// merged (at most one per 100 ms) into the widest range.
mod coalesced {
    use std::sync::atomic::{AtomicU64, Ordering};

    use std::sync::Arc;

    use futures::future::BoxFuture;
    use futures::FutureExt as _;
    use pubnub_rx::subscribe::StatusCategory;
    use pubnub_rx::transport::{Transport, TransportRequest, TransportResponse};
    use pubnub_rx::{Config, Error, PubNub, Status, SubscriptionOptions};

    const BATCHES: u64 = 50;
    const BASE: u64 = 17_000_000_000_000_000;

    /// Answers the handshake, then `BATCHES` full receives (each starting
    /// after a skipped stretch), then parks; history refuses (403).
    #[derive(Debug, Default)]
    struct FullBatches {
        served: AtomicU64,
    }

    impl Transport for FullBatches {
        fn send(
            &self,
            request: TransportRequest,
        ) -> BoxFuture<'static, Result<TransportResponse, Error>> {
            let ok = |status: u16, body: String| {
                Ok(TransportResponse {
                    status,
                    body: body.into_bytes().into(),
                })
            };
            if request.path.starts_with("/v3/history/") {
                let body = r#"{"status":403,"error":true,"service":"Access Manager","message":"Forbidden","payload":{"channels":["full"]}}"#;
                return futures::future::ready(ok(403, body.to_owned())).boxed();
            }
            if !request.path.starts_with("/v2/subscribe/") {
                return futures::future::ready(ok(200, r#"{"status":200}"#.to_owned())).boxed();
            }
            if request.query_param("tt") == Some("0") {
                let body = format!(r#"{{"t":{{"t":"{BASE}","r":1}},"m":[]}}"#);
                return futures::future::ready(ok(200, body)).boxed();
            }
            let batch = self.served.fetch_add(1, Ordering::SeqCst) + 1;
            if batch > BATCHES {
                return futures::future::pending().boxed();
            }
            let start = BASE + batch * 1_000 + 5;
            let messages: Vec<String> = (0..100)
                .map(|i| {
                    format!(
                        r#"{{"a":"1","f":0,"p":{{"t":"{}","r":1}},"k":"sub","c":"full","d":"m"}}"#,
                        start + i
                    )
                })
                .collect();
            let body = format!(
                r#"{{"t":{{"t":"{}","r":1}},"m":[{}]}}"#,
                BASE + batch * 1_000 + 999,
                messages.join(",")
            );
            futures::future::ready(ok(200, body)).boxed()
        }
    }

    #[tokio::test]
    async fn potential_losses_are_merged_not_flooded() {
        let transport = Arc::new(FullBatches::default());
        let client = PubNub::new(
            Config::builder()
                .subscribe_key("sub")
                .user_id("flooded")
                .transport(transport.clone())
                .build()
                .unwrap(),
        )
        .unwrap();
        let mut status = client.status();
        let subscription = client
            .channel("full")
            .subscription(SubscriptionOptions::new());
        // Nobody reads the messages: the queue drops the oldest (reported
        // as MessagesLost, which this test skips).
        let _messages = subscription.messages();
        subscription.subscribe().await.unwrap();
        let mut reports = Vec::new();
        while reports
            .last()
            .is_none_or(|(_, before)| *before < BASE + BATCHES * 1_000 + 5)
        {
            match super::expect_status(&mut status, StatusCategory::PotentialLoss).await {
                Status::PotentialLoss { after, before, .. } => reports.push((after, before)),
                other => panic!("{other:?}"),
            }
        }
        assert!(
            reports.len() < BATCHES as usize / 2,
            "{} reports for {BATCHES} full batches",
            reports.len()
        );
        // Together they span every skipped stretch, from the first cursor to
        // the last batch, in order.
        assert_eq!(reports[0].0, BASE, "{reports:?}");
        assert_eq!(
            reports.last().map(|r| r.1),
            Some(BASE + BATCHES * 1_000 + 5)
        );
        for pair in reports.windows(2) {
            assert!(
                pair[0].1 <= pair[1].1 && pair[0].0 < pair[1].0,
                "{reports:?}"
            );
        }
    }
}
