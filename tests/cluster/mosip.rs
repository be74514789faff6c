//! The MOSIP adapter's cluster gallery (`abis_mosip::cluster::Cluster`) against a real
//! coordinator and two shard nodes under TLS with a bearer token, called directly (no broker):
//! insert outcomes, probes from the adapter's own sealed template store, identify, verify,
//! count and delete, then both nodes killed: identify and count fail, never answer "nothing".

use crate::harness::*;
use crate::tls::{client_leaf, start_coordinator, start_nodes, tls_client};
use abis_engine::crypto::Keyring;
use abis_engine::{GalleryConfig, ReferenceId};
use abis_mosip::cluster::{Cluster, ClusterConfig, TlsSettings};
use abis_mosip::gallery::{Gallery, GalleryError, Inserted};
use abis_mosip::store::Store;
use abis_server_kit::pki::Ca;
use std::sync::Arc;
use std::time::Duration;

const KEYS: &str = "1 00000000000000000000000000000000000000000000000000000000000000a1\n";

fn id(text: &str) -> ReferenceId {
    ReferenceId::new(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosip_cluster_gallery_serves_mosip_and_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::new("abis cluster CA").unwrap();
    let (specs, nodes) = start_nodes(d, &ca, &["127.0.9.1", "127.0.9.2"]);
    let coord = start_coordinator(d, "127.0.9.10", &ca, &client_leaf(&ca), &specs);
    // People enrolled by another client of the cluster.
    let mut other = tls_client(coord.addr, &ca, "secret-token").await;
    insert_all(&mut other, records(0..40)).await;

    let mut config = ClusterConfig::new(format!("https://{}", coord.addr));
    config.tls = Some(TlsSettings {
        ca_pem: ca.pem().into_bytes(),
        client_identity: None,
        domain: None,
    });
    config.token = Some("secret-token".into());
    config.request_timeout = Duration::from_secs(10);
    config.attempts = 2;
    let store = Store::open(&d.join("adapter")).unwrap();
    let keys = Arc::new(Keyring::parse(KEYS).unwrap());
    let cluster = Cluster::connect(config.clone(), store.clone(), Some(keys))
        .await
        .expect("connect");
    assert_eq!(cluster.shape(), GalleryConfig::default());
    cluster.ping().await.unwrap();

    // Insert: new, the same again, other content under the same id.
    let pop = population();
    let mine = pop.enrolment(100);
    let mine_id = mine.reference_id.clone();
    assert_eq!(cluster.insert(mine.clone()).await, Ok(Inserted::New));
    assert_eq!(cluster.insert(mine.clone()).await, Ok(Inserted::Same));
    let impostor = pop.capture(101, 0, mine_id.clone());
    assert_eq!(cluster.insert(impostor).await, Ok(Inserted::Other));
    // A person enrolled by another client under an id the adapter never used: Other too.
    let taken = pop.capture(102, 0, pop.reference_id(7));
    assert_eq!(cluster.insert(taken).await, Ok(Inserted::Other));
    assert_eq!(cluster.probe(&pop.reference_id(7)).await, Ok(None));

    // Probes: the adapter's own enrolment from its store (sealed, bound to the id); none for a
    // record enrolled by someone else or for an unknown id.
    assert_eq!(cluster.probe(&mine_id).await, Ok(Some(mine.clone())));
    let stored = store.templates(mine_id.as_str()).unwrap().unwrap();
    assert!(abis_engine::crypto::is_sealed(&stored));
    assert_eq!(cluster.probe(&pop.reference_id(3)).await, Ok(None));
    assert_eq!(cluster.probe(&id("nobody")).await, Ok(None));
    let keyless = Cluster::connect(config, store.clone(), None).await.unwrap();
    assert!(matches!(
        keyless.probe(&mine_id).await,
        Err(GalleryError::Failed(_))
    ));

    // Identify finds the mate of the adapter's enrolment and of another client's.
    for person in [100, 17] {
        let probe = pop.capture(person, 1, id(&format!("probe-{person}")));
        let found = cluster.identify(probe, 5, 1e-3).await.expect("identify");
        let top = found.first().expect("a candidate");
        assert_eq!(top.reference_id, pop.reference_id(person), "{found:?}");
        assert!(top.fused_score > 0.0 && !top.scores.is_empty(), "{top:?}");
    }

    // Verify: a match, a non-match, an unknown id.
    let probe = pop.capture(100, 2, id("probe-100"));
    let hit = cluster.verify(probe.clone(), mine_id.clone(), 1e-4).await;
    assert_eq!(hit.unwrap().unwrap().reference_id, mine_id);
    let miss = cluster
        .verify(probe.clone(), pop.reference_id(5), 1e-4)
        .await;
    assert_eq!(miss, Ok(None));
    let unknown = cluster.verify(probe.clone(), id("nobody"), 1e-4).await;
    assert!(
        matches!(unknown, Err(GalleryError::NotFound(_))),
        "{unknown:?}"
    );

    // Count and delete.
    assert_eq!(cluster.count().await, Ok(41));
    cluster.delete(mine_id.clone()).await.expect("delete");
    assert_eq!(cluster.probe(&mine_id).await, Ok(None));
    assert!(store.templates(mine_id.as_str()).unwrap().is_none());
    assert!(matches!(
        cluster.delete(mine_id.clone()).await,
        Err(GalleryError::NotFound(_))
    ));
    assert!(matches!(
        cluster.verify(probe, mine_id, 1e-4).await,
        Err(GalleryError::NotFound(_))
    ));
    assert_eq!(cluster.count().await, Ok(40));

    // Fail closed: with no shard node left, identify and count fail; never an empty answer.
    for node in nodes {
        node.kill();
    }
    let probe = pop.capture(17, 1, id("probe-17"));
    let identified = cluster.identify(probe, 5, 1e-3).await;
    assert!(
        matches!(identified, Err(GalleryError::Failed(_))),
        "{identified:?}"
    );
    let counted = cluster.count().await;
    assert!(
        matches!(counted, Err(GalleryError::Failed(_))),
        "{counted:?}"
    );
}
