//! Access Manager v3 tokens: decoding what PubNub issues and encoding tokens
//! in the same layout (PROTOCOL.md §8.2).
//!
//! A token is URL-safe base64 (with or without `=` padding) of a CBOR map:
//!
//! ```text
//! { "v": 2, "t": <issued, Unix s>, "ttl": <minutes>,
//!   "res": {"chan": {name: bits}, "grp": {..}, "spc": {..}, "usr": {..}, "uuid": {..}},
//!   "pat": { same categories, keys are regular expressions },
//!   "meta": {..}, "uuid": "<authorized uuid>" (optional), "sig": <32 bytes> }
//! ```
//!
//! The top-level keys and the category keys are CBOR *byte* strings;
//! resource names, meta keys and the authorized uuid are *text* strings.
//! [`parse_token`] also accepts text keys, so tokens from encoders that differ
//! on that point still read.
//!
//! **The signature.** PubNub signs its tokens with the keyset's secret key
//! over an input it does not document, so a client cannot check a real
//! token's `sig` and does not need to. [`encode_token`] and
//! [`Token::verify_signature`] use this crate's own rule, meant for the dev
//! server that mints and later checks its own tokens: `sig` =
//! HMAC-SHA256(secret, the CBOR encoding [`Token::to_cbor_bytes`] writes for
//! the same token *without* its `sig` entry).

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use ciborium::value::{Integer, Value as Cbor};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Number, Value as Json};
use sha2::Sha256;

use super::Permissions;
use crate::error::truncated_text;
use crate::Error;

/// Deepest nesting accepted while decoding (a token is 3 levels deep; the
/// rest is room for `meta`). Keeps hostile input from exhausting the stack.
const RECURSION_LIMIT: usize = 32;

/// The token version PubNub issues.
pub const TOKEN_VERSION: u32 = 2;

const WHAT: &str = "the access token";

/// The resources of one section of a token (`res` for exact names, `pat`
/// for regular expressions), each name with its permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenResources {
    /// Channels (`chan`).
    pub channels: BTreeMap<String, Permissions>,
    /// Channel groups (`grp`).
    pub groups: BTreeMap<String, Permissions>,
    /// User ids, i.e. App Context user metadata (`uuid`).
    pub uuids: BTreeMap<String, Permissions>,
    /// Legacy "users" (`usr`): older SDKs copied `uuids` here.
    pub users: BTreeMap<String, Permissions>,
    /// Legacy "spaces" (`spc`): older SDKs copied `channels` here.
    pub spaces: BTreeMap<String, Permissions>,
}

impl TokenResources {
    /// Whether no category holds an entry.
    pub fn is_empty(&self) -> bool {
        self.categories().iter().all(|(_, map)| map.is_empty())
    }

    /// The categories in the order PubNub writes them.
    fn categories(&self) -> [(&'static str, &BTreeMap<String, Permissions>); 5] {
        [
            ("chan", &self.channels),
            ("grp", &self.groups),
            ("spc", &self.spaces),
            ("usr", &self.users),
            ("uuid", &self.uuids),
        ]
    }

    fn category_mut(&mut self, key: &str) -> Option<&mut BTreeMap<String, Permissions>> {
        match key {
            "chan" => Some(&mut self.channels),
            "grp" => Some(&mut self.groups),
            "spc" => Some(&mut self.spaces),
            "usr" => Some(&mut self.users),
            "uuid" => Some(&mut self.uuids),
            _ => None,
        }
    }
}

/// A decoded Access Manager v3 token.
///
/// ```
/// use pubnub_rx::access::{parse_token, Permissions};
///
/// // A token PubNub issued (grant_token_with_uuid_and_channels cassette).
/// let token = parse_token(
///     "qEF2AkF0GmertwtDdHRsGDxDcmVzpURjaGFuoW9zb21lX2NoYW5uZWxfaWQY70NncnChbXNvbWVfZ3JvdXBfaWQFQ3NwY6Fvc29tZV9jaGFubmVsX2lkGO9DdXNyoWlzb21lX3V1aWQYaER1dWlkoWlzb21lX3V1aWQYaENwYXSlRGNoYW6hZnNvbWVfKgdDZ3JwoWZzb21lXyoBQ3NwY6Fmc29tZV8qB0N1c3KhZnNvbWVfKhggRHV1aWShZnNvbWVfKhggRG1ldGGgRHV1aWRpc29tZV91dWlkQ3NpZ1ggwfN_9UgB2U0sIBUVoaSihuFQ_BDnHJsmek0AuKQYhfs=",
/// )?;
/// assert_eq!(token.ttl, 60);
/// assert_eq!(token.authorized_uuid.as_deref(), Some("some_uuid"));
/// assert_eq!(token.resources.channels["some_channel_id"].bits(), 239);
/// assert!(token.patterns.groups["some_*"].contains(Permissions::READ));
/// # Ok::<(), pubnub_rx::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Token format version (`v`; PubNub issues 2).
    pub version: u32,
    /// When the token was issued, Unix seconds (`t`).
    pub timestamp: u64,
    /// Lifetime in minutes from `timestamp` (`ttl`).
    pub ttl: u32,
    /// The only user id allowed to use the token (`uuid`), if restricted.
    pub authorized_uuid: Option<String>,
    /// Exact resource names (`res`).
    pub resources: TokenResources,
    /// Regular-expression patterns (`pat`).
    pub patterns: TokenResources,
    /// The grant's metadata (`meta`), a JSON object.
    pub meta: Map<String, Json>,
    /// The issuer's signature (`sig`, 32 bytes for PubNub's tokens).
    pub signature: Vec<u8>,
}

