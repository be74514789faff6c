//! The reference local similarities: plain loops over 64-bit words.

use super::{gamma, key, window};
use crate::finger::matcher::params::{MASK_WORDS, MIN_GAMMA, WORDS};
use crate::finger::matcher::template::PreparedFinger;

/// See [`super::pairs`]; writes the keys to the head of `out` (one slot per pair of cylinders)
/// and returns how many.
pub(super) fn pairs(
    a: &PreparedFinger,
    b: &PreparedFinger,
    min_common: u32,
    out: &mut [u64],
) -> usize {
    let mut len = 0;
    for (i, &ta) in a.angles.iter().enumerate() {
        let ab = &a.bits[i * WORDS..(i + 1) * WORDS];
        let am = &a.masks[i * MASK_WORDS..(i + 1) * MASK_WORDS];
        for j in window(&b.angles, ta).into_iter().flatten() {
            let bm = &b.masks[j * MASK_WORDS..(j + 1) * MASK_WORDS];
            let mut m = [0u64; MASK_WORDS];
            let mut common = 0;
            for w in 0..MASK_WORDS {
                m[w] = am[w] & bm[w];
                common += m[w].count_ones();
            }
            let bb = &b.bits[j * WORDS..(j + 1) * WORDS];
            let (mut pa, mut pb, mut px) = (0, 0, 0);
            for w in 0..WORDS {
                let mw = m[w % MASK_WORDS];
                pa += (ab[w] & mw).count_ones();
                pb += (bb[w] & mw).count_ones();
                px += ((ab[w] ^ bb[w]) & mw).count_ones();
            }
            let g = gamma(pa, pb, px);
            // Branch-free append: the slot is always written, kept when the pair qualifies.
            out[len] = key(g, i, j);
            len += usize::from((common >= min_common) & (g >= MIN_GAMMA));
        }
    }
    len
}
