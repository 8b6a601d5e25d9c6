//! All 29 request-signature vectors of `../shared/protocol/signature-vectors.json`.

mod common;

use pubnub_rx::transport::encoding::decode;
use pubnub_rx::transport::signature::{
    canonical_query, sign_v1, sign_v2, v1_string_to_sign, v2_string_to_sign,
};
use serde_json::Value;

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector lacks `{key}`: {v}"))
}

#[test]
fn every_signature_vector_verifies() {
    let Some(shared) = common::shared_dir_or_skip("every_signature_vector_verifies") else {
        return;
    };
    let raw = std::fs::read_to_string(shared.join("protocol/signature-vectors.json")).unwrap();
    let doc: Value = serde_json::from_str(&raw).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    let mut checked = 0;
    for v in vectors {
        let id = text(v, "id");
        let kind = text(v, "kind");
        let secret = text(v, "secret_key");
        let expected = text(v, "expected_signature");
        let string_to_sign = text(v, "string_to_sign");

        // 1. The canonical query from the decoded params, and from the wire
        //    query as a server would decode it (`+` as space).
        if let Some(params) = v.get("params").and_then(Value::as_object) {
            let pairs: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            assert_eq!(
                canonical_query(pairs),
                text(v, "canonical_query"),
                "{id}: canonical query"
            );
        }
        // (One vector's wire query is annotated "uuid, pnsdk not recorded".)
        if let Some(wire) = v
            .get("wire_query")
            .and_then(Value::as_str)
            .filter(|w| !w.contains(' '))
        {
            let decoded: Vec<(String, String)> = wire
                .split('&')
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (
                        decode(k, true).unwrap().into_owned(),
                        decode(v, true).unwrap().into_owned(),
                    )
                })
                .collect();
            let canonical = canonical_query(decoded.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            assert_eq!(
                canonical,
                text(v, "canonical_query"),
                "{id}: canonical query from the wire"
            );
        }

        // 2. The string to sign from its parts.
        let body = v.get("body").and_then(Value::as_str).unwrap_or("");
        match kind {
            "v2" => {
                let built = v2_string_to_sign(
                    text(v, "method"),
                    text(v, "publish_key"),
                    text(v, "path"),
                    text(v, "canonical_query"),
                    body.as_bytes(),
                );
                assert_eq!(
                    String::from_utf8(built).unwrap(),
                    string_to_sign,
                    "{id}: string to sign"
                );
            }
            "v1" => {
                let built = v1_string_to_sign(
                    text(v, "subscribe_key"),
                    text(v, "publish_key"),
                    text(v, "path"),
                    text(v, "canonical_query"),
                );
                assert_eq!(built, string_to_sign, "{id}: string to sign");
            }
            _ => {}
        }

        // 3. The signature itself.
        let signature = if kind.starts_with("v2") {
            sign_v2(secret, string_to_sign.as_bytes())
        } else {
            sign_v1(secret, string_to_sign.as_bytes(), expected.ends_with('='))
        };
        assert_eq!(signature, expected, "{id}: signature");
        checked += 1;
    }
    assert_eq!(checked, 29, "expected all 29 vectors");
    println!("signature vectors verified: {checked}/29");
}
