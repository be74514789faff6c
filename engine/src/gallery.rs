//! The gallery's segments: which modality positions exist and how a record becomes rows.

use crate::config::GalleryConfig;
use crate::error::{EngineError, Result};
use crate::record::{Eye, Record};
use crate::storage::{Backend, RowLayout, Segment, SegmentSpec};
use abis_matchers::face;
use abis_matchers::finger::index::{FingerCode, FingerSet, SET_WORDS};
use abis_matchers::finger::PreparedFinger;
use abis_matchers::iris::interleaved::BLOCK_ROWS;

/// A searchable modality position; each has its own segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Left iris.
    IrisLeft,
    /// Right iris.
    IrisRight,
    /// Face.
    Face,
    /// Fingers: one row of ten first-stage finger codes per record (positions 1..=10).
    Fingers,
}

impl Modality {
    /// Every modality, in segment order.
    pub const ALL: [Modality; 4] = [
        Modality::IrisLeft,
        Modality::IrisRight,
        Modality::Face,
        Modality::Fingers,
    ];

    /// Stable name (segment file stem, metric label).
    pub fn name(self) -> &'static str {
        match self {
            Modality::IrisLeft => "iris-left",
            Modality::IrisRight => "iris-right",
            Modality::Face => "face",
            Modality::Fingers => "fingers",
        }
    }

    /// The iris eye, for iris modalities.
    pub fn eye(self) -> Option<Eye> {
        match self {
            Modality::IrisLeft => Some(Eye::Left),
            Modality::IrisRight => Some(Eye::Right),
            Modality::Face | Modality::Fingers => None,
        }
    }

    /// Index into segment arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a record carries this modality.
    pub fn present_in(self, record: &Record) -> bool {
        match self {
            Modality::IrisLeft | Modality::IrisRight => {
                self.eye().is_some_and(|e| record.iris(e).is_some())
            }
            Modality::Face => record.face.is_some(),
            Modality::Fingers => !record.fingers.is_empty(),
        }
    }
}

/// Face segment columns.
pub(crate) const FACE_F32: usize = 0;
pub(crate) const FACE_I8: usize = 1;

/// Part of every segment kind tag: the row checksum's coverage. Since `:meta2` it covers the
/// metadata (slot, aux) too; segments written before are refused by their kind and rebuilt from
/// RocksDB at open.
const ROW_META: &str = ":meta2";

/// The segment spec of a modality for a gallery shape.
pub fn spec(modality: Modality, shape: &GalleryConfig) -> SegmentSpec {
    match modality {
        Modality::IrisLeft | Modality::IrisRight => {
            let l = shape.iris_layout;
            SegmentSpec {
                name: modality.name().into(),
                columns: vec![l.row_bytes()],
                layout: RowLayout::Interleaved,
                kind: crc32fast::hash(
                    format!(
                        "iris:{}x{}x{}:interleaved{BLOCK_ROWS}{ROW_META}",
                        l.rows(),
                        l.cols(),
                        l.bits_per_cell()
                    )
                    .as_bytes(),
                ),
            }
        }
        Modality::Face => SegmentSpec {
            name: modality.name().into(),
            columns: vec![
                face::padded_stride(shape.face_dim * 4),
                face::padded_stride(shape.face_dim),
            ],
            layout: RowLayout::Rows,
            kind: crc32fast::hash(format!("face:{}{ROW_META}", shape.face_dim).as_bytes()),
        },
        Modality::Fingers => SegmentSpec {
            name: modality.name().into(),
            columns: vec![SET_WORDS * 8],
            layout: RowLayout::Rows,
            kind: crc32fast::hash(format!("fingers:mcc-simhash64x31:v1{ROW_META}").as_bytes()),
        },
    }
}

/// Resolution the engine states for stored minutiae: 500 ppi in pixels per centimetre.
pub const FINGER_PPCM: u16 = 197;

/// Fewest minutiae a finger needs to be searched and scored: the quality gate's floor
/// ([`crate::record::MIN_FINGER_MINUTIAE`]), so every stored finger is searched. Records stored
/// before the gate may hold sparser fingers; those are still skipped.
pub const MIN_SEARCH_MINUTIAE: usize = crate::record::MIN_FINGER_MINUTIAE;

/// Whether a finger has enough minutiae to be searched ([`MIN_SEARCH_MINUTIAE`]).
pub fn searchable(minutiae: &[crate::record::Minutia]) -> bool {
    minutiae.len() >= MIN_SEARCH_MINUTIAE
}

/// Prepares one stored finger for the matcher.
pub fn prepare_finger(minutiae: &[crate::record::Minutia]) -> PreparedFinger {
    PreparedFinger::new(minutiae, FINGER_PPCM, FINGER_PPCM)
}

