//! `abis eval fvc --json --out` on the real FVC2002 templates: the 1:N block is present,
//! complete and sane beside the 1:1 figures, and the files of `--out` (DET plot, metrics,
//! report) hold the FVC table; `abis eval folder` on FVC templates renamed
//! `<subject>_<impression>.<ext>` runs the same protocol.

mod common;

use serde_json::Value;
use std::path::Path;

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

/// Runs `abis` with `args`, expects success and one JSON object on stdout.
fn abis_json<I, S>(args: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = common::succeeds(common::abis().args(args));
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

#[test]
fn eval_fvc_json_reports_the_identification_figures() {
    let Some(root) = common::shared("fvc2002") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("out");
    let mut args: Vec<std::ffi::OsString> = [
        "eval",
        "fvc",
        "--json",
        "--repeat",
        "1",
        "--fillers",
        "300",
        "--shortlist",
        "32",
    ]
    .map(Into::into)
    .to_vec();
    args.extend(["--data".into(), root.into_os_string()]);
    args.extend(["--out".into(), files.clone().into_os_string()]);
    let v = abis_json(args);
    // The 1:1 figures are still there, each EER inside its interval from resampling fingers,
    // which 30 real fingers leave wide.
    assert!(num(&v["pooled"], "eer") < 0.1, "{}", v["pooled"]);
    for row in [&v["pooled"], &v["pooled"]["all_impostors"]] {
        let ci = row["eer_ci95"].as_array().expect("eer_ci95");
        let (low, high) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        let eer = num(row, "eer");
        assert!(low <= eer && eer <= high && high - low > 0.005, "{row}");
    }
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
    for d in dbs.iter().chain([pooled]) {
        let cmc: Vec<f64> = d["cmc_two_stage"]
            .as_array()
            .expect("cmc_two_stage")
            .iter()
            .map(|c| c.as_f64().unwrap())
            .collect();
        assert_eq!(cmc.len(), 20, "{d}");
        assert_eq!(cmc[0], num(d, "rank1_two_stage"), "{d}");
        assert!(cmc.windows(2).all(|w| w[0] <= w[1]), "{d}");
        // A stricter FPIR target cannot lower the FNIR.
        assert!(
            num(d, "fnir_at_fpir_0_1pct") >= num(d, "fnir_at_fpir_1pct"),
            "{d}"
        );
    }
    check_files(&files, &v);
}

/// The EER table of the fingerprint issue (docs/PERFORMANCE.md), FVC protocol.
const EER_TABLE: [(&str, f64); 4] = [
    ("DB1_B", 0.0107),
    ("DB2_B", 0.0218),
    ("DB3_B", 0.0490),
    ("pooled (real)", 0.0291),
];

fn check_files(dir: &Path, stdout_json: &Value) {
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let metrics: Value = serde_json::from_str(&read("metrics.json")).unwrap();
    assert_eq!(metrics["databases"], stdout_json["databases"]);
    let mut rows: Vec<&Value> = metrics["databases"].as_array().unwrap().iter().collect();
    rows.push(&metrics["pooled"]);
    for (name, eer) in EER_TABLE {
        let row = rows.iter().find(|r| r["name"] == name).expect(name);
        assert!((num(row, "eer") - eer).abs() < 0.0005, "{name}: {row}");
    }
    assert!(!metrics["operating_points"].as_array().unwrap().is_empty());
    let csv = read("metrics.csv");
    assert!(csv.starts_with(
        "protocol,set,eer,fmr100,fmr1000,zero_fmr,genuine,impostor,eer_ci95_low,eer_ci95_high\n"
    ));
    assert_eq!(csv.lines().count(), 1 + 2 * 6, "{csv}");
    let scores = read("scores.csv");
    // 4 databases x (280 genuine + 45 impostor) rows and a header.
    assert_eq!(scores.lines().count(), 1 + 4 * 325);
    let report = read("report.md");
    for needle in [
        "abis eval fvc",
        "| DB1_B | 1.07% |",
        "det.png",
        "det.svg",
        "cmc.png",
    ] {
        assert!(report.contains(needle), "{needle} missing from report.md");
    }
    if !dir.join("det.png").exists() {
        eprintln!("SKIP: plots not drawn (no font); files other than plots checked");
        return;
    }
    let svg = read("det.svg");
    assert!(
        svg.contains("FMR (false match rate), log scale"),
        "x axis label"
    );
    assert!(
        svg.contains("FNMR (false non-match rate), log scale"),
        "y axis label"
    );
    for name in [
        "DB1_B",
        "DB2_B",
        "DB3_B",
        "DB4_B-synthetic",
        "pooled (real)",
    ] {
        // plotters writes each text element's content on a line of its own.
        assert!(svg.lines().any(|l| l.trim() == name), "legend entry {name}");
    }
    // One curve (and its legend sample) per database, and the pool drawn thicker.
    assert_eq!(
        svg.matches("stroke-width=\"2\"").count(),
        2 * 4,
        "per-database curves"
    );
    assert_eq!(svg.matches("stroke-width=\"3\"").count(), 2, "pooled curve");
    for f in [
        "det.png",
        "det_fvc.png",
        "cmc.png",
        "cmc.svg",
        "det_fvc.svg",
    ] {
        assert!(std::fs::metadata(dir.join(f)).unwrap().len() > 1000, "{f}");
    }
}

#[test]
fn eval_folder_runs_the_fvc_protocol_on_renamed_records() {
    let Some(root) = common::shared("fvc2002/DB1_B") else {
        return;
    };
    // Five fingers, eight impressions each, renamed <subject>_<impression>.<ext>.
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir(&records).unwrap();
    for f in 101..=105 {
        for i in 1..=8 {
            let ext = if i % 2 == 0 { "ist" } else { "min" };
            std::fs::copy(
                root.join(format!("{f}_{i}.iso")),
                records.join(format!("subject-{f}_{i}.{ext}")),
            )
            .unwrap();
        }
    }
    std::fs::write(records.join("notes.txt"), "not a record").unwrap();
    let files = dir.path().join("out");
    let mut args: Vec<std::ffi::OsString> = vec!["eval".into(), "folder".into()];
    args.push(records.clone().into_os_string());
    args.extend(["--json", "--repeat", "1", "--fillers", "50", "--out"].map(Into::into));
    args.push(files.clone().into_os_string());
    let v = abis_json(args);
    let dbs = v["databases"].as_array().unwrap();
    assert_eq!(dbs.len(), 1);
    // 5 x 28 genuine pairs, 10 first-impression impostor pairs.
    assert_eq!(
        (num(&dbs[0], "genuine"), num(&dbs[0], "impostor")),
        (140.0, 10.0)
    );
    assert_eq!(num(&v["identification"]["pooled"], "probes"), 35.0);
    for f in ["metrics.json", "metrics.csv", "scores.csv", "report.md"] {
        assert!(files.join(f).is_file(), "{f}");
    }
    let report = std::fs::read_to_string(files.join("report.md")).unwrap();
    assert!(report.contains("abis eval folder"), "{report}");
}
