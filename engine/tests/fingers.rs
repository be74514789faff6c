//! Fingerprints in the engine, on the real FVC2002 DB1-DB3 templates: each finger's first
//! impression is enrolled as one record; the other impressions must find it through the
//! first stage, the full matcher and the calibrated fusion.

use abis_datasets::fvc::{load_database, FvcDatabase};
use abis_engine::{
    Engine, EngineOptions, FingerTemplate, IdentifyRequest, Minutia, Modality, Record, ReferenceId,
    SearchConfig, Threshold,
};

/// FVC2002 DB1-DB3; `None` (with a message) when the shared data is missing, as in the other
/// FVC tests.
fn databases() -> Option<Vec<FvcDatabase>> {
    let root = abis_test_data::shared_data("fvc2002")?;
    Some(
        ["DB1_B", "DB2_B", "DB3_B"]
            .iter()
            .map(|d| load_database(&root.join(d)).unwrap())
            .collect(),
    )
}

/// Minutiae brought to the engine's 500 ppi (197 px/cm) from the record's resolution.
fn at_500ppi(db: &FvcDatabase, i: usize) -> Vec<Minutia> {
    let r = &db.impressions[i].record;
    let scale = |v: u16, res: u16| {
        let f = if res == 0 {
            1.0
        } else {
            197.0 / f32::from(res)
        };
        (f32::from(v) * f).round() as u16
    };
    r.views[0]
        .minutiae
        .iter()
        .map(|m| Minutia {
            x: scale(m.x, r.x_resolution),
            y: scale(m.y, r.y_resolution),
            ..*m
        })
        .collect()
}

fn record(name: String, position: u8, minutiae: Vec<Minutia>) -> Record {
    let mut r = Record::new(ReferenceId::new(name).unwrap());
    r.fingers.push(FingerTemplate { position, minutiae });
    r
}

