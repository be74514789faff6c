//! The ABIS's decryption key and its certificate's thumbprint.

use crate::{MosipError, Result};
use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

/// An RSA private key with the SHA-256 thumbprint of its certificate (what a datashare payload
/// names as its recipient).
#[derive(Clone)]
pub struct DecryptionKey {
    pub(crate) key: RsaPrivateKey,
    thumbprint: [u8; 32],
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("thumbprint", &crate::hex(&self.thumbprint))
            .finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// The key and certificate under `alias` (or the only private key entry when `None`) of a
    /// PKCS#12 key store.
    pub fn from_pkcs12(bytes: &[u8], password: &str, alias: Option<&str>) -> Result<Self> {
        let policy = p12_keystore::Pkcs12ImportPolicy::Strict;
        let store = p12_keystore::KeyStore::from_pkcs12(bytes, password, policy)
            .map_err(|e| MosipError::KeyStore(e.to_string()))?;
        let (name, chain) = match alias {
            Some(alias) => match store.entry(alias) {
                Some(p12_keystore::KeyStoreEntry::PrivateKeyChain(chain)) => (alias, chain),
                _ => {
                    return Err(MosipError::KeyStore(format!(
                        "no private key entry named {alias:?}"
                    )))
                }
            },
            None => store
                .private_key_chain()
                .ok_or_else(|| MosipError::KeyStore("no private key entry".into()))?,
        };
        let certificate = chain
            .certs()
            .first()
            .ok_or_else(|| MosipError::KeyStore(format!("entry {name:?} has no certificate")))?;
        let key = RsaPrivateKey::from_pkcs8_der(chain.key().as_der())
            .map_err(|e| MosipError::KeyStore(format!("entry {name:?}: not an RSA key: {e}")))?;
        Ok(Self::new(key, certificate.as_der()))
    }

    /// `key` with the DER of its certificate.
    pub fn new(key: RsaPrivateKey, certificate_der: &[u8]) -> Self {
        Self {
            key,
            thumbprint: Sha256::digest(certificate_der).into(),
        }
    }

    /// SHA-256 of the certificate's DER.
    pub fn thumbprint(&self) -> [u8; 32] {
        self.thumbprint
    }
}
