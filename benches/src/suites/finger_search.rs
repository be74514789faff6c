//! `finger-search`: the fingerprint first stage ([`abis_matchers::finger::index`]) over a gallery
//! far larger than the caches.
//!
//! - `one-finger`: one probe finger against every finger row of the gallery (default 1,000,000
//!   rows of 832 B = 832 MB), on every SIMD level; `records_per_s` is fingers per second.
//! - `ten-finger`: a ten-print probe against person rows of ten fingers (the engine's layout),
//!   the same fingers regrouped (`records / 10` persons); `comparisons_per_s` counts finger
//!   comparisons, `records_per_s` persons.
//!
//! The rows are real first-stage codes of synthetic fingers (`abis_datasets::finger`), but
//! preparing a finger costs ~0.5 ms, so the gallery repeats `--distinct` of them (default 20,000)
//! over its rows. The scan's cost does not depend on which codes sit where, only on their number
//! per row, which the repetition keeps realistic. Each level's affinities are checked against the
//! scalar reference over the rows both ran. `mate_affinity` is row 0's affinity to the probe,
//! a fresh impression of row 0's finger.

use crate::report::{median_time, Row};
use crate::Opts;
use abis_datasets::finger::FingerModel;
use abis_matchers::finger::index::{
    affinity, set_scores, FingerCode, FingerSet, ROW_BYTES, ROW_WORDS, SET_WORDS,
};
use abis_matchers::finger::prepare_view;
use abis_matchers::SimdLevel;
use rayon::prelude::*;

/// Suite name.
pub const NAME: &str = "finger-search";

/// Distinct fingers generated and prepared (the rest of the gallery repeats them).
const DISTINCT: usize = 20_000;

fn code_of(
    model: &FingerModel,
    seed: u64,
    subject: u64,
    finger: u8,
    impression: u32,
) -> FingerCode {
    let master = model.master(seed, subject, finger);
    let record = model.record(&master, impression);
    FingerCode::new(&prepare_view(&record, &record.views[0]))
}

/// Runs the suite.
pub fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let records = opts.records.unwrap_or(1_000_000).max(10);
    let distinct = DISTINCT.min(records);
    let model = FingerModel::default();
    // Generation is not what is measured: use every core for it.
    let all_cores = rayon::ThreadPoolBuilder::new().build()?;
    let codes: Vec<FingerCode> = all_cores.install(|| {
        (0..distinct as u64)
            .into_par_iter()
            .map(|s| code_of(&model, opts.seed, s, (s % 10) as u8, 0))
            .collect()
    });
    let mut rows = Vec::with_capacity(records * ROW_WORDS);
    for k in 0..records {
        rows.extend_from_slice(&codes[k % distinct].words()[..]);
    }
    let mean_codes = codes.iter().map(FingerCode::len).sum::<usize>() as f64 / codes.len() as f64;
    let probe = code_of(&model, opts.seed, 0, 0, 1);
    let mut out = Vec::new();
    let threads = opts.threads;
    let scan = |level: SimdLevel, n: usize, res: &mut [u16]| {
        res[..n]
            .par_chunks_mut(4096)
            .enumerate()
            .for_each(|(c, o)| {
                let first = c * 4096 * ROW_WORDS;
                affinity(level, &probe, &rows[first..], ROW_WORDS, o).expect("whole rows");
            });
    };
    let mut reference = vec![0u16; records];
    let scalar_rows = (records / 20).max(1);
    scan(SimdLevel::Scalar, scalar_rows, &mut reference);
    for level in SimdLevel::supported() {
        // The scalar and portable levels are slow: they run over a twentieth of the gallery.
        let n = if matches!(level, SimdLevel::Scalar | SimdLevel::Portable) {
            scalar_rows
        } else {
            records
        };
        let mut res = vec![0u16; records];
        let median = median_time(opts.reps, || scan(level, n, &mut res));
        anyhow::ensure!(
            res[..scalar_rows] == reference[..scalar_rows],
            "{level} disagrees with the scalar reference"
        );
        let mate_affinity = res[0];
        out.push(
            Row::new(
                NAME,
                format!("one-finger-{level}"),
                n,
                ROW_BYTES,
                1,
                threads,
                n as f64,
                median,
            )
            .with("distinct_fingers", distinct)
            .with("mean_codes_per_finger", mean_codes)
            .with("mate_affinity", mate_affinity)
            .with(
                "per_core_fingers_per_s",
                n as f64 / median.as_secs_f64() / threads as f64,
            ),
        );
    }

    // Ten-finger rows: persons of ten consecutive distinct fingers.
    let persons = records / 10;
    let mut probe_set = FingerSet::default();
    for f in 0..10u8 {
        probe_set.set(f + 1, code_of(&model, opts.seed, u64::from(f), f, 1))?;
    }
    let level = SimdLevel::get();
    let person_rows = &rows[..persons * SET_WORDS];
    let mut scores = vec![0f32; persons];
    let median = median_time(opts.reps, || {
        scores
            .par_chunks_mut(64)
            .enumerate()
            .for_each_init(Vec::new, |scratch, (c, o)| {
                let first = c * 64 * SET_WORDS;
                let block = &person_rows[first..first + o.len() * SET_WORDS];
                set_scores(level, &probe_set, block, o, scratch).expect("whole rows");
            });
    });
    let best = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0);
    out.push(
        Row::new(
            NAME,
            format!("ten-finger-{level}"),
            persons,
            SET_WORDS * 8,
            1,
            threads,
            (persons * 10) as f64,
            median,
        )
        .with(
            "per_core_fingers_per_s",
            (persons * 10) as f64 / median.as_secs_f64() / threads as f64,
        )
        // Person 0 holds fingers 0..10 of subjects 0..10, the probe's masters: it must rank first.
        .with("mate_ranked_first", best % (distinct / 10).max(1) == 0),
    );
    Ok(out)
}
