//! The legacy cryptor (id `0000`): AES-256-CBC with a hex-derived key, no crypto header.

use std::fmt;

use sha2::{Digest, Sha256};

use super::aes256cbc::{random_iv, Aes256CbcKey, BLOCK_LEN};
use super::cryptor::{Cryptor, EncryptedData, LEGACY_CRYPTOR_ID};
use super::error::CryptoError;

/// The IV of the static-IV mode, shared by every PubNub SDK.
pub const LEGACY_STATIC_IV: [u8; BLOCK_LEN] = *b"0123456789012345";

/// The cryptor every PubNub SDK has used since the beginning (id `0000`).
///
/// * Key: the ASCII text of the first 32 lowercase hex characters of `SHA-256(cipher_key)`,
///   used as the 32-byte AES-256 key.
/// * AES-256-CBC with PKCS#7 padding.
/// * Random-IV mode: 16 random bytes, sent in front of the ciphertext.
///   Static-IV mode: the IV is always `0123456789012345` and only the ciphertext is sent.
/// * Never writes a crypto header.
///
/// Publishers and subscribers must agree on the IV mode: it cannot be detected from the data.
#[derive(Clone)]
pub struct LegacyCryptor {
    key: Aes256CbcKey,
    use_random_iv: bool,
}

impl LegacyCryptor {
    /// A legacy cryptor for `cipher_key`; `use_random_iv` picks the random-IV mode (the default
    /// of the other PubNub SDKs) over the static-IV mode.
    ///
    /// # Errors
    /// [`CryptoError::EmptyCipherKey`] when `cipher_key` is empty.
    pub fn new(cipher_key: &str, use_random_iv: bool) -> Result<Self, CryptoError> {
        if cipher_key.is_empty() {
            return Err(CryptoError::EmptyCipherKey);
        }
        Ok(Self {
            key: Aes256CbcKey::new(&Self::derive_key(cipher_key)),
            use_random_iv,
        })
    }

    /// The AES key the legacy cryptor derives from `cipher_key`: the ASCII bytes of the first
    /// 32 characters of the lowercase hex SHA-256 of the key's UTF-8 bytes.
    pub fn derive_key(cipher_key: &str) -> [u8; 32] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(cipher_key.as_bytes());
        let mut key = [0u8; 32];
        // 32 hex characters are the first 16 digest bytes.
        for (pair, byte) in key.chunks_exact_mut(2).zip(digest.iter()) {
            pair.copy_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0x0f)]]);
        }
        key
    }

    /// Whether this cryptor uses a random IV (else the static IV `0123456789012345`).
    pub fn uses_random_iv(&self) -> bool {
        self.use_random_iv
    }

    /// Test hook: encrypts with a caller-chosen IV instead of a random one, to reproduce
    /// known ciphertexts. Only meaningful in random-IV mode.
    ///
    /// # Errors
    /// [`CryptoError::Encryption`] in static-IV mode, where the IV is fixed.
    #[doc(hidden)]
    pub fn encrypt_with_iv(
        &self,
        plaintext: &[u8],
        iv: [u8; BLOCK_LEN],
    ) -> Result<EncryptedData<'static>, CryptoError> {
        if !self.use_random_iv {
            return Err(CryptoError::Encryption {
                reason: "encrypt_with_iv needs a random-IV legacy cryptor; \
                         the static-IV mode always uses 0123456789012345"
                    .into(),
            });
        }
        self.encrypt_random(plaintext, &iv)
    }

    fn encrypt_random(
        &self,
        plaintext: &[u8],
        iv: &[u8; BLOCK_LEN],
    ) -> Result<EncryptedData<'static>, CryptoError> {
        let mut out = Vec::with_capacity(BLOCK_LEN + Aes256CbcKey::ciphertext_len(plaintext.len()));
        out.extend_from_slice(iv);
        self.key.encrypt_into(iv, plaintext, &mut out)?;
        Ok(EncryptedData::new(Vec::new(), out))
    }
}

impl Cryptor for LegacyCryptor {
    fn identifier(&self) -> [u8; 4] {
        LEGACY_CRYPTOR_ID
    }

    fn encrypt(&self, plaintext: &[u8]) -> Result<EncryptedData<'static>, CryptoError> {
        if self.use_random_iv {
            self.encrypt_random(plaintext, &random_iv())
        } else {
            let mut out = Vec::with_capacity(Aes256CbcKey::ciphertext_len(plaintext.len()));
            self.key
                .encrypt_into(&LEGACY_STATIC_IV, plaintext, &mut out)?;
            Ok(EncryptedData::new(Vec::new(), out))
        }
    }

    fn decrypt(&self, data: &EncryptedData<'_>) -> Result<Vec<u8>, CryptoError> {
        // A `PNED` header naming `0000` may carry no cryptor data: the IV is in the payload.
        if !data.metadata().is_empty() {
            return Err(CryptoError::InvalidCryptorData {
                id: LEGACY_CRYPTOR_ID,
                expected: 0,
                actual: data.metadata().len(),
            });
        }
        let bytes = data.data();
        if self.use_random_iv {
            match bytes.split_first_chunk::<BLOCK_LEN>() {
                Some((iv, ciphertext)) if !ciphertext.is_empty() => {
                    self.key.decrypt(iv, ciphertext)
                }
                _ => Err(CryptoError::CiphertextTooShort {
                    actual: bytes.len(),
                    min: 2 * BLOCK_LEN,
                }),
            }
        } else {
            self.key.decrypt(&LEGACY_STATIC_IV, bytes)
        }
    }
}

impl fmt::Debug for LegacyCryptor {
    /// Shows the mode, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyCryptor")
            .field("use_random_iv", &self.use_random_iv)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_ascii_hex_of_the_digest() {
        assert_eq!(
            &LegacyCryptor::derive_key("testKey"),
            b"15291f67d99ea7bc578c3544dadfbb99"
        );
    }

    #[test]
    fn empty_key_is_rejected() {
        assert_eq!(
            LegacyCryptor::new("", true).map(|_| ()),
            Err(CryptoError::EmptyCipherKey)
        );
    }

    #[test]
    fn random_iv_output_starts_with_the_iv() {
        let cryptor = LegacyCryptor::new("k", true).unwrap();
        let a = cryptor.encrypt(b"same").unwrap();
        let b = cryptor.encrypt(b"same").unwrap();
        assert_eq!(a.data().len(), 32);
        assert!(a.metadata().is_empty());
        assert_ne!(a.data(), b.data(), "two random IVs collided");
        assert_eq!(cryptor.decrypt(&a).unwrap(), b"same");
    }

    #[test]
    fn static_iv_is_deterministic() {
        let cryptor = LegacyCryptor::new("k", false).unwrap();
        let a = cryptor.encrypt(b"same").unwrap();
        assert_eq!(a, cryptor.encrypt(b"same").unwrap());
        assert_eq!(a.data().len(), 16);
        assert!(cryptor.encrypt_with_iv(b"same", [0; 16]).is_err());
    }

    #[test]
    fn random_iv_needs_iv_and_one_block() {
        let cryptor = LegacyCryptor::new("k", true).unwrap();
        assert_eq!(
            cryptor.decrypt(&EncryptedData::borrowed(&[], &[0; 16])),
            Err(CryptoError::CiphertextTooShort {
                actual: 16,
                min: 32
            })
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let text = format!("{:?}", LegacyCryptor::new("secret", true).unwrap());
        assert!(
            !text.contains("secret") && !text.contains("2bb80d"),
            "{text}"
        );
    }
}
