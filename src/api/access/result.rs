//! The answer to a v2 grant, revoke or audit (PROTOCOL.md §8.1).
//!
//! `{"message":"Success","payload":{"level":..,"subscribe_key":..,"ttl":..,..},
//! "service":"Access Manager","status":200}` where the payload's shape
//! depends on what was granted:
//!
//! * `subkey`: the flags (`r`, `w`, `m`, `d`, `g`, `u`, `j`) at the top;
//! * `channel` / `channel-group`: `channels` / `channel-groups` maps of name
//!   to flags;
//! * `user` / `channel-group+auth` / `uuid`: with one resource, its name as a
//!   **string** under `channel` / `channel-groups` / `channel-group` and the
//!   auth keys in a top-level `auths` map; with several, a map of name to
//!   `{"auths": {key: flags}}`.
//!
//! Both singular and plural keys (`channel`/`channels`,
//! `channel-group`/`channel-groups`) are read, each as a string or a map.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::access::Permissions;
use crate::api::util::{parse_reply, u32_from};
use crate::Error;

/// Which level a v2 grant or audit applied to (`payload.level`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessLevel {
    /// The whole subscribe key (`subkey`).
    Subkey,
    /// Channels, for every client (`channel`).
    Channel,
    /// Channel groups, for every client (`channel-group`).
    ChannelGroup,
    /// Channels for given auth keys (`user`).
    User,
    /// Channel groups for given auth keys (`channel-group+auth`).
    ChannelGroupAuth,
    /// User ids (App Context) for given auth keys (`uuid`).
    Uuid,
    /// A level this client does not know, as sent.
    Other(String),
}

impl AccessLevel {
    fn from_wire(level: &str) -> Self {
        match level {
            "subkey" => Self::Subkey,
            "channel" => Self::Channel,
            "channel-group" => Self::ChannelGroup,
            "user" => Self::User,
            "channel-group+auth" => Self::ChannelGroupAuth,
            "uuid" => Self::Uuid,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The permissions of one auth key on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthKeyAccess {
    /// The flags set to 1 (`r` → READ, `w` → WRITE, `m` → MANAGE,
    /// `d` → DELETE, `g` → GET, `u` → UPDATE, `j` → JOIN).
    pub permissions: Permissions,
    /// Minutes left, when the answer gives one for this key.
    pub ttl: Option<u32>,
}

/// What a grant or audit reports for one channel, group or user id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceAccess {
    /// Permissions for every client, when the answer gives resource-level
    /// flags (`channel` / `channel-group` levels).
    pub permissions: Option<Permissions>,
    /// Minutes left, when the answer gives one for this resource.
    pub ttl: Option<u32>,
    /// Permissions per auth key (the auth-key levels).
    pub auth_keys: BTreeMap<String, AuthKeyAccess>,
}

/// The answer to [`grant`](crate::PubNub::grant),
/// [`revoke`](crate::PubNub::revoke) and [`audit`](crate::PubNub::audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessResult {
    /// The level the permissions apply to.
    pub level: AccessLevel,
    /// The subscribe key.
    pub subscribe_key: String,
    /// Minutes the grant lasts (0 = forever), when given.
    pub ttl: Option<u32>,
    /// Subscribe-key level permissions (flags at the top of the payload).
    pub permissions: Option<Permissions>,
    /// Per channel.
    pub channels: BTreeMap<String, ResourceAccess>,
    /// Per channel group.
    pub channel_groups: BTreeMap<String, ResourceAccess>,
    /// Per user id (`target-uuid` grants).
    pub uuids: BTreeMap<String, ResourceAccess>,
}

const FLAGS: [(&str, Permissions); 7] = [
    ("r", Permissions::READ),
    ("w", Permissions::WRITE),
    ("m", Permissions::MANAGE),
    ("d", Permissions::DELETE),
    ("g", Permissions::GET),
    ("u", Permissions::UPDATE),
    ("j", Permissions::JOIN),
];

/// Reads a v2 grant/audit answer.
pub(crate) fn parse_access_response(
    what: &'static str,
    body: &[u8],
) -> Result<AccessResult, Error> {
    let value = parse_reply(what, body)?;
    let envelope = value
        .as_object()
        .ok_or_else(|| Error::deserialization(what, "expected a JSON object", body))?;
    let payload = envelope
        .get("payload")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::deserialization(what, "expected a `payload` object", body))?;
    let bad = |reason: String| Error::deserialization(what, reason, body);

