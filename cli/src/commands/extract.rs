//! `abis extract RECORD --out FILE`: a biometric image to the template abis searches, and on
//! request a PNG showing what was found.
//!
//! - A finger image (an ISO/IEC 19794-4 record, or a JPEG 2000, WSQ, PNG, JPEG or TIFF file):
//!   an ISO/IEC 19794-2:2005 minutiae template with LEADER; the overlay draws the minutiae. A
//!   record of several views gives one template per finger (`FILE` gets `-<position>` before
//!   its extension).
//! - An iris image (an ISO/IEC 19794-6 record, or an image file with `--modality iris`): the
//!   16 x 200 x 4 iris code at `FILE` and its mask beside it (extension `mask`); the overlay
//!   draws the pupil and iris circles, the eyelids and the masked pixels. A record of both eyes
//!   gives `-left` and `-right` files.
//! - A face image (an ISO/IEC 19794-5 record, or an image file with `--modality face`): dlib's
//!   128-d descriptor as little-endian f32 (the registration manifest's face file); the overlay
//!   draws the face box and the five landmarks.
//! - A CBEFF XML document (MOSIP's, decrypted): every sample, named as above (`-<position>`,
//!   `-left`, `-right`, `-face`).

use abis_extract::{ExtractedFinger, Leader};
use abis_extract_face::FaceExtractor;
use abis_extract_iris::IrisExtractor;
use abis_imaging::iris_record::{self, Eye};
use abis_matchers::finger::format::{self, MinutiaKind, RecordFormat};
use abis_mosip::cbeff::Modality as CbeffModality;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Which modality an input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Modality {
    /// A finger image.
    Finger,
    /// An iris image.
    Iris,
    /// A face image.
    Face,
}

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image record, image file or CBEFF XML document.
    record: PathBuf,
    /// Where to write the template (see the command's description for each modality).
    #[arg(long)]
    out: PathBuf,
    /// Also draw what was found over the image into this PNG (fingers: endings red,
    /// bifurcations blue, a stroke along each direction, at 500 ppi; irises: pupil and iris
    /// circles, eyelids, masked pixels; faces: the box and five landmarks).
    #[arg(long)]
    overlay: Option<PathBuf>,
    /// What a plain image file shows [default: finger; records and CBEFF say it themselves].
    #[arg(long, value_enum)]
    modality: Option<Modality>,
    /// The resolution of a finger image file that states none (pixels per inch).
    #[arg(long)]
    ppi: Option<f32>,
    /// The LEADER model (default: `$ABIS_MODELS/LEADER.onnx`, else the user data folder's
    /// `abis/models/LEADER.onnx`, where `bash scripts/fetch-models.sh` puts it).
    #[arg(long)]
    model: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.record)
        .map_err(|e| crate::BadInput(format!("cannot read {}: {e}", args.record.display())))?;
    let what = args.record.display().to_string();
    let started = Instant::now();
    let mut written = 0;
    if is_xml(&bytes) {
        let samples = abis_mosip::cbeff::samples(&bytes).map_err(crate::bad_input)?;
        let usable = |m: CbeffModality| {
            samples
                .iter()
                .filter(move |s| s.modality == m && !s.exception)
        };
        let mut fingers = Vec::new();
        if usable(CbeffModality::Finger).next().is_some() {
            let leader = load_leader(&args)?;
            for sample in usable(CbeffModality::Finger) {
                let what = format!("{what} sample {:?}", sample.subtype);
                fingers.extend(extract(&leader, &sample.data, &args, &what)?);
            }
        }
        written += write_fingers(&fingers, &args, true)?;
        let irises: Vec<_> = usable(CbeffModality::Iris).collect();
        let faces: Vec<_> = usable(CbeffModality::Face).collect();
        if !irises.is_empty() {
            let extractor = IrisExtractor::default();
            for sample in irises {
                let what = format!("{what} sample {:?}", sample.subtype);
                written += write_irises(&extractor, &sample.data, &args, true, &what)?;
            }
        }
        if let Some(face) = faces.first() {
            written += write_face(&load_faces()?, &face.data, &args, true, &what)?;
        }
        crate::ensure_input!(written > 0, "{what}: no finger, iris or face sample");
    } else {
        let modality = match () {
            _ if iris_record::is_iris_image_record(&bytes) => Modality::Iris,
            _ if abis_imaging::face_record::is_face_image_record(&bytes) => Modality::Face,
            _ if abis_imaging::finger_record::is_finger_image_record(&bytes) => Modality::Finger,
            _ => args.modality.unwrap_or(Modality::Finger),
        };
        written += match modality {
            Modality::Finger => {
                let fingers = extract(&load_leader(&args)?, &bytes, &args, &what)?;
                write_fingers(&fingers, &args, fingers.len() > 1)?
            }
            Modality::Iris => write_irises(&IrisExtractor::default(), &bytes, &args, false, &what)?,
            Modality::Face => write_face(&load_faces()?, &bytes, &args, false, &what)?,
        };
    }
    println!(
        "{written} template(s) in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
}

