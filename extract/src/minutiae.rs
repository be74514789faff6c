//! Minutiae read from LEADER's output maps.

use abis_matchers::finger::format::MinutiaKind;
use std::f32::consts::TAU;

/// LEADER's output channels, per pixel.
pub mod channel {
    /// Minutia position probability (sigmoid).
    pub const PROBABILITY: usize = 0;
    /// Minutia direction in radians, `atan2` of two regressed components: `(-pi, pi]`.
    pub const DIRECTION: usize = 1;
    /// Type: `>= 0.5` ridge ending, else bifurcation (sigmoid).
    pub const TYPE: usize = 2;
    /// The probability blurred (5x5 Gaussian) and kept only at 7x7 local maxima, zero elsewhere:
    /// the network's own non-maximum suppression.
    pub const NMS: usize = 3;
    /// Channels per pixel.
    pub const COUNT: usize = 4;
}

/// Settings of minutia detection on the network's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtractOptions {
    /// A pixel is a minutia when its [`channel::NMS`] value is at least this.
    pub threshold: f32,
    /// At most this many minutiae are kept, the best by that value.
    pub max_minutiae: usize,
}

impl Default for ExtractOptions {
    /// 0.6, the threshold LEADER's authors recommend for good-quality images; 120 minutiae,
    /// more than any FVC2002 finger reaches at that threshold and room for large sensors.
    /// Neither was tuned on the FVC2002 databases abis reports on.
    fn default() -> Self {
        ExtractOptions {
            threshold: 0.6,
            max_minutiae: 120,
        }
    }
}

/// A minutia on the input image's pixel grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minutia {
    /// Column, from the left.
    pub x: u16,
    /// Row, from the top.
    pub y: u16,
    /// Direction in radians, `(-pi, pi]`, counter-clockwise from the x axis as seen on the
    /// image (y up): the ISO 19794-2 convention, see [`Minutia::iso_angle`].
    pub direction: f32,
    /// Ridge ending or bifurcation (LEADER never says "other").
    pub kind: MinutiaKind,
    /// The detection score ([`channel::NMS`]: the blurred position probability at its local
    /// maximum), 0..=1.
    pub score: f32,
}

impl Minutia {
    /// The direction in ISO 19794-2 units of 360/256 degrees, rounded, 0..=255.
    ///
    /// LEADER's angle is already the ISO one: checked against the commercial `.iso` templates
    /// shipped with FVC2002 (nearest minutiae of the same images, coordinates mapped from the
    /// 300x400 canvas): the median difference is 7 degrees as is, 98 with the sign flipped
    /// and 173 turned by pi.
    pub fn iso_angle(&self) -> u8 {
        let turns = self.direction.rem_euclid(TAU) / TAU;
        // rem_euclid can return TAU itself for tiny negative angles; 256 wraps to 0.
        ((turns * 256.0).round() as u32 % 256) as u8
    }

    /// Quality 0..=100 for a template: the detection score in percent.
    pub fn quality(&self) -> u8 {
        (self.score.clamp(0.0, 1.0) * 100.0).round() as u8
    }
}

/// The network's output over the image (padding cropped): `width * height` pixels of
/// [`channel::COUNT`] values, row-major.
#[derive(Debug, Clone)]
pub struct LeaderOutput {
    /// Width in pixels (the input image's).
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `[y][x][channel]`, flattened.
    pub values: Vec<f32>,
}

impl LeaderOutput {
    /// The four channels at `(x, y)`.
    pub fn at(&self, x: usize, y: usize) -> [f32; channel::COUNT] {
        let i = (y * self.width + x) * channel::COUNT;
        self.values[i..i + channel::COUNT]
            .try_into()
            .expect("COUNT values")
    }

    /// The minutiae: pixels whose NMS value reaches `options.threshold`, the best
    /// `options.max_minutiae` of them, best first (ties: upper row first, then left column).
    pub fn minutiae(&self, options: &ExtractOptions) -> Vec<Minutia> {
        let mut found: Vec<Minutia> = self
            .values
            .chunks_exact(channel::COUNT)
            .enumerate()
            .filter(|(_, v)| v[channel::NMS] >= options.threshold)
            .map(|(i, v)| Minutia {
                // Sides are at most 14 bits (GreyImage::new checks), so they fit.
                x: (i % self.width) as u16,
                y: (i / self.width) as u16,
                direction: v[channel::DIRECTION],
                kind: if v[channel::TYPE] >= 0.5 {
                    MinutiaKind::RidgeEnding
                } else {
                    MinutiaKind::Bifurcation
                },
                score: v[channel::NMS],
            })
            .collect();
        found.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.y.cmp(&b.y))
                .then(a.x.cmp(&b.x))
        });
        found.truncate(options.max_minutiae);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    fn minutia(direction: f32) -> Minutia {
        Minutia {
            x: 0,
            y: 0,
            direction,
            kind: MinutiaKind::RidgeEnding,
            score: 0.75,
        }
    }

    #[test]
    fn iso_angles() {
        assert_eq!(minutia(0.0).iso_angle(), 0);
        assert_eq!(minutia(PI / 2.0).iso_angle(), 64);
        assert_eq!(minutia(PI).iso_angle(), 128);
        assert_eq!(minutia(-PI / 2.0).iso_angle(), 192);
        assert_eq!(minutia(-1e-9).iso_angle(), 0);
        assert_eq!(minutia(-TAU / 512.0 * 0.9).iso_angle(), 0);
        assert_eq!(minutia(TAU / 256.0 * 0.6).iso_angle(), 1);
        assert_eq!(minutia(0.0).quality(), 75);
    }

    #[test]
    fn minutiae_are_thresholded_ranked_and_capped() {
        // 3x2 image; NMS values 0.9, 0.1, 0.6 / 0.7, 0.6, 0.59.
        let nms = [0.9, 0.1, 0.6, 0.7, 0.6, 0.59];
        let mut values = Vec::new();
        for (i, &n) in nms.iter().enumerate() {
            values.extend([0.5, i as f32 / 10.0, if i % 2 == 0 { 0.8 } else { 0.2 }, n]);
        }
        let out = LeaderOutput {
            width: 3,
            height: 2,
            values,
        };
        assert_eq!(out.at(1, 1), [0.5, 0.4, 0.8, 0.6]);
        let all = out.minutiae(&ExtractOptions::default());
        let xy: Vec<(u16, u16)> = all.iter().map(|m| (m.x, m.y)).collect();
        // 0.9, 0.7, then the two 0.6 by row: (2, 0) before (1, 1); 0.59 is out.
        assert_eq!(xy, [(0, 0), (0, 1), (2, 0), (1, 1)]);
        assert_eq!(all[0].kind, MinutiaKind::RidgeEnding);
        assert_eq!(all[1].kind, MinutiaKind::Bifurcation);
        assert_eq!(all[1].direction, 0.3);
        let capped = out.minutiae(&ExtractOptions {
            threshold: 0.6,
            max_minutiae: 2,
        });
        assert_eq!(capped, all[..2]);
    }
}
