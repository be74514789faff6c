//! Images in requests (fingers, irises, faces), turned into templates before anything else
//! sees them.
//!
//! Clients may send a finger, an iris or a face as an image (`abis.v1.Finger.image`,
//! `abis.v1.Iris.image`, `abis.v1.Face.image`: an ISO/IEC 19794-4/-6/-5 record or an image
//! file). Every call that takes records (Insert, Identify, IdentifyBatch, Verify,
//! SubmitDedupJob) passes them through [`Images::extract`] first: each image becomes its
//! template in place (fingers: the ISO/IEC 19794-2 record LEADER extracts, [`abis_extract`];
//! irises: the open-iris code and mask of the classical pipeline, [`abis_extract_iris`]; faces:
//! dlib's 128-d descriptor, [`abis_extract_face`]), so that the batch checks, the shard nodes,
//! the job store and the audit see templates only and nothing of the image is kept. A bad image
//! refuses the whole call (INVALID_ARGUMENT naming the item and the finger, eye or face), before
//! anything is searched or stored.
//!
//! Extraction is CPU work (about half a second per finger, a tenth of a second per iris or
//! face), so it runs on tokio's blocking pool, at most [`ImageConfig::threads`] images at once
//! across all calls, and a call may carry at most [`ImageConfig::max_per_call`] images (more is
//! refused as out of range, before any work). A modality whose model is missing (not fetched,
//! or `--models` names a folder without it) has its images refused with FAILED_PRECONDITION
//! saying how to fetch it; everything else is served as before.

use crate::service::detail;
use abis_engine::Eye;
use abis_extract::{FingerImageError, Leader};
use abis_extract_face::FaceExtractor;
use abis_extract_iris::IrisExtractor;
use abis_proto::{count_images, put_template, take_images, IrisCode};
use abis_proto::{v1, ImageBatchError, ImageExtractor, ImageRefusal, ProtoError};
use prometheus::{HistogramOpts, HistogramVec};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tonic::Status;

/// How a server takes images.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// The folder holding the models (else the default models folder).
    pub models: Option<PathBuf>,
    /// Most images one call may carry.
    pub max_per_call: usize,
    /// Images extracted at once across all calls.
    pub threads: usize,
}

/// Command-line flags of image extraction, shared with `abis serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// Folder holding the extraction models (LEADER.onnx for fingers; dlib's face models and
    /// SeetaFace's detector for faces) [default: $ABIS_MODELS, else
    /// <user data dir>/abis/models, where `scripts/fetch-models.sh` puts them]. Without a
    /// modality's model, calls carrying its images are refused; everything else is served.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Most images (fingers, irises and faces together) one call may carry (up to about half a
    /// second of one core each).
    #[arg(long, default_value_t = 100)]
    pub max_images: usize,
    /// Images extracted at once across all calls [default: one per core].
    #[arg(long)]
    pub extract_threads: Option<usize>,
}

impl ImageArgs {
    /// Validates into an [`ImageConfig`].
    pub fn validate(&self) -> anyhow::Result<ImageConfig> {
        anyhow::ensure!(
            (1..=10_000).contains(&self.max_images),
            "--max-images must be 1 to 10,000"
        );
        let threads = self
            .extract_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        anyhow::ensure!(threads >= 1, "--extract-threads must be at least 1");
        Ok(ImageConfig {
            models: self.models.clone(),
            max_per_call: self.max_images,
            threads,
        })
    }
}

impl Default for ImageArgs {
    fn default() -> Self {
        Self {
            models: None,
            max_images: 100,
            extract_threads: None,
        }
    }
}

/// Every modality's extractor as the wire's [`ImageExtractor`], each loaded or the reason it
/// could not be (which says how to fetch its model), timing each image into a histogram by
/// modality and outcome (`ok`, `refused`, `unavailable`, `error`). Also what the CLI's
/// in-process paths use.
pub struct Extractors {
    finger: Result<Leader, String>,
    iris: IrisExtractor,
    face: Result<FaceExtractor, String>,
    seconds: Option<HistogramVec>,
}

impl Extractors {
    /// The extractors from `models` (the folder holding the model files; else the default
    /// models folder). A model that cannot be loaded is logged and its modality's images
    /// refused with the reason.
    pub fn load(models: Option<&Path>) -> Self {
        let finger = match models {
            Some(dir) => Leader::load(dir.join(abis_extract::LEADER_FILE)),
            None => Leader::load_default(),
        };
        let finger = finger
            .inspect(
                |leader| tracing::info!(model = %leader.path().display(), "finger images taken"),
            )
            .map_err(|e| {
                tracing::warn!("finger images will be refused: {e}");
                format!("cannot read finger images: {e}")
            });
        let face = FaceExtractor::load(models)
            .inspect(|_| tracing::info!("face images taken"))
            .map_err(|e| {
                tracing::warn!("face images will be refused: {e}");
                format!("cannot read face images: {e}")
            });
        Self {
            finger,
            iris: IrisExtractor::default(),
            face,
            seconds: None,
        }
    }

    /// LEADER, or why finger images are refused (for callers that want more than the template,
    /// such as its quality).
    pub fn leader(&self) -> Result<&Leader, ImageRefusal> {
        self.finger
            .as_ref()
            .map_err(|why| ImageRefusal::Unavailable(why.clone()))
    }

    /// The iris pipeline (with its quality gate).
    pub fn iris_extractor(&self) -> &IrisExtractor {
        &self.iris
    }

