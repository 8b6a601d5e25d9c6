//! Property tests of percent-encoding: channel names and JSON payloads with
//! arbitrary Unicode survive encode → decode, the wire form only holds the
//! characters PubNub leaves unescaped, and a signed query re-derived from the
//! wire form matches.

use proptest::prelude::*;
use pubnub_rx::transport::encoding::{decode, encode, encode_list, encode_query};
use pubnub_rx::transport::signature::canonical_query;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn channel_names_round_trip(name in any::<String>()) {
        let encoded = encode(&name);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.%".contains(&b)), "{}", encoded);
        prop_assert_eq!(decode(&encoded, false).unwrap(), name.as_str());
        // Query values are decoded with form semantics: still the same, since `+` is escaped.
        prop_assert_eq!(decode(&encoded, true).unwrap(), name.as_str());
    }

    #[test]
    fn channel_lists_split_back(names in prop::collection::vec("[^,]{1,12}", 1..6)) {
        let segment = encode_list(&names);
        // A server decodes the segment first, then splits on `,` (PROTOCOL.md §1.3 rule 2).
        let decoded = decode(&segment, false).unwrap();
        let back: Vec<&str> = decoded.split(',').collect();
        prop_assert_eq!(back, names.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn json_payloads_round_trip_through_a_path(value in json_value()) {
        let text = serde_json::to_string(&value).unwrap();
        let segment = encode(&text);
        prop_assert!(!segment.contains('/'));
        let parsed: Value = serde_json::from_str(&decode(&segment, false).unwrap()).unwrap();
        prop_assert_eq!(parsed, value);
    }

    #[test]
    fn canonical_query_from_the_wire_equals_the_signed_one(
        pairs in prop::collection::btree_map("[a-z_-]{1,8}", any::<String>(), 0..6)
    ) {
        let list: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let signed = canonical_query(list.clone());
        let wire = encode_query(list);
        let decoded: Vec<(String, String)> = wire
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (decode(k, true).unwrap().into_owned(), decode(v, true).unwrap().into_owned())
            })
            .collect();
        let rebuilt = canonical_query(decoded.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        prop_assert_eq!(rebuilt, signed);
    }
}
