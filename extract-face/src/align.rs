//! dlib's face chips: `get_face_chip_details(shape, size, padding)` and `extract_image_chip`,
//! the aligned crop dlib's face descriptor network was trained on (150 x 150, padding 0.25).
//!
//! Geometry, as dlib computes it:
//! - The chip's points are dlib's 5-point mean face (in a unit square), padded:
//!   `(padding + p) / (2 padding + 1) * size`. The least-squares similarity transform from them
//!   to the landmarks gives an angle (of the transform's first column) and a scale.
//! - The chip's rectangle in the image is centred where the chip's centre maps, with sides of
//!   `size * scale - 1` between its corners (dlib's `centered_drect`).
//! - When that rectangle is more than twice the chip, the image is first reduced by dlib's
//!   `pyramid_down<2>` (a `[1 4 6 4 1]` separable filter, every second pixel, integer
//!   arithmetic) as many times as needed, on a crop around the rotated rectangle, so bilinear
//!   sampling never skips pixels.
//! - The chip's corners map to the rectangle's corners rotated by the angle; each chip pixel is
//!   sampled bilinearly, channel values truncated to 8 bits, and black outside the image.

use crate::landmarks::Point;
use crate::{FaceError, Result};
use abis_imaging::RgbImage;

/// dlib's 5-point mean face, in a unit square: outer and inner corner of the subject's left
/// eye (on the image's right), of the right eye, and the base of the nose.
const MEAN_FACE_5: [[f64; 2]; 5] = [
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
];

/// The side of the chips dlib's face descriptor takes.
pub const CHIP_SIZE: u32 = 150;
/// The padding around the mean face the descriptor was trained with.
pub const CHIP_PADDING: f64 = 0.25;

/// Where a chip is cut from an image (dlib's `chip_details`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChipDetails {
    /// The rectangle before rotation: left, top, right, bottom (corners included).
    pub rect: [f64; 4],
    /// Rotation about the rectangle's centre, radians.
    pub angle: f64,
    /// Side of the (square) chip in pixels.
    pub size: u32,
}

/// dlib's `get_face_chip_details` for five landmarks in the 5-point model's order. The
/// landmarks are used as given (dlib rounds them to whole pixels first: pass
/// [`Point::rounded`] points to match it).
pub fn face_chip_details(landmarks: &[Point], size: u32, padding: f64) -> Result<ChipDetails> {
    if landmarks.len() != 5 || size == 0 || padding.is_nan() || padding < 0.0 {
        return Err(FaceError::InvalidInput(format!(
            "a face chip needs 5 landmarks, a size and a padding >= 0 (got {}, {size}, {padding})",
            landmarks.len()
        )));
    }
    let side = f64::from(size);
    let chip: Vec<[f64; 2]> = MEAN_FACE_5
        .iter()
        .map(|p| {
            let k = 1.0 / (2.0 * padding + 1.0);
            [(padding + p[0]) * k * side, (padding + p[1]) * k * side]
        })
        .collect();
    let image: Vec<[f64; 2]> = landmarks
        .iter()
        .map(|p| [f64::from(p.x), f64::from(p.y)])
        .collect();
    let (m, t) = similarity(&chip, &image);
    let angle = m[2].atan2(m[0]);
    let scale = (m[0] * m[0] + m[2] * m[2]).sqrt();
    let half = side / 2.0;
    let (cx, cy) = (
        m[0] * half + m[1] * half + t[0],
        m[2] * half + m[3] * half + t[1],
    );
    let w = side * scale - 1.0;
    Ok(ChipDetails {
        rect: [cx - w / 2.0, cy - w / 2.0, cx + w / 2.0, cy + w / 2.0],
        angle,
        size,
    })
}

/// Least-squares similarity transform (`[[p, -q], [q, p]]`, translation) from `from` to `to`.
fn similarity(from: &[[f64; 2]], to: &[[f64; 2]]) -> ([f64; 4], [f64; 2]) {
    let n = from.len() as f64;
    let mean = |s: &[[f64; 2]]| {
        let (x, y) = s.iter().fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
        [x / n, y / n]
    };
    let (mf, mt) = (mean(from), mean(to));
    let (mut norm, mut dot, mut cross) = (0.0, 0.0, 0.0);
    for (a, b) in from.iter().zip(to) {
        let (ax, ay, bx, by) = (a[0] - mf[0], a[1] - mf[1], b[0] - mt[0], b[1] - mt[1]);
        norm += ax * ax + ay * ay;
        dot += ax * bx + ay * by;
        cross += ax * by - ay * bx;
    }
    let (p, q) = if norm == 0.0 {
        (1.0, 0.0)
    } else {
        (dot / norm, cross / norm)
    };
    let m = [p, -q, q, p];
    let t = [
        mt[0] - (p * mf[0] - q * mf[1]),
        mt[1] - (q * mf[0] + p * mf[1]),
    ];
    (m, t)
}

