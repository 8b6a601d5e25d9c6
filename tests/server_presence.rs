//! Presence: join / leave / timeout / state-change events, interval mode,
//! here_now formats, where_now and state.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use std::time::Duration;

use dev_server::{test_config, TestServer, SUB};
use serde_json::{json, Value};

fn server_config() -> pubnub_rx::server::DevServerConfig {
    test_config().with_hold(Duration::from_millis(250))
}

/// An observer subscribed to `<channel>-pnpres` only (it does not join).
struct Observer {
    channels: String,
    cursor: u64,
}

impl Observer {
    async fn new(t: &TestServer, channel: &str) -> Self {
        let channels = format!("{channel}-pnpres");
        let cursor = t.handshake(&channels, "observer", "").await;
        Self { channels, cursor }
    }

    /// Presence payloads (`d`) that arrived since the last call; checks the
    /// envelope shape of each.
    async fn events(&mut self, t: &TestServer) -> Vec<Value> {
        let polled = t.receive(&self.channels, self.cursor, "observer", "").await;
        self.cursor = polled.cursor;
        for m in &polled.messages {
            assert_eq!(m["c"], self.channels, "{m}");
            assert_eq!(m["b"], self.channels, "{m}");
            assert!(
                m.get("i").is_none() && m.get("e").is_none() && m.get("s").is_none(),
                "{m}"
            );
            assert!(m["d"]["timestamp"].is_u64(), "integer timestamp: {m}");
            assert!(m["d"]["occupancy"].is_u64(), "integer occupancy: {m}");
        }
        polled.payloads()
    }
}

