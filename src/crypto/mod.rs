//! Message encryption: the legacy cryptor, the AES-CBC cryptor and the crypto module that
//! picks between them.
//!
//! PubNub encrypts on the client: the network stores and forwards the ciphertext as an
//! ordinary JSON string (`"<base64>"`). A [`CryptoModule`] encrypts with one *default*
//! [`Cryptor`] and decrypts with whichever of its cryptors the data names:
//!
//! * data starting with a `PNED` [`CryptoHeader`] goes to the cryptor whose id the header
//!   carries (`ACRH` for [`AesCbcCryptor`]);
//! * anything else is headerless legacy data and goes to the [`LegacyCryptor`] (id `0000`).
//!
//! So a module built with [`CryptoModule::aes_cbc`] still reads messages from older publishers
//! that use the legacy cryptor, and one built with [`CryptoModule::legacy`] reads `ACRH`
//! messages from newer ones.
//!
//! ```
//! use pubnub_rx::crypto::CryptoModule;
//!
//! # fn main() -> Result<(), pubnub_rx::crypto::CryptoError> {
//! let module = CryptoModule::aes_cbc("my cipher key", true)?;
//! // A message is encrypted as its JSON text, quotes included for a string.
//! let b64 = module.encrypt_to_base64(br#""hello""#)?;
//! assert!(b64.starts_with("UE5FRAFBQ1JI")); // base64 of "PNED" 0x01 "ACRH"
//! assert_eq!(module.decrypt_base64(&b64)?, br#""hello""#);
//!
//! // A legacy publisher with the same key is understood too.
//! let legacy = CryptoModule::legacy("my cipher key", true)?;
//! assert_eq!(module.decrypt_base64(&legacy.encrypt_to_base64(b"42")?)?, b"42");
//! # Ok(())
//! # }
//! ```
//!
//! Keys are derived and the AES key schedules expanded once, when a cryptor is built;
//! encrypting and decrypting only run the block cipher.

mod aes256cbc;
mod aes_cbc;
mod cryptor;
mod error;
mod header;
mod legacy;

use std::fmt;
use std::sync::Arc;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, Engine as _};

pub use aes_cbc::{AesCbcCryptor, AES_CBC_CRYPTOR_ID};
pub use cryptor::{Cryptor, EncryptedData, LEGACY_CRYPTOR_ID};
pub use error::CryptoError;
pub use header::CryptoHeader;
pub use legacy::{LegacyCryptor, LEGACY_STATIC_IV};

/// Standard base64 with `=` padding on output. On input the padding may be missing and
/// unused trailing bits may be set: other SDKs' encoders differ in these details, and the
/// AES layer below rejects anything that is not a real ciphertext anyway.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Encrypts with a default [`Cryptor`] and decrypts with any of its cryptors, routing by the
/// crypto header.
///
/// Cheap to clone (the cryptors sit behind an [`Arc`]) and safe to share between tasks.
#[derive(Clone)]
pub struct CryptoModule {
    inner: Arc<Cryptors>,
    /// What encrypts and decrypts files when it differs from messages: the
    /// PubNub SDKs always give legacy-encrypted files a random IV, even when
    /// legacy messages use the static one.
    files: Option<Arc<CryptoModule>>,
}

struct Cryptors {
    default: Box<dyn Cryptor>,
    others: Vec<Box<dyn Cryptor>>,
}

impl CryptoModule {
    /// A module that encrypts with `default` and decrypts with `default` or any of `others`.
    ///
    /// When two cryptors share an id, the default one (then the first in `others`) decrypts.
    /// Include a cryptor with id [`LEGACY_CRYPTOR_ID`] to read headerless legacy data.
    pub fn new(default: impl Cryptor + 'static, others: Vec<Box<dyn Cryptor>>) -> Self {
        Self {
            inner: Arc::new(Cryptors {
                default: Box::new(default),
                others,
            }),
            files: None,
        }
    }

