//! Access Manager v3 tokens on the server side (PROTOCOL.md §8.2).
//!
//! The server issues real CBOR tokens with the crate's codec
//! ([`encode_token`](crate::access::encode_token)), signed with the keyset's
//! secret key, and on every request that carries one in `auth` it checks,
//! in this order: the signature (a token changed by a single bit, or issued
//! with another secret, is refused), revocation, and expiry (`t` + `ttl`
//! minutes against the server clock). Each refusal is 403 with the flat
//! body PubNub sends for a revoked token.
//!
//! **Permissions.** A token allows a permission on a resource when its
//! exact entry (`res`) has the bit, or any pattern (`pat`) of the same kind
//! does and matches the name. The legacy categories count as their modern
//! names: `spc` (spaces) as channels, `usr` (users) as uuids — freenub
//! copies the resources into them. **Patterns are regular expressions**
//! (PubNub's documentation: "resource lists or patterns (regular
//! expressions)"), matched with the usual regex *search* semantics, so a
//! pattern is anchored only when it says so: `^room\..*$` matches `room.1`
//! and not `myroom.1`, while `room` alone would match both. The `regex`
//! crate compiles them, with size limits so that a hostile pattern cannot
//! exhaust memory; compiled patterns are cached per keyset (bounded).
//!
//! **Verified over the bytes received.** The `auth` value is decoded from
//! base64url (or standard base64, padded or not — the same bytes either
//! way; non-zero trailing bits are refused) into the exact CBOR bytes the
//! client sent, and the HMAC is checked over those bytes: the tokens this
//! server mints end with the `sig` entry, so the signed bytes are the
//! received ones with that last entry cut off and the map header counting
//! one entry less. Nothing is re-encoded before the check, so no change of
//! a byte that a lenient parser would normalise away (a key, an integer's
//! width, an unknown entry) can keep a signature valid: every single-bit
//! change of a token is refused (unit test below; `tests/access_server.rs` over HTTP). Only after the
//! check are the bytes parsed for their permissions.
//!
//! **Revocations** are remembered by token signature until the token would
//! have expired anyway, so the list stays bounded by live tokens.

use std::collections::HashMap;

use hmac::{Hmac, KeyInit, Mac};
use regex::{Regex, RegexBuilder};
use sha2::Sha256;

use crate::access::{Permissions, Token};

use super::super::errors::ApiError;
use super::super::storage::{Persist, Table};
use super::grants::Scope;
use super::Permission;

/// Most compiled patterns kept per keyset.
const PATTERN_CACHE: usize = 1024;
/// Most revoked, not yet expired tokens remembered per keyset.
pub(crate) const MAX_REVOKED: usize = 100_000;
/// Size limit of one compiled pattern (bytes of the regex program).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The trailing `sig` entry of a token this server mints: CBOR byte string
/// `sig`, then a 32-byte byte string header.
const SIG_ENTRY: [u8; 6] = [0x43, b's', b'i', b'g', 0x58, 0x20];
/// Bytes of the `sig` entry, header and HMAC.
const SIG_LEN: usize = SIG_ENTRY.len() + 32;

/// The bytes of a token as received in `auth`, or `None` when the value is
/// not a token (then it is a v2 auth key): it must decode as base64 to a
/// CBOR map (major type 5) long enough to hold a signature.
pub(crate) fn decode(auth: &str) -> Option<Vec<u8>> {
    let bytes = crate::access::token::token_bytes(auth.trim()).ok()?;
    let is_map = bytes.first().is_some_and(|b| b >> 5 == 5);
    (is_map && bytes.len() > SIG_LEN).then_some(bytes)
}

fn invalid() -> ApiError {
    ApiError::TokenRefused {
        message:
            "Token is invalid: it was not issued with this keyset's secret key, or it was changed"
                .to_owned(),
    }
}

/// Checks the HMAC of the token bytes exactly as received (see the module
/// docs), then parses them. Refuses anything this keyset did not mint.
pub(crate) fn verify_received(bytes: &[u8], secret: &str) -> Result<Token, ApiError> {
    let (Some(&header), Some(split)) = (bytes.first(), bytes.len().checked_sub(SIG_LEN)) else {
        return Err(invalid());
    };
    let (body, sig_entry) = bytes.split_at(split);
    let (entry_head, mac_bytes) = sig_entry.split_at(SIG_ENTRY.len());
    // A map of 1..=23 entries has its count in the header byte.
    if !(0xa1..=0xb7).contains(&header) || entry_head != SIG_ENTRY {
        return Err(invalid());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| invalid())?;
    mac.update(&[header - 1]);
    mac.update(body.get(1..).unwrap_or_default());
    mac.verify_slice(mac_bytes).map_err(|_| invalid())?;
    Token::from_cbor_bytes(bytes).map_err(|_| invalid())
}

