//! DET and CMC plots of `abis eval`, drawn with plotters into SVG and PNG.
//!
//! One generic drawing function serves both backends, so the SVG and the PNG are the same
//! picture. plotters is built without its default features: its text is laid out by
//! `ab_glyph` from a TrueType font read at run time (the file `ABIS_PLOT_FONT` names, else
//! DejaVu Sans or Liberation Sans where Linux distributions install them; Debian:
//! `fonts-dejavu-core`). Axis
//! labels cannot be placed without a font, in either format, so with none found the plots are
//! skipped with a warning and every other output is still written.
//!
//! DET: FNMR against FMR, both on log axes (the rates that matter differ by decades). A log
//! axis cannot show 0: the axes start one decade at or below the smallest non-zero rate of any
//! curve (the score sets' resolution), and a rate of 0 is drawn on that edge, so a curve with
//! no errors at some operating points runs along the border instead of vanishing. CMC:
//! identification rate against rank, linear axes.

use abis_datasets::fvc::DetPoint;
use anyhow::anyhow;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// How to read a DET plot of this module, for reports.
pub const DET_NOTE: &str = "DET: both axes log scale; a rate of 0 cannot sit on a log axis and \
     is drawn on the axis edge, so a curve running along the bottom or left border made no \
     error there at the resolution of its score set (1 / comparisons).";

/// Where a font is looked for, after `ABIS_PLOT_FONT`.
const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

const FAMILY: &str = "sans-serif";
const WIDTH: u32 = 1000;
const HEIGHT: u32 = 750;

/// Loads and registers the plot font once; the path it came from, or why there is none.
fn font() -> &'static Result<PathBuf, String> {
    static FONT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FONT.get_or_init(|| {
        // A font named by the user is the only candidate: no silent fallback to another.
        let candidates: Vec<PathBuf> = match std::env::var_os("ABIS_PLOT_FONT") {
            Some(p) => vec![PathBuf::from(p)],
            None => FONT_PATHS.iter().map(PathBuf::from).collect(),
        };
        for path in candidates {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            // plotters keeps registered fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                return Ok(path);
            }
        }
        Err(match std::env::var_os("ABIS_PLOT_FONT") {
            Some(p) => format!(
                "ABIS_PLOT_FONT={} is not a readable TrueType font",
                PathBuf::from(p).display()
            ),
            None => format!(
                "no TrueType font found (set ABIS_PLOT_FONT, or install fonts-dejavu-core: {})",
                FONT_PATHS[0]
            ),
        })
    })
}

/// One named curve.
#[derive(Debug, Clone)]
pub struct Curve {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points in drawing order.
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    /// A DET curve (x = FMR, y = FNMR) from [`abis_datasets::fvc::det_curve`]'s points.
    pub fn det(name: &str, points: &[DetPoint]) -> Self {
        Self {
            name: name.to_string(),
            points: points.iter().map(|p| (p.fmr, p.fnmr)).collect(),
        }
    }

    /// The curve with every coordinate raised to at least the axes' start (zero rates on
    /// the edge of a log plot).
    fn clamped(&self, x_min: f64, y_min: f64) -> Self {
        Self {
            name: self.name.clone(),
            points: self
                .points
                .iter()
                .map(|&(x, y)| (x.max(x_min), y.max(y_min)))
                .collect(),
        }
    }
}

/// Axes of a plot.
struct Axes {
    title: String,
    x_label: &'static str,
    y_label: &'static str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
}

/// The largest power of ten at or below the smallest positive coordinate (at least `1e-6`).
fn log_floor(curves: &[Curve], pick: fn(&(f64, f64)) -> f64) -> f64 {
    let min = curves
        .iter()
        .flat_map(|c| c.points.iter().map(pick))
        .filter(|&v| v > 0.0)
        .fold(1.0f64, f64::min);
    10f64.powf(min.log10().floor()).clamp(1e-6, 0.1)
}

/// The bottom of a CMC plot whose lowest rate is `lo`: zoomed so close curves stay apart, on
/// a round span (0.5%, 1%, 2%, 5%, 10%, ... below 100%) with room under the lowest point.
fn cmc_bottom(lo: f64) -> f64 {
    let need = (1.0 - lo) * 1.5 + 0.002;
    let span = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
        .into_iter()
        .find(|&s| s >= need)
        .unwrap_or(1.0);
    1.0 - span
}

/// A percentage label with as many decimals as the axis span needs.
fn pct_tick(v: f64, span: f64) -> String {
    let digits = if span <= 0.011 {
        2
    } else if span <= 0.11 {
        1
    } else {
        0
    };
    format!("{:.digits$}%", v * 100.0)
}

