//! [`UinGenerator`]: random UIN candidates, rejected until they pass the rules.
//!
//! Why random and not sequential: a UIN is printed on cards and typed into forms for life; a
//! sequential (or otherwise predictable) number lets anyone guess valid UINs of other people
//! and leaks enrolment order and volume. So each candidate is drawn uniformly: a first digit from
//! the allowed set, the other body digits uniform, the Verhoeff digit appended. Candidates that
//! break a rule are thrown away and a fresh one drawn (rejection sampling), which keeps the
//! result uniform over the UINs the rules admit. Production draws from an OS-seeded RNG
//! ([`UinGenerator::from_entropy`]); tests pass a seeded ChaCha RNG so runs repeat.
//!
//! Rules can admit almost nothing (a long UIN with tight limits): after [`MAX_TRIES`] rejected
//! candidates in a row the generator gives up with [`IssuanceError::RulesExhausted`] instead of
//! looping for ever. With MOSIP's defaults about one candidate in ten passes (9.7% measured; most rejections
//! are the repeating limit).

use crate::error::{IssuanceError, Result};
use crate::rules::UinRules;
use crate::verhoeff;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Candidates drawn for one UIN before giving up with [`IssuanceError::RulesExhausted`].
pub const MAX_TRIES: u32 = 100_000;

/// Draws random UINs that pass a [`UinRules`] configuration.
pub struct UinGenerator<R> {
    rules: UinRules,
    first_digits: Vec<u8>,
    rng: R,
    buf: Vec<u8>,
}

impl UinGenerator<StdRng> {
    /// A generator seeded from the operating system's entropy: what production uses, so that
    /// UINs cannot be predicted. Fails if the rules do not pass [`UinRules::check`].
    pub fn from_entropy(rules: UinRules) -> Result<Self> {
        Self::with_rng(rules, StdRng::from_entropy())
    }
}

impl UinGenerator<ChaCha20Rng> {
    /// A generator with a seeded ChaCha20 RNG: the same seed gives the same UINs. For tests and
    /// reproducible demos only, never for real issuance.
    pub fn seeded(rules: UinRules, seed: u64) -> Result<Self> {
        Self::with_rng(rules, ChaCha20Rng::seed_from_u64(seed))
    }
}

impl<R: RngCore> UinGenerator<R> {
    /// A generator drawing from `rng`. Fails if the rules do not pass [`UinRules::check`].
    pub fn with_rng(rules: UinRules, rng: R) -> Result<Self> {
        rules.check()?;
        Ok(Self {
            first_digits: rules.first_digits(),
            buf: Vec::with_capacity(rules.length),
            rules,
            rng,
        })
    }

    /// The rules the generated UINs pass.
    pub fn rules(&self) -> &UinRules {
        &self.rules
    }

    /// One random candidate of the right length, first digit allowed, check digit appended;
    /// other rules not applied.
    fn candidate(&mut self) -> &[u8] {
        let body = self.rules.length - 1;
        self.buf.clear();
        let first = self.first_digits[self.rng.gen_range(0..self.first_digits.len())];
        self.buf.push(first);
        for _ in 1..body {
            self.buf.push(b'0' + self.rng.gen_range(0..10u8));
        }
        // The body is non-empty ASCII digits, so a check digit always exists.
        let check = verhoeff::check_digit_ascii(&self.buf).unwrap_or(b'0');
        self.buf.push(check);
        &self.buf
    }

    /// Draws candidates until one passes [`UinRules::validate`]; gives up after [`MAX_TRIES`]
    /// with [`IssuanceError::RulesExhausted`].
    pub fn generate(&mut self) -> Result<String> {
        for _ in 0..MAX_TRIES {
            self.candidate();
            if self.rules.validate_digits(&self.buf).is_ok() {
                // ASCII digits only, so this is valid UTF-8.
                return Ok(String::from_utf8_lossy(&self.buf).into_owned());
            }
        }
        Err(IssuanceError::RulesExhausted { tries: MAX_TRIES })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seeded_generators_repeat_and_differ_by_seed() {
        let draw = |seed| {
            let mut g = UinGenerator::seeded(UinRules::default(), seed).unwrap();
            (0..20).map(|_| g.generate().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn entropy_generators_differ() {
        let mut a = UinGenerator::from_entropy(UinRules::default()).unwrap();
        let mut b = UinGenerator::from_entropy(UinRules::default()).unwrap();
        let xs: Vec<_> = (0..10).map(|_| a.generate().unwrap()).collect();
        let ys: Vec<_> = (0..10).map(|_| b.generate().unwrap()).collect();
        assert_ne!(xs, ys);
        for u in xs.iter().chain(&ys) {
            assert_eq!(UinRules::default().validate(u), Ok(()), "{u}");
        }
    }

    #[test]
    fn rejects_invalid_rules() {
        let bad = UinRules {
            length: 1,
            ..UinRules::default()
        };
        assert!(matches!(
            UinGenerator::seeded(bad, 1),
            Err(IssuanceError::Rules(_))
        ));
    }

    #[test]
    fn gives_up_on_rules_that_admit_no_uin() {
        // 12 digits, each different from the 11 before it: needs 12 distinct digits.
        let impossible = UinRules {
            length: 12,
            repeating_limit: 11,
            ..UinRules::default()
        };
        let mut g = UinGenerator::seeded(impossible, 3).unwrap();
        assert!(matches!(
            g.generate(),
            Err(IssuanceError::RulesExhausted { tries: MAX_TRIES })
        ));
    }

    #[test]
    fn first_digits_cover_the_allowed_set() {
        let rules = UinRules {
            not_start_with: vec![0, 1, 2, 3, 4, 5, 6, 7],
            ..UinRules::default()
        };
        let mut g = UinGenerator::seeded(rules.clone(), 11).unwrap();
        let firsts: std::collections::BTreeSet<char> = (0..200)
            .map(|_| g.generate().unwrap().chars().next().unwrap())
            .collect();
        assert_eq!(firsts.into_iter().collect::<String>(), "89");
    }

    fn arb_rules() -> impl Strategy<Value = UinRules> {
        (
            4usize..=16,
            proptest::collection::vec(0u8..10, 0..5),
            prop_oneof![Just(0usize), 2usize..5],
            0usize..4,
            0usize..4,
            proptest::collection::vec("[0-9]{2,3}", 0..3),
        )
            .prop_map(
                |(length, not_start_with, seq, rep, block, restricted)| UinRules {
                    length,
                    not_start_with,
                    sequence_limit: seq,
                    repeating_limit: rep,
                    repeating_block_limit: block,
                    restricted_numbers: restricted,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_generated_uin_passes_default_rules(seed in any::<u64>()) {
            let rules = UinRules::default();
            let mut g = UinGenerator::seeded(rules.clone(), seed).unwrap();
            for _ in 0..200 {
                let u = g.generate().unwrap();
                prop_assert_eq!(rules.validate(&u), Ok(()), "{}", u);
            }
        }

        #[test]
        fn every_generated_uin_passes_its_rules(rules in arb_rules(), seed in any::<u64>()) {
            let mut g = UinGenerator::seeded(rules.clone(), seed).unwrap();
            for _ in 0..20 {
                match g.generate() {
                    Ok(u) => prop_assert_eq!(rules.validate(&u), Ok(()), "{}", u),
                    // Tight random rules may admit nothing; that must be the typed error.
                    Err(IssuanceError::RulesExhausted { .. }) => break,
                    Err(e) => prop_assert!(false, "unexpected error {e}"),
                }
            }
        }
    }
}
