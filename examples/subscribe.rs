//! Streams and combinators: a chat room with presence, a typed message
//! stream, and a wildcard subscription, all in one multiplexed long-poll.
//!
//! ```sh
//! cargo run --example subscribe
//! ```

use std::time::Duration;

use futures::StreamExt;
use pubnub_rx::server::{DevServer, DevServerConfig};
use pubnub_rx::subscribe::PresenceEvent;
use pubnub_rx::{Config, PubNub, Status, SubscriptionOptions};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Chat {
    author: String,
    text: String,
}

fn client(origin: &str, user: &str) -> Result<PubNub, pubnub_rx::Error> {
    PubNub::new(
        Config::builder()
            .subscribe_key("demo")
            .publish_key("demo")
            .user_id(user)
            .origin(origin)
            .ssl(false)
            .build()?,
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = DevServer::start(DevServerConfig::default()).await?;
    let alice = client(&server.origin(), "alice")?;
    let bob = client(&server.origin(), "bob")?;

    // Two subscriptions on one client share one long-poll.
    let room = alice
        .channel("room.lobby")
        .subscription(SubscriptionOptions::new().with_presence());
    let news = alice
        .channel("news.*")
        .subscription(SubscriptionOptions::new());

    // Typed chat messages, decoded on demand, with combinators.
    let mut chats = room
        .messages()
        .filter_map(|m| async move { m.decode::<Chat>().ok().map(|chat| (m.timetoken(), chat)) })
        .take(3)
        .boxed();
    // Who joins, as plain names.
    let mut joins = room
        .presence()
        .filter_map(|p| async move {
            match &p.event {
                PresenceEvent::Join {
                    uuid, occupancy, ..
                } => Some(format!("{uuid} joined ({occupancy} here)")),
                _ => None,
            }
        })
        .boxed();
    let mut headlines = news.messages();

    let mut status = alice.status();
    room.subscribe().await?;
    news.subscribe().await?;
    println!("alice connected: {:?}", status.next().await);

    // Bob joins the room and talks; someone publishes news.
    let bob_in_room = bob
        .channel("room.lobby")
        .subscription(SubscriptionOptions::new());
    bob_in_room.subscribe().await?;
    for text in ["hi alice", "how are you?", "bye"] {
        let chat = Chat {
            author: "bob".into(),
            text: text.into(),
        };
        bob.publish().channel("room.lobby").message(&chat).await?;
    }
    bob.publish()
        .channel("news.tech")
        .message(&"Rust 2026 edition announced")
        .await?;

    let within = Duration::from_secs(10);
    for _ in 0..2 {
        if let Ok(Some(join)) = tokio::time::timeout(within, joins.next()).await {
            println!("presence: {join}");
        }
    }
    while let Ok(Some((timetoken, chat))) = tokio::time::timeout(within, chats.next()).await {
        println!("[{timetoken}] {}: {}", chat.author, chat.text);
    }
    if let Ok(Some(headline)) = tokio::time::timeout(within, headlines.next()).await {
        println!(
            "{} (via {}): {}",
            headline.channel(),
            headline.subscription(),
            headline.payload_json()
        );
    }

    alice.unsubscribe_all();
    while let Some(update) = status.next().await {
        if matches!(update, Status::Disconnected) {
            println!("alice disconnected");
            break;
        }
    }
    Ok(())
}
