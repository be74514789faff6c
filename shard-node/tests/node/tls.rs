//! Mutual TLS: certificates made in the test with rcgen; only clients holding a certificate of
//! the cluster's CA get an answer.

use crate::harness::{shard_client, try_start};
use abis_proto::v1;
use abis_server_kit::pki::{Ca, Leaf};
use std::path::Path;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn info_over_tls(
    addr: std::net::SocketAddr,
    server_ca: &str,
    identity: Option<&Leaf>,
) -> Result<v1::ShardNodeInfoResponse, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(server_ca))
        .domain_name("localhost");
    if let Some(leaf) = identity {
        tls = tls.identity(Identity::from_pem(&leaf.cert, &leaf.key));
    }
    let endpoint = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?;
    // A refused handshake fails either the connect or the first call.
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    shard_client(channel)
        .info(v1::ShardNodeInfoRequest {})
        .await
        .map(|r| r.into_inner())
        .map_err(|s| format!("{s:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_admits_only_clients_of_the_cluster_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("abis cluster CA").unwrap();
    let server = ca.server(&["localhost", "127.0.0.11"]).unwrap();
    let client = ca.client("coordinator").unwrap();
    let rogue = Ca::new("another CA")
        .unwrap()
        .client("coordinator")
        .unwrap();
    let d = dir.path();
    let args = [
        "--tls-cert".to_string(),
        write(d, "server.pem", &server.cert),
        "--tls-key".into(),
        write(d, "server.key", &server.key),
        "--client-ca".into(),
        write(d, "ca.pem", &ca.pem()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = match try_start("127.0.0.11", &d.join("node"), &args) {
        Ok(n) => n,
        Err((status, log)) => panic!("node exited with {status}:\n{log}"),
    };

    let info = info_over_tls(node.addr, &ca.pem(), Some(&client))
        .await
        .unwrap_or_else(|e| panic!("the cluster's client was refused: {e}\n{}", node.log()));
    assert_eq!(info.shard_id, "test-shard");

    let anonymous = info_over_tls(node.addr, &ca.pem(), None).await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate got {anonymous:?}"
    );
    let outsider = info_over_tls(node.addr, &ca.pem(), Some(&rogue)).await;
    assert!(outsider.is_err(), "a client of another CA got {outsider:?}");

    // Plaintext gRPC to a TLS port gets nothing either.
    let plain = Endpoint::from_shared(format!("http://{}", node.addr)).unwrap();
    let refused = match plain.connect().await {
        Err(_) => true,
        Ok(channel) => shard_client(channel)
            .info(v1::ShardNodeInfoRequest {})
            .await
            .is_err(),
    };
    assert!(refused, "plaintext reached a TLS node");
    assert!(node.terminate().success());
}
