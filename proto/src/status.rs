//! Errors to gRPC statuses: the one place where they are mapped.
//!
//! Every error first becomes a typed [`v1::ErrorDetail`] ([`ToErrorDetail`]: engine errors by
//! variant, [`ProtoError`]s as caller faults), and [`grpc_code`] is the one table from an
//! [`v1::ErrorCode`] to a [`tonic::Code`]. A [`tonic::Status`] built by [`status_from_detail`]
//! carries the detail in its binary details, encoded as the standard `google.rpc.Status` with
//! one `google.protobuf.Any`, so grpcurl shows it and [`error_detail_of`] gets it back: a
//! coordinator can tell a shard's `ALREADY_EXISTS` from its `DATA_LOSS` and pass the detail on.
//! Per-item errors of batch responses use the same [`v1::ErrorDetail`] inline.

use crate::error::ProtoError;
use crate::record::BatchError;
use crate::v1::{self, ErrorCode, ErrorDetail};
use abis_engine::EngineError;
use prost::Message;
use tonic::{Code, Status};

/// The `Any` type URL of [`v1::ErrorDetail`].
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/abis.v1.ErrorDetail";

/// The status code of each error code. Caller faults map to `INVALID_ARGUMENT`, `NOT_FOUND`,
/// `ALREADY_EXISTS`, `FAILED_PRECONDITION`, `PERMISSION_DENIED` or `RESOURCE_EXHAUSTED` (too
/// large); service faults to `UNAVAILABLE` or `RESOURCE_EXHAUSTED` (overloaded: retry later),
/// `CANCELLED`, `DATA_LOSS` or `INTERNAL` (page an operator). The detail's code tells the two
/// `RESOURCE_EXHAUSTED` apart.
pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidReferenceId | ErrorCode::InvalidTemplate | ErrorCode::InvalidRequest => {
            Code::InvalidArgument
        }
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::TooLarge | ErrorCode::Overloaded => Code::ResourceExhausted,
        ErrorCode::Cancelled => Code::Cancelled,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::DataCorruption => Code::DataLoss,
        ErrorCode::Internal | ErrorCode::Unspecified => Code::Internal,
    }
}

/// Errors that have a typed detail, and through it a status.
pub trait ToErrorDetail {
    /// The typed detail (code, message, reference id).
    fn error_detail(&self) -> ErrorDetail;

    /// The gRPC status: [`grpc_code`] of the detail's code, with the detail attached.
    fn to_status(&self) -> Status {
        status_from_detail(self.error_detail())
    }
}

impl ToErrorDetail for EngineError {
    fn error_detail(&self) -> ErrorDetail {
        let (code, reference_id) = match self {
            EngineError::InvalidReferenceId(_) => (ErrorCode::InvalidReferenceId, None),
            EngineError::InvalidTemplate { .. } => (ErrorCode::InvalidTemplate, None),
            EngineError::InvalidRequest(_) => (ErrorCode::InvalidRequest, None),
            EngineError::AlreadyExists(id) => (ErrorCode::AlreadyExists, Some(id.clone())),
            EngineError::NotFound(id) => (ErrorCode::NotFound, Some(id.clone())),
            // The server's data directory does not fit its configuration: the request cannot
            // succeed until an operator fixes the server.
            EngineError::BadDataDir { .. } => (ErrorCode::FailedPrecondition, None),
            EngineError::DataCorruption { .. } => (ErrorCode::DataCorruption, None),
            EngineError::Storage(e) => (storage_code(e.kind()), None),
            EngineError::Io { .. } => (ErrorCode::Internal, None),
            EngineError::Cancelled => (ErrorCode::Cancelled, None),
        };
        detail(code, self.to_string(), reference_id)
    }
}

