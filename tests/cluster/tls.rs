//! TLS everywhere, end to end: one cluster CA (made in the test with rcgen) signs the shard
//! nodes' server certificates, the coordinator's server certificate and the coordinator's
//! client certificate; nodes admit only clients of that CA; the coordinator admits only clients
//! with a bearer token from its token file.
//!
//! The coordinator connects to its nodes lazily and does not probe them before it serves, so a
//! coordinator holding a client certificate of another CA *starts*; every call it makes to a
//! node fails the TLS handshake, which it reports as UNAVAILABLE: a per-record
//! `ERROR_CODE_UNAVAILABLE` result for Insert, an `UNAVAILABLE` status for a complete Identify
//! and for Ping (no node has answered).

use crate::harness::*;
use abis_proto::v1::shard_client::ShardClient;
use abis_proto::v1::{self, abis_client::AbisClient};
use abis_server_kit::pki::{Ca, Leaf};
use std::net::SocketAddr;
use std::path::Path;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic::Code;

fn server_leaf(ca: &Ca, ip: &str) -> Leaf {
    ca.server(&["localhost", ip]).unwrap()
}

pub(crate) fn client_leaf(ca: &Ca) -> Leaf {
    ca.client("coordinator").unwrap()
}

/// Writes `text` to `dir/name` and returns the path.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Shard nodes `ids` on `ips`, each serving a certificate of `ca` and requiring clients of it.
pub(crate) fn start_nodes(dir: &Path, ca: &Ca, ips: &[&str]) -> (Vec<NodeSpec>, Vec<Proc>) {
    let ca_path = write(dir, "cluster-ca.pem", &ca.pem());
    let mut specs = Vec::new();
    let mut procs = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        let spec = NodeSpec::new(dir, &format!("s{}", i + 1), ip);
        let leaf = server_leaf(ca, ip);
        let args = [
            "--tls-cert".to_string(),
            write(dir, &format!("{}.pem", spec.id), &leaf.cert),
            "--tls-key".into(),
            write(dir, &format!("{}.key", spec.id), &leaf.key),
            "--client-ca".into(),
            ca_path.clone(),
        ];
        procs.push(spec.start(&args));
        specs.push(spec);
    }
    (specs, procs)
}

/// Starts a TLS coordinator on `ip` in front of `specs`: server certificate and shard CA from
/// `ca`, client certificate `client`, one accepted token `secret-token`.
pub(crate) fn start_coordinator(
    dir: &Path,
    ip: &str,
    ca: &Ca,
    client: &Leaf,
    specs: &[NodeSpec],
) -> Proc {
    let server = server_leaf(ca, ip);
    let ca_pem = ca.pem();
    let mut args: Vec<String> = specs.iter().flat_map(|s| s.flag()).collect();
    let files = [
        ("--tls-cert", "coord.pem", server.cert.as_str()),
        ("--tls-key", "coord.key", server.key.as_str()),
        ("--shard-ca", "coord-shard-ca.pem", ca_pem.as_str()),
        ("--client-cert", "coord-client.pem", client.cert.as_str()),
        ("--client-key", "coord-client.key", client.key.as_str()),
        ("--token-file", "tokens", "secret-token\n"),
    ];
    for (flag, name, text) in files {
        args.push(flag.into());
        args.push(write(dir, name, text));
    }
    args.extend(["--shard-timeout-ms", "3000"].map(String::from));
    coordinator(ip, &dir.join("coord"), &args)
}

/// A TLS channel to `addr` trusting `ca`, presenting `identity` if any.
async fn channel(addr: SocketAddr, ca: &Ca, identity: Option<&Leaf>) -> tonic::transport::Channel {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca.pem()));
    if let Some(leaf) = identity {
        tls = tls.identity(Identity::from_pem(&leaf.cert, &leaf.key));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("TLS connect")
}

