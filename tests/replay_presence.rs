//! Replays every here-now, where-now and state cassette recorded from the
//! real PubNub service (`../shared/fixtures/cassettes/{asyncio,native_sync}`)
//! plus the heartbeat and leave requests in them: our client must send the
//! same request and parse the recorded answer to the recorded values. The
//! subscribe requests around them belong to the subscribe engine and are
//! counted, not replayed, here.

mod common;

use common::replay::{assert_equivalent, Cassette, Interaction, Tally};
use common::rest::{client_for, replay_cassette, report, ReplayServerRef};
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum Call {
    HereNow,
    WhereNow,
    SetState,
    GetState,
    Heartbeat,
    Leave,
}

fn interpret(i: &Interaction) -> Option<Call> {
    let s = i.segments();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["v2", "presence", "sub-key", _] | ["v2", "presence", "sub-key", _, "channel", _] => {
            Some(Call::HereNow)
        }
        ["v2", "presence", "sub-key", _, "uuid", _] => Some(Call::WhereNow),
        ["v2", "presence", "sub-key", _, "channel", _, "uuid", _, "data"] => Some(Call::SetState),
        ["v2", "presence", "sub-key", _, "channel", _, "uuid", _] => Some(Call::GetState),
        ["v2", "presence", "sub-key", _, "channel", _, "heartbeat"] => Some(Call::Heartbeat),
        ["v2", "presence", "sub-key", _, "channel", _, "leave"] => Some(Call::Leave),
        _ => None,
    }
}

