//! Error classification, and a coordinator that cannot be reached.

use super::*;
use std::time::{Duration, Instant};
use tonic::{Code, Status};

fn applicants() -> Vec<v1::Record> {
    ["a", "b"]
        .iter()
        .map(|id| v1::Record {
            reference_id: (*id).to_owned(),
            ..Default::default()
        })
        .collect()
}

fn status(code: v1::ErrorCode, item: Option<usize>, reference_id: &str) -> Status {
    let detail = v1::ErrorDetail {
        code: code as i32,
        message: "detail".into(),
        reference_id: reference_id.into(),
        item_index: None,
    };
    let detail = match item {
        Some(i) => detail.at_item(i),
        None => detail,
    };
    abis_proto::status_from_detail(detail)
}

#[test]
fn statuses_are_classified_by_their_typed_detail_first() {
    let a = applicants();
    let e = DedupError::from_status(&status(v1::ErrorCode::InvalidTemplate, Some(1), ""), &a);
    assert!(!e.is_retryable());
    assert_eq!(e.rejected_reference_id(), Some("b"));
    let e = DedupError::from_status(&status(v1::ErrorCode::AlreadyExists, None, "a"), &a);
    assert_eq!(e.rejected_reference_id(), Some("a"));
    let e = DedupError::from_status(&status(v1::ErrorCode::Unavailable, None, ""), &a);
    assert!(matches!(e, DedupError::Unavailable(_)));
    let e = DedupError::from_status(&status(v1::ErrorCode::DataCorruption, None, ""), &a);
    assert!(matches!(e, DedupError::Service(_)) && e.is_retryable());
}

#[test]
fn statuses_without_detail_are_classified_by_code() {
    let a = applicants();
    let class = |code| DedupError::from_status(&Status::new(code, "m"), &a);
    assert!(class(Code::Unavailable).is_retryable());
    assert!(class(Code::DeadlineExceeded).is_retryable());
    assert!(class(Code::Internal).is_retryable());
    assert!(matches!(
        class(Code::Unauthenticated),
        DedupError::Unauthenticated(_)
    ));
    assert!(matches!(
        class(Code::PermissionDenied),
        DedupError::Unauthenticated(_)
    ));
    assert!(!class(Code::InvalidArgument).is_retryable());
    assert_eq!(class(Code::InvalidArgument).rejected_reference_id(), None);
}

#[test]
fn failed_jobs_are_classified_by_their_failure() {
    let a = applicants();
    let unavailable = v1::ErrorDetail {
        code: v1::ErrorCode::Unavailable as i32,
        ..Default::default()
    };
    assert!(DedupError::from_detail(&unavailable, &a).is_retryable());
    let unspecified = v1::ErrorDetail::default();
    assert!(matches!(
        DedupError::from_detail(&unspecified, &a),
        DedupError::Service(_)
    ));
}

#[tokio::test]
async fn an_unreachable_coordinator_is_a_retryable_error() {
    // Bind then drop a listener: nothing listens on that port now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = GrpcConfig::new(format!("http://{addr}"));
    config.connect_timeout = Duration::from_millis(500);
    config.request_timeout = Duration::from_secs(2);
    config.token = Some("secret".into());
    let backend = GrpcBackend::new(config).expect("a lazy channel builds without a server");
    let started = Instant::now();
    let e = backend
        .run_job("job-1", &applicants(), &v1::IdentifyOptions::default())
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(GrpcBackend::new(GrpcConfig::new("not a uri")).is_err());
}
