//! [`UinRules`]: MOSIP's UIN rules as configuration, and the validator that applies them.
//!
//! The rules mirror the properties of MOSIP's kernel UIN generator (`mosip.kernel.uin.*`) with
//! the same defaults, so a deployment can carry its MOSIP values over. They are plain data
//! (serde, kebab-case names, unknown fields rejected so a typo is an error, not a silent
//! default); [`UinRules::check`] says whether a configuration is usable, and
//! [`UinRules::validate`] applies it to one candidate. A limit of 0 (or an empty list) disables
//! its rule, as in MOSIP where zero or negative disables.
//!
//! The validator works on bytes with no allocation unless it reports a violation, because the
//! generator runs it on every random candidate (most are rejected).

mod violation;

#[cfg(test)]
mod tests;

pub use violation::RuleViolation;

use crate::error::RulesError;
use crate::verhoeff;
use serde::{Deserialize, Serialize};

/// Longest UIN length [`UinRules::check`] accepts.
pub const MAX_UIN_LENGTH: usize = 64;

/// The rule names [`RuleViolation::rule_name`] returns, in the order [`UinRules::validate`]
/// checks them.
pub const RULE_NAMES: [&str; 8] = [
    "digits",
    "length",
    "not-start-with",
    "check-digit",
    "sequence-limit",
    "repeating-limit",
    "repeating-block-limit",
    "restricted-numbers",
];

/// MOSIP's UIN rules. `Default` gives MOSIP's defaults: 10 digits, not starting with 0 or 1,
/// sequence limit 3, repeating limit 2, repeating block limit 2, restricted numbers 786 and 666.
/// The last digit is always the Verhoeff check digit of the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct UinRules {
    /// Number of digits, the check digit included (`mosip.kernel.uin.length`, default 10).
    /// Must be in `2..=`[`MAX_UIN_LENGTH`].
    pub length: usize,
    /// Digits a UIN may not start with (`mosip.kernel.uin.not-start-with`, default `[0, 1]`).
    /// Empty disables the rule; listing all ten digits is an invalid configuration.
    pub not_start_with: Vec<u8>,
    /// Length of an ascending or descending run of consecutive digits that is rejected
    /// (`mosip.kernel.uin.length.sequence-limit`, default 3: `12` is allowed, `123` and `987`
    /// anywhere are not). 0 disables; 1 is invalid (it would reject everything).
    pub sequence_limit: usize,
    /// Minimum number of digits between two equal digits
    /// (`mosip.kernel.uin.length.repeating-limit`, default 2: `11` and `1x1` are rejected,
    /// `1xx1` is allowed). 0 disables.
    pub repeating_limit: usize,
    /// Length of a block of digits that may not occur twice (non-overlapping)
    /// (`mosip.kernel.uin.length.repeating-block-limit`, default 2: `4xxx4` is allowed,
    /// `48xxx48` is not). 0 disables.
    pub repeating_block_limit: usize,
    /// Digit strings that may not occur anywhere in a UIN
    /// (`mosip.kernel.uin.restricted-numbers`, default `["786", "666"]`). Empty disables.
    pub restricted_numbers: Vec<String>,
}

impl Default for UinRules {
    fn default() -> Self {
        Self {
            length: 10,
            not_start_with: vec![0, 1],
            sequence_limit: 3,
            repeating_limit: 2,
            repeating_block_limit: 2,
            restricted_numbers: vec!["786".to_owned(), "666".to_owned()],
        }
    }
}

impl UinRules {
    /// Checks that the configuration is usable: length in range, digits where digits are
    /// expected, at least one allowed first digit, a sequence limit other than 1.
    ///
    /// Rules that pass this check may still admit very few or no UINs (for example a long length
    /// with a tight block limit); generation reports that as
    /// [`crate::IssuanceError::RulesExhausted`].
    pub fn check(&self) -> Result<(), RulesError> {
        if !(2..=MAX_UIN_LENGTH).contains(&self.length) {
            return Err(RulesError::Length {
                length: self.length,
                min: 2,
                max: MAX_UIN_LENGTH,
            });
        }
        if let Some(&d) = self.not_start_with.iter().find(|&&d| d > 9) {
            return Err(RulesError::NotStartWithDigit(d));
        }
        if self.first_digits().is_empty() {
            return Err(RulesError::NoFirstDigit);
        }
        if self.sequence_limit == 1 {
            return Err(RulesError::SequenceLimitOne);
        }
        if let Some(n) = self
            .restricted_numbers
            .iter()
            .find(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(RulesError::RestrictedNumber(n.clone()));
        }
        Ok(())
    }

    /// The ASCII digits a UIN may start with, in increasing order.
    pub fn first_digits(&self) -> Vec<u8> {
        (0..10u8)
            .filter(|d| !self.not_start_with.contains(d))
            .map(|d| d + b'0')
            .collect()
    }

