//! The subscribe engine end to end against the embedded dev server: what
//! arrives, in what order, once; what goes on the wire; how failures are
//! reported and recovered from.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::harness::{
    assert_no_request, client, client_with, dev_server, dev_server_with, expect_status, next,
    next_request, GUARD,
};
use futures::StreamExt;
use pubnub_rx::server::{DevServerConfig, RouteKind};
use pubnub_rx::subscribe::{OverflowPolicy, StatusCategory};
use pubnub_rx::{Error, Message, ReconnectPolicy, Status, SubscriptionOptions};
use serde_json::{json, Value};

fn fast_retry() -> ReconnectPolicy {
    ReconnectPolicy::Linear {
        delay: Duration::from_millis(10),
        max_retries: Some(20),
    }
}

fn texts(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.decode::<String>().expect("string payload"))
        .collect()
}

#[tokio::test]
async fn published_message_arrives_once_with_every_field() {
    let server = dev_server().await;
    let subscriber = client(&server, "subscriber");
    let publisher = client(&server, "publisher");
    let mut status = subscriber.status();
    let subscription = subscriber
        .channel("chat")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;

    let sent = publisher
        .publish()
        .channel("chat")
        .message(&json!({"text": "hello"}))
        .meta(&json!({"lang": "en"}))
        .custom_message_type("chat-text")
        .await
        .unwrap();
    let message = next(&mut messages).await;
    assert_eq!(message.channel(), "chat");
    assert_eq!(message.subscription(), "chat");
    assert_eq!(message.timetoken(), sent.timetoken);
    assert_eq!(message.publisher(), Some("publisher"));
    assert_eq!(
        message.meta::<Value>().unwrap(),
        Some(json!({"lang": "en"}))
    );
    assert_eq!(message.custom_message_type(), Some("chat-text"));
    assert_eq!(message.decode::<Value>().unwrap(), json!({"text": "hello"}));
    assert_eq!(message.decryption_error(), None);

    // Exactly once: the next message is the following publish, not a repeat.
    publisher
        .publish()
        .channel("chat")
        .message(&"second")
        .await
        .unwrap();
    assert_eq!(
        next(&mut messages).await.decode::<String>().unwrap(),
        "second"
    );
}

#[tokio::test]
async fn a_set_whose_members_share_a_channel_yields_each_message_once() {
    let server = dev_server().await;
    let c = client(&server, "set-user");
    let mut status = c.status();
    let a = c.channel("shared").subscription(SubscriptionOptions::new());
    let b = c.channel("shared").subscription(SubscriptionOptions::new());
    let set = a + b;
    let mut events = set.messages();
    set.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    c.publish().channel("shared").message(&"one").await.unwrap();
    c.publish().channel("shared").message(&"two").await.unwrap();
    let got = vec![next(&mut events).await, next(&mut events).await];
    assert_eq!(texts(&got), ["one", "two"]);
}

#[tokio::test]
async fn subscribers_of_one_channel_share_one_payload() {
    let server = dev_server().await;
    let c = client(&server, "sharing");
    let mut status = c.status();
    let first = c.channel("fan").subscription(SubscriptionOptions::new());
    let second = c.channel("fan").subscription(SubscriptionOptions::new());
    let (mut m1, mut m2) = (first.messages(), second.messages());
    first.subscribe();
    second.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    c.publish().channel("fan").message(&"shared").await.unwrap();
    let (x, y) = (next(&mut m1).await, next(&mut m2).await);
    assert!(x.shares_payload_with(&y), "no per-subscriber copy");
}

