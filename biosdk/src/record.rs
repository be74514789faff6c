//! MOSIP's `BiometricRecord` in JSON, read into segments, and the template formats abis writes
//! into segments (`/extract-template`) and reads back (`/match`).
//!
//! A record is `{version, cbeffversion, birInfo, segments: [BIR]}`; each BIR carries `bdbInfo`
//! (`type` `["Finger"]` in any case, `subtype` `["Left", "IndexFinger"]` / `["Left"]` / `[]`,
//! `format {organization, type}`, ...) and `bdb` (base64). A BDB is one of:
//! - an ISO image record (ISO/IEC 19794-4 finger, -6 iris, -5 face), or an image file, as
//!   MOSIP captures them: extracted by abis;
//! - a template abis made (`bdbInfo.format.organization` = [`FORMAT_OWNER`]):
//!   - `finger-iso-19794-2` ([`FINGER_FORMAT`]): an ISO/IEC 19794-2:2005 minutiae record at
//!     500 ppi (LEADER's minutiae; any ISO/ANSI minutiae record is read);
//!   - `iris-open-iris-12800` ([`IRIS_FORMAT`]): the iris code then its mask, 1,600 bytes each,
//!     in open-iris's 16 x 200 x 2 x 2 layout (`IrisLayout::OPEN_IRIS_12800`, bits MSB first);
//!   - `face-dlib-128` ([`FACE_FORMAT`]): dlib's 128-d face descriptor, L2-normalised, as 128
//!     little-endian IEEE 754 single floats (512 bytes);
//! - an ISO/IEC 19794-2 or ANSI 378 minutiae record (starts `FMR\0`) of another extractor, for
//!   fingers: read as a template (accuracy is then that of the other extractor's minutiae).

use crate::wire::Failure;
use abis_engine::{Eye, FaceTemplate, FingerTemplate, GalleryConfig, IrisTemplate, Record};
use abis_mosip::cbeff::{self, Sample};
use abis_proto::Extracted;
use serde_json::Value;

/// Most segments read per record (ten fingers, two irises, a face and a few exceptions fit
/// with room to spare).
pub const MAX_SEGMENTS: usize = cbeff::MAX_SAMPLES;

/// `bdbInfo.format.organization` of abis's templates.
pub const FORMAT_OWNER: &str = "abis";
/// `bdbInfo.format.type` of a finger template.
pub const FINGER_FORMAT: &str = "finger-iso-19794-2";
/// `bdbInfo.format.type` of an iris template.
pub const IRIS_FORMAT: &str = "iris-open-iris-12800";
/// `bdbInfo.format.type` of a face template.
pub const FACE_FORMAT: &str = "face-dlib-128";

/// The key in a segment's `others` by which `/extract-template` marks an image it refused
/// (kept as it was, with the reason); `/match` and the other operations skip such a segment.
pub const REFUSED_MARK: &str = "abis.extract";

/// The modalities abis handles, as MOSIP's `BiometricType` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Modality {
    /// `FINGER`.
    Finger,
    /// `IRIS`.
    Iris,
    /// `FACE`.
    Face,
}

impl Modality {
    /// Every supported modality.
    pub const ALL: [Modality; 3] = [Modality::Finger, Modality::Iris, Modality::Face];

    /// MOSIP's enum name, used as the key of decisions and scores.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Finger => "FINGER",
            Modality::Iris => "IRIS",
            Modality::Face => "FACE",
        }
    }

    /// The modality of a `BiometricType` name or value, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
    }

    fn cbeff(self) -> cbeff::Modality {
        match self {
            Modality::Finger => cbeff::Modality::Finger,
            Modality::Iris => cbeff::Modality::Iris,
            Modality::Face => cbeff::Modality::Face,
        }
    }
}

/// A list of modalities from a request (`modalitiesToMatch`, ...): `None` when absent, null or
/// empty (every modality the sample holds); an unknown or unsupported name is a 401.
pub fn modalities(body: &Value, field: &str) -> Result<Option<Vec<Modality>>, Failure> {
    let list = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Failure::invalid(format!("{field} is not a list"))),
    };
    let mut out = Vec::new();
    for item in list {
        let name = item
            .as_str()
            .ok_or_else(|| Failure::invalid(format!("{field} holds a non-string")))?;
        let m = Modality::parse(name).ok_or_else(|| {
            Failure::invalid(format!(
                "{field}: {name:?} is not supported (abis handles FINGER, IRIS and FACE)"
            ))
        })?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// What a segment's BDB holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// An image (ISO image record or image file) to extract.
    Image,
    /// A minutiae record (abis's or another extractor's).
    FingerTemplate,
    /// abis's iris code and mask.
    IrisTemplate,
    /// abis's face descriptor.
    FaceTemplate,
}

