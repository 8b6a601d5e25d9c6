//! App Context against the embedded dev server: user and channel metadata,
//! memberships seen from both sides, filtered and sorted lists, a
//! conditional update, and the live App Context events a subscriber gets.
//!
//! ```text
//! cargo run --example app_context
//! ```

use std::time::Duration;

use futures::StreamExt as _;
use pubnub_rx::api::objects::MembershipInput;
use pubnub_rx::server::{DevServer, DevServerConfig};
use pubnub_rx::subscribe::SubscriptionOptions;
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

    // Alice watches the lobby's App Context events.
    let lobby = alice
        .channel_metadata("lobby")
        .subscription(SubscriptionOptions::new());
    let mut events = lobby.app_context();
    lobby.subscribe().await?;

    // Users and channels.
    for (id, name, team) in [("alice", "Alice", "red"), ("bob", "Bob", "blue")] {
        bob.set_uuid_metadata()
            .uuid(id)
            .name(name)
            .custom(json!({"team": team}))
            .await?;
    }
    let created = bob
        .set_channel_metadata()
        .channel("lobby")
        .name("Lobby")
        .description("where everyone starts")
        .await?;
    println!("lobby stored, eTag {:?}", created.e_tag);

    // Memberships from the user's side, members from the channel's side.
    bob.set_memberships()
        .set([MembershipInput::new("lobby").status("active")])
        .await?;
    alice.set_memberships().channels(["lobby"]).await?;
    let members = bob
        .get_channel_members()
        .channel("lobby")
        .include_uuid(true)
        .include_status(true)
        .sort("uuid.name:desc")
        .await?;
    for member in &members.data {
        println!(
            "member {} ({:?}) status {:?}",
            member.uuid.id, member.uuid.name, member.status
        );
    }

    // A server-side filter over the users.
    let reds = bob
        .get_all_uuid_metadata()
        .filter("custom.team == 'red'")
        .include_custom(true)
        .include_total_count(true)
        .await?;
    println!(
        "red team: {:?} ({:?} in all)",
        reds.data.iter().map(|u| &u.id).collect::<Vec<_>>(),
        reds.total_count
    );

    // A conditional update with a stale eTag is refused (HTTP 412).
    bob.set_channel_metadata()
        .channel("lobby")
        .description("renovated")
        .await?;
    if let Err(e) = bob
        .set_channel_metadata()
        .channel("lobby")
        .description("overwritten?")
        .if_match_etag(created.e_tag.unwrap_or_default())
        .await
    {
        println!("stale update refused: {e}");
    }

    // What Alice saw live: the channel set, the two memberships, the update.
    for _ in 0..4 {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await?
            .ok_or("event stream ended")?;
        println!(
            "event: {:?} {} {}",
            event.kind,
            if event.set { "set" } else { "delete" },
            event.data
        );
    }

    alice.close().await;
    bob.close().await;
    server.shutdown().await;
    Ok(())
}
