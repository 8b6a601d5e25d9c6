//! The dev server's data dir (`--data-dir`, `DevServerConfig::with_data_dir`):
//! everything PubNub keeps comes back after a stop and after `kill -9`, byte
//! for byte; retention holds across restarts; a locked or damaged data dir
//! is a clear error at start; export and import round-trip.

#[path = "common/binary.rs"]
mod binary;
mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::harness::client_with;
use dev_server::{enc, test_config, TestServer, PUB, STEP, SUB};
use pubnub_rx::access::Permissions;
use pubnub_rx::server::{
    CommitMode, DevServer, DevServerConfig, Keyset, ServerError, StorageError,
};
use pubnub_rx::{Config, PubNub};
use serde_json::{json, Value};
use tokio::process::Command;

/// A keyset with Access Manager on, beside the open one of `dev_server`.
const PAM_SUB: &str = "sub-c-pam";
const PAM_PUB: &str = "pub-c-pam";
const SECRET: &str = "sec-c-pam";

fn config(dir: &Path) -> DevServerConfig {
    test_config()
        .with_keyset(Keyset::new(SUB, PUB))
        .with_keyset(Keyset::new(PAM_SUB, PAM_PUB).with_secret_key(SECRET))
        .with_data_dir(dir)
}

async fn stop(t: TestServer) {
    t.server.shutdown().await;
}

fn pam_admin(t: &TestServer) -> PubNub {
    let config = Config::builder()
        .subscribe_key(PAM_SUB)
        .publish_key(PAM_PUB)
        .secret_key(SECRET)
        .user_id("admin")
        .origin(t.server.origin())
        .ssl(false)
        .build()
        .expect("valid config");
    PubNub::new(config).expect("client")
}

fn history(channel: &str, query: &str) -> String {
    format!("/v2/history/sub-key/{SUB}/channel/{channel}?uuid=reader{query}")
}

fn pam_history(channel: &str, auth: &str) -> String {
    format!(
        "/v2/history/sub-key/{PAM_SUB}/channel/{channel}?uuid=reader&auth={}",
        enc(auth)
    )
}

/// What a restart must give back: each request's answer as bytes.
const KEPT_READS: [&str; 8] = [
    "/v3/history-with-actions/sub-key/sub-c-test/channel/chat?uuid=reader&include_meta=true",
    "/v2/history/sub-key/sub-c-test/channel/chat?uuid=reader&include_token=true&include_meta=true",
    "/v1/channel-registration/sub-key/sub-c-test/channel-group/friends?uuid=reader",
    "/v2/objects/sub-c-test/uuids/alice?uuid=reader&include=custom",
    "/v2/objects/sub-c-test/channels/chat?uuid=reader&include=custom",
    "/v2/objects/sub-c-test/uuids/alice/channels?uuid=reader&include=custom",
    "/v1/push/sub-key/sub-c-test/devices/0123abcd?type=gcm&uuid=reader",
    "/v1/files/sub-c-test/channels/chat/files?uuid=reader",
];

