//! Engine behaviour a user depends on: durable idempotent inserts, typed refusals, exhaustive
//! search with calibrated decisions, repair of damaged segments.

use abis_datasets::population::Population;
use abis_engine::storage::segment::segment_files;
use abis_engine::{
    compare, gallery, Calibration, Engine, EngineError, EngineOptions, FaceFirstPass, FaceTemplate,
    FingerTemplate, GalleryConfig, IdentifyRequest, IrisTemplate, Minutia, MinutiaKind, Record,
    ReferenceId, SearchConfig, Threshold,
};

fn id(s: &str) -> ReferenceId {
    ReferenceId::new(s).unwrap()
}

fn minutia(x: u16, y: u16) -> Minutia {
    Minutia {
        x,
        y,
        angle: (x % 256) as u8,
        kind: MinutiaKind::RidgeEnding,
        quality: 60,
    }
}

fn enrol(engine: &Engine, pop: &Population, people: u64) {
    for start in (0..people).step_by(500) {
        let batch: Vec<Record> = (start..(start + 500).min(people))
            .map(|p| pop.enrolment(p))
            .collect();
        engine.insert_batch(batch).unwrap();
    }
}

#[test]
fn dedup_finds_planted_duplicates_and_not_new_people() {
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(11);
    // Calibrated on a held-out seed, never on the population under test.
    let calibration = abis_datasets::calibrate::fit_calibration(&pop.face, 9011, 4000);
    let engine = Engine::open(
        dir.path(),
        EngineOptions {
            calibration: Some(calibration),
            ..Default::default()
        },
    )
    .unwrap();
    enrol(&engine, &pop, 3000);
    assert_eq!(engine.len(), 3000);

    let dups: Vec<Record> = (0..40)
        .map(|p| pop.capture(p * 70, 1, id(&format!("dup-{p}"))))
        .collect();
    let new: Vec<Record> = (0..40)
        .map(|p| pop.capture(1_000_000 + p, 0, id(&format!("new-{p}"))))
        .collect();
    let request = IdentifyRequest::default();
    let dup_results = engine.identify_batch(&dups, &request).unwrap();
    for (p, r) in dup_results.iter().enumerate() {
        assert_eq!(r.records_searched, 3000);
        let top = r
            .candidates
            .first()
            .unwrap_or_else(|| panic!("duplicate {p} not found"));
        assert_eq!(
            top.reference_id,
            pop.reference_id(p as u64 * 70),
            "duplicate {p}"
        );
        assert!(top.fused_score >= r.threshold);
        assert!(!top.scores.is_empty());
    }
    // The timed form answers the same and says where the time went.
    let (timed, stages) = engine.identify_batch_timed(&dups, &request).unwrap();
    assert_eq!(timed, dup_results);
    assert!(stages.first_stage > std::time::Duration::ZERO);
    assert!(stages.rerank > std::time::Duration::ZERO);
    let new_results = engine.identify_batch(&new, &request).unwrap();
    let flagged = new_results
        .iter()
        .filter(|r| !r.candidates.is_empty())
        .count();
    assert_eq!(flagged, 0, "new people flagged at FPIR 1e-3");

    // The probe's own reference id is never its own candidate.
    let enrolled = pop.enrolment(5);
    let r = engine.identify(&enrolled, &request).unwrap();
    assert!(r
        .candidates
        .iter()
        .all(|c| c.reference_id != enrolled.reference_id));
}

#[test]
fn verify_accepts_mates_and_rejects_impostors() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let pop = Population::new(12);
    enrol(&engine, &pop, 50);
    let mate = pop.capture(7, 2, id("probe"));
    let v = engine.verify(&mate, &pop.reference_id(7), 1e-4).unwrap();
    assert!(v.is_match, "{v:?}");
    let v = engine.verify(&mate, &pop.reference_id(8), 1e-4).unwrap();
    assert!(!v.is_match, "{v:?}");
    assert!(matches!(
        engine.verify(&mate, &id("nobody"), 1e-4),
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        engine.verify(&mate, &pop.reference_id(7), 0.0),
        Err(EngineError::InvalidRequest(_))
    ));
}

