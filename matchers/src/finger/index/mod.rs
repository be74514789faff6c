//! The fingerprint 1:N first stage: a fixed-length binary descriptor per finger, scanned with
//! popcount over every finger of a gallery to keep a shortlist for the full matcher.
//!
//! A [`FingerCode`] holds up to [`MAX_CODES`] cylinder codes, one per MCC cylinder of the finger
//! (`codes.rs`: a 256-bit SimHash of the centred cylinder, so mated cylinders have codes about a
//! quarter of their bits apart and unrelated ones about 45%), each with its minutia's direction.
//! The first stage scores a probe finger against a gallery finger by its *affinity*
//! ([`affinity`]): for each gallery code, the distance `d` to the nearest probe code whose
//! direction differs by at most [`ANGLE_WINDOW`]; the code adds `RADIUS - d` when `d` is below
//! [`RADIUS`] and nothing otherwise. The sum is normalised by the geometric mean of the two code
//! counts ([`first_stage_score`]). A soft sum ranks hard mates (few, marginal code matches) far
//! better than a count of codes within a hard radius, on generated mates and on FVC2002 DB4. Cylinders are built in each minutia's own frame, so the codes need no
//! alignment of the two fingers; the direction window only assumes, as the full matcher does,
//! that captures are not rotated by more than a few tens of degrees.
//!
//! This is a linear-scan cousin of indexing by local structures (Cappelli, Ferrara and Maltoni,
//! "Fingerprint indexing based on Minutia Cylinder-Code", IEEE TPAMI 33(5), 2011, which hashes
//! cylinders by bit sampling into tables): here each cylinder gets one similarity-preserving code,
//! stored per finger in the engine's append-only columns and compared all-pairs with popcounts.
//! The code length, count, radius and window were chosen on the synthetic DB4 of FVC2002 (with
//! DB1-DB3 and generated fingers as fillers) and on generated mates; the retention reported on
//! DB1-DB3 was not used to choose them.
//!
//! Row layout ([`ROW_WORDS`] = 104 words, 832 bytes, 64-byte aligned blocks):
//! - words 0..8: word 0 = count (low byte) and `1/sqrt(count)` as f32 bits (high 32 bits);
//!   words 1..4 = the codes' directions, one byte each (byte `j` of the 24 = code `j`);
//!   words 4..8 = 0;
//! - words 8..104: the codes word-sliced in [`BLOCKS`] blocks of 8: word `w` of code `8b + l` is
//!   at `8 + (4b + w) * 8 + l`, so one 512-bit load holds the same word of 8 codes. Unused codes
//!   are zero.
//!
//! When a finger has more than [`MAX_CODES`] cylinders, those with the most valid cells (the
//! ones well inside the print) are kept.
//!
//! Kernel family ([`affinity`] is the only entry point): `scalar.rs` (reference, also the portable
//! level), `x86_popcnt.rs` (AVX2 level: the same loops with the `popcnt` instruction) and
//! `x86_avx512.rs` (`vpopcntq` over a row held in twelve registers).

pub mod codes;
mod scalar;
mod set;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;
#[cfg(target_arch = "x86_64")]
mod x86_popcnt;

pub use codes::{CODE_BITS, CODE_WORDS};
pub use set::{set_scores, FingerSet, POSITIONS, SET_WORDS};

use crate::error::{MatchError, Result};
use crate::finger::matcher::PreparedFinger;
use crate::simd::SimdLevel;

/// Most cylinder codes a finger keeps.
pub const MAX_CODES: usize = 24;
/// Blocks of 8 codes.
pub const BLOCKS: usize = MAX_CODES / 8;
/// Words before the codes (header, directions, padding to 64 bytes).
const HEAD_WORDS: usize = 8;
/// Words of a [`FingerCode`] row.
pub const ROW_WORDS: usize = HEAD_WORDS + MAX_CODES * CODE_WORDS;
/// Bytes of a [`FingerCode`] row.
pub const ROW_BYTES: usize = ROW_WORDS * 8;
/// A gallery code adds `RADIUS - d` to the affinity when its nearest compatible probe code is
/// `d < RADIUS` bits away (of [`CODE_BITS`]; unrelated cylinders are ~45% apart, mated ~25%)...
pub const RADIUS: u32 = 112;
/// ...where compatible means their minutiae's directions differ by at most this many
/// 360/256-degree units (34 degrees).
pub const ANGLE_WINDOW: u8 = 24;

