//! Replays every Mobile Push cassette recorded from the real PubNub service
//! (`../shared/fixtures/cassettes/native_sync/*push*`): our client must send
//! the same requests (path, device token encoding, `type` / `environment` /
//! `topic`, `add` / `remove` lists) and read the recorded answers — channel
//! lists in order, `{"error": "Invalid device token"}` as an error. Requests
//! the recording client sent without a push type are refused by ours before
//! anything is sent.

mod common;

use common::replay::{assert_equivalent, Cassette, Interaction, Tally};
use common::rest::{client_for, replay_cassette, report, ReplayServerRef};
use pubnub_rx::api::push::{ApnsEnvironment, PushType};
use pubnub_rx::{Config, Error, PubNub};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Add,
    Remove,
    List,
    RemoveDevice,
}

#[derive(Debug, Clone)]
struct Call {
    action: Action,
    push_type: Option<PushType>,
    device: String,
}

fn interpret(i: &Interaction) -> Option<Call> {
    let s = i.segments();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    let q = i.query();
    let (apns2, device, remove_device) = match s.as_slice() {
        ["v1", "push", "sub-key", _, "devices", device] => (false, *device, false),
        ["v1", "push", "sub-key", _, "devices", device, "remove"] => (false, *device, true),
        ["v2", "push", "sub-key", _, "devices-apns2", device] => (true, *device, false),
        ["v2", "push", "sub-key", _, "devices-apns2", device, "remove"] => (true, *device, true),
        _ => return None,
    };
    let push_type = if apns2 {
        Some(PushType::Apns2)
    } else {
        match q.get("type").map(String::as_str) {
            Some("apns") => Some(PushType::Apns),
            Some("gcm") => Some(PushType::Gcm),
            Some("fcm") => Some(PushType::Fcm),
            _ => None,
        }
    };
    let action = if remove_device {
        Action::RemoveDevice
    } else if q.contains_key("add") {
        Action::Add
    } else if q.contains_key("remove") {
        Action::Remove
    } else {
        Action::List
    };
    Some(Call {
        action,
        push_type,
        device: device.to_owned(),
    })
}

