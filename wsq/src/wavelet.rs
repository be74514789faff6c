//! The inverse wavelet transform: the synthesis filters derived from the transmitted analysis
//! filters, the symmetric extension of subbands at their ends, and the 2-D reconstruction of
//! each split region (columns, then rows).
//!
//! The analysis the encoder ran (specification, Part 1, Annex on the transform), for a line
//! `x(0..n)` extended symmetrically past its ends:
//! - odd-length filters (whole-sample symmetric, centred on 0; FBI's 9/7 pair):
//!   `a(k) = sum_m h0(m) x(2k - m)` and `d(k) = sum_m h1(m) x(2k + 1 - m)`, with `x` extended
//!   by whole-sample symmetry (`x(-i) = x(i)`);
//! - even-length filters (half-sample symmetric lowpass, antisymmetric highpass, centred on
//!   -1/2): `a(k) = sum_m h0(m) x(2k - m)`, `d(k) = sum_m h1(m) x(2k - m)`, with `x` extended
//!   by half-sample symmetry (`x(-1-i) = x(i)`);
//!
//! giving `ceil(n/2)` lowpass and `floor(n/2)` highpass samples. The synthesis is
//! `x(i) = sum_k g0(i - 2k) a(k) + sum_k g1(i - 2k - p) d(k)` with `g0(t) = (-1)^t h1(-t)`,
//! `g1(t) = (-1)^t h0(-t)` and the highpass phase `p` (1 for odd filters, 0 for even), where
//! `a` and `d` are extended past their ends by the symmetries the analysis gave them
//! ([`edges`]). Each output sample is thus a fixed weighted sum of subband samples; a
//! [`Plan`] lists those weights once per line length, and the 2-D pass applies it to whole
//! rows at a time (vectorisable) for the columns and per row for the rows.

use crate::subbands::Split;
use crate::tables::TransformTable;

/// The synthesis filters: `(tap position t, weight)` of `g0` and `g1`, and the highpass
/// phase.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Synthesis {
    low: Vec<(i64, f32)>,
    high: Vec<(i64, f32)>,
    even: bool,
}

impl Synthesis {
    pub(crate) fn new(table: &TransformTable) -> Self {
        let even = table.low_len.is_multiple_of(2);
        let h0 = analysis_taps(&table.low_half, table.low_len, false);
        let h1 = analysis_taps(&table.high_half, table.high_len, true);
        let modulate = |taps: &[(i64, f64)]| -> Vec<(i64, f32)> {
            let mut g: Vec<(i64, f32)> = taps
                .iter()
                .map(|&(m, c)| {
                    let t = -m;
                    let sign = if t.rem_euclid(2) == 0 { 1.0 } else { -1.0 };
                    (t, (sign * c) as f32)
                })
                .collect();
            g.sort_by_key(|&(t, _)| t);
            g
        };
        Self {
            low: modulate(&h1),
            high: modulate(&h0),
            even,
        }
    }

    fn high_phase(&self) -> i64 {
        if self.even {
            0
        } else {
            1
        }
    }
}

/// The full analysis filter from its transmitted half: odd length `2r + 1` gives taps
/// `-r..=r` with `h(-i) = h(i)`; even length `2r` gives taps `-r..r` with
/// `h(-1-i) = h(i)`, negated for the (antisymmetric) highpass.
fn analysis_taps(half: &[f64], len: usize, highpass: bool) -> Vec<(i64, f64)> {
    let mut taps = Vec::with_capacity(len);
    for (i, &c) in half.iter().enumerate() {
        let i = i as i64;
        if len % 2 == 1 {
            taps.push((i, c));
            if i != 0 {
                taps.push((-i, c));
            }
        } else {
            taps.push((i, c));
            taps.push((-1 - i, if highpass { -c } else { c }));
        }
    }
    taps
}

/// How a subband continues past one of its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// Mirror about the end sample: `s(-i) = s(i)`.
    Whole,
    /// Mirror about the half-sample beyond the end: `s(-1-i) = s(i)`.
    Half,
    /// As `Half`, negated: `s(-1-i) = -s(i)`.
    HalfAnti,
    /// Antisymmetric about a zero sample just past the end: `s(n) = 0`, `s(n+i) = -s(n-i)`
    /// (right end only).
    WholeAntiZero,
}

