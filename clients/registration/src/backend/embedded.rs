//! The de-dup job on an in-process engine: the embedded default, with no server.
//!
//! It does what the coordinator's job worker does, in the same order: convert and validate the
//! applicants against the gallery's shape (the whole batch is refused at the first bad one,
//! naming it, so the registrar can fail that applicant alone), insert them all durably (idempotent by reference id, so a retried job finds
//! them `ALREADY_PRESENT`), then identify each against the whole gallery, itself excluded, so
//! duplicates within the batch find each other. Results go through the same conversions as the
//! servers' (`abis_proto`), so the registrar sees one shape whichever backend ran the job. An
//! engine answers completely or not at all, so its results are marked `COMPLETE`.
//!
//! Images (fingers, irises, faces) are extracted first by the extractor given with
//! [`EmbeddedBackend::with_images`], the way a server does ([`abis_proto::extract_images`]);
//! without one they are refused as a shard node refuses them.
//!
//! The engine is synchronous and CPU-bound; the job runs on tokio's blocking pool. The job id
//! is only used in logs: an engine's inserts are idempotent on their own.

use super::{DedupBackend, DedupError};
use abis_engine::{Engine, EngineError};
use abis_proto::status::ToErrorDetail;
use abis_proto::{v1, ImageBatchError, ImageExtractor};
use std::future::Future;
use std::sync::Arc;

/// Runs de-dup jobs on an [`Engine`] in this process.
#[derive(Clone)]
pub struct EmbeddedBackend {
    engine: Arc<Engine>,
    images: Option<Arc<dyn ImageExtractor>>,
}

impl EmbeddedBackend {
    /// A backend over `engine` (shared: the caller may keep using it).
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            images: None,
        }
    }

    /// The same backend, turning images into templates with `extractor`.
    pub fn with_images(mut self, extractor: Arc<dyn ImageExtractor>) -> Self {
        self.images = Some(extractor);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

impl DedupBackend for EmbeddedBackend {
    fn run_job(
        &self,
        job_id: &str,
        applicants: &[v1::Record],
        options: &v1::IdentifyOptions,
    ) -> impl Future<Output = Result<Vec<v1::ApplicantResult>, DedupError>> + Send {
        let engine = Arc::clone(&self.engine);
        let images = self.images.clone();
        let applicants = applicants.to_vec();
        let options = *options;
        let job_id = job_id.to_owned();
        async move {
            tracing::debug!(job = %job_id, applicants = applicants.len(), "embedded de-dup job");
            tokio::task::spawn_blocking(move || {
                let mut applicants = applicants;
                if let Some(images) = images {
                    extract_images(&mut applicants, &*images)?;
                }
                run(&engine, applicants, &options)
            })
            .await
            .map_err(|e| DedupError::Service(format!("de-dup task failed: {e}")))?
        }
    }
}

/// The applicants' images replaced by their templates.
fn extract_images(
    applicants: &mut [v1::Record],
    images: &dyn ImageExtractor,
) -> Result<(), DedupError> {
    match abis_proto::extract_images(applicants, images) {
        Ok(_) => Ok(()),
        // The reference ids the detail's item index points at are untouched.
        Err(ImageBatchError::Refused(e)) => {
            Err(DedupError::from_detail(&e.error_detail(), applicants))
        }
        Err(failed @ (ImageBatchError::Failed { .. } | ImageBatchError::Unavailable { .. })) => {
            Err(DedupError::Service(failed.to_string()))
        }
    }
}

fn run(
    engine: &Engine,
    applicants: Vec<v1::Record>,
    options: &v1::IdentifyOptions,
) -> Result<Vec<v1::ApplicantResult>, DedupError> {
    let shape = engine.shape();
    let records =
        abis_proto::batch_into_engine(applicants.clone(), &shape.iris_layout, "applicants")
            .map_err(|e| DedupError::from_detail(&e.error_detail(), &applicants))?;
    // Validate each record against the gallery's shape first, so a refusal names its applicant
    // (the engine's batch insert refuses the whole batch without saying which record).
    for (index, record) in records.iter().enumerate() {
        if let Err(e) = record.clone().validate_and_normalise(&shape) {
            let detail = e.error_detail().at_item(index);
            return Err(DedupError::from_detail(&detail, &applicants));
        }
    }
    let engine_error = |e: EngineError| DedupError::from_detail(&e.error_detail(), &applicants);
    let outcomes = engine.insert_batch(records.clone()).map_err(engine_error)?;
    let request = abis_proto::identify_request(Some(options));
    let results = engine
        .identify_batch(&records, &request)
        .map_err(engine_error)?;
    Ok(records
        .iter()
        .zip(outcomes)
        .zip(&results)
        .map(|((record, outcome), result)| v1::ApplicantResult {
            reference_id: record.reference_id.as_str().to_owned(),
            insert_outcome: v1::InsertOutcome::from(outcome) as i32,
            identify: Some(abis_proto::identify_result_to_proto(
                &record.reference_id,
                result,
            )),
        })
        .collect())
}
