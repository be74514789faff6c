//! Adjudication rules: who may decide what, idempotence, the action list, durability.

use crate::support::{candidate, face_applicant, fast_policy, Answer, Scripted};
use abis_registration::{
    Action, CaseKind, CaseStatus, Decision, Error, PacketState, Registrar, RegistrarConfig,
    RegistrationStore,
};
use std::collections::HashMap;
use std::sync::Arc;

#[tokio::test]
async fn duplicate_cases_follow_the_decision_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut found = HashMap::new();
    found.insert(
        "a".to_owned(),
        vec![candidate("person-1", 20.0), candidate("person-2", 12.0)],
    );
    found.insert("b".to_owned(), vec![candidate("person-3", 11.0)]);
    {
        let store = Arc::new(RegistrationStore::open(dir.path()).unwrap());
        let config = RegistrarConfig {
            retry: fast_policy(),
            ..Default::default()
        };
        let reg = Registrar::new(
            Scripted::new([Answer::Complete(found)]),
            store.clone(),
            config,
        );
        let out = reg
            .register(&[face_applicant("a"), face_applicant("b")])
            .await
            .unwrap();
        assert!(out
            .iter()
            .all(|r| matches!(r.state, PacketState::Duplicate { .. })));
        let cases = store.open_cases().unwrap();
        assert_eq!(cases.len(), 2);
        let a = cases.iter().find(|c| c.packet_id == "a").unwrap();
        assert_eq!(a.kind, CaseKind::Duplicate);
        let ids: Vec<&str> = a
            .candidates
            .iter()
            .map(|c| c.reference_id.as_str())
            .collect();
        assert_eq!(ids, ["person-1", "person-2"]);
        assert_eq!(a.candidates[0].scores.len(), 1);
        let case_a = a.case_id.clone();

        // Not a candidate; resubmitting a complete search; unknown case.
        let not_candidate = Decision::SamePerson {
            reference_id: "person-3".into(),
        };
        assert!(matches!(
            store.decide(&case_a, not_candidate, "o"),
            Err(Error::DecisionNotAllowed { .. })
        ));
        assert!(matches!(
            store.decide(&case_a, Decision::Resubmit, "o"),
            Err(Error::DecisionNotAllowed { .. })
        ));
        assert!(matches!(
            store.decide("nope#1", Decision::DifferentPeople, "o"),
            Err(Error::UnknownCase(_))
        ));
        assert_eq!(
            store.open_cases().unwrap().len(),
            2,
            "refused decisions change nothing"
        );

        let same = Decision::SamePerson {
            reference_id: "person-2".into(),
        };
        let action = store.decide(&case_a, same.clone(), "officer-1").unwrap();
        assert_eq!(
            action,
            Action::LinkToExisting {
                packet_id: "a".into(),
                reference_id: "person-2".into()
            }
        );
        // The same decision again is a no-op; another one is refused.
        assert_eq!(store.decide(&case_a, same, "officer-2").unwrap(), action);
        assert!(matches!(
            store.decide(&case_a, Decision::DifferentPeople, "officer-2"),
            Err(Error::AlreadyDecided { .. })
        ));
        let decided = store.case(&case_a).unwrap().unwrap();
        match &decided.status {
            CaseStatus::Decided {
                decided_by,
                acted_at_ms,
                ..
            } => {
                assert_eq!(decided_by, "officer-1");
                assert_eq!(*acted_at_ms, None);
            }
            other => panic!("expected Decided, got {other:?}"),
        }
        assert_eq!(store.get("a").unwrap().unwrap().open_case, None);

        let b = store.open_cases().unwrap();
        assert_eq!(b.len(), 1);
        let case_b = b[0].case_id.clone();
        assert_eq!(
            store
                .decide(&case_b, Decision::DifferentPeople, "officer-1")
                .unwrap(),
            Action::IssueUin {
                packet_id: "b".into()
            }
        );
        assert!(store.open_cases().unwrap().is_empty());
        let pending = store.pending_actions().unwrap();
        assert_eq!(pending.len(), 2);
        store.mark_acted(&case_a).unwrap();
    }
    // After reopening: one action left, then none; marking twice is fine.
    let store = RegistrationStore::open(dir.path()).unwrap();
    let pending = store.pending_actions().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].1,
        Action::IssueUin {
            packet_id: "b".into()
        }
    );
    store.mark_acted(&pending[0].0.case_id).unwrap();
    store.mark_acted(&pending[0].0.case_id).unwrap();
    assert!(store.pending_actions().unwrap().is_empty());
    assert_eq!(store.cases().unwrap().len(), 2);
}
