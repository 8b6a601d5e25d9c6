//! Request signatures for keysets with Access Manager (PROTOCOL.md §8.3).
//!
//! A client that holds the keyset's secret key adds `timestamp` and then
//! `signature` to every request. The canonical query is every parameter but
//! `signature`, sorted by key (byte order), each value percent-encoded with the
//! strict PubNub set (see [`encoding`](super::encoding)), joined with `&`.
//!
//! * **v2** (everything): `METHOD\npublish_key\npath\ncanonical_query\nbody`,
//!   HMAC-SHA256 with the secret key, URL-safe base64 without padding,
//!   prefixed `v2.`.
//! * **v1** (legacy; Python, Go and the official Rust SDK use it for POST
//!   publish): `subscribe_key\npublish_key\npath\ncanonical_query`, URL-safe
//!   base64, no prefix. Provided for servers that verify it.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::encoding::encode_into;

type HmacSha256 = Hmac<Sha256>;

/// Builds the canonical query string from decoded `(key, value)` pairs.
///
/// ```
/// use pubnub_rx::transport::signature::canonical_query;
/// let q = canonical_query([("uuid", "me"), ("channel", "a,b"), ("auth", "a b")]);
/// assert_eq!(q, "auth=a%20b&channel=a%2Cb&uuid=me");
/// ```
pub fn canonical_query<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut sorted: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(key, _)| *key != "signature")
        .collect();
    sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(b.1)));
    let mut out = String::new();
    for (key, value) in sorted {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// The string a v2 signature is computed over.
pub fn v2_string_to_sign(
    method: &str,
    publish_key: &str,
    path: &str,
    canonical_query: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        method.len() + publish_key.len() + path.len() + canonical_query.len() + body.len() + 4,
    );
    for part in [
        method.as_bytes(),
        publish_key.as_bytes(),
        path.as_bytes(),
        canonical_query.as_bytes(),
    ] {
        out.extend_from_slice(part);
        out.push(b'\n');
    }
    out.extend_from_slice(body);
    out
}

/// `v2.` + URL-safe base64 (no padding) of HMAC-SHA256(secret, string_to_sign).
///
/// ```
/// use pubnub_rx::transport::signature::{sign_v2, v2_string_to_sign};
/// let s = v2_string_to_sign("GET", "pub", "/time/0", "timestamp=1", b"");
/// assert!(sign_v2("secret", &s).starts_with("v2."));
/// ```
pub fn sign_v2(secret_key: &str, string_to_sign: &[u8]) -> String {
    format!(
        "v2.{}",
        URL_SAFE_NO_PAD.encode(hmac_sha256(secret_key, string_to_sign))
    )
}

/// The string a legacy v1 signature is computed over.
pub fn v1_string_to_sign(
    subscribe_key: &str,
    publish_key: &str,
    path: &str,
    canonical_query: &str,
) -> String {
    format!("{subscribe_key}\n{publish_key}\n{path}\n{canonical_query}")
}

/// URL-safe base64 of HMAC-SHA256(secret, string_to_sign), with `=` padding
/// when `padded` (Python and Go keep it; the official Rust SDK strips it).
pub fn sign_v1(secret_key: &str, string_to_sign: &[u8], padded: bool) -> String {
    let mac = hmac_sha256(secret_key, string_to_sign);
    if padded {
        URL_SAFE.encode(mac)
    } else {
        URL_SAFE_NO_PAD.encode(mac)
    }
}

fn hmac_sha256(secret_key: &str, data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(secret_key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` only fails for MACs with a fixed key size;
    // HMAC-SHA256 takes any key length.
    unreachable!("HMAC-SHA256 accepts keys of every length")
}
