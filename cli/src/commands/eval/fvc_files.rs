//! The files of `abis eval fvc --out DIR` (and `abis eval folder`).
//!
//! - `scores.csv`: the FVC protocol's scores (`set,label,score`, label `genuine` or
//!   `impostor`); `scores_all_impostors.csv`: every different-finger pair's score.
//! - `metrics.json`: the object `--json` prints plus the operating points; `metrics.csv`:
//!   EER, FMR100, FMR1000, ZeroFMR per database and pool, under both impostor protocols.
//! - `operating_points.csv`: the split rule. Thresholds for FMR 1% and 0.1% are chosen on data
//!   that is not reported (the matcher's calibration, fitted on FVC2002 DB4; and this run's
//!   synthetic databases' impostors when there are any) and FMR / FNMR are measured at them
//!   on each real database and the real pool.
//! - `identification.csv`, `cmc.{svg,png}`: the 1:N figures and the two-stage CMC.
//! - `det.{svg,png}`: DET curves from every impostor pair (FMR resolved to 1/2,880 per
//!   database); `det_fvc.{svg,png}`: from the FVC protocol's 45 impostors per database.
//! - `report.md`: all of it in tables and pictures, with the command line.

use super::fvc::{pooled_scores, Evaluation};
use super::output::{
    pct, rates_row, write_csv, write_json, write_scores, Report, ScoreSet, RATES_HEADER,
};
use super::plot::{self, Curve};
use abis_datasets::fvc::search::{IdentificationRates, CMC_RANKS, SECOND_FPIR};
use abis_datasets::fvc::{det_curve, rates_at, threshold_for_fmr, DatabaseScores};
use abis_matchers::finger::matcher::raw_score_for_fmr;
use serde_json::json;
use std::path::{Path, PathBuf};

/// FMR targets of the operating points.
const TARGET_FMRS: [f64; 2] = [1e-2, 1e-3];

/// One threshold chosen on one split and measured on another.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OperatingPoint {
    /// Where the threshold was chosen.
    pub(super) chosen_on: String,
    pub(super) target_fmr: f64,
    /// Raw matcher score.
    pub(super) threshold: f64,
    /// Where it was measured.
    pub(super) set: String,
    pub(super) fmr: f64,
    pub(super) fnmr: f64,
}

/// Thresholds chosen on the calibration (DB4) and on the synthetic databases of the run,
/// measured on each real database and on the real pool (all impostor pairs).
pub(super) fn operating_points(scores: &[DatabaseScores]) -> Vec<OperatingPoint> {
    let real: Vec<&DatabaseScores> = scores.iter().filter(|s| !s.synthetic).collect();
    let synth: Vec<&DatabaseScores> = scores.iter().filter(|s| s.synthetic).collect();
    let mut report_on: Vec<(String, Vec<f64>, Vec<f64>)> = real
        .iter()
        .map(|d| (d.name.clone(), d.genuine.clone(), d.all_impostor.clone()))
        .collect();
    if real.len() > 1 {
        let (g, _, a) = pooled_scores(&real);
        report_on.push(("pooled (real)".into(), g, a));
    }
    let synth_imp = pooled_scores(&synth).2;
    let names: Vec<&str> = synth.iter().map(|d| d.name.as_str()).collect();
    let mut out = Vec::new();
    for target in TARGET_FMRS {
        let mut sources = vec![(
            "matcher calibration (fitted on FVC2002 DB4)".to_string(),
            f64::from(raw_score_for_fmr(target)),
        )];
        if !synth_imp.is_empty() {
            sources.push((
                format!("{} impostors, this run", names.join("+")),
                threshold_for_fmr(&synth_imp, target),
            ));
        }
        for (chosen_on, t) in &sources {
            for (set, g, a) in &report_on {
                let (fmr, fnmr) = rates_at(g, a, *t);
                out.push(OperatingPoint {
                    chosen_on: chosen_on.clone(),
                    target_fmr: target,
                    threshold: *t,
                    set: set.clone(),
                    fmr,
                    fnmr,
                });
            }
        }
    }
    out
}

fn ident_row(r: &IdentificationRates) -> Vec<String> {
    let mut row = vec![
        r.name.clone(),
        r.probes.to_string(),
        r.gallery.to_string(),
        format!("{}", r.rank1_two_stage),
        format!("{}", r.threshold),
        format!("{}", r.fnir),
        format!("{}", r.fpir_measured),
        format!("{}", r.threshold_second),
        format!("{}", r.fnir_second),
        format!("{}", r.fpir_measured_second),
    ];
    row.extend(r.cmc.iter().map(|c| format!("{c}")));
    row
}