fn summary(events: &[Value]) -> Vec<(String, String, u64)> {
    events
        .iter()
        .map(|d| {
            (
                d["action"].as_str().unwrap_or_default().to_owned(),
                d["uuid"].as_str().unwrap_or_default().to_owned(),
                d["occupancy"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

fn s(action: &str, uuid: &str, occupancy: u64) -> (String, String, u64) {
    (action.to_owned(), uuid.to_owned(), occupancy)
}

#[tokio::test]
async fn join_arrives_in_the_first_receive_not_the_handshake_then_leave() {
    let t = TestServer::with_config(server_config()).await;
    // A subscriber of the channel and its presence channel, like the SDKs.
    let cursor = t.handshake("room,room-pnpres", "alice", "").await;
    let first = t.receive("room,room-pnpres", cursor, "alice", "").await;
    assert_eq!(summary(&first.payloads()), [s("join", "alice", 1)]);
    let join = &first.messages[0];
    assert_eq!(join["c"], "room-pnpres");
    assert_eq!(join["b"], "room-pnpres");
    assert_eq!(join["k"], SUB);

    let mut observer = Observer::new(&t, "room").await;
    t.handshake("room", "bob", "").await;
    assert_eq!(summary(&observer.events(&t).await), [s("join", "bob", 2)]);
    // npm pubnub 7.3.3 lists a channel twice in its leave.
    let leave = t
        .get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/room%2Croom/leave?uuid=bob"
        ))
        .await;
    assert_eq!(
        leave.body,
        r#"{"status":200,"message":"OK","action":"leave","service":"Presence"}"#
    );
    assert_eq!(summary(&observer.events(&t).await), [s("leave", "bob", 1)]);
    // Leaving again changes nothing.
    t.get(&format!(
        "/v2/presence/sub-key/{SUB}/channel/room/leave?uuid=bob"
    ))
    .await;
    assert!(observer.events(&t).await.is_empty());
}

#[tokio::test]
async fn timeout_follows_the_server_clock_and_heartbeats_keep_members() {
    let t = TestServer::with_config(server_config()).await;
    let mut observer = Observer::new(&t, "hb").await;
    // Subscribes once with heartbeat=60, then goes silent.
    t.handshake("hb", "quiet", "heartbeat=60").await;
    // Keeps itself alive with heartbeats (JS sends state={}).
    let heartbeat = format!(
        "/v2/presence/sub-key/{SUB}/channel/hb/heartbeat?uuid=chatty&heartbeat=60&state=%7B%7D"
    );
    let reply = t.get(&heartbeat).await;
    assert_eq!(
        reply.body,
        r#"{"status":200,"message":"OK","service":"Presence"}"#
    );
    assert_eq!(
        summary(&observer.events(&t).await),
        [s("join", "quiet", 1), s("join", "chatty", 2)]
    );

    t.server.advance_clock(Duration::from_secs(40));
    assert!(observer.events(&t).await.is_empty(), "nobody timed out yet");
    t.get(&heartbeat).await;
    t.server.advance_clock(Duration::from_secs(21));
    assert_eq!(
        summary(&observer.events(&t).await),
        [s("timeout", "quiet", 1)]
    );
    t.server.advance_clock(Duration::from_secs(40));
    assert_eq!(
        summary(&observer.events(&t).await),
        [s("timeout", "chatty", 0)]
    );
}

#[tokio::test]
async fn default_presence_timeout_applies_without_a_heartbeat_parameter() {
    let t = TestServer::with_config(server_config().with_presence_timeout(Duration::from_secs(30)))
        .await;
    let mut observer = Observer::new(&t, "dflt").await;
    t.handshake("dflt", "u1", "").await;
    assert_eq!(summary(&observer.events(&t).await), [s("join", "u1", 1)]);
    t.server.advance_clock(Duration::from_secs(29));
    assert!(observer.events(&t).await.is_empty());
    t.server.advance_clock(Duration::from_secs(2));
    assert_eq!(summary(&observer.events(&t).await), [s("timeout", "u1", 0)]);
    // Subscribing again after a timeout joins again.
    t.handshake("dflt", "u1", "").await;
    assert_eq!(summary(&observer.events(&t).await), [s("join", "u1", 1)]);
}

#[tokio::test]
async fn state_is_set_read_announced_and_shown_in_here_now() {
    let t = TestServer::with_config(server_config()).await;
    let mut observer = Observer::new(&t, "st1").await;
    // Joining with state (subscribe `state` is keyed by channel): the join carries it.
    let state = r#"{"st1": {"mood": "calm"}}"#;
    t.handshake("st1", "carol", &format!("state={}", dev_server::enc(state)))
        .await;
    let events = observer.events(&t).await;
    assert_eq!(summary(&events), [s("join", "carol", 1)]);
    assert_eq!(events[0]["data"], json!({"mood": "calm"}));

    // Set state (flat object) with Python's old `+` for spaces.
    let set = t
        .get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/st1,st2/uuid/carol/data?state=%7B%22count%22%3A+5%2C+%22name%22%3A+%22Alex%22%7D"
        ))
        .await;
    assert_eq!(set.status, 200);
    assert_eq!(
        set.json(),
        json!({"status": 200, "message": "OK", "payload": {"count": 5, "name": "Alex"}, "service": "Presence"})
    );
    let events = observer.events(&t).await;
    assert_eq!(summary(&events), [s("state-change", "carol", 1)]);
    assert_eq!(events[0]["data"], json!({"count": 5, "name": "Alex"}));

    let single = t
        .get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/st1/uuid/carol"
        ))
        .await;
    assert_eq!(
        single.json(),
        json!({"status": 200, "message": "OK", "service": "Presence", "uuid": "carol",
               "channel": "st1", "payload": {"count": 5, "name": "Alex"}})
    );
    let multi = t
        .get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/st1%2Cst2/uuid/carol"
        ))
        .await;
    assert_eq!(
        multi.json(),
        json!({"status": 200, "message": "OK", "service": "Presence", "uuid": "carol",
               "payload": {"channels": {"st1": {"count": 5, "name": "Alex"}, "st2": {"count": 5, "name": "Alex"}}}})
    );
    // A JS heartbeat with state={} leaves the state alone.
    t.get(&format!(
        "/v2/presence/sub-key/{SUB}/channel/st1/heartbeat?uuid=carol&state=%7B%7D"
    ))
    .await;
    let here = t
        .get(&format!("/v2/presence/sub-key/{SUB}/channel/st1?state=1"))
        .await;
    assert_eq!(
        here.json(),
        json!({"status": 200, "message": "OK", "service": "Presence", "occupancy": 1,
               "uuids": [{"uuid": "carol", "state": {"count": 5, "name": "Alex"}}]})
    );
    assert!(
        observer.events(&t).await.is_empty(),
        "no event for an unchanged state"
    );
}

