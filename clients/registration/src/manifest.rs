//! The applicant manifest: a small JSON file naming an applicant's packet id and the files that
//! hold its biometrics, relative to the manifest's folder.
//!
//! ```json
//! {
//!   "packet_id": "10001100010001120240101120000",
//!   "fingers": [{"position": 1, "file": "finger-1.iso"}],
//!   "irises": [{"eye": "left", "code": "iris-left.code", "mask": "iris-left.mask",
//!               "rows": 8, "cols": 128, "bits_per_cell": 2},
//!              {"eye": "right", "image": "iris-right.iir"}],
//!   "face": "face.f32"
//! }
//! ```
//!
//! Finger files are standard minutiae records (ISO/IEC 19794-2:2005 or :2011, ANSI/INCITS
//! 378-2004) or finger images (an ISO/IEC 19794-4 record, or a PNG, TIFF, JPEG, JPEG 2000 or WSQ
//! file stating its resolution), told apart by their first bytes and passed to the service
//! unchanged (it extracts the images); an iris is either its raw code and mask bytes in the
//! declared layout or an `image` (an ISO/IEC 19794-6 record, or a PNG, JPEG or JPEG 2000 file);
//! the face is either `face`, the embedding as little-endian f32 values, or `face_image` (an
//! ISO/IEC 19794-5 record, or a PNG, JPEG or JPEG 2000 file). Images go to the service, which
//! extracts them. A folder keeps
//! the files as a registration client receives them from capture, so the manifest is the only
//! file this crate defines. Unknown fields are refused, so a typo is an error rather than a
//! silently missing modality.

use crate::error::{Error, Result};
use abis_matchers::finger::{FingerView, MinutiaeRecord, RecordFormat};
use abis_proto::v1;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest's usual file name inside an applicant folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// An applicant manifest (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The registration packet's id; it becomes the reference id of the applicant's record.
    pub packet_id: String,
    /// Finger records, each finger position at most once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingers: Vec<FingerFile>,
    /// Iris codes, each eye at most once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub irises: Vec<IrisFiles>,
    /// The face embedding file (little-endian f32), when a face was captured as an embedding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<String>,
    /// The face image file, when a face was captured as an image (not with `face`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_image: Option<String>,
}

/// One finger's file: a minutiae record or a finger image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerFile {
    /// ISO finger position, 1 (right thumb) to 10 (left little).
    pub position: u32,
    /// The ISO/IEC 19794-2 or ANSI 378 record, or the finger image, relative to the manifest.
    pub file: String,
}

/// Which eye an iris comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EyeName {
    /// The subject's left eye.
    Left,
    /// The subject's right eye.
    Right,
}

impl EyeName {
    /// The wire enum.
    pub fn to_proto(self) -> v1::Eye {
        match self {
            Self::Left => v1::Eye::Left,
            Self::Right => v1::Eye::Right,
        }
    }

    /// `left` or `right`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Right => "right",
        }
    }
}

/// One iris: its code and mask files and their layout, or its image file (see the module
/// docs); [`IrisFiles::content`] says which, refusing a mix.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrisFiles {
    /// Which eye.
    pub eye: Option<EyeName>,
    /// The code bits, relative to the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The mask bits (same length as the code), relative to the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// Radial bands of the code's layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u32>,
    /// Angular samples of the code's layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<u32>,
    /// Bits per cell of the code's layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits_per_cell: Option<u32>,
    /// The iris image (ISO/IEC 19794-6 record, PNG, JPEG or JPEG 2000), relative to the
    /// manifest, instead of a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// What an iris entry of a manifest holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrisContent<'a> {
    /// A code and its mask in a declared layout.
    Code {
        /// The code file.
        code: &'a str,
        /// The mask file.
        mask: &'a str,
        /// The declared layout.
        layout: v1::IrisLayout,
    },
    /// An image file.
    Image(&'a str),
}

impl IrisFiles {
    /// The entry for a code and mask in `layout`.
    pub fn code(eye: EyeName, code: String, mask: String, layout: &v1::IrisLayout) -> Self {
        Self {
            eye: Some(eye),
            code: Some(code),
            mask: Some(mask),
            rows: Some(layout.rows),
            cols: Some(layout.cols),
            bits_per_cell: Some(layout.bits_per_cell),
            image: None,
        }
    }

    /// The entry for an image.
    pub fn image(eye: EyeName, image: String) -> Self {
        Self {
            eye: Some(eye),
            image: Some(image),
            ..Self::default()
        }
    }

