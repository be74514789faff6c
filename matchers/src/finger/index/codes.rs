//! Compact cylinder codes: each MCC cylinder reduced to one 256-bit sign-random-projection code.
//!
//! A bit cylinder is a vector over `CELLS` cells, of which only the cells valid in its disc count.
//! Centre it on its own mean over the valid cells (`b - mean(b)`, invalid cells 0) and project it
//! on `CODE_BITS` fixed random hyperplanes with +-1 coefficients: bit `k` of the code is the sign
//! of the `k`-th projection (Charikar's SimHash). The fraction of differing bits of two codes then
//! estimates the angle between the two centred cylinders divided by pi, i.e. mated cylinders
//! (similar neighbourhoods) have nearby codes. Centring matters: bit cylinders are mostly zeros,
//! and projecting them uncentred gives every cylinder nearly the same code.
//!
//! The projection is computed with popcounts: with `r` a hyperplane as a bit set (1 = +1),
//! `dot(r, b) = 2|r & b| - |b|` and `dot(r, valid) = 2|r & valid| - |valid|`. The hyperplanes
//! come from a fixed splitmix64 stream, so codes are stable across processes and versions of
//! this crate (changing the seed changes every stored code: it is part of the format).

use crate::finger::matcher::params::{MASK_WORDS, ND, WORDS};
use crate::finger::matcher::PreparedFinger;
use std::sync::OnceLock;

/// Bits per cylinder code.
pub const CODE_BITS: usize = 256;
/// 64-bit words per cylinder code.
pub const CODE_WORDS: usize = CODE_BITS / 64;

/// Seed of the hyperplane stream (part of the stored format).
const PLANE_SEED: u64 = 0x05EE_DF1A_6E4C_0DE5;

type Planes = [[u64; WORDS]; CODE_BITS];

/// The random hyperplanes, as bit sets over the cells (1 = coefficient +1, 0 = -1).
fn planes() -> &'static Planes {
    static PLANES: OnceLock<Planes> = OnceLock::new();
    PLANES.get_or_init(|| {
        let mut state = PLANE_SEED;
        let mut p = [[0u64; WORDS]; CODE_BITS];
        for w in p.iter_mut().flatten() {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *w = z ^ (z >> 31);
        }
        p
    })
}

/// The hyperplanes transposed for sparse sums: per cell, the 0/1 coefficient of every plane
/// (`cells[c][k]`), and per cell of one section, the sum of the coefficients over the `ND`
/// sections (`sections[cell][k]`, at most 6).
struct Columns {
    cells: Vec<[u8; CODE_BITS]>,
    sections: Vec<[u8; CODE_BITS]>,
}

fn columns() -> &'static Columns {
    static COLUMNS: OnceLock<Columns> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        let p = planes();
        let cells: Vec<[u8; CODE_BITS]> = (0..WORDS * 64)
            .map(|c| std::array::from_fn(|k| ((p[k][c / 64] >> (c % 64)) & 1) as u8))
            .collect();
        let per_section = MASK_WORDS * 64;
        let sections = (0..per_section)
            .map(|cell| {
                std::array::from_fn(|k| (0..ND).map(|s| cells[s * per_section + cell][k]).sum())
            })
            .collect();
        Columns { cells, sections }
    })
}

/// Adds `col` to the counters (a loop the compiler vectorises).
#[inline]
fn accumulate(acc: &mut [u16; CODE_BITS], col: &[u8; CODE_BITS]) {
    for (a, &c) in acc.iter_mut().zip(col) {
        *a += u16::from(c);
    }
}

/// The set bits of `words`, as indices.
fn set_bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(w, &word)| {
        let mut v = word;
        std::iter::from_fn(move || {
            (v != 0).then(|| {
                let b = v.trailing_zeros() as usize;
                v &= v - 1;
                w * 64 + b
            })
        })
    })
}