#[tokio::test]
async fn adding_a_channel_while_a_poll_is_parked_neither_duplicates_nor_loses() {
    let server = dev_server().await;
    let c = client(&server, "mixer");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let a = c.channel("mix-a").subscription(SubscriptionOptions::new());
    let mut a_messages = a.messages();
    a.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;

    let mut sent_a = Vec::new();
    let mut sent_b = Vec::new();
    for i in 0..20 {
        publisher
            .publish()
            .channel("mix-a")
            .message(&format!("a{i}"))
            .await
            .unwrap();
        sent_a.push(format!("a{i}"));
    }
    // Add channel b while a receive long-poll is parked at the server.
    tokio::time::timeout(GUARD, server.wait_for_parked(1))
        .await
        .unwrap();
    let b = c.channel("mix-b").subscription(SubscriptionOptions::new());
    let mut b_messages = b.messages();
    b.subscribe();
    for i in 20..100 {
        let (channel, text) = if i % 2 == 0 {
            ("mix-a", format!("a{i}"))
        } else {
            ("mix-b", format!("b{i}"))
        };
        publisher
            .publish()
            .channel(channel)
            .message(&text)
            .await
            .unwrap();
        if channel == "mix-a" {
            sent_a.push(text)
        } else {
            sent_b.push(text)
        }
    }
    let mut got_a = Vec::new();
    while got_a.len() < sent_a.len() {
        got_a.push(next(&mut a_messages).await);
    }
    let mut got_b = Vec::new();
    while got_b.len() < sent_b.len() {
        got_b.push(next(&mut b_messages).await);
    }
    assert_eq!(
        texts(&got_a),
        sent_a,
        "channel a: every message once, in order"
    );
    assert_eq!(
        texts(&got_b),
        sent_b,
        "channel b: every message once, in order"
    );
    // And nothing more (no late duplicate): the next ones are fresh sentinels.
    publisher
        .publish()
        .channel("mix-a")
        .message(&"end-a")
        .await
        .unwrap();
    publisher
        .publish()
        .channel("mix-b")
        .message(&"end-b")
        .await
        .unwrap();
    assert_eq!(
        next(&mut a_messages).await.decode::<String>().unwrap(),
        "end-a"
    );
    assert_eq!(
        next(&mut b_messages).await.decode::<String>().unwrap(),
        "end-b"
    );
}

#[tokio::test]
async fn two_500s_then_ok_recovers_by_itself_without_loss() {
    let server = dev_server().await;
    let c = client_with(&server, "resilient", |b| b.reconnect_policy(fast_retry()));
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c.channel("flaky").subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    tokio::time::timeout(GUARD, server.wait_for_parked(1))
        .await
        .unwrap();

    // The parked poll answers with m1; the next two receives fail with 500.
    server.faults().respond(
        RouteKind::Subscribe,
        2,
        500,
        r#"{"status":500,"error":true,"message":"Internal Server Error"}"#,
    );
    publisher
        .publish()
        .channel("flaky")
        .message(&"m1")
        .await
        .unwrap();
    publisher
        .publish()
        .channel("flaky")
        .message(&"m2")
        .await
        .unwrap();
    match expect_status(&mut status, StatusCategory::UnexpectedDisconnect).await {
        Status::UnexpectedDisconnect { error } => assert_eq!(error.status(), Some(500)),
        other => panic!("{other:?}"),
    }
    expect_status(&mut status, StatusCategory::Reconnected).await;
    publisher
        .publish()
        .channel("flaky")
        .message(&"m3")
        .await
        .unwrap();
    let got = vec![
        next(&mut messages).await,
        next(&mut messages).await,
        next(&mut messages).await,
    ];
    assert_eq!(texts(&got), ["m1", "m2", "m3"]);
    assert_eq!(server.faults().pending(), 0, "both 500s were served");
}

#[tokio::test]
async fn a_connection_dropped_mid_poll_recovers_with_the_default_policy() {
    let server = dev_server().await;
    let c = client(&server, "dropped");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c.channel("drop").subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    tokio::time::timeout(GUARD, server.wait_for_parked(1))
        .await
        .unwrap();

    server
        .faults()
        .drop_connections_after(RouteKind::Subscribe, 1, Duration::from_millis(50));
    publisher
        .publish()
        .channel("drop")
        .message(&"before")
        .await
        .unwrap();
    expect_status(&mut status, StatusCategory::UnexpectedDisconnect).await;
    publisher
        .publish()
        .channel("drop")
        .message(&"during")
        .await
        .unwrap();
    expect_status(&mut status, StatusCategory::Reconnected).await;
    let got = vec![next(&mut messages).await, next(&mut messages).await];
    assert_eq!(texts(&got), ["before", "during"]);
}