    /// The eye and what the entry holds: a complete code entry (code, mask, rows, cols,
    /// bits_per_cell) or an image alone. Anything else is refused, saying what is wrong.
    pub fn content(&self) -> std::result::Result<(EyeName, IrisContent<'_>), String> {
        let eye = self.eye.ok_or("an iris entry needs its \"eye\"")?;
        let code_fields = [
            self.code.is_some(),
            self.mask.is_some(),
            self.rows.is_some(),
            self.cols.is_some(),
            self.bits_per_cell.is_some(),
        ];
        match (&self.image, &self.code, &self.mask) {
            (Some(image), _, _) if !code_fields.contains(&true) => {
                Ok((eye, IrisContent::Image(image)))
            }
            (None, Some(code), Some(mask)) if !code_fields.contains(&false) => Ok((
                eye,
                IrisContent::Code {
                    code,
                    mask,
                    layout: v1::IrisLayout {
                        rows: self.rows.unwrap_or_default(),
                        cols: self.cols.unwrap_or_default(),
                        bits_per_cell: self.bits_per_cell.unwrap_or_default(),
                    },
                },
            )),
            _ => Err(format!(
                "{} iris: give either \"image\" alone or all of \"code\", \"mask\", \"rows\", \
                 \"cols\" and \"bits_per_cell\"",
                eye.name()
            )),
        }
    }
}

impl Manifest {
    /// Reads a manifest file (only the JSON; [`crate::Applicant::load`] reads the files too).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Parses a manifest's bytes (read from `path`, named in errors).
    pub fn parse(path: &Path, text: &[u8]) -> Result<Self> {
        serde_json::from_slice(text).map_err(|source| Error::BadManifest {
            path: path.to_owned(),
            source,
        })
    }
}

/// Writes `manifest` as pretty JSON to `path` (the files it names are the caller's to write).
pub fn write_manifest(path: &Path, manifest: &Manifest) -> Result<()> {
    let text = serde_json::to_vec_pretty(manifest).map_err(|source| Error::BadManifest {
        path: path.to_owned(),
        source,
    })?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Writes an applicant folder for `record` in `dir` (created if missing): one file per
/// template and [`MANIFEST_FILE`] naming them, with the record's reference id as the packet id.
/// Fingers given as ISO/ANSI bytes are written unchanged; native minutiae are encoded as
/// ISO/IEC 19794-2:2005 records at 500 ppi. Returns the manifest's path. For test data, demos
/// and export; real folders come from capture.
pub fn write_applicant(dir: &Path, record: &v1::Record) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let packet = record.reference_id.as_str();
    let put = |name: String, bytes: &[u8]| -> Result<String> {
        let path = dir.join(&name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(path, e))?;
        Ok(name)
    };
    let mut manifest = Manifest {
        packet_id: packet.to_owned(),
        fingers: Vec::new(),
        irises: Vec::new(),
        face: None,
        face_image: None,
    };
    for finger in &record.fingers {
        let (bytes, extension) = match &finger.template {
            Some(v1::finger::Template::IsoOrAnsiRecord(bytes)) => (bytes.clone(), "iso"),
            Some(v1::finger::Template::Minutiae(native)) => {
                (iso_record(packet, finger, native)?, "iso")
            }
            Some(v1::finger::Template::Image(bytes)) => (
                bytes.clone(),
                image_kind(bytes).map_or("img", |k| k.extension()),
            ),
            None => {
                let reason = format!("finger {} has no template", finger.position);
                return Err(Error::applicant(packet, reason));
            }
        };
        let file = put(format!("finger-{}.{extension}", finger.position), &bytes)?;
        manifest.fingers.push(FingerFile {
            position: finger.position,
            file,
        });
    }
    for iris in &record.irises {
        let eye = match v1::Eye::try_from(iris.eye) {
            Ok(v1::Eye::Left) => EyeName::Left,
            Ok(v1::Eye::Right) => EyeName::Right,
            _ => return Err(Error::applicant(packet, format!("iris eye {}", iris.eye))),
        };
        let content = if iris.image.is_empty() {
            let layout = iris.layout.as_ref().ok_or_else(|| {
                Error::applicant(packet, format!("iris {} has no layout", eye.name()))
            })?;
            IrisFiles::code(
                eye,
                put(format!("iris-{}.code", eye.name()), &iris.code)?,
                put(format!("iris-{}.mask", eye.name()), &iris.mask)?,
                layout,
            )
        } else {
            let kind = image_kind(&iris.image).map_or("img", |k| k.extension());
            IrisFiles::image(
                eye,
                put(format!("iris-{}.{kind}", eye.name()), &iris.image)?,
            )
        };
        manifest.irises.push(content);
    }
    if let Some(face) = &record.face {
        if face.image.is_empty() {
            let bytes: Vec<u8> = face
                .embedding
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            manifest.face = Some(put("face.f32".into(), &bytes)?);
        } else {
            let kind = image_kind(&face.image).map_or("img", |k| k.extension());
            manifest.face_image = Some(put(format!("face.{kind}"), &face.image)?);
        }
    }
    let path = dir.join(MANIFEST_FILE);
    write_manifest(&path, &manifest)?;
    Ok(path)
}

