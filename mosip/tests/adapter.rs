//! `abis-mosip` on a real ActiveMQ broker, driven by a MOSIP stand-in speaking OpenWire JMS
//! with text and bytes messages, fetching encrypted CBEFFs from a datashare on 127.0.0.1:
//! every Compliance Tool Kit ABIS case (ABIS3000-3029) with the code it expects, MOSIP's test
//! vector enrolled and found again, bad input answered without enrolling anything, and a
//! request caught by a crash answered exactly once.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// The keys a reply may carry, per the Tool Kit's schemas.
fn check_schema(reply: &Value) {
    let keys: BTreeSet<&str> = reply
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut allowed: BTreeSet<&str> = ["id", "requestId", "responsetime", "returnValue"].into();
    match reply["returnValue"].as_str() {
        Some("1") => {
            allowed.extend(["count", "jobscount", "candidateList"]);
        }
        Some("2") => {
            allowed.insert("failureReason");
            assert!(reply["failureReason"].is_string(), "{reply}");
        }
        _ => panic!("returnValue is not \"1\" or \"2\": {reply}"),
    }
    assert!(keys.is_subset(&allowed), "extra keys in {reply}");
    for key in ["id", "requestId", "responsetime"] {
        assert!(reply[key].is_string(), "{key} in {reply}");
    }
    if let Some(list) = reply.get("candidateList") {
        assert!(list["count"].is_string(), "{reply}");
        for c in list["candidates"].as_array().unwrap() {
            assert!(c["referenceId"].is_string());
            for m in c["modalities"].as_array().unwrap() {
                assert!(["FIR", "IIR", "FID"].contains(&m["biometricType"].as_str().unwrap()));
                assert!(m["analytics"]["confidence"].is_string());
                assert!(m["analytics"]["internalScore"].is_string());
            }
        }
    }
}

fn code(reply: &Value) -> String {
    match reply["returnValue"].as_str() {
        Some("1") => "ok".into(),
        _ => reply["failureReason"].as_str().unwrap_or("?").to_owned(),
    }
}

