//! Applicant folders: round trip through the manifest, and typed errors for bad files.

use crate::support::{applicant, population};
use abis_proto::v1;
use abis_registration::{write_applicant, Applicant, Error, Manifest, MANIFEST_FILE};

fn finger_bytes(record: &v1::Record, position: u32) -> &[u8] {
    let finger = record
        .fingers
        .iter()
        .find(|f| f.position == position)
        .expect("finger");
    match &finger.template {
        Some(v1::finger::Template::IsoOrAnsiRecord(b)) => b,
        other => panic!("finger {position} loaded as {other:?}"),
    }
}

#[test]
fn manifest_round_trip_gives_back_the_same_biometrics() {
    let pop = population(3);
    let original = applicant(&pop, 42, 0, "packet-42");
    let dir = tempfile::tempdir().unwrap();
    let path = write_applicant(dir.path(), &original.record).unwrap();
    assert_eq!(path, dir.path().join(MANIFEST_FILE));
    let manifest = Manifest::read(&path).unwrap();
    assert_eq!(manifest.packet_id, "packet-42");
    assert_eq!(manifest.fingers.len(), 3);
    assert_eq!(manifest.irises.len(), original.record.irises.len());

    let loaded = Applicant::load(&path).unwrap();
    assert_eq!(loaded.packet_id, "packet-42");
    assert_eq!(loaded.record.irises, original.record.irises);
    assert_eq!(loaded.record.face, original.record.face);
    // Fingers travel as ISO 19794-2 bytes whose minutiae are the original ones.
    for finger in &original.record.fingers {
        let Some(v1::finger::Template::Minutiae(native)) = &finger.template else {
            panic!("fixture fingers are native minutiae");
        };
        let bytes = finger_bytes(&loaded.record, finger.position);
        let parsed = abis_proto::minutiae_from_record(bytes, finger.position as u8).unwrap();
        let as_proto: Vec<(u32, u32, u32)> = native
            .minutiae
            .iter()
            .map(|m| (m.x, m.y, m.angle))
            .collect();
        let back: Vec<(u32, u32, u32)> = parsed
            .iter()
            .map(|m| (u32::from(m.x), u32::from(m.y), u32::from(m.angle)))
            .collect();
        assert_eq!(back, as_proto, "finger {}", finger.position);
    }
    // Writing the loaded applicant again keeps the ISO bytes unchanged.
    let again = tempfile::tempdir().unwrap();
    let reloaded =
        Applicant::load(&write_applicant(again.path(), &loaded.record).unwrap()).unwrap();
    assert_eq!(reloaded, loaded);
}

#[test]
fn corrupt_finger_file_is_a_typed_error_before_submission() {
    let pop = population(2);
    let original = applicant(&pop, 7, 0, "packet-7");
    let dir = tempfile::tempdir().unwrap();
    let path = write_applicant(dir.path(), &original.record).unwrap();
    let finger = dir.path().join("finger-2.iso");
    let mut bytes = std::fs::read(&finger).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&finger, &bytes).unwrap();
    match Applicant::load(&path) {
        Err(Error::InvalidApplicant { packet_id, reason }) => {
            assert_eq!(packet_id, "packet-7");
            assert!(reason.contains("finger 2"), "{reason}");
        }
        other => panic!("expected InvalidApplicant, got {other:?}"),
    }
    // A wrong magic too: neither a minutiae record nor an image.
    std::fs::write(&finger, b"XYZ\0 20\0garbage").unwrap();
    match Applicant::load(&path) {
        Err(Error::InvalidApplicant { reason, .. }) => {
            assert!(reason.contains("neither a minutiae record nor"), "{reason}")
        }
        other => panic!("expected InvalidApplicant, got {other:?}"),
    }
}

#[test]
fn finger_images_travel_as_images_and_keep_their_kind_on_disk() {
    let pop = population(4);
    let original = applicant(&pop, 9, 0, "packet-9");
    let dir = tempfile::tempdir().unwrap();
    let path = write_applicant(dir.path(), &original.record).unwrap();
    // Capture wrote an ISO/IEC 19794-4 record and a PNG instead of two minutiae records.
    let record = [&b"FIR\x00010\x00"[..], &[0; 40]].concat();
    let png = [&b"\x89PNG\r\n\x1a\n"[..], &[1; 40]].concat();
    std::fs::write(dir.path().join("finger-2.iso"), &record).unwrap();
    std::fs::write(dir.path().join("finger-3.iso"), &png).unwrap();
    let loaded = Applicant::load(&path).unwrap();
    let image = |position: u32| {
        let finger = loaded
            .record
            .fingers
            .iter()
            .find(|f| f.position == position);
        match finger.and_then(|f| f.template.as_ref()) {
            Some(v1::finger::Template::Image(bytes)) => bytes.clone(),
            other => panic!("finger {position} loaded as {other:?}"),
        }
    };
    assert_eq!((image(2), image(3)), (record.clone(), png.clone()));
    let other = original.record.fingers[0].position;
    assert!(finger_bytes(&loaded.record, other).starts_with(b"FMR\0"));

    let again = tempfile::tempdir().unwrap();
    let written = write_applicant(again.path(), &loaded.record).unwrap();
    assert_eq!(
        std::fs::read(again.path().join("finger-2.fir")).unwrap(),
        record
    );
    assert_eq!(
        std::fs::read(again.path().join("finger-3.png")).unwrap(),
        png
    );
    assert_eq!(Applicant::load(&written).unwrap(), loaded);

    // An image larger than any finger image is refused before it is read.
    let huge = vec![0u8; (abis_registration::applicant::MAX_FINGER_IMAGE_BYTES + 1) as usize];
    std::fs::write(dir.path().join("finger-2.iso"), huge).unwrap();
    assert!(matches!(
        Applicant::load(&path),
        Err(Error::InvalidApplicant { .. })
    ));
}

