//! The registration client of abis: applicants in, durable de-dup verdicts out, and the
//! manual-adjudication queue for the verdicts a human must settle.
//!
//! # The flow
//! 1. **Applicant** ([`applicant`], [`manifest`]): a packet id plus biometrics read from an
//!    applicant folder (a JSON manifest naming ISO/ANSI finger records, iris code and mask
//!    files, a little-endian f32 face embedding) and checked locally, so a corrupt file is a
//!    typed [`Error`] before anything is submitted. The packet id is the applicant's reference
//!    id in the gallery.
//! 2. **De-dup job** ([`backend`]): insert the batch, then identify each applicant against the
//!    whole gallery, itself excluded. [`GrpcBackend`] runs it on a coordinator
//!    (SubmitDedupJob, then WatchJob, following the durable job across broken streams);
//!    [`EmbeddedBackend`] on an in-process engine (the embedded default, no server).
//! 3. **Registrar** ([`registrar`], [`retry`]): submits batches under job ids derived from the
//!    packet ids and the attempt number (a crash-retry reuses the id, a retry after a failure
//!    gets a fresh one), retries retryable errors with jittered exponential backoff, and
//!    records every outcome durably ([`store`], RocksDB, synced writes): `Unique`,
//!    `Duplicate` of the candidates' reference ids, or `Failed` (retried later).
//! 4. **Adjudication** ([`adjudication`]): duplicates and searches that stayed incomplete open
//!    a [`Case`]; a human decides same person (link to an existing registration), different
//!    people (issue a UIN) or, for incomplete cases only, resubmit. The decision gives the
//!    caller an [`Action`]; UIN issuance itself belongs to another crate.
//!
//! # Failing closed
//! A "unique" verdict issues a new identity, so a packet is recorded
//! [`PacketState::Unique`] only when its job finished with a `COMPLETE` identify (an absent
//! or unset completeness counts as incomplete) that named no candidate ([`verdict`]). An
//! incomplete search, an unavailable service, a broken stream, a job that failed, a missing
//! result: all leave the packet `Pending` or `Failed`, and after the last retry an Incomplete
//! case, never `Unique`. A human cannot override that either: the only decision on an
//! Incomplete case is to resubmit.
//!
//! # Example (embedded)
//! ```no_run
//! # async fn example() -> abis_registration::Result<()> {
//! use abis_registration::*;
//! use std::sync::Arc;
//! let engine = abis_engine::Engine::open("gallery", Default::default()).expect("gallery");
//! let store = Arc::new(RegistrationStore::open("registrations".as_ref())?);
//! let registrar = Registrar::new(
//!     EmbeddedBackend::new(Arc::new(engine)),
//!     store.clone(),
//!     RegistrarConfig::default(),
//! );
//! let applicant = Applicant::load("packet-1/manifest.json".as_ref())?;
//! for outcome in registrar.register(&[applicant]).await? {
//!     println!("{}: {}", outcome.packet_id, outcome.state.name());
//! }
//! for case in store.open_cases()? {
//!     println!("case {} ({:?}): {} candidate(s)", case.case_id, case.kind, case.candidates.len());
//! }
//! # Ok(())
//! # }
//! ```

pub mod adjudication;
pub mod applicant;
pub mod backend;
pub mod error;
pub mod manifest;
pub mod registrar;
pub mod retry;
pub mod store;
pub mod verdict;

pub use adjudication::{Action, Case, CaseKind, CaseStatus, Decision};
pub use applicant::Applicant;
pub use backend::{
    AnyBackend, DedupBackend, DedupError, EmbeddedBackend, GrpcBackend, GrpcConfig, TlsSettings,
};
pub use error::{Error, Result};
pub use manifest::{
    image_kind, write_applicant, write_manifest, ImageKind, IrisContent, Manifest, MANIFEST_FILE,
};
pub use registrar::{Registrar, RegistrarConfig};
pub use retry::RetryPolicy;
pub use store::{PacketState, Registration, RegistrationStore, StateFilter};
pub use verdict::{CandidateMatch, ModalityMatch, ModalityName, Verdict};
