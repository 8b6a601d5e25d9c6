//! The Access Manager administration endpoints (PROTOCOL.md §8.1, §8.2),
//! answered only to requests signed with the keyset's secret key:
//!
//! * `GET /v2/auth/grant/sub-key/{sub}`: v2 grant (and revoke = every flag
//!   0), answered with the `level` and payload shapes the service records;
//! * `GET /v2/auth/audit/sub-key/{sub}`: the live v2 grants;
//! * `POST /v3/pam/{sub}/grant`: a v3 token;
//! * `DELETE /v3/pam/{sub}/grant/{token}`: revokes a token.
//!
//! On a keyset without a secret key, a signed request to any of them turns
//! Access Manager on by trust on first use (`mod.rs`); an unsigned one is
//! answered 403 "Access Manager is not enabled".

use std::fmt::Display;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde_json::{Map, Value};

use crate::access::{encode_token, parse_token, Permissions, Token, TokenResources};

use super::super::app::App;
use super::super::errors::{json_string, pam_response, ApiError, PamDetail};
use super::super::keyset::KeysetHandle;
use super::super::wire::RequestCtx;
use super::grants::{Entry, Grant, Scope};
use super::{lock, signature, tokens, AccessControl};

/// PubNub's default v2 grant ttl, minutes.
const DEFAULT_V2_TTL: u32 = 1440;
/// The longest v2 grant: one year, minutes.
const MAX_V2_TTL: u32 = 525_600;
/// v3 token ttl range, minutes.
const MAX_V3_TTL: u64 = 43_200;

/// The v2 flags in the order PubNub writes them.
const FLAGS: [(&str, Permissions); 7] = [
    ("r", Permissions::READ),
    ("w", Permissions::WRITE),
    ("m", Permissions::MANAGE),
    ("d", Permissions::DELETE),
    ("g", Permissions::GET),
    ("u", Permissions::UPDATE),
    ("j", Permissions::JOIN),
];

/// A JSON object written field by field, so keys keep PubNub's order.
struct Obj(String);

impl Obj {
    fn new() -> Self {
        Self(String::from("{"))
    }

    fn raw(mut self, key: &str, value: impl AsRef<str>) -> Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&json_string(key));
        self.0.push(':');
        self.0.push_str(value.as_ref());
        self
    }

    fn str(self, key: &str, value: &str) -> Self {
        let value = json_string(value);
        self.raw(key, value)
    }

    fn num(self, key: &str, value: impl Display) -> Self {
        self.raw(key, value.to_string())
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// `{"r":1,"w":0,…,"j":0}`, with the minutes left when given.
fn flags_json(permissions: Permissions, ttl: Option<u32>) -> Obj {
    let mut obj = Obj::new();
    for (flag, bit) in FLAGS {
        obj = obj.num(flag, u8::from(permissions.contains(bit)));
    }
    match ttl {
        Some(ttl) => obj.num("ttl", ttl),
        None => obj,
    }
}

/// `{"k1":{flags},…}`.
fn auths_json<'a>(auths: impl IntoIterator<Item = (&'a str, Permissions, Option<u32>)>) -> String {
    let mut obj = Obj::new();
    for (key, permissions, ttl) in auths {
        obj = obj.raw(key, flags_json(permissions, ttl).finish());
    }
    obj.finish()
}

fn success(payload: String) -> Response<Body> {
    pam_response(
        StatusCode::OK,
        Obj::new()
            .str("message", "Success")
            .raw("payload", payload)
            .str("service", "Access Manager")
            .num("status", 200)
            .finish(),
    )
}

fn bad_request_v2(message: impl Into<String>) -> ApiError {
    ApiError::AccessManagerFlat {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
    }
}

fn bad_request_v3(
    message: &str,
    source: &'static str,
    detail: impl Into<String>,
    location: &'static str,
    location_type: &'static str,
) -> ApiError {
    ApiError::AccessManager {
        status: StatusCode::BAD_REQUEST,
        message: message.to_owned(),
        source,
        details: vec![PamDetail::new(detail, location, location_type)],
    }
}

