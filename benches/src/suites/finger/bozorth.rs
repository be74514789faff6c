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
//!   records declare as 500 ppi (bozorth3's design resolution); nothing is rescaled. That last
//!   step is NBIS's own loader function, `bz_prune` (`bz_io.c`), called on the xyt lines
//!   ([`Xyt::loaded`]); `finger-images` hands it mindtct's lines the same way ([`mindtct_lines`]).
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
use std::os::raw::{c_int, c_void};

/// Rows of NBIS's `struct xyt_struct` (`MAX_BOZORTH_MINUTIAE` in `bozorth.h`).
const XYT_ROWS: usize = 200;

/// Lines NBIS's loader reads from one xyt file at most (`MAX_FILE_MINUTIAE` in `bozorth.h`).
const FILE_ROWS: usize = 1000;

/// Minutiae bozorth3 keeps by default (its `-n` option; NBIS `bz_prune`).
const MAX_MINUTIAE: usize = 150;

/// `bz_prune`'s limit, a global that NBIS's `bozorth3` command defines (from its `-n` option,
/// default `DEFAULT_BOZORTH_MINUTIAE`) and `nbis-rs` leaves undefined: defined here as the
/// command's default. NBIS's library only reads it.
#[allow(non_upper_case_globals)]
#[no_mangle]
static max_minutiae: c_int = MAX_MINUTIAE as c_int;

/// One line of an NBIS xyt file: x, y (origin bottom-left), theta in degrees (`[0, 360)` as
/// mindtct writes it), quality (0..=100).
pub(super) type XytLine = (i32, i32, i32, i32);

/// NBIS `struct xyt_struct`: a minutiae list as bozorth3 matches it.
#[repr(C)]
#[derive(Clone)]
pub(super) struct Xyt {
    nrows: c_int,
    xcol: [c_int; XYT_ROWS],
    ycol: [c_int; XYT_ROWS],
    thetacol: [c_int; XYT_ROWS],
}

/// NBIS `struct xytq_struct`: an xyt file's lines as `bz_load` reads them, before pruning.
#[repr(C)]
struct Xytq {
    nrows: c_int,
    xcol: [c_int; FILE_ROWS],
    ycol: [c_int; FILE_ROWS],
    thetacol: [c_int; FILE_ROWS],
    qualitycol: [c_int; FILE_ROWS],
}

extern "C" {
    /// NBIS bozorth3's match of a probe against a gallery list (`bz_drvrs.c`); reads both lists
    /// and the C globals it works in, returns the match score.
    fn bozorth_main(probe: *const Xyt, gallery: *const Xyt) -> c_int;

    /// NBIS's loader after reading a file (`bz_io.c`): theta above 180 less 360; above
    /// `max_minutiae` lines, those of highest quality (NBIS's own sort, ties as it breaks
    /// them); sorted by x, then y. Returns a `malloc`ed list (null on failure) with `nrows`
    /// rows written.
    fn bz_prune(xytq: *mut Xytq, verbose_load: c_int) -> *mut Xyt;

    /// The C library's `free`, for `bz_prune`'s list.
    fn free(ptr: *mut c_void);
}

