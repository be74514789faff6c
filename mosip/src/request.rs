//! MOSIP's ABIS messages (`spec/abis-api.md`): requests read and checked in the order that
//! satisfies both MOSIP's mock ABIS and its Compliance Tool Kit, and replies written as MOSIP
//! reads them (every number a string; no `failureReason` on success).
//!
//! Order of the checks (the first failing one answers): a bad or missing `id` (14), `version`
//! not "1.1" (13), missing `requestId` (6), missing `requesttime` (9), its format (15), a
//! missing `referenceId` (5), an Insert without a reference URL (8), unknown keys (4). Missing
//! keys come before unknown keys because the Tool Kit "removes" a key by renaming it
//! `<key>XXX`; when it renames `requestId`, the reply echoes the renamed key's value so the Tool
//! Kit can pair it.

use serde::Serialize;
use serde_json::{Map, Value};

/// The largest request read (MOSIP's messages carry references, not biometrics: a few KB, more
/// with a long gallery).
pub const MAX_REQUEST: usize = 1 << 20;
/// The most gallery entries an Identify may name.
pub const MAX_GALLERY: usize = 10_000;
/// The most candidates an Identify may ask for.
pub const MAX_RESULTS: usize = 1_000;

/// Why a request failed: MOSIP's failure reasons (`failureReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// 1: internal error.
    Internal,
    /// 4: the request is not shaped as the operation's (unknown keys, wrong types, bad flags).
    InvalidStructure,
    /// 5: no `referenceId`.
    MissingReferenceId,
    /// 6: no `requestId`.
    MissingRequestId,
    /// 7: the biometrics could not be fetched from the reference URL.
    UnableToFetch,
    /// 8: an Insert without a reference URL.
    MissingReferenceUrl,
    /// 9: no `requesttime`.
    MissingRequestTime,
    /// 10: the reference id is already enrolled.
    ReferenceIdExists,
    /// 11: the CBEFF holds no usable data (none, unreadable records, or not decryptable).
    CbeffHasNoData,
    /// 12: a reference id (the probe's or the gallery's) is not enrolled.
    ReferenceIdNotFound,
    /// 13: `version` is not "1.1".
    InvalidVersion,
    /// 14: `id` is not one of the six operations.
    InvalidId,
    /// 15: `requesttime` is not `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`.
    InvalidRequestTime,
    /// 16: the CBEFF is not CBEFF, or holds a record of a format abis does not read.
    InvalidCbeff,
    /// 17: the datashare URL has expired.
    DataShareExpired,
    /// 18: every sample failed the quality check.
    QualityCheckFailed,
}

impl FailureReason {
    /// The code MOSIP puts in `failureReason`.
    pub fn code(self) -> u8 {
        match self {
            Self::Internal => 1,
            Self::InvalidStructure => 4,
            Self::MissingReferenceId => 5,
            Self::MissingRequestId => 6,
            Self::UnableToFetch => 7,
            Self::MissingReferenceUrl => 8,
            Self::MissingRequestTime => 9,
            Self::ReferenceIdExists => 10,
            Self::CbeffHasNoData => 11,
            Self::ReferenceIdNotFound => 12,
            Self::InvalidVersion => 13,
            Self::InvalidId => 14,
            Self::InvalidRequestTime => 15,
            Self::InvalidCbeff => 16,
            Self::DataShareExpired => 17,
            Self::QualityCheckFailed => 18,
        }
    }
}

/// The six operations, by their `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `mosip.abis.insert`.
    Insert,
    /// `mosip.abis.identify`.
    Identify,
    /// `mosip.abis.delete`.
    Delete,
    /// `mosip.abis.ping`.
    Ping,
    /// `mosip.abis.pendingJobs`.
    PendingJobs,
    /// `mosip.abis.referenceCount`.
    ReferenceCount,
}

