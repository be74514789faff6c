//! Ten-finger rows: one person's finger codes side by side, scored in one pass.
//!
//! A [`FingerSet`] row is the ten [`FingerCode`]s of ISO finger positions 1 (right thumb) to
//! 10 (left little) in order, 320 words; a missing finger is an empty code. A person's
//! first-stage score is the sum, over the positions both the probe and the row have, of the
//! per-finger [`first_stage_score`](super::first_stage_score): fingers are compared only with
//! the same finger, and a missing finger adds nothing rather than counting against the person.

use super::{affinity, inv_sqrt_len, FingerCode, ROW_WORDS};
use crate::error::{MatchError, Result};
use crate::simd::SimdLevel;

/// Finger positions of a set (ISO 19794-2 positions 1..=10).
pub const POSITIONS: usize = 10;
/// Words of a [`FingerSet`] row.
pub const SET_WORDS: usize = POSITIONS * ROW_WORDS;

/// The first-stage codes of up to ten fingers of one person.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FingerSet {
    codes: [FingerCode; POSITIONS],
}

fn index(position: u8) -> Result<usize> {
    match position {
        1..=10 => Ok(usize::from(position) - 1),
        _ => Err(MatchError::WrongLength {
            what: "finger position (1..=10)",
            expected: POSITIONS,
            actual: usize::from(position),
        }),
    }
}

impl FingerSet {
    /// Sets the code of ISO finger `position` (1..=10).
    pub fn set(&mut self, position: u8, code: FingerCode) -> Result<()> {
        self.codes[index(position)?] = code;
        Ok(())
    }

    /// The code of ISO finger `position`, if captured with at least one code.
    pub fn get(&self, position: u8) -> Option<&FingerCode> {
        let code = &self.codes[index(position).ok()?];
        (!code.is_empty()).then_some(code)
    }

    /// Positions with a non-empty code.
    pub fn positions(&self) -> impl Iterator<Item = u8> + '_ {
        (1..=POSITIONS as u8).filter(|&p| self.get(p).is_some())
    }

    /// Whether no finger has a code.
    pub fn is_empty(&self) -> bool {
        self.codes.iter().all(FingerCode::is_empty)
    }

    /// The stored row ([`SET_WORDS`] words).
    pub fn to_row(&self) -> Vec<u64> {
        self.codes
            .iter()
            .flat_map(|c| c.words().iter().copied())
            .collect()
    }

    /// Reads a stored row, checking every finger's header.
    pub fn from_row(row: &[u64]) -> Result<Self> {
        if row.len() != SET_WORDS {
            return Err(MatchError::WrongLength {
                what: "finger set row (words)",
                expected: SET_WORDS,
                actual: row.len(),
            });
        }
        let mut set = Self::default();
        for (c, r) in set.codes.iter_mut().zip(row.chunks_exact(ROW_WORDS)) {
            *c = FingerCode::from_row(r)?;
        }
        Ok(set)
    }
}

/// Person-level first-stage scores of `probe` against `out.len()` consecutive [`FingerSet`]
/// rows: `out[k]` = sum over the positions both have of `affinity / sqrt(n_probe * n_row)`.
/// `scratch` is reused across calls.
pub fn set_scores(
    level: SimdLevel,
    probe: &FingerSet,
    rows: &[u64],
    out: &mut [f32],
    scratch: &mut Vec<u16>,
) -> Result<()> {
    let n = out.len();
    if rows.len() != n * SET_WORDS {
        return Err(MatchError::WrongLength {
            what: "finger set rows (words)",
            expected: n * SET_WORDS,
            actual: rows.len(),
        });
    }
    out.fill(0.0);
    scratch.resize(n, 0);
    for (i, code) in probe.codes.iter().enumerate() {
        if code.is_empty() || n == 0 {
            continue;
        }
        let first = &rows[i * ROW_WORDS..];
        affinity(level, code, first, SET_WORDS, &mut scratch[..n])?;
        let inv_p = code.inv_sqrt_len();
        for (k, (o, &h)) in out.iter_mut().zip(scratch.iter()).enumerate() {
            if h > 0 {
                let row = &first[k * SET_WORDS..k * SET_WORDS + ROW_WORDS];
                *o += f32::from(h) * inv_p * inv_sqrt_len(row);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{first_stage_score, CylinderCode, RADIUS};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn set_scores_sum_the_shared_fingers_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let code = |rng: &mut ChaCha8Rng| -> CylinderCode { (rng.gen(), rng.gen()) };
        let base: Vec<Vec<CylinderCode>> = (0..POSITIONS)
            .map(|_| (0..20).map(|_| code(&mut rng)).collect())
            .collect();
        let mut probe = FingerSet::default();
        for p in [1u8, 2, 7] {
            probe
                .set(p, FingerCode::from_codes(&base[usize::from(p) - 1]))
                .unwrap();
        }
        // Row 0: the same person with fingers 2, 7, 9; row 1: strangers everywhere.
        let mut mate = FingerSet::default();
        for p in [2u8, 7, 9] {
            let mut codes = base[usize::from(p) - 1].clone();
            codes.truncate(15);
            mate.set(p, FingerCode::from_codes(&codes)).unwrap();
        }
        let mut stranger = FingerSet::default();
        for p in 1..=10u8 {
            let codes: Vec<CylinderCode> = (0..24).map(|_| code(&mut rng)).collect();
            stranger.set(p, FingerCode::from_codes(&codes)).unwrap();
        }
        let mut rows = mate.to_row();
        rows.extend(stranger.to_row());
        assert_eq!(FingerSet::from_row(&rows[..SET_WORDS]).unwrap(), mate);
        assert_eq!(mate.positions().collect::<Vec<_>>(), vec![2, 7, 9]);
        let expected: f32 = [2u8, 7]
            .iter()
            .map(|&p| {
                let (probe, row) = (probe.get(p).unwrap(), mate.get(p).unwrap());
                let mut a = [0u16; 1];
                affinity(
                    SimdLevel::Scalar,
                    probe,
                    &row.words()[..],
                    ROW_WORDS,
                    &mut a,
                )
                .unwrap();
                assert_eq!(a[0], 15 * RADIUS as u16, "15 identical codes");
                first_stage_score(probe, &row.words()[..], a[0])
            })
            .sum();
        for level in SimdLevel::supported() {
            let mut out = [9.0f32; 2];
            set_scores(level, &probe, &rows, &mut out, &mut Vec::new()).unwrap();
            assert!((out[0] - expected).abs() < 1e-3, "{level}: {}", out[0]);
            assert!(
                out[1] < 0.05 * expected,
                "{level}: random codes rarely meet: {}",
                out[1]
            );
        }
        assert!(probe.set(11, FingerCode::default()).is_err());
        assert!(set_scores(
            SimdLevel::Scalar,
            &probe,
            &rows[1..],
            &mut [0.0; 2],
            &mut Vec::new()
        )
        .is_err());
    }
}