/// Writes every file; returns how many.
pub(super) fn write(dir: &Path, e: &Evaluation) -> anyhow::Result<usize> {
    let mut files: Vec<PathBuf> = Vec::new();
    let sets = |pick: fn(&DatabaseScores) -> &Vec<f64>| -> Vec<ScoreSet> {
        e.scores
            .iter()
            .map(|d| ScoreSet {
                name: d.name.clone(),
                genuine: d.genuine.clone(),
                impostor: pick(d).clone(),
            })
            .collect()
    };
    let fvc_sets = sets(|d| &d.impostor);
    let mut all_sets = sets(|d| &d.all_impostor);
    files.push(write_scores(dir, "scores.csv", &fvc_sets)?);
    let impostors_only: Vec<ScoreSet> = all_sets
        .iter()
        .map(|s| ScoreSet {
            genuine: Vec::new(),
            ..s.clone()
        })
        .collect();
    files.push(write_scores(
        dir,
        "scores_all_impostors.csv",
        &impostors_only,
    )?);

    let ops = operating_points(&e.scores);
    let mut json = e.json.clone();
    json["operating_points"] = ops
        .iter()
        .map(|o| {
            json!({"chosen_on": o.chosen_on, "target_fmr": o.target_fmr,
                "raw_threshold": o.threshold, "set": o.set, "fmr": o.fmr, "fnmr": o.fnmr})
        })
        .collect();
    files.push(write_json(dir, "metrics.json", &json)?);
    let mut header = vec!["protocol"];
    header.extend(RATES_HEADER);
    header.extend(["eer_ci95_low", "eer_ci95_high"]);
    let mut rows = Vec::new();
    for (protocol, pick) in [("fvc", 0), ("all_impostors", 1)] {
        for r in &e.rows {
            let (rates, ci) = if pick == 0 {
                (&r.fvc, &r.fvc_ci)
            } else {
                (&r.all, &r.all_ci)
            };
            let mut row = vec![protocol.to_string()];
            row.extend(rates_row(&r.name, rates));
            row.extend([format!("{}", ci.low), format!("{}", ci.high)]);
            rows.push(row);
        }
    }
    files.push(write_csv(dir, "metrics.csv", &header, &rows)?);
    let op_rows: Vec<Vec<String>> = ops
        .iter()
        .map(|o| {
            vec![
                o.chosen_on.clone(),
                format!("{}", o.target_fmr),
                format!("{}", o.threshold),
                o.set.clone(),
                format!("{}", o.fmr),
                format!("{}", o.fnmr),
            ]
        })
        .collect();
    let op_header = [
        "chosen_on",
        "target_fmr",
        "raw_threshold",
        "set",
        "fmr",
        "fnmr",
    ];
    files.push(write_csv(
        dir,
        "operating_points.csv",
        &op_header,
        &op_rows,
    )?);

    let ident: Vec<&IdentificationRates> = e
        .ident
        .databases
        .iter()
        .chain(e.ident.pooled.iter())
        .collect();
    let mut id_header: Vec<String> = [
        "set",
        "probes",
        "gallery",
        "rank1_two_stage",
        "threshold_fpir_1pct",
        "fnir_fpir_1pct",
        "fpir_measured_1pct",
        "threshold_fpir_0_1pct",
        "fnir_fpir_0_1pct",
        "fpir_measured_0_1pct",
    ]
    .map(String::from)
    .to_vec();
    id_header.extend((1..=CMC_RANKS).map(|r| format!("cmc_rank{r}")));
    let id_header: Vec<&str> = id_header.iter().map(String::as_str).collect();
    let id_rows: Vec<Vec<String>> = ident.iter().map(|r| ident_row(r)).collect();
    files.push(write_csv(dir, "identification.csv", &id_header, &id_rows)?);

    // Plots: one curve per database, the real pool last.
    let real: Vec<&DatabaseScores> = e.scores.iter().filter(|s| !s.synthetic).collect();
    let (g, i, a) = pooled_scores(&real);
    if real.len() > 1 {
        all_sets.push(ScoreSet {
            name: "pooled (real)".into(),
            genuine: g.clone(),
            impostor: a,
        });
    }
    let mut fvc_pool = fvc_sets.clone();
    if real.len() > 1 {
        fvc_pool.push(ScoreSet {
            name: "pooled (real)".into(),
            genuine: g,
            impostor: i,
        });
    }
    let det_of = |s: &[ScoreSet]| -> Vec<Curve> {
        s.iter()
            .map(|s| Curve::det(&s.name, &det_curve(&s.genuine, &s.impostor)))
            .collect()
    };
    let det_all = plot::det(
        dir,
        "det",
        "DET, FVC2002-style genuine pairs vs every impostor pair",
        &det_of(&all_sets),
    )?;
    let det_fvc = plot::det(
        dir,
        "det_fvc",
        "DET, FVC protocol (first-impression impostors)",
        &det_of(&fvc_pool),
    )?;
    let cmc_curves: Vec<Curve> = ident
        .iter()
        .map(|r| Curve {
            name: r.name.clone(),
            points: r
                .cmc
                .iter()
                .enumerate()
                .map(|(k, &c)| ((k + 1) as f64, c))
                .collect(),
        })
        .collect();
    let cmc = plot::cmc(
        dir,
        "cmc",
        &format!(
            "CMC, two-stage 1:N search ({} generated fillers)",
            e.ident.fillers
        ),
        &cmc_curves,
    )?;
    files.extend(det_all.iter().chain(&det_fvc).chain(&cmc).cloned());

    let report = report(e, &ops, &det_all, &det_fvc, &cmc);
    files.push(report.write(dir)?);
    Ok(files.len())
}

