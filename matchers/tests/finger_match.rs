//! The fingerprint 1:1 matcher: behaviour on synthetic transformations, robustness on arbitrary
//! input, SIMD parity, calibration, and an accuracy regression on the real FVC2002 templates.

use abis_matchers::finger::format::{parse, Minutia, MinutiaKind};
use abis_matchers::finger::matcher::{
    calibrated_score, local_similarities, raw_score_for_fmr, CALIBRATION_POINTS,
};
use abis_matchers::finger::{prepare_view, FingerMatcher, PreparedFinger};
use abis_matchers::SimdLevel;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pixels per centimetre of the FVC records (about 500 ppi).
const RES: u16 = 197;

/// A random finger: `n` minutiae at least 12 px apart in a 250 x 330 px area, random directions.
fn random_finger(rng: &mut ChaCha8Rng, n: usize) -> Vec<Minutia> {
    let mut out: Vec<Minutia> = Vec::new();
    while out.len() < n {
        let x = rng.gen_range(25..275u16);
        let y = rng.gen_range(35..365u16);
        let far = out.iter().all(|m| {
            let (dx, dy) = (f32::from(m.x) - f32::from(x), f32::from(m.y) - f32::from(y));
            dx * dx + dy * dy >= 144.0
        });
        if far {
            let kind = if rng.gen_bool(0.5) {
                MinutiaKind::RidgeEnding
            } else {
                MinutiaKind::Bifurcation
            };
            out.push(Minutia {
                x,
                y,
                angle: rng.gen(),
                kind,
                quality: 0,
            });
        }
    }
    out
}

/// Another impression of `m`: rotated by `degrees` about the centre, shifted, jittered, with a
/// fraction of minutiae dropped and a few spurious ones added.
fn impression(
    rng: &mut ChaCha8Rng,
    m: &[Minutia],
    degrees: f32,
    shift: (f32, f32),
    drop: f64,
    add: usize,
) -> Vec<Minutia> {
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (150.0, 200.0);
    let turn = (degrees / 360.0 * 256.0).round() as i32;
    let kept: Vec<&Minutia> = m.iter().filter(|_| !rng.gen_bool(drop)).collect();
    let mut out: Vec<Minutia> = kept
        .into_iter()
        .map(|p| {
            let (x, y) = (f32::from(p.x) - cx, f32::from(p.y) - cy);
            let nx = cx + x * c + y * s + shift.0 + rng.gen_range(-2.0..2.0);
            let ny = cy - x * s + y * c + shift.1 + rng.gen_range(-2.0..2.0);
            let angle = (i32::from(p.angle) + turn + rng.gen_range(-3..=3)).rem_euclid(256) as u8;
            Minutia {
                x: nx.max(0.0).round() as u16,
                y: ny.max(0.0).round() as u16,
                angle,
                ..*p
            }
        })
        .collect();
    out.extend(random_finger(rng, add));
    out
}

fn prep(m: &[Minutia]) -> PreparedFinger {
    PreparedFinger::new(m, RES, RES)
}

fn matcher() -> FingerMatcher {
    FingerMatcher::new(SimdLevel::get())
}

#[test]
fn a_template_matches_itself_with_a_top_score() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut m = matcher();
    for n in [15, 30, 50] {
        let a = prep(&random_finger(&mut rng, n));
        assert!(a.cylinders() > 0, "{n} minutiae");
        let s = m.compare(&a, &a);
        assert!(s > 0.9, "self score {s} with {n} minutiae");
        let b = prep(&random_finger(&mut rng, n));
        assert!(m.compare(&a, &b) < s);
    }
}

#[test]
fn another_impression_scores_high_and_unrelated_fingers_low() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut m = matcher();
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let base = random_finger(&mut rng, 35);
        let rot = rng.gen_range(-40.0..40.0);
        let shift = (rng.gen_range(-30.0..30.0), rng.gen_range(-30.0..30.0));
        let other = impression(&mut rng, &base, rot, shift, 0.15, 4);
        let (a, b) = (prep(&base), prep(&other));
        genuine.push(m.compare(&a, &b));
        impostor.push(m.compare(&a, &prep(&random_finger(&mut rng, 35))));
    }
    let worst_genuine = genuine.iter().copied().fold(f32::MAX, f32::min);
    let best_impostor = impostor.iter().copied().fold(0.0, f32::max);
    assert!(
        worst_genuine > best_impostor,
        "genuine {genuine:?} impostor {impostor:?}"
    );
    assert!(
        worst_genuine > raw_score_for_fmr(1e-4),
        "genuine {genuine:?}"
    );
    assert!(
        best_impostor < raw_score_for_fmr(1e-2),
        "impostor {impostor:?}"
    );
}

