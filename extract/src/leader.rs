//! The LEADER network, loaded once and run by tract with one optimised plan per input size.

use crate::error::{ExtractError, Result};
use crate::image::{padded_input, GreyImage, Padding};
use crate::minutiae::{channel, ExtractOptions, LeaderOutput, Minutia};
use crate::models::default_leader_path;
use crate::rewrite::{prepare, RewriteReport};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tract_onnx::prelude::*;

/// Plans kept at most (sizes differ by 32-pixel steps: a scanner's images share one or two).
const MAX_PLANS: usize = 16;

/// An optimised plan for one concrete input shape.
type Plan = Arc<TypedRunnableModel>;

/// LEADER, ready to run.
///
/// tract optimises a graph best when every shape is concrete (convolutions pick their kernels
/// and memory layout for it), so the model is kept as loaded (symbolic sizes) and an optimised
/// plan is made per padded input size on first use and cached: a batch of same-size images
/// pays the optimisation (a few hundred milliseconds) once. The cache is keyed by the padded
/// size, so e.g. every image from 353 to 384 pixels wide shares one plan, and holds at most
/// [`MAX_PLANS`] (emptied when full).
///
/// Runs on the calling thread (tract's default executor is single-threaded); parallelism
/// belongs to the caller, and `Leader` is `Sync`, so one instance can serve many threads.
pub struct Leader {
    model: InferenceModel,
    path: PathBuf,
    rewrite: RewriteReport,
    /// Plans by padded (height, width). Held while a plan is optimised, so two threads asking
    /// for the same new size do the work once.
    plans: Mutex<HashMap<(usize, usize), Plan>>,
}

impl std::fmt::Debug for Leader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leader")
            .field("path", &self.path)
            .field("rewrite", &self.rewrite)
            .finish_non_exhaustive()
    }
}

impl Leader {
    /// Loads `LEADER.onnx` from the default models folder ([`crate::models_dir`]).
    pub fn load_default() -> Result<Self> {
        Self::load(default_leader_path().ok_or(ExtractError::NoModelsDir)?)
    }

    /// Loads the LEADER ONNX file at `path` and applies the load-time rewrites
    /// ([`crate::rewrite`]) in memory.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ExtractError::ModelMissing { path: path.into() },
            _ => ExtractError::ModelUnreadable {
                path: path.into(),
                source,
            },
        })?;
        let mut onnx = tract_onnx::onnx();
        crate::ops::register(&mut onnx);
        let mut proto = onnx
            .proto_model_for_read(&mut bytes.as_slice())
            .map_err(|e| ExtractError::DataCorruption(format!("{}: {e}", path.display())))?;
        let graph = proto
            .graph
            .as_mut()
            .ok_or_else(|| ExtractError::DataCorruption(format!("{}: no graph", path.display())))?;
        let rewrite = prepare(graph)?;
        if rewrite.upsamplings == 0 || rewrite.tiles_left > 0 {
            return Err(ExtractError::DataCorruption(format!(
                "{}: {} upsampling layers rewritten, {} Tile nodes left; this is not the \
                 LEADER export the rewrite was written for",
                path.display(),
                rewrite.upsamplings,
                rewrite.tiles_left
            )));
        }
        let model =
            onnx.model_for_proto_model(&proto)
                .map_err(|source| ExtractError::Inference {
                    stage: "load the rewritten LEADER graph",
                    source,
                })?;
        Ok(Leader {
            model,
            path: path.into(),
            rewrite,
            plans: Mutex::new(HashMap::new()),
        })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the load-time rewrite changed.
    pub fn rewrite_report(&self) -> RewriteReport {
        self.rewrite
    }

    /// The minutiae of a 500 ppi image with the default options (threshold 0.6, at most 120).
    pub fn extract(&self, image: GreyImage<'_>) -> Result<Vec<Minutia>> {
        self.extract_with(image, &ExtractOptions::default())
    }

    /// The minutiae of a 500 ppi image, best first, on the image's pixel grid.
    pub fn extract_with(
        &self,
        image: GreyImage<'_>,
        options: &ExtractOptions,
    ) -> Result<Vec<Minutia>> {
        Ok(self.infer(image)?.minutiae(options))
    }

    /// Runs the network on a 500 ppi image: the four output channels on the image's grid (the
    /// padding cropped off).
    pub fn infer(&self, image: GreyImage<'_>) -> Result<LeaderOutput> {
        let padding = Padding::centred(image.width(), image.height());
        let plan = self.plan(padding.height, padding.width)?;
        let input = Tensor::from_shape(
            &[1, padding.height, padding.width, 1],
            &padded_input(&image, padding),
        )
        .map_err(|source| ExtractError::Inference {
            stage: "make the input tensor",
            source,
        })?;
        let outputs = plan
            .run(tvec![input.into()])
            .map_err(|source| ExtractError::Inference {
                stage: "run LEADER",
                source,
            })?;
        let output =
            outputs[0]
                .to_plain_array_view::<f32>()
                .map_err(|source| ExtractError::Inference {
                    stage: "read LEADER's output",
                    source,
                })?;
        let expected = [1, padding.height, padding.width, channel::COUNT];
        if output.shape() != expected {
            return Err(ExtractError::DataCorruption(format!(
                "LEADER's output has shape {:?}, expected {expected:?}",
                output.shape()
            )));
        }
        // Crop the padding: one contiguous run of width * COUNT values per image row.
        let flat = output
            .as_slice()
            .ok_or_else(|| ExtractError::DataCorruption("non-contiguous output".into()))?;
        let row = padding.width * channel::COUNT;
        let mut values = Vec::with_capacity(image.width() * image.height() * channel::COUNT);
        for y in padding.top..padding.top + image.height() {
            let start = y * row + padding.left * channel::COUNT;
            values.extend_from_slice(&flat[start..start + image.width() * channel::COUNT]);
        }
        Ok(LeaderOutput {
            width: image.width(),
            height: image.height(),
            values,
        })
    }

    /// The optimised plan for a padded input of `height x width`, made on first use.
    fn plan(&self, height: usize, width: usize) -> Result<Plan> {
        // A poisoned lock only means another thread panicked while optimising; the map itself
        // is never left half-updated, so carry on with it.
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = plans.get(&(height, width)) {
            return Ok(plan.clone());
        }
        let plan = self
            .model
            .clone()
            .with_input_fact(0, f32::fact([1, height, width, 1]).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|source| ExtractError::Inference {
                stage: "optimise LEADER for this image size",
                source,
            })?;
        // Bounded: a caller sending images of ever new sizes must not grow the cache without
        // end. Any plan may go (it is remade on its next use); those in use live on in their
        // callers' `Arc`s.
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert((height, width), plan.clone());
        Ok(plan)
    }
}
