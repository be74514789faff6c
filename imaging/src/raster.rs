//! The decoded raster and bringing it to another resolution.

use crate::{check_size, ImageError, Result};

/// A capture's resolution in pixels per inch, horizontally and vertically (they differ on some
/// scanners and in mislabelled records).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolution {
    /// Pixels per inch along a row.
    pub horizontal: f32,
    /// Pixels per inch down a column.
    pub vertical: f32,
}

impl Resolution {
    /// The same resolution both ways.
    pub fn square(ppi: f32) -> Self {
        Self {
            horizontal: ppi,
            vertical: ppi,
        }
    }

    /// Whether both ways are a plausible capture resolution (50 to 5,000 ppi).
    pub fn is_plausible(self) -> bool {
        let ok = |v: f32| (50.0..=5_000.0).contains(&v);
        ok(self.horizontal) && ok(self.vertical)
    }
}

/// An 8-bit grey image, row-major, with the resolution it was captured at when known.
#[derive(Clone, PartialEq)]
pub struct GreyImage {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width * height` grey levels, 0 black .. 255 white, row after row.
    pub pixels: Vec<u8>,
    /// The capture resolution, when stated.
    pub resolution: Option<Resolution>,
}

impl std::fmt::Debug for GreyImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GreyImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("resolution", &self.resolution)
            .finish_non_exhaustive()
    }
}

impl GreyImage {
    /// An image from its pixels; the count must be `width * height` within the size limits.
    pub fn new(
        width: u32,
        height: u32,
        pixels: Vec<u8>,
        resolution: Option<Resolution>,
    ) -> Result<Self> {
        check_size(width.into(), height.into())?;
        if pixels.len() as u64 != u64::from(width) * u64::from(height) {
            return Err(ImageError::Invalid {
                field: "pixel count",
                value: format!("{} for {width} x {height}", pixels.len()),
            });
        }
        Ok(Self {
            width,
            height,
            pixels,
            resolution,
        })
    }

    /// The grey level at column `x`, row `y`.
    pub fn at(&self, x: u32, y: u32) -> u8 {
        self.pixels[y as usize * self.width as usize + x as usize]
    }
}

/// `image` brought to `ppi` both ways (area averaging when shrinking, bilinear when growing);
/// unchanged when it is there already (within 1%). An image without a resolution is an error:
/// the caller must state one.
pub fn resample_to(image: &GreyImage, ppi: f32) -> Result<GreyImage> {
    let from = image.resolution.ok_or(ImageError::NoResolution)?;
    if !from.is_plausible() {
        return Err(ImageError::Invalid {
            field: "resolution",
            value: format!("{} x {} ppi", from.horizontal, from.vertical),
        });
    }
    let near = |r: f32| ((r - ppi) / ppi).abs() < 0.01;
    if near(from.horizontal) && near(from.vertical) {
        return Ok(GreyImage {
            resolution: Some(Resolution::square(ppi)),
            ..image.clone()
        });
    }
    let (fx, fy) = (ppi / from.horizontal, ppi / from.vertical);
    let width = ((image.width as f32 * fx).round() as u32).max(1);
    let height = ((image.height as f32 * fy).round() as u32).max(1);
    check_size(width.into(), height.into())?;
    let pixels = crate::opencv_codec::resize(image, width, height)?;
    GreyImage::new(width, height, pixels, Some(Resolution::square(ppi)))
}

/// An 8-bit colour image, row-major, three bytes per pixel in red, green, blue order, with the
/// resolution it was captured at when known.
#[derive(Clone, PartialEq)]
pub struct RgbImage {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `3 * width * height` bytes: red, green, blue of each pixel, row after row.
    pub pixels: Vec<u8>,
    /// The capture resolution, when stated.
    pub resolution: Option<Resolution>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("resolution", &self.resolution)
            .finish_non_exhaustive()
    }
}

impl RgbImage {
    /// An image from its interleaved RGB bytes; the count must be `3 * width * height` within
    /// the size limits.
    pub fn new(
        width: u32,
        height: u32,
        pixels: Vec<u8>,
        resolution: Option<Resolution>,
    ) -> Result<Self> {
        check_size(width.into(), height.into())?;
        if pixels.len() as u64 != 3 * u64::from(width) * u64::from(height) {
            return Err(ImageError::Invalid {
                field: "pixel count",
                value: format!("{} bytes for {width} x {height} RGB", pixels.len()),
            });
        }
        Ok(Self {
            width,
            height,
            pixels,
            resolution,
        })
    }

    /// A grey image as colour (three equal channels).
    pub fn from_grey(image: &GreyImage) -> Self {
        Self {
            width: image.width,
            height: image.height,
            pixels: image.pixels.iter().flat_map(|&v| [v, v, v]).collect(),
            resolution: image.resolution,
        }
    }

    /// Red, green and blue at column `x`, row `y`.
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = 3 * (y as usize * self.width as usize + x as usize);
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}
