//! Runtime choice of the instruction set, made once per process.
//!
//! Kernels never test CPU features per call: the engine (or a bench) asks for [`SimdLevel::get`]
//! once per batch and passes the level down. `ABIS_SIMD=scalar|portable|avx2|avx512` forces a
//! level (tests and benches use it to compare variants); asking for a level the CPU lacks falls
//! back to the best one it has, so a forced level can never execute an illegal instruction.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level a kernel can be specialised for, ordered from slowest to fastest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Plain Rust, one element at a time: the reference every other level is tested against.
    Scalar,
    /// Plain Rust over 64-bit words, auto-vectorisable; runs on every CPU (including NEON ones).
    Portable,
    /// x86-64 AVX2 (+ FMA, POPCNT).
    Avx2,
    /// x86-64 AVX-512 F/BW/VL with VPOPCNTDQ and VNNI.
    Avx512,
}

impl SimdLevel {
    /// Every level, slowest first.
    pub const ALL: [SimdLevel; 4] = [Self::Scalar, Self::Portable, Self::Avx2, Self::Avx512];

    /// Lower-case name, as accepted by `ABIS_SIMD`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Portable => "portable",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// Parses a name as accepted by `ABIS_SIMD`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.name() == name.trim().to_ascii_lowercase())
    }

    /// Whether this CPU can run kernels of this level.
    pub fn is_supported(self) -> bool {
        match self {
            Self::Scalar | Self::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx2 | Self::Avx512 => false,
        }
    }

    /// The fastest level this CPU supports.
    pub fn best_supported() -> Self {
        Self::ALL
            .into_iter()
            .rev()
            .find(|l| l.is_supported())
            .unwrap_or(Self::Scalar)
    }

    /// `self` if the CPU supports it, otherwise the best level below it that it does support.
    pub fn clamp_to_cpu(self) -> Self {
        Self::ALL
            .into_iter()
            .rev()
            .find(|l| *l <= self && l.is_supported())
            .unwrap_or(Self::Scalar)
    }

    /// Every level this CPU supports, slowest first (what parity tests iterate over).
    pub fn supported() -> Vec<Self> {
        Self::ALL.into_iter().filter(|l| l.is_supported()).collect()
    }

    /// The process-wide level: `ABIS_SIMD` if set (clamped to the CPU), else the best supported.
    /// Detected on first use and cached.
    pub fn get() -> Self {
        static CACHED: AtomicU8 = AtomicU8::new(u8::MAX);
        let cached = CACHED.load(Ordering::Relaxed);
        if let Some(level) = Self::ALL.get(cached as usize) {
            return *level;
        }
        let level = std::env::var("ABIS_SIMD")
            .ok()
            .and_then(|v| Self::from_name(&v))
            .map(Self::clamp_to_cpu)
            .unwrap_or_else(Self::best_supported);
        CACHED.store(level as u8, Ordering::Relaxed);
        level
    }
}

impl std::fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_clamp_never_exceeds_cpu() {
        for level in SimdLevel::ALL {
            assert_eq!(SimdLevel::from_name(level.name()), Some(level));
            assert!(level.clamp_to_cpu().is_supported());
            assert!(level.clamp_to_cpu() <= level);
        }
        assert_eq!(SimdLevel::from_name("AVX2 "), Some(SimdLevel::Avx2));
        assert_eq!(SimdLevel::from_name("sse9"), None);
        assert!(SimdLevel::supported().contains(&SimdLevel::Scalar));
    }
}
