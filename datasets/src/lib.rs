//! Seeded synthetic biometric populations, calibrated to published statistics.
//!
//! Benchmarks and accuracy tests of an ABIS need galleries of millions of people, and real
//! biometric data of that size is neither available nor shareable. This crate generates them:
//! every template is a pure function of a population seed and the ids of the subject, eye and
//! capture ([`seed`]), so a population of any size is reproducible, generated in parallel in any
//! order, and never stored unless wanted.
//!
//! The generators are models, not noise: each reproduces the published statistics that matter to
//! a 1:N engine, measured with the project's own comparators by this crate's statistics test.
//! - [`iris`]: codes and masks for any iris layout (Daugman 2,048-bit, open-iris 12,800-bit) from
//!   a correlated latent Gaussian field per eye; impostor distances binomial-like with ~249
//!   degrees of freedom (best of 7 rotations ~0.46), wide genuine distances (mean ~0.15,
//!   SD ~0.06), eyelid / eyelash / reflection masks leaving ~911 bits compared.
//! - [`face`]: L2-normalised embeddings of any dimension; impostor cosines ~0 +- 0.06 at 512-d,
//!   genuine ~0.63 with per-capture spread.
//! - [`finger`]: fingerprint minutiae (30-60 per finger, Sherlock-Monro orientation fields per
//!   pattern class, elastically distorted partial impressions with extraction errors) for scale
//!   and speed tests of the finger search; not an accuracy source.
//!
//! Dependencies point one way: this crate uses `abis-matchers` (layouts, comparators) and never
//! the engine.

pub mod calibrate;
pub mod eval;
pub mod face;
pub mod finger;
pub mod fvc;
pub mod iris;
pub mod population;
pub mod seed;