impl Operation {
    /// The operation named `id`.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.id() == id)
    }

    /// Every operation.
    pub const ALL: [Self; 6] = [
        Self::Insert,
        Self::Identify,
        Self::Delete,
        Self::Ping,
        Self::PendingJobs,
        Self::ReferenceCount,
    ];

    /// Its `id`, as requests name it and replies echo it.
    pub fn id(self) -> &'static str {
        match self {
            Self::Insert => "mosip.abis.insert",
            Self::Identify => "mosip.abis.identify",
            Self::Delete => "mosip.abis.delete",
            Self::Ping => "mosip.abis.ping",
            Self::PendingJobs => "mosip.abis.pendingJobs",
            Self::ReferenceCount => "mosip.abis.referenceCount",
        }
    }

    /// The keys a request of this operation may carry.
    fn keys(self) -> &'static [&'static str] {
        const COMMON: [&str; 4] = ["id", "version", "requestId", "requesttime"];
        match self {
            Self::Insert => &[
                "id",
                "version",
                "requestId",
                "requesttime",
                "referenceId",
                "referenceURL",
                "referenceUrl",
            ],
            Self::Identify => &[
                "id",
                "version",
                "requestId",
                "requesttime",
                "referenceId",
                "referenceURL",
                "referenceUrl",
                "flags",
                "gallery",
            ],
            Self::Delete => &["id", "version", "requestId", "requesttime", "referenceId"],
            Self::Ping | Self::PendingJobs | Self::ReferenceCount => &COMMON,
        }
    }
}

/// An Identify's options (`flags`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flags {
    /// `maxResults`: most candidates returned.
    pub max_results: Option<usize>,
    /// `targetFPIR`: `round(-10 log10 FPIR)`.
    pub target_fpir: Option<f64>,
}

impl Flags {
    /// The false-positive identification rate `targetFPIR` stands for.
    pub fn fpir(target: f64) -> f64 {
        10f64.powf(-target / 10.0)
    }
}

/// What a request asks, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Enrol the biometrics behind `reference_url` under `reference_id`.
    Insert {
        /// The registration's reference id.
        reference_id: String,
        /// Its datashare URL.
        reference_url: String,
    },
    /// Search with the biometrics of `reference_id` (or, when it is null, of `reference_url`).
    Identify {
        /// The probe's reference id (`None`: null in the request).
        reference_id: Option<String>,
        /// A datashare URL (empty: not given).
        reference_url: String,
        /// Options.
        flags: Flags,
        /// The reference ids to search among (`None`: the whole gallery).
        gallery: Option<Vec<String>>,
    },
    /// Remove `reference_id`.
    Delete {
        /// The reference id.
        reference_id: String,
    },
    /// Liveness.
    Ping,
    /// Requests received and not yet answered.
    PendingJobs,
    /// Records enrolled.
    ReferenceCount,
}

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The operation.
    pub operation: Operation,
    /// `requestId`.
    pub request_id: String,
    /// What it asks.
    pub body: Body,
}

/// A request refused before it ran, with what its reply must echo.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The `id` to echo (as sent, even when invalid; empty when not a string).
    pub id: String,
    /// The `requestId` to echo (or the Tool Kit's renamed `requestIdXXX`).
    pub request_id: String,
    /// Why.
    pub reason: FailureReason,
    /// A line for the log.
    pub detail: String,
}

impl Refusal {
    /// The reply to send.
    pub fn reply(&self) -> Reply {
        Reply::failure(&self.id, &self.request_id, self.reason)
    }
}

