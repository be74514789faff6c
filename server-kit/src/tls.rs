//! The PEM material of one side of a TLS hop, and the tonic configurations built from it: one
//! way to read certificates and set up mutual TLS for the coordinator, the shard node and
//! `abis serve`.

use anyhow::Context;
use std::path::Path;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// A certificate chain and its key, and the CA the other side must be signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPem {
    /// PEM certificate chain.
    pub cert: Vec<u8>,
    /// PEM private key.
    pub key: Vec<u8>,
    /// PEM CA of the other side: clients for a server, servers for a client.
    pub ca: Option<Vec<u8>>,
}

impl TlsPem {
    /// Reads the files, naming the one that cannot be read.
    pub fn read(cert: &Path, key: &Path, ca: Option<&Path>) -> anyhow::Result<Self> {
        let read = |path: &Path, what: &str| {
            std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
        };
        Ok(Self {
            cert: read(cert, "TLS certificate")?,
            key: read(key, "TLS key")?,
            ca: ca.map(|p| read(p, "CA certificate")).transpose()?,
        })
    }

    /// The server side: this identity and, with a CA, clients checked against it. A client
    /// certificate is then required, unless `client_certificate_optional` (when a bearer token
    /// may authenticate the client instead).
    pub fn server(&self, client_certificate_optional: bool) -> ServerTlsConfig {
        let config = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert, &self.key));
        match &self.ca {
            Some(ca) => config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(client_certificate_optional),
            None => config,
        }
    }

    /// The client side: this identity, and with a CA the server checked against it.
    pub fn client(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().identity(Identity::from_pem(&self.cert, &self.key));
        match &self.ca {
            Some(ca) => config.ca_certificate(Certificate::from_pem(ca)),
            None => config,
        }
    }
}
