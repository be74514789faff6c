//! The 1:N (identification) evaluation of the finger search on FVC databases.
//!
//! Protocol, per real database and pooled over them (synthetic databases are left out: the
//! matcher's calibration and the first stage were tuned on them):
//! - **Gallery**: each finger's first impression, padded with `fillers` generated fingers
//!   ([`crate::finger::FingerModel`], one impression of distinct masters) so the search works at
//!   scale. A database's gallery holds its own fingers and the fillers; the pooled gallery holds
//!   every real database's fingers and the same fillers. **Probes**: the other impressions.
//! - Each probe is compared once with every gallery finger by the full matcher and by the first
//!   stage ([`abis_matchers::finger::index`]); a database's figures restrict those scores to its
//!   gallery, so every view costs one pass of `probes x gallery` comparisons in all.
//! - **Exhaustive rank-1**: the mate's full score beats every other gallery finger's.
//!   **Two-stage**: the first stage keeps the `shortlist` best fingers, the full matcher re-ranks
//!   them. **Retention**: among probes the exhaustive matcher ranks first, the fraction whose mate
//!   the first stage shortlists; the mate's first-stage rank (1-based) is summarised over them.
//! - **Open set**: the decision threshold is not tuned on the data: a candidate is returned when
//!   its calibrated score (`calibrated_score`, fitted on the synthetic DB4 only) reaches
//!   `identify_threshold(target FPIR, gallery size)`, as the engine decides. FNIR = mated
//!   two-stage searches whose mate is not returned; the FPIR is measured by non-mated searches:
//!   each probe against its gallery less its own finger, a false positive when any shortlisted
//!   candidate is returned.
//!
//! Ties are ranked pessimistically: a non-mate scoring the same as the mate counts as ahead of
//! it, both in the first stage and in the full matcher.

use super::load::FvcDatabase;
use crate::finger::FingerModel;
use abis_engine::fusion::identify_threshold;
use abis_matchers::finger::index::{affinity, first_stage_score, FingerCode, ROW_WORDS};
use abis_matchers::finger::matcher::calibrated_score;
use abis_matchers::finger::{prepare_view, FingerMatcher, PreparedFinger};
use abis_matchers::SimdLevel;
use rayon::prelude::*;
use std::cmp::Ordering;
use std::time::{Duration, Instant};

/// Settings of the identification evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchParams {
    /// Fingers the first stage passes to the full matcher.
    pub shortlist: usize,
    /// Target false-positive identification rate of the open-set threshold.
    pub target_fpir: f64,
}

/// What one search (one probe against one gallery) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchOutcome {
    /// The full matcher scores the mate above every other gallery finger.
    pub exhaustive_rank1: bool,
    /// The mate's first-stage rank (1 = best; ties count against the mate).
    pub first_stage_rank: usize,
    /// The mate is shortlisted and scores above every other shortlisted finger.
    pub two_stage_rank1: bool,
    /// Mated two-stage search: the mate is shortlisted and reaches the threshold.
    pub mate_returned: bool,
    /// Non-mated two-stage search (the mate removed from the gallery): some shortlisted finger
    /// reaches the threshold.
    pub false_positive: bool,
}

/// The outcome of searching a probe whose raw full-matcher scores are `full` and first-stage
/// scores `first` (both indexed by gallery finger) in the gallery `members` (indices into them,
/// `mate` among them), keeping `shortlist` fingers and returning those whose calibrated score
/// reaches `threshold`.
pub fn search_outcome(
    full: &[f32],
    first: &[f32],
    members: &[usize],
    mate: usize,
    shortlist: usize,
    threshold: f64,
) -> SearchOutcome {
    let k = shortlist.max(1);
    let mut others: Vec<(f32, usize)> = members
        .iter()
        .filter(|&&g| g != mate)
        .map(|&g| (first[g], g))
        .collect();
    // Best first; equal scores by gallery index, so the shortlist is deterministic.
    let order = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if others.len() > k {
        others.select_nth_unstable_by(k - 1, order);
        others.truncate(k);
    }
    others.sort_unstable_by(order);
    let mate_first = first[mate];
    let first_stage_rank = 1 + members
        .iter()
        .filter(|&&g| g != mate && first[g].total_cmp(&mate_first) != Ordering::Less)
        .count();
    let mate_full = full[mate];
    let returned = |g: usize| calibrated_score(full[g]) >= threshold;
    let exhaustive_rank1 = members
        .iter()
        .all(|&g| g == mate || full[g].total_cmp(&mate_full) == Ordering::Less);
    // The mated shortlist is the mate with the best k - 1 non-mates, or the best k non-mates.
    let shortlisted = first_stage_rank <= k;
    let rivals = &others[..others.len().min(k - 1)];
    let two_stage_rank1 = shortlisted
        && rivals
            .iter()
            .all(|&(_, g)| full[g].total_cmp(&mate_full) == Ordering::Less);
    SearchOutcome {
        exhaustive_rank1,
        first_stage_rank,
        two_stage_rank1,
        mate_returned: shortlisted && returned(mate),
        false_positive: others.iter().any(|&(_, g)| returned(g)),
    }
}

