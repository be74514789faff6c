//! The format-neutral minutiae record.
//!
//! One type for all three formats, so the matcher and the engine never care where a template came
//! from. It holds every field the three formats share, in ISO 19794-2:2005 terms (angles in
//! 360/256-degree units, resolutions in pixels per centimetre), plus the few fields only one format
//! has ([`MinutiaeRecord::product_id`] for ANSI 378, [`FingerView::capture`] for ISO 2011), so a
//! record read from any format writes back to that format byte for byte.

/// The interchange format of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RecordFormat {
    /// ISO/IEC 19794-2:2005, version `" 20\0"`, 4-byte record length; what the engine writes.
    #[default]
    Iso19794_2_2005,
    /// ISO/IEC 19794-2:2011, version `"030\0"`, per-representation headers.
    Iso19794_2_2011,
    /// ANSI/INCITS 378-2004, version `" 20\0"`, 2- or 6-byte record length, 2-degree angles.
    Ansi378_2004,
}

impl RecordFormat {
    /// The format's name as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            RecordFormat::Iso19794_2_2005 => "ISO 19794-2:2005",
            RecordFormat::Iso19794_2_2011 => "ISO 19794-2:2011",
            RecordFormat::Ansi378_2004 => "ANSI 378-2004",
        }
    }
}

impl std::fmt::Display for RecordFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a minutia (the two type bits; `0b11` is reserved and refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MinutiaKind {
    /// `0b00`: other / not determined.
    #[default]
    Other,
    /// `0b01`: ridge ending.
    RidgeEnding,
    /// `0b10`: ridge bifurcation.
    Bifurcation,
}

impl MinutiaKind {
    /// The two type bits of this kind.
    pub fn bits(self) -> u16 {
        match self {
            MinutiaKind::Other => 0,
            MinutiaKind::RidgeEnding => 1,
            MinutiaKind::Bifurcation => 2,
        }
    }

    /// The kind of two type bits, `None` for the reserved `0b11`.
    pub fn from_bits(bits: u16) -> Option<Self> {
        match bits {
            0 => Some(MinutiaKind::Other),
            1 => Some(MinutiaKind::RidgeEnding),
            2 => Some(MinutiaKind::Bifurcation),
            _ => None,
        }
    }
}

/// One minutia.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Minutia {
    /// Column in pixels of the record's canvas (14 bits in every format).
    pub x: u16,
    /// Row in pixels, from the top (14 bits in every format).
    pub y: u16,
    /// Direction in 360/256-degree units (ISO). ANSI's 2-degree units are converted on read and
    /// write with [`ansi_angle_to_iso`] / [`iso_angle_to_ansi`].
    pub angle: u8,
    /// Type.
    pub kind: MinutiaKind,
    /// Quality 0..=100 as the record states it (0 is "not reported" in the FVC files and ANSI).
    pub quality: u8,
}

/// One extended data area (type code + raw data), kept as read.
///
/// Standard type codes: `0x0001` ridge counts, `0x0002` cores and deltas, `0x0003` zonal quality
/// (ISO 2011); `0x0100..` vendor defined. The data is never interpreted here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ExtendedBlock {
    /// Extended data area type code.
    pub type_id: u16,
    /// The area's data, without its 4-byte type/length header.
    pub data: Vec<u8>,
}

/// An ISO 19794-2:2011 quality block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QualityBlock {
    /// Quality score 0..=100 (255: failed to compute).
    pub score: u8,
    /// Quality algorithm vendor identifier.
    pub vendor: u16,
    /// Quality algorithm identifier.
    pub algorithm: u16,
}

/// An ISO 19794-2:2011 certification block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CertificationBlock {
    /// Certification authority identifier.
    pub authority: u16,
    /// Certification scheme identifier.
    pub scheme: u8,
}

