//! A registration's CBEFF document turned into the engine record abis enrols and searches:
//! every finger, iris and face image extracted (LEADER, the iris pipeline, dlib's models, behind
//! [`ImageExtractor`]) and checked against the gallery's quality gate one by one.
//!
//! A registration keeps what is usable: a finger fragment the gate refuses (the MOSIP test
//! vector's left middle finger is one) is left out and named, the rest enrolled. Which failure
//! MOSIP hears:
//! - 16, invalid CBEFF: not CBEFF XML (root not `BIR`, malformed, too deep or large), a sample
//!   whose subtype names no finger or eye, a finger or eye given twice, or a data block holding
//!   an ISO record of another modality or a template instead of an image;
//! - 11, CBEFF has no data: no sample holds data, or a data block is not an ISO image record;
//! - 18, quality check failed: images were read, but none gave a usable template.

use crate::cbeff::{self, Modality, Sample};
use crate::request::FailureReason;
use crate::MosipError;
use abis_engine::{EngineError, Eye, GalleryConfig, Record, ReferenceId};
use abis_proto::{v1, ImageBatchError, ImageExtractor};
use rayon::prelude::*;

/// Why a CBEFF document gave no record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct PersonError {
    /// The failure reason MOSIP hears.
    pub reason: FailureReason,
    /// What was wrong.
    pub detail: String,
}

fn fail(reason: FailureReason, detail: impl Into<String>) -> PersonError {
    PersonError {
        reason,
        detail: detail.into(),
    }
}

/// A sample left out of the record, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// `finger 8`, `iris left`, `face`.
    pub what: String,
    /// Why.
    pub reason: String,
}

/// A registration's record and the samples left out of it.
#[derive(Debug, Clone)]
pub struct Person {
    /// The record, checked against the gallery (normalised), ready to enrol or search with.
    pub record: Record,
    /// Samples refused by an extractor or the quality gate.
    pub left_out: Vec<LeftOut>,
}

/// One image to extract.
enum Item<'a> {
    Finger(u8, &'a [u8]),
    Iris(Eye, &'a [u8]),
    Face(&'a [u8]),
}

impl Item<'_> {
    fn name(&self) -> String {
        match self {
            Item::Finger(p, _) => format!("finger {p}"),
            Item::Iris(eye, _) => format!("iris {}", eye.name()),
            Item::Face(_) => "face".into(),
        }
    }

    /// A wire record holding this image only.
    fn wire(&self, reference_id: &str) -> v1::Record {
        let mut record = v1::Record {
            reference_id: reference_id.to_owned(),
            ..Default::default()
        };
        match *self {
            Item::Finger(position, image) => record.fingers.push(v1::Finger {
                position: position.into(),
                template: Some(v1::finger::Template::Image(image.to_vec())),
            }),
            Item::Iris(eye, image) => record.irises.push(v1::Iris {
                eye: abis_proto::eye_to_proto(eye).into(),
                image: image.to_vec(),
                ..Default::default()
            }),
            Item::Face(image) => {
                record.face = Some(v1::Face {
                    image: image.to_vec(),
                    ..Default::default()
                })
            }
        }
        record
    }
}

/// The record of the CBEFF document `xml` for `reference_id` in a gallery of `shape`.
pub fn from_cbeff(
    xml: &[u8],
    reference_id: &str,
    shape: &GalleryConfig,
    extractor: &dyn ImageExtractor,
) -> Result<Person, PersonError> {
    ReferenceId::new(reference_id)
        .map_err(|e| fail(FailureReason::InvalidStructure, e.to_string()))?;
    let samples = cbeff::samples(xml).map_err(|e| match e {
        MosipError::CbeffEmpty => fail(FailureReason::CbeffHasNoData, e.to_string()),
        MosipError::Base64(_) => fail(FailureReason::CbeffHasNoData, e.to_string()),
        other => fail(FailureReason::InvalidCbeff, other.to_string()),
    })?;
    from_samples(&samples, reference_id, shape, extractor)
}

/// The record of CBEFF `samples` (read from XML by [`cbeff::samples`], or built by another
/// front end, such as the Bio-SDK service's JSON) for `reference_id` in a gallery of `shape`,
/// with the same checks and failure reasons as [`from_cbeff`].
pub fn from_samples(
    samples: &[Sample],
    reference_id: &str,
    shape: &GalleryConfig,
    extractor: &dyn ImageExtractor,
) -> Result<Person, PersonError> {
    let id = ReferenceId::new(reference_id)
        .map_err(|e| fail(FailureReason::InvalidStructure, e.to_string()))?;
    let items = items(samples)?;
    if items.is_empty() {
        return Err(fail(
            FailureReason::CbeffHasNoData,
            "no finger, iris or face sample holds data",
        ));
    }
    let outcomes: Vec<Result<Record, Result<LeftOut, PersonError>>> = items
        .par_iter()
        .map(|item| one(item, reference_id, shape, extractor))
        .collect();
    let mut record = Record::new(id);
    let mut left_out = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(one) => {
                record.fingers.extend(one.fingers);
                record.irises.extend(one.irises);
                if one.face.is_some() {
                    record.face = one.face;
                }
            }
            Err(Ok(refused)) => left_out.push(refused),
            Err(Err(e)) => return Err(e),
        }
    }
    if record.fingers.is_empty() && record.irises.is_empty() && record.face.is_none() {
        let why: Vec<String> = left_out
            .iter()
            .map(|l| format!("{}: {}", l.what, l.reason))
            .collect();
        return Err(fail(
            FailureReason::QualityCheckFailed,
            format!("no sample is usable ({})", why.join("; ")),
        ));
    }
    record.validate_and_normalise(shape).map_err(|e| {
        fail(
            FailureReason::Internal,
            format!("the record as a whole: {e}"),
        )
    })?;
    Ok(Person { record, left_out })
}

