//! Message persistence: history v2 (paging, reverse, tokens, meta), fetch v3,
//! message counts, delete, retention and ttl.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::time::Duration;

use dev_server::{test_config, TestServer, SUB};
use serde_json::{json, Value};

async fn publish_n(t: &TestServer, channel: &str, n: usize) -> Vec<u64> {
    let mut tts = Vec::new();
    for i in 0..n {
        tts.push(t.publish(channel, &format!("\"hey-{i}\"")).await);
    }
    tts
}

fn hist(channel: &str, query: &str) -> String {
    format!("/v2/history/sub-key/{SUB}/channel/{channel}?{query}")
}

fn names(range: std::ops::Range<usize>) -> Vec<Value> {
    range.map(|i| json!(format!("hey-{i}"))).collect()
}

#[tokio::test]
async fn history_v2_basic_body_with_numeric_timetokens() {
    let t = TestServer::start().await;
    let tts = publish_n(&t, "basic", 5).await;
    let reply = t.get(&hist("basic", "count=5")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        format!(
            r#"[["hey-0","hey-1","hey-2","hey-3","hey-4"],{},{}]"#,
            tts[0], tts[4]
        )
    );
    let empty = t.get(&hist("nothing-here", "")).await;
    assert_eq!(empty.body, "[[],0,0]");
}

