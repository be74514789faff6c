//! `abis eval synthetic`: 1:N and 1:1 accuracy of a generated population, through the engine.
//!
//! Protocol:
//! - **Gallery**: the enrolment captures of `--people` people of population `--seed`, inserted
//!   into a fresh engine in a temporary folder (deleted afterwards). The engine's score
//!   calibration is fitted on a held-out population (another seed), as `abis demo` does.
//! - **Test split**: mated searches = a later capture of `--mated` enrolled people (a seeded
//!   sample); non-mated searches = `--non-mated` people of the same population never enrolled.
//! - **Calibration split**: `--non-mated` never-enrolled people of *another* population seed.
//!   The open-set threshold for each target FPIR (1%, 0.1%) is chosen on these searches and
//!   FNIR and FPIR are reported on the test split at it (`abis_datasets::eval::open_set`).
//! - Every search runs once per modality (the probe stripped to left iris, right iris, face,
//!   or its fingers; a probe lacking the modality is not searched for it) and once fused (the
//!   whole record). The engine lists up to 20 candidates scoring at least [`LIST_FLOOR`]
//!   (calibrated, i.e. single-comparison FMR 0.1%); CMC ranks come from that list, and a
//!   threshold below the floor is raised to it (the figure stays on the safe side: FPIR at
//!   most the target on the calibration split).
//! - **1:1**: each mated probe verified against its own enrolment (genuine) and against
//!   `--impostors` other enrolled people (impostor); per-modality calibrated scores (fingers
//!   fused over the fingers both carry) and the fused score give one DET curve each.

use super::output::pct;
use super::progress;
use super::synthetic_files;
use abis_datasets::calibrate::{fit_calibration, fit_finger_points};
use abis_datasets::eval::{cmc, open_set, OpenSetRates, Search};
use abis_datasets::fvc::search::CMC_RANKS;
use abis_datasets::fvc::ErrorRates;
use abis_datasets::population::Population;
use abis_engine::fusion::fuse;
use abis_engine::{
    Engine, EngineOptions, IdentifyRequest, Modality, Record, ReferenceId, Threshold,
};
use indicatif::ProgressBar;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Least calibrated score a listed candidate has (single-comparison FMR 0.1%).
pub(super) const LIST_FLOOR: f64 = 3.0;
/// Target FPIRs of the open-set figures.
pub(super) const TARGET_FPIRS: [f64; 2] = [1e-2, 1e-3];
/// The calibration split's population seed is the run's seed plus this.
const CALIBRATION_SEED_OFFSET: u64 = 0xCA1B_5EED;
/// Never-enrolled people of the run's population are numbered from here.
const NEW_PEOPLE_BASE: u64 = 1 << 40;
/// Probes per identify batch (one progress step).
const BATCH: usize = 250;

/// Arguments of `abis eval synthetic`.
#[derive(Debug, clap::Args)]
pub struct SyntheticArgs {
    /// People enrolled in the gallery.
    #[arg(long, default_value_t = 20_000)]
    people: u64,
    /// Mated searches (later captures of distinct enrolled people, at most --people) in the
    /// test split.
    #[arg(long, default_value_t = 2_000)]
    mated: u64,
    /// Non-mated searches in each of the calibration and test splits.
    #[arg(long, default_value_t = 2_000)]
    non_mated: u64,
    /// Impostor comparisons per mated probe for the 1:1 distributions.
    #[arg(long, default_value_t = 4)]
    impostors: u64,
    /// Fingerprints per person (ISO positions 1..=N) besides the two irises and the face.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=10))]
    fingers: u8,
    /// Population seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write scores, metrics (CSV, JSON), DET and CMC plots (SVG, PNG) and report.md here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// What a search or comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Single(Modality),
    Fused,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Single(Modality::IrisLeft) => "left iris",
            Kind::Single(Modality::IrisRight) => "right iris",
            Kind::Single(Modality::Face) => "face",
            Kind::Single(Modality::Fingers) => "fingers",
            Kind::Fused => "fused",
        }
    }

    /// The probe restricted to this kind, or `None` when it carries none of it.
    fn restrict(self, r: &Record) -> Option<Record> {
        let mut out = Record::new(r.reference_id.clone());
        match self {
            Kind::Fused => Some(r.clone()),
            Kind::Single(Modality::IrisLeft) | Kind::Single(Modality::IrisRight) => {
                let eye = match self {
                    Kind::Single(Modality::IrisLeft) => abis_engine::Eye::Left,
                    _ => abis_engine::Eye::Right,
                };
                out.irises = r.irises.iter().filter(|i| i.eye == eye).cloned().collect();
                (!out.irises.is_empty()).then_some(out)
            }
            Kind::Single(Modality::Face) => {
                out.face = Some(r.face.clone()?);
                Some(out)
            }
            Kind::Single(Modality::Fingers) => {
                out.fingers = r.fingers.clone();
                (!out.fingers.is_empty()).then_some(out)
            }
        }
    }

    /// This kind's score in a 1:1 comparison, when both sides carry it.
    fn score(self, v: &abis_engine::VerifyResult) -> Option<f64> {
        let Kind::Single(m) = self else {
            return Some(v.fused_score);
        };
        let s: Vec<f64> = v
            .scores
            .iter()
            .filter(|s| s.modality == m)
            .map(|s| s.score)
            .collect();
        (!s.is_empty()).then(|| fuse(&s))
    }
}