#[test]
fn compare_without_a_gallery_scores_as_verify_does() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let pop = Population::new(12);
    enrol(&engine, &pop, 10);
    let shape = GalleryConfig::default();
    let calibration = Calibration::for_gallery(&shape);
    let search = SearchConfig::default();
    let mate = pop.capture(7, 2, id("probe"));
    for person in [7, 8] {
        let verified = engine
            .verify(&mate, &pop.reference_id(person), 1e-4)
            .unwrap();
        let compared = compare(
            &shape,
            &search,
            &calibration,
            &mate,
            &pop.enrolment(person),
            1e-4,
        )
        .unwrap();
        assert_eq!(compared.is_match, person == 7, "{compared:?}");
        assert_eq!(compared.is_match, verified.is_match);
        assert_eq!(compared.threshold, verified.threshold);
        assert_eq!(compared.scores.len(), verified.scores.len());
        assert!(
            (compared.fused_score - verified.fused_score).abs() < 1e-6,
            "{compared:?} {verified:?}"
        );
    }
    // A record with only the fingers against one with only the face: nothing shared.
    let mut fingers = pop.enrolment(7);
    fingers.irises.clear();
    fingers.face = None;
    let mut face = pop.enrolment(7);
    face.fingers.clear();
    face.irises.clear();
    if !fingers.fingers.is_empty() && face.face.is_some() {
        assert!(matches!(
            compare(&shape, &search, &calibration, &fingers, &face, 1e-4),
            Err(EngineError::InvalidRequest(_))
        ));
    }
    assert!(matches!(
        compare(&shape, &search, &calibration, &mate, &mate, 1.5),
        Err(EngineError::InvalidRequest(_))
    ));
}

#[test]
fn inserts_are_idempotent_and_conflicts_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let pop = Population::new(13);
    let r = pop.enrolment(1);
    assert_eq!(
        engine.insert(r.clone()).unwrap(),
        abis_engine::InsertOutcome::Inserted
    );
    assert_eq!(
        engine.insert(r.clone()).unwrap(),
        abis_engine::InsertOutcome::AlreadyPresent
    );
    let other = pop.capture(2, 0, r.reference_id.clone());
    assert!(matches!(
        engine.insert(other.clone()),
        Err(EngineError::AlreadyExists(_))
    ));
    // A batch with one conflict stores nothing at all.
    let fresh = pop.enrolment(3);
    assert!(engine.insert_batch(vec![fresh.clone(), other]).is_err());
    assert_eq!(engine.len(), 1);
    assert!(matches!(
        engine.get(&fresh.reference_id),
        Err(EngineError::NotFound(_))
    ));
    assert_eq!(engine.get(&r.reference_id).unwrap().irises, r.irises);
    // The stored copy (face normalised) inserted again, as a rebalance copies it, is the same
    // record: normalising is idempotent.
    let stored = engine.get(&r.reference_id).unwrap();
    assert_eq!(
        engine.insert(stored).unwrap(),
        abis_engine::InsertOutcome::AlreadyPresent
    );
}

