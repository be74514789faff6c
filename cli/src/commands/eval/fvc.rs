//! `abis eval fvc` and `abis eval folder`: the FVC evaluation of the fingerprint matcher on
//! minutiae records (`fvc`: a root of database sub-folders; `folder`: one folder of
//! `<subject>_<impression>.<ext>` ISO/ANSI records, evaluated as one database).
//!
//! Runs the FVC protocol on every database (see `abis_datasets::fvc`) and prints
//! EER, FMR100, FMR1000 and ZeroFMR per database, pooled over the real databases, and pooled
//! apart over those whose name ends in `-synthetic`. A second block repeats the figures with
//! every different-finger pair as impostors: beyond the FVC protocol, but it resolves FMR100 and
//! FMR1000, which 45 impostors per database cannot. Pooled figures put the scores of the pooled
//! databases together (one threshold for all). The comparison rate is one thread's.
//!
//! A third block is the 1:N evaluation of the two-stage finger search (protocol in
//! `abis_datasets::fvc::search`): first impressions padded with generated fillers as the
//! gallery, the other impressions as probes; exhaustive and two-stage rank-1, the first stage's
//! retention of the exhaustive matcher's hits, and FNIR at FPIR 1% with the engine's threshold
//! from the matcher's calibration (never fitted on the reported databases), and the
//! two-stage CMC. With `--out DIR` the same figures, the scores and the plots are written
//! as files ([`super::fvc_files`]).

use super::output::{pct, rates_json};
use super::progress;
use abis_datasets::fvc::search::SECOND_FPIR;
use abis_datasets::fvc::search::{
    filler_fingers, identification, probe_count, Identification, IdentificationRates, SearchParams,
};
use abis_datasets::fvc::{
    bootstrap, eer_interval, error_rates, fit_calibration, load_folder, load_root, pair_fingers,
    score_database, DatabaseScores, EerInterval, ErrorRates, FingerScores, FvcDatabase,
    PairFingers,
};
use abis_engine::SearchConfig;
use abis_matchers::finger::matcher::raw_score_for_fmr;
use abis_matchers::SimdLevel;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The FPIR the 1:N threshold targets.
const TARGET_FPIR: f64 = 0.01;

