//! ISO/IEC 19794-4 finger image records: both editions, every compression, the faults real
//! senders make, and hostile bytes.

mod common;

use abis_imaging::finger_record::{self, Compression, Version};
use abis_imaging::{decode, resample_to, ImageError, ImageFormat, Resolution};
use common::*;

const W: u32 = 180;
const H: u32 = 220;

#[test]
fn a_2011_record_with_lossless_jpeg_2000_decodes_to_the_pixels_encoded() {
    let pixels = pattern(W, H);
    let jp2 = encode(".jp2", W, H, &pixels);
    let mut rep = Rep::new(5, W, H, jp2);
    // As in MOSIP's test vector: 60 bytes of extended data after the image.
    rep.extended = [&[0x00, 0x01, 0x00, 0x1a][..], &[7; 56]].concat();
    let record = finger_record::parse(&record_2011(&[rep])).unwrap();
    assert_eq!(record.version, Version::Iso2011);
    let view = &record.views[0];
    assert_eq!(view.compression, Compression::Jpeg2000Lossless);
    assert_eq!(
        (view.position, view.quality, view.impression),
        (2, Some(77), 29)
    );
    let image = view.decode().unwrap();
    assert_eq!((image.width, image.height), (W, H));
    assert_eq!(image.resolution, Some(Resolution::square(500.0)));
    assert!(
        image.pixels == pixels,
        "lossless JPEG 2000 must give back every pixel"
    );
}

#[test]
fn senders_faults_are_tolerated() {
    let pixels = pattern(W, H);
    let jp2 = encode(".jp2", W, H, &pixels);
    // Zero padding after the codestream, counted in the data length.
    let mut padded = Rep::new(5, W, H, [jp2.clone(), vec![0; 300]].concat());
    padded.position = 7;
    // A representation length too short to hold its own image.
    let mut short_length = Rep::new(4, W, H, jp2.clone());
    short_length.rep_length = Some(40);
    // An image data length running past the end of the record.
    let mut past_end = Rep::new(5, W, H, jp2);
    past_end.data_length = Some(1 << 30);
    let bytes = record_2011(&[padded, short_length, past_end]);
    let record = finger_record::parse(&bytes).unwrap();
    assert_eq!(record.views.len(), 3);
    assert_eq!(record.views[0].position, 7);
    for view in &record.views {
        assert!(view.decode().unwrap().pixels == pixels, "{view:?}");
    }
    // A wrong record length in the general header changes nothing.
    let mut wrong_total = bytes.clone();
    wrong_total[8..12].copy_from_slice(&7u32.to_be_bytes());
    assert_eq!(finger_record::parse(&wrong_total).unwrap(), record);
}

#[test]
fn a_2005_record_with_raw_and_png_views() {
    let pixels = pattern(W, H);
    let raw = record_2005(
        0,
        8,
        (500, false),
        &[
            (1, W as u16, H as u16, pixels.clone()),
            (6, W as u16, H as u16, pixels.clone()),
        ],
    );
    let record = finger_record::parse(&raw).unwrap();
    assert_eq!(record.version, Version::Iso2005);
    assert_eq!(record.views.len(), 2);
    assert_eq!(record.views[1].position, 6);
    assert_eq!(record.views[1].view_number, 1);
    assert!(record.views[1].decode().unwrap().pixels == pixels);

    let png = encode(".png", W, H, &pixels);
    let record = finger_record::parse(&record_2005(
        5,
        8,
        (197, true),
        &[(3, W as u16, H as u16, png)],
    ))
    .unwrap();
    let view = &record.views[0];
    assert_eq!(view.compression, Compression::Png);
    // 197 pixels per centimetre is 500 ppi.
    assert!((view.resolution.horizontal - 500.38).abs() < 0.01);
    assert!(view.decode().unwrap().pixels == pixels);
}

#[test]
fn an_image_written_as_a_raw_2005_record_reads_back_unchanged() {
    let image = abis_imaging::GreyImage::new(
        W,
        H,
        pattern(W, H),
        Some(Resolution {
            horizontal: 1000.0,
            vertical: 500.0,
        }),
    )
    .unwrap();
    let bytes = finger_record::write_raw_2005(&image, 7).unwrap();
    let record = finger_record::parse(&bytes).unwrap();
    assert_eq!(record.version, Version::Iso2005);
    let view = &record.views[0];
    assert_eq!((view.position, view.quality), (7, None));
    assert_eq!(view.compression, Compression::Uncompressed);
    assert_eq!(view.decode().unwrap(), image);
    let unstated = abis_imaging::GreyImage {
        resolution: None,
        ..image
    };
    assert!(matches!(
        finger_record::write_raw_2005(&unstated, 7),
        Err(ImageError::NoResolution)
    ));
}

