//! A fast, non-cryptographic hasher for the per-record hash maps.
//!
//! The std SipHash showed up at about a tenth of the reader's time in profiles: one lookup per
//! property of every record, one insert per key. The keys are property names from the stream's
//! own schema and record keys of one batch, so resistance to crafted collisions buys nothing
//! here; this is the multiply-rotate hash rustc uses internally (FxHash).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Multiplier of the Fx hash (from rustc).
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// FxHash state.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Mix in the length so "a" and "a\0" differ.
            self.add(tail_word(rest) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Fx alone leaves the low bits depending only on the low bits of the input, and
        // hashbrown picks buckets by the low bits: encoded integer keys, whose varying
        // bytes sit high in the word, then collide en masse. Murmur3's finaliser mixes
        // every input bit into every output bit.
        let mut hash = self.hash;
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        hash ^ (hash >> 33)
    }
}

/// The last bytes of a key (fewer than eight) as a little-endian word, zero above: read as
/// four, two and one bytes, where a copy into a zeroed word called memcpy (the keys hashed
/// per record, a stream name or a row key, nearly always end in such bytes).
#[inline]
fn tail_word(rest: &[u8]) -> u64 {
    let (mut word, mut shift, mut rest) = (0u64, 0, rest);
    if let Some((four, after)) = rest.split_first_chunk::<4>() {
        word = u64::from(u32::from_le_bytes(*four));
        (shift, rest) = (32, after);
    }
    if let Some((two, after)) = rest.split_first_chunk::<2>() {
        word |= u64::from(u16::from_le_bytes(*two)) << shift;
        shift += 16;
        rest = after;
    }
    if let Some(&one) = rest.first() {
        word |= u64::from(one) << shift;
    }
    word
}

/// A `HashMap` with [`FxHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_find_what_they_hold() {
        let mut map: FastMap<Box<[u8]>, usize> = FastMap::default();
        for n in 0..10_000usize {
            map.insert(n.to_le_bytes().to_vec().into_boxed_slice(), n);
        }
        for n in 0..10_000usize {
            assert_eq!(map.get(&n.to_le_bytes()[..]), Some(&n));
        }
    }

    #[test]
    fn encoded_integer_keys_spread_over_low_bits() {
        // Regression: binary COPY fields of consecutive ids collided in hashbrown's buckets.
        let mut low_bits = std::collections::HashSet::new();
        for id in 0..4096i64 {
            let mut hasher = FxHasher::default();
            let mut field = 8i32.to_be_bytes().to_vec();
            field.extend_from_slice(&id.to_be_bytes());
            hasher.write(&field);
            low_bits.insert(hasher.finish() & 0xfff);
        }
        assert!(low_bits.len() > 2000, "{} distinct buckets", low_bits.len());
    }

    #[test]
    fn the_tail_word_is_the_bytes_copied_into_a_zeroed_word() {
        for len in 0..8u8 {
            for seed in 0..64u8 {
                let rest: Vec<u8> = (0..len)
                    .map(|i| seed.wrapping_mul(37) ^ i.wrapping_mul(91))
                    .collect();
                let mut word = [0u8; 8];
                word[..rest.len()].copy_from_slice(&rest);
                assert_eq!(tail_word(&rest), u64::from_le_bytes(word), "{rest:?}");
            }
        }
    }

    #[test]
    fn trailing_bytes_change_the_hash() {
        let hash = |bytes: &[u8]| {
            let mut hasher = FxHasher::default();
            hasher.write(bytes);
            hasher.finish()
        };
        assert_ne!(hash(b"a"), hash(b"a\0"));
        assert_ne!(hash(b"12345678a"), hash(b"12345678b"));
    }
}