/// A percentage label that shows small rates without trailing noise.
fn pct_label(v: f64) -> String {
    let p = v * 100.0;
    if p >= 1.0 {
        format!("{p:.0}%")
    } else {
        let digits = (-p.log10()).ceil().max(0.0) as usize;
        format!("{p:.digits$}%")
    }
}

/// Distinct colours that stay readable on white (no yellow).
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn style(i: usize, n: usize) -> ShapeStyle {
    // The last curve is the pool (or the fused search): black and thicker.
    if i + 1 == n && n > 1 {
        BLACK.stroke_width(3)
    } else {
        COLOURS[i % COLOURS.len()].stroke_width(2)
    }
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e}")
}

/// A white canvas with the title and room for the axis labels.
fn frame<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    axes: &'b Axes,
) -> anyhow::Result<ChartBuilder<'a, 'b, DB>> {
    root.fill(&WHITE).map_err(err)?;
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(&axes.title, (FAMILY, 26))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90);
    Ok(builder)
}

/// Draws the curves and the legend.
fn curves_and_legend<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    curves: &[Curve],
    legend_at: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, c) in curves.iter().enumerate() {
        let s = style(i, curves.len());
        chart
            .draw_series(LineSeries::new(c.points.iter().copied(), s))
            .map_err(err)?
            .label(&c.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], s));
    }
    chart
        .configure_series_labels()
        .position(legend_at)
        .label_font((FAMILY, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// The grid, the tick labels (y as percentages) and the axis descriptions.
fn mesh<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    axes: &Axes,
    x_labels: usize,
    x_format: &dyn Fn(&f64) -> String,
    y_format: &dyn Fn(&f64) -> String,
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(axes.x_label)
        .y_desc(axes.y_label)
        .axis_desc_style((FAMILY, 20))
        .label_style((FAMILY, 16))
        .x_labels(x_labels)
        .x_label_formatter(x_format)
        .y_label_formatter(y_format)
        .draw()
        .map_err(err)
}

fn draw_det<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    axes: &Axes,
    curves: &[Curve],
) -> anyhow::Result<()> {
    let mut chart = frame(&root, axes)?
        .build_cartesian_2d(axes.x.clone().log_scale(), axes.y.clone().log_scale())
        .map_err(err)?;
    mesh(&mut chart, axes, 10, &|v| pct_label(*v), &|v| pct_label(*v))?;
    // The EER line FMR = FNMR, as a guide.
    let lo = axes.x.start.max(axes.y.start);
    chart
        .draw_series(LineSeries::new(
            [(lo, lo), (1.0, 1.0)],
            BLACK.mix(0.3).stroke_width(1),
        ))
        .map_err(err)?
        .label("FMR = FNMR")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.3)));
    let shown: Vec<Curve> = curves
        .iter()
        .map(|c| c.clamped(axes.x.start, axes.y.start))
        .collect();
    curves_and_legend(&mut chart, &shown, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(err)
}

