//! `abis eval synthetic --people 2000 --out DIR`: every file is written, the figures are
//! consistent, and fusion beats every single modality on this generated population.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn num(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing or not a number in {v}"))
}

/// Runs `abis eval synthetic <args> --json --out <out>` (with `ABIS_PLOT_FONT=font` when
/// given) and expects success.
fn eval_synthetic(args: &[&str], out: &Path, font: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abis"));
    cmd.env("ABIS_LOG", "error").args(["eval", "synthetic"]);
    if let Some(f) = font {
        cmd.env("ABIS_PLOT_FONT", f);
    }
    let output = cmd
        .args(args)
        .arg("--json")
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn eval_synthetic_writes_the_files_and_fusion_beats_each_modality() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("out");
    let out = eval_synthetic(&["--people", "2000"], &files, None);
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    let kinds = v["modalities"].as_array().unwrap();
    let names: Vec<&str> = kinds
        .iter()
        .map(|k| k["modality"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["left iris", "right iris", "face", "fused"]);
    // (FNIR at FPIR 1%, FNIR at FPIR 0.1%) per modality.
    let mut fnir = Vec::new();
    for k in kinds {
        let os = k["open_set"].as_array().unwrap();
        assert_eq!(os.len(), 2);
        assert_eq!(
            (num(&os[0], "target_fpir"), num(&os[1], "target_fpir")),
            (0.01, 0.001)
        );
        for o in os {
            // Chosen on the calibration split: at most the target there.
            assert!(num(o, "fpir_calibration") <= num(o, "target_fpir"), "{o}");
            // Reported on the test split: near the target (2,000 non-mated searches).
            assert!(num(o, "fpir") <= 5.0 * num(o, "target_fpir") + 0.002, "{o}");
            assert!(num(o, "threshold") >= num(&v, "list_floor"), "{o}");
        }
        // A stricter target raises the threshold.
        assert!(num(&os[1], "threshold") >= num(&os[0], "threshold"), "{k}");
        fnir.push((num(&os[0], "fnir"), num(&os[1], "fnir")));
        let cmc: Vec<f64> = k["cmc"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_f64().unwrap())
            .collect();
        assert_eq!(cmc.len(), 20);
        assert!(cmc.windows(2).all(|w| w[0] <= w[1]), "{k}");
        assert!(cmc[0] >= 0.98, "{k}");
        let ver = &k["verification"];
        assert!(num(ver, "genuine") >= 1900.0 && num(ver, "impostor") >= 4.0 * 1900.0);
        assert!(num(ver, "eer") < 0.01, "{ver}");
    }
    let (fused, singles) = fnir.split_last().unwrap();
    for (k, single) in singles.iter().enumerate() {
        // Fusion is strictly better than every single modality at both targets.
        assert!(
            fused.0 < single.0,
            "{}: fused {fused:?} vs {single:?}",
            names[k]
        );
        assert!(
            fused.1 < single.1,
            "{}: fused {fused:?} vs {single:?}",
            names[k]
        );
    }

    for f in [
        "scores.csv",
        "searches.csv",
        "metrics.json",
        "metrics.csv",
        "identification.csv",
        "report.md",
    ] {
        assert!(std::fs::metadata(files.join(f)).unwrap().len() > 0, "{f}");
    }
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(files.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(metrics["modalities"], v["modalities"]);
    let searches = std::fs::read_to_string(files.join("searches.csv")).unwrap();
    assert_eq!(
        searches.lines().count() as f64,
        1.0 + num(&v, "searches"),
        "one row per search"
    );
    let report = std::fs::read_to_string(files.join("report.md")).unwrap();
    assert!(
        report.contains("abis eval synthetic --people 2000"),
        "{report}"
    );
    if files.join("det.png").exists() {
        let svg = std::fs::read_to_string(files.join("det.svg")).unwrap();
        for name in [
            "left iris",
            "right iris",
            "face",
            "fused",
            "FMR (false match rate)",
        ] {
            assert!(svg.contains(name), "{name} missing from det.svg");
        }
        assert!(files.join("cmc.svg").is_file() && files.join("cmc.png").is_file());
    } else {
        eprintln!("SKIP: plots not drawn (no font)");
    }
}

#[test]
fn without_a_font_the_plots_are_skipped_and_everything_else_written() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("out");
    let args = ["--people", "300", "--mated", "100", "--non-mated", "100"];
    let font = dir.path().join("no-such-font.ttf");
    let out = eval_synthetic(&args, &files, Some(&font));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("det.svg and det.png not drawn") && stderr.contains("ABIS_PLOT_FONT"),
        "{stderr}"
    );
    for f in ["det.svg", "det.png", "cmc.svg", "cmc.png"] {
        assert!(!files.join(f).exists(), "{f} drawn without a font");
    }
    for f in [
        "scores.csv",
        "searches.csv",
        "metrics.json",
        "metrics.csv",
        "report.md",
    ] {
        assert!(files.join(f).is_file(), "{f}");
    }
    let report = std::fs::read_to_string(files.join("report.md")).unwrap();
    assert!(report.contains("CMC: not drawn"), "{report}");
}