/// The figures of one kind.
pub(super) struct KindResult {
    pub(super) kind: Kind,
    pub(super) calibration: Vec<Search>,
    pub(super) mated: Vec<Search>,
    pub(super) non_mated: Vec<Search>,
    /// Mated searches whose mate was not listed while the list was short (rank unresolved
    /// beyond "not above the listing floor").
    pub(super) unresolved: usize,
    pub(super) open_set: Vec<OpenSetRates>,
    pub(super) cmc: Vec<f64>,
    pub(super) genuine: Vec<f64>,
    pub(super) impostor: Vec<f64>,
    pub(super) rates: ErrorRates,
}

/// The whole run.
pub(super) struct Run {
    pub(super) args_people: u64,
    pub(super) fingers: u8,
    pub(super) seed: u64,
    pub(super) calibration_seed: u64,
    pub(super) kinds: Vec<KindResult>,
    pub(super) enrol_seconds: f64,
    pub(super) search_seconds: f64,
    pub(super) verify_seconds: f64,
    pub(super) searches: usize,
}

/// Searches `probes` restricted to `kind`; `mates[i]` is probe `i`'s enrolled reference id.
fn search(
    engine: &Engine,
    kind: Kind,
    probes: &[(Record, Option<ReferenceId>)],
    bar: &ProgressBar,
) -> anyhow::Result<(Vec<Search>, usize)> {
    let request = IdentifyRequest {
        max_results: CMC_RANKS,
        threshold: Threshold::Score(LIST_FLOOR),
    };
    let kept: Vec<(Record, Option<&ReferenceId>)> = probes
        .iter()
        .filter_map(|(r, m)| Some((kind.restrict(r)?, m.as_ref())))
        .collect();
    let (mut out, mut unresolved) = (Vec::with_capacity(kept.len()), 0);
    for chunk in kept.chunks(BATCH) {
        let records: Vec<Record> = chunk.iter().map(|(r, _)| r.clone()).collect();
        let results = engine.identify_batch(&records, &request)?;
        for ((_, mate), res) in chunk.iter().zip(&results) {
            let at = mate.and_then(|m| res.candidates.iter().position(|c| &c.reference_id == m));
            let best_non_mate = res
                .candidates
                .iter()
                .find(|c| Some(&c.reference_id) != *mate)
                .map(|c| c.fused_score);
            unresolved +=
                usize::from(mate.is_some() && at.is_none() && res.candidates.len() < CMC_RANKS);
            out.push(Search {
                mate_rank: at.map(|k| k + 1),
                mate_score: at.map(|k| res.candidates[k].fused_score),
                best_non_mate,
            });
        }
        bar.inc(chunk.len() as u64);
    }
    Ok((out, unresolved))
}