    /// Encrypts with the [`LegacyCryptor`] (what PubNub SDKs do when only a cipher key is
    /// configured) and decrypts legacy and `ACRH` data.
    ///
    /// `use_random_iv` must match the other clients of the channel (the PubNub SDKs default to
    /// a random IV).
    ///
    /// # Errors
    /// [`CryptoError::EmptyCipherKey`] when `cipher_key` is empty.
    pub fn legacy(cipher_key: &str, use_random_iv: bool) -> Result<Self, CryptoError> {
        let mut module = Self::new(
            LegacyCryptor::new(cipher_key, use_random_iv)?,
            vec![Box::new(AesCbcCryptor::new(cipher_key)?)],
        );
        if !use_random_iv {
            module.files = Some(Arc::new(Self::legacy(cipher_key, true)?));
        }
        Ok(module)
    }

    /// Encrypts with the [`AesCbcCryptor`] (`ACRH`, the recommended choice) and decrypts `ACRH`
    /// and legacy data; `legacy_random_iv` is the IV mode assumed for legacy data.
    ///
    /// # Errors
    /// [`CryptoError::EmptyCipherKey`] when `cipher_key` is empty.
    pub fn aes_cbc(cipher_key: &str, legacy_random_iv: bool) -> Result<Self, CryptoError> {
        let mut module = Self::new(
            AesCbcCryptor::new(cipher_key)?,
            vec![Box::new(LegacyCryptor::new(cipher_key, legacy_random_iv)?)],
        );
        if !legacy_random_iv {
            module.files = Some(Arc::new(Self::aes_cbc(cipher_key, true)?));
        }
        Ok(module)
    }

    /// Encrypts a file's bytes as the PubNub SDKs do (the Files API): like
    /// [`encrypt`](Self::encrypt), except that legacy encryption always uses
    /// a random IV (prepended to the ciphertext), whatever the module's IV
    /// mode for messages.
    ///
    /// # Errors
    /// As [`encrypt`](Self::encrypt).
    pub fn encrypt_file(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.files.as_deref().unwrap_or(self).encrypt(data)
    }

    /// Decrypts a file [`encrypt_file`](Self::encrypt_file) (here or in
    /// another PubNub SDK) produced: `PNED` data by its cryptor, headerless
    /// data as legacy with a random IV.
    ///
    /// # Errors
    /// As [`decrypt`](Self::decrypt).
    pub fn decrypt_file(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.files.as_deref().unwrap_or(self).decrypt(data)
    }

    /// The id of the cryptor that encrypts.
    pub fn default_cryptor_id(&self) -> [u8; 4] {
        self.inner.default.identifier()
    }

    /// Encrypts `plaintext` with the default cryptor: a `PNED` header followed by the
    /// ciphertext, or the bare legacy ciphertext when the default cryptor is the legacy one.
    ///
    /// # Errors
    /// When the cryptor fails, or returns more than 65535 bytes of cryptor data.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cryptor = &self.inner.default;
        let id = cryptor.identifier();
        let (metadata, data) = cryptor.encrypt(plaintext)?.into_parts();
        if id == LEGACY_CRYPTOR_ID {
            if !metadata.is_empty() {
                return Err(CryptoError::Encryption {
                    reason: format!(
                        "the cryptor with the legacy id 0000 returned {} bytes of metadata, but \
                         legacy data has no crypto header to carry them; give the cryptor \
                         another id",
                        metadata.len()
                    ),
                });
            }
            return Ok(data);
        }
        let header = CryptoHeader::new(id, &metadata)?;
        let mut out = Vec::with_capacity(header.encoded_len() + data.len());
        header.encode_into(&mut out);
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Decrypts what [`encrypt`](Self::encrypt) (here or in another PubNub SDK) produced,
    /// routing by the crypto header.
    ///
    /// # Errors
    /// [`CryptoError::UnknownCryptor`] when no cryptor of this module has the header's id
    /// (`0000` for headerless data), [`CryptoError::UnsupportedHeaderVersion`] /
    /// [`CryptoError::MalformedHeader`] for a bad header, and the cryptor's own errors
    /// ([`CryptoError::BadPadding`] for a wrong key, …).
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match CryptoHeader::decode(data)? {
            Some((header, payload)) => self
                .cryptor(header.cryptor_id())?
                .decrypt(&EncryptedData::borrowed(header.cryptor_data(), payload)),
            None => self
                .cryptor(LEGACY_CRYPTOR_ID)?
                .decrypt(&EncryptedData::borrowed(&[], data)),
        }
    }

    /// Encrypts a message for publishing: `plaintext` is the message's JSON text, the result
    /// is the base64 text that is sent as a JSON string.
    ///
    /// # Errors
    /// As [`encrypt`](Self::encrypt).
    pub fn encrypt_to_base64(&self, plaintext: &[u8]) -> Result<String, CryptoError> {
        Ok(BASE64.encode(self.encrypt(plaintext)?))
    }

    /// Decrypts a received message (subscribe, history, fetch): `b64` is the content of the JSON
    /// string the network delivered; the result is the publisher's plaintext (the message's
    /// JSON text, for PubNub SDKs).
    ///
    /// # Errors
    /// [`CryptoError::InvalidBase64`] when `b64` is not base64 (often: the publisher did not
    /// encrypt), else as [`decrypt`](Self::decrypt).
    pub fn decrypt_base64(&self, b64: &str) -> Result<Vec<u8>, CryptoError> {
        let bytes = match BASE64.decode(b64) {
            Ok(bytes) => bytes,
            // Some encoders wrap long base64 lines; accept that, on the slow path only.
            Err(_) if b64.bytes().any(|b| b.is_ascii_whitespace()) => {
                let compact: Vec<u8> = b64.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                BASE64.decode(compact).map_err(invalid_base64)?
            }
            Err(err) => return Err(invalid_base64(err)),
        };
        self.decrypt(&bytes)
    }

    fn cryptor(&self, id: [u8; 4]) -> Result<&dyn Cryptor, CryptoError> {
        std::iter::once(&self.inner.default)
            .chain(&self.inner.others)
            .find(|cryptor| cryptor.identifier() == id)
            .map(|cryptor| cryptor.as_ref())
            .ok_or(CryptoError::UnknownCryptor { id })
    }
}

