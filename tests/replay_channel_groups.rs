//! Replays every channel-group cassette recorded from the real PubNub
//! service (`../shared/fixtures/cassettes/{asyncio/groups,native_sync/channel_groups}`):
//! add, remove, list and delete go out as recorded and the listings parse
//! to the recorded channels.

mod common;

use common::replay::{assert_equivalent, Cassette, Interaction, Tally};
use common::rest::{
    client_for, payload_eq, replay_cassette, replay_publish, report, ReplayServerRef,
};

#[derive(Debug, Clone, Copy)]
enum Call {
    Publish,
    Add,
    Remove,
    List,
    Delete,
}

fn interpret(i: &Interaction) -> Option<Call> {
    let s = i.segments();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    let q = i.query();
    match s.as_slice() {
        ["publish", ..] => Some(Call::Publish),
        ["v1", "channel-registration", "sub-key", _, "channel-group", _, "remove"] => {
            Some(Call::Delete)
        }
        ["v1", "channel-registration", "sub-key", _, "channel-group", _] => {
            if q.contains_key("add") {
                Some(Call::Add)
            } else if q.contains_key("remove") {
                Some(Call::Remove)
            } else {
                Some(Call::List)
            }
        }
        _ => None,
    }
}

async fn run(cassette: String, server: ReplayServerRef, i: Interaction, call: Call, index: usize) {
    let cassette = cassette.as_str();
    if let Call::Publish = call {
        replay_publish(cassette, &server, &i).await;
        let ours = server.sent(cassette, index);
        assert_equivalent(cassette, &i, &ours, &|segment, want, got| {
            segment == 6 && payload_eq(want, got)
        });
        return;
    }
    let segments = i.segments();
    let q = i.query();
    let client = client_for(&server, &i, &segments[3]);
    let group = segments[5].clone();
    let body = i.response_json();
    assert_eq!(
        i.status, 200,
        "{cassette}: only successes are recorded here"
    );
    match call {
        Call::Publish => unreachable!(),
        // One call through the entity, the other through the client.
        Call::Add => client
            .channel_group(group)
            .add(q["add"].split(','))
            .await
            .unwrap(),
        Call::Remove => client
            .remove_channels_from_group()
            .group(group)
            .channels(q["remove"].split(','))
            .await
            .unwrap(),
        Call::List => {
            let listed = client.list_channels_in_group().group(group).await.unwrap();
            let expected: Vec<String> =
                serde_json::from_value(body["payload"]["channels"].clone()).unwrap();
            assert_eq!(listed.channels, expected, "{cassette}: channels");
            assert_eq!(listed.group, body["payload"]["group"].as_str().unwrap());
        }
        Call::Delete => client.channel_group(group).delete().await.unwrap(),
    }
    let ours = server.sent(cassette, index);
    assert_equivalent(cassette, &i, &ours, &|_, _, _| false);
}

#[tokio::test]
async fn every_channel_group_cassette_replays() {
    let Some(shared) = common::shared_dir_or_skip("every_channel_group_cassette_replays") else {
        return;
    };
    let cassettes = Cassette::load_dirs(&shared, &["asyncio/groups", "native_sync/channel_groups"]);
    let mut tally = Tally::default();
    let mut interactions = 0;
    let mut foreign = Vec::new();
    for cassette in &cassettes {
        let outcome = replay_cassette(cassette, interpret, run).await;
        interactions += outcome.replayed;
        foreign.extend(outcome.foreign);
        tally.ok(&cassette.name);
    }
    report(&tally, "channel groups", interactions, &foreign);
    assert!(foreign.is_empty(), "{foreign:?}");
    assert_eq!(
        tally.replayed.len(),
        6,
        "expected the 6 channel-group cassettes"
    );
}
