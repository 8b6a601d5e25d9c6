//! Subscribe v2 long-poll: handshake, receive, hold, the shared queue rule,
//! wildcards, groups, shutdown and the test hooks.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::sync::Arc;
use std::time::Duration;

use dev_server::{enc, test_config, TestServer, PUB, STEP, SUB};
use pubnub_rx::server::{DevServerConfig, RouteKind};
use serde_json::json;

fn short_hold() -> DevServerConfig {
    test_config().with_hold(Duration::from_millis(300))
}

fn long_hold() -> DevServerConfig {
    test_config().with_hold(Duration::from_secs(120))
}

#[tokio::test]
async fn handshake_answers_at_once_with_a_fresh_cursor_with_or_without_tt() {
    let t = TestServer::with_config(long_hold()).await;
    let before = t.server.timetoken();
    let with_tt = t.poll("ch", "tt=0&uuid=py").await;
    // npm pubnub 7.3.3 sends no `tt` at all on the handshake.
    let without_tt = t.poll("ch", "uuid=js&heartbeat=300").await;
    assert!(with_tt.messages.is_empty() && without_tt.messages.is_empty());
    assert!(with_tt.cursor > before);
    assert!(without_tt.cursor > with_tt.cursor);
    assert_eq!(with_tt.cursor.to_string().len(), 17);
}

