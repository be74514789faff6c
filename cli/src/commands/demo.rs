//! `abis demo`: the main job on the embedded default, the whole story of an ID system.
//!
//! 1. Enrol a synthetic population (calibrated irises and faces, optional fingers, a few people
//!    missing a modality) into a local gallery, in durable batches: the existing register.
//!    Each enrolled person holds a UIN (issued in bulk, MOSIP's rules).
//! 2. New applicants register: planted duplicates (fresh captures of enrolled people under new
//!    packet ids) and genuinely new people. Each goes through the registration client
//!    (`abis-registration`, on the embedded engine): a de-dup job inserts and identifies it at
//!    FPIR 1 in 1,000, and the verdict is recorded durably.
//! 3. Unique applicants receive a UIN (`abis-issuance`); suspected duplicates land in the
//!    manual-adjudication queue (`abis adjudicate list`). The table scores the verdicts
//!    against the truth.
//!
//! The data directory is reused across runs (inserts, verdicts and UINs are idempotent), so a
//! second run skips most of the work and reports the recorded verdicts; `--fresh` starts from
//! an empty directory.

use super::clients::ClientState;
use crate::progress;
use abis_datasets::calibrate::{fit_calibration, fit_finger_points};
use abis_datasets::population::Population;
use abis_engine::fusion::identify_threshold;
use abis_engine::{Engine, EngineOptions, InsertOutcome, ReferenceId};
use abis_issuance::UinRules;
use abis_proto::v1;
use abis_registration::{
    Applicant, EmbeddedBackend, PacketState, Registrar, RegistrarConfig, Registration,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
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
    /// Planted duplicates among the applicants.
    #[arg(long, default_value_t = 500)]
    duplicates: u64,
    /// New (never enrolled) people among the applicants.
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
    uins_in_register: u64,
    uin_seconds: f64,
    applicants: u64,
    verdicts_recorded_earlier: u64,
    planted_duplicates: u64,
    duplicates_found: u64,
    duplicates_missed: u64,
    new_people: u64,
    new_people_flagged: u64,
    false_candidates: u64,
    uins_issued: u64,
    cases_opened: u64,
    unsettled: u64,
    threshold_score: f64,
    face_impostor_sd: f64,
    dedup_seconds: f64,
    applicants_per_s: f64,
    record_comparisons_per_s: f64,
    state_dir: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::ensure_input!(args.people >= 1, "--people must be at least 1");
    crate::ensure_input!(
        args.duplicates <= args.people,
        "--duplicates cannot exceed --people"
    );
    crate::ensure_input!(
        args.duplicates + args.new_people >= 1,
        "the de-dup batch is empty"
    );
    let dir = args.data_dir.clone().unwrap_or_else(|| match args.fingers {
        // Each population shape has its own default gallery, so re-runs stay idempotent.
        0 => crate::default_data_dir("demo"),
        f => crate::default_data_dir(&format!("demo-{f}-fingers")),
    });
    if args.fresh && dir.exists() {
        crate::ensure_input!(
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
    let engine = Arc::new(Engine::open(
        &dir,
        EngineOptions {
            calibration: Some(calibration),
            keyring: super::keyring(),
            ..Default::default()
        },
    )?);
    let state_dir = dir.join("clients");
    let state = ClientState::open(&state_dir, UinRules::default())?;

    // 1. Enrolment of the existing register, and its UINs.
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
    let t = Instant::now();
    for start in (0..args.people).step_by(10_000) {
        let end = (start + 10_000).min(args.people);
        let ids: Vec<String> = (start..end)
            .map(|p| pop.reference_id(p).as_str().to_owned())
            .collect();
        state
            .issuer
            .issue_batch(&ids.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    let uin_seconds = t.elapsed().as_secs_f64();

    // 2. The applicants: (packet, the enrolled person it duplicates).
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed ^ 0xD0D0);
    let mut people: Vec<u64> = (0..args.people).collect();
    people.shuffle(&mut rng);
    let mut plan: Vec<(u64, Option<u64>)> = people[..args.duplicates as usize]
        .iter()
        .map(|&p| (p, Some(p)))
        .chain((0..args.new_people).map(|j| (NEW_PEOPLE_BASE + j, None)))
        .collect();
    plan.shuffle(&mut rng);
    let layout = engine.shape().iris_layout;
    let applicants = plan
        .par_iter()
        .enumerate()
        .map(|(i, &(person, truth))| {
            let id = ReferenceId::new(format!("applicant-{i}")).expect("short id");
            // Duplicates are a fresh capture (1) of an enrolled person; new people's first capture.
            let record = pop.capture(person, u64::from(truth.is_some()), id);
            Ok(Applicant::from_record(abis_proto::record_to_proto(
                &record, &layout,
            ))?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let earlier = applicants
        .iter()
        .map(|a| state.store.get(&a.packet_id))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .filter(|r| r.as_ref().is_some_and(|r| r.state.is_final()))
        .count() as u64;

    // 3. Registration: de-dup jobs on the embedded engine, verdicts recorded, UINs issued.
    let config = RegistrarConfig {
        options: v1::IdentifyOptions {
            max_results: 30,
            threshold: Some(v1::Threshold {
                kind: Some(v1::threshold::Kind::Fpir(args.fpir)),
            }),
            allow_incomplete: false,
        },
        batch_size: 1000,
        ..Default::default()
    };
    let registrar = Registrar::new(
        EmbeddedBackend::new(engine.clone()),
        state.store.clone(),
        config,
    );
    let t = Instant::now();
    let gallery_before = engine.len();
    let registrations =
        tokio::runtime::Runtime::new()?.block_on(registrar.register(&applicants))?;
    let dedup_seconds = t.elapsed().as_secs_f64();
    let issued = state.issue_unique(&registrations)?.len() as u64;

    let score = score(&pop, &plan, &registrations);
    let gallery = engine.len();
    let summary = Summary {
        data_dir: dir.display().to_string(),
        gallery_records: gallery,
        fingers_per_person: args.fingers,
        enrolled_now,
        enrol_seconds,
        enrol_records_per_s: args.people as f64 / enrol_seconds.max(1e-9),
        uins_in_register: state.issuer.issued_count(),
        uin_seconds,
        applicants: applicants.len() as u64,
        verdicts_recorded_earlier: earlier,
        planted_duplicates: args.duplicates,
        duplicates_found: score.found,
        duplicates_missed: score.missed,
        new_people: args.new_people,
        new_people_flagged: score.flagged,
        false_candidates: score.false_candidates,
        uins_issued: issued,
        cases_opened: score.cases,
        unsettled: score.unsettled,
        threshold_score: identify_threshold(args.fpir, gallery),
        face_impostor_sd,
        dedup_seconds,
        applicants_per_s: (applicants.len() as u64 - earlier) as f64 / dedup_seconds.max(1e-9),
        record_comparisons_per_s: (applicants.len() as u64 - earlier) as f64
            * gallery_before as f64
            / dedup_seconds.max(1e-9),
        state_dir: state_dir.display().to_string(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_table(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// The verdicts against the truth.
struct Score {
    found: u64,
    missed: u64,
    flagged: u64,
    false_candidates: u64,
    cases: u64,
    unsettled: u64,
}

fn score(pop: &Population, plan: &[(u64, Option<u64>)], registrations: &[Registration]) -> Score {
    let mut s = Score {
        found: 0,
        missed: 0,
        flagged: 0,
        false_candidates: 0,
        cases: 0,
        unsettled: 0,
    };
    for ((_, truth), registration) in plan.iter().zip(registrations) {
        let truth_id = truth.map(|p| pop.reference_id(p).as_str().to_owned());
        let candidates = match &registration.state {
            PacketState::Duplicate { candidates, .. } => {
                s.cases += 1;
                candidates.as_slice()
            }
            PacketState::Unique { .. } => &[],
            PacketState::Pending | PacketState::Failed { .. } => {
                s.unsettled += 1;
                continue;
            }
        };
        let hit = candidates
            .iter()
            .any(|c| Some(&c.reference_id) == truth_id.as_ref());
        s.false_candidates += candidates
            .iter()
            .filter(|c| Some(&c.reference_id) != truth_id.as_ref())
            .count() as u64;
        match (truth, hit) {
            (Some(_), true) => s.found += 1,
            (Some(_), false) => s.missed += 1,
            (None, _) => s.flagged += u64::from(!candidates.is_empty()),
        }
    }
    s
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
        (
            "UINs in the register",
            format!("{} (bulk issue {:.1} s)", s.uins_in_register, s.uin_seconds),
        ),
        (
            "applicants registered",
            match s.verdicts_recorded_earlier {
                0 => s.applicants.to_string(),
                e => format!("{} ({e} had verdicts from an earlier run)", s.applicants),
            },
        ),
        ("planted duplicates", s.planted_duplicates.to_string()),
        ("  found (to adjudication)", s.duplicates_found.to_string()),
        ("  missed (got a UIN)", s.duplicates_missed.to_string()),
        ("new people", s.new_people.to_string()),
        ("  wrongly flagged", s.new_people_flagged.to_string()),
        ("false candidates", s.false_candidates.to_string()),
        ("UINs issued", s.uins_issued.to_string()),
        ("adjudication cases", s.cases_opened.to_string()),
        ("no verdict yet", s.unsettled.to_string()),
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
        ("de-dup time", format!("{:.2} s", s.dedup_seconds)),
        (
            "throughput",
            format!(
                "{:.0} applicants/s, {:.3e} record comparisons/s",
                s.applicants_per_s, s.record_comparisons_per_s
            ),
        ),
        (
            "adjudicate",
            format!("abis adjudicate list --state-dir {}", s.state_dir),
        ),
    ];
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    println!(
        "abis demo: registration, de-duplication and UIN issuance on the embedded single node"
    );
    println!("{}", "-".repeat(width + 40));
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}
