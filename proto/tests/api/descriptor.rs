//! The file descriptor set: it decodes, holds the three services with their RPCs and the
//! imports reflection needs, and tonic's reflection service accepts it.

use abis_proto::FILE_DESCRIPTOR_SET;
use prost::Message;
use prost_types::FileDescriptorSet;

fn methods(set: &FileDescriptorSet, service: &str) -> Vec<String> {
    set.file
        .iter()
        .filter(|f| f.package() == "abis.v1")
        .flat_map(|f| &f.service)
        .find(|s| s.name() == service)
        .unwrap_or_else(|| panic!("service {service} missing"))
        .method
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

#[test]
fn descriptor_set_lists_the_three_services_and_their_rpcs() {
    let set = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let services: Vec<String> = set
        .file
        .iter()
        .flat_map(|f| {
            f.service
                .iter()
                .map(move |s| format!("{}.{}", f.package(), s.name()))
        })
        .collect();
    assert_eq!(services, ["abis.v1.Abis", "abis.v1.Admin", "abis.v1.Shard"]);
    assert_eq!(
        methods(&set, "Abis"),
        [
            "Insert",
            "Delete",
            "Identify",
            "IdentifyBatch",
            "Verify",
            "SubmitDedupJob",
            "GetJob",
            "WatchJob",
            "Ping",
            "ReferenceCount",
            "PendingJobs"
        ]
    );
    assert_eq!(
        methods(&set, "Admin"),
        [
            "ListShards",
            "AddShard",
            "DrainShard",
            "RemoveShard",
            "StartRebalance",
            "RebalanceStatus"
        ]
    );
    assert_eq!(
        methods(&set, "Shard"),
        [
            "Info",
            "Insert",
            "Delete",
            "IdentifyBatch",
            "Verify",
            "Get",
            "Count",
            "Summaries",
            "ScanRecords",
            "DropSlots"
        ]
    );
    let watch = set
        .file
        .iter()
        .flat_map(|f| &f.service)
        .flat_map(|s| &s.method)
        .find(|m| m.name() == "WatchJob")
        .unwrap();
    assert!(watch.server_streaming() && !watch.client_streaming());
    let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
    assert!(
        names.contains(&"google/protobuf/timestamp.proto"),
        "{names:?}"
    );
}

#[test]
fn proto_comments_are_kept_as_api_docs() {
    let set = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let templates = set
        .file
        .iter()
        .find(|f| f.name() == "abis/v1/templates.proto")
        .unwrap();
    let info = templates
        .source_code_info
        .as_ref()
        .expect("source info kept for reflection clients");
    assert!(info.location.iter().any(|l| l
        .leading_comments()
        .contains("ISO/IEC 19794-2 finger position")));
}

#[test]
fn reflection_service_accepts_the_descriptor_set() {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("reflection accepts the set");
}
