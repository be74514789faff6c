//! CBEFF XML (ISO/IEC 19785-3, MOSIP's profile in `mosip-cbeff.xsd`): a root BIR holding one
//! BIR per biometric sample, each with its BDBInfo (type, subtype, format, purpose, quality)
//! and its BDB (the ISO image record, base64).

use crate::{decode_base64, MosipError, Result};
use quick_xml::events::Event;
use quick_xml::Reader;

/// The largest CBEFF document read.
pub const MAX_XML: usize = 64 << 20;
/// The most samples (BIRs with data) in one document: a registration has at most ten fingers,
/// two irises and a face, with a few exception photographs.
pub const MAX_SAMPLES: usize = 64;
/// The deepest element nesting accepted.
const MAX_DEPTH: usize = 16;

/// A biometric modality as CBEFF names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modality {
    /// `Finger`.
    Finger,
    /// `Iris`.
    Iris,
    /// `Face`.
    Face,
    /// Anything else (e.g. `ExceptionPhoto`), kept as written.
    Other(String),
}

/// One biometric sample of a CBEFF document.
#[derive(Clone, PartialEq, Eq)]
pub struct Sample {
    /// BDBInfo/Type.
    pub modality: Modality,
    /// BDBInfo/Subtype, words joined by a space ("Right IndexFinger", "Left", "").
    pub subtype: String,
    /// BDBInfo/Format/Organization.
    pub format_owner: String,
    /// BDBInfo/Format/Type (MOSIP: 7 finger image, 8 face image, 9 iris image).
    pub format_type: String,
    /// BDBInfo/Purpose ("Enroll", "Verify", ...).
    pub purpose: String,
    /// BDBInfo/Quality/Score, when given.
    pub quality: Option<u32>,
    /// Whether `others` marks the sample as a biometric exception (no data).
    pub exception: bool,
    /// The BDB, decoded from base64 (empty for an exception).
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sample")
            .field("modality", &self.modality)
            .field("subtype", &self.subtype)
            .field("format", &(&self.format_owner, &self.format_type))
            .field("purpose", &self.purpose)
            .field("quality", &self.quality)
            .field("exception", &self.exception)
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

impl Sample {
    /// The ISO/IEC 19794 finger position code (1 right thumb .. 10 left little) of a finger
    /// sample, from its subtype.
    pub fn finger_position(&self) -> Option<u8> {
        if self.modality != Modality::Finger {
            return None;
        }
        let mut words = self.subtype.split_whitespace();
        let hand = match words.next()? {
            "Right" => 0,
            "Left" => 5,
            _ => return None,
        };
        let finger = match words.next()? {
            "Thumb" => 1,
            "IndexFinger" => 2,
            "MiddleFinger" => 3,
            "RingFinger" => 4,
            "LittleFinger" => 5,
            _ => return None,
        };
        Some(hand + finger)
    }
}

#[derive(Default)]
struct Partial {
    modality: Option<String>,
    subtype: Vec<String>,
    format_owner: String,
    format_type: String,
    purpose: String,
    quality: Option<u32>,
    exception: bool,
    data: Option<Vec<u8>>,
}

/// The samples of a CBEFF document, in document order.
pub fn samples(xml: &[u8]) -> Result<Vec<Sample>> {
    if xml.len() > MAX_XML {
        return Err(MosipError::TooLarge {
            what: "CBEFF document",
            size: xml.len(),
            limit: MAX_XML,
        });
    }
    let bad = |e: &dyn std::fmt::Display| MosipError::Cbeff(e.to_string());
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    // One partial sample per open BIR element.
    let mut open: Vec<Partial> = Vec::new();
    let mut samples = Vec::new();
    let mut other_key: Option<String> = None;
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer).map_err(|e| bad(&e))? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() && name != "BIR" {
                    return Err(MosipError::Cbeff(format!(
                        "the root element is {name}, not BIR"
                    )));
                }
                if path.len() >= MAX_DEPTH {
                    return Err(MosipError::Cbeff(format!("nested deeper than {MAX_DEPTH}")));
                }
                if name == "BIR" {
                    open.push(Partial::default());
                }
                if name == "entry" {
                    other_key = e
                        .try_get_attribute("key")
                        .map_err(|e| bad(&e))?
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned());
                }
                path.push(name);
            }
            Event::End(_) => {
                let closed = path.pop();
                if closed.as_deref() == Some("BIR") {
                    let partial = open.pop().expect("every open BIR has its partial sample");
                    close(partial, &mut samples)?;
                }
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| bad(&e))?;
                let Some(current) = open.last_mut() else {
                    continue;
                };
                let tail: Vec<&str> = path.iter().rev().take(3).map(String::as_str).collect();
                match tail.as_slice() {
                    ["BDB", "BIR", ..] => current.data = Some(decode_base64(text.as_bytes())?),
                    ["Type", "BDBInfo", ..] => current.modality = Some(text.into_owned()),
                    ["Subtype", "BDBInfo", ..] => current
                        .subtype
                        .extend(text.split_whitespace().map(str::to_owned)),
                    ["Organization", "Format", "BDBInfo"] => current.format_owner = text.into(),
                    ["Type", "Format", "BDBInfo"] => current.format_type = text.into(),
                    ["Purpose", "BDBInfo", ..] => current.purpose = text.into(),
                    ["Score", "Quality", "BDBInfo"] => current.quality = text.trim().parse().ok(),
                    ["entry", "others", ..] if other_key.as_deref() == Some("EXCEPTION") => {
                        current.exception = text.trim().eq_ignore_ascii_case("true")
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if samples.is_empty() {
        return Err(MosipError::CbeffEmpty);
    }
    Ok(samples)
}

/// Adds a closed BIR to `samples` if it holds data (or marks an exception); a BIR that only
/// groups others holds neither.
fn close(partial: Partial, samples: &mut Vec<Sample>) -> Result<()> {
    if partial.data.is_none() && !partial.exception {
        return Ok(());
    }
    if samples.len() == MAX_SAMPLES {
        return Err(MosipError::Cbeff(format!(
            "more than {MAX_SAMPLES} samples"
        )));
    }
    samples.push(finish(partial)?);
    Ok(())
}

fn finish(p: Partial) -> Result<Sample> {
    let modality = match p.modality.as_deref() {
        Some("Finger") => Modality::Finger,
        Some("Iris") => Modality::Iris,
        Some("Face") => Modality::Face,
        Some(other) => Modality::Other(other.to_owned()),
        None => return Err(MosipError::Cbeff("a BIR without BDBInfo/Type".into())),
    };
    Ok(Sample {
        modality,
        subtype: p.subtype.join(" "),
        format_owner: p.format_owner,
        format_type: p.format_type,
        purpose: p.purpose,
        quality: p.quality,
        exception: p.exception,
        data: p.data.unwrap_or_default(),
    })
}