#[test]
fn fvc_impressions_find_their_finger_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(
        dir.path(),
        EngineOptions {
            search: SearchConfig {
                finger_comparisons: 8,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let Some(dbs) = databases() else { return };
    let mut gallery = Vec::new();
    let mut probes = Vec::new();
    for (d, db) in dbs.iter().enumerate() {
        for (i, imp) in db.impressions.iter().enumerate() {
            let name = format!("db{}-{}", d + 1, imp.finger);
            if imp.impression == 1 {
                gallery.push(record(name, 2, at_500ppi(db, i)));
            } else {
                probes.push((name, record(format!("probe-{d}-{i}"), 2, at_500ppi(db, i))));
            }
        }
    }
    assert_eq!(gallery.len(), 30);
    engine.insert_batch(gallery).unwrap();
    assert_eq!(engine.stats().segments[Modality::Fingers.index()].rows, 30);

    // Rank-1 over every probe, threshold off so every shortlisted record is scored.
    let request = IdentifyRequest {
        max_results: 5,
        threshold: Threshold::Score(0.0),
    };
    let batch: Vec<Record> = probes.iter().map(|p| p.1.clone()).collect();
    let results = engine.identify_batch(&batch, &request).unwrap();
    let rank1 = probes
        .iter()
        .zip(&results)
        .filter(|(p, r)| {
            r.candidates
                .first()
                .is_some_and(|c| c.reference_id.as_str() == p.0)
        })
        .count();
    // The matcher alone ranks ~96% of these first (EER ~3%); the first stage must not lose many.
    assert!(
        rank1 * 100 >= probes.len() * 90,
        "rank-1 {rank1} of {}",
        probes.len()
    );
    let top = &results[0].candidates[0];
    assert_eq!(top.scores[0].modality, Modality::Fingers);
    assert_eq!(top.scores[0].finger, Some(2));

    // At an operational threshold (FPIR 1%), most mates are still found...
    let found = engine
        .identify_batch(&batch, &IdentifyRequest::default())
        .unwrap()
        .iter()
        .zip(&probes)
        .filter(|(r, p)| r.candidates.iter().any(|c| c.reference_id.as_str() == p.0))
        .count();
    assert!(
        found * 100 >= probes.len() * 80,
        "found {found} of {}",
        probes.len()
    );

    // ...and 1:1 verification accepts a mate and rejects another finger at FMR 0.1%.
    let mate = engine
        .verify(
            &probes[0].1,
            &ReferenceId::new(probes[0].0.clone()).unwrap(),
            1e-3,
        )
        .unwrap();
    assert!(mate.is_match, "{mate:?}");
    let other = engine
        .verify(&probes[0].1, &ReferenceId::new("db3-110").unwrap(), 1e-3)
        .unwrap();
    assert!(!other.is_match, "{other:?}");
    // A probe finger at a position the record lacks shares nothing with it.
    let elsewhere = record("x".into(), 7, at_500ppi(&dbs[0], 1));
    assert!(engine
        .verify(&elsewhere, &ReferenceId::new("db1-101").unwrap(), 1e-3)
        .is_err());
}

/// A population with ten fingers and nothing else, so only fingerprints can find anyone.
fn fingers_only(
    pop: &abis_datasets::population::Population,
    person: u64,
    capture: u64,
    id: &str,
) -> Record {
    let mut r = pop.capture(person, capture, ReferenceId::new(id).unwrap());
    r.irises.clear();
    r.face = None;
    r
}

#[test]
fn ten_print_dedup_finds_planted_duplicates_and_no_one_else() {
    let pop = abis_datasets::population::Population::new(23).with_fingers(10);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    let people = 1500u64;
    let gallery: Vec<Record> = (0..people)
        .map(|p| fingers_only(&pop, p, 0, &format!("person-{p}")))
        .collect();
    engine.insert_batch(gallery).unwrap();
    let dups: Vec<Record> = (0..30)
        .map(|p| fingers_only(&pop, p * 50, 1, &format!("dup-{p}")))
        .collect();
    let strangers: Vec<Record> = (0..30)
        .map(|p| fingers_only(&pop, 1_000_000 + p, 0, &format!("new-{p}")))
        .collect();
    let request = IdentifyRequest::default(); // FPIR 0.1%
    for (p, r) in engine
        .identify_batch(&dups, &request)
        .unwrap()
        .iter()
        .enumerate()
    {
        let top = r
            .candidates
            .first()
            .unwrap_or_else(|| panic!("duplicate {p} missed"));
        assert_eq!(top.reference_id.as_str(), format!("person-{}", p * 50));
        assert!(
            top.scores.len() >= 5,
            "most of the ten fingers are compared"
        );
        assert!(top.scores.iter().all(|s| s.modality == Modality::Fingers));
    }
    let false_candidates: usize = engine
        .identify_batch(&strangers, &request)
        .unwrap()
        .iter()
        .map(|r| r.candidates.len())
        .sum();
    assert_eq!(false_candidates, 0, "new people are not matched to anyone");
}

#[test]
fn a_damaged_finger_segment_is_rebuilt_from_rocksdb_with_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(dbs) = databases() else { return };
    let db = &dbs[0];
    let firsts: Vec<Record> = (0..db.impressions.len())
        .filter(|&i| db.impressions[i].impression == 1)
        .map(|i| {
            record(
                format!("f{}", db.impressions[i].finger),
                3,
                at_500ppi(db, i),
            )
        })
        .collect();
    let probes: Vec<Record> = (0..db.impressions.len())
        .filter(|&i| db.impressions[i].impression == 2)
        .map(|i| record(format!("q{i}"), 3, at_500ppi(db, i)))
        .collect();
    let request = IdentifyRequest {
        max_results: 3,
        threshold: Threshold::Score(0.0),
    };
    let expected = {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        engine.insert_batch(firsts).unwrap();
        engine.identify_batch(&probes, &request).unwrap()
    };
    let spec = abis_engine::gallery::spec(Modality::Fingers, &Default::default());
    let files = abis_engine::storage::segment::segment_files(&dir.path().join("segments"), &spec);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[64 + 8320 * 4 + 900] ^= 0x10;
    std::fs::write(&files[0], &bytes).unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    assert!(
        engine
            .stats()
            .opened
            .iter()
            .any(|o| o.contains("fingers") && o.contains("rebuilt")),
        "{:?}",
        engine.stats().opened
    );
    assert_eq!(engine.identify_batch(&probes, &request).unwrap(), expected);
}
