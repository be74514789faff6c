//! One ABIS shard: the record model, storage, 1:N search and 1:1 verification.
//!
//! # Storage
//! RocksDB ([`storage::Store`]) is the source of truth: reference id <-> dense slot, the encoded
//! record, tombstones and gallery metadata. An insert is acknowledged only after its
//! `WriteBatch` is in the fsynced write-ahead log. Per searchable modality position (left iris,
//! right iris, face) an append-only columnar segment ([`storage::Segment`]) holds the templates as
//! fixed-stride, 64-byte aligned rows in memory-mapped files, with a per-row CRC. Segments are
//! derived: at open they are verified against RocksDB and repaired or rebuilt
//! ([`reconcile`]), and [`Engine::compact`] rewrites them without deleted rows.
//!
//! # Search
//! [`Engine::identify_batch`] compares every probe with every live record through block kernels
//! from `abis-matchers` (iris: masked Hamming distance with rotations; face: i8 first pass and
//! exact f32 re-rank), in parallel over row chunks. Per-modality scores are calibrated to false
//! match rates ([`calibration`]) and fused with Fisher's method ([`fusion`]); the decision
//! threshold follows from the target FPIR and the gallery size. [`Engine::verify`] does 1:1.
//!
//! # What is stored but not yet searched
//! Finger minutiae are part of the record model and stored with it; finger matching and its 1:N
//! index are a separate modality to come, and identify/verify use iris and face only.

pub mod calibration;
pub mod census;
pub mod config;
pub mod crypto;
mod engine;
pub mod error;
pub mod fusion;
pub mod gallery;
pub mod reconcile;
pub mod record;
pub mod search;
pub mod storage;

pub use calibration::Calibration;
pub use census::{PartitionSet, PartitionSummary, Partitioner, Scope};
pub use config::{EngineOptions, FaceFirstPass, GalleryConfig, SearchConfig};
pub use engine::{DeleteOutcome, Engine, InsertOutcome, SegmentStats, Stats};
pub use error::{EngineError, Result};
pub use gallery::Modality;
pub use record::{
    Eye, FaceTemplate, FingerTemplate, IrisTemplate, Minutia, MinutiaKind, Record, ReferenceId,
    MAX_REFERENCE_ID_BYTES,
};
pub use search::{
    compare, Candidate, IdentifyRequest, IdentifyResult, ModalityScore, SearchControl, StageTimes,
    Threshold, VerifyResult,
};
