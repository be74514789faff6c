//! Integration tests of [`abis_issuance::Issuer`] over real RocksDB directories: idempotency,
//! durability across reopen, uniqueness at scale and under concurrency, links, bad input.

use abis_issuance::{IssuanceError, Issued, Issuer, Outcome, UinRules};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:07}")).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// 3-digit UINs, no optional rule: 100 possible UINs (every 2-digit body has one check digit).
fn tiny_rules(not_start_with: Vec<u8>) -> UinRules {
    UinRules {
        length: 3,
        not_start_with,
        sequence_limit: 0,
        repeating_limit: 0,
        repeating_block_limit: 0,
        restricted_numbers: vec![],
    }
}

#[test]
fn issuer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Issuer>();
}

#[test]
fn issue_is_idempotent_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let issuer = Issuer::open_seeded(dir.path(), UinRules::default(), 1).unwrap();
        let a = issuer.issue("reg-a").unwrap();
        assert_eq!(a.outcome, Outcome::Issued);
        assert!(a.is_new());
        assert_eq!(UinRules::default().validate(&a.uin), Ok(()));
        let again = issuer.issue("reg-a").unwrap();
        assert_eq!(again.uin, a.uin);
        assert_eq!(again.outcome, Outcome::AlreadyIssued);
        assert!(!again.is_new());
        let b = issuer.issue("reg-b").unwrap();
        assert_ne!(b.uin, a.uin);
        assert_eq!(issuer.issued_count(), 2);
        assert_eq!(issuer.uin_of("reg-a").unwrap(), Some(a.uin.clone()));
        assert_eq!(
            issuer.registration_of(&a.uin).unwrap().as_deref(),
            Some("reg-a")
        );
        assert_eq!(issuer.uin_of("reg-zzz").unwrap(), None);
        assert_eq!(issuer.registration_of("2947581390").unwrap(), None);
        (a, b)
    };
    // Same seed after reopen: the RNG replays the same candidates, which are all taken now.
    let issuer = Issuer::open_seeded(dir.path(), UinRules::default(), 1).unwrap();
    assert_eq!(issuer.issued_count(), 2);
    let a = issuer.issue("reg-a").unwrap();
    assert_eq!(
        (a.uin.as_str(), a.outcome),
        (first.0.uin.as_str(), Outcome::AlreadyIssued)
    );
    let c = issuer.issue("reg-c").unwrap();
    assert!(c.is_new());
    assert_ne!(c.uin, first.0.uin);
    assert_ne!(c.uin, first.1.uin);
    assert_eq!(issuer.issued_count(), 3);
}

#[test]
fn never_reissues_across_restarts_and_rule_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut issued: HashMap<String, String> = HashMap::new();
    {
        let issuer = Issuer::open_seeded(dir.path(), tiny_rules(vec![]), 5).unwrap();
        for r in issuer.issue_batch(&refs(&ids("a", 60))).unwrap() {
            assert!(r.is_new());
            issued.insert(r.uin, r.registration_id);
        }
        assert_eq!(issued.len(), 60);
    }
    // New rules: only first digits 5-9 (50 possible UINs, many already issued). Issue until the
    // space is used up; nothing issued before may come back.
    let issuer = Issuer::open_seeded(dir.path(), tiny_rules(vec![0, 1, 2, 3, 4]), 5).unwrap();
    let mut n = 0;
    let err = loop {
        match issuer.issue(&format!("b-{n}")) {
            Ok(r) => {
                assert!(r.is_new());
                assert!(r.uin.as_bytes()[0] >= b'5', "{}", r.uin);
                assert!(
                    issued.insert(r.uin.clone(), r.registration_id).is_none(),
                    "{} reissued",
                    r.uin
                );
                n += 1;
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(err, IssuanceError::SpaceExhausted { .. }), "{err}");
    let from_five: usize = issued.keys().filter(|u| u.as_bytes()[0] >= b'5').count();
    assert_eq!(from_five, 50, "every UIN starting 5-9 issued exactly once");
    assert_eq!(issuer.issued_count(), issued.len() as u64);
    // Every mapping from both runs is still there, both ways.
    for (uin, reg) in &issued {
        assert_eq!(issuer.registration_of(uin).unwrap().as_ref(), Some(reg));
        assert_eq!(issuer.uin_of(reg).unwrap().as_ref(), Some(uin));
    }
    // A longer UIN format later works too, and old UINs stay resolvable.
    drop(issuer);
    let issuer = Issuer::open(dir.path(), UinRules::default()).unwrap();
    let r = issuer.issue("c-0").unwrap();
    assert_eq!(r.uin.len(), 10);
    assert_eq!(
        issuer.uin_of("a-0000000").unwrap().map(|u| u.len()),
        Some(3)
    );
}

#[test]
fn batch_gives_repeated_ids_one_uin() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Issuer::open_seeded(dir.path(), UinRules::default(), 2).unwrap();
    issuer.issue("old").unwrap();
    let out = issuer.issue_batch(&["x", "y", "x", "old", "y"]).unwrap();
    let outcomes: Vec<_> = out.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Issued,
            Outcome::Issued,
            Outcome::AlreadyIssued,
            Outcome::AlreadyIssued,
            Outcome::AlreadyIssued
        ]
    );
    assert_eq!(out[0].uin, out[2].uin);
    assert_eq!(out[1].uin, out[4].uin);
    assert_ne!(out[0].uin, out[1].uin);
    assert_eq!(issuer.issued_count(), 3);
    assert!(issuer.issue_batch(&[]).unwrap().is_empty());
}

