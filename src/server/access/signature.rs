//! Request signatures as the server checks them (PROTOCOL.md §8.3).
//!
//! The canonical query is rebuilt from the *decoded* query parameters
//! (every one but `signature`, sorted, strictly percent-encoded), exactly as
//! PubNub evidently does, so the wire encoding of a client does not matter.
//! A presented signature is accepted when it equals one of:
//!
//! * **v2** with the request's real method and, for POST / PATCH, its body
//!   (every SDK, every route);
//! * for `/publish` paths also **v2 as a body-less GET** (the JS SDK signs
//!   POST publish that way) and **v1** with or without `=` padding (Python,
//!   Go and the official Rust SDK sign POST publish with it);
//! * each of the above over **Python's double-encoded values**: freenub /
//!   pubnub-python sign `filter-expr`, `state`, `custom_message_type` and
//!   the names of `channel-group` already percent-encoded once, so their
//!   signed subscribes with a filter or state never verify on a strict
//!   server. Accepted here for interop (the real service presumably refuses
//!   them; PROTOCOL.md §13 item 8) — the variant is confirmed byte for byte
//!   by the captured `filter-expr` subscribe in CLIENT-CAPTURES.md.
//!
//! Anything else is 403 "Invalid signature" (§1.7). The `timestamp` must be
//! within the skew window around the server clock (default ±60 s,
//! [`DevServerConfig::signature_window`](crate::server::DevServerConfig::signature_window)),
//! else 400 "Invalid timestamp" — the status PubNub's Access Manager pages
//! name for clock drift ("400 Invalid Timestamp error").
//!
//! **Replays.** A replay of a signed request after the window fails the
//! timestamp check (the timestamp is part of what is signed). Inside the
//! window, a bounded memory ([`ReplayGuard`]) of the requests accepted
//! recently refuses a repeat with 403 "Invalid signature". It remembers the
//! **canonical request** (method, path, canonical query without
//! `signature`, and the body when the matched signature covers it), not the
//! signature text, so no other spelling of a signature (padding, base64 vs
//! base64url, case, v1 vs v2 of the same request) repeats a request.
//!
//! **Signatures that do not cover the body.** v1 and v2-as-GET (POST
//! publish from Python, Go, Rust, JS) sign the path and query only. Such a
//! signature authorises *one* body: the first request with that canonical
//! query is accepted and any later one — same body or another — is a
//! replay. (A body changed in flight before the first delivery cannot be
//! detected: the client did not sign it. Those SDKs make every publish
//! unique with `seqn` / `requestid`, so nothing legitimate is refused.) A
//! v2 signature with the real method covers the body, so two requests
//! that differ only in their body carry two different signatures and are
//! two requests.
//!
//! Every signed request therefore has to differ from the ones of the last window:
//! this crate's client adds a fresh `requestid` to each request, and
//! freenub numbers its publishes (`seqn`); two byte-identical signed
//! requests within one second (an SDK without `requestid` repeating a call)
//! are refused as a replay. Set `replay_memory` to 0 to turn the memory off.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::transport::signature::{
    canonical_query, sign_v1, sign_v2, v1_string_to_sign, v2_string_to_sign,
};

use super::super::errors::{ApiError, PamDetail};
use super::super::wire::RequestCtx;

/// The keys a keyset signs with.
#[derive(Debug, Clone)]
pub(crate) struct SigningKeys {
    pub(crate) subscribe_key: String,
    pub(crate) publish_key: String,
    pub(crate) secret: String,
}

/// A signed request that verified, for the replay memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The SHA-256 of the canonical request ([`request_key`]): what the
    /// replay memory remembers, never the signature text.
    pub(crate) key: [u8; 32],
    pub(crate) timestamp: u64,
}

/// One signature the server accepts for a request, and whether it covers
/// the request body.
struct Candidate {
    signature: String,
    covers_body: bool,
}