/// The per-representation header fields only ISO 19794-2:2011 has, kept so a 2011 record writes
/// back byte for byte. `None` on views read from 2005 or ANSI records; writing 2011 without it
/// uses the defaults documented on [`super::write`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CaptureInfo {
    /// Capture date and time, raw: year (2 bytes), month, day, hour, minute, second, millisecond
    /// (2 bytes); all `0xFF` when not recorded.
    pub date_time: [u8; 9],
    /// Capture device technology identifier (0 unknown).
    pub device_technology: u8,
    /// Capture device vendor identifier.
    pub device_vendor: u16,
    /// Capture device type identifier.
    pub device_type: u16,
    /// Quality blocks in record order; [`FingerView::quality`] mirrors the first one's score.
    pub quality_blocks: Vec<QualityBlock>,
    /// Certification blocks; `None` when the record's certification flag is 0.
    pub certifications: Option<Vec<CertificationBlock>>,
    /// Ridge ending type (4 bits): 0 ridge skeleton end point, 1 valley skeleton bifurcation point.
    pub ridge_ending_type: u8,
    /// Whether minutiae carry a quality byte (minutia field length 6) or not (5).
    pub minutia_quality: bool,
}

/// One finger view (ISO 2011: finger representation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FingerView {
    /// Finger position code: 0 unknown, 1..=5 right thumb..little, 6..=10 left. Kept raw.
    pub position: u8,
    /// View number (4 bits in 2005 and ANSI, a byte in 2011).
    pub view_number: u8,
    /// Impression type: 0 live-scan plain, 1 live-scan rolled, 2 non-live plain, 3 non-live
    /// rolled, 8 swipe, ... (4 bits in 2005 and ANSI, a byte in 2011). Kept raw.
    pub impression_type: u8,
    /// Finger quality 0..=100 (2011: the first quality block's score, 0 without one).
    pub quality: u8,
    /// The minutiae, in record order.
    pub minutiae: Vec<Minutia>,
    /// Extended data areas, in record order (empty when skipped, see [`super::ExtendedData`]).
    pub extended: Vec<ExtendedBlock>,
    /// ISO 2011 representation header fields; `None` for views read from 2005 or ANSI.
    pub capture: Option<CaptureInfo>,
}

/// A finger minutiae record: one capture canvas and its finger views.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MinutiaeRecord {
    /// The format it was read from (informational for writing: [`super::write`] takes the target).
    pub format: RecordFormat,
    /// Canvas width in pixels (2011: every representation's image width).
    pub width: u16,
    /// Canvas height in pixels.
    pub height: u16,
    /// Horizontal resolution in pixels per centimetre (197 = 500 ppi).
    pub x_resolution: u16,
    /// Vertical resolution in pixels per centimetre.
    pub y_resolution: u16,
    /// Capture equipment, raw 16 bits: certification/compliance (4 bits) + device type (12 bits)
    /// in 2005 and ANSI; the first representation's device type identifier in 2011.
    pub capture_equipment: u16,
    /// ANSI 378 CBEFF product identifier (owner in the high 16 bits, type in the low 16); 0 when
    /// read from ISO, written only to ANSI.
    pub product_id: u32,
    /// Finger views in record order.
    pub views: Vec<FingerView>,
}

/// ANSI 378 angle (2-degree units, valid 0..=179) to ISO 360/256-degree units, rounded to nearest
/// (halves up): `(a * 128 + 45) / 90 mod 256`. Out-of-range values wrap: 180 is 360 degrees, 0.
pub fn ansi_angle_to_iso(angle: u8) -> u8 {
    (((angle as u32) * 128 + 45) / 90 % 256) as u8
}

/// ISO angle (360/256-degree units) to ANSI 378 2-degree units, rounded to nearest (halves up):
/// `(i * 45 + 32) / 64`, always 0..=179. ANSI -> ISO -> ANSI is exact for 0..=179; ISO -> ANSI ->
/// ISO moves an angle by at most one ISO unit (1.40625 degrees).
pub fn iso_angle_to_ansi(angle: u8) -> u8 {
    (((angle as u32) * 45 + 32) / 64) as u8
}
