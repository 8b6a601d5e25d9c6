//! A fast, non-cryptographic hasher for the subscribe hot path.
//!
//! The per-message lookups (duplicate filter, routing table, staging of a
//! batch per subscriber) hash short channel names and integer ids. std's
//! SipHash is built to resist hash flooding, which costs ~20 ns per short
//! key; here the keys of every map are the application's own channel names
//! and subscriber ids (a message only ever *looks up* a name), so a
//! multiply-rotate hash in the style of rustc's FxHash is enough.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate hasher (FxHash style): one rotate, xor and multiply per
/// 8-byte word.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

/// An odd constant with well-spread bits (from the golden ratio family).
const K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // The length first: the last word is zero-padded, so "ab" and
        // "ab\0" would otherwise hash alike.
        self.add(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let word = rest
                .iter()
                .enumerate()
                .fold(0u64, |word, (i, byte)| word | (u64::from(*byte) << (8 * i)));
            self.add(word);
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FastHasher`]s.
pub(crate) type FastBuild = BuildHasherDefault<FastHasher>;
/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, FastBuild>;
/// A `HashSet` with [`FastHasher`].
pub(crate) type FastSet<K> = HashSet<K, FastBuild>;

/// The hash of a channel name (for ids that pair it with a timetoken).
pub(crate) fn hash_str(text: &str) -> u64 {
    let mut hasher = FastHasher::default();
    hasher.write(text.as_bytes());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_differ() {
        assert_eq!(hash_str("channel-1"), hash_str("channel-1"));
        let names: FastSet<u64> = (0..10_000).map(|i| hash_str(&format!("ch-{i}"))).collect();
        assert_eq!(names.len(), 10_000, "no collisions among near names");
        assert_ne!(
            hash_str("ab"),
            hash_str("ab\0"),
            "length is part of the hash"
        );
        let mut map: FastMap<u64, u64> = FastMap::default();
        for id in 0..1000 {
            map.insert(id, id * 2);
        }
        assert_eq!(map.get(&500), Some(&1000));
    }
}
