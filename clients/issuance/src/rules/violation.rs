//! [`RuleViolation`]: which UIN rule a candidate breaks, and where.
//!
//! A violation is an answer, not an error: the validator returns the first rule broken, in the
//! fixed order documented on [`crate::UinRules::validate`]. Each variant carries the offending
//! part so that a person reading the message can see the problem without re-deriving it;
//! [`RuleViolation::rule_name`] gives a stable short name for scripts and metrics. Positions are
//! 1-based character positions, as a person counts them.

use std::fmt;

/// The first UIN rule a candidate breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleViolation {
    /// A character that is not an ASCII digit `0`-`9`.
    NonDigit {
        /// 1-based position of the first such character.
        position: usize,
        /// The character.
        character: char,
    },
    /// The wrong number of digits (`mosip.kernel.uin.length`).
    Length {
        /// The configured length.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// The first digit is excluded (`mosip.kernel.uin.not-start-with`).
    NotStartWith {
        /// The first digit.
        digit: char,
    },
    /// The last digit is not the Verhoeff check digit of the others.
    CheckDigit {
        /// The correct check digit.
        expected: char,
        /// The last digit found.
        found: char,
    },
    /// An ascending or descending run of `limit` consecutive digits
    /// (`mosip.kernel.uin.length.sequence-limit`).
    Sequence {
        /// The configured limit (the run length that is rejected).
        limit: usize,
        /// Whether the run ascends (`345`) or descends (`543`).
        ascending: bool,
        /// The run itself.
        run: String,
        /// 1-based position of its first digit.
        position: usize,
    },
    /// The same digit twice with fewer than `limit` digits between
    /// (`mosip.kernel.uin.length.repeating-limit`).
    Repeating {
        /// The configured limit.
        limit: usize,
        /// The repeated digit.
        digit: char,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of its repetition.
        second: usize,
    },
    /// A block of `limit` digits that occurs twice without overlapping
    /// (`mosip.kernel.uin.length.repeating-block-limit`).
    RepeatingBlock {
        /// The configured limit (the block length).
        limit: usize,
        /// The repeated block.
        block: String,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of its repetition.
        second: usize,
    },
    /// A restricted number occurs in the UIN (`mosip.kernel.uin.restricted-numbers`).
    Restricted {
        /// The restricted number.
        number: String,
        /// 1-based position where it starts.
        position: usize,
    },
}

impl RuleViolation {
    /// A stable short name of the rule broken: one of [`crate::RULE_NAMES`].
    pub fn rule_name(&self) -> &'static str {
        match self {
            Self::NonDigit { .. } => "digits",
            Self::Length { .. } => "length",
            Self::NotStartWith { .. } => "not-start-with",
            Self::CheckDigit { .. } => "check-digit",
            Self::Sequence { .. } => "sequence-limit",
            Self::Repeating { .. } => "repeating-limit",
            Self::RepeatingBlock { .. } => "repeating-block-limit",
            Self::Restricted { .. } => "restricted-numbers",
        }
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonDigit {
                position,
                character,
            } => write!(
                f,
                "digits: {character:?} at position {position} is not a digit"
            ),
            Self::Length { expected, actual } => {
                write!(f, "length: {actual} digits, expected {expected}")
            }
            Self::NotStartWith { digit } => write!(f, "not-start-with: starts with {digit}"),
            Self::CheckDigit { expected, found } => write!(
                f,
                "check digit: last digit is {found}, the Verhoeff check digit is {expected}"
            ),
            Self::Sequence {
                limit,
                ascending,
                run,
                position,
            } => {
                let dir = if *ascending {
                    "ascending"
                } else {
                    "descending"
                };
                write!(
                    f,
                    "sequence limit {limit}: {dir} run {run} at position {position}"
                )
            }
            Self::Repeating {
                limit,
                digit,
                first,
                second,
            } => write!(
                f,
                "repeating limit {limit}: digit {digit} at positions {first} and {second} \
                 (fewer than {limit} digits between)"
            ),
            Self::RepeatingBlock {
                limit,
                block,
                first,
                second,
            } => write!(
                f,
                "repeating block limit {limit}: block {block} at positions {first} and {second}"
            ),
            Self::Restricted { number, position } => {
                write!(f, "restricted number {number} at position {position}")
            }
        }
    }
}