impl Token {
    /// An unsigned version-2 token issued at `timestamp` (Unix s) for `ttl`
    /// minutes, with no resources; fill the public fields, then
    /// [`encode_token`].
    pub fn new(timestamp: u64, ttl: u32) -> Self {
        Self {
            version: TOKEN_VERSION,
            timestamp,
            ttl,
            authorized_uuid: None,
            resources: TokenResources::default(),
            patterns: TokenResources::default(),
            meta: Map::new(),
            signature: Vec::new(),
        }
    }

    /// When the token stops being valid, Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.timestamp
            .saturating_add(u64::from(self.ttl).saturating_mul(60))
    }

    /// Whether the token has expired at `now` (Unix seconds).
    pub fn is_expired_at(&self, now: u64) -> bool {
        now >= self.expires_at()
    }

    /// The token's CBOR encoding, `sig` included (byte-string top-level and
    /// category keys, as PubNub writes them).
    pub fn to_cbor_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut entries = self.unsigned_entries()?;
        entries.push((key("sig"), Cbor::Bytes(self.signature.clone())));
        write_cbor(&Cbor::Map(entries))
    }

    /// Decodes a token's CBOR bytes (what the base64 of a token holds).
    pub fn from_cbor_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut rest = bytes;
        let value: Cbor =
            ciborium::de::from_reader_with_recursion_limit(&mut rest, RECURSION_LIMIT)
                .map_err(|e| invalid(format!("is not valid CBOR: {e}")))?;
        if !rest.is_empty() {
            return Err(invalid(format!(
                "has {} unexpected bytes after the CBOR map",
                rest.len()
            )));
        }
        Self::from_cbor_value(value).map_err(|e| match e {
            // Show the bytes as the token text they would be.
            Error::Deserialization { what, reason, .. } => Error::Deserialization {
                what,
                reason,
                body: truncated_text(URL_SAFE.encode(bytes).as_bytes()),
            },
            other => other,
        })
    }

    /// HMAC-SHA256 with `secret` over the CBOR of every field but `sig` (this
    /// crate's rule; see the [module docs](self)).
    pub fn compute_signature(&self, secret: &str) -> Result<[u8; 32], Error> {
        let unsigned = write_cbor(&Cbor::Map(self.unsigned_entries()?))?;
        let mut mac = new_mac(secret)?;
        mac.update(&unsigned);
        Ok(mac.finalize().into_bytes().into())
    }

    /// Whether `sig` is this crate's signature of the token with `secret`
    /// (compared in constant time). Tokens PubNub issued never verify here:
    /// their signature input is not public.
    pub fn verify_signature(&self, secret: &str) -> bool {
        let Ok(unsigned) = self
            .unsigned_entries()
            .and_then(|e| write_cbor(&Cbor::Map(e)))
        else {
            return false;
        };
        let Ok(mut mac) = new_mac(secret) else {
            return false;
        };
        mac.update(&unsigned);
        mac.verify_slice(&self.signature).is_ok()
    }

    fn unsigned_entries(&self) -> Result<Vec<(Cbor, Cbor)>, Error> {
        let mut entries = vec![
            (key("v"), Cbor::Integer(self.version.into())),
            (key("t"), Cbor::Integer(self.timestamp.into())),
            (key("ttl"), Cbor::Integer(self.ttl.into())),
            (key("res"), resources_to_cbor(&self.resources)),
            (key("pat"), resources_to_cbor(&self.patterns)),
            (key("meta"), json_object_to_cbor(&self.meta)?),
        ];
        if let Some(uuid) = &self.authorized_uuid {
            entries.push((key("uuid"), Cbor::Text(uuid.clone())));
        }
        Ok(entries)
    }

    fn from_cbor_value(value: Cbor) -> Result<Self, Error> {
        let Cbor::Map(entries) = value else {
            return Err(invalid(format!(
                "holds {}, not a CBOR map",
                kind_of(&value)
            )));
        };
        let mut version = None;
        let mut timestamp = None;
        let mut ttl = None;
        let mut token = Token::new(0, 0);
        let mut seen = BTreeSet::new();
        for (k, v) in entries {
            let name = key_text(k).map_err(|e| invalid(format!("has a top-level key that {e}")))?;
            if !seen.insert(name.clone()) {
                return Err(invalid(format!("repeats the key `{name}`")));
            }
            match name.as_str() {
                "v" => version = Some(unsigned(&name, v)?),
                "t" => timestamp = Some(unsigned(&name, v)?),
                "ttl" => ttl = Some(unsigned(&name, v)?),
                "res" => token.resources = resources_from_cbor(&name, v)?,
                "pat" => token.patterns = resources_from_cbor(&name, v)?,
                "meta" => token.meta = meta_from_cbor(v)?,
                "uuid" => {
                    token.authorized_uuid = match v {
                        Cbor::Text(text) => Some(text),
                        Cbor::Null => None,
                        other => {
                            return Err(invalid(format!(
                                "has `uuid` as {}, expected text",
                                kind_of(&other)
                            )))
                        }
                    }
                }
                "sig" => {
                    token.signature = match v {
                        Cbor::Bytes(bytes) => bytes,
                        other => {
                            return Err(invalid(format!(
                                "has `sig` as {}, expected a byte string",
                                kind_of(&other)
                            )))
                        }
                    }
                }
                // Unknown entries are ignored: newer token versions may add some.
                _ => {}
            }
        }
        let require = |value: Option<u64>, name: &str| {
            value.ok_or_else(|| invalid(format!("lacks the `{name}` entry")))
        };
        token.version = narrow("v", require(version, "v")?)?;
        token.timestamp = require(timestamp, "t")?;
        token.ttl = narrow("ttl", require(ttl, "ttl")?)?;
        Ok(token)
    }
}

