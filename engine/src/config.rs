//! Typed configuration. The engine never reads files or the environment: binaries build these.

use abis_matchers::iris::{IrisLayout, RotationSearch};

/// The shape of a gallery's stored data. Fixed when the gallery is created and persisted with it;
/// reopening with a different shape is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GalleryConfig {
    /// Iris code layout of every iris template.
    pub iris_layout: IrisLayout,
    /// Face embedding dimension.
    pub face_dim: usize,
}

impl Default for GalleryConfig {
    /// Daugman 2,048-bit iris codes and 512-d face embeddings.
    fn default() -> Self {
        Self {
            iris_layout: IrisLayout::DAUGMAN_2048,
            face_dim: 512,
        }
    }
}

impl GalleryConfig {
    /// The shape of the templates abis makes from images: iris codes in the open-iris 16 x 200
    /// x 4 layout (`abis-extract-iris`) and dlib's 128-d face descriptors (`abis-extract-face`).
    /// A gallery that takes iris or face images must have it.
    pub const IMAGES: GalleryConfig = GalleryConfig {
        iris_layout: IrisLayout::OPEN_IRIS_12800,
        face_dim: 128,
    };
}

impl std::str::FromStr for GalleryConfig {
    type Err = String;

    /// `synthetic` ([`GalleryConfig::default`], the shape of generated populations) or `images`
    /// ([`GalleryConfig::IMAGES`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "synthetic" => Ok(Self::default()),
            "images" => Ok(Self::IMAGES),
            other => Err(format!(
                "unknown gallery shape {other:?}: `synthetic` (Daugman 2,048-bit iris codes, \
                 512-d faces: generated populations) or `images` (open-iris 12,800-bit codes, \
                 128-d faces: what abis extracts from images)"
            )),
        }
    }
}

/// Largest face dimension accepted.
pub const MAX_FACE_DIM: usize = 4096;

/// How the face modality's first pass is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceFirstPass {
    /// Exhaustive exact f32 dot products (batched GEMM); no re-rank needed.
    ExactF32,
    /// i8 dot products over every record keep a shortlist, re-ranked with exact f32.
    QuantisedI8,
}

/// Search behaviour; may differ between opens of the same gallery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchConfig {
    /// Iris rotation search (circular column shifts).
    pub rotation: RotationSearch,
    /// Face first pass.
    pub face_first_pass: FaceFirstPass,
    /// Safety margin (cosine units) on the i8 approximation: the i8 pass shortlists every record
    /// whose approximate cosine is within this margin of the face candidate floor, and the exact
    /// f32 re-rank keeps those truly above it. The i8 error of a 512-d unit-vector pair is below
    /// 0.01, so 0.03 keeps recall against exhaustive f32 at the threshold at 100% in practice
    /// (a test measures it).
    pub face_margin: f32,
    /// Most candidates a single modality passes to fusion per probe (the best ones by score);
    /// the i8 face pass re-ranks up to four times as many.
    pub modality_candidates: usize,
    /// Most full finger comparisons per probe: a probe with `f` fingers passes its best
    /// `max(1, finger_comparisons / f)` records by first-stage score (summed over the fingers
    /// probe and record share) to the full matcher, which compares every shared finger. A full
    /// comparison costs preparing the stored minutiae (~0.5 ms) plus ~15 us; with more fingers
    /// the summed first-stage score ranks mates far higher, so fewer records are needed.
    pub finger_comparisons: usize,
    /// Gallery rows per parallel work item.
    pub chunk_rows: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            rotation: RotationSearch::default(),
            face_first_pass: FaceFirstPass::QuantisedI8,
            face_margin: 0.03,
            modality_candidates: 1024,
            finger_comparisons: 64,
            chunk_rows: 4096,
        }
    }
}

/// Everything [`crate::Engine::open`] needs.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Shape for a new gallery (default: [`GalleryConfig::default`]); an existing gallery keeps
    /// its stored shape and refuses a different one.
    pub gallery: Option<GalleryConfig>,
    /// Search behaviour.
    pub search: SearchConfig,
    /// Score calibration (`None`: [`crate::Calibration::for_gallery`] of the gallery's shape).
    pub calibration: Option<crate::calibration::Calibration>,
    /// Skip fsync of the write-ahead log on insert. Only for throwaway benchmarks: with it set, an
    /// acknowledged insert can be lost on power failure (not on a process crash).
    pub unsafe_no_sync: bool,
    /// Keep segments on the heap instead of memory-mapped files (rebuilt from RocksDB at open).
    pub memory_segments: bool,
    /// Refuse a directory that holds no gallery ([`crate::EngineError::BadDataDir`]) instead of
    /// creating one there. Everything that only reads or searches a gallery sets it, so a
    /// mistyped path is an error, never an empty gallery that answers "no match".
    pub must_exist: bool,
    /// How records are grouped into partitions (a shard node: the cluster's routing slots), so
    /// searches can be limited to some partitions and each partition summarised
    /// ([`crate::census`]). `None`: one partition.
    pub partitioner: Option<crate::census::Partitioner>,
    /// Seal record values in RocksDB with these keys (AES-256-GCM, [`crate::crypto`]); `None`:
    /// stored in clear. A gallery written with keys cannot be opened without them.
    pub keyring: Option<std::sync::Arc<crate::crypto::Keyring>>,
}