#[test]
fn bit_packed_and_deep_pixels_are_unpacked() {
    // 4 bits per pixel, packed: 0x0 -> 0, 0xF -> 255, 0x8 -> 136.
    let packed = vec![0x0f, 0x80];
    let record = record_2005(1, 4, (500, false), &[(1, 2, 2, packed)]);
    let image = finger_record::parse(&record).unwrap().views[0]
        .decode()
        .unwrap();
    assert_eq!(image.pixels, vec![0, 255, 136, 0]);
    // 16 bits per pixel, uncompressed: the top 8 bits are kept.
    let deep = vec![0xff, 0xff, 0x12, 0x34, 0x00, 0x80, 0x80, 0x00];
    let record = record_2005(0, 16, (500, false), &[(1, 2, 2, deep)]);
    let image = finger_record::parse(&record).unwrap().views[0]
        .decode()
        .unwrap();
    assert_eq!(image.pixels, vec![0xff, 0x12, 0x00, 0x80]);
}

#[test]
fn bad_records_get_typed_errors_naming_the_fault() {
    let pixels = pattern(W, H);
    let good = record_2011(&[Rep::new(6, W, H, encode(".png", W, H, &pixels))]);
    // Every truncation is an error (or, past the image, a record that still decodes).
    for len in 0..good.len() {
        if let Ok(record) = finger_record::parse(&good[..len]) {
            assert!(
                record.views[0].decode().is_err() || len > good.len() - 12,
                "{len}"
            );
        }
    }
    let mut bad_compression = good.clone();
    bad_compression[59] = 9; // the compression byte of the first representation

    assert_eq!(
        finger_record::parse(&bad_compression).unwrap_err(),
        ImageError::UnsupportedCompression(9)
    );
    let err = finger_record::parse(b"FIR\x00030\x00\0\0\0\0").unwrap_err();
    assert!(
        matches!(err, ImageError::NotARecord(ref m) if m.contains("030")),
        "{err}"
    );
    assert!(matches!(
        finger_record::parse(b"FMR\x00020\x00"),
        Err(ImageError::NotARecord(_))
    ));

    // A JPEG 2000 code with PNG bytes decodes (the bytes say what they are); bytes that are no
    // image at all are named.
    let garbage = record_2011(&[Rep::new(5, W, H, vec![0x42; 500])]);
    let err = finger_record::parse(&garbage).unwrap().views[0]
        .decode()
        .unwrap_err();
    assert!(
        matches!(err, ImageError::Decode { format: ImageFormat::Jpeg2000, ref reason } if reason.contains("42424242")),
        "{err}"
    );
    // A declared size other than the image's.
    let mut lying = Rep::new(6, W, H, encode(".png", W, H, &pixels));
    lying.width = 100;
    let err = finger_record::parse(&record_2011(&[lying])).unwrap().views[0]
        .decode()
        .unwrap_err();
    assert_eq!(
        err,
        ImageError::SizeMismatch {
            declared: (100, H),
            decoded: (W, H)
        }
    );
    // A hostile size is refused before anything is allocated.
    let mut huge = Rep::new(0, 60_000, 60_000, vec![0; 16]);
    huge.width = 60_000;
    let err = finger_record::parse(&record_2011(&[huge])).unwrap().views[0]
        .decode()
        .unwrap_err();
    assert!(matches!(err, ImageError::BadSize { .. }), "{err}");
}

