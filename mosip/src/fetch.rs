//! Fetching a registration's biometrics from MOSIP's datashare: `GET referenceURL` with the
//! JWT from MOSIP's client-id/secret-key endpoint in `Cookie: Authorization=<token>` (fetched
//! at the first use, renewed once on 401). MOSIP answers functional errors with HTTP 200 and a
//! JSON `errors` list: `DAT-SER-006` is an expired share (failure 17), anything else a failed
//! fetch (7). A share allows two GETs in 30 minutes, so the adapter keeps what it fetched
//! until the request is answered.

use crate::request::FailureReason;
use std::time::Duration;
use tokio::sync::Mutex;

/// The largest datashare answer read.
pub const MAX_SHARE: usize = crate::datashare::MAX_PAYLOAD;

/// MOSIP's authentication endpoint and the ABIS's credentials there.
#[derive(Debug, Clone)]
pub struct Auth {
    /// `https://{base}/v1/authmanager/authenticate/clientidsecretkey`.
    pub url: String,
    /// `appId` (MOSIP: "regproc").
    pub app_id: String,
    /// `clientId`.
    pub client_id: String,
    /// `secretKey`.
    pub secret_key: String,
}

/// Why a fetch failed, with the failure reason MOSIP expects.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct FetchError {
    /// 7 (unable to fetch) or 17 (expired).
    pub reason: FailureReason,
    /// What happened.
    pub detail: String,
}

fn unable(detail: impl Into<String>) -> FetchError {
    FetchError {
        reason: FailureReason::UnableToFetch,
        detail: detail.into(),
    }
}

/// A datashare client.
pub struct Fetcher {
    client: reqwest::Client,
    auth: Option<Auth>,
    token: Mutex<Option<String>>,
}

impl Fetcher {
    /// A client; `auth` `None` sends no token (a datashare that wants none).
    pub fn new(auth: Option<Auth>, extra_ca: Option<&[u8]>) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3));
        if let Some(pem) = extra_ca {
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Self {
            client: builder.build()?,
            auth,
            token: Mutex::new(None),
        })
    }

    /// The datashare payload (base64 text) behind `url`.
    pub async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| unable(format!("reference URL {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(unable(format!("reference URL {url:?} is not http(s)")));
        }
        let mut renewed = false;
        loop {
            let token = self.token(renewed).await?;
            let mut request = self.client.get(parsed.clone());
            if let Some(token) = &token {
                request = request.header(reqwest::header::COOKIE, format!("Authorization={token}"));
            }
            let response = request
                .send()
                .await
                .map_err(|e| unable(format!("GET {url}: {e}")))?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && self.auth.is_some() && !renewed {
                renewed = true;
                continue;
            }
            if !status.is_success() {
                return Err(unable(format!("GET {url}: HTTP {status}")));
            }
            let body = read_limited(response, MAX_SHARE)
                .await
                .map_err(|e| unable(format!("GET {url}: {e}")))?;
            return check_errors(body);
        }
    }

    /// The token to send (`None` without auth), fetched when there is none or `renew`.
    async fn token(&self, renew: bool) -> Result<Option<String>, FetchError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let mut token = self.token.lock().await;
        if token.is_none() || renew {
            *token = Some(self.authenticate(auth).await?);
        }
        Ok(token.clone())
    }

    async fn authenticate(&self, auth: &Auth) -> Result<String, FetchError> {
        let body = serde_json::json!({
            "id": "mosip.io.clientId.pwd",
            "metadata": {},
            "version": "1.0",
            "requesttime": crate::request::now(),
            "request": {
                "appId": auth.app_id,
                "clientId": auth.client_id,
                "secretKey": auth.secret_key,
            }
        });
        let response = self
            .client
            .post(&auth.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| unable(format!("authenticating at {}: {e}", auth.url)))?;
        if !response.status().is_success() {
            return Err(unable(format!(
                "authenticating at {}: HTTP {}",
                auth.url,
                response.status()
            )));
        }
        // The token comes back as a cookie named Authorization (any case).
        let token = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|cookie| {
                let (name, rest) = cookie.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("authorization")
                    .then(|| rest.split(';').next().unwrap_or_default().trim().to_owned())
            })
            .filter(|t| !t.is_empty());
        token.ok_or_else(|| {
            unable(format!(
                "authenticating at {}: no Authorization cookie in the answer",
                auth.url
            ))
        })
    }
}

/// The body, or the failure its JSON `errors` list names.
fn check_errors(body: Vec<u8>) -> Result<Vec<u8>, FetchError> {
    let trimmed = body.trim_ascii_start();
    if !trimmed.starts_with(b"{") {
        return Ok(body);
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(trimmed) else {
        return Err(unable("the datashare answered malformed JSON"));
    };
    let codes: Vec<String> = json
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let code = e.get("errorCode").and_then(|c| c.as_str()).unwrap_or("?");
                    let message = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                    format!("{code} {message}").trim().to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    if codes.iter().any(|c| c.starts_with("DAT-SER-006")) {
        return Err(FetchError {
            reason: FailureReason::DataShareExpired,
            detail: format!("the datashare has expired: {}", codes.join("; ")),
        });
    }
    if codes.is_empty() {
        return Err(unable("the datashare answered JSON, not a payload"));
    }
    Err(unable(format!(
        "the datashare answered {}",
        codes.join("; ")
    )))
}

async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(format!(
            "an answer of {:?} bytes, over {limit}",
            response.content_length()
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > limit {
            return Err(format!("an answer over {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datashare_errors_are_told_apart() {
        let expired =
            br#"{"errors":[{"errorCode":"DAT-SER-006","message":"Data share usuage expired"}]}"#;
        assert_eq!(
            check_errors(expired.to_vec()).unwrap_err().reason,
            FailureReason::DataShareExpired
        );
        let other = br#"{"errors":[{"errorCode":"DAT-SER-001","message":"x"}]}"#;
        assert_eq!(
            check_errors(other.to_vec()).unwrap_err().reason,
            FailureReason::UnableToFetch
        );
        assert_eq!(check_errors(b"VkVSX1Iy".to_vec()).unwrap(), b"VkVSX1Iy");
    }
}
