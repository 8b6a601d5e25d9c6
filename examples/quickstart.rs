//! Quickstart: subscribe to a channel, publish a message to it, print the
//! timetoken and the message as it comes back.
//!
//! Runs against the embedded PubNub-compatible dev server:
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! and against the real PubNub network when both keys are in the environment:
//!
//! ```sh
//! PUBNUB_PUBLISH_KEY=pub-c-... PUBNUB_SUBSCRIBE_KEY=sub-c-... cargo run --example quickstart
//! ```

use std::time::Duration;

use futures::StreamExt;
use pubnub_rx::server::{DevServer, DevServerConfig};
use pubnub_rx::{Config, PubNub, SubscriptionOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = (
        std::env::var("PUBNUB_PUBLISH_KEY"),
        std::env::var("PUBNUB_SUBSCRIBE_KEY"),
    );
    let (config, _server) = match keys {
        (Ok(publish_key), Ok(subscribe_key)) => {
            println!("using the PubNub network");
            (
                Config::builder()
                    .publish_key(publish_key)
                    .subscribe_key(subscribe_key),
                None,
            )
        }
        _ => {
            let server = DevServer::start(DevServerConfig::default()).await?;
            println!("using the embedded dev server at {}", server.origin());
            let config = Config::builder()
                .publish_key("demo")
                .subscribe_key("demo")
                .origin(server.origin())
                .ssl(false);
            (config, Some(server))
        }
    };
    let client = PubNub::new(config.user_id("quickstart").build()?)?;

    // Subscribe first, so the message comes back to us.
    let subscription = client
        .channel("hello_world")
        .subscription(SubscriptionOptions::new());
    let mut messages = subscription.messages();
    subscription
        .subscribe()
        .await
        .map_err(|e| format!("could not subscribe: {e}"))?;

    let sent = client
        .publish()
        .channel("hello_world")
        .message(&serde_json::json!({ "text": "Hello from pubnub-rx" }))
        .await?;
    println!("published at timetoken {}", sent.timetoken);

    let received = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await?
        .ok_or("the subscription ended")?;
    println!(
        "received {} on {} at {}",
        received.payload_json(),
        received.channel(),
        received.timetoken()
    );

    subscription.unsubscribe().await;
    Ok(())
}