/// The channel list of a path segment (`,` alone = none).
fn channel_list(segment: &str) -> Vec<String> {
    segment
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn group_list(i: &Interaction) -> Vec<String> {
    i.query()
        .get("channel-group")
        .map(|g| channel_list(g))
        .unwrap_or_default()
}

/// A here-now channel entry: name, occupancy, (uuid, state) of each occupant.
type ChannelSummary = (String, u64, Vec<(String, Option<Value>)>);

/// The occupants of a recorded channel entry as (uuid, state).
fn recorded_occupants(entry: &Value) -> Vec<(String, Option<Value>)> {
    entry["uuids"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|o| match o {
                    Value::String(u) => (u.clone(), None),
                    other => (
                        other["uuid"].as_str().unwrap().to_owned(),
                        other.get("state").cloned(),
                    ),
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn run(cassette: String, server: ReplayServerRef, i: Interaction, call: Call, index: usize) {
    let cassette = cassette.as_str();
    let segments = i.segments();
    let q = i.query();
    let client = client_for(&server, &i, &segments[3]);
    let channels = segments.get(5).map(|s| channel_list(s)).unwrap_or_default();
    let groups = group_list(&i);
    let body = i.response_json();
    assert_eq!(
        i.status, 200,
        "{cassette}: only successes are recorded here"
    );

    match call {
        Call::HereNow => {
            let mut here = client
                .here_now()
                .channels(channels.clone())
                .channel_groups(groups.clone());
            if q.get("state").map(String::as_str) == Some("1") {
                here = here.include_state(true);
            }
            if q.get("disable_uuids").map(String::as_str) == Some("1") {
                here = here.include_uuids(false);
            }
            let result = here.await.unwrap();
            let expected: Vec<ChannelSummary> = match body.get("payload") {
                Some(payload) => payload["channels"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(name, entry)| {
                        (
                            name.clone(),
                            entry["occupancy"].as_u64().unwrap(),
                            recorded_occupants(entry),
                        )
                    })
                    .collect(),
                None => vec![(
                    channels[0].clone(),
                    body["occupancy"].as_u64().unwrap(),
                    recorded_occupants(&body),
                )],
            };
            let ours: Vec<ChannelSummary> = result
                .channels
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.occupancy,
                        c.occupants
                            .iter()
                            .map(|o| (o.uuid.clone(), o.state.clone()))
                            .collect(),
                    )
                })
                .collect();
            assert_eq!(ours, expected, "{cassette}: here-now channels");
            if let Some(payload) = body.get("payload") {
                assert_eq!(
                    Some(result.total_channels),
                    payload["total_channels"].as_u64()
                );
                assert_eq!(
                    Some(result.total_occupancy),
                    payload["total_occupancy"].as_u64()
                );
            } else {
                assert_eq!(result.total_occupancy, body["occupancy"].as_u64().unwrap());
            }
        }
        Call::WhereNow => {
            let result = client.where_now().uuid(segments[5].clone()).await.unwrap();
            let expected: Vec<String> =
                serde_json::from_value(body["payload"]["channels"].clone()).unwrap();
            assert_eq!(result.channels, expected, "{cassette}: where-now");
        }
        Call::SetState => {
            let state: Value = serde_json::from_str(&q["state"]).unwrap();
            let result = client
                .set_state()
                .channels(channels.clone())
                .channel_groups(groups.clone())
                .uuid(segments[7].clone())
                .state(&state)
                .await
                .unwrap();
            assert_eq!(result.state, body["payload"], "{cassette}: set-state echo");
        }
        Call::GetState => {
            let result = client
                .get_state()
                .channels(channels.clone())
                .channel_groups(groups.clone())
                .uuid(segments[7].clone())
                .await
                .unwrap();
            assert_eq!(result.uuid, segments[7]);
            let expected: Vec<(String, Value)> = if channels.len() == 1 && groups.is_empty() {
                vec![(channels[0].clone(), body["payload"].clone())]
            } else {
                body["payload"]["channels"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            };
            let ours: Vec<(String, Value)> = result.channels.into_iter().collect();
            assert_eq!(ours, expected, "{cassette}: get-state");
        }
        Call::Heartbeat => {
            let mut heartbeat = client
                .heartbeat()
                .channels(channels.clone())
                .channel_groups(groups.clone());
            if let Some(seconds) = q.get("heartbeat") {
                heartbeat = heartbeat.heartbeat(seconds.parse().unwrap());
            }
            if let Some(state) = q.get("state") {
                heartbeat = heartbeat.state(&serde_json::from_str::<Value>(state).unwrap());
            }
            heartbeat.await.unwrap();
        }
        Call::Leave => {
            client
                .leave()
                .channels(channels.clone())
                .channel_groups(groups.clone())
                .await
                .unwrap();
        }
    }
    let ours = server.sent(cassette, index);
    assert_equivalent(cassette, &i, &ours, &|_, _, _| false);
}

#[tokio::test]
async fn every_presence_cassette_replays() {
    let Some(shared) = common::shared_dir_or_skip("every_presence_cassette_replays") else {
        return;
    };
    let cassettes = Cassette::load_dirs(
        &shared,
        &[
            "asyncio/here_now",
            "asyncio/where_now",
            "asyncio/state",
            "native_sync/state",
        ],
    );
    let mut tally = Tally::default();
    let mut interactions = 0;
    let mut foreign = Vec::new();
    for cassette in &cassettes {
        let outcome = replay_cassette(cassette, interpret, run).await;
        interactions += outcome.replayed;
        foreign.extend(outcome.foreign);
        tally.ok(&cassette.name);
    }
    report(&tally, "presence", interactions, &foreign);
    assert!(
        foreign.iter().all(|f| f.contains("/v2/subscribe/")),
        "{foreign:?}"
    );
    assert_eq!(
        tally.replayed.len(),
        11,
        "expected the 11 presence cassettes"
    );
}

/// The leave requests of the subscription cassettes (channels, groups only
/// with the `,` channel segment, and both) go out the same way.
#[tokio::test]
async fn subscription_cassette_leaves_and_heartbeats_replay() {
    let Some(shared) =
        common::shared_dir_or_skip("subscription_cassette_leaves_and_heartbeats_replay")
    else {
        return;
    };
    let cassettes = Cassette::load_dirs(&shared, &["asyncio/subscription"]);
    let mut interactions = 0;
    for cassette in &cassettes {
        let outcome = replay_cassette(
            cassette,
            |i| interpret(i).filter(|c| matches!(c, Call::Leave | Call::Heartbeat)),
            run,
        )
        .await;
        interactions += outcome.replayed;
    }
    println!("leave/heartbeat interactions replayed from subscription cassettes: {interactions}");
    assert!(interactions >= 10, "found only {interactions}");
}