const _: () = assert!(MAX_CODES == 3 * 8 && CODE_WORDS == 4);

/// One cylinder code with its minutia's direction.
pub type CylinderCode = (u8, [u64; CODE_WORDS]);

/// Whether two directions are within [`ANGLE_WINDOW`].
#[inline(always)]
pub(crate) fn compatible(a: u8, b: u8) -> bool {
    a.wrapping_sub(b).wrapping_add(ANGLE_WINDOW) <= 2 * ANGLE_WINDOW
}

/// The first-stage descriptor of one finger, as stored (see the module docs for the layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerCode {
    words: Box<[u64; ROW_WORDS]>,
}

impl Default for FingerCode {
    fn default() -> Self {
        Self::from_codes(&[])
    }
}

/// Read access to a stored row ([`ROW_WORDS`] words) without copying it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowView<'a> {
    row: &'a [u64],
}

impl<'a> RowView<'a> {
    #[inline(always)]
    pub(crate) fn new(row: &'a [u64]) -> Self {
        Self { row }
    }

    /// Codes stated by the header, clamped to what a row can hold.
    #[inline(always)]
    pub(crate) fn count(self) -> usize {
        ((self.row[0] & 0xFF) as usize).min(MAX_CODES)
    }

    /// Direction of code `j`.
    #[inline(always)]
    pub(crate) fn angle(self, j: usize) -> u8 {
        (self.row[1 + j / 8] >> (8 * (j % 8))) as u8
    }

    /// Word `w` of code `j`.
    #[inline(always)]
    pub(crate) fn word(self, j: usize, w: usize) -> u64 {
        self.row[HEAD_WORDS + ((j / 8) * CODE_WORDS + w) * 8 + j % 8]
    }

    pub(crate) fn code(self, j: usize) -> CylinderCode {
        (self.angle(j), std::array::from_fn(|w| self.word(j, w)))
    }
}

impl FingerCode {
    /// The descriptor of a prepared finger.
    pub fn new(finger: &PreparedFinger) -> Self {
        let mut order: Vec<usize> = (0..finger.cylinders()).collect();
        // Most valid cells first; stable, so ties keep the template's order.
        order.sort_by_key(|&c| std::cmp::Reverse(codes::valid_cells(finger, c)));
        order.truncate(MAX_CODES);
        order.sort_unstable();
        let codes: Vec<CylinderCode> = order
            .iter()
            .map(|&c| {
                (
                    codes::cylinder_angle(finger, c),
                    codes::cylinder_code(finger, c),
                )
            })
            .collect();
        Self::from_codes(&codes)
    }

    /// A descriptor holding the given codes (at most [`MAX_CODES`]; extra ones are dropped).
    pub fn from_codes(codes: &[CylinderCode]) -> Self {
        let n = codes.len().min(MAX_CODES);
        let mut words = Box::new([0u64; ROW_WORDS]);
        let inv = if n == 0 { 0.0 } else { 1.0 / (n as f32).sqrt() };
        words[0] = (u64::from(inv.to_bits()) << 32) | n as u64;
        for (j, (angle, code)) in codes[..n].iter().enumerate() {
            words[1 + j / 8] |= u64::from(*angle) << (8 * (j % 8));
            for (w, &v) in code.iter().enumerate() {
                words[HEAD_WORDS + ((j / 8) * CODE_WORDS + w) * 8 + j % 8] = v;
            }
        }
        Self { words }
    }

