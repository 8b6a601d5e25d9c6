//! Mobile Push against the embedded dev server, with no keys and no
//! network: register a device for a channel, list its channels, publish a
//! message with APNs and FCM payloads, look at the notifications the
//! server recorded (it sends nothing), then remove the device.
//!
//! ```text
//! cargo run --example push
//! ```

use std::time::Duration;

use pubnub_rx::api::push::{
    Apns2Target, ApnsEnvironment, ApnsPayload, FcmPayload, PushPayload, PushType,
};
use pubnub_rx::server::{DevServer, DevServerConfig};
use pubnub_rx::{Config, PubNub};
use serde_json::json;

const SUBSCRIBE_KEY: &str = "demo-sub";
const IPHONE: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const ANDROID: &str = "fcm-registration-token-1";
const TOPIC: &str = "com.example.matches";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server =
        DevServer::start(DevServerConfig::default().with_hold(Duration::from_secs(5))).await?;
    let origin = server.origin();
    println!("dev server on http://{origin}");
    let client = PubNub::new(
        Config::builder()
            .origin(origin.as_str())
            .ssl(false)
            .subscribe_key(SUBSCRIBE_KEY)
            .publish_key("demo-pub")
            .user_id("backend")
            .build()?,
    )?;

    // An iPhone (APNs over HTTP/2: token, topic, environment) and an
    // Android phone (FCM) follow the "matches" channel.
    client
        .add_push_channels()
        .device_id(IPHONE)
        .push_type(PushType::Apns2)
        .topic(TOPIC)
        .environment(ApnsEnvironment::Production)
        .channels(["matches", "news"])
        .await?;
    client
        .add_push_channels()
        .device_id(ANDROID)
        .push_type(PushType::Fcm)
        .channels(["matches"])
        .await?;
    let channels = client
        .list_push_channels()
        .device_id(IPHONE)
        .push_type(PushType::Apns2)
        .topic(TOPIC)
        .environment(ApnsEnvironment::Production)
        .await?;
    println!("the iPhone gets pushes for {channels:?}");

    // One publish: subscribers read `text`, the phones get their part.
    let payload = PushPayload::new()
        .message(&json!({"text": "Portugal 1 - 0 Denmark"}))
        .apns(
            ApnsPayload::new()
                .alert("Goal!", "Portugal 1 - 0 Denmark")
                .sound("default")
                .target(Apns2Target::new(TOPIC).environment(ApnsEnvironment::Production)),
        )
        .fcm(FcmPayload::new().notification("Goal!", "Portugal 1 - 0 Denmark"));
    println!("publishing {}", payload.to_value());
    let published = client
        .publish()
        .channel("matches")
        .message(&payload)
        .await?;
    println!("published at {}", published.timetoken);

    // What would have gone to APNs and FCM (also at
    // GET /dev/push/{sub}/notifications).
    for notification in server.push_notifications(SUBSCRIBE_KEY) {
        println!(
            "would push to {} device {} ({}): {}",
            notification.push_type.as_str(),
            notification.device,
            notification.topic.as_deref().unwrap_or("no topic"),
            notification.payload
        );
    }

    // The iPhone unregisters.
    client
        .remove_push_device()
        .device_id(IPHONE)
        .push_type(PushType::Apns2)
        .topic(TOPIC)
        .environment(ApnsEnvironment::Production)
        .await?;
    let left = client
        .list_push_channels()
        .device_id(IPHONE)
        .push_type(PushType::Apns2)
        .topic(TOPIC)
        .environment(ApnsEnvironment::Production)
        .await?;
    println!("after removing the device: {left:?}");

    server.shutdown().await;
    Ok(())
}
