//! Presence, history, channel-group and App Context calls against a
//! recording transport: arguments refused before anything is sent, the
//! server's errors surfaced with what it said, presence state kept for
//! heartbeats, and the history paging stream.

mod common;

use std::sync::Arc;

use common::recording::RecordingTransport;
use futures::{StreamExt as _, TryStreamExt as _};
use pubnub_rx::transport::TransportRequest;
use pubnub_rx::{Config, Error, HistoryItem, PubNub};
use serde_json::{json, Value};

fn client(transport: &Arc<RecordingTransport>) -> PubNub {
    PubNub::new(
        Config::builder()
            .subscribe_key("sub-c")
            .user_id("me")
            .transport(transport.clone())
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn query(request: &TransportRequest, key: &str) -> Option<String> {
    request
        .query
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.clone())
}

fn assert_invalid(result: Result<impl std::fmt::Debug, Error>, name: &str) {
    match result {
        Err(Error::InvalidArgument { name: got, reason }) => {
            assert_eq!(got, name, "{reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected InvalidArgument({name}), got {other:?}"),
    }
}

#[tokio::test]
async fn presence_arguments_are_checked_before_sending() {
    let transport = RecordingTransport::new();
    let pubnub = client(&transport);
    assert_invalid(pubnub.here_now().channel("a").limit(1001).await, "limit");
    assert_invalid(pubnub.here_now().channel("a,b").await, "channels");
    assert_invalid(
        pubnub.here_now().channel_groups([""]).await,
        "channel_groups",
    );
    assert_invalid(pubnub.set_state().channel("a").await, "state");
    assert_invalid(
        pubnub.set_state().channel("a").state(&[1, 2]).await,
        "state",
    );
    assert_invalid(pubnub.set_state().state(&json!({"a": 1})).await, "channels");
    assert_invalid(pubnub.get_state().await, "channels");
    assert_invalid(pubnub.where_now().uuid("").await, "uuid");
    assert_invalid(pubnub.heartbeat().await, "channels");
    assert_invalid(
        pubnub.heartbeat().channel("a").heartbeat(0).await,
        "heartbeat",
    );
    assert_invalid(pubnub.leave().await, "channels");
    assert!(transport.sent().is_empty());
}

#[tokio::test]
async fn history_arguments_are_checked_before_sending() {
    let transport = RecordingTransport::new();
    let pubnub = client(&transport);
    assert_invalid(pubnub.history().await, "channel");
    assert_invalid(pubnub.history().channel("c").count(0).await, "count");
    assert_invalid(pubnub.history().channel("c").count(101).await, "count");
    assert_invalid(pubnub.fetch_messages().await, "channels");
    assert_invalid(pubnub.fetch_messages().channel("a").max(101).await, "max");
    assert_invalid(
        pubnub.fetch_messages().channels(["a", "b"]).max(26).await,
        "max",
    );
    assert_invalid(
        pubnub
            .fetch_messages()
            .channel("a")
            .include_actions(true)
            .max(26)
            .await,
        "max",
    );
    assert_invalid(
        pubnub
            .fetch_messages()
            .channels(["a", "b"])
            .include_actions(true)
            .await,
        "channels",
    );
    assert_invalid(pubnub.message_counts().channel("a").await, "timetoken");
    assert_invalid(pubnub.message_counts().timetoken(1).await, "channels");
    assert_invalid(
        pubnub
            .message_counts()
            .channels(["a", "b", "c"])
            .channel_timetokens([1, 2])
            .await,
        "channel_timetokens",
    );
    assert_invalid(pubnub.delete_messages().await, "channel");
    let errors: Vec<_> = pubnub.history().count(500).pages().collect().await;
    assert_eq!(errors.len(), 1, "one error, then the stream ends");
    assert!(matches!(errors[0], Err(Error::InvalidArgument { .. })));
    assert!(transport.sent().is_empty());
}

#[tokio::test]
async fn channel_group_and_app_context_arguments_are_checked_before_sending() {
    let transport = RecordingTransport::new();
    let pubnub = client(&transport);
    assert_invalid(pubnub.add_channels_to_group().channel("a").await, "group");
    assert_invalid(
        pubnub.channel_group("g").add(Vec::<String>::new()).await,
        "channels",
    );
    assert_invalid(
        pubnub
            .channel_group("g")
            .add((0..201).map(|i| format!("ch{i}")))
            .await,
        "channels",
    );
    assert_invalid(pubnub.channel_group("g,h").list().await, "group");
    assert_invalid(pubnub.delete_group().await, "group");
    assert_invalid(pubnub.get_all_uuid_metadata().limit(0).await, "limit");
    assert_invalid(pubnub.get_all_channel_metadata().limit(101).await, "limit");
    assert_invalid(pubnub.get_all_channel_metadata().filter("").await, "filter");
    assert_invalid(
        pubnub.set_uuid_metadata().custom(json!([1])).await,
        "custom",
    );
    assert_invalid(pubnub.set_channel_metadata().name("x").await, "channel");
    assert_invalid(pubnub.get_channel_metadata().await, "channel");
    assert_invalid(pubnub.set_memberships().await, "channels");
    assert_invalid(pubnub.remove_channel_members().channel("c").await, "uuids");
    assert_invalid(
        pubnub.set_channel_members().channel("c").uuids([""]).await,
        "uuid",
    );
    assert!(transport.sent().is_empty());
}

const DENIED: &str = r#"{"message":"Forbidden","payload":{"channels":["secret"],"channel-groups":["vault"]},"error":true,"service":"Access Manager","status":403}"#;

#[tokio::test]
async fn denials_name_the_denied_resources() {
    let transport = RecordingTransport::new();
    for _ in 0..3 {
        transport.respond(403, DENIED);
    }
    let pubnub = client(&transport);
    let errors = [
        pubnub
            .here_now()
            .channel("secret")
            .channel_groups(["vault"])
            .await
            .unwrap_err(),
        pubnub.history().channel("secret").await.unwrap_err(),
        pubnub
            .channel_group("vault")
            .add(["secret"])
            .await
            .unwrap_err(),
    ];
    for error in errors {
        match &error {
            Error::AccessDenied {
                status: 403,
                channels,
                channel_groups,
                ..
            } => {
                assert_eq!(channels, &["secret"]);
                assert_eq!(channel_groups, &["vault"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(error.to_string().contains("denied channels: secret"));
        assert!(!error.is_retryable());
    }
}

#[tokio::test]
async fn bad_requests_carry_the_server_message() {
    let transport = RecordingTransport::new();
    transport.respond(
        400,
        r#"{"status":400,"error":true,"error_message":"Invalid Arguments","channels":{}}"#,
    );
    // A 200 whose body says it failed is an error too.
    transport.respond(
        200,
        r#"{"status":400,"error":true,"error_message":"Invalid Arguments","channels":{}}"#,
    );
    transport.respond(
        400,
        r#"{"status": 400, "message": "Invalid group name", "error": true, "service": "channel-registry"}"#,
    );
    let pubnub = client(&transport);
    let history = pubnub.history().channel("c").await.unwrap_err();
    assert!(
        matches!(&history, Error::Http { status: 400, message, .. } if message == "Invalid Arguments"),
        "{history:?}"
    );
    let fetch = pubnub.fetch_messages().channel("c").await.unwrap_err();
    assert!(
        matches!(&fetch, Error::Http { status: 400, message, .. } if message == "Invalid Arguments"),
        "{fetch:?}"
    );
    let group = pubnub.channel_group("g").list().await.unwrap_err();
    assert!(group.to_string().contains("Invalid group name"), "{group}");
}

#[tokio::test]
async fn own_state_rides_on_heartbeats_and_an_empty_state_clears_it() {
    let transport = RecordingTransport::new();
    let ok = r#"{"status": 200, "message": "OK", "service": "Presence"}"#;
    let pubnub = client(&transport);

    // Another user's state is not ours to announce.
    transport.respond(200, r#"{"status":200,"payload":{"x":1}}"#);
    pubnub
        .set_state()
        .channel("lobby")
        .uuid("someone-else")
        .state(&json!({"x": 1}))
        .await
        .unwrap();
    // A refused set-state records nothing.
    transport.respond(403, DENIED);
    pubnub
        .set_state()
        .channel("secret")
        .state(&json!({"y": 2}))
        .await
        .unwrap_err();
    transport.respond(200, ok);
    pubnub.heartbeat().channel("lobby").await.unwrap();

    transport.respond(200, r#"{"status":200,"payload":{"mood":"happy"}}"#);
    let set = pubnub
        .set_state()
        .channels(["lobby"])
        .channel_groups(["friends"])
        .state(&json!({"mood": "happy"}))
        .await
        .unwrap();
    assert_eq!(set.state, json!({"mood": "happy"}));
    transport.respond(200, ok);
    pubnub
        .heartbeat()
        .channels(["lobby", "other"])
        .channel_groups(["friends"])
        .heartbeat(60)
        .await
        .unwrap();

    transport.respond(200, r#"{"status":200,"payload":{}}"#);
    pubnub
        .set_state()
        .channel("lobby")
        .state(&json!({}))
        .await
        .unwrap();
    transport.respond(200, ok);
    pubnub.heartbeat().channel("lobby").await.unwrap();

    let sent = transport.sent();
    assert_eq!(sent.len(), 7);
    assert_eq!(
        sent[0].path,
        "/v2/presence/sub-key/sub-c/channel/lobby/uuid/someone-else/data"
    );
    assert_eq!(query(&sent[2], "state"), None, "nothing recorded yet");
    assert_eq!(query(&sent[2], "heartbeat").as_deref(), Some("300"));
    assert_eq!(
        sent[3].path,
        "/v2/presence/sub-key/sub-c/channel/lobby/uuid/me/data"
    );
    assert_eq!(query(&sent[3], "channel-group").as_deref(), Some("friends"));
    assert_eq!(
        sent[4].path,
        "/v2/presence/sub-key/sub-c/channel/lobby,other/heartbeat"
    );
    assert_eq!(query(&sent[4], "heartbeat").as_deref(), Some("60"));
    let state: Value = serde_json::from_str(&query(&sent[4], "state").unwrap()).unwrap();
    assert_eq!(
        state,
        json!({"lobby": {"mood": "happy"}, "friends": {"mood": "happy"}})
    );
    assert_eq!(query(&sent[6], "state"), None, "cleared by the empty state");
}

#[tokio::test]
async fn group_only_presence_calls_use_the_comma_channel_segment() {
    let transport = RecordingTransport::new();
    transport.respond(
        200,
        r#"{"status": 200, "message": "OK", "service": "Presence"}"#,
    );
    transport.respond(
        200,
        r#"{"status": 200, "action": "leave", "message": "OK", "service": "Presence"}"#,
    );
    transport.respond(
        200,
        r#"{"status":200,"payload":{"channels":{"a":{"occupancy":2,"uuids":["x","y"]}},"total_channels":1,"total_occupancy":2}}"#,
    );
    let pubnub = client(&transport);
    pubnub
        .heartbeat()
        .channel_groups(["g1", "g2"])
        .await
        .unwrap();
    pubnub.leave().channel_groups(["g1"]).await.unwrap();
    let here = pubnub
        .here_now()
        .channel_groups(["g1"])
        .include_uuids(false)
        .limit(10)
        .offset(20)
        .await
        .unwrap();
    assert_eq!(here.total_occupancy, 2);
    assert_eq!(here.channel("a").unwrap().occupants.len(), 2);
    let sent = transport.sent();
    assert_eq!(
        sent[0].path,
        "/v2/presence/sub-key/sub-c/channel/,/heartbeat"
    );
    assert_eq!(query(&sent[0], "channel-group").as_deref(), Some("g1,g2"));
    assert_eq!(sent[1].path, "/v2/presence/sub-key/sub-c/channel/,/leave");
    assert_eq!(sent[2].path, "/v2/presence/sub-key/sub-c/channel/,");
    assert_eq!(query(&sent[2], "disable_uuids").as_deref(), Some("1"));
    assert_eq!(query(&sent[2], "limit").as_deref(), Some("10"));
    assert_eq!(query(&sent[2], "offset").as_deref(), Some("20"));
}

fn history_page(tts: &[u64]) -> String {
    let items: Vec<Value> = tts
        .iter()
        .map(|tt| json!({"message": format!("m{tt}"), "timetoken": tt}))
        .collect();
    let start = tts.first().copied().unwrap_or(0);
    let end = tts.last().copied().unwrap_or(0);
    json!([items, start, end]).to_string()
}

#[tokio::test]
async fn history_pages_walk_backwards_until_an_empty_page() {
    let transport = RecordingTransport::new();
    transport.respond(
        200,
        &history_page(&[17000000000000005, 17000000000000006, 17000000000000007]),
    );
    transport.respond(
        200,
        &history_page(&[17000000000000002, 17000000000000003, 17000000000000004]),
    );
    transport.respond(200, &history_page(&[17000000000000001]));
    transport.respond(200, &history_page(&[]));
    let items: Vec<HistoryItem> = client(&transport)
        .history()
        .channel("log")
        .count(3)
        .end(17000000000000001)
        .pages()
        .try_collect()
        .await
        .unwrap();
    let tts: Vec<u64> = items.iter().map(|i| i.timetoken.unwrap()).collect();
    assert_eq!(
        tts,
        (1..=7)
            .rev()
            .map(|n| 17000000000000000 + n)
            .collect::<Vec<_>>(),
        "newest first, each message once"
    );
    assert_eq!(items[0].message, json!("m17000000000000007"));
    let sent = transport.sent();
    assert_eq!(sent.len(), 4);
    let starts: Vec<Option<String>> = sent.iter().map(|r| query(r, "start")).collect();
    assert_eq!(
        starts,
        [
            None,
            Some("17000000000000005".into()),
            Some("17000000000000002".into()),
            Some("17000000000000001".into())
        ]
    );
    for request in &sent {
        assert_eq!(request.path, "/v2/history/sub-key/sub-c/channel/log");
        assert_eq!(query(request, "count").as_deref(), Some("3"));
        assert_eq!(query(request, "include_token").as_deref(), Some("true"));
        assert_eq!(query(request, "end").as_deref(), Some("17000000000000001"));
        assert_eq!(query(request, "reverse"), None);
    }
}

#[tokio::test]
async fn history_pages_stop_at_a_failure() {
    let transport = RecordingTransport::new();
    transport.respond(200, &history_page(&[17000000000000005]));
    transport.respond(503, "");
    let results: Vec<Result<HistoryItem, Error>> = client(&transport)
        .history()
        .channel("log")
        .pages()
        .collect()
        .await;
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let error = results[1].as_ref().unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
}

#[tokio::test]
async fn fetch_and_counts_encode_channel_lists() {
    let transport = RecordingTransport::new();
    transport.respond(
        200,
        r#"{"status":200,"error":false,"error_message":"","channels":{"a b":[{"message":"x","timetoken":"17000000000000001","uuid":"u"}]}}"#,
    );
    transport.respond(
        200,
        r#"{"status": 200, "error": false, "error_message": "", "channels": {"a b":3,"c/d":0}}"#,
    );
    let pubnub = client(&transport);
    let fetched = pubnub
        .fetch_messages()
        .channels(["a b", "c/d"])
        .max(25)
        .include_uuid(true)
        .await
        .unwrap();
    assert_eq!(fetched.channels["a b"][0].timetoken, 17000000000000001);
    let counts = pubnub
        .message_counts()
        .channels(["a b", "c/d"])
        .channel_timetokens([17000000000000001, 17000000000000002])
        .await
        .unwrap();
    assert_eq!(counts.channels["a b"], 3);
    let sent = transport.sent();
    assert_eq!(
        sent[0].path,
        "/v3/history/sub-key/sub-c/channel/a%20b,c%2Fd"
    );
    assert_eq!(query(&sent[0], "include_uuid").as_deref(), Some("true"));
    assert_eq!(
        sent[1].path,
        "/v3/history/sub-key/sub-c/message-counts/a%20b,c%2Fd"
    );
    assert_eq!(
        query(&sent[1], "channelsTimetoken").as_deref(),
        Some("17000000000000001,17000000000000002")
    );
}

#[tokio::test]
async fn encrypted_history_is_decrypted_and_failures_stay_on_their_item() {
    let transport = RecordingTransport::new();
    // The first item is a real ciphertext of "hey-0" (cipher key `testKey`,
    // native_sync/history/encoded.yaml); the others cannot be decrypted.
    let page = r#"[["a25pZ2h0c29mbmkxMjM0NYLqFAmzV6xEhv4befhT3U8=", "bm90IGEgY2lwaGVydGV4dA==", {"plain": true}],16148858085204084,16148858087001780]"#;
    transport.respond(200, page);
    transport.respond(
        200,
        r#"{"status":200,"error":false,"channels":{"c":[{"message":"a25pZ2h0c29mbmkxMjM0NYLqFAmzV6xEhv4befhT3U8=","timetoken":"16148858085204084"},{"message":"%%%","timetoken":"16148858085204085"}]}}"#,
    );
    let pubnub = PubNub::new(
        Config::builder()
            .subscribe_key("sub-c")
            .user_id("me")
            .cipher_key("testKey")
            .transport(transport.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    let history = pubnub.history().channel("c").await.unwrap();
    assert_eq!(history.messages.len(), 3);
    assert_eq!(history.messages[0].message, json!("hey-0"));
    assert!(history.messages[0].error.is_none());
    assert_eq!(
        history.messages[1].message,
        json!("bm90IGEgY2lwaGVydGV4dA==")
    );
    assert!(
        matches!(history.messages[1].error, Some(Error::Crypto(_))),
        "{:?}",
        history.messages[1].error
    );
    assert_eq!(history.messages[2].message, json!({"plain": true}));
    assert!(history.messages[2].error.is_some());
    assert_eq!(history.start, 16148858085204084);

    let fetched = pubnub.fetch_messages().channel("c").await.unwrap();
    let items = &fetched.channels["c"];
    assert_eq!(items[0].message, json!("hey-0"));
    assert!(items[0].error.is_none());
    assert_eq!(items[1].message, json!("%%%"));
    assert!(matches!(items[1].error, Some(Error::Crypto(_))));
}

#[tokio::test]
async fn app_context_lists_send_filter_sort_cursors_and_includes() {
    let transport = RecordingTransport::new();
    transport.respond(
        200,
        r#"{"status":200,"data":[{"id":"ann","name":"Ann","custom":{"team":"red"},"updated":"2024-03-07T08:49:07.011608Z","eTag":"e1"}],"totalCount":7,"next":"Mg","prev":"MA"}"#,
    );
    transport.respond(
        200,
        r#"{"status":200,"data":[{"channel":{"id":"lobby","name":"Lobby"},"status":"active","custom":null,"updated":"2024-03-07T08:49:07.011608Z","eTag":"e2"}]}"#,
    );
    transport.respond(
        404,
        r#"{"status":404,"error":{"message":"Requested object was not found.","source":"objects"}}"#,
    );
    let pubnub = client(&transport);
    let page = pubnub
        .get_all_uuid_metadata()
        .filter("name LIKE 'A*'")
        .sort("name:desc")
        .sort("updated")
        .limit(1)
        .next_page("MQ")
        .include_custom(true)
        .include_total_count(true)
        .await
        .unwrap();
    assert_eq!(page.data[0].name.as_deref(), Some("Ann"));
    assert_eq!(page.data[0].custom.as_ref().unwrap()["team"], json!("red"));
    assert_eq!(page.total_count, Some(7));
    assert_eq!(
        (page.next.as_deref(), page.prev.as_deref()),
        (Some("Mg"), Some("MA"))
    );
    let memberships = pubnub
        .user_metadata("ann")
        .memberships()
        .include_channel(true)
        .include_status(true)
        .prev_page("MA")
        .await
        .unwrap();
    assert_eq!(memberships.data[0].channel.name.as_deref(), Some("Lobby"));
    assert_eq!(memberships.data[0].status.as_deref(), Some("active"));
    assert_eq!(memberships.next, None);
    let missing = pubnub
        .get_channel_metadata()
        .channel("nope")
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert!(missing.to_string().contains("was not found"), "{missing}");

    let sent = transport.sent();
    assert_eq!(sent[0].path, "/v2/objects/sub-c/uuids");
    assert_eq!(query(&sent[0], "filter").as_deref(), Some("name LIKE 'A*'"));
    assert_eq!(
        query(&sent[0], "sort").as_deref(),
        Some("name:desc,updated")
    );
    assert_eq!(query(&sent[0], "limit").as_deref(), Some("1"));
    assert_eq!(query(&sent[0], "start").as_deref(), Some("MQ"));
    assert_eq!(query(&sent[0], "include").as_deref(), Some("custom"));
    assert_eq!(query(&sent[0], "count").as_deref(), Some("true"));
    assert!(sent[0]
        .query_string()
        .contains("filter=name%20LIKE%20%27A%2A%27"));
    assert_eq!(sent[1].path, "/v2/objects/sub-c/uuids/ann/channels");
    assert_eq!(
        query(&sent[1], "include").as_deref(),
        Some("status,channel")
    );
    assert_eq!(query(&sent[1], "end").as_deref(), Some("MA"));
    assert_eq!(sent[2].path, "/v2/objects/sub-c/channels/nope");
}