/// bozorth3's score of two prepared lists.
pub(super) fn bozorth(probe: &Xyt, gallery: &Xyt) -> i32 {
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
        let lines: Vec<XytLine> = rec
            .views
            .first()
            .map_or(&[][..], |v| &v.minutiae)
            .iter()
            .map(|m| {
                let deg = (f64::from(m.angle) * 360.0 / 256.0).round() as i32 + 180;
                (
                    i32::from(m.x),
                    h - i32::from(m.y),
                    deg.rem_euclid(360),
                    i32::from(m.quality),
                )
            })
            .collect();
        Self::loaded(&lines)
    }

    /// The list NBIS's loader (`bz_load`, then `bz_prune`) makes of an xyt file's `lines`:
    /// their first 1,000 (where `bz_load` stops reading), pruned by NBIS's `bz_prune` itself.
    pub(super) fn loaded(lines: &[XytLine]) -> Self {
        let mut file = Box::new(Xytq {
            nrows: 0,
            xcol: [0; FILE_ROWS],
            ycol: [0; FILE_ROWS],
            thetacol: [0; FILE_ROWS],
            qualitycol: [0; FILE_ROWS],
        });
        let n = lines.len().min(FILE_ROWS);
        for (k, &(x, y, t, q)) in lines[..n].iter().enumerate() {
            file.xcol[k] = x;
            file.ycol[k] = y;
            file.thetacol[k] = t;
            file.qualitycol[k] = q;
        }
        file.nrows = n as c_int;
        // SAFETY: `file` is a live, exclusively borrowed `repr(C)` struct with NBIS's
        // `xytq_struct` layout and `nrows <= FILE_ROWS`; bz_prune reads it (and the
        // `max_minutiae` global defined above), writes only its own locals, and returns a list
        // it `malloc`ed or null. Its `verbose_load` argument 0 keeps it from printing. It keeps
        // a static sort stack, which is sound because this suite runs on one thread.
        let list = unsafe { bz_prune(&mut *file, 0) };
        assert!(!list.is_null(), "NBIS bz_prune failed (out of memory?)");
        // SAFETY: `list` is non-null and points to the `xyt_struct` bz_prune allocated and
        // filled for `nrows <= min(n, max_minutiae) <= XYT_ROWS` rows; only those rows are read
        // (the rest is uninitialised), through raw pointers to its fields. It is freed once,
        // with the C library's `free` that allocated it, and not used afterwards.
        unsafe {
            let rows = (*list).nrows.clamp(0, XYT_ROWS as c_int) as usize;
            let col = |p: *const [c_int; XYT_ROWS]| {
                std::slice::from_raw_parts(p.cast::<c_int>(), rows).to_vec()
            };
            let (xs, ys, ts) = (
                col(std::ptr::addr_of!((*list).xcol)),
                col(std::ptr::addr_of!((*list).ycol)),
                col(std::ptr::addr_of!((*list).thetacol)),
            );
            free(list.cast());
            let rows: Vec<(i32, i32, i32)> = (0..rows).map(|k| (xs[k], ys[k], ts[k])).collect();
            Self::from_rows(&rows)
        }
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
    pub(super) fn bytes(&self) -> usize {
        self.nrows as usize * 3 * std::mem::size_of::<c_int>()
    }
}

/// mindtct's minutiae as its `.xyt` file lists them, for an image `height` pixels tall: NBIS
/// `lfs2nist_minutia_XYTQ` (`xytreps.c`) on each, in mindtct's order.
///
/// `nbis-rs` keeps LFS's direction unit private and hands out `angle() = 90 - direction * 11.25`
/// degrees wrapped to `[0, 360)`, exact in `f64`, so the unit is read back exactly.
pub(super) fn mindtct_lines(minutiae: &nbis::Minutiae, height: i32) -> Vec<XytLine> {
    minutiae
        .get()
        .iter()
        .map(|m| {
            let direction = (((90.0 - m.angle()) / LFS_DEGREES_PER_UNIT).round() as i32)
                .rem_euclid(LFS_DIRECTIONS);
            lfs2nist(m.x(), m.y(), direction, m.reliability(), height)
        })
        .collect()
}

/// LFS directions around the full circle (`NUM_DIRECTIONS` 16 per half turn).
const LFS_DIRECTIONS: i32 = 32;

/// Degrees per LFS direction unit (`180 / NUM_DIRECTIONS`).
const LFS_DEGREES_PER_UNIT: f64 = 11.25;

/// NBIS `sround`: to the nearest integer, halves away from zero.
fn sround(v: f64) -> i32 {
    if v < 0.0 {
        (v - 0.5) as i32
    } else {
        (v + 0.5) as i32
    }
}

/// NBIS `lfs2nist_minutia_XYTQ`: an LFS minutia (top-left origin, `direction` in LFS units,
/// reliability 0..=1) as an xyt line: y from the bottom, theta `270 - direction * 11.25`
/// rounded, in `[0, 360)`, quality the reliability in percent, rounded.
fn lfs2nist(x: i32, y: i32, direction: i32, reliability: f64, height: i32) -> XytLine {
    let t = (270 - sround(f64::from(direction) * LFS_DEGREES_PER_UNIT)).rem_euclid(360);
    (x, height - y, t, sround(reliability * 100.0))
}