    let level = payload
        .get("level")
        .and_then(Value::as_str)
        .map(AccessLevel::from_wire)
        .ok_or_else(|| bad("the payload has no `level`".to_owned()))?;
    let subscribe_key = payload
        .get("subscribe_key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let ttl = ttl_of(payload);
    let top_auths = payload.get("auths");

    let mut result = AccessResult {
        level,
        subscribe_key,
        ttl,
        permissions: flags_of(payload),
        channels: BTreeMap::new(),
        channel_groups: BTreeMap::new(),
        uuids: BTreeMap::new(),
    };
    let categories: [(&[&str], &mut BTreeMap<String, ResourceAccess>); 3] = [
        (&["channel", "channels"], &mut result.channels),
        (
            &["channel-group", "channel-groups"],
            &mut result.channel_groups,
        ),
        (&["uuids"], &mut result.uuids),
    ];
    for (keys, target) in categories {
        for key in keys {
            match payload.get(*key) {
                None | Some(Value::Null) => {}
                // One resource: its auth keys are the top-level `auths`.
                Some(Value::String(name)) => {
                    let entry = target.entry(name.clone()).or_default();
                    entry.auth_keys.extend(auths_of(top_auths).map_err(&bad)?);
                    entry.ttl = entry.ttl.or(ttl);
                }
                Some(Value::Object(resources)) => {
                    for (name, access) in resources {
                        let access = access
                            .as_object()
                            .ok_or_else(|| bad(format!("`{key}.{name}` is not an object")))?;
                        let entry = target.entry(name.clone()).or_default();
                        entry.permissions = flags_of(access).or(entry.permissions);
                        entry.ttl = ttl_of(access).or(entry.ttl);
                        entry
                            .auth_keys
                            .extend(auths_of(access.get("auths")).map_err(&bad)?);
                    }
                }
                Some(other) => {
                    return Err(bad(format!(
                        "`{key}` is {other}, expected a name or an object"
                    )))
                }
            }
        }
    }
    Ok(result)
}

fn auths_of(value: Option<&Value>) -> Result<BTreeMap<String, AuthKeyAccess>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let auths = value
        .as_object()
        .ok_or_else(|| format!("`auths` is {value}, expected an object"))?;
    auths
        .iter()
        .map(|(key, flags)| {
            let flags = flags
                .as_object()
                .ok_or_else(|| format!("`auths.{key}` is not an object"))?;
            Ok((
                key.clone(),
                AuthKeyAccess {
                    permissions: flags_of(flags).unwrap_or_default(),
                    ttl: ttl_of(flags),
                },
            ))
        })
        .collect()
}

/// The flags of an object, `None` when it has none of them.
fn flags_of(object: &Map<String, Value>) -> Option<Permissions> {
    let mut found = false;
    let mut permissions = Permissions::new();
    for (key, flag) in FLAGS {
        if let Some(value) = object.get(key) {
            found = true;
            if truthy(value) {
                permissions |= flag;
            }
        }
    }
    found.then_some(permissions)
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => s == "1" || s == "true",
        _ => false,
    }
}

