//! Identify across shard nodes, replication under a killed node, and fail-closed answers.

use crate::harness::*;
use abis_proto::v1::{self, completeness::Status as Verdict};
use abis_proto::{slot_of, SLOT_COUNT};
use tonic::Code;

const N: u64 = 10_000;

fn dups() -> Vec<v1::Record> {
    (0..20)
        .map(|k| duplicate(k * 97, &format!("dup-{k}")))
        .collect()
}

fn assert_found(results: &[v1::IdentifyResult]) {
    for (k, r) in results.iter().enumerate() {
        let top = r.candidates.first().map(|c| c.reference_id.clone());
        let expected = abis_proto::record_to_proto(
            &population().enrolment(k as u64 * 97),
            &abis_engine::GalleryConfig::default().iris_layout,
        )
        .reference_id;
        assert_eq!(top, Some(expected), "probe {k}: {r:?}");
        assert_eq!(r.records_searched, N);
        assert!(r.completeness.as_ref().unwrap().is_complete());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_cluster_survives_a_dead_node_and_repairs_it_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<NodeSpec> = (1..=3)
        .map(|i| NodeSpec::new(dir.path(), &format!("s{i}"), &format!("127.0.4.{i}")))
        .collect();
    let mut nodes: Vec<Option<Proc>> = specs.iter().map(|s| Some(s.start(&[]))).collect();
    std::fs::write(
        dir.path().join("tokens"),
        "secret-1 admin ops\nsecret-2 enrol,identify,verify registration\n",
    )
    .unwrap();
    let mut args: Vec<String> = specs.iter().flat_map(|s| s.flag()).collect();
    args.extend(["--insecure-plaintext", "--token-file"].map(String::from));
    args.push(dir.path().join("tokens").display().to_string());
    args.extend(
        [
            "--shard-timeout-ms",
            "5000",
            "--metrics-listen",
            "127.0.4.10:0",
        ]
        .map(String::from),
    );
    let coord = coordinator("127.0.4.10", &dir.path().join("coord"), &args);
    let metrics = coord.metrics.expect("metrics address announced");

    // Unauthenticated and wrongly authenticated clients are refused.
    for token in ["", "wrong"] {
        let mut c = client(coord.addr, token).await;
        let err = c.ping(v1::PingRequest {}).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{token:?}");
    }
    let mut c = client(coord.addr, "secret-2").await;
    assert_eq!(
        c.ping(v1::PingRequest {})
            .await
            .unwrap()
            .into_inner()
            .api_version,
        "abis.v1"
    );

    insert_all(&mut c, records(0..N)).await;
    let count = c
        .reference_count(v1::ReferenceCountRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(count.count, N);
    let found = identify(&mut c, dups(), false).await.unwrap();
    assert_found(&found);

    // The ordinary API token cannot administer the cluster.
    let err = admin(coord.addr, "secret-2")
        .await
        .drain_shard(v1::DrainShardRequest {
            shard_id: "s1".into(),
            start_rebalance: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // Kill s1: identify is unchanged (R = 2). Writes to its slots are acknowledged once the
    // surviving replica holds them, marked repair pending: s1 is noted behind for those slots.
    nodes[0].take().unwrap().kill();
    let again = identify(&mut c, dups(), false).await.unwrap();
    assert_eq!(again, found);
    let fresh = records(N..N + 40);
    let r = c
        .insert(v1::InsertRequest {
            records: fresh.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let map = ListedMap::fetch(coord.addr).await;
    let (mut pending, mut whole) = (0, 0);
    let mut on_s1 = Vec::new();
    for (rec, res) in fresh.iter().zip(&r.results) {
        assert_eq!(res.outcome, v1::InsertOutcome::Inserted as i32, "{res:?}");
        assert!(res.error.is_none(), "{res:?}");
        if map.holds("s1", slot_of(&rec.reference_id)) {
            assert!(res.repair_pending, "{res:?}");
            on_s1.push(rec.reference_id.clone());
            pending += 1;
        } else {
            assert!(!res.repair_pending, "{res:?}");
            whole += 1;
        }
    }
    assert!(pending > 0 && whole > 0, "{pending} {whole}");
    let behind = map
        .0
        .iter()
        .find(|s| s.shard_id == "s1")
        .unwrap()
        .slots_behind;
    assert!(
        behind as usize >= 1 && behind as usize <= pending,
        "{behind}"
    );
    // Every acknowledged record is found, and counted once.
    assert_eq!(wait_complete(&mut c).await, N + 40);
    // Operators see the dead node and the calls in the coordinator's metrics.
    let text = abis_server_kit::metrics::http_get(metrics, "/metrics").unwrap();
    for line in [
        "abis_coordinator_shards 3",
        "abis_coordinator_shards_live 2",
        "abis_coordinator_rebalance_running 0",
        "abis_coordinator_requests_total{code=\"OK\",method=\"Ping\"} 1",
        "abis_coordinator_requests_total{code=\"OK\",method=\"IdentifyBatch\"} 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    // Restart s1: it is compared with its peers, repaired from them, and then holds every
    // record it missed; identify stays complete throughout.
    nodes[0] = Some(specs[0].start(&[]));
    let shards = wait_repaired(coord.addr, "secret-1").await;
    assert!(shards.iter().all(|s| s.live));
    let mut s1 = shard(specs[0].addr).await;
    for id in &on_s1 {
        s1.get(v1::GetRecordRequest {
            reference_id: id.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("{id} missing on the repaired node: {e:?}"));
    }
    let r = c
        .insert(v1::InsertRequest { records: fresh })
        .await
        .unwrap()
        .into_inner();
    assert!(
        r.results
            .iter()
            .all(|x| x.outcome == v1::InsertOutcome::AlreadyPresent as i32 && !x.repair_pending),
        "{r:?}"
    );
    let after = identify(&mut c, dups(), false).await.unwrap();
    for res in &after {
        assert!(res.completeness.as_ref().unwrap().is_complete());
        assert_eq!(res.records_searched, N + 40);
    }
}

/// The shard map as Admin.ListShards gives it.
struct ListedMap(Vec<v1::ShardInfo>);

impl ListedMap {
    async fn fetch(addr: std::net::SocketAddr) -> Self {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut admin =
            v1::admin_client::AdminClient::with_interceptor(channel, Bearer("secret-1".into()));
        let list = admin
            .list_shards(v1::ListShardsRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.slot_count, SLOT_COUNT);
        assert_eq!(list.replication_factor, 2);
        Self(list.shards)
    }

    fn holds(&self, shard: &str, slot: u32) -> bool {
        self.0
            .iter()
            .any(|s| s.shard_id == shard && s.slots.iter().any(|r| r.contains(slot)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreplicated_cluster_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<NodeSpec> = (1..=3)
        .map(|i| NodeSpec::new(dir.path(), &format!("s{i}"), &format!("127.0.5.{i}")))
        .collect();
    let mut nodes: Vec<Option<Proc>> = specs.iter().map(|s| Some(s.start(&[]))).collect();
    let mut args: Vec<String> = specs.iter().flat_map(|s| s.flag()).collect();
    args.extend(["--insecure-plaintext", "--replication", "1"].map(String::from));
    let coord = coordinator("127.0.5.10", &dir.path().join("coord"), &args);
    let mut c = client(coord.addr, "").await;
    insert_all(&mut c, records(0..300)).await;
    let probes = vec![duplicate(7, "probe-7")];
    assert!(identify(&mut c, probes.clone(), false).await.unwrap()[0]
        .completeness
        .as_ref()
        .unwrap()
        .is_complete());

    nodes[1].take().unwrap().kill();
    let err = identify(&mut c, probes.clone(), false).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let partial = identify(&mut c, probes.clone(), true).await.unwrap();
    let verdict = partial[0].completeness.clone().unwrap();
    assert_eq!(verdict.status, Verdict::Incomplete as i32);
    let lost: u32 = verdict
        .unsearched
        .iter()
        .flat_map(|u| &u.slots)
        .map(|r| r.len())
        .sum();
    assert!(lost > 1000 && lost < 2000, "{lost}");
    assert!(verdict.unsearched.iter().all(|u| u.shard_ids == ["s2"]));
    let count = c
        .reference_count(v1::ReferenceCountRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        count.completeness.unwrap().status,
        Verdict::Incomplete as i32
    );
    assert!(count.count < 300);

    nodes[1] = Some(specs[1].start(&[]));
    // Read again once the coordinator has verified the restarted node.
    assert_eq!(wait_complete(&mut c).await, 300);
    let back = identify(&mut c, probes, false).await.unwrap();
    assert!(back[0].completeness.as_ref().unwrap().is_complete());
    assert_eq!(back[0].records_searched, 300);
}
