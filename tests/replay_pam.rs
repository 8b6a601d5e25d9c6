//! Replays every Access Manager cassette recorded from the real PubNub
//! service (`../shared/fixtures/cassettes/{asyncio,native_sync}/pam` and
//! `native_sync/objects_v2/pam`): v2 grants (revokes are grants with the
//! flags 0), v3 token grants and revokes, and the publishes made with a token
//! in between. For each recorded request our client must send the same
//! request (method, path, recorded query parameters, grant body) and read
//! the recorded answer to the same values; every token PubNub issued is
//! decoded and checked against the grant body that produced it.

mod common;

use std::collections::BTreeMap;

use common::replay::{assert_equivalent, Cassette, Interaction, ReplayServer, Tally};
use pubnub_rx::access::{parse_token, Permissions, TokenResources};
use pubnub_rx::api::access::{AccessLevel, AccessResult, ResourceAccess};
use pubnub_rx::{Config, Error, PubNub};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    GrantV2,
    GrantToken,
    RevokeToken,
    Publish,
}

/// Which of our calls a recorded request corresponds to.
fn interpret(i: &Interaction) -> Option<Call> {
    let segments = i.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (i.method.as_str(), s.as_slice()) {
        ("GET", ["v2", "auth", "grant", "sub-key", _]) => Some(Call::GrantV2),
        ("POST", ["v3", "pam", _, "grant"]) => Some(Call::GrantToken),
        ("DELETE", ["v3", "pam", _, "grant", _]) => Some(Call::RevokeToken),
        ("GET", ["publish", ..]) => Some(Call::Publish),
        _ => None,
    }
}

fn client(server: &ReplayServer, i: &Interaction, keys: (&str, Option<&str>, bool)) -> PubNub {
    let (subscribe_key, publish_key, secret) = keys;
    let q = i.query();
    let mut builder = Config::builder()
        .origin(server.origin())
        .ssl(false)
        .subscribe_key(subscribe_key)
        .publish_key(publish_key.unwrap_or("replay-pub"))
        .user_id(q.get("uuid").map_or("replay-user", String::as_str));
    if secret {
        builder = builder.secret_key("replay-secret");
    }
    PubNub::new(builder.build().unwrap()).unwrap()
}

fn names(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

fn flag(q: &BTreeMap<String, String>, key: &str) -> Option<bool> {
    q.get(key).map(|v| v == "1" || v == "true")
}

/// The permissions the recorded payload gives an object, as bits.
fn recorded_flags(object: &Value) -> Option<Permissions> {
    let mut found = false;
    let mut p = Permissions::new();
    for (key, bit) in [
        ("r", Permissions::READ),
        ("w", Permissions::WRITE),
        ("m", Permissions::MANAGE),
        ("d", Permissions::DELETE),
        ("g", Permissions::GET),
        ("u", Permissions::UPDATE),
        ("j", Permissions::JOIN),
    ] {
        if let Some(v) = object.get(key) {
            found = true;
            if v.as_u64() == Some(1) {
                p |= bit;
            }
        }
    }
    found.then_some(p)
}

fn level_name(level: &AccessLevel) -> String {
    match level {
        AccessLevel::Subkey => "subkey".into(),
        AccessLevel::Channel => "channel".into(),
        AccessLevel::ChannelGroup => "channel-group".into(),
        AccessLevel::User => "user".into(),
        AccessLevel::ChannelGroupAuth => "channel-group+auth".into(),
        AccessLevel::Uuid => "uuid".into(),
        AccessLevel::Other(other) => other.clone(),
        other => format!("{other:?}"),
    }
}

fn check_auths(cassette: &str, what: &str, ours: &ResourceAccess, recorded: Option<&Value>) {
    let recorded = recorded
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        ours.auth_keys.keys().collect::<Vec<_>>(),
        recorded.keys().collect::<Vec<_>>(),
        "{cassette}: {what} auth keys"
    );
    for (key, flags) in &recorded {
        assert_eq!(
            Some(ours.auth_keys[key].permissions),
            recorded_flags(flags),
            "{cassette}: {what} auth key {key}"
        );
    }
}