#[tokio::test]
async fn everything_pubnub_keeps_comes_back_after_a_restart_byte_for_byte() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = TestServer::with_config(config(dir.path())).await;
    assert_eq!(t.server.data_dir(), Some(dir.path()));

    // History: odd spacing, meta and a custom message type kept verbatim.
    let mut sent = Vec::new();
    for i in 0..20 {
        let text = format!("{{ \"n\" :{i},  \"text\": \"héllo\\u00e9 {i}\" }}");
        let extra = if i % 5 == 0 {
            format!(
                "meta={}&custom_message_type=chat-line",
                enc(r#"{"from": "alice"}"#)
            )
        } else {
            String::new()
        };
        sent.push(t.publish_with("chat", &text, &extra).await);
    }
    // `store=0` is delivered, never stored: not there after the restart either.
    t.publish_with("chat", "\"not stored\"", "store=0").await;

    // A message action on the first message.
    let action = t
        .request(
            "POST",
            &format!(
                "/v1/message-actions/{SUB}/channel/chat/message/{}?uuid=alice",
                sent[0]
            ),
            Some(br#"{"type":"reaction","value":"smiley_face"}"#.to_vec()),
            &[],
        )
        .await;
    assert_eq!(action.status, 200, "{}", action.body);

    // A channel group.
    let group = t
        .get(&format!(
            "/v1/channel-registration/sub-key/{SUB}/channel-group/friends?add=chat,lobby&uuid=alice"
        ))
        .await;
    assert_eq!(group.status, 200, "{}", group.body);

    // App Context: user and channel metadata, a membership.
    for (path, body) in [
        (
            format!("/v2/objects/{SUB}/uuids/alice?uuid=alice&include=custom"),
            r#"{"name":"Alice","custom":{"z":1,"a":"first key last"}}"#,
        ),
        (
            format!("/v2/objects/{SUB}/channels/chat?uuid=alice&include=custom"),
            r#"{"name":"Chat","description":"the room","custom":{"topic":"rust"}}"#,
        ),
        (
            format!("/v2/objects/{SUB}/uuids/alice/channels?uuid=alice&include=custom"),
            r#"{"set":[{"channel":{"id":"chat"},"custom":{"role":"host"}}]}"#,
        ),
    ] {
        let reply = t
            .request("PATCH", &path, Some(body.as_bytes().to_vec()), &[])
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }

    // A push registration.
    let push = t
        .get(&format!(
            "/v1/push/sub-key/{SUB}/devices/0123abcd?add=chat,alerts&type=gcm&uuid=alice"
        ))
        .await;
    assert_eq!(push.status, 200, "{}", push.body);

    // A file, through the client (upload form, bucket, file message).
    let alice = client_with(&t.server, "alice", |b| b);
    let content: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let file = alice
        .send_file()
        .channel("chat")
        .name("notes.bin")
        .data(content.clone())
        .message(&json!({"text": "the notes"}))
        .await
        .expect("file sent");

    // Access Manager on the secret-key keyset: a v2 grant, a token, and a
    // revoked token.
    let admin = pam_admin(&t);
    admin
        .grant()
        .channels(["room"])
        .auth_keys(["k1"])
        .read(true)
        .ttl(0)
        .await
        .expect("grant");
    let kept_token = admin
        .grant_token()
        .ttl(60)
        .channel("room", Permissions::new().read())
        .await
        .expect("token");
    // Another ttl: the same grant in the same second would be the same token.
    let revoked_token = admin
        .grant_token()
        .ttl(61)
        .channel("room", Permissions::new().read())
        .await
        .expect("token");
    admin.revoke_token(&revoked_token).await.expect("revoked");
    for auth in ["k1", kept_token.as_str()] {
        let reply = t.get(&pam_history("room", auth)).await;
        assert_eq!(reply.status, 200, "{auth}: {}", reply.body);
    }
    assert_eq!(
        t.get(&pam_history("room", &revoked_token)).await.status,
        403
    );

    let mut before = Vec::new();
    for path in KEPT_READS {
        let reply = t.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        before.push(reply.body);
    }
    let download = format!("/v1/files/{SUB}/channels/chat/files/{}/notes.bin", file.id);
    stop(t).await;

    // The same dir, a new server.
    let t = TestServer::with_config(config(dir.path())).await;
    for (path, was) in KEPT_READS.iter().zip(&before) {
        let reply = t.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(&reply.body, was, "{path} changed across the restart");
    }
    let stored = t.get(&history("chat", "&include_token=true")).await.json();
    let stored = stored[0].as_array().expect("messages").clone();
    // 20 publishes and the file message; not the `store=0` one.
    assert_eq!(stored.len(), 21, "{stored:?}");
    let timetokens: Vec<u64> = stored
        .iter()
        .take(20)
        .map(|m| m["timetoken"].as_u64().expect("timetoken"))
        .collect();
    assert_eq!(timetokens, sent);
    assert!(stored.iter().all(|m| m["message"] != "not stored"));
    // As the server stored it (whitespace dropped at publish, as PubNub
    // does): the escape and the key order are the publisher's.
    let history_bytes = t.get(&history("chat", "")).await.body;
    assert!(
        history_bytes.contains(r#"{"n":7,"text":"héllo\u00e9 7"}"#),
        "verbatim: {history_bytes}"
    );

    // The file's bytes, through the client's download and the redirect.
    let alice = client_with(&t.server, "alice", |b| b);
    let downloaded = alice
        .download_file()
        .channel("chat")
        .id(&file.id)
        .name("notes.bin")
        .await
        .expect("file kept");
    assert_eq!(&downloaded[..], &content[..]);
    let redirect = t.get(&download).await;
    assert_eq!(redirect.status, 200, "the redirect is followed");

    // Grants and tokens: the same answers as before the restart.
    for auth in ["k1", kept_token.as_str()] {
        let reply = t.get(&pam_history("room", auth)).await;
        assert_eq!(reply.status, 200, "{auth}: {}", reply.body);
    }
    let refused = t.get(&pam_history("room", &revoked_token)).await;
    assert_eq!(refused.status, 403, "a revoked token stays revoked");
    assert_eq!(t.get(&pam_history("room", "k2")).await.status, 403);

    // New timetokens continue after the kept ones.
    let next = t.publish("chat", "\"after\"").await;
    assert!(next > *sent.last().expect("sent"), "{next}");
    stop(t).await;
}

#[tokio::test]
async fn retention_holds_across_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let limited = |dir: &Path| config(dir).with_history_retention(5);
    let t = TestServer::with_config(limited(dir.path())).await;
    for i in 0..8 {
        t.publish("kept", &i.to_string()).await;
    }
    t.publish_with("short", "\"an hour\"", "ttl=1").await;
    t.publish_with("short", "\"forever\"", "ttl=0").await;
    stop(t).await;

    let t = TestServer::with_config(limited(dir.path())).await;
    // The per-channel limit trimmed the store on disk as in memory.
    assert_eq!(
        t.get(&history("kept", "")).await.json()[0],
        json!([3, 4, 5, 6, 7])
    );
    assert_eq!(
        t.get(&history("short", "")).await.json()[0],
        json!(["an hour", "forever"])
    );
    // The ttl was kept with the message: it still expires on time.
    t.server.advance_clock(Duration::from_secs(3601));
    assert_eq!(
        t.get(&history("short", "")).await.json()[0],
        json!(["forever"])
    );
    // Deleting history is kept too.
    let deleted = t
        .request(
            "DELETE",
            &format!("/v3/history/sub-key/{SUB}/channel/kept?uuid=admin"),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    stop(t).await;

    let t = TestServer::with_config(limited(dir.path())).await;
    assert_eq!(t.get(&history("kept", "")).await.json()[0], json!([]));
    stop(t).await;
}

#[tokio::test]
async fn a_publisher_chosen_timetoken_does_not_move_the_server_clock_on_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = TestServer::with_config(config(dir.path())).await;
    let far = 99_999_999_999_999_999u64;
    t.publish_with("ptto", "\"from the future\"", &format!("ptto={far}"))
        .await;
    stop(t).await;
    let t = TestServer::with_config(config(dir.path())).await;
    let stored = t.get(&history("ptto", "&include_token=true")).await.json();
    assert_eq!(stored[0][0]["timetoken"], far, "kept with its timetoken");
    let next = t.publish("ptto", "\"now\"").await;
    assert!(next < far, "the clock stays the server's: {next}");
    stop(t).await;
}

#[tokio::test]
async fn a_restarted_clock_continues_after_every_cursor_handed_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = TestServer::with_config(config(dir.path())).await;
    // An hour ahead (the test clock), on a signal nothing stores.
    t.server.advance_clock(Duration::from_secs(3600));
    let signal = t.signal("live", "\"ping\"").await;
    assert_eq!(signal.status, 200, "{}", signal.body);
    let cursor: u64 = signal.json()[2]
        .as_str()
        .and_then(|tt| tt.parse().ok())
        .expect("timetoken");
    stop(t).await;
    let t = TestServer::with_config(config(dir.path())).await;
    let next = t.publish("live", "\"after\"").await;
    assert!(next > cursor, "{next} after the cursor {cursor}");
    stop(t).await;
}

