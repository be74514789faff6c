//! `abis serve`: the gRPC API from one process. A client enrols people and finds a planted
//! duplicate; after a graceful stop (SIGTERM, exit 0) and a restart on a new internal port the
//! gallery is still there and searchable. Finger images sent in every call that takes records
//! become templates (FVC2002 images wrapped as ISO/IEC 19794-4 records, as a capture device
//! sends them), bad ones refuse the call naming the item, and a server without the model
//! refuses images but serves templates.

mod common;

use abis_proto::v1::{self, abis_client::AbisClient};
use abis_server_kit::process::Proc;
use common::{fvc_record, model_installed, shared};
use std::path::Path;
use tonic::transport::Channel;

struct Serve(Proc);

impl Serve {
    fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    fn start_with(dir: &Path, extra: &[&str]) -> Self {
        let args: Vec<String> = [
            "serve",
            "--create",
            "--insecure-plaintext",
            "--listen",
            "127.0.0.1:0",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .chain(["--data-dir".to_string(), dir.display().to_string()])
        .collect();
        let bin = Path::new(env!("CARGO_BIN_EXE_abis"));
        Self(Proc::start(bin, &args, &dir.join("serve.log")).expect("abis serve starts"))
    }

    /// SIGTERM, and the exit status.
    fn stop(self) -> std::process::ExitStatus {
        self.0.terminate().expect("terminate")
    }

    async fn client(&self) -> AbisClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.0.addr))
            .unwrap()
            .connect()
            .await
            .expect("connect");
        AbisClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }
}

fn layout() -> abis_matchers::iris::IrisLayout {
    abis_engine::GalleryConfig::default().iris_layout
}

