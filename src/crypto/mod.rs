//! Message encryption: the legacy cryptor and the AES-CBC crypto module.
//!
//! (temporary stub on main; the real module lands from the `crypto` branch)
#![allow(missing_docs, clippy::missing_errors_doc)]

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("crypto not implemented yet")]
    Stub,
}

#[derive(Debug, Clone)]
pub struct CryptoModule;

impl CryptoModule {
    pub fn legacy(_key: &str, _random_iv: bool) -> Result<Self, CryptoError> {
        Err(CryptoError::Stub)
    }
    pub fn aes_cbc(_key: &str, _legacy_random_iv: bool) -> Result<Self, CryptoError> {
        Err(CryptoError::Stub)
    }
    pub fn encrypt_to_base64(&self, _plaintext: &[u8]) -> Result<String, CryptoError> {
        Err(CryptoError::Stub)
    }
    pub fn decrypt_base64(&self, _data: &str) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::Stub)
    }
}
