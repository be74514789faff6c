//! The standard services beside Shard (health, reflection) and the metrics endpoint.

use crate::harness::{insert_all, records, start_plain};
use abis_proto::v1;

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain("127.0.0.6", &dir.path().join("node"), &[]);
    let mut health = HealthClient::new(node.channel().await);
    for service in ["", "abis.v1.Shard"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_shard_service() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain("127.0.0.7", &dir.path().join("node"), &[]);
    let channel = node.channel().await;

    use tonic_reflection::pb::v1 as r1;
    let mut client = r1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = r1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("not a service list: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"abis.v1.Shard".to_string()), "{names:?}");

    use tonic_reflection::pb::v1alpha as ra;
    let mut client = ra::server_reflection_client::ServerReflectionClient::new(channel);
    let request = ra::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            ra::server_reflection_request::MessageRequest::FileContainingSymbol(
                "abis.v1.Shard".into(),
            ),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(ra::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        response.message_response
    else {
        panic!("not a file descriptor: {response:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    abis_server_kit::metrics::http_get(addr, path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_counts_requests_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain(
        "127.0.0.8",
        &dir.path().join("node"),
        &["--metrics-listen", "127.0.0.8:0"],
    );
    let metrics = node.metrics.expect("metrics address announced");
    let mut client = node.client().await;
    insert_all(&mut client, records(4)).await;
    for _ in 0..2 {
        client.info(v1::ShardNodeInfoRequest {}).await.unwrap();
    }
    client
        .get(v1::GetRecordRequest {
            reference_id: "nobody".into(),
        })
        .await
        .unwrap_err();
    let text = http_get(metrics, "/metrics");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for line in [
        "abis_shard_records 4",
        "abis_shard_requests_total{code=\"OK\",method=\"Info\"} 2",
        "abis_shard_requests_total{code=\"OK\",method=\"Insert\"} 1",
        "abis_shard_requests_total{code=\"NOT_FOUND\",method=\"Get\"} 1",
        "abis_shard_request_duration_seconds_count{method=\"Info\"} 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(http_get(metrics, "/other").starts_with("HTTP/1.1 404"));
}

/// A search whose caller gives up (its deadline, sent as grpc-timeout, passes) stops on the
/// node too instead of running on for nobody (finding 8): the engine sees the dropped call and
/// ends at its next chunk, which the node counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_abandoned_by_its_caller_stops_on_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_plain(
        "127.0.0.9",
        &dir.path().join("node"),
        &["--metrics-listen", "127.0.0.9:0"],
    );
    let metrics = node.metrics.expect("metrics address announced");
    let mut client = node.client().await;
    let layout = abis_engine::GalleryConfig::default().iris_layout;
    let pop = abis_datasets::population::Population::new(31).with_fingers(4);
    let gallery: Vec<v1::Record> = (0..200)
        .map(|i| abis_proto::record_to_proto(&pop.enrolment(i), &layout))
        .collect();
    insert_all(&mut client, gallery).await;
    // 300 four-finger probes take far longer than 30 ms to prepare and search.
    let probes: Vec<v1::Record> = (0..300)
        .map(|i| {
            let id = abis_engine::ReferenceId::new(format!("probe-{i}")).unwrap();
            abis_proto::record_to_proto(&pop.capture(i % 200, 1, id), &layout)
        })
        .collect();
    let mut request = tonic::Request::new(v1::ShardIdentifyBatchRequest {
        probes,
        max_results: 5,
        threshold_score: 6.0,
        slots: vec![],
    });
    request.set_timeout(std::time::Duration::from_millis(30));
    let err = client.identify_batch(request).await.unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
        ),
        "{err:?}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = http_get(metrics, "/metrics");
        if text
            .lines()
            .any(|l| l == "abis_shard_searches_cancelled_total 1")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned search was not stopped:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
