//! `abis extract RECORD --out FILE`: a finger image (an ISO/IEC 19794-4 record, or a JPEG 2000,
//! WSQ, PNG, JPEG or TIFF file) to an ISO/IEC 19794-2:2005 minutiae template with LEADER, and
//! on request a PNG of the minutiae over the image. A record of several views, or a CBEFF XML
//! document (MOSIP's, decrypted) of several finger samples, gives one template per finger
//! (`FILE` gets `-<position>` before its extension).

use abis_extract::{ExtractedFinger, Leader};
use abis_matchers::finger::format::{self, MinutiaKind, RecordFormat};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The finger image record or image file.
    record: PathBuf,
    /// Where to write the ISO/IEC 19794-2:2005 template.
    #[arg(long)]
    out: PathBuf,
    /// Also draw the minutiae over the image (at 500 ppi) into this PNG: endings red,
    /// bifurcations blue, a stroke along each direction.
    #[arg(long)]
    overlay: Option<PathBuf>,
    /// The resolution of an image file that states none (pixels per inch).
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
    let leader = match &args.model {
        Some(path) => Leader::load(path)?,
        None => Leader::load_default()?,
    };
    let started = Instant::now();
    let fingers = if is_xml(&bytes) {
        cbeff_fingers(&leader, &bytes, &args)?
    } else {
        extract(&leader, &bytes, &args, &args.record.display().to_string())?
    };
    let elapsed = started.elapsed();
    let several = fingers.len() > 1;
    for finger in &fingers {
        let out = numbered(&args.out, finger.position, several);
        let iso = format::write(&finger.record, RecordFormat::Iso19794_2_2005)?;
        std::fs::write(&out, iso)?;
        if let Some(overlay) = &args.overlay {
            let path = numbered(overlay, finger.position, several);
            std::fs::write(&path, overlay_png(finger)?)?;
        }
        println!(
            "position {}: {} minutiae, quality {}, {} x {} at 500 ppi -> {}",
            finger.position,
            finger.minutiae.len(),
            finger.quality,
            finger.image.width,
            finger.image.height,
            out.display()
        );
    }
    println!(
        "{} finger(s) in {:.0} ms",
        fingers.len(),
        elapsed.as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
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

/// Every finger sample of a CBEFF document, each view at the sample's finger position.
fn cbeff_fingers(leader: &Leader, xml: &[u8], args: &Args) -> anyhow::Result<Vec<ExtractedFinger>> {
    let samples = abis_mosip::cbeff::samples(xml).map_err(crate::bad_input)?;
    let mut fingers = Vec::new();
    for sample in samples
        .iter()
        .filter(|s| s.modality == abis_mosip::cbeff::Modality::Finger)
    {
        if sample.exception {
            continue;
        }
        let what = format!("{} sample {:?}", args.record.display(), sample.subtype);
        fingers.extend(extract(leader, &sample.data, args, &what)?);
    }
    crate::ensure_input!(
        !fingers.is_empty(),
        "{}: no finger sample",
        args.record.display()
    );
    Ok(fingers)
}

/// `path` with `-<position>` before its extension when a record holds several views.
fn numbered(path: &Path, position: u8, several: bool) -> PathBuf {
    if !several {
        return path.to_path_buf();
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{position}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{position}"),
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
