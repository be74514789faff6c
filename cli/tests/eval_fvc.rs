//! `abis eval fvc --json` on the real FVC2002 templates: the 1:N block is present, complete and
//! sane beside the 1:1 figures.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const FIELDS: [&str; 13] = [
    "rank1_exhaustive",
    "rank1_two_stage",
    "retention",
    "shortlist",
    "gallery",
    "penetration",
    "mate_rank_p50",
    "mate_rank_p99",
    "mate_rank_max",
    "fnir_at_fpir_1pct",
    "fpir_measured",
    "threshold",
    "probes",
];

fn num(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing or not a number in {v}"))
}

#[test]
fn eval_fvc_json_reports_the_identification_figures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/fvc2002");
    if !root.is_dir() {
        eprintln!("SKIP: {} not found; abis eval fvc not run", root.display());
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_abis"))
        .env("ABIS_LOG", "error")
        .args(["eval", "fvc", "--json", "--repeat", "1", "--fillers", "300"])
        .args(["--shortlist", "32", "--data"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    // The 1:1 figures are still there.
    assert!(num(&v["pooled"], "eer") < 0.1, "{}", v["pooled"]);
    assert_eq!(v["databases"].as_array().unwrap().len(), 4);

    let id = &v["identification"];
    assert_eq!(num(id, "fillers"), 300.0);
    assert_eq!(num(id, "target_fpir"), 0.01);
    assert_eq!(num(id, "comparisons"), 210.0 * 330.0);
    let dbs = id["databases"]
        .as_array()
        .expect("identification.databases");
    let names: Vec<&str> = dbs.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["DB1_B", "DB2_B", "DB3_B"],
        "synthetic DB4 is left out"
    );
    let pooled = &id["pooled"];
    for d in dbs.iter().chain([pooled]) {
        for f in FIELDS {
            num(d, f);
        }
        let pooled_row = d["name"] == pooled["name"];
        let (probes, gallery) = if pooled_row { (210, 330) } else { (70, 310) };
        assert_eq!(
            (num(d, "probes"), num(d, "gallery")),
            (probes as f64, gallery as f64)
        );
        assert_eq!(num(d, "shortlist"), 32.0);
        assert!((num(d, "penetration") - 32.0 / f64::from(gallery)).abs() < 1e-12);
        let t = -(0.01 / f64::from(gallery)).log10();
        assert!((num(d, "threshold") - t).abs() < 1e-9, "{d}");
        for f in ["retention", "fnir_at_fpir_1pct", "fpir_measured"] {
            assert!((0.0..=1.0).contains(&num(d, f)), "{f}: {d}");
        }
        let (p50, p99, max) = (
            num(d, "mate_rank_p50"),
            num(d, "mate_rank_p99"),
            num(d, "mate_rank_max"),
        );
        assert!(
            1.0 <= p50 && p50 <= p99 && p99 <= max && max <= f64::from(gallery),
            "{d}"
        );
    }
    // Sanity of the pooled figures on real data (measured: see the lead's report).
    assert!(num(pooled, "rank1_exhaustive") >= 0.85, "{pooled}");
    assert!(num(pooled, "rank1_two_stage") >= 0.85, "{pooled}");
    assert!(num(pooled, "retention") >= 0.9, "{pooled}");
    assert!(num(pooled, "fnir_at_fpir_1pct") <= 0.5, "{pooled}");
    assert!(num(pooled, "fpir_measured") <= 0.1, "{pooled}");
}