    /// Checks `uin` against the rules and returns the first one broken, in this fixed order:
    ///
    /// 1. `digits`: every character is an ASCII digit;
    /// 2. `length`: exactly [`UinRules::length`] digits;
    /// 3. `not-start-with`: the first digit is allowed;
    /// 4. `check-digit`: the last digit is the Verhoeff check digit of the others;
    /// 5. `sequence-limit`: no ascending or descending run of that many digits;
    /// 6. `repeating-limit`: no equal digits with fewer than that many digits between;
    /// 7. `repeating-block-limit`: no block of that many digits occurring twice;
    /// 8. `restricted-numbers`: no restricted number occurs.
    ///
    /// Within one rule the leftmost offence is reported. The rules are applied as configured,
    /// without [`UinRules::check`]; an invalid configuration simply rejects more.
    pub fn validate(&self, uin: &str) -> Result<(), RuleViolation> {
        if let Some((i, c)) = uin.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(RuleViolation::NonDigit {
                position: i + 1,
                character: c,
            });
        }
        self.validate_digits(uin.as_bytes())
    }

    /// [`UinRules::validate`] for a byte string already known to hold only ASCII digits.
    pub(crate) fn validate_digits(&self, d: &[u8]) -> Result<(), RuleViolation> {
        let text = |s: &[u8]| String::from_utf8_lossy(s).into_owned();
        if d.len() != self.length {
            return Err(RuleViolation::Length {
                expected: self.length,
                actual: d.len(),
            });
        }
        // Length 0 is only reachable with an unchecked configuration.
        let Some(&first) = d.first() else {
            return Ok(());
        };
        if self.not_start_with.contains(&(first - b'0')) {
            return Err(RuleViolation::NotStartWith {
                digit: first as char,
            });
        }
        if !verhoeff::is_valid_ascii(d) {
            let body = &d[..d.len() - 1];
            return Err(RuleViolation::CheckDigit {
                expected: verhoeff::check_digit_ascii(body).map_or('?', char::from),
                found: d[d.len() - 1] as char,
            });
        }
        if let Some((i, ascending)) = find_run(d, self.sequence_limit) {
            return Err(RuleViolation::Sequence {
                limit: self.sequence_limit,
                ascending,
                run: text(&d[i..i + self.sequence_limit]),
                position: i + 1,
            });
        }
        if let Some((i, j)) = find_repeat(d, self.repeating_limit) {
            return Err(RuleViolation::Repeating {
                limit: self.repeating_limit,
                digit: d[i] as char,
                first: i + 1,
                second: j + 1,
            });
        }
        if let Some((i, j)) = find_block(d, self.repeating_block_limit) {
            return Err(RuleViolation::RepeatingBlock {
                limit: self.repeating_block_limit,
                block: text(&d[i..i + self.repeating_block_limit]),
                first: i + 1,
                second: j + 1,
            });
        }
        if let Some((i, n)) = find_restricted(d, &self.restricted_numbers) {
            return Err(RuleViolation::Restricted {
                number: n.to_owned(),
                position: i + 1,
            });
        }
        Ok(())
    }
}

/// Leftmost run of `limit` digits each one above (ascending) or below (descending) the previous:
/// `(start, ascending)`. `limit == 0` disables.
fn find_run(d: &[u8], limit: usize) -> Option<(usize, bool)> {
    if limit == 0 || d.len() < limit {
        return None;
    }
    // Lengths of the ascending / descending runs ending at the current digit.
    let (mut up, mut down) = (1usize, 1usize);
    if limit == 1 {
        return Some((0, true));
    }
    for j in 1..d.len() {
        up = if d[j] == d[j - 1] + 1 { up + 1 } else { 1 };
        down = if d[j] + 1 == d[j - 1] { down + 1 } else { 1 };
        if up >= limit {
            return Some((j + 1 - limit, true));
        }
        if down >= limit {
            return Some((j + 1 - limit, false));
        }
    }
    None
}

/// Leftmost pair of equal digits with fewer than `limit` digits between them: `(i, j)`.
fn find_repeat(d: &[u8], limit: usize) -> Option<(usize, usize)> {
    if limit == 0 {
        return None;
    }
    (0..d.len()).find_map(|i| {
        (i + 1..d.len().min(i + limit + 1))
            .find(|&j| d[j] == d[i])
            .map(|j| (i, j))
    })
}

/// Leftmost block of `limit` digits that occurs again later without overlapping: `(i, j)`.
fn find_block(d: &[u8], limit: usize) -> Option<(usize, usize)> {
    if limit == 0 || d.len() < 2 * limit {
        return None;
    }
    (0..=d.len() - 2 * limit).find_map(|i| {
        (i + limit..=d.len() - limit)
            .find(|&j| d[i..i + limit] == d[j..j + limit])
            .map(|j| (i, j))
    })
}

/// Leftmost occurrence of a restricted number (the first listed wins at equal positions).
fn find_restricted<'a>(d: &[u8], numbers: &'a [String]) -> Option<(usize, &'a str)> {
    (0..d.len()).find_map(|i| {
        numbers
            .iter()
            .find(|n| !n.is_empty() && d[i..].starts_with(n.as_bytes()))
            .map(|n| (i, n.as_str()))
    })
}