/// The identification figures of one gallery (fractions in `[0, 1]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IdentificationRates {
    /// Database name (or `pooled (real)`).
    pub name: String,
    /// Mated searches (probes); as many non-mated ones.
    pub probes: usize,
    /// Gallery fingers, fillers included.
    pub gallery: usize,
    /// Fingers the first stage keeps.
    pub shortlist: usize,
    /// `min(shortlist, gallery) / gallery`.
    pub penetration: f64,
    /// Exhaustive full-matcher rank-1 identification rate.
    pub rank1_exhaustive: f64,
    /// Two-stage rank-1 identification rate.
    pub rank1_two_stage: f64,
    /// Probes the exhaustive matcher ranks first (the retention's denominator).
    pub exhaustive_hits: usize,
    /// Fraction of those whose mate the first stage shortlists.
    pub retention: f64,
    /// Median first-stage rank of the mate over those probes (nearest rank; 0 when none).
    pub mate_rank_p50: usize,
    /// 99th percentile of that rank.
    pub mate_rank_p99: usize,
    /// Worst rank.
    pub mate_rank_max: usize,
    /// Calibrated-score threshold, `-log10(target FPIR / gallery)`.
    pub threshold: f64,
    /// The FPIR the threshold targets.
    pub target_fpir: f64,
    /// Mated two-stage searches whose mate is not returned.
    pub fnir: f64,
    /// Non-mated two-stage searches returning any candidate.
    pub fpir_measured: f64,
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[usize], p: f64) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[i - 1]
}

/// Summarises the outcomes of one gallery's searches.
pub fn summarise(
    name: &str,
    outcomes: &[SearchOutcome],
    gallery: usize,
    params: &SearchParams,
    threshold: f64,
) -> IdentificationRates {
    let n = outcomes.len().max(1) as f64;
    let frac = |f: fn(&SearchOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count() as f64 / n;
    let mut ranks: Vec<usize> = outcomes
        .iter()
        .filter(|o| o.exhaustive_rank1)
        .map(|o| o.first_stage_rank)
        .collect();
    ranks.sort_unstable();
    let k = params.shortlist.max(1);
    let kept = ranks.iter().filter(|&&r| r <= k).count();
    IdentificationRates {
        name: name.to_string(),
        probes: outcomes.len(),
        gallery,
        shortlist: k,
        penetration: k.min(gallery) as f64 / gallery.max(1) as f64,
        rank1_exhaustive: frac(|o| o.exhaustive_rank1),
        rank1_two_stage: frac(|o| o.two_stage_rank1),
        exhaustive_hits: ranks.len(),
        retention: kept as f64 / ranks.len().max(1) as f64,
        mate_rank_p50: percentile(&ranks, 0.5),
        mate_rank_p99: percentile(&ranks, 0.99),
        mate_rank_max: ranks.last().copied().unwrap_or(0),
        threshold,
        target_fpir: params.target_fpir,
        fnir: frac(|o| !o.mate_returned),
        fpir_measured: frac(|o| o.false_positive),
    }
}

/// `count` generated filler fingers of population `seed` (filler `i` is finger `i % 10` of
/// subject `i / 10`, impression 0), prepared in parallel; `progress` is called once per finger.
pub fn filler_fingers(
    count: usize,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Vec<PreparedFinger> {
    let model = FingerModel::default();
    (0..count as u64)
        .into_par_iter()
        .map(|i| {
            let master = model.master(seed, i / 10, (i % 10) as u8);
            let record = model.record(&master, 0);
            let prepared = prepare_view(&record, &record.views[0]);
            progress();
            prepared
        })
        .collect()
}

/// The identification figures of every real database and of their pool.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identification {
    /// One per real database, in the given order.
    pub databases: Vec<IdentificationRates>,
    /// Every real database's fingers in one gallery (`None` without a real database).
    pub pooled: Option<IdentificationRates>,
    /// Filler fingers in every gallery.
    pub fillers: usize,
    /// Full-matcher comparisons run (every probe against the pooled gallery).
    pub comparisons: usize,
    /// Wall time of the searches (all threads).
    pub search_time: Duration,
}

/// Probes [`identification`] searches: every real database's impressions but each finger's
/// first.
pub fn probe_count(dbs: &[FvcDatabase]) -> usize {
    dbs.iter()
        .filter(|d| !d.synthetic)
        .map(|d| {
            let imp = &d.impressions;
            (1..imp.len())
                .filter(|&i| imp[i - 1].finger == imp[i].finger)
                .count()
        })
        .sum()
}

/// A probe: its template, database and the gallery index of its mate.
struct Probe<'a> {
    finger: &'a PreparedFinger,
    db: usize,
    mate: usize,
}