#[test]
fn scores_are_nearly_symmetric() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut m = matcher();
    for k in 0..30 {
        let base = random_finger(&mut rng, 30);
        let other = if k % 2 == 0 {
            impression(&mut rng, &base, 20.0, (10.0, -5.0), 0.2, 3)
        } else {
            random_finger(&mut rng, 25)
        };
        let (a, b) = (prep(&base), prep(&other));
        let (ab, ba) = (m.compare(&a, &b), m.compare(&b, &a));
        assert!((ab - ba).abs() <= 0.02 * ab.max(ba), "{ab} vs {ba}");
    }
}

#[test]
fn tiny_templates_score_zero_without_panicking() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut m = matcher();
    let full = prep(&random_finger(&mut rng, 30));
    for n in 0..3 {
        let t = prep(&random_finger(&mut rng, n));
        assert_eq!(t.minutiae(), n);
        assert_eq!(
            t.cylinders(),
            0,
            "{n} minutiae cannot have {} neighbours",
            2
        );
        assert_eq!(m.compare(&t, &full), 0.0);
        assert_eq!(m.compare(&full, &t), 0.0);
        assert_eq!(m.compare(&t, &t), 0.0);
    }
}

#[test]
fn resolution_is_normalised_to_500_ppi() {
    // The same finger recorded at 1000 ppi (coordinates doubled) matches the 500 ppi record.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let base = random_finger(&mut rng, 30);
    let doubled: Vec<Minutia> = base
        .iter()
        .map(|p| Minutia {
            x: 2 * p.x,
            y: 2 * p.y,
            ..*p
        })
        .collect();
    let mut m = matcher();
    let a = prep(&base);
    let b = PreparedFinger::new(&doubled, 2 * RES, 2 * RES);
    assert!(m.compare(&a, &b) > 0.9 * m.compare(&a, &a));
    let unscaled = PreparedFinger::new(&doubled, RES, RES);
    assert!(m.compare(&a, &unscaled) < 0.5 * m.compare(&a, &b));
}

#[test]
fn every_simd_level_gives_identical_similarities_and_scores() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let sizes = [3, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128];
    let fingers: Vec<PreparedFinger> = sizes
        .iter()
        .map(|&n| prep(&random_finger(&mut rng, n)))
        .collect();
    let mut scalar = FingerMatcher::new(SimdLevel::Scalar);
    for level in SimdLevel::supported() {
        let mut m = FingerMatcher::new(level);
        for (i, a) in fingers.iter().enumerate() {
            let b = &fingers[(i * 7 + 3) % fingers.len()];
            let want = local_similarities(SimdLevel::Scalar, a, b);
            let got = local_similarities(level, a, b);
            assert_eq!(want.len(), a.cylinders() * b.cylinders());
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{level:?} {i}"
            );
            assert_eq!(
                scalar.compare(a, b).to_bits(),
                m.compare(a, b).to_bits(),
                "{level:?} {i}"
            );
        }
    }
}

