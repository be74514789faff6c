//! `abis demo`: the main job on the embedded default.
//!
//! 1. Enrol a synthetic population (calibrated irises and faces, a few people missing a
//!    modality) into a local gallery, in durable batches.
//! 2. Build a de-dup batch of applicants: planted duplicates (fresh captures of enrolled people
//!    under new ids) and genuinely new people.
//! 3. Identify the whole batch at FPIR 1 in 1,000 and score the answer against the truth.
//!
//! The gallery is reused across runs (inserts are idempotent), so a second run skips most of
//! the enrolment; `--fresh` starts from an empty directory.

use crate::progress;
use abis_datasets::calibrate::{fit_calibration, fit_finger_points};
use abis_datasets::population::Population;
use abis_engine::{Engine, EngineOptions, IdentifyRequest, InsertOutcome, ReferenceId, Threshold};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Person indices of new applicants start here, far from any enrolled person.
const NEW_PEOPLE_BASE: u64 = 1 << 40;
/// The calibration population's seed is the demo seed plus this.
const CALIBRATION_SEED_OFFSET: u64 = 0x5EED_CA1B;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gallery directory [default: <user data dir>/abis/demo].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// People to enrol.
    #[arg(long, default_value_t = 100_000)]
    people: u64,
    /// Planted duplicates in the de-dup batch.
    #[arg(long, default_value_t = 500)]
    duplicates: u64,
    /// New (never enrolled) people in the de-dup batch.
    #[arg(long, default_value_t = 500)]
    new_people: u64,
    /// Target false-positive identification rate.
    #[arg(long, default_value_t = 1e-3)]
    fpir: f64,
    /// Fingerprints per person (ISO positions 1..=N, 0-10) besides the two irises and the face.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=10))]
    fingers: u8,
    /// Population seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Delete the demo gallery first (only if it is an abis gallery).
    #[arg(long)]
    fresh: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// The demo's summary.
