//! `finger-match`: our fingerprint 1:1 matcher against NIST NBIS bozorth3 on real FVC2002 templates.
//!
//! Data: the FVC2002 "B" ISO/IEC 19794-2:2005 minutiae records under `--fvc-root` (default
//! `../shared/data/fvc2002`, relative to the working directory), real databases `DB1_B`..`DB3_B`
//! only (the synthetic `DB4_B-synthetic` is left out). Pairs: the FVC protocol per database
//! (every impression pair of a finger as genuine, 280; first impressions of different fingers as
//! impostors, 45), and the pool of DB1-3 (975 pairs).
//!
//! Every matcher gets its templates converted beforehand (ours: [`prepare_view`], once per
//! template; bozorth3: the xyt lists it matches on), and that conversion is timed on its own
//! (`prepare_us_per_template`). The timed pass is then only the comparisons of one scope, one
//! thread (bozorth3 keeps its tables in C globals, so it cannot share a process between threads;
//! `--threads` is ignored), per database: the median of `--reps` passes after a warm-up, each pass
//! repeating the database's pairs until it lasts at least 200 ms. Rates are given by wall clock
//! (`comparisons_per_s`, `ratio_to_peer`) and by the comparing thread's CPU time
//! (`cpu_comparisons_per_s`, `cpu_ratio_to_peer`), which a machine busy with other work disturbs
//! less. The pool's pass time is the sum of the databases' (no second pass). A "record" of this
//! suite is one comparison: `records_per_s` = `comparisons_per_s`, and `bytes_per_record` is the
//! mean size of the two converted templates a comparison reads. The suite is compute-bound, so
//! `ratio_to_bandwidth` is only for completeness.
//!
//! Each row also carries the FVC error rates of its scope's scores (`eer`, `fmr100`, `fmr1000`,
//! `zero_fmr`, from [`error_rates`]): with 45 impostors per database FMR resolves only to 1/45,
//! so per database the three FMR-bound figures coincide; the pool (135 impostors) separates them
//! a little.
//!
//! The peer is built only with `--features bozorth3` (the `nbis-rs` crate compiles NBIS C code);
//! see `finger/bozorth.rs` for how its input is made. Without the feature the suite measures ours
//! only and says on stderr how to build the peer. With it, our rows carry `ratio_to_peer` (our
//! rate over the faster bozorth3 variant's, same scope, same run). The suite is part of `all`: a
//! few seconds without the peer, under a minute with it (bozorth3 runs at hundreds of
//! comparisons per second on these templates).
//!
//! `finger-images` (`finger/images.rs`, `bozorth3` feature only, never part of `all`) measures
//! the same way on minutiae extracted from the databases' TIFFs: NIST mindtct + bozorth3, and
//! LEADER + our matcher.

#[cfg(feature = "bozorth3")]
mod bozorth;
#[cfg(feature = "bozorth3")]
mod images;

use crate::report::Row;
use crate::Opts;
use abis_datasets::fvc::{error_rates, fvc_pairs, load_root, thread_cpu_time, FvcDatabase};
use abis_matchers::finger::{prepare_view, FingerMatcher, PreparedFinger};
use abis_matchers::SimdLevel;
use std::time::{Duration, Instant};

/// The suite's name.
pub const NAME: &str = "finger-match";

/// The name of the suite on images (`images.rs`: NBIS mindtct + bozorth3 and LEADER + ours on
/// the FVC2002 TIFFs), built with the `bozorth3` feature only and run only when named.
pub const IMAGES_NAME: &str = "finger-images";

/// The databases measured (real fingerprints only).
const REAL_DATABASES: &[&str] = &["DB1_B", "DB2_B", "DB3_B"];

/// Shortest timed pass: a scope's pairs are compared this long at least (repeated as needed), so
/// the thread CPU time, which Linux accounts at scheduler-tick granularity, is read precisely.
const MIN_PASS: Duration = Duration::from_millis(200);

/// The pooled scope's name.
const POOLED: &str = "DB1-3";

