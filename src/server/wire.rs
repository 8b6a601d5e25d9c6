//! Decoding of request paths and queries, following the server rules of
//! PROTOCOL.md §1.3 so that every SDK's encoding is accepted:
//!
//! 1. the raw path is split on `/` first, then each segment is
//!    percent-decoded (a channel may contain an encoded `/`);
//! 2. channel lists are decoded first and then split on `,` (npm pubnub 7.3.3
//!    encodes the separators as `%2C`); a list that decodes to `,` is empty;
//! 3. in query values `+` is a space and `%2B` a plus (form semantics);
//!    comma lists may use literal or encoded commas;
//! 4. a `+` inside a path segment stays a plus.
//!
//! Decoding is strict: a `%` not followed by two hex digits, or bytes that
//! are not UTF-8, are a bad request rather than guessed at.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use axum::http::{HeaderMap, Method};
use bytes::Bytes;

use super::access::CallerVerdict;

/// Why a path or query could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub(crate) what: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Strict percent-decoding; `plus_is_space` selects query (form) semantics.
/// Text with nothing to decode is borrowed, not copied.
pub(crate) fn percent_decode(
    input: &str,
    plus_is_space: bool,
) -> Result<Cow<'_, str>, DecodeError> {
    if !input
        .bytes()
        .any(|b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Ok(Cow::Borrowed(input));
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(bytes.len());
                        let bad = String::from_utf8_lossy(bytes.get(i..end).unwrap_or_default());
                        return Err(DecodeError {
                            what: format!(
                                "invalid percent-encoding `{bad}`: a `%` must be followed by two hex digits"
                            ),
                        });
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError {
            what: "percent-decoded text is not valid UTF-8".to_owned(),
        })
}

/// Splits the raw path (without query) into percent-decoded segments; the
/// leading `/` is dropped, empty segments are kept.
pub(crate) fn decode_path(raw_path: &str) -> Result<Vec<Cow<'_, str>>, DecodeError> {
    let trimmed = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let mut segments = Vec::with_capacity(trimmed.bytes().filter(|b| *b == b'/').count() + 1);
    for segment in trimmed.split('/') {
        segments.push(percent_decode(segment, false)?);
    }
    Ok(segments)
}

/// Parses a raw query string into decoded `(key, value)` pairs, in order.
pub(crate) fn decode_query(raw_query: &str) -> Result<Vec<(String, String)>, DecodeError> {
    let mut pairs = Vec::with_capacity(raw_query.bytes().filter(|b| *b == b'&').count() + 1);
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((
            percent_decode(key, true)?.into_owned(),
            percent_decode(value, true)?.into_owned(),
        ));
    }
    Ok(pairs)
}

/// Splits an already decoded comma list, dropping empty names (so `,` and
/// `""` are both the empty list) and duplicates, keeping the first order.
pub(crate) fn split_list(decoded: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in decoded.split(',') {
        if !name.is_empty() && !out.iter().any(|seen| seen == name) {
            out.push(name.to_owned());
        }
    }
    out
}

/// Characters JavaScript's `encodeURIComponent` leaves alone.
fn js_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// Length of `text` after JavaScript `encodeURIComponent` (the measure the
/// publish size limit uses, PROTOCOL.md §1.8).
pub(crate) fn uri_component_len(text: &str) -> usize {
    text.bytes()
        .map(|b| if js_unreserved(b) { 1 } else { 3 })
        .sum()
}

/// Decoded query parameters with the lookups handlers need. Every key and
/// value is decoded into one string (one allocation per request, however
/// many parameters it has).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    /// The decoded keys and values, one after the other.
    text: String,
    /// Per pair, in order: where its key ends and where its value ends in
    /// `text` (a key starts where the previous value ended).
    ends: Vec<(usize, usize)>,
}

impl Query {
    #[cfg(test)]
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        let mut query = Self::default();
        for (key, value) in &pairs {
            query.push(key, value);
        }
        query
    }

    /// Decodes a raw query string (rules as [`decode_query`]).
    pub(crate) fn decode(raw_query: &str) -> Result<Self, DecodeError> {
        let mut query = Self {
            text: String::with_capacity(raw_query.len()),
            ends: Vec::with_capacity(raw_query.bytes().filter(|b| *b == b'&').count() + 1),
        };
        for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            query.push(&percent_decode(key, true)?, &percent_decode(value, true)?);
        }
        Ok(query)
    }

    fn push(&mut self, key: &str, value: &str) {
        self.text.push_str(key);
        let key_end = self.text.len();
        self.text.push_str(value);
        self.ends.push((key_end, self.text.len()));
    }

    /// The pairs in order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut start = 0;
        self.ends.iter().map(move |&(key_end, value_end)| {
            let key = self.text.get(start..key_end).unwrap_or_default();
            let value = self.text.get(key_end..value_end).unwrap_or_default();
            start = value_end;
            (key, value)
        })
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        // Handlers look up several keys per request: compare bytes in place.
        let text = self.text.as_bytes();
        let mut start = 0;
        for &(key_end, value_end) in &self.ends {
            if text.get(start..key_end) == Some(key.as_bytes()) {
                return self.text.get(key_end..value_end);
            }
            start = value_end;
        }
        None
    }

    /// The first value of `key`, ignoring empty values.
    pub(crate) fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// A boolean flag: `1` / `true` are true, `0` / `false` false (any
    /// case); absent or anything else is `default`.
    pub(crate) fn flag(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(v) if v == "1" || v.eq_ignore_ascii_case("true") => true,
            Some(v) if v == "0" || v.eq_ignore_ascii_case("false") => false,
            Some(_) => default,
        }
    }

    /// A count parameter such as `limit`: `default` when absent or empty,
    /// the number when it is in `range`, `Err` with the text otherwise.
    pub(crate) fn count_in(
        &self,
        key: &str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
    ) -> Result<usize, String> {
        match self.non_empty(key) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| text.to_owned()),
        }
    }

    /// A comma list (`channel-group`, `add`, `remove`, …).
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        self.get(key).map(split_list).unwrap_or_default()
    }
}

