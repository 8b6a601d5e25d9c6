//! Presence against the embedded dev server: who is here, where a user is,
//! presence state, and presence events as users come and go.
//!
//! ```text
//! cargo run --example presence
//! ```

use std::time::Duration;

use futures::StreamExt as _;
use pubnub_rx::server::{DevServer, DevServerConfig};
use pubnub_rx::subscribe::{PresenceEvent, SubscriptionOptions};
use pubnub_rx::{Config, Error, PubNub};
use serde_json::json;

fn client(origin: &str, user: &str) -> Result<PubNub, Error> {
    PubNub::new(
        Config::builder()
            .origin(origin)
            .ssl(false)
            .subscribe_key("demo-sub")
            .publish_key("demo-pub")
            .user_id(user)
            .build()?,
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server =
        DevServer::start(DevServerConfig::default().with_hold(Duration::from_secs(5))).await?;
    let origin = server.origin();
    println!("dev server on http://{origin}");

    let alice = client(&origin, "alice")?;
    let bob = client(&origin, "bob")?;

    // Alice watches the lobby, presence events included.
    let lobby = alice
        .channel("lobby")
        .subscription(SubscriptionOptions::new().with_presence());
    let mut events = lobby.presence();
    lobby.subscribe().await?;

    // Bob shows up with a state, without subscribing: a heartbeat is enough.
    bob.set_state()
        .channel("lobby")
        .state(&json!({"mood": "curious"}))
        .await?;
    bob.heartbeat().channel("lobby").heartbeat(60).await?;

    let here = alice
        .here_now()
        .channel("lobby")
        .include_state(true)
        .await?;
    for channel in &here.channels {
        println!("{}: {} present", channel.name, channel.occupancy);
        for who in &channel.occupants {
            let state = who
                .state
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string);
            println!("  {} state={state}", who.uuid);
        }
    }
    println!(
        "bob is on {:?}",
        alice.where_now().uuid("bob").await?.channels
    );
    let state = alice.get_state().channel("lobby").uuid("bob").await?;
    if let Some(lobby_state) = state.channels.get("lobby") {
        println!("bob's state in the lobby: {lobby_state}");
    }

    bob.leave().channel("lobby").await?;

    // What alice saw meanwhile.
    let mut seen = 0;
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), events.next()).await {
        match &event.event {
            PresenceEvent::Join {
                uuid, occupancy, ..
            } => {
                println!("event: {uuid} joined ({occupancy} present)")
            }
            PresenceEvent::Leave {
                uuid, occupancy, ..
            } => {
                println!("event: {uuid} left ({occupancy} present)");
                if uuid == "bob" {
                    break;
                }
            }
            PresenceEvent::StateChange { uuid, state, .. } => {
                println!("event: {uuid} set state {state}")
            }
            other => println!("event: {other:?}"),
        }
        seen += 1;
        if seen > 10 {
            break;
        }
    }

    lobby.unsubscribe().await;
    server.shutdown().await;
    Ok(())
}
