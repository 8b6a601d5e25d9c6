//! Checks every vector of `shared/protocol/crypto-vectors.json` (ciphertexts produced by the
//! official PubNub SDKs): key derivation, decryption, exact re-encryption, the `PNED` header
//! and the ciphertexts seen on the wire.

mod common;

use std::path::Path;

use pubnub_rx::crypto::{
    AesCbcCryptor, CryptoError, CryptoHeader, CryptoModule, Cryptor, EncryptedData, LegacyCryptor,
    AES_CBC_CRYPTOR_ID,
};
use serde_json::Value;

fn load(shared: &Path) -> Value {
    let path = shared.join("protocol/crypto-vectors.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_str(&text).expect("crypto-vectors.json is JSON")
}

fn vectors() -> Option<Value> {
    common::shared_dir_or_skip("crypto_vectors").map(|dir| load(&dir))
}

fn list<'a>(root: &'a Value, name: &str) -> &'a [Value] {
    root[name]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is an array"))
}

fn text<'a>(item: &'a Value, field: &str) -> &'a str {
    item[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string in {item}"))
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn iv(item: &Value) -> [u8; 16] {
    hex(text(item, "iv_hex")).try_into().expect("16-byte IV")
}

fn b64(item: &Value) -> &str {
    text(item, "ciphertext_b64")
}

fn b64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("vector is base64")
}

fn b64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn vector_counts_match_the_protocol_notes() {
    let Some(v) = vectors() else { return };
    let counts = [
        list(&v, "legacy_static_iv").len(),
        list(&v, "legacy_random_iv").len(),
        list(&v, "aes_cbc_ACRH").len(),
    ];
    println!(
        "ciphertext vectors: static {}, random {}, ACRH {}",
        counts[0], counts[1], counts[2]
    );
    assert_eq!(counts, [14, 19, 5]);
    assert_eq!(counts.iter().sum::<usize>(), 38);
}

#[test]
fn key_derivation() {
    let Some(v) = vectors() else { return };
    let items = list(&v, "key_derivation");
    assert!(!items.is_empty());
    for item in items {
        let key = text(item, "cipher_key");
        assert_eq!(
            LegacyCryptor::derive_key(key).as_slice(),
            text(item, "legacy_aes_key_ascii").as_bytes(),
            "legacy key of {key:?}"
        );
        assert_eq!(
            AesCbcCryptor::derive_key(key).to_vec(),
            hex(text(item, "acrh_aes_key_hex")),
            "ACRH key of {key:?}"
        );
        assert_eq!(
            AesCbcCryptor::derive_key(key).to_vec(),
            hex(text(item, "sha256_hex"))
        );
    }
    println!("key_derivation: {} keys checked", items.len());
}

#[test]
fn legacy_static_iv() {
    let Some(v) = vectors() else { return };
    let items = list(&v, "legacy_static_iv");
    for item in items {
        let key = text(item, "cipher_key");
        let plaintext = text(item, "plaintext").as_bytes();
        let cryptor = LegacyCryptor::new(key, false).unwrap();
        let ciphertext = b64_decode(b64(item));

        let decrypted = cryptor
            .decrypt(&EncryptedData::borrowed(&[], &ciphertext))
            .unwrap_or_else(|err| panic!("{item}: {err}"));
        assert_eq!(decrypted, plaintext, "{item}");

        let encrypted = cryptor.encrypt(plaintext).unwrap();
        assert!(encrypted.metadata().is_empty());
        assert_eq!(encrypted.data(), ciphertext, "re-encrypting {item}");

        // Through both modules: the legacy one reproduces the base64 exactly, and the
        // AES-CBC one (told the legacy data uses a static IV) reads it.
        let legacy = CryptoModule::legacy(key, false).unwrap();
        assert_eq!(legacy.encrypt_to_base64(plaintext).unwrap(), b64(item));
        assert_eq!(legacy.decrypt_base64(b64(item)).unwrap(), plaintext);
        let acrh = CryptoModule::aes_cbc(key, false).unwrap();
        assert_eq!(acrh.decrypt_base64(b64(item)).unwrap(), plaintext);
    }
    println!("legacy_static_iv: {} vectors checked", items.len());
    assert_eq!(items.len(), 14);
}

