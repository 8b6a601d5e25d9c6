//! Access Manager in one command, against the embedded dev server:
//!
//! ```text
//! cargo run --example access_manager
//! ```
//!
//! The server runs a keyset with a secret key, so it enforces Access
//! Manager. An admin client (holding the secret key) grants Alice a v3
//! token and Bob a v2 grant on his auth key; both use what they were given,
//! a forbidden action is refused with a clear error, and revoking the token
//! cuts Alice off at once.

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use pubnub_rx::access::Permissions;
use pubnub_rx::server::{DevServer, DevServerConfig, Keyset};
use pubnub_rx::{Config, ConfigBuilder, PubNub, SubscriptionOptions};

const SUBSCRIBE_KEY: &str = "sub-c-example";
const PUBLISH_KEY: &str = "pub-c-example";
const SECRET_KEY: &str = "sec-c-example";
/// No step of this example should take longer.
const STEP: Duration = Duration::from_secs(10);

type AnyError = Box<dyn StdError + Send + Sync>;

async fn within<T>(what: &str, future: impl Future<Output = T>) -> Result<T, AnyError> {
    tokio::time::timeout(STEP, future)
        .await
        .map_err(|_| format!("{what} did not happen within {STEP:?}").into())
}

fn client(
    origin: &str,
    user_id: &str,
    extra: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> Result<PubNub, AnyError> {
    let builder = Config::builder()
        .subscribe_key(SUBSCRIBE_KEY)
        .publish_key(PUBLISH_KEY)
        .user_id(user_id)
        .origin(origin)
        .ssl(false);
    Ok(PubNub::new(extra(builder).build()?)?)
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let server = DevServer::start(
        DevServerConfig::default()
            .with_hold(Duration::from_secs(5))
            .with_keyset(Keyset::new(SUBSCRIBE_KEY, PUBLISH_KEY).with_secret_key(SECRET_KEY)),
    )
    .await?;
    let origin = server.origin();
    println!("dev server with Access Manager on {origin}");

    // The admin holds the secret key: its requests are signed, so it may
    // grant, revoke and do anything else.
    let admin = client(&origin, "admin", |b| b.secret_key(SECRET_KEY))?;

    // A v3 token for Alice: read and write on `chat`, read on every
    // `news.<topic>` channel, usable by Alice only, for 15 minutes.
    let token = admin
        .grant_token()
        .ttl(15)
        .authorized_uuid("alice")
        .channel("chat", Permissions::new().read().write())
        .channel_pattern(r"^news\..*$", Permissions::new().read())
        .meta(&serde_json::json!({"plan": "basic"}))
        .await?;
    let parsed = admin.parse_token(&token)?;
    println!(
        "granted Alice a token for {} minutes: channels {:?}, patterns {:?}",
        parsed.ttl,
        parsed.resources.channels.keys().collect::<Vec<_>>(),
        parsed.patterns.channels.keys().collect::<Vec<_>>()
    );

    // A v2 grant for Bob's auth key: read on `chat` for 5 minutes.
    admin
        .grant()
        .channels(["chat"])
        .auth_keys(["bob-auth-key"])
        .read(true)
        .ttl(5)
        .await?;
    println!("granted auth key `bob-auth-key` read on `chat`");

    let alice = client(&origin, "alice", |b| b)?;
    alice.set_token(token.clone());
    let bob = client(&origin, "bob", |b| b.auth_key("bob-auth-key"))?;

    // Bob listens on `chat`; Alice writes to it.
    let bob_chat = bob.channel("chat").subscription(SubscriptionOptions::new());
    let mut bob_messages = bob_chat.messages();
    within("the subscribe handshake", bob_chat.subscribe()).await??;
    println!("Bob is subscribed to chat");

    alice
        .publish()
        .channel("chat")
        .message(&"hi Bob, Alice here")
        .await?;
    let message = within("Bob's message", bob_messages.next())
        .await?
        .ok_or("Bob's message stream ended")?;
    println!(
        "Bob received on `{}`: {}",
        message.channel(),
        message.payload_json()
    );

    // Forbidden: Alice may only read `news.*`, and Bob may not write.
    match alice
        .publish()
        .channel("news.sports")
        .message(&"breaking")
        .await
    {
        Err(error) => println!("refused as expected: Alice publishing on news.sports: {error}"),
        Ok(_) => return Err("Alice should not be able to publish on news.sports".into()),
    }
    match bob.publish().channel("chat").message(&"me too").await {
        Err(error) => println!("refused as expected: Bob publishing on chat: {error}"),
        Ok(_) => return Err("Bob's grant is read-only".into()),
    }

    // Revoking the token cuts Alice off at once.
    admin.revoke_token(&token).await?;
    println!("revoked Alice's token");
    match alice
        .publish()
        .channel("chat")
        .message(&"still here?")
        .await
    {
        Err(error) => println!("refused as expected: Alice after the revoke: {error}"),
        Ok(_) => return Err("a revoked token should be refused".into()),
    }

    bob_chat.unsubscribe().await;
    server.shutdown().await;
    println!("done");
    Ok(())
}
