//! Exactness of the optimised [`PreparedFinger::new`]: it must give the very same template, bit
//! for bit, as the straightforward implementation it replaced, which is kept here as
//! `reference_prepare` (with its own copies of the helpers it used, so later edits of the
//! production helpers cannot silently change the reference too). Checked on every FVC2002
//! template and on random minutiae sets (duplicates, collinear points, extreme coordinates and
//! resolutions included). Also holds an ignored timing command comparing the two.

use super::super::hull::Hull;
use super::super::params::*;
use super::{PreparedFinger, MAX_MINUTIAE, PPCM_500};
use crate::finger::format::{parse, Minutia, MinutiaKind};
use proptest::prelude::*;
use std::f32::consts::PI;
use std::path::PathBuf;

fn ref_normal_cdf(x: f32) -> f32 {
    let z = f64::from(x) / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z < 0.0 { -erf } else { erf };
    (0.5 * (1.0 + erf)) as f32
}

fn ref_angle_diff(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(2.0 * PI);
    if d >= PI {
        d - 2.0 * PI
    } else {
        d
    }
}

fn ref_to_units(a: f32) -> u8 {
    (a.rem_euclid(2.0 * PI) * (256.0 / (2.0 * PI))).round() as i64 as u8
}

fn ref_disc_cells() -> Vec<(usize, [f32; 2])> {
    let half = (NS as f32 - 1.0) / 2.0;
    let mut cells = Vec::new();
    for i in 0..NS {
        for j in 0..NS {
            let u = (i as f32 - half) * DELTA_S;
            let v = (j as f32 - half) * DELTA_S;
            if u * u + v * v <= RADIUS * RADIUS {
                cells.push((i * NS + j, [u, v]));
            }
        }
    }
    cells
}

/// The implementation `PreparedFinger::new` had before it was optimised, unchanged.
fn reference_prepare(minutiae: &[Minutia], x_resolution: u16, y_resolution: u16) -> PreparedFinger {
    let minutiae = &minutiae[..minutiae.len().min(MAX_MINUTIAE)];
    let scale = |r: u16| if r == 0 { 1.0 } else { PPCM_500 / f32::from(r) };
    let (sx, sy) = (scale(x_resolution), scale(y_resolution));
    let pts: Vec<[f32; 2]> = minutiae
        .iter()
        .map(|m| [f32::from(m.x) * sx, -(f32::from(m.y) * sy)])
        .collect();
    let theta: Vec<f32> = minutiae
        .iter()
        .map(|m| f32::from(m.angle) * (2.0 * PI / 256.0))
        .collect();
    let hull = Hull::new(&pts);
    let cells = ref_disc_cells();
    let min_valid = (MIN_VC * cells.len() as f32).ceil() as usize;
    let reach2 = (RADIUS + 3.0 * SIGMA_S).powi(2);
    let near2 = (3.0 * SIGMA_S).powi(2);
    let gs_norm = 1.0 / (SIGMA_S * (2.0 * PI).sqrt());

    let mut out = PreparedFinger {
        minutiae: minutiae.len(),
        ..PreparedFinger::default()
    };
    let mut kept: Vec<usize> = Vec::new();
    for (m, &c) in pts.iter().enumerate() {
        let mut neigh: Vec<([f32; 2], [f32; ND])> = Vec::new();
        for (t, &p) in pts.iter().enumerate() {
            let d2 = (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2);
            if t == m || d2 > reach2 {
                continue;
            }
            let rel = ref_angle_diff(theta[m], theta[t]);
            let mut gd = [0.0f32; ND];
            for (k, g) in gd.iter_mut().enumerate() {
                let centre = -PI + (k as f32 + 0.5) * DELTA_D;
                let a = ref_angle_diff(centre, rel);
                *g = ref_normal_cdf((a + DELTA_D / 2.0) / SIGMA_D)
                    - ref_normal_cdf((a - DELTA_D / 2.0) / SIGMA_D);
            }
            neigh.push((p, gd));
        }
        if neigh.len() < MIN_M {
            continue;
        }
        let (s, co) = theta[m].sin_cos();
        let mut mask = [0u64; MASK_WORDS];
        let mut bits = [0u64; WORDS];
        let mut valid = 0;
        for &(cell, [u, v]) in &cells {
            let p = [c[0] + u * co - v * s, c[1] + u * s + v * co];
            if !hull.contains(p, OMEGA) {
                continue;
            }
            valid += 1;
            mask[cell / 64] |= 1 << (cell % 64);
            let mut sum = [0.0f32; ND];
            for (q, gd) in &neigh {
                let d2 = (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2);
                if d2 > near2 {
                    continue;
                }
                let gs = gs_norm * (-d2 / (2.0 * SIGMA_S * SIGMA_S)).exp();
                for k in 0..ND {
                    sum[k] += gs * gd[k];
                }
            }
            for (k, &v) in sum.iter().enumerate() {
                if v >= MU_PSI {
                    let b = k * NS * NS + cell;
                    bits[b / 64] |= 1 << (b % 64);
                }
            }
        }
        if valid < min_valid {
            continue;
        }
        kept.push(m);
        out.angles.push(minutiae[m].angle);
        out.bits.extend_from_slice(&bits);
        out.masks.extend_from_slice(&mask);
    }
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by_key(|&c| (out.angles[c], c));
    let permute = |v: &[u64], w: usize| -> Vec<u64> {
        order
            .iter()
            .flat_map(|&c| v[c * w..(c + 1) * w].iter().copied())
            .collect()
    };
    out.bits = permute(&out.bits, WORDS);
    out.masks = permute(&out.masks, MASK_WORDS);
    out.angles = order.iter().map(|&c| out.angles[c]).collect();
    let kept: Vec<usize> = order.iter().map(|&c| kept[c]).collect();
    let n = kept.len();
    out.dist = Vec::with_capacity(n * n);
    out.radial = Vec::with_capacity(n * n);
    for &a in &kept {
        for &b in &kept {
            let (dx, dy) = (pts[b][0] - pts[a][0], pts[b][1] - pts[a][1]);
            let d = ((dx * dx + dy * dy).sqrt() * DIST_STEPS).round();
            out.dist.push(d.min(f32::from(u16::MAX)) as u16);
            out.radial.push(if a == b {
                0
            } else {
                ref_to_units(dy.atan2(dx) - theta[a])
            });
        }
    }
    out
}

