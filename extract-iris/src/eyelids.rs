//! Upper and lower eyelids as parabolas, found inside the iris ring by the same
//! integro-differential principle as the limbus: the mean grey level along a candidate curve,
//! differentiated across the curve's offset, with the curve's vertex height, curvature and
//! horizontal shift searched. Only samples between the pupil and the limbus count, so the pupil's
//! edge and the limbus itself cannot be taken for a lid.
//!
//! An eyelid (skin in near infrared) is brighter than the iris: the step must be bright on the
//! lid's side. A lid is kept only when its step is at least half the limbus's; a weaker best curve
//! is iris texture, and that eyelid does not cover the iris.

use crate::geometry::{Circle, Parabola};
use crate::raster::Plane;

/// Curvatures tried, as the drop at one iris radius from the vertex, in iris radii.
const UPPER_DROPS: [f32; 5] = [0.0, 0.15, 0.3, 0.5, 0.75];
const LOWER_DROPS: [f32; 4] = [0.0, 0.1, 0.2, 0.35];
/// Vertex shifts tried, in iris radii.
const SHIFTS: [f32; 5] = [-0.3, -0.15, 0.0, 0.15, 0.3];

/// Which lid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lid {
    Upper,
    Lower,
}

/// The lid's boundary when it covers part of the iris, with its step.
pub(crate) fn find(
    smoothed: &Plane,
    pupil: &Circle,
    iris: &Circle,
    lid: Lid,
    limbus_step: f32,
) -> Option<(Parabola, f32)> {
    let sign = match lid {
        Lid::Upper => -1.0,
        Lid::Lower => 1.0,
    };
    let drops: &[f32] = match lid {
        Lid::Upper => &UPPER_DROPS,
        Lid::Lower => &LOWER_DROPS,
    };
    // Vertex offsets from the iris centre: from just outside the pupil to just past the limbus.
    let from = (pupil.y - iris.y) * sign + pupil.r + 2.0;
    let to = 1.05 * iris.r;
    if to <= from + 4.0 {
        return None;
    }
    let count = (to - from) as usize + 1;
    let mut best: Option<(Parabola, f32)> = None;
    for &drop in drops {
        let curvature = -sign * drop / iris.r;
        for &shift in &SHIFTS {
            let vertex_x = iris.x + shift * iris.r;
            let means: Vec<Option<f32>> = (0..count)
                .map(|i| {
                    let p = Parabola {
                        vertex_x,
                        vertex_y: iris.y + sign * (from + i as f32),
                        curvature,
                    };
                    curve_mean(smoothed, &p, pupil, iris)
                })
                .collect();
            for i in 2..count.saturating_sub(2) {
                // Outward (towards the lid) step across 4 px: lid side minus iris side.
                let (Some(inner), Some(outer)) = (means[i - 2], means[i + 2]) else {
                    continue;
                };
                let step = (outer - inner) / 2.0;
                if best.is_none_or(|(_, b)| step > b) {
                    let p = Parabola {
                        vertex_x,
                        vertex_y: iris.y + sign * (from + i as f32),
                        curvature,
                    };
                    best = Some((p, step));
                }
            }
        }
    }
    best.filter(|&(_, step)| step >= 0.5 * limbus_step && step > 0.0)
}

/// Mean grey level along the curve where it lies inside the iris ring; `None` when less than a
/// quarter of the iris's width has such samples.
fn curve_mean(img: &Plane, p: &Parabola, pupil: &Circle, iris: &Circle) -> Option<f32> {
    let (mut sum, mut n) = (0.0, 0usize);
    let total = (iris.r as usize).max(4);
    for i in 0..total {
        let x = iris.x - iris.r + 2.0 * iris.r * (i as f32 + 0.5) / total as f32;
        let y = p.y(x);
        if iris.distance(x, y) >= iris.r - 1.0 || pupil.distance(x, y) <= pupil.r + 2.0 {
            continue;
        }
        if let Some(v) = img.sample(x, y) {
            sum += v;
            n += 1;
        }
    }
    (n * 4 >= total).then(|| sum / n as f32)
}
