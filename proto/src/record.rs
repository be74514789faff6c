//! Records between the wire and the engine.
//!
//! `TryFrom<v1::Record> for abis_engine::Record` checks what the message alone can tell: the
//! reference id, finger positions and minutiae, eye enums, and every iris's code and mask
//! against the layout it declares. [`v1::Record::into_engine`] also checks each declared iris
//! layout against the gallery's, which a server should always do: two layouts of one byte size
//! would otherwise be compared as one. What depends on the gallery's configuration otherwise
//! (face dimension, duplicate positions, counts) is left to the engine's own validation, so each
//! rule lives in one place.
//!
//! The reverse direction writes fingers as native minutiae at 500 ppi and needs the gallery's
//! iris layout, which the engine's templates do not carry.

use crate::error::{ImageOf, ProtoError, Result};
use crate::finger::{finger_from_proto, finger_to_proto};
use crate::v1;
use abis_engine::{Eye, FaceTemplate, GalleryConfig, IrisTemplate, Record, ReferenceId};
use abis_matchers::iris::IrisLayout;

impl TryFrom<v1::Record> for Record {
    type Error = ProtoError;

    fn try_from(record: v1::Record) -> Result<Self> {
        convert(record, None)
    }
}

impl v1::Record {
    /// Converts into an engine record whose every iris is in `gallery_layout`; see the module
    /// docs.
    pub fn into_engine(self, gallery_layout: &IrisLayout) -> Result<Record> {
        convert(self, Some(gallery_layout))
    }
}

/// Most items in one batch request (records, probes, applicants, reference ids).
pub const MAX_BATCH_ITEMS: usize = 1_000;

/// Why a batch of records cannot be converted: the error, and the index of the record at fault
/// (`None` when the batch as a whole is refused: empty or over [`MAX_BATCH_ITEMS`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{error}", .index.map(|i| format!("item {i}: ")).unwrap_or_default())]
pub struct BatchError {
    /// The offending record's index in the request.
    pub index: Option<usize>,
    /// What is wrong.
    pub error: ProtoError,
}

/// Converts a batch (insert records, identify probes, de-dup applicants) for a gallery whose
/// irises are in `gallery_layout`, refusing the whole batch at the first bad record. `field`
/// names the batch in errors (`records`, `probes`, `applicants`).
pub fn batch_into_engine(
    records: Vec<v1::Record>,
    gallery_layout: &IrisLayout,
    field: &str,
) -> Result<Vec<Record>, BatchError> {
    if records.is_empty() || records.len() > MAX_BATCH_ITEMS {
        return Err(BatchError {
            index: None,
            error: ProtoError::OutOfRange {
                field: field.to_owned(),
                reason: format!("{} items, 1 to {MAX_BATCH_ITEMS} accepted", records.len()),
            },
        });
    }
    records
        .into_iter()
        .enumerate()
        .map(|(index, r)| {
            r.into_engine(gallery_layout).map_err(|error| BatchError {
                index: Some(index),
                error,
            })
        })
        .collect()
}

/// The engine's record on the wire, irises declared in `layout` (the gallery's).
pub fn record_to_proto(record: &Record, layout: &IrisLayout) -> v1::Record {
    v1::Record {
        reference_id: record.reference_id.as_str().to_owned(),
        fingers: record.fingers.iter().map(finger_to_proto).collect(),
        irises: record
            .irises
            .iter()
            .map(|iris| v1::Iris {
                eye: eye_to_proto(iris.eye) as i32,
                code: iris.code.clone(),
                mask: iris.mask.clone(),
                layout: Some((*layout).into()),
                image: Vec::new(),
            })
            .collect(),
        face: record.face.as_ref().map(|f| v1::Face {
            embedding: f.embedding.clone(),
            image: Vec::new(),
        }),
    }
}

/// Validates a reference id (or job id) from the wire.
pub fn reference_id(id: String) -> Result<ReferenceId> {
    ReferenceId::new(id).map_err(|e| ProtoError::InvalidReferenceId {
        reason: match e {
            abis_engine::EngineError::InvalidReferenceId(reason) => reason,
            other => other.to_string(),
        },
    })
}

/// The engine's eye of a wire enum value (`EYE_UNSPECIFIED` and unknown values are refused).
pub fn eye_from_proto(value: i32) -> Result<Eye> {
    match v1::Eye::try_from(value) {
        Ok(v1::Eye::Left) => Ok(Eye::Left),
        Ok(v1::Eye::Right) => Ok(Eye::Right),
        Ok(v1::Eye::Unspecified) | Err(_) => Err(ProtoError::InvalidEnum {
            field: "iris.eye".into(),
            value,
        }),
    }
}