/// The keyset's Access Manager. A keyset that has none is switched on by
/// trust on first use when this request carries a signature of the right
/// shape with a fresh `timestamp` (nothing changes for a malformed one);
/// an unsigned request gets 403 "Access Manager is not enabled".
fn enabled<'a>(
    app: &App,
    keyset: &'a KeysetHandle,
    ctx: &RequestCtx,
    now: u64,
    source: &'static str,
) -> Result<&'a AccessControl, ApiError> {
    if let Some(access) = keyset.access() {
        return Ok(access);
    }
    let Some(presented) = ctx.query.get("signature") else {
        return Err(ApiError::AccessManager {
            status: StatusCode::FORBIDDEN,
            message: "Access Manager is not enabled".to_owned(),
            source,
            details: vec![PamDetail::new(
                "This keyset has no secret key yet: a request signed with your secret key turns Access Manager on for it (trust on first use), or start the dev server with --subscribe-key, --publish-key and --secret-key (or give the Keyset a secret key).",
                "subscribe_key",
                "path",
            )],
        });
    };
    signature::unverifiable(ctx, presented, now, app.config.signature_window)?;
    Ok(keyset.enable_first_use(&app.config))
}

fn v2_permissions(ctx: &RequestCtx) -> Permissions {
    FLAGS
        .iter()
        .filter(|(flag, _)| ctx.query.flag(flag, false))
        .fold(Permissions::new(), |acc, (_, bit)| acc.with(*bit))
}

/// `GET /v2/auth/grant/sub-key/{sub}`.
pub(crate) fn grant(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
) -> Result<Response<Body>, ApiError> {
    let now = app.clock.unix_secs();
    let access = enabled(app, keyset, ctx, now, "grant")?;
    access.require_admin(ctx, now, "grant")?;
    let channels = ctx.query.list("channel");
    let groups = ctx.query.list("channel-group");
    let uuids = ctx.query.list("target-uuid");
    let auths = ctx.query.list("auth");
    let permissions = v2_permissions(ctx);
    let ttl = match ctx.query.non_empty("ttl") {
        None => None,
        Some(text) => Some(
            text.trim()
                .parse::<u32>()
                .ok()
                .filter(|minutes| *minutes <= MAX_V2_TTL)
                .ok_or_else(|| {
                    bad_request_v2(format!(
                        "Invalid ttl `{text}`: give minutes from 0 (never expires) to {MAX_V2_TTL} (one year)"
                    ))
                })?,
        ),
    };
    if !uuids.is_empty() {
        if auths.is_empty() {
            return Err(bad_request_v2(
                "Invalid arguments: a grant on target-uuid needs the auth keys that receive it",
            ));
        }
        if !channels.is_empty() || !groups.is_empty() {
            return Err(bad_request_v2(
                "Invalid arguments: target-uuid cannot be granted together with channels or channel groups",
            ));
        }
    }
    let granted_ttl = ttl.unwrap_or(DEFAULT_V2_TTL);
    let mut scopes: Vec<Scope<'_>> = channels
        .iter()
        .map(|c| Scope::Channel(c))
        .chain(groups.iter().map(|g| Scope::Group(g)))
        .chain(uuids.iter().map(|u| Scope::Uuid(u)))
        .collect();
    if scopes.is_empty() {
        scopes.push(Scope::Keyset);
    }
    let holders: Vec<Option<&str>> = if auths.is_empty() {
        vec![None]
    } else {
        auths.iter().map(|a| Some(a.as_str())).collect()
    };
    {
        let mut grants = lock(&access.grants);
        for scope in &scopes {
            for holder in &holders {
                grants.set(
                    scope,
                    *holder,
                    Grant::new(permissions, granted_ttl, now),
                    now,
                )?;
            }
        }
    }
    // The service answered a revoke without ttl with `"ttl":1`.
    let reported_ttl = if permissions.is_empty() && ttl.is_none() {
        1
    } else {
        granted_ttl
    };
    let flags = || flags_json(permissions, None).finish();
    let auth_map = || auths_json(auths.iter().map(|a| (a.as_str(), permissions, None)));
    let with_auths = || Obj::new().raw("auths", auth_map()).finish();
    let map_of = |names: &[String], value: &dyn Fn() -> String| {
        names
            .iter()
            .fold(Obj::new(), |obj, name| obj.raw(name, value()))
            .finish()
    };
    let head = |level: &str| {
        Obj::new()
            .str("level", level)
            .str("subscribe_key", &keyset.subscribe_key)
            .num("ttl", reported_ttl)
    };
    let payload = if !uuids.is_empty() {
        head("uuid")
            .raw("uuids", map_of(&uuids, &with_auths))
            .finish()
    } else if channels.is_empty() && groups.is_empty() {
        let mut obj = head("subkey");
        for (flag, bit) in FLAGS {
            obj = obj.num(flag, u8::from(permissions.contains(bit)));
        }
        if !auths.is_empty() {
            obj = obj.raw("auths", auth_map());
        }
        obj.finish()
    } else {
        let level = match (channels.is_empty(), auths.is_empty()) {
            (false, true) => "channel",
            (false, false) => "user",
            (true, true) => "channel-group",
            (true, false) => "channel-group+auth",
        };
        let mut obj = head(level);
        if auths.is_empty() {
            if !channels.is_empty() {
                obj = obj.raw("channels", map_of(&channels, &flags));
            }
            if !groups.is_empty() {
                obj = obj.raw("channel-groups", map_of(&groups, &flags));
            }
        } else if channels.len() + groups.len() == 1 {
            // One resource: its name as a string and the keys at the top.
            obj = match (channels.first(), groups.first()) {
                (Some(channel), _) => obj.str("channel", channel),
                (None, Some(group)) => obj.str("channel-groups", group),
                (None, None) => obj,
            };
            obj = obj.raw("auths", auth_map());
        } else {
            if !channels.is_empty() {
                obj = obj.raw("channels", map_of(&channels, &with_auths));
            }
            if !groups.is_empty() {
                obj = obj.raw("channel-groups", map_of(&groups, &with_auths));
            }
        }
        obj.finish()
    };
    Ok(success(payload))
}

