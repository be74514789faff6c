//! Start-up refusals, graceful shutdown and restart on the same data directory.

use crate::harness::{insert_all, range, records, start_plain, try_start};
use abis_proto::v1;

#[test]
fn refuses_to_start_without_tls_unless_plaintext_is_explicit() {
    let dir = tempfile::tempdir().unwrap();
    let Err((status, log)) = try_start("127.0.0.9", &dir.path().join("node"), &[]) else {
        panic!("a node without TLS settings started");
    };
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(log.contains("--insecure-plaintext"), "{log}");
    let Err((status, _)) = try_start(
        "127.0.0.9",
        &dir.path().join("node"),
        &["--tls-cert", "cert.pem", "--tls-key", "key.pem"],
    ) else {
        panic!("a node with partial TLS settings started");
    };
    assert_eq!(status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_calls_in_flight_and_restart_keeps_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = start_plain("127.0.0.10", &data, &[]);
    let mut client = node.client().await;
    insert_all(&mut client, records(12)).await;
    client
        .drop_slots(v1::DropSlotsRequest {
            slots: vec![range(4095, 4096)],
            map_epoch: 8,
        })
        .await
        .unwrap();
    let before = client
        .count(v1::ShardCountRequest { slots: vec![] })
        .await
        .unwrap()
        .into_inner()
        .records;

    // A scan in flight, one record per message, read slowly across the signal.
    let mut stream = client
        .scan_records(v1::ScanRecordsRequest {
            slots: vec![range(0, 4096)],
            after_reference_id: String::new(),
            page_size: 1,
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    let mut seen = first.records.len() as u64;
    let pid_waiter = tokio::task::spawn_blocking(move || node.terminate());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    while let Some(page) = stream.message().await.expect("the scan finishes cleanly") {
        seen += page.records.len() as u64;
    }
    assert_eq!(seen, before);
    let status = pid_waiter.await.unwrap();
    assert!(status.success(), "exit status {status}");

    // Restart on the same directory: records and the epoch fence are still there.
    let node = start_plain("127.0.0.10", &data, &[]);
    let mut client = node.client().await;
    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((info.records, info.map_epoch), (before, 8));
    let got = client
        .get(v1::GetRecordRequest {
            reference_id: "person-3".into(),
        })
        .await;
    let slot_3 = abis_proto::slot_of("person-3");
    assert_eq!(got.is_ok(), slot_3 != 4095);
    let stale = client
        .insert(v1::ShardInsertRequest {
            records: records(1),
            map_epoch: 7,
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::FailedPrecondition);
    let status = node.terminate();
    assert!(status.success());
}