#[tokio::test]
async fn receive_returns_newer_messages_oldest_first_and_advances_the_cursor() {
    let t = TestServer::with_config(long_hold()).await;
    let cursor = t.handshake("a,b", "l", "").await;
    let t1 = t.publish("a", "1").await;
    let t2 = t.publish("b", "2").await;
    let t3 = t.publish("a", "3").await;
    let polled = t.receive("a,b", cursor, "l", "").await;
    assert_eq!(polled.payloads(), [json!(1), json!(2), json!(3)]);
    let tts: Vec<String> = polled
        .messages
        .iter()
        .map(|m| m["p"]["t"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tts, [t1.to_string(), t2.to_string(), t3.to_string()]);
    assert_eq!(polled.cursor, t3);
    // Nothing is delivered twice.
    let t4 = t.publish("b", "4").await;
    let next = t.receive("a,b", polled.cursor, "l", "").await;
    assert_eq!(next.payloads(), [json!(4)]);
    assert_eq!(next.cursor, t4);
}

#[tokio::test]
async fn a_parked_receive_is_answered_by_a_publish_not_by_the_hold() {
    let t = Arc::new(TestServer::with_config(long_hold()).await);
    let cursor = t.handshake("wake", "l", "").await;
    let mark = t.server.request_log().mark();
    let poll = {
        let t = t.clone();
        tokio::spawn(async move { t.receive("wake", cursor, "l", "").await })
    };
    // Wait until the receive has reached the server, then publish.
    tokio::time::timeout(
        STEP,
        t.server.request_log().wait_for_after(mark, |r| {
            r.kind == RouteKind::Subscribe && r.param("tt") == Some(&cursor.to_string())
        }),
    )
    .await
    .expect("the receive arrives");
    let tt = t.publish("wake", r#"{"hello": "parked"}"#).await;
    // The hold is 120 s: an answer within STEP can only come from the wake-up.
    let polled = tokio::time::timeout(STEP, poll)
        .await
        .expect("woken")
        .unwrap();
    assert_eq!(polled.payloads(), [json!({"hello": "parked"})]);
    assert_eq!(polled.cursor, tt);
}

#[tokio::test]
async fn an_idle_receive_ends_after_the_hold_with_an_empty_m_and_the_same_cursor() {
    let t = TestServer::with_config(short_hold()).await;
    let cursor = t.handshake("idle", "l", "").await;
    // Publishes elsewhere do not answer this poll.
    t.publish("elsewhere", "1").await;
    let polled = t.receive("idle", cursor, "l", "").await;
    assert!(polled.messages.is_empty());
    assert_eq!(polled.cursor, cursor);
}

#[tokio::test]
async fn the_queue_is_shared_by_the_connection_newest_100_across_channels_win() {
    let t = TestServer::with_config(short_hold()).await;
    let cursor = t.handshake("q1,q2,q3", "away", "").await;
    // The subscriber is away while 150 messages arrive over three channels.
    let mut published = Vec::new();
    for i in 0..150 {
        let channel = ["q1", "q2", "q3"][i % 3];
        let tt = t.publish(channel, &i.to_string()).await;
        published.push((i, channel, tt));
    }
    let polled = t.receive("q1,q2,q3", cursor, "away", "").await;
    assert_eq!(polled.messages.len(), 100, "at most the queue size");
    let expected: Vec<_> = published[50..].iter().map(|(i, _, _)| json!(i)).collect();
    assert_eq!(polled.payloads(), expected, "the newest 100, oldest first");
    for (m, (_, channel, tt)) in polled.messages.iter().zip(&published[50..]) {
        assert_eq!(m["c"], *channel);
        assert_eq!(m["p"]["t"], tt.to_string());
    }
    assert_eq!(polled.cursor, published[149].2);
    // The 50 older ones are lost for this subscriber: nothing else comes.
    let after = t.receive("q1,q2,q3", polled.cursor, "away", "").await;
    assert!(after.messages.is_empty(), "{:?}", after.payloads());
}

#[tokio::test]
async fn queue_size_is_configurable() {
    let t = TestServer::with_config(short_hold().with_queue_size(10)).await;
    let cursor = t.handshake("small", "l", "").await;
    for i in 0..25 {
        t.publish("small", &i.to_string()).await;
    }
    let polled = t.receive("small", cursor, "l", "").await;
    let expected: Vec<_> = (15..25).map(|i| json!(i)).collect();
    assert_eq!(polled.payloads(), expected);
}

#[tokio::test]
async fn per_channel_retention_is_bounded_for_catch_up() {
    let t = TestServer::with_config(short_hold().with_channel_retention(100)).await;
    let start = t.server.timetoken();
    for i in 0..300 {
        t.publish("retained", &i.to_string()).await;
    }
    // A user-chosen catch-up timetoken from before all of them.
    let polled = t.receive("retained", start, "l", "").await;
    let expected: Vec<_> = (200..300).map(|i| json!(i)).collect();
    assert_eq!(polled.payloads(), expected);
}

#[tokio::test]
async fn js_encoded_commas_in_the_channel_list_are_a_list() {
    let t = TestServer::with_config(long_hold()).await;
    let cursor = t.handshake("x%2Cy", "js", "").await;
    t.publish("y", "\"to y\"").await;
    let polled = t.receive("x%2Cy", cursor, "js", "").await;
    assert_eq!(polled.payloads(), [json!("to y")]);
    assert!(polled.messages[0].get("b").is_none());
}

#[tokio::test]
async fn wildcard_subscription_matches_with_b_set_to_the_pattern() {
    let t = TestServer::with_config(short_hold()).await;
    let cursor = t.handshake(&enc("sports.*"), "fan", "").await;
    t.publish("sports.cricket", "\"c\"").await;
    t.publish("sportsx", "\"not a match\"").await;
    t.publish("other.tennis", "\"other\"").await;
    t.publish("sports.ball.golf", "\"deep\"").await;
    let polled = t.receive(&enc("sports.*"), cursor, "fan", "").await;
    assert_eq!(polled.payloads(), [json!("c"), json!("deep")]);
    assert_eq!(polled.messages[0]["c"], "sports.cricket");
    assert_eq!(polled.messages[0]["b"], "sports.*");
    assert_eq!(polled.messages[1]["c"], "sports.ball.golf");
}

#[tokio::test]
async fn a_parked_wildcard_poll_is_woken_by_a_matching_publish() {
    let t = Arc::new(TestServer::with_config(long_hold()).await);
    let cursor = t.handshake("news.*", "l", "").await;
    let poll = {
        let t = t.clone();
        tokio::spawn(async move { t.receive("news.*", cursor, "l", "").await })
    };
    t.server
        .request_log()
        .wait_for(|r| r.kind == RouteKind::Subscribe && r.param("tt") == Some(&cursor.to_string()))
        .await;
    t.publish("news.world", "\"headline\"").await;
    let polled = tokio::time::timeout(STEP, poll)
        .await
        .expect("woken")
        .unwrap();
    assert_eq!(polled.payloads(), [json!("headline")]);
    assert_eq!(polled.messages[0]["b"], "news.*");
}

#[tokio::test]
async fn a_channel_matched_twice_is_delivered_once() {
    let t = TestServer::with_config(short_hold()).await;
    let add = t
        .get(&format!(
            "/v1/channel-registration/sub-key/{SUB}/channel-group/g?add=dup"
        ))
        .await;
    assert_eq!(add.status, 200);
    let cursor = t.handshake("dup,dup.*", "l", "channel-group=g").await;
    t.publish("dup", "\"once\"").await;
    let polled = t.receive("dup,dup.*", cursor, "l", "channel-group=g").await;
    assert_eq!(polled.payloads(), [json!("once")]);
    assert!(polled.messages[0].get("b").is_none(), "direct match wins");
}

#[tokio::test]
async fn a_thousand_parked_polls_all_receive_one_publish() {
    let t = Arc::new(TestServer::with_config(long_hold()).await);
    let cursor = t.handshake("fanout", "l", "").await;
    let polls: Vec<_> = (0..1000)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move { t.receive("fanout", cursor, &format!("u{i}"), "").await })
        })
        .collect();
    tokio::time::timeout(STEP, t.server.wait_for_parked(1000))
        .await
        .expect("all polls park");
    let tt = t.publish("fanout", "\"everyone\"").await;
    for poll in polls {
        let polled = tokio::time::timeout(STEP, poll)
            .await
            .expect("answered")
            .unwrap();
        assert_eq!(polled.payloads(), [json!("everyone")]);
        assert_eq!(polled.cursor, tt);
    }
    assert_eq!(t.server.parked_polls(), 0, "registrations are removed");
}

