//! Generators for the finger format tests: records exactly as each format's parser returns them
//! (so `parse(write(r)) == r` must hold), and mutations of valid records for the no-panic tests.

use abis_matchers::finger::format::{
    ansi_angle_to_iso, iso_angle_to_ansi, CaptureInfo, CertificationBlock, ExtendedBlock,
    FingerView, Minutia, MinutiaKind, MinutiaeRecord, QualityBlock, RecordFormat,
};
use proptest::prelude::*;

pub fn minutia(ansi_angles: bool) -> impl Strategy<Value = Minutia> {
    (
        0u16..0x4000,
        0u16..0x4000,
        any::<u8>(),
        0u16..3,
        any::<u8>(),
    )
        .prop_map(move |(x, y, angle, kind, quality)| Minutia {
            x,
            y,
            angle: if ansi_angles {
                ansi_angle_to_iso(iso_angle_to_ansi(angle))
            } else {
                angle
            },
            kind: MinutiaKind::from_bits(kind).unwrap(),
            quality,
        })
}

pub fn extended() -> impl Strategy<Value = Vec<ExtendedBlock>> {
    prop::collection::vec(
        (any::<u16>(), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(type_id, data)| ExtendedBlock { type_id, data }),
        0..3,
    )
}

/// A 2005 / ANSI view (no capture info, 4-bit view number and impression type).
pub fn plain_view(ansi_angles: bool) -> impl Strategy<Value = FingerView> {
    (
        0u8..=10,
        0u8..16,
        0u8..16,
        0u8..=100,
        prop::collection::vec(minutia(ansi_angles), 0..40),
        extended(),
    )
        .prop_map(
            |(position, view_number, impression_type, quality, minutiae, extended)| FingerView {
                position,
                view_number,
                impression_type,
                quality,
                minutiae,
                extended,
                capture: None,
            },
        )
}

/// A 2011 capture header; `certified` decides whether certification blocks are present.
pub fn capture(certified: bool) -> impl Strategy<Value = CaptureInfo> {
    let quality =
        (any::<u8>(), any::<u16>(), any::<u16>()).prop_map(|(score, vendor, algorithm)| {
            QualityBlock {
                score,
                vendor,
                algorithm,
            }
        });
    let cert = (any::<u16>(), any::<u8>())
        .prop_map(|(authority, scheme)| CertificationBlock { authority, scheme });
    (
        any::<[u8; 9]>(),
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        prop::collection::vec(quality, 0..3),
        prop::collection::vec(cert, 0..3),
        0u8..16,
        any::<bool>(),
    )
        .prop_map(
            move |(date_time, tech, vendor, device_type, quality_blocks, certs, ending, mq)| {
                CaptureInfo {
                    date_time,
                    device_technology: tech,
                    device_vendor: vendor,
                    device_type,
                    quality_blocks,
                    certifications: certified.then_some(certs),
                    ridge_ending_type: ending,
                    minutia_quality: mq,
                }
            },
        )
}

/// A 2011 view as the parser returns it: capture present, quality mirroring the first block,
/// minutia quality 0 when the field is 5 bytes.
pub fn view_2011(certified: bool) -> impl Strategy<Value = FingerView> {
    (
        plain_view(false),
        any::<u8>(),
        any::<u8>(),
        capture(certified),
    )
        .prop_map(|(mut v, number, impression, c)| {
            v.view_number = number;
            v.impression_type = impression;
            v.quality = c.quality_blocks.first().map_or(0, |q| q.score);
            if !c.minutia_quality {
                v.minutiae.iter_mut().for_each(|m| m.quality = 0);
            }
            v.capture = Some(c);
            v
        })
}

pub fn header() -> impl Strategy<Value = (u16, u16, u16, u16, u16)> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
    )
}

/// A record as the parser of `format` returns it.
pub fn record(format: RecordFormat) -> BoxedStrategy<MinutiaeRecord> {
    let views: BoxedStrategy<Vec<FingerView>> = match format {
        RecordFormat::Iso19794_2_2011 => any::<bool>()
            .prop_flat_map(|certified| prop::collection::vec(view_2011(certified), 1..4))
            .boxed(),
        _ => prop::collection::vec(plain_view(format == RecordFormat::Ansi378_2004), 0..4).boxed(),
    };
    (header(), any::<u32>(), views)
        .prop_map(
            move |((width, height, xr, yr, equipment), product, views)| {
                let capture_equipment = match format {
                    RecordFormat::Iso19794_2_2011 => views[0].capture.as_ref().unwrap().device_type,
                    _ => equipment,
                };
                MinutiaeRecord {
                    format,
                    width,
                    height,
                    x_resolution: xr,
                    y_resolution: yr,
                    capture_equipment,
                    product_id: if format == RecordFormat::Ansi378_2004 {
                        product
                    } else {
                        0
                    },
                    views,
                }
            },
        )
        .boxed()
}

pub fn any_format() -> impl Strategy<Value = RecordFormat> {
    prop_oneof![
        Just(RecordFormat::Iso19794_2_2005),
        Just(RecordFormat::Iso19794_2_2011),
        Just(RecordFormat::Ansi378_2004)
    ]
}

/// A change to a valid record: truncate, flip, overwrite with a large value, or insert bytes.
#[derive(Debug, Clone)]
pub enum Mutation {
    Truncate(prop::sample::Index),
    Xor(prop::sample::Index, u8),
    Large(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<prop::sample::Index>();
    prop_oneof![
        idx.clone().prop_map(Mutation::Truncate),
        (idx.clone(), 1u8..).prop_map(|(i, v)| Mutation::Xor(i, v)),
        (
            idx.clone(),
            prop_oneof![Just(0xFFu8), Just(0x7F), Just(0x80), Just(0)]
        )
            .prop_map(|(i, v)| Mutation::Large(i, v)),
        (idx, prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

pub fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match m {
        Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        Mutation::Xor(i, v) => {
            let at = i.index(bytes.len());
            bytes[at] ^= v;
        }
        Mutation::Large(i, v) => {
            let at = i.index(bytes.len());
            bytes[at] = *v;
        }
        Mutation::Insert(i, b) => {
            let at = i.index(bytes.len());
            bytes.splice(at..at, b.iter().copied());
        }
    }
}
