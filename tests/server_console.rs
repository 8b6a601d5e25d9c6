//! The web console's JSON (`/dev/…`) answers what the traffic produced,
//! bounded, and `/console` answers the page as HTML. None of these routes
//! appears in the request log they show.

#[path = "common/dev_server.rs"]
mod dev_server;

use dev_server::{enc, test_config, TestServer, PUB, STEP, SUB};
use pubnub_rx::access::Permissions;
use pubnub_rx::server::{Keyset, RouteKind};
use pubnub_rx::{Config, PubNub};
use serde_json::{json, Value};

async fn dev(t: &TestServer, path: &str) -> Value {
    let reply = t.get(path).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    assert_eq!(
        reply.content_type.as_deref(),
        Some("application/json; charset=utf-8"),
        "{path}"
    );
    reply.json()
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|rows| rows.iter().find(|row| row[key] == value))
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

#[tokio::test]
async fn the_console_page_is_html_and_self_contained() {
    let t = TestServer::start().await;
    let reply = t.get("/console").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(reply.body.starts_with("<!doctype html>"));
    assert!(reply
        .body
        .contains("<title>pubnub-dev-server console</title>"));
    // Nothing is loaded from elsewhere.
    for outside in [
        "http://",
        "https://",
        "<script src",
        "<link rel=\"stylesheet\"",
    ] {
        assert!(!reply.body.contains(outside), "{outside}");
    }
    // The page and its JSON are not in the request log.
    dev(&t, "/dev/keysets").await;
    assert!(t.server.request_log().snapshot().is_empty());
}

#[tokio::test]
async fn a_publish_shows_in_keysets_channels_and_the_request_log_with_its_status() {
    let t = TestServer::start().await;
    for n in 1..=3 {
        t.publish("room.1", &n.to_string()).await;
    }
    t.publish_with("room.2", "\"not stored\"", "store=0").await;
    let here = t
        .get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/room.1/heartbeat?uuid=alice&state={}",
            enc(r#"{"mood":"fine"}"#)
        ))
        .await;
    assert_eq!(here.status, 200);
    let refused = t
        .get(&format!("/publish/{PUB}/{SUB}/0/room.1/0/%7Bnot-json"))
        .await;
    assert_eq!(refused.status, 400);

    let keysets = dev(&t, "/dev/keysets").await;
    assert_eq!(keysets["total"], 1);
    let keyset = find(&keysets["keysets"], "subscribe_key", SUB);
    assert_eq!(keyset["access"], "open");
    assert_eq!(keyset["channels"], 2);
    assert_eq!(keyset["messages"], 3);
    assert_eq!(keyset["present"], 1);

    let channels = dev(&t, &format!("/dev/keysets/{SUB}/channels")).await;
    assert_eq!(channels["total"], 2, "{channels}");
    let room1 = find(&channels["channels"], "name", "room.1");
    assert_eq!(room1["occupancy"], 1);
    assert_eq!(room1["messages"], 3);
    let room2 = find(&channels["channels"], "name", "room.2");
    assert_eq!(room2["messages"], 0, "store=0 is not stored");
    assert_eq!(room2["recent"], 1, "but subscribers get it");
    // The presence channel only on request.
    let with_presence = dev(&t, &format!("/dev/keysets/{SUB}/channels?presence=1")).await;
    find(&with_presence["channels"], "name", "room.1-pnpres");

    let log = dev(&t, "/dev/requests").await;
    let rows = log["requests"].as_array().expect("rows");
    assert_eq!(rows.len(), 6, "{log}");
    // Newest first, with status and latency.
    assert_eq!(rows[0]["status"], 400);
    assert_eq!(rows[0]["route"], "publish");
    assert!(rows[0]["path"].as_str().unwrap().contains("not-json"));
    let published: Vec<&Value> = rows.iter().filter(|r| r["route"] == "publish").collect();
    assert_eq!(published.len(), 5);
    assert!(published[1..].iter().all(|r| r["status"] == 200));
    assert!(rows.iter().all(|r| r["latency_ms"].as_f64().is_some()));
    assert_eq!(rows[1]["route"], "heartbeat");
    assert_eq!(rows[1]["uuid"], "alice");

    // Filtering: every word must match (route, status, path, method).
    let failed = dev(&t, "/dev/requests?q=publish%20400").await;
    assert_eq!(failed["requests"].as_array().unwrap().len(), 1);
    let heartbeat = dev(&t, "/dev/requests?q=HEARTBEAT").await;
    assert_eq!(heartbeat["requests"][0]["uuid"], "alice");
    let none = dev(&t, "/dev/requests?q=publish%20404").await;
    assert_eq!(none["requests"], json!([]));
    // The same status and latency through the test hook.
    let logged = t.server.request_log().of_kind(RouteKind::Heartbeat);
    assert_eq!(logged[0].status(), Some(200));
    assert!(logged[0].latency().is_some());
}

