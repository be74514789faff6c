//! The integration tests of abis-proto (one binary): record conversions, error mapping, and the
//! descriptor set.

mod descriptor;
mod errors;
mod records;
