//! From local similarities to one global score: Local Similarity Sort with Relaxation (LSS-R).
//!
//! Local similarities alone cannot tell a finger from a look-alike: two unrelated prints share
//! many locally similar neighbourhoods. The global step keeps only pairs that agree with each
//! other geometrically:
//! 1. **Pairing.** The local similarities of at least `MIN_GAMMA` are sorted, and pairs are taken
//!    greedily from the best down, each minutia at most once, up to `min(nA, nB)` pairs. (The
//!    published LSS-R takes the top pairs without the one-to-one constraint; with it, one strong
//!    minutia cannot vote many times.)
//! 2. **Relaxation** (`N_REL` rounds): each pair's similarity becomes `W_R` of itself plus the
//!    rest of the average of the other pairs' similarities weighted by their compatibility `rho`,
//!    the product of three sigmoids on the differences of (distance between the two minutiae,
//!    difference of their directions, radial angle of the segment joining them) measured in
//!    either finger. Pairs consistent with many others keep their similarity, isolated ones fade.
//! 3. **Selection.** The `nP` pairs whose similarity survived relaxation best (highest ratio of
//!    final to initial similarity) are averaged; `nP` grows from `MIN_NP` to `MAX_NP` with the
//!    number of minutiae (a sigmoid at `MU_P`). Fewer pairs than `nP` count as zeros.
//!
//! The compatibility sigmoids are tabulated once per process over the quantised differences (1/8
//! pixel, 360/256 degree), so relaxation costs table look-ups, not exponentials.

use super::params::*;
use super::similarity::unkey;
use super::template::PreparedFinger;
use std::sync::OnceLock;

/// Entries of the distance-difference table (1/8 pixel steps up to 32 pixels; the last entry, and
/// every larger difference, is 0: the sigmoid is below 1e-18 there).
const D1_ENTRIES: usize = 256;

/// Tabulated compatibility sigmoids.
struct Tables {
    z1: [f32; D1_ENTRIES],
    z2: [f32; 129],
    z3: [f32; 129],
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = Tables {
            z1: [0.0; D1_ENTRIES],
            z2: [0.0; 129],
            z3: [0.0; 129],
        };
        for (d, z) in t.z1.iter_mut().enumerate().take(D1_ENTRIES - 1) {
            *z = sigmoid(d as f32 / DIST_STEPS, MU_1, TAU_1);
        }
        let unit = 2.0 * std::f32::consts::PI / 256.0;
        for d in 0..129 {
            t.z2[d] = sigmoid(d as f32 * unit, MU_2, TAU_2);
            t.z3[d] = sigmoid(d as f32 * unit, MU_3, TAU_3);
        }
        t
    })
}

/// Circular absolute difference of two angles in 360/256-degree units (0..=128).
#[inline(always)]
fn circ(d: u8) -> usize {
    usize::from(d.min(d.wrapping_neg()))
}

/// Number of pairs averaged for templates of `na` and `nb` cylinders.
pub(crate) fn pairs_averaged(na: usize, nb: usize) -> usize {
    let z = sigmoid(na.min(nb) as f32, MU_P, TAU_P);
    MIN_NP + (z * (MAX_NP - MIN_NP) as f32).round() as usize
}

/// Reusable buffers of the global step.
#[derive(Debug, Default, Clone)]
pub(crate) struct Scratch {
    used_a: Vec<bool>,
    used_b: Vec<bool>,
    pairs: Vec<(u16, u16)>,
    lambda: Vec<f32>,
    next: Vec<f32>,
    rho: Vec<f32>,
    order: Vec<(f32, f32)>,
    sorted: Vec<u64>,
}

/// Buckets of the similarity range used to order the keys: a counting sort by bucket, then an
/// exact sort inside each bucket, done lazily from the top bucket down. A bucket is read off the
/// similarity's f32 bits (exponent and top 6 mantissa bits, monotonic for positive floats): 64
/// buckets per octave over `[1/16, 1]`, one more for 1.0, and bucket 0 for everything below 1/16.
const BUCKETS: usize = 4 * 64 + 2;

/// `(1/16).to_bits() >> 17`: the first bits value of bucket 1.
const BUCKET_BASE: u32 = 0x3D80_0000 >> 17;

#[inline(always)]
fn bucket(k: u64) -> usize {
    let bits = (k >> 32) as u32 >> 17;
    ((bits + 1).saturating_sub(BUCKET_BASE) as usize).min(BUCKETS - 1)
}

/// Descending order of keys.
fn desc(x: &u64, y: &u64) -> std::cmp::Ordering {
    y.cmp(x)
}

/// Greedy one-to-one pairing over `keys` (sorted descending) until `n_r` pairs are taken.
fn take_pairs(keys: &[u64], n_r: usize, s: &mut Scratch) {
    for &k in keys {
        let (g, i, j) = unkey(k);
        if s.used_a[i] || s.used_b[j] {
            continue;
        }
        s.used_a[i] = true;
        s.used_b[j] = true;
        s.pairs.push((i as u16, j as u16));
        s.lambda.push(g);
        if s.pairs.len() == n_r {
            return;
        }
    }
}

