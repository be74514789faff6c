//! The synthetic finger generator: determinism, ranges, ISO round trip, and mates told apart
//! from non-mates by the project's own minutiae matcher.
//!
//! The capture parameters were tuned on `TUNING_SEED` (`print_statistics_on_tuning_seed`) so
//! the matcher's EER is a few per cent, like FVC2002; the asserting tests use `TEST_SEED`.

use abis_datasets::finger::{FingerClass, FingerModel, MasterFinger, RESOLUTION_PPCM};
use abis_datasets::fvc::{error_rates, ErrorRates};
use abis_matchers::finger::{
    parse, prepare_view, write, FingerMatcher, Minutia, PreparedFinger, RecordFormat,
};
use abis_matchers::SimdLevel;
use rayon::prelude::*;

/// The seed the capture parameters were tuned on. Never assert on it.
const TUNING_SEED: u64 = 1;
/// The seed the assertions use (never used for tuning).
const TEST_SEED: u64 = 0x005e_edf1;

/// The `i`-th finger of a population: subjects of ten fingers each.
fn finger(model: &FingerModel, seed: u64, i: u64) -> MasterFinger {
    model.master(seed, i / 10, (i % 10) as u8)
}

fn prepare(minutiae: &[Minutia]) -> PreparedFinger {
    PreparedFinger::new(minutiae, RESOLUTION_PPCM, RESOLUTION_PPCM)
}

/// Scores of mates and non-mates over `fingers` fingers.
struct Scores {
    genuine: Vec<f64>,
    impostor: Vec<f64>,
    /// Minutiae per impression.
    counts: Vec<f64>,
}

/// Genuine: impressions 0 and 1 of every finger. Impostor: impression 0 of finger `i` against
/// impression 1 of the next `others` fingers (cyclically), so every impostor pair is distinct.
fn scores(model: &FingerModel, seed: u64, fingers: u64, others: u64) -> Scores {
    let prepared: Vec<[PreparedFinger; 2]> = (0..fingers)
        .into_par_iter()
        .map(|i| {
            let m = finger(model, seed, i);
            [
                prepare(&model.capture(&m, 0)),
                prepare(&model.capture(&m, 1)),
            ]
        })
        .collect();
    let level = SimdLevel::get();
    let genuine = prepared
        .par_iter()
        .map_init(
            || FingerMatcher::new(level),
            |matcher, [a, b]| f64::from(matcher.compare(a, b)),
        )
        .collect();
    let impostor = (0..fingers)
        .into_par_iter()
        .flat_map_iter(|i| (1..=others).map(move |k| (i, (i + k) % fingers)))
        .map_init(
            || FingerMatcher::new(level),
            |matcher, (i, j)| {
                f64::from(matcher.compare(&prepared[i as usize][0], &prepared[j as usize][1]))
            },
        )
        .collect();
    let counts = prepared
        .iter()
        .flatten()
        .map(|p| p.minutiae() as f64)
        .collect();
    Scores {
        genuine,
        impostor,
        counts,
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The `q`-quantile (nearest rank) of unsorted scores.
fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1]
}

fn rates(s: &Scores) -> ErrorRates {
    error_rates(&s.genuine, &s.impostor)
}

fn report(name: &str, s: &Scores) {
    let r = rates(s);
    let p99 = quantile(&s.impostor, 0.99);
    let above = s.genuine.iter().filter(|&&g| g > p99).count() as f64 / s.genuine.len() as f64;
    println!(
        "{name}: genuine mean {:.3} (p5 {:.3}, p50 {:.3}), impostor mean {:.3} (p50 {:.3}, \
         p99 {p99:.3}, max {:.3}); genuine above impostor p99 {:.1}%; EER {:.2}%, FMR100 {:.2}%, \
         FMR1000 {:.2}% ({} genuine, {} impostor); minutiae per impression p5 {} median {} \
         mean {:.1}",
        mean(&s.genuine),
        quantile(&s.genuine, 0.05),
        quantile(&s.genuine, 0.5),
        mean(&s.impostor),
        quantile(&s.impostor, 0.5),
        quantile(&s.impostor, 1.0),
        100.0 * above,
        100.0 * r.eer,
        100.0 * r.fmr100,
        100.0 * r.fmr1000,
        r.genuine,
        r.impostor,
        quantile(&s.counts, 0.05),
        quantile(&s.counts, 0.5),
        mean(&s.counts),
    );
}

#[test]
fn same_ids_give_the_same_finger_and_other_ids_another() {
    let model = FingerModel::default();
    let a = model.master(TEST_SEED, 17, 3);
    assert_eq!(a, model.master(TEST_SEED, 17, 3));
    assert_eq!(model.capture(&a, 2), model.capture(&a, 2));
    for other in [
        model.master(TEST_SEED + 1, 17, 3),
        model.master(TEST_SEED, 18, 3),
        model.master(TEST_SEED, 17, 4),
    ] {
        assert_ne!(a.minutiae(), other.minutiae());
        assert_ne!(model.capture(&a, 0), model.capture(&other, 0));
    }
    assert_ne!(model.capture(&a, 0), model.capture(&a, 1));
    // Order-free: a finger generated after others equals one generated alone.
    let batch: Vec<MasterFinger> = (0..20).map(|s| model.master(TEST_SEED, s, 3)).collect();
    assert_eq!(batch[17], a);
}

