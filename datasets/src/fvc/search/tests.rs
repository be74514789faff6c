//! Tests of the 1:N protocol: tie handling, summaries, and generated databases end to end.

use super::*;
use crate::fvc::FvcImpression;

#[test]
fn ties_count_against_the_mate_and_the_shortlist_is_pessimistic() {
    // Non-mates 0, 1 and 4 score at least the mate's 0.5 in the first stage: rank 4.
    let first = [0.5, 0.9, 0.5, 0.1, 0.5, 0.0];
    let mut full = [0.01, 0.02, 0.07, 0.06, 0.03, 0.0];
    let all: Vec<usize> = (0..6).collect();
    let t = calibrated_score(0.05);
    let o = search_outcome(&full, &first, &all, 2, 4, t);
    assert_eq!(o.first_stage_rank, 4);
    assert!(o.exhaustive_rank1 && o.two_stage_rank1 && o.mate_returned);
    assert_eq!(o.two_stage_rank, Some(1));
    assert_eq!(o.mate_score, Some(calibrated_score(0.07)));
    // The non-mated shortlist is fingers 1, 0, 4, 3: its best full score is 0.06.
    assert_eq!(o.best_non_mate, Some(calibrated_score(0.06)));
    // The non-mated shortlist (1, 0, 4, 3) holds finger 3, above the threshold.
    assert!(o.false_positive);
    // A shortlist of 3 misses the mate and finger 3.
    let o = search_outcome(&full, &first, &all, 2, 3, t);
    assert!(o.exhaustive_rank1);
    assert_eq!((o.two_stage_rank, o.mate_score), (None, None));
    assert!(!o.two_stage_rank1 && !o.mate_returned && !o.false_positive);
    // An equal full score is ahead of the mate, in both searches.
    full[3] = 0.07;
    let o = search_outcome(&full, &first, &all, 2, 6, t);
    assert!(!o.exhaustive_rank1 && !o.two_stage_rank1 && o.mate_returned);
    assert_eq!(o.two_stage_rank, Some(2));
    // Only members count: without finger 3 the mate is first again.
    let some = [0, 1, 2, 4, 5];
    let o = search_outcome(&full, &first, &some, 2, 6, t);
    assert!(o.exhaustive_rank1 && o.two_stage_rank1 && !o.false_positive);
    assert_eq!(o.first_stage_rank, 4);
    // A threshold above every score returns nothing.
    let o = search_outcome(&full, &first, &all, 2, 6, calibrated_score(0.08));
    assert!(!o.mate_returned && !o.false_positive);
}

#[test]
fn summaries_count_retention_over_exhaustive_hits_only() {
    let hit = |rank: usize, two: bool| SearchOutcome {
        exhaustive_rank1: true,
        first_stage_rank: rank,
        two_stage_rank1: two,
        mate_returned: two,
        false_positive: false,
        two_stage_rank: two.then_some(1),
        mate_score: two.then_some(10.0),
        best_non_mate: None,
    };
    let miss = SearchOutcome {
        first_stage_rank: 900,
        false_positive: true,
        best_non_mate: Some(6.0),
        ..Default::default()
    };
    let outcomes = [
        hit(1, true),
        hit(3, true),
        hit(20, false),
        hit(2, true),
        miss,
    ];
    let params = SearchParams {
        shortlist: 10,
        target_fpir: 0.01,
    };
    let r = summarise("x", &outcomes, 100, &params, 4.0);
    assert_eq!(
        (r.probes, r.gallery, r.shortlist, r.exhaustive_hits),
        (5, 100, 10, 4)
    );
    assert_eq!(r.penetration, 0.1);
    assert_eq!((r.rank1_exhaustive, r.rank1_two_stage), (0.8, 0.6));
    assert_eq!(r.retention, 0.75);
    assert_eq!(
        (r.mate_rank_p50, r.mate_rank_p99, r.mate_rank_max),
        (2, 20, 20)
    );
    assert_eq!((r.fnir, r.fpir_measured, r.threshold), (0.4, 0.2, 4.0));
    // The second operating point: threshold -log10(0.001 / 100) = 5 from the gallery size.
    assert!((r.threshold_second - 5.0).abs() < 1e-12);
    assert_eq!((r.fnir_second, r.fpir_measured_second), (0.4, 0.2));
    assert_eq!(r.cmc.len(), CMC_RANKS);
    assert!(r.cmc.iter().all(|&c| c == 0.6), "{:?}", r.cmc);
    let empty = summarise("y", &[], 5, &params, 1.0);
    assert_eq!(
        (empty.retention, empty.mate_rank_max, empty.penetration),
        (0.0, 0, 1.0)
    );
}

