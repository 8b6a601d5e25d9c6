//! Files against the embedded dev server: share a file on a channel, see
//! its file event arrive, list the channel's files, download (plain and
//! encrypted), and delete.
//!
//! ```text
//! cargo run --example files
//! ```

use std::time::Duration;

use futures::StreamExt as _;
use pubnub_rx::server::{DevServer, DevServerConfig};
use pubnub_rx::subscribe::SubscriptionOptions;
use pubnub_rx::{Config, ConfigBuilder, Error, PubNub};
use serde_json::json;

fn client(
    origin: &str,
    user: &str,
    tweak: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> Result<PubNub, Error> {
    let builder = Config::builder()
        .origin(origin)
        .ssl(false)
        .subscribe_key("demo-sub")
        .publish_key("demo-pub")
        .user_id(user);
    PubNub::new(tweak(builder).build()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server =
        DevServer::start(DevServerConfig::default().with_hold(Duration::from_secs(5))).await?;
    let origin = server.origin();
    println!("dev server on http://{origin}");

    let alice = client(&origin, "alice", |b| b)?;
    let bob = client(&origin, "bob", |b| b)?;

    // Bob watches the room's file events.
    let room = bob
        .channel("room.files")
        .subscription(SubscriptionOptions::new());
    let mut files = room.files();
    room.subscribe().await?;

    let sent = alice
        .send_file()
        .channel("room.files")
        .name("notes.txt")
        .data("Knights who say Ni!")
        .message(&json!({"text": "my notes from the meeting"}))
        .await?;
    println!("sent {} as {} at {}", sent.name, sent.id, sent.timetoken);

    let event = tokio::time::timeout(Duration::from_secs(5), files.next())
        .await?
        .ok_or("file stream ended")?;
    println!(
        "bob got file {} ({}) from {:?} with {:?}",
        event.file_name, event.file_id, event.publisher, event.message
    );

    let bytes = bob
        .download_file()
        .channel("room.files")
        .id(&event.file_id)
        .name(&event.file_name)
        .await?;
    println!("downloaded: {:?}", String::from_utf8_lossy(&bytes));
    println!(
        "its URL: {}",
        bob.file_url("room.files", &event.file_id, &event.file_name)?
    );

    // Encrypted: the server stores ciphertext; a client with the key reads it.
    let carol = client(&origin, "carol", |b| b.cipher_key("enigma"))?;
    let secret = carol
        .send_file()
        .channel("room.files")
        .name("secret.bin")
        .data(vec![0u8, 1, 2, 3, 254, 255])
        .await?;
    let stored = bob
        .download_file()
        .channel("room.files")
        .id(&secret.id)
        .name(&secret.name)
        .await?;
    let opened = carol
        .download_file()
        .channel("room.files")
        .id(&secret.id)
        .name(&secret.name)
        .await?;
    println!(
        "encrypted file: {} bytes stored, {:?} after decryption",
        stored.len(),
        &opened[..]
    );

    let listed = bob.list_files().channel("room.files").await?;
    for file in &listed.files {
        println!(
            "listed {} {} ({} bytes, {})",
            file.id, file.name, file.size, file.created
        );
    }
    for file in listed.files {
        bob.delete_file()
            .channel("room.files")
            .id(file.id)
            .name(file.name)
            .await?;
    }
    let left = bob.list_files().channel("room.files").await?;
    println!("after delete: {} files", left.files.len());

    alice.close().await;
    bob.close().await;
    carol.close().await;
    server.shutdown().await;
    Ok(())
}
