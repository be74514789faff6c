//! The peer: NIST NBIS bozorth3, the C code the `nbis-rs` crate (v0.1.0) compiles and links.
//!
//! `nbis-rs` offers no public way to hand bozorth3 minutiae directly: its only inputs are images
//! (through mindtct) and ISO/IEC 19794-2:2005 bytes ([`nbis::load_iso_19794_2_2005`]), matched by
//! [`nbis::Minutiae::compare`]. So two variants are measured:
//!
//! - `bozorth3-nbis-api`: the crate's public path. Each template is loaded from its ISO bytes once
//!   (timed as the conversion); every `compare` then re-derives both xyt lists (copy, sort by
//!   quality, convert) before calling bozorth3, which is part of what that API costs. Its
//!   conversion deviates from NBIS's own xyt loader (`bz_prune` in `bz_io.c`): angles are
//!   quantised to mindtct's 11.25-degree direction units, left in `[0, 360)` instead of
//!   `(-180, 180]`, and the list is not sorted by x, although `bz_comp` stops scanning a row once
//!   `dx` exceeds 125 px and so relies on that order.
//! - `bozorth3-xyt`: bozorth3's own entry point `bozorth_main(probe, gallery)`, which the crate's
//!   C library exports (declared here; the layout is NBIS's `struct xyt_struct` from `bozorth.h`,
//!   200 rows), fed xyt lists prepared beforehand as NBIS's loader prepares them: y flipped to a
//!   bottom-left origin (`canvas height - y`), theta in whole degrees in NBIS's convention
//!   (`ISO angle + 180`, the map mindtct's `lfs2nist` and the crate both use) normalised to
//!   `(-180, 180]`, at most 150 minutiae (bozorth3's default; these records hold at most 69) by
//!   quality, then sorted by x, then y. Coordinates are the record's canvas pixels, which the
//!   records declare as 500 ppi (bozorth3's design resolution); nothing is rescaled.
//!
//! Before anything is timed, the direct call is checked against the crate: bozorth_main on xyt
//! lists converted exactly as the crate converts them must give the crate's `compare` score on
//! every pooled pair, so the declared layout and call are the ones the crate uses.
//!
//! bozorth3 keeps its working tables in C globals: one comparison at a time, one thread. The
//! crate's first `compare` points NBIS's `errorfp` at stderr; the API variant runs first, so the
//! direct calls never meet a null `errorfp`.

use super::{convert_all, time_scopes, Corpus, MatcherRun, Measured, Rates};
use crate::Opts;
use abis_matchers::finger::format::{write, MinutiaeRecord, RecordFormat};
use std::os::raw::c_int;

/// Rows of NBIS's `struct xyt_struct` (`MAX_BOZORTH_MINUTIAE` in `bozorth.h`).
const XYT_ROWS: usize = 200;

/// Minutiae bozorth3 keeps by default (its `-n` option; NBIS `bz_prune`).
const MAX_MINUTIAE: usize = 150;

/// NBIS `struct xyt_struct`: a minutiae list as bozorth3 matches it.
#[repr(C)]
#[derive(Clone)]
struct Xyt {
    nrows: c_int,
    xcol: [c_int; XYT_ROWS],
    ycol: [c_int; XYT_ROWS],
    thetacol: [c_int; XYT_ROWS],
}

extern "C" {
    /// NBIS bozorth3's match of a probe against a gallery list (`bz_drvrs.c`); reads both lists
    /// and the C globals it works in, returns the match score.
    fn bozorth_main(probe: *const Xyt, gallery: *const Xyt) -> c_int;
}

/// bozorth3's score of two prepared lists.
fn bozorth(probe: &Xyt, gallery: &Xyt) -> i32 {
    // SAFETY: both pointers come from live references to `repr(C)` structs with NBIS's
    // `xyt_struct` layout and `nrows <= XYT_ROWS` (every constructor truncates); bozorth_main only
    // reads them. It mutates C globals, which is sound because this suite calls it from one
    // thread only, and the API variant ran first, so NBIS's `errorfp` is set.
    unsafe { bozorth_main(probe, gallery) }
}

impl Xyt {
    /// A list from `(x, y, theta)` rows, truncated to the struct's capacity.
    fn from_rows(rows: &[(i32, i32, i32)]) -> Self {
        let mut xyt = Self {
            nrows: 0,
            xcol: [0; XYT_ROWS],
            ycol: [0; XYT_ROWS],
            thetacol: [0; XYT_ROWS],
        };
        let n = rows.len().min(XYT_ROWS);
        for (k, &(x, y, t)) in rows[..n].iter().enumerate() {
            xyt.xcol[k] = x;
            xyt.ycol[k] = y;
            xyt.thetacol[k] = t;
        }
        xyt.nrows = n as c_int;
        xyt
    }