/// Reads and checks one request.
pub fn parse(bytes: &[u8]) -> Result<Request, Refusal> {
    let refuse = |id: &str, request_id: &str, reason, detail: String| Refusal {
        id: id.to_owned(),
        request_id: request_id.to_owned(),
        reason,
        detail,
    };
    if bytes.len() > MAX_REQUEST {
        return Err(refuse(
            "",
            "",
            FailureReason::InvalidStructure,
            format!("a request of {} bytes, over {MAX_REQUEST}", bytes.len()),
        ));
    }
    let object: Map<String, Value> = match serde_json::from_slice(bytes) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Err(refuse(
                "",
                "",
                FailureReason::InvalidStructure,
                "not a JSON object".into(),
            ))
        }
        Err(e) => {
            return Err(refuse(
                "",
                "",
                FailureReason::InvalidStructure,
                format!("not JSON: {e}"),
            ))
        }
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    let id = text("id").unwrap_or_default();
    let request_id = text("requestId")
        .or_else(|| text("requestIdXXX"))
        .unwrap_or_default();
    let fail = |reason, detail: &str| Err(refuse(id, request_id, reason, detail.to_owned()));

    let Some(operation) = Operation::from_id(id) else {
        return fail(FailureReason::InvalidId, "id names no ABIS operation");
    };
    if text("version") != Some("1.1") {
        return fail(FailureReason::InvalidVersion, "version is not \"1.1\"");
    }
    if !object.contains_key("requestId") {
        return fail(FailureReason::MissingRequestId, "no requestId");
    }
    let Some(request_id_value) = text("requestId").filter(|r| !r.trim().is_empty()) else {
        return fail(FailureReason::MissingRequestId, "requestId is not a string");
    };
    match object.get("requesttime") {
        None | Some(Value::Null) => {
            return fail(FailureReason::MissingRequestTime, "no requesttime")
        }
        Some(Value::String(time)) if is_request_time(time) => {}
        Some(_) => {
            return fail(
                FailureReason::InvalidRequestTime,
                "requesttime is not yyyy-MM-ddTHH:mm:ss.SSSZ",
            )
        }
    }
    let takes_reference = matches!(
        operation,
        Operation::Insert | Operation::Identify | Operation::Delete
    );
    if takes_reference && !object.contains_key("referenceId") {
        return fail(FailureReason::MissingReferenceId, "no referenceId");
    }
    let reference_url = text("referenceURL")
        .or_else(|| text("referenceUrl"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    if operation == Operation::Insert && reference_url.is_empty() {
        return fail(FailureReason::MissingReferenceUrl, "no referenceURL");
    }
    if let Some(unknown) = object
        .keys()
        .find(|k| !operation.keys().contains(&k.as_str()))
    {
        return fail(
            FailureReason::InvalidStructure,
            &format!("unknown key {unknown:?}"),
        );
    }
    let reference_id = match object.get("referenceId") {
        Some(Value::String(r)) if !r.trim().is_empty() => Some(r.clone()),
        Some(Value::Null) | None => None,
        Some(Value::String(_)) => None,
        Some(_) => {
            return fail(
                FailureReason::InvalidStructure,
                "referenceId is not a string",
            )
        }
    };
    for key in ["referenceURL", "referenceUrl"] {
        if !matches!(object.get(key), None | Some(Value::String(_) | Value::Null)) {
            return fail(
                FailureReason::InvalidStructure,
                &format!("{key} is not a string"),
            );
        }
    }
    let body = match operation {
        Operation::Insert | Operation::Delete => {
            let Some(reference_id) = reference_id else {
                return fail(FailureReason::MissingReferenceId, "referenceId is empty");
            };
            match operation {
                Operation::Insert => Body::Insert {
                    reference_id,
                    reference_url,
                },
                _ => Body::Delete { reference_id },
            }
        }
        Operation::Identify => {
            if reference_id.is_none() && reference_url.is_empty() {
                return fail(
                    FailureReason::MissingReferenceId,
                    "neither a referenceId nor a referenceURL",
                );
            }
            let flags = match flags(object.get("flags")) {
                Ok(flags) => flags,
                Err(why) => return fail(FailureReason::InvalidStructure, &why),
            };
            let gallery = match gallery(object.get("gallery")) {
                Ok(gallery) => gallery,
                Err(why) => return fail(FailureReason::InvalidStructure, &why),
            };
            Body::Identify {
                reference_id,
                reference_url,
                flags,
                gallery,
            }
        }
        Operation::Ping => Body::Ping,
        Operation::PendingJobs => Body::PendingJobs,
        Operation::ReferenceCount => Body::ReferenceCount,
    };
    Ok(Request {
        operation,
        request_id: request_id_value.to_owned(),
        body,
    })
}

/// Whether `time` is `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, a real instant.
fn is_request_time(time: &str) -> bool {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::PrimitiveDateTime::parse(time, &format).is_ok()
}

/// A number MOSIP may send as a string or a JSON number.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn flags(value: Option<&Value>) -> Result<Flags, String> {
    let mut flags = Flags {
        max_results: None,
        target_fpir: None,
    };
    let object = match value {
        None | Some(Value::Null) => return Ok(flags),
        Some(Value::Object(object)) => object,
        Some(_) => return Err("flags is not an object".into()),
    };
    if let Some(value) = object.get("maxResults").filter(|v| !v.is_null()) {
        let n = number(value)
            .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= MAX_RESULTS as f64)
            .ok_or_else(|| {
                format!("maxResults {value} is not a whole number in 1..={MAX_RESULTS}")
            })?;
        flags.max_results = Some(n as usize);
    }
    if let Some(value) = object.get("targetFPIR").filter(|v| !v.is_null()) {
        // FPIR from 1 (0) down to 1e-12 (120).
        let t = number(value)
            .filter(|t| (0.0..=120.0).contains(t))
            .ok_or_else(|| format!("targetFPIR {value} is not a number in 0..=120"))?;
        flags.target_fpir = Some(t);
    }
    // Other flags are the adopter's own (the spec allows more); abis acts on these two.
    Ok(flags)
}