#[tokio::test]
async fn include_token_meta_and_string_tokens() {
    let t = TestServer::start().await;
    let with_meta = t
        .publish_with("tm", r#"{"text": "a"}"#, "meta=%7B%22seq%22%3A0%7D")
        .await;
    let without_meta = t.publish("tm", r#""b""#).await;
    let reply = t
        .get(&hist(
            "tm",
            "count=100&include_token=true&include_meta=true",
        ))
        .await;
    assert_eq!(
        reply.body,
        format!(
            r#"[[{{"message":{{"text":"a"}},"meta":{{"seq":0}},"timetoken":{with_meta}}},{{"message":"b","meta":"","timetoken":{without_meta}}}],{with_meta},{without_meta}]"#
        )
    );
    let strings = t
        .get(&hist("tm", "include_token=true&string_message_token=true"))
        .await
        .json();
    assert_eq!(strings[0][0]["timetoken"], with_meta.to_string());
    assert!(strings[0][0].get("meta").is_none());
}

#[tokio::test]
async fn history_v2_pages_backwards_with_start_and_forwards_with_reverse() {
    let t = TestServer::start().await;
    let tts = publish_n(&t, "paged", 25).await;

    let page = t.get(&hist("paged", "count=10")).await.json();
    assert_eq!(page[0].as_array().unwrap(), &names(15..25));
    assert_eq!(page[1], tts[15]);
    assert_eq!(page[2], tts[24]);
    let page = t
        .get(&hist("paged", &format!("count=10&start={}", tts[15])))
        .await
        .json();
    assert_eq!(page[0].as_array().unwrap(), &names(5..15));
    let page = t
        .get(&hist("paged", &format!("count=10&start={}", tts[5])))
        .await
        .json();
    assert_eq!(page[0].as_array().unwrap(), &names(0..5));
    let page = t
        .get(&hist("paged", &format!("count=10&start={}", tts[0])))
        .await;
    assert_eq!(page.body, "[[],0,0]");

    let page = t.get(&hist("paged", "count=10&reverse=true")).await.json();
    assert_eq!(page[0].as_array().unwrap(), &names(0..10));
    let page = t
        .get(&hist(
            "paged",
            &format!("count=10&reverse=true&start={}", tts[9]),
        ))
        .await
        .json();
    assert_eq!(page[0].as_array().unwrap(), &names(10..20));

    // A slice: start exclusive, end inclusive.
    let slice = t
        .get(&hist("paged", &format!("start={}&end={}", tts[12], tts[7])))
        .await
        .json();
    assert_eq!(slice[0].as_array().unwrap(), &names(7..12));
    let from_end = t
        .get(&hist("paged", &format!("end={}", tts[22])))
        .await
        .json();
    assert_eq!(from_end[0].as_array().unwrap(), &names(22..25));
    // count is capped at 100 and defaults to 100.
    let capped = t.get(&hist("paged", "count=1000")).await.json();
    assert_eq!(capped[0].as_array().unwrap().len(), 25);
}

#[tokio::test]
async fn ttl_expires_messages_on_the_server_clock() {
    let t = TestServer::start().await;
    t.publish_with("ttl", "\"short\"", "ttl=1").await;
    t.publish_with("ttl", "\"forever\"", "ttl=0").await;
    t.publish("ttl", "\"default\"").await;
    assert_eq!(
        t.get(&hist("ttl", "")).await.json()[0],
        json!(["short", "forever", "default"])
    );
    t.server.advance_clock(Duration::from_secs(3601));
    assert_eq!(
        t.get(&hist("ttl", "")).await.json()[0],
        json!(["forever", "default"])
    );
    let counts = t
        .get(&format!(
            "/v3/history/sub-key/{SUB}/message-counts/ttl?timetoken=1"
        ))
        .await;
    assert_eq!(counts.json()["channels"]["ttl"], 2);
}

#[tokio::test]
async fn history_retention_is_bounded() {
    let t = TestServer::with_config(test_config().with_history_retention(20)).await;
    publish_n(&t, "kept", 30).await;
    assert_eq!(
        t.get(&hist("kept", "")).await.json()[0].as_array().unwrap(),
        &names(10..30)
    );
}

#[tokio::test]
async fn fetch_v3_single_multi_and_includes() {
    let t = TestServer::start().await;
    let tt = t
        .publish_with(
            "f1",
            "\"hey-meta\"",
            "meta=%7B%22is-this%22%3A%22krusty-krab%22%7D&custom_message_type=greeting",
        )
        .await;
    let reply = t
        .get(&format!(
            "/v3/history/sub-key/{SUB}/channel/f1?max=25&include_meta=true&include_uuid=true&include_message_type=true&include_custom_message_type=true"
        ))
        .await;
    assert_eq!(
        reply.json(),
        json!({"status": 200, "error": false, "error_message": "", "channels": {"f1": [
            {"message": "hey-meta", "timetoken": tt.to_string(), "meta": {"is-this": "krusty-krab"},
             "uuid": "publisher", "message_type": null, "custom_message_type": "greeting"}]}})
    );
    let plain = t
        .get(&format!("/v3/history/sub-key/{SUB}/channel/f1"))
        .await
        .json();
    assert_eq!(
        plain["channels"]["f1"][0],
        json!({"message": "hey-meta", "timetoken": tt.to_string()})
    );

    let with_actions = t
        .get(&format!(
            "/v3/history-with-actions/sub-key/{SUB}/channel/f1?max=25&include_meta=false"
        ))
        .await
        .json();
    assert_eq!(with_actions["channels"]["f1"][0]["actions"], json!({}));

    // Several channels: 25 per channel at most, the newest; JS encodes the comma.
    publish_n(&t, "m1", 30).await;
    publish_n(&t, "m2", 3).await;
    let multi = t
        .get(&format!(
            "/v3/history/sub-key/{SUB}/channel/m1%2Cm2%2Cempty?max=100"
        ))
        .await
        .json();
    let m1: Vec<Value> = multi["channels"]["m1"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["message"].clone())
        .collect();
    assert_eq!(m1, names(5..30));
    assert_eq!(multi["channels"]["m2"].as_array().unwrap().len(), 3);
    assert!(multi["channels"].get("empty").is_none());
}

#[tokio::test]
async fn fetch_v3_single_channel_pages_with_more() {
    let t = TestServer::start().await;
    let tts = publish_n(&t, "big", 120).await;
    let first = t
        .get(&format!("/v3/history/sub-key/{SUB}/channel/big"))
        .await
        .json();
    let items = first["channels"]["big"].as_array().unwrap();
    assert_eq!(items.len(), 100);
    assert_eq!(items[0]["message"], "hey-20");
    assert_eq!(first["more"]["start"], tts[20].to_string());
    assert_eq!(first["more"]["max"], 100);
    let next = t
        .get(&format!(
            "/v3/history/sub-key/{SUB}/channel/big?start={}",
            tts[20]
        ))
        .await
        .json();
    let items = next["channels"]["big"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(items[19]["message"], "hey-19");
    assert!(next.get("more").is_none());
}

#[tokio::test]
async fn message_counts_for_one_and_several_channels() {
    let t = TestServer::start().await;
    let t1 = t.publish("c1", "\"something\"").await;
    let before = t1 - 10;
    let single = t
        .get(&format!(
            "/v3/history/sub-key/{SUB}/message-counts/c1?timetoken={before}"
        ))
        .await;
    assert_eq!(
        single.json(),
        json!({"status": 200, "error": false, "error_message": "", "channels": {"c1": 1}})
    );
    t.publish("c2", "\"a\"").await;
    let t2b = t.publish("c2", "\"b\"").await;
    let multi = t
        .get(&format!(
            "/v3/history/sub-key/{SUB}/message-counts/c1,c2,c3?channelsTimetoken={before}%2C{}%2C{before}",
            t2b - 1
        ))
        .await;
    assert_eq!(multi.json()["channels"], json!({"c1": 1, "c2": 1, "c3": 0}));
}

#[tokio::test]
async fn delete_removes_ranges_single_messages_and_everything() {
    let t = TestServer::start().await;
    let tts = publish_n(&t, "del", 10).await;
    let delete = |query: String| {
        let path = format!("/v3/history/sub-key/{SUB}/channel/del?{query}");
        let t = &t;
        async move { t.request("DELETE", &path, None, &[]).await }
    };
    // One message: end = tt, start = tt + 1.
    let reply = delete(format!("start={}&end={}", tts[3] + 1, tts[3])).await;
    assert_eq!(
        reply.body,
        r#"{"status":200,"error":false,"error_message":""}"#
    );
    let mut expected: Vec<Value> = names(0..10);
    expected.remove(3);
    assert_eq!(
        t.get(&hist("del", "")).await.json()[0].as_array().unwrap(),
        &expected
    );
    // A range: start exclusive, end inclusive, in either order.
    delete(format!("start={}&end={}", tts[5], tts[7])).await;
    let left: Vec<Value> = [0, 1, 2, 4, 5, 8, 9]
        .iter()
        .map(|i| json!(format!("hey-{i}")))
        .collect();
    assert_eq!(
        t.get(&hist("del", "")).await.json()[0].as_array().unwrap(),
        &left
    );
    // Equal bounds delete nothing.
    delete(format!("start={}&end={}", tts[8], tts[8])).await;
    assert_eq!(
        t.get(&hist("del", "")).await.json()[0]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    // No bounds: everything.
    delete(String::new()).await;
    assert_eq!(t.get(&hist("del", "")).await.body, "[[],0,0]");
}

/// PubNub stores what was published verbatim: key order, number spelling
/// and `\u` escapes come back from history v2 and fetch v3 as sent.
#[tokio::test]
async fn history_and_fetch_return_the_published_json_verbatim() {
    let t = TestServer::start().await;
    let payload = r#"{"b":1,"a":[1.50,12345678901234567890,"\u00e9"],"z":{"y":null,"x":true}}"#;
    let meta = r#"{"k2":"v","k1":2.0}"#;
    let encoded_meta: String =
        percent_encoding::utf8_percent_encode(meta, percent_encoding::NON_ALPHANUMERIC).to_string();
    let tt = t
        .publish_with("verbatim", payload, &format!("meta={encoded_meta}"))
        .await;

    let bare = t.get(&hist("verbatim", "")).await;
    assert_eq!(bare.body, format!("[[{payload}],{tt},{tt}]"));

    let full = t
        .get(&hist("verbatim", "include_token=true&include_meta=true"))
        .await;
    assert_eq!(
        full.body,
        format!(r#"[[{{"message":{payload},"meta":{meta},"timetoken":{tt}}}],{tt},{tt}]"#)
    );

    let fetched = t
        .get(&format!(
            "/v3/history/sub-key/{SUB}/channel/verbatim?include_meta=true"
        ))
        .await;
    assert_eq!(fetched.status, 200);
    assert!(
        fetched.body.contains(&format!(
            r#""verbatim":[{{"message":{payload},"timetoken":"{tt}","meta":{meta}}}]"#
        )),
        "{}",
        fetched.body
    );
}
