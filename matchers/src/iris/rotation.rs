//! Which column shifts a comparison tries.
//!
//! Head tilt rotates the eye, which shifts an iris code's columns circularly; a comparison tries
//! several shifts and keeps the best. Daugman's systems try seven (-3..=3 columns of 128), which
//! is the default. The shifts are multiples of `step` within `-max_shift..=max_shift`, ascending;
//! 0 is always among them. `max_shift` must stay below half the columns so that no two shifts
//! denote the same rotation.

use super::layout::IrisLayout;
use crate::error::{MatchError, Result};

/// The column shifts tried by a comparison: multiples of `step` in `-max_shift..=max_shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RotationSearch {
    /// Largest shift tried in either direction, in columns.
    pub max_shift: u32,
    /// Distance between consecutive shifts, in columns (at least 1).
    pub step: u32,
}

impl Default for RotationSearch {
    /// Daugman's seven rotations: shifts -3..=3 in steps of 1.
    fn default() -> Self {
        Self {
            max_shift: 3,
            step: 1,
        }
    }
}

impl RotationSearch {
    /// The shifts, ascending (with an invalid `step` of 0, just `[0]`).
    pub fn shifts(&self) -> Vec<i32> {
        let step = self.step.max(1) as i64;
        let k = self.max_shift as i64 / step;
        (-k..=k).map(|i| (i * step) as i32).collect()
    }

    /// Checks the search against a layout: `step > 0` and `max_shift < cols / 2`.
    pub fn check(&self, layout: &IrisLayout) -> Result<()> {
        if self.step == 0 {
            return Err(MatchError::InvalidRotation("step must be at least 1"));
        }
        if self.max_shift >= layout.cols() / 2 {
            return Err(MatchError::InvalidRotation(
                "max_shift must be below half the columns",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_are_symmetric_multiples_of_step() {
        assert_eq!(
            RotationSearch::default().shifts(),
            vec![-3, -2, -1, 0, 1, 2, 3]
        );
        assert_eq!(
            RotationSearch {
                max_shift: 5,
                step: 2
            }
            .shifts(),
            vec![-4, -2, 0, 2, 4]
        );
        assert_eq!(
            RotationSearch {
                max_shift: 0,
                step: 1
            }
            .shifts(),
            vec![0]
        );
        assert_eq!(
            RotationSearch {
                max_shift: 2,
                step: 3
            }
            .shifts(),
            vec![0]
        );
    }
}
