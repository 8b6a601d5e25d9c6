//! What the client sends for Access Manager: the token (or auth key) as
//! `auth` on data requests, nothing of the caller's own on admin calls, a
//! v2 signature over the grant-token body, and the errors PubNub's answers
//! map to. Uses the in-memory recording transport.

mod common;

use std::sync::Arc;

use common::recording::RecordingTransport;
use pubnub_rx::access::Permissions;
use pubnub_rx::transport::signature::{canonical_query, sign_v2, v2_string_to_sign};
use pubnub_rx::transport::TransportRequest;
use pubnub_rx::{Config, ConfigBuilder, Error, PubNub};

const SENT: &str = r#"[1,"Sent","17479954352906024"]"#;
/// A token PubNub issued, with `==` padding (revoke_token_verify_operations).
const TOKEN: &str = "qEF2AkF0GmgwSytDdHRsAUNyZXOlRGNoYW6hbHRlc3RfY2hhbm5lbBjPQ2dycKBDc3BjoWx0ZXN0X2NoYW5uZWwYz0N1c3KgRHV1aWSgQ3BhdKVEY2hhbqBDZ3JwoENzcGOgQ3VzcqBEdXVpZKBEbWV0YaBEdXVpZHJ0ZXN0X3Jldm9rZV92ZXJpZnlDc2lnWCCpIDaBECABP5cv5d8p0nsiMqgtR1uB4oUMKVMAJa_EQQ==";

fn base() -> ConfigBuilder {
    Config::builder()
        .subscribe_key("sub-key")
        .publish_key("pub-key")
        .user_id("user-1")
}

fn client(transport: &Arc<RecordingTransport>, builder: ConfigBuilder) -> PubNub {
    PubNub::new(builder.transport(transport.clone()).build().unwrap()).unwrap()
}

async fn publish_auth(client: &PubNub, transport: &RecordingTransport) -> TransportRequest {
    transport.respond(200, SENT);
    client.publish().channel("ch").message(&"hi").await.unwrap();
    transport.sent().pop().unwrap()
}

#[tokio::test]
async fn the_token_is_sent_as_auth_with_padding_escaped() {
    let transport = RecordingTransport::new();
    let client = client(&transport, base());
    client.set_token(TOKEN);
    assert_eq!(client.token().as_deref(), Some(TOKEN));
    let sent = publish_auth(&client, &transport).await;
    assert_eq!(sent.query_param("auth"), Some(TOKEN));
    let url = sent.url();
    assert!(url.contains("&auth=qEF2AkF0"), "{url}");
    assert!(url.contains("EQQ%3D%3D"), "padding goes as %3D: {url}");
    assert!(!url.contains("EQQ=="), "{url}");
}

#[tokio::test]
async fn the_token_wins_over_the_auth_key_which_is_used_without_one() {
    let transport = RecordingTransport::new();
    let client = client(&transport, base().auth_key("v2-key"));
    assert_eq!(
        publish_auth(&client, &transport).await.query_param("auth"),
        Some("v2-key")
    );
    client.set_token(TOKEN);
    assert_eq!(
        publish_auth(&client, &transport).await.query_param("auth"),
        Some(TOKEN)
    );
    // An empty token clears it.
    client.set_token("");
    assert_eq!(client.token(), None);
    assert_eq!(
        publish_auth(&client, &transport).await.query_param("auth"),
        Some("v2-key")
    );
}

#[tokio::test]
async fn a_disabled_token_manager_ignores_the_token() {
    let transport = RecordingTransport::new();
    let client = client(
        &transport,
        base().auth_key("v2-key").disable_token_manager(true),
    );
    client.set_token(TOKEN);
    assert_eq!(
        publish_auth(&client, &transport).await.query_param("auth"),
        Some("v2-key")
    );
    let transport = RecordingTransport::new();
    let client = self::client(&transport, base().disable_token_manager(true));
    client.set_token(TOKEN);
    assert_eq!(
        publish_auth(&client, &transport).await.query_param("auth"),
        None
    );
}

