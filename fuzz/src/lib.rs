//! The checks behind each fuzz target, as plain functions so the AFL binaries
//! (`src/bin/<target>.rs`), the `replay` binary and the seed generator share them.
//!
//! Every check treats an `Err` from the code under test as a correct answer to bad input. It
//! panics only where the code broke a promise: a panic or abort inside a parser, or a property
//! the code documents (a record written by us parses back to what was written, a validated
//! record survives the wire, ...). Each assertion message names the property.

use abis_engine::record::Record;
use abis_engine::storage::codec;
use abis_engine::GalleryConfig;
use abis_matchers::finger::{self, ExtendedData, ParseOptions, RecordFormat};
use abis_proto::v1;
use abis_registration::applicant::{check_record, Applicant};
use abis_registration::manifest::{IrisContent, Manifest};
use prost::Message;
use std::path::{Path, PathBuf};

/// The fuzz targets, by name.
pub const TARGETS: [&str; 9] = [
    "finger_record",
    "population",
    "proto_record",
    "manifest",
    "wsq",
    "finger_image",
    "mosip_request",
    "stomp_frames",
    "cbeff",
];

/// Runs target `name`'s checks on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "finger_record" => finger_record(data),
        "population" => population(data),
        "proto_record" => proto_record(data),
        "manifest" => manifest(data),
        "wsq" => wsq(data),
        "finger_image" => finger_image(data),
        "mosip_request" => mosip_request(data),
        "stomp_frames" => stomp_frames(data),
        "cbeff" => cbeff(data),
        _ => return false,
    }
    true
}

/// Every format a minutiae record can be written in.
pub const FORMATS: [RecordFormat; 3] = [
    RecordFormat::Iso19794_2_2005,
    RecordFormat::Iso19794_2_2011,
    RecordFormat::Ansi378_2004,
];

// ---------------------------------------------------------------------------------------------
// finger_record

