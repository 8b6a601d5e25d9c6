//! Encrypting and decrypting payloads directly with the client's crypto module.

use serde::Serialize;
use serde_json::Value;

use crate::api::to_json;
use crate::{Error, PubNub};

impl PubNub {
    fn crypto_or_err(
        &self,
        operation: &'static str,
    ) -> Result<&crate::crypto::CryptoModule, Error> {
        self.inner.config.crypto.as_ref().ok_or(Error::MissingKey {
            key: "cipher_key",
            operation,
        })
    }

    /// Encrypts a message as publish does: its JSON, encrypted, as base64.
    ///
    /// ```
    /// # fn run() -> Result<(), pubnub_rx::Error> {
    /// use pubnub_rx::{Config, PubNub};
    /// let client = PubNub::new(Config::builder().subscribe_key("s").user_id("u").cipher_key("secret").build()?)?;
    /// let sealed = client.encrypt(&serde_json::json!({"text": "hi"}))?;
    /// assert_eq!(client.decrypt(&sealed)?, serde_json::json!({"text": "hi"}));
    /// # Ok(()) }
    /// ```
    pub fn encrypt<T: Serialize + ?Sized>(&self, message: &T) -> Result<String, Error> {
        let crypto = self.crypto_or_err("encrypting")?;
        let json = to_json("message", message)?;
        Ok(crypto.encrypt_to_base64(json.as_bytes())?)
    }

    /// Decrypts a base64 ciphertext as received from PubNub (subscribe,
    /// history) and parses the JSON inside; a plaintext that is not JSON is
    /// returned as a JSON string, as the PubNub SDKs do.
    pub fn decrypt(&self, ciphertext: &str) -> Result<Value, Error> {
        let crypto = self.crypto_or_err("decrypting")?;
        let plain = crypto.decrypt_base64(ciphertext)?;
        Ok(serde_json::from_slice(&plain)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&plain).into_owned())))
    }
}
