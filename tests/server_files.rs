//! Files end to end: pubnub-rx's client against the embedded dev server.
//! Send → file event on a subscription → list → download (plain and
//! encrypted, 70 KB of binary content) → delete → gone; paging; the file
//! message in history as type 4; bad input refused before any request; the
//! bucket's own limits and errors; the publish retry after an upload;
//! Access Manager.

mod common;

use std::time::Duration;

use common::harness::{client, client_with, dev_server, dev_server_with, next};
use futures::TryStreamExt as _;
use pubnub_rx::api::files::MAX_FILE_SIZE;
use pubnub_rx::crypto::CryptoModule;
use pubnub_rx::server::{DevServerConfig, DevServerHandle, Keyset, RouteKind};
use pubnub_rx::{Config, Error, PubNub, SubscriptionOptions};
use serde_json::{json, Value};

/// 70 KB of every byte value, not valid UTF-8.
fn binary_content() -> Vec<u8> {
    (0..70_000u32)
        .map(|i| u8::try_from((i * 7 + i / 256) % 256).unwrap())
        .collect()
}

fn requests(server: &DevServerHandle, kind: RouteKind) -> usize {
    server.request_log().of_kind(kind).len()
}

async fn round_trip(server: &DevServerHandle, sender: &PubNub, receiver: &PubNub, channel: &str) {
    let subscription = receiver
        .channel(channel)
        .subscription(SubscriptionOptions::new());
    let mut files = subscription.files();
    subscription.subscribe().await.unwrap();

    let content = binary_content();
    let sent = sender
        .send_file()
        .channel(channel)
        .name("data.bin")
        .data(content.clone())
        .message(&json!({"text": "the data"}))
        .await
        .unwrap();
    assert_eq!(sent.name, "data.bin");
    assert!(!sent.id.is_empty());

    let event = next(&mut files).await;
    assert_eq!(event.file_id, sent.id);
    assert_eq!(event.file_name, "data.bin");
    assert_eq!(event.channel, channel);
    assert_eq!(event.timetoken, sent.timetoken);
    assert_eq!(event.message, Some(json!({"text": "the data"})));
    assert_eq!(event.decryption_error, None);

    let page = receiver.list_files().channel(channel).await.unwrap();
    assert_eq!(page.files.len(), 1);
    assert_eq!(page.files[0].id, sent.id);
    assert_eq!(page.files[0].name, "data.bin");
    assert!(page.files[0].size >= content.len() as u64);
    assert!(page.files[0].created.ends_with('Z'));
    assert_eq!(page.next, None);

    let downloaded = receiver
        .download_file()
        .channel(channel)
        .id(&sent.id)
        .name("data.bin")
        .await
        .unwrap();
    assert_eq!(&downloaded[..], &content[..]);

    receiver
        .delete_file()
        .channel(channel)
        .id(&sent.id)
        .name("data.bin")
        .await
        .unwrap();
    assert!(receiver
        .list_files()
        .channel(channel)
        .await
        .unwrap()
        .files
        .is_empty());
    let gone = receiver
        .download_file()
        .channel(channel)
        .id(&sent.id)
        .name("data.bin")
        .await;
    assert_eq!(
        gone.as_ref().err().and_then(Error::status),
        Some(404),
        "{gone:?}"
    );
    assert_eq!(requests(server, RouteKind::PublishFile), 1);
    subscription.unsubscribe().await;
}

#[tokio::test]
async fn send_event_list_download_delete() {
    let server = dev_server().await;
    let alice = client(&server, "alice");
    let bob = client(&server, "bob");
    round_trip(&server, &alice, &bob, "files.plain").await;
}