/// The audit form of one target's grants: public flags (with minutes
/// left) at the top, then `auths`; `None` when nothing is live.
fn entry_json(entry: &Entry, auths: &[String], now: u64) -> Option<String> {
    let live = entry.live(now);
    let keys: Vec<(&str, &Grant)> = live
        .by_auth
        .iter()
        .filter(|(key, _)| auths.is_empty() || auths.contains(key))
        .map(|(key, grant)| (key.as_str(), grant))
        .collect();
    let public = live.public.filter(|_| auths.is_empty());
    if public.is_none() && keys.is_empty() {
        return None;
    }
    let mut obj = match public {
        Some(grant) => flags_json(grant.permissions, Some(grant.minutes_left(now))),
        None => Obj::new(),
    };
    if !keys.is_empty() {
        obj = obj.raw(
            "auths",
            auths_json(
                keys.iter()
                    .map(|(k, g)| (*k, g.permissions, Some(g.minutes_left(now)))),
            ),
        );
    }
    Some(obj.finish())
}

/// `GET /v2/auth/audit/sub-key/{sub}`.
pub(crate) fn audit(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
) -> Result<Response<Body>, ApiError> {
    let now = app.clock.unix_secs();
    let access = enabled(app, keyset, ctx, now, "audit")?;
    access.require_admin(ctx, now, "audit")?;
    let channels = ctx.query.list("channel");
    let groups = ctx.query.list("channel-group");
    let auths = ctx.query.list("auth");
    let grants = lock(&access.grants);
    let map_of = |names: &mut dyn Iterator<Item = (&str, &Entry)>| {
        names
            .filter_map(|(name, entry)| entry_json(entry, &auths, now).map(|json| (name, json)))
            .fold(Obj::new(), |obj, (name, json)| obj.raw(name, json))
            .finish()
    };
    let named = |names: &[String], scope: fn(&str) -> Scope<'_>| {
        let found: Vec<(&str, &Entry)> = names
            .iter()
            .filter_map(|name| grants.entry(&scope(name)).map(|e| (name.as_str(), e)))
            .collect();
        map_of(&mut found.into_iter())
    };
    let head = |level: &str| {
        Obj::new()
            .str("level", level)
            .str("subscribe_key", &keyset.subscribe_key)
    };
    let payload = if !channels.is_empty() {
        let level = if auths.is_empty() { "channel" } else { "user" };
        head(level)
            .raw("channels", named(&channels, |n| Scope::Channel(n)))
            .finish()
    } else if !groups.is_empty() {
        let level = if auths.is_empty() {
            "channel-group"
        } else {
            "channel-group+auth"
        };
        head(level)
            .raw("channel-groups", named(&groups, |n| Scope::Group(n)))
            .finish()
    } else {
        let mut obj = head("subkey");
        let live = grants.keyset.live(now);
        if let Some(public) = live.public.filter(|_| auths.is_empty()) {
            for (flag, bit) in FLAGS {
                obj = obj.num(flag, u8::from(public.permissions.contains(bit)));
            }
            obj = obj.num("ttl", public.minutes_left(now));
        }
        let keyset_auths: Vec<(&str, Permissions, Option<u32>)> = live
            .by_auth
            .iter()
            .filter(|(key, _)| auths.is_empty() || auths.contains(key))
            .map(|(key, g)| (key.as_str(), g.permissions, Some(g.minutes_left(now))))
            .collect();
        if !keyset_auths.is_empty() {
            obj = obj.raw("auths", auths_json(keyset_auths));
        }
        let all = |map: &std::collections::BTreeMap<String, Entry>| {
            map_of(&mut map.iter().map(|(name, entry)| (name.as_str(), entry)))
        };
        obj.raw("channels", all(&grants.channels))
            .raw("channel-groups", all(&grants.groups))
            .raw("uuids", all(&grants.uuids))
            .finish()
    };
    Ok(success(payload))
}

