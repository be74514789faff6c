//! A probe made ready for a scan: its code and mask rotated by every shift, laid out like gallery
//! rows in one 64-byte aligned buffer.
//!
//! Rotating the probe once per search, rather than the gallery once per comparison, turns every
//! comparison into a straight word-by-word walk over two rows. The rotations of one probe sit back
//! to back (`rotations x row_bytes`, 3.5 KiB for Daugman's 7 x 512 B), so a batch of probes stays
//! cache-resident while gallery rows stream past.

use super::layout::IrisLayout;
use super::rotation::RotationSearch;
use crate::error::Result;

/// One cache line; the unit of the aligned buffer.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Line([u64; 8]);

/// A probe's code and mask rotated by every shift of a [`RotationSearch`], in gallery row format.
#[derive(Clone, Debug)]
pub struct PreparedProbe {
    layout: IrisLayout,
    shifts: Vec<i32>,
    lines: Vec<Line>,
}

impl PreparedProbe {
    /// Checks the code, mask and rotation search against the layout and builds the rotations.
    pub fn new(
        layout: &IrisLayout,
        code: &[u8],
        mask: &[u8],
        rotation: &RotationSearch,
    ) -> Result<Self> {
        layout.check(code, mask)?;
        rotation.check(layout)?;
        let shifts = rotation.shifts();
        let row_bytes = layout.row_bytes();
        let mut probe = Self {
            layout: *layout,
            lines: vec![Line::default(); shifts.len() * row_bytes / 64],
            shifts,
        };
        let cb = layout.code_bytes();
        let mut rotated = vec![0u8; 2 * cb];
        for i in 0..probe.shifts.len() {
            let shift = probe.shifts[i];
            let (c, m) = rotated.split_at_mut(cb);
            layout.rotate(code, shift, c);
            layout.rotate(mask, shift, m);
            probe.bytes_mut()[i * row_bytes..][..2 * cb].copy_from_slice(&rotated);
        }
        Ok(probe)
    }

    /// The layout the probe was prepared for.
    pub fn layout(&self) -> &IrisLayout {
        &self.layout
    }

    /// Number of rotations (shifts) tried.
    pub fn rotations(&self) -> usize {
        self.shifts.len()
    }

    /// The shifts, in the order of the rotated rows.
    pub fn shifts(&self) -> &[i32] {
        &self.shifts
    }

    /// All rotated rows back to back (`rotations() * layout().row_bytes()` bytes, 64-byte aligned).
    pub fn bytes(&self) -> &[u8] {
        let len = self.lines.len() * 64;
        // SAFETY: `Line` is `repr(C)` plain data (8 u64, no padding), so its storage is `len`
        // initialised bytes that may be viewed as u8; the borrow of `self` keeps it alive.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<u8>(), len) }
    }

    /// All rotated rows as native-endian 64-bit words (`bytes()` reinterpreted).
    pub fn words(&self) -> &[u64] {
        let len = self.lines.len() * 8;
        // SAFETY: as in `bytes`, and u64 has no invalid bit patterns; alignment 64 >= 8.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<u64>(), len) }
    }

    /// The gallery-format row of rotation `i` (code, mask, zero padding).
    pub fn rotation_row(&self, i: usize) -> &[u8] {
        let rb = self.layout.row_bytes();
        &self.bytes()[i * rb..(i + 1) * rb]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.lines.len() * 64;
        // SAFETY: as in `bytes`; every byte pattern is a valid `Line`, and the exclusive borrow of
        // `self` makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<u8>(), len) }
    }
}
