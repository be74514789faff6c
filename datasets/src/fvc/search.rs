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

/// Ranks of the cumulative match characteristic reported: 1..=20.
pub const CMC_RANKS: usize = 20;

/// The FPIR of the second open-set operating point (the first is [`SearchParams::target_fpir`]).
pub const SECOND_FPIR: f64 = 1e-3;

/// What one search (one probe against one gallery) found.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
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
    /// The mate's rank after the full matcher re-ranks the shortlist (`None`: not
    /// shortlisted; ties count against the mate).
    pub two_stage_rank: Option<usize>,
    /// The mate's calibrated score when shortlisted.
    pub mate_score: Option<f64>,
    /// The best calibrated score in the non-mated shortlist (`None`: it is empty).
    pub best_non_mate: Option<f64>,
}

impl SearchOutcome {
    /// The outcome as [`crate::eval::Search`], for the open-set figures: the mated search's
    /// rank and score, the non-mated search's best score.
    pub fn search(&self) -> crate::eval::Search {
        crate::eval::Search {
            mate_rank: self.two_stage_rank,
            mate_score: self.mate_score,
            best_non_mate: self.best_non_mate,
        }
    }
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
    let two_stage_rank = shortlisted.then(|| {
        1 + rivals
            .iter()
            .filter(|&&(_, g)| full[g].total_cmp(&mate_full) != Ordering::Less)
            .count()
    });
    SearchOutcome {
        exhaustive_rank1,
        first_stage_rank,
        two_stage_rank1: two_stage_rank == Some(1),
        mate_returned: shortlisted && returned(mate),
        false_positive: others.iter().any(|&(_, g)| returned(g)),
        two_stage_rank,
        mate_score: shortlisted.then(|| calibrated_score(mate_full)),
        best_non_mate: others
            .iter()
            .map(|&(_, g)| calibrated_score(full[g]))
            .max_by(f64::total_cmp),
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
    /// Threshold for FPIR [`SECOND_FPIR`], `-log10(0.001 / gallery)`.
    pub threshold_second: f64,
    /// FNIR at that threshold.
    pub fnir_second: f64,
    /// FPIR measured at that threshold.
    pub fpir_measured_second: f64,
    /// Two-stage cumulative match characteristic, ranks 1..=[`CMC_RANKS`].
    pub cmc: Vec<f64>,
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
    let searches: Vec<crate::eval::Search> = outcomes.iter().map(SearchOutcome::search).collect();
    let threshold_second = identify_threshold(SECOND_FPIR, gallery as u64);
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
        threshold_second,
        fnir_second: crate::eval::fnir_at(&searches, threshold_second),
        fpir_measured_second: crate::eval::fpir_at(&searches, threshold_second),
        cmc: crate::eval::cmc(&searches, CMC_RANKS),
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
mod tests;
