//! Retries, backoff and the fail-closed rule, against a scripted backend.

use crate::support::{
    all_unique, candidate, face_applicant, fast_policy, unavailable, Answer, Scripted,
};
use abis_registration::{
    CaseKind, CaseStatus, Decision, DedupError, Error, PacketState, Registrar, RegistrarConfig,
    RegistrationStore, StateFilter,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

fn registrar(backend: Scripted, dir: &std::path::Path) -> Registrar<Scripted> {
    let store = Arc::new(RegistrationStore::open(dir).unwrap());
    let config = RegistrarConfig {
        retry: fast_policy(),
        ..Default::default()
    };
    Registrar::new(backend, store, config)
}

#[tokio::test]
async fn retryable_failures_back_off_then_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registrar(
        Scripted::new([
            unavailable(),
            Answer::Fail(DedupError::Service("DATA_LOSS".into())),
            unavailable(),
            all_unique(),
        ]),
        dir.path(),
    );
    let out = reg
        .register(&[face_applicant("p1"), face_applicant("p2")])
        .await
        .unwrap();
    for r in &out {
        assert!(matches!(r.state, PacketState::Unique { .. }), "{r:?}");
        assert_eq!(r.attempts, 4);
        assert_eq!(r.open_case, None);
    }
    let calls = reg.backend().calls();
    assert_eq!(calls.len(), 4);
    // A fresh job id per attempt, each for the whole batch.
    let ids: std::collections::HashSet<_> = calls.iter().map(|c| c.job_id.clone()).collect();
    assert_eq!(ids.len(), 4);
    assert!(calls.iter().all(|c| c.applicants == ["p1", "p2"]));
    assert_eq!(out[0].last_job_id.as_ref(), Some(&calls[3].job_id));
    // Waits grow: at least the jittered floor of 20, 40, 80 ms.
    let policy = fast_policy();
    for k in 1..4 {
        let gap = calls[k].at - calls[k - 1].at;
        let floor = policy.base_backoff(k as u32).mul_f64(1.0 - policy.jitter);
        assert!(gap >= floor, "gap {k}: {gap:?} < {floor:?}");
    }
    assert!(reg.store().open_cases().unwrap().is_empty());
}

#[tokio::test]
async fn an_always_incomplete_search_never_makes_a_packet_unique() {
    for answer in [Answer::Incomplete, Answer::NoCompleteness, unavailable()] {
        let dir = tempfile::tempdir().unwrap();
        let reg = registrar(Scripted::new([answer]), dir.path());
        let out = reg.register(&[face_applicant("p1")]).await.unwrap();
        let r = &out[0];
        match &r.state {
            PacketState::Failed {
                retryable,
                retry_after_ms,
                ..
            } => {
                assert!(*retryable);
                assert!(retry_after_ms.is_some());
            }
            other => panic!("expected Failed, got {other:?}"),
        }
        assert_eq!(r.attempts, 4, "max_attempts jobs");
        assert_eq!(reg.backend().calls().len(), 4);
        let case_id = r.open_case.clone().expect("an Incomplete case");
        let case = reg.store().case(&case_id).unwrap().unwrap();
        assert_eq!(case.kind, CaseKind::Incomplete);
        assert!(case.candidates.is_empty());

        // A later retry that fails again keeps the packet Failed under the same open case.
        let again = reg.retry_failed().await.unwrap();
        assert_eq!(again.len(), 1);
        assert!(matches!(again[0].state, PacketState::Failed { .. }));
        assert_eq!(again[0].attempts, 8);
        assert_eq!(again[0].open_case.as_ref(), Some(&case_id));
        assert_eq!(reg.store().open_cases().unwrap().len(), 1);
        assert!(reg.store().list(StateFilter::Unique).unwrap().is_empty());
    }
}