#[tokio::test]
async fn shutdown_answers_parked_polls_and_ends_the_server() {
    let t = Arc::new(TestServer::with_config(long_hold()).await);
    let cursor = t.handshake("bye", "l", "").await;
    let poll = {
        let http = t.http.clone();
        let url = format!("{}/v2/subscribe/{SUB}/bye/0?tt={cursor}&uuid=l", t.base);
        tokio::spawn(async move { http.get(url).send().await?.text().await })
    };
    t.server
        .request_log()
        .wait_for(|r| r.kind == RouteKind::Subscribe && r.param("tt") == Some(&cursor.to_string()))
        .await;
    let addr = t.server.addr();
    let t = Arc::try_unwrap(t).ok().expect("only owner");
    tokio::time::timeout(STEP, t.server.shutdown())
        .await
        .expect("shutdown in time");
    let body = tokio::time::timeout(STEP, poll)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(body, format!(r#"{{"t":{{"t":"{cursor}","r":1}},"m":[]}}"#));
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let t = TestServer::start().await;
    let addr = t.server.addr();
    assert_eq!(t.get("/time/0").await.status, 200);
    drop(t);
    // The listener is closed as soon as the aborted task is dropped.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "still accepting after the handle was dropped");
}

#[tokio::test]
async fn fault_injection_answers_drops_and_delays_subscribe_requests() {
    let t = TestServer::with_config(short_hold()).await;
    t.server.faults().respond(
        RouteKind::Subscribe,
        1,
        503,
        r#"{"status":503,"error":true,"message":"down","service":"Balancer"}"#,
    );
    let reply = t.get(&format!("/v2/subscribe/{SUB}/f/0?tt=0")).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["message"], "down");
    // Only one: the next one is normal.
    let cursor = t.handshake("f", "l", "").await;

    t.server.faults().drop_connections(RouteKind::Subscribe, 1);
    let dropped = t
        .http
        .get(format!("{}/v2/subscribe/{SUB}/f/0?tt={cursor}", t.base))
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection is closed without an answer"
    );
    assert_eq!(t.server.faults().pending(), 0);

    t.server
        .faults()
        .drop_connections_after(RouteKind::Subscribe, 1, Duration::from_millis(50));
    let dropped = t
        .http
        .get(format!("{}/v2/subscribe/{SUB}/f/0?tt={cursor}", t.base))
        .send()
        .await;
    assert!(dropped.is_err());

    // Publishes are not affected by subscribe faults.
    t.server
        .faults()
        .delay(RouteKind::Subscribe, 1, Duration::from_millis(20));
    t.publish("f", "\"after faults\"").await;
    let polled = t.receive("f", cursor, "l", "").await;
    assert_eq!(polled.payloads(), [json!("after faults")]);
}

#[tokio::test]
async fn the_request_log_records_method_path_decoded_query_and_body() {
    let t = TestServer::start().await;
    t.request(
        "POST",
        &format!("/publish/{PUB}/{SUB}/0/logged/0?meta=%7B%22a%22%3A+1%7D&uuid=me"),
        Some(b"\"body\"".to_vec()),
        &[("content-type", "application/json")],
    )
    .await;
    let logged = tokio::time::timeout(
        STEP,
        t.server
            .request_log()
            .wait_for(|r| r.kind == RouteKind::Publish),
    )
    .await
    .unwrap();
    assert_eq!(logged.method, "POST");
    assert_eq!(logged.path, format!("/publish/{PUB}/{SUB}/0/logged/0"));
    assert_eq!(logged.param("meta"), Some(r#"{"a": 1}"#));
    assert_eq!(logged.param("uuid"), Some("me"));
    assert_eq!(&logged.body[..], b"\"body\"");
    assert_eq!(logged.header("content-type"), Some("application/json"));
    assert_eq!(t.server.request_log().of_kind(RouteKind::Publish).len(), 1);
}