/// A token ttl: minutes as a number or a numeric string (an older SDK sent
/// `"ttl": "15"` and the service took it), 1 to 43 200.
fn token_ttl(value: Option<&Value>) -> Result<u32, ApiError> {
    let minutes = match value {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    minutes
        .filter(|m| (1..=MAX_V3_TTL).contains(m))
        .and_then(|m| u32::try_from(m).ok())
        .ok_or_else(|| {
            bad_request_v3(
                "Invalid ttl",
                "grant",
                "Range should be 1 to 43200 minute(s).",
                "ttl",
                "body",
            )
        })
}

fn invalid_permissions(detail: impl Into<String>) -> ApiError {
    bad_request_v3(
        "Invalid permissions",
        "grant",
        detail,
        "permissions",
        "body",
    )
}

/// Reads `resources` or `patterns` of a grant-token body into `target`.
fn read_section(
    section: Option<&Value>,
    name: &str,
    target: &mut TokenResources,
    patterns: bool,
) -> Result<(), ApiError> {
    let categories = match section {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(invalid_permissions(format!(
                "`permissions.{name}` is {other}, expected an object"
            )))
        }
    };
    for (category, items) in categories {
        let map = match category.as_str() {
            "channels" => &mut target.channels,
            "groups" => &mut target.groups,
            "uuids" => &mut target.uuids,
            "users" => &mut target.users,
            "spaces" => &mut target.spaces,
            // Unknown categories are skipped, as new SDKs may send more.
            _ => continue,
        };
        let items = match items {
            Value::Null => continue,
            Value::Object(items) => items,
            other => {
                return Err(invalid_permissions(format!(
                "`permissions.{name}.{category}` is {other}, expected an object of name to bitmask"
            )))
            }
        };
        for (resource, bits) in items {
            let bits = bits
                .as_u64()
                .filter(|b| *b <= 0xFF)
                .and_then(|b| u32::try_from(b).ok())
                .ok_or_else(|| {
                    invalid_permissions(format!(
                        "`permissions.{name}.{category}.{resource}` is {bits}, expected a bitmask from 0 to 255 (read 1, write 2, manage 4, delete 8, create 16, get 32, update 64, join 128)"
                    ))
                })?;
            if patterns {
                if let Err(e) = tokens::compile(resource) {
                    return Err(bad_request_v3(
                        "Invalid RegEx",
                        "grant",
                        format!("`{resource}` in `permissions.patterns.{category}` is not a valid regular expression: {e}"),
                        "permissions",
                        "body",
                    ));
                }
            }
            if bits > 0 {
                map.insert(resource.clone(), Permissions::from_bits(bits));
            }
        }
    }
    Ok(())
}

