//! Time, publish (GET / POST, compressed bodies), fire, signal, limits and
//! key checks of the dev server, over HTTP.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::io::Write;

use dev_server::{enc, test_config, TestServer, PUB, SUB};
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use pubnub_rx::server::Keyset;
use serde_json::{json, Value};

const PN_CONTENT_TYPE: &str = "text/javascript; charset=\"UTF-8\"";

#[tokio::test]
async fn time_is_a_17_digit_number_that_increases() {
    let t = TestServer::start().await;
    let mut previous = 0u64;
    for _ in 0..20 {
        let reply = t.get("/time/0?uuid=u&pnsdk=PubNub-Test%2F1").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type.as_deref(), Some(PN_CONTENT_TYPE));
        // A JSON number, not a string, and never through f64.
        let inner = reply
            .body
            .strip_prefix('[')
            .and_then(|b| b.strip_suffix(']'))
            .unwrap();
        let tt: u64 = inner.parse().unwrap();
        assert_eq!(inner.len(), 17);
        assert!(tt > previous);
        previous = tt;
    }
}

#[tokio::test]
async fn timetokens_are_strictly_increasing_across_publishes_and_channels() {
    let t = TestServer::start().await;
    let mut previous = 0u64;
    for i in 0..50 {
        let tt = t.publish(&format!("ch-{}", i % 3), &format!("{i}")).await;
        assert_eq!(tt.to_string().len(), 17);
        assert!(tt > previous, "{tt} not after {previous}");
        previous = tt;
    }
}

#[tokio::test]
async fn get_publish_delivers_payload_meta_publisher_and_flags() {
    let t = TestServer::start().await;
    let cursor = t.handshake("news", "listener", "").await;
    // Python style: spaces in JSON, `+` for spaces in meta, seqn.
    let tt = t
        .publish_with(
            "news",
            r#"{"text": "hello there", "n": [1, 2]}"#,
            "meta=%7B%22b%22%3A+%22qwer%22%2C+%22a%22%3A+2%7D&seqn=7&custom_message_type=chat-text",
        )
        .await;
    let polled = t.receive("news", cursor, "listener", "").await;
    assert_eq!(polled.messages.len(), 1);
    let m = &polled.messages[0];
    assert_eq!(m["d"], json!({"text": "hello there", "n": [1, 2]}));
    assert_eq!(m["u"], json!({"b": "qwer", "a": 2}));
    assert_eq!(m["i"], "publisher");
    assert_eq!(m["s"], 7);
    assert_eq!(m["cmt"], "chat-text");
    assert_eq!(m["c"], "news");
    assert_eq!(m["k"], SUB);
    assert_eq!(m["f"], 0);
    assert_eq!(m["a"], "1");
    assert_eq!(m["p"]["t"], tt.to_string());
    assert_eq!(m["p"]["r"], 1);
    assert!(m.get("e").is_none(), "a message has no `e`");
    assert!(m.get("b").is_none(), "direct subscription has no `b`");
    assert_eq!(polled.cursor, tt);
}