#[test]
fn bad_input_gets_typed_errors_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let good = Population::new(14).enrolment(0);
    let code_bytes = good.irises[0].code.len();
    let mut cases: Vec<(&str, Record)> = Vec::new();
    let mut r = good.clone();
    r.irises[0].code.pop();
    cases.push(("short iris code", r));
    let mut r = good.clone();
    r.irises[0].mask = vec![0xff; code_bytes + 1];
    cases.push(("mask/code mismatch", r));
    let mut r = good.clone();
    r.face.as_mut().unwrap().embedding[3] = f32::NAN;
    cases.push(("NaN embedding", r));
    let mut r = good.clone();
    r.face = Some(FaceTemplate {
        embedding: vec![0.1; 128],
    });
    cases.push(("wrong dimension", r));
    let mut r = good.clone();
    r.face = Some(FaceTemplate {
        embedding: vec![0.0; 512],
    });
    cases.push(("zero embedding", r));
    let mut r = good.clone();
    let first = r.irises[0].clone();
    r.irises.push(IrisTemplate { ..first });
    cases.push(("same eye twice", r));
    let mut r = good.clone();
    r.irises.clear();
    r.face = None;
    cases.push(("no template", r));
    // The quality gate: templates that carry no usable evidence are refused, named.
    let mut r = good.clone();
    r.irises[1].mask = vec![0; code_bytes];
    cases.push(("iris with an all-zero mask", r));
    let mut r = good.clone();
    r.fingers.push(FingerTemplate {
        position: 3,
        minutiae: (0..7).map(|i| minutia(100 + 20 * i, 200)).collect(),
    });
    cases.push(("finger under the minutiae floor", r));
    let mut r = good.clone();
    let mut minutiae: Vec<Minutia> = (0..20).map(|i| minutia(100 + 10 * i, 150)).collect();
    minutiae[4].x = 20_000;
    r.fingers.push(FingerTemplate {
        position: 2,
        minutiae,
    });
    cases.push(("minutia off any canvas", r));
    for (what, record) in cases {
        let err = engine.insert(record.clone()).expect_err(what);
        assert!(err.is_user_fault(), "{what}: {err}");
        if what.starts_with("iris with") {
            assert!(err.to_string().contains("iris right"), "named: {err}");
        }
        if what.starts_with("finger under") {
            assert!(err.to_string().contains("finger 3"), "named: {err}");
        }
        let err = engine
            .identify(&record, &IdentifyRequest::default())
            .expect_err(what);
        assert!(err.is_user_fault(), "{what} (identify): {err}");
    }
    assert!(matches!(
        ReferenceId::new(""),
        Err(EngineError::InvalidReferenceId(_))
    ));
    assert!(matches!(
        ReferenceId::new("x".repeat(65)),
        Err(EngineError::InvalidReferenceId(_))
    ));
    assert!(ReferenceId::new("x".repeat(64)).is_ok());
    assert!(matches!(
        engine.identify(
            &good,
            &IdentifyRequest {
                max_results: 0,
                ..Default::default()
            }
        ),
        Err(EngineError::InvalidRequest(_))
    ));
    assert!(matches!(
        engine.identify(
            &good,
            &IdentifyRequest {
                max_results: 5,
                threshold: Threshold::Fpir(1.5)
            }
        ),
        Err(EngineError::InvalidRequest(_))
    ));
    assert!(engine.is_empty());
    assert!(engine.stats().segments.iter().all(|s| s.rows == 0));
}

#[test]
fn deletes_hide_records_and_compaction_reclaims_rows() {
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(15);
    let probe = pop.capture(9, 1, id("probe"));
    {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        enrol(&engine, &pop, 200);
        let before = engine
            .identify(&probe, &IdentifyRequest::default())
            .unwrap();
        assert_eq!(before.candidates[0].reference_id, pop.reference_id(9));
        engine.delete(&pop.reference_id(9)).unwrap();
        assert!(matches!(
            engine.delete(&pop.reference_id(9)),
            Err(EngineError::NotFound(_))
        ));
        assert_eq!(engine.len(), 199);
        let after = engine
            .identify(&probe, &IdentifyRequest::default())
            .unwrap();
        assert!(after
            .candidates
            .iter()
            .all(|c| c.reference_id != pop.reference_id(9)));
        // A batch: one durable write, an outcome per id; a repeated id is deleted once.
        let batch = [
            pop.reference_id(20),
            id("never-enrolled"),
            pop.reference_id(9),
            pop.reference_id(21),
            pop.reference_id(20),
        ];
        use abis_engine::DeleteOutcome::{Deleted, NotFound};
        assert_eq!(
            engine.delete_batch(&batch).unwrap(),
            vec![Deleted, NotFound, NotFound, Deleted, NotFound]
        );
        assert_eq!(engine.len(), 197);
        assert_eq!(engine.delete_batch(&[]).unwrap(), vec![]);
    }
    // Tombstones survive a reopen; compaction then drops the rows.
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    assert_eq!(engine.len(), 197);
    assert_eq!(engine.stats().pending_tombstones, 3);
    assert!(matches!(
        engine.get(&pop.reference_id(21)),
        Err(EngineError::NotFound(_))
    ));
    let after = engine
        .identify(&probe, &IdentifyRequest::default())
        .unwrap();
    assert!(after.candidates.is_empty());
    let reclaimed = engine.compact().unwrap();
    assert!(
        reclaimed >= 6,
        "three records' iris pairs and faces, reclaimed {reclaimed}"
    );
    assert_eq!(engine.stats().pending_tombstones, 0);
    // Re-enrolling the same id after deletion is a fresh insert.
    engine.insert(pop.enrolment(9)).unwrap();
    let again = engine
        .identify(&probe, &IdentifyRequest::default())
        .unwrap();
    assert_eq!(again.candidates[0].reference_id, pop.reference_id(9));
}

