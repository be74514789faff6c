//! Finger images through a real coordinator in front of two shard nodes: the coordinator
//! extracts them (FVC2002 DB1 images wrapped as ISO/IEC 19794-4 records, as a capture device
//! sends them), the nodes receive and store templates, and the mate of another impression is
//! found on either replica.

use crate::harness::*;
use abis_proto::v1;
use std::path::Path;

/// Whether LEADER is installed (`scripts/fetch-models.sh`); under CI it must be.
fn model_installed() -> bool {
    let path = abis_extract::default_leader_path().unwrap_or_default();
    abis_test_data::required(path, "run scripts/fetch-models.sh").is_some()
}

/// A person whose right index finger is FVC2002 DB1 `<subject>_<impression>.tif` (500 ppi).
fn person(db1: &Path, subject: u32, impression: u32, id: &str) -> v1::Record {
    let tiff = std::fs::read(db1.join(format!("{subject}_{impression}.tif"))).unwrap();
    let mut image = abis_imaging::decode(&tiff).unwrap();
    image.resolution = Some(abis_imaging::Resolution::square(500.0));
    let record = abis_imaging::finger_record::write_raw_2005(&image, 2).unwrap();
    v1::Record {
        reference_id: id.into(),
        fingers: vec![v1::Finger {
            position: 2,
            template: Some(v1::finger::Template::Image(record)),
        }],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_extracts_finger_images_and_the_nodes_hold_templates() {
    let Some(db1) = abis_test_data::shared_data("fvc2002/DB1_B") else {
        return;
    };
    if !model_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<NodeSpec> = (1..=2)
        .map(|i| NodeSpec::new(dir.path(), &format!("s{i}"), &format!("127.0.9.{i}")))
        .collect();
    let _nodes: Vec<Proc> = specs.iter().map(|s| s.start(&[])).collect();
    let mut args: Vec<String> = specs.iter().flat_map(|s| s.flag()).collect();
    args.extend(
        [
            "--insecure-plaintext",
            "--metrics-listen",
            "127.0.9.10:0",
            "--extract-threads",
            "2",
        ]
        .map(String::from),
    );
    let coord = coordinator("127.0.9.10", &dir.path().join("coord"), &args);
    let metrics = coord.metrics.expect("metrics address announced");
    let mut c = client(coord.addr, "").await;

    let records: Vec<_> = (101..=105)
        .map(|s| person(&db1, s, 1, &format!("p{s}")))
        .collect();
    insert_all(&mut c, records).await;
    let found = identify(&mut c, vec![person(&db1, 104, 2, "probe")], false)
        .await
        .unwrap();
    let top = found[0].candidates.first().map(|c| c.reference_id.as_str());
    assert_eq!(top, Some("p104"), "{found:?}");
    assert!(found[0].completeness.as_ref().unwrap().is_complete());

    // With R = 2 each node holds every record, as the template the coordinator extracted.
    for spec in &specs {
        let info = shard(spec.addr)
            .await
            .info(v1::ShardNodeInfoRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(info.records, 5, "node {}", spec.addr);
    }
    let text = abis_server_kit::metrics::http_get(metrics, "/metrics").unwrap();
    assert!(
        text.contains(r#"abis_image_extract_seconds_count{modality="finger",outcome="ok"} 6"#),
        "{text}"
    );
}