/// Arguments of `abis eval fvc`.
#[derive(Debug, clap::Args)]
pub struct FvcArgs {
    /// Root folder holding one sub-folder per database.
    #[arg(long, default_value = "../shared/data/fvc2002")]
    data: PathBuf,
    /// Extract minutiae from each database's images (`<finger>_<impression>.tif`) with LEADER
    /// instead of reading the `.iso` records beside them. DB2 is brought from 569 to 500 ppi;
    /// the other databases are 500 ppi.
    #[arg(long)]
    from_images: bool,
    /// The LEADER model for `--from-images` (default: where `bash scripts/fetch-models.sh`
    /// puts it).
    #[arg(long, requires = "from_images")]
    model: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `abis eval folder`.
#[derive(Debug, clap::Args)]
pub struct FolderArgs {
    /// Folder of ISO 19794-2 / ANSI 378 records named <subject>_<impression>.<ext>.
    dir: PathBuf,
    #[command(flatten)]
    common: Common,
}

/// Options of both.
#[derive(Debug, clap::Args)]
pub(super) struct Common {
    /// Write scores, metrics (CSV, JSON), DET and CMC plots (SVG, PNG) and report.md here.
    #[arg(long)]
    pub(super) out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Times the comparison pass is repeated for the speed figure (the fastest is kept).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Generated filler fingers padding each 1:N gallery.
    #[arg(long, default_value_t = 10_000)]
    fillers: usize,
    /// Population seed of the filler fingers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Gallery fingers the first stage passes to the full matcher (default: what the engine
    /// passes for a one-finger probe, `SearchConfig::finger_comparisons`).
    #[arg(long, default_value_t = SearchConfig::default().finger_comparisons)]
    pub(super) shortlist: usize,
}

/// Runs `abis eval fvc`.
pub fn run_fvc(args: FvcArgs) -> anyhow::Result<ExitCode> {
    check(&args.common)?;
    let dbs = if args.from_images {
        super::fvc_images::load_root(&args.data, args.model.as_deref())?
    } else {
        load_root(&args.data)?
    };
    evaluate(&dbs, &args.data, &args.common)
}

/// Runs `abis eval folder`: the folder is one (real) database.
pub fn run_folder(args: FolderArgs) -> anyhow::Result<ExitCode> {
    check(&args.common)?;
    let db = load_folder(&args.dir)?;
    evaluate(&[db], &args.dir, &args.common)
}

fn check(args: &Common) -> anyhow::Result<()> {
    anyhow::ensure!(args.shortlist >= 1, "--shortlist must be at least 1");
    Ok(())
}

/// A named group of databases with its FVC and all-impostor figures, each EER with its 95%
/// interval from resampling fingers ([`abis_datasets::fvc::bootstrap`]).
pub(super) struct Row {
    pub(super) name: String,
    pub(super) fvc: ErrorRates,
    pub(super) all: ErrorRates,
    pub(super) fvc_ci: EerInterval,
    pub(super) all_ci: EerInterval,
}

/// The genuine, FVC-impostor and all-impostor scores of `dbs` put together.
pub(super) fn pooled_scores(dbs: &[&DatabaseScores]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let cat = |f: fn(&DatabaseScores) -> &Vec<f64>| -> Vec<f64> {
        dbs.iter().flat_map(|d| f(d).iter().copied()).collect()
    };
    (
        cat(|d| &d.genuine),
        cat(|d| &d.impostor),
        cat(|d| &d.all_impostor),
    )
}

fn pool(name: &str, dbs: &[(&DatabaseScores, &PairFingers)]) -> Option<Row> {
    if dbs.is_empty() {
        return None;
    }
    let scores: Vec<&DatabaseScores> = dbs.iter().map(|d| d.0).collect();
    let (g, i, a) = pooled_scores(&scores);
    let interval = |all: bool| {
        let groups: Vec<FingerScores> = dbs
            .iter()
            .map(|(s, f)| FingerScores {
                genuine: &s.genuine,
                genuine_fingers: &f.genuine,
                impostor: if all { &s.all_impostor } else { &s.impostor },
                impostor_fingers: if all { &f.all_impostor } else { &f.impostor },
            })
            .collect();
        eer_interval(&groups, bootstrap::RESAMPLES, 0.95, bootstrap::SEED)
    };
    Some(Row {
        name: name.to_string(),
        fvc: error_rates(&g, &i),
        all: error_rates(&g, &a),
        fvc_ci: interval(false),
        all_ci: interval(true),
    })
}

fn row_json(r: &Row) -> Value {
    let with_ci = |rates: &ErrorRates, ci: &EerInterval| {
        let mut v = rates_json(rates);
        v["eer_ci95"] = json!([ci.low, ci.high]);
        v
    };
    let mut v = with_ci(&r.fvc, &r.fvc_ci);
    v["name"] = json!(r.name);
    v["all_impostors"] = with_ci(&r.all, &r.all_ci);
    v
}

fn print_table(title: &str, rows: &[&Row], pick: fn(&Row) -> (&ErrorRates, &EerInterval)) {
    println!("{title}");
    println!(
        "  {:<22} {:>8} {:>16} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "database", "EER", "EER 95% CI", "FMR100", "FMR1000", "ZeroFMR", "genuine", "impostor"
    );
    for r in rows {
        let (e, ci) = pick(r);
        println!(
            "  {:<22} {:>8} {:>16} {:>8} {:>8} {:>8} {:>8} {:>8}",
            r.name,
            pct(e.eer),
            format!("{} - {}", pct(ci.low), pct(ci.high)),
            pct(e.fmr100),
            pct(e.fmr1000),
            pct(e.zero_fmr),
            e.genuine,
            e.impostor
        );
    }
}

fn ident_json(r: &IdentificationRates) -> Value {
    json!({
        "name": r.name, "probes": r.probes, "gallery": r.gallery, "shortlist": r.shortlist,
        "penetration": r.penetration, "rank1_exhaustive": r.rank1_exhaustive,
        "rank1_two_stage": r.rank1_two_stage, "exhaustive_hits": r.exhaustive_hits,
        "retention": r.retention, "mate_rank_p50": r.mate_rank_p50,
        "mate_rank_p99": r.mate_rank_p99, "mate_rank_max": r.mate_rank_max,
        "threshold": r.threshold, "fnir_at_fpir_1pct": r.fnir, "fpir_measured": r.fpir_measured,
        "threshold_fpir_0_1pct": r.threshold_second, "fnir_at_fpir_0_1pct": r.fnir_second,
        "fpir_measured_0_1pct": r.fpir_measured_second, "cmc_two_stage": r.cmc,
    })
}

/// Prepares the fillers and runs the 1:N evaluation; returns it with the fillers' wall time.
fn run_identification(
    dbs: &[FvcDatabase],
    args: &Common,
    level: SimdLevel,
) -> (Identification, f64) {
    let start = Instant::now();
    let bar = progress(!args.json, args.fillers, "fillers");
    let fillers = filler_fingers(args.fillers, args.seed, &|| bar.inc(1));
    bar.finish_and_clear();
    let filler_secs = start.elapsed().as_secs_f64();
    let params = SearchParams {
        shortlist: args.shortlist,
        target_fpir: TARGET_FPIR,
    };
    let bar = progress(!args.json, probe_count(dbs), "searches");
    let id = identification(dbs, &fillers, &params, level, &|| bar.inc(1));
    bar.finish_and_clear();
    (id, filler_secs)
}

fn print_identification(id: &Identification, args: &Common, filler_secs: f64) {
    println!(
        "1:N identification (gallery: each finger's first impression + {} generated fillers, \
         seed {}; probes: the other impressions; first-stage shortlist {})",
        id.fillers, args.seed, args.shortlist
    );
    println!(
        "  {:<22} {:>6} {:>7} {:>9} {:>9} {:>9} {:>20} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "database",
        "probes",
        "gallery",
        "rank1-ex",
        "rank1-2st",
        "retained",
        "mate rank p50/99/max",
        "penetr.",
        "threshold",
        "FNIR",
        "FPIR",
        "FNIR.1%",
        "FPIR.1%"
    );
    for r in id.databases.iter().chain(id.pooled.iter()) {
        println!(
            "  {:<22} {:>6} {:>7} {:>9} {:>9} {:>9} {:>20} {:>7} {:>9.3} {:>8} {:>8} {:>8} {:>8}",
            r.name,
            r.probes,
            r.gallery,
            pct(r.rank1_exhaustive),
            pct(r.rank1_two_stage),
            pct(r.retention),
            format!(
                "{}/{}/{}",
                r.mate_rank_p50, r.mate_rank_p99, r.mate_rank_max
            ),
            pct(r.penetration),
            r.threshold,
            pct(r.fnir),
            pct(r.fpir_measured),
            pct(r.fnir_second),
            pct(r.fpir_measured_second)
        );
    }
    println!(
        "  retained: exhaustive rank-1 hits whose mate the first stage shortlists; mate rank: its \
         first-stage rank over those (ties count against it)"
    );
    println!(
        "  FNIR / FPIR: two-stage open-set searches at calibrated score >= threshold = \
         -log10({TARGET_FPIR} / gallery) (calibration fitted on DB4 only); FPIR measured by \
         searching each probe with its own finger removed; FNIR.1% / FPIR.1%: the same at \
         -log10({SECOND_FPIR} / gallery)"
    );
    println!(
        "  {} full comparisons in {:.1} s on {} threads; fillers prepared in {:.1} s",
        id.comparisons,
        id.search_time.as_secs_f64(),
        rayon::current_num_threads(),
        filler_secs
    );
}

/// `(target FMR, raw threshold, measured FMR, FNMR)` on the pooled real databases, all
/// impostor pairs, at the matcher's calibrated thresholds for FMR 1%, 0.1% and 0.01%.
fn calibration_checks(real: &[&DatabaseScores]) -> Vec<(f64, f32, f64, f64)> {
    let imp: Vec<f64> = real
        .iter()
        .flat_map(|d| d.all_impostor.iter().copied())
        .collect();
    let gen: Vec<f64> = real
        .iter()
        .flat_map(|d| d.genuine.iter().copied())
        .collect();
    if imp.is_empty() || gen.is_empty() {
        return Vec::new();
    }
    [1e-2, 1e-3, 1e-4]
        .into_iter()
        .map(|fmr| {
            let raw = raw_score_for_fmr(fmr);
            let t = f64::from(raw);
            let measured = imp.iter().filter(|&&s| s >= t).count() as f64 / imp.len() as f64;
            let fnmr = gen.iter().filter(|&&s| s < t).count() as f64 / gen.len() as f64;
            (fmr, raw, measured, fnmr)
        })
        .collect()
}

/// Everything one run measured, for the table, the JSON and the files.
pub(super) struct Evaluation<'a> {
    pub(super) data: &'a Path,
    pub(super) scores: Vec<DatabaseScores>,
    pub(super) rows: Vec<Row>,
    pub(super) ident: Identification,
    pub(super) json: Value,
}