#[test]
fn bad_registration_ids_are_typed_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Issuer::open_seeded(dir.path(), UinRules::default(), 3).unwrap();
    let long = "x".repeat(65);
    for bad in ["", long.as_str(), "a\nb", "tab\there", "nul\0"] {
        let e = issuer.issue(bad).unwrap_err();
        assert!(
            matches!(e, IssuanceError::BadRegistrationId { .. }),
            "{bad:?}: {e}"
        );
        assert!(e.is_user_fault());
    }
    // 64 bytes (multi-byte characters count in bytes) and Unicode are fine.
    assert!(issuer.issue(&"é".repeat(32)).unwrap().is_new());
    assert!(issuer.issue(&"é".repeat(33)).is_err());
    // A bad id anywhere in a batch fails the batch before anything is written.
    assert!(issuer.issue_batch(&["good-1", "", "good-2"]).is_err());
    assert_eq!(issuer.uin_of("good-1").unwrap(), None);
    assert_eq!(issuer.issued_count(), 1);
    assert!(issuer.link("", "good-1").is_err());
}

#[test]
fn link_maps_a_duplicate_to_the_existing_uin() {
    let dir = tempfile::tempdir().unwrap();
    let (uin, other) = {
        let issuer = Issuer::open_seeded(dir.path(), UinRules::default(), 4).unwrap();
        let first = issuer.issue("first").unwrap();
        let other = issuer.issue("other").unwrap();
        let linked = issuer.link("second", "first").unwrap();
        assert_eq!(
            linked,
            Issued {
                registration_id: "second".to_owned(),
                uin: first.uin.clone(),
                outcome: Outcome::Linked
            }
        );
        assert_eq!(issuer.issued_count(), 2, "a link issues no UIN");
        // Idempotent, and issue() on the linked id returns the linked UIN.
        assert_eq!(issuer.link("second", "first").unwrap().uin, first.uin);
        let again = issuer.issue("second").unwrap();
        assert_eq!(
            (again.uin.as_str(), again.outcome),
            (first.uin.as_str(), Outcome::AlreadyIssued)
        );
        // The UIN still names the registration it was issued to.
        assert_eq!(
            issuer.registration_of(&first.uin).unwrap().as_deref(),
            Some("first")
        );
        // Linking through a linked registration reaches the same UIN.
        assert_eq!(issuer.link("third", "second").unwrap().uin, first.uin);
        // Errors.
        let e = issuer.link("fourth", "nobody").unwrap_err();
        assert!(
            matches!(&e, IssuanceError::NoUinToLink(r) if r == "nobody"),
            "{e}"
        );
        assert_eq!(issuer.uin_of("fourth").unwrap(), None);
        let e = issuer.link("other", "first").unwrap_err();
        match e {
            IssuanceError::LinkConflict {
                registration_id,
                has,
                wanted,
            } => {
                assert_eq!(registration_id, "other");
                assert_eq!(has, other.uin);
                assert_eq!(wanted, first.uin);
            }
            e => panic!("expected LinkConflict, got {e}"),
        }
        assert_eq!(issuer.uin_of("other").unwrap(), Some(other.uin.clone()));
        (first.uin, other.uin)
    };
    let issuer = Issuer::open_seeded(dir.path(), UinRules::default(), 4).unwrap();
    assert_eq!(issuer.uin_of("second").unwrap(), Some(uin.clone()));
    assert_eq!(issuer.uin_of("third").unwrap(), Some(uin));
    assert_eq!(issuer.uin_of("other").unwrap(), Some(other));
    assert_eq!(issuer.issued_count(), 2);
}

