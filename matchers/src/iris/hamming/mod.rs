//! Masked Hamming distance with rotation search: the safe entry points and their dispatch.
//!
//! Two entry points share one set of kernels, one instruction set per file:
//! - [`compare`]: one prepared probe against one gallery row, every rotation, best one reported
//!   with its bit counts (for re-ranking and 1:1 verification);
//! - [`scan`]: the block kernel, many probes against many rows, the best normalised distance of
//!   each pair as f32 (for the first pass over a whole gallery).
//!
//! Each kernel only produces integer counts per rotation (`diff`, `compared`) and turns them into
//! distances with the shared functions of [`super::score`], so every level returns exactly what the
//! scalar reference returns. The level is checked against the CPU here, once per call (a cached
//! atomic read), and clamped down if the CPU lacks it, so no safe call can run an instruction the
//! CPU does not have.

mod portable;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

use super::interleaved::{block_bytes, get_row, BLOCK_ROWS};
use super::layout::IrisLayout;
use super::probe::PreparedProbe;
use super::score::IrisComparison;
use crate::error::{MatchError, Result};
use crate::simd::SimdLevel;

/// Bit counts of one probe rotation against one gallery row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Bits that differ where both masks are valid.
    pub diff: u32,
    /// Bits where both masks are valid.
    pub compared: u32,
}

/// Rotations whose counts a kernel call returns at most (one vector of 8 lanes).
const GROUP: usize = 8;

/// Best rotation (minimum [`normalise_hd`](super::normalise_hd)) of `probe` against one gallery
/// row (code bytes, then mask bytes, anything after ignored). Ties go to the smaller absolute
/// shift, then to the negative one. Every level returns the same result.
///
/// # Panics
/// If `row` is shorter than a code plus a mask of the probe's layout (`2 * code_bytes()`): rows
/// come from a gallery segment of that layout, so this is a caller bug, not a data condition.
pub fn compare(level: SimdLevel, probe: &PreparedProbe, row: &[u8]) -> IrisComparison {
    let cb = probe.layout().code_bytes();
    assert!(
        row.len() >= 2 * cb,
        "iris::compare: row of {} bytes, the layout needs {}",
        row.len(),
        2 * cb
    );
    let row = &row[..2 * cb];
    let level = level.clamp_to_cpu();
    let mut best: Option<IrisComparison> = None;
    let mut buf = [Counts::default(); GROUP];
    for first in (0..probe.rotations()).step_by(GROUP) {
        let out = &mut buf[..GROUP.min(probe.rotations() - first)];
        counts(level, probe, first, row, out);
        for (i, c) in out.iter().enumerate() {
            let cand = IrisComparison::from_counts(c.diff, c.compared, probe.shifts()[first + i]);
            let better = match &best {
                None => true,
                Some(b) => {
                    cand.hd_norm < b.hd_norm
                        || (cand.hd_norm == b.hd_norm
                            && cand.shift.unsigned_abs() < b.shift.unsigned_abs())
                }
            };
            if better {
                best = Some(cand);
            }
        }
    }
    // A prepared probe always has at least the zero shift.
    best.unwrap_or_else(|| IrisComparison::from_counts(0, 0, 0))
}