/// The extensions of the lowpass and highpass parts of a line of length `n`: `(left, right)`
/// for each, from the symmetry of the extended signal and of the filters.
fn edges(n: usize, even_filters: bool) -> [(Edge, Edge); 2] {
    let n_odd = n % 2 == 1;
    if even_filters {
        [
            (Edge::Half, if n_odd { Edge::Whole } else { Edge::Half }),
            (
                Edge::HalfAnti,
                if n_odd {
                    Edge::WholeAntiZero
                } else {
                    Edge::HalfAnti
                },
            ),
        ]
    } else {
        [
            (Edge::Whole, if n_odd { Edge::Whole } else { Edge::Half }),
            (Edge::Half, if n_odd { Edge::Half } else { Edge::Whole }),
        ]
    }
}

/// The sample of a subband of length `len` that index `k` (any integer) stands for, with its
/// sign, or `None` where the extension is zero.
fn resolve(mut k: i64, len: usize, (left, right): (Edge, Edge)) -> Option<(usize, f32)> {
    let n = len as i64;
    if n == 0 {
        return None;
    }
    if n == 1 && (left == Edge::Whole || right == Edge::Whole) {
        // Mirroring about the only sample repeats it.
        return Some((0, 1.0));
    }
    let mut sign = 1.0;
    // Each reflection moves `k` at least one period's fraction towards the range; the bound
    // only guards against a mistake here turning into a hang.
    for _ in 0..64 {
        if k < 0 {
            match left {
                Edge::Whole => k = -k,
                Edge::Half => k = -1 - k,
                Edge::HalfAnti => {
                    k = -1 - k;
                    sign = -sign;
                }
                Edge::WholeAntiZero => return None,
            }
        } else if k >= n {
            match right {
                Edge::Whole => k = 2 * (n - 1) - k,
                Edge::Half => k = 2 * n - 1 - k,
                Edge::HalfAnti => {
                    k = 2 * n - 1 - k;
                    sign = -sign;
                }
                Edge::WholeAntiZero => {
                    if k == n {
                        return None;
                    }
                    k = 2 * n - k;
                    sign = -sign;
                }
            }
        } else {
            return Some((k as usize, sign));
        }
    }
    None
}

/// The synthesis of one line of length `n` as weights: output `i` is the sum of
/// `weight * input[index]` over `terms[starts[i]..starts[i + 1]]`, where the input is the
/// line as stored (lowpass part then highpass part, or the reverse when inverted).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    starts: Vec<usize>,
    terms: Vec<(usize, f32)>,
}

impl Plan {
    pub(crate) fn new(n: usize, inverted: bool, synthesis: &Synthesis) -> Self {
        let low_len = n.div_ceil(2);
        let high_len = n / 2;
        let (low_at, high_at) = if inverted {
            (high_len, 0)
        } else {
            (0, low_len)
        };
        let [low_edges, high_edges] = edges(n, synthesis.even);
        let phase = synthesis.high_phase();
        let mut plan = Self {
            starts: Vec::with_capacity(n + 1),
            terms: Vec::with_capacity(n * (synthesis.low.len() + synthesis.high.len()) / 2),
        };
        for i in 0..n as i64 {
            plan.starts.push(plan.terms.len());
            let parts = [
                (&synthesis.low, 0, low_len, low_edges, low_at),
                (&synthesis.high, phase, high_len, high_edges, high_at),
            ];
            for (taps, shift, len, ends, at) in parts {
                for &(t, weight) in taps {
                    let j = i - t - shift;
                    if j.rem_euclid(2) != 0 {
                        continue;
                    }
                    if let Some((k, sign)) = resolve(j.div_euclid(2), len, ends) {
                        plan.terms.push((at + k, sign * weight));
                    }
                }
            }
        }
        plan.starts.push(plan.terms.len());
        plan
    }

    fn terms(&self, i: usize) -> &[(usize, f32)] {
        &self.terms[self.starts[i]..self.starts[i + 1]]
    }
}

