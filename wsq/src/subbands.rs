//! The 64-subband decomposition of the specification (Part 1, Figure 3), computed for an
//! image size: the regions split by the 2-D wavelet transform, in the order the encoder split
//! them, and the rectangles of the subbands, in the order their coefficients are transmitted.
//!
//! Splitting a region of length `n` along one axis gives a lowpass part of `ceil(n/2)`
//! samples and a highpass part of `floor(n/2)`. A region that is itself the highpass output
//! of an earlier split along that axis has a mirrored spectrum, so the specification stores
//! its split *inverted*: highpass part first, lowpass part second. Which regions are inverted
//! follows from their place: in every split the second (right or lower) part is inverted
//! along that axis and the first is not (the first part of an inverted split is a highpass
//! output of a mirrored spectrum, which mirrors it back).
//!
//! Subbands 60..=63 (the finest diagonal detail) are never transmitted: the quadrant they
//! would come from is all zero and is not split; the quantization table still lists them.

/// Subbands listed in a quantization table.
pub const MAX_SUBBANDS: usize = 64;
/// Subbands that carry coefficients (0..=59).
pub const CODED_SUBBANDS: usize = 60;

/// A rectangle of the image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub(crate) x: usize,
    pub(crate) y: usize,
    pub(crate) width: usize,
    pub(crate) height: usize,
}

impl Rect {
    pub(crate) fn area(&self) -> usize {
        self.width * self.height
    }
}

/// One 2-D split of the transform: the region and whether it is stored inverted along x
/// (rows) and y (columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) rect: Rect,
    pub(crate) invert_x: bool,
    pub(crate) invert_y: bool,
}

/// The splits (in analysis order: a region before the parts it is split into) and the coded
/// subbands (in transmission order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) splits: Vec<Split>,
    pub(crate) subbands: Vec<Rect>,
}

impl Layout {
    pub(crate) fn new(width: usize, height: usize) -> Self {
        let mut layout = Self {
            splits: Vec::with_capacity(20),
            subbands: Vec::with_capacity(CODED_SUBBANDS),
        };
        let image = Split {
            rect: Rect {
                x: 0,
                y: 0,
                width,
                height,
            },
            invert_x: false,
            invert_y: false,
        };
        // Level 1: the image in four; its diagonal quarter (subbands 60..=63) stays zero.
        let [low1, right1, below1, _] = layout.split(image);
        // Level 2: the low quarter in four.
        let [low2, right2, below2, diagonal2] = layout.split(low1);
        // Subbands 0..=18: the low-low quarter split twice, its first part twice more.
        let [low3, right3, below3, diagonal3] = layout.split(low2);
        let [low4, right4, below4, diagonal4] = layout.split(low3);
        layout.subbands_of(low4);
        layout
            .subbands
            .extend([right4, below4, diagonal4].map(|s| s.rect));
        for part in [right3, below3, diagonal3] {
            layout.subbands_of(part);
        }
        // Subbands 19..=34 and 35..=50: the other two level-2 details split twice.
        for region in [right2, below2] {
            for part in layout.split(region) {
                layout.subbands_of(part);
            }
        }
        // Subband 51: the level-2 diagonal, not split.
        layout.subbands.push(diagonal2.rect);
        // Subbands 52..=59: the level-1 details split once.
        for region in [right1, below1] {
            layout.subbands_of(region);
        }
        debug_assert_eq!(layout.splits.len(), 20);
        debug_assert_eq!(layout.subbands.len(), CODED_SUBBANDS);
        layout
    }

    /// Records the split of `region` and returns its four parts: top-left, top-right,
    /// bottom-left, bottom-right.
    fn split(&mut self, region: Split) -> [Split; 4] {
        self.splits.push(region);
        let Rect {
            x,
            y,
            width,
            height,
        } = region.rect;
        let first_w = first_part(width, region.invert_x);
        let first_h = first_part(height, region.invert_y);
        let part = |dx: bool, dy: bool| Split {
            rect: Rect {
                x: if dx { x + first_w } else { x },
                y: if dy { y + first_h } else { y },
                width: if dx { width - first_w } else { first_w },
                height: if dy { height - first_h } else { first_h },
            },
            invert_x: dx,
            invert_y: dy,
        };
        [
            part(false, false),
            part(true, false),
            part(false, true),
            part(true, true),
        ]
    }

    /// Splits `region` once and records its four parts as subbands.
    fn subbands_of(&mut self, region: Split) {
        let parts = self.split(region);
        self.subbands.extend(parts.map(|p| p.rect));
    }
}

/// Length of the first part of a split: the lowpass part (`ceil`) unless inverted.
fn first_part(n: usize, inverted: bool) -> usize {
    if inverted {
        n / 2
    } else {
        n.div_ceil(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subbands_tile_the_image_less_the_uncoded_quarter() {
        for (w, h) in [
            (500, 500),
            (257, 243),
            (224, 301),
            (1, 1),
            (3, 70),
            (64, 64),
        ] {
            let layout = Layout::new(w, h);
            let mut covered = vec![0u8; w * h];
            for r in &layout.subbands {
                for y in r.y..r.y + r.height {
                    for x in r.x..r.x + r.width {
                        covered[y * w + x] += 1;
                    }
                }
            }
            let (qx, qy) = (w.div_ceil(2), h.div_ceil(2));
            for y in 0..h {
                for x in 0..w {
                    let want = u8::from(x < qx || y < qy);
                    assert_eq!(covered[y * w + x], want, "{w}x{h} at ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn sizes_of_a_500_ppi_card_image() {
        // Lowpass lengths: 500 -> 250 -> 125 -> 63 -> 32 -> 16 (subbands 0..=3).
        let layout = Layout::new(500, 500);
        let s = &layout.subbands;
        assert_eq!((s[0].width, s[1].x, s[1].width), (16, 16, 16));
        assert_eq!((s[4].x, s[4].width), (32, 31));
        assert_eq!((s[52].x, s[52].width, s[53].width), (250, 125, 125));
        assert_eq!((s[51].x, s[51].width), (125, 125));
        // Node "right of level 2" (x = 125, width 125) is inverted along x: its first part
        // is the highpass half, floor(125 / 2) = 62.
        assert_eq!((s[19].x, s[19].width), (125, 31));
        assert_eq!(s[20].x, 125 + 31);
    }
}