#[tokio::test]
async fn incomplete_case_is_resubmitted_and_later_settled() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registrar(Scripted::new([Answer::Incomplete]), dir.path());
    let out = reg.register(&[face_applicant("p1")]).await.unwrap();
    let case_id = out[0].open_case.clone().unwrap();
    // Nobody may declare the applicant unique (or linked) without a complete search.
    let store = reg.store();
    assert!(matches!(
        store.decide(&case_id, Decision::DifferentPeople, "officer"),
        Err(Error::DecisionNotAllowed { .. })
    ));
    assert!(matches!(
        store.decide(
            &case_id,
            Decision::SamePerson {
                reference_id: "x".into()
            },
            "officer"
        ),
        Err(Error::DecisionNotAllowed { .. })
    ));
    store
        .decide(&case_id, Decision::Resubmit, "officer")
        .unwrap();
    assert!(store.open_cases().unwrap().is_empty());

    reg.backend().set([all_unique()]);
    let out = reg.resubmit_decided().await.unwrap();
    assert!(
        matches!(out[0].state, PacketState::Unique { .. }),
        "{:?}",
        out[0]
    );
    assert!(
        store.pending_actions().unwrap().is_empty(),
        "the resubmission was acted on"
    );
    // Nothing left to resubmit.
    assert!(reg.resubmit_decided().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_timer_retry_that_succeeds_supersedes_the_incomplete_case() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registrar(Scripted::new([unavailable()]), dir.path());
    let out = reg.register(&[face_applicant("p1")]).await.unwrap();
    let case_id = out[0].open_case.clone().unwrap();
    let mut found = HashMap::new();
    found.insert("p1".to_owned(), vec![candidate("person-9", 14.0)]);
    reg.backend().set([Answer::Complete(found)]);
    let out = reg.retry_failed().await.unwrap();
    match &out[0].state {
        PacketState::Duplicate {
            candidates,
            case_id: dup_case,
            ..
        } => {
            assert_eq!(candidates[0].reference_id, "person-9");
            assert_eq!(out[0].open_case.as_ref(), Some(dup_case));
            assert_ne!(dup_case, &case_id);
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    let old = reg.store().case(&case_id).unwrap().unwrap();
    assert!(
        matches!(old.status, CaseStatus::Superseded { .. }),
        "{old:?}"
    );
    let open = reg.store().open_cases().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, CaseKind::Duplicate);
    assert!(matches!(
        reg.store().decide(&case_id, Decision::Resubmit, "officer"),
        Err(Error::DecisionNotAllowed { .. })
    ));
}

#[tokio::test]
async fn a_rejection_fails_only_the_applicant_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let reject = DedupError::Rejected {
        code: "ERROR_CODE_INVALID_TEMPLATE".into(),
        reference_id: Some("bad".into()),
        message: "face dimension 4, gallery 512".into(),
    };
    let reg = registrar(
        Scripted::new([Answer::Fail(reject), all_unique()]),
        dir.path(),
    );
    let out = reg
        .register(&[face_applicant("good"), face_applicant("bad")])
        .await
        .unwrap();
    assert!(
        matches!(out[0].state, PacketState::Unique { .. }),
        "{:?}",
        out[0]
    );
    match &out[1].state {
        PacketState::Failed {
            retryable: false,
            retry_after_ms: None,
            last_error,
        } => {
            assert!(last_error.contains("INVALID_TEMPLATE"), "{last_error}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    let calls = reg.backend().calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].applicants, ["good"]);
    assert!(
        calls[1].at - calls[0].at < Duration::from_millis(15),
        "no backoff after a rejection"
    );
    // Permanent failures are not retried by the timer, and open no case.
    assert!(reg.retry_failed().await.unwrap().is_empty());
    assert_eq!(reg.backend().calls().len(), 2);
    assert!(reg.store().open_cases().unwrap().is_empty());

    // A rejection naming nobody fails the whole batch, once.
    let dir = tempfile::tempdir().unwrap();
    let reg = registrar(
        Scripted::new([Answer::Fail(DedupError::Unauthenticated(
            "bad token".into(),
        ))]),
        dir.path(),
    );
    let out = reg
        .register(&[face_applicant("a"), face_applicant("b")])
        .await
        .unwrap();
    assert!(out.iter().all(|r| matches!(
        r.state,
        PacketState::Failed {
            retryable: false,
            ..
        }
    )));
    assert_eq!(reg.backend().calls().len(), 1);
}

#[tokio::test]
async fn a_crash_during_a_job_resumes_under_the_same_job_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RegistrationStore::open(dir.path()).unwrap());
    let applicants = [face_applicant("p1"), face_applicant("p2")];
    // A backend that never answers: the registrar is dropped mid-job, as in a crash.
    struct Hang;
    impl abis_registration::DedupBackend for Hang {
        fn run_job(
            &self,
            _: &str,
            _: &[abis_proto::v1::Record],
            _: &abis_proto::v1::IdentifyOptions,
        ) -> impl std::future::Future<
            Output = Result<Vec<abis_proto::v1::ApplicantResult>, DedupError>,
        > + Send {
            std::future::pending()
        }
    }
    let hung = Registrar::new(Hang, store.clone(), RegistrarConfig::default());
    let timed_out =
        tokio::time::timeout(Duration::from_millis(50), hung.register(&applicants)).await;
    assert!(timed_out.is_err());
    let pending = store.list(StateFilter::Pending).unwrap();
    assert_eq!(pending.len(), 2);
    let first_job = pending[0].last_job_id.clone().unwrap();

    let reg = Registrar::new(
        Scripted::new([all_unique()]),
        store.clone(),
        RegistrarConfig::default(),
    );
    let out = reg.register(&applicants).await.unwrap();
    assert_eq!(
        reg.backend().calls()[0].job_id,
        first_job,
        "same attempt, same job id"
    );
    assert!(out
        .iter()
        .all(|r| r.attempts == 1 && matches!(r.state, PacketState::Unique { .. })));

    // Registering a verdict's packet with other biometrics is refused.
    let mut changed = face_applicant("p1");
    changed.record.face.as_mut().unwrap().embedding[0] = 0.75;
    assert!(matches!(
        reg.register(&[changed]).await,
        Err(Error::PacketContentChanged(_))
    ));
    assert!(matches!(
        reg.register(&[face_applicant("p3"), face_applicant("p3")])
            .await,
        Err(Error::DuplicatePacket(_))
    ));
}
