//! Replays the subscription cassettes recorded from the real PubNub service
//! (`../shared/fixtures/cassettes/asyncio/subscription/`) through the
//! subscribe engine: each client sends the recorded requests in order, and
//! the recorded envelopes arrive on its streams.

mod common;

use std::time::Duration;

use common::harness::next;
use common::replay::{assert_equivalent_with, Captured, Cassette, MatchingReplayServer};
use pubnub_rx::subscribe::{PresenceEvent, StatusStream};
use pubnub_rx::{Config, Error, PubNub, Status, StatusCategory, SubscriptionOptions};
use serde_json::Value;

const GUARD: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test with `what` after [`GUARD`].
async fn within<F: std::future::Future>(future: F, what: &str) -> F::Output {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn load(name: &str) -> Option<Cassette> {
    let shared = common::shared_dir_or_skip(&format!("replay of {name}"))?;
    let root = shared.join("fixtures/cassettes");
    Some(Cassette::load(
        &root.join("asyncio/subscription").join(name),
        &root,
    ))
}

const SUB_KEY: &str = "sub-c-33f55052-190b-11e6-bfbc-02ee2ddab7fe";

fn client(server: &MatchingReplayServer, uuid: &str, suppress_leave: bool) -> PubNub {
    client_with_key(server, SUB_KEY, uuid, suppress_leave)
}

fn client_with_key(
    server: &MatchingReplayServer,
    subscribe_key: &str,
    uuid: &str,
    suppress_leave: bool,
) -> PubNub {
    let config = Config::builder()
        .subscribe_key(subscribe_key)
        .publish_key("pub-c-739aa0fc-3ed5-472b-af26-aca1b333ec52")
        .user_id(uuid)
        .origin(server.origin())
        .ssl(false)
        .suppress_leave_events(suppress_leave)
        .build()
        .unwrap();
    PubNub::new(config).unwrap()
}

async fn expect_category(status: &mut StatusStream, category: StatusCategory) -> Status {
    loop {
        let next = next(status).await;
        if next.category() == category {
            return next;
        }
        assert!(
            !matches!(next, Status::Failed { .. }),
            "unexpected {next:?} while waiting for {category:?}"
        );
    }
}

/// Every request each client sent matched the recorded one at the same
/// position of that client's recorded sequence (and all recorded ones were
/// sent), except long-polls the recording stopped before answering.
fn assert_requests_in_order(cassette: &Cassette, server: &MatchingReplayServer) {
    let log = server.log();
    for (captured, index) in &log {
        match index {
            Some(i) => assert_equivalent_with(
                &cassette.name,
                &cassette.interactions[*i],
                captured,
                &|_, _, _| false,
                &["heartbeat"],
            ),
            None => assert!(
                captured.raw_path.starts_with("/v2/subscribe/"),
                "{}: unexpected request {} {}",
                cassette.name,
                captured.method,
                captured.raw_path
            ),
        }
    }
    // Per client (uuid), its long-polls come in recorded order, and so do
    // its other requests (the two run concurrently, as in the recording).
    let mut by_uuid: std::collections::BTreeMap<(String, bool), Vec<usize>> = Default::default();
    for (captured, index) in &log {
        if let Some(i) = index {
            let long_poll = captured.raw_path.starts_with("/v2/subscribe/");
            by_uuid
                .entry((uuid_of(captured), long_poll))
                .or_default()
                .push(*i);
        }
    }
    for (uuid, indexes) in by_uuid {
        assert!(
            indexes.windows(2).all(|w| w[0] < w[1]),
            "{}: {uuid:?} sent out of recorded order: {indexes:?}",
            cassette.name
        );
    }
    assert!(
        server.unused().is_empty(),
        "{}: recorded requests never sent: {:?}",
        cassette.name,
        server.unused()
    );
}

fn uuid_of(captured: &Captured) -> String {
    captured.query.get("uuid").cloned().unwrap_or_default()
}

/// The envelopes of a recorded response as (channel, timetoken, payload).
fn recorded_envelopes(cassette: &Cassette, index: usize) -> Vec<(String, u64, Value)> {
    let body = cassette.interactions[index].response_json();
    body["m"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["c"].as_str().unwrap().to_owned(),
                e["p"]["t"].as_str().unwrap().parse().unwrap(),
                e["d"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sub_unsub_yaml() {
    let Some(cassette) = load("sub_unsub.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let client = client(&server, "fe92df45-c879-449d-a403-90a17bb9e6e6", false);
    let mut status = client.status();
    let subscription = client
        .channel("test-subscribe-asyncio-ch")
        .subscription(SubscriptionOptions::new());
    subscription.subscribe();
    expect_category(&mut status, StatusCategory::Connected).await;
    subscription.unsubscribe();
    expect_category(&mut status, StatusCategory::Disconnected).await;
    within(server.wait_used(1), "the leave request").await;
    assert_requests_in_order(&cassette, &server);
}

#[tokio::test]
async fn sub_unsub_json_event_engine_without_leave() {
    let Some(cassette) = load("sub_unsub.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    // The recording client (event engine, heartbeat off) sent no leave.
    let client = client_with_key(&server, "{PN_KEY_SUBSCRIBE}", "uuid-mock", true);
    let mut status = client.status();
    let subscription = client
        .channel("test-subscribe-asyncio-ch")
        .subscription(SubscriptionOptions::new());
    subscription.subscribe();
    expect_category(&mut status, StatusCategory::Connected).await;
    within(server.wait_used(1), "the first receive").await;
    subscription.unsubscribe();
    expect_category(&mut status, StatusCategory::Disconnected).await;
    assert_requests_in_order(&cassette, &server);
}

#[tokio::test]
async fn sub_pub_unsub_delivers_the_recorded_message() {
    let Some(cassette) = load("sub_pub_unsub.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let subscriber = client(&server, "test-subscribe-asyncio-uuid-sub", false);
    let publisher = client(&server, "test-subscribe-asyncio-uuid-pub", false);
    let mut status = subscriber.status();
    let subscription = subscriber
        .channel("test-subscribe-asyncio-ch")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_category(&mut status, StatusCategory::Connected).await;
    let sent = publisher
        .publish()
        .channel("test-subscribe-asyncio-ch")
        .message(&"hey")
        .await
        .unwrap();
    let message = next(&mut messages).await;
    let (channel, timetoken, payload) = recorded_envelopes(&cassette, 2).remove(0);
    assert_eq!(
        (message.channel(), message.timetoken()),
        (channel.as_str(), timetoken)
    );
    assert_eq!(
        message.timetoken(),
        sent.timetoken,
        "the recorded publish timetoken is the message's"
    );
    assert_eq!(message.decode::<Value>().unwrap(), payload);
    assert_eq!(message.publisher(), Some("test-subscribe-asyncio-uuid-pub"));
    subscription.unsubscribe();
    expect_category(&mut status, StatusCategory::Disconnected).await;
    within(server.wait_used(3), "the leave request").await;
    assert_requests_in_order(&cassette, &server);
}

#[tokio::test]
async fn join_leave_between_two_clients() {
    let Some(cassette) = load("join_leave.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let listener = client(&server, "test-subscribe-asyncio-listener", false);
    let messenger = client(&server, "test-subscribe-asyncio-messenger", false);
    let mut listener_status = listener.status();
    let channel = "test-subscribe-asyncio-join-leave-ch";
    let listening = listener
        .channel(channel)
        .subscription(SubscriptionOptions::new().with_presence());
    let mut presence = listening.presence();
    listening.subscribe();
    expect_category(&mut listener_status, StatusCategory::Connected).await;

    let mut messenger_status = messenger.status();
    let speaking = messenger
        .channel(channel)
        .subscription(SubscriptionOptions::new());
    speaking.subscribe();
    expect_category(&mut messenger_status, StatusCategory::Connected).await;

    // The recorded events: the listener's own join, then the messenger's.
    let own = next(&mut presence).await;
    assert!(
        matches!(&own.event, PresenceEvent::Join { uuid, .. } if uuid == "test-subscribe-asyncio-listener"),
        "{own:?}"
    );
    let join = next(&mut presence).await;
    assert_eq!(join.channel, channel);
    assert!(
        matches!(&join.event, PresenceEvent::Join { uuid, .. } if uuid == "test-subscribe-asyncio-messenger"),
        "{join:?}"
    );
    let recorded: Vec<u64> = [1, 3]
        .iter()
        .flat_map(|i| recorded_envelopes(&cassette, *i))
        .map(|e| e.1)
        .collect();
    assert_eq!([own.timetoken, join.timetoken], recorded[..2]);

    speaking.unsubscribe();
    within(server.wait_used(5), "the messenger's leave").await;
    let leave = next(&mut presence).await;
    assert!(
        matches!(&leave.event, PresenceEvent::Leave { uuid, .. } if uuid == "test-subscribe-asyncio-messenger"),
        "{leave:?}"
    );

    listening.unsubscribe();
    within(server.wait_used(6), "the listener's leave").await;
    assert_requests_in_order(&cassette, &server);
}

#[tokio::test]
async fn access_denied_stops_without_retrying() {
    let Some(cassette) = load("access_denied_unsubscribe_operation.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let config = Config::builder()
        .subscribe_key("sub-c-7ba2ac4c-4836-11e6-85a4-0619f8945a4f")
        .user_id("uuid-mock")
        .origin(server.origin())
        .ssl(false)
        .build()
        .unwrap();
    let client = PubNub::new(config).unwrap();
    let mut status = client.status();
    let subscription = client
        .channel("not-permitted-channel")
        .subscription(SubscriptionOptions::new());
    subscription.subscribe();
    match next(&mut status).await {
        Status::Failed {
            category: StatusCategory::AccessDenied,
            error: Error::AccessDenied { channels, .. },
        } => {
            assert_eq!(channels, ["not-permitted-channel"]);
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    // No retry: the unsubscribe that follows finds exactly one request sent.
    subscription.unsubscribe();
    expect_category(&mut status, StatusCategory::Disconnected).await;
    let subscribes = server
        .log()
        .iter()
        .filter(|(c, _)| c.raw_path.starts_with("/v2/subscribe/"))
        .count();
    assert_eq!(subscribes, 1);
    assert_requests_in_order(&cassette, &server);
}

/// The recording patched the legacy cryptor's random IV to a constant; a
/// custom [`Cryptor`] (the public extension point) does the same here so
/// the publish path matches byte for byte.
#[derive(Debug)]
struct FixedIv(pubnub_rx::crypto::LegacyCryptor);

impl pubnub_rx::crypto::Cryptor for FixedIv {
    fn identifier(&self) -> [u8; 4] {
        self.0.identifier()
    }
    fn encrypt(
        &self,
        plaintext: &[u8],
    ) -> Result<pubnub_rx::crypto::EncryptedData<'static>, pubnub_rx::crypto::CryptoError> {
        self.0.encrypt_with_iv(plaintext, *b"knightsofni12345")
    }
    fn decrypt(
        &self,
        data: &pubnub_rx::crypto::EncryptedData<'_>,
    ) -> Result<Vec<u8>, pubnub_rx::crypto::CryptoError> {
        self.0.decrypt(data)
    }
}

#[tokio::test]
async fn sub_pub_unsub_encrypted_message_is_decrypted_once() {
    let Some(cassette) = load("sub_pub_unsub_enc.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let cryptor = pubnub_rx::crypto::LegacyCryptor::new("testKey", true).unwrap();
    let config = Config::builder()
        .subscribe_key(SUB_KEY)
        .publish_key("pub-c-739aa0fc-3ed5-472b-af26-aca1b333ec52")
        .user_id("test-subscribe-asyncio-uuid")
        .origin(server.origin())
        .ssl(false)
        .crypto_module(pubnub_rx::crypto::CryptoModule::new(
            FixedIv(cryptor),
            Vec::new(),
        ))
        .build()
        .unwrap();
    let client = PubNub::new(config).unwrap();
    let mut status = client.status();
    let subscription = client
        .channel("test-subscribe-asyncio-ch")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_category(&mut status, StatusCategory::Connected).await;
    client
        .publish()
        .channel("test-subscribe-asyncio-ch")
        .message(&"hey")
        .await
        .unwrap();
    let message = next(&mut messages).await;
    assert_eq!(message.decryption_error(), None);
    assert_eq!(message.decode::<String>().unwrap(), "hey");
    assert_eq!(message.payload_json(), "\"hey\"");
    subscription.unsubscribe();
    within(server.wait_used(3), "the leave request").await;
    assert_requests_in_order(&cassette, &server);
}

#[tokio::test]
async fn encrypted_message_with_the_wrong_key_arrives_with_its_error() {
    let Some(cassette) = load("sub_pub_unsub_enc.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let config = Config::builder()
        .subscribe_key(SUB_KEY)
        .user_id("test-subscribe-asyncio-uuid")
        .origin(server.origin())
        .ssl(false)
        .cipher_key("not the key")
        .build()
        .unwrap();
    let client = PubNub::new(config).unwrap();
    let subscription = client
        .channel("test-subscribe-asyncio-ch")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    let message = next(&mut messages).await;
    assert!(
        matches!(message.decryption_error(), Some(Error::Crypto(_))),
        "{message:?}"
    );
    assert_eq!(
        message.payload_json(),
        "\"a25pZ2h0c29mbmkxMjM0Nf61IdsMAvG1F5OWmMXjVxo=\"",
        "the raw payload is kept"
    );
    assert!(matches!(message.decode::<String>(), Err(Error::Crypto(_))));
}

#[tokio::test]
async fn cg_sub_unsub() {
    let Some(cassette) = load("cg_sub_unsub.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let c = client(&server, "474f7988-1e54-462b-89d4-13e50f26f43c", false);
    let mut status = c.status();
    let group = c.channel_group("test-subscribe-asyncio-group");
    group.add(["test-subscribe-asyncio-channel"]).await.unwrap();
    let subscription = group.subscription(SubscriptionOptions::new());
    subscription.subscribe();
    expect_category(&mut status, StatusCategory::Connected).await;
    subscription.unsubscribe();
    expect_category(&mut status, StatusCategory::Disconnected).await;
    within(server.wait_used(2), "the leave request").await;
    group
        .remove(["test-subscribe-asyncio-channel"])
        .await
        .unwrap();
    assert_requests_in_order(&cassette, &server);
}

#[tokio::test]
async fn cg_sub_pub_unsub_delivers_through_the_group() {
    let Some(cassette) = load("cg_sub_pub_unsub.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let c = client(&server, "816d9356-41d0-4b1d-ba5c-b3488822ab64", false);
    let mut status = c.status();
    let group = c.channel_group("test-subscribe-asyncio-group");
    group.add(["test-subscribe-asyncio-channel"]).await.unwrap();
    let subscription = group.subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription.subscribe();
    expect_category(&mut status, StatusCategory::Connected).await;
    c.publish()
        .channel("test-subscribe-asyncio-channel")
        .message(&"hey")
        .await
        .unwrap();
    let message = next(&mut messages).await;
    assert_eq!(message.channel(), "test-subscribe-asyncio-channel");
    assert_eq!(message.subscription(), "test-subscribe-asyncio-group");
    assert_eq!(message.decode::<String>().unwrap(), "hey");
    subscription.unsubscribe();
    within(server.wait_used(4), "the leave request").await;
    group
        .remove(["test-subscribe-asyncio-channel"])
        .await
        .unwrap();
    assert_requests_in_order(&cassette, &server);
}

#[tokio::test]
async fn cg_join_leave_presence_through_a_group() {
    let Some(cassette) = load("cg_join_leave.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let listener = client(&server, "test-subscribe-asyncio-listener", false);
    let messenger = client(&server, "test-subscribe-asyncio-messenger", false);
    let (group, channel) = (
        "test-subscribe-asyncio-join-leave-cg-group",
        "test-subscribe-asyncio-join-leave-cg-channel",
    );
    messenger.channel_group(group).add([channel]).await.unwrap();

    let mut listener_status = listener.status();
    let listening = listener
        .channel_group(group)
        .subscription(SubscriptionOptions::new().with_presence());
    let mut presence = listening.presence();
    listening.subscribe();
    expect_category(&mut listener_status, StatusCategory::Connected).await;

    let mut messenger_status = messenger.status();
    let speaking = messenger
        .channel_group(group)
        .subscription(SubscriptionOptions::new());
    speaking.subscribe();
    expect_category(&mut messenger_status, StatusCategory::Connected).await;

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = next(&mut presence).await;
        assert_eq!(event.channel, channel);
        assert_eq!(event.subscription, group, "matched through the group");
        if let PresenceEvent::Join { uuid, .. } = &event.event {
            seen.push(uuid.clone());
        }
    }
    assert_eq!(
        seen,
        [
            "test-subscribe-asyncio-listener",
            "test-subscribe-asyncio-messenger"
        ]
    );

    speaking.unsubscribe();
    within(server.wait_used(6), "the messenger's leave").await;
    let leave = next(&mut presence).await;
    assert!(
        matches!(&leave.event, PresenceEvent::Leave { uuid, .. } if uuid == "test-subscribe-asyncio-messenger"),
        "{leave:?}"
    );
    listening.unsubscribe();
    within(server.wait_used(7), "the listener's leave").await;
    messenger
        .channel_group(group)
        .remove([channel])
        .await
        .unwrap();
    assert_requests_in_order(&cassette, &server);
}

#[tokio::test]
async fn unsubscribe_all_leaves_every_channel_and_group() {
    let Some(cassette) = load("unsubscribe_all.yaml.json") else {
        return;
    };
    let server = MatchingReplayServer::start(&cassette).await;
    let c = client(&server, "test-subscribe-asyncio-messenger", false);
    let prefix = "test-subscribe-asyncio-unsubscribe-all";
    for g in ["gr1", "gr2"] {
        c.channel_group(format!("{prefix}-{g}"))
            .add([format!("{prefix}-ch")])
            .await
            .unwrap();
    }
    let mut status = c.status();
    let mut members: Vec<_> = ["ch1", "ch2", "ch3"]
        .iter()
        .map(|ch| {
            c.channel(format!("{prefix}-{ch}"))
                .subscription(SubscriptionOptions::new())
        })
        .collect();
    members.extend(["gr1", "gr2"].iter().map(|g| {
        c.channel_group(format!("{prefix}-{g}"))
            .subscription(SubscriptionOptions::new())
    }));
    let set = c.subscription_set(members);
    set.subscribe();
    expect_category(&mut status, StatusCategory::Connected).await;
    c.unsubscribe_all();
    expect_category(&mut status, StatusCategory::Disconnected).await;
    within(server.wait_used(3), "one leave for everything").await;
    for g in ["gr1", "gr2"] {
        c.channel_group(format!("{prefix}-{g}"))
            .remove([format!("{prefix}-ch")])
            .await
            .unwrap();
    }
    assert_requests_in_order(&cassette, &server);
}

/// The cassettes the scenarios above replay; a new cassette in the folder
/// fails this test until it gets a scenario.
const REPLAYED: &[&str] = &[
    "access_denied_unsubscribe_operation.yaml.json",
    "cg_join_leave.yaml.json",
    "cg_sub_pub_unsub.yaml.json",
    "cg_sub_unsub.yaml.json",
    "join_leave.yaml.json",
    "sub_pub_unsub.yaml.json",
    "sub_pub_unsub_enc.yaml.json",
    "sub_unsub.json",
    "sub_unsub.yaml.json",
    "unsubscribe_all.yaml.json",
];

#[test]
fn every_subscription_cassette_has_a_scenario() {
    let Some(shared) = common::shared_dir_or_skip("every_subscription_cassette_has_a_scenario")
    else {
        return;
    };
    let dir = shared.join("fixtures/cassettes/asyncio/subscription");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, REPLAYED);
    println!(
        "subscription cassettes replayed: {}/{}",
        REPLAYED.len(),
        found.len()
    );
}