/// The code of cylinder `c` of `f` (`c < f.cylinders()`).
///
/// Per plane `k`, with `r` its 0/1 coefficients: `rb = |r & bits|` and `rv = |r & valid|` are
/// sums of the plane's column over the set bits and over the valid cells; the projection of the
/// centred cylinder is `(2 rb - nb) - mean (2 rv - nv)`, its sign is the code bit.
pub(crate) fn cylinder_code(f: &PreparedFinger, c: usize) -> [u64; CODE_WORDS] {
    let bits = &f.bits[c * WORDS..(c + 1) * WORDS];
    let mask = &f.masks[c * MASK_WORDS..(c + 1) * MASK_WORDS];
    let cols = columns();
    let mut rb = [0u16; CODE_BITS];
    let mut nb = 0i32;
    for cell in set_bits(bits) {
        accumulate(&mut rb, &cols.cells[cell]);
        nb += 1;
    }
    // The validity mask is per cell, the same for every direction section.
    let mut rv = [0u16; CODE_BITS];
    let mut nv = 0i32;
    for cell in set_bits(mask) {
        accumulate(&mut rv, &cols.sections[cell]);
        nv += ND as i32;
    }
    let mean = nb as f32 / nv.max(1) as f32;
    let mut code = [0u64; CODE_WORDS];
    for k in 0..CODE_BITS {
        let dot = (2 * i32::from(rb[k]) - nb) as f32 - mean * (2 * i32::from(rv[k]) - nv) as f32;
        if dot > 0.0 {
            code[k / 64] |= 1 << (k % 64);
        }
    }
    code
}

/// Direction of cylinder `c`'s minutia (360/256-degree units).
pub(crate) fn cylinder_angle(f: &PreparedFinger, c: usize) -> u8 {
    f.angles[c]
}

/// Valid cells of cylinder `c` (the ones a code summarises).
pub(crate) fn valid_cells(f: &PreparedFinger, c: usize) -> u32 {
    f.masks[c * MASK_WORDS..(c + 1) * MASK_WORDS]
        .iter()
        .map(|w| w.count_ones())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct formula: popcounts of every plane against the cylinder.
    fn direct_code(f: &PreparedFinger, c: usize) -> [u64; CODE_WORDS] {
        let ones = |w: &mut dyn Iterator<Item = u64>| w.map(|x| x.count_ones() as i32).sum::<i32>();
        let bits = &f.bits[c * WORDS..(c + 1) * WORDS];
        let mask = &f.masks[c * MASK_WORDS..(c + 1) * MASK_WORDS];
        let nb = ones(&mut bits.iter().copied());
        let nv = ones(&mut mask.iter().copied()) * ND as i32;
        let mean = nb as f32 / nv.max(1) as f32;
        let mut code = [0u64; CODE_WORDS];
        for (k, r) in planes().iter().enumerate() {
            let rb = ones(&mut r.iter().zip(bits).map(|(a, b)| a & b));
            let rv = ones(&mut r.iter().enumerate().map(|(w, a)| a & mask[w % MASK_WORDS]));
            if (2 * rb - nb) as f32 - mean * (2 * rv - nv) as f32 > 0.0 {
                code[k / 64] |= 1 << (k % 64);
            }
        }
        code
    }

    #[test]
    fn sparse_sums_give_the_direct_projection() {
        use crate::finger::format::{Minutia, MinutiaKind};
        let ms: Vec<Minutia> = (0..40u16)
            .map(|i| Minutia {
                x: 60 + (i * 37) % 220,
                y: 60 + (i * 53) % 300,
                angle: (i * 71) as u8,
                kind: MinutiaKind::Bifurcation,
                quality: 50,
            })
            .collect();
        let f = PreparedFinger::new(&ms, 197, 197);
        assert!(f.cylinders() > 10);
        for c in 0..f.cylinders() {
            assert_eq!(cylinder_code(&f, c), direct_code(&f, c), "cylinder {c}");
        }
    }

    #[test]
    fn planes_are_balanced_and_distinct() {
        let p = planes();
        let total: u32 = p.iter().flatten().map(|w| w.count_ones()).sum();
        let bits = (CODE_BITS * WORDS * 64) as f64;
        assert!((f64::from(total) / bits - 0.5).abs() < 0.01);
        assert_ne!(p[0], p[1]);
    }
}