#[tokio::test]
async fn encrypted_files_round_trip_and_are_stored_encrypted() {
    for module in [
        CryptoModule::aes_cbc("enigma", true).unwrap(),
        CryptoModule::legacy("enigma", false).unwrap(),
    ] {
        let server = dev_server().await;
        let with_key = |user: &str| {
            let module = module.clone();
            client_with(&server, user, move |b| b.crypto_module(module))
        };
        let (alice, bob) = (with_key("alice"), with_key("bob"));
        round_trip(&server, &alice, &bob, "files.secret").await;

        // What the server holds is ciphertext: a client without the key gets
        // other bytes, and the file message in history is a string.
        let sent = alice
            .send_file()
            .channel("files.secret")
            .name("secret.bin")
            .data(binary_content())
            .await
            .unwrap();
        let plain = client(&server, "eve");
        let raw = plain
            .download_file()
            .channel("files.secret")
            .id(&sent.id)
            .name("secret.bin")
            .await
            .unwrap();
        assert_ne!(&raw[..], &binary_content()[..]);
        assert_eq!(module.decrypt_file(&raw).unwrap(), binary_content());
        let fetched = plain
            .fetch_messages()
            .channels(["files.secret"])
            .include_message_type(true)
            .await
            .unwrap();
        let stored = &fetched.channels["files.secret"];
        assert!(stored.iter().all(|m| m.message.is_string()), "{stored:?}");
    }
}

#[tokio::test]
async fn file_messages_are_type_4_in_history_with_their_options() {
    let server = dev_server().await;
    let alice = client(&server, "alice");
    let sent = alice
        .send_file()
        .channel("files.history")
        .name("a.txt")
        .data("hello")
        .meta(&json!({"k": "v"}))
        .custom_message_type("file-note")
        .await
        .unwrap();
    let fetched = alice
        .fetch_messages()
        .channels(["files.history"])
        .include_message_type(true)
        .include_custom_message_type(true)
        .include_meta(true)
        .await
        .unwrap();
    let item = &fetched.channels["files.history"][0];
    assert_eq!(item.timetoken, sent.timetoken);
    assert_eq!(item.message_type, Some(4));
    assert_eq!(item.custom_message_type.as_deref(), Some("file-note"));
    assert_eq!(item.meta, Some(json!({"k": "v"})));
    assert_eq!(
        item.message,
        json!({"message": null, "file": {"id": sent.id, "name": "a.txt"}})
    );

    // `should_store(false)` keeps the file message out of history.
    alice
        .send_file()
        .channel("files.unstored")
        .name("b.txt")
        .data("x")
        .should_store(false)
        .await
        .unwrap();
    let fetched = alice
        .fetch_messages()
        .channels(["files.unstored"])
        .await
        .unwrap();
    assert!(fetched
        .channels
        .get("files.unstored")
        .is_none_or(Vec::is_empty));
}

#[tokio::test]
async fn listing_pages_in_id_order() {
    let server = dev_server().await;
    let alice = client(&server, "alice");
    let mut ids = Vec::new();
    for i in 0..5 {
        let sent = alice
            .send_file()
            .channel("files.many")
            .name(format!("f{i}.txt"))
            .data(format!("file {i}"))
            .await
            .unwrap();
        ids.push(sent.id);
    }
    ids.sort();
    let first = alice
        .list_files()
        .channel("files.many")
        .limit(2)
        .await
        .unwrap();
    assert_eq!(first.files.len(), 2);
    assert!(first.next.is_some());
    let second = alice
        .list_files()
        .channel("files.many")
        .limit(2)
        .next(first.next.clone().unwrap())
        .await
        .unwrap();
    assert_eq!(second.files.len(), 2);
    let listed: Vec<String> = alice
        .list_files()
        .channel("files.many")
        .limit(2)
        .pages()
        .map_ok(|f| f.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed, ids);
    let paged: Vec<String> = first
        .files
        .iter()
        .chain(&second.files)
        .map(|f| f.id.clone())
        .collect();
    assert_eq!(paged, ids[..4]);
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let server = dev_server().await;
    let alice = client(&server, "alice");
    let no_publish_key = PubNub::new(
        Config::builder()
            .subscribe_key("sub-c-test")
            .user_id("nopub")
            .origin(server.origin())
            .ssl(false)
            .build()
            .unwrap(),
    )
    .unwrap();
    let cases = [
        alice.send_file().channel("c").name("").data("x").await,
        alice.send_file().channel("").name("n").data("x").await,
        alice.send_file().channel("c").name("n").await,
        alice
            .send_file()
            .channel("c")
            .name("big")
            .data(vec![0u8; MAX_FILE_SIZE + 1])
            .await,
        no_publish_key
            .send_file()
            .channel("c")
            .name("n")
            .data("x")
            .await,
        alice
            .send_file()
            .channel("c")
            .name("n")
            .data("x")
            .custom_message_type("x")
            .await,
    ];
    for (i, case) in cases.iter().enumerate() {
        let error = case.as_ref().expect_err("refused");
        assert!(
            matches!(
                error,
                Error::InvalidArgument { .. }
                    | Error::MessageTooLarge { .. }
                    | Error::MissingKey { .. }
            ),
            "case {i}: {error:?}"
        );
    }
    assert!(alice
        .download_file()
        .channel("c")
        .id("")
        .name("n")
        .await
        .is_err());
    assert!(alice
        .delete_file()
        .channel("c")
        .id("i")
        .name("")
        .await
        .is_err());
    assert!(alice.file_url("", "i", "n").is_err());
    assert!(alice.list_files().channel("c").limit(0).await.is_err());
    assert_eq!(requests(&server, RouteKind::Files), 0);
    assert_eq!(requests(&server, RouteKind::FileStore), 0);
}