#[tokio::test]
async fn a_parked_poll_is_pending_and_the_console_can_hide_its_own_calls() {
    let t = TestServer::start().await;
    let cursor = t.handshake("room", "bob", "").await;
    let poll = {
        let base = t.base.clone();
        let http = t.http.clone();
        tokio::spawn(async move {
            http.get(format!(
                "{base}/v2/subscribe/{SUB}/room/0?tt={cursor}&uuid=bob&pnsdk=pubnub-dev-console"
            ))
            .send()
            .await
            .expect("poll answers")
            .status()
        })
    };
    tokio::time::timeout(STEP, t.server.wait_for_parked(1))
        .await
        .expect("parked");
    let log = dev(&t, "/dev/requests").await;
    assert_eq!(log["requests"][0]["status"], Value::Null, "{log}");
    assert_eq!(log["requests"][0]["latency_ms"], Value::Null);
    let hidden = dev(&t, "/dev/requests?hide=console").await;
    assert_eq!(hidden["requests"].as_array().unwrap().len(), 1, "{hidden}");
    assert_eq!(hidden["requests"][0]["route"], "subscribe");
    t.publish("room", "1").await;
    assert_eq!(poll.await.unwrap(), 200);
    let after = t.server.request_log().of_kind(RouteKind::Subscribe);
    assert_eq!(after.last().and_then(|r| r.status()), Some(200));
}

