//! Presence through the subscribe engine against the dev server: join,
//! leave and timeout events of other clients, `heartbeat` on every
//! subscribe, a `leave` on the wire after unsubscribing, explicit heartbeats
//! at the configured interval, and presence state carried by subscribe.

mod common;

use std::time::Duration;

use common::harness::{client, client_with, dev_server, expect_status, next, next_request};
use pubnub_rx::server::RouteKind;
use pubnub_rx::subscribe::{PresenceEvent, StatusCategory};
use pubnub_rx::SubscriptionOptions;

#[tokio::test]
async fn join_leave_and_timeout_of_other_clients_arrive_on_presence() {
    let server = dev_server().await;
    let watcher = client(&server, "watcher");
    let mut status = watcher.status();
    let watching = watcher
        .channel("lobby")
        .subscription(SubscriptionOptions::new().with_presence());
    let mut presence = watching.presence();
    watching.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    let own = next(&mut presence).await;
    assert!(
        matches!(&own.event, PresenceEvent::Join { uuid, .. } if uuid == "watcher"),
        "{own:?}"
    );

    // A visitor joins, then leaves: a leave request goes on the wire.
    let visitor = client(&server, "visitor");
    let mut visitor_status = visitor.status();
    let visiting = visitor
        .channel("lobby")
        .subscription(SubscriptionOptions::new());
    visiting.subscribe();
    expect_status(&mut visitor_status, StatusCategory::Connected).await;
    let join = next(&mut presence).await;
    assert_eq!(join.channel, "lobby");
    match &join.event {
        PresenceEvent::Join {
            uuid, occupancy, ..
        } => assert_eq!((uuid.as_str(), *occupancy), ("visitor", 2)),
        other => panic!("{other:?}"),
    }
    let mark = server.request_log().mark();
    visiting.unsubscribe();
    let leave_request = next_request(&server, mark, RouteKind::Leave).await;
    assert_eq!(leave_request.param("uuid"), Some("visitor"));
    assert!(
        leave_request.path.ends_with("/channel/lobby/leave"),
        "{}",
        leave_request.path
    );
    let leave = next(&mut presence).await;
    assert!(
        matches!(&leave.event, PresenceEvent::Leave { uuid, occupancy: 1, .. } if uuid == "visitor"),
        "{leave:?}"
    );

    // A ghost vanishes without a leave: the server times it out.
    let ghost = client_with(&server, "ghost", |b| {
        b.suppress_leave_events(true)
            .presence_timeout(30)
            .heartbeat_interval(None)
    });
    let mut ghost_status = ghost.status();
    let haunting = ghost
        .channel("lobby")
        .subscription(SubscriptionOptions::new());
    haunting.subscribe();
    expect_status(&mut ghost_status, StatusCategory::Connected).await;
    let ghost_join = next(&mut presence).await;
    assert!(matches!(&ghost_join.event, PresenceEvent::Join { uuid, .. } if uuid == "ghost"));
    let subscribes = server.request_log().of_kind(RouteKind::Subscribe);
    assert!(subscribes
        .iter()
        .filter(|r| r.param("uuid") == Some("ghost"))
        .all(|r| r.param("heartbeat") == Some("30")));
    drop(haunting);
    drop(ghost);
    server.advance_clock(Duration::from_secs(31));
    let timeout = next(&mut presence).await;
    assert!(
        matches!(&timeout.event, PresenceEvent::Timeout { uuid, .. } if uuid == "ghost"),
        "{timeout:?}"
    );
}

#[tokio::test]
async fn every_subscribe_carries_the_presence_timeout() {
    let server = dev_server().await;
    let c = client(&server, "default-timeout");
    let mut status = c.status();
    let s = c.channel("hb").subscription(SubscriptionOptions::new());
    s.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    let receive = tokio::time::timeout(
        common::harness::GUARD,
        server
            .request_log()
            .wait_for(|r| r.kind == RouteKind::Subscribe && r.param("tt") != Some("0")),
    )
    .await
    .expect("a receive long-poll");
    let all = server.request_log().of_kind(RouteKind::Subscribe);
    assert!(all.len() >= 2, "handshake and receive");
    for request in all.iter().chain([&receive]) {
        assert_eq!(
            request.param("heartbeat"),
            Some("300"),
            "{:?}",
            request.raw_query
        );
    }
    assert!(
        server
            .request_log()
            .of_kind(RouteKind::Heartbeat)
            .is_empty(),
        "no explicit heartbeats by default"
    );
}