/// `POST /v3/pam/{sub}/grant`.
pub(crate) fn grant_token(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
) -> Result<Response<Body>, ApiError> {
    let now = app.clock.unix_secs();
    let access = enabled(app, keyset, ctx, now, "grant")?;
    access.require_admin(ctx, now, "grant")?;
    let body: Value = serde_json::from_slice(&ctx.body).map_err(|e| {
        bad_request_v3(
            "Invalid request",
            "grant",
            format!("The body is not JSON: {e}"),
            "body",
            "body",
        )
    })?;
    let Value::Object(request) = body else {
        return Err(bad_request_v3(
            "Invalid request",
            "grant",
            "The body must be a JSON object with `ttl` and `permissions`.",
            "body",
            "body",
        ));
    };
    let ttl = token_ttl(request.get("ttl"))?;
    let permissions = request
        .get("permissions")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid_permissions("`permissions` is missing or not an object"))?;
    let mut token = Token::new(now, ttl);
    read_section(
        permissions.get("resources"),
        "resources",
        &mut token.resources,
        false,
    )?;
    read_section(
        permissions.get("patterns"),
        "patterns",
        &mut token.patterns,
        true,
    )?;
    if token.resources.is_empty() && token.patterns.is_empty() {
        return Err(invalid_permissions(
            "The token grants nothing: give at least one resource or pattern with a permission.",
        ));
    }
    token.meta = match permissions.get("meta") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(meta)) => meta.clone(),
        Some(other) => {
            return Err(bad_request_v3(
                "Invalid meta",
                "grant",
                format!("`permissions.meta` is {other}, expected an object"),
                "meta",
                "body",
            ))
        }
    };
    token.authorized_uuid = match permissions.get("uuid") {
        None | Some(Value::Null) => None,
        Some(Value::String(uuid)) if !uuid.is_empty() => Some(uuid.clone()),
        Some(other) => {
            return Err(bad_request_v3(
                "Invalid uuid",
                "grant",
                format!("`permissions.uuid` is {other}, expected a non-empty user id"),
                "uuid",
                "body",
            ))
        }
    };
    let text = encode_token(&token, &access.keys.secret).map_err(|e| {
        bad_request_v3(
            "Invalid meta",
            "grant",
            format!("The token could not be encoded: {e}"),
            "meta",
            "body",
        )
    })?;
    access.remember_issued(&text);
    Ok(pam_response(
        StatusCode::OK,
        Obj::new()
            .raw(
                "data",
                Obj::new()
                    .str("message", "Success")
                    .str("token", &text)
                    .finish(),
            )
            .str("service", "Access Manager")
            .num("status", 200)
            .finish(),
    ))
}

/// `DELETE /v3/pam/{sub}/grant/{token}`.
pub(crate) fn revoke_token(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    token_text: &str,
) -> Result<Response<Body>, ApiError> {
    let now = app.clock.unix_secs();
    let access = enabled(app, keyset, ctx, now, "revoke")?;
    access.require_admin(ctx, now, "revoke")?;
    let invalid =
        |detail: String| bad_request_v3("Invalid token", "revoke", detail, "token", "path");
    // Malformed first (the message says why), then the HMAC over the exact
    // bytes received.
    parse_token(token_text).map_err(|e| invalid(format!("Token is malformed: {e}")))?;
    let unescaped = crate::transport::encoding::decode(token_text, false)
        .map_err(|e| invalid(format!("Token is malformed: {e}")))?;
    let token = tokens::decode(&unescaped)
        .and_then(|bytes| tokens::verify_received(&bytes, &access.keys.secret).ok())
        .ok_or_else(|| invalid("Token was not issued with this keyset's secret key.".to_owned()))?;
    if token.is_expired_at(now) {
        // The recorded answer (native_sync/pam/revoke_expired_token).
        return Err(invalid("Token is expired.".to_owned()));
    }
    if !lock(&access.revoked).revoke(&token, now) {
        return Err(invalid(format!(
            "Too many revoked tokens: this keyset remembers {} until they expire.",
            tokens::MAX_REVOKED
        )));
    }
    Ok(pam_response(
        StatusCode::OK,
        r#"{"data":{"message":"Success"},"service":"Access Manager","status":200}"#,
    ))
}