/// Our parsed v2 result against the recorded payload, value by value.
fn check_v2_result(cassette: &str, ours: &AccessResult, body: &Value) {
    let payload = &body["payload"];
    assert_eq!(
        level_name(&ours.level),
        payload["level"].as_str().unwrap(),
        "{cassette}: level"
    );
    assert_eq!(
        ours.subscribe_key,
        payload["subscribe_key"].as_str().unwrap()
    );
    assert_eq!(
        ours.ttl.map(u64::from),
        payload["ttl"].as_u64(),
        "{cassette}: ttl"
    );
    assert_eq!(
        ours.permissions,
        recorded_flags(payload),
        "{cassette}: top-level flags"
    );
    let categories: [(&[&str], &BTreeMap<String, ResourceAccess>); 3] = [
        (&["channel", "channels"], &ours.channels),
        (&["channel-group", "channel-groups"], &ours.channel_groups),
        (&["uuids"], &ours.uuids),
    ];
    for (keys, map) in categories {
        let mut expected_names = Vec::new();
        for key in keys {
            match payload.get(*key) {
                None => {}
                Some(Value::String(name)) => {
                    let ours = map
                        .get(name)
                        .unwrap_or_else(|| panic!("{cassette}: no {key} {name}"));
                    assert_eq!(ours.permissions, None);
                    check_auths(cassette, name, ours, payload.get("auths"));
                    expected_names.push(name.clone());
                }
                Some(Value::Object(resources)) => {
                    for (name, entry) in resources {
                        let ours = map
                            .get(name)
                            .unwrap_or_else(|| panic!("{cassette}: no {key} {name}"));
                        assert_eq!(
                            ours.permissions,
                            recorded_flags(entry),
                            "{cassette}: {name}"
                        );
                        check_auths(cassette, name, ours, entry.get("auths"));
                        expected_names.push(name.clone());
                    }
                }
                Some(other) => panic!("{cassette}: unexpected {key}: {other}"),
            }
        }
        expected_names.sort();
        assert_eq!(
            map.keys().cloned().collect::<Vec<_>>(),
            expected_names,
            "{cassette}: names"
        );
    }
}

/// A grant-token body reduced to what it means: `ttl` as a number, the
/// current categories (missing = empty), `meta` (missing = `{}`), `uuid`.
/// The legacy `users`/`spaces` copies are left out: the Python SDK fills
/// them, the JS SDK and we send them empty, PubNub accepts both.
fn normalized_grant_body(body: &Value) -> Value {
    let ttl = match &body["ttl"] {
        Value::String(s) => json!(s.parse::<u64>().unwrap()),
        other => other.clone(),
    };
    let section = |name: &str| {
        let s = &body["permissions"][name];
        json!({
            "channels": s.get("channels").cloned().unwrap_or(json!({})),
            "groups": s.get("groups").cloned().unwrap_or(json!({})),
            "uuids": s.get("uuids").cloned().unwrap_or(json!({})),
        })
    };
    json!({
        "ttl": ttl,
        "resources": section("resources"),
        "patterns": section("patterns"),
        "meta": body["permissions"].get("meta").cloned().unwrap_or(json!({})),
        "uuid": body["permissions"].get("uuid").cloned().unwrap_or(Value::Null),
    })
}

fn permissions_map(value: &Value) -> BTreeMap<String, Permissions> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Permissions::from_bits(v.as_u64().unwrap() as u32),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A token PubNub issued, decoded and compared with the body that asked for it.
fn check_issued_token(cassette: &str, token_text: &str, request_body: &Value) {
    let token = parse_token(token_text)
        .unwrap_or_else(|e| panic!("{cassette}: PubNub's token does not parse: {e}"));
    let permissions = &request_body["permissions"];
    let ttl = match &request_body["ttl"] {
        Value::String(s) => s.parse::<u32>().unwrap(),
        other => other.as_u64().unwrap() as u32,
    };
    assert_eq!(token.version, 2, "{cassette}: v");
    assert_eq!(token.ttl, ttl, "{cassette}: ttl");
    assert!(
        token.timestamp > 1_600_000_000 && token.timestamp < 1_900_000_000,
        "{cassette}: t = {}",
        token.timestamp
    );
    assert_eq!(
        token.authorized_uuid.as_deref(),
        permissions.get("uuid").and_then(Value::as_str),
        "{cassette}: authorized uuid"
    );
    for (section, ours) in [
        ("resources", &token.resources),
        ("patterns", &token.patterns),
    ] {
        let body = &permissions[section];
        let expected = TokenResources {
            channels: permissions_map(&body["channels"]),
            groups: permissions_map(&body["groups"]),
            uuids: permissions_map(&body["uuids"]),
            users: permissions_map(&body["users"]),
            spaces: permissions_map(&body["spaces"]),
        };
        assert_eq!(ours, &expected, "{cassette}: {section}");
    }
    let meta = permissions.get("meta").cloned().unwrap_or(json!({}));
    assert_eq!(Value::Object(token.meta.clone()), meta, "{cassette}: meta");
    assert_eq!(token.signature.len(), 32, "{cassette}: sig");
}

