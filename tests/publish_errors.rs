//! Bad input to publish and signal: each mistake is a distinct, descriptive
//! error, caught before anything is sent.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::recording::RecordingTransport;
use pubnub_rx::{Config, Error, PubNub};

fn client(transport: &Arc<RecordingTransport>, publish_key: Option<&str>) -> PubNub {
    let mut builder = Config::builder()
        .subscribe_key("sub")
        .user_id("tester")
        .transport(transport.clone());
    if let Some(key) = publish_key {
        builder = builder.publish_key(key);
    }
    PubNub::new(builder.build().unwrap()).unwrap()
}

#[tokio::test]
async fn empty_channel_is_an_invalid_argument() {
    let transport = RecordingTransport::new();
    let err = client(&transport, Some("pub"))
        .publish()
        .channel("")
        .message(&"hi")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "channel",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("channel"), "{err}");
    assert!(transport.sent().is_empty());
}

#[tokio::test]
async fn missing_publish_key_is_reported_as_such() {
    let transport = RecordingTransport::new();
    let err = client(&transport, None)
        .publish()
        .channel("c")
        .message(&"hi")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingKey {
                key: "publish_key",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("publish_key"), "{err}");
    let signal = client(&transport, None)
        .signal()
        .channel("c")
        .message(&1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            signal,
            Error::MissingKey {
                key: "publish_key",
                ..
            }
        ),
        "{signal:?}"
    );
    assert!(transport.sent().is_empty());
}

#[tokio::test]
async fn non_serialisable_message_is_a_serialization_error() {
    let transport = RecordingTransport::new();
    // JSON object keys must be strings: a map keyed by tuples cannot be encoded.
    let mut bad: HashMap<(u8, u8), u8> = HashMap::new();
    bad.insert((1, 2), 3);
    let err = client(&transport, Some("pub"))
        .publish()
        .channel("c")
        .message(&bad)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Serialization {
                what: "message",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(transport.sent().is_empty());
}

#[tokio::test]
async fn oversized_messages_are_refused_before_sending() {
    let transport = RecordingTransport::new();
    let big = "x".repeat(33_000);
    let err = client(&transport, Some("pub"))
        .publish()
        .channel("c")
        .message(&big)
        .await
        .unwrap_err();
    match err {
        Error::MessageTooLarge {
            what: "publish",
            size: Some(size),
            limit: 32768,
        } => assert!(size > 32768),
        other => panic!("unexpected {other:?}"),
    }
    // Escaping counts: 11_000 spaces are 33_000 escaped bytes.
    let spaces = " ".repeat(11_000);
    let err = client(&transport, Some("pub"))
        .publish()
        .channel("c")
        .message(&spaces)
        .use_post(true)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MessageTooLarge {
                what: "publish",
                ..
            }
        ),
        "{err:?}"
    );
    let err = client(&transport, Some("pub"))
        .signal()
        .channel("c")
        .message(&"y".repeat(63))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MessageTooLarge {
                what: "signal",
                size: Some(65),
                limit: 64
            }
        ),
        "{err:?}"
    );
    assert!(transport.sent().is_empty());
}

