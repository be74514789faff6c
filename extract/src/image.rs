//! The input image: 8-bit grey levels at 500 ppi, its padding for the network, and resampling
//! from other resolutions.

use crate::error::{ExtractError, Result};

/// The resolution LEADER was trained at.
pub const LEADER_PPI: f64 = 500.0;

/// The network's sides must be multiples of this (five halvings in the encoders).
pub const SIDE_MULTIPLE: usize = 32;

/// Largest side accepted, in pixels (the ISO 19794-2 14-bit coordinate limit): bigger is not a
/// finger image, and it bounds the memory one call may ask for.
pub const MAX_SIDE: usize = (1 << 14) - 1;

/// A borrowed greyscale image: row-major, one byte per pixel, 0 black .. 255 white, at 500 ppi.
#[derive(Debug, Clone, Copy)]
pub struct GreyImage<'a> {
    width: usize,
    height: usize,
    pixels: &'a [u8],
}

impl<'a> GreyImage<'a> {
    /// Checks that `pixels` holds `width * height` bytes and that both sides are in
    /// `1..=MAX_SIDE`.
    pub fn new(width: usize, height: usize, pixels: &'a [u8]) -> Result<Self> {
        check_sides(width, height)?;
        if pixels.len() != width * height {
            return Err(ExtractError::InvalidInput(format!(
                "a {width}x{height} image needs {} pixels, got {}",
                width * height,
                pixels.len()
            )));
        }
        Ok(GreyImage {
            width,
            height,
            pixels,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixels, row by row.
    pub fn pixels(&self) -> &'a [u8] {
        self.pixels
    }
}

fn check_sides(width: usize, height: usize) -> Result<()> {
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(ExtractError::InvalidInput(format!(
            "image sides must be 1..={MAX_SIDE} pixels, got {width}x{height}"
        )));
    }
    Ok(())
}

/// Where an image sits inside the padded network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Padding {
    /// Padded width and height (multiples of [`SIDE_MULTIPLE`]).
    pub(crate) width: usize,
    pub(crate) height: usize,
    /// Columns left of and rows above the image.
    pub(crate) left: usize,
    pub(crate) top: usize,
}

impl Padding {
    /// Centred in the smallest multiple-of-32 canvas, as LEADER's authors pad (pyfing).
    pub(crate) fn centred(width: usize, height: usize) -> Self {
        let round_up = |n: usize| n.div_ceil(SIDE_MULTIPLE) * SIDE_MULTIPLE;
        let (padded_w, padded_h) = (round_up(width), round_up(height));
        Padding {
            width: padded_w,
            height: padded_h,
            left: (padded_w - width) / 2,
            top: (padded_h - height) / 2,
        }
    }
}

/// The network input: `image` as f32 grey levels (0..255, no normalisation: the network
/// normalises itself) centred on a canvas of `padding`'s size filled with the image's top-left
/// grey level.
///
/// Why that fill: it is what LEADER's authors do, so it is the input the network was evaluated
/// on; the corner is nearly always background, so the padding continues the background. On the
/// FVC2002 images white (255) and edge replication gave the same minutiae within a few per
/// hundred (measured with onnxruntime on ten fingers of DB1 and DB3: 430/431/428 and
/// 221/222/225 minutiae, the same ones near the commercial templates' minutiae).
pub(crate) fn padded_input(image: &GreyImage<'_>, padding: Padding) -> Vec<f32> {
    let fill = f32::from(image.pixels[0]);
    let mut out = vec![fill; padding.width * padding.height];
    for (y, row) in image.pixels.chunks_exact(image.width).enumerate() {
        let start = (y + padding.top) * padding.width + padding.left;
        for (dst, &src) in out[start..start + image.width].iter_mut().zip(row) {
            *dst = f32::from(src);
        }
    }
    out
}

