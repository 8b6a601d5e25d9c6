//! Message actions against a recording transport answering with the bodies
//! of PROTOCOL.md §10 (no real-server cassette exists): what goes on the
//! wire, how answers and errors parse, and paging.

mod common;

use std::sync::Arc;

use common::recording::RecordingTransport;
use futures::TryStreamExt as _;
use pubnub_rx::transport::HttpMethod;
use pubnub_rx::{Config, Error, MessageAction, PubNub};

fn client(transport: &Arc<RecordingTransport>) -> PubNub {
    PubNub::new(
        Config::builder()
            .subscribe_key("sub-c")
            .user_id("actor")
            .transport(transport.clone())
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn query(request: &pubnub_rx::transport::TransportRequest, key: &str) -> Option<String> {
    request
        .query
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.clone())
}

const ADDED: &str = r#"{"status":200,"data":{"type":"reaction","value":"smiley_face","uuid":"actor","actionTimetoken":"15610547826970050","messageTimetoken":"15610547826969050"}}"#;

#[tokio::test]
async fn add_posts_type_and_value_and_parses_the_action() {
    let transport = RecordingTransport::new();
    transport.respond(200, ADDED);
    let action = client(&transport)
        .add_message_action()
        .channel("chat room")
        .message_timetoken(15610547826969050)
        .action_type("reaction")
        .value("smiley_face")
        .await
        .unwrap();
    assert_eq!(
        action,
        MessageAction {
            action_type: "reaction".into(),
            value: "smiley_face".into(),
            uuid: "actor".into(),
            action_timetoken: 15610547826970050,
            message_timetoken: 15610547826969050,
        }
    );
    let sent = transport.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, HttpMethod::Post);
    assert_eq!(
        sent[0].path,
        "/v1/message-actions/sub-c/channel/chat%20room/message/15610547826969050"
    );
    let body: serde_json::Value = serde_json::from_slice(sent[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"type": "reaction", "value": "smiley_face"})
    );
    assert!(sent[0]
        .headers
        .contains(&("Content-Type", "application/json".to_owned())));
}

#[tokio::test]
async fn stored_but_not_published_still_returns_the_action() {
    let transport = RecordingTransport::new();
    transport.respond(
        207,
        r#"{"status":207,"data":{"type":"reaction","value":"smiley_face","uuid":"actor","actionTimetoken":"15610547826970050","messageTimetoken":"15610547826969050"},"error":{"message":"Stored but failed to publish message action.","source":"actions"}}"#,
    );
    let action = client(&transport)
        .add_message_action()
        .channel("chat")
        .message_timetoken(15610547826969050)
        .action_type("reaction")
        .value("smiley_face")
        .await
        .unwrap();
    assert_eq!(action.action_timetoken, 15610547826970050);
}

#[tokio::test]
async fn duplicate_and_denied_actions_are_errors_with_the_server_message() {
    let transport = RecordingTransport::new();
    transport.respond(
        409,
        r#"{"status":409,"error":{"source":"actions","message":"Action Already Added"}}"#,
    );
    transport.respond(
        403,
        r#"{"message":"Forbidden","payload":{"channels":["chat"]},"error":true,"service":"Access Manager","status":403}"#,
    );
    let pubnub = client(&transport);
    let add = || {
        pubnub
            .add_message_action()
            .channel("chat")
            .message_timetoken(1)
            .action_type("reaction")
            .value("x")
    };
    let duplicate = add().await.unwrap_err();
    assert!(
        matches!(&duplicate, Error::Http { status: 409, message, .. } if message == "Action Already Added"),
        "{duplicate:?}"
    );
    let denied = add().await.unwrap_err();
    assert!(
        matches!(&denied, Error::AccessDenied { status: 403, channels, .. } if channels == &["chat"]),
        "{denied:?}"
    );
}

