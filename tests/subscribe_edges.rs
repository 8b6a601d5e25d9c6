//! Delivery at the edges: requests that cannot succeed are not retried,
//! loss reports are coalesced, the client closes gracefully.

mod common;

use std::time::Duration;

use common::harness::{
    assert_no_request, client, client_with, dev_server, expect_status, next_request, GUARD,
};
use futures::StreamExt;
use pubnub_rx::server::RouteKind;
use pubnub_rx::subscribe::StatusCategory;
use pubnub_rx::{Error, ReconnectPolicy, Status, SubscriptionOptions};

fn fast_retry() -> ReconnectPolicy {
    ReconnectPolicy::Linear {
        delay: Duration::from_millis(10),
        max_retries: Some(20),
    }
}

#[tokio::test]
async fn a_414_or_413_on_subscribe_fails_as_too_long_without_retrying() {
    for code in [413, 414] {
        let server = dev_server().await;
        let c = client_with(&server, "long", |b| b.reconnect_policy(fast_retry()));
        let mut status = c.status();
        server.faults().respond(RouteKind::Subscribe, 1, code, "");
        let subscription = c.channel("long").subscription(SubscriptionOptions::new());
        subscription.subscribe();
        let failed = expect_status(&mut status, StatusCategory::RequestTooLong).await;
        assert!(
            matches!(
                failed,
                Status::Failed {
                    error: Error::RequestTooLong { status: Some(s), .. },
                    ..
                } if s == code
            ),
            "{failed:?}"
        );
        let mark = server.request_log().mark();
        assert_no_request(
            &server,
            mark,
            RouteKind::Subscribe,
            Duration::from_millis(300),
        )
        .await;
    }
}