/// Replays one interaction on its own server; returns whether a request
/// went out (a request our client refuses before sending does not).
async fn replay_interaction(cassette: &str, i: &Interaction) -> bool {
    let call = interpret(i).unwrap_or_else(|| {
        panic!(
            "{cassette}: no interpreter for {} {}",
            i.method,
            i.raw_path()
        )
    });
    let server = ReplayServer::start(vec![(i.status, i.response_body.clone())]).await;
    let segments = i.segments();
    let q = i.query();
    let body = i.response_json();

    match call {
        Call::GrantV2 => {
            let client = client(&server, i, (&segments[4], None, true));
            let mut grant = client
                .grant()
                .channels(names(q.get("channel")))
                .channel_groups(names(q.get("channel-group")))
                .uuids(names(q.get("target-uuid")))
                .auth_keys(names(q.get("auth")));
            if let Some(on) = flag(&q, "r") {
                grant = grant.read(on);
            }
            if let Some(on) = flag(&q, "w") {
                grant = grant.write(on);
            }
            if let Some(on) = flag(&q, "m") {
                grant = grant.manage(on);
            }
            if let Some(on) = flag(&q, "d") {
                grant = grant.delete(on);
            }
            if let Some(on) = flag(&q, "g") {
                grant = grant.get(on);
            }
            if let Some(on) = flag(&q, "u") {
                grant = grant.update(on);
            }
            if let Some(on) = flag(&q, "j") {
                grant = grant.join(on);
            }
            if let Some(ttl) = q.get("ttl") {
                grant = grant.ttl(ttl.parse().unwrap());
            }
            let result = grant.await;
            let ours = &server.captured()[0];
            assert_equivalent(cassette, i, ours, &|_, _, _| false);
            assert!(ours.query.contains_key("signature") && ours.query.contains_key("timestamp"));
            assert!(ours.body.is_empty());
            match (i.status, result) {
                (200, Ok(result)) => check_v2_result(cassette, &result, &body),
                (status, other) => panic!("{cassette}: recorded {status}, ours {other:?}"),
            }
        }
        Call::GrantToken => {
            let request: Value =
                serde_json::from_slice(i.body.as_deref().expect("grant body")).unwrap();
            let client = client(&server, i, (&segments[2], None, true));
            let p = &request["permissions"];
            let ttl = match &request["ttl"] {
                Value::String(s) => s.parse().unwrap(),
                other => other.as_u64().unwrap() as u32,
            };
            let mut grant = client.grant_token().ttl(ttl);
            if let Some(uuid) = p.get("uuid").and_then(Value::as_str) {
                grant = grant.authorized_uuid(uuid);
            }
            for (name, bits) in permissions_map(&p["resources"]["channels"]) {
                grant = grant.channel(name, bits);
            }
            for (name, bits) in permissions_map(&p["resources"]["groups"]) {
                grant = grant.channel_group(name, bits);
            }
            for (name, bits) in permissions_map(&p["resources"]["uuids"]) {
                grant = grant.uuid(name, bits);
            }
            for (name, bits) in permissions_map(&p["patterns"]["channels"]) {
                grant = grant.channel_pattern(name, bits);
            }
            for (name, bits) in permissions_map(&p["patterns"]["groups"]) {
                grant = grant.channel_group_pattern(name, bits);
            }
            for (name, bits) in permissions_map(&p["patterns"]["uuids"]) {
                grant = grant.uuid_pattern(name, bits);
            }
            if let Some(meta) = p.get("meta").and_then(Value::as_object) {
                if !meta.is_empty() {
                    grant = grant.meta(meta);
                }
            }
            let result = grant.await;
            if let Err(Error::InvalidArgument { name, reason }) = &result {
                // Our client refuses what PubNub refused, before sending: the
                // recorded 400 must name the same argument.
                assert_eq!(i.status, 400, "{cassette}: we refused {name}: {reason}");
                assert_eq!(body["error"]["details"][0]["location"], json!(name));
                assert!(server.captured().is_empty(), "{cassette}: sent anyway");
                return false;
            }
            let ours = &server.captured()[0];
            assert_equivalent(cassette, i, ours, &|_, _, _| false);
            assert!(ours.query.contains_key("signature"), "{cassette}: unsigned");
            let our_body: Value = serde_json::from_slice(&ours.body).unwrap();
            assert_eq!(
                normalized_grant_body(&our_body),
                normalized_grant_body(&request),
                "{cassette}: grant body"
            );
            match (i.status, result) {
                (200, Ok(token)) => {
                    assert_eq!(json!(token), body["data"]["token"], "{cassette}: token");
                    check_issued_token(cassette, &token, &request);
                }
                (status, other) => panic!("{cassette}: recorded {status}, ours {other:?}"),
            }
        }
        Call::RevokeToken => {
            let client = client(&server, i, (&segments[2], None, true));
            let result = client.revoke_token(&segments[4]).await;
            let ours = &server.captured()[0];
            assert_equivalent(cassette, i, ours, &|_, _, _| false);
            assert!(ours
                .raw_path
                .ends_with(i.raw_path().rsplit('/').next().unwrap()));
            match (i.status, result) {
                (200, Ok(())) => {}
                (
                    400,
                    Err(Error::AccessDenied {
                        status: 400,
                        message,
                        ..
                    }),
                ) => {
                    let detail = body["error"]["details"][0]["message"].as_str().unwrap();
                    assert!(message.contains(detail), "{cassette}: {message}");
                }
                (status, other) => panic!("{cassette}: recorded {status}, ours {other:?}"),
            }
        }
        Call::Publish => {
            let signed = q.contains_key("signature") || q.contains_key("timestamp");
            let client = client(&server, i, (&segments[2], Some(&segments[1]), signed));
            if let Some(token) = q.get("auth") {
                client.set_token(token.clone());
            }
            let message: Value = serde_json::from_str(&segments[6]).unwrap();
            let result = client
                .publish()
                .channel(&segments[4])
                .message(&message)
                .await;
            let ours = &server.captured()[0];
            assert_equivalent(cassette, i, ours, &|_, _, _| false);
            match (i.status, result) {
                (200, Ok(sent)) => assert_eq!(
                    Some(sent.timetoken),
                    body[2].as_str().and_then(|t| t.parse().ok())
                ),
                (
                    403,
                    Err(Error::AccessDenied {
                        status: 403,
                        message,
                        ..
                    }),
                ) => {
                    assert_eq!(json!(message), body["message"], "{cassette}");
                }
                (status, other) => panic!("{cassette}: recorded {status}, ours {other:?}"),
            }
        }
    }
    assert_eq!(server.captured().len(), 1, "{cassette}: one request");
    true
}