/// A record's searchable fingers prepared for the full matcher, by position.
pub fn prepared_fingers(record: &Record) -> Vec<(u8, PreparedFinger)> {
    record
        .fingers
        .iter()
        .filter(|f| searchable(&f.minutiae))
        .map(|f| (f.position, prepare_finger(&f.minutiae)))
        .collect()
}

/// The first-stage codes of prepared fingers (positions validated, 1..=10).
pub fn finger_set_of(prepared: &[(u8, PreparedFinger)]) -> FingerSet {
    let mut set = FingerSet::default();
    for (position, f) in prepared {
        set.set(*position, FingerCode::new(f))
            .expect("positions are validated before use");
    }
    set
}

/// The first-stage codes of a record's searchable fingers (empty codes for the others).
pub fn finger_set(record: &Record) -> FingerSet {
    finger_set_of(&prepared_fingers(record))
}

/// Encodes a record's template for one modality into row buffers (reused across calls) and
/// appends it to the segment. Records without the modality are skipped.
pub struct RowWriter {
    shape: GalleryConfig,
    iris_row: Vec<u8>,
    face_f32: Vec<u8>,
    face_i8: Vec<u8>,
    quantised: Vec<i8>,
    fingers: Vec<u8>,
}

impl RowWriter {
    /// Buffers for a gallery shape.
    pub fn new(shape: GalleryConfig) -> Self {
        Self {
            shape,
            iris_row: vec![0; shape.iris_layout.row_bytes()],
            face_f32: vec![0; face::padded_stride(shape.face_dim * 4)],
            face_i8: vec![0; face::padded_stride(shape.face_dim)],
            quantised: vec![0; shape.face_dim],
            fingers: vec![0; SET_WORDS * 8],
        }
    }

    /// Appends `record`'s template of `modality` (if it has one) to `segment` under `slot`.
    /// Finger codes are computed here; [`RowWriter::append_with`] takes them precomputed.
    pub fn append(
        &mut self,
        segment: &mut Segment,
        modality: Modality,
        slot: u32,
        record: &Record,
    ) -> Result<()> {
        let fingers = (modality == Modality::Fingers && !record.fingers.is_empty())
            .then(|| finger_set(record));
        self.append_with(segment, modality, slot, record, fingers.as_ref())
    }

    /// [`RowWriter::append`] with the record's finger codes already computed (as
    /// [`finger_set`] does; ignored for other modalities).
    pub fn append_with(
        &mut self,
        segment: &mut Segment,
        modality: Modality,
        slot: u32,
        record: &Record,
        fingers: Option<&FingerSet>,
    ) -> Result<()> {
        if modality == Modality::Fingers {
            if record.fingers.is_empty() {
                return Ok(());
            }
            let computed;
            let set = match fingers {
                Some(s) => s,
                None => {
                    computed = finger_set(record);
                    &computed
                }
            };
            for (dst, w) in self.fingers.chunks_exact_mut(8).zip(set.to_row()) {
                dst.copy_from_slice(&w.to_le_bytes());
            }
            return segment.append(slot, 0.0, &[&self.fingers]);
        }
        match modality.eye() {
            Some(eye) => {
                if let Some(iris) = record.iris(eye) {
                    self.shape
                        .iris_layout
                        .encode_row(&iris.code, &iris.mask, &mut self.iris_row)
                        .map_err(|e| EngineError::template(modality.name(), e))?;
                    segment.append(slot, 0.0, &[&self.iris_row])?;
                }
            }
            None => {
                if let Some(f) = &record.face {
                    for (dst, v) in self.face_f32.chunks_exact_mut(4).zip(&f.embedding) {
                        dst.copy_from_slice(&v.to_le_bytes());
                    }
                    let scale = face::quantise_i8(&f.embedding, &mut self.quantised);
                    for (dst, q) in self.face_i8.iter_mut().zip(&self.quantised) {
                        *dst = *q as u8;
                    }
                    segment.append(slot, scale, &[&self.face_f32, &self.face_i8])?;
                }
            }
        }
        Ok(())
    }
}

/// Opens (or creates) nothing: returns the segment specs of a shape, in [`Modality::ALL`] order.
pub fn specs(shape: &GalleryConfig) -> Vec<SegmentSpec> {
    Modality::ALL.iter().map(|m| spec(*m, shape)).collect()
}

/// The backend for a data directory.
pub fn backend(dir: &std::path::Path, memory: bool) -> Backend {
    if memory {
        Backend::Memory
    } else {
        Backend::Mmap(dir.join("segments"))
    }
}
