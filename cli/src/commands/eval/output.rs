//! The files `abis eval --out DIR` writes, shared by every protocol: score distributions and
//! metrics as CSV and JSON, and the markdown report that ties the tables and plots together.
//!
//! CSV is written by hand (numbers and plain names only; a field with a comma or quote is
//! quoted), so the build needs no CSV crate. Every writer names the file it failed on.

use abis_datasets::fvc::ErrorRates;
use anyhow::Context;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One 1:1 score distribution: genuine and impostor comparison scores (higher = more alike).
#[derive(Debug, Clone, Default)]
pub struct ScoreSet {
    /// Database, modality or pool name.
    pub name: String,
    /// Same-subject comparison scores.
    pub genuine: Vec<f64>,
    /// Different-subject comparison scores.
    pub impostor: Vec<f64>,
}

/// Creates the output folder.
pub fn create(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))
}

fn write(path: PathBuf, text: &str) -> anyhow::Result<PathBuf> {
    std::fs::write(&path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(path)
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes a CSV file of `header` and `rows`.
pub fn write_csv(
    dir: &Path,
    file: &str,
    header: &[&str],
    rows: &[Vec<String>],
) -> anyhow::Result<PathBuf> {
    let mut text = header.join(",");
    text.push('\n');
    for row in rows {
        let fields: Vec<String> = row.iter().map(|f| field(f)).collect();
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    write(dir.join(file), &text)
}

/// Writes pretty JSON.
pub fn write_json(dir: &Path, file: &str, value: &Value) -> anyhow::Result<PathBuf> {
    write(dir.join(file), &serde_json::to_string_pretty(value)?)
}

/// Writes every score of `sets` as `set,label,score` rows (label `genuine` or `impostor`).
pub fn write_scores(dir: &Path, file: &str, sets: &[ScoreSet]) -> anyhow::Result<PathBuf> {
    let mut rows = Vec::new();
    for s in sets {
        for (label, scores) in [("genuine", &s.genuine), ("impostor", &s.impostor)] {
            rows.extend(
                scores
                    .iter()
                    .map(|x| vec![s.name.clone(), label.to_string(), format!("{x}")]),
            );
        }
    }
    write_csv(dir, file, &["set", "label", "score"], &rows)
}

/// The FVC figures of a set as JSON (fractions).
pub fn rates_json(r: &ErrorRates) -> Value {
    json!({
        "eer": r.eer, "fmr100": r.fmr100, "fmr1000": r.fmr1000, "zero_fmr": r.zero_fmr,
        "genuine": r.genuine, "impostor": r.impostor,
    })
}

/// Header of [`rates_row`].
pub const RATES_HEADER: [&str; 7] = [
    "set", "eer", "fmr100", "fmr1000", "zero_fmr", "genuine", "impostor",
];

/// One CSV row of a set's FVC figures (fractions).
pub fn rates_row(name: &str, r: &ErrorRates) -> Vec<String> {
    vec![
        name.to_string(),
        format!("{}", r.eer),
        format!("{}", r.fmr100),
        format!("{}", r.fmr1000),
        format!("{}", r.zero_fmr),
        r.genuine.to_string(),
        r.impostor.to_string(),
    ]
}

/// A fraction as a percentage with two decimals.
pub fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// The command line this process was started with, quoted for a POSIX shell where needed.
pub fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A markdown report, built section by section and written as `report.md`.
#[derive(Debug, Default)]
pub struct Report {
    text: String,
}

impl Report {
    /// A report titled `title`, opening with the command that produced it.
    pub fn new(title: &str) -> Self {
        let mut r = Self::default();
        let _ = writeln!(r.text, "# {title}\n");
        let _ = writeln!(r.text, "Produced by:\n\n```sh\n{}\n```\n", command_line());
        r
    }

    /// A second-level heading.
    pub fn section(&mut self, title: &str) {
        let _ = writeln!(self.text, "## {title}\n");
    }

    /// A paragraph.
    pub fn para(&mut self, text: &str) {
        let _ = writeln!(self.text, "{text}\n");
    }

    /// A table.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let _ = writeln!(self.text, "| {} |", header.join(" | "));
        let _ = writeln!(self.text, "|{}", "---|".repeat(header.len()));
        for row in rows {
            let _ = writeln!(self.text, "| {} |", row.join(" | "));
        }
        self.text.push('\n');
    }

    /// The FVC figures of `sets` as a table, percentages.
    pub fn rates_table(&mut self, sets: &[(String, ErrorRates)]) {
        let rows: Vec<Vec<String>> = sets
            .iter()
            .map(|(n, r)| {
                vec![
                    n.clone(),
                    pct(r.eer),
                    pct(r.fmr100),
                    pct(r.fmr1000),
                    pct(r.zero_fmr),
                    r.genuine.to_string(),
                    r.impostor.to_string(),
                ]
            })
            .collect();
        self.table(
            &[
                "set", "EER", "FMR100", "FMR1000", "ZeroFMR", "genuine", "impostor",
            ],
            &rows,
        );
    }

    /// Links the plots among `files` (the PNG shown, the SVG linked), or says they are absent.
    pub fn plots(&mut self, alt: &str, files: &[PathBuf]) {
        let name = |ext: &str| {
            files
                .iter()
                .filter_map(|f| f.file_name()?.to_str())
                .find(|n| n.ends_with(ext))
                .map(str::to_string)
        };
        match (name(".png"), name(".svg")) {
            (Some(png), Some(svg)) => {
                let _ = writeln!(self.text, "![{alt}]({png})\n\n([SVG]({svg}))\n");
            }
            _ => self.para(&format!(
                "({alt}: not drawn, no font found; see the warning.)"
            )),
        }
    }

    /// Writes `report.md` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        write(dir.join("report.md"), &self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![vec!["a,b".to_string(), "say \"hi\"".into(), "3".into()]];
        let p = write_csv(dir.path(), "x.csv", &["x", "y", "z"], &rows).unwrap();
        let text = std::fs::read_to_string(p).unwrap();
        assert_eq!(text, "x,y,z\n\"a,b\",\"say \"\"hi\"\"\",3\n");
    }

    #[test]
    fn scores_are_written_one_row_per_comparison() {
        let dir = tempfile::tempdir().unwrap();
        let set = ScoreSet {
            name: "DB1".into(),
            genuine: vec![0.5, 0.75],
            impostor: vec![0.125],
        };
        let p = write_scores(dir.path(), "scores.csv", &[set]).unwrap();
        let text = std::fs::read_to_string(p).unwrap();
        assert_eq!(
            text,
            "set,label,score\nDB1,genuine,0.5\nDB1,genuine,0.75\nDB1,impostor,0.125\n"
        );
    }

    #[test]
    fn the_report_holds_the_command_tables_and_plot_links() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::new("T");
        r.section("S");
        let rates = abis_datasets::fvc::error_rates(&[0.9], &[0.1]);
        r.rates_table(&[("A".into(), rates)]);
        r.plots(
            "DET",
            &[dir.path().join("det.svg"), dir.path().join("det.png")],
        );
        r.plots("CMC", &[]);
        let text = std::fs::read_to_string(r.write(dir.path()).unwrap()).unwrap();
        assert!(text.starts_with("# T\n"), "{text}");
        assert!(text.contains("```sh\n"), "{text}");
        assert!(
            text.contains("| A | 0.00% | 0.00% | 0.00% | 0.00% | 1 | 1 |"),
            "{text}"
        );
        assert!(text.contains("![DET](det.png)") && text.contains("[SVG](det.svg)"));
        assert!(text.contains("CMC: not drawn"), "{text}");
    }
}