/// A record's path, its first view's minutiae and its resolutions.
type View = (PathBuf, Vec<Minutia>, u16, u16);

/// Every FVC2002 record's first view with the record's resolutions; `None` when the shared data
/// is missing.
fn fvc_views() -> Option<Vec<View>> {
    let root = abis_test_data::shared_data("fvc2002")?;
    let mut out = Vec::new();
    for db in ["DB1_B", "DB2_B", "DB3_B", "DB4_B-synthetic"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(db))
            .expect("read FVC folder")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "iso"))
            .collect();
        files.sort();
        for path in files {
            let rec = parse(&std::fs::read(&path).expect("read FVC record")).expect("parse");
            let view = rec.views.first().expect("one view").minutiae.clone();
            out.push((path, view, rec.x_resolution, rec.y_resolution));
        }
    }
    Some(out)
}

#[test]
fn every_fvc2002_template_is_prepared_exactly_as_the_reference_does() {
    let Some(views) = fvc_views() else { return };
    assert_eq!(views.len(), 320);
    let mut cylinders = 0;
    for (path, m, xr, yr) in &views {
        let want = reference_prepare(m, *xr, *yr);
        assert_eq!(PreparedFinger::new(m, *xr, *yr), want, "{}", path.display());
        cylinders += want.cylinders();
        // The same minutiae at other resolutions, and mirrored through the other axis scale.
        for (xr, yr) in [(0, 0), (394, 197), (100, 300)] {
            assert_eq!(
                PreparedFinger::new(m, xr, yr),
                reference_prepare(m, xr, yr),
                "{} at {xr}x{yr}",
                path.display()
            );
        }
    }
    // The comparison is not vacuous: the FVC templates keep most of their cylinders.
    assert!(cylinders > 320 * 20, "{cylinders} cylinders");
}

