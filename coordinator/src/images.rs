//! Finger images in requests, turned into templates before anything else sees them.
//!
//! Clients may send a finger as an image (`abis.v1.Finger.image`: an ISO/IEC 19794-4 record or
//! an image file). Every call that takes records (Insert, Identify, IdentifyBatch, Verify,
//! SubmitDedupJob) passes them through [`FingerImages::extract`] first: each image becomes the
//! ISO/IEC 19794-2 template LEADER extracts from it ([`abis_extract`]), in place, so that the
//! batch checks, the shard nodes, the job store and the audit see templates only and nothing of
//! the image is kept. A bad image refuses the whole call (INVALID_ARGUMENT naming the item and
//! the finger), before anything is searched or stored.
//!
//! Extraction is CPU work of about half a second per image, so it runs on tokio's blocking
//! pool, at most [`ImageConfig::threads`] images at once across all calls, and a call may carry
//! at most [`ImageConfig::max_per_call`] images (more is refused as out of range, before any
//! work). Without the model (not fetched, or `--models` names a folder without it) calls with
//! images are refused with FAILED_PRECONDITION saying how to fetch it; calls without images are
//! served as before.

use crate::service::detail;
use abis_extract::{FingerImageError, Leader};
use abis_proto::{count_finger_images, put_finger_template, take_finger_images};
use abis_proto::{v1, FingerImageExtractor, ImageBatchError, ImageRefusal, ProtoError};
use prometheus::{HistogramOpts, HistogramVec};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tonic::Status;

/// How a server takes finger images.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// The folder holding `LEADER.onnx` (else the default models folder).
    pub models: Option<PathBuf>,
    /// Most finger images one call may carry.
    pub max_per_call: usize,
    /// Images extracted at once across all calls.
    pub threads: usize,
}

/// Command-line flags of finger image extraction, shared with `abis serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// Folder holding the LEADER.onnx extraction model [default: $ABIS_MODELS, else
    /// <user data dir>/abis/models, where `scripts/fetch-models.sh` puts it]. Without the model,
    /// calls carrying finger images are refused; template calls are served.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Most finger images one call may carry (about half a second of one core each).
    #[arg(long, default_value_t = 100)]
    pub max_finger_images: usize,
    /// Finger images extracted at once across all calls [default: one per core].
    #[arg(long)]
    pub extract_threads: Option<usize>,
}

impl ImageArgs {
    /// Validates into an [`ImageConfig`].
    pub fn validate(&self) -> anyhow::Result<ImageConfig> {
        anyhow::ensure!(
            (1..=10_000).contains(&self.max_finger_images),
            "--max-finger-images must be 1 to 10,000"
        );
        let threads = self
            .extract_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        anyhow::ensure!(threads >= 1, "--extract-threads must be at least 1");
        Ok(ImageConfig {
            models: self.models.clone(),
            max_per_call: self.max_finger_images,
            threads,
        })
    }
}

impl Default for ImageArgs {
    fn default() -> Self {
        Self {
            models: None,
            max_finger_images: 100,
            extract_threads: None,
        }
    }
}

/// LEADER as the wire's [`FingerImageExtractor`], timing each image into a histogram by
/// outcome (`ok`, `refused`, `error`). Also what the CLI's in-process paths use.
pub struct LeaderImages {
    leader: Leader,
    seconds: Option<HistogramVec>,
}

impl LeaderImages {
    /// LEADER from `models` (the folder holding `LEADER.onnx`; else the default models folder).
    /// The error says how to fetch a missing model.
    pub fn load(models: Option<&Path>) -> Result<Self, abis_extract::ExtractError> {
        let leader = match models {
            Some(dir) => Leader::load(dir.join(abis_extract::LEADER_FILE))?,
            None => Leader::load_default()?,
        };
        Ok(Self {
            leader,
            seconds: None,
        })
    }

    /// The model file in use.
    pub fn model_path(&self) -> &Path {
        self.leader.path()
    }
}

impl FingerImageExtractor for LeaderImages {
    fn template(&self, image: &[u8], position: u8) -> Result<Vec<u8>, ImageRefusal> {
        let started = Instant::now();
        let result = self
            .leader
            .extract_finger(image, position)
            .and_then(|f| f.iso_bytes().map_err(FingerImageError::from))
            .map_err(|e| match e.is_user_fault() {
                true => ImageRefusal::BadImage(e.to_string()),
                false => ImageRefusal::Failed(e.to_string()),
            });
        if let Some(seconds) = &self.seconds {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(ImageRefusal::BadImage(_)) => "refused",
                Err(ImageRefusal::Failed(_)) => "error",
            };
            seconds
                .with_label_values(&[outcome])
                .observe(started.elapsed().as_secs_f64());
        }
        result
    }
}