fn admin(transport: &Arc<RecordingTransport>) -> PubNub {
    let client = client(
        transport,
        base().secret_key("sec-key").auth_key("admin-key"),
    );
    // Even with a token of its own, an admin call never sends it.
    client.set_token(TOKEN);
    client
}

/// Recomputes the v2 signature of what was sent.
fn assert_signed(sent: &TransportRequest) {
    let signature = sent.query_param("signature").expect("signature");
    assert!(sent.query_param("timestamp").is_some());
    let canonical = canonical_query(
        sent.query
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .filter(|(k, _)| *k != "signature"),
    );
    let to_sign = v2_string_to_sign(
        sent.method.as_str(),
        "pub-key",
        &sent.path,
        &canonical,
        sent.body.as_deref().unwrap_or_default(),
    );
    assert_eq!(signature, sign_v2("sec-key", &to_sign), "{}", sent.url());
}

#[tokio::test]
async fn grant_token_is_a_signed_post_without_the_callers_auth() {
    let transport = RecordingTransport::new();
    let admin = admin(&transport);
    transport.respond(
        200,
        r#"{"data":{"message":"Success","token":"p0F2AkF0"},"service":"Access Manager","status":200}"#,
    );
    let token = admin
        .grant_token()
        .ttl(60)
        .channel("room", Permissions::new().read().write())
        .await
        .unwrap();
    assert_eq!(token, "p0F2AkF0");
    let sent = transport.sent().pop().unwrap();
    assert_eq!(sent.method.as_str(), "POST");
    assert_eq!(sent.path, "/v3/pam/sub-key/grant");
    assert_eq!(sent.query_param("auth"), None);
    assert!(sent
        .headers
        .contains(&("Content-Type", "application/json".to_owned())));
    let body: serde_json::Value = serde_json::from_slice(sent.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["permissions"]["resources"]["channels"]["room"], 3);
    assert_signed(&sent);
}

#[tokio::test]
async fn v2_grant_audit_and_revoke_token_are_signed_without_the_callers_auth() {
    let transport = RecordingTransport::new();
    let admin = admin(&transport);
    transport.respond(
        200,
        r#"{"message":"Success","payload":{"level":"user","subscribe_key":"sub-key","ttl":5,"channel":"c","auths":{"a b":{"r":1,"w":0}}},"service":"Access Manager","status":200}"#,
    );
    let granted = admin
        .grant()
        .channels(["c"])
        .auth_keys(["a b"])
        .read(true)
        .ttl(5)
        .await
        .unwrap();
    assert_eq!(
        granted.channels["c"].auth_keys["a b"].permissions,
        Permissions::READ
    );
    let sent = transport.sent().pop().unwrap();
    assert_eq!(
        sent.query_param("auth"),
        Some("a b"),
        "the granted key, not ours"
    );
    assert_signed(&sent);

    transport.respond(
        200,
        r#"{"message":"Success","payload":{"level":"subkey","subscribe_key":"sub-key","r":0,"w":0},"service":"Access Manager","status":200}"#,
    );
    let audit = admin.audit().await.unwrap();
    assert_eq!(audit.permissions, Some(Permissions::new()));
    let sent = transport.sent().pop().unwrap();
    assert_eq!(sent.path, "/v2/auth/audit/sub-key/sub-key");
    assert_eq!(sent.query_param("auth"), None);
    assert_signed(&sent);

    transport.respond(
        200,
        r#"{"data":{"message":"Success"},"service":"Access Manager","status":200}"#,
    );
    admin.revoke_token(TOKEN).await.unwrap();
    let sent = transport.sent().pop().unwrap();
    assert_eq!(sent.method.as_str(), "DELETE");
    assert!(sent.path.ends_with("EQQ%3D%3D"), "{}", sent.path);
    assert_eq!(sent.query_param("auth"), None);
    assert_signed(&sent);
}