fn gallery(value: Option<&Value>) -> Result<Option<Vec<String>>, String> {
    let object = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(object)) => object,
        Some(_) => return Err("gallery is not an object".into()),
    };
    let entries = match object.get("referenceIds") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err("gallery.referenceIds is not a list".into()),
    };
    if entries.len() > MAX_GALLERY {
        return Err(format!(
            "a gallery of {} entries, over {MAX_GALLERY}",
            entries.len()
        ));
    }
    let mut ids = Vec::with_capacity(entries.len());
    for entry in entries {
        // MOSIP sends entries whose referenceId is null: they name no one.
        match entry.get("referenceId") {
            Some(Value::String(id)) if !id.trim().is_empty() => ids.push(id.clone()),
            Some(Value::Null) | None => {}
            Some(_) => return Err("a gallery referenceId is not a string".into()),
        }
    }
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(Some(ids))
}

/// The time now as MOSIP writes it (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, UTC).
pub fn now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("the format has only numeric fields")
}

/// Per-modality analytics of a candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModalityAnalytics {
    /// `FIR` (fingers), `IIR` (irises) or `FID` (face).
    #[serde(rename = "biometricType")]
    pub biometric_type: &'static str,
    /// Scores.
    pub analytics: Analytics,
}

/// The scores abis gives a candidate (or one of its modalities).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analytics {
    /// 0-100: ten times the calibrated score, capped at 100.
    pub confidence: String,
    /// The calibrated score, `-log10(FMR)`, two decimals.
    #[serde(rename = "internalScore")]
    pub internal_score: String,
    /// The false match rate the score stands for.
    pub fmr: String,
}

impl Analytics {
    /// The analytics of calibrated score `score`.
    pub fn of_score(score: f64) -> Self {
        let score = score.max(0.0);
        Self {
            confidence: format!("{}", (score * 10.0).round().min(100.0) as u32),
            internal_score: format!("{score:.2}"),
            fmr: format!("{:.3e}", 10f64.powf(-score)),
        }
    }
}

/// One candidate of an Identify reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateReply {
    /// The enrolled reference id.
    #[serde(rename = "referenceId")]
    pub reference_id: String,
    /// Fused scores.
    pub analytics: Analytics,
    /// Scores per modality.
    pub modalities: Vec<ModalityAnalytics>,
}

/// An Identify's candidates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateList {
    /// How many.
    pub count: String,
    /// Best first.
    pub candidates: Vec<CandidateReply>,
}