/// One BIR of a record.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Its index in `segments`.
    pub index: usize,
    /// Its modality; `None` for a type abis does not handle (left alone).
    pub modality: Option<Modality>,
    /// Subtype words, in MOSIP's spelling ("Left", "IndexFinger").
    pub subtype: Vec<String>,
    /// What the BDB holds.
    pub content: Content,
    /// Marked as a biometric exception, or without data.
    pub skipped: bool,
    /// The BDB.
    pub data: Vec<u8>,
}

impl Segment {
    /// `finger 2`, `iris left`, `face`.
    pub fn name(&self) -> String {
        let subtype = self.subtype.join(" ");
        match self.modality {
            Some(m) if subtype.is_empty() => m.name().to_ascii_lowercase(),
            Some(m) => format!("{} {subtype}", m.name().to_ascii_lowercase()),
            None => format!("segment {}", self.index),
        }
    }

    /// The CBEFF sample of an image segment, as `abis_mosip::person` reads it.
    pub fn sample(&self) -> Option<Sample> {
        let modality = self.modality?;
        Some(Sample {
            modality: modality.cbeff(),
            subtype: self.subtype.join(" "),
            format_owner: String::new(),
            format_type: String::new(),
            purpose: String::new(),
            quality: None,
            exception: self.skipped,
            data: self.data.clone(),
        })
    }

    /// ISO finger position of a finger segment.
    pub fn finger_position(&self) -> Option<u8> {
        self.sample()?.finger_position()
    }

    /// The eye of an iris segment.
    pub fn eye(&self) -> Option<Eye> {
        match self.subtype.as_slice() {
            [s] if s == "Left" => Some(Eye::Left),
            [s] if s == "Right" => Some(Eye::Right),
            _ => None,
        }
    }
}

/// MOSIP's spelling of subtype words, matched in any case.
const SUBTYPE_WORDS: [&str; 8] = [
    "Left",
    "Right",
    "Thumb",
    "IndexFinger",
    "MiddleFinger",
    "RingFinger",
    "LittleFinger",
    "UNKNOWN",
];

fn canonical(word: &str) -> String {
    SUBTYPE_WORDS
        .iter()
        .find(|w| w.eq_ignore_ascii_case(word))
        .map(|w| (*w).to_owned())
        .unwrap_or_else(|| word.to_owned())
}

