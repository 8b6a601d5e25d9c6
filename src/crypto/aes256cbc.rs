//! AES-256-CBC with PKCS#7 padding over a key schedule prepared once.

use aes::{Aes256Dec, Aes256Enc};
use cbc::cipher::{block_padding::Pkcs7, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};

use super::error::CryptoError;

/// The AES block size, which is also the IV size.
pub(crate) const BLOCK_LEN: usize = 16;

/// An AES-256 key with both key schedules expanded, ready for any number of CBC calls.
#[derive(Clone)]
pub(crate) struct Aes256CbcKey {
    enc: Aes256Enc,
    dec: Aes256Dec,
}

impl Aes256CbcKey {
    /// Expands the encryption and decryption key schedules of `key`.
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self {
            enc: Aes256Enc::new(key.into()),
            dec: Aes256Dec::new(key.into()),
        }
    }

    /// The length of the padded ciphertext of a `plaintext_len`-byte plaintext
    /// (PKCS#7 always adds 1 to 16 bytes).
    pub(crate) fn ciphertext_len(plaintext_len: usize) -> usize {
        (plaintext_len / BLOCK_LEN + 1) * BLOCK_LEN
    }

    /// Appends the ciphertext of `plaintext` to `out`, which may already hold a prefix
    /// (an IV or a header).
    pub(crate) fn encrypt_into(
        &self,
        iv: &[u8; BLOCK_LEN],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let start = out.len();
        out.resize(start + Self::ciphertext_len(plaintext.len()), 0);
        let written = out.get_mut(start..).and_then(|buf| {
            cbc::Encryptor::<&Aes256Enc>::inner_iv_init(&self.enc, iv.into())
                .encrypt_padded_b2b::<Pkcs7>(plaintext, buf)
                .ok()
                .map(<[u8]>::len)
        });
        match written {
            Some(len) => {
                out.truncate(start + len);
                Ok(())
            }
            // Unreachable: the buffer is sized for the padded plaintext above.
            None => Err(CryptoError::Encryption {
                reason: "the AES-CBC output buffer was too small (a bug in pubnub-rx)".into(),
            }),
        }
    }

    /// Decrypts `ciphertext` and removes the PKCS#7 padding.
    pub(crate) fn decrypt(
        &self,
        iv: &[u8; BLOCK_LEN],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if ciphertext.is_empty() {
            return Err(CryptoError::CiphertextTooShort {
                actual: 0,
                min: BLOCK_LEN,
            });
        }
        if ciphertext.len() % BLOCK_LEN != 0 {
            return Err(CryptoError::NotBlockAligned {
                len: ciphertext.len(),
            });
        }
        let mut out = vec![0u8; ciphertext.len()];
        let len = cbc::Decryptor::<&Aes256Dec>::inner_iv_init(&self.dec, iv.into())
            .decrypt_padded_b2b::<Pkcs7>(ciphertext, &mut out)
            .map_err(|_| CryptoError::BadPadding)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

/// 16 bytes from the thread-local CSPRNG (ChaCha, seeded from the OS).
pub(crate) fn random_iv() -> [u8; BLOCK_LEN] {
    let mut iv = [0u8; BLOCK_LEN];
    rand::fill(&mut iv[..]);
    iv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_always_adds_a_block_fraction() {
        assert_eq!(Aes256CbcKey::ciphertext_len(0), 16);
        assert_eq!(Aes256CbcKey::ciphertext_len(15), 16);
        assert_eq!(Aes256CbcKey::ciphertext_len(16), 32);
        assert_eq!(Aes256CbcKey::ciphertext_len(17), 32);
    }

    #[test]
    fn encrypt_keeps_the_prefix_and_round_trips() {
        let key = Aes256CbcKey::new(&[7; 32]);
        let iv = [3; 16];
        let mut out = b"prefix".to_vec();
        key.encrypt_into(&iv, b"hello", &mut out).unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(out.len(), 6 + 16);
        assert_eq!(key.decrypt(&iv, &out[6..]).unwrap(), b"hello");
    }

    #[test]
    fn bad_lengths_are_reported() {
        let key = Aes256CbcKey::new(&[7; 32]);
        assert_eq!(
            key.decrypt(&[0; 16], &[]),
            Err(CryptoError::CiphertextTooShort { actual: 0, min: 16 })
        );
        assert_eq!(
            key.decrypt(&[0; 16], &[1; 17]),
            Err(CryptoError::NotBlockAligned { len: 17 })
        );
    }

    #[test]
    fn random_ivs_differ() {
        assert_ne!(random_iv(), random_iv());
    }
}
