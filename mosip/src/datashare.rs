//! A MOSIP datashare payload, decrypted.
//!
//! The payload is base64 (URL-safe, unpadded as MOSIP writes it; the standard alphabet and
//! padding are accepted too) of `KEYBLOCK || "#KEY_SPLITTER#" || DATABLOCK`:
//! - KEYBLOCK = `"VER_R2"` || SHA-256 of the recipient certificate's DER (32 bytes) || the
//!   32-byte AES key under RSA-OAEP (SHA-256, MGF1 with SHA-256). Older payloads carry only the
//!   wrapped key.
//! - DATABLOCK = 32 bytes of additional authenticated data (its first 12 are the GCM nonce) ||
//!   AES-256-GCM ciphertext || 16-byte tag.

use crate::keys::DecryptionKey;
use crate::{decode_base64, hex, MosipError, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

/// The separator between key block and data block.
const KEY_SPLITTER: &[u8] = b"#KEY_SPLITTER#";
/// The version prefix of a key block that names its certificate.
const VERSION: &[u8] = b"VER_R2";
/// Bytes of additional authenticated data heading the data block.
const AAD_LEN: usize = 32;
/// The largest payload read (a CBEFF of ten fingers, two irises and a face is about 1 MB).
pub const MAX_PAYLOAD: usize = 64 << 20;

/// Decrypts a datashare payload (as fetched: base64 text) with `key`.
pub fn decrypt(payload: &[u8], key: &DecryptionKey) -> Result<Vec<u8>> {
    if payload.len() > MAX_PAYLOAD {
        return Err(MosipError::TooLarge {
            what: "datashare payload",
            size: payload.len(),
            limit: MAX_PAYLOAD,
        });
    }
    let raw = decode_base64(payload)?;
    let split = raw
        .windows(KEY_SPLITTER.len())
        .position(|w| w == KEY_SPLITTER)
        .ok_or_else(|| MosipError::Envelope("no #KEY_SPLITTER# between key and data".into()))?;
    let (key_block, data_block) = (&raw[..split], &raw[split + KEY_SPLITTER.len()..]);
    let wrapped = match key_block.strip_prefix(VERSION) {
        Some(rest) => {
            let (thumbprint, wrapped) = rest.split_at_checked(32).ok_or_else(|| {
                MosipError::Envelope("key block shorter than its certificate thumbprint".into())
            })?;
            if thumbprint != key.thumbprint() {
                return Err(MosipError::WrongCertificate {
                    found: hex(thumbprint),
                    ours: hex(&key.thumbprint()),
                });
            }
            wrapped
        }
        None => key_block,
    };
    let aes_key = key
        .key
        .decrypt(rsa::Oaep::new::<sha2::Sha256>(), wrapped)
        .map_err(|e| MosipError::Decrypt(format!("the AES key could not be unwrapped: {e}")))?;
    let (aad, sealed) = data_block
        .split_at_checked(AAD_LEN)
        .ok_or_else(|| MosipError::Envelope(format!("data block of {} bytes", data_block.len())))?;
    let aes = UnboundKey::new(&AES_256_GCM, &aes_key)
        .map_err(|_| MosipError::Decrypt(format!("AES key of {} bytes", aes_key.len())))?;
    let nonce = Nonce::try_assume_unique_for_key(&aad[..12]).expect("12 bytes");
    let mut in_out = sealed.to_vec();
    let plain = LessSafeKey::new(aes)
        .open_in_place(nonce, Aad::from(aad), &mut in_out)
        .map_err(|_| MosipError::Decrypt("the data failed its GCM tag".into()))?;
    Ok(plain.to_vec())
}

/// Encrypts `plain` for `key`'s certificate as MOSIP's datashare does ("VER_R2" key block, a
/// fresh AES-256 key and 32 bytes of additional data from the OS), URL-safe base64 without
/// padding. What a datashare server (or a test standing in for one) serves an ABIS.
pub fn encrypt(plain: &[u8], key: &DecryptionKey) -> Result<String> {
    use base64::Engine;
    use ring::rand::{SecureRandom, SystemRandom};
    let random = SystemRandom::new();
    let mut aes_key = [0u8; 32];
    let mut aad = [0u8; AAD_LEN];
    random
        .fill(&mut aes_key)
        .and_then(|()| random.fill(&mut aad))
        .map_err(|_| MosipError::Decrypt("the OS gave no random bytes".into()))?;
    let wrapped = key
        .key
        .to_public_key()
        .encrypt(
            &mut rsa::rand_core::OsRng,
            rsa::Oaep::new::<sha2::Sha256>(),
            &aes_key,
        )
        .map_err(|e| MosipError::Decrypt(format!("the AES key could not be wrapped: {e}")))?;
    let aes = UnboundKey::new(&AES_256_GCM, &aes_key).expect("32-byte key");
    let nonce = Nonce::try_assume_unique_for_key(&aad[..12]).expect("12 bytes");
    let mut sealed = plain.to_vec();
    LessSafeKey::new(aes)
        .seal_in_place_append_tag(nonce, Aad::from(aad), &mut sealed)
        .map_err(|_| MosipError::Decrypt("AES-GCM sealing failed".into()))?;
    let mut raw = Vec::with_capacity(VERSION.len() + 32 + wrapped.len() + 14 + 32 + sealed.len());
    raw.extend_from_slice(VERSION);
    raw.extend_from_slice(&key.thumbprint());
    raw.extend_from_slice(&wrapped);
    raw.extend_from_slice(KEY_SPLITTER);
    raw.extend_from_slice(&aad);
    raw.extend_from_slice(&sealed);
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}
