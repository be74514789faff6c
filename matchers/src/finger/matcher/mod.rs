//! The fingerprint 1:1 matcher: Minutia Cylinder-Code local structures, bit version, consolidated
//! by Local Similarity Sort with Relaxation.
//!
//! Design (after Cappelli, Ferrara and Maltoni, "Minutia Cylinder-Code: a new representation and
//! matching technique for fingerprint recognition", IEEE TPAMI 32(12), 2010; this is our own
//! implementation of the published method, with the changes noted in each file):
//! - [`PreparedFinger::new`] turns one view's minutiae into bit cylinders (one per minutia, 1,536
//!   bits: 16 x 16 cells x 6 direction sections, plus a 256-bit validity mask) and tables of
//!   the pairwise geometry of the minutiae. Done once per template (`template.rs`).
//! - A comparison computes the local similarity of every pair of cylinders with popcounts
//!   (`similarity/`, a kernel family dispatched on [`SimdLevel`]; AVX-512 VPOPCNTDQ holds a
//!   cylinder in three registers), then the global score with LSS-R (`consolidate.rs`): greedy
//!   one-to-one pairing of the best local matches, relaxation that keeps only pairs geometrically
//!   consistent with the others, and the mean of the best surviving pairs.
//! - The raw score lies in `[0, 1]`; [`calibrated_score`] maps it to `-log10(FMR)`, the scale of
//!   every modality's score in the engine (see `calibration.rs` for the fit and the table of raw
//!   scores at FMR 1%, 0.1% and 0.01%).
//!
//! Accuracy (`abis eval fvc`, FVC2002 ISO templates from a commercial extractor, FVC protocol):
//! EER 1.07% DB1, 2.18% DB2, 4.90% DB3, 2.91% pooled DB1-DB3 (NBIS bozorth3: ~13% on the same
//! templates). The published parameters are used except two, chosen on DB1 and the synthetic DB4
//! ([`params::DELTA_THETA`], [`params::MIN_GAMMA`]); the calibration is fitted on DB4 only.
//!
//! Rotation and translation need no search: cylinders are built in each minutia's own frame, and
//! relaxation compares only distances and relative angles. Minutia types and qualities are not
//! used. Coordinates are brought to 500 ppi from the record's resolution.

mod calibration;
mod consolidate;
mod hull;
pub mod params;
mod similarity;
mod template;

pub use calibration::{
    calibrated_score, calibrated_score_with, check_points, raw_score_for_fmr, CALIBRATION_POINTS,
    MAX_CALIBRATED_SCORE,
};
pub use template::{PreparedFinger, MAX_MINUTIAE};

use crate::finger::format::{FingerView, MinutiaeRecord};
use crate::simd::SimdLevel;
use consolidate::Scratch;

/// Prepares one view of a record (coordinates scaled from the record's resolution).
pub fn prepare_view(record: &MinutiaeRecord, view: &FingerView) -> PreparedFinger {
    PreparedFinger::new(&view.minutiae, record.x_resolution, record.y_resolution)
}

/// A 1:1 comparator with reusable buffers: one per thread, many comparisons.
#[derive(Debug, Clone)]
pub struct FingerMatcher {
    level: SimdLevel,
    min_common: u32,
    keys: Vec<u64>,
    scratch: Scratch,
}

impl FingerMatcher {
    /// A comparator whose local similarities run on `level` (clamped to the CPU).
    pub fn new(level: SimdLevel) -> Self {
        let disc = template::disc_cell_count() as f32;
        Self {
            level: level.clamp_to_cpu(),
            min_common: (params::MIN_ME * disc).ceil() as u32,
            keys: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// The level the local similarities run on.
    pub fn level(&self) -> SimdLevel {
        self.level
    }

    /// Raw similarity of two prepared fingers, in `[0, 1]`; 0 when either has no usable cylinder.
    /// Nearly symmetric: swapping the arguments changes only how exact ties are broken.
    pub fn compare(&mut self, a: &PreparedFinger, b: &PreparedFinger) -> f32 {
        similarity::pairs(self.level, a, b, self.min_common, &mut self.keys);
        consolidate::lss_r(a, b, &self.keys, &mut self.scratch)
    }
}

/// Raw similarity of two prepared fingers (allocates its buffers; prefer a [`FingerMatcher`] for
/// many comparisons).
pub fn compare(level: SimdLevel, a: &PreparedFinger, b: &PreparedFinger) -> f32 {
    FingerMatcher::new(level).compare(a, b)
}

/// The local similarity matrix (`a.cylinders()` rows of `b.cylinders()`; similarities below
/// [`params::MIN_GAMMA`] read 0), for parity tests of the kernel levels and for diagnostics.
pub fn local_similarities(level: SimdLevel, a: &PreparedFinger, b: &PreparedFinger) -> Vec<f32> {
    let mut m = FingerMatcher::new(level);
    similarity::pairs(level, a, b, m.min_common, &mut m.keys);
    let mut out = vec![0.0; a.cylinders() * b.cylinders()];
    for &k in &m.keys {
        let (g, i, j) = similarity::unkey(k);
        out[i * b.cylinders() + j] = g;
    }
    out
}
