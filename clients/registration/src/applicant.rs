//! An applicant: a registration packet's id and the biometrics captured for it, read from an
//! applicant folder ([`crate::manifest`]) and checked locally before anything is submitted.
//!
//! A finger file is either a minutiae record (it starts with [`MINUTIAE_RECORD_MAGIC`]) or a
//! finger image (an ISO/IEC 19794-4 record, or a PNG, TIFF, JPEG, JPEG 2000 or WSQ file with its
//! resolution in its header), sent as the image for the service to extract. Iris and face
//! images (ISO/IEC 19794-6 and 19794-5 records, PNG, JPEG, JPEG 2000) are sent the same way.
//!
//! The checks are the ones a file can fail on its own: finger records are parsed with the same
//! reader the service uses ([`abis_proto::minutiae_from_record`], which runs
//! `abis_matchers::finger::parse` and checks the view's position and coordinates), iris code and
//! mask sizes against their declared layout, the face file as whole, finite little-endian f32
//! values with a non-zero norm, each finger position and eye at most once, at least one
//! template. What only the gallery knows (its iris layout and face dimension) is left to the
//! service, so each rule lives in one place. A corrupt file is thus a typed
//! [`Error::InvalidApplicant`] at load time, never a failed job later.
//!
//! A folder is outside input: the manifest may name only files inside its own folder (relative
//! names without `..`, resolving, links followed, to a place inside the folder), each a regular
//! file no larger than its kind needs ([`MAX_MANIFEST_BYTES`], [`MAX_FINGER_FILE_BYTES`],
//! [`MAX_FINGER_IMAGE_BYTES`], [`MAX_IRIS_FILE_BYTES`], [`MAX_IRIS_IMAGE_BYTES`],
//! [`MAX_FACE_FILE_BYTES`], [`MAX_FACE_IMAGE_BYTES`]). Anything else is refused before a byte of
//! it is read, and the refusal says which rule it broke, not what the file holds.

use crate::error::{Error, Result};
use crate::manifest::{image_kind, ImageKind, IrisContent, Manifest};
use abis_matchers::iris::IrisLayout;
use abis_proto::v1;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Largest manifest read.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 10;
/// Largest finger minutiae record read (255 minutiae and extended data fit many times over).
pub const MAX_FINGER_FILE_BYTES: u64 = 64 << 10;
/// Largest finger image read (a 1,000 ppi plain impression stored raw fits).
pub const MAX_FINGER_IMAGE_BYTES: u64 = 4 << 20;
/// The first bytes of every minutiae record format read (ISO/IEC 19794-2 and ANSI/INCITS 378):
/// a finger file that starts otherwise is sent as an image.
pub const MINUTIAE_RECORD_MAGIC: &[u8; 4] = b"FMR\0";
/// Largest iris code or mask file read (the largest layout is 65,536 bits).
pub const MAX_IRIS_FILE_BYTES: u64 = 8 << 10;
/// Largest face file read (4,096 f32 values).
pub const MAX_FACE_FILE_BYTES: u64 = 16 << 10;
/// Largest iris image read (a 640 x 480 capture stored raw is 300 KiB).
pub const MAX_IRIS_IMAGE_BYTES: u64 = 1 << 20;
/// Largest face image read (a full-frontal ISO/IEC 19794-5 portrait, JPEG or JPEG 2000).
pub const MAX_FACE_IMAGE_BYTES: u64 = 4 << 20;

/// Reads `name` from the applicant folder `base`, refusing names that leave the folder,
/// anything but a regular file, and files over `cap` bytes.
fn read_inside(base: &Path, name: &str, cap: u64, packet: &str) -> Result<Vec<u8>> {
    let refuse = |why: String| Error::applicant(packet, format!("file {name:?}: {why}"));
    let relative = Path::new(name);
    if name.is_empty()
        || name.chars().any(char::is_control)
        || !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(refuse(
            "must be a relative name inside the applicant folder (no '..', no absolute path)"
                .into(),
        ));
    }
    let path = base.join(relative);
    let resolved = path
        .canonicalize()
        .map_err(|e| Error::io(path.clone(), e))?;
    let folder: PathBuf = base
        .canonicalize()
        .map_err(|e| Error::io(base.to_path_buf(), e))?;
    if !resolved.starts_with(&folder) {
        return Err(refuse("resolves outside the applicant folder".into()));
    }
    let meta = std::fs::metadata(&resolved).map_err(|e| Error::io(path.clone(), e))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file".into()));
    }
    if meta.len() > cap {
        return Err(refuse(format!("larger than the {cap} bytes allowed")));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(&resolved)
        .and_then(|f| f.take(cap + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path.clone(), e))?;
    if bytes.len() as u64 > cap {
        return Err(refuse(format!("larger than the {cap} bytes allowed")));
    }
    Ok(bytes)
}

