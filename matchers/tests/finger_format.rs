//! Finger minutiae record formats: golden FVC2002 records, round trips through all three formats,
//! format detection, tolerance rules, typed errors, and arbitrary bytes that must never panic.

use std::path::PathBuf;

use abis_matchers::finger::format::{
    ansi_angle_to_iso, detect, iso_angle_to_ansi, parse, parse_with, write, ExtendedBlock,
    ExtendedData, FingerView, FormatErrorKind, Minutia, MinutiaKind, MinutiaeRecord, ParseOptions,
    RecordFormat,
};
use abis_matchers::MatchError;
use proptest::prelude::*;

#[path = "finger_format/strategies.rs"]
mod strategies;
use strategies::{any_format, apply, mutation, record};

const ISO05: RecordFormat = RecordFormat::Iso19794_2_2005;
const ISO11: RecordFormat = RecordFormat::Iso19794_2_2011;
const ANSI: RecordFormat = RecordFormat::Ansi378_2004;

/// The FVC2002 `.iso` files, sorted; `None` (with a message) when the shared data is missing.
fn fvc_files() -> Option<Vec<PathBuf>> {
    let root = abis_test_data::shared_data("fvc2002")?;
    let mut files = Vec::new();
    for db in ["DB1_B", "DB2_B", "DB3_B", "DB4_B-synthetic"] {
        for entry in std::fs::read_dir(root.join(db)).expect("read FVC folder") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "iso") {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(files)
}

/// Circular distance between two ISO angles.
fn angle_gap(a: u8, b: u8) -> u8 {
    let d = a.wrapping_sub(b);
    d.min(d.wrapping_neg())
}

/// The parts of a format error (panics on anything else: the test wants a format error).
fn kind_of<T: std::fmt::Debug>(
    result: Result<T, MatchError>,
) -> (&'static str, usize, FormatErrorKind) {
    match result {
        Err(MatchError::Format {
            format,
            offset,
            kind,
        }) => (format, offset, kind),
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// Asserts that `b` has the minutiae of `a`, angles within one ISO unit (the ANSI rounding).
fn assert_same_minutiae(a: &MinutiaeRecord, b: &MinutiaeRecord, angle_slack: u8) {
    assert_eq!(a.views.len(), b.views.len());
    for (va, vb) in a.views.iter().zip(&b.views) {
        assert_eq!(va.minutiae.len(), vb.minutiae.len());
        for (ma, mb) in va.minutiae.iter().zip(&vb.minutiae) {
            assert_eq!(
                (ma.x, ma.y, ma.kind, ma.quality),
                (mb.x, mb.y, mb.kind, mb.quality)
            );
            assert!(
                angle_gap(ma.angle, mb.angle) <= angle_slack,
                "{ma:?} vs {mb:?}"
            );
        }
        assert_eq!(
            (
                va.position,
                va.view_number,
                va.impression_type,
                va.quality,
                &va.extended
            ),
            (
                vb.position,
                vb.view_number,
                vb.impression_type,
                vb.quality,
                &vb.extended
            )
        );
    }
}

#[test]
fn fvc2002_golden_records() {
    let Some(files) = fvc_files() else { return };
    assert_eq!(files.len(), 320, "FVC2002 B sets hold 4 x 80 records");
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.display();
        let rec = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rec.format, ISO05, "{name}");
        assert_eq!((rec.width, rec.height), (300, 400), "{name}");
        assert_eq!((rec.x_resolution, rec.y_resolution), (197, 197), "{name}");
        assert_eq!(rec.views.len(), 1, "{name}");
        let view = &rec.views[0];
        assert!(
            (5..=120).contains(&view.minutiae.len()),
            "{name}: {}",
            view.minutiae.len()
        );
        for m in &view.minutiae {
            assert!(
                m.x < rec.width && m.y < rec.height,
                "{name}: {m:?} outside the canvas"
            );
            assert_ne!(
                m.kind,
                MinutiaKind::Other,
                "{name}: the SDK types every minutia"
            );
            assert_eq!(m.quality, 0, "{name}: quality is not reported");
        }
        // Byte-exact 2005 round trip.
        assert_eq!(write(&rec, ISO05).unwrap(), bytes, "{name}");
        assert_eq!(
            write(&rec, RecordFormat::default()).unwrap(),
            bytes,
            "{name}"
        );

        // 2011 and back: lossless, and back to the identical 2005 bytes.
        let b11 = write(&rec, ISO11).unwrap();
        let r11 = parse(&b11).unwrap();
        assert_eq!(r11.format, ISO11, "{name}");
        assert_eq!(
            (
                r11.width,
                r11.height,
                r11.x_resolution,
                r11.y_resolution,
                r11.capture_equipment
            ),
            (
                rec.width,
                rec.height,
                rec.x_resolution,
                rec.y_resolution,
                rec.capture_equipment
            )
        );
        assert_same_minutiae(&rec, &r11, 0);
        assert_eq!(write(&r11, ISO11).unwrap(), b11, "{name}: 2011 rewrite");
        assert_eq!(
            write(&r11, ISO05).unwrap(),
            bytes,
            "{name}: 2005 -> 2011 -> 2005"
        );

        // ANSI and back: angles within the 2-degree rounding, the rest exact.
        let ba = write(&rec, ANSI).unwrap();
        let ra = parse(&ba).unwrap();
        assert_eq!(ra.format, ANSI, "{name}");
        assert_eq!(detect(&ba).unwrap(), ANSI);
        assert_same_minutiae(&rec, &ra, 1);
        assert_eq!(write(&ra, ANSI).unwrap(), ba, "{name}: ANSI rewrite");
        let back = parse(&write(&ra, ISO05).unwrap()).unwrap();
        assert_same_minutiae(&rec, &back, 1);
    }
}

#[test]
fn fvc2002_tolerance_padding_and_wrong_length() {
    let Some(files) = fvc_files() else { return };
    let bytes = std::fs::read(&files[0]).unwrap();
    let rec = parse(&bytes).unwrap();
    // Trailing zero padding.
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0; 37]);
    assert_eq!(parse(&padded).unwrap(), rec);
    // Record length field larger, smaller, zero: the structure decides.
    for wrong in [
        0u32,
        24,
        bytes.len() as u32 - 1,
        bytes.len() as u32 + 100,
        70_000,
    ] {
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&wrong.to_be_bytes());
        assert_eq!(parse(&b).unwrap(), rec, "length field {wrong}");
    }
    // A non-zero byte after the last view is not padding.
    let mut trailing = padded.clone();
    trailing[bytes.len() + 5] = 1;
    let (format, offset, kind) = kind_of(parse(&trailing));
    assert_eq!((format, offset), ("ISO 19794-2:2005", bytes.len()));
    assert_eq!(kind, FormatErrorKind::TrailingData { bytes: 37 });
}