#[tokio::test]
async fn every_access_manager_cassette_replays() {
    let Some(shared) = common::shared_dir_or_skip("every_access_manager_cassette_replays") else {
        return;
    };
    let cassettes = Cassette::load_dirs(
        &shared,
        &[
            "asyncio/pam",
            "native_sync/pam",
            "native_sync/objects_v2/pam",
        ],
    );
    let mut tally = Tally::default();
    let (mut sent, mut refused, mut total) = (0, 0, 0);
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for cassette in &cassettes {
        for interaction in &cassette.interactions {
            total += 1;
            if let Some(call) = interpret(interaction) {
                *calls.entry(format!("{call:?}")).or_default() += 1;
            }
            if replay_interaction(&cassette.name, interaction).await {
                sent += 1;
            } else {
                refused += 1;
            }
        }
        tally.ok(&cassette.name);
    }
    tally.report("access manager");
    println!(
        "interactions replayed: {}/{total} ({sent} sent, {refused} refused before sending as PubNub refused them); by call: {calls:?}",
        sent + refused
    );
    assert!(tally.skipped.is_empty());
    assert_eq!(tally.replayed.len(), 36, "expected the 36 pam cassettes");
    assert_eq!(
        refused, 1,
        "only grant_token_invalid_ttl is refused client-side"
    );
}
