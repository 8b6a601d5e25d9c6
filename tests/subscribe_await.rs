//! Awaitable `subscribe()` / `unsubscribe()` and per-subscription status,
//! through the public API against the dev server.

mod common;

use std::time::Duration;

use common::harness::{
    client, client_with, dev_server, dev_server_with, expect_status, next, GUARD,
};
use futures::StreamExt;
use pubnub_rx::access::Permissions;
use pubnub_rx::server::{DevServerConfig, Keyset, RouteKind};
use pubnub_rx::subscribe::{OverflowPolicy, StatusCategory};
use pubnub_rx::{Error, ReconnectPolicy, Status, SubscriptionOptions};

const SECRET: &str = "sec-c-await";

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(GUARD, future)
        .await
        .expect("resolved within the guard time")
}

#[tokio::test]
async fn an_awaited_subscribe_is_connected_and_gets_what_is_published_next() {
    let server = dev_server().await;
    let c = client(&server, "awaits");
    let first = c.channel("a").subscription(SubscriptionOptions::new());
    let mut first_messages = first.messages();
    let mut first_status = first.status();
    within(first.subscribe()).await.expect("connected");
    assert!(matches!(
        next(&mut first_status).await,
        Status::Connected { .. }
    ));
    c.publish().channel("a").message(&1).await.unwrap();
    assert_eq!(next(&mut first_messages).await.payload_json(), "1");

    // Joining a connected long-poll: resolved once the new mix is accepted.
    let second = c.channel("b").subscription(SubscriptionOptions::new());
    let mut second_messages = second.messages();
    let mut second_status = second.status();
    within(second.subscribe()).await.expect("joined");
    match next(&mut second_status).await {
        Status::SubscriptionChanged { channels, .. } => {
            assert_eq!(channels, ["a", "b"]);
        }
        other => panic!("{other:?}"),
    }
    c.publish().channel("b").message(&2).await.unwrap();
    c.publish().channel("a").message(&3).await.unwrap();
    assert_eq!(next(&mut second_messages).await.payload_json(), "2");
    assert_eq!(next(&mut first_messages).await.payload_json(), "3");

    // A subscription whose channels are already in the long-poll is
    // connected at once.
    let third = c.channel("a").subscription(SubscriptionOptions::new());
    within(third.subscribe()).await.expect("already connected");
}

#[tokio::test]
async fn an_awaited_subscribe_reports_the_denied_channels() {
    let server = dev_server_with(
        DevServerConfig::default()
            .with_hold(Duration::from_secs(3))
            .with_keyset(Keyset::new("sub-c-test", "pub-c-test").with_secret_key(SECRET)),
    )
    .await;
    let admin = client_with(&server, "admin", |b| b.secret_key(SECRET));
    let token = admin
        .grant_token()
        .ttl(60)
        .authorized_uuid("reader")
        .channel("open", Permissions::new().read())
        .await
        .expect("grant_token");
    let reader = client(&server, "reader");
    reader.set_token(token);
    let open = reader
        .channel("open")
        .subscription(SubscriptionOptions::new());
    within(open.subscribe()).await.expect("granted");
    let closed = reader
        .channel("closed")
        .subscription(SubscriptionOptions::new());
    let mut closed_status = closed.status();
    match within(closed.subscribe()).await {
        Err(Error::AccessDenied { channels, .. }) => {
            assert!(channels.iter().any(|c| c == "closed"), "{channels:?}")
        }
        other => panic!("{other:?}"),
    }
    let failed = expect_status(&mut closed_status, StatusCategory::AccessDenied).await;
    assert!(matches!(failed, Status::Failed { .. }), "{failed:?}");
}

#[tokio::test]
async fn unsubscribing_before_connecting_ends_the_wait_and_a_publish_only_client_says_why() {
    let server = dev_server().await;
    let c = client_with(&server, "gives-up", |b| {
        b.reconnect_policy(ReconnectPolicy::Linear {
            delay: Duration::from_millis(20),
            max_retries: None,
        })
    });
    server
        .faults()
        .respond(RouteKind::Subscribe, 1_000, 500, "{}");
    let subscription = c.channel("never").subscription(SubscriptionOptions::new());
    let waiting = subscription.subscribe();
    let mut status = c.status();
    expect_status(&mut status, StatusCategory::UnexpectedDisconnect).await;
    drop(subscription.unsubscribe());
    assert!(matches!(
        within(waiting).await,
        Err(Error::Unsubscribed { .. })
    ));

    let publish_only = client_with(&server, "publisher", |b| b.enable_subscribe(false));
    let subscription = publish_only
        .channel("x")
        .subscription(SubscriptionOptions::new());
    assert!(matches!(
        subscription.subscribe().await,
        Err(Error::InvalidConfig {
            field: "enable_subscribe",
            ..
        })
    ));
}