/// Runs `finger-match`. When run as part of `all` with the data missing, warns and returns no
/// rows instead of failing the whole run.
pub fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    match Corpus::load(opts) {
        Ok(corpus) => measure(&corpus, opts),
        Err(e) if opts.suite == "all" => {
            eprintln!("{NAME}: skipped: {e:#}");
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// The real databases' records, flattened, and the pairs of every scope.
struct Corpus {
    /// Every database's records, in database order.
    dbs: Vec<FvcDatabase>,
    /// `(database, impression)` of each flat template index.
    index: Vec<(usize, usize)>,
    /// DB1, DB2, DB3, then the pool.
    scopes: Vec<Scope>,
}

/// The pairs one row is measured on.
struct Scope {
    name: String,
    /// Flat template indices; genuine pairs first.
    pairs: Vec<(usize, usize)>,
    genuine: usize,
}

impl Corpus {
    fn load(opts: &Opts) -> anyhow::Result<Self> {
        let root = &opts.fvc_root;
        let all = load_root(root).map_err(|e| {
            anyhow::anyhow!("{e} (the FVC2002 ISO templates; set the folder with --fvc-root)")
        })?;
        let dbs: Vec<FvcDatabase> = REAL_DATABASES
            .iter()
            .map(|name| {
                all.iter()
                    .find(|d| d.name == *name)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("{}: no {name} sub-folder", root.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        Self::new(dbs)
    }

    /// The flat index and the FVC pairs of every scope of `dbs` (each sorted by finger, then
    /// impression), the pool last.
    fn new(dbs: Vec<FvcDatabase>) -> anyhow::Result<Self> {
        let mut index = Vec::new();
        let mut scopes = Vec::new();
        let mut pool_genuine = Vec::new();
        let mut pool_impostor = Vec::new();
        for (d, db) in dbs.iter().enumerate() {
            let offset = index.len();
            index.extend((0..db.impressions.len()).map(|i| (d, i)));
            let p = fvc_pairs(db);
            let shift = |v: &[(usize, usize)]| -> Vec<(usize, usize)> {
                v.iter().map(|&(i, j)| (offset + i, offset + j)).collect()
            };
            let (genuine, impostor) = (shift(&p.genuine), shift(&p.impostor));
            anyhow::ensure!(
                !genuine.is_empty() && !impostor.is_empty(),
                "{}: no genuine or no impostor pairs",
                db.name
            );
            pool_genuine.extend_from_slice(&genuine);
            pool_impostor.extend_from_slice(&impostor);
            scopes.push(Scope::new(&db.name, genuine, impostor));
        }
        scopes.push(Scope::new(POOLED, pool_genuine, pool_impostor));
        Ok(Self { dbs, index, scopes })
    }

    fn templates(&self) -> usize {
        self.index.len()
    }
}

impl Scope {
    fn new(name: &str, genuine: Vec<(usize, usize)>, impostor: Vec<(usize, usize)>) -> Self {
        let n = genuine.len();
        let mut pairs = genuine;
        pairs.extend(impostor);
        Self {
            name: name.to_string(),
            pairs,
            genuine: n,
        }
    }
}

/// One matcher's figures on one scope.
struct Measured {
    scope: String,
    median: Duration,
    /// Median CPU time of the comparing thread per pass (`None` where not reported).
    cpu_median: Option<Duration>,
    pairs: usize,
    /// Template bytes read over all pairs.
    bytes: usize,
    genuine: Vec<f64>,
    impostor: Vec<f64>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.pairs as f64 / self.median.as_secs_f64().max(1e-12)
    }

    /// Comparisons per second of CPU time: unlike the wall-clock rate, not lowered by time the
    /// thread waited for a core on a busy machine. 0 where CPU time is not reported.
    fn cpu_rate(&self) -> f64 {
        self.cpu_median
            .map_or(0.0, |t| self.pairs as f64 / t.as_secs_f64().max(1e-12))
    }

    /// The row, with the scope's FVC error rates.
    fn row(&self, matcher: &str, prepare: Duration, templates: usize) -> Row {
        let r = error_rates(&self.genuine, &self.impostor);
        Row::new(
            NAME,
            format!("{matcher} {}", self.scope),
            self.pairs,
            self.bytes / self.pairs.max(1),
            1,
            1,
            self.pairs as f64,
            self.median,
        )
        .with("matcher", matcher)
        .with("db", self.scope.as_str())
        .with("eer", r.eer)
        .with("fmr100", r.fmr100)
        .with("fmr1000", r.fmr1000)
        .with("zero_fmr", r.zero_fmr)
        .with("genuine", r.genuine)
        .with("impostor", r.impostor)
        .with("us_per_comparison", 1e6 / self.rate())
        .with("cpu_comparisons_per_s", self.cpu_rate())
        .with(
            "prepare_us_per_template",
            prepare.as_secs_f64() * 1e6 / templates.max(1) as f64,
        )
    }
}

/// Times `score` over each database's pairs; the pooled figures are the databases' together
/// (scores concatenated, pass time the sum of the databases' median pass times), so the pool
/// costs no second pass.
fn time_scopes(
    corpus: &Corpus,
    reps: usize,
    bytes: impl Fn(usize) -> usize,
    mut score: impl FnMut(usize, usize) -> f64,
) -> Vec<Measured> {
    let (dbs, pool) = corpus.scopes.split_at(corpus.scopes.len() - 1);
    let mut out: Vec<Measured> = dbs
        .iter()
        .map(|scope| {
            let mut scores = vec![0.0f64; scope.pairs.len()];
            let mut pass = |loops: u32| -> (Duration, Option<Duration>) {
                let cpu = thread_cpu_time();
                let start = Instant::now();
                for _ in 0..loops {
                    for (s, &(i, j)) in scores.iter_mut().zip(&scope.pairs) {
                        *s = score(i, j);
                    }
                    std::hint::black_box(&scores);
                }
                let wall = start.elapsed() / loops;
                let cpu = cpu
                    .zip(thread_cpu_time())
                    .map(|(a, b)| b.saturating_sub(a) / loops);
                (wall, cpu)
            };
            // The warm-up pass sizes the timed ones.
            let (once, _) = pass(1);
            let loops = (MIN_PASS.as_secs_f64() / once.as_secs_f64().max(1e-9)).ceil();
            let loops = loops.clamp(1.0, 1e6) as u32;
            let (mut wall, cpu): (Vec<_>, Vec<_>) = (0..reps).map(|_| pass(loops)).unzip();
            wall.sort();
            let mut cpu: Vec<Duration> = cpu.into_iter().flatten().collect();
            cpu.sort();
            let median = wall[wall.len() / 2];
            let cpu_median = (cpu.len() == reps).then(|| cpu[cpu.len() / 2]);
            let impostor = scores.split_off(scope.genuine);
            Measured {
                scope: scope.name.clone(),
                median,
                cpu_median,
                pairs: scope.pairs.len(),
                bytes: scope.pairs.iter().map(|&(i, j)| bytes(i) + bytes(j)).sum(),
                genuine: scores,
                impostor,
            }
        })
        .collect();
    let pooled = Measured {
        scope: pool[0].name.clone(),
        median: out.iter().map(|m| m.median).sum(),
        cpu_median: out.iter().map(|m| m.cpu_median).sum(),
        pairs: out.iter().map(|m| m.pairs).sum(),
        bytes: out.iter().map(|m| m.bytes).sum(),
        genuine: out.iter().flat_map(|m| m.genuine.iter().copied()).collect(),
        impostor: out
            .iter()
            .flat_map(|m| m.impostor.iter().copied())
            .collect(),
    };
    debug_assert_eq!(pooled.pairs, pool[0].pairs.len());
    out.push(pooled);
    out
}

/// Converts every template with `convert` (given the database, the impression's index in it
/// and the flat template index) `reps` times (plus a warm-up); returns the converted templates
/// and the median time of one full conversion.
fn convert_all<T>(
    corpus: &Corpus,
    reps: usize,
    mut convert: impl FnMut(&FvcDatabase, usize, usize) -> anyhow::Result<T>,
) -> anyhow::Result<(Vec<T>, Duration)> {
    let mut times = Vec::with_capacity(reps + 1);
    let mut out = Vec::new();
    for _ in 0..=reps {
        let t = Instant::now();
        out = corpus
            .index
            .iter()
            .enumerate()
            .map(|(k, &(d, i))| convert(&corpus.dbs[d], i, k))
            .collect::<anyhow::Result<_>>()?;
        times.push(t.elapsed());
    }
    times.remove(0);
    times.sort();
    Ok((out, times[times.len() / 2]))
}

/// Our matcher: templates prepared from each record's first view (an empty template, which
/// scores 0, where a record has none). `prefix` leads the matcher's name (the extractor, where
/// the records come from images).
fn measure_ours(corpus: &Corpus, opts: &Opts, prefix: &str) -> anyhow::Result<MatcherRun> {
    let (prepared, prepare) = convert_all(corpus, opts.reps, |db, i, _| {
        let rec = &db.impressions[i].record;
        Ok(rec
            .views
            .first()
            .map(|v| prepare_view(rec, v))
            .unwrap_or_else(PreparedFinger::default))
    })?;
    let mut matcher = FingerMatcher::new(SimdLevel::get());
    let name = format!("{prefix}ours-{}", matcher.level());
    let measured = time_scopes(
        corpus,
        opts.reps,
        |i| prepared[i].heap_bytes(),
        |i, j| f64::from(matcher.compare(&prepared[i], &prepared[j])),
    );
    let rows = measured
        .iter()
        .map(|m| m.row(&name, prepare, corpus.templates()))
        .collect();
    Ok((name, rows, measured.iter().map(Rates::of).collect()))
}

/// Wall-clock and CPU-time comparison rates of one scope.
#[derive(Clone, Copy)]
struct Rates {
    wall: f64,
    cpu: f64,
}

impl Rates {
    fn of(m: &Measured) -> Self {
        Self {
            wall: m.rate(),
            cpu: m.cpu_rate(),
        }
    }
}

/// A measured matcher: its name, its rows and its rates, one per scope.
type MatcherRun = (String, Vec<Row>, Vec<Rates>);

/// Runs ours and, when built, the peer; attaches the ratios.
fn measure(corpus: &Corpus, opts: &Opts) -> anyhow::Result<Vec<Row>> {
    if opts.threads != 1 {
        eprintln!("{NAME}: runs on one thread (bozorth3 is not thread-safe); --threads ignored");
    }
    let (_, ours, our_rates) = measure_ours(corpus, opts, "")?;
    let peers = measure_peers(corpus, opts)?;
    let mut rows = Vec::new();
    for (k, mut row) in ours.into_iter().enumerate() {
        // The faster peer variant in this scope: the conservative ratio.
        let fastest = peers
            .iter()
            .map(|(name, _, rates)| (name.as_str(), rates[k]))
            .max_by(|a, b| a.1.wall.total_cmp(&b.1.wall));
        if let Some((peer, rate)) = fastest {
            row = row
                .with("peer", peer)
                .with("peer_comparisons_per_s", rate.wall)
                .with("ratio_to_peer", our_rates[k].wall / rate.wall);
            if rate.cpu > 0.0 {
                row = row.with("cpu_ratio_to_peer", our_rates[k].cpu / rate.cpu);
            }
        }
        rows.push(row);
    }
    for (_, peer_rows, rates) in peers {
        for ((row, rate), ours_rate) in peer_rows.into_iter().zip(rates).zip(&our_rates) {
            rows.push(row.with("ours_over_this", ours_rate.wall / rate.wall));
        }
    }
    Ok(rows)
}

/// The bozorth3 variants, measured.
#[cfg(feature = "bozorth3")]
fn measure_peers(corpus: &Corpus, opts: &Opts) -> anyhow::Result<Vec<MatcherRun>> {
    bozorth::measure(corpus, opts)
}

/// Without the `bozorth3` feature there is no peer: say so and how to build it.
#[cfg(not(feature = "bozorth3"))]
fn measure_peers(_corpus: &Corpus, _opts: &Opts) -> anyhow::Result<Vec<MatcherRun>> {
    eprintln!(
        "{NAME}: peer NIST bozorth3 not built (no ratio_to_peer); to measure it, run \
         `cargo run --release -p abis-bench --features bozorth3 -- {NAME}`"
    );
    Ok(Vec::new())
}

/// Runs `finger-images` (`images.rs`).
#[cfg(feature = "bozorth3")]
pub fn run_images(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    images::run(opts)
}

/// Without the `bozorth3` feature there is no NBIS to run: say how to build it.
#[cfg(not(feature = "bozorth3"))]
pub fn run_images(_opts: &Opts) -> anyhow::Result<Vec<Row>> {
    anyhow::bail!(
        "{IMAGES_NAME} needs NIST NBIS: run `cargo run --release -p abis-bench --features \
         bozorth3 -- {IMAGES_NAME}`"
    )
}