#[tokio::test]
async fn the_global_byte_cap_evicts_from_the_data_dir_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Room for a few of these messages, not for all.
    let capped = |dir: &Path| config(dir).with_max_store_bytes(16 * 1024);
    let t = TestServer::with_config(capped(dir.path())).await;
    let filler = format!("\"{}\"", "x".repeat(2000));
    for _ in 0..40 {
        t.publish("big", &filler).await;
    }
    let before = t.get(&history("big", "")).await.json()[0]
        .as_array()
        .map_or(0, Vec::len);
    assert!(before < 40, "the cap evicted: {before}");
    stop(t).await;

    let t = TestServer::with_config(capped(dir.path())).await;
    let after = t.get(&history("big", "")).await.json()[0]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(after, before, "what was evicted stays evicted");
    stop(t).await;
}

#[tokio::test]
async fn a_locked_or_damaged_data_dir_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = DevServer::start(config(dir.path()))
        .await
        .expect("first server");
    let second = DevServer::start(config(dir.path())).await;
    match second {
        Err(ServerError::Storage(StorageError::Locked { dir: locked })) => {
            assert_eq!(locked, dir.path());
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    first.shutdown().await;
    // Once the first server stopped, the dir opens again.
    let again = DevServer::start(config(dir.path())).await.expect("reopens");
    again.shutdown().await;

    let damaged = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        damaged.path().join("pubnub-dev-server.redb"),
        b"not a database at all, but long enough to look like a header............",
    )
    .expect("write");
    match DevServer::start(config(damaged.path())).await {
        Err(ServerError::Storage(error @ StorageError::Unreadable { .. })) => {
            let text = error.to_string();
            assert!(text.contains("damaged"), "{text}");
        }
        other => panic!("expected Unreadable, got {other:?}"),
    }

    // A file where the dir should be.
    let file = tempfile::NamedTempFile::new().expect("temp file");
    match DevServer::start(config(file.path())).await {
        Err(ServerError::Storage(StorageError::Io { .. })) => {}
        other => panic!("expected Io, got {other:?}"),
    }
}

