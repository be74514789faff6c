//! The JSON object and the files of `abis eval synthetic`.
//!
//! - `scores.csv`: the 1:1 calibrated scores per modality and fused (`set,label,score`).
//! - `searches.csv`: one row per 1:N search (split, modality, mate rank and score, best
//!   non-mate score), from which every open-set figure can be recomputed.
//! - `metrics.json` (the object `--json` prints), `metrics.csv` (1:1 figures),
//!   `identification.csv` (open-set figures and CMC per modality).
//! - `det.{svg,png}`, `cmc.{svg,png}`: one curve per modality, fused last; `report.md`.

use super::output::{
    pct, rates_json, rates_row, write_csv, write_json, write_scores, Report, ScoreSet, RATES_HEADER,
};
use super::plot::{self, Curve};
use super::synthetic::{KindResult, Run, LIST_FLOOR};
use abis_datasets::eval::Search;
use abis_datasets::fvc::det_curve;
use abis_datasets::fvc::search::CMC_RANKS;
use serde_json::{json, Value};
use std::path::Path;

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v}"))
}

/// The run as one JSON object.
pub(super) fn json(run: &Run) -> Value {
    let kinds: Vec<Value> = run
        .kinds
        .iter()
        .map(|k| {
            json!({
                "modality": k.kind.name(),
                "mated_searches": k.mated.len(),
                "non_mated_searches": k.non_mated.len(),
                "calibration_searches": k.calibration.len(),
                "unresolved_mated": k.unresolved,
                "cmc": k.cmc,
                "open_set": k.open_set.iter().map(|o| json!({
                    "target_fpir": o.target_fpir, "threshold": o.threshold,
                    "fpir_calibration": o.fpir_calibration, "fnir": o.fnir, "fpir": o.fpir,
                })).collect::<Vec<_>>(),
                "verification": rates_json(&k.rates),
            })
        })
        .collect();
    json!({
        "protocol": "gallery = enrolment captures of `people`; test split = later captures of `mated` enrolled people + `non_mated` never-enrolled people; calibration split = never-enrolled people of population `calibration_seed`; open-set thresholds chosen on the calibration split, FNIR/FPIR reported on the test split; 1:1 = each mated probe vs its enrolment and `impostors` others",
        "people": run.args_people,
        "fingers": run.fingers,
        "seed": run.seed,
        "calibration_seed": run.calibration_seed,
        "list_floor": LIST_FLOOR,
        "max_rank": CMC_RANKS,
        "modalities": kinds,
        "enrol_seconds": run.enrol_seconds,
        "searches": run.searches,
        "search_seconds": run.search_seconds,
        "verify_seconds": run.verify_seconds,
    })
}

fn search_rows(k: &KindResult, split: &str, s: &[Search], rows: &mut Vec<Vec<String>>) {
    for x in s {
        rows.push(vec![
            split.to_string(),
            k.kind.name().to_string(),
            x.mate_rank.map_or(String::new(), |r| r.to_string()),
            opt(x.mate_score),
            opt(x.best_non_mate),
        ]);
    }
}