#[test]
fn damaged_or_missing_segments_are_detected_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(16);
    let probes: Vec<Record> = (0..20)
        .map(|p| pop.capture(p * 7, 1, id(&format!("p{p}"))))
        .collect();
    let expected = {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        enrol(&engine, &pop, 300);
        engine
            .identify_batch(&probes, &IdentifyRequest::default())
            .unwrap()
    };
    let shape = abis_engine::GalleryConfig::default();
    let seg_dir = dir.path().join("segments");
    let face = segment_files(
        &seg_dir,
        &gallery::spec(abis_engine::Modality::Face, &shape),
    );
    let left = segment_files(
        &seg_dir,
        &gallery::spec(abis_engine::Modality::IrisLeft, &shape),
    );
    let right = segment_files(
        &seg_dir,
        &gallery::spec(abis_engine::Modality::IrisRight, &shape),
    );

    // Flip one byte in the middle of the face f32 rows.
    let mut bytes = std::fs::read(&face[0]).unwrap();
    bytes[64 + 2048 * 150 + 17] ^= 0x40;
    std::fs::write(&face[0], &bytes).unwrap();
    // Truncate the left-iris rows.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&left[0])
        .unwrap();
    f.set_len(64 + 512 * 100).unwrap();
    // Remove the right-iris metadata.
    std::fs::remove_file(&right[1]).unwrap();

    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let opened = engine.stats().opened;
    assert_eq!(
        opened.iter().filter(|o| o.contains("rebuilt")).count(),
        3,
        "{opened:?}"
    );
    assert_eq!(
        engine
            .identify_batch(&probes, &IdentifyRequest::default())
            .unwrap(),
        expected
    );
    drop(engine);
    // And the rebuilt files are clean at the next open.
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    assert!(
        engine.stats().opened.iter().all(|o| o.ends_with("clean")),
        "{:?}",
        engine.stats().opened
    );
}

/// A segment's metadata row (the record's slot, the face's i8 scale) is covered by the row
/// checksum: a flipped slot bit would attribute a face to another person, a flipped scale would
/// hide mates from the first pass. Both are found at open and the segment is rebuilt.
#[test]
fn flipped_segment_metadata_is_detected_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(19);
    let faces: Vec<Record> = (0..20)
        .map(|p| {
            let mut r = pop.capture(p * 3, 1, id(&format!("f{p}")));
            r.irises.clear();
            r.fingers.clear();
            r
        })
        .filter(|r| r.face.is_some())
        .collect();
    let expected = {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        enrol(&engine, &pop, 200);
        engine
            .identify_batch(&faces, &IdentifyRequest::default())
            .unwrap()
    };
    assert!(expected.iter().filter(|r| !r.candidates.is_empty()).count() >= 15);
    let shape = abis_engine::GalleryConfig::default();
    let face = segment_files(
        &dir.path().join("segments"),
        &gallery::spec(abis_engine::Modality::Face, &shape),
    );
    let meta = face.last().unwrap();
    let mut bytes = std::fs::read(meta).unwrap();
    // Row 9's slot (bytes 0..4 of its 16) and row 30's scale (bytes 4..8).
    bytes[64 + 16 * 9] ^= 0x01;
    bytes[64 + 16 * 30 + 6] ^= 0x10;
    std::fs::write(meta, &bytes).unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let opened = engine.stats().opened;
    assert!(
        opened
            .iter()
            .any(|o| o.starts_with("face: rebuilt") && o.contains("checksum")),
        "{opened:?}"
    );
    assert_eq!(
        engine
            .identify_batch(&faces, &IdentifyRequest::default())
            .unwrap(),
        expected
    );
}