/// The wire enum of an eye.
pub fn eye_to_proto(eye: Eye) -> v1::Eye {
    match eye {
        Eye::Left => v1::Eye::Left,
        Eye::Right => v1::Eye::Right,
    }
}

impl From<IrisLayout> for v1::IrisLayout {
    fn from(l: IrisLayout) -> Self {
        Self {
            rows: l.rows(),
            cols: l.cols(),
            bits_per_cell: l.bits_per_cell(),
        }
    }
}

impl TryFrom<&v1::IrisLayout> for IrisLayout {
    type Error = abis_matchers::MatchError;

    fn try_from(l: &v1::IrisLayout) -> Result<Self, Self::Error> {
        IrisLayout::new(l.rows, l.cols, l.bits_per_cell)
    }
}

impl TryFrom<&v1::GalleryShape> for GalleryConfig {
    type Error = ProtoError;

    fn try_from(s: &v1::GalleryShape) -> Result<Self> {
        let layout = s
            .iris_layout
            .as_ref()
            .ok_or_else(|| ProtoError::missing("shape.iris_layout"))?;
        Ok(Self {
            iris_layout: IrisLayout::try_from(layout).map_err(|source| ProtoError::BadIris {
                eye: "layout",
                source,
            })?,
            face_dim: s.face_dim as usize,
        })
    }
}

/// Converts a batch as [`batch_into_engine`] does and validates every record against the
/// gallery's shape as the engine will before storing it (templates, the quality gate, the
/// face normalised): the whole batch is refused at the first bad record, naming it, so a
/// server can check a batch before anything of it is written anywhere.
pub fn checked_batch(
    records: Vec<v1::Record>,
    shape: &GalleryConfig,
    field: &str,
) -> std::result::Result<Vec<Record>, tonic::Status> {
    use crate::status::ToErrorDetail;
    let mut records = batch_into_engine(records, &shape.iris_layout, field)?;
    for (i, r) in records.iter_mut().enumerate() {
        r.validate_and_normalise(shape)
            .map_err(|e| crate::status::status_from_detail(e.error_detail().at_item(i)))?;
    }
    Ok(records)
}

impl From<&GalleryConfig> for v1::GalleryShape {
    fn from(c: &GalleryConfig) -> Self {
        Self {
            iris_layout: Some(c.iris_layout.into()),
            face_dim: u32::try_from(c.face_dim).unwrap_or(u32::MAX),
        }
    }
}

fn convert(record: v1::Record, gallery: Option<&IrisLayout>) -> Result<Record> {
    if record.reference_id.is_empty() {
        return Err(ProtoError::missing("record.reference_id"));
    }
    let mut out = Record::new(reference_id(record.reference_id)?);
    out.fingers = record
        .fingers
        .into_iter()
        .map(finger_from_proto)
        .collect::<Result<_>>()?;
    out.irises = record
        .irises
        .into_iter()
        .map(|iris| iris_from_proto(iris, gallery))
        .collect::<Result<_>>()?;
    out.face = record.face.map(face_from_proto).transpose()?;
    Ok(out)
}

fn face_from_proto(face: v1::Face) -> Result<FaceTemplate> {
    if !face.image.is_empty() {
        return Err(match face.embedding.is_empty() {
            true => ProtoError::ImageNotExtracted { of: ImageOf::Face },
            false => ProtoError::ImageAndTemplate { of: ImageOf::Face },
        });
    }
    Ok(FaceTemplate {
        embedding: face.embedding,
    })
}

fn iris_from_proto(iris: v1::Iris, gallery: Option<&IrisLayout>) -> Result<IrisTemplate> {
    let eye = eye_from_proto(iris.eye)?;
    let name = eye.name();
    if !iris.image.is_empty() {
        let of = ImageOf::Iris(eye);
        return Err(
            match iris.code.is_empty() && iris.mask.is_empty() && iris.layout.is_none() {
                true => ProtoError::ImageNotExtracted { of },
                false => ProtoError::ImageAndTemplate { of },
            },
        );
    }
    let declared = iris
        .layout
        .as_ref()
        .ok_or_else(|| ProtoError::missing(format!("iris {name}: layout")))?;
    let layout = IrisLayout::try_from(declared)
        .map_err(|source| ProtoError::BadIris { eye: name, source })?;
    if let Some(expected) = gallery {
        if *expected != layout {
            let shape = |l: &IrisLayout| (l.rows(), l.cols(), l.bits_per_cell());
            return Err(ProtoError::IrisLayoutMismatch {
                eye: name,
                expected: shape(expected),
                found: shape(&layout),
            });
        }
    }
    layout
        .check(&iris.code, &iris.mask)
        .map_err(|source| ProtoError::BadIris { eye: name, source })?;
    Ok(IrisTemplate {
        eye,
        code: iris.code,
        mask: iris.mask,
    })
}