/// An Abis client over TLS (trusting `ca`) sending `token`.
pub(crate) async fn tls_client(addr: SocketAddr, ca: &Ca, token: &str) -> Client {
    AbisClient::with_interceptor(channel(addr, ca, None).await, Bearer(token.into()))
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// Records held by the node at `addr`, asked directly with a client certificate of `ca`.
async fn node_records(addr: SocketAddr, ca: &Ca) -> u64 {
    let mut node = ShardClient::new(channel(addr, ca, Some(&client_leaf(ca))).await);
    node.info(v1::ShardNodeInfoRequest {})
        .await
        .expect("node info over mutual TLS")
        .into_inner()
        .records
}

fn reference_of(person: u64) -> String {
    records(person..person + 1).remove(0).reference_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_cluster_serves_token_holders_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::new("abis cluster CA").unwrap();
    let (specs, nodes) = start_nodes(d, &ca, &["127.0.6.1", "127.0.6.2"]);
    let coord = start_coordinator(d, "127.0.6.10", &ca, &client_leaf(&ca), &specs);

    // TLS is fine but the token is missing or wrong: UNAUTHENTICATED, before any work.
    for token in ["", "wrong-token"] {
        let mut c = tls_client(coord.addr, &ca, token).await;
        let err = c.ping(v1::PingRequest {}).await.unwrap_err();
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "token {token:?}: {err:?}"
        );
        let err = c
            .insert(v1::InsertRequest {
                records: records(100..101),
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "token {token:?}: {err:?}"
        );
    }
    // Plaintext gRPC to the TLS port gets no answer.
    if let Ok(plain) = Endpoint::from_shared(format!("http://{}", coord.addr))
        .unwrap()
        .connect()
        .await
    {
        let mut c = AbisClient::with_interceptor(plain, Bearer("secret-token".into()));
        assert!(
            c.ping(v1::PingRequest {}).await.is_err(),
            "plaintext got in"
        );
    }

    let mut c = tls_client(coord.addr, &ca, "secret-token").await;
    insert_all(&mut c, records(0..40)).await;
    let count = c
        .reference_count(v1::ReferenceCountRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(count.count, 40);
    // Every record is on both replicas (R = 2 over 2 nodes); the refused inserts wrote nothing.
    for (spec, node) in specs.iter().zip(&nodes) {
        assert_eq!(node_records(node.addr, &ca).await, 40, "node {}", spec.id);
    }

    let found = identify(&mut c, vec![duplicate(17, "dup-17")], false)
        .await
        .expect("identify over TLS");
    let top = found[0].candidates.first().map(|c| c.reference_id.clone());
    assert_eq!(top, Some(reference_of(17)), "{found:?}");
    assert_eq!(found[0].records_searched, 40);
    assert!(found[0].completeness.as_ref().unwrap().is_complete());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_with_a_foreign_client_certificate_reaches_no_node() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::new("abis cluster CA").unwrap();
    let (specs, nodes) = start_nodes(d, &ca, &["127.0.6.21", "127.0.6.22"]);
    // Everything else is right: its server certificate and shard CA come from the cluster CA.
    let foreign = client_leaf(&Ca::new("another CA").unwrap());
    let coord = start_coordinator(d, "127.0.6.30", &ca, &foreign, &specs);
    let mut c = tls_client(coord.addr, &ca, "secret-token").await;
    // The token is accepted (not UNAUTHENTICATED), but Ping reports that no node answers: the
    // prober's Info calls fail the handshake too.
    let err = c.ping(v1::PingRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    // With no node ever answering, the coordinator does not know the gallery's shape and
    // cannot check a batch before sending it: the insert is refused whole, storing nothing.
    let err = c
        .insert(v1::InsertRequest {
            records: records(0..10),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    let err = identify(&mut c, vec![duplicate(3, "dup-3")], false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    // The nodes are up and admit a client of the cluster CA, and hold nothing.
    for (spec, node) in specs.iter().zip(&nodes) {
        assert_eq!(node_records(node.addr, &ca).await, 0, "node {}", spec.id);
    }
}