#[test]
fn concurrent_issuance_never_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Arc::new(Issuer::open(dir.path(), UinRules::default()).unwrap());
    const THREADS: usize = 8;
    const PER_THREAD: usize = 60;
    // Every thread issues its own ids plus a shared set that all threads race on, mixing single
    // calls and small batches.
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let issuer = Arc::clone(&issuer);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for i in 0..PER_THREAD {
                    let own = format!("t{t}-{i}");
                    let shared = format!("shared-{}", i % 20);
                    if i % 3 == 0 {
                        got.extend(issuer.issue_batch(&[&own, &shared]).unwrap());
                    } else {
                        got.push(issuer.issue(&own).unwrap());
                        got.push(issuer.issue(&shared).unwrap());
                    }
                }
                got
            })
        })
        .collect();
    let all: Vec<Issued> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let mut uin_of: HashMap<&str, &str> = HashMap::new();
    let mut new_uins = HashSet::new();
    for r in &all {
        if let Some(prev) = uin_of.insert(&r.registration_id, &r.uin) {
            assert_eq!(prev, r.uin, "{} got two UINs", r.registration_id);
        }
        if r.is_new() {
            assert!(new_uins.insert(r.uin.as_str()), "{} issued twice", r.uin);
        }
    }
    let registrations = THREADS * PER_THREAD + 20;
    assert_eq!(uin_of.len(), registrations);
    assert_eq!(
        new_uins.len(),
        registrations,
        "each registration issued exactly once"
    );
    let distinct: HashSet<&str> = uin_of.values().copied().collect();
    assert_eq!(distinct.len(), registrations);
    assert_eq!(issuer.issued_count(), registrations as u64);
}

#[test]
fn rejects_bad_rules_and_a_second_open() {
    let dir = tempfile::tempdir().unwrap();
    let bad = UinRules {
        length: 1,
        ..UinRules::default()
    };
    assert!(matches!(
        Issuer::open(dir.path(), bad),
        Err(IssuanceError::Rules(_))
    ));
    let _held = Issuer::open(dir.path(), UinRules::default()).unwrap();
    let e = Issuer::open(dir.path(), UinRules::default()).err().unwrap();
    assert!(matches!(e, IssuanceError::Storage(_)), "{e}");
    assert!(!e.is_user_fault());
}

#[test]
fn refuses_unknown_store_formats() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = rocksdb::DB::open_default(dir.path()).unwrap();
        db.put(b"m/format", 2u32.to_le_bytes()).unwrap();
    }
    let e = Issuer::open(dir.path(), UinRules::default()).err().unwrap();
    assert!(matches!(e, IssuanceError::DataCorruption(_)), "{e}");
    let other = tempfile::tempdir().unwrap();
    {
        let db = rocksdb::DB::open_default(other.path()).unwrap();
        db.put(b"something", b"else").unwrap();
    }
    let e = Issuer::open(other.path(), UinRules::default())
        .err()
        .unwrap();
    assert!(matches!(e, IssuanceError::DataCorruption(_)), "{e}");
}

/// One million UINs through `issue_batch` in batches of 10,000: all distinct, all valid.
#[test]
fn million_uins_are_unique_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let rules = UinRules::default();
    let issuer = Issuer::open_seeded(dir.path(), rules.clone(), 2026).unwrap();
    let start = Instant::now();
    let mut uins: HashSet<String> = HashSet::with_capacity(1_000_000);
    for b in 0..100 {
        let batch = ids(&format!("m{b:03}"), 10_000);
        for r in issuer.issue_batch(&refs(&batch)).unwrap() {
            assert!(r.is_new());
            assert!(uins.insert(r.uin), "duplicate UIN");
        }
    }
    let issued = start.elapsed();
    assert_eq!(uins.len(), 1_000_000);
    for u in &uins {
        assert_eq!(rules.validate(u), Ok(()), "{u}");
    }
    assert_eq!(issuer.issued_count(), 1_000_000);
    assert_eq!(
        issuer
            .uin_of("m099-0009999")
            .unwrap()
            .map(|u| uins.contains(&u)),
        Some(true)
    );
    eprintln!(
        "issued 1,000,000 UINs in {:.2?} (validated all in {:.2?} total)",
        issued,
        start.elapsed()
    );
}

proptest! {
    // No failure file: integration tests have no lib.rs beside them for proptest to find.
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_issued_uin_passes_the_validator(seed in any::<u64>(), n in 1usize..300) {
        let dir = tempfile::tempdir().unwrap();
        let rules = UinRules::default();
        let issuer = Issuer::open_seeded(dir.path(), rules.clone(), seed).unwrap();
        let batch = ids("p", n);
        let out = issuer.issue_batch(&refs(&batch)).unwrap();
        prop_assert_eq!(out.len(), n);
        for r in &out {
            prop_assert_eq!(rules.validate(&r.uin), Ok(()), "{}", r.uin);
        }
        let single = issuer.issue("single").unwrap();
        prop_assert_eq!(rules.validate(&single.uin), Ok(()));
    }
}
