//! The pupil: the darkest round blob, then its boundary fitted to edges.
//!
//! 1. On the image at half size, dark sets `smoothed <= t` for rising thresholds `t` (from the darkest grey up to the
//!    median), opened with a small disc so eyelashes do not join the pupil, split into connected
//!    components (OpenCV). A component is a candidate when it has a plausible pupil area, does
//!    not touch the image border, and is round and compact by its second moments (axis ratio
//!    `>= 0.7`, area `>= 0.8 x` its moment ellipse).
//! 2. The pupil is the darkest candidate inside (mean of the disc at 0.8 of its radius), the
//!    largest one within a few grey levels of it (the blob grows with `t` until it leaks).
//! 3. The boundary: along 64 rays from the blob's centre the strongest dark-to-bright step between
//!    0.5 and 1.8 blob radii, and a robust circle fit through those edges (eyelid and eyelash
//!    rays are outliers). At least a third of the rays must agree, the inside must be uniform and
//!    clearly darker than the ring around it; otherwise there is no pupil.

use crate::geometry::{robust_circle, Circle};
use crate::raster::{disc, mat_u8, Plane};
use crate::{IrisError, Result};
use opencv::core::{Mat, CV_32S};
use opencv::imgproc;
use opencv::prelude::*;

/// Least grey-level step from the pupil to the ring around it.
const MIN_CONTRAST: f32 = 15.0;
/// Rays cast for the boundary.
const RAYS: usize = 64;

/// A blob that may be the pupil.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    x: f32,
    y: f32,
    r: f32,
    inner_mean: f32,
    area: f32,
}

/// Finds the pupil in the highlight-filled image.
pub(crate) fn find(filled: &Plane) -> Result<Circle> {
    let side = filled.w.min(filled.h) as f32;
    let (r_min, r_max) = ((0.04 * side).max(4.0), 0.35 * side);
    // The blob search runs on the image at half size (a quarter of the pixels; the boundary is
    // fitted at full size afterwards).
    let half = filled.half();
    let (w, h) = (half.w, half.h);
    if w < 3 || h < 3 {
        return Err(IrisError::NoPupil(format!(
            "a {} x {} image is too small to hold an eye",
            filled.w, filled.h
        )));
    }
    let mut smoothed = Mat::default();
    imgproc::median_blur(&mat_u8(w, h, &half.to_u8())?, &mut smoothed, 3)?;
    let s = smoothed.data_bytes()?.to_vec();
    let plane = Plane::from_u8(w, h, &s);

    let mut sorted = s.clone();
    sorted.sort_unstable();
    let darkest = sorted[sorted.len() / 200];
    let median = sorted[sorted.len() / 2];
    let open = disc(((r_min / 6.0) as i32 * 2 + 1).max(3))?;
    let mut candidates = Vec::new();
    let mut t = u32::from(darkest) + 3;
    while t <= u32::from(median) {
        let dark: Vec<u8> = s
            .iter()
            .map(|&v| u8::from(u32::from(v) <= t) * 255)
            .collect();
        let mut opened = Mat::default();
        imgproc::morphology_ex_def(
            &mat_u8(w, h, &dark)?,
            &mut opened,
            imgproc::MORPH_OPEN,
            &open,
        )?;
        candidates.extend(components(&opened, &plane, r_min / 2.0, r_max / 2.0)?);
        t += 4;
    }
    let darkest_inside = candidates
        .iter()
        .map(|c| c.inner_mean)
        .fold(f32::INFINITY, f32::min);
    let blob = candidates
        .iter()
        .filter(|c| c.inner_mean <= darkest_inside + 8.0)
        .max_by(|a, b| a.area.total_cmp(&b.area))
        .map(|c| Candidate {
            x: 2.0 * c.x + 0.5,
            y: 2.0 * c.y + 0.5,
            r: 2.0 * c.r,
            ..*c
        })
        .ok_or_else(|| IrisError::NoPupil("no dark round blob of pupil size".into()))?;
    refine(filled, blob, r_min, r_max)
}

