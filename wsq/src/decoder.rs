//! Walking the markers of a WSQ file and turning its blocks into pixels.

use crate::entropy::decode_block;
use crate::error::{Result, WsqError};
use crate::huffman::{self, HuffmanTable, MAX_TABLES};
use crate::markers::{self, read_marker, segment};
use crate::reader::Reader;
use crate::subbands::{Layout, CODED_SUBBANDS};
use crate::tables::{self, FrameHeader, QuantTable, TransformTable};
use crate::wavelet::{join, Synthesis};
use crate::{DecodeOptions, WsqImage};

/// Everything gathered from the file before reconstruction.
#[derive(Default)]
struct Parsed {
    frame: Option<FrameHeader>,
    transform: Option<TransformTable>,
    quantization: Option<QuantTable>,
    huffman: [Option<HuffmanTable>; MAX_TABLES],
    comments: Vec<Vec<u8>>,
    coefficients: Vec<i32>,
    blocks: usize,
}

pub(crate) fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<WsqImage> {
    let parsed = parse(bytes, options)?;
    let frame = parsed
        .frame
        .ok_or(WsqError::Missing("frame header (SOF)"))?;
    if parsed.blocks == 0 {
        return Err(WsqError::Missing("block (SOB)"));
    }
    let transform = parsed
        .transform
        .ok_or(WsqError::Missing("transform table (DTT)"))?;
    let quantization = parsed
        .quantization
        .ok_or(WsqError::Missing("quantization table (DQT)"))?;
    let (width, height) = (usize::from(frame.width), usize::from(frame.height));
    let layout = Layout::new(width, height);
    let mut image = dequantize(&layout, &quantization, &parsed.coefficients, width)?;
    let synthesis = Synthesis::new(&transform);
    let mut scratch = Vec::new();
    for split in layout.splits.iter().rev() {
        join(&mut image, width, split, &synthesis, &mut scratch);
    }
    let pixels = to_grey(&image, &frame);
    let ppi = parsed.comments.iter().find_map(|c| tables::nistcom_ppi(c));
    Ok(WsqImage {
        width: u32::from(frame.width),
        height: u32::from(frame.height),
        ppi,
        pixels,
        comments: parsed.comments,
        frame,
    })
}

/// Reads every segment from SOI to EOI, decoding blocks as they come.
fn parse(bytes: &[u8], options: &DecodeOptions) -> Result<Parsed> {
    let mut r = Reader::new(bytes);
    if bytes.len() < 2 || r.u16("SOI")? != markers::SOI {
        return Err(WsqError::NotWsq);
    }
    let mut p = Parsed::default();
    let mut capacity = 0;
    loop {
        let (offset, marker) = read_marker(&mut r, "a table, SOF, SOB or EOI")?;
        match marker {
            markers::EOI => return Ok(p),
            markers::SOF => {
                if p.frame.is_some() {
                    return Err(unexpected(offset, marker, "one frame header only"));
                }
                let frame = tables::parse_frame(segment(&mut r, offset, "SOF")?, offset)?;
                capacity = checked_area(&frame, options)?;
                p.frame = Some(frame);
            }
            markers::SOB => {
                if p.frame.is_none() {
                    return Err(unexpected(
                        offset,
                        marker,
                        "the frame header before a block",
                    ));
                }
                let id = tables::parse_block_header(segment(&mut r, offset, "SOB")?, offset)?;
                let table = p
                    .huffman
                    .get(usize::from(id))
                    .and_then(Option::as_ref)
                    .ok_or(WsqError::BadHuffmanTable {
                        offset,
                        table: id,
                        reason: "the block names a table that was not defined",
                    })?;
                let end = decode_block(bytes, r.pos(), table, &mut p.coefficients, capacity)?;
                r.seek(end);
                p.blocks += 1;
            }
            markers::DTT => {
                p.transform = Some(tables::parse_transform(
                    segment(&mut r, offset, "DTT")?,
                    offset,
                )?);
            }
            markers::DQT => {
                p.quantization = Some(tables::parse_quantization(
                    segment(&mut r, offset, "DQT")?,
                    offset,
                )?);
            }
            markers::DHT => {
                huffman::parse_tables(segment(&mut r, offset, "DHT")?, offset, &mut p.huffman)?;
            }
            markers::DRT => {
                tables::parse_restart_interval(segment(&mut r, offset, "DRT")?, offset)?;
            }
            markers::COM => {
                let body = segment(&mut r, offset, "COM")?;
                p.comments.push(body.data()[body.pos()..].to_vec());
            }
            _ => return Err(unexpected(offset, marker, "a table, SOF, SOB or EOI")),
        }
    }
}

fn unexpected(offset: usize, marker: u16, expected: &'static str) -> WsqError {
    WsqError::UnexpectedMarker {
        offset,
        marker,
        expected,
    }
}

/// The number of pixels, refused above the limit before anything that size is allocated.
fn checked_area(frame: &FrameHeader, options: &DecodeOptions) -> Result<usize> {
    let area = u64::from(frame.width) * u64::from(frame.height);
    if area > options.max_pixels {
        return Err(WsqError::TooLarge {
            width: u32::from(frame.width),
            height: u32::from(frame.height),
            max_pixels: options.max_pixels,
        });
    }
    // At most 65535^2, which fits a usize on every platform with 64-bit pointers; the limit
    // keeps it far lower in practice.
    usize::try_from(area).map_err(|_| WsqError::TooLarge {
        width: u32::from(frame.width),
        height: u32::from(frame.height),
        max_pixels: options.max_pixels,
    })
}

/// Places the dequantized coefficients of the coded subbands (those with a non-zero step)
/// in an image-sized buffer, in transmission order, row by row within each subband.
///
/// Dequantization (specification, Part 1): `p > 0` gives `Q (p - C) + Z/2`, `p < 0` gives
/// `Q (p + C) - Z/2`, and `p = 0` gives 0.
fn dequantize(
    layout: &Layout,
    table: &QuantTable,
    coefficients: &[i32],
    width: usize,
) -> Result<Vec<f32>> {
    let coded = || (0..CODED_SUBBANDS).filter(|&s| table.step[s] != 0.0);
    let expected: usize = coded().map(|s| layout.subbands[s].area()).sum();
    if expected != coefficients.len() {
        return Err(WsqError::CoefficientCount {
            expected,
            found: coefficients.len(),
        });
    }
    let height = layout.splits[0].rect.height;
    let mut image = vec![0.0f32; width * height];
    let mut next = coefficients.iter();
    let c = table.bin_center;
    for s in coded() {
        let (q, half_z) = (table.step[s], table.zero_bin[s] / 2.0);
        let r = layout.subbands[s];
        for y in r.y..r.y + r.height {
            let row = &mut image[y * width + r.x..y * width + r.x + r.width];
            for (out, &p) in row.iter_mut().zip(next.by_ref()) {
                let p = f64::from(p);
                *out = if p > 0.0 {
                    q * (p - c) + half_z
                } else if p < 0.0 {
                    q * (p + c) - half_z
                } else {
                    0.0
                } as f32;
            }
        }
    }
    Ok(image)
}

/// `value * R + M`, rounded half up and clamped to 0..=255.
fn to_grey(image: &[f32], frame: &FrameHeader) -> Vec<u8> {
    let (scale, shift) = (frame.scale as f32, frame.shift as f32);
    image
        .iter()
        .map(|&v| {
            let grey = v * scale + shift + 0.5;
            // `as` saturates (and maps NaN to 0), which is the clamp wanted here.
            grey.clamp(0.0, 255.0) as u8
        })
        .collect()
}
