//! abis for MOSIP, the open national-ID platform: what it sends an ABIS and how to read it.
//!
//! - [`keys`]: the ABIS's decryption key (a PKCS#12 key store as MOSIP's partner management
//!   issues it) and the SHA-256 thumbprint of its certificate.
//! - [`datashare`]: a datashare payload decrypted: URL-safe base64 of a key block ("VER_R2", the
//!   certificate thumbprint, the AES key under RSA-OAEP-SHA256) and a data block (32 bytes of
//!   additional data whose first 12 are the nonce, then AES-256-GCM ciphertext and tag).
//! - [`cbeff`]: the CBEFF XML inside (ISO/IEC 19785-3 BIRs), each biometric data block with its
//!   type, subtype, format, purpose and quality.
//! - [`request`]: MOSIP's ABIS messages, checked and answered; [`stomp`]: the STOMP frames they
//!   travel in.
//! - With the `adapter` feature (default): the queue adapter (`adapter`, the binary
//!   `abis-mosip`) and what it runs on (`fetch`, `person`, `store`, `gallery`, `cluster`).
//!
//! Everything here reads bytes from outside: sizes are bounded and every failure is a typed
//! [`MosipError`] naming what was wrong.

#[cfg(feature = "adapter")]
pub mod adapter;
pub mod cbeff;
#[cfg(feature = "adapter")]
pub mod cluster;
pub mod datashare;
#[cfg(feature = "adapter")]
pub mod fetch;
#[cfg(feature = "adapter")]
pub mod gallery;
pub mod keys;
#[cfg(feature = "adapter")]
pub mod person;
pub mod request;
pub mod stomp;
#[cfg(feature = "adapter")]
pub mod store;

/// Why a MOSIP payload could not be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MosipError {
    /// Not base64 in either alphabet.
    #[error("not base64: {0}")]
    Base64(String),
    /// The envelope is not shaped as a datashare payload.
    #[error("malformed datashare payload: {0}")]
    Envelope(String),
    /// The payload was encrypted for another certificate than ours.
    #[error("the payload was encrypted for certificate {found}, not ours ({ours})")]
    WrongCertificate {
        /// Thumbprint in the payload, hex.
        found: String,
        /// Our certificate's thumbprint, hex.
        ours: String,
    },
    /// Decryption failed (wrong key, or the data was altered).
    #[error("decryption failed: {0}")]
    Decrypt(String),
    /// The key store could not be read.
    #[error("key store: {0}")]
    KeyStore(String),
    /// The CBEFF XML is malformed or holds no usable biometric data block.
    #[error("CBEFF: {0}")]
    Cbeff(String),
    /// The CBEFF XML is well formed but no BIR holds biometric data.
    #[error("CBEFF: no BIR holds biometric data")]
    CbeffEmpty,
    /// A size past the limits.
    #[error("{what} of {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// The result of this crate's functions.
pub type Result<T> = std::result::Result<T, MosipError>;

/// Decodes base64 in the standard or URL-safe alphabet, padded or not (MOSIP uses both).
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
    use base64::Engine;
    let normalised: Vec<u8> = text
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|&b| match b {
            b'-' => b'+',
            b'_' => b'/',
            b => b,
        })
        .collect();
    STANDARD
        .decode(&normalised)
        .map_err(|e| MosipError::Base64(e.to_string()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
