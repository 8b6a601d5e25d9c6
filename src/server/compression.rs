//! Request-body decompression by sniffing (PROTOCOL.md §1.6).
//!
//! The `Content-Encoding` label cannot be trusted (Python sends zlib labelled
//! `gzip`; React Native sends gzip labelled `deflate`; some browsers send
//! identity labelled `deflate`), so the bytes decide:
//! `1f 8b` → gzip; a valid zlib header (`0x78`, checksum `% 31 == 0`) → zlib;
//! text that looks like JSON → identity; otherwise raw deflate is tried and,
//! if that fails, the body is taken as it is. Output is capped so a small
//! compressed body cannot expand without bound.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// The decompressed body would exceed the limit.
    TooLarge,
    /// The body is labelled or sniffed as compressed but is corrupt or cut short.
    Corrupt(&'static str),
}

fn looks_like_json_text(body: &[u8]) -> bool {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    matches!(
        first,
        None | Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    ) && std::str::from_utf8(body).is_ok()
}

fn inflate(reader: impl Read, limit: usize, what: &'static str) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| BodyError::Corrupt(what))?;
    if out.len() > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}

/// Decodes a request body, returning it unchanged when it is not compressed.
pub(crate) fn decode_body(body: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, BodyError> {
    match body {
        [0x1f, 0x8b, ..] => inflate(
            MultiGzDecoder::new(body),
            limit,
            "the gzip body is corrupt or truncated",
        )
        .map(Cow::Owned),
        [b0 @ 0x78, b1, ..] if (u16::from(*b0) * 256 + u16::from(*b1)) % 31 == 0 => inflate(
            ZlibDecoder::new(body),
            limit,
            "the zlib body is corrupt or truncated",
        )
        .map(Cow::Owned),
        _ if looks_like_json_text(body) => Ok(Cow::Borrowed(body)),
        _ => match inflate(DeflateDecoder::new(body), limit, "raw deflate") {
            Ok(out) if std::str::from_utf8(&out).is_ok() && !out.is_empty() => Ok(Cow::Owned(out)),
            Err(BodyError::TooLarge) => Err(BodyError::TooLarge),
            _ => Ok(Cow::Borrowed(body)),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

    use super::*;

    const JSON: &[u8] = br#"{"text": "hello", "n": [1, 2, 3]}"#;

    #[test]
    fn identity_passes_through() {
        assert_eq!(decode_body(JSON, 1024).unwrap().as_ref(), JSON);
        assert_eq!(decode_body(b"", 1024).unwrap().as_ref(), b"");
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_are_sniffed() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(JSON).unwrap();
        let gz = gz.finish().unwrap();
        let mut zl = ZlibEncoder::new(Vec::new(), Compression::new(2));
        zl.write_all(JSON).unwrap();
        let zl = zl.finish().unwrap();
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(JSON).unwrap();
        let raw = raw.finish().unwrap();
        for body in [gz, zl, raw] {
            assert_eq!(decode_body(&body, 1024).unwrap().as_ref(), JSON);
        }
    }

    #[test]
    fn truncated_gzip_is_corrupt() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(JSON).unwrap();
        let gz = gz.finish().unwrap();
        let cut = &gz[..gz.len() / 2];
        assert!(matches!(decode_body(cut, 1024), Err(BodyError::Corrupt(_))));
    }

    #[test]
    fn decompression_is_capped() {
        let big = vec![b' '; 100_000];
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&big).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode_body(&gz, 1000), Err(BodyError::TooLarge));
    }
}
