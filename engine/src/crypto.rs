//! Templates at rest: AES-256-GCM under an operator's keys.
//!
//! A [`Keyring`] holds numbered 256-bit keys; the first is *current* (it seals everything
//! written), the others are only opened with (what older keys sealed). A sealed value is
//!
//! ```text
//! 'E' (1 byte), format version 1 (1 byte), key id (u32 LE), nonce (12 bytes, random),
//! ciphertext + GCM tag (16 bytes)
//! ```
//!
//! with *associated data* naming where the value belongs (a record's slot, a job's id), so a
//! sealed value moved to another key is refused rather than read as someone else's. Keys come
//! from a key file (or the `ABIS_DATA_KEYS` environment variable) of lines `ID HEX`: a
//! decimal id and 64 hex digits; lines starting with `#` are comments.
//!
//! Rotation: put a new key (new id) first and keep the old one below it; new writes are sealed
//! with the new key, old values still open; `abis rekey` rewrites a stopped gallery's records
//! under the current key, after which the old key can be dropped.

use crate::error::{EngineError, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// The first byte of a sealed value (a plain record starts with `R`).
pub const SEALED_TAG: u8 = b'E';
const VERSION: u8 = 1;
const HEADER: usize = 2 + 4 + NONCE_LEN;

/// Numbered keys, the first current.
pub struct Keyring {
    keys: Vec<(u32, LessSafeKey)>,
    random: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|k| k.0).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

fn bad_keys(reason: impl Into<String>) -> EngineError {
    EngineError::InvalidRequest(format!("bad key file: {}", reason.into()))
}

impl Keyring {
    /// Reads key lines (`ID HEX`, see the module doc); at least one key, ids distinct.
    pub fn parse(text: &str) -> Result<Self> {
        let mut keys: Vec<(u32, LessSafeKey)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, hex) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| bad_keys(format!("line {}: expected ID HEX", n + 1)))?;
            let id: u32 = id
                .parse()
                .map_err(|_| bad_keys(format!("line {}: the key id is not a number", n + 1)))?;
            let hex = hex.trim();
            let bytes: Option<Vec<u8>> = (hex.len() == 64)
                .then(|| {
                    (0..64)
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
                        .collect()
                })
                .flatten();
            let bytes =
                bytes.ok_or_else(|| bad_keys(format!("line {}: a key is 64 hex digits", n + 1)))?;
            if keys.iter().any(|k| k.0 == id) {
                return Err(bad_keys(format!("key id {id} given twice")));
            }
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| bad_keys("not an AES-256 key"))?;
            keys.push((id, LessSafeKey::new(key)));
        }
        if keys.is_empty() {
            return Err(bad_keys("no key"));
        }
        Ok(Self {
            keys,
            random: SystemRandom::new(),
        })
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> u32 {
        self.keys[0].0
    }

    /// Seals `plaintext` under the current key, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .expect("the operating system's random source");
        let mut out = Vec::with_capacity(HEADER + plaintext.len() + 16);
        out.extend_from_slice(&[SEALED_TAG, VERSION]);
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut body,
        )
        .expect("AES-GCM seals any length we store");
        out.extend_from_slice(&body);
        out
    }

    /// Opens a sealed value bound to `context`: the key it names must be in the ring, and the
    /// value must be exactly what was sealed there.
    pub fn open(&self, sealed: &[u8], context: &[u8], what: &str) -> Result<Vec<u8>> {
        if sealed.len() < HEADER + 16 || sealed[0] != SEALED_TAG || sealed[1] != VERSION {
            return Err(EngineError::corruption(
                what,
                "not a sealed value of format 1",
            ));
        }
        let id = u32::from_le_bytes(sealed[2..6].try_into().expect("4 bytes"));
        let key = self
            .keys
            .iter()
            .find(|k| k.0 == id)
            .map(|k| &k.1)
            .ok_or_else(|| EngineError::BadDataDir {
                path: what.to_owned(),
                reason: format!("sealed with key {id}, which the key file does not hold"),
            })?;
        let nonce = Nonce::try_assume_unique_for_key(&sealed[6..HEADER])
            .map_err(|_| EngineError::corruption(what, "bad nonce"))?;
        let mut body = sealed[HEADER..].to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(context), &mut body)
            .map_err(|_| {
                EngineError::corruption(what, "a sealed value fails its authentication tag")
            })?;
        Ok(plain.to_vec())
    }
}

/// Whether stored bytes are sealed.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.first() == Some(&SEALED_TAG)
}

/// Reads a key ring from `ABIS_DATA_KEYS` or a key file, for binaries: `file` wins when given;
/// `None` when neither is set (templates stored in clear).
pub fn keyring_from(file: Option<&std::path::Path>) -> Result<Option<Keyring>> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?,
        None => match std::env::var("ABIS_DATA_KEYS") {
            Ok(text) => text,
            Err(_) => return Ok(None),
        },
    };
    Keyring::parse(&text).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &str = "# rotation: 2 is current, 1 is still read\n\
        2 0000000000000000000000000000000000000000000000000000000000000002\n\
        1 0000000000000000000000000000000000000000000000000000000000000001\n";

    #[test]
    fn seals_open_only_with_their_key_and_context() {
        let ring = Keyring::parse(KEYS).unwrap();
        assert_eq!(ring.current_id(), 2);
        let sealed = ring.seal(b"template bytes", b"slot 7");
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(8).any(|w| w == b"template"), "no plaintext");
        assert_eq!(
            ring.open(&sealed, b"slot 7", "t").unwrap(),
            b"template bytes"
        );
        // Moved to another slot, or altered anywhere: refused.
        assert!(ring.open(&sealed, b"slot 8", "t").is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x20;
            assert!(ring.open(&bad, b"slot 7", "t").is_err(), "flip at {i}");
        }
        // Sealed by the old key: still opened; without the key: a clear refusal.
        let old = Keyring::parse(&KEYS.lines().skip(2).collect::<Vec<_>>().join("\n")).unwrap();
        let by_old = old.seal(b"older", b"c");
        assert_eq!(ring.open(&by_old, b"c", "t").unwrap(), b"older");
        let err = old.open(&sealed, b"slot 7", "t").unwrap_err();
        assert!(err.to_string().contains("key 2"), "{err}");
        // Two seals of the same bytes differ (random nonces).
        assert_ne!(ring.seal(b"x", b"c"), ring.seal(b"x", b"c"));
    }

    #[test]
    fn bad_key_files_are_refused() {
        for bad in [
            "",
            "# only\n",
            "1 abcd",
            "x 00",
            "1 0000\n",
            &format!("1 {}\n1 {}", "0".repeat(64), "1".repeat(64)),
        ] {
            assert!(Keyring::parse(bad).is_err(), "{bad:?}");
        }
    }
}