fn invalid_base64(err: base64::DecodeError) -> CryptoError {
    CryptoError::InvalidBase64 {
        reason: err.to_string(),
    }
}

impl fmt::Debug for CryptoModule {
    /// Shows the cryptors (never their keys).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoModule")
            .field("default", &self.inner.default)
            .field("others", &self.inner.others)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_module_writes_no_header_and_reads_both() {
        let legacy = CryptoModule::legacy("k", true).unwrap();
        let acrh = CryptoModule::aes_cbc("k", true).unwrap();
        let from_legacy = legacy.encrypt(b"m").unwrap();
        let from_acrh = acrh.encrypt(b"m").unwrap();
        assert!(!from_legacy.starts_with(b"PNED"));
        assert!(from_acrh.starts_with(b"PNED\x01ACRH\x10"));
        assert_eq!(from_acrh.len(), 10 + 16 + 16);
        for module in [&legacy, &acrh] {
            assert_eq!(module.decrypt(&from_legacy).unwrap(), b"m");
            assert_eq!(module.decrypt(&from_acrh).unwrap(), b"m");
        }
    }

    #[test]
    fn files_always_use_a_random_legacy_iv() {
        let static_iv = CryptoModule::legacy("k", false).unwrap();
        let random_iv = CryptoModule::legacy("k", true).unwrap();
        let file = static_iv.encrypt_file(b"file bytes").unwrap();
        // Random IV first, then one block: never the static-IV ciphertext.
        assert_eq!(file.len(), 32);
        assert_ne!(file, static_iv.encrypt(b"file bytes").unwrap());
        assert_eq!(random_iv.decrypt(&file).unwrap(), b"file bytes");
        assert_eq!(static_iv.decrypt_file(&file).unwrap(), b"file bytes");
        let acrh = CryptoModule::aes_cbc("k", false).unwrap();
        assert_eq!(acrh.decrypt_file(&file).unwrap(), b"file bytes");
        let sealed = acrh.encrypt_file(b"x").unwrap();
        assert!(sealed.starts_with(b"PNED\x01ACRH"));
        assert_eq!(static_iv.decrypt_file(&sealed).unwrap(), b"x");
    }

    #[test]
    fn unknown_cryptor_is_named() {
        let module = CryptoModule::aes_cbc("k", true).unwrap();
        let mut data = CryptoHeader::new(*b"XXXX", &[]).unwrap().to_bytes();
        data.extend_from_slice(&[0; 16]);
        let err = module.decrypt(&data).unwrap_err();
        assert_eq!(err, CryptoError::UnknownCryptor { id: *b"XXXX" });
        assert!(err.to_string().contains("\"XXXX\""), "{err}");
    }