/// The replay key of a request: SHA-256 over the method, the path as
/// received, the canonical query of the decoded parameters (without
/// `signature`) and, when the signature that matched covers the body, the
/// body. Every spelling of the same request — `=` padding or none, base64
/// or base64url, `+` or `%20`, parameter order, v1 or v2 — has one key;
/// a signature that does not cover the body (v1, v2-as-GET) has a key
/// without it, so it authorises **one** body, whichever comes first.
fn request_key(ctx: &RequestCtx, canonical: &str, covers_body: bool) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [
        ctx.method.as_str().as_bytes(),
        ctx.raw_path.as_bytes(),
        canonical.as_bytes(),
    ] {
        // Length-prefixed, so that no two requests hash the same input.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    if covers_body {
        hash.update([1]);
        hash.update(&ctx.body);
    } else {
        hash.update([0]);
    }
    hash.finalize().into()
}

/// What urllib's `quote(s, safe="~")` leaves alone: `A-Z a-z 0-9 - _ . ~`.
const PYTHON_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Parameters freenub signs already percent-encoded.
const PYTHON_PRE_ENCODED: [&str; 4] = [
    "filter-expr",
    "state",
    "custom_message_type",
    "channel-group",
];

/// The `source` an Access Manager error names for this request.
pub(crate) fn source_of(ctx: &RequestCtx) -> &'static str {
    let path = ctx.raw_path.as_str();
    if path.starts_with("/v2/auth/audit/") {
        "audit"
    } else if path.starts_with("/v3/pam/") && ctx.method == Method::DELETE {
        "revoke"
    } else if path.starts_with("/v2/auth/") || path.starts_with("/v3/pam/") {
        "grant"
    } else {
        "signature"
    }
}

fn invalid_signature(source: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::AccessManager {
        status: StatusCode::FORBIDDEN,
        message: "Invalid signature".to_owned(),
        source,
        details: vec![PamDetail::new(detail, "signature", "query")],
    }
}

fn invalid_timestamp(source: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::AccessManager {
        status: StatusCode::BAD_REQUEST,
        message: "Invalid timestamp".to_owned(),
        source,
        details: vec![PamDetail::new(detail, "timestamp", "query")],
    }
}

/// The answer to an administration request without a signature.
pub(crate) fn unsigned(source: &'static str) -> ApiError {
    invalid_signature(
        source,
        "This request is not signed: Access Manager administration needs `timestamp` and `signature` computed with the keyset's secret key.",
    )
}

/// Checks the signature and timestamp of a request that carries
/// `signature` (`presented`), against the server time `now` (Unix s).
pub(crate) fn verify(
    ctx: &RequestCtx,
    keys: &SigningKeys,
    presented: &str,
    now: u64,
    window: Duration,
) -> Result<Verified, ApiError> {
    let source = source_of(ctx);
    // Every candidate is compared (no early exit), so the time taken does
    // not tell which one matched.
    let covers_body = candidates(ctx, keys)
        .iter()
        .filter(|c| same_bytes(c.signature.as_bytes(), presented.as_bytes()))
        .fold(None, |acc: Option<bool>, c| {
            Some(acc.unwrap_or(false) || c.covers_body)
        });
    let Some(covers_body) = covers_body else {
        return Err(invalid_signature(
            source,
            "Client and server produced different signatures for the same inputs.",
        ));
    };
    let timestamp = fresh_timestamp(ctx, source, now, window)?;
    Ok(Verified {
        key: request_key(ctx, &canonical_of(ctx), covers_body),
        timestamp,
    })
}