#[tokio::test]
async fn explicit_heartbeats_run_at_the_configured_interval() {
    let server = dev_server().await;
    let c = client_with(&server, "beating", |b| {
        b.heartbeat_interval(Some(Duration::from_millis(200)))
    });
    let mut status = c.status();
    let s = c
        .channel("pulse")
        .subscription(SubscriptionOptions::new().with_presence());
    let g = c
        .channel_group("pulse-group")
        .subscription(SubscriptionOptions::new());
    s.subscribe();
    g.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    let first = next_request(&server, 0, RouteKind::Heartbeat).await;
    let second = next_request(&server, first.seq, RouteKind::Heartbeat).await;
    for beat in [&first, &second] {
        assert!(
            beat.path.ends_with("/channel/pulse/heartbeat"),
            "no -pnpres in heartbeats: {}",
            beat.path
        );
        assert_eq!(beat.param("heartbeat"), Some("300"));
        assert_eq!(beat.param("uuid"), Some("beating"));
    }
    assert_eq!(second.param("channel-group"), Some("pulse-group"));
    // Unsubscribing everything stops them.
    c.unsubscribe_all();
    expect_status(&mut status, StatusCategory::Disconnected).await;
    let after = server.request_log().mark();
    let more = tokio::time::timeout(
        Duration::from_millis(600),
        server
            .request_log()
            .wait_for_after(after, |r| r.kind == RouteKind::Heartbeat),
    )
    .await;
    assert!(more.is_err(), "heartbeats stop with the last subscription");
}

#[tokio::test]
async fn state_set_with_set_state_rides_on_subscribe_and_heartbeats() {
    let server = dev_server().await;
    let c = client_with(&server, "stateful", |b| {
        b.heartbeat_interval(Some(Duration::from_millis(200)))
    });
    c.set_state()
        .channel("room")
        .state(&serde_json::json!({"mood": "happy"}))
        .await
        .unwrap();
    let mut status = c.status();
    let s = c.channel("room").subscription(SubscriptionOptions::new());
    s.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    let poll = server.request_log().of_kind(RouteKind::Subscribe).remove(0);
    let state: serde_json::Value =
        serde_json::from_str(poll.param("state").expect("state on subscribe")).unwrap();
    assert_eq!(state, serde_json::json!({"room": {"mood": "happy"}}));
    let beat = next_request(&server, 0, RouteKind::Heartbeat).await;
    let state: serde_json::Value =
        serde_json::from_str(beat.param("state").expect("state on heartbeat")).unwrap();
    assert_eq!(state, serde_json::json!({"room": {"mood": "happy"}}));
    // The server kept it: here_now with state shows it.
    let here = c
        .here_now()
        .channel("room")
        .include_state(true)
        .await
        .unwrap();
    let occupant = &here.channels[0].occupants[0];
    assert_eq!(
        (occupant.uuid.as_str(), occupant.state.clone()),
        ("stateful", Some(serde_json::json!({"mood": "happy"})))
    );
}

#[tokio::test]
async fn heartbeat_outcomes_reach_the_status_stream_as_configured() {
    use pubnub_rx::{HeartbeatNotifications, Status};
    let server = dev_server().await;
    // Failures only (the default): a failed heartbeat is reported, a good one is not.
    let quiet = client_with(&server, "quiet", |b| {
        b.heartbeat_interval(Some(Duration::from_millis(100)))
    });
    let mut status = quiet.status();
    server.faults().respond(
        RouteKind::Heartbeat,
        1,
        500,
        r#"{"status":500,"error":true,"message":"boom"}"#,
    );
    let s = quiet
        .channel("hb-a")
        .subscription(SubscriptionOptions::new());
    s.subscribe();
    match expect_status(&mut status, StatusCategory::Heartbeat).await {
        Status::Heartbeat { error: Some(error) } => assert_eq!(error.status(), Some(500)),
        other => panic!("{other:?}"),
    }
    let failed = next_request(&server, 0, RouteKind::Heartbeat).await;
    let second = next_request(&server, failed.seq, RouteKind::Heartbeat).await;
    next_request(&server, second.seq, RouteKind::Heartbeat).await;
    // Successful beats after the failure produced no status.
    while let Ok(Some(item)) = tokio::time::timeout(
        Duration::from_millis(50),
        futures::StreamExt::next(&mut status),
    )
    .await
    {
        assert!(
            !matches!(item, Status::Heartbeat { error: None }),
            "success reported under Failures: {item:?}"
        );
    }
    drop(s);

    // All: successes are reported too.
    let chatty = client_with(&server, "chatty", |b| {
        b.heartbeat_interval(Some(Duration::from_millis(100)))
            .heartbeat_notifications(HeartbeatNotifications::All)
    });
    let mut status = chatty.status();
    let t = chatty
        .channel("hb-b")
        .subscription(SubscriptionOptions::new());
    t.subscribe();
    assert!(matches!(
        expect_status(&mut status, StatusCategory::Heartbeat).await,
        Status::Heartbeat { error: None }
    ));
}
