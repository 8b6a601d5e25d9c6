//! Replays every history, fetch-messages, message-count and delete cassette
//! recorded from the real PubNub service
//! (`../shared/fixtures/cassettes/{asyncio,native_sync}`), with the
//! publishes that fill the channels first: our client must send the same
//! requests and parse the recorded answers to the recorded values —
//! timetokens to the last digit, encrypted messages decrypted.

mod common;

use common::replay::{assert_equivalent, Cassette, Interaction, Tally};
use common::rest::{
    config_for, legacy_module, looks_encrypted, payload_eq, replay_cassette, replay_publish,
    report, ReplayServerRef,
};
use pubnub_rx::PubNub;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum Call {
    Publish,
    History,
    Fetch { actions: bool },
    Counts,
    Delete,
}

fn interpret(i: &Interaction) -> Option<Call> {
    let s = i.segments();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    match (i.method.as_str(), s.as_slice()) {
        ("GET", ["publish", ..]) => Some(Call::Publish),
        ("GET", ["v2", "history", "sub-key", _, "channel", _]) => Some(Call::History),
        ("GET", ["v3", "history", "sub-key", _, "channel", _]) => {
            Some(Call::Fetch { actions: false })
        }
        ("GET", ["v3", "history-with-actions", "sub-key", _, "channel", _]) => {
            Some(Call::Fetch { actions: true })
        }
        ("GET", ["v3", "history", "sub-key", _, "message-counts", _]) => Some(Call::Counts),
        ("DELETE", ["v3", "history", "sub-key", _, "channel", _]) => Some(Call::Delete),
        _ => None,
    }
}

fn flag(q: &std::collections::BTreeMap<String, String>, key: &str) -> Option<bool> {
    q.get(key).map(|v| v == "true" || v == "1" || v == "True")
}

/// A recorded stored payload as our client must show it: decrypted when
/// it is one of the Python tests' ciphertexts.
fn expected_message(message: &Value) -> Value {
    match message {
        Value::String(text) if looks_encrypted(text) => {
            let module = legacy_module(true).expect("crypto module");
            let plain = module.decrypt_base64(text).expect("recorded ciphertext");
            serde_json::from_slice(&plain).expect("JSON plaintext")
        }
        other => other.clone(),
    }
}

