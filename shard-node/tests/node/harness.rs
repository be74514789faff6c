//! Starting the real `abis-shard-node` binary and talking to it.
//!
//! A node is started on a 127.0.0.x address with port 0 and announces its bound addresses on
//! stdout (`metrics on ..`, `listening on ..`), so tests never race for free ports. Its stderr
//! (the logs) goes to a file in the test's temporary directory and is shown when a start fails.
//! Starting and stopping is `abis_server_kit::process::Proc`, as in the cluster tests.

use abis_datasets::population::Population;
use abis_proto::v1::shard_client::ShardClient;
use abis_proto::v1::{self, SlotRange};
use abis_server_kit::process::{Exited, Proc};
use std::path::Path;
use std::process::ExitStatus;
use tonic::transport::{Channel, Endpoint};

/// A running node process ([`Proc`]: its addresses and log); killed on drop.
pub struct NodeProc(Proc);

impl std::ops::Deref for NodeProc {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.0
    }
}

/// Starts a node, or returns its exit status and log when it stops before listening.
pub fn try_start(
    ip: &str,
    data_dir: &Path,
    extra: &[&str],
) -> Result<NodeProc, (ExitStatus, String)> {
    let mut args: Vec<String> = vec![
        "--listen".into(),
        format!("{ip}:0"),
        "--shard-id".into(),
        "test-shard".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let bin = Path::new(env!("CARGO_BIN_EXE_abis-shard-node"));
    match Proc::start(bin, &args, &data_dir.with_extension("log")) {
        Ok(p) => Ok(NodeProc(p)),
        Err(e) => match e.downcast::<Exited>() {
            Ok(exited) => Err((exited.status, exited.log)),
            Err(other) => panic!("{other:#}"),
        },
    }
}

/// Starts a plaintext node (or panics with its log).
pub fn start_plain(ip: &str, data_dir: &Path, extra: &[&str]) -> NodeProc {
    let mut args = vec!["--insecure-plaintext"];
    args.extend_from_slice(extra);
    match try_start(ip, data_dir, &args) {
        Ok(n) => n,
        Err((status, log)) => panic!("node exited with {status}:\n{log}"),
    }
}

impl NodeProc {
    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(self) -> ExitStatus {
        self.0.terminate().expect("SIGTERM and wait")
    }

    /// A plaintext client.
    pub async fn client(&self) -> ShardClient<Channel> {
        shard_client(self.channel().await)
    }

    /// A plaintext channel (for health and reflection clients).
    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }
}

/// A Shard client accepting messages as large as the node sends.
pub fn shard_client(channel: Channel) -> ShardClient<Channel> {
    ShardClient::new(channel).max_decoding_message_size(64 << 20)
}

/// The synthetic population of the tests.
pub fn population() -> Population {
    Population::new(0x5eed_0004)
}

/// The wire records of persons `0..n`.
pub fn records(n: u64) -> Vec<v1::Record> {
    let pop = population();
    let layout = gallery_layout();
    (0..n)
        .map(|i| abis_proto::record_to_proto(&pop.enrolment(i), &layout))
        .collect()
}

/// A new capture of person `person` (a planted duplicate) under `id`.
pub fn duplicate(person: u64, id: &str) -> v1::Record {
    let pop = population();
    let rid = abis_engine::ReferenceId::new(id).expect("valid id");
    abis_proto::record_to_proto(&pop.capture(person, 1, rid), &gallery_layout())
}

/// The default gallery's iris layout (the node creates galleries with the default shape).
pub fn gallery_layout() -> abis_matchers::iris::IrisLayout {
    abis_engine::GalleryConfig::default().iris_layout
}

/// Inserts records (epoch 0) and checks every one was newly inserted.
pub async fn insert_all(client: &mut ShardClient<Channel>, records: Vec<v1::Record>) {
    let n = records.len();
    let response = client
        .insert(v1::ShardInsertRequest {
            records,
            map_epoch: 0,
        })
        .await
        .expect("insert")
        .into_inner();
    assert_eq!(response.results.len(), n);
    for r in &response.results {
        assert_eq!(r.outcome, v1::InsertOutcome::Inserted as i32, "{r:?}");
    }
}

/// A slot range.
pub fn range(start: u32, end: u32) -> SlotRange {
    SlotRange { start, end }
}