#[tokio::test]
async fn file_url_redirects_to_the_bytes() {
    let server = dev_server().await;
    let alice = client(&server, "alice");
    let sent = alice
        .send_file()
        .channel("files.url")
        .name("hello world.txt")
        .data("hi there")
        .await
        .unwrap();
    let url = alice
        .file_url("files.url", &sent.id, "hello world.txt")
        .unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/v1/files/sub-c-test/channels/files.url/files/",
            server.base_url()
        )),
        "{url}"
    );
    assert!(url.contains("uuid=alice"), "{url}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 307);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/file-store/sub-c-test/", server.base_url())),
        "{location}"
    );
    let body = reqwest::get(&location).await.unwrap();
    assert_eq!(body.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(body.text().await.unwrap(), "hi there");
}

/// Asks for an upload form with raw HTTP; returns (url, fields).
async fn form(
    server: &DevServerHandle,
    channel: &str,
    name: &str,
) -> (String, Vec<(String, String)>) {
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/v1/files/sub-c-test/channels/{channel}/generate-upload-url?uuid=raw",
            server.base_url()
        ))
        .body(json!({ "name": name }).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let request = &answer["file_upload_request"];
    assert_eq!(request["method"], "POST");
    let fields = request["form_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (request["url"].as_str().unwrap().to_owned(), fields)
}

async fn post_form(url: &str, fields: &[(String, String)], file: Vec<u8>) -> (u16, String) {
    let mut multipart = reqwest::multipart::Form::new();
    for (key, value) in fields {
        multipart = multipart.text(key.clone(), value.clone());
    }
    multipart = multipart.part("file", reqwest::multipart::Part::bytes(file).file_name("f"));
    let answer = reqwest::Client::new()
        .post(url)
        .multipart(multipart)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn the_bucket_refuses_what_s3_refuses() {
    let server = dev_server().await;
    let (url, fields) = form(&server, "files.raw", "a.bin").await;
    assert!(url.starts_with(&server.base_url()), "{url}");
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "tagging",
            "key",
            "Content-Type",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            "X-Amz-Algorithm",
            "X-Amz-Date",
            "Policy",
            "X-Amz-Signature"
        ]
    );

    // Past 5 MiB: S3's EntityTooLarge, and the form stays usable.
    let (status, body) = post_form(&url, &fields, vec![1; MAX_FILE_SIZE + 1]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>EntityTooLarge</Code>"), "{body}");
    // A key this server never issued.
    let mut forged = fields.clone();
    forged[1].1 = forged[1].1.replace("a.bin", "b.bin");
    let (status, body) = post_form(&url, &forged, vec![1]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    // No key at all.
    let (status, body) = post_form(&url, &fields[2..], vec![1]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>InvalidArgument</Code>"), "{body}");
    // The genuine form works once.
    let (status, body) = post_form(&url, &fields, vec![1, 2, 3]).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = post_form(&url, &fields, vec![1, 2, 3]).await;
    assert_eq!(status, 403);

    // A form used after its 60 s is expired.
    let (url, fields) = form(&server, "files.raw", "late.bin").await;
    server.advance_clock(Duration::from_secs(61));
    let (status, body) = post_form(&url, &fields, vec![1]).await;
    assert_eq!(status, 403, "{body}");
    // The server kept serving through all of it.
    let listed = client(&server, "x")
        .list_files()
        .channel("files.raw")
        .await
        .unwrap();
    assert_eq!(listed.files.len(), 1);
    assert_eq!(listed.files[0].size, 3);
}

#[tokio::test]
async fn the_file_message_is_retried_only_when_it_can_succeed() {
    let server = dev_server().await;
    let alice = client(&server, "alice");
    server
        .faults()
        .respond(RouteKind::PublishFile, 2, 503, r#"{"status":503}"#);
    let sent = alice
        .send_file()
        .channel("files.retry")
        .name("r.txt")
        .data("r")
        .await
        .unwrap();
    assert_eq!(requests(&server, RouteKind::PublishFile), 3);
    assert_eq!(requests(&server, RouteKind::FileStore), 1);

    // Five failures: the file is stored, the error says how to publish it.
    server
        .faults()
        .respond(RouteKind::PublishFile, 5, 503, r#"{"status":503}"#);
    let failed = alice
        .send_file()
        .channel("files.retry")
        .name("s.txt")
        .data("s")
        .await;
    let Err(Error::FileMessageNotPublished { id, name, source }) = failed else {
        panic!("{failed:?}");
    };
    assert_eq!(name, "s.txt");
    assert_eq!(source.status(), Some(503));
    assert_eq!(requests(&server, RouteKind::PublishFile), 8);
    let published = alice
        .publish_file_message()
        .channel("files.retry")
        .file_id(&id)
        .file_name(&name)
        .await
        .unwrap();
    assert!(published.timetoken > sent.timetoken);

    // A refusal that cannot succeed is not retried.
    server
        .faults()
        .respond(RouteKind::PublishFile, 1, 400, r#"[0,"Invalid JSON","1"]"#);
    let refused = alice
        .send_file()
        .channel("files.retry")
        .name("t.txt")
        .data("t")
        .await;
    assert!(
        matches!(refused, Err(Error::FileMessageNotPublished { .. })),
        "{refused:?}"
    );
    assert_eq!(requests(&server, RouteKind::PublishFile), 10);
}

#[tokio::test]
async fn access_manager_guards_every_file_operation() {
    const SECRET: &str = "sec-c-files";
    let server = dev_server_with(
        DevServerConfig::default()
            .with_hold(Duration::from_secs(3))
            .with_keyset(Keyset::new("sub-c-test", "pub-c-test").with_secret_key(SECRET)),
    )
    .await;
    let admin = client_with(&server, "admin", |b| b.secret_key(SECRET));
    let sent = admin
        .send_file()
        .channel("files.guarded")
        .name("g.txt")
        .data("guarded")
        .await
        .unwrap();
    admin
        .grant()
        .channels(["files.guarded"])
        .auth_keys(["reader"])
        .read(true)
        .ttl(60)
        .await
        .unwrap();
    let reader = client_with(&server, "reader", |b| b.auth_key("reader"));
    let denied = reader
        .send_file()
        .channel("files.guarded")
        .name("x.txt")
        .data("x")
        .await;
    assert!(
        matches!(&denied, Err(Error::AccessDenied { channels, .. }) if channels == &["files.guarded"]),
        "{denied:?}"
    );
    assert_eq!(requests(&server, RouteKind::FileStore), 1);
    let listed = reader.list_files().channel("files.guarded").await.unwrap();
    assert_eq!(listed.files.len(), 1);
    let bytes = reader
        .download_file()
        .channel("files.guarded")
        .id(&sent.id)
        .name("g.txt")
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"guarded");
    let delete = reader
        .delete_file()
        .channel("files.guarded")
        .id(&sent.id)
        .name("g.txt")
        .await;
    assert!(
        matches!(delete, Err(Error::AccessDenied { .. })),
        "{delete:?}"
    );
    let stranger = client(&server, "stranger");
    let list = stranger.list_files().channel("files.guarded").await;
    assert!(matches!(list, Err(Error::AccessDenied { .. })), "{list:?}");
}