#[tokio::test]
async fn access_denied_and_bad_request_are_reported_without_retrying() {
    for (code, body, category) in [
        (
            403,
            r#"{"message":"Forbidden","payload":{"channels":["locked"]},"error":true,"service":"Access Manager","status":403}"#,
            StatusCategory::AccessDenied,
        ),
        (
            400,
            r#"{"message":"Invalid Arguments","error":true,"status":400}"#,
            StatusCategory::BadRequest,
        ),
    ] {
        let server = dev_server().await;
        let c = client_with(&server, "denied", |b| b.reconnect_policy(fast_retry()));
        let mut status = c.status();
        server.faults().respond(RouteKind::Subscribe, 1, code, body);
        let subscription = c.channel("locked").subscription(SubscriptionOptions::new());
        subscription.subscribe();
        let failed = expect_status(&mut status, category).await;
        assert!(matches!(failed, Status::Failed { .. }), "{failed:?}");
        if code == 403 {
            assert!(
                matches!(failed.error(), Some(Error::AccessDenied { channels, .. }) if channels == &["locked"])
            );
        }
        let mark = server.request_log().mark();
        // A retry would come within 10 ms; none may come at all.
        assert_no_request(
            &server,
            mark,
            RouteKind::Subscribe,
            Duration::from_millis(500),
        )
        .await;
        assert_eq!(
            server.request_log().of_kind(RouteKind::Subscribe).len(),
            1,
            "exactly one subscribe request"
        );
    }
}

#[tokio::test]
async fn the_filter_expression_goes_on_every_subscribe_and_is_honoured() {
    let server = dev_server().await;
    let c = client_with(&server, "filtered", |b| {
        b.filter_expression("meta.lang == 'en'")
    });
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c.channel("news").subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    for (text, lang) in [("hello", "en"), ("bonjour", "fr"), ("hi", "en")] {
        publisher
            .publish()
            .channel("news")
            .message(&text)
            .meta(&json!({"lang": lang}))
            .await
            .unwrap();
    }
    let got = vec![next(&mut messages).await, next(&mut messages).await];
    assert_eq!(texts(&got), ["hello", "hi"]);
    let subscribes = server.request_log().of_kind(RouteKind::Subscribe);
    assert!(subscribes.len() >= 2);
    for request in subscribes {
        assert_eq!(
            request.param("filter-expr"),
            Some("meta.lang == 'en'"),
            "{}",
            request.path
        );
    }
}

#[tokio::test]
async fn unsubscribing_one_of_two_subscriptions_keeps_the_shared_channel_and_sends_no_leave_for_it()
{
    let server = dev_server().await;
    let c = client(&server, "sharer");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let keep = c.channel("common").subscription(SubscriptionOptions::new());
    let leave = c.subscription_set([
        c.channel("common").subscription(SubscriptionOptions::new()),
        c.channel("only-mine")
            .subscription(SubscriptionOptions::new()),
    ]);
    let mut kept = keep.messages();
    keep.subscribe();
    leave.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    let mark = server.request_log().mark();
    leave.unsubscribe();
    let leave_request = next_request(&server, mark, RouteKind::Leave).await;
    assert!(
        leave_request.path.ends_with("/channel/only-mine/leave"),
        "leave names only the channel nobody uses: {}",
        leave_request.path
    );
    let poll = tokio::time::timeout(
        GUARD,
        server.request_log().wait_for_after(mark, |r| {
            r.kind == RouteKind::Subscribe && !r.path.contains("only-mine")
        }),
    )
    .await
    .expect("a long-poll without the dropped channel");
    assert!(
        poll.path.contains("/common/"),
        "the shared channel stays in the long-poll: {}",
        poll.path
    );
    publisher
        .publish()
        .channel("common")
        .message(&"still here")
        .await
        .unwrap();
    assert_eq!(
        next(&mut kept).await.decode::<String>().unwrap(),
        "still here"
    );
    let leaves = server.request_log().of_kind(RouteKind::Leave);
    assert_eq!(leaves.len(), 1, "{leaves:?}");
}