/// Runs the evaluation.
pub fn run(args: SyntheticArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.people >= 2, "--people must be at least 2");
    anyhow::ensure!(args.mated >= 1, "--mated must be at least 1");
    anyhow::ensure!(args.non_mated >= 1, "--non-mated must be at least 1");
    if let Some(out) = &args.out {
        super::output::create(out)?;
    }
    let show = !args.json;
    let pop = Population::new(args.seed).with_fingers(args.fingers);
    let calibration_seed = args.seed.wrapping_add(CALIBRATION_SEED_OFFSET);
    let mut calibration = fit_calibration(&pop.face, calibration_seed, 20_000);
    if args.fingers > 0 {
        let points = fit_finger_points(&pop.finger, calibration_seed, 5_000)
            .ok_or_else(|| anyhow::anyhow!("finger calibration fit failed"))?;
        calibration = calibration
            .with_finger_points(points)
            .ok_or_else(|| anyhow::anyhow!("fitted finger knots are not usable"))?;
    }
    let dir = tempfile::Builder::new().prefix("abis-eval-").tempdir()?;
    let engine = Engine::open(
        dir.path(),
        EngineOptions {
            calibration: Some(calibration),
            ..Default::default()
        },
    )?;

    let t = Instant::now();
    let bar = progress(show, args.people as usize, "enrol");
    for start in (0..args.people).step_by(2000) {
        let end = (start + 2000).min(args.people);
        let records: Vec<Record> = (start..end)
            .into_par_iter()
            .map(|p| pop.enrolment(p))
            .collect();
        engine.insert_batch(records)?;
        bar.inc(end - start);
    }
    bar.finish_and_clear();
    let enrol_seconds = t.elapsed().as_secs_f64();

    // The splits: (probe, its mate's reference id).
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed ^ 0xE7A1);
    let mated_count = args.mated.min(args.people) as usize;
    let mated_people: Vec<u64> = sample(&mut rng, args.people as usize, mated_count)
        .into_iter()
        .map(|p| p as u64)
        .collect();
    let id = |s: String| ReferenceId::new(s).expect("short id");
    let mated: Vec<(Record, Option<ReferenceId>)> = mated_people
        .par_iter()
        .enumerate()
        .map(|(i, &p)| {
            let probe = pop.capture(p, 1, id(format!("mated-{i}")));
            (probe, Some(pop.reference_id(p)))
        })
        .collect();
    let non_mated: Vec<(Record, Option<ReferenceId>)> = (0..args.non_mated)
        .into_par_iter()
        .map(|j| {
            (
                pop.capture(NEW_PEOPLE_BASE + j, 0, id(format!("new-{j}"))),
                None,
            )
        })
        .collect();
    let other = Population::new(calibration_seed).with_fingers(args.fingers);
    let calib: Vec<(Record, Option<ReferenceId>)> = (0..args.non_mated)
        .into_par_iter()
        .map(|j| (other.capture(j, 0, id(format!("calibration-{j}"))), None))
        .collect();

    let mut kinds: Vec<Kind> = vec![
        Kind::Single(Modality::IrisLeft),
        Kind::Single(Modality::IrisRight),
        Kind::Single(Modality::Face),
    ];
    if args.fingers > 0 {
        kinds.push(Kind::Single(Modality::Fingers));
    }
    kinds.push(Kind::Fused);

    let t = Instant::now();
    let total = kinds.len() * (mated.len() + non_mated.len() + calib.len());
    let bar = progress(show, total, "searches");
    let mut results = Vec::new();
    let mut searches = 0;
    for &kind in &kinds {
        let (calibration, _) = search(&engine, kind, &calib, &bar)?;
        let (m, unresolved) = search(&engine, kind, &mated, &bar)?;
        let (n, _) = search(&engine, kind, &non_mated, &bar)?;
        searches += calibration.len() + m.len() + n.len();
        let open_set = TARGET_FPIRS
            .iter()
            .map(|&f| {
                let mut r = open_set(&calibration, &m, &n, f);
                if r.threshold < LIST_FLOOR {
                    // Nothing below the floor is listed: raise the threshold to it.
                    r = open_set_at(&calibration, &m, &n, f, LIST_FLOOR);
                }
                r
            })
            .collect();
        results.push(KindResult {
            kind,
            cmc: cmc(&m, CMC_RANKS),
            calibration,
            mated: m,
            non_mated: n,
            unresolved,
            open_set,
            genuine: Vec::new(),
            impostor: Vec::new(),
            rates: ErrorRates::default(),
        });
    }
    bar.finish_and_clear();
    let search_seconds = t.elapsed().as_secs_f64();

    // 1:1: each mated probe against its own enrolment and `impostors` other people.
    let t = Instant::now();
    let bar = progress(show, mated.len(), "verify");
    let pairs: Vec<Vec<(bool, abis_engine::VerifyResult)>> = mated
        .par_iter()
        .zip(&mated_people)
        .enumerate()
        .map(|(i, ((probe, mate), &p))| {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed ^ (i as u64) << 8);
            let mut out = vec![(
                true,
                engine.verify(probe, mate.as_ref().expect("mated"), 0.01)?,
            )];
            for _ in 0..args.impostors {
                let q = (p + r.gen_range(1..args.people)) % args.people;
                out.push((false, engine.verify(probe, &pop.reference_id(q), 0.01)?));
            }
            bar.inc(1);
            Ok(out)
        })
        .collect::<anyhow::Result<_>>()?;
    bar.finish_and_clear();
    let verify_seconds = t.elapsed().as_secs_f64();
    for k in &mut results {
        for (genuine, v) in pairs.iter().flatten() {
            if let Some(s) = k.kind.score(v) {
                if *genuine {
                    k.genuine.push(s);
                } else {
                    k.impostor.push(s);
                }
            }
        }
        k.rates = abis_datasets::fvc::error_rates(&k.genuine, &k.impostor);
    }

    let run = Run {
        args_people: args.people,
        fingers: args.fingers,
        seed: args.seed,
        calibration_seed,
        kinds: results,
        enrol_seconds,
        search_seconds,
        verify_seconds,
        searches,
    };
    let json = synthetic_files::json(&run);
    if let Some(out) = &args.out {
        let n = synthetic_files::write(out, &run, &json)?;
        if show {
            println!("wrote {n} files into {}\n", out.display());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_table(&run);
    }
    Ok(ExitCode::SUCCESS)
}