#[tokio::test]
async fn a_message_just_under_the_limit_is_sent() {
    let transport = RecordingTransport::new();
    transport.respond(200, r#"[1,"Sent","17000000000000000"]"#);
    // "c" (1) + the quoted message (n + two escaped quotes, 3 bytes each) + 97 overhead = 32768.
    let message = "x".repeat(32768 - 97 - 1 - 6);
    let sent = client(&transport, Some("pub"))
        .publish()
        .channel("c")
        .message(&message)
        .await
        .unwrap();
    assert_eq!(sent.timetoken, 17000000000000000);
    assert_eq!(transport.sent().len(), 1);
    let one_more = "x".repeat(32768 - 97 - 1 - 6 + 1);
    let err = client(&transport, Some("pub"))
        .publish()
        .channel("c")
        .message(&one_more)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MessageTooLarge {
                size: Some(32769),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_side_refusals_are_mapped() {
    let transport = RecordingTransport::new();
    transport.respond(400, r#"[0,"Message Too Large","17000000000000000"]"#);
    transport.respond(400, r#"[0,"Invalid Key","17000000000000000"]"#);
    let c = client(&transport, Some("pub"));
    let err = c.publish().channel("c").message(&"x").await.unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { size: None, .. }),
        "{err:?}"
    );
    let err = c.publish().channel("c").message(&"x").await.unwrap_err();
    assert!(matches!(err, Error::InvalidKey { .. }), "{err:?}");
}

#[tokio::test]
async fn null_meta_and_bad_types_are_refused() {
    let transport = RecordingTransport::new();
    let c = client(&transport, Some("pub"));
    let err = c.publish().channel("c").message(&()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "message",
                ..
            }
        ),
        "{err:?}"
    );
    let err = c
        .publish()
        .channel("c")
        .message(&1)
        .meta(&[1, 2])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { name: "meta", .. }),
        "{err:?}"
    );
    let err = c
        .publish()
        .channel("c")
        .message(&1)
        .custom_message_type("x")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "custom_message_type",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(transport.sent().is_empty());
}

#[tokio::test]
async fn requests_carry_the_common_parameters_and_a_valid_signature() {
    let transport = RecordingTransport::new();
    transport.respond(200, r#"[1,"Sent","17000000000000001"]"#);
    let c = PubNub::new(
        Config::builder()
            .subscribe_key("sub")
            .publish_key("pub")
            .secret_key("sec")
            .auth_key("auth-key")
            .user_id("me & you")
            .transport(transport.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    c.set_token("tok=en");
    c.publish()
        .channel("a b")
        .message(&serde_json::json!({"k": "v,w"}))
        .meta(&serde_json::json!({"m": 1}))
        .await
        .unwrap();
    let sent = transport.sent();
    let request = &sent[0];
    assert_eq!(
        request.path,
        "/publish/pub/sub/0/a%20b/0/%7B%22k%22%3A%22v%2Cw%22%7D"
    );
    assert_eq!(request.query_param("uuid"), Some("me & you"));
    assert_eq!(
        request.query_param("auth"),
        Some("tok=en"),
        "the token wins over the auth key"
    );
    assert!(request
        .query_param("pnsdk")
        .unwrap()
        .starts_with("PubNub-Rust-Rx/"));
    assert!(request.query_param("requestid").is_some());
    assert!(
        request.url().contains("uuid=me%20%26%20you"),
        "{}",
        request.url()
    );
    // Re-derive the signature the way a server does: from the decoded query.
    let pairs: Vec<(&str, &str)> = request
        .query
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let canonical = pubnub_rx::transport::signature::canonical_query(pairs);
    let to_sign = pubnub_rx::transport::signature::v2_string_to_sign(
        "GET",
        "pub",
        &request.path,
        &canonical,
        b"",
    );
    assert_eq!(
        request.query_param("signature"),
        Some(pubnub_rx::transport::signature::sign_v2("sec", &to_sign).as_str())
    );
}

#[test]
fn wrong_cipher_key_is_a_crypto_error() {
    let with_key = |key: &str| {
        PubNub::new(
            Config::builder()
                .subscribe_key("sub")
                .user_id("u")
                .cipher_key(key)
                .build()
                .unwrap(),
        )
        .unwrap()
    };
    let sealed = with_key("right key")
        .encrypt(&serde_json::json!({"secret": 42}))
        .unwrap();
    let err = with_key("wrong key").decrypt(&sealed).unwrap_err();
    assert!(matches!(err, Error::Crypto(_)), "{err:?}");
    assert!(
        err.to_string().contains("key"),
        "the message points at the key: {err}"
    );
    assert_eq!(
        with_key("right key").decrypt(&sealed).unwrap(),
        serde_json::json!({"secret": 42})
    );
    let plain = PubNub::new(
        Config::builder()
            .subscribe_key("sub")
            .user_id("u")
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(matches!(
        plain.decrypt(&sealed),
        Err(Error::MissingKey {
            key: "cipher_key",
            ..
        })
    ));
    assert!(matches!(
        with_key("k").decrypt("not base64!"),
        Err(Error::Crypto(_))
    ));
}
