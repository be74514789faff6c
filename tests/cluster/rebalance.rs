//! Scaling out and in online: a 4th node joins a 3-node cluster (R = 2) holding 10,000 people
//! and takes its share while identifies, inserts and deletes run; then a node dies and is
//! drained (its slots copied from their other replicas) and removed while identifies run. No
//! acknowledged write is lost and no identify is incomplete or wrong meanwhile.

use crate::harness::*;
use abis_proto::v1::admin_client::AdminClient;
use abis_proto::v1::shard_client::ShardClient;
use abis_proto::v1::{self, RebalanceState, ShardState};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

const N: u64 = 10_000;
const TOKEN: &str = "ops-token";

type Admin = AdminClient<InterceptedService<Channel, Bearer>>;

async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn admin_of(addr: SocketAddr) -> Admin {
    AdminClient::with_interceptor(channel(addr).await, Bearer(TOKEN.into()))
}

/// Planted duplicates of persons `k · 487` and the reference each must find.
fn planted() -> (Vec<v1::Record>, Vec<String>) {
    let persons: Vec<u64> = (0..20).map(|k| k * 487).collect();
    let probes = persons
        .iter()
        .map(|&p| duplicate(p, &format!("dup-{p}")))
        .collect();
    let expected = persons
        .iter()
        .map(|&p| records(p..p + 1).remove(0).reference_id)
        .collect();
    (probes, expected)
}

/// Every probe finds its original first, over a complete search of at least `at_least`.
fn check_found(
    results: &[v1::IdentifyResult],
    expected: &[String],
    at_least: u64,
) -> Result<(), String> {
    for (r, want) in results.iter().zip(expected) {
        let complete = r.completeness.as_ref().is_some_and(|c| c.is_complete());
        let top = r.candidates.first().map(|c| c.reference_id.as_str());
        if !complete || top != Some(want.as_str()) || r.records_searched < at_least {
            return Err(format!(
                "probe {}: complete {complete}, top {top:?} (want {want}), searched {}",
                r.probe_reference_id, r.records_searched
            ));
        }
    }
    Ok(())
}

