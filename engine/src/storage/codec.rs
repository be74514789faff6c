//! The stored form of a record: a tag byte, a format version, the postcard body, a CRC-32.
//!
//! Version 1 is the only format so far; a reader meeting a newer version says so instead of
//! misreading it.

use crate::error::{EngineError, Result};
use crate::record::Record;

const TAG: u8 = b'R';
const VERSION: u8 = 1;

/// Serialises a record.
pub fn encode(record: &Record) -> Vec<u8> {
    let mut out = vec![TAG, VERSION];
    let body = postcard::to_stdvec(record).expect("records always serialise");
    out.extend_from_slice(&body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Deserialises a record, checking tag, version and checksum.
pub fn decode(bytes: &[u8]) -> Result<Record> {
    let corrupt = |d: String| EngineError::corruption("record store", d);
    if bytes.len() < 6 || bytes[0] != TAG {
        return Err(corrupt(format!("not a record ({} bytes)", bytes.len())));
    }
    let (payload, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(payload) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(corrupt("record checksum mismatch".into()));
    }
    if payload[1] != VERSION {
        return Err(corrupt(format!(
            "record format version {}, this build reads {VERSION}",
            payload[1]
        )));
    }
    postcard::from_bytes(&payload[2..]).map_err(|e| corrupt(format!("undecodable record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Eye, FaceTemplate, IrisTemplate, ReferenceId};

    fn sample() -> Record {
        let mut r = Record::new(ReferenceId::new("a-1").unwrap());
        r.irises.push(IrisTemplate {
            eye: Eye::Right,
            code: vec![1, 2, 3],
            mask: vec![255, 255, 0],
        });
        r.face = Some(FaceTemplate {
            embedding: vec![0.6, 0.8],
        });
        r
    }

    #[test]
    fn round_trips_and_detects_damage() {
        let r = sample();
        let bytes = encode(&r);
        assert_eq!(decode(&bytes).unwrap(), r);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(
                matches!(decode(&bad), Err(EngineError::DataCorruption { .. })),
                "flip at {i}"
            );
        }
        assert!(decode(&bytes[..3]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode(&bytes);
            // With a valid frame around garbage, the body is still refused cleanly.
            let mut framed = vec![TAG, VERSION];
            framed.extend_from_slice(&bytes);
            let crc = crc32fast::hash(&framed);
            framed.extend_from_slice(&crc.to_le_bytes());
            let _ = decode(&framed);
        }
    }
}