#[tokio::test]
async fn export_and_import_round_trip_one_json_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = TestServer::with_config(config(dir.path())).await;
    for i in 0..3 {
        t.publish("chat", &format!("{{\"n\": {i}}}")).await;
    }
    let group = t
        .get(&format!(
            "/v1/channel-registration/sub-key/{SUB}/channel-group/friends?add=chat&uuid=alice"
        ))
        .await;
    assert_eq!(group.status, 200);
    let before = t.get(&history("chat", "")).await.body;
    stop(t).await;

    let out = dir.path().join("export.json");
    let data_dir = dir.path().to_owned();
    let out_path = out.clone();
    let records = tokio::task::spawn_blocking(move || {
        pubnub_rx::server::export_data_dir(&data_dir, &out_path)
    })
    .await
    .expect("joined")
    .expect("exported");
    assert!(records >= 4, "3 messages and a group: {records}");
    let export: Value = serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("JSON");
    assert_eq!(export["format"], "pubnub-rx dev server data");
    assert_eq!(
        export["tables"]["channel_groups"][0]["value"],
        json!(["chat"])
    );
    assert_eq!(
        export["tables"]["messages"][2]["value"]["data"],
        json!({"n": 2})
    );

    // Into a fresh data dir, and into memory.
    let fresh = tempfile::tempdir().expect("temp dir");
    let t = TestServer::with_config(config(fresh.path()).with_import(&out)).await;
    assert_eq!(t.get(&history("chat", "")).await.body, before);
    stop(t).await;
    let t = TestServer::with_config(config(fresh.path())).await;
    assert_eq!(t.get(&history("chat", "")).await.body, before, "kept");
    stop(t).await;
    let t = TestServer::with_config(
        test_config()
            .with_keyset(Keyset::new(SUB, PUB))
            .with_import(&out),
    )
    .await;
    assert_eq!(t.get(&history("chat", "")).await.body, before);
    assert_eq!(t.server.data_dir(), None);
    stop(t).await;

    // Exporting what is not a data dir is refused, and creates nothing.
    let missing = dir.path().join("no-such-dir");
    let out_path = dir.path().join("never.json");
    let refused = pubnub_rx::server::export_data_dir(&missing, &out_path);
    assert!(
        matches!(refused, Err(StorageError::Io { .. })),
        "{refused:?}"
    );
    assert!(!missing.exists() && !out_path.exists());

    // Never over data: importing into a dir that holds some is refused.
    match DevServer::start(config(fresh.path()).with_import(&out)).await {
        Err(ServerError::Storage(StorageError::Import { reason, .. })) => {
            assert!(reason.contains("already holds data"), "{reason}");
        }
        other => panic!("expected Import, got {other:?}"),
    }
    // And a file that is not an export is refused with what it is.
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, br#"{"hello": "world"}"#).expect("write");
    let empty = tempfile::tempdir().expect("temp dir");
    match DevServer::start(config(empty.path()).with_import(&bogus)).await {
        Err(ServerError::Storage(StorageError::Import { reason, .. })) => {
            assert!(reason.contains("not an export file"), "{reason}");
        }
        other => panic!("expected Import, got {other:?}"),
    }
}