#[test]
fn masters_have_30_to_60_spread_minutiae_along_the_ridge_flow() {
    let model = FingerModel::default();
    let p = &model.master;
    let mut classes = [0usize; 5];
    for i in 0..500 {
        let m = finger(&model, TEST_SEED, i);
        let n = m.minutiae().len();
        assert!((30..=60).contains(&n), "finger {i}: {n} minutiae");
        classes[FingerClass::ALL
            .iter()
            .position(|c| *c == m.class())
            .unwrap()] += 1;
        for (k, a) in m.minutiae().iter().enumerate() {
            let rho2 = (a.x / p.half_width).powi(2) + (a.y / p.half_height).powi(2);
            assert!(rho2 <= 1.0, "finger {i}: minutia outside the finger");
            assert!((0.0..std::f32::consts::TAU).contains(&a.angle));
            assert!((1..=100).contains(&a.quality));
            for b in &m.minutiae()[k + 1..] {
                let d = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
                assert!(d >= p.min_spacing, "finger {i}: minutiae {d} px apart");
            }
            // Direction = ridge orientation (mod 180 degrees) within a few SDs of deviation.
            let o = m.field().at([a.x, -a.y]);
            let gap = (a.angle - o).rem_euclid(std::f32::consts::PI);
            let gap = gap.min(std::f32::consts::PI - gap).to_degrees();
            assert!(
                gap < 6.0 * p.direction_sd_deg,
                "finger {i}: {gap} degrees off"
            );
        }
    }
    // Loops and whorls dominate, arches are rare (natural frequencies 6.6% / 65.5% / 27.9%).
    let (arches, loops, whorls) = (classes[0] + classes[1], classes[2] + classes[3], classes[4]);
    assert!((10..=60).contains(&arches), "{classes:?}");
    assert!((280..=380).contains(&loops), "{classes:?}");
    assert!((100..=180).contains(&whorls), "{classes:?}");
}

#[test]
fn captures_are_partial_and_lie_on_the_canvas() {
    let model = FingerModel::default();
    let (w, h) = (model.capture.width, model.capture.height);
    let mut ratios = Vec::new();
    for i in 0..300 {
        let m = finger(&model, TEST_SEED, i);
        for impression in 0..3 {
            let c = model.capture(&m, impression);
            assert!(
                (5..=70).contains(&c.len()),
                "finger {i}/{impression}: {} minutiae",
                c.len()
            );
            assert!(c.iter().all(|t| t.x < w && t.y < h && t.quality >= 1));
            ratios.push(c.len() as f64 / m.minutiae().len() as f64);
        }
    }
    // A plain impression shows most, not all, of the finger, with spurious minutiae added.
    let r = mean(&ratios);
    assert!((0.45..0.85).contains(&r), "captured / master minutiae {r}");
    assert!(ratios.iter().any(|&x| x < 0.5) && ratios.iter().any(|&x| x > 0.85));
}

#[test]
fn records_round_trip_through_iso_bytes() {
    let model = FingerModel::default();
    for i in [0u64, 9, 123] {
        let m = finger(&model, TEST_SEED, i);
        let record = model.record(&m, 1);
        assert_eq!(record.views.len(), 1);
        assert_eq!(record.views[0].minutiae, model.capture(&m, 1));
        assert_eq!(record.views[0].position, m.finger() + 1);
        assert_eq!(record.x_resolution, 197);
        let bytes = write(&record, RecordFormat::Iso19794_2_2005).unwrap();
        assert_eq!(parse(&bytes).unwrap(), record);
        // The matcher sees the same template from the record as from the minutiae.
        let view = &record.views[0];
        assert_eq!(prepare_view(&record, view), prepare(&view.minutiae));
    }
}

#[test]
fn mates_score_clearly_above_non_mates() {
    let model = FingerModel::default();
    let s = scores(&model, TEST_SEED, 400, 25);
    report("test seed", &s);
    let p99 = quantile(&s.impostor, 0.99);
    let above = s.genuine.iter().filter(|&&g| g > p99).count() as f64 / s.genuine.len() as f64;
    assert!(mean(&s.genuine) > 3.0 * mean(&s.impostor));
    assert!(
        above >= 0.93,
        "{above} of genuine pairs above the impostor p99 {p99}"
    );
    // Not trivially easy either: some mates fall among non-mates, as on FVC2002.
    let r = rates(&s);
    assert!(r.eer > 0.002 && r.eer < 0.06, "EER {}", r.eer);
}

/// Statistics on the tuning seed (a measurement, not an assertion):
/// `cargo test --release -p abis-datasets --test finger -- --ignored --nocapture tuning`
#[test]
#[ignore]
fn print_statistics_on_tuning_seed() {
    let model = FingerModel::default();
    report("tuning seed", &scores(&model, TUNING_SEED, 1000, 50));
}

/// Generation rate (a measurement, not an assertion):
/// `cargo test --release -p abis-datasets --test finger -- --ignored --nocapture rate`
#[test]
#[ignore]
fn generation_rate_of_100k_fingers() {
    let model = FingerModel::default();
    let fingers = 100_000u64;
    let start = std::time::Instant::now();
    let masters: usize = (0..fingers)
        .into_par_iter()
        .map(|i| finger(&model, 9, i).minutiae().len())
        .sum();
    let master_secs = start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    let captured: usize = (0..fingers)
        .into_par_iter()
        .map(|i| model.capture(&finger(&model, 9, i), 0).len())
        .sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{fingers} masters in {master_secs:.2} s ({:.0} fingers/s, {masters} minutiae); master + \
         one impression in {secs:.2} s ({:.0} fingers/s, {captured} minutiae) on {} threads",
        fingers as f64 / master_secs,
        fingers as f64 / secs,
        rayon::current_num_threads(),
    );
}
