//! Scoring a database with the fingerprint matcher.
//!
//! Each record's first view is prepared once (in parallel); the comparisons then run on one
//! thread with one [`FingerMatcher`], timed, so the reported rate is comparisons per second per
//! core. The timed pass can be repeated and the fastest kept, so a machine busy with other work
//! disturbs the figure less. A record without a view compares as an empty template (score 0).

use super::load::FvcDatabase;
use super::protocol::{all_impostor_pairs, fvc_pairs};
use abis_matchers::finger::{prepare_view, FingerMatcher, PreparedFinger};
use abis_matchers::SimdLevel;
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// Raw matcher scores of one database.
#[derive(Debug, Clone)]
pub struct DatabaseScores {
    /// Folder name.
    pub name: String,
    /// Whether it is synthetic.
    pub synthetic: bool,
    /// FVC genuine pairs' scores.
    pub genuine: Vec<f64>,
    /// FVC impostor pairs' scores (first impressions).
    pub impostor: Vec<f64>,
    /// Every different-finger pair's scores (beyond the protocol).
    pub all_impostor: Vec<f64>,
    /// Time spent preparing the templates (all threads).
    pub prepare_time: Duration,
    /// Comparisons run (FVC genuine and all impostors; the FVC impostors are a subset).
    pub comparisons: usize,
    /// Single-thread wall time of those comparisons (fastest of the repetitions).
    pub compare_time: Duration,
    /// CPU time the comparing thread spent on a core for them (fastest of the repetitions;
    /// `None` where the platform does not report it). Unlike wall time it does not count time
    /// the thread waited for a core, so it measures the matcher, not the machine's load.
    pub compare_cpu_time: Option<Duration>,
}

/// Prepares every record of `db` and scores its pairs; the timed comparison pass runs
/// `repeats` times (at least once) and the fastest is reported.
pub fn score_database(db: &FvcDatabase, level: SimdLevel, repeats: usize) -> DatabaseScores {
    let start = Instant::now();
    let prepared: Vec<PreparedFinger> = db
        .impressions
        .par_iter()
        .map(|imp| {
            imp.record
                .views
                .first()
                .map(|v| prepare_view(&imp.record, v))
                .unwrap_or_default()
        })
        .collect();
    let prepare_time = start.elapsed();
    let pairs = fvc_pairs(db);
    let all = all_impostor_pairs(db);
    let mut matcher = FingerMatcher::new(level);
    let mut run = |p: &[(usize, usize)]| -> Vec<f64> {
        p.iter()
            .map(|&(i, j)| f64::from(matcher.compare(&prepared[i], &prepared[j])))
            .collect()
    };
    let (mut genuine, mut all_impostor) = (Vec::new(), Vec::new());
    let mut compare_time = Duration::MAX;
    let mut compare_cpu_time: Option<Duration> = None;
    for _ in 0..repeats.max(1) {
        let cpu = thread_cpu_time();
        let start = Instant::now();
        genuine = run(&pairs.genuine);
        all_impostor = run(&all);
        compare_time = compare_time.min(start.elapsed());
        if let (Some(a), Some(b)) = (cpu, thread_cpu_time()) {
            let t = b.saturating_sub(a);
            compare_cpu_time = Some(compare_cpu_time.map_or(t, |c| c.min(t)));
        }
    }
    // The FVC impostors are the all-pairs scores of first impressions.
    let impostor = pairs
        .impostor
        .iter()
        .map(|p| {
            all.iter()
                .position(|q| q == p)
                .map_or(0.0, |k| all_impostor[k])
        })
        .collect();
    DatabaseScores {
        name: db.name.clone(),
        synthetic: db.synthetic,
        genuine,
        impostor,
        all_impostor,
        prepare_time,
        comparisons: pairs.genuine.len() + all.len(),
        compare_time,
        compare_cpu_time,
    }
}

/// Time the calling thread has run on a CPU (Linux: `/proc/thread-self/schedstat`).
pub fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fvc::{error_rates, load_root};
    use abis_matchers::finger::format::{Minutia, MinutiaKind, RecordFormat};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// An ISO record of `finger`'s minutiae, jittered by impression.
    fn record(finger: &[(u16, u16, u8)], rng: &mut ChaCha8Rng) -> Vec<u8> {
        let minutiae = finger
            .iter()
            .map(|&(x, y, a)| Minutia {
                x: x + rng.gen_range(0..3),
                y: y + rng.gen_range(0..3),
                angle: a.wrapping_add(rng.gen_range(0..3)),
                kind: MinutiaKind::RidgeEnding,
                quality: 0,
            })
            .collect();
        crate::fvc::test_record(RecordFormat::Iso19794_2_2005, minutiae)
    }

    #[test]
    fn a_generated_folder_goes_through_the_whole_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for db in ["DB1_B", "DB2_B-synthetic"] {
            std::fs::create_dir(dir.path().join(db)).unwrap();
            for f in 101..=104 {
                let finger: Vec<(u16, u16, u8)> = (0..30)
                    .map(|_| (rng.gen_range(30..270), rng.gen_range(30..370), rng.gen()))
                    .collect();
                for i in 1..=4 {
                    let path = dir.path().join(db).join(format!("{f}_{i}.iso"));
                    std::fs::write(path, record(&finger, &mut rng)).unwrap();
                }
            }
        }
        std::fs::write(dir.path().join("DB1_B").join("101_1.tif"), b"ignored").unwrap();
        let dbs = load_root(dir.path()).unwrap();
        assert_eq!(dbs.len(), 2);
        assert!(!dbs[0].synthetic && dbs[1].synthetic);
        for db in &dbs {
            assert_eq!(db.impressions.len(), 16);
            let s = score_database(db, SimdLevel::get(), 2);
            assert_eq!(
                (s.genuine.len(), s.impostor.len(), s.all_impostor.len()),
                (24, 6, 96)
            );
            assert_eq!(s.comparisons, 24 + 96);
            let r = error_rates(&s.genuine, &s.all_impostor);
            assert_eq!((r.eer, r.zero_fmr), (0.0, 0.0), "{r:?}");
            // The FVC impostors are the first impressions' scores among all impostors.
            assert!(s.impostor.iter().all(|x| s.all_impostor.contains(x)));
        }
    }
}
