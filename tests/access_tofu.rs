//! Zero-configuration Access Manager: a dev server started with no keys
//! turns Access Manager on for a keyset at its first signed administration
//! request (trust on first use), and from then on enforces grants and
//! tokens; a pinned secret key (`--secret-key`) still refuses a wrong one.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::time::{SystemTime, UNIX_EPOCH};

use dev_server::{enc, test_config, TestServer, PUB, STEP, SUB};
use pubnub_rx::access::Permissions;
use pubnub_rx::server::Keyset;
use pubnub_rx::{Config, ConfigBuilder, Error, PubNub};

const SECRET: &str = "sec-c-app";

fn builder(t: &TestServer, user_id: &str) -> ConfigBuilder {
    Config::builder()
        .subscribe_key(SUB)
        .publish_key(PUB)
        .user_id(user_id)
        .origin(t.server.origin())
        .ssl(false)
}

fn client(builder: ConfigBuilder) -> PubNub {
    PubNub::new(builder.build().expect("config")).expect("client")
}

async fn publish(client: &PubNub, channel: &str, text: &str) -> Result<u64, Error> {
    tokio::time::timeout(STEP, client.publish().channel(channel).message(&text))
        .await
        .expect("publish answered in time")
        .map(|r| r.timetoken)
}

fn assert_denied<T: std::fmt::Debug>(result: Result<T, Error>, channels: &[&str]) {
    match result {
        Err(Error::AccessDenied {
            status: 403,
            channels: denied,
            ..
        }) => assert_eq!(denied, channels),
        other => panic!("expected 403 AccessDenied on {channels:?}, got {other:?}"),
    }
}

fn history(channel: &str, query: &str) -> String {
    format!("/v2/history/sub-key/{SUB}/channel/{channel}?uuid=u&{query}")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

#[tokio::test]
async fn the_first_signed_grant_turns_access_manager_on_and_the_keyset_enforces_it() {
    let t = TestServer::start().await;
    let user = client(builder(&t, "alice").auth_key("k1"));
    let stranger = client(builder(&t, "mallory"));
    // Open until the first signed administration request.
    publish(&stranger, "room", "open")
        .await
        .expect("open keyset");

    let admin = client(builder(&t, "admin").secret_key(SECRET));
    admin
        .grant()
        .channels(["room"])
        .auth_keys(["k1"])
        .read(true)
        .write(true)
        .ttl(10)
        .await
        .expect("the first signed grant is accepted");

    // Enforced from now on: the grant allows k1, nobody else.
    publish(&user, "room", "granted")
        .await
        .expect("k1 may write");
    assert_denied(publish(&stranger, "room", "no").await, &["room"]);
    assert_denied(publish(&user, "elsewhere", "no").await, &["elsewhere"]);
    assert_eq!(t.get(&history("room", "auth=k1")).await.status, 200);
    assert_eq!(t.get(&history("room", "")).await.status, 403);
    // The administrator keeps its rights (signed requests).
    publish(&admin, "elsewhere", "admin").await.expect("signed");

    // grant_token works too; the token is enforced over what it names.
    let token = admin
        .grant_token()
        .ttl(10)
        .channel("lobby", Permissions::new().read())
        .await
        .expect("grant_token on the same keyset");
    let lobby = history("lobby", &format!("auth={}", enc(&token)));
    assert_eq!(t.get(&lobby).await.status, 200, "the token reads lobby");
    let room = history("room", &format!("auth={}", enc(&token)));
    assert_eq!(t.get(&room).await.status, 403, "but not room");
    assert_eq!(t.get(&history("lobby", "")).await.status, 403);
    let holder = client(builder(&t, "bob"));
    holder.set_token(token.clone());
    assert_denied(publish(&holder, "lobby", "read only").await, &["lobby"]);
    // A token altered by a client is refused: the server signs its tokens
    // with a key of its own.
    let mut forged = admin.parse_token(&token).expect("parse");
    forged
        .resources
        .channels
        .insert("room".into(), Permissions::new().read().write());
    let forged = pubnub_rx::access::encode_token(&forged, SECRET).expect("encode");
    let reply = t
        .get(&history("room", &format!("auth={}", enc(&forged))))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);

    // Revoking through the same administrator works as well.
    admin.revoke_token(&token).await.expect("revoke_token");
    assert_eq!(t.get(&lobby).await.status, 403, "revoked");
}

#[tokio::test]
async fn unsigned_malformed_or_stale_admin_requests_leave_the_keyset_open() {
    let t = TestServer::start().await;
    let grant = format!("/v2/auth/grant/sub-key/{SUB}?channel=room&r=1&uuid=admin");
    // Unsigned: 403, Access Manager stays off.
    let reply = t.get(&grant).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.body.contains("Access Manager is not enabled"),
        "{}",
        reply.body
    );
    // Not a signature.
    let now = now_secs();
    let reply = t
        .get(&format!(
            "{grant}&timestamp={now}&signature=not-a-signature"
        ))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("Invalid signature"), "{}", reply.body);
    // Well formed but stale.
    let digest = "v2.".to_owned() + &"A".repeat(43);
    let reply = t
        .get(&format!(
            "{grant}&timestamp={}&signature={digest}",
            now - 3600
        ))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    // None of them turned enforcement on.
    assert_eq!(t.get(&history("room", "")).await.status, 200);

    // Once on, an unsigned administration request is refused as unsigned
    // and an exact replay of a signed one as a replay.
    let signed = format!("{grant}&timestamp={now}&signature={digest}");
    assert_eq!(t.get(&signed).await.status, 200);
    assert_eq!(t.get(&history("other", "")).await.status, 403);
    let reply = t.get(&grant).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("Invalid signature"), "{}", reply.body);
    assert_eq!(t.get(&signed).await.status, 403, "a replay");
}

#[tokio::test]
async fn a_pinned_secret_key_still_refuses_a_wrong_one() {
    let t = TestServer::with_config(
        test_config().with_keyset(Keyset::new(SUB, PUB).with_secret_key(SECRET)),
    )
    .await;
    let impostor = client(builder(&t, "impostor").secret_key("not-the-secret"));
    match impostor.grant().channels(["room"]).read(true).await {
        Err(Error::AccessDenied {
            status: 403,
            message,
            ..
        }) => assert!(message.starts_with("Invalid signature"), "{message}"),
        other => panic!("expected 403 Invalid signature, got {other:?}"),
    }
    let admin = client(builder(&t, "admin").secret_key(SECRET));
    admin
        .grant()
        .channels(["room"])
        .auth_keys(["k1"])
        .read(true)
        .await
        .expect("the pinned secret signs");
    let token_result = impostor
        .grant_token()
        .ttl(5)
        .channel("room", Permissions::new().read())
        .await;
    assert!(
        matches!(token_result, Err(Error::AccessDenied { status: 403, .. })),
        "{token_result:?}"
    );
    assert_eq!(t.get(&history("room", "auth=k1")).await.status, 200);
    assert_eq!(t.get(&history("room", "")).await.status, 403);
}