/// Undoes one 2-D split in place: `image` has `stride` pixels a row and holds the split's
/// four parts in its region; `scratch` is reused between calls.
pub(crate) fn join(
    image: &mut [f32],
    stride: usize,
    split: &Split,
    synthesis: &Synthesis,
    scratch: &mut Vec<f32>,
) {
    let r = split.rect;
    if r.width == 0 || r.height == 0 {
        return;
    }
    let (w, h) = (r.width, r.height);
    let row = |y: usize| (r.y + y) * stride + r.x;
    // Columns: each output row is a weighted sum of whole input rows.
    let columns = Plan::new(h, split.invert_y, synthesis);
    scratch.clear();
    scratch.resize(w * h, 0.0);
    for (i, out) in scratch.chunks_exact_mut(w).enumerate() {
        for &(j, weight) in columns.terms(i) {
            let input = &image[row(j)..row(j) + w];
            for (o, &v) in out.iter_mut().zip(input) {
                *o += weight * v;
            }
        }
    }
    // Rows: back into the image.
    let rows = Plan::new(w, split.invert_x, synthesis);
    for (y, input) in scratch.chunks_exact(w).enumerate() {
        let out = &mut image[row(y)..row(y) + w];
        for (x, o) in out.iter_mut().enumerate() {
            *o = rows
                .terms(x)
                .iter()
                .map(|&(j, weight)| weight * input[j])
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The FBI's 9/7 analysis pair as an encoder transmits it (specification, Part 3).
    fn fbi_97() -> TransformTable {
        TransformTable {
            low_len: 9,
            high_len: 7,
            low_half: vec![
                0.852_698_679_009,
                0.377_402_855_613,
                -0.110_624_404_418,
                -0.023_849_465_020,
                0.037_828_455_507,
            ],
            high_half: vec![
                0.788_485_616_406,
                -0.418_092_273_222,
                -0.040_689_417_609,
                0.064_538_882_629,
            ],
        }
    }

    /// A biorthogonal pair of even length (6-tap lowpass, 2-tap Haar highpass).
    fn even_62() -> TransformTable {
        let s = std::f64::consts::SQRT_2;
        TransformTable {
            low_len: 6,
            high_len: 2,
            low_half: vec![s / 2.0, s / 16.0, -s / 16.0],
            high_half: vec![s / 2.0],
        }
    }

    /// The analysis the module documentation states, written out directly.
    fn analyse(x: &[f64], table: &TransformTable, inverted: bool) -> Vec<f64> {
        let n = x.len() as i64;
        let even = table.low_len.is_multiple_of(2);
        let extend = |mut i: i64| -> f64 {
            if n == 1 {
                return x[0];
            }
            loop {
                if i < 0 {
                    i = if even { -1 - i } else { -i };
                } else if i >= n {
                    i = if even { 2 * n - 1 - i } else { 2 * (n - 1) - i };
                } else {
                    return x[i as usize];
                }
            }
        };
        let h0 = analysis_taps(&table.low_half, table.low_len, false);
        let h1 = analysis_taps(&table.high_half, table.high_len, true);
        let phase = if even { 0 } else { 1 };
        let filter = |taps: &[(i64, f64)], at: i64| -> f64 {
            taps.iter().map(|&(m, c)| c * extend(at - m)).sum()
        };
        let low: Vec<f64> = (0..(n + 1) / 2).map(|k| filter(&h0, 2 * k)).collect();
        let high: Vec<f64> = (0..n / 2).map(|k| filter(&h1, 2 * k + phase)).collect();
        if inverted {
            [high, low].concat()
        } else {
            [low, high].concat()
        }
    }

    fn synthesise(y: &[f64], table: &TransformTable, inverted: bool) -> Vec<f64> {
        let plan = Plan::new(y.len(), inverted, &Synthesis::new(table));
        (0..y.len())
            .map(|i| {
                plan.terms(i)
                    .iter()
                    .map(|&(j, w)| f64::from(w) * y[j])
                    .sum()
            })
            .collect()
    }

    #[test]
    fn synthesis_inverts_analysis_for_odd_and_even_filters() {
        let mut seed = 7u64;
        for table in [fbi_97(), even_62()] {
            for n in 1..40 {
                for inverted in [false, true] {
                    let x: Vec<f64> = (0..n)
                        .map(|_| {
                            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                            (seed >> 40) as f64 / 1000.0
                        })
                        .collect();
                    let back = synthesise(&analyse(&x, &table, inverted), &table, inverted);
                    let err = x
                        .iter()
                        .zip(&back)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                    assert!(
                        err < 1e-3,
                        "{}/{} taps, n = {n}, inverted {inverted}: error {err}",
                        table.low_len,
                        table.high_len
                    );
                }
            }
        }
    }

    #[test]
    fn edge_resolution_follows_the_symmetries() {
        let whole = (Edge::Whole, Edge::Whole);
        assert_eq!(resolve(-2, 4, whole), Some((2, 1.0)));
        assert_eq!(resolve(5, 4, whole), Some((1, 1.0)));
        assert_eq!(
            resolve(-1, 3, (Edge::HalfAnti, Edge::Half)),
            Some((0, -1.0))
        );
        let anti = (Edge::HalfAnti, Edge::WholeAntiZero);
        assert_eq!(resolve(3, 3, anti), None);
        assert_eq!(resolve(4, 3, anti), Some((2, -1.0)));
        assert_eq!(resolve(7, 1, whole), Some((0, 1.0)));
        assert_eq!(resolve(0, 0, whole), None);
    }
}
