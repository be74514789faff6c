//! Errors to gRPC statuses: every engine error variant and every kind of conversion error gets
//! its intended code, and the typed detail survives the status.

use abis_engine::{EngineError, Record};
use abis_proto::status::{error_detail_of, grpc_code, status_from_detail, ToErrorDetail};
use abis_proto::v1::{self, ErrorCode};
use abis_proto::ProtoError;
use tonic::Code;

/// A real RocksDB failure: opening a database where a plain file stands.
fn rocksdb_error() -> rocksdb::Error {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    match rocksdb::DB::open_default(&file) {
        Ok(_) => panic!("opening a file as a DB must fail"),
        Err(e) => e,
    }
}

#[test]
fn every_engine_error_maps_to_its_code() {
    let storage = rocksdb_error();
    let storage_code = match storage.kind() {
        rocksdb::ErrorKind::Busy | rocksdb::ErrorKind::TryAgain => Code::Unavailable,
        rocksdb::ErrorKind::Corruption => Code::DataLoss,
        _ => Code::Internal,
    };
    let cases: Vec<(EngineError, Code, ErrorCode)> = vec![
        (
            EngineError::InvalidReferenceId("empty".into()),
            Code::InvalidArgument,
            ErrorCode::InvalidReferenceId,
        ),
        (
            EngineError::InvalidTemplate {
                modality: "face".into(),
                reason: "dimension 3, gallery 512".into(),
            },
            Code::InvalidArgument,
            ErrorCode::InvalidTemplate,
        ),
        (
            EngineError::InvalidRequest("max_results must be at least 1".into()),
            Code::InvalidArgument,
            ErrorCode::InvalidRequest,
        ),
        (
            EngineError::AlreadyExists("p-1".into()),
            Code::AlreadyExists,
            ErrorCode::AlreadyExists,
        ),
        (
            EngineError::NotFound("p-2".into()),
            Code::NotFound,
            ErrorCode::NotFound,
        ),
        (
            EngineError::BadDataDir {
                path: "/data".into(),
                reason: "other shape".into(),
            },
            Code::FailedPrecondition,
            ErrorCode::FailedPrecondition,
        ),
        (
            EngineError::DataCorruption {
                what: "face segment".into(),
                detail: "row crc".into(),
            },
            Code::DataLoss,
            ErrorCode::DataCorruption,
        ),
        (
            EngineError::Storage(storage),
            storage_code,
            match storage_code {
                Code::Unavailable => ErrorCode::Unavailable,
                Code::DataLoss => ErrorCode::DataCorruption,
                _ => ErrorCode::Internal,
            },
        ),
        (
            EngineError::Io {
                path: "/data/segments/face".into(),
                source: std::io::Error::other("disk gone"),
            },
            Code::Internal,
            ErrorCode::Internal,
        ),
    ];
    for (err, code, error_code) in cases {
        let status = err.to_status();
        assert_eq!(status.code(), code, "{err}");
        assert_eq!(status.message(), err.to_string());
        let detail = error_detail_of(&status).expect("detail in status");
        assert_eq!(detail.code, error_code as i32, "{err}");
        assert_eq!(detail.message, err.to_string());
        // The code split agrees with the engine's own, but for a bad data directory: the
        // engine blames its operator, which for a gRPC client is the service's state.
        if !matches!(err, EngineError::BadDataDir { .. }) {
            assert_eq!(detail.is_user_fault(), err.is_user_fault(), "{err}");
        }
    }
}

#[test]
fn reference_ids_travel_in_the_detail() {
    let status = EngineError::AlreadyExists("p-9".into()).to_status();
    let detail = error_detail_of(&status).unwrap();
    assert_eq!(detail.reference_id, "p-9");
    let status = EngineError::NotFound("p-10".into()).to_status();
    assert_eq!(error_detail_of(&status).unwrap().reference_id, "p-10");
}