/// The checks a signature gets on a keyset in trust-on-first-use mode,
/// where there is no secret key to verify it with: it must have the shape
/// of a signature (`v2.` and, or just, the base64 or base64url of a 32-byte
/// HMAC-SHA256) and a `timestamp` inside the skew window. The replay key
/// covers the body of a POST / PATCH.
pub(crate) fn unverifiable(
    ctx: &RequestCtx,
    presented: &str,
    now: u64,
    window: Duration,
) -> Result<Verified, ApiError> {
    let source = source_of(ctx);
    if !well_formed(presented) {
        return Err(invalid_signature(
            source,
            "Not a signature: send `v2.` followed by the unpadded base64url HMAC-SHA256 of the request, computed with the secret key.",
        ));
    }
    let timestamp = fresh_timestamp(ctx, source, now, window)?;
    let has_body = ctx.method == Method::POST || ctx.method == Method::PATCH;
    Ok(Verified {
        key: request_key(ctx, &canonical_of(ctx), has_body),
        timestamp,
    })
}

/// Whether `presented` looks like a v2 or v1 signature: 32 bytes of
/// base64 or base64url, padded or not, after an optional `v2.`.
fn well_formed(presented: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    let digest = presented.strip_prefix("v2.").unwrap_or(presented);
    // A `+` sent unencoded arrives as a space (PROTOCOL.md §1.3).
    let digest = digest.trim_end_matches('=').replace(' ', "+");
    [URL_SAFE_NO_PAD, STANDARD_NO_PAD]
        .iter()
        .any(|engine| engine.decode(&digest).is_ok_and(|bytes| bytes.len() == 32))
}

/// The request's `timestamp`, refused with 400 when missing or outside the
/// skew window around `now`.
fn fresh_timestamp(
    ctx: &RequestCtx,
    source: &'static str,
    now: u64,
    window: Duration,
) -> Result<u64, ApiError> {
    let timestamp = ctx
        .query
        .get("timestamp")
        .and_then(|t| t.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            invalid_timestamp(
                source,
                "A signed request needs `timestamp`, the Unix time in seconds when it was signed.",
            )
        })?;
    let skew = now.abs_diff(timestamp);
    if skew > window.as_secs() {
        return Err(invalid_timestamp(
            source,
            format!(
                "`timestamp` {timestamp} is {skew} s away from the server time {now}; \
                 it must be within {} s: sign each request when it is sent, and keep the clock in sync (NTP).",
                window.as_secs()
            ),
        ));
    }
    Ok(timestamp)
}

/// The canonical query of the decoded parameters, `signature` left out.
fn canonical_of(ctx: &RequestCtx) -> String {
    canonical_query(ctx.query.pairs())
}

/// Every signature this server accepts for the request.
fn candidates(ctx: &RequestCtx, keys: &SigningKeys) -> Vec<Candidate> {
    let pairs: Vec<(&str, &str)> = ctx.query.pairs().collect();
    let mut queries = vec![canonical_query(pairs.iter().copied())];
    if let Some(python) = python_double_encoded(&pairs) {
        queries.push(python);
    }
    let method = ctx.method.as_str();
    let has_body = ctx.method == Method::POST || ctx.method == Method::PATCH;
    let body: &[u8] = if has_body { &ctx.body } else { b"" };
    let candidate = |signature: String, covers_body: bool| Candidate {
        signature,
        covers_body,
    };
    let path = ctx.raw_path.as_str();
    let publish = path.starts_with("/publish/");
    let mut out = Vec::new();
    for query in &queries {
        let to_sign = v2_string_to_sign(method, &keys.publish_key, path, query, body);
        out.push(candidate(sign_v2(&keys.secret, &to_sign), has_body));
        if publish {
            let as_get = v2_string_to_sign("GET", &keys.publish_key, path, query, b"");
            out.push(candidate(sign_v2(&keys.secret, &as_get), false));
            let v1 = v1_string_to_sign(&keys.subscribe_key, &keys.publish_key, path, query);
            out.push(candidate(sign_v1(&keys.secret, v1.as_bytes(), true), false));
            out.push(candidate(
                sign_v1(&keys.secret, v1.as_bytes(), false),
                false,
            ));
        }
    }
    out
}

