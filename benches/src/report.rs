//! One measured configuration, and how it is printed.

use serde::Serialize;
use std::time::Duration;

/// One line of output: a suite's measurement of one configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Suite name (`iris-scan`, ...).
    pub suite: String,
    /// What was measured inside the suite (kernel variant, peer, batch shape).
    pub variant: String,
    /// Gallery records scanned per pass.
    pub records: usize,
    /// Bytes of gallery data read per record per pass.
    pub bytes_per_record: usize,
    /// Gallery records processed per second (median over repetitions). For batched suites a
    /// record counts once per batch, however many probes it met.
    pub records_per_s: f64,
    /// Comparisons per second (records x probes x rotations, as the suite defines them).
    pub comparisons_per_s: f64,
    /// Probes per pass.
    pub probes: usize,
    /// Threads used.
    pub threads: usize,
    /// Median seconds per pass.
    pub median_s: f64,
    /// Memory read bandwidth measured in the same run, GB/s.
    pub mem_read_gbps: f64,
    /// `records_per_s * bytes_per_record` over the measured bandwidth.
    pub ratio_to_bandwidth: f64,
    /// Suite-specific figures (recall, ratio to a peer, ...).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Row {
    /// A row from a median pass time; `comparisons_per_pass` is records x probes x rotations.
    // Every argument is a distinct figure of the row; a builder would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        suite: &str,
        variant: impl Into<String>,
        records: usize,
        bytes_per_record: usize,
        probes: usize,
        threads: usize,
        comparisons_per_pass: f64,
        median: Duration,
    ) -> Self {
        let s = median.as_secs_f64().max(1e-12);
        Self {
            suite: suite.to_string(),
            variant: variant.into(),
            records,
            bytes_per_record,
            records_per_s: records as f64 / s,
            comparisons_per_s: comparisons_per_pass / s,
            probes,
            threads,
            median_s: s,
            mem_read_gbps: 0.0,
            ratio_to_bandwidth: 0.0,
            extra: serde_json::Map::new(),
        }
    }

    /// Adds a suite-specific figure.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }
}

/// Runs `pass` once to warm up, then `reps` times, and returns the median duration.
pub fn median_time(reps: usize, mut pass: impl FnMut()) -> Duration {
    pass();
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = std::time::Instant::now();
            pass();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Prints rows as JSON lines or as an aligned table.
pub struct Printer {
    json: bool,
    header_done: bool,
}

impl Printer {
    /// A printer for JSON lines (`json`) or a table.
    pub fn new(json: bool) -> Self {
        Self {
            json,
            header_done: false,
        }
    }

    /// Prints one row.
    pub fn print(&mut self, row: &Row) {
        if self.json {
            println!("{}", serde_json::to_string(row).expect("rows serialise"));
            return;
        }
        if !self.header_done {
            println!(
                "{:<12} {:<34} {:>9} {:>6} {:>13} {:>14} {:>7} {:>8} {:>6}  extra",
                "suite",
                "variant",
                "records",
                "B/rec",
                "records/s",
                "comparisons/s",
                "probes",
                "mem GB/s",
                "ratio"
            );
            self.header_done = true;
        }
        let extra = if row.extra.is_empty() {
            String::new()
        } else {
            serde_json::Value::Object(row.extra.clone()).to_string()
        };
        println!(
            "{:<12} {:<34} {:>9} {:>6} {:>13.4e} {:>14.4e} {:>7} {:>8.2} {:>6.3}  {}",
            row.suite,
            row.variant,
            row.records,
            row.bytes_per_record,
            row.records_per_s,
            row.comparisons_per_s,
            row.probes,
            row.mem_read_gbps,
            row.ratio_to_bandwidth,
            extra
        );
    }
}