#[test]
fn conversion_errors_are_invalid_argument_with_the_right_code() {
    let bad_finger = Record::try_from(v1::Record {
        reference_id: "p".into(),
        fingers: vec![v1::Finger {
            position: 1,
            template: Some(v1::finger::Template::IsoOrAnsiRecord(b"FMR\0junk".to_vec())),
        }],
        ..Default::default()
    })
    .unwrap_err();
    let cases = [
        (
            ProtoError::missing("record.reference_id"),
            ErrorCode::InvalidRequest,
        ),
        (
            ProtoError::InvalidReferenceId {
                reason: "empty".into(),
            },
            ErrorCode::InvalidReferenceId,
        ),
        (
            ProtoError::InvalidEnum {
                field: "iris.eye".into(),
                value: 0,
            },
            ErrorCode::InvalidRequest,
        ),
        (
            ProtoError::InvalidFingerPosition { position: 0 },
            ErrorCode::InvalidTemplate,
        ),
        (bad_finger, ErrorCode::InvalidTemplate),
        (
            ProtoError::IrisLayoutMismatch {
                eye: "left",
                expected: (8, 128, 2),
                found: (16, 64, 2),
            },
            ErrorCode::InvalidTemplate,
        ),
    ];
    for (err, code) in cases {
        let status = tonic::Status::from(err.clone());
        assert_eq!(status.code(), Code::InvalidArgument, "{err}");
        let detail = error_detail_of(&status).unwrap();
        assert_eq!(detail.code, code as i32, "{err}");
        assert!(detail.is_user_fault());
    }
}

#[test]
fn the_code_table_is_total_and_unknown_codes_are_internal() {
    let table = [
        (ErrorCode::Unspecified, Code::Internal),
        (ErrorCode::InvalidReferenceId, Code::InvalidArgument),
        (ErrorCode::InvalidTemplate, Code::InvalidArgument),
        (ErrorCode::InvalidRequest, Code::InvalidArgument),
        (ErrorCode::AlreadyExists, Code::AlreadyExists),
        (ErrorCode::NotFound, Code::NotFound),
        (ErrorCode::FailedPrecondition, Code::FailedPrecondition),
        (ErrorCode::Unavailable, Code::Unavailable),
        (ErrorCode::DataCorruption, Code::DataLoss),
        (ErrorCode::Internal, Code::Internal),
    ];
    for (code, grpc) in table {
        assert_eq!(grpc_code(code), grpc, "{code:?}");
    }
    let unknown = v1::ErrorDetail {
        code: 999,
        message: "from a newer server".into(),
        ..Default::default()
    };
    assert_eq!(status_from_detail(unknown).code(), Code::Internal);
}

#[test]
fn batch_item_index_survives_and_foreign_statuses_have_no_detail() {
    let detail = EngineError::InvalidTemplate {
        modality: "iris left".into(),
        reason: "wrong length".into(),
    }
    .error_detail()
    .at_item(17);
    let status = status_from_detail(detail.clone());
    assert_eq!(error_detail_of(&status), Some(detail));
    assert_eq!(
        error_detail_of(&tonic::Status::deadline_exceeded("slow")),
        None
    );
    let garbage = tonic::Status::with_details(Code::Internal, "x", vec![0xff, 0xff].into());
    assert_eq!(error_detail_of(&garbage), None);
}

#[test]
fn batches_are_refused_whole_naming_the_bad_record() {
    use abis_matchers::iris::IrisLayout;
    let layout = IrisLayout::DAUGMAN_2048;
    let good = |id: &str| v1::Record {
        reference_id: id.into(),
        face: Some(v1::Face {
            embedding: vec![1.0; 512],
            image: Vec::new(),
        }),
        ..Default::default()
    };
    let ok = abis_proto::batch_into_engine(vec![good("a"), good("b")], &layout, "records");
    assert_eq!(ok.unwrap().len(), 2);
    let mut bad = good("c");
    bad.reference_id.clear();
    let err = abis_proto::batch_into_engine(vec![good("a"), good("b"), bad], &layout, "records")
        .unwrap_err();
    assert_eq!(err.index, Some(2));
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), Code::InvalidArgument);
    let detail = error_detail_of(&status).unwrap();
    assert_eq!(detail.item_index, Some(2));
    assert_eq!(detail.code, ErrorCode::InvalidRequest as i32);
    for n in [0, abis_proto::MAX_BATCH_ITEMS + 1] {
        let batch = (0..n).map(|i| good(&format!("p{i}"))).collect();
        let err = abis_proto::batch_into_engine(batch, &layout, "probes").unwrap_err();
        assert_eq!(err.index, None, "{n} items");
        assert!(matches!(err.error, ProtoError::OutOfRange { .. }));
        assert_eq!(error_detail_of(&err.to_status()).unwrap().item_index, None);
    }
}