/// One applicant of a registration: the packet id, which is also the reference id of its record
/// in the gallery, and the record to de-duplicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Applicant {
    /// The registration packet's id (= `record.reference_id`).
    pub packet_id: String,
    /// The biometrics, as sent to the de-dup service.
    pub record: v1::Record,
}

impl Applicant {
    /// An applicant from a record already in memory (checked like a loaded one); the packet id
    /// is the record's reference id.
    pub fn from_record(record: v1::Record) -> Result<Self> {
        check_record(&record)?;
        Ok(Self {
            packet_id: record.reference_id.clone(),
            record,
        })
    }

    /// Loads the applicant described by the manifest at `manifest_path`, reading and checking
    /// every file it names (relative to the manifest's folder).
    pub fn load(manifest_path: &Path) -> Result<Self> {
        let base = manifest_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = manifest_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let text = read_inside(base, file_name, MAX_MANIFEST_BYTES, "")?;
        let manifest = Manifest::parse(manifest_path, &text)?;
        let packet = manifest.packet_id.as_str();
        let read = |name: &str, cap: u64| read_inside(base, name, cap, packet);
        let mut record = v1::Record {
            reference_id: manifest.packet_id.clone(),
            ..Default::default()
        };
        for finger in &manifest.fingers {
            let bytes = read(&finger.file, MAX_FINGER_IMAGE_BYTES)?;
            let template = if bytes.starts_with(MINUTIAE_RECORD_MAGIC) {
                if bytes.len() as u64 > MAX_FINGER_FILE_BYTES {
                    let reason = format!(
                        "file {:?}: a minutiae record larger than the {MAX_FINGER_FILE_BYTES} \
                         bytes allowed",
                        finger.file
                    );
                    return Err(Error::applicant(packet, reason));
                }
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
            let (eye, content) = iris
                .content()
                .map_err(|reason| Error::applicant(packet, reason))?;
            let eye = eye.to_proto() as i32;
            record.irises.push(match content {
                IrisContent::Code { code, mask, layout } => v1::Iris {
                    eye,
                    code: read(code, MAX_IRIS_FILE_BYTES)?,
                    mask: read(mask, MAX_IRIS_FILE_BYTES)?,
                    layout: Some(layout),
                    image: Vec::new(),
                },
                IrisContent::Image(image) => v1::Iris {
                    eye,
                    image: read(image, MAX_IRIS_IMAGE_BYTES)?,
                    ..Default::default()
                },
            });
        }
        if manifest.face.is_some() && manifest.face_image.is_some() {
            let reason = "give either \"face\" (an embedding) or \"face_image\", not both";
            return Err(Error::applicant(packet, reason));
        }
        if let Some(image) = &manifest.face_image {
            record.face = Some(v1::Face {
                image: read(image, MAX_FACE_IMAGE_BYTES)?,
                ..Default::default()
            });
        }
        if let Some(face) = &manifest.face {
            let bytes = read(face, MAX_FACE_FILE_BYTES)?;
            if bytes.len() % 4 != 0 {
                let reason = format!(
                    "face file {face}: {} bytes is not a whole number of f32 values",
                    bytes.len()
                );
                return Err(Error::applicant(packet, reason));
            }
            let embedding = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            record.face = Some(v1::Face {
                embedding,
                image: Vec::new(),
            });
        }
        Self::from_record(record)
    }
}

/// The local checks of the module docs.
pub fn check_record(record: &v1::Record) -> Result<()> {
    let packet = record.reference_id.as_str();
    abis_proto::reference_id(record.reference_id.clone())
        .map_err(|e| Error::applicant(packet, format!("packet id: {e}")))?;
    if record.fingers.is_empty() && record.irises.is_empty() && record.face.is_none() {
        return Err(Error::applicant(packet, "no biometric template"));
    }
    let mut positions = [false; 11];
    for finger in &record.fingers {
        let position = abis_proto::finger::finger_position(finger.position)
            .map_err(|e| Error::applicant(packet, e.to_string()))?;
        if std::mem::replace(&mut positions[usize::from(position)], true) {
            let reason = format!("finger position {position} given twice");
            return Err(Error::applicant(packet, reason));
        }
        match &finger.template {
            Some(v1::finger::Template::IsoOrAnsiRecord(bytes)) => {
                abis_proto::minutiae_from_record(bytes, position)
                    .map_err(|e| Error::applicant(packet, e.to_string()))?;
            }
            // Decoded and extracted by the service, which names the image it cannot read.
            Some(v1::finger::Template::Image(bytes)) => {
                if bytes.len() as u64 > MAX_FINGER_IMAGE_BYTES {
                    let reason = format!(
                        "finger {position}: an image of {} bytes, at most {MAX_FINGER_IMAGE_BYTES}",
                        bytes.len()
                    );
                    return Err(Error::applicant(packet, reason));
                }
                if !image_kind(bytes).is_some_and(ImageKind::is_finger) {
                    let reason = format!(
                        "finger {position}: neither a minutiae record nor a finger image \
                         (ISO/IEC 19794-4, PNG, JPEG 2000, WSQ, JPEG or TIFF)"
                    );
                    return Err(Error::applicant(packet, reason));
                }
            }
            Some(v1::finger::Template::Minutiae(_)) | None => {}
        }
    }
    let mut eyes = [false; 3];
    for iris in &record.irises {
        let eye = abis_proto::eye_from_proto(iris.eye)
            .map_err(|e| Error::applicant(packet, e.to_string()))?;
        if std::mem::replace(&mut eyes[iris.eye as usize], true) {
            let reason = format!("{} iris given twice", eye.name());
            return Err(Error::applicant(packet, reason));
        }
        let bad = |e: String| Error::applicant(packet, format!("{} iris: {e}", eye.name()));
        if !iris.image.is_empty() {
            // Decoded and encoded by the service, which names the image it cannot read.
            if iris.image.len() as u64 > MAX_IRIS_IMAGE_BYTES {
                let size = iris.image.len();
                return Err(bad(format!(
                    "an image of {size} bytes, at most {MAX_IRIS_IMAGE_BYTES}"
                )));
            }
            if !image_kind(&iris.image).is_some_and(ImageKind::is_iris) {
                return Err(bad(
                    "not an iris image (ISO/IEC 19794-6, PNG, JPEG or JPEG 2000)".into(),
                ));
            }
            if !iris.code.is_empty() || !iris.mask.is_empty() || iris.layout.is_some() {
                return Err(bad("both an image and a code".into()));
            }
            continue;
        }
        let declared = iris
            .layout
            .as_ref()
            .ok_or_else(|| bad("no layout".into()))?;
        let layout = IrisLayout::try_from(declared).map_err(|e| bad(e.to_string()))?;
        layout
            .check(&iris.code, &iris.mask)
            .map_err(|e| bad(e.to_string()))?;
    }
    if let Some(face) = record.face.as_ref().filter(|f| !f.image.is_empty()) {
        let bad = |e: String| Error::applicant(packet, format!("face: {e}"));
        if face.image.len() as u64 > MAX_FACE_IMAGE_BYTES {
            let size = face.image.len();
            return Err(bad(format!(
                "an image of {size} bytes, at most {MAX_FACE_IMAGE_BYTES}"
            )));
        }
        if !image_kind(&face.image).is_some_and(ImageKind::is_face) {
            return Err(bad(
                "not a face image (ISO/IEC 19794-5, PNG, JPEG or JPEG 2000)".into(),
            ));
        }
        if !face.embedding.is_empty() {
            return Err(bad("both an image and an embedding".into()));
        }
    } else if let Some(face) = &record.face {
        if face.embedding.is_empty() {
            return Err(Error::applicant(packet, "face embedding is empty"));
        }
        if face.embedding.iter().any(|v| !v.is_finite()) {
            return Err(Error::applicant(
                packet,
                "face embedding has a non-finite value",
            ));
        }
        if face.embedding.iter().all(|v| *v == 0.0) {
            return Err(Error::applicant(packet, "face embedding has a zero norm"));
        }
    }
    Ok(())
}