#[test]
fn memory_segments_give_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(17);
    let probes: Vec<Record> = (0..10)
        .map(|p| pop.capture(p * 11, 1, id(&format!("p{p}"))))
        .collect();
    let mmap = {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        enrol(&engine, &pop, 150);
        engine
            .identify_batch(&probes, &IdentifyRequest::default())
            .unwrap()
    };
    let engine = Engine::open(
        dir.path(),
        EngineOptions {
            memory_segments: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        engine
            .identify_batch(&probes, &IdentifyRequest::default())
            .unwrap(),
        mmap
    );
}

#[test]
fn data_dir_problems_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        Engine::open(&file, EngineOptions::default()),
        Err(EngineError::BadDataDir { .. })
    ));
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"x").unwrap();
    assert!(matches!(
        Engine::open(&other, EngineOptions::default()),
        Err(EngineError::BadDataDir { .. })
    ));
    // A directory holding no gallery is refused, and left alone, when the caller only reads.
    let typo = dir.path().join("typo");
    let must_exist = EngineOptions {
        must_exist: true,
        ..Default::default()
    };
    assert!(matches!(
        Engine::open(&typo, must_exist.clone()),
        Err(EngineError::BadDataDir { .. })
    ));
    assert!(!typo.exists(), "nothing created");
    let gallery = dir.path().join("g");
    drop(Engine::open(&gallery, EngineOptions::default()).unwrap());
    drop(Engine::open(&gallery, must_exist).unwrap());
    let other_shape = abis_engine::GalleryConfig {
        face_dim: 128,
        ..Default::default()
    };
    let err = Engine::open(
        &gallery,
        EngineOptions {
            gallery: Some(other_shape),
            ..Default::default()
        },
    );
    assert!(matches!(err, Err(EngineError::BadDataDir { .. })));
}

/// Two-stage face search (i8 first pass, exact re-rank) against exhaustive f32, at a threshold
/// low enough that many impostors sit right at it: recall must be >= 99.9%.
#[test]
fn quantised_face_pass_keeps_recall_at_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(18);
    let face_only = |p: u64, capture: u64, rid: ReferenceId| {
        let mut r = pop.capture(p, capture, rid);
        r.irises.clear();
        r
    };
    {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        for start in (0..8000u64).step_by(1000) {
            let batch: Vec<Record> = (start..start + 1000)
                .map(|p| face_only(p, 0, pop.reference_id(p)))
                .filter(|r| r.face.is_some())
                .collect();
            engine.insert_batch(batch).unwrap();
        }
    }
    let probes: Vec<Record> = (0..64)
        .map(|p| face_only(9_000_000 + p, 0, id(&format!("q{p}"))))
        .filter(|r| r.face.is_some())
        .collect();
    // Score 2.5: FMR ~3e-3, so ~25 impostors per probe straddle the threshold.
    let request = IdentifyRequest {
        max_results: 1000,
        threshold: Threshold::Score(2.5),
    };
    let run = |pass| {
        let search = SearchConfig {
            face_first_pass: pass,
            ..Default::default()
        };
        let engine = Engine::open(
            dir.path(),
            EngineOptions {
                search,
                ..Default::default()
            },
        )
        .unwrap();
        engine.identify_batch(&probes, &request).unwrap()
    };
    let exact = run(FaceFirstPass::ExactF32);
    let quick = run(FaceFirstPass::QuantisedI8);
    let (mut total, mut kept) = (0usize, 0usize);
    for (e, q) in exact.iter().zip(&quick) {
        for c in &e.candidates {
            total += 1;
            kept += usize::from(
                q.candidates
                    .iter()
                    .any(|x| x.reference_id == c.reference_id),
            );
        }
    }
    assert!(
        total > 500,
        "too few threshold candidates to measure recall: {total}"
    );
    let recall = kept as f64 / total as f64;
    println!("face two-stage recall at score 2.5: {kept}/{total} = {recall:.5}");
    assert!(recall >= 0.999, "recall {recall}");
}

