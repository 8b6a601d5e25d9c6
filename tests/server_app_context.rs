//! App Context v2 end to end: pubnub-rx's own client (`src/api/objects`)
//! against the embedded dev server — uuid and channel metadata, memberships
//! and members, paging, include, filter, sort, `If-Match`, the `e: 2`
//! events on subscribe, and the Access Manager checks.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use common::harness::{client, dev_server, next, GUARD};
use dev_server::{test_config, TestServer, PUB, SUB};
use futures::StreamExt as _;
use pubnub_rx::access::Permissions;
use pubnub_rx::api::objects::uuid::GetAllUuidMetadataBuilder;
use pubnub_rx::api::objects::{MemberInput, MembershipInput, ObjectsPage, UuidMetadataObject};
use pubnub_rx::server::{Keyset, RouteKind};
use pubnub_rx::subscribe::AppContextKind;
use pubnub_rx::{Config, Error, PubNub, SubscriptionOptions};
use serde_json::{json, Value};

async fn patch(t: &TestServer, path: &str, body: &str) -> dev_server::Reply {
    t.request("PATCH", path, Some(body.as_bytes().to_vec()), &[])
        .await
}

#[tokio::test]
async fn uuid_metadata_round_trips_verbatim() {
    let server = dev_server().await;
    let alice = client(&server, "alice");
    let custom = json!({"z": "last key first", "a": 1, "flag": true});
    let stored = alice
        .set_uuid_metadata()
        .name("Alice")
        .email("alice@example.com")
        .external_id("ext-1")
        .profile_url("https://example.com/a.png")
        .custom(custom.clone())
        .status("active")
        .r#type("admin")
        .include_custom(true)
        .include_status(true)
        .include_type(true)
        .await
        .unwrap();
    assert_eq!(stored.id, "alice");
    assert_eq!(stored.name.as_deref(), Some("Alice"));
    assert_eq!(stored.status.as_deref(), Some("active"));
    assert_eq!(
        stored.custom.as_ref().map(|c| Value::Object(c.clone())),
        Some(custom)
    );
    let etag = stored.e_tag.clone().expect("an eTag");
    assert!(stored.updated.as_deref().is_some_and(|u| u.ends_with('Z')));

    // Without include: no custom, no status.
    let plain = alice.user_metadata("alice").get().await.unwrap();
    assert_eq!(plain.custom, None);
    assert_eq!(plain.status, None);
    assert_eq!(plain.email.as_deref(), Some("alice@example.com"));
    assert_eq!(plain.e_tag.as_deref(), Some(etag.as_str()));

    // A set names only what changes; the rest is kept.
    let renamed = alice.set_uuid_metadata().name("Alicia").await.unwrap();
    assert_eq!(renamed.email.as_deref(), Some("alice@example.com"));
    assert_ne!(renamed.e_tag.as_deref(), Some(etag.as_str()));

    alice.remove_uuid_metadata().await.unwrap();
    match alice.get_uuid_metadata().await {
        Err(e) => assert_eq!(e.status(), Some(404), "{e}"),
        Ok(found) => panic!("removed metadata still there: {found:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn custom_keeps_key_order_and_number_text_on_the_wire() {
    let t = TestServer::start().await;
    let path = format!("/v2/objects/{SUB}/channels/raw?include=custom");
    let body =
        r#"{"name":"R\u00e9aw","custom":{"zeta":1.50,"alpha":12345678901234567890,"u":"\u00e9"}}"#;
    let reply = patch(&t, &path, body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .body
            .contains(r#""custom":{"zeta":1.50,"alpha":12345678901234567890,"u":"\u00e9"}"#),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains(r#""name":"R\u00e9aw""#),
        "{}",
        reply.body
    );
    let again = t.get(&path).await;
    assert!(again
        .body
        .contains(r#"{"zeta":1.50,"alpha":12345678901234567890"#));
    // Nested objects are refused with PubNub's error shape.
    let nested = patch(&t, &path, r#"{"custom":{"deep":{"x":1}}}"#).await;
    assert_eq!(nested.status, 400);
    assert_eq!(nested.json()["error"]["source"], "objects");
    // A custom object past 32 KiB is refused.
    let big = format!(r#"{{"custom":{{"k":"{}"}}}}"#, "x".repeat(33 * 1024));
    assert_eq!(patch(&t, &path, &big).await.status, 400);
}

#[tokio::test]
async fn if_match_with_another_etag_is_412_and_changes_nothing() {
    let server = dev_server().await;
    let c = client(&server, "editor");
    let first = c
        .channel_metadata("room")
        .set()
        .name("Room")
        .description("first")
        .await
        .unwrap();
    let stale = first.e_tag.clone().unwrap();
    let second = c
        .set_channel_metadata()
        .channel("room")
        .description("second")
        .if_match_etag(stale.clone())
        .await
        .unwrap();
    match c
        .set_channel_metadata()
        .channel("room")
        .description("third")
        .if_match_etag(stale)
        .await
    {
        Err(e) => {
            assert_eq!(e.status(), Some(412));
            assert!(e.to_string().contains("modified after it was read"), "{e}");
        }
        Ok(o) => panic!("stale eTag accepted: {o:?}"),
    }
    let now = c.get_channel_metadata().channel("room").await.unwrap();
    assert_eq!(now.description.as_deref(), Some("second"));
    assert_eq!(now.e_tag, second.e_tag);
    server.shutdown().await;
}

fn ids(page: &ObjectsPage<UuidMetadataObject>) -> Vec<String> {
    page.data.iter().map(|u| u.id.clone()).collect()
}

#[tokio::test]
async fn get_all_pages_filters_sorts_and_counts() {
    let server = dev_server().await;
    let c = client(&server, "admin");
    for (id, name, team) in [
        ("u1", "Dora", "red"),
        ("u2", "Abel", "blue"),
        ("u3", "Cleo", "red"),
        ("u4", "Bea", "red"),
        ("u5", "Abby", "blue"),
    ] {
        c.set_uuid_metadata()
            .uuid(id)
            .name(name)
            .custom(json!({"team": team}))
            .await
            .unwrap();
    }
    // Paging by id with totals and cursors both ways.
    let first = c
        .get_all_uuid_metadata()
        .limit(2)
        .include_total_count(true)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["u1", "u2"]);
    assert_eq!(first.total_count, Some(5));
    assert_eq!(first.prev, None);
    let pairs = |query: GetAllUuidMetadataBuilder| async move { query.limit(2).await.unwrap() };
    let second = pairs(c.get_all_uuid_metadata().next_page(first.next.unwrap())).await;
    assert_eq!(ids(&second), ["u3", "u4"]);
    let back = pairs(c.get_all_uuid_metadata().prev_page(second.prev.unwrap())).await;
    assert_eq!(ids(&back), ["u1", "u2"]);
    let third = pairs(c.get_all_uuid_metadata().next_page(second.next.unwrap())).await;
    assert_eq!(ids(&third), ["u5"]);
    let past = pairs(c.get_all_uuid_metadata().next_page(third.next.unwrap())).await;
    assert!(past.data.is_empty() && past.next.is_none());

    // Sort by name, both directions.
    let by_name = c.get_all_uuid_metadata().sort("name").await.unwrap();
    assert_eq!(ids(&by_name), ["u5", "u2", "u4", "u3", "u1"]);
    let desc = c.get_all_uuid_metadata().sort("name:desc").await.unwrap();
    assert_eq!(ids(&desc), ["u1", "u3", "u4", "u2", "u5"]);

    // Filters: LIKE, custom fields, && / || and parentheses.
    let ab = c
        .get_all_uuid_metadata()
        .filter("name LIKE 'Ab*'")
        .await
        .unwrap();
    assert_eq!(ids(&ab), ["u2", "u5"]);
    let red_b_or_c = c
        .get_all_uuid_metadata()
        .filter("custom.team == 'red' && (name == 'Bea' || name LIKE 'C*')")
        .include_total_count(true)
        .await
        .unwrap();
    assert_eq!(ids(&red_b_or_c), ["u3", "u4"]);
    assert_eq!(red_b_or_c.total_count, Some(2));
    let u3 = c.get_uuid_metadata().uuid("u3").await.unwrap();
    let newer = c
        .get_all_uuid_metadata()
        .filter(format!("updated > '{}'", u3.updated.unwrap()))
        .await
        .unwrap();
    assert_eq!(ids(&newer), ["u4", "u5"]);
    match c.get_all_uuid_metadata().filter("name ==").await {
        Err(e) => assert_eq!(e.status(), Some(400)),
        Ok(p) => panic!("bad filter accepted: {p:?}"),
    }
    match c.get_all_uuid_metadata().sort("email").await {
        Err(e) => assert_eq!(e.status(), Some(400)),
        Ok(p) => panic!("unsortable field accepted: {p:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn memberships_and_members_are_two_views_of_one_relation() {
    let server = dev_server().await;
    let c = client(&server, "alice");
    c.set_channel_metadata()
        .channel("lobby")
        .name("Lobby")
        .custom(json!({"floor": 1}))
        .await
        .unwrap();
    c.set_uuid_metadata().name("Alice").await.unwrap();
    let page = c
        .set_memberships()
        .set([
            MembershipInput::new("lobby")
                .custom(json!({"role": "host"}))
                .status("active")
                .r#type("owner"),
            MembershipInput::new("game"),
        ])
        .include_custom(true)
        .include_status(true)
        .include_type(true)
        .include_channel(true)
        .include_channel_custom(true)
        .await
        .unwrap();
    let channels: Vec<&str> = page.data.iter().map(|m| m.channel.id.as_str()).collect();
    assert_eq!(channels, ["game", "lobby"]);
    let lobby = &page.data[1];
    assert_eq!(lobby.channel.name.as_deref(), Some("Lobby"));
    assert_eq!(lobby.channel.custom.as_ref().unwrap()["floor"], 1);
    assert_eq!(lobby.custom.as_ref().unwrap()["role"], "host");
    assert_eq!(lobby.status.as_deref(), Some("active"));
    assert_eq!(lobby.r#type.as_deref(), Some("owner"));
    assert!(lobby.e_tag.is_some());
    // Filters and sorts see the nested channel.
    let named = c
        .get_memberships()
        .filter("channel.name == 'Lobby'")
        .await
        .unwrap();
    assert_eq!(named.data.len(), 1);
    assert_eq!(named.data[0].channel.id, "lobby");
    let by_channel = c.get_memberships().sort("channel.id:desc").await.unwrap();
    assert_eq!(by_channel.data[0].channel.id, "lobby");
    // Without channel include: the channel is just its id.
    let bare = c.get_memberships().await.unwrap();
    assert_eq!(bare.data[1].channel.name, None);
    assert_eq!(bare.data[1].custom, None);

    // The channel's side: members with the uuid's metadata.
    c.set_channel_members()
        .channel("lobby")
        .uuids([MemberInput::new("bob").status("invited")])
        .await
        .unwrap();
    let members = c
        .get_channel_members()
        .channel("lobby")
        .include_uuid(true)
        .include_status(true)
        .include_total_count(true)
        .sort("uuid.id:desc")
        .await
        .unwrap();
    let uuids: Vec<&str> = members.data.iter().map(|m| m.uuid.id.as_str()).collect();
    assert_eq!(uuids, ["bob", "alice"]);
    assert_eq!(members.total_count, Some(2));
    assert_eq!(members.data[1].uuid.name.as_deref(), Some("Alice"));
    assert_eq!(members.data[0].status.as_deref(), Some("invited"));
    let filtered = c
        .get_channel_members()
        .channel("lobby")
        .filter("status == 'invited'")
        .await
        .unwrap();
    assert_eq!(filtered.data.len(), 1);
    assert_eq!(filtered.data[0].uuid.id, "bob");

    // Set and remove in one call.
    let after = c
        .set_memberships()
        .set([MembershipInput::new("vip")])
        .remove(["game"])
        .await
        .unwrap();
    let channels: Vec<&str> = after.data.iter().map(|m| m.channel.id.as_str()).collect();
    assert_eq!(channels, ["lobby", "vip"]);
    c.remove_channel_members()
        .channel("lobby")
        .uuids(["alice", "bob"])
        .await
        .unwrap();
    let left = c.get_memberships().await.unwrap();
    let channels: Vec<&str> = left.data.iter().map(|m| m.channel.id.as_str()).collect();
    assert_eq!(channels, ["vip"]);
    server.shutdown().await;
}

#[tokio::test]
async fn subscribers_receive_app_context_events_once_and_in_order() {
    let server = dev_server().await;
    let watcher = client(&server, "watcher");
    let editor = client(&server, "editor");
    let room = watcher
        .channel_metadata("room")
        .subscription(SubscriptionOptions::new());
    let mut room_events = room.app_context();
    let bob = watcher
        .user_metadata("bob")
        .subscription(SubscriptionOptions::new());
    let mut bob_events = bob.app_context();
    room.subscribe();
    bob.subscribe();
    // Live once a receive long-poll (not the handshake) names both channels:
    // from then on every event is delivered (the poll reads by cursor).
    tokio::time::timeout(
        GUARD,
        server.request_log().wait_for(|r| {
            r.kind == RouteKind::Subscribe
                && r.path.contains("room")
                && r.path.contains("bob")
                && r.query.iter().any(|(k, v)| k == "tt" && v != "0")
        }),
    )
    .await
    .unwrap();

    editor
        .set_channel_metadata()
        .channel("room")
        .name("Room")
        .custom(json!({"b": 2, "a": 1}))
        .await
        .unwrap();
    // The same data again changes nothing and announces nothing.
    editor
        .set_channel_metadata()
        .channel("room")
        .name("Room")
        .await
        .unwrap();
    editor
        .set_uuid_metadata()
        .uuid("bob")
        .name("Bob")
        .await
        .unwrap();
    editor
        .set_channel_members()
        .channel("room")
        .uuids([MemberInput::new("bob").custom(json!({"seat": 7}))])
        .await
        .unwrap();
    editor
        .remove_channel_metadata()
        .channel("room")
        .await
        .unwrap();

    let set = next(&mut room_events).await;
    assert_eq!(set.kind, AppContextKind::Channel);
    assert!(set.set);
    assert_eq!(set.data["id"], "room");
    assert_eq!(set.data["name"], "Room");
    assert_eq!(set.data["custom"], json!({"b": 2, "a": 1}));
    let membership = next(&mut room_events).await;
    assert_eq!(membership.kind, AppContextKind::Membership);
    assert_eq!(membership.data["uuid"]["id"], "bob");
    assert_eq!(membership.data["channel"]["id"], "room");
    assert_eq!(membership.data["custom"]["seat"], 7);
    let removed = next(&mut room_events).await;
    assert_eq!(removed.kind, AppContextKind::Channel);
    assert!(!removed.set);
    assert_eq!(removed.data["id"], "room");

    let user = next(&mut bob_events).await;
    assert_eq!(user.kind, AppContextKind::User);
    assert_eq!(user.data["name"], "Bob");
    let bobs_membership = next(&mut bob_events).await;
    assert_eq!(bobs_membership.kind, AppContextKind::Membership);
    assert_eq!(bobs_membership.data, membership.data);

    // Nothing more arrived (the repeated set published no event).
    room.unsubscribe();
    bob.unsubscribe();
    assert!(tokio::time::timeout(GUARD, room_events.next())
        .await
        .unwrap()
        .is_none());
    assert!(tokio::time::timeout(GUARD, bob_events.next())
        .await
        .unwrap()
        .is_none());
    server.shutdown().await;
}

const SECRET: &str = "sec-c-objects";

fn pam_client(t: &TestServer, user: &str, secret: bool) -> PubNub {
    let builder = Config::builder()
        .subscribe_key(SUB)
        .publish_key(PUB)
        .user_id(user)
        .origin(t.server.origin())
        .ssl(false);
    let builder = if secret {
        builder.secret_key(SECRET)
    } else {
        builder
    };
    PubNub::new(builder.build().unwrap()).unwrap()
}

fn denied(result: Result<impl std::fmt::Debug, Error>) -> Error {
    match result {
        Err(e @ Error::AccessDenied { status: 403, .. }) => e,
        other => panic!("expected 403 AccessDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn access_manager_checks_objects_and_binds_the_path_uuid() {
    let t = TestServer::with_config(
        test_config().with_keyset(Keyset::new(SUB, PUB).with_secret_key(SECRET)),
    )
    .await;
    let admin = pam_client(&t, "admin", true);
    let token = admin
        .grant_token()
        .ttl(10)
        .authorized_uuid("alice")
        .uuid("alice", Permissions::new().get().update())
        .channel("lobby", Permissions::new().get().join())
        .await
        .unwrap();
    let alice = pam_client(&t, "alice", false);
    alice.set_token(token.clone());

    alice.set_uuid_metadata().name("Alice").await.unwrap();
    alice.get_uuid_metadata().await.unwrap();
    alice.set_memberships().channels(["lobby"]).await.unwrap();
    alice
        .get_channel_metadata()
        .channel("lobby")
        .await
        .map(|_| ())
        .or_else(|e| {
            // Readable (get on lobby) but not stored: 404, not 403.
            (e.status() == Some(404)).then_some(()).ok_or(e)
        })
        .unwrap();

    // No delete permission on herself.
    denied(alice.remove_uuid_metadata().await);
    // No join on another channel.
    match denied(alice.set_memberships().channels(["vault"]).await) {
        Error::AccessDenied { channels, .. } => assert_eq!(channels, ["vault"]),
        _ => unreachable!(),
    }
    // Bob's metadata and memberships: the token is bound to alice.
    match denied(alice.set_uuid_metadata().uuid("bob").name("Mallory").await) {
        Error::AccessDenied { uuids, .. } => assert_eq!(uuids, ["bob"]),
        _ => unreachable!(),
    }
    denied(alice.get_memberships().uuid("bob").await);
    // Another user presenting alice's token is refused.
    let mallory = pam_client(&t, "mallory", false);
    mallory.set_token(token);
    denied(mallory.get_uuid_metadata().uuid("alice").await);
    // Listing every uuid needs a keyset-level grant; members need manage.
    denied(alice.get_all_uuid_metadata().await);
    denied(
        alice
            .set_channel_members()
            .channel("lobby")
            .uuids(["alice"])
            .await,
    );
    // Nothing refused changed anything.
    let stored = admin.get_uuid_metadata().uuid("alice").await.unwrap();
    assert_eq!(stored.name.as_deref(), Some("Alice"));
    assert!(admin.get_uuid_metadata().uuid("bob").await.is_err());
    let memberships = admin.get_memberships().uuid("alice").await.unwrap();
    assert_eq!(memberships.data.len(), 1);
}

#[tokio::test]
async fn bad_requests_get_pubnubs_error_bodies() {
    let t = TestServer::start().await;
    let path = format!("/v2/objects/{SUB}/uuids/u");
    let not_json = patch(&t, &path, "{nope").await;
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.json()["status"], 400);
    let missing = t.get(&format!("/v2/objects/{SUB}/channels/none")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        r#"{"status":404,"error":{"message":"Requested object was not found.","source":"objects"}}"#
    );
    let post = t.request("POST", &path, Some(b"{}".to_vec()), &[]).await;
    assert_eq!(post.status, 405);
    let bad_cursor = t
        .get(&format!("/v2/objects/{SUB}/uuids?start=%21%21"))
        .await;
    assert_eq!(bad_cursor.status, 400);
    let bad_member = patch(
        &t,
        &format!("/v2/objects/{SUB}/channels/c/uuids"),
        r#"{"set":[{"channel":{"id":"wrong side"}}]}"#,
    )
    .await;
    assert_eq!(bad_member.status, 400);
    // The server keeps serving.
    assert_eq!(t.get(&format!("/v2/objects/{SUB}/uuids")).await.status, 200);
}

#[tokio::test]
async fn events_have_the_envelope_pubnub_sends_and_pass_any_filter_expr() {
    let t = TestServer::start().await;
    // A subscriber whose filter-expr no App Context event could match
    // (events carry no publisher meta) still gets them, as presence.
    let filter = "filter-expr=priority%20%3D%3D%20%27high%27";
    let cursor = t.handshake("news", "reader", filter).await;
    let reply = patch(
        &t,
        &format!("/v2/objects/{SUB}/channels/news"),
        r#"{"name":"News","custom":{"y":1,"x":2}}"#,
    )
    .await;
    assert_eq!(reply.status, 200);
    let polled = t.receive("news", cursor, "reader", filter).await;
    assert_eq!(polled.messages.len(), 1);
    let envelope = &polled.messages[0];
    assert_eq!(envelope["e"], 2);
    assert_eq!(envelope["c"], "news");
    let d = &envelope["d"];
    assert_eq!(d["source"], "objects");
    assert_eq!(d["version"], "2.0");
    assert_eq!(d["event"], "set");
    assert_eq!(d["type"], "channel");
    assert_eq!(d["data"]["name"], "News");
    assert!(d["data"]["eTag"].is_string() && d["data"]["updated"].is_string());
    // History keeps no App Context events.
    let history = t
        .get(&format!("/v2/history/sub-key/{SUB}/channel/news"))
        .await;
    assert_eq!(history.body, "[[],0,0]");
}