#[tokio::test]
async fn every_list_is_bounded_and_pages() {
    let t = TestServer::start().await;
    for n in 0..7 {
        t.publish(&format!("ch-{n}"), "1").await;
    }
    for n in 0..3 {
        let reply = t
            .get(&format!(
                "/v1/channel-registration/sub-key/{SUB}/channel-group/g{n}?add=ch-1,ch-2"
            ))
            .await;
        assert_eq!(reply.status, 200);
    }
    let mut names = Vec::new();
    let mut path = format!("/dev/keysets/{SUB}/channels?limit=3");
    loop {
        let page = dev(&t, &path).await;
        assert_eq!(page["total"], 7);
        let rows = page["channels"].as_array().unwrap();
        assert!(rows.len() <= 3);
        names.extend(rows.iter().map(|r| r["name"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => path = format!("/dev/keysets/{SUB}/channels?limit=3&start={}", enc(next)),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|n| format!("ch-{n}")).collect();
    assert_eq!(names, expected);
    let ch1 = dev(
        &t,
        &format!("/dev/keysets/{SUB}/channels?limit=1&start=ch-0"),
    )
    .await;
    assert_eq!(ch1["channels"][0]["groups"], json!(["g0", "g1", "g2"]));

    let groups = dev(&t, &format!("/dev/keysets/{SUB}/groups?limit=2")).await;
    assert_eq!(groups["total"], 3);
    assert_eq!(groups["groups"].as_array().unwrap().len(), 2);
    assert_eq!(groups["next"], "g1");
    assert_eq!(groups["groups"][0]["channels"], json!(["ch-1", "ch-2"]));

    let log = dev(&t, "/dev/requests?limit=4").await;
    let first: Vec<u64> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(first, [10, 9, 8, 7]);
    assert_eq!(log["next"], 7);
    let older = dev(&t, "/dev/requests?limit=4&before=7").await;
    assert_eq!(older["requests"][0]["seq"], 6);
    // `limit` is capped, never refused.
    let capped = dev(&t, "/dev/requests?limit=99999999").await;
    assert_eq!(capped["requests"].as_array().unwrap().len(), 10);

    // Unknown keysets and routes: PubNub-shaped 404s, nothing created.
    let missing = t.get("/dev/keysets/sub-c-nobody/channels").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], true);
    assert_eq!(t.get("/dev/nothing-here").await.status, 404);
    assert_eq!(dev(&t, "/dev/keysets").await["total"], 1);
}

#[tokio::test]
async fn app_context_objects_show_with_their_memberships() {
    let t = TestServer::start().await;
    let set = t
        .request(
            "PATCH",
            &format!("/v2/objects/{SUB}/uuids/alice"),
            Some(br#"{"name":"Alice","custom":{"team":"red"}}"#.to_vec()),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let joined = t
        .request(
            "PATCH",
            &format!("/v2/objects/{SUB}/uuids/alice/channels"),
            Some(br#"{"set":[{"channel":{"id":"room.1"}}]}"#.to_vec()),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let uuids = dev(&t, &format!("/dev/keysets/{SUB}/objects/uuids")).await;
    assert_eq!(uuids["total"], 1);
    let alice = &uuids["objects"][0];
    assert_eq!(alice["id"], "alice");
    assert_eq!(alice["name"], "Alice");
    assert_eq!(alice["custom"]["team"], "red");
    assert_eq!(alice["memberships"], json!({"count": 1, "ids": ["room.1"]}));
    let channels = dev(&t, &format!("/dev/keysets/{SUB}/objects/channels")).await;
    assert_eq!(channels["total"], 0);
    assert_eq!(
        dev(&t, "/dev/keysets").await["keysets"][0]["uuid_objects"],
        1
    );
}

#[tokio::test]
async fn grants_and_tokens_show_decoded_with_revocation() {
    const SECRET: &str = "sec-c-console";
    let t = TestServer::with_config(
        test_config().with_keyset(Keyset::new(SUB, PUB).with_secret_key(SECRET)),
    )
    .await;
    let admin = PubNub::new(
        Config::builder()
            .subscribe_key(SUB)
            .publish_key(PUB)
            .secret_key(SECRET)
            .user_id("admin")
            .origin(t.server.origin())
            .ssl(false)
            .build()
            .expect("config"),
    )
    .expect("client");
    admin
        .grant()
        .channels(["room.1"])
        .auth_keys(["key-1"])
        .read(true)
        .write(true)
        .ttl(15)
        .await
        .expect("v2 grant");
    let kept = admin
        .grant_token()
        .ttl(60)
        .authorized_uuid("alice")
        .channel("room.1", Permissions::new().read().write())
        .channel_pattern(r"^room\..*$", Permissions::new().read())
        .meta(&json!({"role": "member"}))
        .await
        .expect("token");
    let revoked = admin
        .grant_token()
        .ttl(5)
        .channel_group("g", Permissions::new().read().manage())
        .await
        .expect("token");
    admin.revoke_token(&revoked).await.expect("revoke");

    let keysets = dev(&t, "/dev/keysets").await;
    assert_eq!(keysets["keysets"][0]["access"], "secret-key");
    assert_eq!(keysets["keysets"][0]["publish_key"], PUB);
    assert!(!keysets.to_string().contains(SECRET), "never the secret");

    let access = dev(&t, &format!("/dev/keysets/{SUB}/access")).await;
    assert_eq!(access["mode"], "secret-key");
    assert_eq!(access["grants_total"], 1);
    assert_eq!(
        access["grants"][0],
        json!({
            "scope": "channel", "target": "room.1", "auth": "key-1",
            "permissions": "rw", "ttl": 15, "minutes_left": 15,
        })
    );
    assert_eq!(access["tokens_total"], 2);
    // Newest first.
    let last = &access["tokens"][0];
    assert_eq!(last["token"], revoked.as_str());
    assert_eq!(last["revoked"], true);
    assert_eq!(last["ttl"], 5);
    assert_eq!(last["resources"], json!({"groups": {"g": "rm"}}));
    let first = &access["tokens"][1];
    assert_eq!(first["token"], kept.as_str());
    assert_eq!(first["revoked"], false);
    assert_eq!(first["expired"], false);
    assert_eq!(first["authorized_uuid"], "alice");
    assert_eq!(first["ttl"], 60);
    assert_eq!(first["resources"], json!({"channels": {"room.1": "rw"}}));
    assert_eq!(first["patterns"], json!({"channels": {r"^room\..*$": "r"}}));
    assert_eq!(first["meta"], json!({"role": "member"}));
    assert_eq!(
        first["expires"].as_u64().unwrap() - first["issued"].as_u64().unwrap(),
        3600
    );

    // A pasted token, decoded, with whether this keyset signed it.
    let decoded = dev(
        &t,
        &format!("/dev/keysets/{SUB}/token?token={}", enc(&kept)),
    )
    .await;
    assert_eq!(decoded["signature_valid"], true);
    assert_eq!(decoded["authorized_uuid"], "alice");
    let bad = t
        .get(&format!("/dev/keysets/{SUB}/token?token=not-a-token"))
        .await;
    assert_eq!(bad.status, 400);
    let paged = dev(&t, &format!("/dev/keysets/{SUB}/access?limit=1")).await;
    assert_eq!(paged["tokens"].as_array().unwrap().len(), 1);
    assert_eq!(paged["tokens_total"], 2);
}

#[tokio::test]
async fn a_subscriber_that_overflowed_its_queue_shows_its_loss_count() {
    let t = TestServer::with_config(test_config().with_queue_size(2)).await;
    let cursor = t.handshake("q", "bob", "").await;
    let quiet = t.handshake("q", "carol", "").await;
    for n in 1..=5 {
        t.publish("q", &n.to_string()).await;
    }
    let polled = t.receive("q", cursor, "bob", "").await;
    assert_eq!(polled.messages.len(), 2);
    let next = t.receive("q", quiet, "carol", "").await;
    assert_eq!(next.messages.len(), 2);
    for n in 6..=9 {
        t.publish("q", &n.to_string()).await;
    }
    t.receive("q", polled.cursor, "bob", "").await;

    let losses = dev(&t, "/dev/losses").await;
    assert_eq!(losses["total"], 2, "{losses}");
    // Most first.
    let bob = &losses["losses"][0];
    assert_eq!(bob["uuid"], "bob");
    assert_eq!(bob["subscribe_key"], SUB);
    assert_eq!(bob["lost"], 5);
    assert_eq!(bob["polls"], 2);
    assert_eq!(bob["channels"], "q");
    assert!(bob["last_ms"].as_u64().unwrap() > 0);
    let carol = &losses["losses"][1];
    assert_eq!(carol["uuid"], "carol");
    assert_eq!(carol["lost"], 3);
    let one = dev(&t, "/dev/losses?limit=1").await;
    assert_eq!(one["losses"].as_array().unwrap().len(), 1);
    assert_eq!(one["total"], 2);
}