/// Counts of rotations `first..first + out.len()` (at most [`GROUP`]) of `probe` against `row`
/// (exactly `2 * code_bytes` long), on a level the CPU supports.
fn counts(level: SimdLevel, probe: &PreparedProbe, first: usize, row: &[u8], out: &mut [Counts]) {
    match level {
        SimdLevel::Scalar => scalar::counts(probe, first, row, out),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` was clamped to the CPU, so AVX-512 F/BW/VL/VPOPCNTDQ are present; the
        // row holds a code and a mask of the probe's layout and `out` at most 8 rotations that the
        // probe has (checked by the callers).
        SimdLevel::Avx512 => unsafe { x86_avx512::counts(probe, first, row, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2 present.
        SimdLevel::Avx2 => unsafe { x86_avx2::counts(probe, first, row, out) },
        _ => portable::counts(probe, first, row, out),
    }
}

/// The block kernel: `out[p * n + r]` = the best (over its rotations) [`scan_score`] of
/// `probes[p]` against gallery row `r`, where the `n = rows.len() / row_stride` rows start every
/// `row_stride` bytes of `rows` and hold a code then a mask (normally `row_stride ==
/// layout.row_bytes()`; any stride of at least `2 * code_bytes` is accepted, alignment is not
/// required). All probes must share one layout. Every level writes bit-identical values.
///
/// Work is done in tiles of gallery rows: each tile is compared with every probe and rotation
/// while it is in cache, so the gallery is read from memory once per call.
///
/// [`scan_score`]: super::scan_score
pub fn scan(
    level: SimdLevel,
    probes: &[PreparedProbe],
    rows: &[u8],
    row_stride: usize,
    out: &mut [f32],
) -> Result<()> {
    let Some(layout) = probe_layout(probes, out)? else {
        return Ok(());
    };
    let min_stride = 2 * layout.code_bytes();
    if row_stride < min_stride {
        return Err(MatchError::WrongLength {
            what: "iris row stride",
            expected: min_stride,
            actual: row_stride,
        });
    }
    let n = rows.len() / row_stride;
    if rows.len() != n * row_stride {
        return Err(MatchError::WrongLength {
            what: "iris gallery rows (a whole number of strides)",
            expected: (n + 1) * row_stride,
            actual: rows.len(),
        });
    }
    check_out(probes, n, out)?;
    if n == 0 {
        return Ok(());
    }
    match level.clamp_to_cpu() {
        SimdLevel::Scalar => scalar::scan(probes, rows, row_stride, n, out),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: clamped to the CPU, so AVX-512 F/BW/VL/VPOPCNTDQ are present; probes share the
        // layout, `rows` holds `n` rows of `row_stride >= 2 * code_bytes` and `out` is
        // `probes.len() * n` long (all checked above).
        SimdLevel::Avx512 => unsafe { x86_avx512::scan(probes, rows, row_stride, n, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2 present.
        SimdLevel::Avx2 => unsafe { x86_avx2::scan(probes, rows, row_stride, n, out) },
        _ => portable::scan(probes, rows, row_stride, n, out),
    }
    Ok(())
}

/// [`scan`] over the first `n` rows of gallery blocks in the interleaved format
/// ([`super::interleaved`]): `out[p * n + r]` is the best [`scan_score`](super::scan_score) of
/// `probes[p]` against row `r`, bit-identical to [`scan`] over the same rows on every level.
/// `blocks` holds exactly `n.div_ceil(BLOCK_ROWS)` blocks of the probes' layout (lanes past
/// row `n - 1` in the last block are ignored).
///
/// AVX-512 scans the blocks directly; the other levels copy a few blocks at a time back into rows
/// and run their [`scan`] kernel.
pub fn scan_interleaved(
    level: SimdLevel,
    probes: &[PreparedProbe],
    blocks: &[u8],
    n: usize,
    out: &mut [f32],
) -> Result<()> {
    let Some(layout) = probe_layout(probes, out)? else {
        return Ok(());
    };
    let expected = n.div_ceil(BLOCK_ROWS) * block_bytes(&layout);
    if blocks.len() != expected {
        return Err(MatchError::WrongLength {
            what: "interleaved iris blocks",
            expected,
            actual: blocks.len(),
        });
    }
    check_out(probes, n, out)?;
    if n == 0 {
        return Ok(());
    }
    match level.clamp_to_cpu() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: clamped to the CPU, so AVX-512 F/VL/VPOPCNTDQ are present; probes share the
        // layout, `blocks` holds `ceil(n / 8)` blocks of it and `out` is `probes.len() * n` long
        // (all checked above).
        SimdLevel::Avx512 => unsafe { x86_avx512::scan_interleaved(probes, blocks, n, out) },
        other => scan_interleaved_via_rows(other, probes, blocks, n, out),
    }
    Ok(())
}

/// Blocks copied back into rows per [`scan`] call of the fallback: 16 blocks of Daugman rows are
/// 64 KiB, in L2 while every probe passes over them.
const FALLBACK_BLOCKS: usize = 16;

/// [`scan_interleaved`] for levels without an interleaved kernel: a few blocks at a time are
/// turned back into rows and scanned by the level's row kernel.
fn scan_interleaved_via_rows(
    level: SimdLevel,
    probes: &[PreparedProbe],
    blocks: &[u8],
    n: usize,
    out: &mut [f32],
) {
    let layout = *probes[0].layout();
    let (rb, bb) = (layout.row_bytes(), block_bytes(&layout));
    let tile_rows = FALLBACK_BLOCKS * BLOCK_ROWS;
    let mut rows = vec![0u8; tile_rows * rb];
    let mut tile_out = vec![0f32; probes.len() * tile_rows];
    for first in (0..n).step_by(tile_rows) {
        let t = tile_rows.min(n - first);
        for r in 0..t {
            let block = &blocks[(first + r) / BLOCK_ROWS * bb..][..bb];
            get_row(block, r % BLOCK_ROWS, &mut rows[r * rb..(r + 1) * rb]);
        }
        let tile_out = &mut tile_out[..probes.len() * t];
        // The rows are whole strides and the output is sized for them: this cannot fail.
        scan(level, probes, &rows[..t * rb], rb, tile_out)
            .expect("a tile of whole rows with a matching output");
        for (p, o) in tile_out.chunks_exact(t).enumerate() {
            out[p * n + first..][..t].copy_from_slice(o);
        }
    }
}

/// The layout all `probes` share, or `None` (with `out` empty) when there is no probe.
fn probe_layout(probes: &[PreparedProbe], out: &[f32]) -> Result<Option<IrisLayout>> {
    let Some(first) = probes.first() else {
        return if out.is_empty() {
            Ok(None)
        } else {
            Err(MatchError::WrongLength {
                what: "iris scan output",
                expected: 0,
                actual: out.len(),
            })
        };
    };
    let layout = *first.layout();
    if let Some(other) = probes.iter().find(|p| *p.layout() != layout) {
        let l = other.layout();
        return Err(MatchError::InvalidIrisLayout {
            rows: l.rows(),
            cols: l.cols(),
            bits_per_cell: l.bits_per_cell(),
            reason: "every probe of a scan must share the first probe's layout",
        });
    }
    Ok(Some(layout))
}

/// Checks that `out` holds one score per (probe, row).
fn check_out(probes: &[PreparedProbe], n: usize, out: &[f32]) -> Result<()> {
    if out.len() != probes.len() * n {
        return Err(MatchError::WrongLength {
            what: "iris scan output",
            expected: probes.len() * n,
            actual: out.len(),
        });
    }
    Ok(())
}
