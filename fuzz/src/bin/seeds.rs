//! Writes the seed corpora: `seeds <out-dir> [<fvc-db-dir>...]`.
//!
//! `<out-dir>/<target>/` gets a few small valid inputs per target, generated here from the
//! synthetic models of `abis-datasets`; the `wsq` seeds are the WSQ test fixtures committed
//! in `wsq/tests/fixtures/` (FVC2002 crops encoded by NBIS, see the README there). Each FVC folder given (e.g.
//! `../shared/data/fvc2002/DB1_B`) adds its first few `*.iso` records to `finger_record/`, as
//! read and rewritten in ISO 2011 and ANSI 378; those copies stay in the ignored work folder and
//! are never committed.

use abis_datasets::finger::FingerModel;
use abis_datasets::population::Population;
use abis_engine::record::{Eye, FaceTemplate, FingerTemplate, IrisTemplate, Record, ReferenceId};
use abis_engine::storage::codec;
use abis_engine::GalleryConfig;
use abis_fuzz::{push_chunk, record_body, FORMATS, POPULATION_HEADER};
use abis_matchers::finger::{
    self, CaptureInfo, CertificationBlock, ExtendedBlock, Minutia, MinutiaeRecord, QualityBlock,
    RecordFormat,
};
use abis_proto::v1;
use prost::Message;
use std::path::{Path, PathBuf};

/// FVC records copied per folder.
const FVC_PER_DIR: usize = 4;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: seeds <out-dir> [<fvc-db-dir>...]");
        std::process::exit(2);
    };
    let out = PathBuf::from(out);
    let fvc: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let mut seeds = Seeds::new(&out);
    finger_seeds(&mut seeds, &fvc);
    population_seeds(&mut seeds);
    proto_seeds(&mut seeds);
    manifest_seeds(&mut seeds);
    wsq_seeds(&mut seeds);
    finger_image_seeds(&mut seeds);
    mosip_seeds(&mut seeds);
    for (target, n) in &seeds.counts {
        println!("{target}: {n} seeds");
    }
}

struct Seeds {
    out: PathBuf,
    counts: Vec<(&'static str, usize)>,
}

impl Seeds {
    fn new(out: &Path) -> Self {
        Self {
            out: out.to_owned(),
            counts: Vec::new(),
        }
    }

    /// Writes a seed that must get through the target's conversions and validation.
    fn put_valid(&mut self, target: &'static str, name: &str, bytes: &[u8]) {
        let accepted = match target {
            "proto_record" => abis_fuzz::proto_record_accepted(bytes),
            "manifest" => abis_fuzz::manifest_loaded(bytes),
            _ => true,
        };
        assert!(accepted, "seed {target}/{name} is meant to be accepted");
        self.put(target, name, bytes);
    }

    /// Writes one seed after checking that the target's checks pass on it.
    fn put(&mut self, target: &'static str, name: &str, bytes: &[u8]) {
        abis_fuzz::run(target, bytes);
        let dir = self.out.join(target);
        std::fs::create_dir_all(&dir).expect("create seed folder");
        std::fs::write(dir.join(name), bytes).expect("write seed");
        match self.counts.iter_mut().find(|(t, _)| *t == target) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((target, 1)),
        }
    }
}

fn format_tag(format: RecordFormat) -> &'static str {
    match format {
        RecordFormat::Iso19794_2_2005 => "iso2005",
        RecordFormat::Iso19794_2_2011 => "iso2011",
        RecordFormat::Ansi378_2004 => "ansi378",
    }
}

/// Synthetic minutiae of one finger (a capture of a generated master finger).
fn synthetic_minutiae(subject: u64, finger: u8, keep: usize) -> Vec<Minutia> {
    let model = FingerModel::default();
    let master = model.master(7, subject, finger);
    let mut minutiae = model.capture(&master, 0);
    minutiae.truncate(keep);
    minutiae
}