async fn count(c: &mut AbisClient<Channel>) -> u64 {
    c.reference_count(v1::ReferenceCountRequest {})
        .await
        .unwrap()
        .into_inner()
        .count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_the_api_and_keeps_the_gallery_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let pop = abis_datasets::population::Population::new(77);
    let records: Vec<v1::Record> = (0..300)
        .map(|i| abis_proto::record_to_proto(&pop.enrolment(i), &layout()))
        .collect();
    let dup = abis_proto::record_to_proto(
        &pop.capture(42, 1, abis_engine::ReferenceId::new("dup-42").unwrap()),
        &layout(),
    );

    let serve = Serve::start(dir.path());
    let mut c = serve.client().await;
    let ping = c.ping(v1::PingRequest {}).await.unwrap().into_inner();
    assert_eq!(ping.api_version, "abis.v1");
    let r = c
        .insert(v1::InsertRequest {
            records: records.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.results.iter().all(|x| x.error.is_none()), "{r:?}");
    assert_eq!(count(&mut c).await, 300);
    let found = c
        .identify(v1::IdentifyRequest {
            probe: Some(dup.clone()),
            options: None,
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(found.candidates[0].reference_id, records[42].reference_id);
    assert!(found.completeness.unwrap().is_complete());
    drop(c);
    assert!(serve.stop().success(), "a graceful stop exits 0");

    let serve = Serve::start(dir.path());
    let mut c = serve.client().await;
    assert_eq!(count(&mut c).await, 300);
    let again = c
        .identify(v1::IdentifyRequest {
            probe: Some(dup),
            options: None,
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(again.candidates[0].reference_id, records[42].reference_id);
}

fn finger_image(position: u32, bytes: Vec<u8>) -> v1::Finger {
    v1::Finger {
        position,
        template: Some(v1::finger::Template::Image(bytes)),
    }
}

fn image_record(id: &str, fingers: Vec<v1::Finger>) -> v1::Record {
    v1::Record {
        reference_id: id.into(),
        fingers,
        ..Default::default()
    }
}

fn refusal(status: &tonic::Status) -> v1::ErrorDetail {
    abis_proto::error_detail_of(status).unwrap_or_else(|| panic!("no detail in {status:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finger_images_become_templates_in_every_call_and_bad_ones_refuse_it() {
    let Some(db1) = shared("fvc2002/DB1_B") else {
        return;
    };
    if !model_installed() {
        return;
    }
    let person = |subject: u32, impression: u32, id: &str| {
        let image = fvc_record(&db1, subject, impression, 2);
        image_record(id, vec![finger_image(2, image)])
    };
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(dir.path(), &["--max-images", "3"]);
    let mut c = serve.client().await;

    let enrolled = ["p101", "p102", "p103", "p104"];
    let records: Vec<_> = (101..=104)
        .zip(enrolled)
        .map(|(s, id)| person(s, 1, id))
        .collect();
    for batch in [&records[..3], &records[3..]] {
        let r = c
            .insert(v1::InsertRequest {
                records: batch.to_vec(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(r.results.iter().all(|x| x.error.is_none()), "{r:?}");
    }
    assert_eq!(count(&mut c).await, 4);

    // Refused whole, nothing stored: more images than the server takes in one call; a bad
    // image beside a good one; a record that names another finger than the message.
    let too_many = c
        .insert(v1::InsertRequest {
            records: (105..=108)
                .map(|s| person(s, 1, &format!("x{s}")))
                .collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        too_many.code(),
        tonic::Code::InvalidArgument,
        "{too_many:?}"
    );
    assert!(too_many.message().contains("at most 3"), "{too_many:?}");
    let garbage = image_record("x2", vec![finger_image(2, b"not an image at all".to_vec())]);
    let bad = c
        .insert(v1::InsertRequest {
            records: vec![person(105, 1, "x1"), garbage],
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let detail = refusal(&bad);
    assert_eq!(detail.item_index, Some(1), "{detail:?}");
    assert_eq!(detail.code, v1::ErrorCode::InvalidTemplate as i32);
    assert!(detail.message.contains("finger 2: bad image"), "{detail:?}");
    let other_finger = image_record("x3", vec![finger_image(2, fvc_record(&db1, 105, 1, 7))]);
    let mismatch = c
        .insert(v1::InsertRequest {
            records: vec![other_finger],
        })
        .await
        .unwrap_err();
    assert!(
        refusal(&mismatch).message.contains("no view of finger 2"),
        "{mismatch:?}"
    );
    assert_eq!(count(&mut c).await, 4, "a refused call stores nothing");

    // Identify, IdentifyBatch and Verify from another impression of the same finger.
    let top = |r: &v1::IdentifyResult| {
        assert!(r.completeness.as_ref().unwrap().is_complete());
        r.candidates.first().map(|c| c.reference_id.clone())
    };
    let found = c
        .identify(v1::IdentifyRequest {
            probe: Some(person(102, 2, "probe")),
            options: None,
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(top(&found).as_deref(), Some("p102"), "{found:?}");
    let batch = c
        .identify_batch(v1::IdentifyBatchRequest {
            probes: vec![person(103, 3, "q3"), person(104, 4, "q4")],
            options: None,
        })
        .await
        .unwrap()
        .into_inner();
    let tops: Vec<_> = batch.results.iter().map(top).collect();
    assert_eq!(tops, [Some("p103".into()), Some("p104".into())]);
    let verify = |probe: v1::Record| v1::VerifyRequest {
        reference_id: "p101".into(),
        probe: Some(probe),
        target_fmr: 1e-4,
    };
    let same = c
        .verify(verify(person(101, 5, "v")))
        .await
        .unwrap()
        .into_inner();
    assert!(same.is_match, "{same:?}");
    let other = c
        .verify(verify(person(105, 5, "v")))
        .await
        .unwrap()
        .into_inner();
    assert!(!other.is_match, "{other:?}");

    // A de-dup job: a new applicant and a duplicate of p101, both sent as images; the job
    // stores templates, and the duplicate finds its mate.
    let submitted = c
        .submit_dedup_job(v1::SubmitDedupJobRequest {
            job_id: "images-1".into(),
            applicants: vec![person(106, 1, "new-106"), person(101, 6, "dup-101")],
            options: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(submitted.created);
    let job = loop {
        let job = c
            .get_job(v1::GetJobRequest {
                job_id: "images-1".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        if job.state() == v1::JobState::Done {
            break job;
        }
        assert_ne!(job.state(), v1::JobState::Failed, "{job:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let ids = |i: usize| -> Vec<String> {
        let result = job.results[i].identify.as_ref().unwrap();
        result
            .candidates
            .iter()
            .map(|c| c.reference_id.clone())
            .collect()
    };
    assert!(ids(0).is_empty(), "{job:?}");
    assert_eq!(ids(1).first().map(String::as_str), Some("p101"), "{job:?}");
    assert_eq!(count(&mut c).await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_model_images_are_refused_and_templates_served() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let models = empty.path().display().to_string();
    let serve = Serve::start_with(dir.path(), &["--models", &models]);
    let mut c = serve.client().await;
    let pop = abis_datasets::population::Population::new(5);
    let templates = abis_proto::record_to_proto(&pop.enrolment(1), &layout());
    c.insert(v1::InsertRequest {
        records: vec![templates],
    })
    .await
    .unwrap();
    let image = image_record("img", vec![finger_image(1, b"\x89PNG\r\n\x1a\n".to_vec())]);
    let refused = c
        .insert(v1::InsertRequest {
            records: vec![image],
        })
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("fetch-models.sh"),
        "the refusal says how to get the model: {refused:?}"
    );
    assert_eq!(count(&mut c).await, 1);
}
