use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_code(rng: &mut ChaCha8Rng) -> CylinderCode {
    (rng.gen(), rng.gen())
}

/// A probe code with `flips` random bits flipped and its direction moved by `turn`.
fn near(rng: &mut ChaCha8Rng, c: &CylinderCode, flips: usize, turn: u8) -> CylinderCode {
    let mut words = c.1;
    for _ in 0..flips {
        let b = rng.gen_range(0..CODE_BITS);
        words[b / 64] ^= 1 << (b % 64);
    }
    (c.0.wrapping_add(turn), words)
}

/// A gallery of rows with every count 0..=MAX_CODES, codes near and far from the probe's in
/// distance and direction, around both limits.
fn gallery(rng: &mut ChaCha8Rng, probe: &[CylinderCode], rows: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(rows * ROW_WORDS);
    for r in 0..rows {
        let n = r % (MAX_CODES + 1);
        let codes: Vec<CylinderCode> = (0..n)
            .map(|_| {
                if !probe.is_empty() && rng.gen_bool(0.5) {
                    let c = &probe[rng.gen_range(0..probe.len())];
                    let flips = rng.gen_range(60..140);
                    let turn = rng
                        .gen_range(0..2 * ANGLE_WINDOW + 4)
                        .wrapping_sub(ANGLE_WINDOW + 2);
                    near(rng, c, flips, turn)
                } else {
                    random_code(rng)
                }
            })
            .collect();
        out.extend_from_slice(&FingerCode::from_codes(&codes).words()[..]);
    }
    out
}

#[test]
fn every_level_counts_the_same_hits_as_the_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for np in [0usize, 1, 2, 7, 8, 9, 16, 23, 24] {
        let codes: Vec<CylinderCode> = (0..np).map(|_| random_code(&mut rng)).collect();
        let probe = FingerCode::from_codes(&codes);
        let rows = gallery(&mut rng, &codes, 97);
        let mut want = vec![0u16; 97];
        affinity(SimdLevel::Scalar, &probe, &rows, ROW_WORDS, &mut want).unwrap();
        for level in SimdLevel::supported() {
            let mut got = vec![0xAAAAu16; 97];
            affinity(level, &probe, &rows, ROW_WORDS, &mut got).unwrap();
            assert_eq!(got, want, "{level} with {np} probe codes");
        }
        if np > 0 {
            assert!(want.iter().any(|&h| h > 0), "the gallery plants near codes");
            assert!(want
                .iter()
                .all(|&h| usize::from(h) <= MAX_CODES * RADIUS as usize));
        }
    }
}

#[test]
fn affinity_needs_both_a_near_code_and_a_compatible_direction() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let base = random_code(&mut rng);
    let probe = FingerCode::from_codes(&[base]);
    // Differs from the probe code in its first `d` bits.
    let at = |d: u32, turn: u8| -> CylinderCode {
        let mut w = base.1;
        for b in 0..d as usize {
            w[b / 64] ^= 1 << (b % 64);
        }
        (base.0.wrapping_add(turn), w)
    };
    let row = FingerCode::from_codes(&[
        at(0, 0),
        at(RADIUS - 10, 0),
        at(RADIUS, 0),
        at(RADIUS + 30, 0),
        at(5, ANGLE_WINDOW),
        at(5, ANGLE_WINDOW.wrapping_neg()),
        at(0, ANGLE_WINDOW + 1),
        at(0, 128),
    ]);
    // Identical: RADIUS; 10 inside: 10; at and past the radius: 0; both window edges: RADIUS - 5
    // each; past the window: 0.
    let want = RADIUS + 10 + 2 * (RADIUS - 5);
    for level in SimdLevel::supported() {
        let mut out = [0u16; 1];
        affinity(level, &probe, &row.words()[..], ROW_WORDS, &mut out).unwrap();
        assert_eq!(u32::from(out[0]), want, "{level}");
    }
    let s = first_stage_score(&probe, &row.words()[..], want as u16);
    assert!(
        (s - want as f32 / 8f32.sqrt()).abs() < 1e-3,
        "affinity / sqrt(1 * 8) = {s}"
    );
}

