//! The listener adapter, for code coming from the Python SDK: callbacks for
//! messages, presence and status, on top of the same streams.
//!
//! ```sh
//! cargo run --example listener
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pubnub_rx::server::{DevServer, DevServerConfig};
use pubnub_rx::subscribe::{Listener, Message, Presence, Status};
use pubnub_rx::{Config, PubNub, SubscriptionOptions};
use tokio::sync::Notify;

struct Printer {
    received: AtomicUsize,
    done: Arc<Notify>,
}

impl Listener for Printer {
    fn message(&self, message: &Message) {
        println!(
            "message on {}: {}",
            message.channel(),
            message.payload_json()
        );
        if self.received.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
            self.done.notify_one();
        }
    }

    fn presence(&self, presence: &Presence) {
        println!("presence on {}: {:?}", presence.channel, presence.event);
    }

    fn status(&self, status: &Status) {
        println!("status: {status:?}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = DevServer::start(DevServerConfig::default()).await?;
    let client = PubNub::new(
        Config::builder()
            .subscribe_key("demo")
            .publish_key("demo")
            .user_id("listener-example")
            .origin(server.origin())
            .ssl(false)
            .build()?,
    )?;

    let done = Arc::new(Notify::new());
    let listener = client.add_listener(Printer {
        received: AtomicUsize::new(0),
        done: Arc::clone(&done),
    });

    let subscription = client
        .channel("updates")
        .subscription(SubscriptionOptions::new().with_presence());
    subscription.subscribe().await?;

    for n in 1..=3 {
        client
            .publish()
            .channel("updates")
            .message(&serde_json::json!({ "update": n }))
            .await?;
    }
    tokio::time::timeout(std::time::Duration::from_secs(10), done.notified()).await?;

    client.remove_listener(listener);
    subscription.unsubscribe().await;
    Ok(())
}