struct Rig {
    _broker: Broker,
    mosip: Mosip,
    share: Datashare,
    adapter: Option<Adapter>,
    data: std::path::PathBuf,
    broker_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start() -> Option<Self> {
        if shared("mosip/cbeff.p12").is_none()
            || shared("fvc2002/DB1_B").is_none()
            || !models_installed()
            || !broker_installed()
        {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let broker_dir = dir.path().join("broker");
        let broker = Broker::start(&broker_dir);
        let share = Datashare::start();
        let data = dir.path().join("abis");
        let adapter = start_adapter(&data, &broker, &share);
        let mosip = Mosip::connect(&broker);
        Some(Self {
            _broker: broker,
            mosip,
            share,
            adapter: Some(adapter),
            data,
            broker_dir,
            _dir: dir,
        })
    }

    fn call(&mut self, kind: Kind, request: &Value) -> Value {
        let reply = self.mosip.call(kind, request);
        check_schema(&reply);
        reply
    }

    fn log(&self) -> String {
        self.adapter
            .as_ref()
            .map(|a| std::fs::read_to_string(&a.log).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// Every CTK ABIS case, in the Tool Kit's order, each with the answer it expects. Registrations
/// are FVC2002 two-finger people; a duplicate is the same registration under another
/// reference id, as the Tool Kit sends it.
#[test]
fn every_compliance_tool_kit_case_passes() {
    let Some(mut rig) = Rig::start() else { return };
    let definitions: Vec<Value> = serde_json::from_slice(
        &std::fs::read(shared("mosip/ctk_compliance_test_definitions_abis.json").unwrap()).unwrap(),
    )
    .unwrap();
    let ids: Vec<&str> = definitions
        .iter()
        .map(|d| d["testId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 30);

    // People: distinct fingers of FVC2002 DB1 and DB3.
    let share =
        |rig: &Rig, name: &str, xml: &[u8]| rig.share.put(name, Share::Payload(encrypt(xml)));
    let p = [
        person("DB1_B", 101, 102),
        person("DB1_B", 103, 104),
        person("DB1_B", 105, 106),
        person("DB3_B", 101, 102),
        person("DB3_B", 103, 104),
    ];
    let urls: Vec<String> = p
        .iter()
        .enumerate()
        .map(|(i, xml)| share(&rig, &format!("person-{i}"), xml))
        .collect();
    let mut results: Vec<(String, String, String)> = Vec::new();
    let mut record = |id: &str, expected: &str, reply: &Value| {
        let got = code(reply);
        assert_eq!(got, expected, "{id}: {reply}");
        results.push((id.to_owned(), expected.to_owned(), got));
    };
    let kinds = [Kind::Text, Kind::Bytes];
    for (n, definition) in definitions.iter().enumerate() {
        let id = definition["testId"].as_str().unwrap();
        let other = &definition["otherAttributes"];
        let expected = other["expectedFailureReason"].as_str().unwrap_or("ok");
        let kind = kinds[n % 2];
        let rid = |suffix: &str| format!("{id}-{suffix}");
        match id {
            "ABIS3000" => {
                let reply = rig.call(kind, &insert(&rid("1"), id, &urls[0]));
                record(id, expected, &reply);
            }
            "ABIS3001" => {
                for (i, url) in urls[..2].iter().enumerate() {
                    let reply = rig.call(
                        kind,
                        &insert(&rid(&i.to_string()), &format!("{id}_{i}"), url),
                    );
                    record(id, expected, &reply);
                }
            }
            "ABIS3002" | "ABIS3003" | "ABIS3004" | "ABIS3007" | "ABIS3008" | "ABIS3011"
            | "ABIS3012" | "ABIS3013" | "ABIS3005" | "ABIS3006" | "ABIS3015" => {
                let mut request = insert(&rid("1"), id, &urls[0]);
                match other["invalidRequestAttribute"].as_str().unwrap() {
                    "newUnknownValue" => request["newUnknownValue"] = json!("value"),
                    "invalidId" => request["id"] = json!("mosip.abis.invalid"),
                    "invalidRequestTime" => request["requesttime"] = json!("2026-12-07 10:00:00"),
                    "incorrectReferenceURL" => {
                        request["referenceURL"] =
                            format!("{}/v1/datashare/get/no-such-share", rig.share.base).into()
                    }
                    "invalidReferenceURL" => request["referenceURL"] = json!("not a url"),
                    "expireDataShareUrl" => {
                        request["referenceURL"] = rig.share.put("expired", Share::Expired).into()
                    }
                    // The Tool Kit removes a key by renaming it.
                    key => {
                        let value = request.as_object_mut().unwrap().remove(key).unwrap();
                        request[format!("{key}XXX")] = value;
                    }
                }
                let reply = rig.call(kind, &request);
                record(id, expected, &reply);
            }
            "ABIS3009" => {
                let first = rig.call(kind, &insert(&rid("1"), id, &urls[1]));
                assert_eq!(code(&first), "ok", "{first}");
                let again = rig.call(kind, &insert(&rid("2"), id, &urls[1]));
                record(id, expected, &again);
            }
            "ABIS3010" => {
                let empty = br#"<BIR xmlns="http://standards.iso.org/iso-iec/19785/-3/ed-2/"><BIRInfo><Integrity>false</Integrity></BIRInfo><BIR><BDBInfo><Type>Finger</Type><Subtype>Right IndexFinger</Subtype></BDBInfo></BIR></BIR>"#;
                let url = share(&rig, "empty", empty);
                let reply = rig.call(kind, &insert(&rid("1"), id, &url));
                record(id, expected, &reply);
            }
            "ABIS3014" => {
                let url = share(&rig, "not-cbeff", b"<registration><finger/></registration>");
                let reply = rig.call(kind, &insert(&rid("1"), id, &url));
                record(id, expected, &reply);
            }
            "ABIS3016" => {
                let garbage = cbeff(&[(2, b"not an ISO image record at all".to_vec())]);
                let url = share(&rig, "garbage", &garbage);
                let reply = rig.call(kind, &insert(&rid("1"), id, &url));
                record(id, expected, &reply);
            }
            "ABIS3017" => {
                // Encrypted for another partner's certificate.
                let other_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
                let other = abis_mosip::keys::DecryptionKey::new(other_key, b"another partner");
                let payload = abis_mosip::datashare::encrypt(&p[0], &other).unwrap();
                let url = rig.share.put("other-partner", Share::Payload(payload));
                let reply = rig.call(kind, &insert(&rid("1"), id, &url));
                record(id, expected, &reply);
            }
            "ABIS3018" | "ABIS3026" | "ABIS3027" | "ABIS3028" | "ABIS3029" => {
                let count: usize = other["insertCount"].as_str().unwrap().parse().unwrap();
                let probe = other["identifyReferenceId"].as_str().unwrap();
                let gallery: Option<Vec<String>> = other["identifyGalleryIds"]
                    .as_array()
                    .map(|g| g.iter().map(|v| v.as_str().unwrap().to_owned()).collect());
                // Who is who: the probe's person, and as many duplicates in the gallery as the
                // case expects; everyone else a different person.
                let dupes: usize = other["expectedDuplicateCount"]
                    .as_str()
                    .map_or(0, |d| d.parse().unwrap());
                let (mine, others) = match id {
                    "ABIS3026" => (4, vec![3]), // Its probe's person is in no other case.
                    _ => (0, vec![1, 2]),
                };
                let inserted: Vec<String> = if id == "ABIS3028" {
                    vec![probe.to_owned()]
                } else {
                    (1..=count).map(|i| format!("{id}_{i}")).collect()
                };
                let mut duplicates_left = dupes;
                let mut other_people = others.iter().cycle();
                for (i, reference) in inserted.iter().enumerate() {
                    let who = if reference == probe {
                        mine
                    } else if duplicates_left > 0 {
                        duplicates_left -= 1;
                        mine
                    } else {
                        *other_people.next().unwrap()
                    };
                    let reply =
                        rig.call(kind, &insert(&rid(&format!("i{i}")), reference, &urls[who]));
                    assert_eq!(code(&reply), "ok", "{id} insert {reference}: {reply}");
                }
                let gallery_refs: Option<Vec<&str>> = gallery
                    .as_ref()
                    .map(|g| g.iter().map(String::as_str).collect());
                let reply = rig.call(
                    kind,
                    &identify(&rid("identify"), probe, gallery_refs.as_deref()),
                );
                record(id, expected, &reply);
                if expected == "ok" {
                    let found = candidates(&reply);
                    assert_eq!(found.len(), dupes, "{id}: {reply}");
                    assert!(
                        !found.contains(&probe.to_owned()),
                        "{id} returned the probe"
                    );
                    if let Some(g) = &gallery {
                        assert!(
                            found.iter().all(|f| g.contains(f)),
                            "{id}: outside the gallery"
                        );
                    }
                    assert_eq!(reply["candidateList"]["count"], found.len().to_string());
                    for c in reply["candidateList"]["candidates"].as_array().unwrap() {
                        assert_eq!(c["modalities"][0]["biometricType"], "FIR", "{reply}");
                    }
                }
            }
            "ABIS3019" | "ABIS3020" | "ABIS3021" | "ABIS3022" | "ABIS3023" | "ABIS3024"
            | "ABIS3025" => {
                let mut request = identify(&rid("1"), "ABIS3000", None);
                match other["invalidRequestAttribute"].as_str().unwrap() {
                    "newUnknownValue" => request["newUnknownValue"] = json!("value"),
                    "invalidId" => request["id"] = json!("mosip.abis.invalid"),
                    "invalidRequestTime" => request["requesttime"] = json!("07/12/2026 10:00"),
                    key => {
                        let value = request.as_object_mut().unwrap().remove(key).unwrap();
                        request[format!("{key}XXX")] = value;
                    }
                }
                let reply = rig.call(kind, &request);
                record(id, expected, &reply);
            }
            other => panic!("a CTK case this test does not know: {other}"),
        }
    }
    // Failed inserts enrolled nothing: 1 + 2 + 1 + 3 + 2 + 6 + 1 + 3 people.
    let count = rig.call(Kind::Text, &request("referenceCount", "count-1"));
    assert_eq!(count["count"], "19", "{}", rig.log());
    for (id, expected, got) in &results {
        println!("{id}: expected {expected}, got {got}");
    }
}

/// MOSIP's test vector (ten fingers, two irises, a face) enrols; a re-capture of that person
/// (fingers and irises moved, re-lit and noisy) sent as a new registration is found as its
/// duplicate with per-modality analytics; a
/// different person is not; ping, pending jobs, reference count and delete answer; bad input
/// enrols nothing; and a request caught by a crash of the adapter is answered once.
#[test]
fn mosips_packet_through_the_queues_and_a_crash() {
    let Some(mut rig) = Rig::start() else { return };
    let vector = std::fs::read(shared("mosip/encrypted-datashare.txt").unwrap()).unwrap();
    let vector_url = rig.share.put(
        "test-vector",
        Share::Payload(String::from_utf8(vector.clone()).unwrap()),
    );
    let reply = rig.call(Kind::Text, &insert("r-1", "packet-1", &vector_url));
    assert_eq!(code(&reply), "ok", "{reply}\n{}", rig.log());
    assert!(
        rig.log().contains("finger 8"),
        "the fragment is named as left out"
    );
    // The same person captured again, registered anew (perturbed fingers and irises).
    let xml = abis_mosip::datashare::decrypt(&vector, &abis_key()).unwrap();
    let again_url = rig.share.put(
        "recapture",
        Share::Payload(encrypt(&recaptured_packet(&xml))),
    );
    let reply = rig.call(Kind::Bytes, &insert("r-2", "packet-2", &again_url));
    assert_eq!(code(&reply), "ok", "{reply}");
    let other_url = rig
        .share
        .put("other", Share::Payload(encrypt(&person("DB1_B", 107, 108))));
    let reply = rig.call(Kind::Text, &insert("r-3", "packet-3", &other_url));
    assert_eq!(code(&reply), "ok", "{reply}");

    let found = rig.call(Kind::Bytes, &identify("r-4", "packet-2", None));
    assert_eq!(candidates(&found), ["packet-1"], "{found}");
    let modalities: BTreeSet<&str> = found["candidateList"]["candidates"][0]["modalities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["biometricType"].as_str().unwrap())
        .collect();
    assert_eq!(modalities, ["FID", "FIR", "IIR"].into(), "{found}");
    let none = rig.call(Kind::Text, &identify("r-5", "packet-3", None));
    assert_eq!(none["candidateList"]["count"], "0", "{none}");
    // A gallery naming someone never enrolled: 12, nothing searched.
    let unknown = rig.call(
        Kind::Text,
        &identify("r-6", "packet-2", Some(&["packet-1", "nobody"])),
    );
    assert_eq!(code(&unknown), "12");
    let unknown_probe = rig.call(Kind::Text, &identify("r-7", "nobody", None));
    assert_eq!(code(&unknown_probe), "12");

    for op in ["ping", "pendingJobs", "referenceCount"] {
        let reply = rig.call(Kind::Text, &request(op, &format!("r-{op}")));
        assert_eq!(code(&reply), "ok", "{reply}");
    }
    let count = rig.call(Kind::Text, &request("referenceCount", "r-count-1"));
    assert_eq!(count["count"], "3");

    // Bad input: each answered with its code, nothing enrolled, the adapter still up.
    let bad: [(&str, &str); 6] = [
        ("{not json", "4"),
        ("[1,2,3]", "4"),
        (
            r#"{"id":"mosip.abis.insert","version":"1.1","requestId":7}"#,
            "6",
        ),
        (r#"{"id":42}"#, "14"),
        (
            r#"{"id":"mosip.abis.identify","version":"1.1","requestId":"b-5","requesttime":"2026-12-07T10:00:00.000Z","referenceId":"packet-1","flags":{"maxResults":"-3"}}"#,
            "4",
        ),
        (
            r#"{"id":"mosip.abis.identify","version":"1.1","requestId":"b-6","requesttime":"2026-12-07T10:00:00.000Z","referenceId":"packet-1","gallery":"everyone"}"#,
            "4",
        ),
    ];
    for (body, expected) in bad {
        rig.mosip.send(Kind::Text, body);
        let (_, reply) = rig.mosip.recv(Duration::from_secs(60)).expect("an answer");
        check_schema(&reply);
        assert_eq!(code(&reply), expected, "{body}: {reply}");
    }
    let huge = format!(
        r#"{{"id":"mosip.abis.ping","version":"1.1","requestId":"b-huge","requesttime":"2026-12-07T10:00:00.000Z","pad":"{}"}}"#,
        "x".repeat(2 << 20)
    );
    rig.mosip.send(Kind::Bytes, &huge);
    let (kind, reply) = rig.mosip.recv(Duration::from_secs(60)).expect("an answer");
    assert_eq!(
        (kind, code(&reply)),
        (Kind::Bytes, "4".to_owned()),
        "{reply}"
    );
    // A CBEFF bomb (deep nesting) and bad base64 inside a BDB.
    let bomb = format!(
        "<BIR>{}{}</BIR>",
        "<BIR>".repeat(10_000),
        "</BIR>".repeat(10_000)
    );
    let url = rig
        .share
        .put("bomb", Share::Payload(encrypt(bomb.as_bytes())));
    assert_eq!(
        code(&rig.call(Kind::Text, &insert("b-bomb", "bomb", &url))),
        "16"
    );
    let bad_base64 = br#"<BIR><BIR><BDBInfo><Type>Finger</Type><Subtype>Right Thumb</Subtype></BDBInfo><BDB>@@not base64@@</BDB></BIR></BIR>"#;
    let url = rig.share.put("b64", Share::Payload(encrypt(bad_base64)));
    assert_eq!(
        code(&rig.call(Kind::Text, &insert("b-b64", "b64", &url))),
        "11"
    );
    let url = rig
        .share
        .put("not-a-payload", Share::Payload("%%%%".into()));
    assert_eq!(
        code(&rig.call(Kind::Text, &insert("b-env", "env", &url))),
        "11"
    );
    let count = rig.call(Kind::Text, &request("referenceCount", "r-count-2"));
    assert_eq!(count["count"], "3", "bad input enrolled something");

    // Delete, then the reference id is free again.
    let reply = rig.call(Kind::Text, &{
        let mut r = request("delete", "r-del");
        r["referenceId"] = "packet-3".into();
        r
    });
    assert_eq!(code(&reply), "ok");
    let reply = rig.call(Kind::Text, &{
        let mut r = request("delete", "r-del-2");
        r["referenceId"] = "packet-3".into();
        r
    });
    assert_eq!(code(&reply), "12");

    // A crash between receiving an Insert and replying: kill the adapter once the datashare
    // was read, start it again; the redelivered request is answered once and enrols once.
    let crash_url = rig
        .share
        .put("crash", Share::Payload(encrypt(&person("DB3_B", 105, 106))));
    rig.mosip.send(
        Kind::Text,
        &insert("r-crash", "packet-crash", &crash_url).to_string(),
    );
    let started = std::time::Instant::now();
    while rig.share.gets(&crash_url) == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "never fetched");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(rig.adapter.take());
    assert!(
        rig.mosip.recv(Duration::from_millis(500)).is_none(),
        "answered before the crash"
    );
    rig.adapter = Some(start_adapter(&rig.data, &rig._broker, &rig.share));
    let (_, reply) = rig
        .mosip
        .recv(Duration::from_secs(120))
        .expect("answered after restart");
    assert_eq!(
        (reply["requestId"].as_str(), code(&reply).as_str()),
        (Some("r-crash"), "ok"),
        "{reply}"
    );
    assert!(
        rig.mosip.recv(Duration::from_secs(3)).is_none(),
        "answered twice"
    );
    assert!(rig.share.gets(&crash_url) <= 2, "a share allows two GETs");
    let count = rig.call(Kind::Text, &request("referenceCount", "r-count-3"));
    assert_eq!(
        count["count"], "3",
        "packets 1, 2 and the crash's; 3 deleted"
    );
    // The same request delivered again (MOSIP's redelivery): the stored reply, nothing redone.
    let again = rig.call(Kind::Text, &insert("r-crash", "packet-crash", &crash_url));
    assert_eq!(code(&again), "ok");
    let _ = &rig.broker_dir;
}
