//! Finger templates on the wire: ISO/ANSI minutiae records or native minutiae, both brought to
//! the engine's form, minutiae at 500 ppi (197 pixels per centimetre).
//!
//! Standard records are read with [`abis_matchers::finger::parse`], which tells ISO/IEC
//! 19794-2:2005, :2011 and ANSI/INCITS 378-2004 apart from the header. Only the first finger
//! view is used (a de-dup record has one impression per finger). Its coordinates are scaled from
//! the record's resolution to 500 ppi, `round(v * 197 / resolution)` with halves up, a
//! resolution of 0 being read as 500 ppi (some writers leave it unset). Angles, types and
//! qualities are already in ISO terms after parsing. Nothing is clamped: a value that does not
//! fit is a [`ProtoError`].

use crate::error::{ImageOf, ProtoError, Result};
use crate::v1;
use abis_engine::{FingerTemplate, Minutia, MinutiaKind};

/// The engine's resolution in pixels per centimetre (500 ppi).
pub const ENGINE_PPCM: u16 = 197;

/// Largest coordinate every minutiae format can hold (14 bits).
pub const MAX_COORDINATE: u32 = 16_383;

/// Converts one wire finger into the engine's template.
pub fn finger_from_proto(finger: v1::Finger) -> Result<FingerTemplate> {
    let position = finger_position(finger.position)?;
    let minutiae = match finger.template {
        None => return Err(ProtoError::missing(format!("finger {position}: template"))),
        Some(v1::finger::Template::IsoOrAnsiRecord(bytes)) => {
            minutiae_from_record(&bytes, position)?
        }
        Some(v1::finger::Template::Minutiae(native)) => native
            .minutiae
            .iter()
            .enumerate()
            .map(|(i, m)| minutia_from_proto(m, position, i))
            .collect::<Result<_>>()?,
        Some(v1::finger::Template::Image(_)) => {
            return Err(ProtoError::ImageNotExtracted {
                of: ImageOf::Finger(position),
            })
        }
    };
    Ok(FingerTemplate { position, minutiae })
}

/// The engine's template as native minutiae on the wire.
pub fn finger_to_proto(finger: &FingerTemplate) -> v1::Finger {
    v1::Finger {
        position: u32::from(finger.position),
        template: Some(v1::finger::Template::Minutiae(v1::NativeMinutiae {
            minutiae: finger.minutiae.iter().map(minutia_to_proto).collect(),
        })),
    }
}

/// Checks an ISO finger position, 1..=10.
pub fn finger_position(position: u32) -> Result<u8> {
    match u8::try_from(position) {
        Ok(p @ 1..=10) => Ok(p),
        _ => Err(ProtoError::InvalidFingerPosition { position }),
    }
}

/// Reads an ISO/IEC 19794-2 (2005 or 2011) or ANSI 378 record and returns its first view's
/// minutiae at 500 ppi, for the finger at `position` (a view that states another non-zero
/// position is refused).
pub fn minutiae_from_record(bytes: &[u8], position: u8) -> Result<Vec<Minutia>> {
    let record = abis_matchers::finger::parse(bytes)
        .map_err(|source| ProtoError::BadFingerRecord { position, source })?;
    let view = record
        .views
        .first()
        .ok_or(ProtoError::NoFingerView { position })?;
    if view.position != 0 && view.position != position {
        return Err(ProtoError::FingerPositionMismatch {
            position,
            record_position: view.position,
        });
    }
    view.minutiae
        .iter()
        .enumerate()
        .map(|(index, m)| {
            let scale = |field, v: u16, resolution: u16| {
                let value = to_500ppi(v, resolution);
                u16::try_from(value)
                    .ok()
                    .filter(|&v| u32::from(v) <= MAX_COORDINATE)
                    .ok_or(ProtoError::MinutiaOutOfRange {
                        position,
                        index,
                        field,
                        value,
                    })
            };
            Ok(Minutia {
                x: scale("x", m.x, record.x_resolution)?,
                y: scale("y", m.y, record.y_resolution)?,
                ..*m
            })
        })
        .collect()
}

/// A coordinate at `resolution` pixels per centimetre brought to 197 (500 ppi), rounded to
/// nearest with halves up; resolution 0 means 197.
pub fn to_500ppi(value: u16, resolution: u16) -> u64 {
    let (v, r) = (u64::from(value), u64::from(resolution));
    if r == 0 || r == u64::from(ENGINE_PPCM) {
        return v;
    }
    (2 * v * u64::from(ENGINE_PPCM) + r) / (2 * r)
}

fn minutia_from_proto(m: &v1::Minutia, position: u8, index: usize) -> Result<Minutia> {
    let out_of_range = |field, value: u32| ProtoError::MinutiaOutOfRange {
        position,
        index,
        field,
        value: u64::from(value),
    };
    let coordinate = |field, v: u32| {
        if v <= MAX_COORDINATE {
            Ok(v as u16)
        } else {
            Err(out_of_range(field, v))
        }
    };
    let kind = match v1::MinutiaKind::try_from(m.kind) {
        Ok(v1::MinutiaKind::Other) => MinutiaKind::Other,
        Ok(v1::MinutiaKind::RidgeEnding) => MinutiaKind::RidgeEnding,
        Ok(v1::MinutiaKind::Bifurcation) => MinutiaKind::Bifurcation,
        Err(_) => {
            return Err(ProtoError::InvalidEnum {
                field: format!("finger {position}: minutiae[{index}].kind"),
                value: m.kind,
            })
        }
    };
    Ok(Minutia {
        x: coordinate("x", m.x)?,
        y: coordinate("y", m.y)?,
        angle: u8::try_from(m.angle).map_err(|_| out_of_range("angle", m.angle))?,
        kind,
        quality: u8::try_from(m.quality)
            .ok()
            .filter(|&q| q <= 100)
            .ok_or_else(|| out_of_range("quality", m.quality))?,
    })
}

fn minutia_to_proto(m: &Minutia) -> v1::Minutia {
    let kind = match m.kind {
        MinutiaKind::Other => v1::MinutiaKind::Other,
        MinutiaKind::RidgeEnding => v1::MinutiaKind::RidgeEnding,
        MinutiaKind::Bifurcation => v1::MinutiaKind::Bifurcation,
    };
    v1::Minutia {
        x: u32::from(m.x),
        y: u32::from(m.y),
        angle: u32::from(m.angle),
        kind: kind as i32,
        quality: u32::from(m.quality),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_rounds_halves_up_and_reads_zero_as_500_ppi() {
        assert_eq!(to_500ppi(100, 0), 100);
        assert_eq!(to_500ppi(100, 197), 100);
        // 1000 ppi (394 px/cm): halves.
        assert_eq!(to_500ppi(100, 394), 50);
        assert_eq!(to_500ppi(101, 394), 51); // 50.5 rounds up
                                             // 250 ppi (98 px/cm... 99): doubles, rounded.
        assert_eq!(to_500ppi(10, 99), 20); // 19.898
        assert_eq!(to_500ppi(u16::MAX, 1), 65_535 * 197);
    }

    #[test]
    fn positions_outside_one_to_ten_are_refused() {
        for p in [0, 11, 256, u32::MAX] {
            assert_eq!(
                finger_position(p),
                Err(ProtoError::InvalidFingerPosition { position: p })
            );
        }
        assert_eq!(finger_position(10), Ok(10));
    }
}