fn load_leader(args: &Args) -> anyhow::Result<Leader> {
    Ok(match &args.model {
        Some(path) => Leader::load(path)?,
        None => Leader::load_default()?,
    })
}

fn load_faces() -> anyhow::Result<FaceExtractor> {
    Ok(FaceExtractor::load(None)?)
}

/// Writes each finger's template (and overlay); `several` names them by position.
fn write_fingers(fingers: &[ExtractedFinger], args: &Args, several: bool) -> anyhow::Result<usize> {
    for finger in fingers {
        let suffix = finger.position.to_string();
        let out = suffixed(&args.out, &suffix, several);
        let iso = format::write(&finger.record, RecordFormat::Iso19794_2_2005)?;
        std::fs::write(&out, iso)?;
        if let Some(overlay) = &args.overlay {
            std::fs::write(suffixed(overlay, &suffix, several), overlay_png(finger)?)?;
        }
        println!(
            "finger {}: {} minutiae, quality {}, {} x {} at 500 ppi -> {}",
            finger.position,
            finger.minutiae.len(),
            finger.quality,
            finger.image.width,
            finger.image.height,
            out.display()
        );
    }
    Ok(fingers.len())
}

/// Encodes every image of an iris record (or the one image file) and writes code, mask and
/// overlay; `several` (or a record of several images) names them by eye.
fn write_irises(
    extractor: &IrisExtractor,
    bytes: &[u8],
    args: &Args,
    several: bool,
    what: &str,
) -> anyhow::Result<usize> {
    let refuse = |e: abis_extract_iris::IrisError| -> anyhow::Error {
        let message = format!("{what}: {e}");
        match e.is_user_fault() {
            true => crate::BadInput(message).into(),
            false => anyhow::anyhow!(message),
        }
    };
    let images = if iris_record::is_iris_image_record(bytes) {
        let record = iris_record::parse(bytes).map_err(|e| refuse(e.into()))?;
        record
            .images
            .iter()
            .map(|image| Ok((image.eye, image.decode()?)))
            .collect::<Result<Vec<_>, abis_imaging::ImageError>>()
            .map_err(|e| refuse(e.into()))?
    } else {
        vec![(
            Eye::Unknown,
            abis_imaging::decode(bytes).map_err(|e| refuse(e.into()))?,
        )]
    };
    let several = several || images.len() > 1;
    for (eye, image) in &images {
        let started = Instant::now();
        let template = extractor.extract(image).map_err(refuse)?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let out = suffixed(&args.out, eye.name(), several);
        std::fs::write(&out, &template.code)?;
        std::fs::write(out.with_extension("mask"), &template.mask)?;
        if let Some(overlay) = &args.overlay {
            let png =
                abis_extract_iris::overlay_png(image, &template.segmentation).map_err(refuse)?;
            std::fs::write(suffixed(overlay, eye.name(), several), png)?;
        }
        let (s, q) = (&template.segmentation, &template.quality);
        println!(
            "iris {}: pupil ({:.1}, {:.1}) r {:.1}, iris ({:.1}, {:.1}) r {:.1}, usable {:.2}, \
             pupil/iris {:.2}, sharpness {:.0}, {ms:.0} ms -> {} (+ .mask)",
            eye.name(),
            s.pupil.x,
            s.pupil.y,
            s.pupil.r,
            s.iris.x,
            s.iris.y,
            s.iris.r,
            q.usable_fraction,
            q.pupil_iris_ratio,
            q.sharpness,
            out.display()
        );
    }
    Ok(images.len())
}

