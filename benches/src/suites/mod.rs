//! The suites. Each module measures one modality and returns finished [`Row`]s.

mod cluster;
mod face;
mod finger;
mod finger_search;
mod flood;
mod iris;
mod scale;

use crate::report::Row;
use crate::Opts;

/// Every suite name, in `all` order.
pub const NAMES: &[&str] = &[
    "iris-scan",
    "iris-batch",
    "face-scan",
    "face-batch",
    finger::NAME,
    finger_search::NAME,
    cluster::NAME,
    scale::NAME,
    flood::NAME,
];

/// Suites run only when named (minutes long, or built only with a feature), never by `all`.
pub const ON_REQUEST: &[&str] = &[finger::IMAGES_NAME];

/// Runs the named suite.
pub fn run(name: &str, opts: &Opts) -> anyhow::Result<Vec<Row>> {
    match name {
        "iris-scan" | "iris-batch" => iris::run(name, opts),
        "face-scan" | "face-batch" => face::run(name, opts),
        finger::NAME => finger::run(opts),
        finger::IMAGES_NAME => finger::run_images(opts),
        finger_search::NAME => finger_search::run(opts),
        cluster::NAME => cluster::run(opts),
        scale::NAME => scale::run(opts),
        flood::NAME => flood::run(opts),
        _ => anyhow::bail!("suite {name} is not built yet"),
    }
}