/// Resamples an image of `ppi` pixels per inch to 500 ppi, bilinearly; returns the new width,
/// height and pixels. An image already at 500 ppi is copied as is.
///
/// Bilinear, with pixel centres aligned (`src = (dst + 0.5) * ppi / 500 - 0.5`, clamped to the
/// image) and the result rounded to the nearest grey level. It is meant for sensors near 500
/// ppi (FVC2002 DB2: 569 ppi), where the scale is mild; for factors far below 1/2 an area
/// filter would alias less. The size is `round(side * 500 / ppi)`.
///
/// Minutiae extracted from the result are on the 500 ppi grid, and so is the template built
/// from them ([`crate::to_record`] declares 197 px/cm and the resampled size): they are not
/// mapped back to the original grid, because our matcher compares templates at 500 ppi.
///
/// `scripts/leader-reference.py` repeats this formula in numpy, operation for operation, so the
/// parity test feeds both runtimes the same pixels.
pub fn resample_to_500ppi(
    pixels: &[u8],
    width: usize,
    height: usize,
    ppi: f64,
) -> Result<(usize, usize, Vec<u8>)> {
    GreyImage::new(width, height, pixels)?;
    if !(ppi.is_finite() && (50.0..=5000.0).contains(&ppi)) {
        return Err(ExtractError::InvalidInput(format!(
            "resolution {ppi} ppi is outside 50..=5000"
        )));
    }
    if ppi == LEADER_PPI {
        return Ok((width, height, pixels.to_vec()));
    }
    let scale = ppi / LEADER_PPI; // source pixels per output pixel
    let out_w = ((width as f64 / scale + 0.5).floor() as usize).max(1);
    let out_h = ((height as f64 / scale + 0.5).floor() as usize).max(1);
    check_sides(out_w, out_h)?;

    // For each output index: the two source indices and the weight of the second.
    let axis = |n_out: usize, n_in: usize| -> Vec<(usize, usize, f64)> {
        (0..n_out)
            .map(|i| {
                let pos = ((i as f64 + 0.5) * scale - 0.5).clamp(0.0, (n_in - 1) as f64);
                let i0 = pos.floor() as usize;
                (i0, (i0 + 1).min(n_in - 1), pos - i0 as f64)
            })
            .collect()
    };
    let xs = axis(out_w, width);
    let ys = axis(out_h, height);
    let px = |x: usize, y: usize| f64::from(pixels[y * width + x]);
    let mut out = Vec::with_capacity(out_w * out_h);
    for &(y0, y1, fy) in &ys {
        for &(x0, x1, fx) in &xs {
            let top = px(x0, y0) + (px(x1, y0) - px(x0, y0)) * fx;
            let bottom = px(x0, y1) + (px(x1, y1) - px(x0, y1)) * fx;
            let value = top + (bottom - top) * fy;
            out.push((value + 0.5).floor().clamp(0.0, 255.0) as u8);
        }
    }
    Ok((out_w, out_h, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sizes_are_checked() {
        assert!(GreyImage::new(2, 2, &[0; 4]).is_ok());
        assert!(GreyImage::new(2, 2, &[0; 5]).unwrap_err().is_user_fault());
        assert!(GreyImage::new(0, 0, &[]).is_err());
        assert!(GreyImage::new(MAX_SIDE + 1, 1, &vec![0; MAX_SIDE + 1]).is_err());
    }

    #[test]
    fn padding_centres_on_multiples_of_32() {
        // FVC2002 DB1 (388x374) and DB3 (300x300).
        let p = Padding::centred(388, 374);
        assert_eq!((p.width, p.height, p.left, p.top), (416, 384, 14, 5));
        let p = Padding::centred(300, 300);
        assert_eq!((p.width, p.height, p.left, p.top), (320, 320, 10, 10));
        let p = Padding::centred(64, 32);
        assert_eq!((p.width, p.height, p.left, p.top), (64, 32, 0, 0));
    }

    #[test]
    fn padded_input_places_the_image_and_fills_with_its_corner() {
        let pixels = [7, 1, 2, 3, 4, 5];
        let image = GreyImage::new(3, 2, &pixels).unwrap();
        let padding = Padding::centred(3, 2);
        let input = padded_input(&image, padding);
        assert_eq!(input.len(), 32 * 32);
        let at = |x: usize, y: usize| input[y * 32 + x];
        assert_eq!((padding.left, padding.top), (14, 15));
        assert_eq!([at(14, 15), at(15, 15), at(16, 15)], [7.0, 1.0, 2.0]);
        assert_eq!([at(14, 16), at(15, 16), at(16, 16)], [3.0, 4.0, 5.0]);
        assert_eq!(at(0, 0), 7.0);
        assert_eq!(at(31, 31), 7.0);
        assert_eq!(input.iter().filter(|&&v| v == 7.0).count(), 32 * 32 - 5);
    }

    #[test]
    fn resampling_sizes_and_values() {
        // FVC2002 DB2: 296x560 at 569 ppi -> 260x492 at 500 ppi.
        let pixels = vec![200; 296 * 560];
        let (w, h, out) = resample_to_500ppi(&pixels, 296, 560, 569.0).unwrap();
        assert_eq!((w, h), (260, 492));
        assert!(out.iter().all(|&v| v == 200), "a flat image stays flat");
        // 500 ppi: unchanged.
        let (w, h, out) = resample_to_500ppi(&[1, 2, 3, 4], 2, 2, 500.0).unwrap();
        assert_eq!((w, h, out), (2, 2, vec![1, 2, 3, 4]));
        // Upsampling a 2-pixel ramp by 2 (250 ppi): centres aligned, ends clamped.
        let (w, h, out) = resample_to_500ppi(&[0, 100], 2, 1, 250.0).unwrap();
        assert_eq!((w, h), (4, 2));
        assert_eq!(&out[..4], &[0, 25, 75, 100]);
        assert_eq!(&out[4..], &[0, 25, 75, 100]);
        assert!(resample_to_500ppi(&[0; 4], 2, 2, 0.0).is_err());
        assert!(resample_to_500ppi(&[0; 4], 2, 2, f64::NAN).is_err());
    }
}
