//! abis-issuance: MOSIP-style UIN issuance for registrations the ABIS found unique.
//!
//! When de-duplication says a registration matches nobody, the registration processor asks for a
//! UIN (unique identification number). This crate decides what a valid UIN is, draws one, and
//! records it durably against the registration id. Whether a registration is unique is the
//! caller's decision; this crate issues for whatever registration id it is given.
//!
//! # Pieces
//! - [`UinRules`] (`rules`): MOSIP's kernel UIN rules as serde configuration with MOSIP's
//!   defaults (10 digits, Verhoeff check digit last, not starting with 0 or 1, sequence limit 3,
//!   repeating limit 2, repeating block limit 2, restricted numbers 786 and 666), and
//!   [`UinRules::validate`], which returns the first [`RuleViolation`] in a fixed order.
//! - [`verhoeff`]: the check digit, from the published algorithm.
//! - [`UinGenerator`] (`generator`): random candidates, rejected until they pass the rules.
//! - [`Issuer`] (`issuer`): issuance in a RocksDB directory of its own; [`Issuer::issue`],
//!   [`Issuer::issue_batch`], [`Issuer::link`], lookups both ways.
//!
//! # Design choices
//! - **Random, not sequential.** A UIN is an identifier for life; a counter would let anyone
//!   guess other people's UINs and read enrolment order and volume from them. Candidates are
//!   drawn uniformly from an OS-seeded RNG and rejected until they pass the rules, so the UINs
//!   issued are uniform over what the rules admit. Seeded RNGs exist for tests only.
//! - **Never reused.** Every issued UIN is stored and checked before a candidate is accepted; the
//!   record is never deleted, so restarts and changes of the rules configuration cannot bring an
//!   old UIN back.
//! - **Synced batches.** Both directions of a new UIN (UIN -> registration, registration -> UIN)
//!   go into one RocksDB `WriteBatch` written with `sync = true`: a returned UIN is on disk, and
//!   a crash leaves either both keys or neither. [`Issuer::issue_batch`] puts a whole batch in
//!   one synced write, so bulk issuance pays one fsync per batch, not per UIN.
//! - **Idempotent per registration id.** Registration processors retry; a retried request gets
//!   the UIN it already has (flagged as not new) instead of a second identity. A duplicate that a
//!   human adjudicated is joined to the existing identity with [`Issuer::link`], which maps the
//!   new registration to the existing UIN and issues nothing.
//! - **Typed errors.** [`IssuanceError`] tells bad input (registration ids, rules, link
//!   conflicts) from storage faults; a UIN that breaks a rule is an answer
//!   ([`RuleViolation`], with a stable [`RuleViolation::rule_name`]), not an error.
//!
//! ```
//! use abis_issuance::{Issuer, UinRules};
//! let dir = tempfile::tempdir()?;
//! let issuer = Issuer::open(dir.path(), UinRules::default())?;
//! let first = issuer.issue("reg-0001")?;
//! assert!(first.is_new());
//! assert_eq!(UinRules::default().validate(&first.uin), Ok(()));
//! // A retry gets the same UIN back.
//! assert_eq!(issuer.issue("reg-0001")?.uin, first.uin);
//! // A person adjudicated as the same one keeps the existing UIN.
//! assert_eq!(issuer.link("reg-0002", "reg-0001")?.uin, first.uin);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
pub mod generator;
pub mod issuer;
pub mod rules;
pub mod verhoeff;

pub use error::{IssuanceError, Result, RulesError};
pub use generator::{UinGenerator, MAX_TRIES};
pub use issuer::{
    check_registration_id, Issued, Issuer, Outcome, FORMAT_VERSION, MAX_COLLISIONS,
    MAX_REGISTRATION_ID_BYTES,
};
pub use rules::{RuleViolation, UinRules, MAX_UIN_LENGTH, RULE_NAMES};
