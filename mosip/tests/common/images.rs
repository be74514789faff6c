//! Registrations made of images: FVC2002 fingers as ISO/IEC 19794-4 records, CBEFF documents as
//! MOSIP writes them, and MOSIP's test vector re-captured. Shared by the adapter's tests and the
//! Bio-SDK service's (`biosdk/tests/`, which includes this file by path).

#![allow(dead_code)]

/// `../shared/data/<rel>`: `None` outside CI when missing; a failure under CI.
fn shared_dir(rel: &str) -> Option<std::path::PathBuf> {
    abis_test_data::shared_data(rel)
}

/// Whether the finger, iris and face models are installed; under CI they must be.
pub fn models_installed() -> bool {
    let leader = abis_extract::default_leader_path().unwrap_or_default();
    let face = abis_extract_face::models_dir().unwrap_or_default();
    [
        leader,
        face.join(abis_extract_face::RESNET_FILE),
        face.join(abis_extract_face::LANDMARKS_5_FILE),
        face.join(abis_extract_face::detect::DETECTOR_FILE),
    ]
    .into_iter()
    .all(|p| abis_test_data::required(p, "run scripts/fetch-models.sh").is_some())
}

/// MOSIP's published ABIS key (the test vector's key store, alias `cbeff`).
pub fn abis_key() -> abis_mosip::keys::DecryptionKey {
    let p12 = std::fs::read(shared_dir("mosip/cbeff.p12").unwrap()).unwrap();
    abis_mosip::keys::DecryptionKey::from_pkcs12(&p12, "password", Some("cbeff")).unwrap()
}

/// MOSIP's test vector, its CBEFF XML decrypted; `None` outside CI when the data is missing.
pub fn test_vector_xml() -> Option<Vec<u8>> {
    let payload = std::fs::read(shared_dir("mosip/encrypted-datashare.txt")?).unwrap();
    Some(abis_mosip::datashare::decrypt(&payload, &abis_key()).unwrap())
}

/// FVC2002 `db` image `<subject>_<impression>.tif` as an uncompressed ISO/IEC 19794-4:2005
/// record of finger `position` at 500 ppi (the resolution of DB1 and DB3, which their TIFFs do
/// not state).
pub fn fvc_record(db: &str, subject: u32, impression: u32, position: u8) -> Vec<u8> {
    let dir = shared_dir(&format!("fvc2002/{db}")).unwrap();
    let tiff = std::fs::read(dir.join(format!("{subject}_{impression}.tif"))).unwrap();
    let mut image = abis_imaging::decode(&tiff).unwrap();
    image.resolution = Some(abis_imaging::Resolution::square(500.0));
    abis_imaging::finger_record::write_raw_2005(&image, position).unwrap()
}

/// CBEFF's names of the ten fingers, by ISO position.
const FINGERS: [&str; 10] = [
    "Right Thumb",
    "Right IndexFinger",
    "Right MiddleFinger",
    "Right RingFinger",
    "Right LittleFinger",
    "Left Thumb",
    "Left IndexFinger",
    "Left MiddleFinger",
    "Left RingFinger",
    "Left LittleFinger",
];

/// A CBEFF document as MOSIP writes one, of `(type, subtype, ISO record)` samples
/// (`Finger`/`Iris`/`Face`, with MOSIP's format types 7/9/8).
pub fn cbeff_of(samples: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    use base64::Engine;
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><BIR xmlns="http://standards.iso.org/iso-iec/19785/-3/ed-2/"><BIRInfo><Integrity>false</Integrity></BIRInfo>"#,
    );
    for (kind, subtype, record) in samples {
        let format = match *kind {
            "Finger" => 7,
            "Face" => 8,
            _ => 9,
        };
        xml.push_str(&format!(
            "<BIR><Version><Major>1</Major><Minor>1</Minor></Version><CBEFFVersion><Major>1</Major><Minor>1</Minor></CBEFFVersion><BIRInfo><Integrity>false</Integrity></BIRInfo><BDBInfo><Format><Organization>Mosip</Organization><Type>{format}</Type></Format><CreationDate>2026-12-07T10:00:00.000Z</CreationDate><Type>{kind}</Type><Subtype>{subtype}</Subtype><Level>Raw</Level><Purpose>Enroll</Purpose><Quality><Algorithm><Organization>HMAC</Organization><Type>SHA-256</Type></Algorithm><Score>80</Score></Quality></BDBInfo><BDB>{}</BDB></BIR>",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(record)
        ));
    }
    xml.push_str("</BIR>");
    xml.into_bytes()
}