    /// Reads a stored row, checking that it is exactly what [`FingerCode::from_codes`] writes.
    pub fn from_row(row: &[u64]) -> Result<Self> {
        if row.len() != ROW_WORDS {
            return Err(MatchError::WrongLength {
                what: "finger code row (words)",
                expected: ROW_WORDS,
                actual: row.len(),
            });
        }
        let n = (row[0] & 0xFF) as usize;
        if n > MAX_CODES {
            return Err(MatchError::Corrupt {
                what: "finger code",
                reason: "header states more codes than a row holds",
            });
        }
        let view = RowView::new(row);
        let codes: Vec<CylinderCode> = (0..n).map(|j| view.code(j)).collect();
        let code = Self::from_codes(&codes);
        if code.words[..] != row[..] {
            return Err(MatchError::Corrupt {
                what: "finger code",
                reason: "header or padding disagrees with the codes",
            });
        }
        Ok(code)
    }

    /// The row as stored: [`ROW_WORDS`] words.
    pub fn words(&self) -> &[u64; ROW_WORDS] {
        &self.words
    }

    /// The cylinder codes with their directions.
    pub fn codes(&self) -> Vec<CylinderCode> {
        let view = RowView::new(&self.words[..]);
        (0..view.count()).map(|j| view.code(j)).collect()
    }

    /// Number of codes (0 for a finger with no usable cylinder).
    pub fn len(&self) -> usize {
        RowView::new(&self.words[..]).count()
    }

    /// Whether the finger has no code (it can never be shortlisted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `1 / sqrt(len)`, 0 when empty.
    pub fn inv_sqrt_len(&self) -> f32 {
        inv_sqrt_len(&self.words[..])
    }
}

/// `1 / sqrt(codes)` of a stored row (from its header).
#[inline]
pub fn inv_sqrt_len(row: &[u64]) -> f32 {
    f32::from_bits((row[0] >> 32) as u32)
}

/// The first-stage score of a probe against a gallery row: `affinity / sqrt(n_probe * n_row)`,
/// in `[0, RADIUS]`.
#[inline]
pub fn first_stage_score(probe: &FingerCode, row: &[u64], affinity: u16) -> f32 {
    f32::from(affinity) * probe.inv_sqrt_len() * inv_sqrt_len(row)
}

/// For `out.len()` gallery rows, row `k` being `rows[k * stride..k * stride + ROW_WORDS]`, the
/// row's affinity to `probe`: the sum over the row's codes of `RADIUS - d` for those whose
/// nearest direction-compatible probe code is `d < RADIUS` bits away. A stride above
/// [`ROW_WORDS`] scans one finger position of multi-finger rows (see [`FingerSet`]).
pub fn affinity(
    level: SimdLevel,
    probe: &FingerCode,
    rows: &[u64],
    stride: usize,
    out: &mut [u16],
) -> Result<()> {
    if stride < ROW_WORDS {
        return Err(MatchError::WrongLength {
            what: "finger code row stride (words)",
            expected: ROW_WORDS,
            actual: stride,
        });
    }
    let needed = match out.len() {
        0 => 0,
        n => (n - 1) * stride + ROW_WORDS,
    };
    if rows.len() < needed {
        return Err(MatchError::WrongLength {
            what: "finger code rows (words)",
            expected: needed,
            actual: rows.len(),
        });
    }
    let p = probe.codes();
    let rows = &rows[..needed];
    match level.clamp_to_cpu() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level is clamped to the CPU, so AVX-512 F/BW and VPOPCNTDQ are present;
        // every row `k < out.len()` lies inside `rows` (checked above) and every header's count
        // is clamped by `RowView`.
        SimdLevel::Avx512 => unsafe { x86_avx512::affinity(&p, rows, stride, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the AVX2 level implies POPCNT (checked by `SimdLevel::is_supported`).
        SimdLevel::Avx2 => unsafe { x86_popcnt::affinity(&p, rows, stride, out) },
        _ => scalar::affinity(&p, rows, stride, out),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
