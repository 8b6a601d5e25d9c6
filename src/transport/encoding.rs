//! Percent-encoding exactly as PubNub expects it (PROTOCOL.md §1.3, §8.3).
//!
//! One strict set is used for everything this client puts on the wire — path
//! segments, channel names, JSON payloads and query values: every UTF-8 byte
//! except `A-Z a-z 0-9 - _ .` is escaped with uppercase hex, and a space is
//! `%20`, never `+`. That is the set of JavaScript's `encodeURIComponent` plus
//! `! ~ * ' ( )`, which the official JS SDK uses, and it is also the set PubNub
//! canonicalises with when it checks a request signature. Sending every query
//! value in that form means the wire form and the signed form are the same
//! bytes, so a signature can never be computed over something other than what
//! was sent.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::borrow::Cow;

/// Everything but `A-Z a-z 0-9 - _ .` is escaped.
pub(crate) const PUBNUB_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Percent-encodes one value (path segment, channel name or query value).
///
/// ```
/// use pubnub_rx::transport::encoding::encode;
/// assert_eq!(encode("my-ch- |.* $"), "my-ch-%20%7C.%2A%20%24");
/// assert_eq!(encode("a,b~c"), "a%2Cb%7Ec");
/// ```
pub fn encode(value: &str) -> Cow<'_, str> {
    utf8_percent_encode(value, PUBNUB_SET).into()
}

/// Appends the encoded form of `value` to `out` without an intermediate allocation.
pub fn encode_into(out: &mut String, value: &str) {
    for part in utf8_percent_encode(value, PUBNUB_SET) {
        out.push_str(part);
    }
}

/// Joins names for a path segment: each one encoded, separated by a literal
/// `,`. An empty list is the single character `,`, which PubNub reads as "no
/// channels" (used when only channel groups are given).
///
/// ```
/// use pubnub_rx::transport::encoding::encode_list;
/// assert_eq!(encode_list(["a b", "c/d"]), "a%20b,c%2Fd");
/// assert_eq!(encode_list(Vec::<&str>::new()), ",");
/// ```
pub fn encode_list<I, S>(names: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        encode_into(&mut out, name.as_ref());
    }
    if out.is_empty() {
        out.push(',');
    }
    out
}

/// Percent-decodes one value; invalid UTF-8 after decoding is an error.
///
/// `plus_as_space` gives form semantics (`+` → space), which is how PubNub
/// reads query values (§1.3 rule 3); path segments keep `+` literal.
pub fn decode(value: &str, plus_as_space: bool) -> Result<Cow<'_, str>, std::str::Utf8Error> {
    if plus_as_space && value.contains('+') {
        let replaced = value.replace('+', " ");
        return percent_decode_str(&replaced)
            .decode_utf8()
            .map(|s| Cow::Owned(s.into_owned()));
    }
    percent_decode_str(value).decode_utf8()
}

/// Renders query pairs as `k=v&k=v` with every key and value encoded.
/// Pairs are written in the order given.
pub fn encode_query<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_into(&mut out, key);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// The escaped size PubNub counts against the publish limit: the channel and
/// the message JSON as `encodeURIComponent` would escape them (PROTOCOL.md
/// §1.8). `encodeURIComponent` leaves `! ~ * ' ( )` literal, so those count
/// one byte each here.
pub(crate) fn uri_component_len(value: &str) -> usize {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                1
            } else {
                3
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_stay_literal_everything_else_escapes() {
        assert_eq!(encode("AZaz09-_."), "AZaz09-_.");
        assert_eq!(encode("~!*'()"), "%7E%21%2A%27%28%29");
        assert_eq!(
            encode("/,:;=?@&+$#[]"),
            "%2F%2C%3A%3B%3D%3F%40%26%2B%24%23%5B%5D"
        );
        assert_eq!(encode("é😀"), "%C3%A9%F0%9F%98%80");
        assert_eq!(encode(" \""), "%20%22");
    }

    #[test]
    fn cassette_channel_name_escaping() {
        // asyncio/history/delete_with_space_and_wildcard_in_channel_name.yaml
        assert_eq!(encode("my-ch- |.* $"), "my-ch-%20%7C.%2A%20%24");
    }

    #[test]
    fn decode_query_treats_plus_as_space() {
        assert_eq!(decode("a+b%2Bc", true).as_deref(), Ok("a b+c"));
        assert_eq!(decode("a+b", false).as_deref(), Ok("a+b"));
        assert!(decode("%FF", false).is_err());
    }

    #[test]
    fn uri_component_length_matches_encode_uri_component() {
        assert_eq!(uri_component_len("ch1\"hi\""), 3 + 3 + 2 + 3);
        assert_eq!(uri_component_len("!~*'()"), 6);
        assert_eq!(uri_component_len("é"), 6);
    }
}