#[tokio::test]
async fn here_now_single_multi_group_and_global_formats() {
    let t = TestServer::with_config(server_config()).await;
    t.handshake("h1,h2", "u1", "").await;
    t.handshake("h1", "u2", "").await;

    let single = t
        .get(&format!("/v2/presence/sub-key/{SUB}/channel/h1"))
        .await;
    assert_eq!(
        single.json(),
        json!({"status": 200, "message": "OK", "service": "Presence", "uuids": ["u1", "u2"], "occupancy": 2})
    );
    let counts = t
        .get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/h1?disable_uuids=1"
        ))
        .await;
    assert_eq!(
        counts.json(),
        json!({"status": 200, "message": "OK", "service": "Presence", "occupancy": 2})
    );
    let with_state = t
        .get(&format!("/v2/presence/sub-key/{SUB}/channel/h2?state=1"))
        .await;
    assert_eq!(with_state.json()["uuids"], json!([{"uuid": "u1"}]));
    let empty = t
        .get(&format!("/v2/presence/sub-key/{SUB}/channel/nobody"))
        .await;
    assert_eq!(
        empty.json(),
        json!({"status": 200, "message": "OK", "service": "Presence", "occupancy": 0, "uuids": []})
    );

    // Several channels — JS encodes the comma — always get the multi shape.
    for list in ["h1,h2,nobody", "h1%2Ch2%2Cnobody"] {
        let multi = t
            .get(&format!("/v2/presence/sub-key/{SUB}/channel/{list}"))
            .await;
        assert_eq!(
            multi.json(),
            json!({"status": 200, "message": "OK", "service": "Presence", "payload": {
                "channels": {"h1": {"uuids": ["u1", "u2"], "occupancy": 2},
                             "h2": {"uuids": ["u1"], "occupancy": 1},
                             "nobody": {"uuids": [], "occupancy": 0}},
                "total_channels": 3, "total_occupancy": 3}}),
            "{list}"
        );
    }
    // One channel named through a group: multi shape too.
    t.get(&format!(
        "/v1/channel-registration/sub-key/{SUB}/channel-group/hg?add=h2"
    ))
    .await;
    let group = t
        .get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/,?channel-group=hg"
        ))
        .await;
    assert_eq!(
        group.json()["payload"]["channels"],
        json!({"h2": {"uuids": ["u1"], "occupancy": 1}})
    );

    let global = t
        .get(&format!("/v2/presence/sub-key/{SUB}?disable_uuids=1"))
        .await;
    assert_eq!(
        global.json(),
        json!({"status": 200, "message": "OK", "service": "Presence", "payload": {
            "channels": {"h1": {"occupancy": 2}, "h2": {"occupancy": 1}},
            "total_channels": 2, "total_occupancy": 3}})
    );
    let limited = t
        .get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/h1?limit=1&offset=1"
        ))
        .await;
    assert_eq!(limited.json()["uuids"], json!(["u2"]));
    assert_eq!(limited.json()["occupancy"], 2, "occupancy is not capped");
}

#[tokio::test]
async fn where_now_lists_the_channels_of_a_uuid() {
    let t = TestServer::with_config(server_config()).await;
    t.handshake("w1,w2,w2-pnpres", "dave", "").await;
    let reply = t
        .get(&format!("/v2/presence/sub-key/{SUB}/uuid/dave"))
        .await;
    assert_eq!(
        reply.json(),
        json!({"status": 200, "message": "OK", "payload": {"channels": ["w1", "w2"]}, "service": "Presence"})
    );
    t.get(&format!(
        "/v2/presence/sub-key/{SUB}/channel/w1/leave?uuid=dave"
    ))
    .await;
    let reply = t
        .get(&format!("/v2/presence/sub-key/{SUB}/uuid/dave"))
        .await;
    assert_eq!(reply.json()["payload"]["channels"], json!(["w2"]));
    let nobody = t
        .get(&format!("/v2/presence/sub-key/{SUB}/uuid/nobody"))
        .await;
    assert_eq!(nobody.json()["payload"]["channels"], json!([]));
}