/// The CBOR bytes of a token's text: URL-safe base64, or standard base64
/// mapped onto it, padding optional, trailing bits strict (so one byte
/// string has one spelling per alphabet). Shared by [`parse_token`] and the
/// dev server, which verifies a token over exactly these bytes.
pub(crate) fn token_bytes(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let url_safe: String = text
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_PAD_INDIFFERENT.decode(url_safe.as_bytes())
}

/// Decodes a token string as PubNub issues it: URL-safe base64 with or
/// without `=` padding (the standard `+`/`/` alphabet and a percent-encoded
/// token are accepted too), then the CBOR map. Never panics, whatever the
/// input.
///
/// ```
/// use pubnub_rx::access::parse_token;
/// assert!(parse_token("not a token").is_err());
/// ```
pub fn parse_token(token: &str) -> Result<Token, Error> {
    let trimmed = token.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid_argument(
            "token",
            "is empty: pass the token string returned by grant_token",
        ));
    }
    let unescaped = if trimmed.contains('%') {
        crate::transport::encoding::decode(trimmed, false)
            .map_err(|e| bad_text(token, format!("is not valid percent-encoding: {e}")))?
    } else {
        trimmed.into()
    };
    let bytes = token_bytes(&unescaped)
        .map_err(|e| bad_text(token, format!("is not URL-safe base64: {e}")))?;
    Token::from_cbor_bytes(&bytes).map_err(|e| match e {
        Error::Deserialization { what, reason, .. } => Error::Deserialization {
            what,
            reason,
            body: truncated_text(token.as_bytes()),
        },
        other => other,
    })
}

