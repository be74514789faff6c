//! The Bio-SDK service's contract, driven over HTTP as MOSIP's `biosdk-client` drives it: the
//! `abis-biosdk` binary on 127.0.0.1 (plain HTTP via `--insecure-plaintext`), requests in
//! MOSIP's envelope built from MOSIP's test vector (`../shared/data/mosip`) and FVC2002 images.
//! Every answer must have MOSIP's shape: never a crash, never a bare 5xx.
//!
//! Tests needing `../shared/data` or the models fail under `CI=true` when they are missing, and
//! print a SKIP line otherwise.

#[path = "../../mosip/tests/common/images.rs"]
mod images;

use abis_mosip::cbeff::{self, Modality, Sample};
use abis_server_kit::process::Proc;
use base64::Engine;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// A running service and the folder of its files.
struct Service {
    proc: Proc,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = ["--listen", "127.0.0.1:0", "--insecure-plaintext"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        if !extra.contains(&"--token-file") {
            args.push("--insecure-no-auth".into());
        }
        args.push("--audit-log".into());
        args.push(dir.path().join("audit.log").display().to_string());
        let proc = Proc::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_abis-biosdk")),
            &args,
            &dir.path().join("service.log"),
        )
        .unwrap();
        Self { proc, _dir: dir }
    }

    fn addr(&self) -> SocketAddr {
        self.proc.addr
    }

    fn audit(&self) -> PathBuf {
        self._dir.path().join("audit.log")
    }

    /// POSTs `body` in MOSIP's envelope to `path`; the HTTP status and the reply.
    fn call(&self, path: &str, body: &Value) -> (u16, Value) {
        let envelope = abis_biosdk::wire::envelope(body);
        self.post(path, envelope.to_string().as_bytes(), &[])
    }

    /// The reply of a successful operation (statusCode 200), checked for MOSIP's shape.
    fn ok(&self, path: &str, body: &Value) -> Value {
        let (http, reply) = self.call(path, body);
        assert_eq!(http, 200, "{reply}");
        assert_eq!(reply["response"]["statusCode"], 200, "{reply}");
        reply["response"]["response"].clone()
    }

    fn post(&self, path: &str, body: &[u8], headers: &[&str]) -> (u16, Value) {
        let (status, text) = exchange(self.addr(), "POST", path, headers, body);
        let reply: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: HTTP {status}, not JSON ({e}): {text:.300}"));
        check_shape(status, &reply);
        (status, reply)
    }
}

/// One HTTP/1.1 exchange: the status and the body.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading a large body and close: ignore write errors.
    let _ = stream.write_all(body);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:.200}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_owned())
}

/// MOSIP's reply shape: `version`, `responsetime`, `errors` (an array); with no errors a
/// `Response<T>` with a known status code, with errors a null response and a 4xx/5xx.
fn check_shape(http: u16, reply: &Value) {
    assert!(reply["version"].is_string(), "{reply}");
    let time = reply["responsetime"].as_str().unwrap();
    assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
    let errors = reply["errors"].as_array().expect("errors is an array");
    if errors.is_empty() {
        assert_eq!(http, 200, "{reply}");
        let code = reply["response"]["statusCode"].as_u64().unwrap();
        assert!([200, 401, 402, 403, 406, 500].contains(&code), "{reply}");
        assert!(reply["response"]["statusMessage"].is_string(), "{reply}");
    } else {
        assert!(http >= 400, "{reply}");
        assert!(reply["response"].is_null(), "{reply}");
        for e in errors {
            assert!(e["code"].is_string() && e["message"].is_string(), "{reply}");
        }
    }
}