fn report(
    e: &Evaluation,
    ops: &[OperatingPoint],
    det_all: &[PathBuf],
    det_fvc: &[PathBuf],
    cmc: &[PathBuf],
) -> Report {
    let mut r = Report::new(&format!("FVC evaluation of {}", e.data.display()));
    r.section("1:1, FVC protocol");
    r.para(
        "Genuine: every pair of impressions of a finger. Impostor: the first impressions of \
         different fingers, each pair once (FVC2002). EER, FMR100 (lowest FNMR at FMR <= 1%), \
         FMR1000 (at FMR <= 0.1%) and ZeroFMR (at FMR = 0) summarise the whole curve and need \
         no threshold. Pools put the scores of their databases together.",
    );
    let fvc: Vec<_> = e.rows.iter().map(|x| (x.name.clone(), x.fvc)).collect();
    r.rates_table(&fvc);
    r.plots("DET, FVC protocol", det_fvc);
    r.para(plot::DET_NOTE);
    r.section("1:1, every impostor pair");
    r.para(
        "Beyond the FVC protocol: every impression against every impression of every other \
         finger, which resolves FMR100 and FMR1000.",
    );
    let all: Vec<_> = e.rows.iter().map(|x| (x.name.clone(), x.all)).collect();
    r.rates_table(&all);
    r.plots("DET, every impostor pair", det_all);
    r.section("Operating points: thresholds chosen on other data");
    r.para(
        "Each threshold is chosen for a target FMR on data the row does not report on (the \
         matcher's calibration was fitted on FVC2002 DB4's impostors; the synthetic databases \
         of this run, when present), then FMR and FNMR are measured at it on the real \
         databases (every impostor pair).",
    );
    let rows: Vec<Vec<String>> = ops
        .iter()
        .map(|o| {
            vec![
                o.chosen_on.clone(),
                pct(o.target_fmr),
                format!("{:.4}", o.threshold),
                o.set.clone(),
                pct(o.fmr),
                pct(o.fnmr),
            ]
        })
        .collect();
    r.table(
        &[
            "threshold chosen on",
            "target FMR",
            "raw threshold",
            "measured on",
            "FMR",
            "FNMR",
        ],
        &rows,
    );
    r.section("1:N, open set");
    r.para(&format!(
        "Gallery: each real finger's first impression plus {} generated fillers; probes: the \
         other impressions. The first stage shortlists, the full matcher re-ranks. FNIR: mated \
         searches whose mate is not returned at calibrated score >= -log10(FPIR / gallery); the \
         calibration was fitted on DB4 only, so the threshold is never chosen on the reported \
         databases. FPIR measured: each probe searched with its own finger removed.",
        e.ident.fillers
    ));
    let ident: Vec<Vec<String>> = e
        .ident
        .databases
        .iter()
        .chain(e.ident.pooled.iter())
        .map(|x| {
            vec![
                x.name.clone(),
                x.probes.to_string(),
                x.gallery.to_string(),
                pct(x.cmc.first().copied().unwrap_or(0.0)),
                pct(x.cmc.last().copied().unwrap_or(0.0)),
                pct(x.fnir),
                pct(x.fpir_measured),
                pct(x.fnir_second),
                pct(x.fpir_measured_second),
            ]
        })
        .collect();
    r.table(
        &[
            "set",
            "probes",
            "gallery",
            "rank 1",
            &format!("rank {CMC_RANKS}"),
            "FNIR @ FPIR 1%",
            "FPIR measured",
            &format!("FNIR @ FPIR {}%", SECOND_FPIR * 100.0),
            "FPIR measured",
        ],
        &ident,
    );
    r.plots("CMC", cmc);
    r.para(
        "Files: scores.csv, scores_all_impostors.csv, metrics.json, metrics.csv, \
         operating_points.csv, identification.csv.",
    );
    r
}
