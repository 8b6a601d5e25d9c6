//! Pieces the REST replay tests share: a client per recorded request, the
//! publish calls embedded in many cassettes, the encrypted payloads of the
//! Python tests, and the run loop that replays the interactions a family's
//! interpreter understands.
#![allow(dead_code)]

use std::future::Future;

use pubnub_rx::crypto::CryptoModule;
use pubnub_rx::{Config, ConfigBuilder, Error, PubNub};
use serde_json::Value;

use super::replay::{json_eq, Captured, Cassette, Interaction, ReplayServer, Tally};

/// The cipher key every encrypted Python SDK test used.
pub const CIPHER_KEY: &str = "testKey";

/// Config for a client talking to the replay server as the recorded client
/// did: same user id (when the recorder kept it), signing when it signed.
pub fn config_for(server: &ReplayServer, i: &Interaction, subscribe_key: &str) -> ConfigBuilder {
    let q = i.query();
    let mut builder = Config::builder()
        .origin(server.origin())
        .ssl(false)
        .subscribe_key(subscribe_key)
        .user_id(
            q.get("uuid")
                .cloned()
                .unwrap_or_else(|| "replay-user".to_owned()),
        );
    if q.contains_key("timestamp") || q.contains_key("signature") {
        builder = builder.secret_key("replay-secret");
    }
    builder
}

pub fn client_for(server: &ReplayServer, i: &Interaction, subscribe_key: &str) -> PubNub {
    PubNub::new(config_for(server, i, subscribe_key).build().unwrap()).unwrap()
}

/// The legacy crypto module the Python tests used (random or static IV),
/// or `None` while the crypto module is not available in this build.
pub fn legacy_module(random_iv: bool) -> Option<CryptoModule> {
    CryptoModule::legacy(CIPHER_KEY, random_iv).ok()
}

/// Decrypts a payload that is a JSON string of ciphertext (or the bare
/// ciphertext), trying the random-IV then the static-IV legacy mode;
/// returns the mode and the plaintext JSON.
pub fn decrypt_payload(payload: &str) -> Option<(bool, Value)> {
    let b64 = match serde_json::from_str::<Value>(payload) {
        Ok(Value::String(b64)) => b64,
        _ => payload.to_owned(),
    };
    for random_iv in [true, false] {
        let module = legacy_module(random_iv)?;
        if let Ok(plain) = module.decrypt_base64(&b64) {
            if let Ok(value) = serde_json::from_slice::<Value>(&plain) {
                return Some((random_iv, value));
            }
        }
    }
    None
}

/// Whether a payload looks like a legacy ciphertext of the Python tests
/// (their random IV was patched to `knightsofni12345`).
pub fn looks_encrypted(payload: &str) -> bool {
    payload.contains("a25pZ2h0c29mbmkxMjM0")
}

pub fn payload_eq(a: &str, b: &str) -> bool {
    if json_eq(a, b) {
        return true;
    }
    match (decrypt_payload(a), decrypt_payload(b)) {
        (Some((_, a)), Some((_, b))) => a == b,
        _ => false,
    }
}

/// Replays a recorded `GET /publish/…` (the cassettes publish before they
/// read history, count messages, …) and checks the timetoken.
pub async fn replay_publish(cassette: &str, server: &ReplayServer, i: &Interaction) {
    let segments = i.segments();
    let q = i.query();
    let payload = segments.get(6).cloned().expect("publish payload segment");
    let mut builder = config_for(server, i, &segments[2]).publish_key(segments[1].clone());
    let message: Value = match decrypt_payload(&payload) {
        Some((random_iv, plain)) => {
            builder = builder.crypto_module(legacy_module(random_iv).expect("crypto"));
            plain
        }
        None => serde_json::from_str(&payload)
            .unwrap_or_else(|e| panic!("{cassette}: payload {payload:?}: {e}")),
    };
    let client = PubNub::new(builder.build().unwrap()).unwrap();
    let mut publish = client
        .publish()
        .channel(segments[4].clone())
        .message(&message);
    if let Some(meta) = q.get("meta") {
        publish = publish.meta(&serde_json::from_str::<Value>(meta).unwrap());
    }
    if let Some(store) = q.get("store") {
        publish = publish.should_store(store == "1" || store == "true");
    }
    let sent = publish
        .await
        .unwrap_or_else(|e| panic!("{cassette}: publish failed: {e}"));
    let expected: u64 = i.response_json()[2].as_str().unwrap().parse().unwrap();
    assert_eq!(sent.timetoken, expected, "{cassette}: publish timetoken");
}

