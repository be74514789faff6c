//! The gRPC API of abis, package `abis.v1`: the messages and services (generated from
//! `proto/abis/v1/*.proto` by prost and tonic), the file descriptor set for server reflection,
//! the routing contract, and the conversions between the messages and the engine's types.
//!
//! Dependencies point one way: `abis-matchers` <- `abis-engine` <- `abis-proto` <- the servers.
//! This crate holds no server: a handler validates and converts with what is here, calls the
//! engine (or the shards), and maps errors with [`status`].
//!
//! # Design of the API
//! - **Versioned.** Everything lives in package `abis.v1` (`proto/abis/v1/`). Within v1 changes
//!   are additive only (new fields, messages, enum values, RPCs; field numbers never reused);
//!   anything else is `abis.v2`, served beside v1 for a while. Enums start with an
//!   `*_UNSPECIFIED = 0` value that is always refused or read as the safe choice, so a field a
//!   client forgot never passes for a real value.
//! - **Three services.** `Abis`, the coordinator's public API (insert, delete, identify, verify,
//!   de-dup jobs, counts); `Admin`, the cluster's shard map and rebalancing; `Shard`, the
//!   internal coordinator -> shard node API (the same engine operations plus what rebalancing
//!   needs: counts per slot range, a resumable scan of slots, dropping moved slots, and a shard
//!   map epoch that fences a stale coordinator). Servers also serve the standard health service
//!   and reflection, with [`FILE_DESCRIPTOR_SET`].
//! - **Fail-closed completeness.** "No candidate" issues a new identity, so an answer must say
//!   whether the whole gallery was searched: every identify result carries a `Completeness`
//!   (`COMPLETE`, or `INCOMPLETE` with the slots not searched and why), and only `COMPLETE`
//!   counts as complete ([`v1::Completeness::is_complete`]: an unset status reads as
//!   incomplete). By default an incomplete search is an `UNAVAILABLE` error; a client must ask
//!   (`allow_incomplete`) to see partial candidates, and a de-dup job never finishes `DONE` on
//!   one.
//! - **Idempotent writes and jobs.** Inserts are idempotent by reference id (identical content
//!   is `ALREADY_PRESENT`, other content `ALREADY_EXISTS`), deletes by reference id (`NOT_FOUND`
//!   is an outcome, not an error), and de-dup jobs by a client-supplied job id, so every write
//!   can be retried after a timeout. Batch responses give one typed result per item.
//! - **Typed errors.** A failed call has a gRPC code and a [`v1::ErrorDetail`] (the
//!   abis-specific code, the reference id concerned, the index of the offending batch item) in
//!   its status details; [`status`] is the one place where errors become codes.
//! - **Template encodings.** Fingers travel as standard minutiae records (ISO/IEC 19794-2:2005
//!   or :2011, ANSI/INCITS 378-2004, detected from the header; brought to 500 ppi here) or as
//!   native minutiae at 500 ppi; irises as code + mask bytes with their declared layout (rows x
//!   columns x bits per cell), which must be the gallery's; the face as a float embedding of the
//!   gallery's dimension. The gallery's shape is in `PingResponse`.
//! - **Routing.** Records are spread over 4,096 slots by a fixed hash of the reference id
//!   ([`routing`]); the coordinator's shard map assigns each slot to R replicas.
//!
//! # Conversions
//! Wire -> engine are `TryFrom` with a [`ProtoError`] ([`record`], [`finger`], [`search`]), and
//! [`batch_into_engine`] for a whole batch (refused whole, naming the bad item); engine -> wire
//! are `From` or functions taking what the engine's types do not carry (the gallery's iris
//! layout, the probe's id). Errors of either side become statuses through
//! [`status::ToErrorDetail`].

pub mod error;
pub mod finger;
pub mod images;
pub mod record;
pub mod routing;
pub mod search;
pub mod status;

pub use error::{ImageOf, ProtoError, Result};
pub use finger::{finger_from_proto, finger_to_proto, minutiae_from_record};
pub use images::{
    count_images, extract_images, put_template, take_images, Extracted, Image, ImageBatchError,
    ImageExtractor, ImageRefusal, ImageSlot, IrisCode,
};
pub use record::{
    batch_into_engine, checked_batch, eye_from_proto, eye_to_proto, record_to_proto, reference_id,
    BatchError, MAX_BATCH_ITEMS,
};
pub use routing::{slot_of, SLOT_COUNT};
pub use search::{identify_request, identify_result_to_proto, MAX_ANSWER_CANDIDATES, MAX_RESULTS};
pub use status::{error_detail_of, grpc_code, status_from_detail, ToErrorDetail};

/// The API version string servers report in `PingResponse.api_version`.
pub const API_VERSION: &str = "abis.v1";

/// Generated messages, clients (`abis_client`, `admin_client`, `shard_client`) and servers
/// (`abis_server`, `admin_server`, `shard_server`) of package `abis.v1`.
pub mod v1 {
    tonic::include_proto!("abis.v1");
}

/// The encoded `FileDescriptorSet` of API v1, its imports (`google/protobuf/timestamp.proto`)
/// included, for `tonic_reflection`'s `register_encoded_file_descriptor_set`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("abis_v1_descriptor");
