//! Segmentation: highlights filled, pupil, limbus, eyelids, and the noise mask of the iris pixels
//! that can be encoded.

use crate::eyelids::{self, Lid};
use crate::geometry::{Circle, Parabola};
use crate::raster::Plane;
use crate::{limbus, pupil, specular, Result};
use abis_imaging::GreyImage;

/// Eyelashes: pixels darker than the pupil's level plus this fraction of the way to the iris's
/// median are lashes (or their shadows), not iris.
const LASH_FRACTION: f32 = 0.35;
/// Over-saturated pixels (open-iris masks `>= 254` too).
const SATURATED: u8 = 254;

/// Where the iris is in an image, and which of its pixels are usable.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// The pupil boundary.
    pub pupil: Circle,
    /// The limbus (iris/sclera boundary).
    pub iris: Circle,
    /// The upper eyelid's edge where it covers part of the iris.
    pub upper_eyelid: Option<Parabola>,
    /// The lower eyelid's edge where it covers part of the iris.
    pub lower_eyelid: Option<Parabola>,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Per image pixel, row-major: 1 where the pixel is iris and usable (between the circles,
    /// clear of the eyelids, eyelashes, highlights and saturation), else 0.
    pub usable: Vec<u8>,
    /// Per image pixel: 1 where a specular highlight was found (and filled for segmentation).
    pub highlights: Vec<u8>,
    /// Grey-level step across the limbus (2 px), the operator's maximum.
    pub limbus_step: f32,
    /// Median grey level inside the pupil.
    pub pupil_level: f32,
    /// Median grey level of the usable iris.
    pub iris_level: f32,
}

impl Segmentation {
    /// Whether the pixel nearest (`x`, `y`) is usable iris; `false` outside the image.
    pub fn is_usable(&self, x: f32, y: f32) -> bool {
        let (xi, yi) = (x.round(), y.round());
        if xi < 0.0 || yi < 0.0 || xi >= self.width as f32 || yi >= self.height as f32 {
            return false;
        }
        self.usable[yi as usize * self.width as usize + xi as usize] == 1
    }

    /// Whether (`x`, `y`) lies between the pupil and the limbus.
    pub fn in_ring(&self, x: f32, y: f32) -> bool {
        self.pupil.distance(x, y) > self.pupil.r && self.iris.distance(x, y) < self.iris.r
    }
}

/// Finds the pupil, the limbus and the eyelids of `image`, and the usable iris pixels.
pub fn segment(image: &GreyImage) -> Result<Segmentation> {
    let (w, h) = (image.width as usize, image.height as usize);
    let plane = Plane::from_u8(w, h, &image.pixels);
    let (filled, highlights) = specular::fill(&plane, &image.pixels)?;
    let pupil = pupil::find(&filled)?;
    let smoothed = filled.gaussian(2.0)?;
    let (iris, limbus_step) = limbus::find(&smoothed, &pupil)?;
    let upper = eyelids::find(&smoothed, &pupil, &iris, Lid::Upper, limbus_step).map(|(p, _)| p);
    let lower = eyelids::find(&smoothed, &pupil, &iris, Lid::Lower, limbus_step).map(|(p, _)| p);

    let mut inner: Vec<f32> = Vec::new();
    let fine = filled.gaussian(1.0)?;
    let mut usable = vec![0u8; w * h];
    let (x0, x1) = (
        ((iris.x - iris.r).floor().max(0.0)) as usize,
        ((iris.x + iris.r).ceil().min(w as f32 - 1.0)) as usize,
    );
    let (y0, y1) = (
        ((iris.y - iris.r).floor().max(0.0)) as usize,
        ((iris.y + iris.r).ceil().min(h as f32 - 1.0)) as usize,
    );
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (xf, yf) = (x as f32, y as f32);
            if pupil.distance(xf, yf) < 0.8 * pupil.r {
                inner.push(fine.get(x, y));
            }
            let ring = pupil.distance(xf, yf) > pupil.r && iris.distance(xf, yf) < iris.r;
            let lids = upper.is_none_or(|p| yf > p.y(xf)) && lower.is_none_or(|p| yf < p.y(xf));
            let i = y * w + x;
            if ring && lids && highlights[i] == 0 && image.pixels[i] < SATURATED {
                usable[i] = 1;
            }
        }
    }
    let pupil_level = median(&mut inner);
    let mut ring_values: Vec<f32> = (0..w * h)
        .filter(|&i| usable[i] == 1)
        .map(|i| fine.data[i])
        .collect();
    let iris_level = median(&mut ring_values);
    let lash = pupil_level + LASH_FRACTION * (iris_level - pupil_level);
    for (u, v) in usable.iter_mut().zip(&fine.data) {
        if *u == 1 && *v < lash {
            *u = 0;
        }
    }
    Ok(Segmentation {
        pupil,
        iris,
        upper_eyelid: upper,
        lower_eyelid: lower,
        width: image.width,
        height: image.height,
        usable,
        highlights,
        limbus_step,
        pupil_level,
        iris_level,
    })
}

fn median(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f32::total_cmp).1
}
