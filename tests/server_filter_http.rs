//! `filter-expr` over HTTP: a table of expressions against a fixed set of
//! published messages, unparsable filters, and filters vs presence. The
//! language itself is unit-tested in `server_filter.rs`.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::time::Duration;

use dev_server::{enc, test_config, TestServer};
use serde_json::json;

/// Publishes the fixed message set; returns the cursor before it.
async fn publish_set(t: &TestServer, channel: &str) -> u64 {
    let cursor = t.server.timetoken();
    let messages = [
        (
            r#"{"lang":"en","score":10,"user":{"role":"admin"},"tags":"red,green"}"#,
            r#"{"id":"m1","text":"hello world","n":1}"#,
        ),
        (
            r#"{"lang":"es","score":5,"user":{"role":"guest"}}"#,
            r#"{"id":"m2","text":"hola","n":2}"#,
        ),
        (
            r#"{"lang":"en","score":7.5,"region":"us-east"}"#,
            r#"{"id":"m3","text":"Howdy","n":3}"#,
        ),
        ("", r#"{"id":"m4","text":"no meta","n":4}"#),
        (
            r#"{"lang":"fr","score":-1,"vip":true}"#,
            r#"{"id":"m5","n":5}"#,
        ),
    ];
    for (meta, data) in messages {
        let extra = if meta.is_empty() {
            String::new()
        } else {
            format!("meta={}", enc(meta))
        };
        t.publish_with(channel, data, &extra).await;
    }
    cursor
}

async fn ids_matching(t: &TestServer, channel: &str, cursor: u64, expr: &str) -> Vec<String> {
    let polled = t
        .receive(
            channel,
            cursor,
            "filtering",
            &format!("filter-expr={}", enc(expr)),
        )
        .await;
    polled
        .messages
        .iter()
        .map(|m| m["d"]["id"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn filter_expression_table() {
    let t = TestServer::with_config(test_config().with_hold(Duration::from_millis(200))).await;
    let cursor = publish_set(&t, "filtered").await;
    let table: &[(&str, &[&str])] = &[
        (r#"meta.lang == "en""#, &["m1", "m3"]),
        (r#"meta.lang == 'en'"#, &["m1", "m3"]),
        (r#"meta.lang != "en""#, &["m2", "m5"]),
        ("meta.score > 5", &["m1", "m3"]),
        ("meta.score >= 5", &["m1", "m2", "m3"]),
        ("meta.score < 5", &["m5"]),
        ("meta.score <= 7.5", &["m2", "m3", "m5"]),
        ("meta.score == 7.5", &["m3"]),
        (r#"meta.lang LIKE "e*""#, &["m1", "m2", "m3"]),
        (r#"meta.lang like 'E*'"#, &["m1", "m2", "m3"]),
        (r#"meta.region LIKE "*east""#, &["m3"]),
        (r#"meta.tags CONTAINS "green""#, &["m1"]),
        (r#"meta.lang == "en" && meta.score > 8"#, &["m1"]),
        (r#"meta.lang == "es" || meta.score < 0"#, &["m2", "m5"]),
        (r#"!(meta.lang == "en") && meta.score < 100"#, &["m2", "m5"]),
        (
            r#"(meta.lang == "en" || meta.lang == "fr") && meta.score > 0"#,
            &["m1", "m3"],
        ),
        (r#"meta.user.role == "admin""#, &["m1"]),
        (r#"meta.user["role"] == "guest""#, &["m2"]),
        ("data.n == 2", &["m2"]),
        (r#"data.text LIKE "h*""#, &["m1", "m2", "m3"]),
        (r#"data.text CONTAINS "world""#, &["m1"]),
        ("meta.vip == true", &["m5"]),
        ("lang == 'en'", &["m1", "m3"]),
        (r#"('en', 'fr') CONTAINS meta.lang"#, &["m1", "m3", "m5"]),
        (r#"meta.missing == "x""#, &[]),
    ];
    assert!(table.len() >= 20);
    let mut failures = Vec::new();
    for (expr, expected) in table {
        let got = ids_matching(&t, "filtered", cursor, expr).await;
        if got != *expected {
            failures.push(format!("{expr}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "filter mismatches:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn an_unparsable_filter_matches_no_message_but_presence_still_arrives() {
    let t = TestServer::with_config(test_config().with_hold(Duration::from_millis(200))).await;
    let broken = format!("filter-expr={}", enc("meta.lang == "));
    let cursor = t.handshake("fx,fx-pnpres", "watcher", &broken).await;
    t.publish_with("fx", r#"{"id":"m"}"#, "meta=%7B%22lang%22%3A%22en%22%7D")
        .await;
    let polled = t.receive("fx,fx-pnpres", cursor, "watcher", &broken).await;
    let channels: Vec<_> = polled.messages.iter().map(|m| m["c"].clone()).collect();
    assert_eq!(channels, [json!("fx-pnpres")], "only the join, no message");
}

#[tokio::test]
async fn a_filter_never_hides_presence_events_and_keeps_matching_messages() {
    let t = TestServer::with_config(test_config().with_hold(Duration::from_millis(200))).await;
    let filter = format!("filter-expr={}", enc(r#"meta.lang == "en""#));
    let cursor = t.handshake("fy,fy-pnpres", "watcher", &filter).await;
    t.publish_with("fy", r#"{"id":"en"}"#, "meta=%7B%22lang%22%3A%22en%22%7D")
        .await;
    let polled = t.receive("fy,fy-pnpres", cursor, "watcher", &filter).await;
    let channels: Vec<_> = polled.messages.iter().map(|m| m["c"].clone()).collect();
    assert_eq!(channels, [json!("fy-pnpres"), json!("fy")]);
    assert_eq!(polled.messages[1]["d"]["id"], "en");
}