/// LEADER from the default models folder as an extractor for in-process use (the CLI's
/// embedded paths); when the model cannot be loaded, an extractor that fails every image with
/// the reason (which says how to fetch it), so template-only work goes on.
pub fn default_extractor() -> Arc<dyn FingerImageExtractor> {
    match LeaderImages::load(None) {
        Ok(images) => Arc::new(images),
        Err(e) => Arc::new(Unavailable(format!("cannot read finger images: {e}"))),
    }
}

/// Fails every image with its reason.
struct Unavailable(String);

impl FingerImageExtractor for Unavailable {
    fn template(&self, _: &[u8], _: u8) -> Result<Vec<u8>, ImageRefusal> {
        Err(ImageRefusal::Failed(self.0.clone()))
    }
}

/// A server's finger image extraction, or why it has none.
pub struct FingerImages {
    extractor: Result<Arc<LeaderImages>, String>,
    permits: Arc<Semaphore>,
    max_per_call: usize,
}

impl FingerImages {
    /// Loads the model named by `config` (a missing or unusable model is logged and remembered:
    /// image calls are then refused with the reason), with its extraction-time histogram
    /// registered in `registry`.
    pub fn load(config: &ImageConfig, registry: &prometheus::Registry) -> Self {
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "abis_finger_image_extract_seconds",
                "Time to turn one finger image into a template, by outcome",
            )
            .buckets(vec![0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4]),
            &["outcome"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(seconds.clone()))
            .expect("unique metric");
        let extractor = match LeaderImages::load(config.models.as_deref()) {
            Ok(mut images) => {
                tracing::info!(model = %images.model_path().display(), "finger images taken");
                images.seconds = Some(seconds);
                Ok(Arc::new(images))
            }
            Err(e) => {
                tracing::warn!("finger images will be refused: {e}");
                Err(e.to_string())
            }
        };
        Self {
            extractor,
            permits: Arc::new(Semaphore::new(config.threads.max(1))),
            max_per_call: config.max_per_call,
        }
    }

    /// Replaces every finger image of `records` (the request's field `field`) by its extracted
    /// template; the call is refused whole at the first image that gives none. Returns how many
    /// images were extracted.
    pub async fn extract(&self, records: &mut [v1::Record], field: &str) -> Result<usize, Status> {
        let count = count_finger_images(records);
        if count == 0 {
            return Ok(0);
        }
        if count > self.max_per_call {
            return Err(ProtoError::OutOfRange {
                field: field.to_owned(),
                reason: format!(
                    "{count} finger images in one call, at most {} (send fewer records per call)",
                    self.max_per_call
                ),
            }
            .into());
        }
        let extractor = self.extractor.as_ref().map_err(|why| {
            detail(
                v1::ErrorCode::FailedPrecondition,
                format!("this server cannot read finger images: {why}"),
            )
        })?;
        let images = take_finger_images(records)?;
        let tasks: Vec<_> = images
            .into_iter()
            .map(|image| {
                let (extractor, permits) = (extractor.clone(), self.permits.clone());
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    tokio::task::spawn_blocking(move || {
                        let template = image.extract(&*extractor);
                        (image, template)
                    })
                    .await
                })
            })
            .collect();
        // Joined in request order. The first failure refuses the call; images still waiting
        // for a thread are dropped (those already running finish and are discarded).
        let mut failure = None;
        for task in tasks {
            if failure.is_some() {
                task.abort();
                continue;
            }
            match task.await {
                Ok(Ok((image, Ok(template)))) => put_finger_template(records, &image, template),
                Ok(Ok((_, Err(e)))) => failure = Some(image_status(e)),
                Ok(Err(e)) | Err(e) => {
                    failure = Some(Status::internal(format!(
                        "finger image extraction stopped: {e}"
                    )))
                }
            }
        }
        match failure {
            Some(refusal) => Err(refusal),
            None => Ok(count),
        }
    }
}

/// The status of an image that gave no template.
fn image_status(error: ImageBatchError) -> Status {
    match error {
        ImageBatchError::Refused(e) => e.into(),
        failed @ ImageBatchError::Failed { .. } => Status::internal(failed.to_string()),
    }
}
