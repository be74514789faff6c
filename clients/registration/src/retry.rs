//! Retry policy and job ids.
//!
//! Backoff is exponential with jitter: attempt `k` (1-based) waits
//! `min(initial * multiplier^(k-1), max) * (1 - jitter * u)` before the next one, `u` in
//! `[0, 1)`. `u` is derived from the job id rather than drawn from a random generator, so runs
//! are reproducible while different batches (different ids) still spread out instead of
//! retrying in lockstep against a recovering coordinator.
//!
//! A job id is `reg-<128-bit hash of the sorted packet ids>-<attempt>`: the same batch at the
//! same attempt gets the same id (a crash-retry resubmits idempotently and the coordinator
//! returns the stored job), while the next attempt after a failure gets a fresh id (a FAILED
//! job stays FAILED under its id). The hash is two FNV-1a 64-bit passes with different offset
//! bases; ids stay under the API's 64 bytes.

use std::time::Duration;

/// How the registrar retries a batch whose job failed for a retryable reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// De-dup jobs per [`crate::Registrar::register`] call before a packet is left Failed
    /// (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failure.
    pub initial_backoff: Duration,
    /// Growth of the wait per failure (at least 1).
    pub multiplier: f64,
    /// Longest wait.
    pub max_backoff: Duration,
    /// Fraction of each wait that is randomised away, 0 to 1.
    pub jitter: f64,
    /// When a packet left Failed (retryable) becomes due for
    /// [`crate::Registrar::retry_failed`].
    pub retry_later: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 1 s doubling to at most 60 s, 20% jitter; failed packets due again after
    /// 15 minutes.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(60),
            jitter: 0.2,
            retry_later: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The un-jittered wait after failed attempt `attempt` (1-based).
    pub fn base_backoff(&self, attempt: u32) -> Duration {
        let factor = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let secs =
            (self.initial_backoff.as_secs_f64() * factor).min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// The wait after failed attempt `attempt` of job `job_id`, jittered (see the module docs).
    pub fn backoff(&self, attempt: u32, job_id: &str) -> Duration {
        let u = (fnv1a(job_id.as_bytes(), FNV_OFFSET_A) >> 11) as f64 / (1u64 << 53) as f64;
        self.base_backoff(attempt)
            .mul_f64(1.0 - self.jitter.clamp(0.0, 1.0) * u)
    }
}

const FNV_OFFSET_A: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_OFFSET_B: u64 = 0x6c62_272e_07bb_0142;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(bytes: &[u8], offset: u64) -> u64 {
    bytes
        .iter()
        .fold(offset, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// The job id of a batch of packets at attempt `attempt` (see the module docs).
pub fn job_id<'a>(packet_ids: impl IntoIterator<Item = &'a str>, attempt: u32) -> String {
    let mut ids: Vec<&str> = packet_ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut bytes = Vec::new();
    for id in ids {
        bytes.extend_from_slice(&(id.len() as u32).to_le_bytes());
        bytes.extend_from_slice(id.as_bytes());
    }
    let (a, b) = (fnv1a(&bytes, FNV_OFFSET_A), fnv1a(&bytes, FNV_OFFSET_B));
    format!("reg-{a:016x}{b:016x}-{attempt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_depend_on_the_set_and_the_attempt_only() {
        let one = job_id(["b", "a"], 1);
        assert_eq!(one, job_id(["a", "b"], 1));
        assert_ne!(one, job_id(["a", "b"], 2));
        assert_ne!(one, job_id(["a", "c"], 1));
        // Length-prefixing keeps ("ab") and ("a", "b") apart.
        assert_ne!(job_id(["ab"], 1), job_id(["a", "b"], 1));
        assert!(job_id(["x"; 1], u32::MAX).len() <= 64);
    }

    #[test]
    fn backoff_grows_to_the_cap_and_jitter_only_shortens() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
            ..RetryPolicy::default()
        };
        let base: Vec<u128> = (1..=5)
            .map(|k| policy.base_backoff(k).as_millis())
            .collect();
        assert_eq!(base, [100, 200, 400, 700, 700]);
        for k in 1..=5 {
            let j = policy.backoff(k, &job_id(["p"], k));
            assert!(j <= policy.base_backoff(k));
            assert!(j >= policy.base_backoff(k).mul_f64(0.8));
        }
    }
}