async fn run(cassette: String, server: ReplayServerRef, i: Interaction, call: Call, index: usize) {
    let cassette = cassette.as_str();
    if let Call::Publish = call {
        replay_publish(cassette, &server, &i).await;
        let ours = server.sent(cassette, index);
        assert_equivalent(cassette, &i, &ours, &|segment, want, got| {
            segment == 6 && payload_eq(want, got)
        });
        return;
    }
    let segments = i.segments();
    let q = i.query();
    let body = i.response_json();
    let mut config = config_for(&server, &i, &segments[3]);
    if looks_encrypted(&String::from_utf8_lossy(&i.response_body)) {
        config = config.crypto_module(legacy_module(true).expect("crypto module"));
    }
    let client = PubNub::new(config.build().unwrap()).unwrap();
    let channels: Vec<String> = segments[5].split(',').map(str::to_owned).collect();
    let start = q.get("start").map(|t| t.parse::<u64>().unwrap());
    let end = q.get("end").map(|t| t.parse::<u64>().unwrap());
    assert_eq!(
        i.status, 200,
        "{cassette}: only successes are recorded here"
    );

    match call {
        Call::Publish => unreachable!(),
        Call::History => {
            let mut history = client.history().channel(channels[0].clone());
            if let Some(count) = q.get("count") {
                history = history.count(count.parse().unwrap());
            }
            if let Some(reverse) = flag(&q, "reverse") {
                history = history.reverse(reverse);
            }
            if let Some(start) = start {
                history = history.start(start);
            }
            if let Some(end) = end {
                history = history.end(end);
            }
            let wrapped_token = flag(&q, "include_token") == Some(true);
            let wrapped_meta = flag(&q, "include_meta") == Some(true);
            let page = history
                .include_timetoken(wrapped_token)
                .include_meta(wrapped_meta)
                .await
                .unwrap();
            let recorded = body[0].as_array().unwrap();
            assert_eq!(page.messages.len(), recorded.len(), "{cassette}: count");
            for (ours, item) in page.messages.iter().zip(recorded) {
                assert!(ours.error.is_none(), "{cassette}: {:?}", ours.error);
                let message = if wrapped_token || wrapped_meta {
                    &item["message"]
                } else {
                    item
                };
                assert_eq!(ours.message, expected_message(message), "{cassette}");
                if wrapped_token {
                    assert_eq!(ours.timetoken, item["timetoken"].as_u64());
                }
            }
            assert_eq!(Some(page.start), body[1].as_u64(), "{cassette}: start");
            assert_eq!(Some(page.end), body[2].as_u64(), "{cassette}: end");
        }
        Call::Fetch { actions } => {
            let mut fetch = client
                .fetch_messages()
                .channels(channels.clone())
                .include_actions(actions);
            if let Some(max) = q.get("max") {
                fetch = fetch.max(max.parse().unwrap());
            }
            if let Some(start) = start {
                fetch = fetch.start(start);
            }
            if let Some(end) = end {
                fetch = fetch.end(end);
            }
            if let Some(v) = flag(&q, "include_meta") {
                fetch = fetch.include_meta(v);
            }
            if let Some(v) = flag(&q, "include_uuid") {
                fetch = fetch.include_uuid(v);
            }
            if let Some(v) = flag(&q, "include_message_type") {
                fetch = fetch.include_message_type(v);
            }
            if let Some(v) = flag(&q, "include_custom_message_type") {
                fetch = fetch.include_custom_message_type(v);
            }
            let result = fetch.await.unwrap();
            let recorded = body["channels"].as_object().unwrap();
            assert_eq!(
                result.channels.keys().collect::<Vec<_>>(),
                recorded.keys().collect::<Vec<_>>(),
                "{cassette}: channels"
            );
            let mut total = 0;
            for (channel, items) in recorded {
                let ours = &result.channels[channel];
                let items = items.as_array().unwrap();
                assert_eq!(ours.len(), items.len(), "{cassette}: {channel}");
                for (ours, item) in ours.iter().zip(items) {
                    assert_eq!(ours.message, expected_message(&item["message"]));
                    assert_eq!(
                        ours.timetoken.to_string(),
                        item["timetoken"].as_str().unwrap(),
                        "{cassette}: timetoken"
                    );
                    assert_eq!(ours.meta.as_ref(), item.get("meta").filter(|m| *m != ""));
                    assert_eq!(ours.uuid.as_deref(), item["uuid"].as_str());
                    assert_eq!(
                        ours.message_type,
                        item["message_type"].as_str().map(|t| t.parse().unwrap())
                    );
                    total += 1;
                }
            }
            assert!(total > 0, "{cassette}: recorded messages");
        }
        Call::Counts => {
            let mut counts = client.message_counts().channels(channels.clone());
            if let Some(tt) = q.get("timetoken") {
                counts = counts.timetoken(tt.parse().unwrap());
            }
            if let Some(list) = q.get("channelsTimetoken") {
                counts = counts.channel_timetokens(list.split(',').map(|t| t.parse().unwrap()));
            }
            let result = counts.await.unwrap();
            let expected: std::collections::BTreeMap<String, u64> =
                serde_json::from_value(body["channels"].clone()).unwrap();
            assert_eq!(result.channels, expected, "{cassette}: counts");
        }
        Call::Delete => {
            let mut delete = client.delete_messages().channel(channels[0].clone());
            if let Some(start) = start {
                delete = delete.start(start);
            }
            if let Some(end) = end {
                delete = delete.end(end);
            }
            delete.await.unwrap();
        }
    }
    let ours = server.sent(cassette, index);
    assert_equivalent(cassette, &i, &ours, &|_, _, _| false);
}

#[tokio::test]
async fn every_history_cassette_replays() {
    let Some(shared) = common::shared_dir_or_skip("every_history_cassette_replays") else {
        return;
    };
    let cassettes = Cassette::load_dirs(
        &shared,
        &[
            "asyncio/history",
            "native_sync/history",
            "native_sync/fetch_messages",
            "asyncio/message_count",
            "native_sync/message_count",
        ],
    );
    let crypto_available = legacy_module(true).is_some();
    let mut tally = Tally::default();
    let mut interactions = 0;
    let mut foreign = Vec::new();
    for cassette in &cassettes {
        let encrypted = cassette.interactions.iter().any(|i| {
            looks_encrypted(&i.uri) || looks_encrypted(&String::from_utf8_lossy(&i.response_body))
        });
        if encrypted && !crypto_available {
            tally.skip(
                &cassette.name,
                "encrypted messages: the crypto module is not available in this build",
            );
            continue;
        }
        let outcome = replay_cassette(cassette, interpret, run).await;
        interactions += outcome.replayed;
        foreign.extend(outcome.foreign);
        tally.ok(&cassette.name);
    }
    report(&tally, "history", interactions, &foreign);
    assert!(foreign.is_empty(), "{foreign:?}");
    assert_eq!(
        tally.replayed.len() + tally.skipped.len(),
        15,
        "expected the 15 history cassettes"
    );
    if crypto_available {
        assert!(tally.skipped.is_empty());
    }
}
