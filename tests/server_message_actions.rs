//! Message actions end to end: pubnub-rx's client against the embedded dev
//! server. Add → get → remove round trips, paging with `more`, fetch with
//! actions, the `e:3` events on a subscription, Access Manager, and bad
//! input answered with PubNub's error bodies.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use dev_server::{test_config, TestServer, PUB, STEP, SUB};
use futures::{StreamExt as _, TryStreamExt as _};
use pubnub_rx::server::Keyset;
use pubnub_rx::subscribe::StatusCategory;
use pubnub_rx::{Config, Error, PubNub, SubscriptionOptions};
use serde_json::json;

fn client(t: &TestServer, user_id: &str) -> PubNub {
    PubNub::new(
        Config::builder()
            .subscribe_key(SUB)
            .publish_key(PUB)
            .user_id(user_id)
            .origin(t.server.origin())
            .ssl(false)
            .build()
            .unwrap(),
    )
    .unwrap()
}

async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

async fn add(client: &PubNub, channel: &str, message_tt: u64, value: &str) -> Result<u64, Error> {
    client
        .add_message_action()
        .channel(channel)
        .message_timetoken(message_tt)
        .action_type("reaction")
        .value(value)
        .await
        .map(|a| a.action_timetoken)
}

#[tokio::test]
async fn add_get_remove_round_trip() {
    let t = TestServer::start().await;
    let alice = client(&t, "alice");
    let message_tt = t.publish("room", r#""hello""#).await;
    let added = alice
        .add_message_action()
        .channel("room")
        .message_timetoken(message_tt)
        .action_type("reaction")
        .value("smiley_face")
        .await
        .unwrap();
    assert_eq!(added.uuid, "alice");
    assert_eq!(added.message_timetoken, message_tt);
    assert!(added.action_timetoken > message_tt);

    let page = alice.get_message_actions().channel("room").await.unwrap();
    assert_eq!(page.actions, vec![added.clone()]);
    assert!(page.more.is_none());

    // The same action twice is PubNub's 409.
    let again = t
        .request(
            "POST",
            &format!("/v1/message-actions/{SUB}/channel/room/message/{message_tt}?uuid=alice"),
            Some(br#"{"type":"reaction","value":"smiley_face"}"#.to_vec()),
            &[],
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json(),
        json!({"status": 409, "error": {"message": "Action Already Added", "source": "actions"}})
    );

    alice
        .remove_message_action()
        .channel("room")
        .message_timetoken(message_tt)
        .action_timetoken(added.action_timetoken)
        .await
        .unwrap();
    let page = alice.get_message_actions().channel("room").await.unwrap();
    assert!(page.actions.is_empty(), "{:?}", page.actions);
}

#[tokio::test]
async fn get_pages_with_more_from_newest_to_oldest() {
    let t = TestServer::start().await;
    let alice = client(&t, "alice");
    let message_tt = t.publish("paged", r#""m""#).await;
    let mut tts = Vec::new();
    for i in 0..7 {
        tts.push(
            add(&alice, "paged", message_tt, &format!("v{i}"))
                .await
                .unwrap(),
        );
    }
    let first = alice
        .get_message_actions()
        .channel("paged")
        .limit(3)
        .await
        .unwrap();
    let got: Vec<u64> = first.actions.iter().map(|a| a.action_timetoken).collect();
    assert_eq!(got, tts[4..7]);
    let more = first.more.expect("more after a full page");
    assert_eq!(more.start, tts[4]);
    assert_eq!(more.limit, Some(3));

    // Following `more` to the end yields every action exactly once.
    let all: Vec<u64> = alice
        .get_message_actions()
        .channel("paged")
        .limit(3)
        .pages()
        .map_ok(|a| a.action_timetoken)
        .try_collect()
        .await
        .unwrap();
    let mut sorted = all.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(all.len(), 7, "{all:?}");
    assert_eq!(sorted, tts);

    // `end` is inclusive, `start` exclusive.
    let window = alice
        .get_message_actions()
        .channel("paged")
        .start(tts[5])
        .end(tts[2])
        .await
        .unwrap();
    let got: Vec<u64> = window.actions.iter().map(|a| a.action_timetoken).collect();
    assert_eq!(got, tts[2..5]);
}

#[tokio::test]
async fn fetch_with_actions_returns_them_in_pubnubs_shape() {
    let t = TestServer::start().await;
    let alice = client(&t, "alice");
    let bob = client(&t, "bob");
    let first = t.publish("log", r#""first""#).await;
    let second = t.publish("log", r#""second""#).await;
    let a = add(&alice, "log", first, "smile").await.unwrap();
    let b = add(&bob, "log", first, "smile").await.unwrap();

    let raw = t
        .get(&format!(
            "/v3/history-with-actions/sub-key/{SUB}/channel/log"
        ))
        .await;
    assert_eq!(raw.status, 200, "{}", raw.body);
    let items = &raw.json()["channels"]["log"];
    assert_eq!(
        items[0]["actions"],
        json!({"reaction": {"smile": [
            {"uuid": "alice", "actionTimetoken": a.to_string()},
            {"uuid": "bob", "actionTimetoken": b.to_string()},
        ]}})
    );
    assert_eq!(items[1]["actions"], json!({}));
    let flagged = t
        .get(&format!(
            "/v3/history/sub-key/{SUB}/channel/log?include_message_actions=true"
        ))
        .await;
    assert_eq!(
        flagged.json()["channels"]["log"][0]["actions"],
        items[0]["actions"]
    );

    let fetched = alice
        .fetch_messages()
        .channels(["log"])
        .include_actions(true)
        .await
        .unwrap();
    let log = &fetched.channels["log"];
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].timetoken, first);
    let uuids: Vec<&str> = log[0].actions.iter().map(|x| x.uuid.as_str()).collect();
    assert_eq!(uuids, ["alice", "bob"]);
    assert_eq!(log[1].timetoken, second);
    assert!(log[1].actions.is_empty());
}

#[tokio::test]
async fn subscribers_receive_added_and_removed_events_once() {
    let t = TestServer::start().await;
    let watcher = client(&t, "watcher");
    let alice = client(&t, "alice");
    let mut status = watcher.status();
    let subscription = watcher
        .channel("live")
        .subscription(SubscriptionOptions::new());
    let mut events = subscription.message_actions();
    subscription.subscribe();
    within("connected", async {
        while let Some(s) = status.next().await {
            if s.category() == StatusCategory::Connected {
                break;
            }
        }
    })
    .await;

    let message_tt = t.publish("live", r#""hi""#).await;
    let action_tt = add(&alice, "live", message_tt, "heart").await.unwrap();
    let added = within("the added event", events.next()).await.unwrap();
    assert!(added.added);
    assert_eq!(added.channel, "live");
    assert_eq!(added.action_type, "reaction");
    assert_eq!(added.value, "heart");
    assert_eq!(added.uuid.as_deref(), Some("alice"));
    assert_eq!(added.message_timetoken, message_tt);
    assert_eq!(added.action_timetoken, action_tt);

    alice
        .remove_message_action()
        .channel("live")
        .message_timetoken(message_tt)
        .action_timetoken(action_tt)
        .await
        .unwrap();
    let removed = within("the removed event", events.next()).await.unwrap();
    assert!(!removed.added);
    assert_eq!(removed.action_timetoken, action_tt);
    // No duplicate of either: the next event is a fresh one.
    let other = add(&alice, "live", message_tt, "star").await.unwrap();
    let next = within("the next event", events.next()).await.unwrap();
    assert_eq!(next.action_timetoken, other);
}

#[tokio::test]
async fn access_manager_needs_write_read_and_delete() {
    const SECRET: &str = "sec-c-actions";
    let t = TestServer::with_config(
        test_config().with_keyset(Keyset::new(SUB, PUB).with_secret_key(SECRET)),
    )
    .await;
    let admin = PubNub::new(
        Config::builder()
            .subscribe_key(SUB)
            .publish_key(PUB)
            .user_id("admin")
            .secret_key(SECRET)
            .origin(t.server.origin())
            .ssl(false)
            .build()
            .unwrap(),
    )
    .unwrap();
    let message_tt = admin
        .publish()
        .channel("guarded")
        .message(&"m")
        .await
        .unwrap()
        .timetoken;
    admin
        .grant()
        .channels(["guarded"])
        .auth_keys(["reader"])
        .read(true)
        .ttl(60)
        .await
        .unwrap();
    let reader = PubNub::new(
        Config::builder()
            .subscribe_key(SUB)
            .publish_key(PUB)
            .user_id("reader")
            .auth_key("reader")
            .origin(t.server.origin())
            .ssl(false)
            .build()
            .unwrap(),
    )
    .unwrap();
    let denied = add(&reader, "guarded", message_tt, "x").await;
    assert!(
        matches!(&denied, Err(Error::AccessDenied { channels, .. }) if channels == &["guarded"]),
        "{denied:?}"
    );
    let action_tt = add(&admin, "guarded", message_tt, "x").await.unwrap();
    let page = reader
        .get_message_actions()
        .channel("guarded")
        .await
        .unwrap();
    assert_eq!(page.actions.len(), 1);
    let removed = reader
        .remove_message_action()
        .channel("guarded")
        .message_timetoken(message_tt)
        .action_timetoken(action_tt)
        .await;
    assert!(
        matches!(removed, Err(Error::AccessDenied { .. })),
        "{removed:?}"
    );
    let nobody = add(&client(&t, "nobody"), "guarded", message_tt, "y").await;
    assert!(
        matches!(nobody, Err(Error::AccessDenied { .. })),
        "{nobody:?}"
    );
}

#[tokio::test]
async fn bad_input_gets_pubnubs_error_bodies() {
    let t = TestServer::start().await;
    let base = format!("/v1/message-actions/{SUB}/channel/room");
    for (method, path, body) in [
        (
            "POST",
            format!("{base}/message/notatt"),
            r#"{"type":"r","value":"v"}"#,
        ),
        ("POST", format!("{base}/message/1"), "not json"),
        ("POST", format!("{base}/message/1"), r#"{"type":"r"}"#),
        (
            "POST",
            format!("{base}/message/1"),
            r#"{"type":"much-too-long-type","value":"v"}"#,
        ),
        ("GET", format!("{base}?limit=101"), ""),
        ("GET", format!("{base}?start=x"), ""),
        ("DELETE", format!("{base}/message/1/action/nope"), ""),
    ] {
        let reply = t
            .request(
                method,
                &path,
                (!body.is_empty()).then(|| body.as_bytes().to_vec()),
                &[],
            )
            .await;
        assert_eq!(reply.status, 400, "{method} {path}: {}", reply.body);
        let json = reply.json();
        assert_eq!(json["status"], 400);
        assert_eq!(json["error"]["source"], "actions", "{}", reply.body);
        assert!(json["error"]["message"].is_string());
    }
    let wrong = t
        .request("GET", &format!("{base}/message/1"), None, &[])
        .await;
    assert_eq!(wrong.status, 405);
    // The server keeps serving.
    assert_eq!(
        t.get(&base).await.json(),
        json!({"status": 200, "data": []})
    );
}
