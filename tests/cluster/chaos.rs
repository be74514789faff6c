//! A bounded chaos test: rounds of inserts, identifies and de-dup jobs running while a shard
//! node or the coordinator is SIGKILLed at a random moment and restarted, every fourth node
//! victim with its data directory wiped. After each round: no acknowledged record is missing,
//! no identify that answered COMPLETE missed its planted duplicate, every job ends DONE with
//! its duplicates found, and a wiped node is repaired and read again.
//!
//! The victims and the moments are drawn from a seeded generator (`CHAOS_SEED`, default 7;
//! `CHAOS_ROUNDS`, default 20), so a failing run can be replayed.

use crate::harness::*;
use abis_proto::v1::{self, JobState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const BASE: u64 = 300;
/// Persons a round may insert (in batches of `BATCH`).
const PER_ROUND: u64 = 10_000;
const BATCH: u64 = 5;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The person whose record chaos round `round` inserts as its `i`-th.
fn person(round: u64, i: u64) -> u64 {
    1_000 + round * PER_ROUND + i
}

/// How many of `people` the gallery does not verify against their own record.
async fn count_unverified(c: &mut Client, people: impl IntoIterator<Item = u64>) -> u64 {
    let mut unverified = 0;
    for p in people {
        let record = records(p..p + 1).remove(0);
        let verdict = c
            .verify(v1::VerifyRequest {
                reference_id: record.reference_id.clone(),
                probe: Some(record),
                target_fmr: 1e-6,
            })
            .await;
        if !verdict.is_ok_and(|v| v.into_inner().is_match) {
            unverified += 1;
        }
    }
    unverified
}

async fn connect(addr: SocketAddr) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
        {
            return abis_proto::v1::abis_client::AbisClient::with_interceptor(
                channel,
                Bearer("chaos-token".into()),
            )
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        }
        assert!(
            Instant::now() < deadline,
            "the coordinator did not come back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What one round saw.
#[derive(Default, Debug)]
struct Tally {
    acked: Vec<u64>,
    complete_identifies: u64,
    false_no_match: u64,
    refused_identifies: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_random_kills_and_wipes() {
    let seed = env_u64("CHAOS_SEED", 7);
    let rounds = env_u64("CHAOS_ROUNDS", 20);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<NodeSpec> = (1..=3)
        .map(|i| NodeSpec::new(dir.path(), &format!("s{i}"), &format!("127.0.13.{i}")))
        .collect();
    let mut nodes: Vec<Option<Proc>> = specs.iter().map(|s| Some(s.start(&[]))).collect();
    std::fs::write(dir.path().join("tokens"), "chaos-token all chaos\n").unwrap();
    let mut args: Vec<String> = specs.iter().flat_map(|s| s.flag()).collect();
    args.extend(
        [
            "--insecure-plaintext",
            "--replication",
            "2",
            "--shard-timeout-ms",
            "3000",
            "--job-attempts",
            "1000",
            "--job-retry-ms",
            "200",
            "--token-file",
        ]
        .map(String::from),
    );
    args.push(dir.path().join("tokens").display().to_string());
    let coord_dir = dir.path().join("coord");
    let listen = free_addr("127.0.13.10");
    let mut coord = Some(coordinator_at(&listen.to_string(), &coord_dir, &args));
    let mut c = connect(listen).await;
    insert_all(&mut c, records(0..BASE)).await;
    let mut acked: BTreeSet<u64> = (0..BASE).collect();
    let (mut wiped, mut lost, mut false_no_match, mut complete, mut refused) = (0, 0, 0, 0, 0);
    let started = Instant::now();

    for round in 0..rounds {
        // Every fourth round wipes a node's data directory; the others kill a node or the
        // coordinator.
        let wipe = round % 4 == 3;
        let victim = rng.gen_range(0..if wipe { 3usize } else { 4 });
        let pause = Duration::from_millis(rng.gen_range(0..400));
        let known: Vec<u64> = acked.iter().copied().collect();
        let probes: Vec<(v1::Record, String)> = (0..6)
            .map(|k| {
                let p = known[rng.gen_range(0..known.len())];
                let mate = records(p..p + 1).remove(0).reference_id;
                (duplicate(p, &format!("probe-{round}-{k}")), mate)
            })
            .collect();
        let job_dups: Vec<u64> = (0..2)
            .map(|_| known[rng.gen_range(0..known.len())])
            .collect();

        let mut writer = connect(listen).await;
        let mut reader = connect(listen).await;
        // Operations keep running from before the kill until well after the restart.
        let end = Instant::now() + pause + Duration::from_millis(1500);
        let work = async {
            let mut tally = Tally::default();
            let mut next = 0;
            while Instant::now() < end {
                let fresh: Vec<u64> = (next..next + BATCH).map(|i| person(round, i)).collect();
                next += BATCH;
                let batch: Vec<v1::Record> =
                    fresh.iter().flat_map(|&p| records(p..p + 1)).collect();
                let insert = writer.insert(v1::InsertRequest { records: batch });
                let search = reader.identify_batch(v1::IdentifyBatchRequest {
                    probes: probes.iter().map(|p| p.0.clone()).collect(),
                    options: None,
                });
                let (inserted, found) = tokio::join!(insert, search);
                if let Ok(r) = inserted {
                    for (p, res) in fresh.iter().zip(&r.into_inner().results) {
                        if res.error.is_none() && res.outcome != 0 {
                            tally.acked.push(*p);
                        }
                    }
                }
                match found {
                    Ok(r) => {
                        tally.complete_identifies += 1;
                        for (res, (_, mate)) in r.into_inner().results.iter().zip(&probes) {
                            let is_complete =
                                res.completeness.as_ref().is_some_and(|c| c.is_complete());
                            assert!(
                                is_complete,
                                "an answer without allow_incomplete was partial"
                            );
                            if !res.candidates.iter().any(|c| &c.reference_id == mate) {
                                tally.false_no_match += 1;
                            }
                        }
                    }
                    Err(_) => {
                        tally.refused_identifies += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            tally
        };
        let fault = async {
            tokio::time::sleep(pause).await;
            tokio::task::block_in_place(|| {
                if victim == 3 {
                    coord.take().unwrap().kill();
                    coord = Some(coordinator_at(&listen.to_string(), &coord_dir, &args));
                } else {
                    nodes[victim].take().unwrap().kill();
                    if wipe {
                        std::fs::remove_dir_all(&specs[victim].dir).unwrap();
                    }
                    nodes[victim] = Some(specs[victim].start(&[]));
                }
            });
        };
        let (tally, ()) = tokio::join!(work, fault);
        wiped += u64::from(wipe);
        acked.extend(&tally.acked);
        false_no_match += tally.false_no_match;
        complete += tally.complete_identifies;
        refused += tally.refused_identifies;

        // A de-dup job submitted right after the fault ends DONE with its duplicates found.
        let mut c = connect(listen).await;
        let job_id = format!("job-{round}");
        let mut applicants: Vec<v1::Record> = job_dups
            .iter()
            .enumerate()
            .map(|(k, &p)| duplicate(p, &format!("job-{round}-dup-{k}")))
            .collect();
        applicants.extend(records(50_000 + round * 3..50_000 + round * 3 + 3));
        let submit = v1::SubmitDedupJobRequest {
            job_id: job_id.clone(),
            applicants,
            options: None,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        let done = loop {
            if let Ok(r) = c.submit_dedup_job(submit.clone()).await {
                let job = r.into_inner().job.unwrap();
                if job.state == JobState::Done as i32 {
                    break job;
                }
                assert_ne!(job.state, JobState::Failed as i32, "{job:?}");
            }
            assert!(Instant::now() < deadline, "job {job_id} did not finish");
            tokio::time::sleep(Duration::from_millis(200)).await;
            c = connect(listen).await;
        };
        for (k, &p) in job_dups.iter().enumerate() {
            let res = &done.results[k];
            let identify = res.identify.as_ref().unwrap();
            assert!(identify.completeness.as_ref().unwrap().is_complete());
            let mate = records(p..p + 1).remove(0).reference_id;
            if !identify.candidates.iter().any(|c| c.reference_id == mate) {
                false_no_match += 1;
            }
        }

        // Every replica is repaired and read again; no acknowledged record is missing.
        wait_repaired(listen, "chaos-token").await;
        let count = wait_complete(&mut c).await;
        assert!(
            count >= acked.len() as u64,
            "round {round}: {count} records for {} acknowledged",
            acked.len()
        );
        let check: Vec<u64> = tally
            .acked
            .iter()
            .copied()
            .chain((0..5).map(|_| known[rng.gen_range(0..known.len())]))
            .collect();
        lost += count_unverified(&mut c, check).await;
        eprintln!(
            "chaos round {round}: victim {}{} after {pause:?}, {} inserted, identify {} \
             complete / {} refused",
            if victim == 3 {
                "coordinator".to_owned()
            } else {
                specs[victim].id.clone()
            },
            if wipe { " (wiped)" } else { "" },
            tally.acked.len(),
            tally.complete_identifies,
            tally.refused_identifies,
        );
    }
    // At the end, every acknowledged record, one by one.
    let mut c = connect(listen).await;
    lost += count_unverified(&mut c, acked.iter().copied()).await;
    eprintln!(
        "chaos: {rounds} rounds in {:?}, {} acknowledged, {lost} lost, {complete} complete \
         identifies, {refused} refused, {false_no_match} false no-match, {wiped} wiped nodes \
         repaired",
        started.elapsed(),
        acked.len()
    );
    assert_eq!(lost, 0, "acknowledged records lost");
    assert_eq!(
        false_no_match, 0,
        "COMPLETE answers without the planted duplicate"
    );
    assert!(wiped >= 2, "the seed wiped too few nodes: {wiped}");
}
