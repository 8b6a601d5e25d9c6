//! Message history against the embedded dev server: publish, read a page,
//! walk everything page by page, fetch several channels, count and delete.
//!
//! ```text
//! cargo run --example history
//! ```

use std::time::Duration;

use futures::TryStreamExt as _;
use pubnub_rx::server::{DevServer, DevServerConfig};
use pubnub_rx::{Config, PubNub};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server =
        DevServer::start(DevServerConfig::default().with_hold(Duration::from_secs(5))).await?;
    println!("dev server on http://{}", server.origin());
    let client = PubNub::new(
        Config::builder()
            .origin(server.origin())
            .ssl(false)
            .subscribe_key("demo-sub")
            .publish_key("demo-pub")
            .user_id("historian")
            .build()?,
    )?;

    let mut timetokens = Vec::new();
    for n in 0..120 {
        let sent = client
            .publish()
            .channel("diary")
            .message(&json!({"entry": n}))
            .meta(&json!({"page": n / 10}))
            .await?;
        timetokens.push(sent.timetoken);
    }
    client.publish().channel("notes").message(&"a note").await?;
    println!("published 120 entries to `diary` and one to `notes`");

    // The newest five, with timetokens and meta.
    let page = client
        .history()
        .channel("diary")
        .count(5)
        .include_timetoken(true)
        .include_meta(true)
        .await?;
    for item in &page.messages {
        let meta = item
            .meta
            .as_ref()
            .map_or("-".to_owned(), ToString::to_string);
        println!(
            "{} {} meta={meta}",
            item.timetoken.unwrap_or(0),
            item.message
        );
    }

    // Everything, newest first, 50 per request.
    let all: Vec<_> = client
        .history()
        .channel("diary")
        .count(50)
        .pages()
        .try_collect()
        .await?;
    println!(
        "walked {} entries, newest {} … oldest {}",
        all.len(),
        all.first()
            .map(|i| i.message.to_string())
            .unwrap_or_default(),
        all.last()
            .map(|i| i.message.to_string())
            .unwrap_or_default()
    );

    // Several channels at once, with the publisher.
    let fetched = client
        .fetch_messages()
        .channels(["diary", "notes"])
        .max(3)
        .include_uuid(true)
        .await?;
    for (channel, messages) in &fetched.channels {
        for m in messages {
            let by = m.uuid.as_deref().unwrap_or("?");
            println!("{channel}: {} by {by} at {}", m.message, m.timetoken);
        }
    }

    // How many since entry 99?
    let counts = client
        .message_counts()
        .channels(["diary", "notes"])
        .timetoken(timetokens[99])
        .await?;
    println!("messages after entry 99: {:?}", counts.channels);

    // Delete entries 0 ..= 9: `start` is exclusive, `end` inclusive.
    client
        .delete_messages()
        .channel("diary")
        .start(timetokens[10])
        .end(timetokens[0])
        .await?;
    let remaining: Vec<_> = client
        .history()
        .channel("diary")
        .pages()
        .try_collect()
        .await?;
    println!("after deleting the first ten: {} entries", remaining.len());

    server.shutdown().await;
    Ok(())
}
