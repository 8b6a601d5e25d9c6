//! Property tests of message encryption: round trips for every cryptor and module, no panic
//! on arbitrary input, and a wrong key never giving the message back.

use proptest::prelude::*;
use pubnub_rx::crypto::{
    AesCbcCryptor, CryptoError, CryptoModule, Cryptor, EncryptedData, LegacyCryptor,
};

fn cipher_key() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("cipher keys are non-empty", |key| !key.is_empty())
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..600)
}

/// Every built-in cryptor for `key`.
fn cryptors(key: &str) -> Vec<Box<dyn Cryptor>> {
    vec![
        Box::new(LegacyCryptor::new(key, false).unwrap()),
        Box::new(LegacyCryptor::new(key, true).unwrap()),
        Box::new(AesCbcCryptor::new(key).unwrap()),
    ]
}

/// Every built-in module for `key`, with the legacy IV mode each one assumes.
fn modules(key: &str) -> Vec<(CryptoModule, bool)> {
    vec![
        (CryptoModule::legacy(key, false).unwrap(), false),
        (CryptoModule::legacy(key, true).unwrap(), true),
        (CryptoModule::aes_cbc(key, false).unwrap(), false),
        (CryptoModule::aes_cbc(key, true).unwrap(), true),
    ]
}

proptest! {
    // Integration tests have no `src/lib.rs` beside them for proptest's regression files;
    // a failure prints its shrunk input instead.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn cryptors_round_trip_bytes(key in cipher_key(), plaintext in payload()) {
        for cryptor in cryptors(&key) {
            let encrypted = cryptor.encrypt(&plaintext).unwrap();
            prop_assert_eq!(encrypted.data().len() % 16, 0);
            prop_assert_eq!(cryptor.decrypt(&encrypted).unwrap(), plaintext.clone(), "{:?}", cryptor);
        }
    }

    #[test]
    fn modules_round_trip_bytes_and_read_each_other(key in cipher_key(), plaintext in payload()) {
        let all = modules(&key);
        for (writer, writer_random_iv) in &all {
            let encrypted = writer.encrypt(&plaintext).unwrap();
            for (reader, reader_random_iv) in &all {
                // Legacy data is only readable with the same IV mode; ACRH data always.
                let headerless = !encrypted.starts_with(b"PNED");
                if headerless && writer_random_iv != reader_random_iv {
                    continue;
                }
                prop_assert_eq!(
                    reader.decrypt(&encrypted).unwrap(),
                    plaintext.clone(),
                    "written by {:?}, read by {:?}", writer, reader
                );
            }
        }
    }

    #[test]
    fn modules_round_trip_unicode_messages(key in cipher_key(), message in any::<String>()) {
        // What publish/subscribe do: the JSON text of the message through base64.
        let json = serde_json::to_string(&message).unwrap();
        for (module, _) in modules(&key) {
            let b64 = module.encrypt_to_base64(json.as_bytes()).unwrap();
            let plaintext = module.decrypt_base64(&b64).unwrap();
            let back: String = serde_json::from_slice(&plaintext).unwrap();
            prop_assert_eq!(&back, &message);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(key in cipher_key(), data in payload()) {
        for (module, _) in modules(&key) {
            let _ = module.decrypt(&data);
        }
        for cryptor in cryptors(&key) {
            let _ = cryptor.decrypt(&EncryptedData::borrowed(&[], &data));
            let _ = cryptor.decrypt(&EncryptedData::borrowed(&data, &data));
        }
    }

    #[test]
    fn arbitrary_headers_never_panic(
        version in prop_oneof![Just(1u8), any::<u8>()],
        id in prop_oneof![Just(*b"ACRH"), Just(*b"0000"), any::<[u8; 4]>()],
        len in prop_oneof![any::<u8>().prop_map(|b| vec![b]), any::<[u8; 3]>().prop_map(|b| b.to_vec())],
        rest in payload(),
    ) {
        let mut data = b"PNED".to_vec();
        data.push(version);
        data.extend_from_slice(&id);
        data.extend_from_slice(&len);
        data.extend_from_slice(&rest);
        let module = CryptoModule::aes_cbc("key", true).unwrap();
        for cut in 0..=data.len().min(40) {
            let _ = module.decrypt(&data[..cut]);
        }
        let result = module.decrypt(&data);
        if version != 1 {
            prop_assert_eq!(result, Err(CryptoError::UnsupportedHeaderVersion { version }));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(key in cipher_key(), text in any::<String>()) {
        for (module, _) in modules(&key) {
            let _ = module.decrypt_base64(&text);
        }
    }

    #[test]
    fn base64_of_arbitrary_bytes_never_panics(key in cipher_key(), data in payload()) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        for (module, _) in modules(&key) {
            let _ = module.decrypt_base64(&b64);
        }
    }

    #[test]
    fn a_wrong_key_never_gives_the_plaintext_back(
        key in cipher_key(),
        other in cipher_key(),
        plaintext in payload(),
    ) {
        prop_assume!(key != other);
        for ((writer, _), (reader, _)) in modules(&key).into_iter().zip(modules(&other)) {
            let encrypted = writer.encrypt(&plaintext).unwrap();
            // CBC has no integrity check: the padding of a wrong-key decryption is valid by
            // accident about once in 256 tries, so the guarantee is "not the plaintext".
            prop_assert_ne!(reader.decrypt(&encrypted).ok(), Some(plaintext.clone()));
        }
    }
}

#[test]
fn an_empty_cipher_key_is_an_error_everywhere() {
    assert_eq!(
        LegacyCryptor::new("", true).err(),
        Some(CryptoError::EmptyCipherKey)
    );
    assert_eq!(
        LegacyCryptor::new("", false).err(),
        Some(CryptoError::EmptyCipherKey)
    );
    assert_eq!(
        AesCbcCryptor::new("").err(),
        Some(CryptoError::EmptyCipherKey)
    );
    for random_iv in [true, false] {
        assert_eq!(
            CryptoModule::legacy("", random_iv).err(),
            Some(CryptoError::EmptyCipherKey)
        );
        assert_eq!(
            CryptoModule::aes_cbc("", random_iv).err(),
            Some(CryptoError::EmptyCipherKey)
        );
    }
}

/// With fixed keys and IVs (so the outcome is reproducible), a wrong key is reported as bad
/// padding nearly always: the rare accidental valid padding yields garbage, never the message.
#[test]
fn a_wrong_key_is_almost_always_bad_padding() {
    let right = AesCbcCryptor::new("right key").unwrap();
    let wrong = AesCbcCryptor::new("wrong key").unwrap();
    let right_legacy = LegacyCryptor::new("right key", true).unwrap();
    let wrong_legacy = LegacyCryptor::new("wrong key", true).unwrap();
    let mut bad_padding = 0;
    let total = 2 * 256;
    for i in 0..256u32 {
        let message = format!("{{\"n\":{i}}}");
        let mut iv = [0u8; 16];
        iv[..4].copy_from_slice(&i.to_be_bytes());
        let encrypted = [
            (
                right.encrypt_with_iv(message.as_bytes(), iv).unwrap(),
                &wrong as &dyn Cryptor,
            ),
            (
                right_legacy
                    .encrypt_with_iv(message.as_bytes(), iv)
                    .unwrap(),
                &wrong_legacy,
            ),
        ];
        for (data, reader) in encrypted {
            match reader.decrypt(&data) {
                Err(CryptoError::BadPadding) => bad_padding += 1,
                Err(other) => panic!("unexpected error {other}"),
                Ok(garbage) => assert_ne!(garbage, message.as_bytes()),
            }
        }
    }
    assert!(
        bad_padding >= total * 95 / 100,
        "only {bad_padding} of {total} wrong-key decryptions failed"
    );
}