/// `sum_q row[q] * v[q]` with eight independent partial sums (vectorisable; the order of the
/// additions is fixed, so the result does not depend on the instruction set).
#[inline]
fn dot(row: &[f32], v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (rc, vc) = (row.chunks_exact(8), v.chunks_exact(8));
    let tail: f32 = rc
        .remainder()
        .iter()
        .zip(vc.remainder())
        .map(|(r, l)| r * l)
        .sum();
    for (r, l) in rc.zip(vc) {
        for k in 0..8 {
            acc[k] += r[k] * l[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The LSS-R score in `[0, 1]` of two prepared fingers, given the [`key`](super::similarity::key)s
/// of their local similarities of at least `MIN_GAMMA`.
pub(crate) fn lss_r(a: &PreparedFinger, b: &PreparedFinger, keys: &[u64], s: &mut Scratch) -> f32 {
    let (na, nb) = (a.cylinders(), b.cylinders());
    if keys.is_empty() {
        return 0.0;
    }
    // 1. Pairing, best similarity first. Only the head of the order is needed: keys are spread
    //    into similarity buckets, and buckets are sorted one at a time from the top until n_r
    //    pairs are taken. The order is exactly that of a full descending sort of the keys.
    s.used_a.clear();
    s.used_a.resize(na, false);
    s.used_b.clear();
    s.used_b.resize(nb, false);
    s.pairs.clear();
    s.lambda.clear();
    let n_r = na.min(nb);
    let mut start = [0usize; BUCKETS + 1];
    for &k in keys.iter() {
        start[BUCKETS - 1 - bucket(k) + 1] += 1;
    }
    for b in 0..BUCKETS {
        start[b + 1] += start[b];
    }
    let mut fill = start;
    s.sorted.clear();
    s.sorted.resize(keys.len(), 0);
    for &k in keys.iter() {
        let b = BUCKETS - 1 - bucket(k);
        s.sorted[fill[b]] = k;
        fill[b] += 1;
    }
    let mut sorted = std::mem::take(&mut s.sorted);
    for b in 0..BUCKETS {
        let slice = &mut sorted[start[b]..start[b + 1]];
        slice.sort_unstable_by(desc);
        take_pairs(slice, n_r, s);
        if s.pairs.len() == n_r {
            break;
        }
    }
    s.sorted = sorted;
    let n = s.pairs.len();
    let n_p = pairs_averaged(na, nb);
    // 2. Relaxation (a lone pair has no support and simply decays).
    let t = tables();
    s.rho.clear();
    s.rho.resize(n * n, 0.0);
    for p in 0..n {
        let (ra, rb) = (usize::from(s.pairs[p].0), usize::from(s.pairs[p].1));
        for q in p + 1..n {
            let (qa, qb) = (usize::from(s.pairs[q].0), usize::from(s.pairs[q].1));
            // Branch-free: distances further apart than the table share its last entry, 0.
            let d1 = usize::from(a.dist[ra * na + qa].abs_diff(b.dist[rb * nb + qb]))
                .min(D1_ENTRIES - 1);
            let rel_a = a.angles[ra].wrapping_sub(a.angles[qa]);
            let rel_b = b.angles[rb].wrapping_sub(b.angles[qb]);
            let d2 = circ(rel_a.wrapping_sub(rel_b));
            let d3 = circ(a.radial[ra * na + qa].wrapping_sub(b.radial[rb * nb + qb]));
            let r = t.z1[d1] * t.z2[d2] * t.z3[d3];
            s.rho[p * n + q] = r;
            s.rho[q * n + p] = r;
        }
    }
    let w = if n > 1 {
        (1.0 - W_R) / (n - 1) as f32
    } else {
        0.0
    };
    s.next.clear();
    s.next.resize(n, 0.0);
    s.order.clear();
    s.order.extend(s.lambda.iter().map(|&l| (0.0, l)));
    for _ in 0..N_REL {
        for p in 0..n {
            s.next[p] = W_R * s.lambda[p] + w * dot(&s.rho[p * n..(p + 1) * n], &s.lambda);
        }
        std::mem::swap(&mut s.lambda, &mut s.next);
    }
    // 3. Selection by efficiency (final / initial similarity).
    for (o, &l) in s.order.iter_mut().zip(&s.lambda) {
        *o = (l / o.1, l);
    }
    let take = n_p.min(n);
    if take < n {
        s.order
            .select_nth_unstable_by(take - 1, |x, y| y.0.total_cmp(&x.0));
    }
    s.order[..take].iter().map(|o| o.1).sum::<f32>() / n_p as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finger::matcher::similarity::key;

    #[test]
    fn buckets_are_monotonic_in_the_similarity() {
        let mut last = 0;
        for k in 1..=10_000 {
            let g = k as f32 / 10_000.0;
            let b = bucket(key(g, 3, 4));
            assert!(b >= last && b < BUCKETS, "{g}: {b} after {last}");
            last = b;
        }
        assert_eq!(bucket(key(1.0, 0, 0)), BUCKETS - 1);
        assert_eq!(bucket(key(0.06, 0, 0)), 0);
        assert_eq!(bucket(key(0.0625, 0, 0)), 1);
        assert!(bucket(key(0.9999, 0, 0)) == BUCKETS - 2);
    }
}
