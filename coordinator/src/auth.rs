//! Client authentication on the public API: a request passes with a valid
//! `authorization: Bearer <token>` header, or with a client certificate the TLS layer verified
//! against `--client-ca`; anything else is UNAUTHENTICATED. With neither tokens nor a client
//! CA configured (plaintext development) every request passes.

use tonic::{Request, Status};

/// The check, as a tonic interceptor.
#[derive(Clone)]
pub struct Auth {
    tokens: std::sync::Arc<Vec<String>>,
    certificates: bool,
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Accepts `tokens`, and client certificates when `certificates`.
    pub fn new(tokens: Vec<String>, certificates: bool) -> Self {
        Self {
            tokens: std::sync::Arc::new(tokens),
            certificates,
        }
    }

    /// Lets the request through or refuses it.
    pub fn check(&self, request: Request<()>) -> Result<Request<()>, Status> {
        if self.tokens.is_empty() && !self.certificates {
            return Ok(request);
        }
        if self.certificates && request.peer_certs().is_some_and(|c| !c.is_empty()) {
            return Ok(request);
        }
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match presented {
            Some(t) if self.tokens.iter().any(|k| same(k.as_bytes(), t.as_bytes())) => Ok(request),
            Some(_) => Err(Status::unauthenticated("invalid bearer token")),
            None => Err(Status::unauthenticated(
                "missing credentials: send authorization: Bearer <token>",
            )),
        }
    }
}