/// A reply, as MOSIP reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    /// The request's `id`.
    pub id: String,
    /// The request's `requestId`.
    #[serde(rename = "requestId")]
    pub request_id: String,
    /// When it was answered.
    pub responsetime: String,
    /// "1" success, "2" failure.
    #[serde(rename = "returnValue")]
    pub return_value: String,
    /// Why it failed (failures only).
    #[serde(rename = "failureReason", skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Reference Count's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<String>,
    /// Pending Jobs' answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobscount: Option<String>,
    /// Identify's answer.
    #[serde(rename = "candidateList", skip_serializing_if = "Option::is_none")]
    pub candidate_list: Option<CandidateList>,
}

impl Reply {
    /// A success without content.
    pub fn success(id: &str, request_id: &str) -> Self {
        Self {
            id: id.to_owned(),
            request_id: request_id.to_owned(),
            responsetime: now(),
            return_value: "1".into(),
            failure_reason: None,
            count: None,
            jobscount: None,
            candidate_list: None,
        }
    }

    /// A failure for `reason`.
    pub fn failure(id: &str, request_id: &str, reason: FailureReason) -> Self {
        Self {
            return_value: "2".into(),
            failure_reason: Some(reason.code().to_string()),
            ..Self::success(id, request_id)
        }
    }