#[tokio::test]
async fn remove_deletes_the_action_path() {
    let transport = RecordingTransport::new();
    transport.respond(200, r#"{"status":200,"data":{}}"#);
    client(&transport)
        .remove_message_action()
        .channel("chat")
        .message_timetoken(15610547826969050)
        .action_timetoken(15610547826970050)
        .await
        .unwrap();
    let sent = transport.sent();
    assert_eq!(sent[0].method, HttpMethod::Delete);
    assert_eq!(
        sent[0].path,
        "/v1/message-actions/sub-c/channel/chat/message/15610547826969050/action/15610547826970050"
    );
}

fn action_json(action_tt: u64) -> String {
    format!(
        r#"{{"type":"reaction","value":"v{action_tt}","uuid":"u","actionTimetoken":"{action_tt}","messageTimetoken":"100"}}"#
    )
}

#[tokio::test]
async fn get_sends_bounds_and_parses_more() {
    let transport = RecordingTransport::new();
    transport.respond(
        200,
        &format!(
            r#"{{"status":200,"data":[{},{}],"more":{{"url":"/v1/message-actions/sub-c/channel/chat?start=15610547826970040&end=15610547826970000&limit=2","start":"15610547826970040","end":"15610547826970000","limit":2}}}}"#,
            action_json(15610547826970040),
            action_json(15610547826970050)
        ),
    );
    let page = client(&transport)
        .get_message_actions()
        .channel("chat")
        .start(15610547826970060)
        .end(15610547826970000)
        .limit(2)
        .await
        .unwrap();
    assert_eq!(page.actions.len(), 2);
    assert_eq!(page.actions[1].action_timetoken, 15610547826970050);
    let more = page.more.unwrap();
    assert_eq!(more.start, 15610547826970040);
    assert_eq!(more.end, Some(15610547826970000));
    assert_eq!(more.limit, Some(2));
    let sent = transport.sent();
    assert_eq!(sent[0].method, HttpMethod::Get);
    assert_eq!(sent[0].path, "/v1/message-actions/sub-c/channel/chat");
    assert_eq!(
        query(&sent[0], "start").as_deref(),
        Some("15610547826970060")
    );
    assert_eq!(query(&sent[0], "end").as_deref(), Some("15610547826970000"));
    assert_eq!(query(&sent[0], "limit").as_deref(), Some("2"));
}

#[tokio::test]
async fn pages_follow_the_more_cursor_until_the_last_page() {
    let transport = RecordingTransport::new();
    transport.respond(
        200,
        &format!(
            r#"{{"status":200,"data":[{},{}],"more":{{"url":"/x","start":"30","limit":2}}}}"#,
            action_json(30),
            action_json(40)
        ),
    );
    transport.respond(
        200,
        &format!(
            r#"{{"status":200,"data":[{},{}],"more":{{"url":"/x","start":"10","limit":2}}}}"#,
            action_json(10),
            action_json(20)
        ),
    );
    transport.respond(
        200,
        &format!(r#"{{"status":200,"data":[{}]}}"#, action_json(5)),
    );
    let all: Vec<MessageAction> = client(&transport)
        .get_message_actions()
        .channel("chat")
        .limit(2)
        .pages()
        .try_collect()
        .await
        .unwrap();
    let tts: Vec<u64> = all.iter().map(|a| a.action_timetoken).collect();
    assert_eq!(tts, [30, 40, 10, 20, 5]);
    let starts: Vec<Option<String>> = transport.sent().iter().map(|r| query(r, "start")).collect();
    assert_eq!(starts, [None, Some("30".into()), Some("10".into())]);
}

#[tokio::test]
async fn a_failing_page_ends_the_stream_with_its_error() {
    let transport = RecordingTransport::new();
    transport.respond(
        200,
        &format!(
            r#"{{"status":200,"data":[{}],"more":{{"start":"30"}}}}"#,
            action_json(30)
        ),
    );
    transport.respond(
        500,
        r#"{"status":500,"error":{"message":"boom","source":"actions"}}"#,
    );
    let results: Vec<Result<MessageAction, Error>> = futures::StreamExt::collect(
        client(&transport)
            .get_message_actions()
            .channel("chat")
            .pages(),
    )
    .await;
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(Error::Http { status: 500, .. })));
}

#[tokio::test]
async fn bad_arguments_are_refused_before_sending() {
    let transport = RecordingTransport::new();
    let pubnub = client(&transport);
    let too_long = pubnub
        .add_message_action()
        .channel("chat")
        .message_timetoken(1)
        .action_type("a-very-long-action-type")
        .value("x")
        .await
        .unwrap_err();
    assert!(
        matches!(
            too_long,
            Error::InvalidArgument {
                name: "action_type",
                ..
            }
        ),
        "{too_long:?}"
    );
    let no_message = pubnub
        .add_message_action()
        .channel("chat")
        .action_type("reaction")
        .value("x")
        .await
        .unwrap_err();
    assert!(matches!(
        no_message,
        Error::InvalidArgument {
            name: "message_timetoken",
            ..
        }
    ));
    let no_action = pubnub
        .remove_message_action()
        .channel("chat")
        .message_timetoken(1)
        .await
        .unwrap_err();
    assert!(matches!(
        no_action,
        Error::InvalidArgument {
            name: "action_timetoken",
            ..
        }
    ));
    for limit in [0, 101] {
        let bad = pubnub
            .get_message_actions()
            .channel("chat")
            .limit(limit)
            .await
            .unwrap_err();
        assert!(matches!(bad, Error::InvalidArgument { name: "limit", .. }));
    }
    let no_channel = pubnub.get_message_actions().await.unwrap_err();
    assert!(matches!(
        no_channel,
        Error::InvalidArgument {
            name: "channel",
            ..
        }
    ));
    assert!(transport.sent().is_empty());
}