fn area(r: [f64; 4]) -> f64 {
    if r[0] > r[2] || r[1] > r[3] {
        0.0
    } else {
        (r[2] - r[0] + 1.0) * (r[3] - r[1] + 1.0)
    }
}

/// dlib's `pyramid_down<2>::rect_down`.
fn rect_down(r: [f64; 4]) -> [f64; 4] {
    [
        r[0] / 2.0 - 1.25,
        r[1] / 2.0 - 0.75,
        r[2] / 2.0 - 1.25,
        r[3] / 2.0 - 0.75,
    ]
}

fn rotate(center: [f64; 2], p: [f64; 2], angle: f64) -> [f64; 2] {
    let (s, c) = angle.sin_cos();
    let (dx, dy) = (p[0] - center[0], p[1] - center[1]);
    [c * dx - s * dy + center[0], s * dx + c * dy + center[1]]
}

fn round_half_up(v: f64) -> i64 {
    (v + 0.5).floor() as i64
}

/// Cuts the chip `details` describes out of `image` (dlib's `extract_image_chip` with bilinear
/// interpolation).
pub fn extract_chip(image: &RgbImage, details: &ChipDetails) -> Result<RgbImage> {
    let size = details.size;
    let r = details.rect;
    if size == 0
        || size > 4096
        || area(r) == 0.0
        || !r.iter().all(|v| v.is_finite())
        || !details.angle.is_finite()
    {
        return Err(FaceError::InvalidInput(format!("chip details {details:?}")));
    }
    let cells = f64::from(size) * f64::from(size);
    // How deep the pyramid must go, and the border the crop needs for its filters.
    let mut grow = 2.0;
    let mut down = rect_down(r);
    while area(down) > cells {
        down = rect_down(down);
        grow = grow * 2.0 + 2.0;
    }
    // The crop: the rotated rectangle, grown, within the image.
    let center = [(r[0] + r[2]) / 2.0, (r[1] + r[3]) / 2.0];
    let corners = [[r[0], r[1]], [r[2], r[1]], [r[0], r[3]], [r[2], r[3]]]
        .map(|p| rotate(center, p, details.angle));
    let lo = |i: usize| corners.iter().map(|p| p[i]).fold(f64::INFINITY, f64::min);
    let hi = |i: usize| {
        corners
            .iter()
            .map(|p| p[i])
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let clipped = [
        (lo(0) - grow).max(0.0),
        (lo(1) - grow).max(0.0),
        (hi(0) + grow).min(f64::from(image.width) - 1.0),
        (hi(1) + grow).min(f64::from(image.height) - 1.0),
    ];
    let crop = if clipped[0] > clipped[2] || clipped[1] > clipped[3] {
        None
    } else {
        let b = clipped.map(round_half_up);
        (b[0] <= b[2] && b[1] <= b[3]).then_some(b)
    };
    let (ox, oy) = crop.map_or((0, 0), |b| (b[0], b[1]));
    // dlib's level -1 is the crop itself; each further level one more reduction, with the
    // rectangle brought down alongside.
    let mut local = [
        r[0] - ox as f64,
        r[1] - oy as f64,
        r[2] - ox as f64,
        r[3] - oy as f64,
    ];
    let mut source = crop.map_or_else(Plane::default, |b| crop_image(image, b));
    while area(rect_down(local)) > cells {
        local = rect_down(local);
        source = pyramid_down(&source);
    }
    let center = [(local[0] + local[2]) / 2.0, (local[1] + local[3]) / 2.0];
    let tl = rotate(center, [local[0], local[1]], details.angle);
    let tr = rotate(center, [local[2], local[1]], details.angle);
    let bl = rotate(center, [local[0], local[3]], details.angle);
    let last = f64::from(size - 1).max(1.0);
    let m = [
        (tr[0] - tl[0]) / last,
        (bl[0] - tl[0]) / last,
        (tr[1] - tl[1]) / last,
        (bl[1] - tl[1]) / last,
    ];
    let n = size as usize;
    let mut pixels = vec![0u8; 3 * n * n];
    for row in 0..n {
        for col in 0..n {
            let (c, rr) = (col as f64, row as f64);
            let x = m[0] * c + m[1] * rr + tl[0];
            let y = m[2] * c + m[3] * rr + tl[1];
            let out = &mut pixels[3 * (row * n + col)..3 * (row * n + col) + 3];
            source.bilinear(x, y, out);
        }
    }
    Ok(RgbImage::new(size, size, pixels, None)?)
}

/// An RGB plane (possibly empty) for sampling.
#[derive(Default)]
struct Plane {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Plane {
    /// dlib's `interpolate_bilinear` for RGB: false (black) unless all four neighbours are in.
    fn bilinear(&self, x: f64, y: f64, out: &mut [u8]) {
        let (left, top) = (x.floor(), y.floor());
        if left < 0.0
            || top < 0.0
            || left + 1.0 >= self.width as f64
            || top + 1.0 >= self.height as f64
        {
            return;
        }
        let (lr, tb) = (x - left, y - top);
        let (l, t) = (left as usize, top as usize);
        let at =
            |xx: usize, yy: usize, c: usize| f64::from(self.pixels[3 * (yy * self.width + xx) + c]);
        for (c, o) in out.iter_mut().enumerate() {
            let v = (1.0 - tb) * ((1.0 - lr) * at(l, t, c) + lr * at(l + 1, t, c))
                + tb * ((1.0 - lr) * at(l, t + 1, c) + lr * at(l + 1, t + 1, c));
            // dlib assigns with a cast: truncation.
            *o = v.clamp(0.0, 255.0) as u8;
        }
    }
}

fn crop_image(image: &RgbImage, b: [i64; 4]) -> Plane {
    let (l, t, r, bo) = (b[0] as usize, b[1] as usize, b[2] as usize, b[3] as usize);
    let width = r - l + 1;
    let mut pixels = Vec::with_capacity(3 * width * (bo - t + 1));
    for y in t..=bo {
        let row = 3 * (y * image.width as usize);
        pixels.extend_from_slice(&image.pixels[row + 3 * l..row + 3 * (r + 1)]);
    }
    Plane {
        width,
        height: bo - t + 1,
        pixels,
    }
}

/// dlib's `pyramid_down<2>` on an RGB image: each row filtered `[1 4 6 4 1]` at every second
/// column, then each column of that at every second row, sums kept in integers and divided by
/// 256 (truncating). Images of 8 pixels or less a side come out empty.
fn pyramid_down(src: &Plane) -> Plane {
    if src.width <= 8 || src.height <= 8 {
        return Plane::default();
    }
    let cols = (src.width - 3) / 2;
    let rows = (src.height - 3) / 2;
    let mut temp = vec![0u32; 3 * cols * src.height];
    for y in 0..src.height {
        let row = &src.pixels[3 * y * src.width..3 * (y + 1) * src.width];
        for c in 0..cols {
            for k in 0..3 {
                let p = |i: usize| u32::from(row[3 * (2 * c + i) + k]);
                temp[3 * (y * cols + c) + k] = p(0) + 4 * p(1) + 6 * p(2) + 4 * p(3) + p(4);
            }
        }
    }
    let mut pixels = vec![0u8; 3 * cols * rows];
    for r in 0..rows {
        let y = 2 * r + 2;
        for i in 0..3 * cols {
            let t = |yy: usize| temp[3 * yy * cols + i];
            let sum = t(y - 2) + 4 * t(y - 1) + 6 * t(y) + 4 * t(y + 1) + t(y + 2);
            pixels[3 * r * cols + i] = (sum / 256) as u8;
        }
    }
    Plane {
        width: cols,
        height: rows,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landmarks_on_the_mean_face_give_an_upright_chip_of_the_same_scale() {
        let side = 150.0;
        let points: Vec<Point> = MEAN_FACE_5
            .iter()
            .map(|p| Point {
                x: ((0.25 + p[0]) / 1.5 * side + 10.0) as f32,
                y: ((0.25 + p[1]) / 1.5 * side + 20.0) as f32,
            })
            .collect();
        let d = face_chip_details(&points, 150, 0.25).unwrap();
        assert!(d.angle.abs() < 1e-6, "{d:?}");
        assert!((d.rect[2] - d.rect[0] - 149.0).abs() < 1e-4, "{d:?}");
        // dlib's rectangle is 149 wide between corners, centred on the chip's centre (85, 95).
        assert!(
            (d.rect[0] - 10.5).abs() < 1e-4 && (d.rect[1] - 20.5).abs() < 1e-4,
            "{d:?}"
        );
    }

    #[test]
    fn chips_are_the_size_the_descriptor_network_takes() {
        assert_eq!(CHIP_SIZE as usize, crate::CHIP_SIZE);
    }

    #[test]
    fn the_pyramid_halves_a_constant_image_keeping_its_value() {
        let src = Plane {
            width: 20,
            height: 13,
            pixels: vec![200; 3 * 20 * 13],
        };
        let down = pyramid_down(&src);
        assert_eq!((down.width, down.height), (8, 5));
        assert!(down.pixels.iter().all(|&v| v == 200));
        assert_eq!(
            pyramid_down(&Plane {
                width: 8,
                height: 100,
                pixels: vec![0; 2400]
            })
            .width,
            0
        );
    }
}