/// The status code and message of a functional failure.
fn failure(reply: &Value) -> (u64, String) {
    assert_eq!(reply["errors"], json!([]), "{reply}");
    (
        reply["response"]["statusCode"].as_u64().unwrap(),
        reply["response"]["statusMessage"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// The code of an envelope failure.
fn error_code(reply: &Value) -> String {
    reply["errors"][0]["code"].as_str().unwrap().to_owned()
}

/// MOSIP's test vector's samples (decrypted with its key store).
fn vector() -> Option<Vec<Sample>> {
    Some(cbeff::samples(&images::test_vector_xml()?).unwrap())
}

/// A `BiometricRecord` as MOSIP's client serialises one, of CBEFF samples.
fn record(samples: &[Sample]) -> Value {
    let segments: Vec<Value> = samples
        .iter()
        .map(|s| {
            let kind = match &s.modality {
                Modality::Finger => "Finger",
                Modality::Iris => "Iris",
                Modality::Face => "Face",
                Modality::Other(o) => o.as_str(),
            };
            json!({
                "version": {"major": 1, "minor": 1},
                "cbeffversion": {"major": 1, "minor": 1},
                "birInfo": {"integrity": false},
                "bdbInfo": {
                    "type": [kind],
                    "subtype": s.subtype.split_whitespace().collect::<Vec<_>>(),
                    "format": {"organization": s.format_owner, "type": s.format_type},
                    "level": "Raw",
                    "purpose": "Auth",
                    "quality": {"algorithm": {"organization": "HMAC", "type": "SHA-256"}, "score": 80},
                },
                "bdb": base64::engine::general_purpose::STANDARD.encode(&s.data),
                "others": {},
            })
        })
        .collect();
    json!({
        "version": {"major": 1, "minor": 1},
        "cbeffversion": {"major": 1, "minor": 1},
        "birInfo": {"integrity": false},
        "segments": segments,
    })
}

fn match_body(sample: &Value, gallery: &[Value], modalities: &[&str]) -> Value {
    json!({
        "sample": sample,
        "gallery": gallery,
        "modalitiesToMatch": modalities,
        "flags": {},
    })
}

/// The decision words of one gallery entry, by modality.
fn decisions(entry: &Value) -> Vec<(String, String)> {
    entry["decisions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["match"].as_str().unwrap().to_owned()))
        .collect()
}

fn all(decision: &str, modalities: &[&str]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = modalities
        .iter()
        .map(|m| (m.to_string(), decision.to_owned()))
        .collect();
    v.sort();
    v
}

#[test]
fn every_malformed_request_gets_mosips_shape() {
    let service = Service::start(&["--max-body-bytes", "65536", "--max-gallery", "4"]);
    let addr = service.addr();
    let (status, text) = exchange(addr, "GET", "/", &[], b"");
    assert_eq!(status, 200);
    assert!(text.starts_with("Service is running... "), "{text}");
    let (status, _) = exchange(addr, "GET", "/biosdk-service", &[], b"");
    assert_eq!(status, 200);

    // /init answers SDKInfo directly, at the root and under MOSIP's context path.
    for path in ["/init", "/biosdk-service/init"] {
        let info = service.ok(path, &json!({}));
        assert_eq!(info["apiVersion"], "0.9");
        assert_eq!(
            info["supportedModalities"],
            json!(["FINGER", "IRIS", "FACE"])
        );
        assert!(info["supportedMethods"]["MATCH"].is_array(), "{info}");
        assert_eq!(info["productOwner"]["organization"], "abis");
    }

    // Envelopes.
    let cases: [(&[u8], &str); 6] = [
        (b"not json", "INVALID_REQUEST_BODY"),
        (b"[1, 2]", "INVALID_REQUEST_BODY"),
        (br#"{"version":"1.0"}"#, "INVALID_REQUEST_BODY"),
        (
            br#"{"version":"1.0","request":"!!not base64!!"}"#,
            "INVALID_REQUEST_BODY",
        ),
        (
            br#"{"version":"1.0","request":"bm90IGpzb24="}"#,
            "INVALID_REQUEST_BODY",
        ),
        (br#"{"version":"7.3","request":"e30="}"#, "BIO_SDK_001"),
    ];
    for (body, code) in cases {
        for path in ["/match", "/check-quality", "/init"] {
            let (http, reply) = service.post(path, body, &[]);
            assert_eq!(http, 400, "{reply}");
            assert_eq!(error_code(&reply), code, "{reply}");
        }
    }
    // A huge body: 413 in MOSIP's shape, with or without a declared length.
    let huge = vec![b'x'; 200_000];
    let (http, reply) = service.post("/match", &huge, &[]);
    assert_eq!(http, 413, "{reply}");
    assert_eq!(error_code(&reply), "INVALID_REQUEST_BODY");
    let big_envelope = abis_biosdk::wire::envelope(&json!({"pad": "y".repeat(100_000)}));
    let (http, _) = service.post("/match", big_envelope.to_string().as_bytes(), &[]);
    assert_eq!(http, 413);

    // A huge body sent in chunks (no declared length): cut at the limit, 413 all the same.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let _ = stream.write_all(
        b"POST /match HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for _ in 0..20 {
        let chunk = vec![b'z'; 10_000];
        let _ = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = stream.write_all(&chunk);
        let _ = stream.write_all(b"\r\n");
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 413"), "{out:.300}");
    let reply: Value = serde_json::from_str(out.split_once("\r\n\r\n").unwrap().1).unwrap();
    check_shape(413, &reply);

    // Bodies.
    let finger = json!({"segments": [{
        "bdbInfo": {"type": ["FINGER"], "subtype": ["Left", "IndexFinger"], "format": {"organization": "Mosip", "type": "7"}},
        "bdb": base64::engine::general_purpose::STANDARD.encode(b"not an ISO record at all"),
    }]});
    let cases = [
        ("/match", json!({}), 402, "Missing Input Parameter - sample"),
        (
            "/match",
            json!({"sample": {"segments": []}, "gallery": [finger]}),
            402,
            "sample.segments",
        ),
        (
            "/match",
            json!({"sample": finger, "gallery": []}),
            402,
            "gallery",
        ),
        ("/match", json!({"sample": finger}), 402, "gallery"),
        (
            "/match",
            json!({"sample": finger, "gallery": [finger, finger, finger, finger, finger]}),
            401,
            "at most 4",
        ),
        (
            "/match",
            match_body(&finger, std::slice::from_ref(&finger), &["VOICE"]),
            401,
            "VOICE",
        ),
        (
            "/match",
            json!({"sample": finger, "gallery": [finger], "flags": {"targetFMR": "0.5"}}),
            401,
            "targetFMR",
        ),
        (
            "/match",
            json!({"sample": 7, "gallery": [finger]}),
            401,
            "sample",
        ),
        (
            "/match",
            json!({"sample": {"segments": [{"bdbInfo": {"type": ["Finger"]}, "bdb": "%%%"}]}, "gallery": [finger]}),
            401,
            "bdb",
        ),
        (
            "/match",
            json!({"sample": {"segments": [{"bdb": "AAAA"}]}, "gallery": [finger]}),
            402,
            "bdbInfo",
        ),
        (
            "/match",
            match_body(&finger, std::slice::from_ref(&finger), &["FINGER"]),
            401,
            "not an ISO image record",
        ),
        (
            "/check-quality",
            json!({"modalitiesToCheck": ["FINGER"]}),
            402,
            "sample",
        ),
        (
            "/check-quality",
            json!({"sample": finger, "modalitiesToCheck": ["DNA"]}),
            401,
            "DNA",
        ),
        (
            "/extract-template",
            json!({"sample": {"segments": "no"}}),
            401,
            "segments",
        ),
        (
            "/segment",
            json!({"sample": finger}),
            401,
            "segment is not supported",
        ),
        (
            "/convert-format",
            json!({"sample": finger, "sourceFormat": "ISO19794_4_2011", "targetFormat": "WSQ"}),
            401,
            "not supported",
        ),
        (
            "/convert-format",
            json!({"sample": finger, "targetFormat": "IMAGE/PNG"}),
            402,
            "sourceFormat",
        ),
    ];
    for (path, body, code, words) in cases {
        let (http, reply) = service.call(path, &body);
        assert_eq!(http, 200, "{path} {body}: {reply}");
        let (got, message) = failure(&reply);
        assert_eq!(got, code, "{path} {body}: {reply}");
        assert!(
            message.contains(words),
            "{path}: {message:?} lacks {words:?}"
        );
    }
    // A modality the sample lacks: the decision is ERROR, the call succeeds.
    let answer = service.ok(
        "/match",
        &json!({"sample": finger, "gallery": [finger], "modalitiesToMatch": ["FACE"]}),
    );
    assert_eq!(answer[0]["decisions"]["FACE"]["match"], "ERROR", "{answer}");
    assert_eq!(answer[0]["galleryIndex"], 0);
    // An unknown path is not an operation.
    let (status, _) = exchange(addr, "POST", "/verify", &[], b"{}");
    assert_eq!(status, 404);

    // Metrics count what was answered; the audit log has entries and no biometric data.
    let (status, metrics) = exchange(addr, "GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"abis_biosdk_requests_total{operation="match",outcome="402"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("BIO_SDK_001"), "{metrics}");
    let verified = abis_server_kit::audit::verify(&service.audit()).unwrap();
    assert!(verified.entries >= 10, "{verified:?}");
    let log = std::fs::read_to_string(service.audit()).unwrap();
    assert!(
        !log.contains("bm90IGFu"),
        "the audit log holds request data"
    );
    assert!(
        !service.proc.log().contains("panicked"),
        "{}",
        service.proc.log()
    );
}

#[test]
fn tokens_are_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "s3cret-token ida\n").unwrap();
    let service = Service::start(&["--token-file", tokens.to_str().unwrap()]);
    let body = abis_biosdk::wire::envelope(&json!({})).to_string();
    for headers in [
        &[][..],
        &["Authorization: Bearer wrong"][..],
        &["Authorization: s3cret-token"][..],
    ] {
        let (http, reply) = service.post("/init", body.as_bytes(), headers);
        assert_eq!(http, 401, "{reply}");
        assert_eq!(error_code(&reply), "KER-ATH-401");
    }
    let (http, reply) = service.post(
        "/init",
        body.as_bytes(),
        &["Authorization: Bearer s3cret-token"],
    );
    assert_eq!(http, 200, "{reply}");
    assert_eq!(reply["response"]["response"]["apiVersion"], "0.9");
}

#[test]
fn the_test_vector_matches_itself_its_recapture_and_its_templates_not_a_stranger() {
    let Some(samples) = vector() else { return };
    if !images::models_installed() || abis_test_data::shared_data("fvc2002/DB1_B").is_none() {
        return;
    }
    let service = Service::start(&[]);
    let modalities = ["FACE", "FINGER", "IRIS"];
    let vector = record(&samples);

    // Quality: every modality scored in 0..=100 with what was measured.
    let quality = service.ok(
        "/check-quality",
        &json!({"sample": vector, "modalitiesToCheck": [], "flags": {}}),
    );
    for m in modalities {
        let score = quality["scores"][m]["score"].as_f64().unwrap();
        assert!(
            (0.0..=100.0).contains(&score) && score > 0.0,
            "{m}: {quality}"
        );
    }
    eprintln!("test vector quality: {}", quality["scores"]);

    // Itself.
    let answer = service.ok(
        "/match",
        &match_body(&vector, std::slice::from_ref(&vector), &modalities),
    );
    assert_eq!(
        decisions(&answer[0]),
        all("MATCHED", &modalities),
        "{answer}"
    );
    let fused: f64 = answer[0]["decisions"]["FINGER"]["analyticsInfo"]["score"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(fused >= 4.0, "{answer}");

    // A re-capture (fingers and irises shifted, contrast changed, noise), and a stranger's
    // fingers (FVC2002 DB1_B subjects 101 and 102 as right and left index): decided per entry.
    let xml = cbeff::samples(&images::recaptured_packet(&cbeff_xml(&samples))).unwrap();
    let recapture = record(&xml);
    let stranger = record(&cbeff::samples(&images::person("DB1_B", 101, 102)).unwrap());
    let answer = service.ok(
        "/match",
        &match_body(
            &recapture,
            &[vector.clone(), stranger.clone()],
            &["FINGER", "IRIS"],
        ),
    );
    assert_eq!(
        decisions(&answer[0]),
        all("MATCHED", &["FINGER", "IRIS"]),
        "{answer}"
    );
    assert_eq!(
        answer[1]["decisions"]["FINGER"]["match"], "NOT_MATCHED",
        "{answer}"
    );
    assert_eq!(answer[1]["decisions"]["IRIS"]["match"], "ERROR", "{answer}");
    assert_eq!(answer[1]["galleryIndex"], 1);

    // Templates: extracted, stored, matched against images and against each other.
    let extracted = service.ok(
        "/extract-template",
        &json!({"sample": vector, "modalitiesToExtract": [], "flags": {}}),
    );
    let segments = extracted["segments"].as_array().unwrap();
    assert_eq!(segments.len(), samples.len());
    let formats: Vec<&str> = segments
        .iter()
        .filter_map(|s| s["bdbInfo"]["format"]["type"].as_str())
        .collect();
    assert!(formats.contains(&"finger-iso-19794-2"), "{formats:?}");
    assert!(formats.contains(&"iris-open-iris-12800"), "{formats:?}");
    assert!(formats.contains(&"face-dlib-128"), "{formats:?}");
    let answer = service.ok(
        "/match",
        &match_body(
            &recapture,
            std::slice::from_ref(&extracted),
            &["FINGER", "IRIS"],
        ),
    );
    assert_eq!(
        decisions(&answer[0]),
        all("MATCHED", &["FINGER", "IRIS"]),
        "{answer}"
    );
    let answer = service.ok(
        "/match",
        &match_body(
            &extracted,
            &[extracted.clone(), vector.clone()],
            &modalities,
        ),
    );
    assert_eq!(
        decisions(&answer[0]),
        all("MATCHED", &modalities),
        "{answer}"
    );
    assert_eq!(
        decisions(&answer[1]),
        all("MATCHED", &modalities),
        "{answer}"
    );
    let answer = service.ok("/match", &match_body(&stranger, &[extracted], &["FINGER"]));
    assert_eq!(
        decisions(&answer[0]),
        all("NOT_MATCHED", &["FINGER"]),
        "{answer}"
    );

    // Conversion of the ISO finger and iris records to PNG.
    for (source, m) in [("ISO19794_4_2011", "FINGER"), ("ISO19794_6_2011", "IRIS")] {
        let converted = service.ok(
            "/convert-format",
            &json!({"sample": vector, "sourceFormat": source, "targetFormat": "IMAGE/PNG", "modalitiesToConvert": [m]}),
        );
        let pngs = converted["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                let bytes =
                    abis_mosip::decode_base64(s["bdb"].as_str().unwrap().as_bytes()).unwrap();
                bytes.starts_with(b"\x89PNG")
            })
            .count();
        assert!(pngs >= 2, "{source}: {pngs} PNGs");
    }
}

/// The CBEFF XML of samples (for the re-capture helper, which works on XML).
fn cbeff_xml(samples: &[Sample]) -> Vec<u8> {
    let parts: Vec<(&str, &str, Vec<u8>)> = samples
        .iter()
        .map(|s| {
            let kind = match s.modality {
                Modality::Finger => "Finger",
                Modality::Iris => "Iris",
                _ => "Face",
            };
            (kind, s.subtype.as_str(), s.data.clone())
        })
        .collect();
    images::cbeff_of(&parts)
}

/// Genuine and impostor decisions on FVC2002 DB1_B (10 fingers x 8 impressions) at the
/// service's default FMR: every image extracted once (`/extract-template`), every pair
/// compared from the stored templates (`/match`).
#[test]
fn fvc2002_genuine_and_impostor_decisions_at_the_configured_fmr() {
    if abis_test_data::shared_data("fvc2002/DB1_B").is_none() || !images::models_installed() {
        return;
    }
    let service = Service::start(&["--max-gallery", "80"]);
    let mut templates = Vec::new();
    for subject in 101..=110u32 {
        for impression in 1..=8u32 {
            let iso = images::fvc_record("DB1_B", subject, impression, 2);
            let sample = record(&cbeff::samples(&images::cbeff(&[(2, iso)])).unwrap());
            let (http, reply) = service.call(
                "/extract-template",
                &json!({"sample": sample, "modalitiesToExtract": ["FINGER"]}),
            );
            assert_eq!(http, 200);
            if reply["response"]["statusCode"] == 200 {
                templates.push((subject, reply["response"]["response"].clone()));
            } else {
                eprintln!(
                    "{subject}_{impression}: {}",
                    reply["response"]["statusMessage"]
                );
            }
        }
    }
    let (mut genuine, mut false_rejects, mut impostor, mut false_accepts) = (0, 0, 0, 0);
    for (i, (subject, probe)) in templates.iter().enumerate() {
        let rest = &templates[i + 1..];
        if rest.is_empty() {
            continue;
        }
        let gallery: Vec<Value> = rest.iter().map(|(_, t)| t.clone()).collect();
        let answer = service.ok("/match", &match_body(probe, &gallery, &["FINGER"]));
        for ((other, _), entry) in rest.iter().zip(answer.as_array().unwrap()) {
            let matched = entry["decisions"]["FINGER"]["match"] == "MATCHED";
            if other == subject {
                genuine += 1;
                false_rejects += usize::from(!matched);
            } else {
                impostor += 1;
                false_accepts += usize::from(matched);
            }
        }
    }
    let fnmr = false_rejects as f64 / genuine as f64;
    let fmr = false_accepts as f64 / impostor as f64;
    eprintln!(
        "FVC2002 DB1_B at FMR 1e-4: {} templates of 80; genuine {genuine}, false non-matches \
         {false_rejects} (FNMR {fnmr:.3}); impostor {impostor}, false matches {false_accepts} \
         (FMR {fmr:.5})",
        templates.len()
    );
    assert!(templates.len() >= 70, "{} templates", templates.len());
    assert!(
        false_accepts <= 3,
        "{false_accepts} false matches of {impostor}"
    );
    assert!(fnmr < 0.5, "FNMR {fnmr}");
}

#[test]
fn tls_is_served_and_plaintext_needs_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_abis-biosdk"));
    let log = dir.path().join("service.log");
    // Neither TLS material nor --insecure-plaintext: a configuration error (exit 2).
    let refused = Proc::start(
        bin,
        &[
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--insecure-no-auth".into(),
        ],
        &log,
    );
    let exited = refused
        .err()
        .and_then(|e| e.downcast::<abis_server_kit::process::Exited>().ok())
        .expect("the service refuses to start");
    assert_eq!(exited.status.code(), Some(2), "{}", exited.log);
    assert!(
        exited.log.contains("--insecure-plaintext"),
        "{}",
        exited.log
    );

    let ca = abis_server_kit::pki::Ca::new("biosdk test").unwrap();
    let leaf = ca.server(&["localhost"]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &leaf.cert).unwrap();
    std::fs::write(&key, &leaf.key).unwrap();
    let args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--insecure-no-auth",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let service = Proc::start(bin, &args, &log).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connection =
        rustls::ClientConnection::new(std::sync::Arc::new(config), "localhost".try_into().unwrap())
            .unwrap();
    let tcp = TcpStream::connect(service.addr).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let body = abis_biosdk::wire::envelope(&json!({})).to_string();
    write!(
        tls,
        "POST /init HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out:.300}");
    assert!(out.contains(r#""apiVersion":"0.9""#), "{out:.600}");
    // Plain HTTP to the TLS port gets no answer.
    let mut plain = TcpStream::connect(service.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = plain.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("Service is running"));
}
