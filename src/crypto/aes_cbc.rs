//! The AES-CBC cryptor (id `ACRH`) of the PubNub crypto module.

use std::fmt;

use sha2::{Digest, Sha256};

use super::aes256cbc::{random_iv, Aes256CbcKey, BLOCK_LEN};
use super::cryptor::{Cryptor, EncryptedData};
use super::error::CryptoError;

/// The id the AES-CBC cryptor writes in the crypto header.
pub const AES_CBC_CRYPTOR_ID: [u8; 4] = *b"ACRH";

/// The cryptor of the current PubNub crypto module (id `ACRH`).
///
/// * Key: the raw 32-byte `SHA-256(cipher_key)`.
/// * AES-256-CBC with PKCS#7 padding and a random 16-byte IV, carried as the cryptor data of
///   the `PNED` crypto header (so [`EncryptedData::metadata`] is the IV and
///   [`EncryptedData::data`] the ciphertext).
#[derive(Clone)]
pub struct AesCbcCryptor {
    key: Aes256CbcKey,
}

impl AesCbcCryptor {
    /// An AES-CBC cryptor for `cipher_key`.
    ///
    /// # Errors
    /// [`CryptoError::EmptyCipherKey`] when `cipher_key` is empty.
    pub fn new(cipher_key: &str) -> Result<Self, CryptoError> {
        if cipher_key.is_empty() {
            return Err(CryptoError::EmptyCipherKey);
        }
        Ok(Self {
            key: Aes256CbcKey::new(&Self::derive_key(cipher_key)),
        })
    }

    /// The AES key the AES-CBC cryptor derives from `cipher_key`: the SHA-256 of its UTF-8 bytes.
    pub fn derive_key(cipher_key: &str) -> [u8; 32] {
        Sha256::digest(cipher_key.as_bytes()).into()
    }

    /// Test hook: encrypts with a caller-chosen IV instead of a random one, to reproduce
    /// known ciphertexts.
    ///
    /// # Errors
    /// None in practice; the signature matches [`Cryptor::encrypt`].
    #[doc(hidden)]
    pub fn encrypt_with_iv(
        &self,
        plaintext: &[u8],
        iv: [u8; BLOCK_LEN],
    ) -> Result<EncryptedData<'static>, CryptoError> {
        let mut out = Vec::with_capacity(Aes256CbcKey::ciphertext_len(plaintext.len()));
        self.key.encrypt_into(&iv, plaintext, &mut out)?;
        Ok(EncryptedData::new(iv.to_vec(), out))
    }
}

impl Cryptor for AesCbcCryptor {
    fn identifier(&self) -> [u8; 4] {
        AES_CBC_CRYPTOR_ID
    }

    fn encrypt(&self, plaintext: &[u8]) -> Result<EncryptedData<'static>, CryptoError> {
        self.encrypt_with_iv(plaintext, random_iv())
    }

    fn decrypt(&self, data: &EncryptedData<'_>) -> Result<Vec<u8>, CryptoError> {
        let iv = <&[u8; BLOCK_LEN]>::try_from(data.metadata()).map_err(|_| {
            CryptoError::InvalidCryptorData {
                id: AES_CBC_CRYPTOR_ID,
                expected: BLOCK_LEN,
                actual: data.metadata().len(),
            }
        })?;
        self.key.decrypt(iv, data.data())
    }
}

impl fmt::Debug for AesCbcCryptor {
    /// Never shows the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesCbcCryptor").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_key_is_rejected() {
        assert_eq!(
            AesCbcCryptor::new("").map(|_| ()),
            Err(CryptoError::EmptyCipherKey)
        );
    }

    #[test]
    fn iv_travels_as_metadata() {
        let cryptor = AesCbcCryptor::new("k").unwrap();
        let encrypted = cryptor.encrypt(b"hello").unwrap();
        assert_eq!(encrypted.metadata().len(), 16);
        assert_eq!(encrypted.data().len(), 16);
        assert_eq!(cryptor.decrypt(&encrypted).unwrap(), b"hello");
    }

    #[test]
    fn wrong_iv_length_is_reported() {
        let cryptor = AesCbcCryptor::new("k").unwrap();
        assert_eq!(
            cryptor.decrypt(&EncryptedData::borrowed(&[0; 15], &[0; 16])),
            Err(CryptoError::InvalidCryptorData {
                id: AES_CBC_CRYPTOR_ID,
                expected: 16,
                actual: 15
            })
        );
    }
}
