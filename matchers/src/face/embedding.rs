//! Validation and L2 normalisation of raw embeddings.
//!
//! Embeddings arrive from face encoders as plain `f32` vectors. Before one is stored or used as a
//! probe it must have the gallery's dimension, finite components and a norm that can be divided
//! by; a bad vector is refused with a typed error instead of silently producing NaN scores. The
//! norm is accumulated in `f64` so that long vectors of small components do not lose precision.

use crate::{MatchError, Result};

/// Sum of squares in `f64`, after checking every component is finite.
fn finite_norm(v: &[f32]) -> Result<f64> {
    let mut sum = 0.0f64;
    for (index, &value) in v.iter().enumerate() {
        if !value.is_finite() {
            return Err(MatchError::NonFinite { index, value });
        }
        sum += f64::from(value) * f64::from(value);
    }
    let norm = sum.sqrt();
    // Below the smallest normal f32 the reciprocal overflows f32: treat it as zero.
    if norm < f64::from(f32::MIN_POSITIVE) {
        return Err(MatchError::ZeroNorm);
    }
    Ok(norm)
}

/// Checks that `v` is a usable embedding of dimension `dim`: the right length, every component
/// finite, and a norm that is not (numerically) zero. It does not require unit norm.
pub fn check_embedding(v: &[f32], dim: usize) -> Result<()> {
    if v.len() != dim {
        return Err(MatchError::WrongLength {
            what: "embedding",
            expected: dim,
            actual: v.len(),
        });
    }
    finite_norm(v).map(|_| ())
}

/// Scales `v` in place to unit L2 norm; a vector already of unit norm (within 1e-6) is left as
/// it is. Refuses non-finite components and a zero norm, leaving `v` untouched in that case.
pub fn l2_normalise(v: &mut [f32]) -> Result<()> {
    let norm = finite_norm(v)?;
    // Already unit length (to f32 precision): left untouched, so normalising is idempotent and a
    // stored embedding read back and stored again is bit-for-bit the same.
    if (norm - 1.0).abs() <= 1e-6 {
        return Ok(());
    }
    let inv = 1.0 / norm;
    for x in v.iter_mut() {
        *x = (f64::from(*x) * inv) as f32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_gives_unit_norm_and_keeps_direction() {
        let mut v = vec![3.0f32, -4.0, 0.0];
        l2_normalise(&mut v).unwrap();
        assert_eq!(v, vec![0.6, -0.8, 0.0]);
        let once = v.clone();
        l2_normalise(&mut v).unwrap();
        assert_eq!(v, once, "normalising twice changes nothing");
        let mut tiny = vec![1e-30f32; 4];
        l2_normalise(&mut tiny).unwrap();
        let n: f32 = tiny.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-6);
    }

    #[test]
    fn normalise_refuses_bad_vectors_without_touching_them() {
        let mut v = vec![1.0f32, f32::NAN];
        assert!(matches!(
            l2_normalise(&mut v),
            Err(MatchError::NonFinite { index: 1, .. })
        ));
        assert_eq!(v[0], 1.0);
        let mut z = vec![0.0f32; 8];
        assert_eq!(l2_normalise(&mut z), Err(MatchError::ZeroNorm));
        assert_eq!(z, vec![0.0; 8]);
    }
}
