//! Iris codes from iris images, with the classical pipeline: no learned model, every step a
//! published method with its parameters named where they are used.
//!
//! 1. **Highlights** (`specular`): the illuminators' reflections found by a white top-hat and
//!    filled from their surroundings, so they neither split the pupil nor make false edges.
//! 2. **Pupil** (`pupil`): the darkest round blob over rising thresholds (connected components and
//!    second moments), its boundary a robust circle fit to the strongest dark-to-bright steps
//!    along rays. No such blob: [`IrisError::NoPupil`].
//! 3. **Limbus** (`limbus`): Daugman's integro-differential operator searched on the lateral arcs
//!    only (full circles lock onto the eyelids). No boundary: [`IrisError::NoLimbus`].
//! 4. **Eyelids** (`eyelids`): parabolas found by the same operator inside the iris ring; kept
//!    when their step is comparable to the limbus's. Then the noise mask ([`Segmentation`]):
//!    eyelids, eyelashes (darker than a third of the way from pupil to iris), highlights and
//!    saturated pixels.
//! 5. **Normalisation** ([`normalise`]): Daugman's rubber sheet to 128 x 600, angle columns with
//!    a fixed origin and direction, so an in-plane rotation of the eye is a circular column shift,
//!    which the engine's rotation search undoes.
//! 6. **Encoding** ([`encode`]): two 2-D Gabor wavelets with open-iris's published parameters,
//!    phase signs at 16 x 200 cells, in `IrisLayout::OPEN_IRIS_12800` (bit
//!    `(row * 200 + col) * 4 + b`, MSB first; mask bit 1 = valid, real and imaginary alike).
//! 7. **Quality** ([`Quality`], [`QualityGate`]): usable fraction, pupil/iris ratio, iris size,
//!    sharpness, with published floors; a capture below one is [`IrisError::Unusable`] naming it.
//!
//! [`overlay_png`] draws a segmentation for people to check. Images come in as
//! [`abis_imaging::GreyImage`]; ISO/IEC 19794-6 records through
//! [`IrisExtractor::extract_record`]. OpenCV (imgproc) does the morphology, connected
//! components, smoothing and drawing; the searches, the rubber sheet and the filters are here.

mod encode;
mod error;
mod eyelids;
mod geometry;
mod limbus;
mod normalise;
mod overlay;
mod pupil;
mod quality;
mod raster;
mod segment;
mod specular;

pub use encode::{encode, CODE_COLS, CODE_ROWS};
pub use error::{IrisError, Measure, Result};
pub use geometry::{Circle, Parabola};
pub use normalise::{normalise, NormalisedIris, STRIP_COLS, STRIP_ROWS};
pub use overlay::overlay_png;
pub use quality::{Quality, QualityGate};
pub use segment::{segment, Segmentation};

use abis_imaging::iris_record::{self, Eye};
use abis_imaging::GreyImage;
use abis_matchers::iris::IrisLayout;

/// The layout of the codes made here: 16 x 200 x 4 bits (two wavelets, real and imaginary sign).
pub const LAYOUT: IrisLayout = IrisLayout::OPEN_IRIS_12800;

/// An iris code with its mask, how it was found and how good it is.
#[derive(Debug, Clone, PartialEq)]
pub struct IrisTemplate {
    /// The code, [`LAYOUT`]`.code_bytes()` long.
    pub code: Vec<u8>,
    /// The mask (1 = valid), as long as the code.
    pub mask: Vec<u8>,
    /// The segmentation the code was made from.
    pub segmentation: Segmentation,
    /// The capture's quality.
    pub quality: Quality,
}

/// Segments, encodes and assesses `image` without refusing anything on quality.
pub fn analyse(image: &GreyImage) -> Result<IrisTemplate> {
    let segmentation = segment(image)?;
    let strip = normalise(image, &segmentation);
    let (code, mask) = encode(&strip);
    let quality = quality::measure(image, &segmentation, &mask)?;
    Ok(IrisTemplate {
        code,
        mask,
        segmentation,
        quality,
    })
}

/// Iris images in, iris codes out, through a quality gate.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IrisExtractor {
    /// The floors a capture must meet.
    pub gate: QualityGate,
}

impl IrisExtractor {
    /// An extractor with this gate.
    pub fn new(gate: QualityGate) -> Self {
        Self { gate }
    }

    /// The template of `image`, or why there is none (no pupil, no limbus, below a floor).
    pub fn extract(&self, image: &GreyImage) -> Result<IrisTemplate> {
        let template = analyse(image)?;
        self.gate.check(&template.quality)?;
        Ok(template)
    }

    /// The template of the `eye` iris in `bytes`: an ISO/IEC 19794-6 record (its image of that
    /// eye, or its only image when that is of an unknown eye or of this one) or an image file
    /// (PNG, JPEG, JPEG 2000) of one eye. This is what a service does with an iris image it is
    /// sent.
    pub fn extract_bytes(&self, bytes: &[u8], eye: Eye) -> Result<IrisTemplate> {
        if !iris_record::is_iris_image_record(bytes) {
            return self.extract(&abis_imaging::decode(bytes)?);
        }
        let record = iris_record::parse(bytes)?;
        let of_eye: Vec<_> = record.images.iter().filter(|i| i.eye == eye).collect();
        let image = match (of_eye.as_slice(), record.images.as_slice()) {
            ([first, ..], _) => first,
            (_, [only]) if only.eye == Eye::Unknown => only,
            _ => {
                let held: Vec<_> = record.images.iter().map(|i| i.eye.name()).collect();
                return Err(IrisError::NoSuchEye {
                    wanted: eye.name(),
                    held: held.join(", "),
                });
            }
        };
        self.extract(&image.decode()?)
    }

    /// The templates of every image of an ISO/IEC 19794-6 record, with their eyes, in record
    /// order; the first image that fails fails the record.
    pub fn extract_record(&self, bytes: &[u8]) -> Result<Vec<(Eye, IrisTemplate)>> {
        let record = iris_record::parse(bytes)?;
        record
            .images
            .iter()
            .map(|image| Ok((image.eye, self.extract(&image.decode()?)?)))
            .collect()
    }
}
