//! The de-dup service as the registrar sees it: one call that runs a de-dup job (insert every
//! applicant, then identify each against the whole gallery, itself excluded) and returns one
//! result per applicant, or a classified error.
//!
//! Two implementations share the trait: [`GrpcBackend`] submits the job to a coordinator and
//! follows it, [`EmbeddedBackend`] runs it on an in-process engine (the embedded default, and
//! what `abis demo` uses). The registrar is generic over the trait, so tests can put a scripted
//! service behind it.
//!
//! Errors are classified once, here, by what the caller should do: [`DedupError::is_retryable`]
//! is true for service faults that may pass (unavailable shards, deadlines, a broken stream, an
//! incomplete search, internal errors) and false for answers that retrying the same request
//! cannot change (an invalid template, a reference id enrolled with other content, bad
//! credentials).

mod embedded;
mod grpc;

pub use embedded::EmbeddedBackend;
pub use grpc::{
    coordinator_client, BearerToken, CoordinatorClient, GrpcBackend, GrpcConfig, TlsSettings,
};

use abis_proto::v1;
use std::future::Future;

/// A de-dup service.
pub trait DedupBackend: Send + Sync {
    /// Runs the de-dup job `job_id` over `applicants` with `options` and waits for its end.
    ///
    /// Idempotent by `job_id`: calling again with the same id and the same applicants must not
    /// do the work twice (the coordinator returns the stored job; inserts are idempotent by
    /// reference id anyway). On success, returns one result per applicant (order need not
    /// match: the registrar pairs them by reference id).
    fn run_job(
        &self,
        job_id: &str,
        applicants: &[v1::Record],
        options: &v1::IdentifyOptions,
    ) -> impl Future<Output = Result<Vec<v1::ApplicantResult>, DedupError>> + Send;
}

/// Either backend, chosen at run time (a CLI's `--coordinator` flag or the embedded default).
#[derive(Clone)]
pub enum AnyBackend {
    /// A coordinator over gRPC.
    Grpc(Box<GrpcBackend>),
    /// An in-process engine.
    Embedded(EmbeddedBackend),
}

impl DedupBackend for AnyBackend {
    async fn run_job(
        &self,
        job_id: &str,
        applicants: &[v1::Record],
        options: &v1::IdentifyOptions,
    ) -> Result<Vec<v1::ApplicantResult>, DedupError> {
        match self {
            Self::Grpc(b) => b.run_job(job_id, applicants, options).await,
            Self::Embedded(b) => b.run_job(job_id, applicants, options).await,
        }
    }
}

/// Why a de-dup job gave no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DedupError {
    /// The service could not be reached or could not search the whole gallery in time
    /// (UNAVAILABLE, DEADLINE_EXCEEDED, a broken stream, a job FAILED as unavailable, a wait
    /// that ran out). Retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An identify came back without covering the whole gallery. Retry later; never read it
    /// as "no duplicate".
    #[error("incomplete search for {reference_id}: {detail}")]
    Incomplete {
        /// The applicant whose search was incomplete.
        reference_id: String,
        /// What was not searched.
        detail: String,
    },
    /// The service failed on its side (INTERNAL, DATA_LOSS, an answer that breaks the API's
    /// contract). Retry later; an operator should look.
    #[error("service fault: {0}")]
    Service(String),
    /// The request was refused for good: an invalid template or id, a reference id enrolled
    /// with other content, a job id reused with other content. Not retried automatically.
    #[error("rejected ({code}){}: {message}", reference_id.as_deref().map(|r| format!(" for {r}")).unwrap_or_default())]
    Rejected {
        /// The service's error code name (e.g. `ERROR_CODE_INVALID_TEMPLATE`, or a gRPC code).
        code: String,
        /// The applicant at fault, when the service named one.
        reference_id: Option<String>,
        /// The service's message.
        message: String,
    },
    /// The credentials were refused (UNAUTHENTICATED, PERMISSION_DENIED). Not retried: fix the
    /// token or certificate.
    #[error("not authorised: {0}")]
    Unauthenticated(String),
}

impl DedupError {
    /// Whether retrying later (under a new job id) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Incomplete { .. } | Self::Service(_)
        )
    }

    /// The applicant a permanent error is about, if the service named one.
    pub fn rejected_reference_id(&self) -> Option<&str> {
        match self {
            Self::Rejected { reference_id, .. } => reference_id.as_deref(),
            _ => None,
        }
    }

    /// The error an [`v1::ErrorDetail`] stands for (from a status or a FAILED job).
    /// `applicants` resolves an `item_index` to the applicant's reference id.
    pub fn from_detail(detail: &v1::ErrorDetail, applicants: &[v1::Record]) -> Self {
        let code = v1::ErrorCode::try_from(detail.code).unwrap_or(v1::ErrorCode::Unspecified);
        let message = detail.message.clone();
        if detail.is_user_fault() {
            let reference_id = Some(detail.reference_id.clone())
                .filter(|r| !r.is_empty())
                .or_else(|| {
                    let index = detail.item_index? as usize;
                    applicants.get(index).map(|r| r.reference_id.clone())
                });
            return Self::Rejected {
                code: code.as_str_name().to_owned(),
                reference_id,
                message,
            };
        }
        match code {
            v1::ErrorCode::Unavailable => Self::Unavailable(message),
            _ => Self::Service(format!("{}: {message}", code.as_str_name())),
        }
    }

    /// The error a gRPC status stands for: its typed detail when it has one, else its code.
    pub fn from_status(status: &tonic::Status, applicants: &[v1::Record]) -> Self {
        use tonic::Code;
        let message = status.message().to_owned();
        match status.code() {
            Code::Unauthenticated | Code::PermissionDenied => {
                return Self::Unauthenticated(message)
            }
            Code::DeadlineExceeded | Code::Cancelled => return Self::Unavailable(message),
            _ => {}
        }
        if let Some(detail) = abis_proto::error_detail_of(status) {
            return Self::from_detail(&detail, applicants);
        }
        match status.code() {
            Code::Unavailable | Code::Aborted | Code::ResourceExhausted | Code::Unknown => {
                Self::Unavailable(format!("{:?}: {message}", status.code()))
            }
            Code::InvalidArgument
            | Code::AlreadyExists
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented => Self::Rejected {
                code: format!("{:?}", status.code()),
                reference_id: None,
                message,
            },
            code => Self::Service(format!("{code:?}: {message}")),
        }
    }
}

#[cfg(test)]
mod tests;
