//! Every Shard RPC against a real node over plaintext gRPC.

use crate::harness::{duplicate, insert_all, range, records, start_plain};
use abis_proto::error_detail_of;
use abis_proto::routing::slot_of;
use abis_proto::v1::{self, ErrorCode};
use tonic::Code;

const PEOPLE: u64 = 40;
/// A fused score far above chance for 40 records (FPIR 1e-3 would be ~4.6) and far below a
/// mate's (a planted duplicate scores tens).
const THRESHOLD: f64 = 6.0;

fn code_of(status: &tonic::Status) -> ErrorCode {
    let detail = error_detail_of(status).expect("a typed error detail");
    ErrorCode::try_from(detail.code).expect("a known code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_identify_verify_get() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain("127.0.0.2", &dir.path().join("node"), &[]);
    let mut client = node.client().await;
    let records = records(PEOPLE);
    insert_all(&mut client, records.clone()).await;

    // Re-inserting identical content is ALREADY_PRESENT.
    let again = client
        .insert(v1::ShardInsertRequest {
            records: records[..3].to_vec(),
            map_epoch: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again
        .results
        .iter()
        .all(|r| r.outcome == v1::InsertOutcome::AlreadyPresent as i32));

    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.shard_id, "test-shard");
    assert_eq!(info.records, PEOPLE);
    assert_eq!(info.shape.unwrap().face_dim, 512);

    // A planted duplicate of person 17 finds person-17 first, complete over the shard.
    let target = "person-17";
    let probe = duplicate(17, "applicant-17");
    let identify = |slots: Vec<v1::SlotRange>, max_results: u32| v1::ShardIdentifyBatchRequest {
        probes: vec![probe.clone()],
        max_results,
        threshold_score: THRESHOLD,
        slots,
    };
    let result = client
        .identify_batch(identify(vec![], 5))
        .await
        .unwrap()
        .into_inner()
        .results
        .remove(0);
    assert_eq!(result.probe_reference_id, "applicant-17");
    assert!(result.is_complete());
    assert_eq!(result.records_searched, PEOPLE);
    assert_eq!(result.candidates.len(), 1, "{:?}", result.candidates);
    assert_eq!(result.candidates[0].reference_id, target);
    assert!(result.candidates[0].fused_score >= THRESHOLD);

    // Slot filter: a range holding the mate's slot keeps it; the rest of the gallery drops it.
    let slot = slot_of(target);
    let kept = client
        .identify_batch(identify(vec![range(slot, slot + 1)], 1))
        .await
        .unwrap()
        .into_inner()
        .results
        .remove(0);
    assert_eq!(kept.candidates.len(), 1);
    let mut others = vec![range(slot + 1, 4096)];
    if slot > 0 {
        others.push(range(0, slot));
    }
    let filtered = client
        .identify_batch(identify(others, 5))
        .await
        .unwrap()
        .into_inner()
        .results
        .remove(0);
    assert!(filtered.candidates.is_empty(), "{:?}", filtered.candidates);
    assert!(filtered.is_complete());

    // 1:1 verify: the mate matches, another person does not.
    let verify = |reference_id: &str| v1::ShardVerifyRequest {
        probe: Some(probe.clone()),
        reference_id: reference_id.into(),
        target_fmr: 1e-4,
    };
    let mate = client.verify(verify(target)).await.unwrap().into_inner();
    assert!(
        mate.is_match && mate.fused_score > mate.threshold,
        "{mate:?}"
    );
    let other = client
        .verify(verify("person-18"))
        .await
        .unwrap()
        .into_inner();
    assert!(!other.is_match, "{other:?}");
    let missing = client.verify(verify("nobody")).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // Get returns the stored record; irises are stored as sent.
    let got = client
        .get(v1::GetRecordRequest {
            reference_id: "person-5".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .record
        .unwrap();
    assert_eq!(got.reference_id, "person-5");
    assert_eq!(got.irises, records[5].irises);
    let missing = client
        .get(v1::GetRecordRequest {
            reference_id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // Delete: one removed, one unknown; the removed record is no longer found.
    let deleted = client
        .delete(v1::ShardDeleteRequest {
            reference_ids: vec![target.into(), "nobody".into()],
            map_epoch: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let outcomes: Vec<i32> = deleted.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            v1::DeleteOutcome::Deleted as i32,
            v1::DeleteOutcome::NotFound as i32
        ]
    );
    let after = client
        .identify_batch(identify(vec![], 5))
        .await
        .unwrap()
        .into_inner()
        .results
        .remove(0);
    assert!(after.candidates.is_empty());
    assert_eq!(after.records_searched, PEOPLE - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_scan_and_drop_slots() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain("127.0.0.3", &dir.path().join("node"), &[]);
    let mut client = node.client().await;
    let records = records(PEOPLE);
    insert_all(&mut client, records).await;
    let mut ids: Vec<String> = (0..PEOPLE).map(|i| format!("person-{i}")).collect();
    ids.sort();
    let low = range(0, 2048);
    let in_low = |id: &String| slot_of(id) < 2048;
    let low_ids: Vec<String> = ids.iter().filter(|id| in_low(id)).cloned().collect();
    assert!(!low_ids.is_empty() && low_ids.len() < ids.len());

    let count = client
        .count(v1::ShardCountRequest {
            slots: vec![low, range(2048, 4096), range(0, 4096)],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(count.records, PEOPLE);
    let per_range: Vec<u64> = count.ranges.iter().map(|r| r.records).collect();
    let n_low = low_ids.len() as u64;
    assert_eq!(per_range, [n_low, PEOPLE - n_low, PEOPLE]);
    assert_eq!(count.ranges[0].slots, Some(low));

    // Scan everything in pages of 7, in bytewise id order.
    let scan = |slots: Vec<v1::SlotRange>, after: &str| v1::ScanRecordsRequest {
        slots,
        after_reference_id: after.into(),
        page_size: 7,
    };
    let mut stream = client
        .scan_records(scan(vec![range(0, 4096)], ""))
        .await
        .unwrap()
        .into_inner();
    let mut pages = Vec::new();
    while let Some(page) = stream.message().await.unwrap() {
        assert!(!page.records.is_empty() && page.records.len() <= 7);
        assert_eq!(
            page.last_reference_id,
            page.records.last().unwrap().reference_id
        );
        pages.push(page);
    }
    let scanned: Vec<String> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.reference_id.clone()))
        .collect();
    assert_eq!(scanned, ids);
    assert_eq!(pages.len(), ids.len().div_ceil(7));

    // Resume after the second page: the rest, nothing repeated.
    let resume_from = pages[1].last_reference_id.clone();
    let mut stream = client
        .scan_records(scan(vec![range(0, 4096)], &resume_from))
        .await
        .unwrap()
        .into_inner();
    let mut rest = Vec::new();
    while let Some(page) = stream.message().await.unwrap() {
        rest.extend(page.records.into_iter().map(|r| r.reference_id));
    }
    assert_eq!(rest, ids[14..]);

    // A range scan returns exactly the records whose slot lies in it.
    let mut stream = client
        .scan_records(scan(vec![low], ""))
        .await
        .unwrap()
        .into_inner();
    let mut scanned_low = Vec::new();
    while let Some(page) = stream.message().await.unwrap() {
        scanned_low.extend(page.records.into_iter().map(|r| r.reference_id));
    }
    assert_eq!(scanned_low, low_ids);

    // Drop the low half (epoch-fenced, epoch required).
    let no_epoch = client
        .drop_slots(v1::DropSlotsRequest {
            slots: vec![low],
            map_epoch: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(no_epoch.code(), Code::InvalidArgument);
    let dropped = client
        .drop_slots(v1::DropSlotsRequest {
            slots: vec![low],
            map_epoch: 3,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dropped.deleted, n_low);
    let count = client
        .count(v1::ShardCountRequest { slots: vec![low] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(count.records, PEOPLE - n_low);
    assert_eq!(count.ranges[0].records, 0);
    let gone = client
        .get(v1::GetRecordRequest {
            reference_id: low_ids[0].clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_epochs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain("127.0.0.4", &dir.path().join("node"), &[]);
    let mut client = node.client().await;
    let recs = records(3);
    let insert =
        |records: Vec<v1::Record>, map_epoch| v1::ShardInsertRequest { records, map_epoch };
    client.insert(insert(recs[..1].to_vec(), 5)).await.unwrap();
    let stale = client
        .insert(insert(recs[1..2].to_vec(), 4))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);
    assert_eq!(code_of(&stale), ErrorCode::FailedPrecondition);
    let stale_delete = client
        .delete(v1::ShardDeleteRequest {
            reference_ids: vec!["person-0".into()],
            map_epoch: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(stale_delete.code(), Code::FailedPrecondition);
    let stale_drop = client
        .drop_slots(v1::DropSlotsRequest {
            slots: vec![range(0, 4096)],
            map_epoch: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(stale_drop.code(), Code::FailedPrecondition);
    // Nothing was written by the refused calls; epoch 0 (tools) and newer epochs pass.
    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((info.records, info.map_epoch), (1, 5));
    client.insert(insert(recs[1..2].to_vec(), 0)).await.unwrap();
    client.insert(insert(recs[2..3].to_vec(), 6)).await.unwrap();
    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((info.records, info.map_epoch), (3, 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_invalid_argument_and_conflicts_are_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain("127.0.0.5", &dir.path().join("node"), &[]);
    let mut client = node.client().await;
    let mut recs = records(3);
    insert_all(&mut client, recs[..1].to_vec()).await;

    // Batch refused whole, naming the bad item: a wrong face dimension in record 1.
    let mut bad = recs.clone();
    bad[1].face.as_mut().unwrap().embedding.truncate(100);
    let err = client
        .insert(v1::ShardInsertRequest {
            records: bad,
            map_epoch: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let detail = error_detail_of(&err).unwrap();
    assert_eq!(detail.item_index, Some(1), "{detail:?}");
    assert_eq!(detail.code, ErrorCode::InvalidTemplate as i32);

    let invalid = [
        client
            .insert(v1::ShardInsertRequest {
                records: vec![],
                map_epoch: 0,
            })
            .await
            .unwrap_err(),
        client
            .get(v1::GetRecordRequest {
                reference_id: "x".repeat(65),
            })
            .await
            .unwrap_err(),
        client
            .identify_batch(v1::ShardIdentifyBatchRequest {
                probes: vec![recs[0].clone()],
                max_results: 0,
                threshold_score: THRESHOLD,
                slots: vec![],
            })
            .await
            .unwrap_err(),
        client
            .identify_batch(v1::ShardIdentifyBatchRequest {
                probes: vec![recs[0].clone()],
                max_results: 3,
                threshold_score: THRESHOLD,
                slots: vec![range(10, 10)],
            })
            .await
            .unwrap_err(),
        client
            .identify_batch(v1::ShardIdentifyBatchRequest {
                probes: vec![recs[0].clone()],
                max_results: 3,
                threshold_score: -1.0,
                slots: vec![],
            })
            .await
            .unwrap_err(),
        client
            .verify(v1::ShardVerifyRequest {
                probe: Some(recs[0].clone()),
                reference_id: "person-0".into(),
                target_fmr: 1.5,
            })
            .await
            .unwrap_err(),
        client
            .count(v1::ShardCountRequest {
                slots: vec![range(0, 4097)],
            })
            .await
            .unwrap_err(),
        client
            .scan_records(v1::ScanRecordsRequest {
                slots: vec![],
                after_reference_id: String::new(),
                page_size: 0,
            })
            .await
            .unwrap_err(),
    ];
    for (i, status) in invalid.iter().enumerate() {
        assert_eq!(status.code(), Code::InvalidArgument, "case {i}: {status:?}");
        assert!(error_detail_of(status).is_some(), "case {i}");
    }

    // A record colliding with other content under an enrolled id fails alone; the others go in.
    recs[0].face.as_mut().unwrap().embedding.reverse();
    let mixed = client
        .insert(v1::ShardInsertRequest {
            records: recs.clone(),
            map_epoch: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let conflict = mixed.results[0].error.as_ref().expect("a per-record error");
    assert_eq!(conflict.code, ErrorCode::AlreadyExists as i32);
    assert_eq!(mixed.results[0].outcome, 0);
    for r in &mixed.results[1..] {
        assert_eq!(r.outcome, v1::InsertOutcome::Inserted as i32, "{r:?}");
    }
    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.records, 3);
}

fn fenced<T>(message: T, cluster: &str, epoch: u64, shard: &str, uid: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    let m = r.metadata_mut();
    m.insert("abis-cluster-id", cluster.parse().unwrap());
    m.insert("abis-map-epoch", epoch.to_string().parse().unwrap());
    m.insert("abis-shard-id", shard.parse().unwrap());
    m.insert("abis-node-uid", uid.parse().unwrap());
    r
}

/// Reads are fenced like writes: a call meant for another shard id, another gallery (the node
/// was wiped or replaced at this address), another cluster or an older map epoch is refused
/// before anything is searched, counted or written. The node adopts the first cluster a write
/// names, reports it with its gallery id and incarnation in Info, and summarises its slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_fenced_by_identity_cluster_and_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain("127.0.0.6", &dir.path().join("node"), &[]);
    let mut client = node.client().await;
    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.node_uid.len(), 32, "{}", info.node_uid);
    assert_eq!(info.cluster_id, "", "no cluster before a fenced write");
    assert_ne!(info.incarnation, 0);
    let uid = info.node_uid.clone();
    let recs = records(4);
    let insert = v1::ShardInsertRequest {
        records: recs.clone(),
        map_epoch: 0,
    };
    client
        .insert(fenced(insert, "cluster-a", 3, "test-shard", &uid))
        .await
        .unwrap();
    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((info.cluster_id.as_str(), info.map_epoch), ("cluster-a", 3));

    let identify = || v1::ShardIdentifyBatchRequest {
        probes: vec![duplicate(1, "probe")],
        max_results: 5,
        threshold_score: THRESHOLD,
        slots: vec![],
    };
    let ok = client
        .identify_batch(fenced(identify(), "cluster-a", 3, "test-shard", &uid))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.results[0].candidates[0].reference_id, "person-1");
    // A read by an older map that moved nothing away is still right...
    client
        .identify_batch(fenced(identify(), "cluster-a", 2, "test-shard", &uid))
        .await
        .unwrap();
    // ...but once slots were dropped under epoch 3, maps older than that read nothing here.
    let empty = (0..4096u32)
        .find(|&s| (0..4).all(|i| slot_of(&format!("person-{i}")) != s))
        .unwrap();
    client
        .drop_slots(fenced(
            v1::DropSlotsRequest {
                slots: vec![range(empty, empty + 1)],
                map_epoch: 3,
            },
            "cluster-a",
            3,
            "test-shard",
            &uid,
        ))
        .await
        .unwrap();
    for (why, cluster, epoch, shard, node_uid) in [
        (
            "another cluster",
            "cluster-b",
            3,
            "test-shard",
            uid.as_str(),
        ),
        ("an older epoch", "cluster-a", 2, "test-shard", uid.as_str()),
        ("another shard id", "cluster-a", 3, "s9", uid.as_str()),
        (
            "another gallery",
            "cluster-a",
            3,
            "test-shard",
            "00000000000000000000000000000001",
        ),
    ] {
        let err = client
            .identify_batch(fenced(identify(), cluster, epoch, shard, node_uid))
            .await
            .expect_err(why);
        assert_eq!(
            code_of(&err),
            ErrorCode::FailedPrecondition,
            "{why}: {err:?}"
        );
        let err = client
            .count(fenced(
                v1::ShardCountRequest { slots: vec![] },
                cluster,
                epoch,
                shard,
                node_uid,
            ))
            .await
            .expect_err(why);
        assert_eq!(err.code(), Code::FailedPrecondition, "{why}");
        let err = client
            .insert(fenced(
                v1::ShardInsertRequest {
                    records: records(6)[5..].to_vec(),
                    map_epoch: 0,
                },
                cluster,
                epoch,
                shard,
                node_uid,
            ))
            .await
            .expect_err(why);
        assert_eq!(err.code(), Code::FailedPrecondition, "{why}");
    }
    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.records, 4, "refused writes stored nothing");

    // Per-slot summaries: counts add up; the slot of a record has a non-zero digest.
    let summaries = client
        .summaries(fenced(
            v1::ShardSummariesRequest {
                slots: vec![range(0, 4096)],
            },
            "cluster-a",
            3,
            "test-shard",
            &uid,
        ))
        .await
        .unwrap()
        .into_inner()
        .slots;
    assert_eq!(summaries.len(), 4096);
    assert_eq!(summaries.iter().map(|s| s.records).sum::<u64>(), 4);
    let slot = slot_of("person-2") as usize;
    assert!(summaries[slot].records >= 1 && summaries[slot].digest != 0);
}

/// A request over the message size limit is the caller's error with a typed detail
/// (RESOURCE_EXHAUSTED, TOO_LARGE), not a bare transport error, and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_get_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain(
        "127.0.0.7",
        &dir.path().join("node"),
        &["--max-message-bytes", "1048576"],
    );
    let mut client = node.client().await;
    let err = client
        .insert(v1::ShardInsertRequest {
            records: records(600),
            map_epoch: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert_eq!(code_of(&err), ErrorCode::TooLarge);
    assert!(err.message().contains("limit"), "{}", err.message());
    let info = client
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.records, 0);
}
