//! MOSIP's Bio-SDK service envelope, as MOSIP's `biosdk-client` (`Client_V_1_0`) speaks it.
//!
//! A request is `{"version": "1.0", "request": "<base64 of the body JSON>"}` (standard base64;
//! URL-safe and unpadded are accepted too). A reply is
//! `{"version", "responsetime", "response", "errors"}`:
//! - an operation that ran answers HTTP 200 with `response` = MOSIP's `Response<T>`
//!   (`{"statusCode", "statusMessage", "response": T}`) and `errors` empty, also when it failed
//!   for a functional reason (bad input, quality): [`Status`] says which;
//! - a request that never reached an operation (not an envelope, bad base64, an unknown version,
//!   too large, not authenticated) answers `errors` = `[{"code", "message"}]` with `response`
//!   null and an HTTP 4xx ([`EnvelopeError`]); MOSIP's client throws on a non-empty `errors`.

use serde::Serialize;
use serde_json::Value;

/// The one service version this implementation answers (MOSIP's `Client_V_1_0`).
pub const VERSION: &str = "1.0";

/// MOSIP's status codes of `Response<T>` (`ResponseStatus` in MOSIP's bio-SDK services).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200 OK.
    Success,
    /// 401 Invalid Input Parameter - %s.
    InvalidInput,
    /// 402 Missing Input Parameter - %s.
    MissingInput,
    /// 403 Quality check of Biometric data failed.
    QualityCheckFailed,
    /// 406 Data provided is of poor quality.
    PoorDataQuality,
    /// 500 UNKNOWN_ERROR.
    UnknownError,
}

impl Status {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            Status::Success => 200,
            Status::InvalidInput => 401,
            Status::MissingInput => 402,
            Status::QualityCheckFailed => 403,
            Status::PoorDataQuality => 406,
            Status::UnknownError => 500,
        }
    }

    /// MOSIP's message, with `detail` where MOSIP's has a `%s` (else appended after " - ").
    pub fn message(self, detail: &str) -> String {
        let base = match self {
            Status::Success => "OK",
            Status::InvalidInput => "Invalid Input Parameter",
            Status::MissingInput => "Missing Input Parameter",
            Status::QualityCheckFailed => "Quality check of Biometric data failed",
            Status::PoorDataQuality => "Data provided is of poor quality",
            Status::UnknownError => "UNKNOWN_ERROR",
        };
        if detail.is_empty() {
            base.to_owned()
        } else {
            format!("{base} - {detail}")
        }
    }
}

/// An operation's functional failure: a status other than 200 and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .status.message(.detail))]
pub struct Failure {
    /// The status.
    pub status: Status,
    /// What was wrong (no biometric data).
    pub detail: String,
}

impl Failure {
    /// A failure of `status`.
    pub fn new(status: Status, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    /// 401: a parameter holds what cannot be used.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(Status::InvalidInput, detail)
    }

    /// 402: a parameter is missing.
    pub fn missing(detail: impl Into<String>) -> Self {
        Self::new(Status::MissingInput, detail)
    }
}

/// What an operation answers: MOSIP's `Response<T>`.
pub type Outcome = Result<Value, Failure>;

/// The `response` member of a reply for an operation's outcome.
pub fn response_of(outcome: &Outcome) -> Value {
    match outcome {
        Ok(value) => serde_json::json!({
            "statusCode": Status::Success.code(),
            "statusMessage": Status::Success.message(""),
            "response": value,
        }),
        Err(f) => serde_json::json!({
            "statusCode": f.status.code(),
            "statusMessage": f.status.message(&f.detail),
            "response": Value::Null,
        }),
    }
}

/// Why a request never reached an operation: the `errors` entry and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EnvelopeError {
    /// HTTP status of the reply.
    pub http: u16,
    /// MOSIP's error code (`INVALID_REQUEST_BODY`, `BIO_SDK_001`, `UNCHECKED_EXCEPTION`, ...).
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl EnvelopeError {
    /// `INVALID_REQUEST_BODY` (HTTP 400).
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self {
            http: 400,
            code: "INVALID_REQUEST_BODY",
            message: message.into(),
        }
    }
}

/// `{"code", "message"}`, as MOSIP's `ErrorDto`.
#[derive(Debug, Serialize)]
struct ErrorDto<'a> {
    code: &'a str,
    message: &'a str,
}

/// A whole reply: `response` (or null) and `errors`.
pub fn reply(version: &str, response: Value, errors: &[EnvelopeError]) -> Value {
    let errors: Vec<ErrorDto<'_>> = errors
        .iter()
        .map(|e| ErrorDto {
            code: e.code,
            message: &e.message,
        })
        .collect();
    serde_json::json!({
        "version": version,
        "responsetime": now(),
        "response": response,
        "errors": errors,
    })
}

