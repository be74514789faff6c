//! Where abis's tests find inputs the repository does not hold: `../shared/data` beside the
//! clone (FVC2002, MOSIP's test vector, real iris codes) and files a set-up step fetches (the
//! extraction model).
//!
//! One rule for all of them: a test that needs such an input gets its path when it is there;
//! when it is missing, outside CI the test prints a SKIP line and returns early, and under CI
//! (`CI` set, as `.ci/run` runs) it fails, so a missing input never passes silently. A
//! dev-dependency only, with no dependencies of its own.

use std::path::{Path, PathBuf};

/// `../shared/data` beside the repository.
pub fn shared_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// `../shared/data/<rel>` when it exists (see the crate docs for when it does not).
///
/// # Panics
/// Under CI, when it is missing.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    required(
        shared_root().join(rel),
        "CI runs with ../shared beside the clone",
    )
}

/// `path` when it exists; `how` says how to get it (the set-up step that makes it).
///
/// # Panics
/// Under CI, when it is missing.
pub fn required(path: PathBuf, how: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing under CI ({how})",
        path.display()
    );
    eprintln!("SKIP: {} not found ({how})", path.display());
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_inputs_are_found_and_missing_ones_skip_outside_ci_or_fail_under_it() {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert_eq!(required(here.clone(), "-"), Some(here));
        let missing = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("no-such-file");
        let outcome = std::panic::catch_unwind(|| required(missing, "-"));
        if std::env::var_os("CI").is_some() {
            assert!(outcome.is_err(), "a missing input must fail under CI");
        } else {
            assert_eq!(outcome.ok(), Some(None));
        }
    }
}
