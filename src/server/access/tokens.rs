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
//! **Revocations** are remembered by token signature until the token would
//! have expired anyway, so the list stays bounded by live tokens.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};

use crate::access::{parse_token, Permissions, Token};

use super::super::errors::ApiError;
use super::grants::Scope;
use super::Permission;

/// Most compiled patterns kept per keyset.
const PATTERN_CACHE: usize = 1024;
/// Most revoked, not yet expired tokens remembered per keyset.
pub(crate) const MAX_REVOKED: usize = 100_000;
/// Size limit of one compiled pattern (bytes of the regex program).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The token in an `auth` value, or `None` when it is not a token (then it
/// is a v2 auth key).
pub(crate) fn decode(auth: &str) -> Option<Token> {
    parse_token(auth).ok()
}

/// Refuses a token that was not issued with `secret`, was revoked, or has
/// expired at `now` (Unix s).
pub(crate) fn validate(
    token: &Token,
    secret: &str,
    revoked: &Revocations,
    now: u64,
) -> Result<(), ApiError> {
    if !token.verify_signature(secret) {
        return Err(ApiError::TokenRefused {
            message: "Token is invalid: it was not issued with this keyset's secret key, or it was changed"
                .to_owned(),
        });
    }
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
}

impl Revocations {
    pub(crate) fn contains(&self, signature: &[u8]) -> bool {
        self.by_signature.contains_key(signature)
    }

    /// Remembers `token` as revoked; `false` when the list is full of live
    /// revocations.
    pub(crate) fn revoke(&mut self, token: &Token, now: u64) -> bool {
        if self.by_signature.len() >= MAX_REVOKED {
            self.by_signature.retain(|_, expires_at| now < *expires_at);
            if self.by_signature.len() >= MAX_REVOKED {
                return false;
            }
        }
        self.by_signature
            .insert(token.signature.clone(), token.expires_at());
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::access::encode_token;

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
        validate(&token, SECRET, &revoked, 1000).unwrap();
        validate(&token, SECRET, &revoked, 1059).unwrap();
        let message = |e: ApiError| match e {
            ApiError::TokenRefused { message } => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            message(validate(&token, SECRET, &revoked, 1060).unwrap_err()),
            "Token is expired"
        );
        assert!(
            message(validate(&token, "other", &revoked, 1000).unwrap_err())
                .starts_with("Token is invalid")
        );
        assert!(revoked.revoke(&token, 1000));
        assert_eq!(
            message(validate(&token, SECRET, &revoked, 1000).unwrap_err()),
            "Token is revoked"
        );
        // A changed token no longer carries a valid signature.
        let mut changed = token.clone();
        changed.ttl = 600;
        assert!(!changed.verify_signature(SECRET));
    }
}