/// RocksDB's transient conditions are worth a retry; its corruption is data loss.
fn storage_code(kind: rocksdb::ErrorKind) -> ErrorCode {
    use rocksdb::ErrorKind as K;
    match kind {
        K::Busy | K::TryAgain | K::TimedOut | K::ShutdownInProgress => ErrorCode::Unavailable,
        K::Corruption => ErrorCode::DataCorruption,
        _ => ErrorCode::Internal,
    }
}

impl ToErrorDetail for ProtoError {
    fn error_detail(&self) -> ErrorDetail {
        let code = match self {
            ProtoError::InvalidReferenceId { .. } => ErrorCode::InvalidReferenceId,
            e if e.is_template_error() => ErrorCode::InvalidTemplate,
            _ => ErrorCode::InvalidRequest,
        };
        detail(code, self.to_string(), None)
    }
}

impl ToErrorDetail for BatchError {
    fn error_detail(&self) -> ErrorDetail {
        let detail = self.error.error_detail();
        match self.index {
            Some(i) => detail.at_item(i),
            None => detail,
        }
    }
}

impl From<BatchError> for Status {
    fn from(e: BatchError) -> Self {
        e.to_status()
    }
}

impl From<ProtoError> for Status {
    fn from(e: ProtoError) -> Self {
        e.to_status()
    }
}

fn detail(code: ErrorCode, message: String, reference_id: Option<String>) -> ErrorDetail {
    ErrorDetail {
        code: code as i32,
        message,
        reference_id: reference_id.unwrap_or_default(),
        item_index: None,
    }
}

/// `google.rpc.Status`, wire-compatible, for the status details.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// The status of a typed error: code from [`grpc_code`], message from the detail, and the
/// detail itself in the binary details.
pub fn status_from_detail(detail: ErrorDetail) -> Status {
    let code = grpc_code(ErrorCode::try_from(detail.code).unwrap_or(ErrorCode::Unspecified));
    let details = RpcStatus {
        code: code as i32,
        message: detail.message.clone(),
        details: vec![prost_types::Any {
            type_url: ERROR_DETAIL_TYPE_URL.into(),
            value: detail.encode_to_vec(),
        }],
    };
    Status::with_details(code, detail.message, details.encode_to_vec().into())
}

/// The typed detail of a status made by [`status_from_detail`] (on either side of the wire);
/// `None` for a status without one (e.g. a transport error or a deadline).
pub fn error_detail_of(status: &Status) -> Option<ErrorDetail> {
    let rpc = RpcStatus::decode(status.details()).ok()?;
    rpc.details
        .iter()
        .find(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
        .and_then(|any| ErrorDetail::decode(any.value.as_slice()).ok())
}

/// The typed answer to a request tonic refused before any handler saw it: a message over the
/// size limit becomes TOO_LARGE (the caller's to fix: send less), with the limit in the message.
/// Other statuses, and statuses that already carry a detail, are left alone (`None`).
pub fn typed_transport_error(status: &Status) -> Option<Status> {
    if !status.details().is_empty() || !status.message().contains("message length too large") {
        return None;
    }
    Some(status_from_detail(ErrorDetail {
        code: ErrorCode::TooLarge as i32,
        message: format!(
            "the request is larger than this server accepts ({}); send fewer items per call",
            status.message()
        ),
        ..Default::default()
    }))
}

impl v1::ErrorDetail {
    /// The same detail naming item `index` of a batch request.
    pub fn at_item(mut self, index: usize) -> Self {
        self.item_index = u32::try_from(index).ok();
        self
    }

    /// Whether the error is the caller's to fix (retrying the same request cannot help).
    pub fn is_user_fault(&self) -> bool {
        matches!(
            ErrorCode::try_from(self.code),
            Ok(ErrorCode::InvalidReferenceId
                | ErrorCode::InvalidTemplate
                | ErrorCode::InvalidRequest
                | ErrorCode::AlreadyExists
                | ErrorCode::NotFound
                | ErrorCode::FailedPrecondition
                | ErrorCode::PermissionDenied
                | ErrorCode::TooLarge)
        )
    }
}
