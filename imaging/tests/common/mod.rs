//! What the imaging tests share: a test image, encoders (OpenCV's, so the decoder is checked
//! against another code path than its own), ISO 19794-4 record builders and the shared data.

#![allow(dead_code)]

use opencv::core::{Mat, Vector};
use opencv::imgcodecs;
use opencv::prelude::*;

/// A ridge-like test pattern: concentric rings with a gradient, every grey level used.
pub fn pattern(width: u32, height: u32) -> Vec<u8> {
    let (cx, cy) = (width as f32 / 2.3, height as f32 / 1.8);
    (0..height)
        .flat_map(|y| {
            (0..width).map(move |x| {
                let r = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                let ridge = (r / 4.5).sin() * 90.0;
                (128.0 + ridge + (x as f32 - cx) * 0.1).clamp(0.0, 255.0) as u8
            })
        })
        .collect()
}

/// `pixels` encoded by OpenCV as `extension` (".png", ".jp2", ".jpg", ".tif").
pub fn encode(extension: &str, width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let mat = Mat::new_rows_cols_with_data(height as i32, width as i32, pixels).unwrap();
    let mut out = Vector::<u8>::new();
    assert!(imgcodecs::imencode(extension, &mat, &mut out, &Vector::new()).unwrap());
    out.to_vec()
}

/// One representation of an ISO/IEC 19794-4:2011 record.
pub struct Rep {
    pub position: u8,
    pub compression: u8,
    pub width: u16,
    pub height: u16,
    pub ppi: u16,
    pub bit_depth: u8,
    pub quality: u8,
    pub data: Vec<u8>,
    /// Bytes after the image data inside the representation (extended data).
    pub extended: Vec<u8>,
    /// Overrides the image data length field.
    pub data_length: Option<u32>,
    /// Overrides the representation length field.
    pub rep_length: Option<u32>,
}

impl Rep {
    pub fn new(compression: u8, width: u32, height: u32, data: Vec<u8>) -> Self {
        Self {
            position: 2,
            compression,
            width: width as u16,
            height: height as u16,
            ppi: 500,
            bit_depth: 8,
            quality: 77,
            data,
            extended: Vec::new(),
            data_length: None,
            rep_length: None,
        }
    }
}

/// A 2011 record (certification flag set, two certification blocks per representation, as in
/// MOSIP's test vector).
pub fn record_2011(reps: &[Rep]) -> Vec<u8> {
    let mut body = Vec::new();
    for rep in reps {
        let mut r = Vec::new();
        r.extend_from_slice(&[0x07, 0xe4, 10, 9, 16, 43, 26, 0x02, 0x25]); // capture time
        r.extend_from_slice(&[0, 0, 0, 0, 0]); // device technology, vendor, type
        r.extend_from_slice(&[1, rep.quality, 0x00, 0x40, 0x00, 0x0f]); // one quality block
        r.extend_from_slice(&[2, 0x00, 0x40, 0x02, 0x00, 0x40, 0x02]); // two certifications
        r.extend_from_slice(&[rep.position, 1, 1]); // position, representation number, ppi
        for _ in 0..4 {
            r.extend_from_slice(&rep.ppi.to_be_bytes()); // scan and image resolution
        }
        r.extend_from_slice(&[rep.bit_depth, rep.compression, 29]);
        r.extend_from_slice(&rep.width.to_be_bytes());
        r.extend_from_slice(&rep.height.to_be_bytes());
        let data_length = rep.data_length.unwrap_or(rep.data.len() as u32);
        r.extend_from_slice(&data_length.to_be_bytes());
        r.extend_from_slice(&rep.data);
        r.extend_from_slice(&rep.extended);
        let rep_length = rep.rep_length.unwrap_or(r.len() as u32 + 4);
        body.extend_from_slice(&rep_length.to_be_bytes());
        body.extend_from_slice(&r);
    }
    let mut out = b"FIR\x00020\x00".to_vec();
    out.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    out.extend_from_slice(&(reps.len() as u16).to_be_bytes());
    out.extend_from_slice(&[1, reps.len() as u8]);
    out.extend_from_slice(&body);
    out
}

/// A 2005 record; every view shares the general header's compression, depth and resolution
/// (`per_cm`: the resolution is in pixels per centimetre, else per inch).
pub fn record_2005(
    compression: u8,
    bit_depth: u8,
    (resolution, per_cm): (u16, bool),
    views: &[(u8, u16, u16, Vec<u8>)],
) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (position, width, height, data)) in views.iter().enumerate() {
        body.extend_from_slice(&(14 + data.len() as u32).to_be_bytes());
        body.extend_from_slice(&[*position, views.len() as u8, i as u8, 60, 0]);
        body.extend_from_slice(&width.to_be_bytes());
        body.extend_from_slice(&height.to_be_bytes());
        body.push(0);
        body.extend_from_slice(data);
    }
    let mut out = b"FIR\x00010\x00".to_vec();
    out.extend_from_slice(&(32 + body.len() as u64).to_be_bytes()[2..]);
    out.extend_from_slice(&[0, 0, 0, 31, views.len() as u8, 1 + u8::from(per_cm)]);
    for _ in 0..4 {
        out.extend_from_slice(&resolution.to_be_bytes());
    }
    out.extend_from_slice(&[bit_depth, compression, 0, 0]);
    out.extend_from_slice(&body);
    out
}

pub use abis_test_data::shared_data;
