//! Deterministic, independent random streams for every entity of a synthetic population.
//!
//! A population is described by one `u64` seed. Every random decision about one entity (subject
//! 17's left iris, capture 3 of that iris, subject 17's face, ...) draws from its own generator,
//! keyed by the seed, a [`Stream`] tag naming the kind of decision, and a path of integers (the
//! subject, eye and capture ids). Consequences:
//! - generation is reproducible and order-free: subjects can be generated in parallel, in any
//!   order, or one at a time (subject 999,999 without generating the others);
//! - adding a new kind of randomness (a new [`Stream`]) never changes existing ones.
//!
//! The key is mixed with the SplitMix64 finaliser (Steele, Lea & Flood 2014) chained over the
//! seed, the stream tag, the path length and each path element, then expanded into a 256-bit
//! ChaCha8 key. This is a statistical mixer, not a cryptographic one; it only has to make
//! distinct paths give unrelated streams. ChaCha8 (rand_chacha) is portable and fast, and its
//! output for a given key is fixed across platforms and crate versions of the 0.3 line.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A tag separating independent kinds of random decisions (e.g. "iris latent texture" from
/// "iris capture noise"), so they never share a stream even for equal ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stream(u64);

impl Stream {
    /// The stream of an iris subject's latent texture and eyelid tendencies.
    pub const IRIS_SUBJECT: Stream = Stream::named("abis.iris.subject");
    /// The stream of one iris capture: noise level, rotation, noise field, occlusions.
    pub const IRIS_CAPTURE: Stream = Stream::named("abis.iris.capture");
    /// The stream of a face subject's identity vector.
    pub const FACE_SUBJECT: Stream = Stream::named("abis.face.subject");
    /// The stream of one face capture's noise.
    pub const FACE_CAPTURE: Stream = Stream::named("abis.face.capture");

    /// A stream tag from a name (64-bit FNV-1a of its bytes). Names are stable forever: changing
    /// one changes every population generated with it.
    pub const fn named(name: &str) -> Stream {
        let bytes = name.as_bytes();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut i = 0;
        while i < bytes.len() {
            hash ^= bytes[i] as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            i += 1;
        }
        Stream(hash)
    }

    /// The raw tag.
    pub const fn tag(self) -> u64 {
        self.0
    }
}

/// SplitMix64's output finaliser: a bijective avalanche mix of 64 bits.
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The 256-bit key of the stream `stream` at `path` under `seed`.
pub fn derive_key(seed: u64, stream: Stream, path: &[u64]) -> [u8; 32] {
    let mut state = mix64(seed ^ GOLDEN);
    state = mix64(state ^ mix64(stream.0.wrapping_add(GOLDEN)));
    state = mix64(state ^ mix64((path.len() as u64).wrapping_mul(GOLDEN)));
    for (k, &element) in path.iter().enumerate() {
        let salted = element.wrapping_add((k as u64 + 1).wrapping_mul(GOLDEN));
        state = mix64(state.rotate_left(17) ^ mix64(salted));
    }
    let mut key = [0u8; 32];
    for (k, chunk) in key.chunks_exact_mut(8).enumerate() {
        state = state.wrapping_add(GOLDEN);
        chunk.copy_from_slice(&mix64(state ^ k as u64).to_le_bytes());
    }
    key
}

/// The generator of the stream `stream` at `path` under `seed` (see the module docs).
pub fn rng(seed: u64, stream: Stream, path: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(derive_key(seed, stream, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn same_inputs_same_stream_and_any_change_gives_another() {
        let base = rng(7, Stream::IRIS_SUBJECT, &[1, 0]).next_u64();
        assert_eq!(base, rng(7, Stream::IRIS_SUBJECT, &[1, 0]).next_u64());
        let others = [
            rng(8, Stream::IRIS_SUBJECT, &[1, 0]).next_u64(),
            rng(7, Stream::IRIS_CAPTURE, &[1, 0]).next_u64(),
            rng(7, Stream::IRIS_SUBJECT, &[0, 1]).next_u64(),
            rng(7, Stream::IRIS_SUBJECT, &[1]).next_u64(),
            rng(7, Stream::IRIS_SUBJECT, &[1, 0, 0]).next_u64(),
            rng(7, Stream::IRIS_SUBJECT, &[]).next_u64(),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(base, *other, "variant {i} collided");
        }
    }

    #[test]
    fn stream_names_are_distinct_and_stable() {
        let tags = [
            Stream::IRIS_SUBJECT,
            Stream::IRIS_CAPTURE,
            Stream::FACE_SUBJECT,
            Stream::FACE_CAPTURE,
        ];
        for i in 0..tags.len() {
            for j in i + 1..tags.len() {
                assert_ne!(tags[i], tags[j]);
            }
        }
        // FNV-1a 64 of "a" is a published test vector.
        assert_eq!(Stream::named("a").tag(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn consecutive_subjects_give_unrelated_keys() {
        // Adjacent ids must not share key bytes (a weak mixer would leave most bytes equal).
        let a = derive_key(1, Stream::FACE_SUBJECT, &[1000]);
        let b = derive_key(1, Stream::FACE_SUBJECT, &[1001]);
        let equal = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!(equal < 6, "{equal} of 32 key bytes equal");
    }
}