#[tokio::test]
async fn one_commit_per_change_keeps_the_same_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    let each = |dir: &Path| config(dir).with_commit_mode(CommitMode::EachChange);
    let t = TestServer::with_config(each(dir.path())).await;
    let publishes = (0..10).map(|i| {
        let t = &t;
        async move { t.publish("each", &i.to_string()).await }
    });
    let mut sent = futures::future::join_all(publishes).await;
    sent.sort_unstable();
    stop(t).await;
    let t = TestServer::with_config(each(dir.path())).await;
    let stored = t.get(&history("each", "&include_token=true")).await.json();
    let kept: Vec<u64> = stored[0]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["timetoken"].as_u64().expect("timetoken"))
        .collect();
    assert_eq!(kept, sent);
    stop(t).await;
}

#[tokio::test]
async fn the_binary_exports_a_data_dir_and_refuses_what_is_not_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = TestServer::with_config(config(dir.path())).await;
    t.publish("chat", "\"kept\"").await;
    stop(t).await;
    let out = dir.path().join("dump.json");
    let exported = Command::new(env!("CARGO_BIN_EXE_pubnub-dev-server"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--export")
        .arg(&out)
        .output()
        .await
        .expect("runs");
    let stdout = String::from_utf8_lossy(&exported.stdout);
    assert!(exported.status.success(), "{exported:?}");
    assert!(stdout.starts_with("exported 1 record to "), "{stdout}");
    let export: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("JSON");
    assert_eq!(export["tables"]["messages"][0]["value"]["data"], "kept");

    let missing = dir.path().join("missing");
    let refused = Command::new(env!("CARGO_BIN_EXE_pubnub-dev-server"))
        .arg("--data-dir")
        .arg(&missing)
        .arg("--export")
        .arg(dir.path().join("never.json"))
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("not a data dir"), "{stderr}");
    assert!(!missing.exists(), "nothing created");
}

/// Needs `kill -TERM`, so Unix only.
#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_the_binary_gracefully_with_everything_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().as_os_str();
    let mut started = binary::start([
        "--port".as_ref(),
        "0".as_ref(),
        "--data-dir".as_ref(),
        data_dir,
    ])
    .await;
    let http = reqwest::Client::new();
    let reply = http
        .get(format!(
            "http://{}/publish/demo/demo/0/term/0/%22kept%22",
            started.origin
        ))
        .send()
        .await
        .expect("published");
    assert!(reply.status().is_success());
    let pid = started.child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(STEP, started.child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert!(exit.success(), "a graceful stop, not a kill: {exit:?}");

    // The lock is released and the message kept.
    let t = TestServer::with_config(test_config().with_data_dir(dir.path())).await;
    let kept = t
        .get("/v2/history/sub-key/demo/channel/term?uuid=reader")
        .await;
    assert_eq!(kept.json()[0], json!(["kept"]), "{}", kept.body);
    stop(t).await;
}

