//! What the web console shows of a keyset's Access Manager: its mode, the
//! live v2 grants and the v3 tokens this server issued (decoded, with
//! whether each is expired or revoked), and any token pasted into it,
//! decoded. Read-only; every list is bounded by the caller's `limit`.

use std::collections::VecDeque;

use serde_json::{json, Map, Value};

use crate::access::{parse_token, Permissions, Token, TokenResources};

use super::super::storage::{Persist, Table};
use super::grants::{Entry, Grant};
use super::{lock, tokens, AccessControl, Trust};

/// Most issued tokens remembered per keyset for the console (newest kept).
pub(crate) const MAX_ISSUED: usize = 1_000;

/// Tokens this keyset issued, newest last, each with its number (its key
/// in the data dir's `pam_tokens`).
#[derive(Debug, Default)]
pub(crate) struct Issued {
    tokens: VecDeque<(u64, String)>,
    next: u64,
}

impl Issued {
    pub(crate) fn remember(&mut self, text: &str, persist: &Persist) {
        if self.tokens.len() >= MAX_ISSUED {
            if let Some((dropped, _)) = self.tokens.pop_front() {
                persist.delete(Table::Tokens, &dropped);
            }
        }
        persist.put(Table::Tokens, &self.next, text);
        self.tokens.push_back((self.next, text.to_owned()));
        self.next += 1;
    }

    /// Puts a token read back from the data dir; call in number order.
    pub(crate) fn restore(&mut self, number: u64, text: String, persist: &Persist) {
        self.next = self.next.max(number.saturating_add(1));
        self.tokens.push_back((number, text));
        if self.tokens.len() > MAX_ISSUED {
            if let Some((dropped, _)) = self.tokens.pop_front() {
                persist.delete(Table::Tokens, &dropped);
            }
        }
    }
}

/// `rwmdcguj` letters of the permissions held (`-` for none).
pub(crate) fn letters(permissions: Permissions) -> String {
    let named = [
        (Permissions::READ, 'r'),
        (Permissions::WRITE, 'w'),
        (Permissions::MANAGE, 'm'),
        (Permissions::DELETE, 'd'),
        (Permissions::CREATE, 'c'),
        (Permissions::GET, 'g'),
        (Permissions::UPDATE, 'u'),
        (Permissions::JOIN, 'j'),
    ];
    let out: String = named
        .iter()
        .filter(|(bit, _)| permissions.contains(*bit))
        .map(|(_, letter)| *letter)
        .collect();
    if out.is_empty() {
        "-".to_owned()
    } else {
        out
    }
}

fn section(resources: &TokenResources) -> Value {
    let mut out = Map::new();
    for (name, map) in [
        ("channels", &resources.channels),
        ("groups", &resources.groups),
        ("uuids", &resources.uuids),
        ("spaces", &resources.spaces),
        ("users", &resources.users),
    ] {
        if !map.is_empty() {
            let entries: Map<String, Value> = map
                .iter()
                .map(|(k, p)| (k.clone(), Value::String(letters(*p))))
                .collect();
            out.insert(name.to_owned(), Value::Object(entries));
        }
    }
    Value::Object(out)
}

/// A decoded token as the console shows it.
pub(crate) fn token_json(token: &Token, now: u64) -> Value {
    json!({
        "version": token.version,
        "issued": token.timestamp,
        "ttl": token.ttl,
        "expires": token.expires_at(),
        "expired": token.is_expired_at(now),
        "authorized_uuid": token.authorized_uuid,
        "resources": section(&token.resources),
        "patterns": section(&token.patterns),
        "meta": token.meta,
    })
}

fn grant_json(
    scope: &str,
    target: Option<&str>,
    auth: Option<&str>,
    grant: &Grant,
    now: u64,
) -> Value {
    json!({
        "scope": scope,
        "target": target,
        "auth": auth,
        "permissions": letters(grant.permissions),
        "ttl": grant.ttl,
        "minutes_left": grant.minutes_left(now),
    })
}

impl AccessControl {
    /// How the keyset enforces Access Manager: `secret-key` (pinned) or
    /// `first-use` (trust on first use).
    pub(crate) fn mode_name(&self) -> &'static str {
        match self.trust {
            Trust::Pinned => "secret-key",
            Trust::FirstUse => "first-use",
        }
    }

    /// Remembers a token this keyset issued (the console lists them).
    pub(crate) fn remember_issued(&self, text: &str) {
        lock(&self.issued).remember(text, &self.persist);
    }

    /// The console's view: mode, live v2 grants (`offset`, at most
    /// `limit`), issued tokens (newest first, at most `limit`).
    pub(crate) fn console_view(&self, now: u64, offset: usize, limit: usize) -> Value {
        let mut grants = Vec::new();
        let mut total = 0usize;
        {
            let all = lock(&self.grants);
            let targets = std::iter::once(("keyset", None, &all.keyset))
                .chain(
                    all.channels
                        .iter()
                        .map(|(k, e)| ("channel", Some(k.as_str()), e)),
                )
                .chain(
                    all.groups
                        .iter()
                        .map(|(k, e)| ("group", Some(k.as_str()), e)),
                )
                .chain(all.uuids.iter().map(|(k, e)| ("uuid", Some(k.as_str()), e)));
            for (scope, target, entry) in targets {
                let live: Entry = entry.live(now);
                let rows = live
                    .public
                    .iter()
                    .map(|g| (None, g))
                    .chain(live.by_auth.iter().map(|(k, g)| (Some(k.as_str()), g)));
                for (auth, grant) in rows {
                    if total >= offset && grants.len() < limit {
                        grants.push(grant_json(scope, target, auth, grant, now));
                    }
                    total += 1;
                }
            }
        }
        let issued: Vec<String> = lock(&self.issued)
            .tokens
            .iter()
            .rev()
            .take(limit)
            .map(|(_, text)| text.clone())
            .collect();
        let issued_total = lock(&self.issued).tokens.len();
        let revoked = lock(&self.revoked);
        let tokens: Vec<Value> = issued
            .iter()
            .filter_map(|text| {
                let token = parse_token(text).ok()?;
                let mut value = token_json(&token, now);
                if let Value::Object(map) = &mut value {
                    map.insert("token".to_owned(), Value::String(text.clone()));
                    map.insert(
                        "revoked".to_owned(),
                        Value::Bool(revoked.contains(&token.signature)),
                    );
                }
                Some(value)
            })
            .collect();
        json!({
            "mode": self.mode_name(),
            "grants": grants,
            "grants_total": total,
            "tokens": tokens,
            "tokens_total": issued_total,
        })
    }

    /// A pasted token, decoded, with whether this keyset issued it
    /// (signature) and revoked it.
    pub(crate) fn console_token(&self, text: &str, now: u64) -> Option<Value> {
        let token = parse_token(text).ok()?;
        let issued_here = tokens::decode(text)
            .is_some_and(|bytes| tokens::verify_received(&bytes, &self.keys.secret).is_ok());
        let mut value = token_json(&token, now);
        if let Value::Object(map) = &mut value {
            map.insert("signature_valid".to_owned(), Value::Bool(issued_here));
            map.insert(
                "revoked".to_owned(),
                Value::Bool(lock(&self.revoked).contains(&token.signature)),
            );
        }
        Some(value)
    }
}