fn minutia((x, y, angle): (u16, u16, u8)) -> Minutia {
    Minutia {
        x,
        y,
        angle,
        kind: MinutiaKind::Other,
        quality: 0,
    }
}

/// Random minutiae sets: scattered in a finger-sized area, with some exact duplicates and some
/// points on a common line (collinear runs), or scattered over the whole 14-bit canvas.
fn minutiae_sets() -> impl Strategy<Value = Vec<Minutia>> {
    let point = (0u16..400, 0u16..450, any::<u8>());
    let scattered = prop::collection::vec(point, 0..=80);
    let wide = prop::collection::vec((0u16..16384, 0u16..16384, any::<u8>()), 0..=80);
    let with_extras = (
        scattered,
        prop::collection::vec((0usize..80, any::<u8>()), 0..10),
        (0u16..300, 0u16..300, -6i32..=6, -6i32..=6, 0usize..30),
    )
        .prop_map(|(mut pts, dups, (x0, y0, dx, dy, len))| {
            for (i, angle) in dups {
                if let Some(&(x, y, a)) = pts.get(i % pts.len().max(1)) {
                    // An exact duplicate, or the same position with another direction.
                    pts.push((x, y, if angle % 2 == 0 { a } else { angle }));
                }
            }
            for s in 0..len as i32 {
                let (x, y) = (i32::from(x0) + s * dx * 3, i32::from(y0) + s * dy * 3);
                pts.push((x.max(0) as u16, y.max(0) as u16, (s * 37) as u8));
            }
            pts.truncate(80);
            pts
        });
    prop_oneof![4 => with_extras, 1 => wide].prop_map(|pts| pts.into_iter().map(minutia).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_minutiae_are_prepared_exactly_as_the_reference_does(
        m in minutiae_sets(),
        res in prop::sample::select(vec![0u16, 1, 150, 197, 394, u16::MAX]),
        res_y in prop::sample::select(vec![0u16, 197, 250]),
    ) {
        prop_assert_eq!(PreparedFinger::new(&m, res, res_y), reference_prepare(&m, res, res_y));
        prop_assert_eq!(PreparedFinger::new(&m, 197, 197), reference_prepare(&m, 197, 197));
    }
}

#[test]
fn only_collinear_or_coincident_minutiae_match_the_reference() {
    let line: Vec<Minutia> = (0..40u16)
        .map(|i| minutia((20 + 5 * i, 30 + 3 * i, (i * 7) as u8)))
        .collect();
    let same: Vec<Minutia> = (0..30u16).map(|i| minutia((150, 200, i as u8))).collect();
    for m in [&line[..], &same[..], &line[..2], &same[..1], &[]] {
        assert_eq!(
            PreparedFinger::new(m, 197, 197),
            reference_prepare(m, 197, 197)
        );
    }
    assert!(PreparedFinger::new(&line, 197, 197).cylinders() > 0);
}

/// Timing command, not a test: `cargo test --release -p abis-matchers --lib prepare_timing --
/// --ignored --nocapture`. Median over runs of preparing every FVC2002 template, per template.
#[test]
#[ignore]
fn prepare_timing() {
    let Some(views) = fvc_views() else { return };
    let run = |f: &dyn Fn(&[Minutia], u16, u16) -> PreparedFinger| {
        let start = std::time::Instant::now();
        for (_, m, xr, yr) in &views {
            std::hint::black_box(f(std::hint::black_box(m), *xr, *yr));
        }
        start.elapsed().as_secs_f64() * 1e6 / views.len() as f64
    };
    // Rounds alternate the two, so a busy machine slows both alike.
    let (mut reference, mut new): (Vec<f64>, Vec<f64>) = (0..15)
        .map(|_| (run(&reference_prepare), run(&PreparedFinger::new)))
        .unzip();
    reference.sort_by(f64::total_cmp);
    new.sort_by(f64::total_cmp);
    let (r, n) = (reference[reference.len() / 2], new[new.len() / 2]);
    eprintln!(
        "prepare {} FVC2002 templates, us per template, median (min) of {} rounds: \
         reference {r:.1} ({:.1}), new {n:.1} ({:.1}); {:.1}x",
        views.len(),
        new.len(),
        reference[0],
        new[0],
        r / n
    );
}