#[tokio::test]
async fn payload_keeps_key_order_and_is_compacted() {
    let t = TestServer::start().await;
    let cursor = t.handshake("order", "l", "").await;
    t.publish("order", r#"{"z": 1,  "a": {"y": "s p a c e", "b": 2}}"#)
        .await;
    let reply = t
        .get(&format!("/v2/subscribe/{SUB}/order/0?tt={cursor}&uuid=l"))
        .await;
    assert!(
        reply
            .body
            .contains(r#""d":{"z":1,"a":{"y":"s p a c e","b":2}}"#),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn encrypted_payload_with_encoded_slash_survives() {
    let t = TestServer::start().await;
    let cursor = t.handshake("enc", "l", "").await;
    // base64 with `/` and `+`, sent as %2F / %2B inside the path segment.
    let path = format!(
        "/publish/{PUB}/{SUB}/0/enc/0/%225BW1pna%2FgKcnI4r%2FVReS4Yuye%2BRWl1ZrauMXlT46mME%3D%22?uuid=p"
    );
    assert_eq!(t.get(&path).await.status, 200);
    let polled = t.receive("enc", cursor, "l", "").await;
    assert_eq!(
        polled.payloads(),
        [json!("5BW1pna/gKcnI4r/VReS4Yuye+RWl1ZrauMXlT46mME=")]
    );
}

#[tokio::test]
async fn channel_with_encoded_slash_and_space_is_one_channel() {
    let t = TestServer::start().await;
    let channel = "my-ch- |.* $/x";
    let cursor = t.handshake(&enc(channel), "l", "").await;
    t.publish(channel, "\"odd\"").await;
    let polled = t.receive(&enc(channel), cursor, "l", "").await;
    assert_eq!(polled.messages.len(), 1);
    assert_eq!(polled.messages[0]["c"], channel);
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::new(2));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn post_publish_accepts_plain_and_compressed_bodies_whatever_the_label() {
    let t = TestServer::start().await;
    let cursor = t.handshake("posted", "l", "").await;
    let json = br#"{"online": true, "name": "Alex"}"#;
    type Headers = Vec<(&'static str, &'static str)>;
    let cases: Vec<(Vec<u8>, Headers)> = vec![
        // Python: application/json
        (json.to_vec(), vec![("content-type", "application/json")]),
        // npm pubnub 7.3.3: JSON labelled as a form — never form-decoded
        (
            json.to_vec(),
            vec![("content-type", "application/x-www-form-urlencoded")],
        ),
        // Python use_compression: zlib labelled gzip
        (zlib(json), vec![("content-encoding", "gzip")]),
        // JS: zlib labelled deflate
        (zlib(json), vec![("content-encoding", "deflate")]),
        // React Native: gzip labelled deflate
        (gzip(json), vec![("content-encoding", "deflate")]),
        // raw deflate, unlabelled
        (deflate(json), vec![]),
        // identity labelled deflate (browsers without CompressionStream)
        (json.to_vec(), vec![("content-encoding", "deflate")]),
    ];
    let count = cases.len();
    for (body, headers) in cases {
        let reply = t
            .request(
                "POST",
                &format!("/publish/{PUB}/{SUB}/0/posted/0?uuid=poster"),
                Some(body),
                &headers,
            )
            .await;
        assert_eq!(reply.status, 200, "{headers:?}: {}", reply.body);
        assert_eq!(reply.json()[1], "Sent");
    }
    let polled = t.receive("posted", cursor, "l", "").await;
    assert_eq!(polled.messages.len(), count);
    for m in &polled.messages {
        assert_eq!(m["d"], json!({"online": true, "name": "Alex"}));
        assert_eq!(m["i"], "poster");
    }
}

#[tokio::test]
async fn store_zero_keeps_messages_out_of_history_but_delivers_them() {
    let t = TestServer::start().await;
    let cursor = t.handshake("st", "l", "").await;
    t.publish_with("st", "\"kept\"", "").await;
    t.publish_with("st", "\"not kept\"", "store=0").await;
    let polled = t.receive("st", cursor, "l", "").await;
    assert_eq!(polled.payloads(), [json!("kept"), json!("not kept")]);
    let history = t
        .get(&format!("/v2/history/sub-key/{SUB}/channel/st?count=10"))
        .await;
    assert_eq!(history.json()[0], json!(["kept"]));
}

#[tokio::test]
async fn fire_is_answered_but_neither_stored_nor_delivered() {
    let t = TestServer::start().await;
    let cursor = t.handshake("fired", "l", "").await;
    for norep in ["1", "true"] {
        let tt = t
            .publish_with(
                "fired",
                "\"to functions\"",
                &format!("store=0&norep={norep}"),
            )
            .await;
        assert_eq!(tt.to_string().len(), 17);
    }
    let marker = t.publish("fired", "\"after\"").await;
    let polled = t.receive("fired", cursor, "l", "").await;
    assert_eq!(polled.payloads(), [json!("after")]);
    assert_eq!(polled.cursor, marker);
    let history = t
        .get(&format!("/v2/history/sub-key/{SUB}/channel/fired"))
        .await;
    assert_eq!(history.json()[0], json!(["after"]));
}

#[tokio::test]
async fn ptto_overrides_the_visible_timetoken() {
    let t = TestServer::start().await;
    let cursor = t.handshake("pt", "l", "").await;
    let tt = t
        .publish_with("pt", "\"x\"", "ptto=16057799474000000")
        .await;
    assert_eq!(tt, 16057799474000000);
    let polled = t.receive("pt", cursor, "l", "").await;
    assert_eq!(polled.messages[0]["p"]["t"], "16057799474000000");
}

#[tokio::test]
async fn signal_is_delivered_with_e_1_and_not_stored() {
    let t = TestServer::start().await;
    let cursor = t.handshake("sig", "l", "").await;
    let reply = t.signal("sig", r#"{"typing": true}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()[1], "Sent");
    let polled = t.receive("sig", cursor, "l", "").await;
    assert_eq!(polled.messages.len(), 1);
    assert_eq!(polled.messages[0]["e"], 1);
    assert_eq!(polled.messages[0]["d"], json!({"typing": true}));
    let history = t
        .get(&format!("/v2/history/sub-key/{SUB}/channel/sig"))
        .await;
    assert_eq!(history.body, "[[],0,0]");
}

#[tokio::test]
async fn signal_over_64_bytes_is_refused_with_the_real_body() {
    let t = TestServer::start().await;
    let exactly_64 = format!("\"{}\"", "x".repeat(62));
    assert_eq!(t.signal("s", &exactly_64).await.status, 200);
    let reply = t.signal("s", &format!("\"{}\"", "x".repeat(63))).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.content_type.as_deref(), Some(PN_CONTENT_TYPE));
    let v = reply.json();
    assert_eq!(v[0], 0);
    assert_eq!(v[1], "Signal size too large");
    assert_eq!(v[2].as_str().unwrap().len(), 17);
}

#[tokio::test]
async fn publish_over_32_kib_is_message_too_large() {
    let t = TestServer::start().await;
    // len(enc("big")) + len(enc("\"xxx…\"")) + 97 must stay ≤ 32768.
    let fits = 32768 - 97 - 3 - 6;
    let ok = format!("\"{}\"", "x".repeat(fits));
    let reply = t
        .request(
            "POST",
            &format!("/publish/{PUB}/{SUB}/0/big/0?uuid=p"),
            Some(ok.into_bytes()),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let too_big = format!("\"{}\"", "x".repeat(fits + 1));
    let reply = t
        .request(
            "POST",
            &format!("/publish/{PUB}/{SUB}/0/big/0?uuid=p"),
            Some(too_big.into_bytes()),
            &[],
        )
        .await;
    assert_eq!(reply.status, 400);
    let v = reply.json();
    assert_eq!(
        (v[0].clone(), v[1].clone()),
        (json!(0), json!("Message Too Large"))
    );
}

#[tokio::test]
async fn invalid_json_is_refused_and_nothing_is_delivered() {
    let t = TestServer::start().await;
    let cursor = t.handshake("bad", "l", "").await;
    for payload in ["%7Bnot-json", "hello", "%22unterminated", ""] {
        let reply = t
            .get(&format!("/publish/{PUB}/{SUB}/0/bad/0/{payload}"))
            .await;
        assert_eq!(reply.status, 400, "{payload}: {}", reply.body);
        let v = reply.json();
        assert_eq!(v[0], 0);
        assert_eq!(v[1], "Invalid JSON");
    }
    let reply = t
        .get(&format!("/publish/{PUB}/{SUB}/0/bad/0/1?meta=%7Bbroken"))
        .await;
    assert_eq!(reply.status, 400);
    let marker = t.publish("bad", "\"good\"").await;
    let polled = t.receive("bad", cursor, "l", "").await;
    assert_eq!(polled.payloads(), [json!("good")]);
    assert_eq!(polled.cursor, marker);
}

#[tokio::test]
async fn explicit_keysets_refuse_unknown_keys_with_the_real_bodies() {
    let config = test_config().with_keyset(Keyset::new("sub-c-real", "pub-c-real"));
    let t = TestServer::with_config(config).await;
    let ok = t
        .get("/publish/pub-c-real/sub-c-real/0/ch1/0/%22hey%22")
        .await;
    assert_eq!(ok.status, 200);

    let wrong_pub = t.get("/publish/fake/sub-c-real/0/ch1/0/%22hey%22").await;
    assert_eq!(wrong_pub.status, 400);
    let v = wrong_pub.json();
    assert_eq!(v[0], 0);
    assert_eq!(v[1], "Invalid Key");
    assert_eq!(v[2].as_str().unwrap().len(), 17);

    let unknown_sub = t.get("/publish/blah/blah/0/blah/0/%22hey%22").await;
    assert_eq!(unknown_sub.status, 400);
    assert_eq!(
        unknown_sub.content_type.as_deref(),
        Some("text/javascript; charset=UTF-8")
    );
    assert_eq!(
        unknown_sub.body,
        r#"{"message":"Invalid Subscribe Key","error":true,"service":"Access Manager","status":400}"#
    );
    for path in [
        "/v2/subscribe/nope/ch/0?tt=0",
        "/v2/presence/sub-key/nope/channel/ch",
        "/v2/history/sub-key/nope/channel/ch",
        "/v1/channel-registration/sub-key/nope/channel-group/g",
    ] {
        let reply = t.get(path).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(reply.json()["message"], "Invalid Subscribe Key", "{path}");
    }
}

#[tokio::test]
async fn any_key_is_accepted_in_open_mode_and_keysets_are_separate() {
    let t = TestServer::start().await;
    let a = t
        .get("/v2/subscribe/sub-a/shared/0?tt=0&uuid=l")
        .await
        .json()["t"]["t"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        t.get("/publish/any/sub-b/0/shared/0/%22for-b%22")
            .await
            .status,
        200
    );
    assert_eq!(
        t.get("/publish/any/sub-a/0/shared/0/%22for-a%22")
            .await
            .status,
        200
    );
    let reply = t
        .get(&format!("/v2/subscribe/sub-a/shared/0?tt={a}&uuid=l"))
        .await;
    let v: Value = reply.json();
    let payloads: Vec<_> = v["m"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["d"].clone())
        .collect();
    assert_eq!(payloads, [json!("for-a")]);
}
