//! Records between the wire and the engine: round trips of every template kind, a real FVC2002
//! ISO record enrolled and found through the engine, and the typed refusals.

use abis_engine::{Engine, EngineOptions, Eye, IdentifyRequest, MinutiaKind, Record, Threshold};
use abis_matchers::iris::IrisLayout;
use abis_proto::v1;
use abis_proto::{record_to_proto, ProtoError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

fn fvc_dir() -> PathBuf {
    abis_test_data::shared_root().join("fvc2002/DB1_B")
}

/// Whether the shared FVC2002 data is here ([`abis_test_data::shared_data`]).
fn fvc_present() -> bool {
    abis_test_data::shared_data("fvc2002/DB1_B").is_some()
}

fn iso(finger: u32, impression: u32) -> Vec<u8> {
    let path = fvc_dir().join(format!("{finger}_{impression}.iso"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn layout() -> IrisLayout {
    IrisLayout::DAUGMAN_2048
}

fn iris(rng: &mut ChaCha8Rng, eye: v1::Eye) -> v1::Iris {
    let n = layout().code_bytes();
    v1::Iris {
        eye: eye as i32,
        code: (0..n).map(|_| rng.gen()).collect(),
        mask: (0..n).map(|_| rng.gen::<u8>() | 0x0f).collect(),
        layout: Some(layout().into()),
        image: Vec::new(),
    }
}

fn native_finger(rng: &mut ChaCha8Rng, position: u32, count: usize) -> v1::Finger {
    let minutiae = (0..count)
        .map(|i| v1::Minutia {
            x: rng.gen_range(0..=16_383),
            y: rng.gen_range(0..=16_383),
            angle: rng.gen_range(0..=255),
            kind: (i % 3) as i32,
            quality: rng.gen_range(0..=100),
        })
        .collect();
    v1::Finger {
        position,
        template: Some(v1::finger::Template::Minutiae(v1::NativeMinutiae {
            minutiae,
        })),
    }
}

/// A record with every template kind: two native fingers, both irises and a face.
fn full_record(seed: u64) -> v1::Record {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    v1::Record {
        reference_id: format!("person-{seed}"),
        fingers: vec![
            native_finger(&mut rng, 2, 40),
            native_finger(&mut rng, 7, 1),
        ],
        irises: vec![
            iris(&mut rng, v1::Eye::Left),
            iris(&mut rng, v1::Eye::Right),
        ],
        face: Some(v1::Face {
            embedding: (0..512).map(|_| rng.gen_range(-1.0..1.0)).collect(),
            image: Vec::new(),
        }),
    }
}

#[test]
fn native_record_round_trips_through_engine_types() {
    for seed in 0..5 {
        let wire = full_record(seed);
        let engine = Record::try_from(wire.clone()).unwrap();
        assert_eq!(engine.reference_id.as_str(), wire.reference_id);
        assert_eq!(engine.fingers.len(), 2);
        assert_eq!(engine.fingers[0].position, 2);
        assert_eq!(engine.fingers[0].minutiae.len(), 40);
        assert_eq!(engine.fingers[1].minutiae[0].kind, MinutiaKind::Other);
        assert_eq!(engine.irises[0].eye, Eye::Left);
        assert_eq!(engine.irises[1].eye, Eye::Right);
        assert_eq!(engine.face.as_ref().unwrap().embedding.len(), 512);
        assert_eq!(record_to_proto(&engine, &layout()), wire);
        // The gallery-checked conversion agrees.
        assert_eq!(wire.clone().into_engine(&layout()).unwrap(), engine);
    }
}

#[test]
fn single_modality_records_round_trip() {
    let full = full_record(9);
    let variants = [
        v1::Record {
            irises: vec![],
            face: None,
            ..full.clone()
        },
        v1::Record {
            fingers: vec![],
            face: None,
            ..full.clone()
        },
        v1::Record {
            fingers: vec![],
            irises: vec![],
            ..full.clone()
        },
    ];
    for wire in variants {
        let engine = Record::try_from(wire.clone()).unwrap();
        assert_eq!(record_to_proto(&engine, &layout()), wire);
    }
}

#[test]
fn records_survive_the_engine_and_come_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let mut wire = full_record(3);
    // Its one-minutia finger carries no usable evidence: the engine's quality gate refuses it.
    wire.fingers.truncate(1);
    // A face of exactly unit length, so that the engine's normalisation changes nothing.
    let mut face = vec![0.0f32; 512];
    face[17] = 1.0;
    wire.face = Some(v1::Face {
        embedding: face,
        image: Vec::new(),
    });
    let record = Record::try_from(wire.clone()).unwrap();
    engine.insert(record.clone()).unwrap();
    let stored = engine.get(&record.reference_id).unwrap();
    assert_eq!(record_to_proto(&stored, &layout()), wire);
}

#[test]
fn fvc2002_iso_record_converts_at_500_ppi() {
    if !fvc_present() {
        return;
    }
    let bytes = iso(101, 1);
    let parsed = abis_matchers::finger::parse(&bytes).unwrap();
    let wire = v1::Record {
        reference_id: "fvc-101".into(),
        fingers: vec![v1::Finger {
            position: 1,
            template: Some(v1::finger::Template::IsoOrAnsiRecord(bytes)),
        }],
        ..Default::default()
    };
    let record = Record::try_from(wire).unwrap();
    assert_eq!(record.fingers.len(), 1);
    let finger = &record.fingers[0];
    assert_eq!(finger.position, 1);
    // FVC2002 DB1 templates are written at 197 px/cm, so the minutiae come through unchanged.
    assert_eq!(parsed.x_resolution, 197);
    assert!(
        finger.minutiae.len() >= 10,
        "{} minutiae",
        finger.minutiae.len()
    );
    assert_eq!(finger.minutiae, parsed.views[0].minutiae);
}

#[test]
fn iso_minutiae_are_scaled_from_the_record_resolution() {
    if !fvc_present() {
        return;
    }
    let mut parsed = abis_matchers::finger::parse(&iso(102, 1)).unwrap();
    let original = parsed.views[0].minutiae.clone();
    // Claim 1000 ppi (394 px/cm): coordinates halve, rounding halves up.
    parsed.x_resolution = 394;
    parsed.y_resolution = 394;
    let bytes = abis_matchers::finger::write(&parsed, parsed.format).unwrap();
    let scaled = abis_proto::minutiae_from_record(&bytes, 1).unwrap();
    for (s, o) in scaled.iter().zip(&original) {
        assert_eq!(s.x, o.x.div_ceil(2), "x of {o:?}");
        assert_eq!(s.y, o.y.div_ceil(2), "y of {o:?}");
        assert_eq!((s.angle, s.kind, s.quality), (o.angle, o.kind, o.quality));
    }
    // A resolution of 0 is read as 500 ppi.
    parsed.x_resolution = 0;
    parsed.y_resolution = 0;
    let bytes = abis_matchers::finger::write(&parsed, parsed.format).unwrap();
    assert_eq!(
        abis_proto::minutiae_from_record(&bytes, 1).unwrap(),
        original
    );
}

#[test]
fn iso_records_from_the_wire_are_found_by_the_engine() {
    if !fvc_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let finger_record = |id: String, finger: u32, impression: u32| v1::Record {
        reference_id: id,
        fingers: vec![v1::Finger {
            position: 3,
            template: Some(v1::finger::Template::IsoOrAnsiRecord(iso(
                finger, impression,
            ))),
        }],
        ..Default::default()
    };
    let gallery: Vec<Record> = (101..=110)
        .map(|f| Record::try_from(finger_record(format!("fvc-{f}"), f, 1)).unwrap())
        .collect();
    engine.insert_batch(gallery).unwrap();
    let request = IdentifyRequest {
        max_results: 10,
        threshold: Threshold::Score(0.0),
    };
    for finger in [101, 105, 110] {
        let probe = Record::try_from(finger_record("probe".into(), finger, 2)).unwrap();
        let result = engine.identify(&probe, &request).unwrap();
        let best = result.candidates.first().expect("no candidate");
        assert_eq!(best.reference_id.as_str(), format!("fvc-{finger}"));
        let wire = abis_proto::identify_result_to_proto(&probe.reference_id, &result);
        assert!(wire.is_complete());
        assert_eq!(wire.records_searched, 10);
        assert_eq!(wire.candidates[0].reference_id, format!("fvc-{finger}"));
        let back = abis_engine::Candidate::try_from(&wire.candidates[0]).unwrap();
        assert_eq!(&back, best);
    }
}

#[test]
fn missing_reference_id_is_refused() {
    let wire = v1::Record {
        reference_id: String::new(),
        ..full_record(1)
    };
    assert_eq!(
        Record::try_from(wire),
        Err(ProtoError::MissingField {
            field: "record.reference_id".into()
        })
    );
    let too_long = v1::Record {
        reference_id: "x".repeat(65),
        ..full_record(1)
    };
    assert!(matches!(
        Record::try_from(too_long),
        Err(ProtoError::InvalidReferenceId { .. })
    ));
}

#[test]
fn bad_finger_bytes_are_refused_with_the_parser_error() {
    if !fvc_present() {
        return;
    }
    let mut bytes = iso(101, 1);
    let wire = |bytes: Vec<u8>| v1::Record {
        reference_id: "p".into(),
        fingers: vec![v1::Finger {
            position: 4,
            template: Some(v1::finger::Template::IsoOrAnsiRecord(bytes)),
        }],
        ..Default::default()
    };
    let err = Record::try_from(wire(b"not a finger record".to_vec())).unwrap_err();
    assert!(
        matches!(err, ProtoError::BadFingerRecord { position: 4, .. }),
        "{err:?}"
    );
    bytes.truncate(40);
    let err = Record::try_from(wire(bytes)).unwrap_err();
    assert!(
        matches!(err, ProtoError::BadFingerRecord { position: 4, .. }),
        "{err:?}"
    );
}

#[test]
fn finger_position_must_be_one_to_ten_and_match_the_record() {
    if !fvc_present() {
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for position in [0, 11] {
        let wire = v1::Record {
            reference_id: "p".into(),
            fingers: vec![native_finger(&mut rng, position, 3)],
            ..Default::default()
        };
        assert_eq!(
            Record::try_from(wire),
            Err(ProtoError::InvalidFingerPosition { position })
        );
    }
    let mut parsed = abis_matchers::finger::parse(&iso(101, 1)).unwrap();
    parsed.views[0].position = 6;
    let bytes = abis_matchers::finger::write(&parsed, parsed.format).unwrap();
    assert_eq!(
        abis_proto::minutiae_from_record(&bytes, 1),
        Err(ProtoError::FingerPositionMismatch {
            position: 1,
            record_position: 6
        })
    );
    assert!(abis_proto::minutiae_from_record(&bytes, 6).is_ok());
}

#[test]
fn finger_without_template_or_with_bad_minutiae_is_refused() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let with = |finger: v1::Finger| {
        Record::try_from(v1::Record {
            reference_id: "p".into(),
            fingers: vec![finger],
            ..Default::default()
        })
    };
    let empty = v1::Finger {
        position: 2,
        template: None,
    };
    assert!(matches!(with(empty), Err(ProtoError::MissingField { .. })));
    type Spoil = fn(&mut v1::Minutia);
    let cases: [(&str, Spoil); 4] = [
        ("x", |m| m.x = 16_384),
        ("y", |m| m.y = 70_000),
        ("angle", |m| m.angle = 256),
        ("quality", |m| m.quality = 101),
    ];
    for (field, set) in cases {
        let mut finger = native_finger(&mut rng, 2, 3);
        let Some(v1::finger::Template::Minutiae(n)) = &mut finger.template else {
            unreachable!()
        };
        set(&mut n.minutiae[1]);
        match with(finger) {
            Err(ProtoError::MinutiaOutOfRange {
                position: 2,
                index: 1,
                field: f,
                ..
            }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let mut finger = native_finger(&mut rng, 2, 3);
    let Some(v1::finger::Template::Minutiae(n)) = &mut finger.template else {
        unreachable!()
    };
    n.minutiae[0].kind = 3;
    assert!(matches!(
        with(finger),
        Err(ProtoError::InvalidEnum { value: 3, .. })
    ));
}

#[test]
fn wrong_eye_enum_is_refused() {
    for eye in [v1::Eye::Unspecified as i32, 3, -1] {
        let mut wire = full_record(2);
        wire.irises[0].eye = eye;
        assert_eq!(
            Record::try_from(wire),
            Err(ProtoError::InvalidEnum {
                field: "iris.eye".into(),
                value: eye
            })
        );
    }
}

#[test]
fn iris_layout_is_required_consistent_and_the_gallerys() {
    let mut wire = full_record(4);
    wire.irises[1].layout = None;
    assert!(matches!(
        Record::try_from(wire),
        Err(ProtoError::MissingField { .. })
    ));
    let mut wire = full_record(4);
    wire.irises[0].code.pop();
    assert!(matches!(
        Record::try_from(wire),
        Err(ProtoError::BadIris { eye: "left", .. })
    ));
    // 16 x 64 x 2 has Daugman's byte size but is another layout.
    let other = IrisLayout::new(16, 64, 2).unwrap();
    assert_eq!(other.code_bytes(), layout().code_bytes());
    let mut wire = full_record(4);
    for iris in &mut wire.irises {
        iris.layout = Some(other.into());
    }
    assert!(Record::try_from(wire.clone()).is_ok());
    assert_eq!(
        wire.into_engine(&layout()),
        Err(ProtoError::IrisLayoutMismatch {
            eye: "left",
            expected: (8, 128, 2),
            found: (16, 64, 2)
        })
    );
}

#[test]
fn identify_options_take_defaults_and_round_trip() {
    let default = IdentifyRequest::default();
    assert_eq!(abis_proto::identify_request(None), default);
    assert_eq!(
        abis_proto::identify_request(Some(&v1::IdentifyOptions::default())),
        default
    );
    for request in [
        IdentifyRequest {
            max_results: 7,
            threshold: Threshold::Score(9.5),
        },
        IdentifyRequest {
            max_results: 100,
            threshold: Threshold::Fpir(1e-4),
        },
    ] {
        let wire = v1::IdentifyOptions::from(&request);
        assert!(!wire.allow_incomplete);
        assert_eq!(abis_proto::identify_request(Some(&wire)), request);
    }
}

#[test]
fn completeness_reads_fail_closed() {
    let mut result = v1::IdentifyResult::default();
    assert!(
        !result.is_complete(),
        "absent completeness read as complete"
    );
    result.completeness = Some(v1::Completeness::default());
    assert!(!result.is_complete(), "unspecified status read as complete");
    result.completeness = Some(v1::Completeness {
        status: 7,
        unsearched: vec![],
    });
    assert!(!result.is_complete(), "unknown status read as complete");
    result.completeness = Some(v1::Completeness::incomplete(vec![v1::UnsearchedPart {
        slots: vec![v1::SlotRange {
            start: 0,
            end: 2048,
        }],
        shard_ids: vec!["shard-1".into()],
        cause: v1::UnsearchedCause::NoLiveReplica as i32,
        detail: String::new(),
    }]));
    assert!(!result.is_complete());
    result.completeness = Some(v1::Completeness::complete());
    assert!(result.is_complete());
}

#[test]
fn modality_scores_convert_both_ways_and_refuse_inconsistency() {
    use abis_engine::{Modality, ModalityScore};
    for (modality, finger) in [
        (Modality::IrisLeft, None),
        (Modality::IrisRight, None),
        (Modality::Face, None),
        (Modality::Fingers, Some(9)),
    ] {
        let s = ModalityScore {
            modality,
            finger,
            raw: 0.25,
            score: 6.5,
        };
        let wire = v1::ModalityScore::from(&s);
        assert_eq!(ModalityScore::try_from(&wire).unwrap(), s);
    }
    let finger_without_position = v1::ModalityScore {
        modality: v1::Modality::Finger as i32,
        finger_position: None,
        raw: 0.1,
        score: 1.0,
    };
    assert!(ModalityScore::try_from(&finger_without_position).is_err());
    let face_with_position = v1::ModalityScore {
        modality: v1::Modality::Face as i32,
        finger_position: Some(2),
        ..finger_without_position
    };
    assert!(ModalityScore::try_from(&face_with_position).is_err());
    let unspecified = v1::ModalityScore::default();
    assert!(matches!(
        ModalityScore::try_from(&unspecified),
        Err(ProtoError::InvalidEnum { value: 0, .. })
    ));
}
