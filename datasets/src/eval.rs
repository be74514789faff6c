//! Accuracy summaries shared by every `abis eval` protocol, as pure functions over scores.
//!
//! The 1:1 side (DET curves, EER, FMR100, choosing a threshold on one split and applying it
//! to another) lives in [`crate::fvc::metrics`], where the FVC protocol defined it first;
//! [`openset`] adds the 1:N side: rank statistics (CMC) and open-set FNIR at a target FPIR
//! with the threshold chosen on a calibration split and reported on a test split.

pub mod openset;

pub use openset::{cmc, fnir_at, fpir_at, open_set, OpenSetRates, Search};
