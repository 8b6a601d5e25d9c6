//! Replays every publish, fire, signal and time cassette recorded from the
//! real PubNub service (`../shared/fixtures/cassettes/{asyncio,native_sync}`):
//! our client must send the same request (method, path, recorded query
//! parameters) and parse the recorded answer to the same timetoken or error.

mod common;

use common::replay::{assert_equivalent, json_eq, Cassette, Interaction, ReplayServer, Tally};
use pubnub_rx::crypto::CryptoModule;
use pubnub_rx::{Config, Error, PubNub};
use serde_json::Value;

/// The cipher key every encrypted Python SDK test used.
const CIPHER_KEY: &str = "testKey";

#[derive(Debug)]
enum Call {
    Publish { fire: bool },
    Signal,
    Time,
}

/// Which of our calls a recorded request corresponds to.
fn interpret(i: &Interaction) -> Option<Call> {
    let segments = i.segments();
    match segments.first().map(String::as_str) {
        Some("publish") => {
            let q = i.query();
            let fire = q.get("store").map(String::as_str) == Some("0")
                && matches!(q.get("norep").map(String::as_str), Some("1" | "true"));
            Some(Call::Publish { fire })
        }
        Some("signal") => Some(Call::Signal),
        Some("time") => Some(Call::Time),
        _ => None,
    }
}

/// The message payload text of a recorded publish (path segment or body).
fn recorded_payload(i: &Interaction) -> Option<String> {
    if i.method == "POST" {
        i.body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    } else {
        i.segments().get(6).cloned()
    }
}

/// Decrypts a payload that is a JSON string of ciphertext, trying the
/// random-IV then the static-IV legacy mode; returns the mode that yields JSON.
fn decrypt_payload(payload: &str) -> Option<(bool, Value)> {
    let Ok(Value::String(b64)) = serde_json::from_str::<Value>(payload) else {
        return None;
    };
    for random_iv in [true, false] {
        let module = CryptoModule::legacy(CIPHER_KEY, random_iv).ok()?;
        if let Ok(plain) = module.decrypt_base64(&b64) {
            if let Ok(value) = serde_json::from_slice::<Value>(&plain) {
                return Some((random_iv, value));
            }
        }
    }
    None
}

fn payload_eq(a: &str, b: &str) -> bool {
    if json_eq(a, b) {
        return true;
    }
    match (decrypt_payload(a), decrypt_payload(b)) {
        (Some((_, a)), Some((_, b))) => a == b,
        _ => false,
    }
}