/// Round, compact components of plausible size in a binary image.
fn components(binary: &Mat, plane: &Plane, r_min: f32, r_max: f32) -> Result<Vec<Candidate>> {
    let (mut labels, mut stats, mut centroids) = (Mat::default(), Mat::default(), Mat::default());
    let n = imgproc::connected_components_with_stats(
        binary,
        &mut labels,
        &mut stats,
        &mut centroids,
        8,
        CV_32S,
    )? as usize;
    let (w, h) = (plane.w, plane.h);
    let (a_min, a_max) = (
        std::f32::consts::PI * r_min * r_min,
        std::f32::consts::PI * r_max * r_max,
    );
    let stat = |i: usize, k: i32| stats.at_2d::<i32>(i as i32, k).copied();
    let mut wanted = vec![false; n];
    for (i, want) in wanted.iter_mut().enumerate().skip(1) {
        let (x, y) = (
            stat(i, imgproc::CC_STAT_LEFT)?,
            stat(i, imgproc::CC_STAT_TOP)?,
        );
        let (bw, bh) = (
            stat(i, imgproc::CC_STAT_WIDTH)?,
            stat(i, imgproc::CC_STAT_HEIGHT)?,
        );
        let area = stat(i, imgproc::CC_STAT_AREA)? as f32;
        let inside = x > 0 && y > 0 && ((x + bw) as usize) < w && ((y + bh) as usize) < h;
        *want = inside && (a_min..=a_max).contains(&area);
    }
    if !wanted.iter().any(|&w| w) {
        return Ok(Vec::new());
    }
    // Second moments of the wanted components, one pass over the labels.
    let mut m = vec![[0f64; 6]; n];
    let labels = labels.data_typed::<i32>()?;
    for (i, &l) in labels.iter().enumerate() {
        let l = l as usize;
        if l < n && wanted[l] {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            let s = &mut m[l];
            s[0] += 1.0;
            s[1] += x;
            s[2] += y;
            s[3] += x * x;
            s[4] += y * y;
            s[5] += x * y;
        }
    }
    let mut out = Vec::new();
    for (l, s) in m.iter().enumerate() {
        if !wanted[l] {
            continue;
        }
        let a = s[0];
        let (cx, cy) = (s[1] / a, s[2] / a);
        let (vxx, vyy, vxy) = (s[3] / a - cx * cx, s[4] / a - cy * cy, s[5] / a - cx * cy);
        let half_trace = (vxx + vyy) / 2.0;
        let root = (((vxx - vyy) / 2.0).powi(2) + vxy * vxy).sqrt();
        let (l1, l2) = (half_trace + root, (half_trace - root).max(0.0));
        let roundness = (l2 / l1).sqrt();
        let fill = a / (std::f64::consts::PI * 4.0 * (l1 * l2).sqrt());
        if roundness < 0.7 || fill < 0.8 {
            continue;
        }
        let r = (a / std::f64::consts::PI).sqrt() as f32;
        let (x, y) = (cx as f32, cy as f32);
        let inner_mean = disc_mean(plane, x, y, 0.8 * r);
        out.push(Candidate {
            x,
            y,
            r,
            inner_mean,
            area: a as f32,
        });
    }
    Ok(out)
}

/// Mean grey level over the disc of radius `r` (sampled on rings).
fn disc_mean(plane: &Plane, x: f32, y: f32, r: f32) -> f32 {
    let (mut sum, mut n) = (0.0, 0.0);
    let mut rho = 0.0;
    while rho <= r {
        let k = ((std::f32::consts::TAU * rho / 2.0).ceil() as usize).max(1);
        for i in 0..k {
            let t = std::f32::consts::TAU * i as f32 / k as f32;
            if let Some(v) = plane.sample(x + rho * t.cos(), y + rho * t.sin()) {
                sum += v;
                n += 1.0;
            }
        }
        rho += 2.0;
    }
    if n > 0.0 {
        sum / n
    } else {
        f32::INFINITY
    }
}

/// The pupil boundary fitted to the strongest dark-to-bright steps along rays from the blob.
fn refine(filled: &Plane, blob: Candidate, r_min: f32, r_max: f32) -> Result<Circle> {
    let g = filled.gaussian(1.5)?;
    let mut edges = Vec::with_capacity(RAYS);
    for k in 0..RAYS {
        let t = std::f32::consts::TAU * k as f32 / RAYS as f32;
        let (dx, dy) = (t.cos(), t.sin());
        let at = |r: f32| g.sample(blob.x + r * dx, blob.y + r * dy);
        let mut best = (0.0f32, 0.0f32);
        let mut r = 0.5 * blob.r;
        while r <= 1.8 * blob.r {
            if let (Some(a), Some(b)) = (at(r - 1.5), at(r + 1.5)) {
                if b - a > best.1 {
                    best = (r, b - a);
                }
            }
            r += 0.5;
        }
        if best.1 >= MIN_CONTRAST / 3.0 {
            edges.push((blob.x + best.0 * dx, blob.y + best.0 * dy));
        }
    }
    let circle = robust_circle(&edges, RAYS / 3).ok_or_else(|| {
        IrisError::NoPupil(format!(
            "the dark blob at ({:.0}, {:.0}) has no consistent round boundary",
            blob.x, blob.y
        ))
    })?;
    if !(r_min * 0.8..=r_max).contains(&circle.r)
        || (circle.x - blob.x).hypot(circle.y - blob.y) > 0.5 * blob.r
    {
        return Err(IrisError::NoPupil(format!(
            "the boundary fitted to the blob at ({:.0}, {:.0}) is implausible ({circle:?})",
            blob.x, blob.y
        )));
    }
    let inside = disc_mean(&g, circle.x, circle.y, 0.8 * circle.r);
    let ring = ring_mean(&g, &circle, 1.2, 1.5);
    if ring - inside < MIN_CONTRAST {
        return Err(IrisError::NoPupil(format!(
            "the blob at ({:.0}, {:.0}) is only {:.1} grey levels darker than its surround",
            circle.x,
            circle.y,
            ring - inside
        )));
    }
    Ok(circle)
}

/// Mean grey level between `inner` and `outer` times the circle's radius.
pub(crate) fn ring_mean(plane: &Plane, c: &Circle, inner: f32, outer: f32) -> f32 {
    let (mut sum, mut n) = (0.0, 0.0);
    let mut rho = inner * c.r;
    while rho <= outer * c.r {
        let k = ((std::f32::consts::TAU * rho / 2.0).ceil() as usize).max(8);
        for i in 0..k {
            let t = std::f32::consts::TAU * i as f32 / k as f32;
            if let Some(v) = plane.sample(c.x + rho * t.cos(), c.y + rho * t.sin()) {
                sum += v;
                n += 1.0;
            }
        }
        rho += 1.5;
    }
    if n > 0.0 {
        sum / n
    } else {
        0.0
    }
}