/// A CBEFF document of finger image records (`(position, record)`).
pub fn cbeff(fingers: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let samples: Vec<(&str, &str, Vec<u8>)> = fingers
        .iter()
        .map(|(p, r)| ("Finger", FINGERS[usize::from(*p) - 1], r.clone()))
        .collect();
    cbeff_of(&samples)
}

/// `image` captured again: moved by (`dx`, `dy`) pixels (edges repeated), contrast and
/// brightness changed a little, and sensor noise (±4 grey levels, seeded).
pub fn recapture(
    image: &abis_imaging::GreyImage,
    dx: i32,
    dy: i32,
    seed: u32,
) -> abis_imaging::GreyImage {
    let (w, h) = (image.width as i32, image.height as i32);
    let mut state = seed;
    let mut pixels = Vec::with_capacity(image.pixels.len());
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = ((x - dx).clamp(0, w - 1), (y - dy).clamp(0, h - 1));
            let v = f32::from(image.pixels[(sy * w + sx) as usize]) * 0.95 + 8.0;
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 24) as i32 % 9 - 4;
            pixels.push((v as i32 + noise).clamp(0, 255) as u8);
        }
    }
    abis_imaging::GreyImage::new(image.width, image.height, pixels, image.resolution).unwrap()
}

/// The test vector's CBEFF re-captured: every finger and both irises through [`recapture`]
/// (written as uncompressed ISO records), the face as it was.
pub fn recaptured_packet(xml: &[u8]) -> Vec<u8> {
    recaptured_packet_seeded(xml, 0)
}

/// [`recaptured_packet`] with its noise drawn from `seed`.
pub fn recaptured_packet_seeded(xml: &[u8], seed: u32) -> Vec<u8> {
    use abis_imaging::{finger_record, iris_record};
    use abis_mosip::cbeff::{self, Modality};
    let mut samples = Vec::new();
    for (i, sample) in cbeff::samples(xml).unwrap().into_iter().enumerate() {
        let seed = seed + i as u32 + 1;
        let record = match sample.modality {
            Modality::Finger => {
                let position = sample.finger_position().unwrap();
                let image = finger_record::parse(&sample.data).unwrap().views[0]
                    .decode()
                    .unwrap();
                finger_record::write_raw_2005(&recapture(&image, 3, -2, seed), position).unwrap()
            }
            Modality::Iris => {
                let parsed = iris_record::parse(&sample.data).unwrap();
                let image = &parsed.images[0];
                iris_record::write_raw_2011(
                    &recapture(&image.decode().unwrap(), 2, 1, seed),
                    image.eye,
                )
                .unwrap()
            }
            _ => sample.data.clone(),
        };
        let kind = match sample.modality {
            Modality::Finger => "Finger",
            Modality::Iris => "Iris",
            _ => "Face",
        };
        samples.push((kind, sample.subtype.clone(), record));
    }
    let borrowed: Vec<(&str, &str, Vec<u8>)> = samples
        .iter()
        .map(|(k, s, r)| (*k, s.as_str(), r.clone()))
        .collect();
    cbeff_of(&borrowed)
}

/// A two-finger registration of FVC2002 subjects: `db` finger `a` as the right index and
/// finger `b` as the left index, first impression.
pub fn person(db: &str, a: u32, b: u32) -> Vec<u8> {
    cbeff(&[(2, fvc_record(db, a, 1, 2)), (7, fvc_record(db, b, 1, 7))])
}