/// Refuses a (verified) token that was revoked or has expired at `now`
/// (Unix s).
pub(crate) fn validate(token: &Token, revoked: &Revocations, now: u64) -> Result<(), ApiError> {
    if revoked.contains(&token.signature) {
        return Err(ApiError::TokenRefused {
            message: "Token is revoked".to_owned(),
        });
    }
    if token.is_expired_at(now) {
        return Err(ApiError::TokenRefused {
            message: "Token is expired".to_owned(),
        });
    }
    Ok(())
}

/// Whether `token` gives `permission` on `scope`.
pub(crate) fn allows(
    token: &Token,
    scope: &Scope<'_>,
    permission: Permission,
    patterns: &mut PatternCache,
) -> bool {
    let wanted = permission.bits();
    let (name, exact, legacy, pats, legacy_pats) = match scope {
        Scope::Keyset => return false,
        Scope::Channel(name) => (
            *name,
            &token.resources.channels,
            Some(&token.resources.spaces),
            &token.patterns.channels,
            Some(&token.patterns.spaces),
        ),
        Scope::Group(name) => (
            *name,
            &token.resources.groups,
            None,
            &token.patterns.groups,
            None,
        ),
        Scope::Uuid(name) => (
            *name,
            &token.resources.uuids,
            Some(&token.resources.users),
            &token.patterns.uuids,
            Some(&token.patterns.users),
        ),
    };
    let has = |bits: Option<&Permissions>| bits.is_some_and(|b| b.contains(wanted));
    if has(exact.get(name)) || has(legacy.and_then(|m| m.get(name))) {
        return true;
    }
    pats.iter()
        .chain(legacy_pats.into_iter().flatten())
        .any(|(pattern, bits)| bits.contains(wanted) && patterns.matches(pattern, name))
}

/// Compiles a token pattern, within the size limits.
pub(crate) fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Compiled patterns by their text; a pattern that does not compile is
/// remembered as matching nothing.
#[derive(Debug, Default)]
pub(crate) struct PatternCache {
    compiled: HashMap<String, Option<Regex>>,
}

impl PatternCache {
    fn matches(&mut self, pattern: &str, name: &str) -> bool {
        if let Some(compiled) = self.compiled.get(pattern) {
            return compiled.as_ref().is_some_and(|re| re.is_match(name));
        }
        if self.compiled.len() >= PATTERN_CACHE {
            self.compiled.clear();
        }
        let compiled = compile(pattern).ok();
        let matched = compiled.as_ref().is_some_and(|re| re.is_match(name));
        self.compiled.insert(pattern.to_owned(), compiled);
        matched
    }
}

/// Revoked tokens (by signature) with the time they expire.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    by_signature: HashMap<Vec<u8>, u64>,
    /// Kept in the data dir's `pam_revocations`, keyed by the signature
    /// in base64.
    pub(crate) persist: Persist,
}

fn signature_key(signature: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(signature)
}

impl Revocations {
    /// Empty revocations, with changes journalled to `persist`.
    pub(crate) fn kept_in(persist: &Persist) -> Self {
        Self {
            persist: persist.clone(),
            ..Self::default()
        }
    }

    pub(crate) fn contains(&self, signature: &[u8]) -> bool {
        self.by_signature.contains_key(signature)
    }

    /// Remembers `token` as revoked; `false` when the list is full of live
    /// revocations.
    pub(crate) fn revoke(&mut self, token: &Token, now: u64) -> bool {
        if self.by_signature.len() >= MAX_REVOKED {
            let persist = &self.persist;
            self.by_signature.retain(|signature, expires_at| {
                let live = now < *expires_at;
                if !live {
                    persist.delete(Table::Revocations, &signature_key(signature));
                }
                live
            });
            if self.by_signature.len() >= MAX_REVOKED {
                return false;
            }
        }
        self.persist.put(
            Table::Revocations,
            &signature_key(&token.signature),
            &token.expires_at(),
        );
        self.by_signature
            .insert(token.signature.clone(), token.expires_at());
        true
    }