fn evaluate(dbs: &[FvcDatabase], data: &Path, args: &Common) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.out {
        super::output::create(out)?;
    }
    let level = SimdLevel::get();
    let scores: Vec<DatabaseScores> = dbs
        .iter()
        .map(|db| score_database(db, level, args.repeat))
        .collect();
    let comparisons: usize = scores.iter().map(|s| s.comparisons).sum();
    let secs: f64 = scores.iter().map(|s| s.compare_time.as_secs_f64()).sum();
    let rate = comparisons as f64 / secs.max(1e-9);
    let cpu_secs: Option<f64> = scores
        .iter()
        .map(|s| s.compare_cpu_time.map(|t| t.as_secs_f64()))
        .sum();
    let cpu_rate = cpu_secs.map(|c| comparisons as f64 / c.max(1e-9));
    let prep_ms: f64 = scores
        .iter()
        .map(|s| s.prepare_time.as_secs_f64() * 1e3)
        .sum();
    let templates: usize = dbs.iter().map(|d| d.impressions.len()).sum();

    let fingers: Vec<PairFingers> = dbs.iter().map(pair_fingers).collect();
    let labelled: Vec<(&DatabaseScores, &PairFingers)> = scores.iter().zip(&fingers).collect();
    let per_db: Vec<Row> = labelled
        .iter()
        .filter_map(|&d| pool(&d.0.name, &[d]))
        .collect();
    type Labelled<'a> = Vec<(&'a DatabaseScores, &'a PairFingers)>;
    let (real_labelled, synth_labelled): (Labelled, Labelled) =
        labelled.iter().copied().partition(|d| !d.0.synthetic);
    let real: Vec<&DatabaseScores> = real_labelled.iter().map(|d| d.0).collect();
    let synth: Vec<&DatabaseScores> = synth_labelled.iter().map(|d| d.0).collect();
    let pooled = pool("pooled (real)", &real_labelled);
    let pooled_synth = pool("pooled (synthetic)", &synth_labelled);

    let checks = calibration_checks(&real);
    let refit = (!synth.is_empty())
        .then(|| {
            let imp: Vec<f64> = synth
                .iter()
                .flat_map(|d| d.all_impostor.iter().copied())
                .collect();
            fit_calibration(&imp)
        })
        .flatten();
    let (ident, filler_secs) = run_identification(dbs, args, level);
    let out = json!({
        "calibration_check": checks.iter().map(|c| json!({
            "target_fmr": c.0, "raw_threshold": c.1, "measured_fmr_real_all_impostors": c.2,
            "fnmr_real": c.3,
        })).collect::<Vec<_>>(),
        "calibration_refit_on_synthetic": refit.as_ref().map(|f| json!({
            "points": f.points, "tail_start": f.tail_start, "tail_scale": f.tail_scale,
            "impostors": f.impostors,
        })),
        "data": data.display().to_string(),
        "protocol": "FVC: genuine = all impression pairs of a finger; impostor = first impressions of different fingers",
        "pooled": pooled.as_ref().map(row_json),
        "synthetic": pooled_synth.as_ref().map(row_json),
        "databases": per_db.iter().map(row_json).collect::<Vec<_>>(),
        "all_impostors_note": "all_impostors: every impression against every impression of every other finger; beyond the FVC protocol",
        "comparisons": comparisons,
        "comparisons_per_second_one_thread": rate,
        "comparisons_per_cpu_second": cpu_rate,
        "simd_level": level.name(),
        "templates": templates,
        "prepare_ms_total": prep_ms,
        "identification": json!({
            "protocol": "gallery = each finger's first impression + generated fillers; probes = the other impressions; FNIR/FPIR: two-stage open-set searches at calibrated score >= -log10(target_fpir / gallery); FPIR from each probe searched with its own finger removed",
            "fillers": ident.fillers,
            "filler_seed": args.seed,
            "target_fpir": TARGET_FPIR,
            "comparisons": ident.comparisons,
            "search_seconds": ident.search_time.as_secs_f64(),
            "filler_seconds": filler_secs,
            "databases": ident.databases.iter().map(ident_json).collect::<Vec<_>>(),
            "pooled": ident.pooled.as_ref().map(ident_json),
        }),
    });
    let mut all_rows = per_db;
    all_rows.extend(pooled);
    all_rows.extend(pooled_synth);
    let eval = Evaluation {
        data,
        scores,
        rows: all_rows,
        ident,
        json: out,
    };
    if let Some(dir) = &args.out {
        let written = super::fvc_files::write(dir, &eval)?;
        if !args.json {
            println!("wrote {} files into {}\n", written, dir.display());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&eval.json)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<&Row> = eval.rows.iter().collect();
    println!(
        "FVC evaluation of {} ({} templates)",
        data.display(),
        templates
    );
    println!(
        "pooled (real) = every database not named *-synthetic; synthetic databases pooled apart"
    );
    println!(
        "EER 95% CI = percentile interval over {} resamples of fingers, each database resampled \
         on its own (subjects bootstrap)\n",
        bootstrap::RESAMPLES
    );
    print_table(
        "FVC protocol (impostors: first impressions of different fingers)",
        &rows,
        |r| (&r.fvc, &r.fvc_ci),
    );
    println!();
    print_table(
        "All impostor pairs (beyond the FVC protocol: every impression vs every other finger's)",
        &rows,
        |r| (&r.all, &r.all_ci),
    );
    println!();
    println!("calibration (fitted on synthetic impostors, see abis_matchers::finger::matcher) checked on the real pool:");
    for (fmr, raw, measured, fnmr) in &checks {
        println!(
            "  target FMR {:>6}: raw >= {raw:.4}  measured FMR {:>7} (all impostor pairs)  FNMR {:>7}",
            pct(*fmr),
            pct(*measured),
            pct(*fnmr)
        );
    }
    if let Some(f) = &refit {
        let pts: Vec<String> = f
            .points
            .iter()
            .map(|(r, s)| format!("({r:.4}, {s:.3})"))
            .collect();
        println!(
            "  refit on this run's synthetic impostors ({}): {}",
            f.impostors,
            pts.join(" ")
        );
    }
    println!();
    println!(
        "speed: {comparisons} comparisons in {:.3} s on one thread = {:.0} comparisons/s ({}), \
         fastest of {} passes",
        secs,
        rate,
        level.name(),
        args.repeat.max(1)
    );
    if let (Some(c), Some(r)) = (cpu_secs, cpu_rate) {
        println!(
            "       {:.3} s on a core (thread CPU time, excludes waiting for a busy machine) = \
             {r:.0} comparisons per core-second",
            c
        );
    }
    println!("       {templates} templates prepared in {prep_ms:.1} ms (all threads)");
    println!();
    print_identification(&eval.ident, args, filler_secs);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(data: PathBuf) -> FvcArgs {
        FvcArgs {
            data,
            from_images: false,
            model: None,
            common: Common {
                out: None,
                json: true,
                repeat: 1,
                fillers: 0,
                seed: 1,
                shortlist: 64,
            },
        }
    }

    #[test]
    fn a_missing_folder_is_a_clear_error() {
        let err = run_fvc(args(PathBuf::from("/nonexistent/fvc"))).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/fvc: no such folder"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_shortlist_is_refused() {
        let mut a = args(PathBuf::from("/nonexistent/fvc"));
        a.common.shortlist = 0;
        let err = run_fvc(a).unwrap_err();
        assert!(err.to_string().contains("--shortlist"), "{err}");
    }

    #[test]
    fn calibration_checks_cover_the_three_operating_points() {
        let scores = DatabaseScores {
            name: "DB1_B".into(),
            synthetic: false,
            genuine: vec![0.5, 0.6, 0.01],
            impostor: vec![0.01],
            all_impostor: (0..1000).map(|k| f64::from(k) * 1e-5).collect(),
            prepare_time: Default::default(),
            comparisons: 0,
            compare_time: Default::default(),
            compare_cpu_time: None,
        };
        let checks = calibration_checks(&[&scores]);
        assert_eq!(checks.len(), 3);
        for (fmr, raw, measured, fnmr) in checks {
            assert_eq!(raw, raw_score_for_fmr(fmr));
            // Every impostor (at most 0.01) is below the thresholds; one genuine (0.01) too.
            assert_eq!(measured, 0.0);
            assert!((fnmr - 1.0 / 3.0).abs() < 1e-12);
        }
    }
}