    #[test]
    fn headerless_data_without_a_legacy_cryptor_is_unknown_0000() {
        let module = CryptoModule::new(AesCbcCryptor::new("k").unwrap(), Vec::new());
        assert_eq!(
            module.decrypt(&[0; 32]),
            Err(CryptoError::UnknownCryptor {
                id: LEGACY_CRYPTOR_ID
            })
        );
    }

    #[test]
    fn newer_header_versions_are_rejected() {
        let module = CryptoModule::aes_cbc("k", true).unwrap();
        let mut data = module.encrypt(b"m").unwrap();
        data[4] = 2;
        assert_eq!(
            module.decrypt(&data),
            Err(CryptoError::UnsupportedHeaderVersion { version: 2 })
        );
    }

    #[test]
    fn base64_errors_and_wrapped_lines() {
        let module = CryptoModule::legacy("testKey", false).unwrap();
        assert!(matches!(
            module.decrypt_base64("not base64!"),
            Err(CryptoError::InvalidBase64 { .. })
        ));
        assert_eq!(
            module.decrypt_base64("QfD1NCBJ\nCmt1aPPGU2cshw==").unwrap(),
            br#""hey-0""#
        );
        // Missing padding is accepted.
        assert_eq!(
            module.decrypt_base64("QfD1NCBJCmt1aPPGU2cshw").unwrap(),
            br#""hey-0""#
        );
    }

    #[derive(Debug)]
    struct Rot1;

    impl Cryptor for Rot1 {
        fn identifier(&self) -> [u8; 4] {
            *b"ROT1"
        }
        fn encrypt(&self, plaintext: &[u8]) -> Result<EncryptedData<'static>, CryptoError> {
            let data = plaintext.iter().map(|b| b.wrapping_add(1)).collect();
            Ok(EncryptedData::new(b"meta".to_vec(), data))
        }
        fn decrypt(&self, data: &EncryptedData<'_>) -> Result<Vec<u8>, CryptoError> {
            assert_eq!(data.metadata(), b"meta");
            Ok(data.data().iter().map(|b| b.wrapping_sub(1)).collect())
        }
    }

    #[test]
    fn custom_cryptors_get_a_header() {
        let module =
            CryptoModule::new(Rot1, vec![Box::new(LegacyCryptor::new("k", true).unwrap())]);
        let encrypted = module.encrypt(b"abc").unwrap();
        assert_eq!(encrypted, b"PNED\x01ROT1\x04metabcd");
        assert_eq!(module.decrypt(&encrypted).unwrap(), b"abc");
        let legacy = CryptoModule::legacy("k", true).unwrap();
        assert_eq!(
            module.decrypt(&legacy.encrypt(b"x").unwrap()).unwrap(),
            b"x"
        );
        // The legacy module does not know ROT1.
        assert_eq!(
            legacy.decrypt(&encrypted),
            Err(CryptoError::UnknownCryptor { id: *b"ROT1" })
        );
    }

    #[test]
    fn boxed_and_shared_cryptors_can_be_the_default() {
        let boxed: Box<dyn Cryptor> = Box::new(AesCbcCryptor::new("k").unwrap());
        let shared = Arc::new(LegacyCryptor::new("k", true).unwrap());
        let from_box = CryptoModule::new(boxed, vec![Box::new(Arc::clone(&shared))]);
        let from_arc = CryptoModule::new(shared, Vec::new());
        assert_eq!(from_box.default_cryptor_id(), AES_CBC_CRYPTOR_ID);
        assert_eq!(from_arc.default_cryptor_id(), LEGACY_CRYPTOR_ID);
        let legacy_data = from_arc.encrypt(b"m").unwrap();
        assert_eq!(from_box.decrypt(&legacy_data).unwrap(), b"m");
    }

    #[test]
    fn clones_share_the_cryptors() {
        let module = CryptoModule::aes_cbc("k", true).unwrap();
        let clone = module.clone();
        assert!(Arc::ptr_eq(&module.inner, &clone.inner));
        assert_eq!(clone.decrypt(&module.encrypt(b"m").unwrap()).unwrap(), b"m");
    }

    #[test]
    fn debug_shows_cryptors_not_keys() {
        let text = format!("{:?}", CryptoModule::aes_cbc("secret", false).unwrap());
        assert!(
            text.contains("AesCbcCryptor") && text.contains("LegacyCryptor"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