#[test]
fn missing_files_wrong_sizes_and_bad_json_are_typed_errors() {
    let pop = population(0);
    let original = applicant(&pop, 3, 0, "packet-3");
    assert_eq!(
        original.record.irises.len(),
        2,
        "fixture person has both eyes"
    );
    assert!(original.record.face.is_some(), "fixture person has a face");
    let dir = tempfile::tempdir().unwrap();
    let path = write_applicant(dir.path(), &original.record).unwrap();
    assert!(Applicant::load(&path).is_ok());

    // Face file that is not whole f32 values.
    let face = dir.path().join("face.f32");
    let good_face = std::fs::read(&face).unwrap();
    std::fs::write(&face, &good_face[..good_face.len() - 1]).unwrap();
    assert!(matches!(
        Applicant::load(&path),
        Err(Error::InvalidApplicant { .. })
    ));
    // All-zero face.
    std::fs::write(&face, vec![0u8; good_face.len()]).unwrap();
    assert!(matches!(
        Applicant::load(&path),
        Err(Error::InvalidApplicant { .. })
    ));
    std::fs::write(&face, &good_face).unwrap();

    // Iris code shorter than its layout.
    let code = dir.path().join("iris-left.code");
    let good_code = std::fs::read(&code).unwrap();
    std::fs::write(&code, &good_code[1..]).unwrap();
    match Applicant::load(&path) {
        Err(Error::InvalidApplicant { reason, .. }) => {
            assert!(reason.contains("left iris"), "{reason}")
        }
        other => panic!("expected InvalidApplicant, got {other:?}"),
    }
    std::fs::write(&code, &good_code).unwrap();

    // A missing file.
    std::fs::remove_file(&face).unwrap();
    assert!(matches!(Applicant::load(&path), Err(Error::Io { .. })));
    std::fs::write(&face, &good_face).unwrap();

    // Bad JSON, an unknown field, a manifest with no template, a bad packet id.
    std::fs::write(&path, b"{not json").unwrap();
    assert!(matches!(
        Applicant::load(&path),
        Err(Error::BadManifest { .. })
    ));
    std::fs::write(&path, br#"{"packet_id": "p", "fingerz": []}"#).unwrap();
    assert!(matches!(
        Applicant::load(&path),
        Err(Error::BadManifest { .. })
    ));
    std::fs::write(&path, br#"{"packet_id": "p"}"#).unwrap();
    assert!(matches!(
        Applicant::load(&path),
        Err(Error::InvalidApplicant { .. })
    ));
    std::fs::write(&path, br#"{"packet_id": "", "face": "face.f32"}"#).unwrap();
    assert!(matches!(
        Applicant::load(&path),
        Err(Error::InvalidApplicant { .. })
    ));
    // The same finger position twice.
    std::fs::write(&path, br#"{"packet_id": "p", "face": "face.f32", "irises": [
        {"eye": "left", "code": "iris-left.code", "mask": "iris-left.mask", "rows": 8, "cols": 128, "bits_per_cell": 2},
        {"eye": "left", "code": "iris-left.code", "mask": "iris-left.mask", "rows": 8, "cols": 128, "bits_per_cell": 2}]}"#).unwrap();
    match Applicant::load(&path) {
        Err(Error::InvalidApplicant { reason, .. }) => {
            assert!(reason.contains("twice"), "{reason}")
        }
        other => panic!("expected InvalidApplicant, got {other:?}"),
    }
}

/// Hostile manifests (finding 9): names that leave the applicant folder (absolute, `..`, a
/// link pointing out), devices and oversized files are refused before a byte of them is read,
/// and the refusal tells nothing of what they hold.
#[test]
fn manifests_read_only_small_regular_files_inside_their_folder() {
    let pop = population(0);
    let original = applicant(&pop, 4, 0, "packet-4");
    let dir = tempfile::tempdir().unwrap();
    let path = write_applicant(&dir.path().join("folder"), &original.record).unwrap();
    let folder = path.parent().unwrap().to_owned();
    let good = std::fs::read_to_string(&path).unwrap();
    let outside = dir.path().join("secret.bin");
    std::fs::write(&outside, vec![7u8; 2048]).unwrap();
    std::os::unix::fs::symlink(&outside, folder.join("link.f32")).unwrap();
    std::fs::write(folder.join("huge.f32"), vec![0u8; 1 << 20]).unwrap();
    let hostile = [
        ("an absolute path", outside.display().to_string()),
        ("/etc/hostname", "/etc/hostname".to_owned()),
        ("a parent directory", "../secret.bin".to_owned()),
        ("a parent inside a path", "sub/../../secret.bin".to_owned()),
        ("a link out of the folder", "link.f32".to_owned()),
        ("a device", "/dev/zero".to_owned()),
        ("an oversized file", "huge.f32".to_owned()),
        ("an empty name", String::new()),
    ];
    for (what, name) in hostile {
        let manifest = good.replace("\"face.f32\"", &format!("{name:?}"));
        assert_ne!(manifest, good, "{what}");
        std::fs::write(&path, manifest).unwrap();
        match Applicant::load(&path) {
            Err(Error::InvalidApplicant { reason, .. }) => {
                assert!(!reason.contains("2048"), "{what}: leaks a size: {reason}");
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    std::fs::write(&path, &good).unwrap();
    assert!(Applicant::load(&path).is_ok());
}