    /// The first view of `rec` as NBIS's loader would hand it to bozorth3 (module docs).
    fn nbis(rec: &MinutiaeRecord) -> Self {
        let h = i32::from(rec.height);
        let mut m: Vec<_> = rec.views.first().map_or(&[][..], |v| &v.minutiae).to_vec();
        m.sort_by_key(|m| std::cmp::Reverse(m.quality));
        m.truncate(MAX_MINUTIAE);
        let mut rows: Vec<(i32, i32, i32)> = m
            .iter()
            .map(|m| {
                let deg = (f64::from(m.angle) * 360.0 / 256.0).round() as i32 + 180;
                let t = deg.rem_euclid(360);
                let t = if t > 180 { t - 360 } else { t };
                (i32::from(m.x), h - i32::from(m.y), t)
            })
            .collect();
        rows.sort_by_key(|&(x, y, _)| (x, y));
        Self::from_rows(&rows)
    }

    /// The first view of `rec` converted exactly as `nbis-rs` 0.1.0 converts a loaded ISO
    /// template before each compare: ISO angle to a 5-bit mindtct direction, then to degrees;
    /// stable sort by quality; no normalisation, no x sort. Used only to check the direct call.
    fn as_nbis_rs(rec: &MinutiaeRecord) -> Self {
        let h = i32::from(rec.height);
        let mut m: Vec<_> = rec.views.first().map_or(&[][..], |v| &v.minutiae).to_vec();
        m.sort_by_key(|m| std::cmp::Reverse(m.quality));
        let rows: Vec<(i32, i32, i32)> = m
            .iter()
            .map(|m| {
                let iso_deg = f64::from(m.angle) * 360.0 / 256.0;
                let unit = (((90.0 - iso_deg).rem_euclid(360.0) / 11.25).round() as u32) & 0x1F;
                let t = (270 - (f64::from(unit) * 11.25).round() as i32).rem_euclid(360);
                (i32::from(m.x), h - i32::from(m.y), t)
            })
            .collect();
        Self::from_rows(&rows)
    }

    /// Bytes bozorth3 reads of this list (three ints per minutia).
    fn bytes(&self) -> usize {
        self.nrows as usize * 3 * std::mem::size_of::<c_int>()
    }
}

/// Measures both variants: `(matcher name, rows, rate per scope)`, API variant first.
pub(super) fn measure(corpus: &Corpus, opts: &Opts) -> anyhow::Result<Vec<MatcherRun>> {
    let mut out = Vec::new();

    // The crate's public API, from each record's ISO 19794-2:2005 bytes.
    let (loaded, load_time) = convert_all(corpus, opts.reps, |db, i| {
        let rec = &db.impressions[i].record;
        let bytes = write(rec, RecordFormat::Iso19794_2_2005)?;
        nbis::load_iso_19794_2_2005(&bytes)
            .map_err(|e| anyhow::anyhow!("{} record {i}: nbis-rs refused it: {e:?}", db.name))
    })?;
    let measured = time_scopes(
        corpus,
        opts.reps,
        |i| 12 * loaded[i].get().len(),
        |i, j| f64::from(loaded[i].compare(&loaded[j])),
    );
    out.push(finish("bozorth3-nbis-api", &measured, load_time, corpus));

    // The direct call must reproduce the crate's scores on the crate's own conversion.
    let as_crate: Vec<Xyt> = corpus
        .index
        .iter()
        .map(|&(d, i)| Xyt::as_nbis_rs(&corpus.dbs[d].impressions[i].record))
        .collect();
    let pooled = corpus.scopes.last().expect("the pooled scope");
    let mut disagreements = 0;
    for &(i, j) in &pooled.pairs {
        if bozorth(&as_crate[i], &as_crate[j]) != loaded[i].compare(&loaded[j]) {
            disagreements += 1;
        }
    }
    anyhow::ensure!(
        disagreements == 0,
        "bozorth_main on nbis-rs's conversion disagrees with nbis-rs's compare on \
         {disagreements} of {} pairs: the declared xyt layout is wrong",
        pooled.pairs.len()
    );

    // bozorth3 itself on NBIS-loader xyt lists.
    let (xyt, convert_time) = convert_all(corpus, opts.reps, |db, i| {
        Ok(Xyt::nbis(&db.impressions[i].record))
    })?;
    let measured = time_scopes(
        corpus,
        opts.reps,
        |i| xyt[i].bytes(),
        |i, j| f64::from(bozorth(&xyt[i], &xyt[j])),
    );
    out.push(finish("bozorth3-xyt", &measured, convert_time, corpus));
    Ok(out)
}

fn finish(
    name: &str,
    measured: &[Measured],
    convert: std::time::Duration,
    corpus: &Corpus,
) -> MatcherRun {
    let rows = measured
        .iter()
        .map(|m| m.row(name, convert, corpus.templates()))
        .collect();
    (
        name.to_string(),
        rows,
        measured.iter().map(Rates::of).collect(),
    )
}
