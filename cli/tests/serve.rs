//! `abis serve`: the gRPC API from one process. A client enrols people and finds a planted
//! duplicate; after a graceful stop (SIGTERM, exit 0) and a restart on a new internal port the
//! gallery is still there and searchable.

use abis_proto::v1::{self, abis_client::AbisClient};
use abis_server_kit::process::Proc;
use std::path::Path;
use tonic::transport::Channel;

struct Serve(Proc);

impl Serve {
    fn start(dir: &Path) -> Self {
        let args: Vec<String> = [
            "serve",
            "--create",
            "--insecure-plaintext",
            "--listen",
            "127.0.0.1:0",
        ]
        .iter()
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
