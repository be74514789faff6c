//! Confidence intervals of an EER by resampling fingers (a subjects bootstrap).
//!
//! The comparisons of an FVC evaluation are not independent: every genuine pair of a finger
//! shares that finger, every impostor pair two. So the unit resampled is the finger, not the
//! pair (Bolle, Ratha and Pankanti, "Error analysis of pattern recognition systems: the
//! subsets bootstrap", 2004): each resample draws, per database, as many fingers as it holds,
//! with replacement; a drawn finger brings all its genuine scores, and every two drawn
//! instances of different fingers bring their impostor score (a finger drawn `c` times weighs
//! its genuine scores `c` times and an impostor pair `c_a * c_b` times). The interval is the
//! percentile interval of the resampled EERs. The seed is fixed, so a report is reproducible.
//!
//! With 10 fingers a database (FVC2002 set B) the intervals are wide: that is the point of
//! printing them.

use super::load::FvcDatabase;
use super::metrics::eer;
use super::protocol::{all_impostor_pairs, fvc_pairs};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The fingers each score of one database concerns, in the order [`super::score_database`]
/// reports the scores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairFingers {
    /// The finger of each FVC genuine pair.
    pub genuine: Vec<u32>,
    /// The two fingers of each FVC impostor pair.
    pub impostor: Vec<(u32, u32)>,
    /// The two fingers of each different-finger pair (all impostors).
    pub all_impostor: Vec<(u32, u32)>,
}

/// The fingers of `db`'s pairs, as [`fvc_pairs`] and [`all_impostor_pairs`] order them.
pub fn pair_fingers(db: &FvcDatabase) -> PairFingers {
    let finger = |i: usize| db.impressions[i].finger;
    let pairs = fvc_pairs(db);
    PairFingers {
        genuine: pairs.genuine.iter().map(|&(i, _)| finger(i)).collect(),
        impostor: pairs
            .impostor
            .iter()
            .map(|&(i, j)| (finger(i), finger(j)))
            .collect(),
        all_impostor: all_impostor_pairs(db)
            .iter()
            .map(|&(i, j)| (finger(i), finger(j)))
            .collect(),
    }
}

/// One database's scores with the fingers they concern.
#[derive(Debug, Clone, Copy)]
pub struct FingerScores<'a> {
    /// Genuine scores.
    pub genuine: &'a [f64],
    /// The finger of each genuine score.
    pub genuine_fingers: &'a [u32],
    /// Impostor scores.
    pub impostor: &'a [f64],
    /// The two fingers of each impostor score.
    pub impostor_fingers: &'a [(u32, u32)],
}

/// A percentile interval of the EER.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EerInterval {
    /// Lower bound (fraction).
    pub low: f64,
    /// Upper bound (fraction).
    pub high: f64,
    /// Its confidence level, e.g. 0.95.
    pub level: f64,
    /// Resamples drawn.
    pub resamples: usize,
}

/// Resamples of the intervals reports print.
pub const RESAMPLES: usize = 1000;

/// The seed of the intervals reports print.
pub const SEED: u64 = 0xB007_57A9;

/// The `level` percentile interval of the pooled EER of `databases` (each resampled on its own
/// fingers, then pooled), from `resamples` resamples seeded by `seed`.
///
/// # Panics
/// When a database's finger labels do not match its scores in length.
pub fn eer_interval(
    databases: &[FingerScores<'_>],
    resamples: usize,
    level: f64,
    seed: u64,
) -> EerInterval {
    for d in databases {
        assert_eq!(d.genuine.len(), d.genuine_fingers.len(), "genuine labels");
        assert_eq!(
            d.impostor.len(),
            d.impostor_fingers.len(),
            "impostor labels"
        );
    }
    let fingers: Vec<Vec<u32>> = databases.iter().map(fingers_of).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut eers = Vec::with_capacity(resamples);
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for _ in 0..resamples.max(1) {
        genuine.clear();
        impostor.clear();
        for (d, own) in databases.iter().zip(&fingers) {
            let mut drawn: BTreeMap<u32, usize> = BTreeMap::new();
            for _ in 0..own.len() {
                *drawn.entry(own[rng.gen_range(0..own.len())]).or_default() += 1;
            }
            let count = |f: u32| drawn.get(&f).copied().unwrap_or(0);
            for (&s, &f) in d.genuine.iter().zip(d.genuine_fingers) {
                genuine.extend(std::iter::repeat_n(s, count(f)));
            }
            for (&s, &(a, b)) in d.impostor.iter().zip(d.impostor_fingers) {
                impostor.extend(std::iter::repeat_n(s, count(a) * count(b)));
            }
        }
        if !genuine.is_empty() && !impostor.is_empty() {
            eers.push(eer(&genuine, &impostor));
        }
    }
    eers.sort_by(f64::total_cmp);
    let tail = (1.0 - level.clamp(0.0, 1.0)) / 2.0;
    let at = |q: f64| {
        if eers.is_empty() {
            return f64::NAN;
        }
        let k = ((eers.len() - 1) as f64 * q).round() as usize;
        eers[k.min(eers.len() - 1)]
    };
    EerInterval {
        low: at(tail),
        high: at(1.0 - tail),
        level,
        resamples: eers.len(),
    }
}

/// The distinct fingers of a database's pairs.
fn fingers_of(d: &FingerScores<'_>) -> Vec<u32> {
    let mut all: Vec<u32> = d
        .genuine_fingers
        .iter()
        .copied()
        .chain(d.impostor_fingers.iter().flat_map(|&(a, b)| [a, b]))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten fingers, 28 genuine scores each, impostors between all pairs of fingers.
    fn labels() -> (Vec<u32>, Vec<(u32, u32)>) {
        let genuine = (0..10).flat_map(|f| std::iter::repeat_n(f, 28)).collect();
        let impostor = (0..10)
            .flat_map(|a| (a + 1..10).map(move |b| (a, b)))
            .collect();
        (genuine, impostor)
    }

    #[test]
    fn separated_scores_give_a_zero_interval_and_one_bad_finger_a_wide_one() {
        let (gf, imf) = labels();
        let genuine: Vec<f64> = gf.iter().map(|_| 0.9).collect();
        let impostor: Vec<f64> = imf.iter().map(|_| 0.1).collect();
        let db = FingerScores {
            genuine: &genuine,
            genuine_fingers: &gf,
            impostor: &impostor,
            impostor_fingers: &imf,
        };
        let ci = eer_interval(&[db], 200, 0.95, 1);
        assert_eq!((ci.low, ci.high), (0.0, 0.0));
        assert_eq!(ci.resamples, 200);

        // Finger 3's genuine scores all fall below the impostors: the EER (5%, half of its
        // share of the genuines) hinges on how often finger 3 is drawn, from never (35% of the
        // resamples: EER 0) to three times or more (7%: EER at least 15%).
        let genuine: Vec<f64> = gf
            .iter()
            .map(|&f| if f == 3 { 0.05 } else { 0.9 })
            .collect();
        let db = FingerScores {
            genuine: &genuine,
            ..db
        };
        let point = eer(&genuine, &impostor);
        let ci = eer_interval(&[db], 500, 0.95, 1);
        assert!(ci.low < point && point < ci.high, "{ci:?} around {point}");
        assert_eq!(point, 0.05);
        assert_eq!(ci.low, 0.0, "{ci:?}");
        assert!(ci.high >= 0.15, "{ci:?}");
        // Reproducible from its seed.
        assert_eq!(eer_interval(&[db], 500, 0.95, 1), ci);
    }
}
