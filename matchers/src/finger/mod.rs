//! Fingerprint minutiae.
//!
//! A finger template is a list of minutiae (ridge endings and bifurcations, each with a position,
//! a direction, a type and a quality) per finger view. This module reads and writes the three
//! interchange formats national ID systems exchange ([`format`](mod@format)): ISO/IEC
//! 19794-2:2005 (the default the engine writes), ISO/IEC 19794-2:2011 and ANSI/INCITS 378-2004.
//! The minutiae matcher ([`matcher`](mod@matcher)) works on the format-neutral [`MinutiaeRecord`].

pub mod format;
pub mod index;
pub mod matcher;

pub use format::{
    ansi_angle_to_iso, detect, iso_angle_to_ansi, parse, parse_with, write, CaptureInfo,
    CertificationBlock, ExtendedBlock, ExtendedData, FingerView, FormatErrorKind, Minutia,
    MinutiaKind, MinutiaeRecord, ParseOptions, QualityBlock, RecordFormat,
};
pub use matcher::{compare, prepare_view, FingerMatcher, PreparedFinger};