/// The time now as MOSIP writes it: `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` in UTC (MOSIP's one
/// format, shared with the ABIS messages).
pub use abis_mosip::request::now;

/// A request envelope read: its version and its body's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `version`.
    pub version: String,
    /// The decoded `request`.
    pub body: Value,
}

/// Reads an envelope from the HTTP body: JSON with a string `version` equal to [`VERSION`]
/// and `request`, base64 of a JSON object.
pub fn read_envelope(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    let outer: Value = serde_json::from_slice(bytes)
        .map_err(|e| EnvelopeError::invalid_body(format!("the request is not JSON: {e}")))?;
    let Value::Object(outer) = outer else {
        return Err(EnvelopeError::invalid_body(
            "the request is not a JSON object",
        ));
    };
    let version = match outer.get("version") {
        Some(Value::String(v)) => v.clone(),
        Some(_) => return Err(EnvelopeError::invalid_body("version is not a string")),
        None => return Err(EnvelopeError::invalid_body("version is missing")),
    };
    if version != VERSION {
        return Err(EnvelopeError {
            http: 400,
            code: "BIO_SDK_001",
            message: format!(
                "No Bio SDK service provider implementations found for given version \
                 {version:?}; this service implements {VERSION:?}"
            ),
        });
    }
    let encoded = match outer.get("request") {
        Some(Value::String(r)) => r,
        Some(_) => return Err(EnvelopeError::invalid_body("request is not a string")),
        None => return Err(EnvelopeError::invalid_body("request is missing")),
    };
    let decoded = abis_mosip::decode_base64(encoded.as_bytes())
        .map_err(|e| EnvelopeError::invalid_body(format!("request: {e}")))?;
    let body: Value = serde_json::from_slice(&decoded).map_err(|e| {
        EnvelopeError::invalid_body(format!("request: the decoded body is not JSON: {e}"))
    })?;
    if !body.is_object() {
        return Err(EnvelopeError::invalid_body(
            "request: the decoded body is not a JSON object",
        ));
    }
    Ok(Envelope { version, body })
}

/// An envelope holding `body`, as MOSIP's client writes it (for tests and benches).
pub fn envelope(body: &Value) -> Value {
    use base64::Engine;
    serde_json::json!({
        "version": VERSION,
        "request": base64::engine::general_purpose::STANDARD.encode(body.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_read_in_either_base64_alphabet() {
        let body = serde_json::json!({"sample": {"segments": []}, "x": "??>>"});
        let standard = envelope(&body);
        assert_eq!(
            read_envelope(standard.to_string().as_bytes()).unwrap().body,
            body
        );
        use base64::Engine;
        let url = serde_json::json!({
            "version": "1.0",
            "request": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string()),
        });
        assert_eq!(
            read_envelope(url.to_string().as_bytes()).unwrap().body,
            body
        );
    }

    #[test]
    fn bad_envelopes_are_named() {
        let code = |bytes: &[u8]| read_envelope(bytes).unwrap_err().code;
        assert_eq!(code(b"not json"), "INVALID_REQUEST_BODY");
        assert_eq!(code(b"[]"), "INVALID_REQUEST_BODY");
        assert_eq!(code(br#"{"request":"e30="}"#), "INVALID_REQUEST_BODY");
        assert_eq!(
            code(br#"{"version":"1.0","request":"%%%"}"#),
            "INVALID_REQUEST_BODY"
        );
        assert_eq!(
            code(br#"{"version":"1.0","request":"bm90IGpzb24="}"#),
            "INVALID_REQUEST_BODY"
        );
        assert_eq!(
            code(br#"{"version":"9.9","request":"e30="}"#),
            "BIO_SDK_001"
        );
        assert!(read_envelope(br#"{"version":"1.0","request":"e30="}"#).is_ok());
    }

    #[test]
    fn replies_carry_mosip_times_and_statuses() {
        let t = now();
        assert_eq!(t.len(), "2026-12-07T10:00:00.000Z".len(), "{t}");
        let r = response_of(&Err(Failure::missing("sample")));
        assert_eq!(r["statusCode"], 402);
        assert_eq!(r["statusMessage"], "Missing Input Parameter - sample");
        let ok = reply("1.0", response_of(&Ok(Value::Null)), &[]);
        assert_eq!(ok["errors"], serde_json::json!([]));
        assert_eq!(ok["response"]["statusCode"], 200);
    }
}
