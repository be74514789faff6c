//! Who is calling and what they may do.
//!
//! Authentication: a request passes with a valid `authorization: Bearer <token>` header, or
//! with a client certificate the TLS layer verified against `--client-ca`; anything else is
//! UNAUTHENTICATED. Tokens are compared in constant time. With neither tokens nor a client CA
//! configured (plaintext development) every request passes as `anonymous` with every role.
//!
//! Authorization: every caller has roles ([`Role`]): `admin` (the Admin service), `enrol`
//! (Insert, Delete, de-dup jobs), `identify` (Identify, de-dup jobs), `verify` (Verify) and
//! `read-jobs` (any caller's jobs; without it a caller sees only the jobs it submitted). Ping and
//! ReferenceCount need only authentication. Roles come from the token file, one token per line:
//!
//! ```text
//! # token                           roles                       name (for the audit log)
//! 3f9c...                           enrol,identify,verify       registration
//! 77ab...                           admin,read-jobs             ops
//! c001...                                                       (a token alone: enrol,identify,verify)
//! ```
//!
//! and for certificates from `--client-roles`, one line per client certificate: its SHA-256
//! fingerprint (`openssl x509 -noout -fingerprint -sha256 -in client.pem`, colons allowed), its
//! roles and a name. A certificate the CA signed but the file does not list gets the default
//! roles (`enrol,identify,verify`). `all` names every role.

use std::collections::HashMap;
use std::sync::Arc;
use tonic::{Request, Status};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The Admin service.
    Admin,
    /// Insert, Delete, de-dup jobs.
    Enrol,
    /// Identify, de-dup jobs.
    Identify,
    /// Verify.
    Verify,
    /// Every caller's jobs.
    ReadJobs,
}

impl Role {
    const ALL: [Role; 5] = [
        Role::Admin,
        Role::Enrol,
        Role::Identify,
        Role::Verify,
        Role::ReadJobs,
    ];
    const DEFAULT: [Role; 3] = [Role::Enrol, Role::Identify, Role::Verify];

    fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Enrol => "enrol",
            Role::Identify => "identify",
            Role::Verify => "verify",
            Role::ReadJobs => "read-jobs",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// How the audit log names it.
    pub name: String,
    roles: u8,
}

impl Caller {
    fn new(name: impl Into<String>, roles: &[Role]) -> Self {
        Self {
            name: name.into(),
            roles: roles.iter().fold(0, |acc, r| acc | r.bit()),
        }
    }

    /// Whether the caller has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles & role.bit() != 0
    }

    /// The caller, or PERMISSION_DENIED naming the role it lacks.
    pub fn require(&self, role: Role) -> Result<&Self, Status> {
        if self.has(role) {
            return Ok(self);
        }
        Err(abis_proto::status_from_detail(
            abis_proto::v1::ErrorDetail {
                code: abis_proto::v1::ErrorCode::PermissionDenied as i32,
                message: format!("caller {} lacks the {} role", self.name, role.name()),
                ..Default::default()
            },
        ))
    }
}

/// Parses `enrol,identify` (or `all`).
fn parse_roles(text: &str) -> anyhow::Result<Vec<Role>> {
    if text == "all" {
        return Ok(Role::ALL.to_vec());
    }
    text.split(',')
        .map(|r| {
            Role::ALL
                .into_iter()
                .find(|k| k.name() == r.trim())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown role {r:?} (roles: admin, enrol, identify, verify, read-jobs, all)"
                    )
                })
        })
        .collect()
}

/// Reads a token file (see the module doc) into `(token, caller)` pairs.
pub fn parse_tokens(text: &str) -> anyhow::Result<Vec<(String, Caller)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let token = words
            .next()
            .expect("a non-empty line has a word")
            .to_owned();
        let roles = match words.next() {
            None => Role::DEFAULT.to_vec(),
            Some(r) => parse_roles(r).map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?,
        };
        let name = words
            .next()
            .map_or_else(|| format!("token-line-{}", n + 1), str::to_owned);
        out.push((token, Caller::new(name, &roles)));
    }
    Ok(out)
}

