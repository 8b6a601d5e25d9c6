//! Mobile Push end to end: pubnub-rx's client against the embedded dev
//! server. Add → list → remove → remove device for every push type, APNs2
//! topic / environment and device isolation, PubNub's recorded answers and
//! error bodies byte for byte, the notifications a publish with `pn_fcm` /
//! `pn_apns` records, and Access Manager.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use dev_server::{test_config, TestServer, PUB, SUB};
use pubnub_rx::api::push::{
    Apns2Target, ApnsEnvironment, ApnsPayload, FcmPayload, PushPayload, PushType,
};
use pubnub_rx::server::{Keyset, PushService, RouteKind, MAX_CHANNELS_PER_DEVICE};
use pubnub_rx::{Config, Error, PubNub};
use serde_json::json;

/// A hex token, as APNs issues them (FCM accepts it too).
const TOKEN: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const OTHER: &str = "ffffeeeeddddccccbbbbaaaa99998888";
const TOPIC: &str = "com.example.app";

fn config(t: &TestServer, user_id: &str) -> pubnub_rx::ConfigBuilder {
    Config::builder()
        .subscribe_key(SUB)
        .publish_key(PUB)
        .user_id(user_id)
        .origin(t.server.origin())
        .ssl(false)
}

fn client(t: &TestServer, user_id: &str) -> PubNub {
    PubNub::new(config(t, user_id).build().unwrap()).unwrap()
}

/// One device: token, type and, for APNs2, topic and environment.
#[derive(Clone, Copy)]
struct Device<'a> {
    token: &'a str,
    push_type: PushType,
    topic: &'a str,
    environment: ApnsEnvironment,
}

impl<'a> Device<'a> {
    fn new(token: &'a str, push_type: PushType) -> Self {
        Self {
            token,
            push_type,
            topic: TOPIC,
            environment: ApnsEnvironment::Development,
        }
    }

    fn apns2(token: &'a str, topic: &'a str, environment: ApnsEnvironment) -> Self {
        Self {
            token,
            push_type: PushType::Apns2,
            topic,
            environment,
        }
    }
}

macro_rules! on {
    ($builder:expr, $d:expr) => {{
        let d = $d;
        let b = $builder.device_id(d.token).push_type(d.push_type);
        if d.push_type == PushType::Apns2 {
            b.topic(d.topic).environment(d.environment)
        } else {
            b
        }
    }};
}

async fn add(c: &PubNub, d: Device<'_>, channels: &[&str]) -> Result<(), Error> {
    on!(c.add_push_channels(), d)
        .channels(channels.iter().copied())
        .await
}

async fn remove(c: &PubNub, d: Device<'_>, channels: &[&str]) -> Result<(), Error> {
    on!(c.remove_push_channels(), d)
        .channels(channels.iter().copied())
        .await
}

async fn list(c: &PubNub, d: Device<'_>) -> Result<Vec<String>, Error> {
    on!(c.list_push_channels(), d).await
}

async fn remove_device(c: &PubNub, d: Device<'_>) -> Result<(), Error> {
    on!(c.remove_push_device(), d).await
}

#[tokio::test]
async fn add_list_remove_remove_device_for_every_push_type() {
    let t = TestServer::start().await;
    let c = client(&t, "phone");
    for push_type in [
        PushType::Fcm,
        PushType::Gcm,
        PushType::Apns,
        PushType::Apns2,
    ] {
        let d = Device::new(TOKEN, push_type);
        assert!(list(&c, d).await.unwrap().is_empty(), "{push_type:?}");
        add(&c, d, &["news", "alerts", "sports"]).await.unwrap();
        // Sorted by name, as PubNub lists them.
        assert_eq!(
            list(&c, d).await.unwrap(),
            ["alerts", "news", "sports"],
            "{push_type:?}"
        );
        remove(&c, d, &["news", "never-added"]).await.unwrap();
        assert_eq!(list(&c, d).await.unwrap(), ["alerts", "sports"]);
        remove_device(&c, d).await.unwrap();
        assert!(list(&c, d).await.unwrap().is_empty(), "{push_type:?}");
        // Removing again is still fine, as recorded.
        remove_device(&c, d).await.unwrap();
    }
    let logged = t.server.request_log().of_kind(RouteKind::Push);
    assert_eq!(logged.len(), 4 * 8);
}