/// The images of `samples`, each read far enough to know it is an image record of its
/// modality.
fn items(samples: &[Sample]) -> Result<Vec<Item<'_>>, PersonError> {
    let mut items: Vec<Item<'_>> = Vec::new();
    for sample in samples {
        if sample.exception || sample.data.is_empty() {
            continue;
        }
        let data = sample.data.as_slice();
        let item = match sample.modality {
            Modality::Finger => {
                let position = sample.finger_position().ok_or_else(|| {
                    fail(
                        FailureReason::InvalidCbeff,
                        format!("finger subtype {:?} names no finger", sample.subtype),
                    )
                })?;
                kind_check(data, Kind::Finger, &sample.subtype)?;
                Item::Finger(position, data)
            }
            Modality::Iris => {
                let eye = match sample.subtype.trim() {
                    s if s.eq_ignore_ascii_case("left") => Eye::Left,
                    s if s.eq_ignore_ascii_case("right") => Eye::Right,
                    other => {
                        return Err(fail(
                            FailureReason::InvalidCbeff,
                            format!("iris subtype {other:?} names no eye"),
                        ))
                    }
                };
                kind_check(data, Kind::Iris, &sample.subtype)?;
                Item::Iris(eye, data)
            }
            Modality::Face => {
                kind_check(data, Kind::Face, "face")?;
                Item::Face(data)
            }
            Modality::Other(_) => continue,
        };
        let name = item.name();
        if items.iter().any(|i| i.name() == name) {
            return Err(fail(
                FailureReason::InvalidCbeff,
                format!("{name} is given twice"),
            ));
        }
        items.push(item);
    }
    Ok(items)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Finger,
    Iris,
    Face,
}

/// Checks that `data` is an ISO image record of `kind` (read up to its headers): another
/// modality's record or a minutiae template is an unsupported format (16), anything else
/// unreadable data (11).
fn kind_check(data: &[u8], kind: Kind, subtype: &str) -> Result<(), PersonError> {
    use abis_imaging::{face_record, finger_record, iris_record};
    let found = if finger_record::is_finger_image_record(data) {
        Some(Kind::Finger)
    } else if iris_record::is_iris_image_record(data) {
        Some(Kind::Iris)
    } else if face_record::is_face_image_record(data) {
        Some(Kind::Face)
    } else {
        None
    };
    match found {
        Some(k) if k == kind => {}
        Some(k) => {
            return Err(fail(
                FailureReason::InvalidCbeff,
                format!("the {kind:?} sample {subtype:?} holds a {k:?} image record"),
            ))
        }
        None if data.starts_with(b"FMR\0") => {
            return Err(fail(
                FailureReason::InvalidCbeff,
                format!(
                    "the {kind:?} sample {subtype:?} holds a minutiae template; abis takes \
                     MOSIP's ISO image records"
                ),
            ))
        }
        None => {
            return Err(fail(
                FailureReason::CbeffHasNoData,
                format!("the {kind:?} sample {subtype:?} is not an ISO image record"),
            ))
        }
    }
    let parsed = match kind {
        Kind::Finger => finger_record::parse(data).map(drop),
        Kind::Iris => iris_record::parse(data).map(drop),
        Kind::Face => face_record::parse(data).map(drop),
    };
    parsed.map_err(|e| {
        fail(
            FailureReason::CbeffHasNoData,
            format!("the {kind:?} sample {subtype:?}: {e}"),
        )
    })
}

/// One image extracted and gated: its record, the reason it is left out, or a failure of the
/// whole request.
fn one(
    item: &Item<'_>,
    reference_id: &str,
    shape: &GalleryConfig,
    extractor: &dyn ImageExtractor,
) -> Result<Record, Result<LeftOut, PersonError>> {
    let left_out = |reason: String| {
        Err(Ok(LeftOut {
            what: item.name(),
            reason,
        }))
    };
    let mut wire = [item.wire(reference_id)];
    match abis_proto::extract_images(&mut wire, extractor) {
        Ok(_) => {}
        Err(ImageBatchError::Refused(refused)) => return left_out(refused.error.to_string()),
        Err(e @ (ImageBatchError::Unavailable { .. } | ImageBatchError::Failed { .. })) => {
            return Err(Err(fail(FailureReason::Internal, e.to_string())))
        }
    }
    let [wire] = wire;
    let mut record = match wire.into_engine(&shape.iris_layout) {
        Ok(record) => record,
        Err(e) => return left_out(e.to_string()),
    };
    match record.validate_and_normalise(shape) {
        Ok(()) => Ok(record),
        Err(EngineError::InvalidTemplate { reason, .. }) => left_out(reason),
        Err(e) => left_out(e.to_string()),
    }
}
