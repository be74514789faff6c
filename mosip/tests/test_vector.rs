//! MOSIP's published datashare test vector (`../shared/data/mosip`): decrypted with its key
//! store, its CBEFF read, and its ten finger images decoded.

use abis_imaging::finger_record;
use abis_mosip::cbeff::{self, Modality};
use abis_mosip::datashare;
use abis_mosip::keys::DecryptionKey;
use abis_mosip::MosipError;
use base64::Engine;
use std::path::PathBuf;

/// The test vector's folder; `None` outside CI when it is missing, a failure under CI.
fn vector() -> Option<PathBuf> {
    abis_test_data::shared_data("mosip")
}

fn key(dir: &std::path::Path) -> DecryptionKey {
    let p12 = std::fs::read(dir.join("cbeff.p12")).unwrap();
    DecryptionKey::from_pkcs12(&p12, "password", Some("cbeff")).unwrap()
}

#[test]
fn the_test_vector_decrypts_to_thirteen_samples_whose_fingers_decode() {
    let Some(dir) = vector() else { return };
    let payload = std::fs::read(dir.join("encrypted-datashare.txt")).unwrap();
    let xml = datashare::decrypt(&payload, &key(&dir)).unwrap();
    let samples = cbeff::samples(&xml).unwrap();
    let count = |m: Modality| samples.iter().filter(|s| s.modality == m).count();
    assert_eq!(
        (
            count(Modality::Finger),
            count(Modality::Iris),
            count(Modality::Face)
        ),
        (10, 2, 1)
    );
    let mut positions = Vec::new();
    for sample in samples.iter().filter(|s| s.modality == Modality::Finger) {
        assert_eq!(
            (sample.format_owner.as_str(), sample.format_type.as_str()),
            ("Mosip", "7")
        );
        let record = finger_record::parse(&sample.data).unwrap();
        let view = &record.views[0];
        assert_eq!(Some(view.position), sample.finger_position(), "{sample:?}");
        let image = view.decode().unwrap();
        assert_eq!(
            (image.width, image.height),
            (u32::from(view.width), u32::from(view.height))
        );
        assert!(image.width >= 90 && image.height >= 160, "{image:?}");
        positions.push(view.position);
    }
    positions.sort();
    assert_eq!(positions, (1..=10).collect::<Vec<u8>>());
}

#[test]
fn altered_or_misaddressed_payloads_are_refused() {
    let Some(dir) = vector() else { return };
    let key = key(&dir);
    let payload = std::fs::read(dir.join("encrypted-datashare.txt")).unwrap();
    let raw = abis_mosip::decode_base64(&payload).unwrap();
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);

    // One bit of the ciphertext flipped: the GCM tag fails.
    let mut altered = raw.clone();
    let last = altered.len() - 40;
    altered[last] ^= 1;
    let err = datashare::decrypt(encode(&altered).as_bytes(), &key).unwrap_err();
    assert!(
        matches!(err, MosipError::Decrypt(ref m) if m.contains("tag")),
        "{err}"
    );

    // Another certificate's thumbprint.
    let mut other = raw.clone();
    other[6] ^= 0xff;
    let err = datashare::decrypt(encode(&other).as_bytes(), &key).unwrap_err();
    assert!(matches!(err, MosipError::WrongCertificate { .. }), "{err}");

    // The standard alphabet with padding reads the same.
    let standard = base64::engine::general_purpose::STANDARD.encode(&raw);
    assert!(datashare::decrypt(standard.as_bytes(), &key).is_ok());

    // No separator, not base64, truncated.
    let err = datashare::decrypt(encode(&raw[..200]).as_bytes(), &key).unwrap_err();
    assert!(matches!(err, MosipError::Envelope(_)), "{err}");
    assert!(matches!(
        datashare::decrypt(b"not base64 at all!", &key),
        Err(MosipError::Base64(_))
    ));
    let cut = raw.len() - 5000;
    assert!(matches!(
        datashare::decrypt(encode(&raw[..cut]).as_bytes(), &key),
        Err(MosipError::Decrypt(_))
    ));
}

#[test]
fn cbeff_documents_without_data_or_too_deep_are_refused() {
    let err = cbeff::samples(b"<BIR><BIRInfo/></BIR>").unwrap_err();
    assert!(matches!(err, MosipError::CbeffEmpty), "{err}");
    assert!(matches!(
        cbeff::samples(b"<html><BIR/></html>"),
        Err(MosipError::Cbeff(ref m)) if m.contains("root element is html")
    ));
    let deep = "<BIR>".to_owned() + &"<a>".repeat(40) + &"</a>".repeat(40) + "</BIR>";
    assert!(matches!(
        cbeff::samples(deep.as_bytes()),
        Err(MosipError::Cbeff(ref m)) if m.contains("deeper")
    ));
    let bad_base64 = b"<BIR><BIR><BDBInfo><Type>Finger</Type></BDBInfo><BDB>@@@</BDB></BIR></BIR>";
    assert!(matches!(
        cbeff::samples(bad_base64),
        Err(MosipError::Base64(_))
    ));
    let unclosed = b"<BIR><BIR><BDBInfo><Type>Finger</Type></BDBInfo><BDB>QUJD</BDB></BIR>";
    let samples = cbeff::samples(unclosed);
    // An unclosed root is either refused or yields its one complete sample, never a panic.
    if let Ok(s) = samples {
        assert_eq!(s[0].data, b"ABC");
    }
}