#[tokio::test]
async fn apns2_topic_and_environment_are_separate_registrations() {
    let t = TestServer::start().await;
    let c = client(&t, "phone");
    let dev = Device::apns2(TOKEN, TOPIC, ApnsEnvironment::Development);
    let prod = Device::apns2(TOKEN, TOPIC, ApnsEnvironment::Production);
    let other_topic = Device::apns2(TOKEN, "com.example.other", ApnsEnvironment::Development);
    add(&c, dev, &["dev-ch"]).await.unwrap();
    add(&c, prod, &["prod-ch"]).await.unwrap();
    add(&c, other_topic, &["other-ch"]).await.unwrap();
    assert_eq!(list(&c, dev).await.unwrap(), ["dev-ch"]);
    assert_eq!(list(&c, prod).await.unwrap(), ["prod-ch"]);
    assert_eq!(list(&c, other_topic).await.unwrap(), ["other-ch"]);
    // Removing the development device leaves the others (as recorded in
    // `apns2_cross_environment_removal`).
    remove_device(&c, dev).await.unwrap();
    assert!(list(&c, dev).await.unwrap().is_empty());
    assert_eq!(list(&c, prod).await.unwrap(), ["prod-ch"]);
    assert_eq!(list(&c, other_topic).await.unwrap(), ["other-ch"]);
    // An APNs (certificate) device with the same token is another one.
    assert!(list(&c, Device::new(TOKEN, PushType::Apns))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn devices_and_push_types_are_isolated() {
    let t = TestServer::start().await;
    let c = client(&t, "phone");
    let first = Device::new(TOKEN, PushType::Fcm);
    let second = Device::new(OTHER, PushType::Fcm);
    add(&c, first, &["d1", "shared"]).await.unwrap();
    add(&c, second, &["d2", "shared"]).await.unwrap();
    assert_eq!(list(&c, first).await.unwrap(), ["d1", "shared"]);
    assert_eq!(list(&c, second).await.unwrap(), ["d2", "shared"]);
    // The same token under gcm is a different registration.
    assert!(list(&c, Device::new(TOKEN, PushType::Gcm))
        .await
        .unwrap()
        .is_empty());
    remove_device(&c, first).await.unwrap();
    assert_eq!(list(&c, second).await.unwrap(), ["d2", "shared"]);
    // Tokens are compared exactly.
    add(&c, Device::new("ABCDEF12", PushType::Apns), &["upper"])
        .await
        .unwrap();
    assert!(list(&c, Device::new("abcdef12", PushType::Apns))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn answers_and_errors_are_the_recorded_bytes() {
    let t = TestServer::start().await;
    let v1 = format!("/v1/push/sub-key/{SUB}/devices");
    let v2 = format!("/v2/push/sub-key/{SUB}/devices-apns2");
    let content_type = Some("text/javascript; charset=\"UTF-8\"".to_owned());
    for (path, status, body) in [
        (
            format!("{v1}/{TOKEN}?add=b%2Ca&type=apns&uuid=u"),
            200,
            r#"[1, "Modified Channels"]"#,
        ),
        (
            format!("{v1}/{TOKEN}?type=apns&uuid=u"),
            200,
            r#"["a", "b"]"#,
        ),
        (
            format!("{v1}/{TOKEN}/remove?type=apns&uuid=u"),
            200,
            r#"[1, "Removed Device"]"#,
        ),
        (format!("{v1}/{TOKEN}?type=apns&uuid=u"), 200, "[]"),
        (
            format!("{v1}/{TOKEN}?add=a&uuid=u"),
            400,
            r#"{"error": "Invalid type argument"}"#,
        ),
        (
            format!("{v1}/{TOKEN}?uuid=u"),
            400,
            r#"{"error": "Invalid type argument"}"#,
        ),
        (
            format!("{v1}/{TOKEN}/remove?type=apns2&uuid=u"),
            400,
            r#"{"error": "Invalid type argument"}"#,
        ),
        (
            format!("{v1}/device_id_should_be_16_characters_long?add=a&type=apns&uuid=u"),
            400,
            r#"{"error": "Invalid device token"}"#,
        ),
        (
            format!("{v2}/{TOKEN}?add=a&environment=development&uuid=u"),
            400,
            r#"{"error": "Invalid topic argument"}"#,
        ),
        (
            format!("{v2}/{TOKEN}?add=a&environment=staging&topic={TOPIC}&uuid=u"),
            400,
            r#"{"error": "Invalid environment argument"}"#,
        ),
        // Removing and listing accept any token, as recorded.
        (
            format!("{v1}/nonexistent_device_123/remove?type=apns&uuid=u"),
            200,
            r#"[1, "Removed Device"]"#,
        ),
        (
            format!("{v1}/%20%201234567890ABCDEF%20%20?remove=x&type=apns&uuid=u"),
            200,
            r#"[1, "Modified Channels"]"#,
        ),
        // APNs2 without `environment` is development.
        (
            format!("{v2}/{TOKEN}?add=z&topic={TOPIC}&uuid=u"),
            200,
            r#"[1, "Modified Channels"]"#,
        ),
        (
            format!("{v2}/{TOKEN}?environment=development&topic={TOPIC}&uuid=u"),
            200,
            r#"["z"]"#,
        ),
    ] {
        let reply = t.get(&path).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (status, body),
            "{path}"
        );
        assert_eq!(reply.content_type, content_type, "{path}");
    }
    let wrong_method = t
        .request("POST", &format!("{v1}/{TOKEN}?type=fcm"), None, &[])
        .await;
    assert_eq!(wrong_method.status, 405);

    // The client reports the server's words.
    let c = client(&t, "phone");
    let refused = add(&c, Device::new("not-hex!", PushType::Apns), &["a"]).await;
    assert!(
        matches!(&refused, Err(Error::Http { status: 400, message, .. }) if message == "Invalid device token"),
        "{refused:?}"
    );
    // FCM tokens are not hex and are accepted.
    add(&c, Device::new("fcm:token-1_x", PushType::Fcm), &["a"])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_device_holds_a_bounded_number_of_channels() {
    let t = TestServer::start().await;
    let c = client(&t, "phone");
    let d = Device::new(TOKEN, PushType::Fcm);
    let names: Vec<String> = (0..MAX_CHANNELS_PER_DEVICE)
        .map(|i| format!("c{i}"))
        .collect();
    for chunk in names.chunks(250) {
        on!(c.add_push_channels(), d)
            .channels(chunk.iter().cloned())
            .await
            .unwrap();
    }
    let over = add(&c, d, &["one-too-many"]).await;
    assert!(
        matches!(&over, Err(Error::Http { status: 400, message, .. }) if message.contains("at most 1000")),
        "{over:?}"
    );
    // Nothing changed and the server keeps serving.
    assert_eq!(list(&c, d).await.unwrap().len(), MAX_CHANNELS_PER_DEVICE);
    add(&c, d, &["c0"]).await.unwrap();
}

#[tokio::test]
async fn a_publish_with_push_payloads_records_the_notifications() {
    let t = TestServer::start().await;
    let c = client(&t, "phone");
    let fcm = Device::new(OTHER, PushType::Fcm);
    let apns = Device::new(TOKEN, PushType::Apns);
    let apns2_prod = Device::apns2(TOKEN, TOPIC, ApnsEnvironment::Production);
    let apns2_dev = Device::apns2(TOKEN, TOPIC, ApnsEnvironment::Development);
    for d in [fcm, apns, apns2_prod, apns2_dev] {
        add(&c, d, &["alerts"]).await.unwrap();
    }
    add(&c, fcm, &["quiet"]).await.unwrap();

    // Nothing recorded for a message without pn_* keys, or on a channel
    // without devices.
    c.publish()
        .channel("alerts")
        .message(&json!({"text": "plain"}))
        .await
        .unwrap();
    c.publish()
        .channel("elsewhere")
        .message(&json!({"pn_fcm": {"notification": {"title": "x"}}}))
        .await
        .unwrap();
    assert!(t.server.push_notifications(SUB).is_empty());

    let message = json!({
        "text": "hello",
        "pn_fcm": {"notification": {"title": "Hello", "body": "from FCM"}},
        "pn_apns": {
            "aps": {"alert": "Hello from APNs"},
            "pn_push": [{"targets": [{"environment": "production", "topic": TOPIC}], "version": "v2"}]
        },
        "pn_debug": true
    });
    let published = c
        .publish()
        .channel("alerts")
        .message(&message)
        .await
        .unwrap();
    let mut got = t.server.push_notifications(SUB);
    got.sort_by_key(|n| n.push_type);
    let summary: Vec<_> = got
        .iter()
        .map(|n| {
            (
                n.push_type,
                n.device.as_str(),
                n.topic.as_deref(),
                n.environment,
            )
        })
        .collect();
    // The development APNs2 device is not among the targets.
    assert_eq!(
        summary,
        [
            (PushService::Fcm, OTHER, None, None),
            (PushService::Apns, TOKEN, None, None),
            (
                PushService::Apns2,
                TOKEN,
                Some(TOPIC),
                Some(ApnsEnvironment::Production)
            ),
        ]
    );
    for n in &got {
        assert_eq!(n.channel, "alerts");
        assert_eq!(n.timetoken, published.timetoken);
        assert!(n.debug);
    }
    assert_eq!(got[0].payload, message["pn_fcm"]);
    assert_eq!(got[1].payload, message["pn_apns"]);

    // The same at the inspection endpoint, as JSON.
    let reply = t.get(&format!("/dev/push/{SUB}/notifications")).await;
    assert_eq!(reply.status, 200);
    let listed = reply.json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3);
    let apns2 = listed
        .iter()
        .find(|n| n["push_type"] == "apns2")
        .expect("the apns2 notification");
    assert_eq!(
        *apns2,
        json!({
            "channel": "alerts",
            "push_type": "apns2",
            "device": TOKEN,
            "topic": TOPIC,
            "environment": "production",
            "payload": message["pn_apns"],
            "timetoken": published.timetoken.to_string(),
            "debug": true
        })
    );
    // An unknown keyset has none; the inspection route is not logged.
    assert_eq!(t.get("/dev/push/nobody/notifications").await.body, "[]");
    assert!(t
        .server
        .request_log()
        .snapshot()
        .iter()
        .all(|r| !r.path.starts_with("/dev/")));

    // Once the device is removed, publishing records nothing more for it.
    remove_device(&c, fcm).await.unwrap();
    c.publish()
        .channel("quiet")
        .message(&json!({"pn_gcm": {"data": {"k": 1}}}))
        .await
        .unwrap();
    assert_eq!(t.server.push_notifications(SUB).len(), 3);
    add(&c, Device::new(OTHER, PushType::Gcm), &["quiet"])
        .await
        .unwrap();
    c.publish()
        .channel("quiet")
        .message(&json!({"pn_gcm": {"data": {"k": 2}}}))
        .await
        .unwrap();
    let last = t.server.push_notifications(SUB).pop().unwrap();
    assert_eq!(last.push_type, PushService::Gcm);
    assert_eq!(last.payload, json!({"data": {"k": 2}}));
    assert!(!last.debug);
}

#[tokio::test]
async fn access_manager_needs_read_on_the_channels() {
    const SECRET: &str = "sec-c-push";
    let t = TestServer::with_config(
        test_config().with_keyset(Keyset::new(SUB, PUB).with_secret_key(SECRET)),
    )
    .await;
    let admin = PubNub::new(config(&t, "admin").secret_key(SECRET).build().unwrap()).unwrap();
    admin
        .grant()
        .channels(["granted"])
        .auth_keys(["phone"])
        .read(true)
        .ttl(60)
        .await
        .unwrap();
    let phone = PubNub::new(config(&t, "phone").auth_key("phone").build().unwrap()).unwrap();
    let nobody = client(&t, "nobody");
    let d = Device::new(OTHER, PushType::Fcm);

    let denied = add(&phone, d, &["granted", "secret"]).await;
    assert!(
        matches!(&denied, Err(Error::AccessDenied { channels, .. }) if channels == &["secret"]),
        "{denied:?}"
    );
    assert!(list(&phone, d).await.unwrap().is_empty(), "nothing added");
    add(&phone, d, &["granted"]).await.unwrap();
    assert_eq!(list(&phone, d).await.unwrap(), ["granted"]);

    // Without the grant, neither listing nor removing the device is allowed.
    for refused in [
        list(&nobody, d).await.map(|_| ()),
        remove_device(&nobody, d).await,
        remove(&nobody, d, &["granted"]).await,
    ] {
        assert!(
            matches!(&refused, Err(Error::AccessDenied { channels, .. }) if channels == &["granted"]),
            "{refused:?}"
        );
    }
    // A device with no channels touches nothing that needs a grant.
    assert!(list(&nobody, Device::new(TOKEN, PushType::Fcm))
        .await
        .unwrap()
        .is_empty());
    // The admin (signed) may do anything.
    add(&admin, d, &["secret"]).await.unwrap();
    let partly = remove_device(&phone, d).await;
    assert!(
        matches!(&partly, Err(Error::AccessDenied { channels, .. }) if channels == &["secret"]),
        "{partly:?}"
    );
    remove_device(&admin, d).await.unwrap();
    assert!(list(&phone, d).await.unwrap().is_empty());
}

/// Every recorded push exchange, sent as recorded to a fresh dev server per
/// cassette: the same status, and the same body byte for byte — except
/// that a recorded channel list also held channels the recording keyset
/// kept from earlier tests, so ours must be a subset of it, in its order.
#[tokio::test]
async fn every_recorded_exchange_gets_the_recorded_answer() {
    use common::replay::Cassette;
    let Some(shared) =
        common::shared_dir_or_skip("every_recorded_exchange_gets_the_recorded_answer")
    else {
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
    assert_eq!(cassettes.len(), 82);
    let mut exchanges = 0;
    for cassette in &cassettes {
        let t = TestServer::start().await;
        for i in &cassette.interactions {
            let path = i.uri.split_once(".com").map_or(i.uri.as_str(), |(_, p)| p);
            let path = path.replace("{PN_KEY_SUBSCRIBE}", SUB);
            let reply = t.get(&path).await;
            let recorded = String::from_utf8_lossy(&i.response_body);
            assert_eq!(reply.status, i.status, "{}: {path}", cassette.name);
            let recorded_list: Option<Vec<String>> = serde_json::from_str(&recorded).ok();
            match recorded_list {
                Some(recorded_list) => {
                    let ours: Vec<String> = serde_json::from_str(&reply.body).unwrap();
                    let mut sorted = recorded_list.clone();
                    sorted.sort();
                    assert!(
                        ours.iter().all(|c| recorded_list.contains(c)),
                        "{}: {path}: {ours:?} not within {recorded_list:?}",
                        cassette.name
                    );
                    if sorted == recorded_list {
                        // Our list is sorted too: then it is the recorded
                        // one with some names left out.
                        let kept: Vec<&String> =
                            recorded_list.iter().filter(|c| ours.contains(c)).collect();
                        assert_eq!(ours.iter().collect::<Vec<_>>(), kept, "{}", cassette.name);
                    }
                }
                None => assert_eq!(reply.body, recorded, "{}: {path}", cassette.name),
            }
            exchanges += 1;
        }
    }
    assert_eq!(exchanges, 140);
}

/// The client's payload builder and the server's delivery rules agree:
/// its APNs2 target reaches exactly the device it names.
#[tokio::test]
async fn the_payload_builder_reaches_the_devices_it_targets() {
    let t = TestServer::start().await;
    let c = client(&t, "phone");
    let prod = Device::apns2(TOKEN, TOPIC, ApnsEnvironment::Production);
    let excluded = Device::apns2(OTHER, TOPIC, ApnsEnvironment::Production);
    let fcm = Device::new(OTHER, PushType::Fcm);
    for d in [prod, excluded, fcm] {
        add(&c, d, &["news"]).await.unwrap();
    }
    let payload = PushPayload::new()
        .message(&json!({"headline": "Rust 2.0"}))
        .apns(
            ApnsPayload::new().alert("News", "Rust 2.0").target(
                Apns2Target::new(TOPIC)
                    .environment(ApnsEnvironment::Production)
                    .exclude_devices([OTHER]),
            ),
        )
        .fcm(FcmPayload::new().notification("News", "Rust 2.0"));
    let published = c.publish().channel("news").message(&payload).await.unwrap();
    let mut got = t.server.push_notifications(SUB);
    got.sort_by_key(|n| n.push_type);
    let reached: Vec<_> = got
        .iter()
        .map(|n| (n.push_type, n.device.as_str()))
        .collect();
    assert_eq!(
        reached,
        [(PushService::Fcm, OTHER), (PushService::Apns2, TOKEN)]
    );
    let sent = payload.to_value();
    assert_eq!(got[0].payload, sent["pn_fcm"]);
    assert_eq!(got[1].payload, sent["pn_apns"]);
    assert!(got
        .iter()
        .all(|n| n.timetoken == published.timetoken && !n.debug));
}
