//! The error type of message encryption and decryption.

use std::fmt;

/// What went wrong while encrypting or decrypting a message.
///
/// Every message says what happened and the most likely cause, so it can be
/// shown to a developer as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The cipher key is the empty string.
    #[error(
        "the cipher key is empty: configure the same non-empty cipher key on every publisher \
         and subscriber of the encrypted channels"
    )]
    EmptyCipherKey,

    /// The encrypted message is not valid base64.
    #[error(
        "decryption failed: the message is not valid base64 ({reason}) — it was not encrypted \
         by a PubNub crypto module (a publisher without a cipher key?), or it was altered in transit"
    )]
    InvalidBase64 {
        /// What the base64 decoder reported.
        reason: String,
    },

    /// The encrypted data is shorter than the smallest valid ciphertext.
    #[error(
        "decryption failed: the encrypted data is {actual} bytes but at least {min} are needed \
         — it is truncated, or it was not encrypted (a publisher without a cipher key?)"
    )]
    CiphertextTooShort {
        /// The length that was found, in bytes.
        actual: usize,
        /// The smallest length this cryptor accepts, in bytes.
        min: usize,
    },

    /// The ciphertext length is not a multiple of the 16-byte AES block.
    #[error(
        "decryption failed: the ciphertext is {len} bytes, not a multiple of the 16-byte AES block \
         — it is truncated or was not produced by AES-CBC"
    )]
    NotBlockAligned {
        /// The ciphertext length, in bytes.
        len: usize,
    },

    /// The PKCS#7 padding of the decrypted data is invalid.
    #[error(
        "decryption failed: bad padding — the cipher key (or the random-IV setting) differs from \
         the publisher's, or the data is corrupt"
    )]
    BadPadding,

    /// The crypto header names a cryptor this module has not been configured with.
    #[error(
        "decryption failed: unknown cryptor id {} — the message was encrypted with a cryptor this \
         crypto module was not configured with; add a cryptor with that id to the crypto module",
        describe_id(.id)
    )]
    UnknownCryptor {
        /// The 4-byte cryptor id found in the header (`0000` for headerless legacy data).
        id: [u8; 4],
    },

    /// The crypto header has a version this client does not understand.
    #[error(
        "decryption failed: crypto header version {version} is not supported (this client reads \
         version 1) — the publisher uses a newer PubNub SDK; upgrade pubnub-rx"
    )]
    UnsupportedHeaderVersion {
        /// The version byte found in the header.
        version: u8,
    },

    /// The data starts with the `PNED` sentinel but the header is cut short or inconsistent.
    #[error(
        "decryption failed: malformed crypto header — {reason}; the data is truncated or corrupt"
    )]
    MalformedHeader {
        /// What is wrong with the header.
        reason: String,
    },

    /// The cryptor data does not fit in a crypto header.
    #[error(
        "encryption failed: the cryptor data is {len} bytes, more than the 65535 a crypto header \
         can carry — the cryptor returns too much metadata"
    )]
    CryptorDataTooLong {
        /// The cryptor data length, in bytes.
        len: usize,
    },

    /// The cryptor data (for example the IV carried in the header) is not what the cryptor expects.
    #[error(
        "decryption failed: the cryptor data for {} is {actual} bytes but {expected} are expected \
         — the crypto header is corrupt",
        describe_id(.id)
    )]
    InvalidCryptorData {
        /// The cryptor id the data belongs to.
        id: [u8; 4],
        /// The length the cryptor expects, in bytes.
        expected: usize,
        /// The length that was found, in bytes.
        actual: usize,
    },

    /// Encryption failed for another reason (also used by custom cryptors).
    #[error("encryption failed: {reason}")]
    Encryption {
        /// What went wrong.
        reason: String,
    },

    /// Decryption failed for another reason (used by custom cryptors).
    #[error("decryption failed: {reason}")]
    Decryption {
        /// What went wrong.
        reason: String,
    },
}

/// Shows a cryptor id as `"ACRH"` when it is printable ASCII, else as hex (`0x00ff1234`).
pub(crate) fn describe_id(id: &[u8; 4]) -> String {
    if id.iter().all(|b| b.is_ascii_graphic()) {
        format!(
            "\"{}\"",
            id.iter().map(|&b| char::from(b)).collect::<String>()
        )
    } else {
        let mut out = String::from("0x");
        for b in id {
            // Writing to a String cannot fail.
            let _ = fmt::Write::write_fmt(&mut out, format_args!("{b:02x}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_cryptor_names_the_id() {
        let msg = CryptoError::UnknownCryptor { id: *b"XYZW" }.to_string();
        assert!(msg.contains("\"XYZW\""), "{msg}");
        let msg = CryptoError::UnknownCryptor {
            id: [0, 0xff, 0x12, 0x34],
        }
        .to_string();
        assert!(msg.contains("0x00ff1234"), "{msg}");
    }

    #[test]
    fn bad_padding_names_the_likely_cause() {
        let msg = CryptoError::BadPadding.to_string();
        assert!(msg.contains("cipher key"), "{msg}");
        assert!(msg.contains("random-IV"), "{msg}");
    }
}