/// Publishers that flood `CHANNELS` channels until the server dies, each
/// remembering which of its messages were acknowledged.
const CHANNELS: usize = 8;
/// Acknowledged publishes after which the server is killed.
const KILL_AFTER: usize = 300;

/// Needs `kill -9` of a child process, so Unix only.
#[cfg(unix)]
#[tokio::test]
async fn a_data_dir_from_a_killed_server_holds_every_acknowledged_publish() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().as_os_str();
    let mut started = binary::start([
        "--port".as_ref(),
        "0".as_ref(),
        "--data-dir".as_ref(),
        data_dir,
    ])
    .await;
    assert_eq!(
        started.banner(2),
        Some(format!("data dir: {}", dir.path().display()).as_str())
    );
    let origin = started.origin.clone();

    let http = reqwest::Client::new();
    let acked: Arc<Vec<Mutex<Vec<usize>>>> =
        Arc::new((0..CHANNELS).map(|_| Mutex::new(Vec::new())).collect());
    let total = Arc::new(AtomicUsize::new(0));
    let (enough_tx, mut enough) = tokio::sync::watch::channel(false);
    let mut publishers = tokio::task::JoinSet::new();
    for channel in 0..CHANNELS {
        let (http, origin, acked, total) =
            (http.clone(), origin.clone(), acked.clone(), total.clone());
        let enough_tx = enough_tx.clone();
        publishers.spawn(async move {
            for n in 0.. {
                let url = format!("http://{origin}/publish/demo/demo/0/flood-{channel}/0/{n}");
                let Ok(Ok(reply)) = tokio::time::timeout(STEP, http.get(url).send()).await else {
                    return;
                };
                let Ok(body) = reply.text().await else {
                    return;
                };
                if !body.starts_with("[1,\"Sent\"") {
                    return;
                }
                acked[channel]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(n);
                if total.fetch_add(1, Ordering::Relaxed) + 1 >= KILL_AFTER {
                    let _ = enough_tx.send(true);
                }
            }
        });
    }
    drop(enough_tx);
    tokio::time::timeout(Duration::from_secs(60), enough.wait_for(|e| *e))
        .await
        .expect("enough publishes in time")
        .expect("publishers running");
    // SIGKILL, with publishes in flight: no chance to commit or close.
    started.child.start_kill().expect("kill -9");
    started.child.wait().await.expect("the child died");
    while publishers.join_next().await.is_some() {}

    let t = TestServer::with_config(test_config().with_data_dir(dir.path())).await;
    for (channel, acked) in acked.iter().enumerate() {
        let acked = acked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let reply = t
            .get(&format!(
                "/v2/history/sub-key/demo/channel/flood-{channel}?count=100&uuid=reader"
            ))
            .await;
        let stored: Vec<usize> = serde_json::from_str::<Value>(&reply.body).expect("JSON")[0]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m.as_u64().and_then(|n| usize::try_from(n).ok()).expect("n"))
            .collect();
        assert!(
            stored.len() < 100,
            "one page holds the channel: {}",
            stored.len()
        );
        let kept: BTreeSet<usize> = stored.iter().copied().collect();
        assert_eq!(kept.len(), stored.len(), "no duplicates: {stored:?}");
        let lost: Vec<usize> = acked
            .iter()
            .filter(|n| !kept.contains(n))
            .copied()
            .collect();
        assert!(
            lost.is_empty(),
            "flood-{channel}: acknowledged but lost {lost:?}"
        );
        // In order, and at most the one publish in flight past the acked.
        assert!(stored.windows(2).all(|w| w[0] < w[1]), "{stored:?}");
        assert!(stored.len() <= acked.len() + 1, "{stored:?} vs {acked:?}");
    }
    stop(t).await;
}