#[tokio::test]
async fn presence_through_groups_joins_and_leaves_the_group_channels() {
    let t = TestServer::with_config(server_config()).await;
    t.get(&format!(
        "/v1/channel-registration/sub-key/{SUB}/channel-group/pg?add=g1,g2"
    ))
    .await;
    let mut o1 = Observer::new(&t, "g1").await;
    let mut o2 = Observer::new(&t, "g2").await;
    t.handshake("%2C", "erin", "channel-group=pg").await;
    assert_eq!(summary(&o1.events(&t).await), [s("join", "erin", 1)]);
    assert_eq!(summary(&o2.events(&t).await), [s("join", "erin", 1)]);
    t.get(&format!(
        "/v2/presence/sub-key/{SUB}/channel/,/leave?uuid=erin&channel-group=pg"
    ))
    .await;
    assert_eq!(summary(&o1.events(&t).await), [s("leave", "erin", 0)]);
    assert_eq!(summary(&o2.events(&t).await), [s("leave", "erin", 0)]);
}

#[tokio::test]
async fn above_announce_max_the_channel_switches_to_interval_events_with_deltas() {
    let t = TestServer::with_config(
        server_config()
            .with_announce_max(2)
            .with_presence_interval(Duration::from_secs(10)),
    )
    .await;
    let mut observer = Observer::new(&t, "busy").await;
    t.handshake("busy", "u1", "").await;
    t.handshake("busy", "u2", "").await;
    assert_eq!(
        summary(&observer.events(&t).await),
        [s("join", "u1", 1), s("join", "u2", 2)]
    );

    // The third member crosses the announce max: one interval event now.
    t.handshake("busy", "u3", "").await;
    let events = observer.events(&t).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["action"], "interval");
    assert_eq!(events[0]["occupancy"], 3);
    assert_eq!(events[0]["join"], json!(["u3"]));
    assert!(events[0].get("uuid").is_none());

    // Per-user events stop; changes are collected for the next interval.
    t.handshake("busy", "u4", "").await;
    assert!(
        observer.events(&t).await.is_empty(),
        "no per-user event in interval mode"
    );
    t.server.advance_clock(Duration::from_secs(10));
    let events = observer.events(&t).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["action"], "interval");
    assert_eq!(events[0]["occupancy"], 4);
    assert_eq!(events[0]["join"], json!(["u4"]));

    // An interval with no change still reports the occupancy, without deltas.
    t.server.advance_clock(Duration::from_secs(10));
    let events = observer.events(&t).await;
    assert_eq!(
        events,
        [json!({"action": "interval", "timestamp": events[0]["timestamp"], "occupancy": 4})]
    );

    // Back at the announce max: the pending deltas are flushed, then per-user events resume.
    for uuid in ["u4", "u3"] {
        t.get(&format!(
            "/v2/presence/sub-key/{SUB}/channel/busy/leave?uuid={uuid}"
        ))
        .await;
    }
    let events = observer.events(&t).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["action"], "interval");
    assert_eq!(events[0]["occupancy"], 2);
    assert_eq!(events[0]["leave"], json!(["u4", "u3"]));
    t.get(&format!(
        "/v2/presence/sub-key/{SUB}/channel/busy/leave?uuid=u2"
    ))
    .await;
    assert_eq!(summary(&observer.events(&t).await), [s("leave", "u2", 1)]);
}

#[tokio::test]
async fn interval_events_without_deltas_when_deltas_are_off() {
    let t = TestServer::with_config(
        server_config()
            .with_announce_max(0)
            .with_presence_deltas(false),
    )
    .await;
    let mut observer = Observer::new(&t, "nd").await;
    t.handshake("nd", "u1", "").await;
    let events = observer.events(&t).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "interval");
    assert_eq!(events[0]["occupancy"], 1);
    assert!(events[0].get("join").is_none(), "{:?}", events[0]);
}