async fn wait_done(admin: &mut Admin) -> v1::RebalanceStatusResponse {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let s = admin
            .rebalance_status(v1::RebalanceStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        match s.state() {
            RebalanceState::Done => return s,
            RebalanceState::Failed => panic!("rebalance failed: {}", s.failure),
            _ => {}
        }
        assert!(Instant::now() < deadline, "rebalance stuck: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Live records on the node at `addr`, asked directly.
async fn node_records(addr: SocketAddr) -> u64 {
    ShardClient::new(channel(addr).await)
        .info(v1::ShardNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner()
        .records
}

async fn count(c: &mut Client) -> u64 {
    let r = c
        .reference_count(v1::ReferenceCountRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(r.completeness.unwrap().is_complete());
    r.count
}

/// What the writer acknowledged while the rebalance ran.
#[derive(Default)]
struct Written {
    inserted: Vec<v1::Record>,
    deleted: Vec<String>,
}

/// Inserts fresh people from `first` on and deletes a fifth of each batch again, until `stop`,
/// keeping what was acknowledged.
async fn write_until(mut c: Client, stop: Arc<AtomicBool>, first: u64) -> Written {
    let mut written = Written::default();
    let mut next = first;
    while !stop.load(Ordering::Acquire) {
        let batch = records(next..next + 25);
        next += 25;
        let r = c
            .insert(v1::InsertRequest {
                records: batch.clone(),
            })
            .await
            .expect("insert during rebalance")
            .into_inner();
        for (rec, res) in batch.into_iter().zip(r.results) {
            assert!(res.error.is_none(), "insert during rebalance: {res:?}");
            written.inserted.push(rec);
        }
        let ids: Vec<String> = written.inserted[written.inserted.len() - 25..]
            .iter()
            .take(5)
            .map(|r| r.reference_id.clone())
            .collect();
        let r = c
            .delete(v1::DeleteRequest {
                reference_ids: ids.clone(),
            })
            .await
            .expect("delete during rebalance")
            .into_inner();
        for (id, res) in ids.into_iter().zip(r.results) {
            assert_eq!(res.outcome, v1::DeleteOutcome::Deleted as i32, "{res:?}");
            written.deleted.push(id);
        }
    }
    written
}

/// Identifies the planted duplicates until `stop`; returns the number of complete, correct
/// rounds, or the first wrong answer.
async fn identify_until(
    mut c: Client,
    stop: Arc<AtomicBool>,
    probes: Vec<v1::Record>,
    expected: Vec<String>,
) -> Result<usize, String> {
    let mut rounds = 0;
    while !stop.load(Ordering::Acquire) {
        let results = identify(&mut c, probes.clone(), false)
            .await
            .map_err(|s| format!("identify during rebalance: {s:?}"))?;
        check_found(&results, &expected, N - 1_000)?;
        rounds += 1;
    }
    Ok(rounds)
}

/// Runs `step` (an Admin change that rebalances) while identifies run, and writes too when
/// `first_insert` is given.
async fn under_load(
    coord: SocketAddr,
    admin: &mut Admin,
    first_insert: Option<u64>,
    step: impl std::future::Future<Output = ()>,
) -> (Written, usize, v1::RebalanceStatusResponse) {
    let (probes, expected) = planted();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = match first_insert {
        Some(first) => Some(tokio::spawn(write_until(
            client(coord, TOKEN).await,
            stop.clone(),
            first,
        ))),
        None => None,
    };
    let reader = tokio::spawn(identify_until(
        client(coord, TOKEN).await,
        stop.clone(),
        probes,
        expected,
    ));
    step.await;
    let status = wait_done(admin).await;
    stop.store(true, Ordering::Release);
    let written = match writer {
        Some(w) => w.await.unwrap(),
        None => Written::default(),
    };
    let rounds = reader.await.unwrap().unwrap();
    (written, rounds, status)
}

/// Every acknowledged insert verifies against itself; every acknowledged delete is gone.
async fn check_written(c: &mut Client, written: &Written) {
    let deleted: BTreeSet<&String> = written.deleted.iter().collect();
    for rec in written
        .inserted
        .iter()
        .filter(|r| !deleted.contains(&r.reference_id))
    {
        let v = c
            .verify(v1::VerifyRequest {
                probe: Some(rec.clone()),
                reference_id: rec.reference_id.clone(),
                target_fmr: 1e-4,
            })
            .await
            .unwrap_or_else(|s| panic!("{} lost: {s:?}", rec.reference_id))
            .into_inner();
        assert!(v.is_match, "{}: {v:?}", rec.reference_id);
    }
    for id in &written.deleted {
        let err = c
            .verify(v1::VerifyRequest {
                probe: Some(written.inserted.first().cloned().unwrap_or_default()),
                reference_id: id.clone(),
                target_fmr: 1e-4,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{id} came back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fourth_node_joins_and_a_node_leaves_while_the_cluster_serves() {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<NodeSpec> = (1..=4)
        .map(|i| NodeSpec::new(dir.path(), &format!("s{i}"), &format!("127.0.7.{i}")))
        .collect();
    let mut nodes: Vec<Proc> = specs[..3].iter().map(|s| s.start(&[])).collect();
    std::fs::write(dir.path().join("tokens"), format!("{TOKEN} all operator\n")).unwrap();
    let mut args: Vec<String> = specs[..3].iter().flat_map(|s| s.flag()).collect();
    args.extend(["--insecure-plaintext", "--token-file"].map(String::from));
    args.push(dir.path().join("tokens").display().to_string());
    args.extend(["--shard-timeout-ms", "20000"].map(String::from));
    let coord_dir = dir.path().join("coord");
    let coord = coordinator("127.0.7.10", &coord_dir, &args);
    let mut c = client(coord.addr, TOKEN).await;
    let mut admin = admin_of(coord.addr).await;

    insert_all(&mut c, records(0..N)).await;
    assert_eq!(count(&mut c).await, N);
    let (probes, expected) = planted();
    let found = identify(&mut c, probes.clone(), false).await.unwrap();
    check_found(&found, &expected, N).unwrap();

    // A node that is not running cannot be added; s4 can, and joins empty.
    let err = admin
        .add_shard(v1::AddShardRequest {
            address: specs[3].addr.to_string(),
            shard_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    nodes.push(specs[3].start(&[]));
    let added = admin
        .add_shard(v1::AddShardRequest {
            address: specs[3].addr.to_string(),
            shard_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .shard
        .unwrap();
    assert_eq!(added.shard_id, "s4");
    assert_eq!(added.state(), ShardState::Joining);
    assert!(added.slots.is_empty());

    // Rebalance while inserting, deleting and identifying.
    let (written, rounds, status) = under_load(coord.addr, &mut admin, Some(N), async {
        admin_start(coord.addr).await;
    })
    .await;
    eprintln!(
        "rebalance: {} moves, {} records copied, {rounds} identify rounds, {} inserts and {} \
         deletes acknowledged meanwhile",
        status.moves_total,
        status.records_copied,
        written.inserted.len(),
        written.deleted.len()
    );
    assert!(status.moves_total > 0 && status.moves_done == status.moves_total);
    assert!(status.records_copied >= N / 2, "{status:?}");
    assert!(rounds > 0, "no identify ran during the rebalance");
    let total = N + written.inserted.len() as u64 - written.deleted.len() as u64;
    assert_eq!(count(&mut c).await, total);

    // Every node holds an even share, only of its own slots (given-up ones were dropped).
    let list = admin
        .list_shards(v1::ListShardsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.shards.len(), 4);
    let mut held = 0;
    for (shard, spec) in list.shards.iter().zip(&specs) {
        assert_eq!(shard.state(), ShardState::Active, "{shard:?}");
        let slots: u32 = shard.slots.iter().map(|r| r.end - r.start).sum();
        assert!(
            slots.abs_diff(2048) <= 1,
            "{}: {slots} slots",
            shard.shard_id
        );
        held += node_records(spec.addr).await;
    }
    assert_eq!(
        held,
        2 * total,
        "records held over all nodes vs R x gallery"
    );
    check_written(&mut c, &written).await;
    let after = identify(&mut c, probes.clone(), false).await.unwrap();
    check_found(&after, &expected, total).unwrap();

    // s1 dies for good: drain it (its slots are copied from their other replicas) while
    // identifies run, then remove it. Writes to its slots are refused while it is down (every
    // replica must acknowledge), so this phase only reads.
    nodes.remove(0).kill();
    let (_, rounds2, _) = under_load(coord.addr, &mut admin, None, async {
        let mut a = admin_of(coord.addr).await;
        let s = a
            .drain_shard(v1::DrainShardRequest {
                shard_id: "s1".into(),
                start_rebalance: true,
            })
            .await
            .unwrap()
            .into_inner()
            .shard
            .unwrap();
        assert_eq!(s.state(), ShardState::Draining);
    })
    .await;
    assert!(rounds2 > 0);
    let s1 = admin
        .list_shards(v1::ListShardsRequest {})
        .await
        .unwrap()
        .into_inner()
        .shards
        .remove(0);
    assert_eq!(
        (s1.shard_id.as_str(), s1.state()),
        ("s1", ShardState::Drained)
    );
    assert!(s1.slots.is_empty());
    admin
        .remove_shard(v1::RemoveShardRequest {
            shard_id: "s1".into(),
        })
        .await
        .unwrap();
    assert_eq!(count(&mut c).await, total);
    let mut held = 0;
    for spec in &specs[1..] {
        held += node_records(spec.addr).await;
    }
    assert_eq!(
        held,
        2 * total,
        "every record on two of the three nodes left"
    );
    check_written(&mut c, &written).await;
    // Writes work again everywhere.
    let fresh = records(3 * N..3 * N + 50);
    insert_all(&mut c, fresh).await;
    let total = total + 50;
    assert_eq!(count(&mut c).await, total);

    // The map survives a coordinator restart, even one given the stale --shard flags.
    drop(coord);
    let coord = coordinator("127.0.7.10", &coord_dir, &args);
    let mut c = client(coord.addr, TOKEN).await;
    let list = admin_of(coord.addr)
        .await
        .list_shards(v1::ListShardsRequest {})
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = list.shards.iter().map(|s| s.shard_id.as_str()).collect();
    assert_eq!(ids, ["s2", "s3", "s4"]);
    assert_eq!(count(&mut c).await, total);
    let last = identify(&mut c, probes, false).await.unwrap();
    check_found(&last, &expected, total).unwrap();
}

async fn admin_start(addr: SocketAddr) {
    let s = admin_of(addr)
        .await
        .start_rebalance(v1::StartRebalanceRequest {})
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(s.state(), RebalanceState::Running);
}
