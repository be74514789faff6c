//! Starting real shard nodes and coordinators and talking to them.
//!
//! Shard nodes listen on fixed addresses (a free port picked once per node) because the shard
//! map names them: a node restarted after a kill comes back where the map expects it. Processes
//! announce `listening on <addr>` on stdout; logs go to files in the test's directory.

use abis_datasets::population::Population;
use abis_proto::v1::abis_client::AbisClient;
use abis_proto::v1::{self};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

pub use abis_server_kit::process::Proc;

fn spawn(bin: &Path, args: &[String], log: &Path) -> Proc {
    Proc::start(bin, args, log).unwrap_or_else(|e| panic!("{e:#}"))
}

/// A free address on `ip`.
pub fn free_addr(ip: &str) -> SocketAddr {
    let l = TcpListener::bind(format!("{ip}:0")).expect("bind");
    l.local_addr().expect("addr")
}

/// One shard node's fixed identity.
pub struct NodeSpec {
    /// Its id.
    pub id: String,
    /// Its address.
    pub addr: SocketAddr,
    /// Its data directory.
    pub dir: PathBuf,
}

impl NodeSpec {
    /// A node on `ip` under `root`.
    pub fn new(root: &Path, id: &str, ip: &str) -> Self {
        Self {
            id: id.into(),
            addr: free_addr(ip),
            dir: root.join(id),
        }
    }

    /// Starts it in plaintext (plus `extra` flags).
    pub fn start(&self, extra: &[String]) -> Proc {
        let mut args: Vec<String> = vec![
            "--listen".into(),
            self.addr.to_string(),
            "--shard-id".into(),
            self.id.clone(),
            "--data-dir".into(),
            self.dir.display().to_string(),
        ];
        if extra.is_empty() {
            args.push("--insecure-plaintext".into());
        }
        args.extend_from_slice(extra);
        spawn(shard_node_bin(), &args, &self.dir.with_extension("log"))
    }

    /// The coordinator's `--shard` flag for it.
    pub fn flag(&self) -> [String; 2] {
        ["--shard".into(), format!("{}={}", self.id, self.addr)]
    }
}

/// The workspace binary `name` (of package `package`) beside this test's target directory.
/// `cargo test --workspace` (what CI runs) has built it with the workspace's feature set; when
/// this package is tested alone it is built here first.
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(name);
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", package, "--bin", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building {name} failed");
    }
    bin
}

fn shard_node_bin() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_bin("abis-shard-node", "abis-shard-node"))
}

fn coordinator_bin() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_bin("abis-coordinator", "abis-coordinator"))
}

/// Starts a coordinator with `args` (data dir `dir`, listening on `ip`).
pub fn coordinator(ip: &str, dir: &Path, args: &[String]) -> Proc {
    coordinator_at(&format!("{ip}:0"), dir, args)
}

/// Starts a coordinator listening on `listen` (a fixed address survives restarts).
pub fn coordinator_at(listen: &str, dir: &Path, args: &[String]) -> Proc {
    let mut all: Vec<String> = vec![
        "--listen".into(),
        listen.into(),
        "--data-dir".into(),
        dir.display().to_string(),
    ];
    all.extend_from_slice(args);
    spawn(coordinator_bin(), &all, &dir.with_extension("log"))
}

/// An Abis client sending `token` as a bearer token (none when empty).
pub type Client = AbisClient<InterceptedService<Channel, Bearer>>;

/// Adds the bearer token.
#[derive(Clone)]
pub struct Bearer(pub String);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut r: Request<()>) -> Result<Request<()>, Status> {
        if !self.0.is_empty() {
            let v: MetadataValue<_> = format!("Bearer {}", self.0).parse().expect("header");
            r.metadata_mut().insert("authorization", v);
        }
        Ok(r)
    }
}

/// A plaintext client of the coordinator at `addr`.
pub async fn client(addr: SocketAddr, token: &str) -> Client {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    AbisClient::with_interceptor(channel, Bearer(token.into()))
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// The synthetic population of the tests.
pub fn population() -> Population {
    Population::new(0x5eed_0c00)
}

fn layout() -> abis_matchers::iris::IrisLayout {
    abis_engine::GalleryConfig::default().iris_layout
}

/// The wire records of persons `range`.
pub fn records(range: std::ops::Range<u64>) -> Vec<v1::Record> {
    let pop = population();
    range
        .map(|i| abis_proto::record_to_proto(&pop.enrolment(i), &layout()))
        .collect()
}

/// A second capture of `person` under `id` (a planted duplicate).
pub fn duplicate(person: u64, id: &str) -> v1::Record {
    let rid = abis_engine::ReferenceId::new(id).expect("id");
    abis_proto::record_to_proto(&population().capture(person, 1, rid), &layout())
}

/// Inserts in batches of 500 and checks every record was acknowledged.
pub async fn insert_all(client: &mut Client, records: Vec<v1::Record>) {
    for chunk in records.chunks(500) {
        let r = client
            .insert(v1::InsertRequest {
                records: chunk.to_vec(),
            })
            .await
            .expect("insert")
            .into_inner();
        assert_eq!(r.results.len(), chunk.len());
        for res in &r.results {
            assert!(res.error.is_none() && res.outcome != 0, "{res:?}");
        }
    }
}

/// Identifies `probes`; the top candidate of probe `i` must be `expect[i]`.
pub async fn identify(
    client: &mut Client,
    probes: Vec<v1::Record>,
    allow_incomplete: bool,
) -> Result<Vec<v1::IdentifyResult>, Status> {
    client
        .identify_batch(v1::IdentifyBatchRequest {
            probes,
            options: Some(v1::IdentifyOptions {
                allow_incomplete,
                ..Default::default()
            }),
        })
        .await
        .map(|r| r.into_inner().results)
}

/// Waits (up to 60 s) until a reference count over the whole gallery is complete: every slot
/// has a readable replica again (a restarted node is read only once the coordinator has
/// compared it with its peers, within a second or two). Returns the count.
pub async fn wait_complete(client: &mut Client) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(r) = client.reference_count(v1::ReferenceCountRequest {}).await {
            let r = r.into_inner();
            if r.completeness.as_ref().is_some_and(|c| c.is_complete()) {
                return r.count;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gallery did not become complete again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An Admin client of the coordinator at `addr` sending `token`.
pub async fn admin(
    addr: SocketAddr,
    token: &str,
) -> v1::admin_client::AdminClient<InterceptedService<Channel, Bearer>> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    v1::admin_client::AdminClient::with_interceptor(channel, Bearer(token.into()))
}

/// A plaintext Shard client of the node at `addr` (no fence metadata: a tool's view).
pub async fn shard(addr: SocketAddr) -> v1::shard_client::ShardClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    v1::shard_client::ShardClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// Waits (up to 60 s) until no shard holds a slot marked behind or lost.
pub async fn wait_repaired(addr: SocketAddr, token: &str) -> Vec<v1::ShardInfo> {
    let mut admin = admin(addr, token).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let shards = admin
            .list_shards(v1::ListShardsRequest {})
            .await
            .expect("list shards")
            .into_inner()
            .shards;
        if shards
            .iter()
            .all(|s| s.slots_behind == 0 && s.slots_lost == 0 && s.standing == "verified")
        {
            return shards;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replicas were not repaired: {shards:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