/// `finger_record`: the input is an ISO/IEC 19794-2:2005/:2011 or ANSI 378 record.
///
/// Parsed (both extended-data modes, and format detection); when it parses, written in every
/// format, and each output must parse again, be detected as the format written, and write back
/// to the same bytes; written in its own format it must parse back to the very record
/// (`abis_matchers::finger::format`'s promise). The proto layer's reading of the same bytes
/// (`minutiae_from_record`: first view, brought to 500 ppi) runs too.
pub fn finger_record(data: &[u8]) {
    let _ = finger::detect(data);
    let _ = finger::parse_with(
        data,
        ParseOptions {
            extended: ExtendedData::Skip,
        },
    );
    let Ok(record) = finger::parse(data) else {
        return;
    };
    let _ = abis_proto::minutiae_from_record(data, 1);
    if let Some(view) = record.views.first() {
        if (1..=10).contains(&view.position) {
            let _ = abis_proto::minutiae_from_record(data, view.position);
        }
    }
    for format in FORMATS {
        let Ok(bytes) = finger::write(&record, format) else {
            continue;
        };
        let again = match finger::parse(&bytes) {
            Ok(r) => r,
            Err(e) => panic!("{format} written from a parsed record does not parse: {e}"),
        };
        assert_eq!(
            again.format, format,
            "written as {format}, read back as {}",
            again.format
        );
        let rewritten = finger::write(&again, format).unwrap_or_else(|e| {
            panic!("{format}: a record read from our own output fails to write: {e}")
        });
        assert!(
            rewritten == bytes,
            "{format}: write(parse(write(r))) differs from write(r)"
        );
        if format == record.format {
            assert_eq!(again, record, "{format}: parse(write(r)) != r");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// population

/// The population file header (`abis_datasets::population`): magic and format version 1.
pub const POPULATION_HEADER: &[u8; 12] = b"ABISPOP\0\x01\0\0\0";

/// `population`: the population file format and the engine's stored record encoding.
///
/// The first byte picks a mode (even: raw, odd: framed); the rest is
/// - raw: a population file as is, read with `PopulationReader` (from a temp file: the reader
///   only opens paths), and also handed to `codec::decode` as one stored record;
/// - framed: a sequence of record bodies, each `[u16 LE length][body]`, where a body is a stored
///   record less its tag byte and CRC (it starts with the format version byte). Each is framed
///   with the tag and a correct CRC-32, decoded, and the lot is written as a population file and
///   read back, so the fuzzer reaches the postcard decoding behind the checksum.
///
/// Every record decoded is re-encoded (`decode(encode(r))` must give `encode(r)` again) and
/// validated against the default gallery (`validate_and_normalise`, as `abis enroll` does).
pub fn population(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(record) = codec::decode(rest) {
            check_decoded(record);
        }
        read_population_file(rest);
    } else {
        let mut file = POPULATION_HEADER.to_vec();
        for body in chunks(rest) {
            let stored = frame_record(body);
            if let Ok(record) = codec::decode(&stored) {
                check_decoded(record);
            }
            file.extend_from_slice(&(stored.len() as u32).to_le_bytes());
            file.extend_from_slice(&stored);
        }
        read_population_file(&file);
    }
}

/// A stored record from a body (version byte + postcard): tag `'R'` in front, CRC-32 behind.
pub fn frame_record(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(b'R');
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The body of a stored record (what [`frame_record`] frames).
pub fn record_body(stored: &[u8]) -> &[u8] {
    &stored[1..stored.len() - 4]
}

fn read_population_file(bytes: &[u8]) {
    let path = scratch_path("population.pop");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let Ok(reader) = abis_datasets::population::PopulationReader::open(&path) else {
        return;
    };
    // Not bounded on purpose: a reader that never ends would show as a hang.
    for record in reader.flatten() {
        check_decoded(record);
    }
}

fn check_decoded(mut record: Record) {
    let bytes = codec::encode(&record);
    let back = match codec::decode(&bytes) {
        Ok(r) => r,
        Err(e) => panic!("a decoded record, re-encoded, does not decode: {e}"),
    };
    assert!(
        codec::encode(&back) == bytes,
        "decode(encode(r)) encodes differently"
    );
    let _ = record.validate_and_normalise(&GalleryConfig::default());
}

// ---------------------------------------------------------------------------------------------
// proto_record

/// `proto_record`: protobuf messages of API `abis.v1` as a server receives them.
///
/// The first byte picks the message (mod 3): 0 `Record`, 1 `InsertRequest`, 2 `IdentifyRequest`;
/// the rest is decoded with `prost::Message::decode`. Records are converted with `TryFrom`,
/// `into_engine` (default gallery layout), `checked_batch` (conversion plus the engine's
/// `validate_and_normalise` against `GalleryConfig::default()`), and the registration client's
/// `Applicant::from_record`; batches with `batch_into_engine` and `checked_batch`; identify
/// options with `identify_request`. A record that passes `checked_batch` must survive the wire:
/// `record_to_proto` -> bytes -> decode -> `into_engine` gives the same record, which validates
/// again.
pub fn proto_record(data: &[u8]) {
    proto_record_accepted(data);
}

/// [`proto_record`]'s checks; `true` when some record of the input passed `checked_batch`.
pub fn proto_record_accepted(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    let shape = GalleryConfig::default();
    match mode % 3 {
        0 => match v1::Record::decode(rest) {
            Ok(record) => check_proto_record(record, &shape),
            Err(_) => false,
        },
        1 => {
            let Ok(request) = v1::InsertRequest::decode(rest) else {
                return false;
            };
            let _ = abis_proto::batch_into_engine(
                request.records.clone(),
                &shape.iris_layout,
                "records",
            );
            let Ok(records) = abis_proto::checked_batch(request.records, &shape, "records") else {
                return false;
            };
            for record in records {
                check_wire_round_trip(record, &shape);
            }
            true
        }
        _ => {
            let Ok(request) = v1::IdentifyRequest::decode(rest) else {
                return false;
            };
            let _ = abis_proto::identify_request(request.options.as_ref());
            request
                .probe
                .is_some_and(|probe| check_proto_record(probe, &shape))
        }
    }
}

fn check_proto_record(record: v1::Record, shape: &GalleryConfig) -> bool {
    let _ = Record::try_from(record.clone());
    let _ = record.clone().into_engine(&shape.iris_layout);
    let _ = Applicant::from_record(record.clone());
    let records = match abis_proto::checked_batch(vec![record], shape, "records") {
        Ok(r) => r,
        Err(e) => {
            if debug() {
                eprintln!("checked_batch: {e}");
            }
            return false;
        }
    };
    for record in records {
        check_wire_round_trip(record, shape);
    }
    true
}

fn check_wire_round_trip(record: Record, shape: &GalleryConfig) {
    let wire = abis_proto::record_to_proto(&record, &shape.iris_layout);
    let bytes = wire.encode_to_vec();
    let decoded = v1::Record::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("an encoded record does not decode: {e}"));
    assert_eq!(decoded, wire, "prost round trip of a validated record");
    let mut back = decoded
        .into_engine(&shape.iris_layout)
        .unwrap_or_else(|e| panic!("a validated record does not convert back from the wire: {e}"));
    assert_eq!(back, record, "engine -> wire -> engine changed the record");
    back.validate_and_normalise(shape).unwrap_or_else(|e| {
        panic!("a validated record, sent over the wire, fails validation: {e}")
    });
}

// ---------------------------------------------------------------------------------------------
// manifest

/// `manifest`: the registration client's applicant manifest (JSON) and the folder it describes.
///
/// The input is the manifest's bytes, then optionally a NUL byte and the named files' contents
/// as `[u16 LE length][bytes]` chunks, taken in manifest order (each finger's file, each iris's
/// code then mask, the face). Checks:
/// - `Manifest::parse`; a parsed manifest serialises and parses back to itself;
/// - the record `Applicant::load` would build is built in memory from the chunks and checked with
///   `check_record` and `Applicant::from_record`;
/// - a real folder is written (the manifest as given, each file whose name is a plain file name)
///   and loaded with `Applicant::load`; a loaded applicant must pass `check_record`, carry the
///   manifest's packet id, and, when every file was written from its own chunk, equal the
///   in-memory one.
pub fn manifest(data: &[u8]) {
    manifest_loaded(data);
}

/// [`manifest`]'s checks; `true` when `Applicant::load` accepted the folder.
pub fn manifest_loaded(data: &[u8]) -> bool {
    let (json, files) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let path = Path::new("applicant/manifest.json");
    let Ok(manifest) = Manifest::parse(path, json) else {
        return false;
    };
    let text = serde_json::to_vec(&manifest).expect("a parsed manifest serialises");
    let again = Manifest::parse(path, &text)
        .unwrap_or_else(|e| panic!("a serialised manifest does not parse: {e}"));
    assert_eq!(again, manifest, "manifest JSON round trip");

    // The files in manifest order, each with its chunk.
    let mut contents = chunks(files);
    let mut next = || contents.next().unwrap_or_default().to_vec();
    let mut named: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut record = v1::Record {
        reference_id: manifest.packet_id.clone(),
        ..Default::default()
    };
    for finger in &manifest.fingers {
        let bytes = next();
        named.push((finger.file.as_str(), bytes.clone()));
        // As the loader tells them apart: a minutiae record by its magic, else an image.
        let template = if bytes.starts_with(abis_registration::applicant::MINUTIAE_RECORD_MAGIC) {
            v1::finger::Template::IsoOrAnsiRecord(bytes)
        } else {
            v1::finger::Template::Image(bytes)
        };
        record.fingers.push(v1::Finger {
            position: finger.position,
            template: Some(template),
        });
    }
    for iris in &manifest.irises {
        // An entry the loader refuses (no eye, a code and an image mixed) has no files.
        let Ok((eye, content)) = iris.content() else {
            continue;
        };
        let eye = eye.to_proto() as i32;
        match content {
            IrisContent::Code { code, mask, layout } => {
                let (code_bytes, mask_bytes) = (next(), next());
                named.push((code, code_bytes.clone()));
                named.push((mask, mask_bytes.clone()));
                record.irises.push(v1::Iris {
                    eye,
                    code: code_bytes,
                    mask: mask_bytes,
                    layout: Some(layout),
                    image: Vec::new(),
                });
            }
            IrisContent::Image(image) => {
                let bytes = next();
                named.push((image, bytes.clone()));
                record.irises.push(v1::Iris {
                    eye,
                    image: bytes,
                    ..Default::default()
                });
            }
        }
    }
    if let Some(image) = &manifest.face_image {
        let bytes = next();
        named.push((image.as_str(), bytes.clone()));
        record.face = Some(v1::Face {
            image: bytes,
            ..Default::default()
        });
    }
    if let Some(face) = &manifest.face {
        let bytes = next();
        let embedding = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        named.push((face.as_str(), bytes));
        record.face = Some(v1::Face {
            embedding,
            image: Vec::new(),
        });
    }
    let _ = check_record(&record);
    let in_memory = Applicant::from_record(record);

    // The same applicant from a real folder.
    let Some(dir) = fresh_dir("applicant") else {
        return false;
    };
    let manifest_path = dir.join(abis_registration::MANIFEST_FILE);
    if std::fs::write(&manifest_path, json).is_err() {
        return false;
    }
    let mut comparable = true;
    let mut written: Vec<&str> = Vec::new();
    for (name, bytes) in &named {
        if !plain_file_name(name) || written.contains(name) {
            comparable = false;
            continue;
        }
        written.push(name);
        if std::fs::write(dir.join(name), bytes).is_err() {
            return false;
        }
    }
    let loaded = match Applicant::load(&manifest_path) {
        Ok(a) => a,
        Err(e) => {
            if debug() {
                eprintln!("Applicant::load: {e}");
            }
            return false;
        }
    };
    check_record(&loaded.record)
        .unwrap_or_else(|e| panic!("a loaded applicant fails check_record: {e}"));
    assert_eq!(
        loaded.packet_id, manifest.packet_id,
        "packet id of a loaded applicant"
    );
    if comparable {
        match in_memory {
            Ok(expected) => assert_eq!(loaded, expected, "loaded vs built in memory"),
            Err(e) => panic!("loaded from a folder, refused in memory: {e}"),
        }
    }
    true
}

/// A name the harness writes into the folder: one plain component, not the manifest.
fn plain_file_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name != "."
        && name != ".."
        && name != abis_registration::MANIFEST_FILE
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

// ---------------------------------------------------------------------------------------------
// helpers

/// Splits `bytes` into `[u16 LE length][bytes]` chunks; a short last chunk is taken as is.
pub fn chunks(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if bytes.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_le_bytes([bytes[0], bytes[1]]));
        let rest = &bytes[2..];
        let (chunk, after) = rest.split_at(len.min(rest.len()));
        bytes = after;
        Some(chunk)
    })
}