    /// The reply as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("replies serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn insert() -> Value {
        json!({
            "id": "mosip.abis.insert",
            "version": "1.1",
            "requestId": "r-1",
            "requesttime": "2020-03-29T07:01:24.692Z",
            "referenceId": "ref-1",
            "referenceURL": "http://127.0.0.1/datashare/1"
        })
    }

    fn code(request: &Value) -> Result<Request, (u8, String)> {
        parse(request.to_string().as_bytes()).map_err(|r| (r.reason.code(), r.request_id))
    }

    #[test]
    fn an_insert_is_read() {
        let request = code(&insert()).unwrap();
        assert_eq!(request.request_id, "r-1");
        assert_eq!(
            request.body,
            Body::Insert {
                reference_id: "ref-1".into(),
                reference_url: "http://127.0.0.1/datashare/1".into()
            }
        );
    }

    #[test]
    fn checks_run_in_the_tool_kits_order() {
        let without = |keys: &[&str]| {
            let mut r = insert();
            for k in keys {
                let v = r.as_object_mut().unwrap().remove(*k).unwrap();
                r[format!("{k}XXX")] = v;
            }
            code(&r).unwrap_err()
        };
        assert_eq!(without(&["id"]).0, 14);
        assert_eq!(without(&["version", "requestId"]).0, 13);
        // A renamed requestId is echoed so the Tool Kit can pair the reply.
        assert_eq!(without(&["requestId", "requesttime"]), (6, "r-1".into()));
        assert_eq!(without(&["requesttime", "referenceId"]).0, 9);
        assert_eq!(without(&["referenceId", "referenceURL"]).0, 5);
        assert_eq!(without(&["referenceURL"]).0, 8);
        let mut r = insert();
        r["newUnknownValue"] = json!("x");
        assert_eq!(code(&r).unwrap_err().0, 4);
        r["requesttime"] = json!("2020-03-29 07:01:24");
        assert_eq!(code(&r).unwrap_err().0, 15);
        let mut r = insert();
        r["version"] = json!("1.0");
        assert_eq!(code(&r).unwrap_err().0, 13);
        let mut r = insert();
        r["id"] = json!("mosip.abis.invalid");
        assert_eq!(code(&r).unwrap_err(), (14, "r-1".into()));
        let mut r = insert();
        r["requesttime"] = json!("2020-02-30T07:01:24.692Z");
        assert_eq!(code(&r).unwrap_err().0, 15);
    }

    #[test]
    fn mosips_identify_is_read() {
        // As MOSIP's registration processor sends it: lower-case Url, empty, string flags,
        // a null gallery; and with a gallery holding a null entry.
        let mut r = json!({
            "id": "mosip.abis.identify", "version": "1.1", "requestId": "r-2",
            "requesttime": "2020-03-29T07:01:24.692Z", "referenceId": "ref-1",
            "referenceUrl": "", "flags": {"maxResults": "30", "targetFPIR": "30", "x": "y"},
            "gallery": null
        });
        let Body::Identify {
            reference_id,
            flags,
            gallery,
            ..
        } = code(&r).unwrap().body
        else {
            panic!("not an identify")
        };
        assert_eq!(reference_id.as_deref(), Some("ref-1"));
        assert_eq!(flags.max_results, Some(30));
        assert!((Flags::fpir(flags.target_fpir.unwrap()) - 1e-3).abs() < 1e-12);
        assert_eq!(gallery, None);
        r["gallery"] = json!({"referenceIds": [{"referenceId": "a"}, {"referenceId": null}]});
        let Body::Identify { gallery, .. } = code(&r).unwrap().body else {
            panic!()
        };
        assert_eq!(gallery, Some(vec!["a".to_owned()]));
        r["flags"] = json!({"maxResults": "many"});
        assert_eq!(code(&r).unwrap_err().0, 4);
        r["flags"] = json!({"maxResults": 5, "targetFPIR": 40});
        assert!(code(&r).is_ok());
        r["referenceId"] = Value::Null;
        assert_eq!(code(&r).unwrap_err().0, 5);
    }

    #[test]
    fn bad_bytes_are_invalid_structure() {
        for bytes in [&b"{"[..], b"[]", b"\"x\"", b"\xff\xfe", b""] {
            assert_eq!(parse(bytes).unwrap_err().reason.code(), 4);
        }
        let huge = vec![b' '; MAX_REQUEST + 1];
        assert_eq!(parse(&huge).unwrap_err().reason.code(), 4);
        let mut r = insert();
        r["referenceId"] = json!({"nested": true});
        assert_eq!(code(&r).unwrap_err().0, 4);
    }

    #[test]
    fn replies_are_strings_without_extra_keys() {
        let ok = Reply::success("mosip.abis.insert", "r-1").to_json();
        let v: Value = serde_json::from_str(&ok).unwrap();
        assert_eq!(v["returnValue"], "1");
        assert!(v.get("failureReason").is_none() && v.get("version").is_none());
        assert!(is_request_time(v["responsetime"].as_str().unwrap()));
        let failed = Reply::failure("mosip.abis.insert", "r-1", FailureReason::UnableToFetch);
        let v: Value = serde_json::from_str(&failed.to_json()).unwrap();
        assert_eq!(
            (v["returnValue"].clone(), v["failureReason"].clone()),
            (json!("2"), json!("7"))
        );
        let a = Analytics::of_score(9.0);
        assert_eq!(
            (a.confidence.as_str(), a.internal_score.as_str()),
            ("90", "9.00")
        );
    }

    /// A few thousand seeded mutations of real requests (bytes flipped, inserted, cut):
    /// every one is read or refused with a code, none panics.
    #[test]
    fn mutated_requests_never_panic() {
        let mut identify = insert();
        identify["id"] = json!("mosip.abis.identify");
        identify["flags"] = json!({"maxResults": "30", "targetFPIR": "30"});
        identify["gallery"] =
            json!({"referenceIds": [{"referenceId": "a"}, {"referenceId": null}]});
        let seeds = [insert().to_string(), identify.to_string()];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        for round in 0..4_000 {
            let mut bytes = seeds[round % 2].clone().into_bytes();
            for _ in 0..1 + next(4) {
                let at = next(bytes.len());
                match next(3) {
                    0 => bytes[at] = next(256) as u8,
                    1 => {
                        let alphabet = b"{}[]\":,0-9eE\\";
                        bytes.insert(at, alphabet[next(alphabet.len())]);
                    }
                    _ => bytes.truncate(at.max(1)),
                }
            }
            match parse(&bytes) {
                Ok(request) => assert!(!request.request_id.is_empty()),
                Err(refusal) => assert!((1..=18).contains(&refusal.reason.code())),
            }
        }
    }
}
