//! The v3 token codec: encode → parse is the identity for any token, the
//! signature binds every field, and no input makes `parse_token` panic.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use proptest::prelude::*;
use pubnub_rx::access::{encode_token, parse_token, Permissions, Token, TokenResources};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

fn permissions_map() -> impl Strategy<Value = BTreeMap<String, Permissions>> {
    prop::collection::btree_map(
        "\\PC{0,12}",
        any::<u32>().prop_map(Permissions::from_bits),
        0..4,
    )
}

fn resources() -> impl Strategy<Value = TokenResources> {
    (
        permissions_map(),
        permissions_map(),
        permissions_map(),
        permissions_map(),
        permissions_map(),
    )
        .prop_map(|(channels, groups, uuids, users, spaces)| TokenResources {
            channels,
            groups,
            uuids,
            users,
            spaces,
        })
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        prop::num::f64::NORMAL
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        "\\PC{0,16}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn meta() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("\\PC{0,10}", json_value(), 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn token() -> impl Strategy<Value = Token> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
        prop::option::of("\\PC{0,20}"),
        resources(),
        resources(),
        meta(),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(
            |(version, timestamp, ttl, authorized_uuid, resources, patterns, meta, signature)| {
                Token {
                    version,
                    timestamp,
                    ttl,
                    authorized_uuid,
                    resources,
                    patterns,
                    meta,
                    signature,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn encode_then_parse_is_the_identity(token in token(), secret in "\\PC{0,24}") {
        let text = encode_token(&token, &secret).unwrap();
        let parsed = parse_token(&text).unwrap();
        prop_assert!(parsed.verify_signature(&secret));
        prop_assert_eq!(parsed.signature.len(), 32);
        let mut unsigned = parsed.clone();
        unsigned.signature = token.signature.clone();
        prop_assert_eq!(&unsigned, &token);
        // The same without padding, and in the standard alphabet.
        prop_assert_eq!(&parse_token(text.trim_end_matches('=')).unwrap(), &parsed);
        let bytes = URL_SAFE.decode(&text).unwrap();
        prop_assert_eq!(&parse_token(&STANDARD.encode(&bytes)).unwrap(), &parsed);
    }

    #[test]
    fn cbor_bytes_round_trip_with_any_signature(token in token()) {
        let bytes = token.to_cbor_bytes().unwrap();
        prop_assert_eq!(Token::from_cbor_bytes(&bytes).unwrap(), token);
    }

    #[test]
    fn any_changed_field_breaks_the_signature(token in token(), bump in 1u32..1000) {
        let signed = parse_token(&encode_token(&token, "k").unwrap()).unwrap();
        let mut changed = signed.clone();
        changed.ttl = changed.ttl.wrapping_add(bump);
        prop_assert!(!changed.verify_signature("k"));
        let mut changed = signed.clone();
        changed.resources.channels.insert("\u{0}extra".into(), Permissions::READ);
        prop_assert!(!changed.verify_signature("k"));
        let mut changed = signed;
        changed.authorized_uuid = Some(format!("{:?}!", changed.authorized_uuid));
        prop_assert!(!changed.verify_signature("k"));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Token::from_cbor_bytes(&bytes);
        let _ = parse_token(&URL_SAFE_NO_PAD.encode(&bytes));
        let _ = parse_token(&URL_SAFE.encode(&bytes));
    }

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,200}") {
        let _ = parse_token(&text);
    }

    #[test]
    fn corrupted_tokens_never_panic(
        token in token(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = token.to_cbor_bytes().unwrap();
        // Cut short, a valid token is always an error (never a shorter token).
        prop_assert!(Token::from_cbor_bytes(&bytes[..cut.index(bytes.len())]).is_err());
        let mut edited = bytes;
        for (at, byte) in edits {
            let i = at.index(edited.len());
            edited[i] = byte;
        }
        let _ = Token::from_cbor_bytes(&edited);
        let _ = parse_token(&URL_SAFE.encode(&edited));
    }
}

#[test]
fn python_sample_token_layout() {
    // The layout of pubnub/python tests/unit/test_pam_v3.py, built here:
    // `v`, `t`, `ttl`, `res`, `pat`, `meta`, `uuid`, `sig`.
    let mut token = Token::new(1_632_335_843, 1440);
    token
        .resources
        .channels
        .insert("ch1".into(), Permissions::all());
    token
        .resources
        .groups
        .insert("cg1".into(), Permissions::all());
    token
        .resources
        .uuids
        .insert("uuid1".into(), Permissions::all());
    token.patterns.uuids.insert("^$".into(), Permissions::READ);
    token.meta.insert("score".into(), 100.into());
    token.meta.insert("color".into(), "red".into());
    token.meta.insert("author".into(), "pandu".into());
    token.authorized_uuid = Some("myauthuuid1".into());
    let text = encode_token(&token, "secret").unwrap();
    // 8 entries → CBOR a8 → base64 `qEF2`, like PubNub's newer tokens.
    assert!(text.starts_with("qEF2AkF0"), "{text}");
    let parsed = parse_token(&text).unwrap();
    assert_eq!(parsed.meta["author"], "pandu");
    assert_eq!(parsed.resources.uuids["uuid1"], Permissions::all());
}
