//! Minutiae as an ISO/IEC 19794-2:2005 record, the template type the rest of abis reads.

use crate::error::Result;
use crate::image::MAX_SIDE;
use crate::minutiae::Minutia;
use abis_matchers::finger::format::{self, FingerView, MinutiaeRecord, RecordFormat};

/// 500 ppi in the record's pixels per centimetre (500 / 2.54, rounded).
pub const RESOLUTION_PX_PER_CM: u16 = 197;

/// One finger view of `minutiae`, in the given order, with their ISO angles and qualities.
/// Position 0 (unknown), view 0, live-scan plain impression, finger quality 0 (not computed):
/// callers that know better set those fields.
pub fn to_finger_view(minutiae: &[Minutia]) -> FingerView {
    FingerView {
        position: 0,
        view_number: 0,
        impression_type: 0,
        quality: 0,
        minutiae: minutiae
            .iter()
            .map(|m| format::Minutia {
                x: m.x,
                y: m.y,
                angle: m.iso_angle(),
                kind: m.kind,
                quality: m.quality(),
            })
            .collect(),
        extended: Vec::new(),
        capture: None,
    }
}

/// An ISO 19794-2:2005 record of one view on the image's own canvas (`width x height` pixels,
/// 197 px/cm = 500 ppi), ready for [`format::write`]. The image must be the one the minutiae
/// were extracted from (after any resampling to 500 ppi: the record is on that grid).
pub fn to_record(width: usize, height: usize, minutiae: &[Minutia]) -> Result<MinutiaeRecord> {
    let side = |n: usize, what: &str| {
        u16::try_from(n)
            .ok()
            .filter(|&v| v >= 1 && usize::from(v) <= MAX_SIDE)
            .ok_or_else(|| {
                crate::ExtractError::InvalidInput(format!(
                    "image {what} {n} does not fit a record (1..={MAX_SIDE})"
                ))
            })
    };
    Ok(MinutiaeRecord {
        format: RecordFormat::Iso19794_2_2005,
        width: side(width, "width")?,
        height: side(height, "height")?,
        x_resolution: RESOLUTION_PX_PER_CM,
        y_resolution: RESOLUTION_PX_PER_CM,
        capture_equipment: 0,
        product_id: 0,
        views: vec![to_finger_view(minutiae)],
    })
}

/// The ISO 19794-2:2005 bytes of [`to_record`].
pub fn to_iso_bytes(width: usize, height: usize, minutiae: &[Minutia]) -> Result<Vec<u8>> {
    Ok(format::write(
        &to_record(width, height, minutiae)?,
        RecordFormat::Iso19794_2_2005,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abis_matchers::finger::format::MinutiaKind;

    #[test]
    fn record_round_trips_through_the_iso_writer_and_parser() {
        let minutiae = [
            Minutia {
                x: 12,
                y: 300,
                direction: std::f32::consts::FRAC_PI_2,
                kind: MinutiaKind::RidgeEnding,
                score: 0.93,
            },
            Minutia {
                x: 387,
                y: 0,
                direction: -std::f32::consts::FRAC_PI_4,
                kind: MinutiaKind::Bifurcation,
                score: 0.6,
            },
        ];
        let bytes = to_iso_bytes(388, 374, &minutiae).unwrap();
        let record = format::parse(&bytes).unwrap();
        assert_eq!(record.format, RecordFormat::Iso19794_2_2005);
        assert_eq!((record.width, record.height), (388, 374));
        assert_eq!((record.x_resolution, record.y_resolution), (197, 197));
        let got: Vec<_> = record.views[0]
            .minutiae
            .iter()
            .map(|m| (m.x, m.y, m.angle, m.kind, m.quality))
            .collect();
        assert_eq!(
            got,
            [
                (12, 300, 64, MinutiaKind::RidgeEnding, 93),
                (387, 0, 224, MinutiaKind::Bifurcation, 60)
            ]
        );
        assert!(to_record(0, 10, &minutiae).unwrap_err().is_user_fault());
    }
}