#[test]
fn angle_conversion_rounding() {
    for a in 0..180u8 {
        assert_eq!(
            iso_angle_to_ansi(ansi_angle_to_iso(a)),
            a,
            "ANSI {a} round trip"
        );
        let exact = a as f64 * 2.0 * 256.0 / 360.0;
        let got = ansi_angle_to_iso(a) as f64;
        let err = (got - exact).abs().min(256.0 - (got - exact).abs());
        assert!(err <= 0.5, "ANSI {a} -> ISO {got}, exact {exact}");
    }
    for i in 0..=255u8 {
        let a = iso_angle_to_ansi(i);
        assert!(a < 180);
        assert!(angle_gap(ansi_angle_to_iso(a), i) <= 1, "ISO {i}");
        let exact = i as f64 * 360.0 / 256.0 / 2.0;
        assert!(
            (a as f64 - exact).abs() <= 0.5 || (180.0 - exact) <= 0.5,
            "ISO {i} -> {a}"
        );
    }
    assert_eq!(ansi_angle_to_iso(180), 0, "out-of-range ANSI angles wrap");
}

/// A small valid 2005 record with one view of `n` minutiae.
fn sample_record(n: usize) -> MinutiaeRecord {
    let minutiae = (0..n)
        .map(|i| Minutia {
            x: 10 + i as u16,
            y: 20 + 2 * i as u16,
            angle: (i * 37) as u8,
            kind: if i % 2 == 0 {
                MinutiaKind::RidgeEnding
            } else {
                MinutiaKind::Bifurcation
            },
            quality: 50,
        })
        .collect();
    MinutiaeRecord {
        width: 300,
        height: 400,
        x_resolution: 197,
        y_resolution: 197,
        views: vec![FingerView {
            position: 2,
            quality: 80,
            minutiae,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn typed_errors() {
    let good = write(&sample_record(5), ISO05).unwrap();
    let unknown = "finger minutiae record";

    let mut bad_magic = good.clone();
    bad_magic[2] = b'X';
    let (format, offset, kind) = kind_of(parse(&bad_magic));
    assert_eq!((format, offset), (unknown, 0));
    assert_eq!(kind, FormatErrorKind::BadMagic { found: *b"FMX\0" });

    let mut version = good.clone();
    version[4..8].copy_from_slice(b" 21\0");
    let (_, offset, kind) = kind_of(parse(&version));
    assert_eq!(
        (offset, kind),
        (4, FormatErrorKind::UnknownVersion { found: *b" 21\0" })
    );

    let (_, _, kind) = kind_of(parse(b"FMR\0 2"));
    assert_eq!(
        kind,
        FormatErrorKind::Truncated {
            needed: 8,
            available: 6
        }
    );
    assert!(matches!(
        kind_of(parse(b"")).2,
        FormatErrorKind::Truncated { .. }
    ));

    // Minutia list cut after 3 of 5 minutiae (length field kept, then made to agree).
    for patch_length in [false, true] {
        let mut cut = good[..24 + 4 + 6 * 3].to_vec();
        if patch_length {
            let len = cut.len() as u32;
            cut[8..12].copy_from_slice(&len.to_be_bytes());
        }
        let (format, offset, kind) = kind_of(parse(&cut));
        assert_eq!((format, offset), ("ISO 19794-2:2005", 28));
        assert_eq!(
            kind,
            FormatErrorKind::Truncated {
                needed: 30,
                available: 18
            }
        );
    }

    // Three views declared, one present.
    let mut views = good.clone();
    views[22] = 3;
    let (format, offset, kind) = kind_of(parse(&views));
    assert_eq!((format, offset), ("ISO 19794-2:2005", good.len()));
    assert!(
        matches!(kind, FormatErrorKind::Truncated { .. }),
        "{kind:?}"
    );

    // Reserved minutia type.
    let mut reserved = good.clone();
    reserved[28] |= 0xC0;
    assert_eq!(
        kind_of(parse(&reserved)).2,
        FormatErrorKind::ReservedMinutiaType
    );

    // Extended data whose area overruns the block: an error when kept, fine when skipped.
    let mut rec = sample_record(2);
    rec.views[0].extended = vec![ExtendedBlock {
        type_id: 0x0101,
        data: vec![1, 2, 3],
    }];
    let mut ext = write(&rec, ISO05).unwrap();
    let area_len_at = ext.len() - 3 - 2;
    ext[area_len_at + 1] = 9; // area length 9 > 4 + 3 bytes left in the block
    assert!(matches!(
        kind_of(parse(&ext)).2,
        FormatErrorKind::ExtendedData(_)
    ));
    let skipped = parse_with(
        &ext,
        ParseOptions {
            extended: ExtendedData::Skip,
        },
    )
    .unwrap();
    assert!(skipped.views[0].extended.is_empty());
    assert_eq!(skipped.views[0].minutiae, rec.views[0].minutiae);

    // ISO 2011: zero representations, bad minutia field length, wrong representation length.
    let b11 = write(&sample_record(3), ISO11).unwrap();
    let mut zero = b11.clone();
    zero[12..14].copy_from_slice(&[0, 0]);
    let kind = kind_of(parse(&zero)).2;
    assert_eq!(
        kind,
        FormatErrorKind::InvalidField {
            field: "number of finger representations",
            value: 0
        }
    );
    let packed_at = 15 + 4 + 9 + 1 + 2 + 2 + 1 + 5 + 1 + 1 + 2 + 2 + 1 + 2 + 2;
    assert_eq!(
        b11[packed_at], 0x61,
        "6-byte minutiae, valley bifurcation endings"
    );
    let mut field = b11.clone();
    field[packed_at] = 0x71;
    let (_, offset, kind) = kind_of(parse(&field));
    assert_eq!(offset, packed_at);
    assert_eq!(
        kind,
        FormatErrorKind::InvalidField {
            field: "minutia field length",
            value: 7
        }
    );
    let mut rep_len = b11.clone();
    rep_len[18] += 1;
    assert!(matches!(
        kind_of(parse(&rep_len)).2,
        FormatErrorKind::InvalidField {
            field: "representation length",
            ..
        }
    ));

    // Writing values that do not fit.
    let mut big = sample_record(1);
    big.views[0].minutiae[0].x = 0x4000;
    let (_, offset, kind) = kind_of(write(&big, ISO05));
    assert_eq!(offset, 28, "the first minutia");
    assert_eq!(
        kind,
        FormatErrorKind::Unrepresentable {
            field: "minutia x",
            value: 0x4000,
            max: 0x3FFF
        }
    );
    let kind = kind_of(write(&sample_record(256), ANSI)).2;
    assert_eq!(
        kind,
        FormatErrorKind::Unrepresentable {
            field: "number of minutiae",
            value: 256,
            max: 255
        }
    );
    let mut view16 = sample_record(1);
    view16.views[0].view_number = 16;
    assert!(write(&view16, ISO05).is_err());
    assert!(
        write(&view16, ISO11).is_ok(),
        "2011 view numbers are a byte"
    );
    assert!(
        write(&MinutiaeRecord::default(), ISO11).is_err(),
        "2011 needs a representation"
    );
}

/// Records assembled by hand from the documented layouts, so the reader and the writer cannot
/// agree on a wrong layout.
#[test]
fn hand_built_ansi_and_iso2011_records() {
    #[rustfmt::skip]
    let ansi: &[u8] = &[
        b'F', b'M', b'R', 0, b' ', b'2', b'0', 0,
        0x00, 0x2C,             // record length 44
        0x00, 0x33, 0x00, 0x01, // CBEFF product identifier
        0x00, 0x00,             // capture equipment
        0x01, 0xF4, 0x02, 0x58, // 500 x 600
        0x00, 0xC5, 0x00, 0xC5, // 197 px/cm
        0x01, 0x00,             // one view, reserved
        0x07, 0x10, 0x3C, 0x02, // left index, view 1 live plain, quality 60, 2 minutiae
        0x40, 0x64, 0x00, 0xC8, 90, 80, // ridge ending (100, 200), 180 degrees, quality 80
        0x80, 0x0A, 0x00, 0x14, 0, 0,   // bifurcation (10, 20), 0 degrees
        0x00, 0x00,             // no extended data
    ];
    let rec = parse(ansi).unwrap();
    assert_eq!(rec.format, ANSI);
    assert_eq!(
        (rec.width, rec.height, rec.product_id),
        (500, 600, 0x0033_0001)
    );
    let v = &rec.views[0];
    assert_eq!(
        (v.position, v.view_number, v.impression_type, v.quality),
        (7, 1, 0, 60)
    );
    let ending = Minutia {
        x: 100,
        y: 200,
        angle: 128,
        kind: MinutiaKind::RidgeEnding,
        quality: 80,
    };
    let bifurcation = Minutia {
        x: 10,
        y: 20,
        angle: 0,
        kind: MinutiaKind::Bifurcation,
        quality: 0,
    };
    assert_eq!(v.minutiae, [ending, bifurcation]);
    assert_eq!(write(&rec, ANSI).unwrap(), ansi);

    #[rustfmt::skip]
    let iso11: &[u8] = &[
        b'F', b'M', b'R', 0, b'0', b'3', b'0', 0,
        0x00, 0x00, 0x00, 0x3B, // record length 59
        0x00, 0x01, 0x00,       // one representation, no certification blocks
        0x00, 0x00, 0x00, 0x2C, // representation length 44
        0x07, 0xE5, 12, 31, 23, 59, 59, 0x03, 0xE7, // 2021-12-31 23:59:59.999
        0x01, 0x00, 0x0F, 0x00, 0x02, // technology, vendor, device type
        0x01, 60, 0x00, 0x0F, 0x00, 0x01, // one quality block: 60 by vendor 15, algorithm 1
        0x02, 0x00,             // right index, view 0
        0x00, 0xC5, 0x00, 0xC5, // 197 px/cm
        0x00,                   // live-scan plain
        0x01, 0x2C, 0x01, 0x90, // 300 x 400
        0x51, 0x01,             // 5-byte minutiae, valley skeleton endings; one minutia
        0x40, 0x0A, 0x00, 0x14, 0x80, // ridge ending (10, 20), 180 degrees
        0x00, 0x00,             // no extended data
    ];
    let rec = parse(iso11).unwrap();
    assert_eq!(rec.format, ISO11);
    assert_eq!(
        (
            rec.width,
            rec.height,
            rec.x_resolution,
            rec.capture_equipment
        ),
        (300, 400, 197, 2)
    );
    let v = &rec.views[0];
    assert_eq!((v.position, v.view_number, v.quality), (2, 0, 60));
    let m = Minutia {
        x: 10,
        y: 20,
        angle: 128,
        kind: MinutiaKind::RidgeEnding,
        quality: 0,
    };
    assert_eq!(v.minutiae, [m]);
    let c = v.capture.as_ref().unwrap();
    assert_eq!(
        (c.device_technology, c.device_vendor, c.ridge_ending_type),
        (1, 15, 1)
    );
    assert!(!c.minutia_quality && c.certifications.is_none());
    assert_eq!(write(&rec, ISO11).unwrap(), iso11);
}

#[test]
fn ansi_long_length_and_large_iso_records_are_told_apart() {
    // 60 views x 255 minutiae: over 64 KiB, so ANSI uses its 6-byte length and ISO's length no
    // longer starts with two zero bytes.
    let mut rec = sample_record(255);
    let view = rec.views[0].clone();
    rec.views = (0..60)
        .map(|i| FingerView {
            position: (i % 11) as u8,
            ..view.clone()
        })
        .collect();
    for v in &mut rec.views {
        for m in &mut v.minutiae {
            m.angle = ansi_angle_to_iso(iso_angle_to_ansi(m.angle));
        }
    }
    let ansi = write(&rec, ANSI).unwrap();
    assert!(ansi.len() > 0xFFFF);
    assert_eq!(&ansi[8..10], &[0, 0]);
    assert_eq!(
        u32::from_be_bytes(ansi[10..14].try_into().unwrap()) as usize,
        ansi.len()
    );
    let back = parse(&ansi).unwrap();
    assert_eq!(
        back,
        MinutiaeRecord {
            format: ANSI,
            ..rec.clone()
        }
    );

    let iso = write(&rec, ISO05).unwrap();
    assert_ne!(&iso[8..10], &[0, 0]);
    assert_eq!(parse(&iso).unwrap(), rec);
}

/// Parses arbitrary bytes with both extended-data modes: a typed format error or a record that
/// writes back in its format and reads back unchanged. Never a panic.
fn check_arbitrary(bytes: &[u8]) -> Result<(), TestCaseError> {
    for extended in [ExtendedData::Keep, ExtendedData::Skip] {
        let options = ParseOptions { extended };
        match parse_with(bytes, options) {
            Ok(rec) => {
                let out = write(&rec, rec.format)
                    .map_err(|e| TestCaseError::fail(format!("rewrite: {e}")))?;
                prop_assert_eq!(parse_with(&out, options).ok(), Some(rec));
            }
            Err(MatchError::Format { offset, .. }) => prop_assert!(offset <= bytes.len()),
            Err(other) => prop_assert!(false, "not a format error: {other:?}"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_generated_records(rec in any_format().prop_flat_map(record)) {
        let bytes = write(&rec, rec.format).unwrap();
        prop_assert_eq!(detect(&bytes).unwrap(), rec.format);
        let back = parse(&bytes).unwrap();
        prop_assert_eq!(&back, &rec);
        prop_assert_eq!(write(&back, rec.format).unwrap(), bytes);
        // Zero padding never changes the result.
        let mut padded = write(&rec, rec.format).unwrap();
        padded.resize(padded.len() + 11, 0);
        prop_assert_eq!(parse(&padded).unwrap(), rec);
    }

    #[test]
    fn cross_format_conversion_keeps_minutiae(
        rec in record(ISO05).prop_filter("2011 needs a view", |r| !r.views.is_empty()),
    ) {
        let iso = write(&rec, ISO05).unwrap();
        let r11 = parse(&write(&rec, ISO11).unwrap()).unwrap();
        prop_assert_eq!(r11.format, ISO11);
        assert_same_minutiae(&rec, &r11, 0);
        prop_assert_eq!(write(&r11, ISO05).unwrap(), iso.clone());
        let ra = parse(&write(&rec, ANSI).unwrap()).unwrap();
        prop_assert_eq!(ra.format, ANSI);
        assert_same_minutiae(&rec, &ra, 1);
        let strip = |r: &MinutiaeRecord| {
            (r.width, r.height, r.x_resolution, r.y_resolution, r.capture_equipment)
        };
        prop_assert_eq!(strip(&ra), strip(&rec));
        prop_assert_eq!(strip(&r11), strip(&rec));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_arbitrary(&bytes)?;
    }

    #[test]
    fn arbitrary_tails_after_a_valid_header_never_panic(
        prefix in prop_oneof![Just(&b"FMR\0 20\0"[..]), Just(&b"FMR\x00030\x00"[..])],
        tail in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&tail);
        check_arbitrary(&bytes)?;
    }

    #[test]
    fn mutated_records_never_panic(
        rec in any_format().prop_flat_map(record),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = write(&rec, rec.format).unwrap();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check_arbitrary(&bytes)?;
    }
}