/// Signs `token` with `signing_secret` (this crate's rule, see the
/// [module docs](self)) and returns the token string: URL-safe base64 *with*
/// `=` padding, which every SDK's `parse_token` reads (Python's requires
/// the padding). The `signature` field of `token` is ignored and replaced.
///
/// ```
/// use pubnub_rx::access::{encode_token, parse_token, Permissions, Token};
///
/// let mut token = Token::new(1_700_000_000, 60);
/// token.authorized_uuid = Some("alice".into());
/// token.resources.channels.insert("chat".into(), Permissions::new().read().write());
/// let text = encode_token(&token, "dev-secret")?;
/// let back = parse_token(&text)?;
/// assert!(back.verify_signature("dev-secret"));
/// assert!(!back.verify_signature("other-secret"));
/// assert_eq!(back.resources, token.resources);
/// # Ok::<(), pubnub_rx::Error>(())
/// ```
pub fn encode_token(token: &Token, signing_secret: &str) -> Result<String, Error> {
    let signature = token.compute_signature(signing_secret)?;
    let mut entries = token.unsigned_entries()?;
    entries.push((key("sig"), Cbor::Bytes(signature.to_vec())));
    Ok(URL_SAFE.encode(write_cbor(&Cbor::Map(entries))?))
}

fn key(name: &str) -> Cbor {
    Cbor::Bytes(name.as_bytes().to_vec())
}

fn write_cbor(value: &Cbor) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).map_err(|e| Error::Serialization {
        what: WHAT,
        reason: e.to_string(),
    })?;
    Ok(out)
}

fn new_mac(secret: &str) -> Result<Hmac<Sha256>, Error> {
    // HMAC takes keys of any length; the error arm is never taken.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| Error::invalid_argument("signing_secret", e.to_string()))
}

fn resources_to_cbor(resources: &TokenResources) -> Cbor {
    Cbor::Map(
        resources
            .categories()
            .into_iter()
            .map(|(name, map)| {
                let items = map
                    .iter()
                    .map(|(resource, permissions)| {
                        (
                            Cbor::Text(resource.clone()),
                            Cbor::Integer(permissions.bits().into()),
                        )
                    })
                    .collect();
                (key(name), Cbor::Map(items))
            })
            .collect(),
    )
}

fn resources_from_cbor(section: &str, value: Cbor) -> Result<TokenResources, Error> {
    let Cbor::Map(categories) = value else {
        return Err(invalid(format!(
            "has `{section}` as {}, expected a map",
            kind_of(&value)
        )));
    };
    let mut out = TokenResources::default();
    for (k, v) in categories {
        let category =
            key_text(k).map_err(|e| invalid(format!("has a `{section}` key that {e}")))?;
        let Some(target) = out.category_mut(&category) else {
            // Unknown resource categories are skipped, like unknown entries.
            continue;
        };
        let Cbor::Map(items) = v else {
            return Err(invalid(format!(
                "has `{section}.{category}` as {}, expected a map",
                kind_of(&v)
            )));
        };
        for (name, bits) in items {
            let name = key_text(name)
                .map_err(|e| invalid(format!("has a `{section}.{category}` name that {e}")))?;
            let path = format!("{section}.{category}.{name}");
            let bits = narrow(&path, unsigned(&path, bits)?)?;
            target.insert(name, Permissions::from_bits(bits));
        }
    }
    Ok(out)
}

fn meta_from_cbor(value: Cbor) -> Result<Map<String, Json>, Error> {
    match cbor_to_json("meta", value)? {
        Json::Object(map) => Ok(map),
        Json::Null => Ok(Map::new()),
        other => Err(invalid(format!(
            "has `meta` as {}, expected a map",
            json_kind(&other)
        ))),
    }
}