fn prepare(db: &FvcDatabase, i: usize) -> PreparedFinger {
    let r = &db.impressions[i].record;
    r.views
        .first()
        .map(|v| prepare_view(r, v))
        .unwrap_or_default()
}

/// Runs the identification protocol (module docs) on the real databases of `dbs` with the
/// given fillers; `progress` is called once per probe. Probes run in parallel.
pub fn identification(
    dbs: &[FvcDatabase],
    fillers: &[PreparedFinger],
    params: &SearchParams,
    level: SimdLevel,
    progress: &(dyn Fn() + Sync),
) -> Identification {
    let real: Vec<&FvcDatabase> = dbs.iter().filter(|d| !d.synthetic).collect();
    // Gallery: every real database's first impressions, then the fillers.
    let mut gallery: Vec<PreparedFinger> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    let mut probe_fingers: Vec<(PreparedFinger, usize, usize)> = Vec::new();
    for (d, db) in real.iter().enumerate() {
        let imp = &db.impressions;
        let mut mate = 0;
        for i in 0..imp.len() {
            // Impressions are sorted by finger, then impression: a finger's first comes first.
            if i == 0 || imp[i - 1].finger != imp[i].finger {
                mate = gallery.len();
                gallery.push(prepare(db, i));
                owner.push(d);
            } else {
                probe_fingers.push((prepare(db, i), d, mate));
            }
        }
    }
    let real_fingers = gallery.len();
    gallery.extend_from_slice(fillers);
    let probes: Vec<Probe> = probe_fingers
        .iter()
        .map(|(finger, db, mate)| Probe {
            finger,
            db: *db,
            mate: *mate,
        })
        .collect();
    let rows: Vec<u64> = gallery
        .par_iter()
        .flat_map_iter(|g| FingerCode::new(g).words().to_vec())
        .collect();
    let filler_range = real_fingers..gallery.len();
    let views: Vec<Vec<usize>> = (0..real.len())
        .map(|d| {
            (0..real_fingers)
                .filter(|&g| owner[g] == d)
                .chain(filler_range.clone())
                .collect()
        })
        .collect();
    let pooled_view: Vec<usize> = (0..gallery.len()).collect();
    let threshold =
        |members: &[usize]| identify_threshold(params.target_fpir, members.len() as u64);
    let start = Instant::now();
    let outcomes: Vec<(usize, SearchOutcome, SearchOutcome)> = probes
        .par_iter()
        .map_init(
            || (FingerMatcher::new(level), vec![0u16; gallery.len()]),
            |(matcher, hit), p| {
                let full: Vec<f32> = gallery
                    .iter()
                    .map(|g| matcher.compare(p.finger, g))
                    .collect();
                let code = FingerCode::new(p.finger);
                affinity(level, &code, &rows, ROW_WORDS, hit).expect("rows sized for the gallery");
                let first: Vec<f32> = hit
                    .iter()
                    .zip(rows.chunks_exact(ROW_WORDS))
                    .map(|(&h, row)| first_stage_score(&code, row, h))
                    .collect();
                let search = |members: &[usize]| {
                    let t = threshold(members);
                    search_outcome(&full, &first, members, p.mate, params.shortlist, t)
                };
                let out = (p.db, search(&views[p.db]), search(&pooled_view));
                progress();
                out
            },
        )
        .collect();
    let search_time = start.elapsed();
    let databases = real
        .iter()
        .enumerate()
        .map(|(d, db)| {
            let o: Vec<SearchOutcome> = outcomes.iter().filter(|x| x.0 == d).map(|x| x.1).collect();
            summarise(&db.name, &o, views[d].len(), params, threshold(&views[d]))
        })
        .collect();
    let pooled = (!real.is_empty()).then(|| {
        let o: Vec<SearchOutcome> = outcomes.iter().map(|x| x.2).collect();
        let t = threshold(&pooled_view);
        summarise("pooled (real)", &o, pooled_view.len(), params, t)
    });
    Identification {
        databases,
        pooled,
        fillers: fillers.len(),
        comparisons: probes.len() * gallery.len(),
        search_time,
    }
}

#[cfg(test)]
mod tests {
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
        // The non-mated shortlist (1, 0, 4, 3) holds finger 3, above the threshold.
        assert!(o.false_positive);
        // A shortlist of 3 misses the mate and finger 3.
        let o = search_outcome(&full, &first, &all, 2, 3, t);
        assert!(o.exhaustive_rank1);
        assert!(!o.two_stage_rank1 && !o.mate_returned && !o.false_positive);
        // An equal full score is ahead of the mate, in both searches.
        full[3] = 0.07;
        let o = search_outcome(&full, &first, &all, 2, 6, t);
        assert!(!o.exhaustive_rank1 && !o.two_stage_rank1 && o.mate_returned);
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
        };
        let miss = SearchOutcome {
            first_stage_rank: 900,
            false_positive: true,
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
}