fn ttl_of(object: &Map<String, Value>) -> Option<u32> {
    object.get("ttl").and_then(u32_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> AccessResult {
        parse_access_response("test", body.as_bytes()).unwrap()
    }

    const RW: Permissions = Permissions::READ.with(Permissions::WRITE);

    #[test]
    fn subkey_level() {
        let r = parse(
            r#"{"message":"Success","payload":{"level":"subkey","subscribe_key":"sub","ttl":1440,"r":1,"w":1,"m":0,"d":0,"g":0,"u":0,"j":0},"service":"Access Manager","status":200}"#,
        );
        assert_eq!(r.level, AccessLevel::Subkey);
        assert_eq!(r.subscribe_key, "sub");
        assert_eq!(r.ttl, Some(1440));
        assert_eq!(r.permissions, Some(RW));
        assert!(r.channels.is_empty() && r.channel_groups.is_empty() && r.uuids.is_empty());
    }

    #[test]
    fn channel_level_map() {
        let r = parse(
            r#"{"payload":{"level":"channel","subscribe_key":"s","ttl":1440,"channels":{"a":{"r":1,"w":1,"m":0,"d":0},"b":{"r":0,"w":1}}}}"#,
        );
        assert_eq!(r.level, AccessLevel::Channel);
        assert_eq!(r.permissions, None);
        assert_eq!(r.channels["a"].permissions, Some(RW));
        assert_eq!(r.channels["b"].permissions, Some(Permissions::WRITE));
        assert!(r.channels["a"].auth_keys.is_empty());
    }

    #[test]
    fn single_resource_with_auth_is_a_string_plus_top_level_auths() {
        let r = parse(
            r#"{"payload":{"level":"user","subscribe_key":"s","ttl":60,"channel":"test channel","auths":{"client auth key with spaces":{"r":1,"w":1,"m":0,"d":0,"g":0,"u":0,"j":0}}}}"#,
        );
        assert_eq!(r.level, AccessLevel::User);
        let ch = &r.channels["test channel"];
        assert_eq!(ch.permissions, None);
        assert_eq!(ch.ttl, Some(60));
        assert_eq!(ch.auth_keys["client auth key with spaces"].permissions, RW);

        // channel-group+auth uses the plural key with a string ...
        let r = parse(
            r#"{"payload":{"level":"channel-group+auth","subscribe_key":"s","ttl":1440,"channel-groups":"cg","auths":{"k":{"r":1,"w":1,"m":0,"d":0}}}}"#,
        );
        assert_eq!(r.level, AccessLevel::ChannelGroupAuth);
        assert_eq!(r.channel_groups["cg"].auth_keys["k"].permissions, RW);
        // ... and audits the singular one.
        let r = parse(
            r#"{"message":"Success","payload":{"level":"channel-group+auth","subscribe_key":"mySubscribeKey","channel-group":"cg2","auths":{"key1":{"r":1,"m":1,"w":1,"d":1}}},"service":"Access Manager","status":200}"#,
        );
        assert_eq!(
            r.channel_groups["cg2"].auth_keys["key1"].permissions,
            Permissions::from_bits(15)
        );
        assert_eq!(r.ttl, None);
    }

    #[test]
    fn several_resources_with_auth_nest_the_auths() {
        let r = parse(
            r#"{"payload":{"level":"user","subscribe_key":"s","ttl":1440,"channels":{"c1":{"auths":{"k":{"r":1,"w":1,"m":0,"d":0}}},"c2":{"auths":{"k":{"r":0,"w":1,"m":0,"d":0,"ttl":5}}}}}}"#,
        );
        assert_eq!(r.channels["c1"].auth_keys["k"].permissions, RW);
        assert_eq!(r.channels["c1"].permissions, None);
        let c2 = r.channels["c2"].auth_keys["k"];
        assert_eq!((c2.permissions, c2.ttl), (Permissions::WRITE, Some(5)));
    }

    #[test]
    fn uuid_level() {
        let r = parse(
            r#"{"message":"Success","payload":{"level":"uuid","subscribe_key":"SUB_KEY","ttl":120,"uuids":{"someuuid":{"auths":{"authKey123":{"r":0,"w":0,"m":0,"d":0,"g":1,"u":1,"j":1}}}}},"service":"Access Manager","status":200}"#,
        );
        assert_eq!(r.level, AccessLevel::Uuid);
        assert_eq!(
            r.uuids["someuuid"].auth_keys["authKey123"].permissions,
            Permissions::new().get().update().join()
        );
    }

    #[test]
    fn unknown_levels_and_bad_shapes() {
        let r = parse(r#"{"payload":{"level":"galaxy","subscribe_key":"s"}}"#);
        assert_eq!(r.level, AccessLevel::Other("galaxy".into()));
        for body in [
            r#"[1,2]"#,
            r#"{"payload":{"subscribe_key":"s"}}"#,
            r#"{"payload":{"level":"channel","channels":[1]}}"#,
            r#"{"payload":{"level":"user","channel":"c","auths":"nope"}}"#,
            r#"{"message":"Success"}"#,
        ] {
            assert!(
                matches!(
                    parse_access_response("test", body.as_bytes()),
                    Err(Error::Deserialization { .. })
                ),
                "{body}"
            );
        }
        let e = parse_access_response(
            "test",
            br#"{"error":true,"status":403,"message":"Forbidden","service":"Access Manager"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, Error::AccessDenied { status: 403, .. }), "{e}");
    }
}