    /// dlib's face models, or why face images are refused.
    pub fn face_extractor(&self) -> Result<&FaceExtractor, ImageRefusal> {
        self.face
            .as_ref()
            .map_err(|why| ImageRefusal::Unavailable(why.clone()))
    }

    /// Times `extract` into the histogram under `modality`.
    fn timed<T>(
        &self,
        modality: &str,
        extract: impl FnOnce() -> Result<T, ImageRefusal>,
    ) -> Result<T, ImageRefusal> {
        let started = Instant::now();
        let result = extract();
        if let Some(seconds) = &self.seconds {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(ImageRefusal::BadImage(_)) => "refused",
                Err(ImageRefusal::Unavailable(_)) => "unavailable",
                Err(ImageRefusal::Failed(_)) => "error",
            };
            seconds
                .with_label_values(&[modality, outcome])
                .observe(started.elapsed().as_secs_f64());
        }
        result
    }
}

/// The iris record's eye of the engine's.
pub fn iris_eye(eye: Eye) -> abis_imaging::iris_record::Eye {
    match eye {
        Eye::Left => abis_imaging::iris_record::Eye::Left,
        Eye::Right => abis_imaging::iris_record::Eye::Right,
    }
}

/// A refusal from an extractor's error: the caller's fault or the service's.
fn refusal(user_fault: bool, reason: String) -> ImageRefusal {
    match user_fault {
        true => ImageRefusal::BadImage(reason),
        false => ImageRefusal::Failed(reason),
    }
}

impl ImageExtractor for Extractors {
    fn finger(&self, image: &[u8], position: u8) -> Result<Vec<u8>, ImageRefusal> {
        let leader = self.leader()?;
        self.timed("finger", || {
            leader
                .extract_finger(image, position)
                .and_then(|f| f.iso_bytes().map_err(FingerImageError::from))
                .map_err(|e| refusal(e.is_user_fault(), e.to_string()))
        })
    }

    fn iris(&self, image: &[u8], eye: Eye) -> Result<IrisCode, ImageRefusal> {
        self.timed("iris", || {
            let template = self
                .iris
                .extract_bytes(image, iris_eye(eye))
                .map_err(|e| refusal(e.is_user_fault(), e.to_string()))?;
            Ok(IrisCode {
                code: template.code,
                mask: template.mask,
                layout: abis_extract_iris::LAYOUT,
            })
        })
    }

    fn face(&self, image: &[u8]) -> Result<Vec<f32>, ImageRefusal> {
        let face = self.face_extractor()?;
        self.timed("face", || {
            face.extract_bytes(image)
                .map(|found| found.descriptor.to_vec())
                .map_err(|e| refusal(e.is_user_fault(), e.to_string()))
        })
    }
}

/// The extractors from the default models folder, for in-process use (the CLI's embedded
/// paths); a modality whose model cannot be loaded has its images fail with the reason (which
/// says how to fetch it), so other work goes on.
pub fn default_extractor() -> Arc<dyn ImageExtractor> {
    Arc::new(Extractors::load(None))
}

/// A server's image extraction: every modality's extractor, bounded threads and images per
/// call.
pub struct Images {
    extractor: Arc<Extractors>,
    permits: Arc<Semaphore>,
    max_per_call: usize,
}

impl Images {
    /// Loads the models named by `config` (a missing or unusable model is logged and
    /// remembered: that modality's images are then refused with the reason), with the
    /// extraction-time histogram registered in `registry`.
    pub fn load(config: &ImageConfig, registry: &prometheus::Registry) -> Self {
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "abis_image_extract_seconds",
                "Time to turn one image into a template, by modality and outcome",
            )
            .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4]),
            &["modality", "outcome"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(seconds.clone()))
            .expect("unique metric");
        let mut extractor = Extractors::load(config.models.as_deref());
        extractor.seconds = Some(seconds);
        Self {
            extractor: Arc::new(extractor),
            permits: Arc::new(Semaphore::new(config.threads.max(1))),
            max_per_call: config.max_per_call,
        }
    }

    /// Replaces every image of `records` (the request's field `field`) by its extracted
    /// template; the call is refused whole at the first image that gives none. Returns how many
    /// images were extracted.
    pub async fn extract(&self, records: &mut [v1::Record], field: &str) -> Result<usize, Status> {
        let count = count_images(records);
        if count == 0 {
            return Ok(0);
        }
        if count > self.max_per_call {
            return Err(ProtoError::OutOfRange {
                field: field.to_owned(),
                reason: format!(
                    "{count} images in one call, at most {} (send fewer records per call)",
                    self.max_per_call
                ),
            }
            .into());
        }
        let images = take_images(records)?;
        let tasks: Vec<_> = images
            .into_iter()
            .map(|image| {
                let (extractor, permits) = (self.extractor.clone(), self.permits.clone());
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
                Ok(Ok((image, Ok(template)))) => put_template(records, &image, template),
                Ok(Ok((_, Err(e)))) => failure = Some(image_status(e)),
                Ok(Err(e)) | Err(e) => {
                    failure = Some(Status::internal(format!("image extraction stopped: {e}")))
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
        unavailable @ ImageBatchError::Unavailable { .. } => detail(
            v1::ErrorCode::FailedPrecondition,
            format!("this server cannot read these images: {unavailable}"),
        ),
        failed @ ImageBatchError::Failed { .. } => Status::internal(failed.to_string()),
    }
}