fn cbor_to_json(path: &str, value: Cbor) -> Result<Json, Error> {
    Ok(match value {
        Cbor::Integer(i) => Json::Number(integer_to_json(path, i)?),
        Cbor::Float(f) => {
            Json::Number(Number::from_f64(f).ok_or_else(|| {
                invalid(format!("has `{path}` = {f}, which JSON cannot represent"))
            })?)
        }
        Cbor::Text(text) => Json::String(text),
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Null => Json::Null,
        Cbor::Tag(_, inner) => cbor_to_json(path, *inner)?,
        Cbor::Array(items) => Json::Array(
            items
                .into_iter()
                .map(|item| cbor_to_json(path, item))
                .collect::<Result<_, _>>()?,
        ),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let k = key_text(k).map_err(|e| invalid(format!("has a `{path}` key that {e}")))?;
                let v = cbor_to_json(path, v)?;
                map.insert(k, v);
            }
            Json::Object(map)
        }
        Cbor::Bytes(_) => {
            return Err(invalid(format!(
                "has a byte string inside `{path}`, which JSON cannot represent"
            )))
        }
        // `ciborium::Value` is non-exhaustive.
        other => {
            return Err(invalid(format!(
                "has an unsupported CBOR value inside `{path}`: {}",
                kind_of(&other)
            )))
        }
    })
}

fn integer_to_json(path: &str, i: Integer) -> Result<Number, Error> {
    if let Ok(u) = u64::try_from(i) {
        return Ok(Number::from(u));
    }
    if let Ok(s) = i64::try_from(i) {
        return Ok(Number::from(s));
    }
    Err(invalid(format!(
        "has an integer inside `{path}` outside the 64-bit range"
    )))
}

fn json_object_to_cbor(map: &Map<String, Json>) -> Result<Cbor, Error> {
    map.iter()
        .map(|(k, v)| Ok((Cbor::Text(k.clone()), json_to_cbor(v)?)))
        .collect::<Result<Vec<_>, Error>>()
        .map(Cbor::Map)
}

fn json_to_cbor(value: &Json) -> Result<Cbor, Error> {
    Ok(match value {
        Json::Null => Cbor::Null,
        Json::Bool(b) => Cbor::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Cbor::Integer(u.into())
            } else if let Some(i) = n.as_i64() {
                Cbor::Integer(i.into())
            } else if let Some(f) = n.as_f64() {
                Cbor::Float(f)
            } else {
                return Err(Error::Serialization {
                    what: WHAT,
                    reason: format!("the meta number {n} has no CBOR form"),
                });
            }
        }
        Json::String(s) => Cbor::Text(s.clone()),
        Json::Array(items) => {
            Cbor::Array(items.iter().map(json_to_cbor).collect::<Result<_, _>>()?)
        }
        Json::Object(map) => json_object_to_cbor(map)?,
    })
}

/// A map key as text: CBOR text, or a byte string holding UTF-8.
fn key_text(value: Cbor) -> Result<String, String> {
    match value {
        Cbor::Text(text) => Ok(text),
        Cbor::Bytes(bytes) => {
            String::from_utf8(bytes).map_err(|_| "is a byte string but not UTF-8".to_owned())
        }
        other => Err(format!("is {}, expected a string", kind_of(&other))),
    }
}

fn unsigned(name: &str, value: Cbor) -> Result<u64, Error> {
    match value {
        Cbor::Integer(i) => u64::try_from(i).map_err(|_| {
            invalid(format!(
                "has `{name}` = {}, expected an unsigned integer",
                i128::from(i)
            ))
        }),
        other => Err(invalid(format!(
            "has `{name}` as {}, expected an unsigned integer",
            kind_of(&other)
        ))),
    }
}

fn narrow(name: &str, value: u64) -> Result<u32, Error> {
    u32::try_from(value).map_err(|_| invalid(format!("has `{name}` = {value}, which is too large")))
}