#[tokio::test]
async fn a_slow_consumer_with_drop_oldest_gets_the_newest_and_a_loss_report() {
    let server = dev_server_with(
        DevServerConfig::default()
            .with_hold(Duration::from_secs(3))
            .with_queue_size(1000),
    )
    .await;
    let c = client(&server, "slow");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c
        .channel("firehose")
        .subscription(SubscriptionOptions::new().queue_capacity(100));
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    for i in 0..250 {
        publisher
            .publish()
            .channel("firehose")
            .message(&format!("m{i}"))
            .await
            .unwrap();
    }
    let mut lost = 0;
    while lost < 150 {
        match expect_status(&mut status, StatusCategory::MessagesLost).await {
            Status::MessagesLost {
                count,
                subscription,
            } => {
                assert_eq!(subscription, "firehose");
                lost += count;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(lost, 150);
    let mut got = Vec::new();
    for _ in 0..100 {
        got.push(next(&mut messages).await);
    }
    let expected: Vec<String> = (150..250).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&got), expected, "the newest 100, in order");
    assert_eq!(messages.lost(), 150, "the loss is on the stream too");
}

#[tokio::test]
async fn a_slow_consumer_with_backpressure_gets_everything() {
    let server = dev_server_with(
        DevServerConfig::default()
            .with_hold(Duration::from_secs(3))
            .with_queue_size(1000),
    )
    .await;
    let c = client(&server, "patient");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let options = SubscriptionOptions::new()
        .queue_capacity(100)
        .overflow(OverflowPolicy::Backpressure);
    let subscription = c.channel("firehose").subscription(options);
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    for i in 0..250 {
        publisher
            .publish()
            .channel("firehose")
            .message(&format!("m{i}"))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..250 {
        got.push(next(&mut messages).await);
    }
    let expected: Vec<String> = (0..250).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&got), expected);
    assert_eq!(messages.lost(), 0);
}

#[tokio::test]
async fn unsubscribe_all_ends_with_disconnected_and_closes_the_streams() {
    let server = dev_server().await;
    let c = client(&server, "leaver");
    let mut status = c.status();
    let a = c.channel("a").subscription(SubscriptionOptions::new());
    let g = c
        .channel_group("g")
        .subscription(SubscriptionOptions::new());
    let (mut a_messages, mut g_events) = (a.messages(), g.events());
    a.subscribe();
    g.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    let mark = server.request_log().mark();
    c.unsubscribe_all();
    expect_status(&mut status, StatusCategory::Disconnected).await;
    assert!(
        tokio::time::timeout(GUARD, a_messages.next())
            .await
            .unwrap()
            .is_none(),
        "stream ended"
    );
    assert!(
        tokio::time::timeout(GUARD, g_events.next())
            .await
            .unwrap()
            .is_none(),
        "stream ended"
    );
    let leave = next_request(&server, mark, RouteKind::Leave).await;
    assert_eq!(leave.param("channel-group"), Some("g"));
}