/// The canonical query freenub signs: its pre-encoded values encoded once
/// more. `None` when the request has none of them or encoding changes
/// nothing (then the plain canonical query already covers it).
fn python_double_encoded(pairs: &[(&str, &str)]) -> Option<String> {
    let mut changed = false;
    let encoded: Vec<(&str, String)> = pairs
        .iter()
        .map(|(key, value)| {
            if !PYTHON_PRE_ENCODED.contains(key) {
                return (*key, (*value).to_owned());
            }
            let once = if *key == "channel-group" {
                // `join_channels`: each name encoded, joined with a literal comma.
                value
                    .split(',')
                    .map(|name| utf8_percent_encode(name, PYTHON_SET).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                utf8_percent_encode(value, PYTHON_SET).to_string()
            };
            changed |= once != *value;
            (*key, once)
        })
        .collect();
    changed.then(|| canonical_query(encoded.iter().map(|(k, v)| (*k, v.as_str()))))
}

/// Equality that takes the same time wherever the inputs differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The signatures accepted recently, so that an exact repeat inside the
/// skew window is refused. Bounded: entries leave once their timestamp is
/// out of the window (a replay would fail the timestamp check then), and
/// when `capacity` is reached the oldest entry goes first — under a flood of
/// more than `capacity` signed requests per window the oldest could be
/// replayed once; a dev server accepts that instead of unbounded memory.
#[derive(Debug)]
pub(crate) struct ReplayGuard {
    capacity: usize,
    seen: HashSet<[u8; 32]>,
    order: VecDeque<(u64, [u8; 32])>,
}

impl ReplayGuard {
    /// A memory of at most `capacity` requests (0 turns it off).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Refuses a request seen before (by its canonical key), else
    /// remembers it. `source` names
    /// the endpoint in the error body.
    pub(crate) fn check_and_remember(
        &mut self,
        verified: &Verified,
        now: u64,
        window: Duration,
        source: &'static str,
    ) -> Result<(), ApiError> {
        if self.capacity == 0 {
            return Ok(());
        }
        let window = window.as_secs();
        while let Some((timestamp, _)) = self.order.front() {
            if timestamp.saturating_add(window) >= now {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                self.seen.remove(&key);
            }
        }
        if self.seen.contains(&verified.key) {
            return Err(invalid_signature(
                source,
                "This signed request was already received (a replay): sign every request anew, with a fresh timestamp.",
            ));
        }
        while self.order.len() >= self.capacity {
            match self.order.pop_front() {
                Some((_, key)) => {
                    self.seen.remove(&key);
                }
                None => break,
            }
        }
        self.seen.insert(verified.key);
        self.order.push_back((verified.timestamp, verified.key));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use bytes::Bytes;

    use super::super::super::wire::{decode_query, Query};
    use super::*;

    /// The keys of the recorded runs in CLIENT-CAPTURES.md.
    fn capture_keys() -> SigningKeys {
        SigningKeys {
            subscribe_key: "sub-c-capture".into(),
            publish_key: "pub-c-capture".into(),
            secret: "sec-c-capture".into(),
        }
    }

    fn ctx(method: Method, target: &str, body: &str) -> RequestCtx {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        RequestCtx {
            method,
            raw_path: path.to_owned(),
            query: Query::new(decode_query(query).unwrap()),
            headers: axum::http::HeaderMap::new(),
            body: Bytes::copy_from_slice(body.as_bytes()),
            caller: OnceLock::new(),
        }
    }

    fn check(ctx: &RequestCtx) -> Result<Verified, ApiError> {
        let presented = ctx.query.get("signature").unwrap().to_owned();
        let timestamp: u64 = ctx.query.get("timestamp").unwrap().parse().unwrap();
        verify(
            ctx,
            &capture_keys(),
            &presented,
            timestamp,
            Duration::from_secs(60),
        )
    }

    // Requests exactly as freenub 0.1.2 and npm pubnub 7.3.3 sent them
    // (CLIENT-CAPTURES.md), with the capture's secret key `sec-c-capture`.

    #[test]
    fn freenub_get_publish_v2() {
        let c = ctx(
            Method::GET,
            "/publish/pub-c-capture/sub-c-capture/0/cap-py/0/%7B%22text%22%3A%20%22hello%20from%20python%20%230%22%2C%20%22seq%22%3A%200%2C%20%22run%22%3A%20%22c41f65e5%22%2C%20%22from%22%3A%20%22python%22%7D?seqn=1&pnsdk=PubNub-Python-Asyncio%2F7.2.0&uuid=py-capture&timestamp=1795667191&signature=v2.5v9cdjIttSdfMyClYYCjJC6qtpvBmfWEpFwEHDBhF1E",
            "",
        );
        check(&c).unwrap();
    }

    #[test]
    fn freenub_post_publish_v1_padded() {
        let c = ctx(
            Method::POST,
            "/publish/pub-c-capture/sub-c-capture/0/cap-py/0?seqn=1&pnsdk=PubNub-Python-Asyncio%2F7.2.0&uuid=py-capture&timestamp=1795667192&signature=9bxXHYXxwhIknsCqw_mmiGQEhGwlrL0ORJgDHcgl7JQ=",
            r#"{"text": "hello from python #0", "seq": 0, "run": "4d192d76", "from": "python"}"#,
        );
        check(&c).unwrap();
    }

    #[test]
    fn js_post_publish_signed_as_get() {
        let c = ctx(
            Method::POST,
            "/publish/pub-c-capture/sub-c-capture/0/cap-js/0?uuid=js-capture&pnsdk=PubNub-JS-Nodejs%2F7.3.3&timestamp=1795667217&signature=v2.MP-aXiWAiTux2reZm8mbsmVnM3TTAF3ZCXJFyA0brbA",
            r#"{"text":"hello from js #0","seq":0,"run":"589cbb41","from":"js"}"#,
        );
        check(&c).unwrap();
    }

    #[test]
    fn freenub_double_encoded_filter_expr() {
        let c = ctx(
            Method::GET,
            "/v2/subscribe/sub-c-capture/cap-py-sub3/0?filter-expr=uuid%20%21%3D%20%27x%27&tt=0&pnsdk=PubNub-Python-Asyncio%2F7.2.0&uuid=py-capture&timestamp=1795667200&signature=v2.ZG6H77Zbs56x2MCSKW3nLLHl2w9Oh0MDoj3URZ6GxCE",
            "",
        );
        check(&c).unwrap();
    }

    #[test]
    fn grant_token_posts_sign_their_body() {
        let py = ctx(
            Method::POST,
            "/v3/pam/sub-c-capture/grant?pnsdk=PubNub-Python-Asyncio%2F7.2.0&signature=v2.VXR691VwV8pH5qx_AGJOWNtJyT1-BOqbtRv8_pJkzXU&timestamp=1795667209&uuid=py-capture",
            r#"{"ttl": 15, "permissions": {"resources": {"channels": {"cap-py": 3}, "groups": {"cg-cap": 1}, "uuids": {"py-capture": 96}, "users": {"py-capture": 96}, "spaces": {"cap-py": 3}}, "patterns": {"channels": {"^interop-.*$": 1}, "groups": {}, "uuids": {}, "users": {}, "spaces": {"^interop-.*$": 1}}, "meta": {"run": "cap"}, "uuid": "py-capture"}}"#,
        );
        check(&py).unwrap();
        let js = ctx(
            Method::POST,
            "/v3/pam/sub-c-capture/grant?uuid=js-capture&pnsdk=PubNub-JS-Nodejs%2F7.3.3&timestamp=1795667232&signature=v2.2wziC9yqOEqiqU_49mphGHE9I0ZgXaz95clDQ660YPM",
            r#"{"ttl":15,"permissions":{"resources":{"channels":{"cap-js":3},"groups":{"cg-cap":1},"uuids":{"js-capture":96},"users":{},"spaces":{}},"patterns":{"channels":{"^interop-.*$":1},"groups":{},"uuids":{},"users":{},"spaces":{}},"meta":{"run":"cap"},"uuid":"js-capture"}}"#,
        );
        check(&js).unwrap();
        // The body is signed: one changed byte and the signature fails.
        let mut tampered = js.clone();
        let body = std::str::from_utf8(&js.body)
            .unwrap()
            .replace(r#""ttl":15"#, r#""ttl":16"#);
        tampered.body = Bytes::from(body);
        assert_eq!(
            check(&tampered).unwrap_err().status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn other_methods_paths_and_keys_do_not_verify() {
        let target = "/time/0?uuid=js-capture&pnsdk=PubNub-JS-Nodejs%2F7.3.3&timestamp=1795667218&signature=v2.TSInKt6lcYwdNbOHFgjWmDT9wuFPjJ6qD0kv11zgm60";
        check(&ctx(Method::GET, target, "")).unwrap();
        let err = check(&ctx(Method::DELETE, target, "")).unwrap_err();
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        let moved = target.replace("/time/0", "/time/1");
        assert!(check(&ctx(Method::GET, &moved, "")).is_err());
        let extra = format!("{target}&channel=x");
        assert!(check(&ctx(Method::GET, &extra, "")).is_err());
        // v1 and v2-as-GET are for /publish only.
        let c = ctx(Method::GET, target, "");
        let mut keys = capture_keys();
        keys.secret = "another".into();
        assert!(verify(&c, &keys, "v2.x", 1795667218, Duration::from_secs(60)).is_err());
    }

    #[test]
    fn timestamps_outside_the_window_are_400() {
        let c = ctx(
            Method::GET,
            "/time/0?uuid=js-capture&pnsdk=PubNub-JS-Nodejs%2F7.3.3&timestamp=1795667218&signature=v2.TSInKt6lcYwdNbOHFgjWmDT9wuFPjJ6qD0kv11zgm60",
            "",
        );
        let sig = c.query.get("signature").unwrap().to_owned();
        let keys = capture_keys();
        let w = Duration::from_secs(60);
        assert!(verify(&c, &keys, &sig, 1795667218 + 60, w).is_ok());
        assert!(verify(&c, &keys, &sig, 1795667218 - 60, w).is_ok());
        let late = verify(&c, &keys, &sig, 1795667218 + 61, w).unwrap_err();
        assert_eq!(late.status(), StatusCode::BAD_REQUEST);
        assert!(verify(&c, &keys, &sig, 1795667218 - 61, w).is_err());
    }

    #[test]
    fn the_replay_guard_refuses_repeats_and_forgets_old_entries() {
        let w = Duration::from_secs(60);
        let mut guard = ReplayGuard::new(2);
        let a = Verified {
            key: [1; 32],
            timestamp: 1000,
        };
        let b = Verified {
            key: [2; 32],
            timestamp: 1001,
        };
        guard.check_and_remember(&a, 1000, w, "t").unwrap();
        assert!(guard.check_and_remember(&a, 1000, w, "t").is_err());
        guard.check_and_remember(&b, 1001, w, "t").unwrap();
        assert!(
            guard.check_and_remember(&a, 1060, w, "t").is_err(),
            "still in the window"
        );
        // Out of the window: forgotten (the timestamp check refuses it then).
        guard.check_and_remember(&a, 1061, w, "t").unwrap();
        // Capacity: the oldest goes first.
        let c = Verified {
            key: [3; 32],
            timestamp: 1061,
        };
        guard.check_and_remember(&c, 1061, w, "t").unwrap();
        assert_eq!(guard.order.len(), 2);
        assert!(!guard.seen.contains(&[2; 32]));
        // Capacity 0: off.
        let mut off = ReplayGuard::new(0);
        off.check_and_remember(&a, 1000, w, "t").unwrap();
        off.check_and_remember(&a, 1000, w, "t").unwrap();
    }
}