/// The open-iris 12,800-bit layout and 128-d faces work end to end, with a calibration fitted
/// on a held-out seed.
#[test]
fn open_iris_layout_gallery_finds_duplicates() {
    use abis_datasets::face::FaceModel;
    use abis_datasets::iris::IrisModel;
    use abis_matchers::iris::IrisLayout;
    let dir = tempfile::tempdir().unwrap();
    let (iris, face) = (IrisModel::open_iris_12800(), FaceModel::new(128).unwrap());
    let calibration = abis_datasets::calibrate::fit_for(&iris, &face, 7777, 1500);
    let pop = Population::with_models(19, iris, face);
    let shape = abis_engine::GalleryConfig {
        iris_layout: IrisLayout::OPEN_IRIS_12800,
        face_dim: 128,
    };
    let options = EngineOptions {
        gallery: Some(shape),
        calibration: Some(calibration),
        ..Default::default()
    };
    let engine = Engine::open(dir.path(), options).unwrap();
    enrol(&engine, &pop, 1000);
    let dups: Vec<Record> = (0..20)
        .map(|p| pop.capture(p * 37, 1, id(&format!("dup-{p}"))))
        .collect();
    let new: Vec<Record> = (0..20)
        .map(|p| pop.capture(5_000_000 + p, 0, id(&format!("new-{p}"))))
        .collect();
    for (p, r) in engine
        .identify_batch(&dups, &IdentifyRequest::default())
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(
            r.candidates.first().map(|c| c.reference_id.clone()),
            Some(pop.reference_id(p as u64 * 37))
        );
    }
    let flagged = engine
        .identify_batch(&new, &IdentifyRequest::default())
        .unwrap();
    assert!(
        flagged.iter().all(|r| r.candidates.is_empty()),
        "new people flagged"
    );
}

fn last_digit(id: &str) -> u32 {
    u32::from(id.as_bytes()[id.len() - 1] - b'0')
}