#[tokio::test]
async fn without_a_secret_key_nothing_is_sent() {
    let transport = RecordingTransport::new();
    let client = client(&transport, base());
    let e = client.grant().read(true).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::MissingKey {
                key: "secret_key",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("ConfigBuilder::secret_key"), "{e}");
    let e = client
        .grant_token()
        .ttl(5)
        .channel("c", Permissions::READ)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::MissingKey {
                key: "secret_key",
                ..
            }
        ),
        "{e}"
    );
    let e = client.revoke_token(TOKEN).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::MissingKey {
                key: "secret_key",
                ..
            }
        ),
        "{e}"
    );
    let e = client.revoke().channels(["c"]).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::MissingKey {
                key: "secret_key",
                ..
            }
        ),
        "{e}"
    );
    assert!(transport.sent().is_empty());
}

#[tokio::test]
async fn access_manager_error_bodies() {
    let transport = RecordingTransport::new();
    let admin = admin(&transport);

    // PAM v3 validation error (grant_token_invalid_ttl cassette).
    transport.respond(
        400,
        r#"{"error":{"message":"Invalid ttl","source":"grant","details":[{"message":"Range should be 1 to 43200 minute(s).","location":"ttl","locationType":"body"}]},"service":"Access Manager","status":400}"#,
    );
    let e = admin
        .grant_token()
        .ttl(5)
        .channel("c", Permissions::READ)
        .await
        .unwrap_err();
    match &e {
        Error::Http {
            status: 400,
            message,
            service,
            ..
        } => {
            assert_eq!(
                message,
                "Invalid ttl: Range should be 1 to 43200 minute(s)."
            );
            assert_eq!(service.as_deref(), Some("Access Manager"));
        }
        other => panic!("{other:?}"),
    }

    // Revoking an expired token (revoke_expired_token cassette).
    transport.respond(
        400,
        r#"{"error":{"details":[{"location":"token","locationType":"path","message":"Token is expired."}],"message":"Invalid token","source":"revoke"},"service":"Access Manager","status":400}"#,
    );
    let e = admin.revoke_token(TOKEN).await.unwrap_err();
    assert!(
        matches!(&e, Error::AccessDenied { status: 400, message, .. } if message == "Invalid token: Token is expired."),
        "{e:?}"
    );

    // A bad signature.
    transport.respond(
        403,
        r#"{"error":{"message":"Invalid signature","source":"grant","details":[{"message":"Client and server produced different signatures for the same inputs.","location":"signature","locationType":"query"}]},"service":"Access Manager","status":403}"#,
    );
    let e = admin.grant().read(true).await.unwrap_err();
    assert!(
        matches!(&e, Error::AccessDenied { status: 403, message, .. } if message.starts_with("Invalid signature")),
        "{e:?}"
    );
    assert!(!e.is_retryable());

    // A revoked token used on a data call.
    let user = client(&transport, base());
    user.set_token(TOKEN);
    transport.respond(
        403,
        r#"{"error":true,"status":403,"service":"Access Manager","message":"Token is revoked"}"#,
    );
    let e = user.publish().channel("c").message(&1).await.unwrap_err();
    assert!(
        matches!(&e, Error::AccessDenied { status: 403, message, .. } if message == "Token is revoked"),
        "{e:?}"
    );
}

#[test]
fn the_client_parses_tokens() {
    let transport = RecordingTransport::new();
    let client = client(&transport, base());
    let token = client.parse_token(TOKEN).unwrap();
    assert_eq!(token.ttl, 1);
    assert_eq!(token.authorized_uuid.as_deref(), Some("test_revoke_verify"));
    assert_eq!(
        token.resources.channels["test_channel"],
        Permissions::from_bits(207)
    );
    assert!(matches!(
        client.parse_token("%%%"),
        Err(Error::Deserialization { .. })
    ));
    assert!(transport.sent().is_empty());
}