#[tokio::test]
async fn an_awaited_unsubscribe_returns_after_the_leave_reached_the_server() {
    let server = dev_server().await;
    let c = client(&server, "leaver");
    let stays = c.channel("shared").subscription(SubscriptionOptions::new());
    let goes = c.channel("shared").subscription(SubscriptionOptions::new());
    let only = c.channel("only").subscription(SubscriptionOptions::new());
    within(stays.subscribe()).await.unwrap();
    within(goes.subscribe()).await.unwrap();
    within(only.subscribe()).await.unwrap();
    let mark = server.request_log().mark();
    // `shared` is still used by `stays`: no leave is due, nothing to wait for.
    within(goes.unsubscribe()).await;
    within(only.unsubscribe()).await;
    let leaves: Vec<_> = server
        .request_log()
        .of_kind(RouteKind::Leave)
        .into_iter()
        .filter(|r| r.seq > mark)
        .collect();
    assert_eq!(leaves.len(), 1, "{leaves:?}");
    assert!(
        leaves[0].path.contains("/channel/only/leave"),
        "{:?}",
        leaves[0]
    );
}

#[tokio::test]
async fn a_subscription_status_stream_reports_its_own_losses_only() {
    let server = dev_server().await;
    let c = client(&server, "lossy");
    let small = c.channel("flood").subscription(
        SubscriptionOptions::new()
            .queue_capacity(2)
            .overflow(OverflowPolicy::DropOldest),
    );
    let roomy = c.channel("flood").subscription(SubscriptionOptions::new());
    let _unread = small.messages();
    let mut roomy_messages = roomy.messages();
    let mut small_status = small.status();
    let roomy_status = roomy.status();
    within(roomy.subscribe()).await.unwrap();
    within(small.subscribe()).await.unwrap();
    for i in 0..5 {
        c.publish().channel("flood").message(&i).await.unwrap();
    }
    for _ in 0..5 {
        next(&mut roomy_messages).await;
    }
    let lost = expect_status(&mut small_status, StatusCategory::MessagesLost).await;
    assert!(
        matches!(lost, Status::MessagesLost { count, .. } if count >= 1),
        "{lost:?}"
    );
    // Closing ends every status stream: what the roomy one saw is complete.
    within(c.close()).await;
    let seen: Vec<Status> = within(roomy_status.collect()).await;
    assert!(
        seen.iter()
            .all(|s| s.category() != StatusCategory::MessagesLost),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.category() == StatusCategory::Connected),
        "{seen:?}"
    );
}

mod token_refresh {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use pubnub_rx::PubNub;

    async fn pam_server() -> pubnub_rx::server::DevServerHandle {
        // The test moves the server's clock by minutes: the admin's signed
        // grants (stamped with the real time) must stay inside the window.
        dev_server_with(
            DevServerConfig::default()
                .with_hold(Duration::from_secs(3))
                .with_signature_window(Duration::from_secs(3600))
                .with_keyset(Keyset::new("sub-c-test", "pub-c-test").with_secret_key(SECRET)),
        )
        .await
    }

    async fn one_minute_token(admin: &PubNub) -> Result<String, Error> {
        admin
            .grant_token()
            .ttl(1)
            .authorized_uuid("holder")
            .channel("room", Permissions::new().read().write())
            .await
    }