/// Embeds the face of a face record or image file and writes the descriptor and overlay.
fn write_face(
    extractor: &FaceExtractor,
    bytes: &[u8],
    args: &Args,
    several: bool,
    what: &str,
) -> anyhow::Result<usize> {
    let refuse = |e: abis_extract_face::FaceError| -> anyhow::Error {
        let message = format!("{what}: {e}");
        match e.is_user_fault() {
            true => crate::BadInput(message).into(),
            false => anyhow::anyhow!(message),
        }
    };
    let image = abis_extract_face::decode(bytes).map_err(refuse)?;
    let face = extractor.extract(&image).map_err(refuse)?;
    let out = suffixed(&args.out, "face", several);
    let le: Vec<u8> = face
        .descriptor
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&out, le)?;
    if let Some(overlay) = &args.overlay {
        let png = abis_extract_face::overlay::overlay_png(
            &image,
            face.found.detection.face,
            &face.found.landmarks,
        )
        .map_err(refuse)?;
        std::fs::write(suffixed(overlay, "face", several), png)?;
    }
    let b = face.found.detection.face;
    println!(
        "face: box ({}, {})-({}, {}), detector score {:.1}, front {:.0} ms, descriptor {:.0} ms \
         -> {}",
        b.left,
        b.top,
        b.right,
        b.bottom,
        face.found.detection.score,
        face.timings.front.as_secs_f64() * 1e3,
        face.timings.descriptor.as_secs_f64() * 1e3,
        out.display()
    );
    Ok(1)
}

/// The fingers of one record or image file; a bad input is a bad request (exit 2).
fn extract(
    leader: &Leader,
    bytes: &[u8],
    args: &Args,
    what: &str,
) -> anyhow::Result<Vec<ExtractedFinger>> {
    leader.extract_bytes(bytes, args.ppi).map_err(|e| {
        let message = format!("{what}: {e}");
        if e.is_user_fault() {
            crate::BadInput(message).into()
        } else {
            anyhow::anyhow!(message)
        }
    })
}

fn is_xml(bytes: &[u8]) -> bool {
    let text = bytes.trim_ascii_start();
    text.starts_with(b"<?xml") || text.starts_with(b"<BIR")
}

/// `path` with `-<suffix>` before its extension when there are several outputs.
fn suffixed(path: &Path, suffix: &str, several: bool) -> PathBuf {
    if !several {
        return path.to_path_buf();
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{suffix}"),
    };
    path.with_file_name(name)
}

/// The finger's 500 ppi image with its minutiae drawn on it.
pub fn overlay_png(finger: &ExtractedFinger) -> anyhow::Result<Vec<u8>> {
    let marks: Vec<abis_imaging::Mark> = finger
        .minutiae
        .iter()
        .map(|m| abis_imaging::Mark {
            x: f32::from(m.x),
            y: f32::from(m.y),
            direction: Some(m.direction),
            colour: match m.kind {
                MinutiaKind::RidgeEnding => [230, 30, 30],
                _ => [30, 90, 230],
            },
        })
        .collect();
    Ok(abis_imaging::overlay_png(&finger.image, &marks)?)
}