fn finger_seeds(seeds: &mut Seeds, fvc: &[PathBuf]) {
    // A one-view record as the engine writes them.
    let plain = MinutiaeRecord {
        format: RecordFormat::Iso19794_2_2005,
        width: 400,
        height: 500,
        x_resolution: 197,
        y_resolution: 197,
        capture_equipment: 0,
        product_id: 0,
        views: vec![finger::FingerView {
            position: 1,
            view_number: 0,
            impression_type: 0,
            quality: 60,
            minutiae: synthetic_minutiae(1, 0, 14),
            extended: Vec::new(),
            capture: None,
        }],
    };
    // Two views with extended data, 2011 capture fields (quality and certification blocks), a
    // product id: every optional structure of the three formats.
    let mut rich = plain.clone();
    rich.product_id = 0x0033_0101;
    rich.capture_equipment = 0x1010;
    rich.x_resolution = 394;
    rich.y_resolution = 394;
    rich.views[0].extended = vec![
        ExtendedBlock {
            type_id: 0x0001,
            data: vec![0, 1, 2, 1, 2, 3],
        },
        ExtendedBlock {
            type_id: 0x0101,
            data: vec![9, 9],
        },
    ];
    rich.views[0].capture = Some(CaptureInfo {
        date_time: [0x07, 0xE8, 1, 2, 3, 4, 5, 0, 6],
        device_technology: 1,
        device_vendor: 0x0101,
        device_type: 2,
        quality_blocks: vec![QualityBlock {
            score: 60,
            vendor: 1,
            algorithm: 2,
        }],
        certifications: Some(vec![CertificationBlock {
            authority: 3,
            scheme: 4,
        }]),
        ridge_ending_type: 0,
        minutia_quality: true,
    });
    rich.views.push(finger::FingerView {
        position: 6,
        view_number: 1,
        impression_type: 1,
        quality: 0,
        minutiae: synthetic_minutiae(1, 5, 5),
        extended: Vec::new(),
        capture: None,
    });
    for (name, record) in [("synthetic-plain", &plain), ("synthetic-rich", &rich)] {
        for format in FORMATS {
            if let Ok(bytes) = finger::write(record, format) {
                seeds.put(
                    "finger_record",
                    &format!("{name}.{}", format_tag(format)),
                    &bytes,
                );
            }
        }
    }
    for dir in fvc {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "iso"))
                .collect(),
            Err(e) => {
                eprintln!("{}: {e} (skipped)", dir.display());
                continue;
            }
        };
        files.sort();
        let db = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for path in files.iter().take(FVC_PER_DIR) {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let name = format!("fvc-{db}-{stem}");
            seeds.put("finger_record", &format!("{name}.orig"), &bytes);
            let Ok(record) = finger::parse(&bytes) else {
                continue;
            };
            for format in [RecordFormat::Iso19794_2_2011, RecordFormat::Ansi378_2004] {
                if let Ok(out) = finger::write(&record, format) {
                    seeds.put(
                        "finger_record",
                        &format!("{name}.{}", format_tag(format)),
                        &out,
                    );
                }
            }
        }
    }
}

/// Small records covering every template kind (short codes, a 4-d face: valid encodings, not
/// valid for the default gallery).
fn small_records() -> Vec<Record> {
    let id = |s: &str| ReferenceId::new(s).expect("valid id");
    let mut a = Record::new(id("p-1"));
    a.irises.push(IrisTemplate {
        eye: Eye::Left,
        code: vec![0xA5; 8],
        mask: vec![0xFF; 8],
    });
    a.face = Some(FaceTemplate {
        embedding: vec![0.5, -0.5, 0.5, 0.5],
    });
    let mut b = Record::new(id("p-2"));
    b.fingers.push(FingerTemplate {
        position: 2,
        minutiae: synthetic_minutiae(2, 1, 12),
    });
    b.irises.push(IrisTemplate {
        eye: Eye::Right,
        code: vec![1, 2, 3, 4],
        mask: vec![0xF0; 4],
    });
    vec![a, b]
}

/// A full record for the default gallery (2,048-bit irises, 512-d face, two fingers).
fn full_record() -> Record {
    Population::new(11).with_fingers(2).enrolment(0)
}

fn population_seeds(seeds: &mut Seeds) {
    let small = small_records();
    let full = full_record();
    // Raw mode (first byte even): population files as written.
    let file = |records: &[&Record]| {
        let mut out = vec![0u8];
        out.extend_from_slice(POPULATION_HEADER);
        for r in records {
            let stored = codec::encode(r);
            out.extend_from_slice(&(stored.len() as u32).to_le_bytes());
            out.extend_from_slice(&stored);
        }
        out
    };
    seeds.put("population", "raw-small", &file(&[&small[0], &small[1]]));
    seeds.put("population", "raw-full", &file(&[&full]));
    seeds.put("population", "raw-empty", &file(&[]));
    let mut one = vec![0u8];
    one.extend_from_slice(&codec::encode(&small[1]));
    seeds.put("population", "raw-record", &one);
    // Framed mode (first byte odd): bodies only, the harness adds tag and CRC.
    let framed = |records: &[&Record]| {
        let mut out = vec![1u8];
        for r in records {
            push_chunk(&mut out, record_body(&codec::encode(r)));
        }
        out
    };
    seeds.put(
        "population",
        "framed-small",
        &framed(&[&small[0], &small[1]]),
    );
    seeds.put("population", "framed-full", &framed(&[&full]));
}