/// Measures both variants: `(matcher name, rows, rate per scope)`, API variant first.
pub(super) fn measure(corpus: &Corpus, opts: &Opts) -> anyhow::Result<Vec<MatcherRun>> {
    let mut out = Vec::new();

    // The crate's public API, from each record's ISO 19794-2:2005 bytes.
    let (loaded, load_time) = convert_all(corpus, opts.reps, |db, i, _| {
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
    let (xyt, convert_time) = convert_all(corpus, opts.reps, |db, i, _| {
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

/// The rows and rates of one measured variant.
pub(super) fn finish(
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

/// Held by tests that call NBIS: its C code keeps state in globals (bozorth3's tables,
/// `bz_prune`'s sort stack), and tests run on several threads.
#[cfg(test)]
pub(super) static NBIS_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    /// An ISO/IEC 19794-2:2005 record as `nbis-rs` reads it: one view on a 300 x 400 canvas,
    /// minutiae `(x, y, angle code, quality 0..=63)`.
    fn iso(minutiae: &[(u16, u16, u8, u8)]) -> Vec<u8> {
        let mut b = b"FMR\0 20\0".to_vec();
        let len = (28 + 6 * minutiae.len() + 2) as u32;
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&300u16.to_be_bytes());
        b.extend_from_slice(&400u16.to_be_bytes());
        b.extend_from_slice(&[0x00, 0xC5, 0x00, 0xC5, 0x01, 0x00, 0x00, 0x00, 0x64]);
        b.push(minutiae.len() as u8);
        for &(x, y, a, q) in minutiae {
            b.extend_from_slice(&[
                (0x40 | (x >> 8)) as u8,
                x as u8,
                (y >> 8) as u8,
                y as u8,
                a,
                q,
            ]);
        }
        b.extend_from_slice(&[0, 0]);
        b
    }

    #[test]
    fn lfs2nist_matches_nbis_on_every_direction() {
        // 270 - sround(d * 11.25), wrapped: the values NBIS's mindtct writes.
        let expect = |d: i32| {
            let deg = [0, 11, 23, 34, 45, 56, 68, 79][(d % 8) as usize] + 90 * (d / 8);
            (270 - deg).rem_euclid(360)
        };
        for d in 0..LFS_DIRECTIONS {
            assert_eq!(lfs2nist(10, 30, d, 0.5, 100).2, expect(d), "direction {d}");
        }
        assert_eq!(lfs2nist(10, 30, 0, 0.5, 100), (10, 70, 270, 50));
        assert_eq!(lfs2nist(10, 30, 31, 0.126, 100), (10, 70, 281, 13));
        assert_eq!(lfs2nist(0, 0, 8, 0.0, 374), (0, 374, 180, 0));
    }

    #[test]
    fn mindtct_lines_read_the_direction_back_from_the_crate() {
        // nbis-rs turns each ISO angle code into an LFS direction: 64 (90 deg) -> 0,
        // 0 -> 8, 192 (270 deg) -> 16, 72 (101.25 deg) -> 31.
        let m = nbis::load_iso_19794_2_2005(&iso(&[
            (5, 6, 64, 63),
            (7, 8, 0, 0),
            (9, 10, 192, 20),
            (11, 12, 72, 63),
        ]))
        .unwrap();
        let lines = mindtct_lines(&m, 400);
        // Quality 20 of 63 is reliability 0.3175: 32 percent.
        assert_eq!(
            lines,
            vec![
                (5, 394, 270, 100),
                (7, 392, 180, 0),
                (9, 390, 90, 32),
                (11, 388, 281, 100)
            ]
        );
    }

    #[test]
    fn nbis_loader_prunes_by_quality_and_sorts_by_x() {
        // 160 lines, quality = index: the 150 kept are indices 10..160.
        let lines: Vec<XytLine> = (0..160)
            .map(|k| ((k * 37) % 160, k, if k % 2 == 0 { 181 } else { 180 }, k))
            .collect();
        let _nbis = NBIS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let xyt = Xyt::loaded(&lines);
        assert_eq!(xyt.nrows, 150);
        let n = xyt.nrows as usize;
        let ys: std::collections::BTreeSet<i32> = xyt.ycol[..n].iter().copied().collect();
        assert_eq!(ys, (10..160).collect());
        assert!(xyt.xcol[..n].windows(2).all(|w| w[0] <= w[1]));
        for k in 0..n {
            let want = if xyt.ycol[k] % 2 == 0 { -179 } else { 180 };
            assert_eq!(xyt.thetacol[k], want);
        }
        // Under the limit nothing is dropped; order by x, then y.
        let xyt = Xyt::loaded(&[(5, 2, 0, 1), (3, 9, 90, 1), (5, 1, 270, 1)]);
        let got: Vec<_> = (0..3)
            .map(|k| (xyt.xcol[k], xyt.ycol[k], xyt.thetacol[k]))
            .collect();
        assert_eq!(got, vec![(3, 9, 90), (5, 1, -90), (5, 2, 0)]);
    }
}