#[test]
fn mutated_records_never_panic() {
    let pixels = pattern(64, 80);
    let seeds = [
        record_2011(&[Rep::new(5, 64, 80, encode(".jp2", 64, 80, &pixels))]),
        record_2011(&[Rep::new(6, 64, 80, encode(".png", 64, 80, &pixels))]),
        record_2005(
            3,
            8,
            (500, false),
            &[(1, 64, 80, encode(".jpg", 64, 80, &pixels))],
        ),
        record_2005(0, 8, (500, false), &[(1, 64, 80, pixels.clone())]),
    ];
    // A fixed xorshift sequence: the same mutations every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut decoded = 0;
    for i in 0..3_000 {
        let mut bytes = seeds[i % seeds.len()].clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = next() as u8;
        }
        if next() % 8 == 0 {
            bytes.truncate((next() % bytes.len() as u64) as usize);
        }
        if let Ok(record) = finger_record::parse(&bytes) {
            for view in &record.views {
                decoded += usize::from(view.decode().is_ok());
            }
        }
    }
    assert!(decoded > 0, "some mutations leave a decodable image");
}

#[test]
fn plain_files_state_their_resolution_and_are_resampled_to_500_ppi() {
    let pixels = pattern(W, H);
    // JFIF density in dots per inch, as scanners write it.
    let mut jpeg = encode(".jpg", W, H, &pixels);
    assert_eq!(&jpeg[6..11], b"JFIF\0");
    jpeg[13] = 1;
    jpeg[14..18].copy_from_slice(&[0x02, 0x39, 0x02, 0x39]); // 569 x 569
    let image = decode(&jpeg).unwrap();
    assert_eq!(image.resolution, Some(Resolution::square(569.0)));
    let at_500 = resample_to(&image, 500.0).unwrap();
    assert_eq!((at_500.width, at_500.height), (158, 193));
    // A file that states nothing must be given a resolution.
    let png = decode(&encode(".png", W, H, &pixels)).unwrap();
    assert_eq!(png.resolution, None);
    assert_eq!(
        resample_to(&png, 500.0).unwrap_err(),
        ImageError::NoResolution
    );
    // TIFF and JPEG 2000 through the same door.
    assert!(decode(&encode(".tif", W, H, &pixels)).unwrap().pixels == pixels);
    assert!(decode(&encode(".jp2", W, H, &pixels)).unwrap().pixels == pixels);
}

#[test]
fn fvc_tiffs_decode() {
    let Some(root) = shared_data("fvc2002") else {
        return;
    };
    for (db, size) in [
        ("DB1_B", (388, 374)),
        ("DB2_B", (296, 560)),
        ("DB3_B", (300, 300)),
    ] {
        let bytes = std::fs::read(root.join(db).join("101_1.tif")).unwrap();
        let image = decode(&bytes).unwrap();
        assert_eq!((image.width, image.height), size, "{db}");
        let mean =
            image.pixels.iter().map(|&p| u64::from(p)).sum::<u64>() / image.pixels.len() as u64;
        assert!((60..250).contains(&mean), "{db}: mean grey {mean}");
    }
}

#[test]
fn a_wsq_view_decodes_as_the_reference_decoder_does() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wsq/tests/fixtures");
    let wsq = std::fs::read(fixtures.join("db1_b_101_1_br075.wsq")).unwrap();
    let pgm = std::fs::read(fixtures.join("db1_b_101_1_br075.pgm")).unwrap();
    // A binary PGM: "P5\n<width> <height>\n255\n" then the pixels.
    let expected = &pgm[pgm.len() - 257 * 243..];
    let record = record_2005(2, 8, (500, false), &[(2, 257, 243, wsq)]);
    let view = &finger_record::parse(&record).unwrap().views[0];
    assert_eq!(view.compression, Compression::Wsq);
    let image = view.decode().unwrap();
    let off_by_more = image
        .pixels
        .iter()
        .zip(expected)
        .filter(|(a, b)| a.abs_diff(**b) > 1)
        .count();
    assert_eq!(off_by_more, 0);
}

#[test]
fn an_overlay_is_a_png_of_the_image_with_its_marks() {
    let pixels = vec![200u8; (W * H) as usize];
    let image = abis_imaging::GreyImage::new(W, H, pixels, None).unwrap();
    let marks = [abis_imaging::Mark {
        x: 50.0,
        y: 60.0,
        direction: Some(0.0),
        colour: [255, 0, 0],
    }];
    let png = abis_imaging::overlay_png(&image, &marks).unwrap();
    let back = decode(&png).unwrap();
    assert_eq!((back.width, back.height), (W, H));
    // The mark is drawn (grey differs there), the rest of the image is untouched.
    assert_ne!(back.at(54, 60), 200);
    assert_eq!(back.at(150, 200), 200);
}
