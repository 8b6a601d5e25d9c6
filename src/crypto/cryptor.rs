//! The [`Cryptor`] trait that every encryption algorithm implements, and the data it
//! exchanges with the crypto module.

use std::borrow::Cow;
use std::fmt;

use super::error::CryptoError;

/// The cryptor id of the legacy cryptor. Data it encrypts never carries a crypto header,
/// and headerless data is routed to the cryptor with this id.
pub const LEGACY_CRYPTOR_ID: [u8; 4] = *b"0000";

/// One encryption algorithm, identified by a 4-byte id written in the crypto header.
///
/// The crate ships [`LegacyCryptor`](super::LegacyCryptor) (`0000`) and
/// [`AesCbcCryptor`](super::AesCbcCryptor) (`ACRH`). Implement this trait to plug in your own
/// algorithm, then register it with [`CryptoModule::new`](super::CryptoModule::new): data it
/// encrypts is written as `PNED` header (with your id and [`EncryptedData::metadata`]) followed
/// by [`EncryptedData::data`], and data whose header carries your id is handed back to
/// [`decrypt`](Cryptor::decrypt).
///
/// Implementations are shared between tasks and called concurrently, so they do the
/// expensive key preparation once, when they are built.
pub trait Cryptor: Send + Sync + fmt::Debug {
    /// The 4-byte id written in the crypto header, e.g. `*b"ACRH"`.
    ///
    /// Use anything but [`LEGACY_CRYPTOR_ID`] (`0000`), which means "no header".
    fn identifier(&self) -> [u8; 4];

    /// Encrypts `plaintext`.
    ///
    /// # Errors
    /// Whatever stops the algorithm; the built-in cryptors only fail when the system random
    /// generator does.
    fn encrypt(&self, plaintext: &[u8]) -> Result<EncryptedData<'static>, CryptoError>;

    /// Decrypts what [`encrypt`](Cryptor::encrypt) produced.
    ///
    /// # Errors
    /// Data that is too short, corrupt, or encrypted with another key.
    fn decrypt(&self, data: &EncryptedData<'_>) -> Result<Vec<u8>, CryptoError>;
}

/// A boxed cryptor is a cryptor, so a `Box<dyn Cryptor>` can be the default of a
/// [`CryptoModule`](super::CryptoModule).
impl<C: Cryptor + ?Sized> Cryptor for Box<C> {
    fn identifier(&self) -> [u8; 4] {
        (**self).identifier()
    }

    fn encrypt(&self, plaintext: &[u8]) -> Result<EncryptedData<'static>, CryptoError> {
        (**self).encrypt(plaintext)
    }

    fn decrypt(&self, data: &EncryptedData<'_>) -> Result<Vec<u8>, CryptoError> {
        (**self).decrypt(data)
    }
}

/// A shared cryptor is a cryptor, so one cryptor can serve several modules.
impl<C: Cryptor + ?Sized> Cryptor for std::sync::Arc<C> {
    fn identifier(&self) -> [u8; 4] {
        (**self).identifier()
    }

    fn encrypt(&self, plaintext: &[u8]) -> Result<EncryptedData<'static>, CryptoError> {
        (**self).encrypt(plaintext)
    }

    fn decrypt(&self, data: &EncryptedData<'_>) -> Result<Vec<u8>, CryptoError> {
        (**self).decrypt(data)
    }
}

/// Ciphertext plus the cryptor-specific metadata that travels in the crypto header
/// (for `ACRH`, the IV).
///
/// Owned when a cryptor produces it, borrowed from the received bytes when it is handed to
/// [`Cryptor::decrypt`], so decryption copies nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedData<'a> {
    metadata: Cow<'a, [u8]>,
    data: Cow<'a, [u8]>,
}

impl EncryptedData<'static> {
    /// Owned encrypted data: `metadata` goes in the crypto header, `data` follows it.
    pub fn new(metadata: Vec<u8>, data: Vec<u8>) -> Self {
        Self {
            metadata: Cow::Owned(metadata),
            data: Cow::Owned(data),
        }
    }
}

impl<'a> EncryptedData<'a> {
    /// Encrypted data borrowed from a buffer.
    pub fn borrowed(metadata: &'a [u8], data: &'a [u8]) -> Self {
        Self {
            metadata: Cow::Borrowed(metadata),
            data: Cow::Borrowed(data),
        }
    }

    /// The cryptor-specific metadata carried in the crypto header (empty when there is none).
    pub fn metadata(&self) -> &[u8] {
        &self.metadata
    }

    /// The encrypted bytes that follow the header.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The metadata and the data, as owned vectors.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>) {
        (self.metadata.into_owned(), self.data.into_owned())
    }
}

impl fmt::Debug for EncryptedData<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedData")
            .field("metadata_len", &self.metadata.len())
            .field("data_len", &self.data.len())
            .finish()
    }
}
