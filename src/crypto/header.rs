//! The `PNED` crypto header that tells a reader which cryptor encrypted the data.
//!
//! Layout (version 1):
//!
//! | bytes | content |
//! | --- | --- |
//! | 0–3 | sentinel `PNED` |
//! | 4 | version `0x01` |
//! | 5–8 | cryptor id (4 bytes, `ACRH` for AES-CBC) |
//! | 9 | cryptor-data length when below 255; else `0xFF` then a 2-byte big-endian length |
//! | … | cryptor data (for `ACRH` the 16-byte IV) |

use super::error::CryptoError;

/// The four bytes every crypto header starts with.
const SENTINEL: [u8; 4] = *b"PNED";

/// The header version this crate writes, and the only one it reads.
const VERSION: u8 = 1;

/// The largest cryptor data a header can carry (its length field is at most 2 bytes).
const MAX_CRYPTOR_DATA_LEN: usize = u16::MAX as usize;

/// Sentinel, version byte and cryptor id: the part before the length field.
const FIXED_LEN: usize = SENTINEL.len() + 1 + 4;

/// Lengths from this value on are written as `0xFF` + 2 bytes.
const LONG_LEN_MARKER: u8 = 0xFF;

/// A version-1 crypto header: which cryptor encrypted the data, and that cryptor's data
/// (for `ACRH`, the IV). Borrows the cryptor data, so decoding copies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoHeader<'a> {
    cryptor_id: [u8; 4],
    cryptor_data: &'a [u8],
}

impl CryptoHeader<'_> {
    /// The four bytes every crypto header starts with: `PNED`.
    pub const SENTINEL: [u8; 4] = SENTINEL;

    /// The header version this crate writes, and the only one it reads.
    pub const VERSION: u8 = VERSION;

    /// The largest cryptor data a header can carry: 65535 bytes.
    pub const MAX_CRYPTOR_DATA_LEN: usize = MAX_CRYPTOR_DATA_LEN;
}

impl<'a> CryptoHeader<'a> {
    /// A header for `cryptor_id` carrying `cryptor_data`.
    ///
    /// # Errors
    /// [`CryptoError::CryptorDataTooLong`] when `cryptor_data` is longer than 65535 bytes.
    pub fn new(cryptor_id: [u8; 4], cryptor_data: &'a [u8]) -> Result<Self, CryptoError> {
        if cryptor_data.len() > MAX_CRYPTOR_DATA_LEN {
            return Err(CryptoError::CryptorDataTooLong {
                len: cryptor_data.len(),
            });
        }
        Ok(Self {
            cryptor_id,
            cryptor_data,
        })
    }

    /// The id of the cryptor that encrypted the data.
    pub fn cryptor_id(&self) -> [u8; 4] {
        self.cryptor_id
    }

    /// The cryptor's data (for `ACRH`, the 16-byte IV).
    pub fn cryptor_data(&self) -> &'a [u8] {
        self.cryptor_data
    }

    /// The number of bytes [`encode_into`](Self::encode_into) writes.
    pub fn encoded_len(&self) -> usize {
        FIXED_LEN + length_field_len(self.cryptor_data.len()) + self.cryptor_data.len()
    }

    /// Appends the encoded header to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(&SENTINEL);
        out.push(VERSION);
        out.extend_from_slice(&self.cryptor_id);
        let len = self.cryptor_data.len();
        match u8::try_from(len) {
            Ok(short) if short < LONG_LEN_MARKER => out.push(short),
            _ => {
                // `new` guarantees len <= u16::MAX.
                let long = u16::try_from(len).unwrap_or(u16::MAX);
                out.push(LONG_LEN_MARKER);
                out.extend_from_slice(&long.to_be_bytes());
            }
        }
        out.extend_from_slice(self.cryptor_data);
    }

    /// The encoded header as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Reads a header from the start of `data`.
    ///
    /// Returns `Ok(None)` when `data` does not start with the `PNED` sentinel (headerless
    /// legacy data), else the header and the bytes that follow it (the ciphertext).
    ///
    /// # Errors
    /// [`CryptoError::UnsupportedHeaderVersion`] for a version other than 1, and
    /// [`CryptoError::MalformedHeader`] when the header is cut short.
    pub fn decode(data: &'a [u8]) -> Result<Option<(Self, &'a [u8])>, CryptoError> {
        let Some(rest) = data.strip_prefix(&SENTINEL) else {
            return Ok(None);
        };
        let (&version, rest) = rest
            .split_first()
            .ok_or_else(|| malformed("it ends right after the PNED sentinel".into()))?;
        if version != VERSION {
            return Err(CryptoError::UnsupportedHeaderVersion { version });
        }
        let (id, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| malformed("it ends inside the 4-byte cryptor id".into()))?;
        let (&len_byte, rest) = rest
            .split_first()
            .ok_or_else(|| malformed("it ends before the cryptor-data length".into()))?;
        let (len, rest) = if len_byte == LONG_LEN_MARKER {
            let (long, rest) = rest
                .split_first_chunk::<2>()
                .ok_or_else(|| malformed("it ends inside the 2-byte cryptor-data length".into()))?;
            (usize::from(u16::from_be_bytes(*long)), rest)
        } else {
            (usize::from(len_byte), rest)
        };
        if rest.len() < len {
            return Err(malformed(format!(
                "it declares {len} bytes of cryptor data but only {} follow",
                rest.len()
            )));
        }
        let (cryptor_data, payload) = rest.split_at(len);
        Ok(Some((
            Self {
                cryptor_id: *id,
                cryptor_data,
            },
            payload,
        )))
    }
}

