//! The whole flow on a real (small) engine through the embedded backend.

use crate::support::{applicant, engine_with, population, NEW_PEOPLE_BASE};
use abis_registration::{
    write_applicant, AnyBackend, Applicant, CaseKind, CaseStatus, EmbeddedBackend, ModalityName,
    PacketState, Registrar, RegistrarConfig, RegistrationStore, StateFilter,
};
use std::sync::Arc;

const PEOPLE: u64 = 200;

fn candidates_of(state: &PacketState) -> Vec<String> {
    match state {
        PacketState::Duplicate { candidates, .. } => {
            candidates.iter().map(|c| c.reference_id.clone()).collect()
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_registration_records_unique_and_duplicates_durably() {
    let pop = population(0);
    let gallery = tempfile::tempdir().unwrap();
    let engine = Arc::new(engine_with(gallery.path(), &pop, PEOPLE));
    let state_dir = tempfile::tempdir().unwrap();
    let folders = tempfile::tempdir().unwrap();

    // Applicants arrive as folders: three new people, two planted duplicates (fresh captures
    // of enrolled people 5 and 117), and the same new person twice within the batch.
    let specs: [(u64, u64, &str); 7] = [
        (NEW_PEOPLE_BASE, 0, "new-a"),
        (NEW_PEOPLE_BASE + 1, 0, "new-b"),
        (NEW_PEOPLE_BASE + 2, 0, "new-c"),
        (5, 1, "dup-of-5"),
        (117, 1, "dup-of-117"),
        (NEW_PEOPLE_BASE + 3, 0, "twin-1"),
        (NEW_PEOPLE_BASE + 3, 1, "twin-2"),
    ];
    let applicants: Vec<Applicant> = specs
        .iter()
        .map(|&(person, capture, packet)| {
            let a = applicant(&pop, person, capture, packet);
            let path = write_applicant(&folders.path().join(packet), &a.record).unwrap();
            Applicant::load(&path).unwrap()
        })
        .collect();

    {
        let store = Arc::new(RegistrationStore::open(state_dir.path()).unwrap());
        let config = RegistrarConfig {
            batch_size: 4,
            ..Default::default()
        };
        let registrar = Registrar::new(EmbeddedBackend::new(engine.clone()), store.clone(), config);
        let out = registrar.register(&applicants).await.unwrap();
        let by_id = |id: &str| out.iter().find(|r| r.packet_id == id).unwrap().clone();
        for id in ["new-a", "new-b", "new-c"] {
            let r = by_id(id);
            assert!(matches!(r.state, PacketState::Unique { .. }), "{id}: {r:?}");
            assert_eq!(r.open_case, None);
            assert_eq!(r.attempts, 1);
        }
        assert!(candidates_of(&by_id("dup-of-5").state).contains(&"person-5".to_owned()));
        assert!(candidates_of(&by_id("dup-of-117").state).contains(&"person-117".to_owned()));
        // Batch of 4: the twins are in the same job (applicants 5 and 6 of 7) and find each other.
        assert_eq!(candidates_of(&by_id("twin-1").state), ["twin-2"]);
        assert_eq!(candidates_of(&by_id("twin-2").state), ["twin-1"]);
        assert_eq!(engine.len(), PEOPLE + 7, "every applicant was inserted");

        let cases = store.open_cases().unwrap();
        assert_eq!(cases.len(), 4);
        let case = cases.iter().find(|c| c.packet_id == "dup-of-5").unwrap();
        assert_eq!(case.kind, CaseKind::Duplicate);
        assert_eq!(Some(&case.case_id), by_id("dup-of-5").open_case.as_ref());
        let best = &case.candidates[0];
        assert_eq!(best.reference_id, "person-5");
        let modalities: Vec<ModalityName> = best.scores.iter().map(|s| s.modality).collect();
        assert!(modalities.contains(&ModalityName::Face), "{modalities:?}");
        assert!(
            modalities.contains(&ModalityName::IrisLeft)
                || modalities.contains(&ModalityName::IrisRight)
        );
        assert!(best.fused_score > 0.0);

        // Registering again does not run new jobs: the verdicts are returned as recorded.
        let again = registrar.register(&applicants).await.unwrap();
        assert_eq!(again, out);
        assert_eq!(engine.len(), PEOPLE + 7);
    }

    // Everything survives reopening the store.
    let store = RegistrationStore::open(state_dir.path()).unwrap();
    assert_eq!(store.list(StateFilter::Unique).unwrap().len(), 3);
    assert_eq!(store.list(StateFilter::Duplicate).unwrap().len(), 4);
    assert_eq!(store.list(StateFilter::Failed).unwrap().len(), 0);
    assert_eq!(store.list(StateFilter::All).unwrap().len(), 7);
    let cases = store.open_cases().unwrap();
    assert_eq!(cases.len(), 4);
    assert!(cases.iter().all(|c| c.status == CaseStatus::Open));
    // Settled packets keep no biometrics, only a digest that recognises the same content.
    assert!(store.applicant("dup-of-117").unwrap().is_none());
    assert!(store
        .is_settled_content("dup-of-117", &applicants[4].record)
        .unwrap());
    assert!(!store
        .is_settled_content("dup-of-117", &applicants[5].record)
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backend_rejects_a_template_the_gallery_cannot_hold() {
    let pop = population(0);
    let gallery = tempfile::tempdir().unwrap();
    let engine = Arc::new(engine_with(gallery.path(), &pop, 20));
    let store = Arc::new(RegistrationStore::open(tempfile::tempdir().unwrap().path()).unwrap());
    let registrar = Registrar::new(
        AnyBackend::Embedded(EmbeddedBackend::new(engine.clone())),
        store,
        RegistrarConfig::default(),
    );
    let good = applicant(&pop, NEW_PEOPLE_BASE + 9, 0, "good");
    // A 4-d face on a 512-d gallery: valid locally, refused by the engine.
    let bad = crate::support::face_applicant("bad");
    let out = registrar.register(&[good, bad]).await.unwrap();
    assert!(
        matches!(out[0].state, PacketState::Unique { .. }),
        "{:?}",
        out[0]
    );
    match &out[1].state {
        PacketState::Failed {
            retryable,
            last_error,
            ..
        } => {
            assert!(!retryable);
            assert!(last_error.contains("bad"), "{last_error}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(
        out[1].open_case, None,
        "a rejection is not an adjudication case"
    );
    assert_eq!(engine.len(), 21);
}