#[test]
fn legacy_random_iv() {
    let Some(v) = vectors() else { return };
    let items = list(&v, "legacy_random_iv");
    for item in items {
        let key = text(item, "cipher_key");
        let plaintext = text(item, "plaintext").as_bytes();
        let cryptor = LegacyCryptor::new(key, true).unwrap();
        let bytes = b64_decode(b64(item));
        assert_eq!(&bytes[..16], iv(item), "the IV leads the data: {item}");
        if let Some(ascii) = item["iv_ascii"].as_str() {
            assert_eq!(&bytes[..16], ascii.as_bytes());
        }

        let decrypted = cryptor
            .decrypt(&EncryptedData::borrowed(&[], &bytes))
            .unwrap_or_else(|err| panic!("{item}: {err}"));
        assert_eq!(decrypted, plaintext, "{item}");

        let encrypted = cryptor.encrypt_with_iv(plaintext, iv(item)).unwrap();
        assert!(encrypted.metadata().is_empty());
        assert_eq!(
            b64_encode(encrypted.data()),
            b64(item),
            "re-encrypting {item}"
        );

        for module in [
            CryptoModule::legacy(key, true).unwrap(),
            CryptoModule::aes_cbc(key, true).unwrap(),
        ] {
            assert_eq!(
                module.decrypt_base64(b64(item)).unwrap(),
                plaintext,
                "{item}"
            );
        }
    }
    println!("legacy_random_iv: {} vectors checked", items.len());
    assert_eq!(items.len(), 19);
}

#[test]
fn aes_cbc_acrh() {
    let Some(v) = vectors() else { return };
    let items = list(&v, "aes_cbc_ACRH");
    for item in items {
        let key = text(item, "cipher_key");
        let plaintext = text(item, "plaintext").as_bytes();
        let bytes = b64_decode(b64(item));
        let header_bytes = hex(text(item, "header_hex"));
        assert!(bytes.starts_with(&header_bytes), "{item}");

        let (header, ciphertext) = CryptoHeader::decode(&bytes).unwrap().expect("has a header");
        assert_eq!(header.cryptor_id(), AES_CBC_CRYPTOR_ID);
        assert_eq!(header.cryptor_data(), iv(item));
        assert_eq!(header.to_bytes(), header_bytes);

        let cryptor = AesCbcCryptor::new(key).unwrap();
        let decrypted = cryptor
            .decrypt(&EncryptedData::borrowed(header.cryptor_data(), ciphertext))
            .unwrap_or_else(|err| panic!("{item}: {err}"));
        assert_eq!(decrypted, plaintext, "{item}");

        let encrypted = cryptor.encrypt_with_iv(plaintext, iv(item)).unwrap();
        assert_eq!(encrypted.metadata(), iv(item));
        assert_eq!(encrypted.data(), ciphertext, "re-encrypting {item}");
        let mut wire = CryptoHeader::new(cryptor.identifier(), encrypted.metadata())
            .unwrap()
            .to_bytes();
        wire.extend_from_slice(encrypted.data());
        assert_eq!(b64_encode(&wire), b64(item));

        for module in [
            CryptoModule::aes_cbc(key, true).unwrap(),
            CryptoModule::aes_cbc(key, false).unwrap(),
            CryptoModule::legacy(key, true).unwrap(),
            CryptoModule::legacy(key, false).unwrap(),
        ] {
            assert_eq!(
                module.decrypt_base64(b64(item)).unwrap(),
                plaintext,
                "{item}"
            );
        }
    }
    println!("aes_cbc_ACRH: {} vectors checked", items.len());
    assert_eq!(items.len(), 5);
}

/// Expands the header vectors' shorthand `"21 x 254"` / `"…ff00ff... (+255 bytes of 0x21)"`.
fn expand_repeat(text: &str) -> Vec<u8> {
    match text.split_once(" x ") {
        Some((byte, count)) => vec![hex(byte)[0]; count.parse().expect("repeat count")],
        None => hex(text),
    }
}