/// A decoded request, as handlers see it.
#[derive(Debug, Clone)]
pub(crate) struct RequestCtx {
    pub(crate) method: Method,
    /// The path exactly as received (still percent-encoded).
    pub(crate) raw_path: String,
    pub(crate) query: Query,
    /// The request headers (App Context reads `If-Match`, Files `Host` and
    /// `Content-Type`); empty for subscribe, whose long-poll must not hold
    /// on to them (they point into the connection's read buffer).
    pub(crate) headers: HeaderMap,
    /// The body, decompressed.
    pub(crate) body: Bytes,
    /// Who sent it, as Access Manager decided on first use (signature,
    /// token or auth key), so that the signature is checked — and
    /// remembered against replays — once per request.
    pub(crate) caller: OnceLock<CallerVerdict>,
}

impl RequestCtx {
    /// The client's `uuid` (user id), if it sent a non-empty one.
    pub(crate) fn uuid(&self) -> Option<&str> {
        self.query.non_empty("uuid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_is_split_before_decoding() {
        let segs = decode_path("/publish/p/s/0/a%2Fb/0/%22x%2Fy%22").unwrap();
        assert_eq!(segs, ["publish", "p", "s", "0", "a/b", "0", "\"x/y\""]);
    }

    #[test]
    fn plus_is_literal_in_paths_and_space_in_queries() {
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
        assert_eq!(percent_decode("a+b%2Bc", true).unwrap(), "a b+c");
    }

    #[test]
    fn bad_escapes_and_bad_utf8_are_errors() {
        assert!(percent_decode("%ZZ", false).is_err());
        assert!(percent_decode("abc%2", false).is_err());
        assert!(percent_decode("%", true).is_err());
        assert!(percent_decode("%C3%28", false).is_err());
        assert_eq!(percent_decode("%C3%A9", false).unwrap(), "é");
    }

    #[test]
    fn lists_accept_literal_and_encoded_commas() {
        let decoded = percent_decode("a%2Cb,c", false).unwrap();
        assert_eq!(split_list(&decoded), ["a", "b", "c"]);
        assert!(split_list(",").is_empty());
        assert_eq!(split_list("a,a,b"), ["a", "b"]);
    }

    #[test]
    fn query_pairs_decode_in_order() {
        let q = Query::new(decode_query("state=%7B%22a%22%3A+5%7D&x&tt=0&tt=9").unwrap());
        assert_eq!(q.get("state"), Some("{\"a\": 5}"));
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(q.get("tt"), Some("0"));
        assert!(q.flag("missing", true));
        assert!(!q.flag("tt", true));
    }

    #[test]
    fn query_decodes_as_decode_query() {
        for raw in [
            "",
            "a=1",
            "a=1&&b",
            "k=%7B%22a%22%3A+5%7D&x&tt=0&tt=9&=v&e=",
            "+%2B=%20",
        ] {
            let pairs = decode_query(raw).unwrap();
            let query = Query::decode(raw).unwrap();
            let decoded: Vec<(&str, &str)> = query.pairs().collect();
            let expected: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(decoded, expected, "{raw}");
            assert_eq!(
                Query::new(pairs.clone()).pairs().collect::<Vec<_>>(),
                expected
            );
        }
        assert!(Query::decode("a=%zz").is_err());
        let q = Query::decode("tt=&tt=2&uuid=u").unwrap();
        assert_eq!(q.get("tt"), Some(""));
        assert_eq!(q.non_empty("tt"), None);
        assert_eq!(q.get("uuid"), Some("u"));
        assert_eq!(q.get("missing"), None);
    }

    #[test]
    fn uri_component_length_matches_js() {
        assert_eq!(uri_component_len("abc"), 3);
        assert_eq!(uri_component_len("\"hi\""), 8);
        assert_eq!(uri_component_len("é"), 6);
        assert_eq!(uri_component_len("(*)"), 3);
    }
}