/// The error a recorded non-200 answer must have produced.
pub fn assert_error_matches(cassette: &str, i: &Interaction, error: &Error) {
    assert_eq!(
        error.status(),
        Some(i.status),
        "{cassette}: recorded status {}, our error {error:?}",
        i.status
    );
    if i.status == 403 {
        assert!(
            matches!(error, Error::AccessDenied { .. }),
            "{cassette}: {error:?}"
        );
    }
}

/// Outcome of replaying one cassette.
pub struct CassetteRun {
    /// Interactions replayed through our client.
    pub replayed: usize,
    /// Interactions of other families (e.g. the subscribe requests around a
    /// here-now), not sent.
    pub foreign: Vec<String>,
}

/// Replays every interaction of a cassette that `interpret` recognises:
/// the server answers with exactly those recorded responses, in order,
/// `run` makes the equivalent call of our client and checks its result,
/// and afterwards the request count must match (no extra request sent).
pub async fn replay_cassette<C, F, Fut>(
    cassette: &Cassette,
    interpret: impl Fn(&Interaction) -> Option<C>,
    run: F,
) -> CassetteRun
where
    F: Fn(String, ReplayServerRef, Interaction, C, usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut steps = Vec::new();
    let mut foreign = Vec::new();
    for i in &cassette.interactions {
        match interpret(i) {
            Some(call) => steps.push((i, call)),
            None => foreign.push(format!("{} {}", i.method, i.raw_path())),
        }
    }
    let server =
        std::sync::Arc::new(ReplayServer::for_interactions(steps.iter().map(|(i, _)| *i)).await);
    let replayed = steps.len();
    for (index, (i, call)) in steps.into_iter().enumerate() {
        run(
            cassette.name.clone(),
            ReplayServerRef(std::sync::Arc::clone(&server)),
            i.clone(),
            call,
            index,
        )
        .await;
    }
    assert_eq!(
        server.captured().len(),
        replayed,
        "{}: request count",
        cassette.name
    );
    CassetteRun { replayed, foreign }
}

/// A shared handle on the replay server of a cassette.
#[derive(Clone)]
pub struct ReplayServerRef(pub std::sync::Arc<ReplayServer>);

impl std::ops::Deref for ReplayServerRef {
    type Target = ReplayServer;
    fn deref(&self) -> &ReplayServer {
        &self.0
    }
}

impl ReplayServerRef {
    /// What our client sent for step `index`.
    pub fn sent(&self, cassette: &str, index: usize) -> Captured {
        self.captured()
            .get(index)
            .cloned()
            .unwrap_or_else(|| panic!("{cassette}: nothing sent for step {index}"))
    }
}

/// Prints the tally with interaction counts.
pub fn report(tally: &Tally, family: &str, interactions: usize, foreign: &[String]) {
    tally.report(family);
    println!("{family}: interactions replayed: {interactions}");
    if !foreign.is_empty() {
        println!(
            "{family}: {} interactions of other families not replayed here (e.g. {})",
            foreign.len(),
            foreign[0]
        );
    }
}

/// Prints the tally like [`report`], counting in the total the cassettes
/// of this family that another test file replays (`covered`: name and
/// where), listed as covered there rather than as "not replayed".
pub fn report_with_covered(
    tally: &Tally,
    family: &str,
    interactions: usize,
    covered: &[(String, &str)],
) {
    let total = tally.replayed.len() + tally.skipped.len() + covered.len();
    println!(
        "{family}: replayed {}/{total} cassettes here, {} covered by another test",
        tally.replayed.len(),
        covered.len()
    );
    for (name, why) in covered {
        println!("  covered elsewhere: {name}: {why}");
    }
    for (name, why) in &tally.skipped {
        println!("  not replayed: {name}: {why}");
    }
    println!("{family}: interactions replayed: {interactions}");
}