#[test]
fn header_encoding() {
    let Some(v) = vectors() else { return };
    let items = list(&v, "header_encoding");
    let mut checked = 0;
    for item in items {
        let Some(id) = item["cryptor_id"].as_str() else {
            // The closing note: data > 65535 bytes, version > 1 and unknown ids are errors.
            let note = text(item, "note");
            assert!(note.contains("65535") && note.contains("version"), "{note}");
            continue;
        };
        let id: [u8; 4] = id.as_bytes().try_into().expect("4-byte id");
        let data = expand_repeat(text(item, "cryptor_data_hex"));
        let expected_len = item["header_length"].as_u64().expect("header_length") as usize;

        let header = CryptoHeader::new(id, &data).unwrap();
        let bytes = header.to_bytes();
        assert_eq!(bytes.len(), expected_len, "{item}");
        assert_eq!(header.encoded_len(), expected_len);

        // The hex is either complete or a prefix followed by "... (+N bytes of 0x21)".
        let header_hex = text(item, "header_hex");
        match header_hex.split_once("...") {
            None => assert_eq!(bytes, hex(header_hex), "{item}"),
            Some((prefix, rest)) => {
                let prefix = hex(prefix);
                assert!(bytes.starts_with(&prefix), "{item}");
                let repeat: usize = rest
                    .trim()
                    .trim_start_matches("(+")
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("repeat count in header_hex");
                assert_eq!(repeat, data.len());
                // The prefix runs through the length field, maybe into the data.
                let data_start = expected_len - data.len();
                assert!(prefix.len() >= data_start && prefix.len() <= expected_len);
                assert_eq!(&bytes[prefix.len()..], &data[prefix.len() - data_start..]);
            }
        }

        let mut with_payload = bytes.clone();
        with_payload.extend_from_slice(b"payload");
        let (decoded, rest) = CryptoHeader::decode(&with_payload)
            .unwrap()
            .expect("has a header");
        assert_eq!(decoded, header);
        assert_eq!(rest, b"payload");
        checked += 1;
    }
    assert_eq!(checked, 4);
    println!("header_encoding: {checked} headers checked");

    // The rules of the closing note.
    assert_eq!(
        CryptoHeader::new(*b"ACRH", &vec![0; 65536]),
        Err(CryptoError::CryptorDataTooLong { len: 65536 })
    );
    assert!(CryptoHeader::new(*b"ACRH", &vec![0; 65535]).is_ok());
    assert_eq!(
        CryptoHeader::decode(b"PNED\x02ACRH\x00"),
        Err(CryptoError::UnsupportedHeaderVersion { version: 2 })
    );
    let module = CryptoModule::aes_cbc("myCipherKey", true).unwrap();
    assert_eq!(
        module.decrypt(
            b"PNED\x01ABCD\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        ),
        Err(CryptoError::UnknownCryptor { id: *b"ABCD" })
    );
}

#[test]
fn wire_examples() {
    let Some(v) = vectors() else { return };
    let items = list(&v, "wire_examples");
    assert_eq!(items.len(), 4);

    // Publish GET: the JSON-quoted base64 is percent-encoded into the last path segment.
    let get = &items[0];
    let segment = text(get, "path_tail").rsplit('/').next().expect("segment");
    let quoted = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .expect("UTF-8 segment");
    let b64: String = serde_json::from_str(&quoted).expect("a JSON string");
    let module = CryptoModule::legacy(text(get, "cipher_key"), true).unwrap();
    let message = serde_json::to_string(text(get, "message")).unwrap();
    assert_eq!(module.decrypt_base64(&b64).unwrap(), message.as_bytes());

    // Publish POST: the body is the base64 as a JSON string (this one used the static IV).
    let post = &items[1];
    let b64: String = serde_json::from_str(text(post, "body")).expect("a JSON string");
    let module = CryptoModule::legacy(text(post, "cipher_key"), false).unwrap();
    let message = serde_json::to_string(text(post, "message")).unwrap();
    assert_eq!(module.decrypt_base64(&b64).unwrap(), message.as_bytes());
    assert_eq!(module.encrypt_to_base64(message.as_bytes()).unwrap(), b64);

    // Subscribe: the envelope's `d` is the base64 string (random IV, key testKey).
    let sub = &items[2];
    let module = CryptoModule::legacy("testKey", true).unwrap();
    let d = sub["envelope"]["d"].as_str().expect("d is a string");
    assert_eq!(
        module.decrypt_base64(d).unwrap(),
        text(sub, "decrypts_to").as_bytes()
    );

    // History v2: the stored strings come back unchanged and decrypt to JSON messages.
    let history = &items[3];
    let stored = history["response"][0].as_array().expect("message list");
    assert_eq!(stored.len(), 2);
    for (i, item) in stored.iter().enumerate() {
        let plaintext = module
            .decrypt_base64(item.as_str().expect("a string"))
            .unwrap();
        let message: Value = serde_json::from_slice(&plaintext).expect("JSON plaintext");
        assert_eq!(message, Value::String(format!("hey-{i}")));
    }
    println!("wire_examples: {} examples checked", items.len());
}

#[test]
fn wrong_key_on_vectors_never_yields_the_plaintext() {
    let Some(v) = vectors() else { return };
    let mut errors = 0;
    let mut total = 0;
    for (section, random_iv) in [
        ("legacy_static_iv", Some(false)),
        ("legacy_random_iv", Some(true)),
        ("aes_cbc_ACRH", None),
    ] {
        for item in list(&v, section) {
            let module = match random_iv {
                Some(random) => CryptoModule::legacy("not the key", random).unwrap(),
                None => CryptoModule::aes_cbc("not the key", true).unwrap(),
            };
            let result = module.decrypt_base64(b64(item));
            assert_ne!(
                result.as_deref().ok(),
                Some(text(item, "plaintext").as_bytes())
            );
            if result == Err(CryptoError::BadPadding) {
                errors += 1;
            }
            total += 1;
        }
    }
    assert_eq!(total, 38);
    // Padding validates by accident about once in 256 tries; these vectors all fail.
    assert_eq!(errors, 38);
}