/// Returns whether the recorded payload was ciphertext (decrypted, then
/// re-encrypted by our client).
async fn replay_interaction(
    cassette: &str,
    server: &ReplayServer,
    i: &Interaction,
    index: usize,
) -> bool {
    let Some(call) = interpret(i) else {
        panic!(
            "{cassette}: no interpreter for {} {}",
            i.method,
            i.raw_path()
        );
    };
    let segments = i.segments();
    let q = i.query();
    let mut builder = Config::builder()
        .origin(server.origin())
        .ssl(false)
        .user_id(
            q.get("uuid")
                .cloned()
                .unwrap_or_else(|| "replay-user".to_owned()),
        );
    let payload = recorded_payload(i);
    let mut encrypted = None;
    match call {
        Call::Publish { .. } | Call::Signal => {
            builder = builder
                .publish_key(segments[1].clone())
                .subscribe_key(segments[2].clone());
            encrypted = payload.as_deref().and_then(decrypt_payload);
            if let Some((random_iv, _)) = &encrypted {
                builder =
                    builder.crypto_module(CryptoModule::legacy(CIPHER_KEY, *random_iv).unwrap());
            }
        }
        Call::Time => builder = builder.subscribe_key("replay-sub"),
    }
    if q.contains_key("timestamp") || q.contains_key("signature") {
        builder = builder.secret_key("replay-secret");
    }
    let client = PubNub::new(builder.build().unwrap()).unwrap();

    let result = match call {
        Call::Publish { fire } => {
            let payload = payload.expect("publish payload");
            let message: Value = match &encrypted {
                Some((_, plain)) => plain.clone(),
                None => serde_json::from_str(&payload)
                    .unwrap_or_else(|e| panic!("{cassette}: payload {payload:?}: {e}")),
            };
            let mut publish = if fire {
                client.fire()
            } else {
                client.publish()
            };
            publish = publish
                .channel(segments[4].clone())
                .message(&message)
                .use_post(i.method == "POST");
            if let Some(meta) = q.get("meta") {
                publish = publish.meta(&serde_json::from_str::<Value>(meta).unwrap());
            }
            if !fire {
                if let Some(store) = q.get("store") {
                    publish = publish.should_store(store == "1" || store == "true");
                }
                if let Some(norep) = q.get("norep") {
                    publish = publish.replicate(!(norep == "1" || norep == "true"));
                }
            }
            if let Some(ttl) = q.get("ttl") {
                publish = publish.ttl(ttl.parse().unwrap());
            }
            if let Some(t) = q.get("custom_message_type") {
                publish = publish.custom_message_type(t.clone());
            }
            if let Some(t) = q.get("ptto") {
                publish = publish.timetoken_override(t.parse().unwrap());
            }
            publish.await.map(|r| r.timetoken)
        }
        Call::Signal => {
            let message: Value = serde_json::from_str(&payload.unwrap()).unwrap();
            let mut signal = client
                .signal()
                .channel(segments[4].clone())
                .message(&message);
            if let Some(t) = q.get("custom_message_type") {
                signal = signal.custom_message_type(t.clone());
            }
            signal.await.map(|r| r.timetoken)
        }
        Call::Time => client.time().await,
    };

    // Same request on the wire.
    let captured = server.captured();
    let ours = captured
        .get(index)
        .unwrap_or_else(|| panic!("{cassette}: nothing sent for interaction {index}"));
    assert_equivalent(cassette, i, ours, &|segment, want, got| {
        segment == 6 && payload_eq(want, got)
    });
    if i.method == "POST" {
        let (want, got) = (
            String::from_utf8_lossy(i.body.as_deref().unwrap_or_default()),
            String::from_utf8_lossy(&ours.body),
        );
        assert!(
            payload_eq(&want, &got),
            "{cassette}: POST body: ours {got}, recorded {want}"
        );
    }

    // Same parsed answer.
    let body = i.response_json();
    match (i.status, result) {
        (200, Ok(timetoken)) => {
            let expected = match call {
                Call::Time => body[0].as_u64(),
                _ => body[2].as_str().and_then(|t| t.parse().ok()),
            };
            assert_eq!(Some(timetoken), expected, "{cassette}: timetoken");
        }
        (400, Err(Error::InvalidKey { status: 400, .. })) => {}
        (403, Err(Error::AccessDenied { status: 403, .. })) => {}
        (status, other) => panic!("{cassette}: recorded status {status}, our result {other:?}"),
    }
    encrypted.is_some()
}

#[tokio::test]
async fn every_publish_signal_and_time_cassette_replays() {
    let Some(shared) = common::shared_dir_or_skip("every_publish_signal_and_time_cassette_replays")
    else {
        return;
    };
    let cassettes = Cassette::load_dirs(
        &shared,
        &[
            "asyncio/publish",
            "native_sync/publish",
            "asyncio/signal",
            "native_sync/signal",
            "asyncio/time",
            "asyncio/invocations",
            "asyncio/secure",
            "native_sync/ssl",
        ],
    );
    let mut tally = Tally::default();
    let mut interactions = 0;
    let mut encrypted = 0;
    for cassette in &cassettes {
        let server = ReplayServer::for_cassette(cassette).await;
        for (index, interaction) in cassette.interactions.iter().enumerate() {
            interactions += 1;
            encrypted +=
                usize::from(replay_interaction(&cassette.name, &server, interaction, index).await);
        }
        assert_eq!(
            server.captured().len(),
            cassette.interactions.len(),
            "{}: request count",
            cassette.name
        );
        tally.ok(&cassette.name);
    }
    tally.report("publish/fire/signal/time");
    println!("interactions replayed: {interactions} ({encrypted} with encrypted payloads)");
    // 16 recorded publishes carry legacy ciphertext (static and random IV):
    // asyncio mixed/object via GET and POST (10) and six native_sync ones.
    assert_eq!(
        encrypted, 16,
        "every encrypted publish is recognised and re-encrypted"
    );
    assert!(tally.skipped.is_empty());
    assert!(
        tally.replayed.len() >= 50,
        "expected the publish, signal and time cassettes, found {}",
        tally.replayed.len()
    );
}