/// Reads a client-roles file: `(fingerprint bytes, caller)` pairs.
pub fn parse_client_roles(text: &str) -> anyhow::Result<Vec<(Vec<u8>, Caller)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [fingerprint, roles, name] = words[..] else {
            anyhow::bail!("line {}: expected FINGERPRINT ROLES NAME", n + 1);
        };
        let hex: String = fingerprint
            .trim_start_matches("sha256:")
            .trim_start_matches("SHA256 Fingerprint=")
            .chars()
            .filter(|c| *c != ':')
            .collect();
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("x"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| anyhow::anyhow!("line {}: not a SHA-256 fingerprint", n + 1))?;
        let roles = parse_roles(roles).map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?;
        out.push((bytes, Caller::new(name, &roles)));
    }
    Ok(out)
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The check, as a tonic interceptor: puts the [`Caller`] in the request's extensions.
#[derive(Clone)]
pub struct Auth {
    tokens: Arc<Vec<(String, Caller)>>,
    certificates: bool,
    clients: Arc<HashMap<Vec<u8>, Caller>>,
}

impl Auth {
    /// Accepts `tokens`, and client certificates when `certificates` (with roles from
    /// `clients`, by certificate fingerprint).
    pub fn new(
        tokens: Vec<(String, Caller)>,
        certificates: bool,
        clients: Vec<(Vec<u8>, Caller)>,
    ) -> Self {
        Self {
            tokens: Arc::new(tokens),
            certificates,
            clients: Arc::new(clients.into_iter().collect()),
        }
    }

    /// Lets the request through, naming its caller, or refuses it.
    pub fn check(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = self.caller(&request)?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }

    fn caller(&self, request: &Request<()>) -> Result<Caller, Status> {
        if self.tokens.is_empty() && !self.certificates {
            return Ok(Caller::new("anonymous", &Role::ALL));
        }
        if self.certificates {
            if let Some(cert) = request.peer_certs().and_then(|c| c.first().cloned()) {
                let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
                let fingerprint = digest.as_ref();
                return Ok(self.clients.get(fingerprint).cloned().unwrap_or_else(|| {
                    let hex: String = fingerprint[..8]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    Caller::new(format!("cert-{hex}"), &Role::DEFAULT)
                }));
            }
        }
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(presented) = presented else {
            return Err(Status::unauthenticated(
                "missing credentials: send authorization: Bearer <token>",
            ));
        };
        // Every token is compared, so the time taken does not tell which one nearly matched.
        let mut found = None;
        for (token, caller) in self.tokens.iter() {
            if same(token.as_bytes(), presented.as_bytes()) && found.is_none() {
                found = Some(caller.clone());
            }
        }
        found.ok_or_else(|| Status::unauthenticated("invalid bearer token"))
    }
}

/// The caller a request was authenticated as (every request through [`Auth`] has one).
pub fn caller_of<T>(request: &Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller::new("unauthenticated", &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_give_roles_and_names() {
        let parsed =
            parse_tokens("# comment\nplain\nadm admin,read-jobs ops\nall-of-it all root\n\n")
                .unwrap();
        assert_eq!(parsed.len(), 3);
        let (_, plain) = &parsed[0];
        assert!(plain.has(Role::Enrol) && plain.has(Role::Identify) && plain.has(Role::Verify));
        assert!(!plain.has(Role::Admin) && !plain.has(Role::ReadJobs));
        assert_eq!(plain.name, "token-line-2");
        let (_, ops) = &parsed[1];
        assert!(ops.has(Role::Admin) && !ops.has(Role::Enrol));
        assert_eq!(ops.name, "ops");
        assert!(parsed[2].1.has(Role::Admin) && parsed[2].1.has(Role::Verify));
        assert!(parse_tokens("t superuser").is_err());
        let err = plain.require(Role::Admin).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn requests_are_named_or_refused() {
        let auth = Auth::new(parse_tokens("secret enrol reg").unwrap(), false, vec![]);
        let with = |t: &str| {
            let mut r = Request::new(());
            r.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
            r
        };
        let ok = auth.check(with("secret")).unwrap();
        assert_eq!(caller_of(&ok).name, "reg");
        assert!(caller_of(&ok).has(Role::Enrol) && !caller_of(&ok).has(Role::Identify));
        assert_eq!(
            auth.check(with("secreT")).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            auth.check(Request::new(())).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let open = Auth::new(vec![], false, vec![]);
        assert!(caller_of(&open.check(Request::new(())).unwrap()).has(Role::Admin));
    }

    #[test]
    fn client_roles_read_fingerprints() {
        let fp = "AB:".repeat(31) + "AB";
        let parsed = parse_client_roles(&format!("{fp} verify kiosk\n")).unwrap();
        assert_eq!(parsed[0].0, vec![0xab; 32]);
        assert_eq!(parsed[0].1.name, "kiosk");
        assert!(parse_client_roles("abcd verify x").is_err());
        assert!(parse_client_roles(&format!("{fp} verify")).is_err());
    }
}
