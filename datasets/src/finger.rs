//! A synthetic fingerprint-minutiae generator, for scale and speed tests of the 1:N finger search.
//!
//! **Not an accuracy source.** The model reproduces the shape of minutiae templates (counts,
//! spacing, ridge-flow directions, partial overlap, distortion, extraction errors) well enough
//! that the matcher does realistic work per comparison and mates score like mates, but its
//! error rates say nothing about real fingerprints: accuracy is measured on real templates
//! (FVC, [`crate::fvc`]). The difficulty of mates was set so the project's matcher scores an
//! EER of the same order as on FVC2002 (1-5%), so search benchmarks see realistic genuine and
//! impostor score distributions. Measured with the MCC matcher (`tests/finger.rs`, 1,000 mated
//! and 50,000 non-mated pairs of the tuning seed): raw impostor scores mean 0.012, 99th
//! percentile 0.017 (the FVC2002-fitted calibration puts FMR 1% at 0.016); genuine mean 0.044;
//! EER 1.8%, 97.7% of mates above the impostor 99th percentile; impressions carry a median of
//! 30 minutiae (FVC2002 DB1-DB3 templates: 26-39) on a 300 x 400 canvas like FVC2002's.
//!
//! - A **master** finger (`master.rs`) is a pattern class with its natural frequency, a
//!   Sherlock-Monro orientation field (`orientation.rs`) and 30-60 minutiae spread by
//!   Poisson-disc sampling in a 300 x 400 px elliptical finger area at 500 ppi.
//! - An **impression** (`capture.rs`) is a distorted, rotated, translated, cropped view of the
//!   master with dropped and spurious minutiae and noise, as ISO 19794-2 [`Minutia`] values on a
//!   500 ppi canvas; [`FingerModel::record`] wraps one into a [`MinutiaeRecord`] ready for
//!   [`abis_matchers::finger::write`].
//!
//! Every output is a pure function of (seed, subject, finger, impression) through its own
//! random stream ([`crate::seed`]), so fingers are generated in parallel, in any order.

mod capture;
mod master;
mod orientation;

pub use capture::CaptureParams;
pub use master::{MasterFinger, MasterMinutia, MasterParams};
pub use orientation::{FingerClass, OrientationField};

use crate::seed::{self, Stream};
use abis_matchers::finger::{FingerView, Minutia, MinutiaeRecord, RecordFormat};

/// The stream of a finger's class, orientation field and master minutiae.
pub const FINGER_MASTER: Stream = Stream::named("abis.finger.master");
/// The stream of one impression of a finger.
pub const FINGER_CAPTURE: Stream = Stream::named("abis.finger.capture");

/// Resolution of every generated record: 500 ppi in pixels per centimetre, as ISO states it.
pub const RESOLUTION_PPCM: u16 = 197;

/// The synthetic finger model: parameters of masters and of impressions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FingerModel {
    /// Master finger parameters.
    pub master: MasterParams,
    /// Impression parameters.
    pub capture: CaptureParams,
}

impl FingerModel {
    /// Finger `finger` (0..=9 by convention: right thumb to right little, then left thumb to
    /// left little; any value gives a valid, distinct finger) of `subject` in population `seed`.
    pub fn master(&self, seed: u64, subject: u64, finger: u8) -> MasterFinger {
        let mut rng = seed::rng(seed, FINGER_MASTER, &[subject, u64::from(finger)]);
        let class = FingerClass::draw(&mut rng);
        let p = &self.master;
        let field = OrientationField::draw(&mut rng, class, p.half_width, p.half_height);
        let minutiae = master::draw_minutiae(&mut rng, p, &field);
        MasterFinger {
            seed,
            subject,
            finger,
            field,
            minutiae,
        }
    }

    /// Impression `impression` of a master finger: minutiae on a `capture.width` x
    /// `capture.height` canvas at 500 ppi, ISO conventions (y down, angles in 360/256-degree
    /// units counter-clockwise), sorted top to bottom.
    pub fn capture(&self, master: &MasterFinger, impression: u32) -> Vec<Minutia> {
        let mut rng = seed::rng(
            master.seed,
            FINGER_CAPTURE,
            &[
                master.subject,
                u64::from(master.finger),
                u64::from(impression),
            ],
        );
        let size = [self.master.half_width.abs(), self.master.half_height.abs()];
        capture::draw_capture(&mut rng, &self.capture, master, size)
    }

    /// Impression `impression` of a master finger as an ISO 19794-2:2005 record with one view.
    pub fn record(&self, master: &MasterFinger, impression: u32) -> MinutiaeRecord {
        self.wrap(master, self.capture(master, impression))
    }

    /// Wraps minutiae captured from `master` into a record with one finger view: the model's
    /// canvas at 500 ppi, finger position `finger + 1` (ISO codes 1..=10; 0 "unknown" beyond
    /// finger 9), live-scan plain impression, view quality the mean minutia quality.
    pub fn wrap(&self, master: &MasterFinger, minutiae: Vec<Minutia>) -> MinutiaeRecord {
        let quality = if minutiae.is_empty() {
            0
        } else {
            let sum: u32 = minutiae.iter().map(|m| u32::from(m.quality)).sum();
            (sum / minutiae.len() as u32) as u8
        };
        let position = if master.finger < 10 {
            master.finger + 1
        } else {
            0
        };
        MinutiaeRecord {
            format: RecordFormat::Iso19794_2_2005,
            width: self.capture.width,
            height: self.capture.height,
            x_resolution: RESOLUTION_PPCM,
            y_resolution: RESOLUTION_PPCM,
            capture_equipment: 0,
            product_id: 0,
            views: vec![FingerView {
                position,
                view_number: 0,
                impression_type: 0,
                quality,
                minutiae,
                extended: Vec::new(),
                capture: None,
            }],
        }
    }
}
