//! Where the adapter enrols and searches: the [`Gallery`] trait, and [`Embedded`], an abis
//! engine in this process. (A cluster's coordinator is the other implementation.)

use abis_engine::{
    Candidate, Engine, EngineError, GalleryConfig, IdentifyRequest, InsertOutcome, Record,
    ReferenceId, Threshold,
};
use std::future::Future;
use std::sync::Arc;

/// Why a gallery call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GalleryError {
    /// The reference id is not enrolled.
    #[error("{0} is not enrolled")]
    NotFound(String),
    /// The call could not be served (storage, network, an incomplete search): MOSIP hears
    /// failure 1, never a partial answer.
    #[error("{0}")]
    Failed(String),
}

/// An Insert's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Newly enrolled.
    New,
    /// Already enrolled with exactly this content.
    Same,
    /// Already enrolled with other content.
    Other,
}

/// The gallery the adapter serves MOSIP from.
pub trait Gallery: Send + Sync + 'static {
    /// The templates it holds (iris layout, face dimension), so images are extracted to match.
    fn shape(&self) -> GalleryConfig;
    /// Whether the gallery answers.
    fn ping(&self) -> impl Future<Output = Result<(), GalleryError>> + Send;
    /// The enrolled record of `id` (the probe of an Identify), `None` when not enrolled.
    fn probe(
        &self,
        id: &ReferenceId,
    ) -> impl Future<Output = Result<Option<Record>, GalleryError>> + Send;
    /// Enrols `record`.
    fn insert(&self, record: Record)
        -> impl Future<Output = Result<Inserted, GalleryError>> + Send;
    /// The candidates of a search of the whole gallery at `fpir`, best first, at most
    /// `max_results`; fails unless every record was searched.
    fn identify(
        &self,
        probe: Record,
        max_results: usize,
        fpir: f64,
    ) -> impl Future<Output = Result<Vec<Candidate>, GalleryError>> + Send;
    /// `probe` compared with the record of `id` at `fmr`: the candidate when it matches.
    fn verify(
        &self,
        probe: Record,
        id: ReferenceId,
        fmr: f64,
    ) -> impl Future<Output = Result<Option<Candidate>, GalleryError>> + Send;
    /// Removes `id`.
    fn delete(&self, id: ReferenceId) -> impl Future<Output = Result<(), GalleryError>> + Send;
    /// Records enrolled (fails unless every record was counted).
    fn count(&self) -> impl Future<Output = Result<u64, GalleryError>> + Send;
}

/// An abis engine in this process.
pub struct Embedded {
    engine: Arc<Engine>,
}

impl Embedded {
    /// Serves from `engine`.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine: Arc::new(engine),
        }
    }

    /// Runs `f` on the engine on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, GalleryError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || f(&engine))
            .await
            .map_err(|e| GalleryError::Failed(e.to_string()))?
            .map_err(|e| match e {
                EngineError::NotFound(id) => GalleryError::NotFound(id),
                e => GalleryError::Failed(e.to_string()),
            })
    }
}

impl Gallery for Embedded {
    fn shape(&self) -> GalleryConfig {
        self.engine.shape()
    }

    async fn ping(&self) -> Result<(), GalleryError> {
        self.blocking(|e| Ok(e.len())).await.map(drop)
    }

    async fn probe(&self, id: &ReferenceId) -> Result<Option<Record>, GalleryError> {
        let id = id.clone();
        match self.blocking(move |e| e.get(&id)).await {
            Ok(record) => Ok(Some(record)),
            Err(GalleryError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn insert(&self, record: Record) -> Result<Inserted, GalleryError> {
        let outcome = self
            .blocking(move |e| match e.insert(record) {
                Ok(outcome) => Ok(Ok(outcome)),
                Err(EngineError::AlreadyExists(_)) => Ok(Err(())),
                Err(other) => Err(other),
            })
            .await?;
        Ok(match outcome {
            Ok(InsertOutcome::Inserted) => Inserted::New,
            Ok(InsertOutcome::AlreadyPresent) => Inserted::Same,
            Err(()) => Inserted::Other,
        })
    }

    async fn identify(
        &self,
        probe: Record,
        max_results: usize,
        fpir: f64,
    ) -> Result<Vec<Candidate>, GalleryError> {
        let request = IdentifyRequest {
            max_results,
            threshold: Threshold::Fpir(fpir),
        };
        // The embedded engine searches every record or fails.
        self.blocking(move |e| e.identify(&probe, &request).map(|r| r.candidates))
            .await
    }

    async fn verify(
        &self,
        probe: Record,
        id: ReferenceId,
        fmr: f64,
    ) -> Result<Option<Candidate>, GalleryError> {
        self.blocking(move |e| {
            let verdict = e.verify(&probe, &id, fmr)?;
            Ok(verdict.is_match.then_some(Candidate {
                reference_id: id,
                fused_score: verdict.fused_score,
                scores: verdict.scores,
            }))
        })
        .await
    }

    async fn delete(&self, id: ReferenceId) -> Result<(), GalleryError> {
        self.blocking(move |e| e.delete(&id)).await
    }

    async fn count(&self) -> Result<u64, GalleryError> {
        self.blocking(|e| Ok(e.len())).await
    }
}