    /// A client whose hook asks `admin` for a new one-minute token, counting calls.
    fn holder(
        server: &pubnub_rx::server::DevServerHandle,
        admin: &PubNub,
        calls: &Arc<AtomicUsize>,
        fail: bool,
    ) -> PubNub {
        let (admin, calls) = (admin.clone(), Arc::clone(calls));
        client_with(server, "holder", move |b| {
            b.token_refresh(move || {
                let (admin, calls) = (admin.clone(), Arc::clone(&calls));
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if fail {
                        return Err(Error::InvalidArgument {
                            name: "token",
                            reason: "the token service is down".into(),
                        });
                    }
                    one_minute_token(&admin).await
                }
            })
        })
    }

    #[tokio::test]
    async fn an_expired_token_is_refreshed_once_and_the_call_goes_on() {
        let server = pam_server().await;
        let admin = client_with(&server, "admin", |b| b.secret_key(SECRET));
        let calls = Arc::new(AtomicUsize::new(0));
        let c = holder(&server, &admin, &calls, false);
        let first = one_minute_token(&admin).await.unwrap();
        c.set_token(first.clone());
        c.publish()
            .channel("room")
            .message(&"before")
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0, "no refresh while valid");

        server.advance_clock(Duration::from_secs(120));
        c.publish()
            .channel("room")
            .message(&"after")
            .await
            .expect("refreshed");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_ne!(c.token().as_deref(), Some(first.as_str()));

        // The subscribe loop refreshes the same way: the handshake refused
        // for the expired token succeeds with the new one.
        server.advance_clock(Duration::from_secs(120));
        let room = c.channel("room").subscription(SubscriptionOptions::new());
        let mut messages = room.messages();
        within(room.subscribe())
            .await
            .expect("subscribed after a refresh");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        c.publish().channel("room").message(&"live").await.unwrap();
        assert_eq!(next(&mut messages).await.payload_json(), "\"live\"");
    }

    #[tokio::test]
    async fn a_failing_refresh_reports_access_denied() {
        let server = pam_server().await;
        let admin = client_with(&server, "admin", |b| b.secret_key(SECRET));
        let calls = Arc::new(AtomicUsize::new(0));
        let c = holder(&server, &admin, &calls, true);
        c.set_token(one_minute_token(&admin).await.unwrap());
        server.advance_clock(Duration::from_secs(120));
        let refused = c.publish().channel("room").message(&"x").await;
        assert!(
            matches!(refused, Err(Error::AccessDenied { .. })),
            "{refused:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "tried once, not in a loop");
        let room = c.channel("room").subscription(SubscriptionOptions::new());
        assert!(matches!(
            within(room.subscribe()).await,
            Err(Error::AccessDenied { .. })
        ));
    }
}

#[tokio::test]
async fn every_stream_item_is_a_shared_handle() {
    let server = dev_server().await;
    let watcher = client(&server, "watcher");
    let a = watcher
        .channel("lobby")
        .subscription(SubscriptionOptions::new().with_presence());
    let b = watcher
        .channel("lobby")
        .subscription(SubscriptionOptions::new().with_presence());
    let (mut pa, mut pb) = (a.presence(), b.presence());
    within(a.subscribe()).await.unwrap();
    within(b.subscribe()).await.unwrap();
    let joiner = client(&server, "joiner");
    let room = joiner
        .channel("lobby")
        .subscription(SubscriptionOptions::new());
    within(room.subscribe()).await.unwrap();
    let joined = |p: &pubnub_rx::subscribe::Presence| matches!(&p.event, pubnub_rx::subscribe::PresenceEvent::Join { uuid, .. } if uuid == "joiner");
    let first = loop {
        let p = next(&mut pa).await;
        if joined(&p) {
            break p;
        }
    };
    let second = loop {
        let p = next(&mut pb).await;
        if joined(&p) {
            break p;
        }
    };
    assert_eq!(first.channel, "lobby");
    assert!(
        first.shares_data_with(&second),
        "one allocation for both subscribers"
    );
}

#[tokio::test]
async fn a_subscription_set_is_awaitable_and_has_its_own_status() {
    let server = dev_server().await;
    let c = client(&server, "set-owner");
    let set = c.channel("s1").subscription(SubscriptionOptions::new())
        + c.channel_group("g1")
            .subscription(SubscriptionOptions::new());
    let mut status = set.status();
    let mut messages = set.messages();
    c.add_channels_to_group()
        .group("g1")
        .channels(["in-group"])
        .await
        .unwrap();
    within(set.subscribe()).await.expect("the set connected");
    match next(&mut status).await {
        Status::Connected {
            channels,
            channel_groups,
        } => {
            assert_eq!(channels, ["s1"]);
            assert_eq!(channel_groups, ["g1"]);
        }
        other => panic!("{other:?}"),
    }
    c.publish()
        .channel("in-group")
        .message(&"via group")
        .await
        .unwrap();
    assert_eq!(next(&mut messages).await.payload_json(), "\"via group\"");
    within(set.unsubscribe()).await;
    assert!(!set.is_subscribed());
}
