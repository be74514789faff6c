//! The FVC evaluation of the fingerprint matcher on real minutiae templates.
//!
//! A folder laid out like the FVC2002 "B" sets (one sub-folder per database, each holding
//! `<finger>_<impression>.iso` minutiae records) is loaded ([`load`]), paired by the FVC protocol
//! ([`protocol`]: all impression pairs of a finger as genuine, first impressions of different
//! fingers as impostors; plus, beyond the protocol, every impression against every impression of
//! every other finger), scored by the matcher ([`score`]) and summarised by the FVC error rates
//! ([`metrics`]: EER, FMR100, FMR1000, ZeroFMR). [`calibrate`] fits the matcher's score
//! calibration from held-out impostor scores. Databases whose folder name ends in
//! `-synthetic` are flagged so reports keep them out of the real-data pool.

pub mod bootstrap;
pub mod calibrate;
pub mod load;
pub mod metrics;
pub mod protocol;
pub mod score;
pub mod search;

pub use bootstrap::{eer_interval, pair_fingers, EerInterval, FingerScores, PairFingers};
pub use calibrate::{fit_calibration, CalibrationFit};
pub use load::{
    fvc2002_ppi, impression_files, load_database, load_folder, load_root, FvcDatabase, FvcError,
    FvcImpression,
};
pub use metrics::{
    det_curve, error_rates, fnmr_at_fmr, rates_at, threshold_for_fmr, DetPoint, ErrorRates,
};
pub use protocol::{all_impostor_pairs, fvc_pairs, Pairs};
pub use score::{score_database, thread_cpu_time, DatabaseScores};

/// A test record: one view (finger position 1, 300 x 400 pixels at 197 px/cm) of `minutiae`,
/// encoded in `format`.
#[cfg(test)]
pub(crate) fn test_record(
    format: abis_matchers::finger::format::RecordFormat,
    minutiae: Vec<abis_matchers::finger::format::Minutia>,
) -> Vec<u8> {
    use abis_matchers::finger::format::{write, FingerView, MinutiaeRecord};
    let record = MinutiaeRecord {
        format,
        width: 300,
        height: 400,
        x_resolution: 197,
        y_resolution: 197,
        views: vec![FingerView {
            position: 1,
            minutiae,
            ..Default::default()
        }],
        ..Default::default()
    };
    write(&record, format).expect("a valid test record")
}
