//! Starting the real `abis-shard-node` binary and talking to it.
//!
//! A node is started on a 127.0.0.x address with port 0 and announces its bound addresses on
//! stdout (`metrics on ..`, `listening on ..`), so tests never race for free ports. Its stderr
//! (the logs) goes to a file in the test's temporary directory and is shown when a start fails.

use abis_datasets::population::Population;
use abis_proto::v1::shard_client::ShardClient;
use abis_proto::v1::{self, SlotRange};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

/// How long a node may take to open its gallery and listen (builds and CI run beside tests).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running node process; killed on drop if still running.
pub struct NodeProc {
    child: Child,
    /// The gRPC address.
    pub addr: SocketAddr,
    /// The metrics address, when asked for.
    pub metrics: Option<SocketAddr>,
    log: PathBuf,
}

/// Starts a node, or returns its exit status and log when it stops before listening.
pub fn try_start(
    ip: &str,
    data_dir: &Path,
    extra: &[&str],
) -> Result<NodeProc, (ExitStatus, String)> {
    let log = data_dir.with_extension("log");
    let stderr = std::fs::File::create(&log).expect("log file");
    let listen = format!("{ip}:0");
    let mut child = Command::new(env!("CARGO_BIN_EXE_abis-shard-node"))
        .args(["--listen", &listen, "--shard-id", "test-shard"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("spawn abis-shard-node");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let parse = |line: &str, prefix: &str| -> Option<SocketAddr> {
        line.strip_prefix(prefix)
            .map(|a| a.trim().parse().expect("an address"))
    };
    let deadline = Instant::now() + START_TIMEOUT;
    let mut metrics = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if let Some(a) = parse(&line, "metrics on ") {
                    metrics = Some(a);
                }
                if let Some(addr) = parse(&line, "listening on ") {
                    return Ok(NodeProc {
                        child,
                        addr,
                        metrics,
                        log,
                    });
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Err((status, std::fs::read_to_string(&log).unwrap_or_default()));
        }
        assert!(Instant::now() < deadline, "node did not start in time");
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
    /// Sends SIGTERM and waits (at most 30 s) for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "node ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A plaintext client.
    pub async fn client(&self) -> ShardClient<Channel> {
        let channel = Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        shard_client(channel)
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

impl Drop for NodeProc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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