fn kind_of(value: &Cbor) -> &'static str {
    match value {
        Cbor::Integer(_) => "an integer",
        Cbor::Bytes(_) => "a byte string",
        Cbor::Float(_) => "a float",
        Cbor::Text(_) => "a text string",
        Cbor::Bool(_) => "a boolean",
        Cbor::Null => "null",
        Cbor::Tag(..) => "a tagged value",
        Cbor::Array(_) => "an array",
        Cbor::Map(_) => "a map",
        _ => "an unknown CBOR value",
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn invalid(reason: String) -> Error {
    Error::Deserialization {
        what: WHAT,
        reason: format!(
            "the token {reason}; pass the token string exactly as grant_token returned it"
        ),
        body: String::new(),
    }
}

fn bad_text(token: &str, reason: String) -> Error {
    Error::Deserialization {
        what: WHAT,
        reason: format!(
            "the token {reason}; pass the token string exactly as grant_token returned it"
        ),
        body: truncated_text(token.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/unit/test_pam_v3.py`-style layout written byte by byte: the
    /// top-level keys as byte strings, names as text.
    fn sample() -> Token {
        let mut token = Token::new(1_632_335_843, 1440);
        token.authorized_uuid = Some("myauthuuid1".into());
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
        token
    }

    #[test]
    fn encoding_uses_byte_string_keys_and_text_names() {
        let bytes = sample().to_cbor_bytes().unwrap();
        // a8: map of 8; 41 76: byte string "v"; 02.
        assert_eq!(&bytes[..4], &[0xa8, 0x41, b'v', 0x02]);
        // "ch1" is a text string (major type 3): 63 'c' 'h' '1'.
        let needle = [0x63, b'c', b'h', b'1', 0x18, 0xff];
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        // Without an authorized uuid the map has 7 entries, as older tokens.
        let mut older = sample();
        older.authorized_uuid = None;
        assert_eq!(older.to_cbor_bytes().unwrap()[0], 0xa7);
    }

    #[test]
    fn encode_parse_round_trip_and_signature() {
        let token = sample();
        let text = encode_token(&token, "secret").unwrap();
        assert!(text.starts_with("qEF2"), "{text}");
        assert_eq!(text.len() % 4, 0, "padded: {text}");
        let back = parse_token(&text).unwrap();
        assert_eq!(back.signature.len(), 32);
        assert!(back.verify_signature("secret"));
        assert!(!back.verify_signature("Secret"));
        let mut unsigned = back.clone();
        unsigned.signature = token.signature.clone();
        assert_eq!(unsigned, token);
        // Without padding, and percent-encoded as on the wire, it still reads.
        assert_eq!(parse_token(text.trim_end_matches('=')).unwrap(), back);
        assert_eq!(parse_token(&text.replace('=', "%3D")).unwrap(), back);
        // Tampering breaks the signature.
        let mut tampered = back;
        tampered.ttl += 1;
        assert!(!tampered.verify_signature("secret"));
    }

    #[test]
    fn expiry() {
        let token = Token::new(1000, 2);
        assert_eq!(token.expires_at(), 1120);
        assert!(!token.is_expired_at(1119));
        assert!(token.is_expired_at(1120));
    }

    #[test]
    fn bad_tokens_are_errors_that_say_why() {
        let cases: [(&str, &str); 6] = [
            ("", "empty"),
            ("@@@@", "base64"),
            ("AAAA", "CBOR map"),
            // a map with "v" only
            (&URL_SAFE.encode([0xa1, 0x41, b'v', 0x02]), "lacks the `t`"),
            // trailing byte after an empty map
            (&URL_SAFE.encode([0xa0, 0x00]), "unexpected bytes"),
            // `v` twice
            (
                &URL_SAFE.encode([0xa2, 0x41, b'v', 0x02, 0x41, b'v', 0x02]),
                "repeats the key `v`",
            ),
        ];
        for (text, why) in cases {
            let e = parse_token(text).unwrap_err();
            assert!(e.to_string().contains(why), "{text:?}: {e}");
        }
        let negative_ttl = [
            0xa3, 0x41, b'v', 0x02, 0x41, b't', 0x01, 0x43, b't', b't', b'l', 0x20,
        ];
        let e = parse_token(&URL_SAFE.encode(negative_ttl)).unwrap_err();
        assert!(e.to_string().contains("`ttl` = -1"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let mut bytes = vec![0xa2, 0x41, b'v', 0x02, 0x44, b'm', b'e', b't', b'a'];
        bytes.extend(std::iter::repeat_n(0x81, 10_000));
        bytes.push(0x00);
        assert!(parse_token(&URL_SAFE.encode(bytes)).is_err());
    }
}