fn length_field_len(len: usize) -> usize {
    if len < usize::from(LONG_LEN_MARKER) {
        1
    } else {
        3
    }
}

fn malformed(reason: String) -> CryptoError {
    CryptoError::MalformedHeader { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_length_is_one_byte() {
        let header = CryptoHeader::new(*b"ACRH", &[0x21; 254]).unwrap();
        let bytes = header.to_bytes();
        assert_eq!(bytes.len(), 264);
        assert_eq!(bytes.len(), header.encoded_len());
        assert_eq!(&bytes[..10], b"PNED\x01ACRH\xfe");
    }

    #[test]
    fn length_255_uses_the_long_form() {
        let header = CryptoHeader::new(*b"ACRH", &[0x21; 255]).unwrap();
        let bytes = header.to_bytes();
        assert_eq!(bytes.len(), 267);
        assert_eq!(&bytes[..12], b"PNED\x01ACRH\xff\x00\xff");
    }

    #[test]
    fn max_length_round_trips_and_one_more_is_rejected() {
        let data = vec![7u8; MAX_CRYPTOR_DATA_LEN];
        let bytes = CryptoHeader::new(*b"ABCD", &data).unwrap().to_bytes();
        assert_eq!(&bytes[9..12], &[0xff, 0xff, 0xff]);
        let (header, rest) = CryptoHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!(header.cryptor_data().len(), MAX_CRYPTOR_DATA_LEN);
        assert!(rest.is_empty());

        let too_long = vec![7u8; MAX_CRYPTOR_DATA_LEN + 1];
        assert_eq!(
            CryptoHeader::new(*b"ABCD", &too_long),
            Err(CryptoError::CryptorDataTooLong { len: 65536 })
        );
    }

    #[test]
    fn headerless_data_is_not_a_header() {
        assert_eq!(CryptoHeader::decode(b"PNE"), Ok(None));
        assert_eq!(CryptoHeader::decode(b""), Ok(None));
        assert_eq!(CryptoHeader::decode(b"QfD1NCBJCmt1aPPG"), Ok(None));
    }

    #[test]
    fn other_versions_are_rejected() {
        for version in [0u8, 2, 255] {
            let data = [b'P', b'N', b'E', b'D', version, b'A', b'C', b'R', b'H', 0];
            assert_eq!(
                CryptoHeader::decode(&data),
                Err(CryptoError::UnsupportedHeaderVersion { version })
            );
        }
    }

    #[test]
    fn every_truncation_is_malformed() {
        let bytes = CryptoHeader::new(*b"ACRH", &[1; 300]).unwrap().to_bytes();
        for cut in 4..bytes.len() {
            assert!(
                matches!(
                    CryptoHeader::decode(&bytes[..cut]),
                    Err(CryptoError::MalformedHeader { .. })
                ),
                "cut at {cut}"
            );
        }
        assert!(CryptoHeader::decode(&bytes).unwrap().is_some());
    }

    #[test]
    fn payload_follows_the_header() {
        let mut bytes = CryptoHeader::new(*b"ACRH", &[9; 16]).unwrap().to_bytes();
        bytes.extend_from_slice(b"ciphertext");
        let (header, rest) = CryptoHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!(header.cryptor_id(), *b"ACRH");
        assert_eq!(header.cryptor_data(), &[9; 16]);
        assert_eq!(rest, b"ciphertext");
    }
}