#[test]
fn dropping_the_client_ends_all_of_its_tasks() {
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = server_runtime.block_on(dev_server());
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_runtime.block_on(async {
        let c = client_with(&server, "ephemeral", |b| {
            b.heartbeat_interval(Some(Duration::from_secs(1)))
        });
        let mut status = c.status();
        let subscription = c
            .channel("tasks")
            .subscription(SubscriptionOptions::new().with_presence());
        let messages = subscription.messages();
        subscription.subscribe();
        expect_status(&mut status, StatusCategory::Connected).await;
        assert!(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                >= 2,
            "multiplexer and presence actors run"
        );
        // A stream keeps its subscription alive: drop every handle.
        drop(messages);
        drop(subscription);
        drop(c);
        // The status stream ends when the multiplexer has ended.
        while let Ok(Some(_)) = tokio::time::timeout(GUARD, status.next()).await {}
        // Let the presence actor send its leave and finish. The runtime has no
        // event for "no task left", so its task count is polled, with a deadline.
        let deadline = tokio::time::Instant::now() + GUARD;
        while tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            > 0
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "tasks still alive after the client was dropped"
            );
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let leaves = server.request_log().of_kind(RouteKind::Leave);
    assert_eq!(leaves.len(), 1, "the dropped client said goodbye");
}

#[tokio::test]
async fn catching_up_from_a_timetoken() {
    let server = dev_server().await;
    let c = client(&server, "late");
    let publisher = client(&server, "pub");
    let start = c.time().await.unwrap();
    for text in ["x", "y", "z"] {
        publisher
            .publish()
            .channel("past")
            .message(&text)
            .await
            .unwrap();
    }
    let subscription = c
        .channel("past")
        .subscription(SubscriptionOptions::new().timetoken(start));
    let mut messages = subscription.messages();
    subscription.subscribe();
    let got = vec![
        next(&mut messages).await,
        next(&mut messages).await,
        next(&mut messages).await,
    ];
    assert_eq!(texts(&got), ["x", "y", "z"]);
}

#[tokio::test]
async fn wildcard_and_channel_group_matches_name_their_subscription() {
    let server = dev_server().await;
    let http = reqwest::Client::new();
    let added = http
        .get(format!("{}/v1/channel-registration/sub-key/sub-c-test/channel-group/fans?add=team.red&uuid=admin", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let c = client(&server, "watcher");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let wildcard = c.channel("news.*").subscription(SubscriptionOptions::new());
    let group = c
        .channel_group("fans")
        .subscription(SubscriptionOptions::new());
    let (mut by_wildcard, mut by_group) = (wildcard.messages(), group.messages());
    wildcard.subscribe();
    group.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    publisher
        .publish()
        .channel("news.eu")
        .message(&"headline")
        .await
        .unwrap();
    publisher
        .publish()
        .channel("team.red")
        .message(&"goal")
        .await
        .unwrap();
    let w = next(&mut by_wildcard).await;
    assert_eq!((w.channel(), w.subscription()), ("news.eu", "news.*"));
    let g = next(&mut by_group).await;
    assert_eq!((g.channel(), g.subscription()), ("team.red", "fans"));
    let polls = server.request_log().of_kind(RouteKind::Subscribe);
    assert_eq!(polls.last().unwrap().param("channel-group"), Some("fans"));
}

#[tokio::test]
async fn encrypted_messages_are_decrypted_and_a_wrong_key_is_an_error_item() {
    let server = dev_server().await;
    let right = client_with(&server, "right", |b| b.cipher_key("sesame"));
    let wrong = client_with(&server, "wrong", |b| b.cipher_key("not sesame"));
    let (mut right_status, mut wrong_status) = (right.status(), wrong.status());
    let right_sub = right
        .channel("vault")
        .subscription(SubscriptionOptions::new());
    let wrong_sub = wrong
        .channel("vault")
        .subscription(SubscriptionOptions::new());
    let (mut right_messages, mut wrong_messages) = (right_sub.messages(), wrong_sub.messages());
    right_sub.subscribe();
    wrong_sub.subscribe();
    expect_status(&mut right_status, StatusCategory::Connected).await;
    expect_status(&mut wrong_status, StatusCategory::Connected).await;

    right
        .publish()
        .channel("vault")
        .message(&json!({"gold": 7}))
        .await
        .unwrap();
    let plain = client(&server, "plain");
    plain
        .publish()
        .channel("vault")
        .message(&json!({"open": true}))
        .await
        .unwrap();

    let decrypted = next(&mut right_messages).await;
    assert_eq!(decrypted.decode::<Value>().unwrap(), json!({"gold": 7}));
    let failed = next(&mut wrong_messages).await;
    assert!(
        matches!(failed.decryption_error(), Some(Error::Crypto(_))),
        "{failed:?}"
    );
    assert!(
        failed.payload_json().starts_with('"'),
        "the raw ciphertext is kept: {}",
        failed.payload_json()
    );
    // The stream continues after the failure.
    assert_eq!(
        next(&mut wrong_messages).await.decode::<Value>().unwrap(),
        json!({"open": true})
    );
    let unique: BTreeSet<u64> = [decrypted.timetoken(), failed.timetoken()].into();
    assert_eq!(unique.len(), 1, "both clients saw the same message");
}

#[tokio::test]
async fn disconnect_then_reconnect_resumes_from_the_cursor() {
    let server = dev_server().await;
    let c = client(&server, "pausing");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let subscription = c.channel("pause").subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    publisher
        .publish()
        .channel("pause")
        .message(&"before")
        .await
        .unwrap();
    assert_eq!(
        next(&mut messages).await.decode::<String>().unwrap(),
        "before"
    );

    c.disconnect();
    expect_status(&mut status, StatusCategory::Disconnected).await;
    let mark = server.request_log().mark();
    publisher
        .publish()
        .channel("pause")
        .message(&"while away")
        .await
        .unwrap();
    assert_no_request(
        &server,
        mark,
        RouteKind::Subscribe,
        Duration::from_millis(300),
    )
    .await;

    c.reconnect();
    expect_status(&mut status, StatusCategory::Reconnected).await;
    assert_eq!(
        next(&mut messages).await.decode::<String>().unwrap(),
        "while away",
        "caught up from the kept cursor"
    );
}
