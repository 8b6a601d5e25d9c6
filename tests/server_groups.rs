//! Channel groups: management bodies and subscriptions through a group.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::sync::Arc;
use std::time::Duration;

use dev_server::{test_config, TestServer, STEP, SUB};
use pubnub_rx::server::RouteKind;
use serde_json::json;

const OK: &str = r#"{"status":200,"message":"OK","service":"channel-registry","error":false}"#;

fn cg(group: &str, query: &str) -> String {
    format!("/v1/channel-registration/sub-key/{SUB}/channel-group/{group}{query}")
}

#[tokio::test]
async fn add_list_remove_delete_with_python_and_js_encodings() {
    let t = TestServer::start().await;
    // Deleting a group that does not exist is fine (every SDK test starts so).
    assert_eq!(t.get(&cg("cap-cg", "/remove")).await.body, OK);
    // Python: literal comma; JS: %2C.
    assert_eq!(
        t.get(&cg("cap-cg", "?add=cap-a,cap-b&uuid=py")).await.body,
        OK
    );
    assert_eq!(
        t.get(&cg("cap-cg", "?add=cap-c%2Ccap-d&uuid=js"))
            .await
            .body,
        OK
    );
    let list = t.get(&cg("cap-cg", "")).await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.json(),
        json!({"status": 200, "payload": {"channels": ["cap-a", "cap-b", "cap-c", "cap-d"], "group": "cap-cg"},
               "service": "channel-registry", "error": false})
    );
    assert_eq!(t.get(&cg("cap-cg", "?remove=cap-a%2Ccap-c")).await.body, OK);
    assert_eq!(
        t.get(&cg("cap-cg", "")).await.json()["payload"]["channels"],
        json!(["cap-b", "cap-d"])
    );
    let groups = t
        .get(&format!(
            "/v1/channel-registration/sub-key/{SUB}/channel-group"
        ))
        .await;
    assert_eq!(groups.json()["payload"]["groups"], json!(["cap-cg"]));
    assert_eq!(groups.json()["payload"]["sub_key"], SUB);
    assert_eq!(t.get(&cg("cap-cg", "/remove")).await.body, OK);
    // Listed after deletion: 200 with an empty list, not 404.
    let list = t.get(&cg("cap-cg", "")).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["payload"]["channels"], json!([]));
}

#[tokio::test]
async fn messages_through_a_group_carry_b_and_group_only_lists_work_for_both_clients() {
    let t = TestServer::with_config(test_config().with_hold(Duration::from_millis(300))).await;
    t.get(&cg("room", "?add=r1,r2")).await;
    // Python sends `,` as the channel list, JS `%2C`.
    for list in [",", "%2C"] {
        let cursor = t.handshake(list, "member", "channel-group=room").await;
        t.publish("r1", "\"one\"").await;
        t.publish("r3", "\"not in the group\"").await;
        t.publish("r2", "\"two\"").await;
        let polled = t
            .receive(list, cursor, "member", "channel-group=room")
            .await;
        assert_eq!(polled.payloads(), [json!("one"), json!("two")]);
        for m in &polled.messages {
            assert_eq!(m["b"], "room");
        }
        assert_eq!(polled.messages[1]["c"], "r2");
    }
}

#[tokio::test]
async fn group_changes_apply_to_parked_and_later_polls() {
    let t =
        Arc::new(TestServer::with_config(test_config().with_hold(Duration::from_secs(120))).await);
    t.get(&cg("live", "?add=l1")).await;
    let cursor = t.handshake(",", "m", "channel-group=live").await;
    let poll = {
        let t = t.clone();
        tokio::spawn(async move { t.receive(",", cursor, "m", "channel-group=live").await })
    };
    tokio::time::timeout(STEP, t.server.wait_for_parked(1))
        .await
        .unwrap();
    // A channel added while the poll is parked wakes it when published to.
    t.get(&cg("live", "?add=l2")).await;
    t.publish("l2", "\"new member channel\"").await;
    let polled = tokio::time::timeout(STEP, poll).await.unwrap().unwrap();
    assert_eq!(polled.payloads(), [json!("new member channel")]);
    assert_eq!(polled.messages[0]["b"], "live");

    t.get(&cg("live", "?remove=l2")).await;
    t.publish("l2", "\"removed\"").await;
    let marker = t.publish("l1", "\"still in\"").await;
    let polled = t
        .receive(",", polled.cursor, "m", "channel-group=live")
        .await;
    assert_eq!(polled.payloads(), [json!("still in")]);
    assert_eq!(polled.cursor, marker);
}

#[tokio::test]
async fn group_presence_events_carry_the_pnpres_group_in_b() {
    let t = TestServer::with_config(test_config().with_hold(Duration::from_millis(300))).await;
    t.get(&cg("pg", "?add=pc")).await;
    let cursor = t
        .handshake(",", "listener", "channel-group=pg%2Cpg-pnpres")
        .await;
    let polled = t
        .receive(",", cursor, "listener", "channel-group=pg%2Cpg-pnpres")
        .await;
    assert_eq!(polled.messages.len(), 1, "{:?}", polled.messages);
    let join = &polled.messages[0];
    assert_eq!(join["c"], "pc-pnpres");
    assert_eq!(join["b"], "pg-pnpres");
    assert_eq!(join["d"]["action"], "join");
    assert_eq!(join["d"]["uuid"], "listener");
    assert_eq!(join["d"]["occupancy"], 1);
    let logged = t
        .server
        .request_log()
        .of_kind(RouteKind::ChannelGroups)
        .len();
    assert_eq!(logged, 1);
}