/// The segments of the record `value`, named `what` in errors (`sample`, `gallery[3]`).
pub fn segments(value: Option<&Value>, what: &str) -> Result<Vec<Segment>, Failure> {
    let record = match value {
        None | Some(Value::Null) => return Err(Failure::missing(what)),
        Some(Value::Object(r)) => r,
        Some(_) => return Err(Failure::invalid(format!("{what} is not a record"))),
    };
    let list = match record.get("segments") {
        None | Some(Value::Null) => return Err(Failure::missing(format!("{what}.segments"))),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Failure::invalid(format!("{what}.segments is not a list"))),
    };
    if list.is_empty() {
        return Err(Failure::missing(format!("{what}.segments")));
    }
    if list.len() > MAX_SEGMENTS {
        return Err(Failure::invalid(format!(
            "{what} holds {} segments, at most {MAX_SEGMENTS}",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, s)| segment(s, i, &format!("{what}.segments[{i}]")))
        .collect()
}

fn segment(value: &Value, index: usize, what: &str) -> Result<Segment, Failure> {
    let info = value
        .get("bdbInfo")
        .filter(|v| v.is_object())
        .ok_or_else(|| Failure::missing(format!("{what}.bdbInfo")))?;
    let words = |field: &str| -> Vec<String> {
        match info.get(field) {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .flat_map(str::split_whitespace)
                .map(canonical)
                .collect(),
            Some(Value::String(s)) => s.split_whitespace().map(canonical).collect(),
            _ => Vec::new(),
        }
    };
    let types = words("type");
    let type_name = types
        .first()
        .ok_or_else(|| Failure::missing(format!("{what}.bdbInfo.type")))?;
    let modality = Modality::parse(type_name);
    let subtype = words("subtype");
    // A biometric exception, or an image abis's extractor already refused (marked by
    // /extract-template, [`REFUSED_MARK`]): nothing to extract.
    let exception = match value.get("others") {
        Some(Value::Object(others)) => others.iter().any(|(k, v)| {
            (k.eq_ignore_ascii_case("EXCEPTION")
                && (v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
                    || v.as_bool() == Some(true)))
                || k == REFUSED_MARK
        }),
        _ => false,
    };
    let data = match value.get("bdb") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => abis_mosip::decode_base64(text.as_bytes())
            .map_err(|e| Failure::invalid(format!("{what}.bdb: {e}")))?,
        Some(_) => return Err(Failure::invalid(format!("{what}.bdb is not base64 text"))),
    };
    let format = info.get("format");
    let owner = format
        .and_then(|f| f.get("organization"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let format_type = format
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let content = if owner.eq_ignore_ascii_case(FORMAT_OWNER) {
        match (modality, format_type) {
            (Some(Modality::Finger), FINGER_FORMAT) => Content::FingerTemplate,
            (Some(Modality::Iris), IRIS_FORMAT) => Content::IrisTemplate,
            (Some(Modality::Face), FACE_FORMAT) => Content::FaceTemplate,
            _ => {
                return Err(Failure::invalid(format!(
                    "{what}: format {format_type:?} of {FORMAT_OWNER:?} is not one of \
                     {FINGER_FORMAT}, {IRIS_FORMAT}, {FACE_FORMAT} for a {type_name} segment"
                )))
            }
        }
    } else if modality == Some(Modality::Finger) && data.starts_with(b"FMR\0") {
        Content::FingerTemplate
    } else {
        Content::Image
    };
    Ok(Segment {
        index,
        modality,
        subtype,
        content,
        skipped: exception || data.is_empty(),
        data,
    })
}

/// The templates of template segments, in a record of `reference_id` (the caller merges it
/// with the record of the image segments).
pub fn templates(
    segments: &[&Segment],
    reference_id: &str,
    shape: &GalleryConfig,
) -> Result<Record, Failure> {
    let id =
        abis_engine::ReferenceId::new(reference_id).map_err(|e| Failure::invalid(e.to_string()))?;
    let mut record = Record::new(id);
    for s in segments.iter().filter(|s| !s.skipped) {
        let bad = |e: &dyn std::fmt::Display| Failure::invalid(format!("{}: {e}", s.name()));
        match s.content {
            Content::Image => continue,
            Content::FingerTemplate => {
                let position = s
                    .finger_position()
                    .ok_or_else(|| bad(&"the subtype names no finger"))?;
                let minutiae =
                    abis_proto::minutiae_from_record(&s.data, position).map_err(|e| bad(&e))?;
                record.fingers.push(FingerTemplate { position, minutiae });
            }
            Content::IrisTemplate => {
                let eye = s.eye().ok_or_else(|| bad(&"the subtype names no eye"))?;
                let half = shape.iris_layout.code_bytes();
                if s.data.len() != 2 * half {
                    return Err(bad(&format!(
                        "an iris template is {} bytes (code and mask), not {}",
                        2 * half,
                        s.data.len()
                    )));
                }
                record.irises.push(IrisTemplate {
                    eye,
                    code: s.data[..half].to_vec(),
                    mask: s.data[half..].to_vec(),
                });
            }
            Content::FaceTemplate => {
                if s.data.len() != shape.face_dim * 4 {
                    return Err(bad(&format!(
                        "a face template is {} bytes, not {}",
                        shape.face_dim * 4,
                        s.data.len()
                    )));
                }
                let embedding = s
                    .data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                if record.face.is_some() {
                    return Err(bad(&"a second face"));
                }
                record.face = Some(FaceTemplate { embedding });
            }
        }
    }
    Ok(record)
}

/// The BDB of abis's template of an extracted image, with its format type (a face descriptor
/// L2-normalised first).
pub fn encode(extracted: &Extracted) -> (Vec<u8>, &'static str) {
    match extracted {
        Extracted::Finger(iso) => (iso.clone(), FINGER_FORMAT),
        Extracted::Iris(i) => ([i.code.as_slice(), i.mask.as_slice()].concat(), IRIS_FORMAT),
        Extracted::Face(descriptor) => {
            let norm = descriptor
                .iter()
                .map(|v| f64::from(*v) * f64::from(*v))
                .sum::<f64>()
                .sqrt();
            let scale = if norm > 0.0 { 1.0 / norm } else { 1.0 };
            let bytes = descriptor
                .iter()
                .flat_map(|v| ((f64::from(*v) * scale) as f32).to_le_bytes())
                .collect();
            (bytes, FACE_FORMAT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn segment_json(kind: &str, subtype: &[&str], owner: &str, format: &str, bdb: &[u8]) -> Value {
        use base64::Engine;
        json!({
            "bdbInfo": {"type": [kind], "subtype": subtype, "format": {"organization": owner, "type": format}},
            "bdb": base64::engine::general_purpose::STANDARD.encode(bdb),
        })
    }

    #[test]
    fn segments_are_read_in_any_case_and_templates_told_from_images() {
        let shape = GalleryConfig::IMAGES;
        let half = shape.iris_layout.code_bytes();
        let mut iris = vec![0x5a; half];
        iris.extend(vec![0xff; half]);
        let face: Vec<u8> = (0..128).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let record = json!({"segments": [
            segment_json("FINGER", &["left", "indexfinger"], "Mosip", "7", b"image"),
            segment_json("Iris", &["Right"], "abis", IRIS_FORMAT, &iris),
            segment_json("face", &[], "ABIS", FACE_FORMAT, &face),
            segment_json("Voice", &[], "x", "y", b"z"),
            json!({"bdbInfo": {"type": ["Finger"], "subtype": ["Right", "Thumb"]}, "bdb": null}),
        ]});
        let segments = super::segments(Some(&record), "sample").unwrap();
        assert_eq!(segments[0].modality, Some(Modality::Finger));
        assert_eq!(segments[0].finger_position(), Some(7));
        assert_eq!(segments[0].content, Content::Image);
        assert_eq!(segments[1].content, Content::IrisTemplate);
        assert_eq!(segments[1].eye(), Some(Eye::Right));
        assert_eq!(segments[2].content, Content::FaceTemplate);
        assert_eq!(segments[3].modality, None);
        assert!(segments[4].skipped);
        let refs: Vec<&Segment> = segments.iter().collect();
        let templates = templates(&refs, "r", &shape).unwrap();
        assert_eq!(templates.irises.len(), 1);
        assert_eq!(templates.face.as_ref().unwrap().embedding[3], 3.0);
        assert!(templates.fingers.is_empty());
        // A template of the wrong size, or an abis format the modality has not, is refused.
        let bad =
            json!({"segments": [segment_json("Iris", &["Left"], "abis", IRIS_FORMAT, b"short")]});
        let segs = super::segments(Some(&bad), "sample").unwrap();
        assert!(templates_of(&segs, &shape).is_err());
        let wrong =
            json!({"segments": [segment_json("Iris", &["Left"], "abis", FACE_FORMAT, b"")]});
        assert!(super::segments(Some(&wrong), "sample").is_err());
    }

    fn templates_of(segs: &[Segment], shape: &GalleryConfig) -> Result<Record, Failure> {
        let refs: Vec<&Segment> = segs.iter().collect();
        templates(&refs, "r", shape)
    }

    #[test]
    fn requests_name_what_is_missing_or_unsupported() {
        assert_eq!(segments(None, "sample").unwrap_err().status.code(), 402);
        let empty = json!({"segments": []});
        assert_eq!(
            segments(Some(&empty), "gallery[0]")
                .unwrap_err()
                .status
                .code(),
            402
        );
        let body = json!({"modalitiesToMatch": ["finger", "IRIS", "Finger"]});
        assert_eq!(
            modalities(&body, "modalitiesToMatch").unwrap(),
            Some(vec![Modality::Finger, Modality::Iris])
        );
        let body = json!({"modalitiesToMatch": ["VOICE"]});
        let e = modalities(&body, "modalitiesToMatch").unwrap_err();
        assert_eq!(e.status.code(), 401);
        assert!(e.detail.contains("VOICE"));
        assert_eq!(modalities(&json!({}), "m").unwrap(), None);
    }

    #[test]
    fn face_templates_are_written_normalised() {
        let (bytes, format) = encode(&Extracted::Face(vec![3.0, 4.0]));
        assert_eq!(format, FACE_FORMAT);
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert!(
            (v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6,
            "{v:?}"
        );
    }
}