/// Writes every file; returns how many.
pub(super) fn write(dir: &Path, run: &Run, json: &Value) -> anyhow::Result<usize> {
    let mut files = Vec::new();
    let sets: Vec<ScoreSet> = run
        .kinds
        .iter()
        .map(|k| ScoreSet {
            name: k.kind.name().to_string(),
            genuine: k.genuine.clone(),
            impostor: k.impostor.clone(),
        })
        .collect();
    files.push(write_scores(dir, "scores.csv", &sets)?);
    let mut rows = Vec::new();
    for k in &run.kinds {
        search_rows(k, "calibration_non_mated", &k.calibration, &mut rows);
        search_rows(k, "test_mated", &k.mated, &mut rows);
        search_rows(k, "test_non_mated", &k.non_mated, &mut rows);
    }
    let header = [
        "split",
        "modality",
        "mate_rank",
        "mate_score",
        "best_non_mate_score",
    ];
    files.push(write_csv(dir, "searches.csv", &header, &rows)?);
    files.push(write_json(dir, "metrics.json", json)?);
    let rate_rows: Vec<Vec<String>> = run
        .kinds
        .iter()
        .map(|k| rates_row(k.kind.name(), &k.rates))
        .collect();
    files.push(write_csv(dir, "metrics.csv", &RATES_HEADER, &rate_rows)?);
    let mut id_header: Vec<String> = ["modality", "mated", "non_mated"]
        .map(String::from)
        .to_vec();
    for f in ["1pct", "0_1pct"] {
        for c in ["threshold", "fpir_calibration", "fnir", "fpir"] {
            id_header.push(format!("{c}_fpir_{f}"));
        }
    }
    id_header.extend((1..=CMC_RANKS).map(|r| format!("cmc_rank{r}")));
    let id_rows: Vec<Vec<String>> = run
        .kinds
        .iter()
        .map(|k| {
            let mut row = vec![
                k.kind.name().to_string(),
                k.mated.len().to_string(),
                k.non_mated.len().to_string(),
            ];
            for o in &k.open_set {
                row.extend(
                    [o.threshold, o.fpir_calibration, o.fnir, o.fpir].map(|v| format!("{v}")),
                );
            }
            row.extend(k.cmc.iter().map(|c| format!("{c}")));
            row
        })
        .collect();
    let id_header: Vec<&str> = id_header.iter().map(String::as_str).collect();
    files.push(write_csv(dir, "identification.csv", &id_header, &id_rows)?);

    let det_curves: Vec<Curve> = sets
        .iter()
        .map(|s| Curve::det(&s.name, &det_curve(&s.genuine, &s.impostor)))
        .collect();
    let title = format!(
        "DET, 1:1, synthetic population ({} people)",
        run.args_people
    );
    let det = plot::det(dir, "det", &title, &det_curves)?;
    let cmc_curves: Vec<Curve> = run
        .kinds
        .iter()
        .map(|k| Curve {
            name: k.kind.name().to_string(),
            points: k
                .cmc
                .iter()
                .enumerate()
                .map(|(r, &c)| ((r + 1) as f64, c))
                .collect(),
        })
        .collect();
    let title = format!("CMC, 1:N, gallery of {} people", run.args_people);
    let cmc = plot::cmc(dir, "cmc", &title, &cmc_curves)?;
    files.extend(det.iter().chain(&cmc).cloned());

    let mut r = Report::new(&format!(
        "Synthetic evaluation: {} people, seed {}",
        run.args_people, run.seed
    ));
    r.para(&format!(
        "Gallery: the enrolment captures of {} generated people (2 irises, face, {} fingers; a \
         few people miss an eye or the face), searched through the engine. Test split: later \
         captures of enrolled people (mated) and people never enrolled (non-mated), population \
         seed {}. Calibration split: never-enrolled people of population seed {}. The engine's \
         score calibration is fitted on another held-out population.",
        run.args_people, run.fingers, run.seed, run.calibration_seed
    ));
    r.section("1:N, open set");
    r.para(&format!(
        "Each target FPIR's threshold (fused calibrated score) is chosen on the calibration \
         split's non-mated searches and FNIR and FPIR are reported on the test split at it. \
         Per-modality searches use a probe holding only that modality (probes without it are \
         not searched for it); fused searches use the whole record. The engine lists up to {} \
         candidates scoring at least {} (a threshold below that is raised to it); CMC ranks \
         come from that list.",
        CMC_RANKS, LIST_FLOOR
    ));
    let rows: Vec<Vec<String>> = run
        .kinds
        .iter()
        .map(|k| {
            let (a, b) = (&k.open_set[0], &k.open_set[1]);
            vec![
                k.kind.name().to_string(),
                k.mated.len().to_string(),
                k.non_mated.len().to_string(),
                pct(k.cmc[0]),
                pct(k.cmc[CMC_RANKS - 1]),
                format!("{:.2}", a.threshold),
                pct(a.fnir),
                pct(a.fpir),
                format!("{:.2}", b.threshold),
                pct(b.fnir),
                pct(b.fpir),
            ]
        })
        .collect();
    r.table(
        &[
            "modality",
            "mated",
            "non-mated",
            "rank 1",
            &format!("rank {CMC_RANKS}"),
            "threshold (FPIR 1%)",
            "FNIR",
            "FPIR (test)",
            "threshold (FPIR 0.1%)",
            "FNIR",
            "FPIR (test)",
        ],
        &rows,
    );
    let unresolved: Vec<String> = run
        .kinds
        .iter()
        .filter(|k| k.unresolved > 0)
        .map(|k| format!("{} {}", k.kind.name(), k.unresolved))
        .collect();
    if !unresolved.is_empty() {
        r.para(&format!(
            "Mated searches whose mate scored below the listing floor while fewer than {} \
             candidates were listed count as not identified at any rank (their true rank is \
             not known): {}.",
            CMC_RANKS,
            unresolved.join(", ")
        ));
    }
    r.plots("CMC", &cmc);
    r.section("1:1");
    r.para(
        "Each mated probe compared with its own enrolment (genuine) and other enrolled people \
         (impostor); calibrated scores, fingers fused over the fingers both records carry.",
    );
    let rates: Vec<_> = run
        .kinds
        .iter()
        .map(|k| (k.kind.name().to_string(), k.rates))
        .collect();
    r.rates_table(&rates);
    r.plots("DET", &det);
    r.para(plot::DET_NOTE);
    r.para(&format!(
        "Time: enrolment {:.1} s, {} searches {:.1} s, 1:1 {:.1} s. Files: scores.csv, \
         searches.csv, metrics.json, metrics.csv, identification.csv.",
        run.enrol_seconds, run.searches, run.search_seconds, run.verify_seconds
    ));
    files.push(r.write(dir)?);
    Ok(files.len())
}
