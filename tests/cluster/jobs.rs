//! De-dup jobs: durable across a coordinator killed mid-job.

use crate::harness::*;
use abis_proto::v1::{self, JobState};
use std::time::{Duration, Instant};

async fn job(c: &mut Client, id: &str) -> v1::Job {
    c.get_job(v1::GetJobRequest { job_id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

async fn wait_for(c: &mut Client, id: &str, state: JobState) -> v1::Job {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = job(c, id).await;
        if j.state == state as i32 {
            return j;
        }
        assert!(Instant::now() < deadline, "job stuck: {j:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_by_a_coordinator_crash_finishes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<NodeSpec> = (1..=3)
        .map(|i| NodeSpec::new(dir.path(), &format!("s{i}"), &format!("127.0.6.{i}")))
        .collect();
    let mut nodes: Vec<Option<Proc>> = specs.iter().map(|s| Some(s.start(&[]))).collect();
    let mut args: Vec<String> = specs.iter().flat_map(|s| s.flag()).collect();
    args.extend(
        [
            "--insecure-plaintext",
            "--job-attempts",
            "1000",
            "--job-retry-ms",
            "100",
        ]
        .map(String::from),
    );
    let coord_dir = dir.path().join("coord");
    let coord = coordinator("127.0.6.10", &coord_dir, &args);
    let mut c = client(coord.addr, "").await;
    insert_all(&mut c, records(0..200)).await;

    // With s2 and s3 down the slots they both replicate have no complete replica, so the
    // job's inserts there cannot be acknowledged: it stays RUNNING, retrying.
    nodes[1].take().unwrap().kill();
    nodes[2].take().unwrap().kill();
    let mut applicants: Vec<v1::Record> = (0..10)
        .map(|k| duplicate(k * 11, &format!("app-{k}")))
        .collect();
    applicants.extend(records(5000..5010));
    let submit = v1::SubmitDedupJobRequest {
        job_id: "job-1".into(),
        applicants,
        options: None,
    };
    let r = c
        .submit_dedup_job(submit.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(r.created);
    wait_for(&mut c, "job-1", JobState::Running).await;
    let pending = c
        .pending_jobs(v1::PendingJobsRequest { limit: 5 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (pending.pending + pending.running, pending.job_ids),
        (1, vec!["job-1".into()])
    );
    coord.kill();

    nodes[1] = Some(specs[1].start(&[]));
    nodes[2] = Some(specs[2].start(&[]));
    let coord = coordinator("127.0.6.10", &coord_dir, &args);
    let mut c = client(coord.addr, "").await;
    let done = wait_for(&mut c, "job-1", JobState::Done).await;
    assert_eq!(done.results.len(), 20);
    for (k, res) in done.results.iter().enumerate() {
        let identify = res.identify.as_ref().unwrap();
        assert!(identify.completeness.as_ref().unwrap().is_complete());
        assert_eq!(identify.records_searched, 220);
        assert!(identify
            .candidates
            .iter()
            .all(|c| c.reference_id != res.reference_id));
        if k < 10 {
            let want = records(k as u64 * 11..k as u64 * 11 + 1)[0]
                .reference_id
                .clone();
            assert_eq!(identify.candidates[0].reference_id, want, "{res:?}");
        }
    }
    // Idempotent resubmission returns the finished job; other content is refused.
    let again = c
        .submit_dedup_job(submit.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created);
    assert_eq!(again.job.unwrap().state, JobState::Done as i32);
    let mut other = submit;
    other.applicants.pop();
    let err = c.submit_dedup_job(other).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists);
    let mut watch = c
        .watch_job(v1::WatchJobRequest {
            job_id: "job-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.job.unwrap().state, JobState::Done as i32);
    assert!(watch.message().await.unwrap().is_none());
}