#[tokio::test]
async fn a_url_over_the_limit_is_never_sent_nor_retried() {
    let server = dev_server().await;
    // A budget that lets the whole union into one long-poll (the default
    // splits it into several, see tests/subscribe_shards.rs).
    let c = client_with(&server, "many", |b| {
        b.reconnect_policy(fast_retry())
            .max_subscribe_list_bytes(1 << 20)
    });
    let mut status = c.status();
    let names: Vec<String> = (0..2000)
        .map(|i| format!("a-rather-long-channel-name-number-{i:06}"))
        .collect();
    let subscription = c.subscription_set(names.iter().map(|name| {
        c.channel(name.as_str())
            .subscription(SubscriptionOptions::new())
    }));
    subscription.subscribe();
    match expect_status(&mut status, StatusCategory::RequestTooLong).await {
        Status::Failed {
            error:
                Error::RequestTooLong {
                    length: Some(length),
                    status: None,
                },
            ..
        } => assert!(length > 64 * 1024, "{length}"),
        other => panic!("{other:?}"),
    }
    assert_no_request(&server, 0, RouteKind::Subscribe, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_refused_heartbeat_is_not_repeated_until_the_channels_change() {
    let server = dev_server().await;
    let c = client_with(&server, "beat", |b| {
        b.heartbeat_interval(Some(Duration::from_millis(50)))
    });
    let mut status = c.status();
    server.faults().respond(RouteKind::Heartbeat, 1, 414, "");
    let first = c.channel("hb-1").subscription(SubscriptionOptions::new());
    first.subscribe();
    match expect_status(&mut status, StatusCategory::Heartbeat).await {
        Status::Heartbeat { error: Some(error) } => {
            assert!(matches!(error, Error::RequestTooLong { .. }), "{error:?}")
        }
        other => panic!("{other:?}"),
    }
    let refused = next_request(&server, 0, RouteKind::Heartbeat).await;
    // Ten intervals without another try.
    assert_no_request(
        &server,
        refused.seq,
        RouteKind::Heartbeat,
        Duration::from_millis(500),
    )
    .await;
    // A new channel mix is a new request: beating resumes.
    let second = c.channel("hb-2").subscription(SubscriptionOptions::new());
    second.subscribe();
    let resumed = tokio::time::timeout(
        GUARD,
        server
            .request_log()
            .wait_for_after(refused.seq, |r| r.kind == RouteKind::Heartbeat),
    )
    .await
    .unwrap();
    assert!(resumed.path.contains("hb-2"), "{}", resumed.path);
}

#[tokio::test]
async fn a_flood_into_a_drop_oldest_queue_is_reported_in_few_statuses_with_the_exact_total() {
    const SENT: u64 = 10_000;
    const CAPACITY: usize = 10;
    let server = dev_server().await;
    let c = client(&server, "flooded");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c
        .channel("flood")
        .subscription(SubscriptionOptions::new().queue_capacity(CAPACITY));
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    let flood = tokio::spawn(async move {
        for i in 0..SENT {
            publisher
                .publish()
                .channel("flood")
                .message(&format!("m{i}"))
                .await
                .unwrap();
        }
    });
    let expected_loss = SENT - CAPACITY as u64;
    let (mut reports, mut total) = (0, 0);
    while total < expected_loss {
        let report = tokio::time::timeout(GUARD, async {
            loop {
                match status.next().await {
                    Some(item) if item.category() == StatusCategory::MessagesLost => return item,
                    Some(_) => {}
                    None => panic!("status stream ended"),
                }
            }
        })
        .await;
        match report {
            Ok(Status::MessagesLost {
                count,
                subscription,
            }) => {
                assert_eq!(subscription, "flood");
                reports += 1;
                total += count;
            }
            Ok(other) => panic!("{other:?}"),
            Err(_) => panic!(
                "{total} of {expected_loss} reported in {reports} statuses, then nothing; stream lost {}",
                messages.lost()
            ),
        }
    }
    flood.await.unwrap();
    assert_eq!(total, expected_loss, "the counts add up exactly");
    assert_eq!(messages.lost(), expected_loss);
    assert!(
        reports <= 100,
        "{reports} MessagesLost statuses for one flood"
    );
    let mut kept = Vec::new();
    for _ in 0..CAPACITY {
        kept.push(
            common::harness::next(&mut messages)
                .await
                .decode::<String>()
                .unwrap(),
        );
    }
    let newest: Vec<String> = (SENT - CAPACITY as u64..SENT)
        .map(|i| format!("m{i}"))
        .collect();
    assert_eq!(kept, newest, "the newest, in order");
}

#[tokio::test]
async fn close_unsubscribes_sends_the_leave_ends_the_streams_and_returns() {
    let server = dev_server().await;
    let c = client(&server, "closing");
    let mut status = c.status();
    let a = c
        .channel("close-a")
        .subscription(SubscriptionOptions::new());
    let g = c
        .channel_group("close-g")
        .subscription(SubscriptionOptions::new());
    let (mut a_messages, mut g_events) = (a.messages(), g.events());
    a.subscribe();
    g.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    let mark = server.request_log().mark();
    tokio::time::timeout(GUARD, c.close()).await.unwrap();
    // The leave went out before close returned.
    let leaves: Vec<_> = server
        .request_log()
        .of_kind(RouteKind::Leave)
        .into_iter()
        .filter(|r| r.seq > mark)
        .collect();
    assert_eq!(leaves.len(), 1, "one leave for everything");
    assert!(
        leaves[0].path.contains("/channel/close-a/leave"),
        "{}",
        leaves[0].path
    );
    assert_eq!(leaves[0].param("channel-group"), Some("close-g"));
    // A final Disconnected, then the status stream ends; so do the others.
    let mut rest = Vec::new();
    while let Some(item) = tokio::time::timeout(GUARD, status.next()).await.unwrap() {
        rest.push(item);
    }
    assert_eq!(rest.last(), Some(&Status::Disconnected), "{rest:?}");
    assert!(tokio::time::timeout(GUARD, a_messages.next())
        .await
        .unwrap()
        .is_none());
    assert!(tokio::time::timeout(GUARD, g_events.next())
        .await
        .unwrap()
        .is_none());
    // Closing again, or a client that never subscribed, returns at once.
    tokio::time::timeout(GUARD, c.close()).await.unwrap();
    tokio::time::timeout(GUARD, client(&server, "idle").close())
        .await
        .unwrap();
}

/// Env var naming the dev server origin for the child process of the next test.
const CHILD_ORIGIN: &str = "PUBNUB_RX_CLOSE_CHILD_ORIGIN";

/// The child: subscribes, awaits `close()`, and returns (ending its process).
/// Does nothing when run as an ordinary test.
#[tokio::test]
async fn close_child_process() {
    let Ok(origin) = std::env::var(CHILD_ORIGIN) else {
        return;
    };
    let config = pubnub_rx::Config::builder()
        .subscribe_key("sub-c-test")
        .publish_key("pub-c-test")
        .user_id("child")
        .origin(origin)
        .ssl(false)
        .build()
        .unwrap();
    let c = pubnub_rx::PubNub::new(config).unwrap();
    let mut status = c.status();
    let subscription = c
        .channel("child-room")
        .subscription(SubscriptionOptions::new());
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    c.close().await;
}

#[tokio::test]
async fn a_process_that_awaits_close_before_exiting_has_sent_its_leave() {
    let server = dev_server().await;
    let child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "close_child_process", "--test-threads=1"])
        .env(CHILD_ORIGIN, server.origin())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(GUARD, child).await.unwrap().unwrap();
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let subscribes = server.request_log().of_kind(RouteKind::Subscribe);
    assert!(!subscribes.is_empty(), "the child subscribed");
    let leaves = server.request_log().of_kind(RouteKind::Leave);
    assert_eq!(leaves.len(), 1, "the child's leave reached the server");
    assert!(leaves[0].path.contains("/channel/child-room/leave"));
    assert_eq!(leaves[0].param("uuid"), Some("child"));
}