#[test]
fn calibration_is_monotonic_and_anchored() {
    assert!(CALIBRATION_POINTS
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    let mut last = calibrated_score(0.0);
    for k in 1..=100 {
        let s = calibrated_score(k as f32 / 100.0);
        assert!(s >= last, "not monotonic at {k}");
        last = s;
    }
    assert_eq!(calibrated_score(0.0), 0.0);
    for fmr in [1e-2, 1e-3, 1e-4] {
        let raw = raw_score_for_fmr(fmr);
        assert!(
            (calibrated_score(raw) + fmr.log10()).abs() < 1e-3,
            "{fmr}: {raw}"
        );
    }
    assert!(raw_score_for_fmr(1e-2) < raw_score_for_fmr(1e-3));
    assert!(raw_score_for_fmr(1e-3) < raw_score_for_fmr(1e-4));
}

#[test]
fn oversized_views_use_the_first_255_minutiae() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // 300 minutiae on a 20 x 15 grid, 15 px apart.
    let many: Vec<Minutia> = (0..300u16)
        .map(|k| Minutia {
            x: 10 + 15 * (k % 20),
            y: 10 + 15 * (k / 20),
            angle: rng.gen(),
            kind: MinutiaKind::RidgeEnding,
            quality: 0,
        })
        .collect();
    let p = PreparedFinger::new(&many, RES, RES);
    assert_eq!(p.minutiae(), abis_matchers::finger::matcher::MAX_MINUTIAE);
    assert_eq!(p, PreparedFinger::new(&many[..255], RES, RES));
    assert!(p.cylinders() > 200);
    assert!(matcher().compare(&p, &p) > 0.9);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_minutiae_never_panic(
        a in prop::collection::vec((0u16..16384, 0u16..16384, any::<u8>()), 0..80),
        b in prop::collection::vec((0u16..400, 0u16..400, any::<u8>()), 0..80),
        res in prop::sample::select(vec![0u16, 1, 197, 394, u16::MAX]),
    ) {
        let to = |v: &[(u16, u16, u8)]| -> Vec<Minutia> {
            v.iter().map(|&(x, y, angle)| Minutia { x, y, angle, kind: MinutiaKind::Other, quality: 0 }).collect()
        };
        let (pa, pb) = (PreparedFinger::new(&to(&a), res, res), PreparedFinger::new(&to(&b), RES, RES));
        let mut m = matcher();
        for (x, y) in [(&pa, &pb), (&pb, &pa), (&pa, &pa), (&pb, &pb)] {
            let s = m.compare(x, y);
            prop_assert!((0.0..=1.0).contains(&s), "score {}", s);
            prop_assert!(calibrated_score(s).is_finite());
        }
    }
}

/// FVC EER (crossing of FMR and FNMR, interval middle) of raw scores.
fn eer(genuine: &[f32], impostor: &[f32]) -> f64 {
    let mut t: Vec<f32> = genuine.iter().chain(impostor).copied().collect();
    t.push(f32::INFINITY);
    t.sort_by(f32::total_cmp);
    let rates: Vec<(f64, f64)> = t
        .iter()
        .map(|&t| {
            let fmr = impostor.iter().filter(|&&s| s >= t).count() as f64 / impostor.len() as f64;
            let fnmr = genuine.iter().filter(|&&s| s < t).count() as f64 / genuine.len() as f64;
            (fmr, fnmr)
        })
        .collect();
    let t1 = rates.iter().rposition(|&(f, n)| n <= f).unwrap_or(0);
    let t2 = rates
        .iter()
        .position(|&(f, n)| n >= f)
        .unwrap_or(rates.len() - 1);
    let ((f1, n1), (f2, n2)) = (rates[t1], rates[t2]);
    if f1 + n1 <= f2 + n2 {
        (n1 + f1) / 2.0
    } else {
        (f2 + n2) / 2.0
    }
}

#[test]
fn fvc2002_pooled_eer_does_not_regress() {
    let Some(root) = abis_test_data::shared_data("fvc2002") else {
        return;
    };
    let mut m = matcher();
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for db in ["DB1_B", "DB2_B", "DB3_B"] {
        let mut fingers: Vec<Vec<PreparedFinger>> = Vec::new();
        for f in 101..=110 {
            let mut imp = Vec::new();
            for i in 1..=8 {
                let path = root.join(db).join(format!("{f}_{i}.iso"));
                let rec = parse(&std::fs::read(&path).expect("read FVC record"))
                    .expect("parse FVC record");
                imp.push(prepare_view(&rec, &rec.views[0]));
            }
            fingers.push(imp);
        }
        for imp in &fingers {
            for i in 0..8 {
                for j in i + 1..8 {
                    genuine.push(m.compare(&imp[i], &imp[j]));
                }
            }
        }
        for a in 0..10 {
            for b in a + 1..10 {
                impostor.push(m.compare(&fingers[a][0], &fingers[b][0]));
            }
        }
    }
    assert_eq!((genuine.len(), impostor.len()), (840, 135));
    let e = eer(&genuine, &impostor);
    eprintln!("FVC2002 DB1-DB3 pooled EER {:.2}%", 100.0 * e);
    // Measured 2.91% (release and dev profiles give the same scores); the bar is 6%.
    assert!(e <= 0.045, "pooled EER {:.2}% regressed", 100.0 * e);
}