/// Appends `bytes` as one chunk (see [`chunks`]).
pub fn push_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).expect("chunks are at most 65,535 bytes");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Whether `ABIS_FUZZ_DEBUG` is set: print why an input stopped short of the deep checks.
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("ABIS_FUZZ_DEBUG").is_some())
}

/// A per-process path in the temp folder (`TMPDIR`; `run.sh` points it into `fuzz/work/`).
fn scratch_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("abis-fuzz-{}-{name}", std::process::id()))
}

/// An empty per-process folder, emptied again on every call.
fn fresh_dir(name: &str) -> Option<PathBuf> {
    let dir = scratch_path(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return None,
    }
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

// ---------------------------------------------------------------------------------------------
// wsq

/// `wsq`: the input is a WSQ-compressed fingerprint image (`abis_wsq::decode`).
///
/// Decoded with the default limits: an image must have `width * height` pixels and decode
/// the same way twice. Decoded again under a limit of 4,096 pixels: an image above it must be
/// refused as too large, one within it must decode exactly as before.
pub fn wsq(data: &[u8]) {
    let full = abis_wsq::decode(data);
    if let Ok(image) = &full {
        assert_eq!(
            image.pixels.len(),
            image.width as usize * image.height as usize,
            "pixel count differs from width x height"
        );
        assert!(
            abis_wsq::decode(data).as_ref() == Ok(image),
            "decoding the same bytes twice differs"
        );
    }
    let limit = abis_wsq::DecodeOptions::default().max_pixels(4096);
    match (abis_wsq::decode_with(data, &limit), &full) {
        (Err(abis_wsq::WsqError::TooLarge { .. }), _) => {}
        (small, Ok(image)) => {
            let area = u64::from(image.width) * u64::from(image.height);
            assert!(
                area <= 4096,
                "a {area}-pixel image passed a 4096-pixel limit"
            );
            assert!(
                small.as_ref() == Ok(image),
                "the limit changed a decoded image"
            );
        }
        (Ok(_), Err(e)) => panic!("decodes under a lower limit only (default limit: {e})"),
        (Err(_), Err(_)) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// finger_image

/// `finger_image`: the input is an ISO/IEC 19794-4 finger image record or an image file
/// (`abis_imaging`).
///
/// Parsed as a record and every view decoded, or decoded as an image file: a decoded image
/// must hold `width * height` pixels within the size limits, carry the record's declared size,
/// and decode the same way twice.
pub fn finger_image(data: &[u8]) {
    let check = |image: &abis_imaging::GreyImage| {
        assert_eq!(
            image.pixels.len() as u64,
            u64::from(image.width) * u64::from(image.height),
            "pixel count differs from width x height"
        );
        assert!(
            abis_imaging::check_size(image.width.into(), image.height.into()).is_ok(),
            "an image past the size limits was decoded"
        );
    };
    match abis_imaging::finger_record::parse(data) {
        Ok(record) => {
            for view in &record.views {
                if let Ok(image) = view.decode() {
                    check(&image);
                    let declared = (u32::from(view.width), u32::from(view.height));
                    assert_eq!(
                        (image.width, image.height),
                        declared,
                        "size differs from the record's"
                    );
                    assert!(
                        view.decode().as_ref() == Ok(&image),
                        "decoding twice differs"
                    );
                }
            }
        }
        Err(_) => {
            if let Ok(image) = abis_imaging::decode(data) {
                check(&image);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MOSIP: ABIS messages, the STOMP frames they travel in, CBEFF documents

/// `mosip_request`: the input is a MOSIP ABIS request (JSON, as it arrives from the queue).
///
/// Read and checked (`abis_mosip::request::parse`). A request read carries a non-empty
/// requestId; a refused one carries a failure reason MOSIP knows (1..=18), and its reply is JSON
/// with `returnValue` "2" and that reason as a string, echoing the id and requestId given.
pub fn mosip_request(data: &[u8]) {
    use abis_mosip::request::{self, Reply};
    match request::parse(data) {
        Ok(read) => {
            assert!(
                !read.request_id.trim().is_empty(),
                "a request read has a requestId"
            );
            let reply = Reply::success("mosip.abis.ping", &read.request_id).to_json();
            let json: serde_json::Value = serde_json::from_str(&reply).expect("replies are JSON");
            assert_eq!(json["requestId"], read.request_id.as_str(), "the reply echoes it");
        }
        Err(refusal) => {
            let code = refusal.reason.code();
            assert!((1..=18).contains(&code), "a failure reason MOSIP knows");
            let json: serde_json::Value =
                serde_json::from_str(&refusal.reply().to_json()).expect("refusals are JSON");
            assert_eq!(json["returnValue"], "2", "a refusal fails");
            assert_eq!(json["failureReason"], code.to_string(), "as a string");
            assert_eq!(json["requestId"], refusal.request_id.as_str(), "echoed");
        }
    }
}

/// The largest body `stomp_frames` keeps (larger ones are read and dropped).
const STOMP_MAX_BODY: usize = 64;

/// `stomp_frames`: the input is a byte stream from a STOMP broker.
///
/// Frames are read until the stream ends or breaks (`abis_mosip::stomp::FrameReader`, bodies
/// over 64 bytes dropped). No body kept is over the limit; a frame kept whole, written again
/// (`Frame::encode`) and read back, has the same headers and body.
pub fn stomp_frames(data: &[u8]) {
    use abis_mosip::stomp::FrameReader;
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
    }
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let mut reader = FrameReader::new(data, STOMP_MAX_BODY);
            while let Ok(Some(frame)) = reader.next().await {
                assert!(frame.body.len() <= STOMP_MAX_BODY, "bodies are bounded");
                if frame.oversized.is_some() {
                    assert!(frame.body.is_empty(), "an oversized body is dropped");
                    continue;
                }
                let bytes = frame.encode();
                let mut again = FrameReader::new(bytes.as_slice(), STOMP_MAX_BODY);
                let read = again
                    .next()
                    .await
                    .expect("a frame we wrote reads")
                    .expect("a frame we wrote is there");
                assert_eq!(read.headers, frame.headers, "headers survive a round trip");
                assert_eq!(read.body, frame.body, "the body survives a round trip");
            }
        })
    });
}

/// `cbeff`: the input is a CBEFF XML document (as decrypted from a datashare).
///
/// Read (`abis_mosip::cbeff::samples`). A document read holds 1..=`MAX_SAMPLES` samples, each
/// with data or marked an exception; a finger position is given only for finger samples, and
/// is 1..=10.
pub fn cbeff(data: &[u8]) {
    use abis_mosip::cbeff::{self, Modality};
    let Ok(samples) = cbeff::samples(data) else {
        return;
    };
    assert!(
        !samples.is_empty() && samples.len() <= cbeff::MAX_SAMPLES,
        "sample count bounded"
    );
    for sample in &samples {
        assert!(
            sample.exception || !sample.data.is_empty(),
            "a sample has data or is an exception"
        );
        match sample.finger_position() {
            Some(p) => assert!(
                sample.modality == Modality::Finger && (1..=10).contains(&p),
                "finger positions are fingers' and 1..=10"
            ),
            None => {}
        }
    }
}