#[test]
fn rows_round_trip_and_corrupt_rows_are_refused() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let codes: Vec<CylinderCode> = (0..11).map(|_| random_code(&mut rng)).collect();
    let code = FingerCode::from_codes(&codes);
    assert_eq!(code.len(), 11);
    assert_eq!(code.codes(), codes);
    assert_eq!(FingerCode::from_row(&code.words()[..]).unwrap(), code);
    let mut bad = *code.words();
    bad[0] = (bad[0] & !0xFF) | 40;
    assert!(matches!(
        FingerCode::from_row(&bad),
        Err(MatchError::Corrupt { .. })
    ));
    let mut bad = *code.words();
    bad[ROW_WORDS - 1] = 7; // a code slot past the count
    assert!(FingerCode::from_row(&bad).is_err());
    assert!(matches!(
        FingerCode::from_row(&bad[..ROW_WORDS - 1]),
        Err(MatchError::WrongLength { .. })
    ));
    let mut out = [0u16; 1];
    assert!(affinity(
        SimdLevel::Scalar,
        &code,
        &bad[..ROW_WORDS - 1],
        ROW_WORDS,
        &mut out
    )
    .is_err());
    assert!(affinity(SimdLevel::Scalar, &code, &bad, 16, &mut out).is_err());
    assert!(FingerCode::default().is_empty());
}

proptest::proptest! {
    #[test]
    fn arbitrary_rows_never_panic_and_agree_across_levels(
        words in proptest::collection::vec(proptest::prelude::any::<u64>(), ROW_WORDS * 2),
        seed in 0u64..1000,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let codes: Vec<CylinderCode> = (0..5).map(|_| random_code(&mut rng)).collect();
        let probe = FingerCode::from_codes(&codes);
        let mut want = [0u16; 2];
        affinity(SimdLevel::Scalar, &probe, &words, ROW_WORDS, &mut want).unwrap();
        for level in SimdLevel::supported() {
            let mut got = [0u16; 2];
            affinity(level, &probe, &words, ROW_WORDS, &mut got).unwrap();
            proptest::prop_assert_eq!(got, want);
        }
        let _ = FingerCode::from_row(&words[..ROW_WORDS]);
    }
}

#[test]
fn a_finger_keeps_at_most_max_codes_and_a_moved_finger_keeps_its_codes() {
    use crate::finger::format::{Minutia, MinutiaKind};
    // A jittered lattice of 64 minutiae, and the same finger translated (exact in pixels), so
    // every cylinder has an identical mate.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut ms = Vec::new();
    for i in 0..8u16 {
        for j in 0..8u16 {
            ms.push(Minutia {
                x: 100 + 30 * i + rng.gen_range(0..10),
                y: 100 + 30 * j + rng.gen_range(0..10),
                angle: rng.gen(),
                kind: MinutiaKind::RidgeEnding,
                quality: 60,
            });
        }
    }
    let moved: Vec<Minutia> = ms
        .iter()
        .map(|m| Minutia {
            x: m.x + 37,
            y: m.y + 11,
            ..*m
        })
        .collect();
    let a = FingerCode::new(&PreparedFinger::new(&ms, 197, 197));
    let b = FingerCode::new(&PreparedFinger::new(&moved, 197, 197));
    assert_eq!(a.len(), MAX_CODES);
    let mut out = [0u16; 1];
    affinity(SimdLevel::get(), &a, &b.words()[..], ROW_WORDS, &mut out).unwrap();
    assert_eq!(
        u32::from(out[0]),
        MAX_CODES as u32 * RADIUS,
        "every code has an identical mate"
    );
    // The same positions with other directions: other neighbourhoods, few hits.
    let other: Vec<Minutia> = ms
        .iter()
        .map(|m| Minutia {
            angle: m.angle.wrapping_add(rng.gen_range(40..200)),
            ..*m
        })
        .collect();
    let c = FingerCode::new(&PreparedFinger::new(&other, 197, 197));
    affinity(SimdLevel::get(), &a, &c.words()[..], ROW_WORDS, &mut out).unwrap();
    assert!(
        u32::from(out[0]) < MAX_CODES as u32 * RADIUS / 8,
        "affinity {}",
        out[0]
    );
}