/// Databases of generated fingers (3 impressions each) named like FVC folders.
fn generated(name: &str, seed: u64, fingers: u64) -> FvcDatabase {
    let model = FingerModel::default();
    let mut impressions = Vec::new();
    for f in 0..fingers {
        let master = model.master(seed, f, (f % 10) as u8);
        for i in 1..=3 {
            impressions.push(FvcImpression {
                finger: 101 + f as u32,
                impression: i,
                record: model.record(&master, i),
            });
        }
    }
    FvcDatabase {
        name: name.into(),
        synthetic: name.ends_with("-synthetic"),
        impressions,
    }
}

#[test]
fn generated_databases_go_through_the_search_protocol() {
    let dbs = [
        generated("DB1_B", 71, 4),
        generated("DB4_B-synthetic", 72, 3),
        generated("DB2_B", 73, 4),
    ];
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let tick = || {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let fillers = filler_fingers(40, 1, &tick);
    assert_eq!(calls.swap(0, std::sync::atomic::Ordering::Relaxed), 40);
    assert_ne!(fillers[0], fillers[1]);
    let params = SearchParams {
        shortlist: 8,
        target_fpir: 0.01,
    };
    let r = identification(&dbs, &fillers, &params, SimdLevel::get(), &tick);
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 16);
    assert_eq!(probe_count(&dbs), 16);
    assert_eq!((r.fillers, r.comparisons), (40, 16 * 48));
    let names: Vec<&str> = r.databases.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["DB1_B", "DB2_B"]);
    let pooled = r.pooled.clone().unwrap();
    assert_eq!((pooled.probes, pooled.gallery), (16, 48));
    assert_eq!(pooled.threshold, identify_threshold(0.01, 48));
    for d in r.databases.iter().chain([&pooled]) {
        if d.name != pooled.name {
            assert_eq!((d.probes, d.gallery), (8, 44));
            assert_eq!(d.threshold, identify_threshold(0.01, 44));
        }
        assert_eq!(d.penetration, 8.0 / d.gallery as f64);
        // Generated mates are easy: nearly every probe finds its mate.
        assert!(d.rank1_exhaustive >= 0.75, "{d:?}");
        assert!(d.rank1_two_stage >= 0.75, "{d:?}");
        assert!(d.retention >= 0.75, "{d:?}");
        assert!(d.mate_rank_p50 <= d.mate_rank_p99 && d.mate_rank_p99 <= d.mate_rank_max);
        assert!(d.mate_rank_p50 >= 1 && d.mate_rank_max <= d.gallery);
        assert!((0.0..=1.0).contains(&d.fnir) && (0.0..=1.0).contains(&d.fpir_measured));
    }
    // A shortlist as large as the gallery makes the two stages the exhaustive search.
    let all = SearchParams {
        shortlist: 48,
        ..params
    };
    let r = identification(&dbs, &fillers, &all, SimdLevel::get(), &tick);
    for d in r.databases.iter().chain(r.pooled.iter()) {
        assert_eq!(d.rank1_two_stage, d.rank1_exhaustive, "{d:?}");
        assert_eq!(d.retention, 1.0, "{d:?}");
    }
}
