//! dlib's `shape_predictor`: an ensemble of regression trees (Kazemi & Sullivan, "One
//! Millisecond Face Alignment with an Ensemble of Regression Trees", CVPR 2014) that places
//! landmarks inside a detection box. abis uses the 5-point model
//! (`shape_predictor_5_face_landmarks.dat`): outer and inner corner of the subject's left eye,
//! of the right eye, and the base of the nose.
//!
//! The file, in dlib's serialisation: a version (1), the initial shape (a column of `2P`
//! floats, points in the unit square of the box), the forests (one per cascade stage, each a
//! list of trees: split features `(idx1, idx2, thresh)` in breadth-first order and one column
//! of `2P` leaf values per leaf), then per stage the anchor landmark of each feature pixel and
//! its offset from that landmark.
//!
//! Prediction, as dlib does it: start from the initial shape; at each stage, find the
//! similarity transform from the initial shape to the current one, place every feature pixel
//! at its anchor landmark plus the transformed offset, map it from the box's unit square to the
//! image, round to the nearest pixel and read its intensity (the mean of red, green and blue,
//! truncated; 0 outside the image); walk each tree (left when `value[idx1] - value[idx2] >
//! thresh`) and add its leaf to the shape. Arithmetic follows dlib's types (the transform's
//! matrix in `f32`, the box mapping in `f64`) so that the points agree with dlib's.

use crate::dlib::Reader;
use crate::{FaceError, Result};
use abis_imaging::RgbImage;

/// The most landmarks a model may have (dlib's largest published model has 194).
const MAX_PARTS: usize = 1_000;
/// The most cascade stages (dlib's models have 10 to 15).
const MAX_CASCADES: usize = 100;
/// The most trees per stage (dlib's default is 500).
const MAX_TREES: usize = 10_000;
/// The most feature pixels per stage (dlib's default is 400 to 500).
const MAX_FEATURES: usize = 100_000;
/// The most splits per tree (depth 16).
const MAX_SPLITS: usize = (1 << 16) - 1;

/// A detection box in pixels, corners included (dlib's `rectangle`): `right - left + 1`
/// pixels wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaceBox {
    /// Leftmost column.
    pub left: i64,
    /// Top row.
    pub top: i64,
    /// Rightmost column (included).
    pub right: i64,
    /// Bottom row (included).
    pub bottom: i64,
}

impl FaceBox {
    /// Width in pixels.
    pub fn width(&self) -> i64 {
        self.right - self.left + 1
    }

    /// Height in pixels.
    pub fn height(&self) -> i64 {
        self.bottom - self.top + 1
    }

    /// Whether `(x, y)` lies inside, edges included.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        let (x, y) = (f64::from(x), f64::from(y));
        x >= self.left as f64
            && x <= self.right as f64
            && y >= self.top as f64
            && y <= self.bottom as f64
    }

    /// A point of the box's unit square in image coordinates (dlib's `unnormalizing_tform`:
    /// (0, 0) is the top-left corner, (1, 1) the bottom-right one).
    fn to_image(self, u: f32, v: f32) -> (f64, f64) {
        (
            self.left as f64 + f64::from(u) * (self.right - self.left) as f64,
            self.top as f64 + f64::from(v) * (self.bottom - self.top) as f64,
        )
    }
}

/// A landmark in image coordinates (pixels; x to the right, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
}