fn proto_seeds(seeds: &mut Seeds) {
    let shape = GalleryConfig::default();
    let layout = shape.iris_layout;
    let mut full = full_record();
    full.validate_and_normalise(&shape)
        .expect("generated records are valid");
    let native = abis_proto::record_to_proto(&full, &layout);
    // The same record with its fingers as ISO 2005 and ANSI 378 bytes.
    let mut standard = native.clone();
    for (i, f) in standard.fingers.iter_mut().enumerate() {
        let template = &full.fingers[i];
        let record = MinutiaeRecord {
            format: RecordFormat::Iso19794_2_2005,
            width: 500,
            height: 550,
            x_resolution: 197,
            y_resolution: 197,
            capture_equipment: 0,
            product_id: 0,
            views: vec![finger::FingerView {
                position: template.position,
                minutiae: template.minutiae.clone(),
                ..Default::default()
            }],
        };
        let format = if i % 2 == 0 {
            RecordFormat::Iso19794_2_2005
        } else {
            RecordFormat::Ansi378_2004
        };
        let bytes = finger::write(&record, format).expect("generated minutiae write");
        f.template = Some(v1::finger::Template::IsoOrAnsiRecord(bytes));
    }
    // Small: one finger as ISO bytes, nothing else (valid for the default gallery).
    let finger_only = v1::Record {
        reference_id: "applicant-1".into(),
        fingers: vec![standard.fingers[0].clone()],
        ..Default::default()
    };
    let mut small_native = abis_proto::record_to_proto(&small_records()[1], &layout);
    small_native.reference_id = "p-3".into();
    seeds.put_valid(
        "proto_record",
        "record-finger-only",
        &with_mode(0, &finger_only),
    );
    seeds.put("proto_record", "record-small", &with_mode(0, &small_native));
    seeds.put_valid("proto_record", "record-full-native", &with_mode(0, &native));
    seeds.put_valid(
        "proto_record",
        "record-full-standard",
        &with_mode(0, &standard),
    );
    let mut second = finger_only.clone();
    second.reference_id = "applicant-2".into();
    second.fingers = vec![standard.fingers[1].clone()];
    let insert = v1::InsertRequest {
        records: vec![finger_only.clone(), second],
    };
    seeds.put_valid("proto_record", "insert-two", &with_mode(1, &insert));
    let identify = v1::IdentifyRequest {
        probe: Some(finger_only.clone()),
        options: Some(v1::IdentifyOptions {
            max_results: 5,
            threshold: Some(v1::Threshold {
                kind: Some(v1::threshold::Kind::Fpir(0.01)),
            }),
            allow_incomplete: true,
        }),
    };
    seeds.put_valid("proto_record", "identify-fpir", &with_mode(2, &identify));
    let identify_score = v1::IdentifyRequest {
        probe: Some(small_native),
        options: Some(v1::IdentifyOptions {
            max_results: 0,
            threshold: Some(v1::Threshold {
                kind: Some(v1::threshold::Kind::Score(4.0)),
            }),
            allow_incomplete: false,
        }),
    };
    seeds.put(
        "proto_record",
        "identify-score",
        &with_mode(2, &identify_score),
    );
}

/// A `proto_record` input: the mode byte, then the encoded message.
fn with_mode(mode: u8, message: &impl Message) -> Vec<u8> {
    let mut out = vec![mode];
    message.encode(&mut out).expect("encode into a Vec");
    out
}