/// A shard node searches only the partitions (routing slots) it is asked for: candidates,
/// `records_searched` and the FPIR threshold are those of the scope; a search whose caller went
/// away stops with `Cancelled`; a threshold every record passes still answers within the cap.
#[test]
fn scoped_searches_count_what_they_compare_and_stop_when_cancelled() {
    use abis_engine::{PartitionSet, Partitioner, Scope, SearchControl};
    use std::sync::atomic::AtomicBool;
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(23);
    let engine = Engine::open(
        dir.path(),
        EngineOptions {
            partitioner: Some(Partitioner {
                count: 10,
                of: last_digit,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    enrol(&engine, &pop, 400);
    // Face-only records in partition 9's neighbourhood: compared only with face holders.
    let mut probe = pop.capture(37, 1, id("probe-x"));
    let mate = "person-37";
    let parts = engine.partitions();
    assert_eq!(parts.len(), 10);
    assert_eq!(parts.iter().map(|p| p.records).sum::<u64>(), 400);
    let own = PartitionSet::from_ranges(10, [(7, 8)]);
    let other = PartitionSet::from_ranges(10, [(0, 7), (8, 10)]);
    let run = |set: &PartitionSet, probe: &Record| {
        engine
            .identify_batch_with(
                std::slice::from_ref(probe),
                &IdentifyRequest::default(),
                SearchControl {
                    scope: Scope::Partitions(set),
                    cancel: None,
                },
            )
            .unwrap()
            .0
            .remove(0)
    };
    let inside = run(&own, &probe);
    assert_eq!(inside.candidates[0].reference_id.as_str(), mate);
    assert_eq!(inside.records_searched, parts[7].records);
    let outside = run(&other, &probe);
    assert!(outside
        .candidates
        .iter()
        .all(|c| c.reference_id.as_str() != mate));
    assert_eq!(outside.records_searched, 400 - parts[7].records);
    // A face-only probe is compared with the records holding a face only.
    probe.irises.clear();
    probe.fingers.clear();
    let faces = (0..400)
        .filter(|&p| pop.enrolment(p).face.is_some())
        .count() as u64;
    let all = engine
        .identify(&probe, &IdentifyRequest::default())
        .unwrap();
    assert_eq!(all.records_searched, faces);
    // Everything passes a threshold of 0, yet the answer stays within max_results.
    let flood = engine
        .identify(
            &pop.capture(5, 1, id("flood")),
            &IdentifyRequest {
                max_results: 7,
                threshold: Threshold::Score(0.0),
            },
        )
        .unwrap();
    assert_eq!(flood.candidates.len(), 7);
    let cancel = AtomicBool::new(true);
    let stopped = engine.identify_batch_with(
        std::slice::from_ref(&probe),
        &IdentifyRequest::default(),
        SearchControl {
            scope: Scope::All,
            cancel: Some(&cancel),
        },
    );
    assert!(matches!(stopped, Err(EngineError::Cancelled)));
}

/// Reference ids read from bytes (a population file, a stored record) go through the same
/// validation as the API's: empty, over-long and control-character ids are refused.
#[test]
fn reference_ids_are_validated_on_every_way_in() {
    let mut r = Population::new(3).enrolment(0);
    r.reference_id = id("ok");
    let bytes = abis_engine::storage::codec::encode(&r);
    let good = abis_engine::storage::codec::decode(&bytes).unwrap();
    assert_eq!(good.reference_id.as_str(), "ok");
    for bad in [String::new(), "a\u{7}b".to_owned(), "x".repeat(65)] {
        let wire = postcard::to_stdvec(&bad).unwrap();
        assert!(
            postcard::from_bytes::<ReferenceId>(&wire).is_err(),
            "{bad:?} must be refused"
        );
    }
    assert!(postcard::from_bytes::<ReferenceId>(&postcard::to_stdvec("fine").unwrap()).is_ok());
}

/// Templates at rest (finding 12): with a key ring every record value in RocksDB is sealed
/// (AES-256-GCM); the gallery does not open without the key; searches are unchanged; after a
/// key rotation `reseal` rewrites every record under the new key, and the old key can go.
#[test]
fn sealed_galleries_need_their_keys_and_survive_a_rotation() {
    use abis_engine::crypto::Keyring;
    use std::sync::Arc;
    let key = |id: u32, byte: u8| format!("{id} {}\n", format!("{byte:02x}").repeat(32));
    let old = Arc::new(Keyring::parse(&key(1, 0x11)).unwrap());
    let rotated = Arc::new(Keyring::parse(&(key(2, 0x22) + &key(1, 0x11))).unwrap());
    let new_only = Arc::new(Keyring::parse(&key(2, 0x22)).unwrap());
    let with = |k: &Arc<Keyring>| EngineOptions {
        keyring: Some(k.clone()),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(29);
    let probes: Vec<Record> = (0..10)
        .map(|p| pop.capture(p * 13, 1, id(&format!("p{p}"))))
        .collect();
    let expected = {
        let engine = Engine::open(dir.path(), with(&old)).unwrap();
        enrol(&engine, &pop, 200);
        engine
            .identify_batch(&probes, &IdentifyRequest::default())
            .unwrap()
    };
    assert!(expected.iter().all(|r| !r.candidates.is_empty()));
    // Without the key: refused, naming the cause.
    let Err(err) = Engine::open(dir.path(), EngineOptions::default()) else {
        panic!("a sealed gallery opened without its key");
    };
    assert!(matches!(err, EngineError::BadDataDir { .. }), "{err}");
    assert!(err.to_string().contains("sealed"), "{err}");
    // The values themselves are sealed: a store opened without keys cannot read them.
    {
        let store = abis_engine::storage::Store::open(&dir.path().join("db"), true, None).unwrap();
        assert!(store.first_record_sealed().unwrap());
        assert!(store.record(0).is_err());
    }
    // Rotation: the new key first, the old still read; reseal; then the old key can go.
    {
        let engine = Engine::open(dir.path(), with(&rotated)).unwrap();
        assert_eq!(
            engine
                .identify_batch(&probes, &IdentifyRequest::default())
                .unwrap(),
            expected
        );
        assert_eq!(engine.reseal().unwrap(), 200);
        assert_eq!(
            engine.reseal().unwrap(),
            0,
            "nothing left under the old key"
        );
    }
    let engine = Engine::open(dir.path(), with(&new_only)).unwrap();
    assert_eq!(
        engine
            .identify_batch(&probes, &IdentifyRequest::default())
            .unwrap(),
        expected
    );
    assert_eq!(engine.get(&id("person-3")).unwrap(), pop.enrolment(3));
}