#[derive(Debug, serde::Serialize)]
struct Summary {
    data_dir: String,
    gallery_records: u64,
    fingers_per_person: u8,
    enrolled_now: u64,
    enrol_seconds: f64,
    enrol_records_per_s: f64,
    applicants: u64,
    planted_duplicates: u64,
    duplicates_found: u64,
    duplicates_missed: u64,
    new_people: u64,
    new_people_flagged: u64,
    false_candidates: u64,
    threshold_score: f64,
    face_impostor_sd: f64,
    identify_seconds: f64,
    probes_per_s: f64,
    record_comparisons_per_s: f64,
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.people >= 1, "--people must be at least 1");
    anyhow::ensure!(
        args.duplicates <= args.people,
        "--duplicates cannot exceed --people"
    );
    anyhow::ensure!(
        args.duplicates + args.new_people >= 1,
        "the de-dup batch is empty"
    );
    let dir = args.data_dir.clone().unwrap_or_else(|| match args.fingers {
        // Each population shape has its own default gallery, so re-runs stay idempotent.
        0 => crate::default_data_dir("demo"),
        f => crate::default_data_dir(&format!("demo-{f}-fingers")),
    });
    if args.fresh && dir.exists() {
        anyhow::ensure!(
            dir.join("db").join("CURRENT").exists(),
            "--fresh refuses to delete {}: it is not an abis gallery",
            dir.display()
        );
        std::fs::remove_dir_all(&dir)?;
    }
    let pop = Population::new(args.seed).with_fingers(args.fingers);
    // Score calibration is fitted on a held-out population (another seed), never on the
    // population the table reports.
    let calibration = fit_calibration(
        &pop.face,
        args.seed.wrapping_add(CALIBRATION_SEED_OFFSET),
        20_000,
    );
    // Generated fingers get knots fitted on their own held-out impostors (see
    // `abis_datasets::calibrate`); real deployments fit on captures of their own extractor.
    let calibration = if args.fingers > 0 {
        let points = fit_finger_points(
            &pop.finger,
            args.seed.wrapping_add(CALIBRATION_SEED_OFFSET),
            5_000,
        )
        .ok_or_else(|| anyhow::anyhow!("finger calibration fit failed"))?;
        calibration
            .with_finger_points(points)
            .ok_or_else(|| anyhow::anyhow!("fitted finger knots are not usable"))?
    } else {
        calibration
    };
    let face_impostor_sd = calibration.face_impostor_sd;
    let engine = Engine::open(
        &dir,
        EngineOptions {
            calibration,
            ..Default::default()
        },
    )?;

    // 1. Enrolment.
    let t = Instant::now();
    let bar = progress::bar(args.people, "enrol");
    let mut enrolled_now = 0;
    for start in (0..args.people).step_by(1000) {
        let end = (start + 1000).min(args.people);
        let records: Vec<_> = (start..end)
            .into_par_iter()
            .map(|p| pop.enrolment(p))
            .collect();
        enrolled_now += engine
            .insert_batch(records)?
            .iter()
            .filter(|o| **o == InsertOutcome::Inserted)
            .count() as u64;
        bar.inc(end - start);
    }
    bar.finish_and_clear();
    let enrol_seconds = t.elapsed().as_secs_f64();

    // 2. The de-dup batch: (applicant record, the enrolled person it duplicates).
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed ^ 0xD0D0);
    let mut people: Vec<u64> = (0..args.people).collect();
    people.shuffle(&mut rng);
    let mut applicants: Vec<(u64, Option<u64>)> = people[..args.duplicates as usize]
        .iter()
        .map(|&p| (p, Some(p)))
        .chain((0..args.new_people).map(|j| (NEW_PEOPLE_BASE + j, None)))
        .collect();
    applicants.shuffle(&mut rng);
    let probes: Vec<_> = applicants
        .par_iter()
        .enumerate()
        .map(|(i, &(person, truth))| {
            let id = ReferenceId::new(format!("applicant-{i}")).expect("short id");
            // Duplicates are a fresh capture (1) of an enrolled person; new people's first capture.
            pop.capture(person, u64::from(truth.is_some()), id)
        })
        .collect();

    // 3. Identify.
    let request = IdentifyRequest {
        max_results: 30,
        threshold: Threshold::Fpir(args.fpir),
    };
    let t = Instant::now();
    let results = engine.identify_batch(&probes, &request)?;
    let identify_seconds = t.elapsed().as_secs_f64();

    let (mut found, mut missed, mut flagged, mut false_candidates) = (0, 0, 0, 0);
    for ((_, truth), result) in applicants.iter().zip(&results) {
        let truth_id = truth.map(|p| pop.reference_id(p));
        let hit = result
            .candidates
            .iter()
            .any(|c| Some(&c.reference_id) == truth_id.as_ref());
        false_candidates += result
            .candidates
            .iter()
            .filter(|c| Some(&c.reference_id) != truth_id.as_ref())
            .count() as u64;
        match (truth, hit) {
            (Some(_), true) => found += 1,
            (Some(_), false) => missed += 1,
            (None, _) => flagged += u64::from(!result.candidates.is_empty()),
        }
    }
    let gallery = engine.len();
    let summary = Summary {
        data_dir: dir.display().to_string(),
        gallery_records: gallery,
        fingers_per_person: args.fingers,
        enrolled_now,
        enrol_seconds,
        enrol_records_per_s: args.people as f64 / enrol_seconds.max(1e-9),
        applicants: probes.len() as u64,
        planted_duplicates: args.duplicates,
        duplicates_found: found,
        duplicates_missed: missed,
        new_people: args.new_people,
        new_people_flagged: flagged,
        false_candidates,
        threshold_score: results.first().map_or(0.0, |r| r.threshold),
        face_impostor_sd,
        identify_seconds,
        probes_per_s: probes.len() as f64 / identify_seconds.max(1e-9),
        record_comparisons_per_s: probes.len() as f64 * gallery as f64 / identify_seconds.max(1e-9),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_table(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(s: &Summary) {
    let rows: Vec<(&str, String)> = vec![
        ("gallery", s.data_dir.clone()),
        (
            "records in gallery",
            format!(
                "{} (2 irises, face, {} fingers each)",
                s.gallery_records, s.fingers_per_person
            ),
        ),
        (
            "enrolled this run",
            format!(
                "{} in {:.1} s ({:.0} records/s)",
                s.enrolled_now, s.enrol_seconds, s.enrol_records_per_s
            ),
        ),
        ("de-dup batch", format!("{} applicants", s.applicants)),
        ("planted duplicates", s.planted_duplicates.to_string()),
        ("  found", s.duplicates_found.to_string()),
        ("  missed", s.duplicates_missed.to_string()),
        ("new people", s.new_people.to_string()),
        ("  wrongly flagged", s.new_people_flagged.to_string()),
        ("false candidates", s.false_candidates.to_string()),
        (
            "threshold (fused score)",
            format!(
                "{:.2} (FPIR target over {} records)",
                s.threshold_score, s.gallery_records
            ),
        ),
        (
            "face calibration",
            format!(
                "impostor SD {:.4}, fitted on a held-out seed",
                s.face_impostor_sd
            ),
        ),
        ("identify time", format!("{:.2} s", s.identify_seconds)),
        (
            "throughput",
            format!(
                "{:.0} probes/s, {:.3e} record comparisons/s",
                s.probes_per_s, s.record_comparisons_per_s
            ),
        ),
    ];
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    println!("abis demo: de-duplication on the embedded single node");
    println!("{}", "-".repeat(width + 40));
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}
