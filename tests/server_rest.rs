//! Presence, history and channel groups end to end: our client against the
//! embedded dev server, together with publish and subscribe.

use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt as _, TryStreamExt as _};
use pubnub_rx::server::{DevServer, DevServerConfig, DevServerHandle};
use pubnub_rx::subscribe::{PresenceEvent, StatusCategory, SubscriptionOptions};
use pubnub_rx::{Config, HistoryItem, PubNub};
use serde_json::{json, Value};

/// Guards every wait so a regression fails the test instead of hanging it.
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

async fn server() -> DevServerHandle {
    DevServer::start(DevServerConfig::default().with_hold(Duration::from_millis(500)))
        .await
        .expect("dev server")
}

fn client(server: &DevServerHandle, user: &str) -> PubNub {
    PubNub::new(
        Config::builder()
            .origin(server.origin())
            .ssl(false)
            .subscribe_key("sub-rest")
            .publish_key("pub-rest")
            .user_id(user)
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// Waits for the first item of `stream` that `pick` maps to something.
async fn next_matching<S, T, U>(what: &str, stream: &mut S, pick: impl Fn(T) -> Option<U>) -> U
where
    S: Stream<Item = T> + Unpin,
{
    within(what, async {
        loop {
            let item = stream.next().await.expect("stream ended");
            if let Some(found) = pick(item) {
                return found;
            }
        }
    })
    .await
}

async fn connected(status: &mut pubnub_rx::subscribe::StatusStream) {
    next_matching("the subscription to connect", status, |s| {
        (s.category() == StatusCategory::Connected).then_some(())
    })
    .await;
}

fn occupants(here: &pubnub_rx::HereNowResult, channel: &str) -> Vec<String> {
    let mut list: Vec<String> = here
        .channel(channel)
        .map(|c| c.occupants.iter().map(|o| o.uuid.clone()).collect())
        .unwrap_or_default();
    list.sort();
    list
}

#[tokio::test]
async fn presence_here_now_where_now_state_heartbeat_and_leave() {
    let server = server().await;
    let observer = client(&server, "observer");
    let alice = client(&server, "alice");
    let bob = client(&server, "bob");

    // The observer watches the room's presence events (and is present itself).
    let mut observer_status = observer.status();
    let watch = observer
        .channel("room")
        .subscription(SubscriptionOptions::new().with_presence());
    let mut events = watch.presence();
    watch.subscribe();
    connected(&mut observer_status).await;
    let joined = |who: &'static str| {
        move |p: pubnub_rx::subscribe::Presence| match &p.event {
            PresenceEvent::Join {
                uuid, occupancy, ..
            } if uuid == who => Some(*occupancy),
            _ => None,
        }
    };
    let left = |who: &'static str| {
        move |p: pubnub_rx::subscribe::Presence| match &p.event {
            PresenceEvent::Leave {
                uuid, occupancy, ..
            } if uuid == who => Some(*occupancy),
            _ => None,
        }
    };

    // Alice subscribes: everyone sees her.
    let alice_sub = alice
        .channel("room")
        .subscription(SubscriptionOptions::new());
    alice_sub.subscribe();
    assert_eq!(
        next_matching("alice's join", &mut events, joined("alice")).await,
        2
    );
    let here = bob.here_now().channel("room").await.unwrap();
    assert_eq!(here.total_occupancy, 2);
    assert_eq!(occupants(&here, "room"), ["alice", "observer"]);
    assert_eq!(
        bob.where_now().uuid("alice").await.unwrap().channels,
        ["room"]
    );
    assert!(
        bob.where_now().await.unwrap().channels.is_empty(),
        "bob is nowhere yet"
    );

    // Alice's state: set, announced, read back, listed by here-now.
    let mood = json!({"mood": "happy", "level": 3});
    let set = alice
        .set_state()
        .channel("room")
        .state(&mood)
        .await
        .unwrap();
    assert_eq!(set.state, mood);
    let announced = next_matching("alice's state change", &mut events, |p| match &p.event {
        PresenceEvent::StateChange { uuid, state, .. } if uuid == "alice" => Some(state.clone()),
        _ => None,
    })
    .await;
    assert_eq!(announced, mood);
    let got = bob.get_state().channel("room").uuid("alice").await.unwrap();
    assert_eq!(got.channels.get("room"), Some(&mood));
    let with_state = bob
        .here_now()
        .channels(["room", "elsewhere"])
        .include_state(true)
        .await
        .unwrap();
    let alice_entry = with_state
        .channel("room")
        .unwrap()
        .occupants
        .iter()
        .find(|o| o.uuid == "alice")
        .cloned()
        .unwrap();
    assert_eq!(alice_entry.state, Some(mood.clone()));
    // Alice's own heartbeats carry the state she set.
    let mark = server.request_log().mark();
    alice.heartbeat().channel("room").await.unwrap();
    let logged = server
        .request_log()
        .wait_for_after(mark, |r| r.path.ends_with("/heartbeat"))
        .await;
    let sent: Value = serde_json::from_str(logged.param("state").unwrap()).unwrap();
    assert_eq!(sent, json!({"room": mood}));

    // Bob is present through manual heartbeats alone, then leaves.
    bob.heartbeat().channel("room").heartbeat(60).await.unwrap();
    assert_eq!(
        next_matching("bob's join", &mut events, joined("bob")).await,
        3
    );
    assert_eq!(
        occupants(&bob.here_now().channel("room").await.unwrap(), "room"),
        ["alice", "bob", "observer"]
    );
    let global = bob.here_now().await.unwrap();
    assert!(global.total_occupancy >= 3, "{global:?}");
    assert_eq!(occupants(&global, "room"), ["alice", "bob", "observer"]);
    bob.leave().channel("room").await.unwrap();
    assert_eq!(
        next_matching("bob's leave", &mut events, left("bob")).await,
        2
    );

    // Alice unsubscribes: her client sends the leave.
    alice_sub.unsubscribe();
    assert_eq!(
        next_matching("alice's leave", &mut events, left("alice")).await,
        1
    );
    let here = bob.here_now().channel("room").await.unwrap();
    assert_eq!(occupants(&here, "room"), ["observer"]);
    assert!(bob
        .where_now()
        .uuid("alice")
        .await
        .unwrap()
        .channels
        .is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn history_pages_fetch_counts_and_deletes_what_was_published() {
    let server = server().await;
    let publisher = client(&server, "publisher");
    let reader = client(&server, "reader");

    // A subscriber sees the first messages live.
    let mut status = reader.status();
    let live = reader
        .channel("log")
        .subscription(SubscriptionOptions::new());
    let mut received = live.messages();
    live.subscribe();
    connected(&mut status).await;

    let mut timetokens = Vec::new();
    for n in 0..250 {
        let sent = publisher
            .publish()
            .channel("log")
            .message(&json!({"n": n}))
            .meta(&json!({"even": n % 2 == 0}))
            .await
            .unwrap();
        timetokens.push(sent.timetoken);
    }
    publisher
        .publish()
        .channel("other")
        .message(&"elsewhere")
        .await
        .unwrap();
    for (n, timetoken) in timetokens.iter().enumerate().take(3) {
        let message = within("a live message", received.next()).await.unwrap();
        assert_eq!(message.decode::<Value>().unwrap(), json!({"n": n}));
        assert_eq!(message.timetoken(), *timetoken);
    }
    live.unsubscribe();

    // One page: the newest 100, oldest first, with timetokens and meta.
    let page = reader
        .history()
        .channel("log")
        .count(100)
        .include_timetoken(true)
        .include_meta(true)
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 100);
    assert_eq!(page.messages[0].message, json!({"n": 150}));
    assert_eq!(page.messages[0].timetoken, Some(timetokens[150]));
    assert_eq!(page.messages[0].meta, Some(json!({"even": true})));
    assert_eq!(page.start, timetokens[150]);
    assert_eq!(page.end, timetokens[249]);
    // reverse: the oldest first.
    let oldest = reader
        .history()
        .channel("log")
        .count(2)
        .reverse(true)
        .await
        .unwrap();
    let oldest: Vec<Value> = oldest.messages.into_iter().map(|m| m.message).collect();
    assert_eq!(oldest, [json!({"n": 0}), json!({"n": 1})]);

    // The paging stream walks all 250, newest first, each once.
    let all: Vec<HistoryItem> = within(
        "the whole history",
        reader
            .history()
            .channel("log")
            .count(40)
            .pages()
            .try_collect(),
    )
    .await
    .unwrap();
    let walked: Vec<u64> = all.iter().map(|i| i.timetoken.unwrap()).collect();
    let expected: Vec<u64> = timetokens.iter().rev().copied().collect();
    assert_eq!(walked, expected);
    assert_eq!(all[0].message, json!({"n": 249}));
    // Bounded by `end`: only what is at or after message 200.
    let tail: Vec<HistoryItem> = reader
        .history()
        .channel("log")
        .count(30)
        .end(timetokens[200])
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tail.len(), 50);

    // Fetch several channels; counts since a timetoken.
    let fetched = reader
        .fetch_messages()
        .channels(["log", "other"])
        .max(25)
        .include_uuid(true)
        .include_meta(true)
        .await
        .unwrap();
    let log = &fetched.channels["log"];
    assert_eq!(log.len(), 25);
    assert_eq!(log[24].timetoken, timetokens[249]);
    assert_eq!(log[24].uuid.as_deref(), Some("publisher"));
    assert_eq!(log[24].meta, Some(json!({"even": false})));
    assert_eq!(fetched.channels["other"][0].message, json!("elsewhere"));
    let counts = reader
        .message_counts()
        .channels(["log", "other"])
        .timetoken(timetokens[199])
        .await
        .unwrap();
    assert_eq!(counts.channels["log"], 50);
    assert_eq!(counts.channels["other"], 1);

    // Delete messages 10 ..= 19 (start exclusive, end inclusive), then all.
    reader
        .delete_messages()
        .channel("log")
        .start(timetokens[20])
        .end(timetokens[10])
        .await
        .unwrap();
    let left: Vec<HistoryItem> = reader
        .history()
        .channel("log")
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(left.len(), 240);
    assert!(left
        .iter()
        .all(|i| !timetokens[10..20].contains(&i.timetoken.unwrap())));
    reader.delete_messages().channel("log").await.unwrap();
    let empty = reader.history().channel("log").await.unwrap();
    assert!(empty.messages.is_empty());
    assert_eq!((empty.start, empty.end), (0, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn channel_groups_route_published_messages_to_group_subscribers() {
    let server = server().await;
    let admin = client(&server, "admin");
    let listener = client(&server, "listener");

    let rooms = admin.channel_group("rooms");
    rooms.add(["a", "b"]).await.unwrap();
    admin
        .add_channels_to_group()
        .group("rooms")
        .channel("c")
        .await
        .unwrap();
    let mut listed = rooms.list().await.unwrap().channels;
    listed.sort();
    assert_eq!(listed, ["a", "b", "c"]);
    assert!(admin
        .list_groups()
        .await
        .unwrap()
        .groups
        .contains(&"rooms".to_owned()));

    // A group subscriber receives what is published to its channels.
    let mut status = listener.status();
    let sub = listener
        .channel_group("rooms")
        .subscription(SubscriptionOptions::new());
    let mut messages = sub.messages();
    sub.subscribe();
    connected(&mut status).await;
    admin.publish().channel("b").message(&"to b").await.unwrap();
    let got = within("the group message", messages.next()).await.unwrap();
    assert_eq!(got.channel(), "b");
    assert_eq!(got.subscription(), "rooms");
    assert_eq!(got.decode::<String>().unwrap(), "to b");
    // Presence through the group.
    let here = admin.here_now().channel_groups(["rooms"]).await.unwrap();
    assert!(here
        .channels
        .iter()
        .all(|c| ["a", "b", "c"].contains(&c.name.as_str())));
    assert_eq!(
        here.total_occupancy, 3,
        "the listener on each channel: {here:?}"
    );
    sub.unsubscribe();

    admin
        .remove_channels_from_group()
        .group("rooms")
        .channels(["b"])
        .await
        .unwrap();
    let mut listed = rooms.list().await.unwrap().channels;
    listed.sort();
    assert_eq!(listed, ["a", "c"]);
    rooms.delete().await.unwrap();
    assert!(rooms.list().await.unwrap().channels.is_empty());
    server.shutdown().await;
}