/// The recorded channel list of an add/remove.
fn channels(i: &Interaction, key: &str) -> Vec<String> {
    i.query()
        .get(key)
        .map(|list| list.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Runs our equivalent of a recorded push call; `Err` is our client's error.
async fn call(client: &PubNub, i: &Interaction, c: &Call) -> Result<Option<Vec<String>>, Error> {
    let q = i.query();
    let environment = match q.get("environment").map(String::as_str) {
        Some("production") => ApnsEnvironment::Production,
        _ => ApnsEnvironment::Development,
    };
    let topic = q.get("topic").cloned().unwrap_or_default();
    macro_rules! device {
        ($builder:expr) => {{
            let mut b = $builder.device_id(c.device.clone());
            if let Some(t) = c.push_type {
                b = b.push_type(t);
            }
            if c.push_type == Some(PushType::Apns2) {
                b = b.topic(topic.clone()).environment(environment);
            }
            b
        }};
    }
    match c.action {
        Action::Add => device!(client.add_push_channels())
            .channels(channels(i, "add"))
            .await
            .map(|()| None),
        Action::Remove => device!(client.remove_push_channels())
            .channels(channels(i, "remove"))
            .await
            .map(|()| None),
        Action::List => device!(client.list_push_channels()).await.map(Some),
        Action::RemoveDevice => device!(client.remove_push_device()).await.map(|()| None),
    }
}

async fn run(cassette: String, server: ReplayServerRef, i: Interaction, c: Call, index: usize) {
    let cassette = cassette.as_str();
    let client = client_for(&server, &i, &i.segments()[3]);
    let result = call(&client, &i, &c).await;
    match (i.status, result) {
        (200, Ok(list)) => {
            let body = i.response_json();
            if let Some(list) = list {
                let recorded: Vec<String> = serde_json::from_value(body).unwrap();
                assert_eq!(list, recorded, "{cassette}: channel list, in order");
            }
        }
        (400, Err(error)) => {
            assert_eq!(error.status(), Some(400), "{cassette}: {error:?}");
            let recorded = i.response_json()["error"].as_str().unwrap().to_owned();
            assert!(
                error.to_string().contains(&recorded),
                "{cassette}: our error `{error}` lacks the server's `{recorded}`"
            );
        }
        (status, other) => panic!("{cassette}: recorded {status}, ours {other:?}"),
    }
    let ours = server.sent(cassette, index);
    assert_equivalent(cassette, &i, &ours, &|_, _, _| false);
}

#[tokio::test]
async fn every_push_cassette_replays() {
    let Some(shared) = common::shared_dir_or_skip("every_push_cassette_replays") else {
        return;
    };
    let cassettes = Cassette::load_dirs(
        &shared,
        &[
            "native_sync/add_channels_to_push",
            "native_sync/list_push_channels",
            "native_sync/remove_channels_from_push",
            "native_sync/remove_device_from_push",
        ],
    );
    let mut tally = Tally::default();
    let mut interactions = 0;
    let mut refused = 0;
    for cassette in &cassettes {
        let (typed, untyped): (Vec<_>, Vec<_>) = cassette
            .interactions
            .iter()
            .partition(|i| interpret(i).is_some_and(|c| c.push_type.is_some()));
        // Recorded without a push type: the real server said 400 "Invalid
        // type argument"; ours refuses before sending anything.
        for i in untyped {
            let c = interpret(i).expect("a push request");
            assert_eq!(i.status, 400, "{}", cassette.name);
            let client = PubNub::new(
                Config::builder()
                    .origin("127.0.0.1:9")
                    .ssl(false)
                    .subscribe_key("sub")
                    .user_id("u")
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let error = call(&client, i, &c).await.unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::InvalidArgument {
                        name: "push_type",
                        ..
                    }
                ),
                "{}: {error:?}",
                cassette.name
            );
            refused += 1;
        }
        if typed.is_empty() {
            tally.ok(&cassette.name);
            continue;
        }
        let only_typed = Cassette {
            interactions: typed.into_iter().cloned().collect(),
            ..cassette.clone()
        };
        let outcome = replay_cassette(&only_typed, interpret, run).await;
        assert!(outcome.foreign.is_empty(), "{:?}", outcome.foreign);
        interactions += outcome.replayed;
        tally.ok(&cassette.name);
    }
    report(&tally, "push", interactions, &[]);
    println!("push: {refused} untyped requests refused client-side");
    assert_eq!(tally.replayed.len(), 82, "expected the 82 push cassettes");
    assert_eq!(refused, 4, "the four invalid_push_type_error cassettes");
}

#[tokio::test]
async fn bad_push_input_is_refused_before_sending() {
    let client = PubNub::new(
        Config::builder()
            .origin("127.0.0.1:9")
            .ssl(false)
            .subscribe_key("sub")
            .user_id("u")
            .build()
            .unwrap(),
    )
    .unwrap();
    let empty_device = client
        .list_push_channels()
        .push_type(PushType::Fcm)
        .await
        .unwrap_err();
    assert!(matches!(
        empty_device,
        Error::InvalidArgument {
            name: "device_id",
            ..
        }
    ));
    let no_channels = client
        .add_push_channels()
        .device_id("d")
        .push_type(PushType::Gcm)
        .await
        .unwrap_err();
    assert!(matches!(
        no_channels,
        Error::InvalidArgument {
            name: "channels",
            ..
        }
    ));
    let no_topic = client
        .remove_push_device()
        .device_id("d")
        .push_type(PushType::Apns2)
        .await
        .unwrap_err();
    assert!(matches!(
        no_topic,
        Error::InvalidArgument { name: "topic", .. }
    ));
}