impl Point {
    /// The nearest pixel, as dlib rounds a point (half up).
    pub fn rounded(self) -> Point {
        Point {
            x: (f64::from(self.x) + 0.5).floor() as f32,
            y: (f64::from(self.y) + 0.5).floor() as f32,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Split {
    idx1: u32,
    idx2: u32,
    thresh: f32,
}

#[derive(Debug, Clone)]
struct Tree {
    /// Breadth-first: the children of split `i` are `2i + 1` and `2i + 2`.
    splits: Vec<Split>,
    /// `splits.len() + 1` leaves of `2P` values each, one after the other.
    leaves: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Stage {
    trees: Vec<Tree>,
    anchors: Vec<u32>,
    deltas: Vec<[f32; 2]>,
}

/// dlib's shape predictor, loaded from its `.dat` file.
#[derive(Debug, Clone)]
pub struct ShapePredictor {
    /// `2P` values: x and y of each landmark in the box's unit square.
    initial: Vec<f32>,
    stages: Vec<Stage>,
}

impl ShapePredictor {
    /// Reads a shape predictor serialised by dlib. Every count is bounded and every index
    /// checked against what it indexes, so a corrupt file is a [`FaceError::DataCorruption`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        r.expect_int("shape predictor version", 1)?;
        let at = r.position();
        let initial = r.matrix_f32()?;
        let values = initial.rows;
        if initial.cols != 1 || values == 0 || values % 2 != 0 || values / 2 > MAX_PARTS {
            return Err(corrupt(
                at,
                format!("initial shape of {} x {}", initial.rows, initial.cols),
            ));
        }
        let forests = r.vec(MAX_CASCADES, |r| r.vec(MAX_TREES, |r| read_tree(r, values)))?;
        let parts = (values / 2) as i64;
        let at = r.position();
        let anchors = r.vec(MAX_CASCADES, |r| {
            r.vec(MAX_FEATURES, |r| {
                Ok(r.int_in("anchor landmark", 0, parts - 1)? as u32)
            })
        })?;
        let deltas = r.vec(MAX_CASCADES, |r| {
            r.vec(MAX_FEATURES, |r| Ok([r.f32()?, r.f32()?]))
        })?;
        if anchors.len() != forests.len() || deltas.len() != forests.len() {
            return Err(corrupt(
                at,
                format!(
                    "{} forests, {} anchor lists and {} offset lists",
                    forests.len(),
                    anchors.len(),
                    deltas.len()
                ),
            ));
        }
        let mut stages = Vec::with_capacity(forests.len());
        for (i, ((trees, anchors), deltas)) in
            forests.into_iter().zip(anchors).zip(deltas).enumerate()
        {
            if anchors.len() != deltas.len() {
                return Err(corrupt(
                    at,
                    format!(
                        "stage {i}: {} anchors for {} offsets",
                        anchors.len(),
                        deltas.len()
                    ),
                ));
            }
            let features = anchors.len() as u32;
            let bad = trees
                .iter()
                .flat_map(|t| &t.splits)
                .find(|s| s.idx1 >= features || s.idx2 >= features);
            if let Some(s) = bad {
                return Err(corrupt(
                    at,
                    format!(
                        "stage {i}: a split reads features {} and {} of {features}",
                        s.idx1, s.idx2
                    ),
                ));
            }
            stages.push(Stage {
                trees,
                anchors,
                deltas,
            });
        }
        if !r.is_at_end() {
            return Err(corrupt(
                r.position(),
                format!("{} bytes after the model", r.remaining()),
            ));
        }
        Ok(Self {
            initial: initial.data,
            stages,
        })
    }

    /// Number of landmarks the model places.
    pub fn parts(&self) -> usize {
        self.initial.len() / 2
    }

    /// The landmarks of the face in `face` (a detection box) of `image`.
    pub fn predict(&self, image: &RgbImage, face: FaceBox) -> Vec<Point> {
        let mut shape = self.initial.clone();
        let mut pixels = Vec::new();
        for stage in &self.stages {
            let m = similarity_matrix(&self.initial, &shape);
            pixels.clear();
            pixels.extend(stage.anchors.iter().zip(&stage.deltas).map(|(&a, d)| {
                let a = 2 * a as usize;
                let u = (m[0] * d[0] + m[1] * d[1]) + shape[a];
                let v = (m[2] * d[0] + m[3] * d[1]) + shape[a + 1];
                let (x, y) = face.to_image(u, v);
                intensity(image, (x + 0.5).floor(), (y + 0.5).floor())
            }));
            for tree in &stage.trees {
                let leaf = tree.leaf(&pixels, shape.len());
                for (s, l) in shape.iter_mut().zip(leaf) {
                    *s += *l;
                }
            }
        }
        shape
            .chunks_exact(2)
            .map(|p| {
                let (x, y) = face.to_image(p[0], p[1]);
                Point {
                    x: x as f32,
                    y: y as f32,
                }
            })
            .collect()
    }
}

impl Tree {
    fn leaf<'a>(&'a self, pixels: &[f32], values: usize) -> &'a [f32] {
        let mut i = 0;
        while let Some(s) = self.splits.get(i) {
            // Indices were checked against the stage's feature count at load.
            i = if pixels[s.idx1 as usize] - pixels[s.idx2 as usize] > s.thresh {
                2 * i + 1
            } else {
                2 * i + 2
            };
        }
        let leaf = i - self.splits.len();
        &self.leaves[leaf * values..(leaf + 1) * values]
    }
}

fn corrupt(offset: usize, reason: String) -> FaceError {
    FaceError::DataCorruption { offset, reason }
}

fn read_tree(r: &mut Reader, values: usize) -> Result<Tree> {
    let splits = r.vec(MAX_SPLITS, |r| {
        let idx1 = r.int_in("split feature", 0, u32::MAX.into())? as u32;
        let idx2 = r.int_in("split feature", 0, u32::MAX.into())? as u32;
        let thresh = r.f32()?;
        Ok(Split { idx1, idx2, thresh })
    })?;
    let at = r.position();
    let count = r.len(MAX_SPLITS + 1)?;
    if count != splits.len() + 1 {
        return Err(corrupt(
            at,
            format!("a tree of {} splits with {count} leaves", splits.len()),
        ));
    }
    let mut leaves = Vec::with_capacity(count.min(r.remaining()) * values);
    for _ in 0..count {
        let at = r.position();
        let leaf = r.matrix_f32()?;
        if leaf.rows != values || leaf.cols != 1 {
            return Err(corrupt(
                at,
                format!(
                    "a leaf of {} x {} for {values} values",
                    leaf.rows, leaf.cols
                ),
            ));
        }
        leaves.extend_from_slice(&leaf.data);
    }
    Ok(Tree { splits, leaves })
}

/// The linear part of the least-squares similarity transform taking `from` to `to` (both `2P`
/// interleaved points), row-major, rounded to `f32` as dlib's `find_tform_between_shapes` is.
/// Umeyama's solution restricted to rotation and uniform scale has this closed form: with the
/// centred points `a` (from) and `b` (to), `[[p, -q], [q, p]]`, `p = Σ a·b / Σ|a|²`,
/// `q = Σ a×b / Σ|a|²`. One landmark, or all landmarks on one spot, gives the identity.
pub(crate) fn similarity_matrix(from: &[f32], to: &[f32]) -> [f32; 4] {
    let n = from.len() / 2;
    if n <= 1 {
        return [1.0, 0.0, 0.0, 1.0];
    }
    let mean = |s: &[f32]| {
        let (x, y) = s.chunks_exact(2).fold((0.0, 0.0), |(x, y), p| {
            (x + f64::from(p[0]), y + f64::from(p[1]))
        });
        (x / n as f64, y / n as f64)
    };
    let (fx, fy) = mean(from);
    let (tx, ty) = mean(to);
    let (mut norm, mut dot, mut cross) = (0.0, 0.0, 0.0);
    for (a, b) in from.chunks_exact(2).zip(to.chunks_exact(2)) {
        let (ax, ay) = (f64::from(a[0]) - fx, f64::from(a[1]) - fy);
        let (bx, by) = (f64::from(b[0]) - tx, f64::from(b[1]) - ty);
        norm += ax * ax + ay * ay;
        dot += ax * bx + ay * by;
        cross += ax * by - ay * bx;
    }
    if norm == 0.0 {
        return [1.0, 0.0, 0.0, 1.0];
    }
    let (p, q) = ((dot / norm) as f32, (cross / norm) as f32);
    [p, -q, q, p]
}

/// dlib's intensity of an RGB pixel (the truncated mean of the channels), 0 outside the image.
fn intensity(image: &RgbImage, x: f64, y: f64) -> f32 {
    if x < 0.0 || y < 0.0 || x >= f64::from(image.width) || y >= f64::from(image.height) {
        return 0.0;
    }
    let i = 3 * (y as usize * image.width as usize + x as usize);
    let p = &image.pixels[i..i + 3];
    ((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_similarity_of_a_rotated_scaled_shifted_shape_is_found() {
        let from = [0.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let (s, t) = (2.0f32, 0.3f32);
        let (c, n) = (s * t.cos(), s * t.sin());
        let to: Vec<f32> = from
            .chunks_exact(2)
            .flat_map(|p| [c * p[0] - n * p[1] + 5.0, n * p[0] + c * p[1] - 3.0])
            .collect();
        let m = similarity_matrix(&from, &to);
        for (got, want) in m.iter().zip([c, -n, n, c]) {
            assert!((got - want).abs() < 1e-5, "{m:?}");
        }
        assert_eq!(
            similarity_matrix(&[1.0, 2.0], &[3.0, 4.0]),
            [1.0, 0.0, 0.0, 1.0]
        );
        assert_eq!(
            similarity_matrix(&[1.0, 1.0, 1.0, 1.0], &[0.0, 0.0, 3.0, 3.0]),
            [1.0, 0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn truncated_or_altered_models_are_refused() {
        // Version 2 does not exist.
        let err = ShapePredictor::from_bytes(&[0x01, 0x02]).unwrap_err();
        assert!(matches!(err, FaceError::DataCorruption { .. }), "{err}");
        // Version 1, then nothing.
        let err = ShapePredictor::from_bytes(&[0x01, 0x01]).unwrap_err();
        assert!(matches!(err, FaceError::DataCorruption { .. }), "{err}");
        // An odd initial shape (3 x 1).
        let err = ShapePredictor::from_bytes(&[0x01, 0x01, 0x81, 0x03, 0x81, 0x01]).unwrap_err();
        assert!(matches!(err, FaceError::DataCorruption { .. }), "{err}");
    }
}