/// [`open_set`] at a given threshold instead of one chosen for the target.
fn open_set_at(
    calibration: &[Search],
    mated: &[Search],
    non_mated: &[Search],
    target_fpir: f64,
    threshold: f64,
) -> OpenSetRates {
    OpenSetRates {
        target_fpir,
        threshold,
        fpir_calibration: abis_datasets::eval::fpir_at(calibration, threshold),
        fnir: abis_datasets::eval::fnir_at(mated, threshold),
        fpir: abis_datasets::eval::fpir_at(non_mated, threshold),
    }
}

fn print_table(run: &Run) {
    println!(
        "Synthetic evaluation: {} people enrolled (seed {}, {} fingers each); calibration split \
         seed {}",
        run.args_people, run.seed, run.fingers, run.calibration_seed
    );
    println!(
        "  {:<11} {:>7} {:>7} {:>8} {:>8} {:>10} {:>8} {:>10} {:>8} {:>8}",
        "modality",
        "mated",
        "non-mat",
        "rank1",
        "rank20",
        "FNIR@1%",
        "FPIR",
        "FNIR@0.1%",
        "FPIR",
        "EER 1:1"
    );
    for k in &run.kinds {
        let (a, b) = (&k.open_set[0], &k.open_set[1]);
        println!(
            "  {:<11} {:>7} {:>7} {:>8} {:>8} {:>10} {:>8} {:>10} {:>8} {:>8}",
            k.kind.name(),
            k.mated.len(),
            k.non_mated.len(),
            pct(k.cmc[0]),
            pct(k.cmc[CMC_RANKS - 1]),
            pct(a.fnir),
            pct(a.fpir),
            pct(b.fnir),
            pct(b.fpir),
            pct(k.rates.eer),
        );
    }
    println!(
        "  FNIR/FPIR: test split at the threshold chosen on the calibration split's non-mated \
         searches (another population seed); FPIR measured on the test split"
    );
    println!(
        "  enrol {:.1} s; {} searches in {:.1} s; 1:1 in {:.1} s",
        run.enrol_seconds, run.searches, run.search_seconds, run.verify_seconds
    );
}
