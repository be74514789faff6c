//! Which pairs of records a database is evaluated on.
//!
//! The FVC protocol (Maio et al., FVC2002): genuine = every pair of impressions of the same finger
//! (28 per finger with 8 impressions); impostor = the first impression of each finger against the
//! first impression of every other finger (45 for 10 fingers), each unordered pair once. So few
//! impostors resolve FMR only to 1/45: [`all_impostor_pairs`] (every impression against every
//! impression of every other finger, 2,880 for 10 x 8) is offered as a clearly separate variant.

use super::load::FvcDatabase;

/// Pairs of indices into [`FvcDatabase::impressions`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs {
    /// Same finger.
    pub genuine: Vec<(usize, usize)>,
    /// Different fingers.
    pub impostor: Vec<(usize, usize)>,
}

/// The FVC protocol's genuine and impostor pairs.
pub fn fvc_pairs(db: &FvcDatabase) -> Pairs {
    let imp = &db.impressions;
    let mut pairs = Pairs::default();
    for i in 0..imp.len() {
        for j in i + 1..imp.len() {
            if imp[i].finger == imp[j].finger {
                pairs.genuine.push((i, j));
            }
        }
    }
    // Impressions are sorted by finger then impression: the first of each finger is its lowest.
    let firsts: Vec<usize> = (0..imp.len())
        .filter(|&i| i == 0 || imp[i - 1].finger != imp[i].finger)
        .collect();
    for (a, &i) in firsts.iter().enumerate() {
        for &j in &firsts[a + 1..] {
            pairs.impostor.push((i, j));
        }
    }
    pairs
}

/// Every unordered pair of impressions of different fingers (beyond the FVC protocol).
pub fn all_impostor_pairs(db: &FvcDatabase) -> Vec<(usize, usize)> {
    let imp = &db.impressions;
    let mut out = Vec::new();
    for i in 0..imp.len() {
        for j in i + 1..imp.len() {
            if imp[i].finger != imp[j].finger {
                out.push((i, j));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::load::FvcImpression;
    use super::*;

    fn db(fingers: u32, impressions: u32) -> FvcDatabase {
        let mut imp = Vec::new();
        for f in 0..fingers {
            for i in 1..=impressions {
                imp.push(FvcImpression {
                    finger: 101 + f,
                    impression: i,
                    record: Default::default(),
                });
            }
        }
        FvcDatabase {
            name: "DB1_B".into(),
            synthetic: false,
            impressions: imp,
        }
    }

    #[test]
    fn fvc2002_b_counts() {
        let d = db(10, 8);
        let p = fvc_pairs(&d);
        assert_eq!(p.genuine.len(), 280);
        assert_eq!(p.impostor.len(), 45);
        assert_eq!(all_impostor_pairs(&d).len(), 2880);
        for &(i, j) in &p.impostor {
            assert_eq!(
                (d.impressions[i].impression, d.impressions[j].impression),
                (1, 1)
            );
            assert_ne!(d.impressions[i].finger, d.impressions[j].finger);
        }
        for &(i, j) in &p.genuine {
            assert_eq!(d.impressions[i].finger, d.impressions[j].finger);
            assert!(i < j);
        }
    }
}