fn draw_cmc<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    axes: &Axes,
    curves: &[Curve],
) -> anyhow::Result<()> {
    let mut chart = frame(&root, axes)?
        .build_cartesian_2d(axes.x.clone(), axes.y.clone())
        .map_err(err)?;
    let span = axes.y.end - axes.y.start;
    mesh(&mut chart, axes, 20, &|v| format!("{v:.0}"), &|v| {
        pct_tick(*v, span)
    })?;
    for (i, c) in curves.iter().enumerate() {
        let s = style(i, curves.len()).filled();
        chart
            .draw_series(c.points.iter().map(|&p| Circle::new(p, 3, s)))
            .map_err(err)?;
    }
    curves_and_legend(&mut chart, curves, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(err)
}

/// Which picture to draw.
#[derive(Clone, Copy)]
enum Kind {
    Det,
    Cmc,
}

fn draw<DB: DrawingBackend>(
    kind: Kind,
    root: DrawingArea<DB, Shift>,
    axes: &Axes,
    curves: &[Curve],
) -> anyhow::Result<()> {
    match kind {
        Kind::Det => draw_det(root, axes, curves),
        Kind::Cmc => draw_cmc(root, axes, curves),
    }
}

/// Writes `<stem>.svg` and `<stem>.png` in `dir`; returns the files written, or a warning
/// (and no file) when no font is available.
fn write_both(
    dir: &Path,
    stem: &str,
    axes: &Axes,
    curves: &[Curve],
    kind: Kind,
) -> anyhow::Result<Vec<PathBuf>> {
    if let Err(why) = font() {
        eprintln!("warning: {stem}.svg and {stem}.png not drawn: {why}");
        return Ok(Vec::new());
    }
    let (svg_path, png_path) = (
        dir.join(format!("{stem}.svg")),
        dir.join(format!("{stem}.png")),
    );
    draw(
        kind,
        SVGBackend::new(&svg_path, (WIDTH, HEIGHT)).into_drawing_area(),
        axes,
        curves,
    )?;
    draw(
        kind,
        BitMapBackend::new(&png_path, (WIDTH, HEIGHT)).into_drawing_area(),
        axes,
        curves,
    )?;
    Ok(vec![svg_path, png_path])
}

/// Draws a DET plot (FNMR against FMR, log-log) of `curves` into `<dir>/<stem>.{svg,png}`.
pub fn det(dir: &Path, stem: &str, title: &str, curves: &[Curve]) -> anyhow::Result<Vec<PathBuf>> {
    let axes = Axes {
        title: title.to_string(),
        x_label: "FMR (false match rate), log scale",
        y_label: "FNMR (false non-match rate), log scale",
        x: log_floor(curves, |p| p.0)..1.0,
        y: log_floor(curves, |p| p.1)..1.0,
    };
    write_both(dir, stem, &axes, curves, Kind::Det)
}

/// Draws a CMC plot (identification rate against rank) into `<dir>/<stem>.{svg,png}`; each
/// curve's points are `(rank, rate)`.
pub fn cmc(dir: &Path, stem: &str, title: &str, curves: &[Curve]) -> anyhow::Result<Vec<PathBuf>> {
    let (lo, hi) = curves
        .iter()
        .flat_map(|c| c.points.iter())
        .fold((1.0f64, 1usize), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.0 as usize))
        });
    let bottom = cmc_bottom(lo);
    let axes = Axes {
        title: title.to_string(),
        x_label: "rank",
        y_label: "identification rate (mate at or above rank)",
        x: 0.5..hi as f64 + 0.5,
        // A little headroom, so curves at 100% stay off the frame.
        y: bottom..1.0 + (1.0 - bottom) * 0.02,
    };
    write_both(dir, stem, &axes, curves, Kind::Cmc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmc_axes_zoom_on_round_spans() {
        assert!((cmc_bottom(0.9985) - 0.995).abs() < 1e-12);
        assert!((cmc_bottom(0.90) - 0.8).abs() < 1e-12);
        assert_eq!(cmc_bottom(0.2), 0.0);
        assert_eq!(pct_tick(0.9975, 0.005), "99.75%");
        assert_eq!(pct_tick(0.975, 0.05), "97.5%");
        assert_eq!(pct_tick(0.9, 0.2), "90%");
    }

    #[test]
    fn percent_labels_keep_the_significant_digit() {
        assert_eq!(pct_label(0.5), "50%");
        assert_eq!(pct_label(0.01), "1%");
        assert_eq!(pct_label(0.001), "0.1%");
        assert_eq!(pct_label(0.0001), "0.01%");
    }

    #[test]
    fn zero_rates_are_drawn_on_the_edge_of_the_log_axes() {
        let pts = abis_datasets::fvc::det_curve(&[0.5, 0.9], &[0.1, 0.6]);
        let c = Curve::det("x", &pts);
        assert_eq!(c.points.len(), 5);
        // The smallest non-zero rate is 0.5 on both axes: the axes start at 0.1.
        let (x0, y0) = (
            log_floor(std::slice::from_ref(&c), |p| p.0),
            log_floor(std::slice::from_ref(&c), |p| p.1),
        );
        assert_eq!((x0, y0), (0.1, 0.1));
        let shown = c.clamped(x0, y0);
        assert_eq!(
            shown.points,
            [(1.0, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5), (0.1, 1.0)]
        );
    }

    #[test]
    fn both_files_are_written_with_labels_when_a_font_exists() {
        let dir = tempfile::tempdir().unwrap();
        let curve = Curve {
            name: "DB-test".into(),
            points: vec![(0.001, 0.2), (0.01, 0.05), (0.1, 0.01)],
        };
        let written = det(dir.path(), "det", "title", &[curve]).unwrap();
        if font().is_err() {
            eprintln!("SKIP: no font, plots not drawn");
            assert!(written.is_empty());
            return;
        }
        assert_eq!(written.len(), 2);
        let svg = std::fs::read_to_string(dir.path().join("det.svg")).unwrap();
        assert!(svg.contains("FMR (false match rate)") && svg.contains("DB-test"));
        let png = std::fs::read(dir.path().join("det.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