    /// Puts a revocation read back from the data dir. Expired ones are kept
    /// as at run time (a revoked token answers "revoked" until the set is
    /// full and prunes), so the answers do not change across a restart.
    pub(crate) fn restore(&mut self, signature: &str, expires_at: u64) {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(signature);
        match decoded {
            Ok(bytes) if self.by_signature.len() < MAX_REVOKED => {
                self.by_signature.insert(bytes, expires_at);
            }
            _ => self.persist.delete(Table::Revocations, &signature),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::access::{encode_token, parse_token};

    use super::*;

    const SECRET: &str = "sec-c-test";

    fn issued(token: &Token) -> Token {
        parse_token(&encode_token(token, SECRET).unwrap()).unwrap()
    }

    #[test]
    fn exact_names_patterns_and_legacy_categories() {
        let mut t = Token::new(1000, 60);
        t.resources
            .channels
            .insert("a".into(), Permissions::new().read());
        t.resources
            .spaces
            .insert("s".into(), Permissions::new().write());
        t.patterns
            .channels
            .insert(r"^room\..*$".into(), Permissions::new().read());
        t.patterns
            .groups
            .insert("[".into(), Permissions::new().read());
        t.resources
            .users
            .insert("u".into(), Permissions::new().get());
        let mut cache = PatternCache::default();
        let ok = |s: Scope<'_>, p: Permission, c: &mut PatternCache| allows(&t, &s, p, c);
        assert!(ok(Scope::Channel("a"), Permission::Read, &mut cache));
        assert!(!ok(Scope::Channel("a"), Permission::Write, &mut cache));
        assert!(ok(Scope::Channel("s"), Permission::Write, &mut cache));
        assert!(ok(Scope::Channel("room.1"), Permission::Read, &mut cache));
        assert!(ok(
            Scope::Channel("room.1-pnpres"),
            Permission::Read,
            &mut cache
        ));
        assert!(!ok(
            Scope::Channel("myroom.1"),
            Permission::Read,
            &mut cache
        ));
        assert!(!ok(Scope::Channel("room.1"), Permission::Write, &mut cache));
        // An invalid pattern matches nothing.
        assert!(!ok(Scope::Group("["), Permission::Read, &mut cache));
        assert!(ok(Scope::Uuid("u"), Permission::Get, &mut cache));
        assert!(!ok(Scope::Keyset, Permission::Read, &mut cache));
    }

    #[test]
    fn validation_order_signature_revocation_expiry() {
        let mut t = Token::new(1000, 1);
        t.resources
            .channels
            .insert("a".into(), Permissions::new().read());
        let token = issued(&t);
        let mut revoked = Revocations::default();
        validate(&token, &revoked, 1000).unwrap();
        validate(&token, &revoked, 1059).unwrap();
        let message = |e: ApiError| match e {
            ApiError::TokenRefused { message } => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            message(validate(&token, &revoked, 1060).unwrap_err()),
            "Token is expired"
        );
        assert!(revoked.revoke(&token, 1000));
        assert_eq!(
            message(validate(&token, &revoked, 1000).unwrap_err()),
            "Token is revoked"
        );
    }

    #[test]
    fn every_single_bit_flip_of_the_received_bytes_is_refused() {
        let mut t = Token::new(1000, 60);
        t.authorized_uuid = Some("alice".into());
        t.resources
            .channels
            .insert("a".into(), Permissions::new().read());
        t.patterns
            .channels
            .insert("^b-.*$".into(), Permissions::new().write());
        t.meta.insert("k".into(), serde_json::json!("v"));
        let text = encode_token(&t, SECRET).unwrap();
        let bytes = decode(&text).unwrap();
        let token = verify_received(&bytes, SECRET).unwrap();
        assert_eq!(token.authorized_uuid.as_deref(), Some("alice"));
        // Other spellings of the same bytes are the same token.
        let unpadded = text.trim_end_matches('=');
        assert_eq!(decode(unpadded).unwrap(), bytes);
        assert_eq!(
            decode(&text.replace('-', "+").replace('_', "/")).unwrap(),
            bytes
        );
        assert!(verify_received(&bytes, "other").is_err());
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                verify_received(&flipped, SECRET).is_err(),
                "bit {bit} accepted"
            );
        }
        assert!(verify_received(&bytes[..bytes.len() - 1], SECRET).is_err());
        assert!(verify_received(&[], SECRET).is_err());
    }
}
