//! Generates the Rust code of API v1 from `abis/v1/*.proto` with protoc (Debian's
//! `protobuf-compiler`; set `PROTOC` to use another) and writes the file descriptor set that
//! server reflection serves.

use std::path::PathBuf;

const PROTOS: [&str; 9] = [
    "abis/v1/templates.proto",
    "abis/v1/errors.proto",
    "abis/v1/cluster.proto",
    "abis/v1/records.proto",
    "abis/v1/identify.proto",
    "abis/v1/jobs.proto",
    "abis/v1/admin.proto",
    "abis/v1/shard.proto",
    "abis/v1/service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        // Clients are built on any `tonic::transport::Channel` (or other service) by the crates
        // that use them; no `connect` helpers, so this crate needs no transport features.
        .build_transport(false)
        .file_descriptor_set_path(out.join("abis_v1_descriptor.bin"))
        .compile_protos(&PROTOS, &["."])?;
    Ok(())
}
