//! The suites. Each module measures one modality and returns finished [`Row`]s.

mod face;
mod iris;

use crate::report::Row;
use crate::Opts;

/// Every suite name, in `all` order.
pub const NAMES: &[&str] = &["iris-scan", "iris-batch", "face-scan", "face-batch"];

/// Runs the named suite.
pub fn run(name: &str, opts: &Opts) -> anyhow::Result<Vec<Row>> {
    match name {
        "iris-scan" | "iris-batch" => iris::run(name, opts),
        "face-scan" | "face-batch" => face::run(name, opts),
        _ => anyhow::bail!("suite {name} is not built yet"),
    }
}
