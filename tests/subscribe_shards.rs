//! Any number of channels on one client: when the union does not fit one
//! subscribe URL the multiplexer splits it into several long-polls (each with
//! its own cursor, one duplicate filter, one status model), and heartbeats
//! and leaves split the same way. Against the embedded dev server, whose
//! request-target limit is PubNub's 32 KiB.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::harness::{client, client_with, dev_server, expect_status, next, GUARD};
use pubnub_rx::server::RouteKind;
use pubnub_rx::subscribe::StatusCategory;
use pubnub_rx::{PubNub, Status, SubscriptionOptions, SubscriptionSet};

/// 41-character channel names.
fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("sharded-channel-name-number-{i:06}-abcdef"))
        .collect()
}

fn set_of(c: &PubNub, names: &[String]) -> SubscriptionSet {
    c.subscription_set(names.iter().map(|name| {
        c.channel(name.as_str())
            .subscription(SubscriptionOptions::new())
    }))
}

/// Channel names of the logged requests of `kind`, decoded from their paths.
fn logged_channels(
    server: &pubnub_rx::server::DevServerHandle,
    kind: RouteKind,
    segment: usize,
) -> BTreeSet<String> {
    server
        .request_log()
        .of_kind(kind)
        .iter()
        .filter_map(|r| r.path.split('/').nth(segment).map(str::to_owned))
        .flat_map(|list| {
            percent_encoding::percent_decode_str(&list)
                .decode_utf8_lossy()
                .split(',')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect()
}

#[tokio::test]
async fn ten_thousand_channels_on_one_client() {
    let server = dev_server().await;
    let c = client(&server, "many");
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let all = names(10_000);
    let set = set_of(&c, &all);
    let mut messages = set.messages();
    tokio::time::timeout(Duration::from_secs(60), set.subscribe())
        .await
        .expect("connected within a minute")
        .expect("every shard connected");
    // One Connected for the whole union, naming every channel.
    match expect_status(&mut status, StatusCategory::Connected).await {
        Status::Connected { channels, .. } => assert_eq!(channels.len(), 10_000),
        other => panic!("{other:?}"),
    }
    // Every long-poll stayed under the server's request-target limit.
    let polls = server.request_log().of_kind(RouteKind::Subscribe);
    assert!(polls.len() > 1, "the union was split");
    assert!(polls
        .iter()
        .all(|r| r.path.len() + r.raw_query.as_ref().map_or(0, String::len) < 32 * 1024));
    assert_eq!(
        logged_channels(&server, RouteKind::Subscribe, 4).len(),
        10_000
    );

    for channel in [&all[0], &all[5_000], &all[9_999]] {
        publisher
            .publish()
            .channel(channel.as_str())
            .message(&format!("to {channel}"))
            .await
            .unwrap();
        let got = next(&mut messages).await;
        assert_eq!(got.channel(), channel.as_str());
        assert_eq!(got.decode::<String>().unwrap(), format!("to {channel}"));
    }

    // here_now over all of them splits too, and adds up.
    let here = c.here_now().channels(all.clone()).await.unwrap();
    assert_eq!(here.total_channels, 10_000);
    assert_eq!(here.total_occupancy, 10_000);
    assert!(here
        .channel(&all[9_999])
        .is_some_and(|ch| ch.occupancy == 1));
    assert!(server
        .request_log()
        .of_kind(RouteKind::HereNow)
        .iter()
        .all(|r| r.path.len() < 32 * 1024));

    // The leave covers them all.
    set.unsubscribe().await;
    assert_eq!(logged_channels(&server, RouteKind::Leave, 6).len(), 10_000);
    assert!(server
        .request_log()
        .of_kind(RouteKind::Leave)
        .iter()
        .all(|r| r.path.len() < 32 * 1024));
    expect_status(&mut status, StatusCategory::Disconnected).await;
}

#[tokio::test]
async fn shards_follow_subscription_changes_without_moving_channels() {
    let server = dev_server().await;
    // A small budget: 20 names of 42 bytes per long-poll.
    let c = client_with(&server, "changing", |b| b.max_subscribe_list_bytes(900));
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let all = names(100);
    let first = set_of(&c, &all[..60]);
    let mut first_messages = first.messages();
    first.subscribe().await.unwrap();
    expect_status(&mut status, StatusCategory::Connected).await;

    // More channels join while connected: one SubscriptionChanged once every
    // long-poll has them, and messages keep flowing on the old ones.
    let second = set_of(&c, &all[60..]);
    let mut second_messages = second.messages();
    second.subscribe().await.unwrap();
    expect_status(&mut status, StatusCategory::SubscriptionChanged).await;
    for (channel, stream) in [
        (&all[10], &mut first_messages),
        (&all[99], &mut second_messages),
    ] {
        publisher
            .publish()
            .channel(channel.as_str())
            .message(&"hello")
            .await
            .unwrap();
        assert_eq!(next(stream).await.channel(), channel.as_str());
    }

    // The first 60 leave; the rest still receive, once each.
    let mark = server.request_log().mark();
    first.unsubscribe().await;
    let left = server
        .request_log()
        .of_kind(RouteKind::Leave)
        .into_iter()
        .filter(|r| r.seq > mark)
        .count();
    assert!(left >= 1);
    publisher
        .publish()
        .channel(all[80].as_str())
        .message(&"still here")
        .await
        .unwrap();
    let got = next(&mut second_messages).await;
    assert_eq!(got.channel(), all[80].as_str());
    assert!(
        tokio::time::timeout(
            Duration::from_millis(200),
            futures::StreamExt::next(&mut second_messages)
        )
        .await
        .is_err(),
        "no duplicate"
    );
}

#[tokio::test]
async fn disconnect_and_reconnect_every_shard() {
    let server = dev_server().await;
    let c = client_with(&server, "pausing", |b| b.max_subscribe_list_bytes(900));
    let publisher = client(&server, "pub");
    let mut status = c.status();
    let all = names(100);
    let set = set_of(&c, &all);
    let mut messages = set.messages();
    set.subscribe().await.unwrap();
    expect_status(&mut status, StatusCategory::Connected).await;
    c.disconnect();
    // One Disconnected for all of them.
    expect_status(&mut status, StatusCategory::Disconnected).await;
    publisher
        .publish()
        .channel(all[77].as_str())
        .message(&"while away")
        .await
        .unwrap();
    c.reconnect();
    let got = tokio::time::timeout(GUARD, futures::StreamExt::next(&mut messages))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.decode::<String>().unwrap(), "while away");
    // Each shard says it is back, naming its own channels.
    let mut named = BTreeSet::new();
    while named.len() < all.len() {
        match expect_status(&mut status, StatusCategory::Reconnected).await {
            Status::Reconnected { channels, .. } => {
                assert!(channels.len() <= 21, "{}", channels.len());
                named.extend(channels);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn heartbeats_split_like_the_long_polls() {
    let server = dev_server().await;
    let c = client_with(&server, "beating", |b| {
        b.max_subscribe_list_bytes(900)
            .heartbeat_interval(Some(Duration::from_millis(100)))
    });
    let all = names(100);
    let set = set_of(&c, &all);
    set.subscribe().await.unwrap();
    let heartbeats = tokio::time::timeout(GUARD, async {
        loop {
            let covered = logged_channels(&server, RouteKind::Heartbeat, 6);
            if covered.len() == all.len() {
                return covered;
            }
            server
                .request_log()
                .wait_for_after(server.request_log().mark(), |r| {
                    r.kind == RouteKind::Heartbeat
                })
                .await;
        }
    })
    .await
    .expect("heartbeats for every channel");
    assert_eq!(heartbeats, all.iter().cloned().collect());
}