/// An image file's kind, from its first bytes: only a name and a first check (the service
/// decodes what it receives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// An ISO/IEC 19794-4 finger image record.
    FingerRecord,
    /// An ISO/IEC 19794-6 iris image record.
    IrisRecord,
    /// An ISO/IEC 19794-5 face image record.
    FaceRecord,
    /// PNG.
    Png,
    /// A JPEG 2000 file (JP2).
    Jp2,
    /// A bare JPEG 2000 codestream.
    J2k,
    /// WSQ (fingers only).
    Wsq,
    /// JPEG.
    Jpeg,
    /// TIFF (fingers only).
    Tiff,
}

impl ImageKind {
    /// The usual file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::FingerRecord => "fir",
            Self::IrisRecord => "iir",
            Self::FaceRecord => "fac",
            Self::Png => "png",
            Self::Jp2 => "jp2",
            Self::J2k => "j2k",
            Self::Wsq => "wsq",
            Self::Jpeg => "jpg",
            Self::Tiff => "tif",
        }
    }

    /// Whether a finger may be sent in this kind: its record, or any image file.
    pub fn is_finger(self) -> bool {
        !matches!(self, Self::IrisRecord | Self::FaceRecord)
    }

    /// Whether an iris or face may be sent in this kind: its own record (`record`), PNG, JPEG
    /// or JPEG 2000.
    fn is_photo_or(self, record: Self) -> bool {
        self == record || matches!(self, Self::Png | Self::Jp2 | Self::J2k | Self::Jpeg)
    }

    /// Whether an iris may be sent in this kind.
    pub fn is_iris(self) -> bool {
        self.is_photo_or(Self::IrisRecord)
    }

    /// Whether a face may be sent in this kind.
    pub fn is_face(self) -> bool {
        self.is_photo_or(Self::FaceRecord)
    }
}

/// The kind of an image from its first bytes; `None` for anything else.
pub fn image_kind(bytes: &[u8]) -> Option<ImageKind> {
    const KINDS: [(&[u8], ImageKind); 10] = [
        (b"FIR\0", ImageKind::FingerRecord),
        (b"IIR\0", ImageKind::IrisRecord),
        (b"FAC\0", ImageKind::FaceRecord),
        (b"\x89PNG", ImageKind::Png),
        (b"\0\0\0\x0cjP  ", ImageKind::Jp2),
        (b"\xff\x4f\xff\x51", ImageKind::J2k),
        (b"\xff\xa0\xff\xa8", ImageKind::Wsq),
        (b"\xff\xd8", ImageKind::Jpeg),
        (b"II*\0", ImageKind::Tiff),
        (b"MM\0*", ImageKind::Tiff),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, kind)| *kind)
}

/// Native minutiae (500 ppi, ISO conventions) as an ISO/IEC 19794-2:2005 record with one view,
/// on a canvas just large enough for them.
fn iso_record(packet: &str, finger: &v1::Finger, native: &v1::NativeMinutiae) -> Result<Vec<u8>> {
    let position = finger.position;
    let bad = |what: String| Error::applicant(packet, format!("finger {position}: {what}"));
    let minutiae = native
        .minutiae
        .iter()
        .map(|m| -> Result<abis_matchers::finger::Minutia> {
            let small = |v: u32, field: &str| {
                u16::try_from(v).map_err(|_| bad(format!("minutia {field} {v} out of range")))
            };
            let kind = match v1::MinutiaKind::try_from(m.kind) {
                Ok(v1::MinutiaKind::RidgeEnding) => abis_matchers::finger::MinutiaKind::RidgeEnding,
                Ok(v1::MinutiaKind::Bifurcation) => abis_matchers::finger::MinutiaKind::Bifurcation,
                _ => abis_matchers::finger::MinutiaKind::Other,
            };
            Ok(abis_matchers::finger::Minutia {
                x: small(m.x, "x")?,
                y: small(m.y, "y")?,
                angle: u8::try_from(m.angle).map_err(|_| bad(format!("angle {}", m.angle)))?,
                kind,
                quality: u8::try_from(m.quality)
                    .map_err(|_| bad(format!("quality {}", m.quality)))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let extent = |f: fn(&abis_matchers::finger::Minutia) -> u16| {
        minutiae.iter().map(f).max().unwrap_or(0).saturating_add(1)
    };
    let record = MinutiaeRecord {
        format: RecordFormat::Iso19794_2_2005,
        width: extent(|m| m.x),
        height: extent(|m| m.y),
        x_resolution: abis_proto::finger::ENGINE_PPCM,
        y_resolution: abis_proto::finger::ENGINE_PPCM,
        capture_equipment: 0,
        product_id: 0,
        views: vec![FingerView {
            position: u8::try_from(position).map_err(|_| bad("position".into()))?,
            view_number: 0,
            impression_type: 0,
            quality: 0,
            minutiae,
            extended: Vec::new(),
            capture: None,
        }],
    };
    abis_matchers::finger::write(&record, RecordFormat::Iso19794_2_2005)
        .map_err(|e| bad(e.to_string()))
}