fn manifest_seeds(seeds: &mut Seeds) {
    let finger = finger::write(
        &MinutiaeRecord {
            format: RecordFormat::Iso19794_2_2005,
            width: 400,
            height: 500,
            x_resolution: 197,
            y_resolution: 197,
            views: vec![finger::FingerView {
                position: 1,
                minutiae: synthetic_minutiae(3, 0, 12),
                ..Default::default()
            }],
            ..Default::default()
        },
        RecordFormat::Iso19794_2_2005,
    )
    .expect("write");
    let face: Vec<u8> = [0.5f32, -0.5, 0.5, 0.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    // The smallest valid layout: 1 x 64 x 1 bits = 8 bytes.
    let (code, mask) = ([0x5Au8; 8], [0xFFu8; 8]);
    let with_files = |json: &str, files: &[&[u8]]| {
        let mut out = json.as_bytes().to_vec();
        if !files.is_empty() {
            out.push(0);
            for f in files {
                push_chunk(&mut out, f);
            }
        }
        out
    };
    seeds.put_valid(
        "manifest",
        "full",
        &with_files(
            r#"{"packet_id":"10001100010001120240101120000","fingers":[{"position":1,"file":"finger-1.iso"}],"irises":[{"eye":"left","code":"iris-left.code","mask":"iris-left.mask","rows":1,"cols":64,"bits_per_cell":1}],"face":"face.f32"}"#,
            &[&finger, &code, &mask, &face],
        ),
    );
    seeds.put_valid(
        "manifest",
        "finger-only",
        &with_files(
            r#"{"packet_id":"p1","fingers":[{"position":1,"file":"f.iso"}]}"#,
            &[&finger],
        ),
    );
    seeds.put_valid(
        "manifest",
        "iris-right-pretty",
        &with_files(
            "{\n  \"packet_id\": \"p2\",\n  \"irises\": [\n    {\"eye\": \"right\", \"code\": \"c\", \"mask\": \"m\", \"rows\": 8, \"cols\": 128, \"bits_per_cell\": 2}\n  ]\n}",
            &[&[0x33u8; 256], &[0xFFu8; 256]],
        ),
    );
    seeds.put_valid(
        "manifest",
        "face-only",
        &with_files(r#"{"packet_id":"p3","face":"face.f32"}"#, &[&face]),
    );
    seeds.put("manifest", "bare", br#"{"packet_id":"p4"}"#);
}

/// The committed WSQ fixtures (small FVC2002 crops at two bit rates) as `wsq` seeds.
fn wsq_seeds(seeds: &mut Seeds) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wsq/tests/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wsq"))
        .collect();
    files.sort();
    for file in files {
        let bytes = std::fs::read(&file).expect("read WSQ fixture");
        assert!(
            abis_wsq::decode(&bytes).is_ok(),
            "fixture {} must decode",
            file.display()
        );
        let name = file.file_name().expect("file name").to_string_lossy();
        seeds.put("wsq", &name, &bytes);
    }
}

/// `finger_image` seeds: an uncompressed ISO/IEC 19794-4:2005 record made here, the smallest
/// WSQ fixture alone and inside a 2005 record, and the two smallest finger records (JPEG 2000
/// lossless, ISO/IEC 19794-4:2011) of MOSIP's test vector when `../shared/data/mosip` is
/// present.
fn finger_image_seeds(seeds: &mut Seeds) {
    let record_2005 = |compression: u8, width: u16, height: u16, data: &[u8]| -> Vec<u8> {
        let mut out = b"FIR\x00010\x00".to_vec();
        out.extend_from_slice(&(32 + 14 + data.len() as u64).to_be_bytes()[2..]);
        out.extend_from_slice(&[0, 0, 0, 31, 1, 1]);
        for _ in 0..4 {
            out.extend_from_slice(&500u16.to_be_bytes());
        }
        out.extend_from_slice(&[8, compression, 0, 0]);
        out.extend_from_slice(&(14 + data.len() as u32).to_be_bytes());
        out.extend_from_slice(&[2, 1, 0, 60, 0]);
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.push(0);
        out.extend_from_slice(data);
        out
    };
    let raw: Vec<u8> = (0..24u32 * 20).map(|i| (i * 37 % 251) as u8).collect();
    seeds.put("finger_image", "raw-2005", &record_2005(0, 24, 20, &raw));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wsq/tests/fixtures");
    let wsq = std::fs::read(fixtures.join("db2_b_102_3_br075.wsq")).expect("WSQ fixture");
    let image = abis_wsq::decode(&wsq).expect("the fixture decodes");
    seeds.put("finger_image", "plain.wsq", &wsq);
    let (w, h) = (image.width as u16, image.height as u16);
    seeds.put("finger_image", "wsq-2005", &record_2005(2, w, h, &wsq));

    let mosip = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mosip");
    let (Ok(payload), Ok(p12)) = (
        std::fs::read(mosip.join("encrypted-datashare.txt")),
        std::fs::read(mosip.join("cbeff.p12")),
    ) else {
        eprintln!(
            "finger_image: {} not found, no JPEG 2000 seeds",
            mosip.display()
        );
        return;
    };
    let key = abis_mosip::keys::DecryptionKey::from_pkcs12(&p12, "password", Some("cbeff"))
        .expect("the test vector's key store opens");
    let xml = abis_mosip::datashare::decrypt(&payload, &key).expect("the test vector decrypts");
    let mut fingers: Vec<Vec<u8>> = abis_mosip::cbeff::samples(&xml)
        .expect("the test vector's CBEFF reads")
        .into_iter()
        .filter(|s| s.modality == abis_mosip::cbeff::Modality::Finger)
        .map(|s| s.data)
        .collect();
    fingers.sort_by_key(Vec::len);
    for (i, record) in fingers.iter().take(2).enumerate() {
        seeds.put("finger_image", &format!("mosip-{i}.iso"), record);
    }
}

/// MOSIP's ABIS requests as its registration processor and the Tool Kit send them, STOMP frames
/// as ActiveMQ delivers them, and small CBEFF documents.
fn mosip_seeds(seeds: &mut Seeds) {
    let time = "2026-12-07T10:00:00.000Z";
    let requests = [
        ("insert", format!(r#"{{"id":"mosip.abis.insert","version":"1.1","requestId":"r-1","requesttime":"{time}","referenceId":"ref-1","referenceURL":"http://127.0.0.1/v1/datashare/get/x"}}"#)),
        ("identify", format!(r#"{{"id":"mosip.abis.identify","version":"1.1","requestId":"r-2","requesttime":"{time}","referenceId":"ref-1","referenceUrl":"","flags":{{"maxResults":"30","targetFPIR":"30"}},"gallery":{{"referenceIds":[{{"referenceId":"a"}},{{"referenceId":null}}]}}}}"#)),
        ("identify-null-gallery", format!(r#"{{"id":"mosip.abis.identify","version":"1.1","requestId":"r-3","requesttime":"{time}","referenceId":"ref-1","referenceUrl":"","flags":{{"maxResults":5,"targetFPIR":40}},"gallery":null}}"#)),
        ("delete", format!(r#"{{"id":"mosip.abis.delete","version":"1.1","requestId":"r-4","requesttime":"{time}","referenceId":"ref-1"}}"#)),
        ("ping", format!(r#"{{"id":"mosip.abis.ping","version":"1.1","requestId":"r-5","requesttime":"{time}"}}"#)),
        ("ctk-renamed", format!(r#"{{"id":"mosip.abis.insert","version":"1.1","requestIdXXX":"r-6","requesttime":"{time}","referenceId":"ref-1","referenceURL":"u"}}"#)),
        ("bad-time", r#"{"id":"mosip.abis.pendingJobs","version":"1.1","requestId":"r-7","requesttime":"2026-02-30T25:00:00.000Z"}"#.to_owned()),
    ];
    for (name, json) in &requests {
        seeds.put("mosip_request", name, json.as_bytes());
    }
    let frames: [(&str, &[u8]); 4] = [
        ("text", b"MESSAGE\ndestination:/queue/mosip-to-abis\nack:ID\\cvm-1\\c2\nexpires:1796682175431\nmessage-id:ID\\cvm-1\\c1\npersistent:true\n\n{\"id\":\"mosip.abis.ping\"}\0\n"),
        ("bytes", b"MESSAGE\ncontent-length:7\ndestination:/queue/mosip-to-abis\nredelivered:true\n\nby\0tes!\0"),
        ("receipt-beat", b"\n\nRECEIPT\nreceipt-id:commit-tx-1\n\n\0\nCONNECTED\nversion:1.2\nheart-beat:10000,10000\n\n\0"),
        ("error", b"ERROR\nmessage:Unknown destination\ncontent-type:text/plain\n\nno such queue\0"),
    ];
    for (name, bytes) in frames {
        seeds.put("stomp_frames", name, bytes);
    }
    let bir = |kind: &str, subtype: &str, bdb: &str| {
        format!("<BIR><BDBInfo><Format><Organization>Mosip</Organization><Type>7</Type></Format><Type>{kind}</Type><Subtype>{subtype}</Subtype><Purpose>Enroll</Purpose><Quality><Score>80</Score></Quality></BDBInfo><BDB>{bdb}</BDB></BIR>")
    };
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><BIR xmlns="http://standards.iso.org/iso-iec/19785/-3/ed-2/"><BIRInfo><Integrity>false</Integrity></BIRInfo>{}{}{}</BIR>"#,
        bir("Finger", "Left IndexFinger", "RklSADAyMAA"),
        bir("Iris", "Right", "SUlSADAyMAA="),
        "<BIR><BDBInfo><Type>Finger</Type><Subtype>Right Thumb</Subtype></BDBInfo><BDB></BDB><others><entry key=\"EXCEPTION\">true</entry></others></BIR>"
    );
    seeds.put("cbeff", "three-samples", document.as_bytes());
    seeds.put("cbeff", "empty", b"<BIR><BIRInfo/></BIR>");
}
