//! The limbus (iris/sclera boundary) by Daugman's integro-differential operator,
//! `max over (r, x0, y0) of G_sigma(r) * d/dr [ mean of I on the arc of radius r about (x0, y0) ]`
//! (Daugman, "How iris recognition works", IEEE TCSVT 14(1), 2004), with the arcs restricted to
//! the lateral sectors within 35 degrees of horizontal on either side: the top and bottom of the
//! limbus are usually under the eyelids, and full circles lock onto them.
//!
//! The centre is searched within a third of the pupil radius of the pupil's centre (the two are
//! nearly concentric), coarse (on the image at half size) then fine (1 px); radii run from the largest the pupil allows
//! (pupil/iris ratio 0.7) up to ten pupil radii or the image's extent. The step must be bright
//! outside (sclera) and dark inside (iris). Arcs must lie wholly inside the image (a mean over a
//! changing subset of angles makes steps of its own), so an iris cut by the image's left or
//! right edge has no limbus.

use crate::geometry::Circle;
use crate::raster::Plane;
use crate::{IrisError, Result};

/// Half-width of each lateral sector, in degrees.
const SECTOR_DEGREES: f32 = 35.0;
/// The weakest boundary accepted: mean grey-level step across 2 px.
const MIN_STEP: f32 = 3.0;

/// The best boundary and its strength (grey-level step across 2 px).
pub(crate) fn find(smoothed: &Plane, pupil: &Circle) -> Result<(Circle, f32)> {
    let r_lo = (pupil.r / 0.7).max(pupil.r + 6.0);
    let extent = smoothed.w.max(smoothed.h) as f32;
    let r_hi = (10.0 * pupil.r).min(0.75 * extent);
    if r_hi <= r_lo + 4.0 {
        return Err(IrisError::NoLimbus(format!(
            "no room for an iris around the pupil of radius {:.0}",
            pupil.r
        )));
    }
    // Coarse: the whole window on the image at half size (a quarter of the work per arc and
    // centre); fine: a few pixels and radii around the coarse answer at full size.
    let reach = (pupil.r / 6.0).max(2.0).round() as i32;
    let half = smoothed.half();
    let (hx, hy) = (pupil.x / 2.0, pupil.y / 2.0);
    let mut coarse: Option<(f32, Circle)> = None;
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let (x, y) = (hx + dx as f32, hy + dy as f32);
            if let Some((r, step)) = best_radius(&half, x, y, r_lo / 2.0, r_hi / 2.0) {
                if coarse.is_none_or(|(s, _)| step > s) {
                    coarse = Some((step, Circle { x, y, r }));
                }
            }
        }
    }
    let Some((_, coarse)) = coarse else {
        return Err(IrisError::NoLimbus(
            "no arc around the pupil lies inside the image".into(),
        ));
    };
    let mut best = (f32::NEG_INFINITY, *pupil);
    let (cx, cy, cr) = (2.0 * coarse.x, 2.0 * coarse.y, 2.0 * coarse.r);
    for dy in -2..=2 {
        for dx in -2..=2 {
            let (x, y) = (cx + dx as f32, cy + dy as f32);
            let (lo, hi) = ((cr - 4.0).max(r_lo), (cr + 4.0).min(r_hi));
            if let Some((r, step)) = best_radius(smoothed, x, y, lo, hi) {
                if step > best.0 {
                    best = (step, Circle { x, y, r });
                }
            }
        }
    }
    let (step, iris) = best;
    if step < MIN_STEP {
        return Err(IrisError::NoLimbus(format!(
            "no dark-to-bright boundary around the pupil (strongest step {step:.1} grey levels)"
        )));
    }
    if iris.distance(pupil.x, pupil.y) + pupil.r >= iris.r {
        return Err(IrisError::NoLimbus(
            "the boundary found does not enclose the pupil".into(),
        ));
    }
    Ok((iris, step))
}

/// For arcs about (`x`, `y`), the radius with the largest smoothed outward step of the arc mean,
/// and that step; `None` when no arc in the range lies inside the image.
fn best_radius(img: &Plane, x: f32, y: f32, r_lo: f32, r_hi: f32) -> Option<(f32, f32)> {
    let first = (r_lo - 3.0).max(1.0);
    let count = (r_hi - first) as usize + 5;
    let mut means = Vec::with_capacity(count);
    for i in 0..count {
        means.push(arc_mean(img, x, y, first + i as f32));
    }
    // Derivative across 2 px, smoothed by a 5-tap binomial (Daugman's G_sigma(r)).
    let d: Vec<Option<f32>> = (0..count)
        .map(|i| {
            match (
                i.checked_sub(1).and_then(|j| means[j]),
                means.get(i + 1).copied().flatten(),
            ) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            }
        })
        .collect();
    let mut best: Option<(f32, f32)> = None;
    for i in 2..count.saturating_sub(2) {
        let r = first + i as f32;
        if r < r_lo || r > r_hi {
            continue;
        }
        let taps = [
            (i - 2, 1.0),
            (i - 1, 4.0),
            (i, 6.0),
            (i + 1, 4.0),
            (i + 2, 1.0),
        ];
        let (mut s, mut wsum) = (0.0, 0.0);
        for (j, wt) in taps {
            if let Some(v) = d[j] {
                s += wt * v;
                wsum += wt;
            }
        }
        if wsum < 8.0 {
            continue;
        }
        let step = s / wsum;
        if best.is_none_or(|(_, b)| step > b) {
            best = Some((r, step));
        }
    }
    best
}

/// Mean grey level on the two lateral arcs of radius `r`; `None` when any sample is outside the
/// image (a mean over a changing subset of angles would make steps of its own).
fn arc_mean(img: &Plane, x: f32, y: f32, r: f32) -> Option<f32> {
    let half = SECTOR_DEGREES.to_radians();
    // About one sample per 1.5 px of arc.
    let k = ((2.0 * half * r / 1.5).ceil() as usize).max(8);
    let (mut sum, mut n) = (0.0, 0usize);
    for side in [0.0, std::f32::consts::PI] {
        for i in 0..k {
            let t = side - half + 2.0 * half * (i as f32 + 0.5) / k as f32;
            if let Some(v) = img.sample(x + r * t.cos(), y + r * t.sin()) {
                sum += v;
                n += 1;
            }
        }
    }
    (n == 2 * k).then(|| sum / n as f32)
}
